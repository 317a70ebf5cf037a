//! Keeps a background task running until shutdown: a run that panics, or returns while it
//! should not, is logged at error, counted in `paygate_background_task_restarts_total{task}`
//! and started again after a pause.
//!
//! Without this, a panic in a task spawned and forgotten ends it silently: the health checker
//! would leave health at whatever it last said, the reconciler would stop settling unknown
//! operations, and nothing would say so. The pause starts at 1 s and doubles up to 30 s, so a
//! task that fails at once on every start (a bug, a table that is missing) cannot spin; a run
//! that lasted a while was healthy, and after it the pause starts from 1 s again.

use crate::telemetry::Metrics;
use futures::FutureExt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinError;
use tokio::time::Instant;

/// The pause before the first restart.
const FIRST_PAUSE: Duration = Duration::from_secs(1);
/// The longest pause: a task still failing comes back twice a minute.
const MAX_PAUSE: Duration = Duration::from_secs(30);
/// A run that lasted this long was healthy: the next restart waits only [`FIRST_PAUSE`].
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// The supervisor of the task `name`: it runs a fresh future from `start` until `stop`
/// resolves, restarting it whenever it panics or returns before that.
///
/// Each future from `start` must end by itself once shutdown begins (each task takes its own
/// stop future, like every task in paygate); the supervisor then waits for it, so when the
/// supervisor's future completes the task has stopped. The task's restart series is exported
/// (at 0) as soon as this is called, before the returned future first runs.
pub fn supervise<S, F>(
    name: &'static str,
    metrics: Arc<Metrics>,
    stop: impl Future<Output = ()>,
    start: S,
) -> impl Future<Output = ()>
where
    S: FnMut() -> F,
    F: Future<Output = ()> + Send + 'static,
{
    supervise_with(name, metrics, stop, start, || std::future::ready(()))
}

/// [`supervise`], running `died` each time the task has ended early, before the pause: for
/// state that would otherwise go stale while nothing keeps it current (health: NOT_SERVING).
pub fn supervise_with<S, F, D, G>(
    name: &'static str,
    metrics: Arc<Metrics>,
    stop: impl Future<Output = ()>,
    start: S,
    died: D,
) -> impl Future<Output = ()>
where
    S: FnMut() -> F,
    F: Future<Output = ()> + Send + 'static,
    D: FnMut() -> G,
    G: Future<Output = ()>,
{
    metrics.background_task_supervised(name);
    run(name, metrics, stop, start, died)
}

