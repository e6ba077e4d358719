-- Nonces a consumer used with this provider: a signed request is accepted once. A nonce is
-- kept until its request's expiry (at most a day ahead); after that the request is refused
-- as expired anyway, so the row can go.
CREATE TABLE used_nonces (
    signer     TEXT    NOT NULL,
    nonce      TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (signer, nonce)
) WITHOUT ROWID;

CREATE INDEX used_nonces_expiry ON used_nonces (expires_at);

-- Single-use access orders whose content was delivered to the end.
CREATE TABLE served_orders (
    access_token TEXT    NOT NULL,
    order_id     TEXT    NOT NULL,
    consumer     TEXT    NOT NULL,
    served_at    INTEGER NOT NULL,
    PRIMARY KEY (access_token, order_id)
) WITHOUT ROWID;

-- Content whose sha-256 was checked end to end: (CID, digest) pairs are immutable, so a
-- ranged download of verified content needs no second full pass.
CREATE TABLE verified_content (
    cid         TEXT    NOT NULL,
    digest      TEXT    NOT NULL,
    verified_at INTEGER NOT NULL,
    PRIMARY KEY (cid, digest)
) WITHOUT ROWID;
