//! The SQL of each write job. Runs on the writer connection inside a savepoint, so every
//! read here sees the latest committed-or-batched state and nothing else writes meanwhile.

use super::external;
use super::rows::{append_event, load, save, upsert_operation};
use crate::domain::{
    Abandoned, MerchantId, OperationId, Outcome, Payment, PaymentId, PaymentStatus, Timestamp,
};
use crate::store::{Claimed, DueOperation, KeyClaim, StoreError, WebhookWritten, Write, Written};
use sqlx::{Row, SqliteConnection};

/// Why a job failed, and whether it wrote anything first.
pub(super) enum JobError {
    /// Refused before any write (a domain rule, an unknown payment): the batch stays valid.
    Clean(StoreError),
    /// Failed after (or while) writing: the batch must be rolled back and its jobs re-run alone.
    Dirty(StoreError),
}

impl From<sqlx::Error> for JobError {
    fn from(e: sqlx::Error) -> Self {
        Self::Dirty(e.into())
    }
}

impl From<serde_json::Error> for JobError {
    fn from(e: serde_json::Error) -> Self {
        Self::Dirty(e.into())
    }
}

/// Runs one job. Every refusal is decided before the job's first write, so most batches
/// need no savepoints (each would cost two more round trips to SQLite's thread).
pub(super) async fn execute(conn: &mut SqliteConnection, job: &Write) -> Result<Written, JobError> {
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
            let reclaimed = match existing_claim(conn, claim).await? {
                Some(Found::Claimed(found)) => return Ok(Written::Claimed(found)),
                Some(Found::Released { operation, .. }) => Some(operation),
                None => None,
            };
            let (mut payment, version) = load(conn, *payment_id).await?;
            if payment.merchant != claim.merchant {
                return Err(JobError::Clean(StoreError::NotFound));
            }
            let mut op = payment
                .begin(*kind, *amount, *final_capture, reason, *caps, *now)
                .map_err(|r| JobError::Clean(r.into()))?;
            if let Some(id) = reclaimed {
                take_released(conn, claim).await?;
                op.id = id;
            }
            op.trace_parent.clone_from(trace_parent);
            let op_id = op.id;
            payment.operations.push(op);
            payment.updated_at = *now;
            if !insert_claim(conn, claim, *payment_id, op_id, *now).await? {
                return Err(JobError::Dirty(StoreError::Internal(
                    "idempotency key appeared mid-job".into(),
                )));
            }
            save(conn, &payment, Some(version), op_id).await?;
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
            let (payment, version) = load(conn, *payment_id).await?;
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
        } => {
            let event = Event {
                provider: *provider,
                event_id,
                merchant,
            };
            Ok(Written::Webhook(
                if record_event(conn, &event, *now).await? {
                    WebhookWritten::Ignored
                } else {
                    WebhookWritten::Duplicate
                },
            ))
        }
        Write::Defer {
            operation,
            attempts,
            next_attempt_at,
        } => {
            sqlx::query("UPDATE operations SET attempts = ?, next_attempt_at = ? WHERE id = ?")
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
            let done = sqlx::query(
                "DELETE FROM idempotency_keys WHERE created_at < ? AND (released = 1 \
                 OR (response IS NOT NULL AND NOT EXISTS (SELECT 1 FROM operations o \
                 WHERE o.id = idempotency_keys.operation_id AND o.status IN ('pending', 'unknown'))))",
            )
            .bind(cutoff.micros())
            .execute(&mut *conn)
            .await?;
            Ok(Written::Reaped(done.rows_affected()))
        }
        Write::PruneEvents { cutoff } => {
            let done = sqlx::query(
                "DELETE FROM events WHERE occurred_at < ? AND sequence <= \
                 COALESCE((SELECT MIN(last_sequence) FROM webhook_cursors), sequence)",
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

/// Who sent a provider event, and its dedupe id.
pub(super) struct Event<'a> {
    pub(super) provider: crate::domain::ProviderKind,
    pub(super) event_id: &'a str,
    pub(super) merchant: &'a crate::domain::MerchantId,
}

/// The merchant's payment once the event's id is recorded: `None` for a duplicate (nothing
/// written). Another merchant's payment is not found, before anything is written.
pub(super) async fn load_for_event(
    conn: &mut SqliteConnection,
    event: &Event<'_>,
    payment_id: PaymentId,
    now: Timestamp,
) -> Result<Option<(Payment, i64)>, JobError> {
    let (payment, version) = load(conn, payment_id).await?;
    if payment.merchant != *event.merchant {
        return Err(JobError::Clean(StoreError::NotFound));
    }
    if !record_event(conn, event, now).await? {
        return Ok(None);
    }
    Ok(Some((payment, version)))
}

/// Inserts the event's dedupe row; `false` when it was there already (a duplicate).
pub(super) async fn record_event(
    conn: &mut SqliteConnection,
    event: &Event<'_>,
    now: Timestamp,
) -> Result<bool, JobError> {
    let inserted = sqlx::query(
        "INSERT INTO webhook_events (provider, event_id, merchant_id, received_at) \
         VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(event.provider.as_str())
    .bind(event.event_id)
    .bind(event.merchant.as_str())
    .bind(now.micros())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// How an event's success is applied (see [`Write::ApplyCallback`]).
#[derive(Clone, Copy)]
struct Apply {
    reopen: bool,
    capture_pending: bool,
}

/// Records a verified provider event and, if it is new, settles the operation it reports.
/// Refusals first (nothing written yet), then the dedupe row, then the change, so a duplicate
/// changes nothing. `reopen` lets a success supersede a declined authorization first.
async fn apply_event(
    conn: &mut SqliteConnection,
    event: Event<'_>,
    payment_id: PaymentId,
    operation: OperationId,
    outcome: &Outcome,
    how: Apply,
    now: Timestamp,
) -> Result<Written, JobError> {
    let Some((mut payment, version)) = load_for_event(conn, &event, payment_id, now).await? else {
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
        let doc = save(conn, &payment, Some(version), operation).await?;
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

/// Hands out due operations and moves each one's `next_attempt_at` to the lease. The single
/// writer makes the select and the updates one step, which is what PostgreSQL gets from
/// `FOR UPDATE SKIP LOCKED`: nobody else is handed these operations until the lease ends.
async fn claim_due(
    conn: &mut SqliteConnection,
    settled_before: Timestamp,
    now: Timestamp,
    lease_until: Timestamp,
    limit: u32,
) -> Result<Written, JobError> {
    let rows = sqlx::query(
        "SELECT o.id, o.payment_id, p.merchant_id, o.attempts FROM operations o \
         JOIN payments p ON p.id = o.payment_id \
         WHERE o.status IN ('pending', 'unknown') AND o.next_attempt_at <= ? AND o.updated_at <= ? \
         ORDER BY o.next_attempt_at LIMIT ?",
    )
    .bind(now.micros())
    .bind(settled_before.micros())
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await?;
    let bad = |what: &str| {
        JobError::Clean(StoreError::Internal(format!(
            "corrupt {what} in operations"
        )))
    };
    let mut due = Vec::with_capacity(rows.len());
    for row in &rows {
        due.push(DueOperation {
            operation: OperationId::parse(row.try_get(0)?).map_err(|_| bad("id"))?,
            payment_id: PaymentId::parse(row.try_get(1)?).map_err(|_| bad("payment_id"))?,
            merchant: MerchantId::parse(row.try_get(2)?).map_err(|_| bad("merchant_id"))?,
            attempts: row.try_get(3)?,
        });
    }
    for item in &due {
        sqlx::query("UPDATE operations SET next_attempt_at = ? WHERE id = ?")
            .bind(lease_until.micros())
            .bind(item.operation.to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok(Written::Due(due))
}

/// [`settle`], then the payment's parked events, which the change may let in, in the same
/// job. The answer is the payment as its own operation left it (the idempotent response is that
/// too); what a parked event adds is its own change, with its own event on `WatchEvents`.
async fn settle_then_parked(
    conn: &mut SqliteConnection,
    payment: Payment,
    version: i64,
    operation: OperationId,
    outcome: &Outcome,
    now: Timestamp,
) -> Result<(Payment, bool), JobError> {
    let (payment, changed) = settle(conn, payment, version, operation, outcome, now).await?;
    if changed {
        external::retry_parked(conn, &payment, version + 1, now).await?;
    }
    Ok((payment, changed))
}

/// Applies an outcome to a loaded payment, appends the event, records the idempotent response.
/// Shared by the API's settle and by webhooks, so both go through the same state machine.
/// Returns the payment and whether it changed (then its row is at `version + 1`).
pub(super) async fn settle(
    conn: &mut SqliteConnection,
    mut payment: Payment,
    version: i64,
    operation: OperationId,
    outcome: &Outcome,
    now: Timestamp,
) -> Result<(Payment, bool), JobError> {
    let before = payment.status;
    let mut doc = None;
    let changed = payment.settle(operation, outcome.clone(), now);
    if changed {
        let written = save(conn, &payment, Some(version), operation).await?;
        let succeeded = payment
            .operation(operation)
            .is_some_and(|o| o.status == crate::domain::OperationStatus::Succeeded);
        if payment.status != before || succeeded {
            append_event(conn, &payment, &written, now).await?;
        }
        doc = Some(written);
    }
    let doc = match doc {
        Some(d) => d,
        None => serde_json::to_string(&payment)?,
    };
    sqlx::query(
        "UPDATE idempotency_keys SET response = ? WHERE operation_id = ? AND response IS NULL",
    )
    .bind(doc)
    .bind(operation.to_string())
    .execute(&mut *conn)
    .await?;
    Ok((payment, changed))
}

/// [`Write::Abandon`]: the operation (or the never-answered payment) is deleted, its key kept
/// as released. Nothing is announced: no event was ever written for it.
async fn abandon(
    conn: &mut SqliteConnection,
    payment_id: PaymentId,
    operation: OperationId,
    now: Timestamp,
) -> Result<Abandoned, JobError> {
    let (mut payment, version) = load(conn, payment_id).await?;
    let done = payment.abandon(operation, now);
    match done {
        Abandoned::NotOpen => return Ok(done),
        Abandoned::WholePayment => {
            sqlx::query("DELETE FROM operations WHERE payment_id = ?")
                .bind(payment_id.to_string())
                .execute(&mut *conn)
                .await?;
            sqlx::query("DELETE FROM payments WHERE id = ?")
                .bind(payment_id.to_string())
                .execute(&mut *conn)
                .await?;
        }
        Abandoned::Operation => {
            sqlx::query("DELETE FROM operations WHERE id = ?")
                .bind(operation.to_string())
                .execute(&mut *conn)
                .await?;
            save(conn, &payment, Some(version), operation).await?;
            // The amount it held is free again: a parked event may fit now.
            external::retry_parked(conn, &payment, version + 1, now).await?;
        }
    }
    sqlx::query("UPDATE idempotency_keys SET released = 1 WHERE operation_id = ?")
        .bind(operation.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(done)
}

/// Hides a just-begun operation from reconcilers until its live call's deadline has passed.
async fn lease(
    conn: &mut SqliteConnection,
    operation: OperationId,
    until: Timestamp,
) -> Result<(), JobError> {
    sqlx::query("UPDATE operations SET next_attempt_at = ? WHERE id = ?")
        .bind(until.micros())
        .bind(operation.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Deletes a released claim of this key, so that the caller's retry claims it anew.
async fn take_released(conn: &mut SqliteConnection, claim: &KeyClaim) -> Result<(), JobError> {
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE merchant_id = ? AND method = ? AND key = ? AND released = 1",
    )
    .bind(claim.merchant.as_str())
    .bind(claim.method)
    .bind(claim.key.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn open_payment(
    conn: &mut SqliteConnection,
    claim: &KeyClaim,
    payment: &Payment,
    lease_until: Timestamp,
) -> Result<Claimed, JobError> {
    let mut payment = payment.clone();
    let Some(auth) = payment.operations.first_mut() else {
        return Err(JobError::Clean(StoreError::Internal(
            "a new payment must carry its authorize operation".into(),
        )));
    };
    // Insert first: a fresh key (the common case) costs one statement, a known one two.
    if !insert_claim(conn, claim, payment.id, auth.id, payment.created_at).await? {
        match existing_claim(conn, claim).await? {
            Some(Found::Claimed(found)) => return Ok(found),
            Some(Found::Released {
                payment: payment_id,
                operation,
            }) => {
                // The caller's retry of a call that was never sent: the same ids again.
                take_released(conn, claim).await?;
                auth.id = operation;
                payment.id = payment_id;
                if !insert_claim(conn, claim, payment.id, auth.id, payment.created_at).await? {
                    return Err(JobError::Dirty(StoreError::Internal(
                        "idempotency key appeared mid-job".into(),
                    )));
                }
            }
            None => {
                return Err(JobError::Dirty(StoreError::Internal(
                    "claimed key vanished".into(),
                )));
            }
        }
    }
    let auth = auth.id;
    save(conn, &payment, None, auth).await?;
    lease(conn, auth, lease_until).await?;
    Ok(Claimed::Started {
        payment: Box::new(payment),
        operation: auth,
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

/// Looks the key up. A stored response whose payment was still open (PENDING, REQUIRES_ACTION)
/// is not replayed as is: the caller gets the payment as it stands now, since reconciliation or
/// a webhook may have settled it since, and a stale REQUIRES_ACTION would send the buyer back
/// to a page they have already completed.
async fn existing_claim(
    conn: &mut SqliteConnection,
    claim: &KeyClaim,
) -> Result<Option<Found>, JobError> {
    let row = sqlx::query(
        "SELECT fingerprint, response, payment_id, operation_id, released FROM idempotency_keys \
         WHERE merchant_id = ? AND method = ? AND key = ?",
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
        let bad = || JobError::Dirty(StoreError::Internal("corrupt idempotency key row".into()));
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
        let (current, _) = load(conn, saved.id).await?;
        return Ok(Some(Found::Claimed(Claimed::Replay(Box::new(current)))));
    }
    Ok(Some(Found::Claimed(Claimed::Replay(Box::new(saved)))))
}

async fn insert_claim(
    conn: &mut SqliteConnection,
    claim: &KeyClaim,
    payment: PaymentId,
    operation: OperationId,
    now: Timestamp,
) -> Result<bool, JobError> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (merchant_id, method, key, fingerprint, payment_id, operation_id, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
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
