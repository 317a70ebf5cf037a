//! The SQL of each write job, one function per job, in parallel with `sqlite/jobs.rs`.
//!
//! Each job runs in its own transaction (see `mod.rs`). Where SQLite relies on its single
//! writer, PostgreSQL relies on locks taken inside the transaction: the payment row is read
//! `FOR UPDATE` before any rule is checked, idempotency keys and webhook ids are claimed with
//! `INSERT … ON CONFLICT DO NOTHING` on their unique keys. Events are inserted unnumbered and
//! numbered after COMMIT (`numbering.rs`), so writers on different payments never wait for
//! each other.

use super::external;
use super::rows::{
    append_event, insert_claimed, load, load_for_update, save, save_settled, upsert_operation,
};
use crate::domain::{
    Abandoned, OperationId, Outcome, Payment, PaymentId, PaymentStatus, Timestamp,
};
use crate::store::{Claimed, KeyClaim, StoreError, WebhookWritten, Write, Written};
use sqlx::{PgConnection, Row};

/// Why a job failed. Raw SQL errors are kept apart so the caller can tell a retryable abort
/// (serialization failure, deadlock) from everything else.
pub(super) enum JobError {
    Sql(sqlx::Error),
    Store(StoreError),
}

impl From<sqlx::Error> for JobError {
    fn from(e: sqlx::Error) -> Self {
        Self::Sql(e)
    }
}

impl From<serde_json::Error> for JobError {
    fn from(e: serde_json::Error) -> Self {
        Self::Store(e.into())
    }
}

impl From<StoreError> for JobError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<JobError> for StoreError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::Sql(e) => e.into(),
            JobError::Store(e) => e,
        }
    }
}

/// Jobs whose only write is one statement (see `rows::insert_claimed`), so they need no
/// explicit transaction: the busiest one, OpenPayment.
pub(super) fn is_single_statement(job: &Write) -> bool {
    matches!(job, Write::OpenPayment { .. })
}

