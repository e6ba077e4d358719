//! The provider's own state in SQLite: used nonces, served single-use orders and verified
//! content, so a restarted provider refuses what it refused before. Migrations live in
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

    /// Closes the pool (waits for connections to finish).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
