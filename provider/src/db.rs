//! The provider's own state in SQLite: used nonces, served single-use orders and the bytes
//! sent for each, verified content, so a restarted provider refuses what it refused before. Migrations live in
//! `provider/migrations` and run on open.

use std::{path::Path, str::FromStr, time::Duration};

use alloy::primitives::{Address, B256, U256};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// A database operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Opening or querying the database failed.
    #[error("{action}: {source}")]
    Sqlx {
        /// What was being done.
        action: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A value could not be encoded for storage.
    #[error("encoding a value for the database: {0}")]
    Encode(String),
    /// Running the migrations failed.
    #[error("migrating the provider database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

fn err(action: &'static str) -> impl FnOnce(sqlx::Error) -> DbError {
    move |source| DbError::Sqlx { action, source }
}

/// The provider's database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating if needed) the database file at `path` and migrates it.
    pub async fn open(path: &Path) -> Result<Self, DbError> {
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(err("parse SQLite options"))?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL with NORMAL survives a process crash; only a power loss may drop the last commits.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(err("open the provider database"))?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool })
    }

    /// Records `nonce` for `signer` until `expires_at` (the request's expiry); `false` when it
    /// was used before.
    pub async fn use_nonce(&self, signer: Address, nonce: U256, expires_at: u64) -> Result<bool, DbError> {
        let result =
            sqlx::query("INSERT OR IGNORE INTO used_nonces (signer, nonce, expires_at) VALUES (?, ?, ?)")
                .bind(signer.to_string())
                .bind(nonce.to_string())
                .bind(i64::try_from(expires_at).unwrap_or(i64::MAX))
                .execute(&self.pool)
                .await
                .map_err(err("record a nonce"))?;
        Ok(result.rows_affected() == 1)
    }

    /// Forgets nonces whose requests expired before `now`; returns how many.
    pub async fn prune_nonces(&self, now: u64) -> Result<u64, DbError> {
        let result = sqlx::query("DELETE FROM used_nonces WHERE expires_at < ?")
            .bind(i64::try_from(now).unwrap_or(i64::MAX))
            .execute(&self.pool)
            .await
            .map_err(err("prune expired nonces"))?;
        Ok(result.rows_affected())
    }

    /// Whether the single-use order was served.
    pub async fn is_served(&self, access_token: Address, order_id: U256) -> Result<bool, DbError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT 1 FROM served_orders WHERE access_token = ? AND order_id = ?")
                .bind(access_token.to_string())
                .bind(order_id.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(err("look up a served order"))?;
        Ok(row.is_some())
    }

    /// Marks a single-use order served.
    pub async fn mark_served(
        &self,
        access_token: Address,
        order_id: U256,
        consumer: Address,
        now: u64,
    ) -> Result<(), DbError> {
        sqlx::query(
            "INSERT OR IGNORE INTO served_orders (access_token, order_id, consumer, served_at) VALUES (?, ?, ?, ?)",
        )
        .bind(access_token.to_string())
        .bind(order_id.to_string())
        .bind(consumer.to_string())
        .bind(now as i64)
        .execute(&self.pool)
        .await
        .map_err(err("record a served order"))?;
        Ok(())
    }

    /// Bytes sent so far for the single-use order, over all its responses.
    pub async fn order_bytes(&self, access_token: Address, order_id: U256) -> Result<u64, DbError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT bytes_sent FROM order_bytes WHERE access_token = ? AND order_id = ?")
                .bind(access_token.to_string())
                .bind(order_id.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(err("look up an order's bytes sent"))?;
        Ok(row.map_or(0, |(bytes,)| u64::try_from(bytes).unwrap_or(0)))
    }

    /// Adds `bytes` to what the single-use order was sent; returns the new total.
    pub async fn add_order_bytes(
        &self,
        access_token: Address,
        order_id: U256,
        bytes: u64,
        now: u64,
    ) -> Result<u64, DbError> {
        let (total,): (i64,) = sqlx::query_as(
            "INSERT INTO order_bytes (access_token, order_id, bytes_sent, updated_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (access_token, order_id) DO UPDATE \
             SET bytes_sent = bytes_sent + excluded.bytes_sent, updated_at = excluded.updated_at \
             RETURNING bytes_sent",
        )
        .bind(access_token.to_string())
        .bind(order_id.to_string())
        .bind(i64::try_from(bytes).unwrap_or(i64::MAX))
        .bind(now as i64)
        .fetch_one(&self.pool)
        .await
        .map_err(err("record an order's bytes sent"))?;
        Ok(u64::try_from(total).unwrap_or(0))
    }

    /// Whether `cid` was checked against `digest` before.
    pub async fn is_verified(&self, cid: &str, digest: B256) -> Result<bool, DbError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT 1 FROM verified_content WHERE cid = ? AND digest = ?")
                .bind(cid)
                .bind(digest.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(err("look up verified content"))?;
        Ok(row.is_some())
    }

    /// Records that `cid` matched `digest`.
    pub async fn mark_verified(&self, cid: &str, digest: B256, now: u64) -> Result<(), DbError> {
        sqlx::query("INSERT OR IGNORE INTO verified_content (cid, digest, verified_at) VALUES (?, ?, ?)")
            .bind(cid)
            .bind(digest.to_string())
            .bind(now as i64)
            .execute(&self.pool)
            .await
            .map_err(err("record verified content"))?;
        Ok(())
    }

    /// Records an admitted job as queued; `false` when the job was submitted before.
    pub async fn insert_job(
        &self,
        job_id: U256,
        consumer: Address,
        plan: &str,
        now: u64,
    ) -> Result<bool, DbError> {
        let result = sqlx::query(
            "INSERT OR IGNORE INTO jobs (job_id, consumer, status, plan, created_at, updated_at) \
             VALUES (?, ?, 'queued', ?, ?, ?)",
        )
        .bind(job_id.to_string())
        .bind(consumer.to_string())
        .bind(plan)
        .bind(now as i64)
        .bind(now as i64)
        .execute(&self.pool)
        .await
        .map_err(err("record a job"))?;
        Ok(result.rows_affected() == 1)
    }

    /// The job `job_id`, if admitted here.
    pub async fn job(&self, job_id: U256) -> Result<Option<JobRow>, DbError> {
        sqlx::query_as(
            "SELECT job_id, consumer, status, reason, progress, plan, result_cid, output_hash, receipt \
             FROM jobs WHERE job_id = ?",
        )
        .bind(job_id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(err("look up a job"))
    }

    /// Moves a queued job to running; `false` when it was not queued (so no job runs twice).
    pub async fn start_job(&self, job_id: U256, now: u64) -> Result<bool, DbError> {
        let result = sqlx::query(
            "UPDATE jobs SET status = 'running', updated_at = ? WHERE job_id = ? AND status = 'queued'",
        )
        .bind(now as i64)
        .bind(job_id.to_string())
        .execute(&self.pool)
        .await
        .map_err(err("start a job"))?;
        Ok(result.rows_affected() == 1)
    }

    /// Records a running job's success.
    pub async fn succeed_job(
        &self,
        job_id: U256,
        result_cid: &str,
        output_hash: B256,
        receipt: &str,
        now: u64,
    ) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE jobs SET status = 'succeeded', progress = 1, result_cid = ?, output_hash = ?, receipt = ?, \
             updated_at = ? WHERE job_id = ? AND status = 'running'",
        )
        .bind(result_cid)
        .bind(output_hash.to_string())
        .bind(receipt)
        .bind(now as i64)
        .bind(job_id.to_string())
        .execute(&self.pool)
        .await
        .map_err(err("record a job's result"))?;
        Ok(())
    }

    /// Keeps the log of a running algorithm job (before it succeeds), for `GET /v1/jobs/{id}/log`.
    pub async fn record_log(&self, job_id: U256, log: &[u8], truncated: bool) -> Result<(), DbError> {
        sqlx::query("UPDATE jobs SET log = ?, log_truncated = ? WHERE job_id = ? AND status = 'running'")
            .bind(log)
            .bind(truncated)
            .bind(job_id.to_string())
            .execute(&self.pool)
            .await
            .map_err(err("record a job's log"))?;
        Ok(())
    }

    /// The kept log of job `job_id` and whether it was cut at the sandbox's cap; `None` when
    /// the job is unknown or has no log.
    pub async fn job_log(&self, job_id: U256) -> Result<Option<(Vec<u8>, bool)>, DbError> {
        let row: Option<(Option<Vec<u8>>, bool)> =
            sqlx::query_as("SELECT log, log_truncated FROM jobs WHERE job_id = ?")
                .bind(job_id.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(err("read a job's log"))?;
        Ok(row.and_then(|(log, truncated)| log.map(|log| (log, truncated))))
    }

    /// Marks a queued or running job failed with `reason`.
    pub async fn fail_job(&self, job_id: U256, reason: &str, now: u64) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE jobs SET status = 'failed', reason = ?, updated_at = ? \
             WHERE job_id = ? AND status IN ('queued', 'running')",
        )
        .bind(reason)
        .bind(now as i64)
        .bind(job_id.to_string())
        .execute(&self.pool)
        .await
        .map_err(err("record a job's failure"))?;
        Ok(())
    }

    /// Cancels a queued job; `false` when it was not queued.
    pub async fn cancel_queued_job(&self, job_id: U256, now: u64) -> Result<bool, DbError> {
        let result = sqlx::query(
            "UPDATE jobs SET status = 'cancelled', reason = 'cancelled by the consumer', updated_at = ? \
             WHERE job_id = ? AND status = 'queued'",
        )
        .bind(now as i64)
        .bind(job_id.to_string())
        .execute(&self.pool)
        .await
        .map_err(err("cancel a job"))?;
        Ok(result.rows_affected() == 1)
    }

    /// Marks a running job cancelled (its computation stopped on the consumer's request).
    pub async fn cancel_running_job(&self, job_id: U256, now: u64) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE jobs SET status = 'cancelled', reason = 'cancelled by the consumer', updated_at = ? \
             WHERE job_id = ? AND status = 'running'",
        )
        .bind(now as i64)
        .bind(job_id.to_string())
        .execute(&self.pool)
        .await
        .map_err(err("record a job's cancellation"))?;
        Ok(())
    }

    /// Succeeded jobs the market has not settled yet (payment still to finalize).
    pub async fn unsettled_jobs(&self) -> Result<Vec<U256>, DbError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT job_id FROM jobs WHERE status = 'succeeded' AND settled_at IS NULL ORDER BY rowid",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(err("list unsettled jobs"))?;
        Ok(rows.into_iter().filter_map(|(id,)| id.parse().ok()).collect())
    }

    /// Records that the market settled a job.
    pub async fn mark_settled(&self, job_id: U256, now: u64) -> Result<(), DbError> {
        sqlx::query("UPDATE jobs SET settled_at = ? WHERE job_id = ?")
            .bind(now as i64)
            .bind(job_id.to_string())
            .execute(&self.pool)
            .await
            .map_err(err("record a settled job"))?;
        Ok(())
    }

    /// At startup: puts jobs left running (interrupted by the restart) back in the queue, once
    /// per job; a job interrupted a second time is failed instead, and returned in `failed` so
    /// it can be declined on chain. Returns the queue in admission order and the failed jobs.
    pub async fn recover_jobs(&self, now: u64) -> Result<Recovered, DbError> {
        let mut tx = self.pool.begin().await.map_err(err("begin recovering jobs"))?;
        let failed: Vec<(String,)> = sqlx::query_as(
            "UPDATE jobs SET status = 'failed', reason = ?, updated_at = ? \
             WHERE status = 'running' AND restarts >= ? RETURNING job_id",
        )
        .bind(format!("interrupted by a provider restart {MAX_RESTARTS_PER_JOB} times in a row"))
        .bind(now as i64)
        .bind(i64::from(MAX_RESTARTS_PER_JOB) - 1)
        .fetch_all(&mut *tx)
        .await
        .map_err(err("fail jobs interrupted again"))?;
        sqlx::query(
            "UPDATE jobs SET status = 'queued', restarts = restarts + 1, progress = 0, updated_at = ? \
             WHERE status = 'running'",
        )
        .bind(now as i64)
        .execute(&mut *tx)
        .await
        .map_err(err("requeue interrupted jobs"))?;
        let queued: Vec<(String,)> =
            sqlx::query_as("SELECT job_id FROM jobs WHERE status = 'queued' ORDER BY rowid")
                .fetch_all(&mut *tx)
                .await
                .map_err(err("list queued jobs"))?;
        tx.commit().await.map_err(err("commit recovered jobs"))?;
        let ids = |rows: Vec<(String,)>| rows.into_iter().filter_map(|(id,)| id.parse().ok()).collect();
        Ok(Recovered { queued: ids(queued), failed: ids(failed) })
    }

    /// Records a new pin request of `owner` (queued) unless `owner` already has `max_per_owner`;
    /// `created` is `now_micros`, or one more than the newest request's when that is not later
    /// (so it is unique). `None` when `owner` is at the limit.
    pub async fn insert_pin(
        &self,
        owner: B256,
        request: &NewPin<'_>,
        now_micros: i64,
        max_per_owner: u64,
    ) -> Result<Option<PinRow>, DbError> {
        insert_pin(&self.pool, owner, request, now_micros, max_per_owner)
            .await
            .map_err(err("record a pin request"))
    }

    /// `owner`'s pin request `request_id`.
    pub async fn pin(&self, owner: B256, request_id: &str) -> Result<Option<PinRow>, DbError> {
        sqlx::query_as("SELECT * FROM pin_requests WHERE owner = ? AND request_id = ?")
            .bind(owner.as_slice())
            .bind(request_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(err("look up a pin request"))
    }

    /// `owner`'s pin requests that pass `filter` (all but its `meta`), newest first.
    pub async fn pins(&self, owner: B256, filter: &PinFilter) -> Result<Vec<PinRow>, DbError> {
        let mut query = sqlx::QueryBuilder::new("SELECT * FROM pin_requests WHERE owner = ");
        query.push_bind(owner.as_slice().to_vec());
        if !filter.cids.is_empty() {
            query.push(" AND cid IN (");
            let mut list = query.separated(", ");
            for cid in &filter.cids {
                list.push_bind(cid.clone());
            }
            query.push(")");
        }
        if !filter.statuses.is_empty() {
            query.push(" AND status IN (");
            let mut list = query.separated(", ");
            for status in &filter.statuses {
                list.push_bind(*status);
            }
            query.push(")");
        }
        if let Some((name, how)) = &filter.name {
            query.push(match how {
                NameMatch::Exact => " AND name = ",
                NameMatch::IExact => " AND lower(name) = lower(",
                NameMatch::Partial => " AND instr(name, ",
                NameMatch::IPartial => " AND instr(lower(name), lower(",
            });
            query.push_bind(name.clone());
            query.push(match how {
                NameMatch::Exact => "",
                NameMatch::IExact => ")",
                NameMatch::Partial => ") > 0",
                NameMatch::IPartial => ")) > 0",
            });
        }
        if let Some(before) = filter.before_micros {
            query.push(" AND created < ").push_bind(before);
        }
        if let Some(after) = filter.after_micros {
            query.push(" AND created > ").push_bind(after);
        }
        query.push(" ORDER BY created DESC");
        query.build_query_as().fetch_all(&self.pool).await.map_err(err("list pin requests"))
    }

    /// Deletes `owner`'s pin request `request_id`; the request, if there was one.
    pub async fn delete_pin(&self, owner: B256, request_id: &str) -> Result<Option<PinRow>, DbError> {
        sqlx::query_as("DELETE FROM pin_requests WHERE owner = ? AND request_id = ? RETURNING *")
            .bind(owner.as_slice())
            .bind(request_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(err("delete a pin request"))
    }

    /// Replaces `owner`'s pin request `old` by a new one, in one transaction: the new request,
    /// and the old one it replaced; `None` when `old` is not `owner`'s.
    pub async fn replace_pin(
        &self,
        owner: B256,
        old: &str,
        request: &NewPin<'_>,
        now_micros: i64,
    ) -> Result<Option<(PinRow, PinRow)>, DbError> {
        let mut tx = self.pool.begin().await.map_err(err("begin replacing a pin request"))?;
        let removed: Option<PinRow> =
            sqlx::query_as("DELETE FROM pin_requests WHERE owner = ? AND request_id = ? RETURNING *")
                .bind(owner.as_slice())
                .bind(old)
                .fetch_optional(&mut *tx)
                .await
                .map_err(err("remove the replaced pin request"))?;
        let Some(removed) = removed else { return Ok(None) };
        // The replaced request made room: no quota to check.
        let added = insert_pin(&mut *tx, owner, request, now_micros, u64::MAX)
            .await
            .map_err(err("record the replacing pin request"))?
            .ok_or_else(|| DbError::Encode("a replacing pin request was not recorded".into()))?;
        tx.commit().await.map_err(err("commit a replaced pin request"))?;
        Ok(Some((added, removed)))
    }

    /// Takes the oldest queued pin request for pinning (`pinning`); each is taken once.
    pub async fn claim_pin(&self) -> Result<Option<PinRow>, DbError> {
        sqlx::query_as(
            "UPDATE pin_requests SET status = 'pinning' WHERE request_id = \
             (SELECT request_id FROM pin_requests WHERE status = 'queued' ORDER BY created LIMIT 1) \
             RETURNING *",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(err("claim a queued pin request"))
    }

    /// Ends a pin request taken by [`Store::claim_pin`] as `pinned` or `failed` (with why);
    /// `false` when it is no longer there (deleted or replaced meanwhile).
    pub async fn finish_pin(
        &self,
        request_id: &str,
        pinned: bool,
        details: Option<&str>,
    ) -> Result<bool, DbError> {
        let result = sqlx::query(
            "UPDATE pin_requests SET status = ?, details = ? WHERE request_id = ? AND status = 'pinning'",
        )
        .bind(if pinned { "pinned" } else { "failed" })
        .bind(details)
        .bind(request_id)
        .execute(&self.pool)
        .await
        .map_err(err("record a pin request's outcome"))?;
        Ok(result.rows_affected() == 1)
    }

    /// Whether any pin request, of anyone, names `cid`.
    pub async fn is_pin_requested(&self, cid: &str) -> Result<bool, DbError> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT 1 FROM pin_requests WHERE cid = ? LIMIT 1")
            .bind(cid)
            .fetch_optional(&self.pool)
            .await
            .map_err(err("look up the pin requests of a CID"))?;
        Ok(row.is_some())
    }

    /// At startup: pin requests a restart interrupted go back in the queue; how many.
    pub async fn requeue_pins(&self) -> Result<u64, DbError> {
        let result = sqlx::query("UPDATE pin_requests SET status = 'queued' WHERE status = 'pinning'")
            .execute(&self.pool)
            .await
            .map_err(err("requeue interrupted pin requests"))?;
        Ok(result.rows_affected())
    }

    /// Closes the pool (waits for connections to finish).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// [`Store::insert_pin`] on `executor` (the pool, or a transaction).
async fn insert_pin<'e>(
    executor: impl sqlx::SqliteExecutor<'e>,
    owner: B256,
    request: &NewPin<'_>,
    now_micros: i64,
    max_per_owner: u64,
) -> Result<Option<PinRow>, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO pin_requests (request_id, owner, cid, name, origins, meta, status, created) \
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, 'queued', \
                (SELECT max(?7, coalesce(max(created), 0) + 1) FROM pin_requests) \
         WHERE (SELECT count(*) FROM pin_requests WHERE owner = ?2) < ?8 \
         RETURNING *",
    )
    .bind(request.request_id)
    .bind(owner.as_slice())
    .bind(request.cid)
    .bind(request.name)
    .bind(request.origins)
    .bind(request.meta)
    .bind(now_micros)
    .bind(i64::try_from(max_per_owner).unwrap_or(i64::MAX))
    .fetch_optional(executor)
    .await
}