pub(super) async fn execute(conn: &mut PgConnection, job: &Write) -> Result<Written, JobError> {
    match job {
        Write::OpenPayment {
            claim,
            payment,
            lease_until,
        } => open_payment(conn, claim, payment, *lease_until)
            .await
            .map(Written::Claimed),
        Write::BeginOperation {
            claim,
            payment_id,
            kind,
            amount,
            final_capture,
            reason,
            trace_parent,
            caps,
            now,
            lease_until,
        } => {
            // Lock first: a second request on this payment waits here until the first commits,
            // then finds its key (InUse/Replay) exactly as SQLite's single writer would.
            let locked = load_for_update(conn, *payment_id).await?;
            let reclaimed = match existing_claim(conn, claim).await? {
                Some(Found::Claimed(found)) => return Ok(Written::Claimed(found)),
                Some(Found::Released { operation, .. }) => Some(operation),
                None => None,
            };
            let Some((mut payment, version)) = locked else {
                return Err(StoreError::NotFound.into());
            };
            if payment.merchant != claim.merchant {
                return Err(StoreError::NotFound.into());
            }
            let mut op = payment
                .begin(*kind, *amount, *final_capture, reason, *caps, *now)
                .map_err(StoreError::from)?;
            if let Some(id) = reclaimed {
                take_released(conn, claim).await?;
                op.id = id;
            }
            op.trace_parent.clone_from(trace_parent);
            let op_id = op.id;
            payment.operations.push(op);
            payment.updated_at = *now;
            if !insert_claim(conn, claim, *payment_id, op_id, *now).await? {
                // The same key was claimed meanwhile for another payment (whose row we do not
                // hold): answer as that claim says. Nothing was written yet, so the commit
                // keeps nothing of this attempt.
                return match existing_claim(conn, claim).await? {
                    Some(Found::Claimed(found)) => Ok(Written::Claimed(found)),
                    _ => Err(StoreError::Internal("claimed key vanished".into()).into()),
                };
            }
            save(conn, &payment, version, op_id).await?;
            lease(conn, op_id, *lease_until).await?;
            Ok(Written::Claimed(Claimed::Started {
                payment: Box::new(payment),
                operation: op_id,
            }))
        }
        Write::Settle {
            payment_id,
            operation,
            outcome,
            now,
        } => {
            let (payment, version) = load_for_update(conn, *payment_id)
                .await?
                .ok_or(StoreError::NotFound)?;
            let (payment, _) =
                settle_then_parked(conn, payment, version, *operation, outcome, *now).await?;
            Ok(Written::Settled(Box::new(payment)))
        }
        Write::Abandon {
            payment_id,
            operation,
            now,
        } => abandon(conn, *payment_id, *operation, *now)
            .await
            .map(Written::Abandoned),
        Write::ApplyWebhook {
            provider,
            event_id,
            merchant,
            payment_id,
            operation,
            outcome,
            now,
        } => {
            let event = Event {
                provider: *provider,
                event_id,
                merchant,
            };
            let how = Apply {
                reopen: false,
                capture_pending: false,
            };
            apply_event(conn, event, *payment_id, *operation, outcome, how, *now).await
        }
        Write::ApplyCallback {
            provider,
            event_id,
            merchant,
            payment_id,
            operation,
            outcome,
            reopen_declined,
            capture_pending,
            now,
        } => {
            let event = Event {
                provider: *provider,
                event_id,
                merchant,
            };
            let success = matches!(outcome, Outcome::Succeeded { .. });
            let how = Apply {
                reopen: *reopen_declined && success,
                capture_pending: *capture_pending && success,
            };
            apply_event(conn, event, *payment_id, *operation, outcome, how, *now).await
        }
        Write::ApplyExternalOperation {
            provider,
            event_id,
            merchant,
            payment_id,
            operation,
            now,
        } => {
            let event = Event {
                provider: *provider,
                event_id,
                merchant,
            };
            external::apply(conn, event, *payment_id, operation, *now).await
        }
        Write::RecordWebhook {
            provider,
            event_id,
            merchant,
            now,
        } => Ok(Written::Webhook(
            if record_event(conn, *provider, event_id, merchant, *now).await? {
                WebhookWritten::Ignored
            } else {
                WebhookWritten::Duplicate
            },
        )),
        Write::Defer {
            operation,
            attempts,
            next_attempt_at,
        } => {
            sqlx::query(
                "UPDATE operations SET attempts = $1, next_attempt_at = $2 WHERE id = $3::uuid",
            )
            .bind(attempts)
            .bind(next_attempt_at.micros())
            .bind(operation.to_string())
            .execute(&mut *conn)
            .await?;
            Ok(Written::Deferred)
        }
        Write::ClaimDue {
            settled_before,
            now,
            lease_until,
            limit,
        } => claim_due(conn, *settled_before, *now, *lease_until, *limit).await,
        Write::ReapKeys { cutoff } => {
            // Safe with several replicas reaping at once: a row deleted by one is skipped by
            // the other (it re-checks after the first commits), and each row counts once.
            let done = sqlx::query(
                "DELETE FROM idempotency_keys WHERE created_at < $1 AND (released \
                 OR (response IS NOT NULL AND NOT EXISTS (SELECT 1 FROM operations o \
                 WHERE o.id = idempotency_keys.operation_id AND o.status IN ('pending', 'unknown'))))",
            )
            .bind(cutoff.micros())
            .execute(&mut *conn)
            .await?;
            Ok(Written::Reaped(done.rows_affected()))
        }
        Write::PruneEvents { cutoff } => {
            // Numbered events only: one still waiting for its number is not in the log yet,
            // and deleting it would make the numbering fail rather than leave a hole.
            // Nor any a webhook cursor has not passed (see `Write::PruneEvents`).
            let done = sqlx::query(
                "WITH gone AS (DELETE FROM event_numbers WHERE occurred_at < $1 AND sequence <= \
                 COALESCE((SELECT MIN(last_sequence) FROM webhook_cursors), sequence) \
                 RETURNING event_id) \
                 DELETE FROM events WHERE id IN (SELECT event_id FROM gone)",
            )
            .bind(cutoff.micros())
            .execute(&mut *conn)
            .await?;
            Ok(Written::Reaped(done.rows_affected()))
        }
        Write::Delivery(job) => super::deliveries::execute(conn, job)
            .await
            .map(Written::Delivery),
    }
}