async fn run<S, F, D, G>(
    name: &'static str,
    metrics: Arc<Metrics>,
    stop: impl Future<Output = ()>,
    mut start: S,
    mut died: D,
) where
    S: FnMut() -> F,
    F: Future<Output = ()> + Send + 'static,
    D: FnMut() -> G,
    G: Future<Output = ()>,
{
    tokio::pin!(stop);
    let mut pause = FIRST_PAUSE;
    loop {
        let started = Instant::now();
        // Its own task: a panic unwinds that task only, and the run uses the worker pool.
        let mut run = tokio::spawn(start());
        let ended = tokio::select! {
            biased;
            () = &mut stop => None,
            ended = &mut run => Some(ended),
        };
        let Some(ended) = ended else {
            // The run has the same stop signal and ends on its own: wait for it.
            let _ = run.await;
            return;
        };
        // It may have returned because shutdown began just now: that is no failure.
        if stop.as_mut().now_or_never().is_some() {
            return;
        }
        report(name, ended);
        metrics.background_task_restarted(name);
        died().await;
        if started.elapsed() >= HEALTHY_RUN {
            pause = FIRST_PAUSE;
        }
        tokio::select! {
            biased;
            () = &mut stop => return,
            () = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

fn report(name: &'static str, ended: Result<(), JoinError>) {
    match ended {
        Ok(()) => tracing::error!(
            task = name,
            "background task returned before shutdown; restarting it"
        ),
        Err(e) if e.is_panic() => {
            let panic = e.into_panic();
            let message = panic
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(no message)");
            tracing::error!(task = name, panic = %message, "background task panicked; restarting it");
        }
        Err(e) => tracing::error!(
            task = name,
            error = %e,
            "background task was cancelled; restarting it"
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::shutdown::Trigger;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Restarts of `task` as /metrics shows them.
    fn restarts(metrics: &Metrics, task: &str) -> u64 {
        let series = format!("paygate_background_task_restarts_total{{task=\"{task}\"}} ");
        let text = metrics.render().unwrap();
        text.lines()
            .find_map(|line| line.strip_prefix(series.as_str()))
            .map_or(0, |v| v.trim().parse().unwrap())
    }

    /// A task that panics on its first `failures` runs, then runs until `stop` fires; it
    /// counts its starts in `runs`.
    fn flaky(
        failures: u32,
        runs: Arc<AtomicU32>,
        stop: Trigger,
    ) -> impl FnMut() -> futures::future::BoxFuture<'static, ()> {
        move || {
            let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
            let stop = stop.wait();
            Box::pin(async move {
                if run <= failures {
                    panic!("run {run} fails");
                }
                stop.await;
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_that_panics_is_restarted_counted_and_stopped_at_shutdown() {
        let metrics = Arc::new(Metrics::new());
        let stop = Trigger::new();
        let runs = Arc::new(AtomicU32::new(0));
        let supervisor = tokio::spawn(supervise(
            "flaky",
            metrics.clone(),
            stop.wait(),
            flaky(2, runs.clone(), stop.clone()),
        ));
        // Two failures: restarts after 1 s, then after 2 s more.
        tokio::time::sleep(Duration::from_millis(3_500)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3, "restarted after each panic");
        assert_eq!(restarts(&metrics, "flaky"), 2);

        stop.fire();
        tokio::time::timeout(Duration::from_secs(1), supervisor)
            .await
            .expect("the supervisor stops at shutdown")
            .unwrap();
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert_eq!(
            runs.load(Ordering::SeqCst),
            3,
            "nothing runs after shutdown"
        );
        assert_eq!(restarts(&metrics, "flaky"), 2, "a stop is not a restart");
    }

    #[tokio::test(start_paused = true)]
    async fn the_pause_doubles_up_to_thirty_seconds() {
        let metrics = Arc::new(Metrics::new());
        let stop = Trigger::new();
        let starts = Arc::new(Mutex::new(Vec::new()));
        let begun = Instant::now();
        let supervisor = tokio::spawn(supervise("returns", metrics.clone(), stop.wait(), {
            let starts = starts.clone();
            // Returns at once, as a loop that breaks by mistake would.
            move || {
                starts.lock().unwrap().push(begun.elapsed().as_secs());
                std::future::ready(())
            }
        }));
        tokio::time::sleep(Duration::from_secs(200)).await;
        stop.fire();
        supervisor.await.unwrap();
        let starts = starts.lock().unwrap().clone();
        assert_eq!(starts, [0, 1, 3, 7, 15, 31, 61, 91, 121, 151, 181]);
        assert_eq!(restarts(&metrics, "returns"), 11);
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_healthy_run_the_pause_starts_again_from_one_second() {
        let metrics = Arc::new(Metrics::new());
        let stop = Trigger::new();
        let starts = Arc::new(Mutex::new(Vec::new()));
        let begun = Instant::now();
        let supervisor = tokio::spawn(supervise("slow", metrics, stop.wait(), {
            let starts = starts.clone();
            // Each run works for 100 s, then returns by mistake.
            move || {
                starts.lock().unwrap().push(begun.elapsed().as_secs());
                tokio::time::sleep(Duration::from_secs(100))
            }
        }));
        tokio::time::sleep(Duration::from_secs(350)).await;
        stop.fire();
        supervisor.await.unwrap();
        assert_eq!(*starts.lock().unwrap(), [0, 101, 202, 303]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stopped_supervisor_does_not_restart() {
        let metrics = Arc::new(Metrics::new());
        let stop = Trigger::new();
        let runs = Arc::new(AtomicU32::new(0));
        let deaths = Arc::new(AtomicU32::new(0));
        let supervisor = tokio::spawn(supervise_with(
            "doomed",
            metrics.clone(),
            stop.wait(),
            flaky(u32::MAX, runs.clone(), stop.clone()),
            {
                let deaths = deaths.clone();
                move || {
                    deaths.fetch_add(1, Ordering::SeqCst);
                    std::future::ready(())
                }
            },
        ));
        // The first run has died; shutdown begins during the pause before the restart.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(
            deaths.load(Ordering::SeqCst),
            1,
            "`died` runs on each death"
        );
        stop.fire();
        tokio::time::timeout(Duration::from_millis(10), supervisor)
            .await
            .expect("a stop ends the pause at once")
            .unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1, "no restart after shutdown");
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_ending_because_of_shutdown_is_not_restarted() {
        let metrics = Arc::new(Metrics::new());
        let stop = Trigger::new();
        let runs = Arc::new(AtomicU32::new(0));
        let supervisor = tokio::spawn(supervise(
            "steady",
            metrics.clone(),
            stop.wait(),
            flaky(0, runs.clone(), stop.clone()),
        ));
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(
            restarts(&metrics, "steady"),
            0,
            "exported at 0 from the start"
        );
        stop.fire();
        supervisor.await.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(restarts(&metrics, "steady"), 0);
    }
}
