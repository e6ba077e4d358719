-- The lineage of assets published from a compute job's output: the input assets the
-- `derivedFrom` of a fetched metadata document names, with the job and the output hash it
-- claims. Keyed by the document's CID, like `asset_metadata` (a document is shared by every
-- chain and version that names it): an asset's upstream is what its current metadata names on
-- its own chain, so a new metadata version or a reorg that rolls an asset back needs no
-- bookkeeping here. Rows are derived by the metadata loop; `derivedFrom` values that are not
-- valid ids record nothing.
CREATE TABLE asset_lineage (
    cid          TEXT NOT NULL REFERENCES asset_metadata (cid) ON DELETE CASCADE,
    position     SMALLINT NOT NULL,
    chain_id     BIGINT NOT NULL,
    parent_id    NUMERIC(78, 0) NOT NULL,
    role         TEXT,
    job_id       NUMERIC(78, 0),
    output_hash  BYTEA,
    PRIMARY KEY (cid, position)
);
-- An asset's downstream: the documents naming it, then the assets whose metadata they are.
CREATE INDEX asset_lineage_by_parent ON asset_lineage (chain_id, parent_id);
CREATE INDEX assets_by_metadata ON assets (chain_id, metadata_cid);
