-- Undo journal for reorgs: before a block-by-block (tip) batch changes a row of a derived
-- table that is updated in place, the row's previous image (NULL when it did not exist) is
-- kept here, so a rollback restores exactly what the orphaned blocks changed instead of
-- recomputing every derived table. Rows older than the reorg window are pruned.
CREATE TABLE undo_log (
    chain_id      BIGINT NOT NULL,
    seq           BIGSERIAL NOT NULL,
    block_number  BIGINT NOT NULL,
    tbl           TEXT NOT NULL,
    key           JSONB NOT NULL,
    old           JSONB,
    PRIMARY KEY (chain_id, seq)
);
CREATE INDEX undo_log_by_block ON undo_log (chain_id, block_number);

-- Every batch from this block on was journaled (range batches below the window are not).
ALTER TABLE chain_state ADD COLUMN journal_from BIGINT;