/// How many provider restarts may interrupt one running job: the first puts it back in the
/// queue, the second fails it.
pub const MAX_RESTARTS_PER_JOB: u8 = 2;

/// What [`Store::recover_jobs`] did at startup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Jobs to run, in admission order: queued ones and those a restart interrupted once.
    pub queued: Vec<U256>,
    /// Jobs failed for being interrupted [`MAX_RESTARTS_PER_JOB`] times.
    pub failed: Vec<U256>,
}

/// A new pin request, its JSON parts already checked and serialized.
#[derive(Debug, Clone, Copy)]
pub struct NewPin<'a> {
    /// Its id.
    pub request_id: &'a str,
    /// The CID to pin.
    pub cid: &'a str,
    /// Its name.
    pub name: Option<&'a str>,
    /// Its origins, a JSON array of multiaddrs.
    pub origins: &'a str,
    /// Its meta, a JSON object of strings.
    pub meta: &'a str,
}

/// How a pin request's name is matched (the Pinning Service API's `match`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameMatch {
    /// The same name.
    Exact,
    /// The same name, case aside.
    IExact,
    /// Names containing it.
    Partial,
    /// Names containing it, case aside.
    IPartial,
}

/// Which pin requests [`Store::pins`] returns; an empty list or `None` does not filter.
#[derive(Debug, Clone, Default)]
pub struct PinFilter {
    /// Any of these CIDs.
    pub cids: Vec<String>,
    /// Any of these statuses.
    pub statuses: Vec<&'static str>,
    /// A name, and how to match it.
    pub name: Option<(String, NameMatch)>,
    /// Created before this, microseconds since the epoch.
    pub before_micros: Option<i64>,
    /// Created after this.
    pub after_micros: Option<i64>,
}