/// Inserts the event's dedupe row; `false` when it was there already (a duplicate). A
/// concurrent delivery of the same id waits on the unique key until the first commits.
pub(super) async fn record_event(
    conn: &mut PgConnection,
    provider: crate::domain::ProviderKind,
    event_id: &str,
    merchant: &crate::domain::MerchantId,
    now: Timestamp,
) -> Result<bool, JobError> {
    let inserted = sqlx::query(
        "INSERT INTO webhook_events (provider, event_id, merchant_id, received_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(provider.as_str())
    .bind(event_id)
    .bind(merchant.as_str())
    .bind(now.micros())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Who sent a provider event, and its dedupe id.
/// The merchant's payment, locked, once the event's id is recorded: `None` for a duplicate
/// (nothing written). Another merchant's payment is not found, before anything is written.
pub(super) async fn lock_for_event(
    conn: &mut PgConnection,
    event: &Event<'_>,
    payment_id: PaymentId,
    now: Timestamp,
) -> Result<Option<(Payment, i64)>, JobError> {
    let (payment, version) = load_for_update(conn, payment_id)
        .await?
        .ok_or(StoreError::NotFound)?;
    if payment.merchant != *event.merchant {
        return Err(StoreError::NotFound.into());
    }
    if !record_event(conn, event.provider, event.event_id, event.merchant, now).await? {
        return Ok(None);
    }
    Ok(Some((payment, version)))
}

pub(super) struct Event<'a> {
    pub(super) provider: crate::domain::ProviderKind,
    pub(super) event_id: &'a str,
    pub(super) merchant: &'a crate::domain::MerchantId,
}

/// How an event's success is applied (see [`Write::ApplyCallback`]).
#[derive(Clone, Copy)]
struct Apply {
    reopen: bool,
    capture_pending: bool,
}

/// Records a verified provider event and, if it is new, settles the operation it reports, as
/// `sqlite/jobs.rs` does. The payment row is locked first; a concurrent delivery of the same
/// event waits on the unique key until the first commits, then inserts nothing: a duplicate.
async fn apply_event(
    conn: &mut PgConnection,
    event: Event<'_>,
    payment_id: PaymentId,
    operation: OperationId,
    outcome: &Outcome,
    how: Apply,
    now: Timestamp,
) -> Result<Written, JobError> {
    let Some((mut payment, version)) = lock_for_event(conn, &event, payment_id, now).await? else {
        return Ok(Written::Webhook(WebhookWritten::Duplicate));
    };
    if how.reopen {
        payment.reopen_declined_authorization(operation, now);
    }
    if how.capture_pending
        && let Outcome::Succeeded {
            provider_reference, ..
        } = outcome
    {
        let Some(capture) =
            payment.authorize_with_pending_capture(operation, provider_reference.clone(), now)
        else {
            return Ok(Written::Webhook(WebhookWritten::Ignored));
        };
        let doc = save(conn, &payment, version, operation).await?;
        upsert_operation(conn, &payment, capture).await?;
        append_event(conn, &payment, &doc, now).await?;
        return Ok(Written::Webhook(WebhookWritten::Applied(Box::new(payment))));
    }
    let (payment, changed) =
        settle_then_parked(conn, payment, version, operation, outcome, now).await?;
    Ok(Written::Webhook(if changed {
        WebhookWritten::Applied(Box::new(payment))
    } else {
        WebhookWritten::Ignored
    }))
}

/// Hands out due operations to one replica. `SKIP LOCKED` passes over rows another replica is
/// claiming (or settling) right now, and pushing `next_attempt_at` to the lease in the same
/// statement hides them from every later claim until the lease ends or the reconciler
/// settles or defers them.
async fn claim_due(
    conn: &mut PgConnection,
    settled_before: Timestamp,
    now: Timestamp,
    lease_until: Timestamp,
    limit: u32,
) -> Result<Written, JobError> {
    let rows = sqlx::query(
        "WITH due AS ( \
            SELECT id FROM operations \
            WHERE status IN ('pending', 'unknown') AND next_attempt_at <= $1 AND updated_at <= $2 \
            ORDER BY next_attempt_at LIMIT $3 \
            FOR UPDATE SKIP LOCKED) \
         UPDATE operations o SET next_attempt_at = $4 \
         FROM due, payments p \
         WHERE o.id = due.id AND p.id = o.payment_id \
         RETURNING o.id::text, o.payment_id::text, p.merchant_id, o.attempts",
    )
    .bind(now.micros())
    .bind(settled_before.micros())
    .bind(i64::from(limit))
    .bind(lease_until.micros())
    .fetch_all(&mut *conn)
    .await?;
    let due = rows
        .iter()
        .map(super::reads::due_operation)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Written::Due(due))
}

/// What [`settle`] did.
#[derive(Debug, Clone, Copy)]
pub(super) struct Settled {
    /// The payment changed; its row is at `version + 1` now.
    pub(super) changed: bool,
    /// Parked events of the payment wait to be tried again (asked in the settle's own
    /// statement, so the common case, none, costs no round trip).
    pub(super) parked: bool,
}

