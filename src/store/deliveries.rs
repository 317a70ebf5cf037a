//! Webhook deliveries to shops, as the store keeps them: the fan-out cursor per merchant, one
//! delivery per (endpoint, event) and every attempt made (migration 0007).
//!
//! The jobs ([`DeliveryJob`]) run like every other write (`Write::Delivery`): on SQLite in the
//! single writer's group commit, on PostgreSQL in a transaction of their own. The rules that
//! matter with several replicas are in SQL: the cursor moves by compare-and-set, a delivery is
//! inserted once (`UNIQUE (endpoint_id, sequence)`), and a claim hides what it hands out behind
//! a lease (`SKIP LOCKED` on PostgreSQL), so two replicas never attempt one delivery at once.

use super::{Store, StoreError, Write, Written};
use crate::domain::{MerchantId, Timestamp};

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Waiting for its next attempt (or being attempted, under a claim's lease).
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every entry of the retry schedule failed: kept for redelivery.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

impl std::str::FromStr for DeliveryState {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(Self::Pending),
            "delivered" => Ok(Self::Delivered),
            "failed" => Ok(Self::Failed),
            other => Err(StoreError::Internal(format!(
                "unknown delivery state {other:?}"
            ))),
        }
    }
}

/// A delivery the fan-out creates: the body is rendered before the job, outside the transaction.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub endpoint_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub payment_id: String,
    pub webhook_id: String,
    pub body: Vec<u8>,
    /// Entry 0 of the retry schedule after the event (normally: now).
    pub next_attempt_at: Timestamp,
    /// `Operation::trace_parent` of the operation the event reports, for the attempts' links.
    pub trace_parent: Option<String>,
}

/// A delivery handed to this dispatcher until `lease_until`.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub merchant: MerchantId,
    pub endpoint_id: String,
    pub sequence: i64,
    pub webhook_id: String,
    pub body: Vec<u8>,
    /// Attempts already made in the current round of the retry schedule.
    pub round_attempts: i64,
    pub trace_parent: Option<String>,
}

/// What an attempt leads to, as the dispatcher decided from the retry schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    Delivered,
    /// Failed; the next attempt is due at this time.
    Retry(Timestamp),
    /// Failed, and it was the last entry of the schedule.
    GaveUp,
}

/// One attempt, for the delivery log.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub delivery_id: i64,
    pub at: Timestamp,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: i64,
    pub result: AttemptResult,
    /// The delivery's `round_attempts` after this attempt.
    pub round_attempts: i64,
}

/// The delivery jobs (see the module doc).
#[derive(Debug)]
pub enum DeliveryJob {
    /// Creates the merchant's cursor at its last event if it has none; answers the cursor.
    InitCursor { merchant: MerchantId },
    /// Moves the merchant's cursor from `from` to `to` and inserts `deliveries` (the events in
    /// between, for every endpoint that wants them), but only if the cursor is still at `from`:
    /// another replica may have fanned these events out already, and then nothing is written.
    FanOut {
        merchant: MerchantId,
        from: i64,
        to: i64,
        deliveries: Vec<NewDelivery>,
        now: Timestamp,
    },
    /// For each `(endpoint, n)`, up to `n` of its pending deliveries due at `now`, oldest due
    /// first, each hidden from other claims until `lease_until`.
    Claim {
        now: Timestamp,
        lease_until: Timestamp,
        endpoints: Vec<(String, u32)>,
    },
    /// Records an attempt and moves the delivery as `result` says. A delivery another replica
    /// has delivered meanwhile (after this claim's lease ended) stays delivered.
    Record(AttemptRecord),
    /// Back to `pending`, due at `now`, a new round of the schedule, same id and body.
    Redeliver { id: i64, now: Timestamp },
    /// [`DeliveryJob::Redeliver`] for every failed delivery (of `merchant`, if given) whose
    /// last attempt was at or after `since`.
    RedeliverFailedSince {
        since: Timestamp,
        merchant: Option<MerchantId>,
        now: Timestamp,
    },
    /// Deletes delivered and failed deliveries created before `cutoff`, with their attempts.
    Prune { cutoff: Timestamp },
}

