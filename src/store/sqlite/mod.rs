//! SQLite backend: one writer connection running jobs in group commits, a pool of readers.
//!
//! SQLite allows one writer at a time, and with `synchronous=FULL` each commit costs an fsync
//! (~0.5 ms here). A single writer task that takes every job waiting in its queue and commits
//! them together turns N fsyncs into one under load, while each job keeps its own savepoint so
//! one refusal does not undo its neighbours. Replies go out only after COMMIT returns, so an
//! acknowledged write is on disk.

mod deliveries;
mod errors;
mod external;
mod jobs;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod plan_tests;
mod rows;
mod writer;

pub(super) use errors::is_unavailable;

use super::{DueOperation, StoreError, StoreOptions, StoredEvent, Write, Written};
use crate::domain::{
    ListQuery, MerchantId, OperationId, Payment, PaymentId, ProviderKind, Timestamp,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Row};
use std::str::FromStr;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The payment one of whose operations the provider knows by a reference (see
/// `payment_by_operation_reference`; a test checks its query plan).
const BY_OPERATION_REFERENCE: &str = "SELECT p.doc FROM operation_references r \
     JOIN payments p ON p.id = r.payment_id \
     WHERE r.merchant_id = ? AND r.provider = ? AND r.reference = ? LIMIT 1";

/// One merchant's events after a sequence number (WatchEvents' read after every commit).
const EVENTS_AFTER: &str = "SELECT sequence, type, payment, occurred_at FROM events \
     WHERE merchant_id = ? AND sequence > ? ORDER BY sequence LIMIT ?";

#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    readers: SqlitePool,
    jobs: mpsc::Sender<writer::Msg>,
    /// Bumped by the writer after each commit.
    commits: tokio::sync::watch::Receiver<u64>,
    gate: super::gate::Gate,
}

