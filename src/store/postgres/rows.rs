//! Row helpers shared by the jobs: load (optionally locking) and save a payment, append an event.

use super::jobs::JobError;
use crate::domain::{OperationId, Payment, PaymentId, Timestamp};
use crate::store::StoreError;
use sqlx::{PgConnection, Row};

pub(super) async fn load(
    conn: &mut PgConnection,
    id: PaymentId,
) -> Result<Option<(Payment, i64)>, JobError> {
    fetch(
        conn,
        "SELECT doc, version FROM payments WHERE id = $1::uuid",
        id,
    )
    .await
}

/// Reads the payment and locks its row until the transaction ends: every rule checked on it
/// holds until the write it guards commits, whichever replica runs the other requests.
pub(super) async fn load_for_update(
    conn: &mut PgConnection,
    id: PaymentId,
) -> Result<Option<(Payment, i64)>, JobError> {
    fetch(
        conn,
        "SELECT doc, version FROM payments WHERE id = $1::uuid FOR UPDATE",
        id,
    )
    .await
}

async fn fetch(
    conn: &mut PgConnection,
    sql: &'static str,
    id: PaymentId,
) -> Result<Option<(Payment, i64)>, JobError> {
    let Some(row) = sqlx::query(sql)
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let payment = serde_json::from_str(row.try_get::<&str, _>(0)?)?;
    Ok(Some((payment, row.try_get(1)?)))
}

/// Writes the payment document, its checked columns and the one operation that changed, and
/// returns the document. With `Some(version)` the update applies only to that version.
pub(super) async fn save(
    conn: &mut PgConnection,
    p: &Payment,
    version: Option<i64>,
    changed: OperationId,
) -> Result<String, JobError> {
    let doc = serde_json::to_string(p)?;
    let id = p.id.to_string();
    match version {
        None => {
            sqlx::query(
                "INSERT INTO payments (id, merchant_id, provider, merchant_reference, status, currency, amount, \
                 captured, refunded, provider_reference, doc, version, created_at, updated_at) \
                 VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, $13)",
            )
            .bind(&id)
            .bind(p.merchant.as_str())
            .bind(p.provider.as_str())
            .bind(&p.merchant_reference)
            .bind(p.status.as_str())
            .bind(p.amount.currency().code())
            .bind(p.amount.minor())
            .bind(p.captured)
            .bind(p.refunded)
            .bind(p.provider_reference.as_deref())
            .bind(&doc)
            .bind(p.created_at.micros())
            .bind(p.updated_at.micros())
            .execute(&mut *conn)
            .await?;
        }
        Some(v) => {
            let moved = sqlx::query(
                "UPDATE payments SET status = $1, captured = $2, refunded = $3, provider_reference = $4, doc = $5, \
                 version = version + 1, updated_at = $6 WHERE id = $7::uuid AND version = $8",
            )
            .bind(p.status.as_str())
            .bind(p.captured)
            .bind(p.refunded)
            .bind(p.provider_reference.as_deref())
            .bind(&doc)
            .bind(p.updated_at.micros())
            .bind(&id)
            .bind(v)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            if moved != 1 {
                return Err(StoreError::Internal(format!(
                    "payment {id} changed under its row lock"
                ))
                .into());
            }
        }
    }
    upsert_operation(conn, p, changed).await?;
    Ok(doc)
}

/// Writes one operation's row (insert, or update when its status moved).
pub(super) async fn upsert_operation(
    conn: &mut PgConnection,
    p: &Payment,
    changed: OperationId,
) -> Result<(), JobError> {
    let id = p.id.to_string();
    if let Some(op) = p.operation(changed) {
        sqlx::query(
            "INSERT INTO operations (id, payment_id, kind, status, amount, provider_key, created_at, updated_at) \
             VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at \
             WHERE operations.status <> excluded.status",
        )
        .bind(op.id.to_string())
        .bind(&id)
        .bind(op.kind.as_str())
        .bind(op.status.as_str())
        .bind(op.amount.minor())
        .bind(op.id.provider_key())
        .bind(op.created_at.micros())
        .bind(op.updated_at.micros())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Numbers the event from the counter row (held until COMMIT: appends are numbered in commit
/// order, and a rollback gives the number back) and inserts it.
pub(super) async fn append_event(
    conn: &mut PgConnection,
    p: &Payment,
    doc: &str,
    now: Timestamp,
) -> Result<(), JobError> {
    sqlx::query(
        "WITH next AS (UPDATE event_counter SET last = last + 1 RETURNING last) \
         INSERT INTO events (sequence, merchant_id, payment_id, type, payment, occurred_at) \
         SELECT last, $1, $2::uuid, $3, $4, $5 FROM next",
    )
    .bind(p.merchant.as_str())
    .bind(p.id.to_string())
    .bind(p.status.event_type())
    .bind(doc)
    .bind(now.micros())
    .execute(&mut *conn)
    .await?;
    Ok(())
}
