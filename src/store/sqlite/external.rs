//! External operations on SQLite (see [`Write::ApplyExternalOperation`]): applied at once when
//! the ledger takes them, else parked with their event id in the same savepoint; parked ones are
//! tried again inside every later job that changes their payment. In parallel with
//! `postgres/external.rs`.
//!
//! [`Write::ApplyExternalOperation`]: crate::store::Write::ApplyExternalOperation

use super::jobs::{Event, JobError, load_for_event, settle};
use crate::domain::{ExternalOperation, Fit, Outcome, ParkReason, Payment, PaymentId, Timestamp};
use crate::store::parked::{Parked, Resolution, log_parked, log_resolved};
use crate::store::{WebhookWritten, Written};
use sqlx::{Row, SqliteConnection};

/// Records the event id and applies the operation, or parks it: a duplicate changes nothing.
pub(super) async fn apply(
    conn: &mut SqliteConnection,
    event: Event<'_>,
    payment_id: PaymentId,
    operation: &ExternalOperation,
    now: Timestamp,
) -> Result<Written, JobError> {
    let Some((mut payment, version)) = load_for_event(conn, &event, payment_id, now).await? else {
        return Ok(Written::Webhook(WebhookWritten::Duplicate));
    };
    let written = match payment.fit_external(operation, now) {
        Fit::Apply(op) => {
            let op_id = op.id;
            payment.operations.push(*op);
            let (payment, changed) =
                settle(conn, payment, version, op_id, &succeeded(operation), now).await?;
            if changed {
                WebhookWritten::Applied(Box::new(payment))
            } else {
                WebhookWritten::Ignored
            }
        }
        Fit::AlreadyRecorded | Fit::Moot => WebhookWritten::Ignored,
        Fit::Park(reason) => {
            // Logged by the caller once committed: the arrival of a parked event is news.
            park(conn, &event, &payment, operation, reason, now).await?;
            WebhookWritten::Parked(reason)
        }
    };
    Ok(Written::Webhook(written))
}

fn succeeded(operation: &ExternalOperation) -> Outcome {
    Outcome::Succeeded {
        provider_reference: Some(operation.provider_reference.clone()),
        expires_at: None,
    }
}

async fn park(
    conn: &mut SqliteConnection,
    event: &Event<'_>,
    payment: &Payment,
    operation: &ExternalOperation,
    reason: ParkReason,
    now: Timestamp,
) -> Result<(), JobError> {
    sqlx::query(
        "INSERT INTO parked_events (provider, event_id, merchant_id, payment_id, source, amount, \
         provider_reference, reason, needs_operator, parked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(event.provider.as_str())
    .bind(event.event_id)
    .bind(event.merchant.as_str())
    .bind(payment.id.to_string())
    .bind(operation.source.as_str())
    .bind(operation.amount.map(crate::domain::Money::minor))
    .bind(&operation.provider_reference)
    .bind(reason.as_str())
    .bind(reason.needs_operator())
    .bind(now.micros())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Tries the payment's parked events again, oldest first, right after a change of it in the
/// same job: whatever fits now is applied (each through the same settle as the API's), the rest
/// stays parked, with its reason brought up to date. `version` is the row's version now.
pub(super) async fn retry_parked(
    conn: &mut SqliteConnection,
    payment: &Payment,
    version: i64,
    now: Timestamp,
) -> Result<(), JobError> {
    let rows = sqlx::query(
        "SELECT provider, event_id, source, amount, provider_reference, reason FROM parked_events \
         WHERE payment_id = ? AND resolved_at IS NULL ORDER BY parked_at, event_id",
    )
    .bind(payment.id.to_string())
    .fetch_all(&mut *conn)
    .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let (mut payment, mut version) = (payment.clone(), version);
    for row in &rows {
        // A row that does not decode must not block the settle that got here: it stays
        // parked (and counted) for an operator.
        let parked = match Parked::decode(
            &payment,
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
            row.try_get(4)?,
            row.try_get(5)?,
        ) {
            Ok(parked) => parked,
            Err(e) => {
                tracing::error!(payment_id = %payment.id, error = %e, "parked provider event unreadable: left for an operator");
                continue;
            }
        };
        let how = match payment.fit_external(&parked.operation, now) {
            Fit::Apply(op) => {
                let op_id = op.id;
                payment.operations.push(*op);
                let outcome = succeeded(&parked.operation);
                let (settled, changed) =
                    settle(conn, payment, version, op_id, &outcome, now).await?;
                payment = settled;
                version += i64::from(changed);
                Resolution::Applied
            }
            Fit::AlreadyRecorded => Resolution::AlreadyRecorded,
            Fit::Moot => Resolution::Moot,
            Fit::Park(reason) => {
                if reason != parked.reason {
                    repark(conn, &parked, reason).await?;
                    log_parked(&payment, &parked.operation, reason);
                }
                continue;
            }
        };
        resolve(conn, &parked, how, now).await?;
        log_resolved(&payment, &parked, how);
    }
    Ok(())
}

async fn repark(
    conn: &mut SqliteConnection,
    parked: &Parked,
    reason: ParkReason,
) -> Result<(), JobError> {
    sqlx::query(
        "UPDATE parked_events SET reason = ?, needs_operator = ? \
         WHERE provider = ? AND event_id = ? AND merchant_id = ?",
    )
    .bind(reason.as_str())
    .bind(reason.needs_operator())
    .bind(parked.provider.as_str())
    .bind(&parked.event_id)
    .bind(parked.merchant.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn resolve(
    conn: &mut SqliteConnection,
    parked: &Parked,
    how: Resolution,
    now: Timestamp,
) -> Result<(), JobError> {
    sqlx::query(
        "UPDATE parked_events SET resolved_at = ?, resolution = ?, needs_operator = 0 \
         WHERE provider = ? AND event_id = ? AND merchant_id = ?",
    )
    .bind(now.micros())
    .bind(how.as_str())
    .bind(parked.provider.as_str())
    .bind(&parked.event_id)
    .bind(parked.merchant.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Unresolved parked events, for the `paygate_webhook_events_parked` gauge.
pub(super) const COUNT_PARKED: &str =
    "SELECT COUNT(*) FROM parked_events WHERE resolved_at IS NULL";
