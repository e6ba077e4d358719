-- The pin requests of the provider's IPFS Pinning Service API (`/pinning`): who asked (the
-- SHA-256 of their bearer token), what (a CID, with the request's name, origins and meta),
-- where it stands, and when it was made. `created` is in microseconds and unique: the API
-- pages through a client's requests by it.
CREATE TABLE pin_requests (
    request_id TEXT PRIMARY KEY,
    owner      BLOB    NOT NULL,
    cid        TEXT    NOT NULL,
    name       TEXT,
    origins    TEXT    NOT NULL,
    meta       TEXT    NOT NULL,
    status     TEXT    NOT NULL CHECK (status IN ('queued', 'pinning', 'pinned', 'failed')),
    created    INTEGER NOT NULL UNIQUE,
    details    TEXT
);
CREATE INDEX pin_requests_by_owner ON pin_requests (owner, created);
CREATE INDEX pin_requests_by_cid ON pin_requests (cid);
CREATE INDEX pin_requests_queued ON pin_requests (status, created);
