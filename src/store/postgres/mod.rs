//! PostgreSQL backend: several paygate replicas share one database.
//!
//! Unlike SQLite there is no single writer task: PostgreSQL takes concurrent writers, so each
//! job runs in its own transaction on a pooled connection, with the payment row locked
//! (`SELECT … FOR UPDATE`) for the whole job. A serialization failure or deadlock (both mean
//! "nothing was written, try again") is retried a few times. Connection-level failures become
//! [`StoreError::Unavailable`], so callers see `UNAVAILABLE`, never `INTERNAL`, while the
//! database is away; the pool reconnects by itself when it is back.

mod deliveries;
mod external;
mod jobs;
mod numbering;
mod reads;
mod rows;

use super::{StoreError, StoreOptions, Write, Written};
use crate::shutdown::Trigger;
use crate::supervise::supervise;
use crate::telemetry::Metrics;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// Connections per replica. PostgreSQL's default `max_connections` is 100; a handful of
/// replicas at 16 each leaves room for operators and migrations.
const MAX_CONNECTIONS: u32 = 16;
/// A statement running longer than this is cancelled (error 57014, mapped to Unavailable).
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Bounds a whole job, including a network that stopped answering without closing.
const JOB_TIMEOUT: Duration = Duration::from_secs(30);
/// Health checks must answer fast: a hung database is as unready as a closed one.
const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// A connection idle this long is pinged before use (see the pool options).
const IDLE_BEFORE_PING: Duration = Duration::from_secs(10);
/// Retries of a job PostgreSQL aborted as a serialization failure or deadlock.
const MAX_RETRIES: u32 = 5;

#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    /// Bumped after each commit made by this process: wakes the numbering task.
    committed: tokio::sync::watch::Sender<u64>,
    /// Bumped after each numbering pass that numbered something: subscribers wake on it.
    /// Other replicas' events are also found by the subscribers' periodic re-read.
    numbered: tokio::sync::watch::Sender<u64>,
    /// Fired by `close`, and dropped with the store: either ends the numbering task's
    /// supervisor (its `wait` holds no sender, so a dropped store stops it too).
    closed: Trigger,
    gate: super::gate::Gate,
}

impl PostgresStore {
    pub(super) async fn open(
        options: &StoreOptions,
        metrics: Arc<Metrics>,
    ) -> Result<Self, StoreError> {
        let shown = super::redact_url(&options.url);
        let base = PgConnectOptions::from_str(&options.url)
            .map_err(|e| StoreError::Unavailable(format!("invalid PostgreSQL URL {shown}: {e}")))?
            .application_name("paygate");
        // Migrations run on their own connection, without the timeouts below: a replica
        // waiting for another one's migration (sqlx's PostgreSQL migrator holds an advisory
        // lock, so replicas starting together apply each migration once) or a long migration
        // must not be cut off by lock_timeout or statement_timeout.
        let unreachable = |e: &dyn std::fmt::Display| {
            StoreError::Unavailable(format!("cannot connect to {shown}: {e}"))
        };
        let mut migrating =
            tokio::time::timeout(options.busy_timeout, PgConnection::connect_with(&base))
                .await
                .map_err(|_| unreachable(&"no answer"))?
                .map_err(|e| unreachable(&e))?;
        sqlx::migrate!("src/store/migrations/postgres")
            .run(&mut migrating)
            .await
            .map_err(|e| StoreError::Unavailable(format!("migrating {shown}: {e}")))?;
        let _ = migrating.close().await;
        let connect = base.options([
            ("statement_timeout", millis(STATEMENT_TIMEOUT)),
            // Waiting on a locked payment longer than SQLite's busy timeout is an outage.
            ("lock_timeout", millis(options.busy_timeout)),
        ]);
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .min_connections(0)
            // A request waits at most this long for a connection; then it is UNAVAILABLE.
            .acquire_timeout(options.busy_timeout)
            .idle_timeout(Duration::from_secs(600))
            .max_lifetime(Duration::from_secs(1800))
            // A pooled connection may have died with the network. sqlx already pings every
            // connection when it comes back to the pool; pinging again on every checkout too
            // would add a round trip to every job, so only a connection idle for a while
            // (where a silent network drop is likely) is checked before it is handed out.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= IDLE_BEFORE_PING {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(connect)
            .await
            .map_err(|e| unreachable(&e))?;
        let (committed, _) = tokio::sync::watch::channel(0);
        let (numbered, _) = tokio::sync::watch::channel(0);
        let inner = Arc::new(Inner {
            pool,
            committed,
            numbered,
            closed: Trigger::new(),
            gate: super::gate::Gate::default(),
        });
        let store = Arc::downgrade(&inner);
        tokio::spawn(supervise(
            "event_numbering",
            metrics.clone(),
            inner.closed.wait(),
            move || numbering::run(store.clone(), metrics.clone()),
        ));
        Ok(Self { inner })
    }

