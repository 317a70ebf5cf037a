//! The provider HTTP stack under a failing processor: 30% of calls refused and 500 ms added to
//! each. The service stays up, every acknowledged payment is in the ledger, nothing is charged
//! twice or without a record, and the circuit breaker opens, then closes once the processor heals.

use crate::helpers::*;
use paygate::grpc::proto as pb;
use paygate::providers::mock::wire::Faults;
use std::collections::HashSet;
use std::time::Duration;
use tokio::time::Instant;

const WORKERS: usize = 16;

async fn spawn_touchy() -> TestApp {
    TestApp::spawn_with(|s| {
        s.server.provider_timeout = Duration::from_secs(3);
        s.provider_calls.max_attempts = 3;
        s.provider_calls.breaker_min_calls = 10;
        s.provider_calls.breaker_failure_percent = 20;
        s.provider_calls.breaker_window = Duration::from_secs(5);
        s.provider_calls.breaker_open_for = Duration::from_secs(1);
    })
    .await
}

/// Authorizes with fresh keys from `WORKERS` tasks for `length`; returns the ids acknowledged
/// OK and how many calls were refused UNAVAILABLE. Any other answer fails the test.
async fn load(app: &TestApp, tag: &str, length: Duration) -> (Vec<String>, usize) {
    let until = Instant::now() + length;
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let mut client = app.client();
        let tag = tag.to_owned();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut unavailable) = (Vec::new(), 0);
            let mut n = 0;
            while Instant::now() < until {
                n += 1;
                let key = format!("{tag}-{w}-{n}");
                match client
                    .authorize(authorize_req(&key, 1_000, "MAD", "mock_ok"))
                    .await
                {
                    Ok(p) => ok.push(p.into_inner().id),
                    Err(s) if s.code() == tonic::Code::Unavailable => {
                        assert_eq!(reason(&s), "PROVIDER_UNAVAILABLE", "{s:?}");
                        unavailable += 1;
                    }
                    Err(s) => panic!("unexpected answer under faults: {s:?}"),
                }
            }
            (ok, unavailable)
        }));
    }
    let (mut ok, mut unavailable) = (Vec::new(), 0);
    for t in tasks {
        let (o, u) = t.await.unwrap();
        ok.extend(o);
        unavailable += u;
    }
    (ok, unavailable)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flaky_slow_processor_opens_the_breaker_loses_nothing_and_recovers() {
    let app = spawn_touchy().await;
    let faults = Faults {
        latency_ms: 500,
        error_rate_percent: 30,
        ..Faults::default()
    };
    app.mock_api().set_faults(&faults).await.unwrap();

    let (acked, refused) = load(&app, "flaky", Duration::from_secs(4)).await;
    let metrics = app.metrics().await;
    let opened = metric_value(
        &metrics,
        "paygate_provider_circuit_transitions_total{provider=\"mock\",merchant=\"default\",state=\"open\"}",
    );
    assert!(opened >= 1.0, "the breaker never opened:\n{metrics}");
    assert!(refused > 0, "some calls must have been refused fast");
    // The service stayed up: it answers health and reads while the processor misbehaves.
    let (status, _) = app.http_get("/readyz").await;
    assert_eq!(status, 200);

    app.mock_api().set_faults(&Faults::default()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let (healed, _) = load(&app, "healed", Duration::from_secs(1)).await;
    assert!(
        !healed.is_empty(),
        "calls succeed again once the processor heals"
    );
    let metrics = app.metrics().await;
    assert!(
        metric_value(
            &metrics,
            "paygate_provider_circuit_transitions_total{provider=\"mock\",merchant=\"default\",state=\"closed\"}"
        ) >= 1.0,
        "the breaker never closed again:\n{metrics}"
    );
    assert_eq!(
        metric_value(
            &metrics,
            "paygate_provider_circuit_open{provider=\"mock\",merchant=\"default\"}"
        ),
        0.0
    );

    // Nothing acknowledged is lost, and the processor charged exactly what paygate recorded.
    let mut client = app.client();
    let all: Vec<String> = acked.iter().chain(&healed).cloned().collect();
    for id in &all {
        let p = client.get_payment(get_req(id)).await.unwrap().into_inner();
        assert_eq!(p.status(), pb::PaymentStatus::Authorized, "{id}");
    }
    let stored = app.list_all().await;
    let authorized: HashSet<_> = stored
        .iter()
        .filter(|p| p.status() == pb::PaymentStatus::Authorized)
        .map(|p| p.id.clone())
        .collect();
    assert_eq!(authorized, all.iter().cloned().collect::<HashSet<_>>());
    assert_eq!(app.ledger().await.authorizations, authorized.len() as u64);
    assert!(stored.iter().all(|p| matches!(
        p.status(),
        pb::PaymentStatus::Authorized | pb::PaymentStatus::Failed
    )));
}