/// What a [`DeliveryJob`] did.
#[derive(Debug)]
pub enum DeliveryWritten {
    Cursor(i64),
    FannedOut {
        /// `false`: the cursor had moved (another replica); nothing was written.
        moved: bool,
        /// The cursor now.
        cursor: i64,
        inserted: u64,
    },
    Claimed(Vec<ClaimedDelivery>),
    Recorded,
    /// How many deliveries were redelivered or pruned.
    Count(u64),
}

/// Which deliveries `paygate webhooks list` shows, newest first.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub merchant: Option<MerchantId>,
    pub endpoint: Option<String>,
    pub state: Option<DeliveryState>,
    pub payment: Option<String>,
    pub limit: u32,
}

/// A delivery as the log shows it (without its body).
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    pub id: i64,
    pub merchant: String,
    pub endpoint_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub payment_id: String,
    pub webhook_id: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub round_attempts: i64,
    pub next_attempt_at: Timestamp,
    pub created_at: Timestamp,
    pub last_attempt_at: Option<Timestamp>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
}

/// One recorded attempt.
#[derive(Debug, Clone)]
pub struct AttemptRow {
    pub attempt_no: i64,
    pub at: Timestamp,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub latency_ms: i64,
}

impl Store {
    /// Runs a delivery job.
    pub async fn deliveries(&self, job: DeliveryJob) -> Result<DeliveryWritten, StoreError> {
        match self.write(Write::Delivery(job)).await? {
            Written::Delivery(done) => Ok(done),
            other => Err(StoreError::Internal(format!(
                "unexpected answer to a delivery job: {other:?}"
            ))),
        }
    }

    /// The delivery log, newest first.
    pub async fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        self.gate().check()?;
        match self {
            Self::Sqlite(s) => s.list_deliveries(filter).await,
            Self::Postgres(s) => s.list_deliveries(filter).await,
        }
    }

    /// Every attempt of one delivery, in order.
    pub async fn delivery_attempts(&self, id: i64) -> Result<Vec<AttemptRow>, StoreError> {
        self.gate().check()?;
        match self {
            Self::Sqlite(s) => s.delivery_attempts(id).await,
            Self::Postgres(s) => s.delivery_attempts(id).await,
        }
    }

    /// Pending deliveries due at `now`, per merchant (`paygate_webhook_backlog`); merchants
    /// with none are absent.
    pub async fn delivery_backlog(&self, now: Timestamp) -> Result<Vec<(String, i64)>, StoreError> {
        self.gate().check()?;
        match self {
            Self::Sqlite(s) => s.delivery_backlog(now).await,
            Self::Postgres(s) => s.delivery_backlog(now).await,
        }
    }
}

/// The columns [`DeliveryRow`] is read from, in its order (both backends).
pub(super) const ROW_COLUMNS: &str = "id, merchant_id, endpoint_id, sequence, event_type, \
     payment_id, webhook_id, state, attempts, round_attempts, next_attempt_at, created_at, \
     last_attempt_at, last_status, last_error";

/// Decodes a row of [`ROW_COLUMNS`].
pub(super) fn delivery_row<R>(row: &R) -> Result<DeliveryRow, StoreError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let state: String = row.try_get(7)?;
    Ok(DeliveryRow {
        id: row.try_get(0)?,
        merchant: row.try_get(1)?,
        endpoint_id: row.try_get(2)?,
        sequence: row.try_get(3)?,
        event_type: row.try_get(4)?,
        payment_id: row.try_get(5)?,
        webhook_id: row.try_get(6)?,
        state: state.parse()?,
        attempts: row.try_get(8)?,
        round_attempts: row.try_get(9)?,
        next_attempt_at: Timestamp::from_micros(row.try_get(10)?),
        created_at: Timestamp::from_micros(row.try_get(11)?),
        last_attempt_at: row
            .try_get::<Option<i64>, _>(12)?
            .map(Timestamp::from_micros),
        last_status: row.try_get(13)?,
        last_error: row.try_get(14)?,
    })
}

/// The state and due time an attempt leaves its delivery in.
pub(super) fn after_attempt(result: AttemptResult) -> (DeliveryState, Option<Timestamp>) {
    match result {
        AttemptResult::Delivered => (DeliveryState::Delivered, None),
        AttemptResult::Retry(at) => (DeliveryState::Pending, Some(at)),
        AttemptResult::GaveUp => (DeliveryState::Failed, None),
    }
}
