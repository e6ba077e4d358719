-- Each asset's usage, for the catalogue's "most bought", "most used" and "most revenue" sorts:
-- its purchases (`sales`, free claims included), what they paid (`revenue`, the sum of `paid`
-- in base units of their currency), and the compute jobs that used it as an input (`jobs`, once
-- per job whether it was the dataset or the algorithm).
--
-- PostgreSQL keeps the counters itself, with triggers on `purchases` and `jobs`, so every path
-- that writes or removes those rows keeps them right without knowing about them: `COPY`,
-- array-bound and row-by-row writes, the undo of a reorg (which deletes and re-inserts rows),
-- the recompute from raw events and `agora-indexer reset` (both `DELETE` per chain), and a
-- `TRUNCATE`. The triggers are per statement and read the statement's transition table, so a
-- batch of purchases costs one aggregate upsert, not one per row. A row exists exactly while an
-- asset has a purchase or a job (a row that comes back to zero is deleted), so a database
-- that rolled back and one synced from scratch hold the same rows.
--
-- `revenue` is a NUMERIC without a bound: a sum of uint256 amounts can pass 78 digits, and a
-- counter must never make a batch fail.
CREATE TABLE asset_stats (
    chain_id  BIGINT NOT NULL,
    asset_id  NUMERIC(78, 0) NOT NULL,
    sales     BIGINT NOT NULL DEFAULT 0,
    jobs      BIGINT NOT NULL DEFAULT 0,
    revenue   NUMERIC NOT NULL DEFAULT 0,
    PRIMARY KEY (chain_id, asset_id)
);
CREATE INDEX asset_stats_by_sales ON asset_stats (chain_id, sales, asset_id);
CREATE INDEX asset_stats_by_jobs ON asset_stats (chain_id, jobs, asset_id);
CREATE INDEX asset_stats_by_revenue ON asset_stats (chain_id, revenue, asset_id);

-- Adds a change of the counters to one asset's row (creating it), and deletes the row when
-- every counter is back to zero. For the per-row triggers; the per-statement ones do the same
-- set-based.
CREATE FUNCTION asset_stats_add(chain BIGINT, asset NUMERIC, d_sales BIGINT, d_jobs BIGINT, d_revenue NUMERIC)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO asset_stats AS s (chain_id, asset_id, sales, jobs, revenue)
    VALUES (chain, asset, d_sales, d_jobs, d_revenue)
    ON CONFLICT (chain_id, asset_id) DO UPDATE
        SET sales = s.sales + EXCLUDED.sales, jobs = s.jobs + EXCLUDED.jobs,
            revenue = s.revenue + EXCLUDED.revenue;
    DELETE FROM asset_stats WHERE chain_id = chain AND asset_id = asset AND sales = 0 AND jobs = 0;
END $$;

-- Purchases: `sales` and `revenue`.
CREATE FUNCTION asset_stats_purchases_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO asset_stats AS s (chain_id, asset_id, sales, revenue)
    SELECT chain_id, asset_id, count(*), sum(paid) FROM new_purchases GROUP BY chain_id, asset_id
    ON CONFLICT (chain_id, asset_id) DO UPDATE
        SET sales = s.sales + EXCLUDED.sales, revenue = s.revenue + EXCLUDED.revenue;
    RETURN NULL;
END $$;

CREATE FUNCTION asset_stats_purchases_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE asset_stats s SET sales = s.sales - d.sales, revenue = s.revenue - d.revenue
    FROM (SELECT chain_id, asset_id, count(*) AS sales, sum(paid) AS revenue
          FROM old_purchases GROUP BY chain_id, asset_id) d
    WHERE s.chain_id = d.chain_id AND s.asset_id = d.asset_id;
    DELETE FROM asset_stats s USING (SELECT DISTINCT chain_id, asset_id FROM old_purchases) d
    WHERE s.chain_id = d.chain_id AND s.asset_id = d.asset_id AND s.sales = 0 AND s.jobs = 0;
    RETURN NULL;
END $$;

-- The indexer never changes these columns of a stored purchase; should anything, the change
-- moves its sale and payment.
CREATE FUNCTION asset_stats_purchase_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM asset_stats_add(OLD.chain_id, OLD.asset_id, -1, 0, -OLD.paid);
    PERFORM asset_stats_add(NEW.chain_id, NEW.asset_id, 1, 0, NEW.paid);
    RETURN NULL;
END $$;

CREATE FUNCTION asset_stats_purchases_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE asset_stats SET sales = 0, revenue = 0 WHERE sales <> 0 OR revenue <> 0;
    DELETE FROM asset_stats WHERE sales = 0 AND jobs = 0;
    RETURN NULL;
END $$;

-- Transition tables allow one event per trigger: inserts and deletes have a trigger each.
CREATE TRIGGER asset_stats_purchases_inserted AFTER INSERT ON purchases
    REFERENCING NEW TABLE AS new_purchases
    FOR EACH STATEMENT EXECUTE FUNCTION asset_stats_purchases_inserted();
