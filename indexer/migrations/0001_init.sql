-- Agora's indexer schema. Amounts and ids are uint256 on chain: NUMERIC(78, 0) holds any of
-- them exactly. Addresses and hashes are BYTEA (20 and 32 bytes).

-- One row per indexed chain: the checkpoint that commits with every batch of events.
CREATE TABLE chain_state (
    chain_id       BIGINT PRIMARY KEY,
    genesis_hash   BYTEA NOT NULL,
    indexed_block  BIGINT NOT NULL,
    head_block     BIGINT NOT NULL DEFAULT 0,
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Hashes of recently indexed blocks: the reorg window.
CREATE TABLE blocks (
    chain_id     BIGINT NOT NULL,
    number       BIGINT NOT NULL,
    hash         BYTEA NOT NULL,
    parent_hash  BYTEA NOT NULL,
    timestamp    BIGINT NOT NULL,
    PRIMARY KEY (chain_id, number)
);

-- Every log emitted by an Agora contract, as emitted (re-decodable) plus its event name.
CREATE TABLE events (
    chain_id      BIGINT NOT NULL,
    block_number  BIGINT NOT NULL,
    block_hash    BYTEA NOT NULL,
    log_index     BIGINT NOT NULL,
    tx_hash       BYTEA NOT NULL,
    address       BYTEA NOT NULL,
    source        TEXT NOT NULL,
    name          TEXT NOT NULL,
    topics        BYTEA NOT NULL, -- the topics concatenated, 32 bytes each
    data          BYTEA NOT NULL,
    UNIQUE (chain_id, block_hash, log_index)
);
CREATE INDEX events_by_position ON events (chain_id, block_number, log_index);

-- Access-token clones created by the registry (the addresses the sync follows besides the
-- fixed contracts).
CREATE TABLE access_tokens (
    chain_id      BIGINT NOT NULL,
    address       BYTEA NOT NULL,
    asset_id      NUMERIC(78, 0) NOT NULL,
    block_number  BIGINT NOT NULL,
    PRIMARY KEY (chain_id, address)
);

CREATE TABLE assets (
    chain_id          BIGINT NOT NULL,
    asset_id          NUMERIC(78, 0) NOT NULL,
    owner             BYTEA NOT NULL,
    access_token      BYTEA NOT NULL,
    kind              SMALLINT NOT NULL,
    compute_only      BOOLEAN NOT NULL,
    access_duration   BIGINT NOT NULL,
    version           INTEGER NOT NULL,
    content_digest    BYTEA NOT NULL,
    metadata_cid      TEXT NOT NULL,
    published_block   BIGINT NOT NULL,
    updated_block     BIGINT NOT NULL,
    PRIMARY KEY (chain_id, asset_id)
);
CREATE INDEX assets_by_owner ON assets (chain_id, owner);

-- The marketplace's listing of each asset (set while publishing, before `AssetPublished`).
CREATE TABLE listings (
    chain_id          BIGINT NOT NULL,
    asset_id          NUMERIC(78, 0) NOT NULL,
    currency          BYTEA NOT NULL,
    price             NUMERIC(78, 0) NOT NULL,
    free_per_address  INTEGER NOT NULL,
    delisted          BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (chain_id, asset_id)
);
CREATE INDEX listings_by_price ON listings (chain_id, price);

CREATE TABLE asset_versions (
    chain_id        BIGINT NOT NULL,
    asset_id        NUMERIC(78, 0) NOT NULL,
    version         INTEGER NOT NULL,
    content_digest  BYTEA NOT NULL,
    metadata_cid    TEXT NOT NULL,
    block_number    BIGINT NOT NULL,
    tx_hash         BYTEA NOT NULL,
    PRIMARY KEY (chain_id, asset_id, version)
);

CREATE TABLE access_balances (
    chain_id  BIGINT NOT NULL,
    token     BYTEA NOT NULL,
    holder    BYTEA NOT NULL,
    balance   NUMERIC(78, 0) NOT NULL,
    PRIMARY KEY (chain_id, token, holder)
);
CREATE INDEX access_balances_by_holder ON access_balances (chain_id, holder);

CREATE TABLE purchases (
    chain_id      BIGINT NOT NULL,
    block_number  BIGINT NOT NULL,
    log_index     BIGINT NOT NULL,
    tx_hash       BYTEA NOT NULL,
    asset_id      NUMERIC(78, 0) NOT NULL,
    buyer         BYTEA NOT NULL,
    currency      BYTEA NOT NULL,
    amount        NUMERIC(78, 0) NOT NULL,
    free_amount   NUMERIC(78, 0) NOT NULL,
    paid          NUMERIC(78, 0) NOT NULL,
    fee           NUMERIC(78, 0) NOT NULL,
    PRIMARY KEY (chain_id, block_number, log_index)
);
CREATE INDEX purchases_by_asset ON purchases (chain_id, asset_id);
CREATE INDEX purchases_by_buyer ON purchases (chain_id, buyer);

CREATE TABLE access_orders (
    chain_id      BIGINT NOT NULL,
    token         BYTEA NOT NULL,
    asset_id      NUMERIC(78, 0) NOT NULL,
    order_id      NUMERIC(78, 0) NOT NULL,
    consumer      BYTEA NOT NULL,
    provider      BYTEA NOT NULL,
    expires_at    BIGINT NOT NULL,
    block_number  BIGINT NOT NULL,
    tx_hash       BYTEA NOT NULL,
    PRIMARY KEY (chain_id, token, order_id)
);
CREATE INDEX access_orders_by_consumer ON access_orders (chain_id, consumer);

CREATE TABLE splits (
    chain_id    BIGINT NOT NULL,
    asset_id    NUMERIC(78, 0) NOT NULL,
    recipients  BYTEA[] NOT NULL,
    bps         INTEGER[] NOT NULL,
    PRIMARY KEY (chain_id, asset_id)
);

CREATE TABLE releases (
    chain_id      BIGINT NOT NULL,
    block_number  BIGINT NOT NULL,
    log_index     BIGINT NOT NULL,
    asset_id      NUMERIC(78, 0),
    currency      BYTEA NOT NULL,
    recipient     BYTEA NOT NULL,
    amount        NUMERIC(78, 0) NOT NULL,
    PRIMARY KEY (chain_id, block_number, log_index)
);

CREATE TABLE proposals (
    chain_id       BIGINT NOT NULL,
    proposal_id    NUMERIC(78, 0) NOT NULL,
    proposer       BYTEA NOT NULL,
    description    TEXT NOT NULL,
    vote_start     NUMERIC(78, 0) NOT NULL,
    vote_end       NUMERIC(78, 0) NOT NULL,
    status         TEXT NOT NULL,
    eta            NUMERIC(78, 0),
    votes_for      NUMERIC(78, 0) NOT NULL DEFAULT 0,
    votes_against  NUMERIC(78, 0) NOT NULL DEFAULT 0,
    votes_abstain  NUMERIC(78, 0) NOT NULL DEFAULT 0,
    created_block  BIGINT NOT NULL,
    PRIMARY KEY (chain_id, proposal_id)
);

CREATE TABLE votes (
    chain_id      BIGINT NOT NULL,
    proposal_id   NUMERIC(78, 0) NOT NULL,
    voter         BYTEA NOT NULL,
    support       SMALLINT NOT NULL,
    weight        NUMERIC(78, 0) NOT NULL,
    reason        TEXT NOT NULL,
    block_number  BIGINT NOT NULL,
    PRIMARY KEY (chain_id, proposal_id, voter)
);

CREATE TABLE delegations (
    chain_id   BIGINT NOT NULL,
    delegator  BYTEA NOT NULL,
    delegate   BYTEA NOT NULL,
    PRIMARY KEY (chain_id, delegator)
);

CREATE TABLE compute_providers (
    chain_id           BIGINT NOT NULL,
    provider           BYTEA NOT NULL,
    endpoint           TEXT NOT NULL,
    currency           BYTEA NOT NULL,
    price              NUMERIC(78, 0) NOT NULL,
    stake              NUMERIC(78, 0) NOT NULL,
    exit_available_at  BIGINT,
    active             BOOLEAN NOT NULL,
    PRIMARY KEY (chain_id, provider)
);

CREATE TABLE jobs (
    chain_id         BIGINT NOT NULL,
    job_id           NUMERIC(78, 0) NOT NULL,
    consumer         BYTEA NOT NULL,
    provider         BYTEA NOT NULL,
    dataset_id       NUMERIC(78, 0) NOT NULL,
    algorithm_id     NUMERIC(78, 0) NOT NULL,
    order_id         NUMERIC(78, 0) NOT NULL,
    currency         BYTEA NOT NULL,
    payment          NUMERIC(78, 0) NOT NULL,
    deadline         BIGINT NOT NULL,
    spec_cid         TEXT NOT NULL,
    status           TEXT NOT NULL,
    result_cid       TEXT,
    output_hash      BYTEA,
    challenge_end    BIGINT,
    provider_payout  NUMERIC(78, 0),
    fee              NUMERIC(78, 0),
    refunded         NUMERIC(78, 0),
    challenger       BYTEA,
    opened_block     BIGINT NOT NULL,
    updated_block    BIGINT NOT NULL,
    PRIMARY KEY (chain_id, job_id)
);

-- Metadata documents fetched from IPFS, once per CID; failures are recorded, never retried
-- in a loop.
CREATE TABLE asset_metadata (
    cid         TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    document    JSONB,
    search      TSVECTOR,
    error       TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    fetched_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX asset_metadata_search ON asset_metadata USING GIN (search);
