-- Who sent each vote's transaction: the voter itself, or a relayer that submitted the voter's
-- EIP-712 signature (`castVoteBySig`). Read only for vote logs (a receipt per transaction), kept
-- on the raw event so that a rollback's recomputation from `events` keeps it. NULL for the
-- events indexed before this column (and for every other event).
ALTER TABLE events ADD COLUMN tx_from BYTEA;
ALTER TABLE votes ADD COLUMN sent_by BYTEA;
