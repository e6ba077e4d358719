-- The log (stdout and stderr, capped by the sandbox) of an algorithm job that succeeded,
-- when it may be returned: NULL for built-in jobs and for logs withheld from the consumer
-- (a compute-only dataset whose owner does not allow them).
ALTER TABLE jobs ADD COLUMN log BLOB;
ALTER TABLE jobs ADD COLUMN log_truncated INTEGER NOT NULL DEFAULT 0;
