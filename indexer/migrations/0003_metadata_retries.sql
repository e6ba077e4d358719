-- Failed metadata fetches are retried with backoff: `next_attempt_at` is when the CID may be
-- tried again, NULL once it was fetched or the attempts ran out (the failure stays recorded).
ALTER TABLE asset_metadata ADD COLUMN next_attempt_at TIMESTAMPTZ;
CREATE INDEX asset_metadata_retry ON asset_metadata (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
