//! The SQL of webhook deliveries on SQLite (see `store/deliveries.rs`). The jobs run on the
//! single writer, so a claim's select and its lease are one step, as `claim_due` is.

use super::SqliteStore;
use super::jobs::JobError;
use crate::domain::{MerchantId, Timestamp};
use crate::store::deliveries::{ROW_COLUMNS, after_attempt, delivery_row};
use crate::store::{
    AttemptRecord, AttemptRow, ClaimedDelivery, DeliveryFilter, DeliveryJob, DeliveryRow,
    DeliveryWritten, StoreError,
};
use sqlx::{Row, SqliteConnection};

/// Pending deliveries due, per merchant (`paygate_webhook_backlog`). `INDEXED BY` the partial
/// index of pending rows: left to itself SQLite walks `webhook_deliveries_by_merchant` for the
/// GROUP BY, every row of the log (0.11 s at 142,000 deliveries, 25 times the indexed read), on
/// the dispatcher's loop every 5 s.
pub(super) const BACKLOG: &str = "SELECT merchant_id, COUNT(*) \
     FROM webhook_deliveries INDEXED BY webhook_deliveries_due \
     WHERE state = 'pending' AND next_attempt_at <= ? GROUP BY merchant_id";

pub(super) async fn execute(
    conn: &mut SqliteConnection,
    job: &DeliveryJob,
) -> Result<DeliveryWritten, JobError> {
    match job {
        DeliveryJob::InitCursor { merchant } => {
            sqlx::query(
                "INSERT INTO webhook_cursors (merchant_id, last_sequence) \
                 SELECT ?1, COALESCE(MAX(sequence), 0) FROM events WHERE merchant_id = ?1 \
                 ON CONFLICT DO NOTHING",
            )
            .bind(merchant.as_str())
            .execute(&mut *conn)
            .await?;
            Ok(DeliveryWritten::Cursor(cursor(conn, merchant).await?))
        }
        DeliveryJob::FanOut {
            merchant,
            from,
            to,
            deliveries,
            now,
        } => {
            let moved = sqlx::query(
                "UPDATE webhook_cursors SET last_sequence = ? \
                 WHERE merchant_id = ? AND last_sequence = ?",
            )
            .bind(to)
            .bind(merchant.as_str())
            .bind(from)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            if moved == 0 {
                let cursor = cursor(conn, merchant).await?;
                return Ok(DeliveryWritten::FannedOut {
                    moved: false,
                    cursor,
                    inserted: 0,
                });
            }
            let mut inserted = 0;
            for d in deliveries {
                inserted += sqlx::query(
                    "INSERT INTO webhook_deliveries (merchant_id, endpoint_id, sequence, \
                     event_type, payment_id, webhook_id, body, state, next_attempt_at, created_at, \
                     trace_parent) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT DO NOTHING",
                )
                .bind(merchant.as_str())
                .bind(&d.endpoint_id)
                .bind(d.sequence)
                .bind(&d.event_type)
                .bind(&d.payment_id)
                .bind(&d.webhook_id)
                .bind(&d.body)
                .bind(d.next_attempt_at.micros())
                .bind(now.micros())
                .bind(&d.trace_parent)
                .execute(&mut *conn)
                .await?
                .rows_affected();
            }
            Ok(DeliveryWritten::FannedOut {
                moved: true,
                cursor: *to,
                inserted,
            })
        }
        DeliveryJob::Claim {
            now,
            lease_until,
            endpoints,
        } => {
            let mut claimed = Vec::new();
            for (endpoint, limit) in endpoints {
                let rows = sqlx::query(
                    "UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id IN ( \
                       SELECT id FROM webhook_deliveries \
                       WHERE endpoint_id = ? AND state = 'pending' AND next_attempt_at <= ? \
                       ORDER BY next_attempt_at LIMIT ?) \
                     RETURNING id, merchant_id, endpoint_id, sequence, webhook_id, body, round_attempts, \
                     trace_parent",
                )
                .bind(lease_until.micros())
                .bind(endpoint)
                .bind(now.micros())
                .bind(i64::from(*limit))
                .fetch_all(&mut *conn)
                .await?;
                for row in &rows {
                    claimed.push(claimed_row(row).map_err(JobError::Dirty)?);
                }
            }
            Ok(DeliveryWritten::Claimed(claimed))
        }
        DeliveryJob::Record(record) => {
            self::record(conn, record).await?;
            Ok(DeliveryWritten::Recorded)
        }
        DeliveryJob::Redeliver { id, now } => {
            let done = sqlx::query(
                "UPDATE webhook_deliveries SET state = 'pending', round_attempts = 0, \
                 next_attempt_at = ? WHERE id = ?",
            )
            .bind(now.micros())
            .bind(id)
            .execute(&mut *conn)
            .await?;
            Ok(DeliveryWritten::Count(done.rows_affected()))
        }
        DeliveryJob::RedeliverFailedSince {
            since,
            merchant,
            now,
        } => {
            let done = sqlx::query(
                "UPDATE webhook_deliveries SET state = 'pending', round_attempts = 0, \
                 next_attempt_at = ? \
                 WHERE state = 'failed' AND last_attempt_at >= ? AND (? IS NULL OR merchant_id = ?)",
            )
            .bind(now.micros())
            .bind(since.micros())
            .bind(merchant.as_ref().map(MerchantId::as_str))
            .bind(merchant.as_ref().map(MerchantId::as_str))
            .execute(&mut *conn)
            .await?;
            Ok(DeliveryWritten::Count(done.rows_affected()))
        }
        DeliveryJob::Prune { cutoff } => {
            let done = sqlx::query(
                "DELETE FROM webhook_deliveries WHERE created_at < ? AND state <> 'pending'",
            )
            .bind(cutoff.micros())
            .execute(&mut *conn)
            .await?;
            Ok(DeliveryWritten::Count(done.rows_affected()))
        }
    }
}

