//! Offering the load: closed loop (every worker sends again as soon as it has an answer) or
//! open loop (requests due on a fixed schedule, whatever the server does).
//!
//! In the open loop the latency of a request runs from the time it was *due*, not from when a
//! free worker finally sent it. Otherwise a server that stalls would make the generator wait
//! politely and hide the stall from the percentiles (coordinated omission). In-flight requests
//! are capped by the number of workers; a request still queued when the run ends is reported
//! as a `NOT_SENT` error rather than silently dropped.

use crate::target::{Samples, Scenario, Target};
use std::num::NonZeroU32;
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinSet;
use tokio::time::{Duration, Instant, sleep_until};

/// How long workers may keep draining a backlog after the window closes, so an overloaded
/// server still ends the run.
const DRAIN: Duration = Duration::from_secs(5);

/// One scenario's run.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub scenario: Scenario,
    /// Load offered but not recorded first, so connections, caches and the database are warm.
    pub warmup: Duration,
    pub duration: Duration,
    /// Workers, and so the most requests in flight at once.
    pub concurrency: usize,
    /// Requests (iterations) due per second; `None` runs the closed loop.
    pub rate: Option<NonZeroU32>,
}

/// The times that frame a run: started, recording from, no new requests from.
#[derive(Debug, Clone, Copy)]
struct Window {
    measure_from: Instant,
    end: Instant,
}

/// Runs the plan over `targets` (workers are spread round-robin over the connections) and
/// returns what the measured window recorded.
pub async fn run(plan: Plan, targets: &[Target]) -> anyhow::Result<Samples> {
    anyhow::ensure!(!targets.is_empty(), "no connection to send on");
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let window = Window {
        measure_from,
        end: measure_from + plan.duration,
    };
    let workers = targets.iter().cycle().take(plan.concurrency).cloned();
    match plan.rate {
        None => {
            let mut set = JoinSet::new();
            for target in workers {
                set.spawn(closed_worker(target, plan.scenario, window));
            }
            collect(set).await
        }
        Some(rate) => {
            let (tx, rx) = mpsc::unbounded_channel();
            let queue = Arc::new(Mutex::new(rx));
            let mut set = JoinSet::new();
            for target in workers {
                set.spawn(open_worker(
                    target,
                    plan.scenario,
                    window,
                    Arc::clone(&queue),
                ));
            }
            drop(queue);
            let due_in_window = schedule(tx, start, window, rate).await;
            let mut samples = collect(set).await?;
            let not_sent = due_in_window.saturating_sub(samples.main.completed());
            samples.main.errors_of("NOT_SENT", not_sent);
            Ok(samples)
        }
    }
}

async fn collect(mut set: JoinSet<Samples>) -> anyhow::Result<Samples> {
    let mut all = Samples::default();
    while let Some(done) = set.join_next().await {
        all.merge(done?);
    }
    Ok(all)
}

async fn closed_worker(mut target: Target, scenario: Scenario, window: Window) -> Samples {
    let mut measured = Samples::default();
    let mut warmup = Samples::default();
    loop {
        let sent = Instant::now();
        if sent >= window.end {
            return measured;
        }
        let into = if sent >= window.measure_from {
            &mut measured
        } else {
            &mut warmup
        };
        target.once(scenario, sent, into).await;
    }
}

async fn open_worker(
    mut target: Target,
    scenario: Scenario,
    window: Window,
    queue: Arc<Mutex<mpsc::UnboundedReceiver<Instant>>>,
) -> Samples {
    let mut measured = Samples::default();
    let mut warmup = Samples::default();
    let stop = window.end + DRAIN;
    loop {
        let next = queue.lock().await.recv().await;
        let Some(due) = next else {
            return measured;
        };
        if Instant::now() >= stop {
            return measured;
        }
        let into = if due >= window.measure_from {
            &mut measured
        } else {
            &mut warmup
        };
        target.once(scenario, due, into).await;
    }
}

/// Releases each request at its due time and returns how many fell in the measured window.
/// Dropping `tx` at the end tells the workers that no more will come.
async fn schedule(
    tx: mpsc::UnboundedSender<Instant>,
    start: Instant,
    window: Window,
    rate: NonZeroU32,
) -> u64 {
    let mut due_in_window = 0;
    for tick in 0_u64.. {
        let due = due_at(start, tick, rate);
        if due >= window.end {
            break;
        }
        // Timers tick per millisecond, so at high rates several requests go out together;
        // each still carries its own due time.
        if due > Instant::now() {
            sleep_until(due).await;
        }
        if tx.send(due).is_err() {
            break;
        }
        if due >= window.measure_from {
            due_in_window += 1;
        }
    }
    due_in_window
}

/// The due time of request number `tick`, computed from the start rather than by adding an
/// interval each time, so rounding never accumulates into drift.
fn due_at(start: Instant, tick: u64, rate: NonZeroU32) -> Instant {
    let nanos = u128::from(tick) * 1_000_000_000 / u128::from(rate.get());
    start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn due_times_do_not_drift() {
        let start = Instant::now();
        let rate = NonZeroU32::new(3).unwrap();
        assert_eq!(due_at(start, 0, rate), start);
        assert_eq!(
            due_at(start, 1, rate) - start,
            Duration::from_nanos(333_333_333)
        );
        assert_eq!(due_at(start, 3, rate) - start, Duration::from_secs(1));
        assert_eq!(
            due_at(start, 3_000_000, rate) - start,
            Duration::from_secs(1_000_000)
        );
    }

    // Real time (tokio's paused clock needs the test-util feature): 60 ms at 1000/s.
    #[tokio::test]
    async fn the_schedule_releases_requests_on_time_and_counts_the_window() {
        let start = Instant::now();
        let window = Window {
            measure_from: start + Duration::from_millis(20),
            end: start + Duration::from_millis(60),
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let rate = NonZeroU32::new(1000).unwrap();
        let in_window = schedule(tx, start, window, rate).await;
        assert!(
            Instant::now() >= start + Duration::from_millis(59),
            "released on schedule"
        );
        assert_eq!(in_window, 40, "40 ms at 1000/s after a 20 ms warm-up");
        let mut due = Vec::new();
        while let Some(at) = rx.recv().await {
            due.push(at - start);
        }
        assert_eq!(due.len(), 60);
        assert_eq!(due.last().copied(), Some(Duration::from_millis(59)));
    }
}
