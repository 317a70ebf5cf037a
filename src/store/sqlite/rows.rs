//! Row helpers shared by the SQLite jobs: load and save a payment, write an operation's row,
//! append an event. In parallel with `postgres/rows.rs`.

use super::jobs::JobError;
use crate::domain::{OperationId, Payment, PaymentId, Timestamp};
use crate::store::StoreError;
use crate::store::references::operation_references;
use sqlx::{Row, SqliteConnection};

pub(super) async fn load(
    conn: &mut SqliteConnection,
    id: PaymentId,
) -> Result<(Payment, i64), JobError> {
    let row = sqlx::query("SELECT doc, version FROM payments WHERE id = ?")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(JobError::Clean(StoreError::NotFound))?;
    let payment = serde_json::from_str(row.try_get::<&str, _>(0)?)?;
    Ok((payment, row.try_get(1)?))
}

/// Writes the payment document, its indexed columns and the one operation that changed, and
/// returns the document so callers reuse it. With `Some(version)` the update applies only if
/// nobody changed the row since it was read.
pub(super) async fn save(
    conn: &mut SqliteConnection,
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
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
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
                "UPDATE payments SET status = ?, captured = ?, refunded = ?, provider_reference = ?, doc = ?, \
                 version = version + 1, updated_at = ? WHERE id = ? AND version = ?",
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
                return Err(JobError::Dirty(StoreError::Internal(format!(
                    "payment {id} changed under the writer"
                ))));
            }
        }
    }
    upsert_operation(conn, p, changed).await?;
    save_references(conn, p).await?;
    Ok(doc)
}

/// Records the payment's operation references (`operation_references`); those already there
/// are kept, so this writes only the ones the change added.
async fn save_references(conn: &mut SqliteConnection, p: &Payment) -> Result<(), JobError> {
    let refs = operation_references(p);
    if refs.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT OR IGNORE INTO operation_references (merchant_id, provider, reference, payment_id) \
         SELECT ?, ?, value, ? FROM json_each(?)",
    )
    .bind(p.merchant.as_str())
    .bind(p.provider.as_str())
    .bind(p.id.to_string())
    .bind(serde_json::to_string(&refs)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes one operation's row (the reconciler's index), inserting it or updating its status.
pub(super) async fn upsert_operation(
    conn: &mut SqliteConnection,
    p: &Payment,
    changed: OperationId,
) -> Result<(), JobError> {
    let id = p.id.to_string();
    if let Some(op) = p.operation(changed) {
        sqlx::query(
            "INSERT INTO operations (id, payment_id, kind, status, amount, provider_key, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
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

pub(super) async fn append_event(
    conn: &mut SqliteConnection,
    p: &Payment,
    doc: &str,
    now: Timestamp,
) -> Result<(), JobError> {
    sqlx::query("INSERT INTO events (merchant_id, payment_id, type, payment, occurred_at) VALUES (?, ?, ?, ?, ?)")
        .bind(p.merchant.as_str())
        .bind(p.id.to_string())
        .bind(p.status.event_type())
        .bind(doc)
        .bind(now.micros())
        .execute(&mut *conn)
        .await?;
    Ok(())
}
