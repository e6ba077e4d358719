-- What the DAO's pages need beyond the proposals and votes: each proposal's actions, its quorum
-- and the blocks it was queued and executed in, the DAO's settings, the protocol fees paid to
-- the treasury, and the deployment the chain's rows belong to.

-- The deployment followed on each chain, as its manifest says; written by the sync when it
-- starts (it is configuration, not derived from events). The API names a proposal action's
-- target and answers `/governance` from it. `marketplace_fee_bps` is the fee the marketplace
-- was deployed with, decoded from the manifest's constructor arguments (the marketplace's
-- constructor emits no `ProtocolFeeUpdated`); NULL when the manifest has none.
CREATE TABLE deployments (
    chain_id             BIGINT PRIMARY KEY,
    agora_token          BYTEA NOT NULL,
    timelock             BYTEA NOT NULL,
    governor             BYTEA NOT NULL,
    asset_registry       BYTEA NOT NULL,
    marketplace          BYTEA NOT NULL,
    revenue_splitter     BYTEA NOT NULL,
    compute_market       BYTEA NOT NULL,
    marketplace_fee_bps  INTEGER
);

-- The calls of each proposal (`ProposalCreated`'s targets, values and calldatas at the same
-- position), decoded by the API against the target's ABI when it is served.
CREATE TABLE proposal_actions (
    chain_id      BIGINT NOT NULL,
    proposal_id   NUMERIC(78, 0) NOT NULL,
    position      INTEGER NOT NULL,
    target        BYTEA NOT NULL,
    value         NUMERIC(78, 0) NOT NULL,
    calldata      BYTEA NOT NULL,
    block_number  BIGINT NOT NULL,
    PRIMARY KEY (chain_id, proposal_id, position)
);

-- `quorum`: the governor's `quorum(voteStart)`, which it can only answer once the snapshot is
-- in the past: the sync asks then (an RPC call, not an event), once per proposal, and a
-- rollback across the snapshot clears it to be asked again. `queued_block` and
-- `executed_block`: the blocks of `ProposalQueued` and `ProposalExecuted`, dated through the
-- events' `block_timestamp`.
ALTER TABLE proposals
    ADD COLUMN quorum NUMERIC(78, 0),
    ADD COLUMN queued_block BIGINT,
    ADD COLUMN executed_block BIGINT;

-- Every change of a DAO setting, one row per event: the marketplace's fee
-- (`ProtocolFeeUpdated`), the compute market's (`ParamsUpdated`), the governor's voting delay,
-- voting period, proposal threshold and quorum percentage, the timelock's delay. The current
-- value of a setting is its newest row; kept as a history, the table is append-only, so a
-- rollback deletes the rows above the ancestor like any other.
CREATE TABLE governance_settings (
    chain_id      BIGINT NOT NULL,
    block_number  BIGINT NOT NULL,
    log_index     BIGINT NOT NULL,
    setting       TEXT NOT NULL,
    value         NUMERIC(78, 0) NOT NULL,
    PRIMARY KEY (chain_id, block_number, log_index, setting)
);
CREATE INDEX governance_settings_newest ON governance_settings (chain_id, setting, block_number, log_index);

-- Protocol fees paid out to the fee recipient (the treasury): `FeesReleased` of the revenue
-- splitter (`source` RevenueSplitter: fees on sales, also kept in `releases`) and of the compute
-- market (`source` ComputeMarket: fees on jobs, slashed stakes, forfeited bonds).
CREATE TABLE fee_releases (
    chain_id      BIGINT NOT NULL,
    block_number  BIGINT NOT NULL,
    log_index     BIGINT NOT NULL,
    source        TEXT NOT NULL,
    currency      BYTEA NOT NULL,
    recipient     BYTEA NOT NULL,
    amount        NUMERIC(78, 0) NOT NULL,
    PRIMARY KEY (chain_id, block_number, log_index)
);

-- A provider's job counts (`/providers`).
CREATE INDEX jobs_by_provider ON jobs (chain_id, provider);

-- The rows above are derived from events indexed before this migration too: the indexer
-- replays the stored raw events of those kinds when it connects next (`db::connect`), once, and
-- deletes this marker in the same transaction.
CREATE TABLE pending_backfills (name TEXT PRIMARY KEY);
INSERT INTO pending_backfills (name) VALUES ('governance_details');
