-- A job spends an access token of every priced input: the dataset's order as before, and now
-- the algorithm's or model's when it is priced (`JobOpened.algorithmOrderId`; NULL when it was
-- free). The indexes serve an asset's job counts, as a dataset and as an algorithm or model.
ALTER TABLE jobs ADD COLUMN algorithm_order_id NUMERIC(78, 0);
CREATE INDEX jobs_by_dataset ON jobs (chain_id, dataset_id);
CREATE INDEX jobs_by_algorithm ON jobs (chain_id, algorithm_id);
