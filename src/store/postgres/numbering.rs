//! Numbering of the event log (migration `0002_event_numbering.sql`).
//!
//! Writers insert events without a sequence, so that writers on different payments never wait
//! for one another (see the migration). One task per replica then numbers everything committed
//! so far by calling `paygate_number_events()`: woken by this replica's commits, at most every
//! few milliseconds so that one transaction (one WAL flush) numbers a whole burst, and once a
//! second for events a stopped replica left unnumbered. Subscribers wake when a pass has
//! numbered something. A plain read numbers what is pending itself first, so a change is in the
//! log, on every replica, as soon as its call has returned.
//!
//! A failed pass is logged at error and counted (`paygate_event_numbering_failures_total`):
//! until a pass succeeds, `WatchEvents` subscribers see nothing new. The task runs under
//! `supervise` (see `PostgresStore::open`), so a panic restarts it.

use super::{Inner, PostgresStore};
use crate::store::StoreError;
use crate::telemetry::Metrics;
use sqlx::{PgPool, Row};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Events numbered per transaction: a whole burst in one flush, the counter lock held briefly.
const BATCH: i32 = 5_000;
/// Pause after a pass, so commits gather for the next one instead of each paying a flush.
const GATHER: Duration = Duration::from_millis(5);
/// Numbering of events other replicas committed but did not number (a replica that stopped).
const SWEEP: Duration = Duration::from_secs(1);

/// Numbers every event committed before this call, batch after batch; returns how many.
async fn number_all(pool: &PgPool) -> Result<i64, StoreError> {
    let mut total = 0;
    loop {
        let row = sqlx::query("SELECT paygate_number_events($1)")
            .bind(BATCH)
            .fetch_one(pool)
            .await?;
        let numbered: i64 = row.try_get(0)?;
        total += numbered;
        if numbered < i64::from(BATCH) {
            return Ok(total);
        }
    }
}

/// The replica's numbering task. It holds the store weakly and ends with it (or when the pool
/// is closed).
pub(super) async fn run(store: Weak<Inner>, metrics: Arc<Metrics>) {
    let Some(mut commits) = store.upgrade().map(|inner| inner.committed.subscribe()) else {
        return;
    };
    let mut sweep = tokio::time::interval(SWEEP);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            changed = commits.changed() => if changed.is_err() { return },
            _ = sweep.tick() => {}
        }
        let Some(inner) = store.upgrade() else { return };
        if inner.pool.is_closed() {
            return;
        }
        // Every commit seen here is visible to the pass that follows.
        commits.borrow_and_update();
        match number_all(&inner.pool).await {
            Ok(0) => {}
            Ok(_) => inner
                .numbered
                .send_modify(|passes| *passes = passes.wrapping_add(1)),
            // Closed mid-pass: shutdown, not a failure.
            Err(_) if inner.pool.is_closed() => return,
            // The error names the database's complaint, never a URL or an event's payload.
            Err(e) => {
                metrics.event_numbering_failed();
                tracing::error!(error = %e, "numbering events failed; subscribers wait for the next pass");
            }
        }
        drop(inner);
        tokio::time::sleep(GATHER).await;
    }
}

impl PostgresStore {
    /// Numbers every event committed anywhere before the call, so that a read which follows
    /// sees every change whose call returned before it, whichever replica made it. A single
    /// index probe when the numbering task has already done it.
    pub(super) async fn number_pending(&self) -> Result<(), StoreError> {
        number_all(&self.inner.pool).await.map(|_| ())
    }
}
