-- What the indexer derives from a fetched metadata document, stored beside it: whether the
-- asset's content is encrypted and who holds its wrapped keys. `derived_version` says which
-- derivation produced `search`, `encrypted` and `key_holders`; rows derived by an older one are
-- re-derived from their stored document (no refetch) by the metadata loop.
--
-- The search vectors built so far covered every string of the document, wrapped keys and CIDs
-- included: they are dropped here, so nothing serves them until the loop rebuilds them from the
-- human fields only.
ALTER TABLE asset_metadata
    ADD COLUMN encrypted BOOLEAN,
    ADD COLUMN key_holders TEXT[],
    ADD COLUMN derived_version INTEGER NOT NULL DEFAULT 0;
UPDATE asset_metadata SET search = NULL WHERE status = 'ok';
CREATE INDEX asset_metadata_underived ON asset_metadata (derived_version) WHERE status = 'ok';