async fn cursor(conn: &mut SqliteConnection, merchant: &MerchantId) -> Result<i64, JobError> {
    let row = sqlx::query("SELECT last_sequence FROM webhook_cursors WHERE merchant_id = ?")
        .bind(merchant.as_str())
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get(0)?)
}

fn claimed_row(row: &sqlx::sqlite::SqliteRow) -> Result<ClaimedDelivery, StoreError> {
    let merchant: String = row.try_get(1)?;
    Ok(ClaimedDelivery {
        id: row.try_get(0)?,
        merchant: MerchantId::parse(&merchant)
            .map_err(|_| StoreError::Internal("corrupt merchant_id in deliveries".into()))?,
        endpoint_id: row.try_get(2)?,
        sequence: row.try_get(3)?,
        webhook_id: row.try_get(4)?,
        body: row.try_get(5)?,
        round_attempts: row.try_get(6)?,
        trace_parent: row.try_get(7)?,
    })
}

/// The attempt row and the delivery's new state, in one job.
async fn record(conn: &mut SqliteConnection, r: &AttemptRecord) -> Result<(), JobError> {
    let (state, next) = after_attempt(r.result);
    let row = sqlx::query(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, round_attempts = ?, \
         state = CASE WHEN state = 'delivered' THEN 'delivered' ELSE ? END, \
         next_attempt_at = CASE WHEN state = 'delivered' THEN next_attempt_at ELSE COALESCE(?, next_attempt_at) END, \
         last_attempt_at = ?, last_status = ?, last_error = ? \
         WHERE id = ? RETURNING attempts",
    )
    .bind(r.round_attempts)
    .bind(state.as_str())
    .bind(next.map(Timestamp::micros))
    .bind(r.at.micros())
    .bind(r.status.map(i64::from))
    .bind(r.error.as_deref())
    .bind(r.delivery_id)
    .fetch_optional(&mut *conn)
    .await?;
    // Pruned or gone meanwhile: nothing to record it against.
    let Some(row) = row else { return Ok(()) };
    let attempt_no: i64 = row.try_get(0)?;
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, attempt_no, at, status, error, latency_ms) \
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(r.delivery_id)
    .bind(attempt_no)
    .bind(r.at.micros())
    .bind(r.status.map(i64::from))
    .bind(r.error.as_deref())
    .bind(r.latency_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl SqliteStore {
    pub(in crate::store) async fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        let mut sql = sqlx::QueryBuilder::new(format!(
            "SELECT {ROW_COLUMNS} FROM webhook_deliveries WHERE 1 = 1"
        ));
        if let Some(m) = &filter.merchant {
            sql.push(" AND merchant_id = ")
                .push_bind(m.as_str().to_owned());
        }
        if let Some(e) = &filter.endpoint {
            sql.push(" AND endpoint_id = ").push_bind(e.clone());
        }
        if let Some(s) = filter.state {
            sql.push(" AND state = ").push_bind(s.as_str());
        }
        if let Some(p) = &filter.payment {
            sql.push(" AND payment_id = ").push_bind(p.clone());
        }
        sql.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(filter.limit));
        let rows = sql.build().fetch_all(&self.inner.readers).await?;
        rows.iter().map(delivery_row).collect()
    }

    pub(in crate::store) async fn delivery_attempts(
        &self,
        id: i64,
    ) -> Result<Vec<AttemptRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT attempt_no, at, status, error, latency_ms FROM webhook_attempts \
             WHERE delivery_id = ? ORDER BY attempt_no",
        )
        .bind(id)
        .fetch_all(&self.inner.readers)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AttemptRow {
                    attempt_no: row.try_get(0)?,
                    at: Timestamp::from_micros(row.try_get(1)?),
                    status: row.try_get(2)?,
                    error: row.try_get(3)?,
                    latency_ms: row.try_get(4)?,
                })
            })
            .collect()
    }

    pub(in crate::store) async fn delivery_backlog(
        &self,
        now: Timestamp,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(BACKLOG)
            .bind(now.micros())
            .fetch_all(&self.inner.readers)
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect()
    }
}