/// [`settle`], then the payment's parked events, which the change may let in, in the same
/// transaction. The answer is the payment as its own operation left it (the idempotent
/// response is that too); what a parked event adds is its own change, with its own event.
async fn settle_then_parked(
    conn: &mut PgConnection,
    payment: Payment,
    version: i64,
    operation: OperationId,
    outcome: &Outcome,
    now: Timestamp,
) -> Result<(Payment, bool), JobError> {
    let (payment, done) = settle(conn, payment, version, operation, outcome, now).await?;
    if done.changed && done.parked {
        external::retry_parked(conn, &payment, version + 1, now).await?;
    }
    Ok((payment, done.changed))
}

/// Applies an outcome to a locked payment, records the idempotent response, then appends the
/// event.
pub(super) async fn settle(
    conn: &mut PgConnection,
    mut payment: Payment,
    version: i64,
    operation: OperationId,
    outcome: &Outcome,
    now: Timestamp,
) -> Result<(Payment, Settled), JobError> {
    let before = payment.status;
    if !payment.settle(operation, outcome.clone(), now) {
        // Nothing moved (a repeat of an outcome already applied): only the key's answer.
        let doc = serde_json::to_string(&payment)?;
        sqlx::query(
            "UPDATE idempotency_keys SET response = $1 WHERE operation_id = $2::uuid AND response IS NULL",
        )
        .bind(&doc)
        .bind(operation.to_string())
        .execute(&mut *conn)
        .await?;
        let unchanged = Settled {
            changed: false,
            parked: false,
        };
        return Ok((payment, unchanged));
    }
    let succeeded = payment
        .operation(operation)
        .is_some_and(|o| o.status == crate::domain::OperationStatus::Succeeded);
    let event = payment.status != before || succeeded;
    let parked = save_settled(conn, &payment, version, operation, event, now).await?;
    Ok((
        payment,
        Settled {
            changed: true,
            parked,
        },
    ))
}

