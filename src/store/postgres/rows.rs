//! Row helpers shared by the jobs: load (optionally locking) and save a payment, append an event.

use super::jobs::JobError;
use crate::domain::{Operation, OperationId, Payment, PaymentId, Timestamp};
use crate::store::references::operation_references;
use crate::store::{KeyClaim, StoreError};
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

/// Claims the idempotency key and, only if the claim is new, inserts the payment with its
/// first operation: one statement, atomic without an explicit transaction (no BEGIN/COMMIT
/// round trips). `false` when someone holds the key; then nothing was written. A concurrent
/// claim of the same key waits on the unique key until the first one commits.
pub(super) async fn insert_claimed(
    conn: &mut PgConnection,
    claim: &KeyClaim,
    p: &Payment,
    op: &Operation,
    lease_until: Timestamp,
) -> Result<bool, JobError> {
    let inserted = sqlx::query(
        "WITH k AS (INSERT INTO idempotency_keys (merchant_id, method, key, fingerprint, payment_id, \
         operation_id, created_at) VALUES ($2, $21, $22, $23, $1::uuid, $14::uuid, $12) \
         ON CONFLICT DO NOTHING RETURNING 1), \
         p AS (INSERT INTO payments (id, merchant_id, provider, merchant_reference, status, \
         currency, amount, captured, refunded, provider_reference, doc, version, created_at, updated_at) \
         SELECT $1::uuid, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, $13 \
         WHERE EXISTS (SELECT 1 FROM k) RETURNING id) \
         INSERT INTO operations (id, payment_id, kind, status, amount, provider_key, created_at, updated_at, \
         next_attempt_at) SELECT $14::uuid, p.id, $15, $16, $17, $18, $19, $20, $24 FROM p",
    )
    .bind(p.id.to_string())
    .bind(p.merchant.as_str())
    .bind(p.provider.as_str())
    .bind(&p.merchant_reference)
    .bind(p.status.as_str())
    .bind(p.amount.currency().code())
    .bind(p.amount.minor())
    .bind(p.captured)
    .bind(p.refunded)
    .bind(p.provider_reference.as_deref())
    .bind(serde_json::to_string(p)?)
    .bind(p.created_at.micros())
    .bind(p.updated_at.micros())
    .bind(op.id.to_string())
    .bind(op.kind.as_str())
    .bind(op.status.as_str())
    .bind(op.amount.minor())
    .bind(op.id.provider_key())
    .bind(op.created_at.micros())
    .bind(op.updated_at.micros())
    .bind(claim.method)
    .bind(claim.key.as_str())
    .bind(claim.fingerprint.as_slice())
    .bind(lease_until.micros())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Writes the payment document at `version`, its checked columns and the one operation that
/// changed, in one statement (one round trip), and returns the document.
pub(super) async fn save(
    conn: &mut PgConnection,
    p: &Payment,
    version: i64,
    changed: OperationId,
) -> Result<String, JobError> {
    let doc = serde_json::to_string(p)?;
    let id = p.id.to_string();
    let op = operation(p, changed)?;
    let written = bind_update(
        sqlx::query(concat!("WITH ", update_cte!(), " SELECT COUNT(*) FROM p")),
        p,
        &doc,
        version,
        op,
    )
    .fetch_one(&mut *conn)
    .await?;
    expect_one(written.try_get(0)?, &id)?;
    Ok(doc)
}

/// The update of a payment at a given version (`p`, its id when it matched), of one of its
/// operations (`o`) and of its operation references (`r`, the ones not recorded yet), the
/// last two only if `p` matched. Parameters `$1`–`$16`, bound by [`bind_update`].
macro_rules! update_cte {
    () => {
        "p AS (UPDATE payments SET status = $1, captured = $2, refunded = $3, provider_reference = $4, \
         doc = $5, version = version + 1, updated_at = $6 WHERE id = $7::uuid AND version = $8 \
         RETURNING id, merchant_id, provider), \
         o AS (INSERT INTO operations (id, payment_id, kind, status, amount, provider_key, created_at, updated_at) \
         SELECT $9::uuid, p.id, $10, $11, $12, $13, $14, $15 FROM p \
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at \
         WHERE operations.status <> excluded.status), \
         r AS (INSERT INTO operation_references (merchant_id, provider, reference, payment_id) \
         SELECT p.merchant_id, p.provider, ref, p.id FROM p, unnest($16::text[]) AS ref \
         ON CONFLICT DO NOTHING)"
    };
}
use update_cte;

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

fn bind_update<'q>(
    query: PgQuery<'q>,
    p: &'q Payment,
    doc: &'q str,
    version: i64,
    op: &'q Operation,
) -> PgQuery<'q> {
    query
        .bind(p.status.as_str())
        .bind(p.captured)
        .bind(p.refunded)
        .bind(p.provider_reference.as_deref())
        .bind(doc)
        .bind(p.updated_at.micros())
        .bind(p.id.to_string())
        .bind(version)
        .bind(op.id.to_string())
        .bind(op.kind.as_str())
        .bind(op.status.as_str())
        .bind(op.amount.minor())
        .bind(op.id.provider_key())
        .bind(op.created_at.micros())
        .bind(op.updated_at.micros())
        .bind(operation_references(p))
}