/// A pin request as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct PinRow {
    /// Its id.
    pub request_id: String,
    /// The SHA-256 of the token that made it.
    pub owner: Vec<u8>,
    /// The CID to pin.
    pub cid: String,
    /// Its name.
    pub name: Option<String>,
    /// Its origins, a JSON array.
    pub origins: String,
    /// Its meta, a JSON object.
    pub meta: String,
    /// `queued`, `pinning`, `pinned` or `failed`.
    pub status: String,
    /// When it was made, microseconds since the epoch (unique).
    pub created: i64,
    /// Why it failed.
    pub details: Option<String>,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct JobRow {
    /// The market's job id, decimal.
    pub job_id: String,
    /// Who submitted it (the job's consumer).
    pub consumer: String,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// Why it failed.
    pub reason: Option<String>,
    /// Share done, 0 to 1, as of its last state change.
    pub progress: f64,
    /// The [`crate::jobs::Plan`] as JSON.
    pub plan: String,
    /// CID of the output folder.
    pub result_cid: Option<String>,
    /// The output hash posted on chain.
    pub output_hash: Option<String>,
    /// The [`crate::jobs::SignedReceipt`] as JSON.
    pub receipt: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_pin_request_is_claimed_once_under_concurrent_workers_and_a_restart_requeues() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("provider.sqlite")).await.unwrap();
        let owner = B256::repeat_byte(7);
        let mut created = Vec::new();
        for i in 0..60 {
            let id = format!("request-{i}");
            let pin = NewPin { request_id: &id, cid: "bafkqaaa", name: None, origins: "[]", meta: "{}" };
            // The same clock reading every time: `created` still comes out unique and rising.
            let row = store.insert_pin(owner, &pin, 1_000, 60).await.unwrap().unwrap();
            created.push(row.created);
        }
        assert!(created.windows(2).all(|pair| pair[0] < pair[1]), "{created:?}");
        let over = NewPin { request_id: "over", cid: "bafkqaaa", name: None, origins: "[]", meta: "{}" };
        assert!(store.insert_pin(owner, &over, 1_000, 60).await.unwrap().is_none(), "the quota holds");

        let claims = (0..8).map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(row) = store.claim_pin().await.unwrap() {
                    mine.push(row.request_id);
                }
                mine
            })
        });
        let mut claimed: Vec<String> = Vec::new();
        for claim in futures::future::join_all(claims).await {
            claimed.extend(claim.unwrap());
        }
        claimed.sort();
        let before = claimed.len();
        claimed.dedup();
        assert_eq!((before, claimed.len()), (60, 60), "every request claimed, none twice");

        assert!(store.finish_pin("request-0", true, None).await.unwrap());
        assert!(!store.finish_pin("request-0", false, Some("late")).await.unwrap(), "finished once");
        assert_eq!(store.requeue_pins().await.unwrap(), 59, "the interrupted ones are queued again");
        assert!(
            store.delete_pin(B256::ZERO, "request-1").await.unwrap().is_none(),
            "only its owner removes it"
        );
        assert!(store.delete_pin(owner, "request-1").await.unwrap().is_some());
        assert!(store.is_pin_requested("bafkqaaa").await.unwrap());
        store.close().await;
    }

    #[tokio::test]
    async fn queued_and_interrupted_jobs_resume_after_a_restart_and_fail_the_second_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("provider.sqlite");
        let who = Address::repeat_byte(1);
        let store = Store::open(&path).await.unwrap();
        for id in 1..=3u64 {
            assert!(store.insert_job(U256::from(id), who, "{}", 1).await.unwrap());
        }
        assert!(!store.insert_job(U256::from(1), who, "{}", 1).await.unwrap(), "a job is admitted once");
        assert!(store.start_job(U256::from(2), 2).await.unwrap());
        assert!(!store.start_job(U256::from(2), 2).await.unwrap(), "a job starts once");
        store.close().await;

        // The first restart puts the interrupted job back, in its admission place.
        let store = Store::open(&path).await.unwrap();
        let all = vec![U256::from(1), U256::from(2), U256::from(3)];
        assert_eq!(store.recover_jobs(3).await.unwrap(), Recovered { queued: all, failed: vec![] });
        assert_eq!(store.job(U256::from(2)).await.unwrap().unwrap().status, "queued");
        assert!(store.start_job(U256::from(2), 4).await.unwrap(), "an interrupted job runs again");
        assert!(!store.start_job(U256::from(2), 4).await.unwrap(), "and starts once");
        store.close().await;

        // Interrupted again: failed, never run a third time.
        let store = Store::open(&path).await.unwrap();
        let recovered = store.recover_jobs(5).await.unwrap();
        assert_eq!(
            recovered,
            Recovered { queued: vec![U256::from(1), U256::from(3)], failed: vec![U256::from(2)] }
        );
        let interrupted = store.job(U256::from(2)).await.unwrap().unwrap();
        assert_eq!(interrupted.status, "failed");
        assert!(interrupted.reason.unwrap().contains("interrupted by a provider restart 2 times"));
        assert!(!store.start_job(U256::from(2), 6).await.unwrap(), "a failed job never reruns");
        assert!(store.cancel_queued_job(U256::from(3), 7).await.unwrap());
        assert!(!store.cancel_queued_job(U256::from(2), 7).await.unwrap(), "only queued jobs cancel at once");
        assert!(!store.start_job(U256::from(3), 8).await.unwrap(), "a cancelled job never runs");
    }

    #[tokio::test]
    async fn bytes_sent_per_order_add_up_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("provider.sqlite");
        let (token, other_token) = (Address::repeat_byte(2), Address::repeat_byte(3));
        let store = Store::open(&path).await.unwrap();
        assert_eq!(store.order_bytes(token, U256::from(7)).await.unwrap(), 0, "nothing sent yet");
        assert_eq!(store.add_order_bytes(token, U256::from(7), 1000, 1).await.unwrap(), 1000);
        assert_eq!(store.add_order_bytes(token, U256::from(7), 234, 2).await.unwrap(), 1234);
        assert_eq!(store.add_order_bytes(token, U256::from(8), 5, 2).await.unwrap(), 5, "per order");
        assert_eq!(store.add_order_bytes(other_token, U256::from(7), 9, 2).await.unwrap(), 9, "per token");
        store.close().await;

        let store = Store::open(&path).await.unwrap();
        assert_eq!(store.order_bytes(token, U256::from(7)).await.unwrap(), 1234, "totals survive a restart");
        assert_eq!(store.add_order_bytes(token, U256::from(7), 1, 3).await.unwrap(), 1235);
        assert_eq!(store.order_bytes(token, U256::from(8)).await.unwrap(), 5);
        assert_eq!(store.order_bytes(other_token, U256::from(8)).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn state_survives_reopening_and_expired_nonces_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("provider.sqlite");
        let (who, token) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let store = Store::open(&path).await.unwrap();
        assert!(store.use_nonce(who, U256::from(1), 100).await.unwrap());
        assert!(!store.use_nonce(who, U256::from(1), 100).await.unwrap());
        assert!(store.use_nonce(who, U256::from(2), 300).await.unwrap());
        store.mark_served(token, U256::from(7), who, 50).await.unwrap();
        store.close().await;

        let store = Store::open(&path).await.unwrap();
        assert!(!store.use_nonce(who, U256::from(2), 300).await.unwrap(), "nonces survive a restart");
        assert!(store.is_served(token, U256::from(7)).await.unwrap(), "served orders survive a restart");
        assert!(!store.is_served(token, U256::from(8)).await.unwrap());
        assert_eq!(store.prune_nonces(200).await.unwrap(), 1);
        assert!(!store.use_nonce(who, U256::from(2), 300).await.unwrap(), "unexpired nonces stay");
    }
}
