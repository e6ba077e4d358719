-- The time of each event's block, so an asset's versions can be dated (`history[].timestamp`
-- of `/assets/{id}`). Taken from the log's `blockTimestamp`, or from the block header the sync
-- read for that block; NULL when the node gave neither. Kept with the raw events so that a
-- rebuild of the derived tables from them keeps it too.
ALTER TABLE events ADD COLUMN block_timestamp BIGINT;
ALTER TABLE asset_versions ADD COLUMN block_timestamp BIGINT;

-- Versions indexed before this migration: dated where their block is still in the reorg window
-- (the others stay NULL; `agora-indexer reset` and a resync date them all).
UPDATE asset_versions v SET block_timestamp = b.timestamp
FROM blocks b WHERE b.chain_id = v.chain_id AND b.number = v.block_number;