fn operation(p: &Payment, id: OperationId) -> Result<&Operation, JobError> {
    p.operation(id).ok_or_else(|| {
        StoreError::Internal(format!("operation {id} is not on payment {}", p.id)).into()
    })
}

/// The payment row must have matched its version: its row lock is held, so anything else is
/// a bug, never a race.
fn expect_one(matched: i64, id: &str) -> Result<(), JobError> {
    if matched == 1 {
        Ok(())
    } else {
        Err(StoreError::Internal(format!("payment {id} changed under its row lock")).into())
    }
}

/// Writes a settled payment and its operation, records the idempotent response and, with
/// `event`, appends and queues its event: the whole settle in one statement. Answers whether
/// parked events of the payment wait (`parked_events`), read in that same statement.
pub(super) async fn save_settled(
    conn: &mut PgConnection,
    p: &Payment,
    version: i64,
    changed: OperationId,
    event: bool,
    now: Timestamp,
) -> Result<bool, JobError> {
    let doc = serde_json::to_string(p)?;
    let id = p.id.to_string();
    let op = operation(p, changed)?;
    let sql = concat!(
        "WITH ",
        update_cte!(),
        ", k AS (UPDATE idempotency_keys SET response = $5 \
         WHERE operation_id = $9::uuid AND response IS NULL AND EXISTS (SELECT 1 FROM p)), \
         e AS (INSERT INTO events (merchant_id, payment_id, type, payment, occurred_at) \
         SELECT $18, p.id, $19, $5, $20 FROM p WHERE $17 RETURNING id, merchant_id, occurred_at), \
         q AS (INSERT INTO events_to_number (event_id, merchant_id, occurred_at) SELECT * FROM e) \
         SELECT (SELECT COUNT(*) FROM p), EXISTS (SELECT 1 FROM parked_events \
         WHERE payment_id = $7::uuid AND resolved_at IS NULL)"
    );
    let written = bind_update(sqlx::query(sql), p, &doc, version, op)
        .bind(event)
        .bind(p.merchant.as_str())
        .bind(p.status.event_type())
        .bind(now.micros())
        .fetch_one(&mut *conn)
        .await?;
    expect_one(written.try_get(0)?, &id)?;
    Ok(written.try_get(1)?)
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

/// Inserts the event and queues it for its number, in one statement: readers see it once
/// `paygate_number_events()` has numbered it (see `numbering.rs`). Taking a number here would
/// hold the counter row's lock through this transaction's COMMIT and serialize every writer in
/// the cluster.
pub(super) async fn append_event(
    conn: &mut PgConnection,
    p: &Payment,
    doc: &str,
    now: Timestamp,
) -> Result<(), JobError> {
    sqlx::query(
        "WITH e AS (INSERT INTO events (merchant_id, payment_id, type, payment, occurred_at) \
         VALUES ($1, $2::uuid, $3, $4, $5) RETURNING id, merchant_id, occurred_at) \
         INSERT INTO events_to_number (event_id, merchant_id, occurred_at) SELECT * FROM e",
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
