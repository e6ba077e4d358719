-- How each ERC-20 the protocol names (an allowed currency, a listing's or a provider's currency)
-- writes its amounts: its `symbol()` and `decimals()`, read from the token once it appears. A
-- token's units never change, so no reorg undoes a row.
CREATE TABLE token_units (
    chain_id  BIGINT NOT NULL,
    token     BYTEA NOT NULL,
    symbol    TEXT NOT NULL,
    decimals  SMALLINT NOT NULL,
    PRIMARY KEY (chain_id, token)
);