impl SqliteStore {
    pub(super) async fn open(options: &StoreOptions) -> Result<Self, StoreError> {
        let connect = SqliteConnectOptions::from_str(&options.url)
            .map_err(|e| {
                StoreError::Unavailable(format!("invalid SQLite URL {:?}: {e}", options.url))
            })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout);
        let path = connect.get_filename().display().to_string();
        let mut conn = connect.connect().await.map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot open SQLite database {path}: {e} (is the directory writable?)"
            ))
        })?;
        sqlx::migrate!("src/store/migrations/sqlite")
            .run(&mut conn)
            .await
            .map_err(|e| StoreError::Unavailable(format!("migrating {path}: {e}")))?;
        if let Some(pages) = options.sqlite_max_pages {
            // Only the writer grows the file. A PRAGMA takes no bind parameters; `pages` is a
            // number, so formatting it in is safe.
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "PRAGMA max_page_count = {pages}"
            )))
            .execute(&mut conn)
            .await?;
        }
        let readers = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .connect_with(connect.read_only(true))
            .await
            .map_err(|e| StoreError::Unavailable(format!("opening readers on {path}: {e}")))?;
        let (tx, rx) = mpsc::channel(writer::QUEUE_DEPTH);
        let (committed, commits) = tokio::sync::watch::channel(0);
        tokio::spawn(writer::run(conn, rx, committed));
        Ok(Self {
            inner: Arc::new(Inner {
                readers,
                jobs: tx,
                commits,
                gate: super::gate::Gate::default(),
            }),
        })
    }

    pub(super) fn gate(&self) -> &super::gate::Gate {
        &self.inner.gate
    }

    pub(super) async fn write(&self, job: Write) -> Result<Written, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.inner
            .jobs
            .send(writer::Msg::Job(Box::new(job), reply))
            .await
            .map_err(|_| StoreError::Unavailable("the database writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the database writer stopped mid-write".into()))?
    }

    pub(super) async fn payment(
        &self,
        merchant: &MerchantId,
        id: PaymentId,
    ) -> Result<Payment, StoreError> {
        let row = sqlx::query("SELECT doc FROM payments WHERE id = ? AND merchant_id = ?")
            .bind(id.to_string())
            .bind(merchant.as_str())
            .fetch_optional(&self.inner.readers)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(serde_json::from_str(row.try_get::<&str, _>(0)?)?)
    }

    pub(super) async fn payment_by_provider_reference(
        &self,
        merchant: &MerchantId,
        provider: ProviderKind,
        reference: &str,
    ) -> Result<Option<Payment>, StoreError> {
        let row = sqlx::query(
            "SELECT doc FROM payments WHERE merchant_id = ? AND provider = ? AND provider_reference = ?",
        )
        .bind(merchant.as_str())
        .bind(provider.as_str())
        .bind(reference)
        .fetch_optional(&self.inner.readers)
        .await?;
        match row {
            Some(row) => Ok(Some(serde_json::from_str(row.try_get::<&str, _>(0)?)?)),
            None => Ok(None),
        }
    }

    /// By the `operation_references` key (written with each payment document), so a webhook
    /// costs one index probe however many payments the merchant has.
    pub(super) async fn payment_by_operation_reference(
        &self,
        merchant: &MerchantId,
        provider: ProviderKind,
        reference: &str,
    ) -> Result<Option<Payment>, StoreError> {
        let row = sqlx::query(BY_OPERATION_REFERENCE)
            .bind(merchant.as_str())
            .bind(provider.as_str())
            .bind(reference)
            .fetch_optional(&self.inner.readers)
            .await?;
        match row {
            Some(row) => Ok(Some(serde_json::from_str(row.try_get::<&str, _>(0)?)?)),
            None => Ok(None),
        }
    }

    pub(super) async fn list(
        &self,
        merchant: &MerchantId,
        query: &ListQuery,
    ) -> Result<Vec<Payment>, StoreError> {
        let mut sql = sqlx::QueryBuilder::new("SELECT doc FROM payments WHERE merchant_id = ");
        sql.push_bind(merchant.as_str());
        if let Some(reference) = &query.merchant_reference {
            sql.push(" AND merchant_reference = ")
                .push_bind(reference.as_str());
        }
        if let Some(status) = query.status {
            sql.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(after) = query.after {
            sql.push(" AND id < ").push_bind(after.to_string());
        }
        sql.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(query.page_size));
        let rows = sql.build().fetch_all(&self.inner.readers).await?;
        rows.iter()
            .map(|row| Ok(serde_json::from_str(row.try_get::<&str, _>(0)?)?))
            .collect()
    }

    pub(super) async fn due_operations(
        &self,
        settled_before: Timestamp,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<DueOperation>, StoreError> {
        let rows = sqlx::query(
            "SELECT o.id, o.payment_id, p.merchant_id, o.attempts FROM operations o \
             JOIN payments p ON p.id = o.payment_id \
             WHERE o.status IN ('pending', 'unknown') AND o.next_attempt_at <= ? AND o.updated_at <= ? \
             ORDER BY o.next_attempt_at LIMIT ?",
        )
        .bind(now.micros())
        .bind(settled_before.micros())
        .bind(i64::from(limit))
        .fetch_all(&self.inner.readers)
        .await?;
        rows.iter()
            .map(|row| {
                let bad =
                    |what: &str| StoreError::Internal(format!("corrupt {what} in operations"));
                Ok(DueOperation {
                    operation: OperationId::parse(row.try_get(0)?).map_err(|_| bad("id"))?,
                    payment_id: PaymentId::parse(row.try_get(1)?).map_err(|_| bad("payment_id"))?,
                    merchant: MerchantId::parse(row.try_get(2)?).map_err(|_| bad("merchant_id"))?,
                    attempts: row.try_get(3)?,
                })
            })
            .collect()
    }

    /// Below the oldest event left, or every sequence ever handed out when none is left
    /// (AUTOINCREMENT keeps the high-water mark in `sqlite_sequence`).
    pub(super) async fn events_pruned_through(&self) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COALESCE((SELECT MIN(sequence) - 1 FROM events),              (SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)",
        )
        .fetch_one(&self.inner.readers)
        .await?;
        Ok(row.try_get(0)?)
    }

    pub(super) async fn events_after(
        &self,
        merchant: &MerchantId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(EVENTS_AFTER)
            .bind(merchant.as_str())
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.inner.readers)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredEvent {
                    sequence: row.try_get(0)?,
                    kind: row.try_get(1)?,
                    payment: serde_json::from_str(row.try_get::<&str, _>(2)?)?,
                    occurred_at: Timestamp::from_micros(row.try_get(3)?),
                })
            })
            .collect()
    }

    pub(super) fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.commits.clone()
    }

    pub(super) async fn count_open(
        &self,
        settled_before: Timestamp,
    ) -> Result<crate::store::OpenCounts, StoreError> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(CASE WHEN p.status <> 'requires_action' AND o.updated_at <= ? THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN p.status = 'requires_action' THEN 1 ELSE 0 END), 0) \
             FROM operations o JOIN payments p ON p.id = o.payment_id WHERE o.status IN ('pending', 'unknown')",
        )
        .bind(settled_before.micros())
        .fetch_one(&self.inner.readers)
        .await?;
        Ok(crate::store::OpenCounts {
            unresolved: row.try_get(0)?,
            checkouts: row.try_get(1)?,
        })
    }

    pub(super) async fn count_parked(&self) -> Result<i64, StoreError> {
        let row = sqlx::query(external::COUNT_PARKED)
            .fetch_one(&self.inner.readers)
            .await?;
        Ok(row.try_get(0)?)
    }

    pub(super) async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.inner.readers).await?;
        let (reply, answer) = oneshot::channel();
        self.inner
            .jobs
            .send(writer::Msg::Ping(reply))
            .await
            .map_err(|_| StoreError::Unavailable("the database writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the database writer has stopped".into()))?
    }

    pub(super) async fn close(&self) {
        let (reply, answer) = oneshot::channel();
        if self
            .inner
            .jobs
            .send(writer::Msg::Close(reply))
            .await
            .is_ok()
        {
            let _ = answer.await;
        }
        self.inner.readers.close().await;
    }
}
