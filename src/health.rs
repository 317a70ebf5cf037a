//! What `grpc.health.v1` and `paygate_database_up` say, and the supervised checker that keeps
//! them current (DESIGN.md §9: SERVING only while the database answers).
//!
//! tonic's health service answers from the last status set, so a checker that died would
//! leave health SERVING forever. The checker therefore runs under [`supervise_with`], and its
//! death sets NOT_SERVING until a restarted checker has seen the database answer again.
//!
//! The checker's verdict also feeds two things that must not wait on the database themselves:
//! `/readyz` answers from [`Readiness`], never queued behind the SQLite writer or a dead
//! PostgreSQL connection, and the store's gate (`Store::mark_reachable`) makes every call fail
//! at once while the database is known down instead of each waiting out its own timeout.

use crate::shutdown::Trigger;
use crate::store::Store;
use crate::supervise::supervise_with;
use crate::telemetry::Metrics;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// How often health is re-checked against the database.
const INTERVAL: Duration = Duration::from_secs(1);
/// A ping that takes longer counts as "down": a hung database is as unready as a closed one,
/// and a checker waiting on it would otherwise leave the last status in place.
const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// The names health is reported under: the whole server, and the API.
const SERVICES: [&str; 2] = ["", "paygate.v1.PaymentGateway"];

/// The last health verdict, as `/readyz` reports it: true while the last ping answered and
/// the checker is alive.
#[derive(Clone)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// `App::build` starts ready: opening the store has just reached the database.
    pub fn new(ready: bool) -> Self {
        Self(Arc::new(AtomicBool::new(ready)))
    }

    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Release);
    }
}

/// What the checker reports to: gRPC health, the metric, `/readyz` and the store's gate.
#[derive(Clone)]
pub struct Reporters {
    pub grpc: HealthReporter,
    pub metrics: Arc<Metrics>,
    pub readiness: Readiness,
}

/// Keeps health current until `stop` fires, restarting the checker if it dies.
pub fn run(store: Store, to: Reporters, stop: Trigger) -> impl Future<Output = ()> {
    let check = {
        let (to, stop) = (to.clone(), stop.clone());
        move || watch(store.clone(), to.clone(), stop.wait())
    };
    supervised(check, to, &stop)
}

/// The checker `check` under supervision, NOT_SERVING whenever it has died.
fn supervised<C, F>(check: C, to: Reporters, stop: &Trigger) -> impl Future<Output = ()> + use<C, F>
where
    C: FnMut() -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let metrics = to.metrics.clone();
    let died = move || checker_died(to.clone());
    supervise_with("health", metrics, stop.wait(), check, died)
}

/// With no checker nobody knows whether the database answers: say "not serving" rather than
/// keep the last answer. The store's gate is left as it was: a checker bug alone must not
/// turn every request away.
async fn checker_died(to: Reporters) {
    to.metrics.set_database_up(false);
    to.readiness.set(false);
    set(&to.grpc, ServingStatus::NotServing).await;
}

/// Pings the database every [`INTERVAL`] and reports the answer, until `stop` resolves.
/// Also exported as `paygate_database_up`, so an alert can tell a database outage from a
/// provider outage.
async fn watch(store: Store, to: Reporters, stop: impl Future<Output = ()> + Send) {
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(INTERVAL);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = tick.tick() => {}
        }
        let up = matches!(
            tokio::time::timeout(PING_TIMEOUT, store.ping()).await,
            Ok(Ok(()))
        );
        store.mark_reachable(up);
        to.readiness.set(up);
        to.metrics.set_database_up(up);
        let status = if up {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        set(&to.grpc, status).await;
    }
}

async fn set(reporter: &HealthReporter, status: ServingStatus) {
    for service in SERVICES {
        reporter.set_service_status(service, status).await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus as Pb;
    use tonic_health::pb::health_server::Health;
    use tonic_health::server::HealthService;

    async fn status(health: &HealthService, service: &str) -> Pb {
        let request = tonic::Request::new(HealthCheckRequest {
            service: service.to_owned(),
        });
        let answer = health.check(request).await.unwrap().into_inner();
        answer.status()
    }

    /// A checker that reports SERVING, then panics on its first run and stays up after.
    #[tokio::test(start_paused = true)]
    async fn health_is_not_serving_while_its_checker_is_dead() {
        let reporter = HealthReporter::new();
        let health = HealthService::from_health_reporter(reporter.clone());
        let metrics = Arc::new(Metrics::new());
        let stop = Trigger::new();
        let runs = Arc::new(AtomicU32::new(0));
        let check = {
            let (reporter, metrics, runs, stop) = (
                reporter.clone(),
                metrics.clone(),
                runs.clone(),
                stop.clone(),
            );
            move || {
                let (reporter, metrics, stop) = (reporter.clone(), metrics.clone(), stop.wait());
                let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
                async move {
                    metrics.set_database_up(true);
                    set(&reporter, ServingStatus::Serving).await;
                    if run == 1 {
                        panic!("checker bug");
                    }
                    stop.await;
                }
            }
        };
        let readiness = Readiness::new(true);
        let to = Reporters {
            grpc: reporter,
            metrics: metrics.clone(),
            readiness: readiness.clone(),
        };
        let task = tokio::spawn(supervised(check, to, &stop));

        // Dead, and not restarted yet (the first pause is 1 s).
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        for service in SERVICES {
            assert_eq!(
                status(&health, service).await,
                Pb::NotServing,
                "{service:?}"
            );
        }
        assert!(!readiness.is_ready(), "/readyz follows the dead checker");
        let text = metrics.render().unwrap();
        assert!(text.contains("paygate_database_up 0"), "{text}");
        assert!(
            text.contains("paygate_background_task_restarts_total{task=\"health\"} 1"),
            "{text}"
        );

        // Restarted: the new checker reports again.
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(status(&health, "").await, Pb::Serving);
        stop.fire();
        task.await.unwrap();
    }
}
