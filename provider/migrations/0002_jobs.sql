-- Compute jobs this provider admitted. `plan` holds what a worker needs to run one (spec,
-- input CIDs and digests, deadline) so a restarted provider resumes queued jobs; a job found
-- `running` at startup was interrupted and is marked failed, never run twice. A succeeded
-- job gets `settled_at` once the market finalized (or otherwise settled) it.
CREATE TABLE jobs (
    job_id      TEXT    NOT NULL PRIMARY KEY,
    consumer    TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    reason      TEXT,
    progress    REAL    NOT NULL DEFAULT 0,
    plan        TEXT    NOT NULL,
    result_cid  TEXT,
    output_hash TEXT,
    receipt     TEXT,
    settled_at  INTEGER,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE INDEX jobs_status ON jobs (status);
