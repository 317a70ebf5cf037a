//! The durable ledger: payments, operations, idempotency keys and the event log.
//!
//! All SQL lives under this module. Writes go through a small set of jobs ([`Write`]) whose
//! rules come from `domain/`; each job runs inside a transaction with the payment locked, so
//! a check and the write it guards are atomic, whatever the number of concurrent callers.

mod deliveries;
pub use deliveries::{
    AttemptRecord, AttemptResult, AttemptRow, ClaimedDelivery, DeliveryFilter, DeliveryJob,
    DeliveryRow, DeliveryState, DeliveryWritten, NewDelivery,
};
mod gate;
pub(crate) use gate::KNOWN_DOWN;
mod parked;
mod postgres;
mod references;
mod sqlite;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use crate::domain::{
    Capabilities, ExternalOperation, IdempotencyKey, ListQuery, MerchantId, OperationId,
    OperationKind, Outcome, ParkReason, Payment, PaymentId, ProviderKind, Refusal, Timestamp,
};
use crate::telemetry::Metrics;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such payment for this merchant (another merchant's payment is "not found" too).
    #[error("payment not found")]
    NotFound,
    /// The domain rules refuse the operation in the payment's current state.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The database did not answer or refused to commit: nothing was written.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database answered something paygate did not expect (a bug or a corrupt row).
    #[error("database error: {0}")]
    Internal(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            // The wire protocol broke, e.g. a connection closed mid-handshake ("unexpected
            // response from SSLRequest: 0x00" when a proxy drops it): the server is not there.
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => Self::Unavailable(err.to_string()),
            sqlx::Error::Database(ref db)
                if db
                    .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                    .is_some_and(|pg| postgres::is_unavailable_code(pg.code())) =>
            {
                Self::Unavailable(err.to_string())
            }
            // Busy, locked, read-only, I/O error, disk full, cannot open: by result code.
            sqlx::Error::Database(ref db)
                if db
                    .try_downcast_ref::<sqlx::sqlite::SqliteError>()
                    .is_some_and(sqlite::is_unavailable) =>
            {
                Self::Unavailable(err.to_string())
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(err: serde_json::Error) -> Self {
        Self::Internal(format!("stored document does not decode: {err}"))
    }
}

/// The (merchant, method, key) a mutating request claims, with its parameter fingerprint.
#[derive(Debug, Clone)]
pub struct KeyClaim {
    pub merchant: MerchantId,
    pub method: &'static str,
    pub key: IdempotencyKey,
    pub fingerprint: [u8; 32],
}

/// What claiming an idempotency key found.
#[derive(Debug)]
pub enum Claimed {
    /// The key is new: the operation was persisted PENDING and the caller may call the provider.
    Started {
        payment: Box<Payment>,
        operation: OperationId,
    },
    /// The key was used before with the same parameters: here is the first response.
    Replay(Box<Payment>),
    /// The key was used before with other parameters.
    Reused,
    /// The first request with this key is still running.
    InUse,
}

/// The state-changing jobs. Each runs in one transaction.
#[derive(Debug)]
pub enum Write {
    /// Claims the key and inserts the new payment with its authorize operation PENDING.
    /// A key released by [`Write::Abandon`] is claimed again with the same parameters only,
    /// and the payment and operation take back the ids they had (so the provider sees the same
    /// idempotency key). The operation is leased to the live call until `lease_until`.
    OpenPayment {
        claim: KeyClaim,
        payment: Box<Payment>,
        lease_until: Timestamp,
    },
    /// Claims the key, checks the domain rules and inserts a PENDING operation (reserving its
    /// amount), leased to the live call until `lease_until`: no reconciler touches it before.
    /// A released key is claimed again as [`Write::OpenPayment`] says.
    BeginOperation {
        claim: KeyClaim,
        payment_id: PaymentId,
        kind: OperationKind,
        amount: Option<crate::domain::Money>,
        final_capture: bool,
        /// The refund's reason, kept on the operation (empty for other kinds).
        reason: String,
        /// Kept on the operation (`Operation::trace_parent`).
        trace_parent: Option<String>,
        caps: Capabilities,
        now: Timestamp,
        lease_until: Timestamp,
    },
    /// Applies a provider outcome, appends the event, records the idempotent response.
    Settle {
        payment_id: PaymentId,
        operation: OperationId,
        outcome: Outcome,
        now: Timestamp,
    },
    /// The provider certainly never acted on this PENDING operation (nothing was sent, or it
    /// refused before acting): the operation is taken back as if never begun (for an
    /// authorization, the whole payment, whose id the caller never got), no event is written,
    /// and its key is marked released but kept, bound to the same ids, so that the caller's
    /// retry with the same key continues the same payment under the same provider key.
    Abandon {
        payment_id: PaymentId,
        operation: OperationId,
        now: Timestamp,
    },
    /// Records a verified provider event id and, if it is new, settles the operation it reports
    /// exactly as [`Write::Settle`] does, in the same transaction: a duplicate changes nothing.
    ApplyWebhook {
        provider: ProviderKind,
        event_id: String,
        merchant: MerchantId,
        payment_id: PaymentId,
        operation: OperationId,
        outcome: Outcome,
        now: Timestamp,
    },
    /// [`Write::ApplyWebhook`] for a provider whose later success may supersede an earlier
    /// decline of the same attempt (CMI: several failed callbacks, then the customer pays;
    /// DESIGN.md §4). With `reopen_declined`, a success first reopens a declined authorization
    /// (see `Payment::reopen_declined_authorization`); failures still never move a settled one.
    ApplyCallback {
        provider: ProviderKind,
        event_id: String,
        merchant: MerchantId,
        payment_id: PaymentId,
        operation: OperationId,
        outcome: Outcome,
        reopen_declined: bool,
        /// The provider was told to capture on its own (CMI `ACTION=POSTAUTH`): a success
        /// settles through `Payment::authorize_with_pending_capture` instead.
        capture_pending: bool,
        now: Timestamp,
    },
    /// Records a verified provider event id without changing any payment (an event paygate
    /// only notes: unknown type, no matching payment, a late echo). `Duplicate` if seen before.
    RecordWebhook {
        provider: ProviderKind,
        event_id: String,
        merchant: MerchantId,
        now: Timestamp,
    },
    /// Records a verified provider event id and, if it is new, an operation paygate did not ask
    /// for (a refund made in the provider's dashboard, a reversal, a void at the end of an
    /// authorization's validity) as a succeeded operation, within the same rules as the API's
    /// (never more than captured, void only before any capture; see `Payment::fit_external`).
    /// What the rules refuse is parked in the same transaction (`Parked`), never dropped: every
    /// later change of the payment (a settle, an abandon) tries it again in its own transaction,
    /// and applies it as soon as it fits.
    ApplyExternalOperation {
        provider: ProviderKind,
        event_id: String,
        merchant: MerchantId,
        payment_id: PaymentId,
        operation: ExternalOperation,
        now: Timestamp,
    },
    /// Records a reconciliation attempt that settled nothing, and when to try again.
    Defer {
        operation: OperationId,
        attempts: i64,
        next_attempt_at: Timestamp,
    },
    /// Deletes idempotency keys created before `cutoff` that are released, or whose operation
    /// is final. A key whose operation is still PENDING or UNKNOWN is never deleted: a retry
    /// after that would open a second money movement while the first is still unknown.
    ReapKeys { cutoff: Timestamp },
    /// Deletes events that occurred before `cutoff` (the `[events] retention_hours` window),
    /// but none that a webhook cursor has not passed yet: those are the outbox of deliveries
    /// still to be created (bounded by the smallest cursor, so what is deleted stays a prefix
    /// of the log and `events_pruned_through` keeps its meaning).
    PruneEvents { cutoff: Timestamp },
    /// Hands up to `limit` due operations (as [`Store::due_operations`] selects them) to the
    /// caller and moves their `next_attempt_at` to `lease_until` in the same transaction, so
    /// no other reconciler (another replica) gets them until the lease ends or the caller
    /// settles or defers them.
    ClaimDue {
        settled_before: Timestamp,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    },
    /// Webhooks to shops: fan-out, claims, attempts, redelivery (see `deliveries.rs`).
    Delivery(DeliveryJob),
}

/// What a [`Write`] produced.
#[derive(Debug)]
pub enum Written {
    Claimed(Claimed),
    Settled(Box<Payment>),
    /// What [`Write::Abandon`] did.
    Abandoned(crate::domain::Abandoned),
    Reaped(u64),
    Deferred,
    Webhook(WebhookWritten),
    Due(Vec<DueOperation>),
    Delivery(DeliveryWritten),
}

/// What [`Write::ApplyWebhook`] did.
#[derive(Debug)]
pub enum WebhookWritten {
    /// New event; the payment changed.
    Applied(Box<Payment>),
    /// New event, recorded, but the payment had already moved on (late or reordered delivery).
    Ignored,
    /// This event id was seen before: nothing written.
    Duplicate,
    /// New event reporting money the provider moved, which the ledger cannot take now: kept
    /// (with the event id) until a change of the payment lets it in, or an operator acts.
    Parked(ParkReason),
}

/// One row of the event log behind `WatchEvents`.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// Global, gap-free, increasing with commit order.
    pub sequence: i64,
    /// `payment.authorized`, `payment.captured`, ...
    pub kind: String,
    /// The payment as it was right after the change.
    pub payment: Payment,
    pub occurred_at: Timestamp,
}

/// Open operations, by why they are open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpenCounts {
    /// Unknown outcomes (and crash leftovers) untouched since `settled_before`.
    pub unresolved: i64,
    /// Authorizations waiting for the customer on the provider's page.
    pub checkouts: i64,
}

