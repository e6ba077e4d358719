-- The DAO's currency allow-list (kept by the marketplace, read by the compute market too): one
-- row per ERC-20 it ever allowed or disallowed, from `CurrencyAllowed` / `CurrencyDisallowed`.
-- ETH is always allowed and never appears.
CREATE TABLE currencies (
    chain_id       BIGINT NOT NULL,
    currency       BYTEA NOT NULL,
    allowed        BOOLEAN NOT NULL,
    updated_block  BIGINT NOT NULL,
    PRIMARY KEY (chain_id, currency)
);