CREATE TRIGGER asset_stats_purchases_deleted AFTER DELETE ON purchases
    REFERENCING OLD TABLE AS old_purchases
    FOR EACH STATEMENT EXECUTE FUNCTION asset_stats_purchases_deleted();
CREATE TRIGGER asset_stats_purchase_updated AFTER UPDATE OF chain_id, asset_id, paid ON purchases
    FOR EACH ROW
    WHEN ((OLD.chain_id, OLD.asset_id, OLD.paid) IS DISTINCT FROM (NEW.chain_id, NEW.asset_id, NEW.paid))
    EXECUTE FUNCTION asset_stats_purchase_updated();
CREATE TRIGGER asset_stats_purchases_truncated AFTER TRUNCATE ON purchases
    FOR EACH STATEMENT EXECUTE FUNCTION asset_stats_purchases_truncated();

-- Jobs: `jobs`, for the dataset and for the algorithm (or model), once when they are the same.
CREATE FUNCTION asset_stats_jobs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO asset_stats AS s (chain_id, asset_id, jobs)
    SELECT chain_id, asset_id, count(*) FROM (
        SELECT chain_id, dataset_id AS asset_id FROM new_jobs
        UNION ALL
        SELECT chain_id, algorithm_id FROM new_jobs WHERE algorithm_id <> dataset_id
    ) inputs GROUP BY chain_id, asset_id
    ON CONFLICT (chain_id, asset_id) DO UPDATE SET jobs = s.jobs + EXCLUDED.jobs;
    RETURN NULL;
END $$;

CREATE FUNCTION asset_stats_jobs_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE asset_stats s SET jobs = s.jobs - d.jobs
    FROM (SELECT chain_id, asset_id, count(*) AS jobs FROM (
              SELECT chain_id, dataset_id AS asset_id FROM old_jobs
              UNION ALL
              SELECT chain_id, algorithm_id FROM old_jobs WHERE algorithm_id <> dataset_id
          ) inputs GROUP BY chain_id, asset_id) d
    WHERE s.chain_id = d.chain_id AND s.asset_id = d.asset_id;
    DELETE FROM asset_stats s USING (
        SELECT chain_id, dataset_id AS asset_id FROM old_jobs
        UNION
        SELECT chain_id, algorithm_id FROM old_jobs
    ) d
    WHERE s.chain_id = d.chain_id AND s.asset_id = d.asset_id AND s.sales = 0 AND s.jobs = 0;
    RETURN NULL;
END $$;

-- Like a purchase's, a job's inputs never change once stored; should they, the job moves.
CREATE FUNCTION asset_stats_job_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM asset_stats_add(OLD.chain_id, OLD.dataset_id, 0, -1, 0);
    IF OLD.algorithm_id <> OLD.dataset_id THEN
        PERFORM asset_stats_add(OLD.chain_id, OLD.algorithm_id, 0, -1, 0);
    END IF;
    PERFORM asset_stats_add(NEW.chain_id, NEW.dataset_id, 0, 1, 0);
    IF NEW.algorithm_id <> NEW.dataset_id THEN
        PERFORM asset_stats_add(NEW.chain_id, NEW.algorithm_id, 0, 1, 0);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION asset_stats_jobs_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE asset_stats SET jobs = 0 WHERE jobs <> 0;
    DELETE FROM asset_stats WHERE sales = 0 AND jobs = 0;
    RETURN NULL;
END $$;

CREATE TRIGGER asset_stats_jobs_inserted AFTER INSERT ON jobs
    REFERENCING NEW TABLE AS new_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION asset_stats_jobs_inserted();
CREATE TRIGGER asset_stats_jobs_deleted AFTER DELETE ON jobs
    REFERENCING OLD TABLE AS old_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION asset_stats_jobs_deleted();
CREATE TRIGGER asset_stats_job_updated AFTER UPDATE OF chain_id, dataset_id, algorithm_id ON jobs
    FOR EACH ROW
    WHEN ((OLD.chain_id, OLD.dataset_id, OLD.algorithm_id)
          IS DISTINCT FROM (NEW.chain_id, NEW.dataset_id, NEW.algorithm_id))
    EXECUTE FUNCTION asset_stats_job_updated();
CREATE TRIGGER asset_stats_jobs_truncated AFTER TRUNCATE ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION asset_stats_jobs_truncated();

-- The rows indexed before this migration.
INSERT INTO asset_stats (chain_id, asset_id, sales, jobs, revenue)
SELECT chain_id, asset_id, sum(sales), sum(jobs), sum(revenue) FROM (
    SELECT chain_id, asset_id, count(*) AS sales, 0 AS jobs, sum(paid) AS revenue
    FROM purchases GROUP BY chain_id, asset_id
    UNION ALL
    SELECT chain_id, dataset_id, 0, count(*), 0 FROM jobs GROUP BY chain_id, dataset_id
    UNION ALL
    SELECT chain_id, algorithm_id, 0, count(*), 0 FROM jobs WHERE algorithm_id <> dataset_id
    GROUP BY chain_id, algorithm_id
) counted
GROUP BY chain_id, asset_id;