/// [`Write::Abandon`], as in SQLite: the operation (or the never-answered payment) is deleted
/// and its key kept as released. No event was ever written for it.
async fn abandon(
    conn: &mut PgConnection,
    payment_id: PaymentId,
    operation: OperationId,
    now: Timestamp,
) -> Result<Abandoned, JobError> {
    let (mut payment, version) = load_for_update(conn, payment_id)
        .await?
        .ok_or(StoreError::NotFound)?;
    let done = payment.abandon(operation, now);
    match done {
        Abandoned::NotOpen => return Ok(done),
        Abandoned::WholePayment => {
            sqlx::query("DELETE FROM operations WHERE payment_id = $1::uuid")
                .bind(payment_id.to_string())
                .execute(&mut *conn)
                .await?;
            sqlx::query("DELETE FROM payments WHERE id = $1::uuid")
                .bind(payment_id.to_string())
                .execute(&mut *conn)
                .await?;
        }
        Abandoned::Operation => {
            sqlx::query("DELETE FROM operations WHERE id = $1::uuid")
                .bind(operation.to_string())
                .execute(&mut *conn)
                .await?;
            let moved = sqlx::query(
                "UPDATE payments SET status = $1, captured = $2, refunded = $3, doc = $4, \
                 version = version + 1, updated_at = $5 WHERE id = $6::uuid AND version = $7",
            )
            .bind(payment.status.as_str())
            .bind(payment.captured)
            .bind(payment.refunded)
            .bind(serde_json::to_string(&payment)?)
            .bind(payment.updated_at.micros())
            .bind(payment_id.to_string())
            .bind(version)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            if moved != 1 {
                return Err(StoreError::Internal(format!(
                    "payment {payment_id} changed under its row lock"
                ))
                .into());
            }
            // The amount it held is free again: a parked event may fit now.
            external::retry_parked(conn, &payment, version + 1, now).await?;
        }
    }
    sqlx::query("UPDATE idempotency_keys SET released = TRUE WHERE operation_id = $1::uuid")
        .bind(operation.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(done)
}

/// Hides a just-begun operation from reconcilers until its live call's deadline has passed.
async fn lease(
    conn: &mut PgConnection,
    operation: OperationId,
    until: Timestamp,
) -> Result<(), JobError> {
    sqlx::query("UPDATE operations SET next_attempt_at = $1 WHERE id = $2::uuid")
        .bind(until.micros())
        .bind(operation.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Deletes a released claim of this key, so that the caller's retry claims it anew.
async fn take_released(conn: &mut PgConnection, claim: &KeyClaim) -> Result<(), JobError> {
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE merchant_id = $1 AND method = $2 AND key = $3 AND released",
    )
    .bind(claim.merchant.as_str())
    .bind(claim.method)
    .bind(claim.key.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Runs without a transaction (one statement) in the common case. Taking over a released key
/// is three statements: if another request with the same key claims it in between, that one
/// wins and this one answers as its claim says, exactly as for any concurrent claim.
async fn open_payment(
    conn: &mut PgConnection,
    claim: &KeyClaim,
    payment: &Payment,
    lease_until: Timestamp,
) -> Result<Claimed, JobError> {
    let mut payment = payment.clone();
    let Some(auth) = payment.operations.first().cloned() else {
        return Err(StoreError::Internal(
            "a new payment must carry its authorize operation".into(),
        )
        .into());
    };
    let mut auth_id = auth.id;
    if !insert_claimed(conn, claim, &payment, &auth, lease_until).await? {
        let vanished = || StoreError::Internal("claimed key vanished".into());
        let (payment_id, operation) = match existing_claim(conn, claim).await? {
            Some(Found::Claimed(found)) => return Ok(found),
            Some(Found::Released { payment, operation }) => (payment, operation),
            None => return Err(vanished().into()),
        };
        // The caller's retry of a call that was never sent: the same ids again.
        take_released(conn, claim).await?;
        payment.id = payment_id;
        if let Some(op) = payment.operations.first_mut() {
            op.id = operation;
        }
        auth_id = operation;
        let auth = payment.operations.first().cloned().ok_or_else(vanished)?;
        if !insert_claimed(conn, claim, &payment, &auth, lease_until).await? {
            return match existing_claim(conn, claim).await? {
                Some(Found::Claimed(found)) => Ok(found),
                _ => Err(vanished().into()),
            };
        }
    }
    Ok(Claimed::Started {
        payment: Box::new(payment),
        operation: auth_id,
    })
}

/// What a key's row says: a claim to answer with, or a released claim to take over.
enum Found {
    Claimed(Claimed),
    Released {
        payment: PaymentId,
        operation: OperationId,
    },
}

/// Looks the key up (same rules as SQLite): a saved response whose payment was still open
/// (PENDING, REQUIRES_ACTION) is replayed as the payment stands now.
async fn existing_claim(
    conn: &mut PgConnection,
    claim: &KeyClaim,
) -> Result<Option<Found>, JobError> {
    let row = sqlx::query(
        "SELECT fingerprint, response, payment_id::text, operation_id::text, released \
         FROM idempotency_keys WHERE merchant_id = $1 AND method = $2 AND key = $3",
    )
    .bind(claim.merchant.as_str())
    .bind(claim.method)
    .bind(claim.key.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let fingerprint: Vec<u8> = row.try_get(0)?;
    if fingerprint.as_slice() != claim.fingerprint.as_slice() {
        return Ok(Some(Found::Claimed(Claimed::Reused)));
    }
    if row.try_get::<bool, _>(4)? {
        let bad = || StoreError::Internal("corrupt idempotency key row".into());
        return Ok(Some(Found::Released {
            payment: PaymentId::parse(row.try_get(2)?).map_err(|_| bad())?,
            operation: OperationId::parse(row.try_get(3)?).map_err(|_| bad())?,
        }));
    }
    let Some(response) = row.try_get::<Option<String>, _>(1)? else {
        return Ok(Some(Found::Claimed(Claimed::InUse)));
    };
    let saved: Payment = serde_json::from_str(&response)?;
    if matches!(
        saved.status,
        PaymentStatus::Pending | PaymentStatus::RequiresAction
    ) {
        let (current, _) = load(conn, saved.id).await?.ok_or(StoreError::NotFound)?;
        return Ok(Some(Found::Claimed(Claimed::Replay(Box::new(current)))));
    }
    Ok(Some(Found::Claimed(Claimed::Replay(Box::new(saved)))))
}

/// Claims the key; `false` if someone holds it. Never check-then-insert: the unique key decides.
async fn insert_claim(
    conn: &mut PgConnection,
    claim: &KeyClaim,
    payment: PaymentId,
    operation: OperationId,
    now: Timestamp,
) -> Result<bool, JobError> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (merchant_id, method, key, fingerprint, payment_id, operation_id, created_at) \
         VALUES ($1, $2, $3, $4, $5::uuid, $6::uuid, $7) ON CONFLICT DO NOTHING",
    )
    .bind(claim.merchant.as_str())
    .bind(claim.method)
    .bind(claim.key.as_str())
    .bind(claim.fingerprint.as_slice())
    .bind(payment.to_string())
    .bind(operation.to_string())
    .bind(now.micros())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}