/// An unsettled operation the reconciler should look at now.
#[derive(Debug, Clone)]
pub struct DueOperation {
    pub merchant: MerchantId,
    pub payment_id: PaymentId,
    pub operation: OperationId,
    pub attempts: i64,
}

/// The store, dispatching over backends: SQLite (one process) or PostgreSQL (replicas).
#[derive(Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

/// Settings the store needs, independent of the config file format.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub url: String,
    pub busy_timeout: Duration,
    /// SQLite only: the database may not grow past this many pages (`PRAGMA max_page_count`,
    /// set after the migrations; never below the size it already has). Writes that need more
    /// fail as on a full disk, `Unavailable`. `None`: no ceiling but the disk's.
    pub sqlite_max_pages: Option<u32>,
}

impl Store {
    /// Opens the database named by `url` and applies the embedded migrations. `metrics`
    /// counts what the store's own background work (PostgreSQL: event numbering) runs into.
    pub async fn open(options: &StoreOptions, metrics: Arc<Metrics>) -> Result<Self, StoreError> {
        let url = options.url.as_str();
        if url.starts_with("sqlite:") {
            return Ok(Self::Sqlite(SqliteStore::open(options).await?));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(PostgresStore::open(options, metrics).await?));
        }
        Err(StoreError::Unavailable(format!(
            "unsupported database URL scheme in {:?}",
            redact_url(url)
        )))
    }

    pub async fn write(&self, job: Write) -> Result<Written, StoreError> {
        self.gate().check()?;
        match self {
            Self::Sqlite(s) => s.write(job).await,
            Self::Postgres(s) => s.write(job).await,
        }
    }

    pub async fn payment(
        &self,
        merchant: &MerchantId,
        id: PaymentId,
    ) -> Result<Payment, StoreError> {
        self.gate().check()?;
        match self {
            Self::Sqlite(s) => s.payment(merchant, id).await,
            Self::Postgres(s) => s.payment(merchant, id).await,
        }
    }

    /// The merchant's payment that the provider knows as `reference`, if any.
    pub async fn payment_by_provider_reference(
        &self,
        merchant: &MerchantId,
        provider: ProviderKind,
        reference: &str,
    ) -> Result<Option<Payment>, StoreError> {
        self.gate().check()?;
        match self {
            Self::Sqlite(s) => {
                s.payment_by_provider_reference(merchant, provider, reference)
                    .await
            }
            Self::Postgres(s) => {
                s.payment_by_provider_reference(merchant, provider, reference)
                    .await
            }
        }
    }

    /// The merchant's payment one of whose operations the provider knows as `reference`
    /// (PayPal: an authorization, capture or refund id), if any.
    pub async fn payment_by_operation_reference(
        &self,
        merchant: &MerchantId,
        provider: ProviderKind,
        reference: &str,
    ) -> Result<Option<Payment>, StoreError> {
        self.gate().check()?;
        match self {
            Self::Sqlite(s) => {
                s.payment_by_operation_reference(merchant, provider, reference)
                    .await
            }
            Self::Postgres(s) => {
                s.payment_by_operation_reference(merchant, provider, reference)
                    .await
            }
        }
    }

    /// One page of the merchant's payments, newest first.
    pub async fn list(
        &self,
        merchant: &MerchantId,
        query: &ListQuery,
    ) -> Result<Vec<Payment>, StoreError> {
        self.gate().check()?;
        match self {
            Self::Sqlite(s) => s.list(merchant, query).await,
            Self::Postgres(s) => s.list(merchant, query).await,
        }
    }

    /// Unsettled operations last touched before `settled_before` and due at `now`, oldest due first.
    pub async fn due_operations(
        &self,
        settled_before: Timestamp,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<DueOperation>, StoreError> {
        self.gate().check()?;
        match self {
            Self::Sqlite(s) => s.due_operations(settled_before, now, limit).await,
            Self::Postgres(s) => s.due_operations(settled_before, now, limit).await,
        }
    }

    /// Claims due operations for this reconciler (see [`Write::ClaimDue`]): unlike
    /// [`Store::due_operations`], two replicas calling this at once never get the same one.
    pub async fn claim_due_operations(
        &self,
        settled_before: Timestamp,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<DueOperation>, StoreError> {
        let job = Write::ClaimDue {
            settled_before,
            now,
            lease_until,
            limit,
        };
        match self.write(job).await? {
            Written::Due(due) => Ok(due),
            other => Err(StoreError::Internal(format!(
                "unexpected answer to ClaimDue: {other:?}"
            ))),
        }
    }

    /// The merchant's events with a sequence above `after`, oldest first.
    pub async fn events_after(
        &self,
        merchant: &MerchantId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.gate().check()?;
        match self {
            Self::Sqlite(s) => s.events_after(merchant, after, limit).await,
            Self::Postgres(s) => s.events_after(merchant, after, limit).await,
        }
    }

    /// Like [`Store::events_after`], but on PostgreSQL without first numbering the events
    /// committed but not yet numbered: for a subscriber, whom [`Store::commits`] wakes once the
    /// numbering task has numbered them. Numbering there would put a numbering transaction
    /// (a WAL flush) in front of every page under steady load.
    pub async fn tail_events(
        &self,
        merchant: &MerchantId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.gate().check()?;
        match self {
            Self::Sqlite(s) => s.events_after(merchant, after, limit).await,
            Self::Postgres(s) => s.read_events(merchant, after, limit).await,
        }
    }

    /// The highest sequence deleted by retention (0 if none): a subscriber resuming below it
    /// would miss events, so it is refused instead.
    pub async fn events_pruned_through(&self) -> Result<i64, StoreError> {
        self.gate().check()?;
        match self {
            Self::Sqlite(s) => s.events_pruned_through().await,
            Self::Postgres(s) => s.events_pruned_through().await,
        }
    }

    /// Changes after every commit (on PostgreSQL: once the commit's events are numbered), so
    /// event subscribers wake without polling the database.
    pub fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
        match self {
            Self::Sqlite(s) => s.commits(),
            Self::Postgres(s) => s.commits(),
        }
    }

    /// How many operations are waiting for an outcome, apart from the open checkouts (the
    /// `paygate_operations_unresolved` and `paygate_checkouts_open` gauges).
    pub async fn count_open(&self, settled_before: Timestamp) -> Result<OpenCounts, StoreError> {
        self.gate().check()?;
        match self {
            Self::Sqlite(s) => s.count_open(settled_before).await,
            Self::Postgres(s) => s.count_open(settled_before).await,
        }
    }

    /// How many provider events wait parked, unresolved (the `paygate_webhook_events_parked`
    /// gauge): reversals and dashboard refunds the ledger could not take yet.
    pub async fn count_parked(&self) -> Result<i64, StoreError> {
        self.gate().check()?;
        match self {
            Self::Sqlite(s) => s.count_parked().await,
            Self::Postgres(s) => s.count_parked().await,
        }
    }

    /// The health checker's verdict after each ping: while the database is down, every call
    /// but [`Store::ping`] answers `Unavailable` at once (see `gate.rs`).
    pub fn mark_reachable(&self, up: bool) {
        self.gate().set_reachable(up);
    }

    fn gate(&self) -> &gate::Gate {
        match self {
            Self::Sqlite(s) => s.gate(),
            Self::Postgres(s) => s.gate(),
        }
    }

    /// Answers only if the database does: the health checker uses it. Never gated, so it is
    /// how the checker sees the database come back.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(s) => s.ping().await,
            Self::Postgres(s) => s.ping().await,
        }
    }

    /// Waits for queued writes and closes connections (graceful shutdown).
    pub async fn close(&self) {
        match self {
            Self::Sqlite(s) => s.close().await,
            Self::Postgres(s) => s.close().await,
        }
    }
}

/// Hides a password in a database URL before it reaches a message or a log line.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = url.get(scheme_end + 3..at).unwrap_or_default();
            let user = creds.split(':').next().unwrap_or_default();
            format!(
                "{}{}:***{}",
                url.get(..scheme_end + 3).unwrap_or_default(),
                user,
                url.get(at..).unwrap_or_default()
            )
        }
        _ => url.to_owned(),
    }
}
