-- How many times a provider restart interrupted a job while it ran. The first interruption
-- puts the job back in the queue (jobs are deterministic and the chain tells whether its
-- result was already posted); a second one fails it, so a job that brings the provider down
-- cannot do so forever.
ALTER TABLE jobs ADD COLUMN restarts INTEGER NOT NULL DEFAULT 0;