    pub(super) fn gate(&self) -> &super::gate::Gate {
        &self.inner.gate
    }

    /// Runs the job in its own transaction, retrying when PostgreSQL aborted it for a
    /// serialization failure or a deadlock (nothing of it was written then).
    pub(super) async fn write(&self, job: Write) -> Result<Written, StoreError> {
        let mut attempt = 0;
        loop {
            let run = tokio::time::timeout(JOB_TIMEOUT, self.run_once(&job)).await;
            let result = match run {
                Ok(result) => result,
                Err(_) => {
                    return Err(StoreError::Unavailable(format!(
                        "the database did not answer within {} s",
                        JOB_TIMEOUT.as_secs()
                    )));
                }
            };
            match result {
                Ok(written) => {
                    self.inner.committed.send_modify(|n| *n = n.wrapping_add(1));
                    return Ok(written);
                }
                Err(jobs::JobError::Sql(e)) if is_retryable(&e) && attempt < MAX_RETRIES => {
                    attempt += 1;
                    tracing::debug!(error = %e, attempt, "transaction aborted by the database; retrying");
                    let pause = 2_u64
                        .saturating_pow(attempt)
                        .saturating_add(rand::random_range(0..5));
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn run_once(&self, job: &Write) -> Result<Written, jobs::JobError> {
        let mut conn = self.inner.pool.acquire().await?;
        if jobs::is_single_statement(job) {
            // Atomic on its own: skipping BEGIN and COMMIT saves two round trips.
            return jobs::execute(&mut conn, job).await;
        }
        let mut tx = conn.begin().await?;
        match jobs::execute(&mut tx, job).await {
            Ok(written) => {
                tx.commit().await?;
                Ok(written)
            }
            Err(e) => {
                // Dropping the transaction would roll back too; an explicit ROLLBACK returns
                // the connection to the pool clean at once.
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    pub(super) fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.numbered.subscribe()
    }

    pub(super) async fn ping(&self) -> Result<(), StoreError> {
        let ping = sqlx::query("SELECT 1").execute(&self.inner.pool);
        match tokio::time::timeout(PING_TIMEOUT, ping).await {
            Ok(done) => done.map(|_| ()).map_err(StoreError::from),
            Err(_) => Err(StoreError::Unavailable(
                "the database did not answer the ping".into(),
            )),
        }
    }

    pub(super) async fn close(&self) {
        self.inner.closed.fire();
        self.inner.pool.close().await;
    }
}

fn millis(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

/// Serialization failure or deadlock: PostgreSQL rolled the transaction back, so re-running
/// the whole job is safe.
fn is_retryable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("40001" | "40P01")),
        _ => false,
    }
}

/// SQLSTATEs that mean "the database is not there right now" rather than "paygate has a bug":
/// connection exceptions (08), insufficient resources (53), operator intervention (57: shutdown,
/// cancelled statement), lock timeout, and an abort that survived the retries (40).
pub(super) fn is_unavailable_code(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57")
        || code.starts_with("40")
        || code == "55P03"
}
