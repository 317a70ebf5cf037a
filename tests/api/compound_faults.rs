//! The fault model, end to end: generated sequences of per-attempt processor behaviours
//! (applied and answered; applied and the answer lost as a 504, a timeout or a cut
//! connection; refused before acting as 503 or 429; the breaker opening on its own) across
//! authorizations, partial and full captures, voids and refunds, with a client that does what
//! the README says (retry UNAVAILABLE/ABORTED with the same key, wait for PENDING to settle).
//!
//! The invariants, checked after the faults clear and the reconciler has run:
//! - the processor's own ledger equals paygate's to the minor unit (authorizations, captured
//!   and refunded totals), and every payment the processor holds is one paygate holds;
//! - no call answered UNAVAILABLE after the processor acted on it (its count of applied
//!   requests did not move during that call);
//! - nothing stays PENDING past the reconciliation budget.
//!
//! Runs on SQLite, and on PostgreSQL with two replicas sharing the database (calls alternate
//! between them). `PAYGATE_FAULT_CASES` sets the number of generated cases (default 6).

use crate::helpers::*;
use paygate::grpc::proto as pb;
use paygate::providers::mock::wire::{FaultStep, Faults};
use proptest::prelude::*;
use std::time::Duration;
use tokio::time::Instant;
use tonic::Code;

/// One thing the shop does after a successful authorization, in minor units.
#[derive(Debug, Clone)]
enum Step {
    Capture(Option<i64>),
    Refund(Option<i64>),
    Void,
}

#[derive(Debug, Clone)]
struct Plan {
    amount: i64,
    steps: Vec<Step>,
}

#[derive(Debug, Clone)]
struct Case {
    plans: Vec<Plan>,
    script: Vec<FaultStep>,
    /// 0: a dropped answer is a prompt 504; otherwise drops and stalls outlast the client.
    delay_ms: u64,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => prop::option::weighted(0.7, 100..4_000i64).prop_map(Step::Capture),
        3 => prop::option::weighted(0.7, 100..3_000i64).prop_map(Step::Refund),
        1 => Just(Step::Void),
    ]
}

fn fault() -> impl Strategy<Value = FaultStep> {
    prop_oneof![
        3 => Just(FaultStep::Ok),
        3 => Just(FaultStep::Drop),
        3 => Just(FaultStep::Refuse),
        1 => Just(FaultStep::RateLimit),
        1 => Just(FaultStep::Stall),
        1 => Just(FaultStep::Reset),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    let plan = (1_000..10_000i64, prop::collection::vec(step(), 1..5))
        .prop_map(|(amount, steps)| Plan { amount, steps });
    (
        prop::collection::vec(plan, 1..4),
        prop::collection::vec(fault(), 0..30),
        prop_oneof![Just(0u64), Just(700u64)],
    )
        .prop_map(|(plans, script, delay_ms)| Case {
            plans,
            script,
            delay_ms,
        })
}

/// Short timeouts so unknown outcomes are reconciled within seconds, and a breaker that opens
/// on a handful of failures, so "breaker open" happens between attempts of one call.
fn touchy(s: &mut paygate::config::Settings) {
    s.server.provider_timeout = Duration::from_millis(300);
    s.provider_calls.max_attempts = 3;
    s.provider_calls.breaker_min_calls = 4;
    s.provider_calls.breaker_failure_percent = 50;
    s.provider_calls.breaker_window = Duration::from_secs(3);
    s.provider_calls.breaker_open_for = Duration::from_millis(400);
}

/// The replicas under test; calls alternate between them.
struct Gateway {
    apps: Vec<TestApp>,
    next: usize,
}

impl Gateway {
    fn client(&mut self) -> Client {
        self.next = self.next.wrapping_add(1);
        self.apps[self.next % self.apps.len()].client()
    }

    fn first(&self) -> &TestApp {
        &self.apps[0]
    }
}

/// What a caller finally got for one call.
enum Answer {
    Payment(Box<pb::Payment>),
    /// Refused by paygate's rules or the provider's state: nothing happened.
    Refused,
}

/// Sends one call as the README says a shop should: the same key on UNAVAILABLE/ABORTED,
/// waiting for PENDING to settle. Fails the test on an UNAVAILABLE after the processor acted.
async fn call<F, Fut>(gw: &mut Gateway, what: &str, mut send: F) -> Answer
where
    F: FnMut(Client) -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<pb::Payment>, tonic::Status>>,
{
    for _ in 0..60 {
        let acted_before = gw.first().ledger().await.requests;
        match send(gw.client()).await {
            Ok(reply) => {
                let payment = reply.into_inner();
                return Answer::Payment(Box::new(settled(gw, payment).await));
            }
            Err(status) if matches!(status.code(), Code::Unavailable | Code::Aborted) => {
                let acted_after = gw.first().ledger().await.requests;
                assert_eq!(
                    acted_before, acted_after,
                    "{what}: {status:?} although the processor acted on the call"
                );
                tokio::time::sleep(Duration::from_millis(60)).await;
            }
            Err(status) if status.code() == Code::FailedPrecondition => return Answer::Refused,
            Err(status) => panic!("{what}: unexpected answer {status:?}"),
        }
    }
    panic!("{what}: no definite answer after 60 attempts");
}

/// Waits until the payment is no longer PENDING (the reconciler settles it).
async fn settled(gw: &mut Gateway, payment: pb::Payment) -> pb::Payment {
    let budget = Instant::now() + Duration::from_secs(30);
    let mut current = payment;
    while current.status() == pb::PaymentStatus::Pending {
        assert!(
            Instant::now() < budget,
            "still PENDING past the reconciliation budget: {current:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        current = gw
            .client()
            .get_payment(get_req(&current.id))
            .await
            .expect("GetPayment")
            .into_inner();
    }
    current
}

async fn run(gw: &mut Gateway, case: &Case, tag: &str) {
    let faults = Faults {
        timeout_delay_ms: case.delay_ms,
        script: case.script.clone(),
        ..Faults::default()
    };
    gw.first().mock_api().set_faults(&faults).await.unwrap();
    for (n, plan) in case.plans.iter().enumerate() {
        let key = format!("{tag}-{n}");
        let auth = call(gw, &key, |mut c| {
            let req = authorize_req(&key, plan.amount, "MAD", "mock_ok");
            async move { c.authorize(req).await }
        })
        .await;
        let Answer::Payment(payment) = auth else {
            continue;
        };
        for (s, step) in plan.steps.iter().enumerate() {
            let key = format!("{key}-{s}");
            let id = payment.id.clone();
            match step {
                Step::Capture(amount) => {
                    call(gw, &key, |mut c| {
                        let req = capture_req(&key, &id, amount.and_then(mad));
                        async move { c.capture(req).await }
                    })
                    .await
                }
                Step::Refund(amount) => {
                    call(gw, &key, |mut c| {
                        let req = refund_req(&key, &id, amount.and_then(mad));
                        async move { c.refund(req).await }
                    })
                    .await
                }
                Step::Void => {
                    call(gw, &key, |mut c| {
                        let req = void_req(&key, &id);
                        async move { c.void(req).await }
                    })
                    .await
                }
            };
        }
    }
    gw.first()
        .mock_api()
        .set_faults(&Faults::default())
        .await
        .unwrap();
    assert_ledgers_agree(gw).await;
}

/// The processor's word against paygate's books, to the minor unit.
async fn assert_ledgers_agree(gw: &mut Gateway) {
    let budget = Instant::now() + Duration::from_secs(30);
    loop {
        let payments = list_all(&mut gw.client(), None).await;
        let open = payments
            .iter()
            .filter(|p| p.status() == pb::PaymentStatus::Pending)
            .count();
        if open == 0 {
            let ledger = gw.first().ledger().await;
            let authorized = payments
                .iter()
                .filter(|p| {
                    p.operations.iter().any(|o| {
                        o.kind() == pb::OperationKind::Authorize
                            && o.status() == pb::OperationStatus::Succeeded
                    })
                })
                .count() as u64;
            let captured: i64 = payments
                .iter()
                .map(|p| amount_of(p.captured.as_ref()).0)
                .sum();
            let refunded: i64 = payments
                .iter()
                .map(|p| amount_of(p.refunded.as_ref()).0)
                .sum();
            assert_eq!(
                (
                    ledger.authorizations,
                    ledger.captured_total,
                    ledger.refunded_total
                ),
                (authorized, captured, refunded),
                "processor (authorizations, captured, refunded) vs paygate's payments: {payments:#?}"
            );
            assert!(
                ledger.payments <= payments.len() as u64,
                "the processor holds {} payments, paygate {}",
                ledger.payments,
                payments.len()
            );
            return;
        }
        assert!(
            Instant::now() < budget,
            "{open} payments still PENDING after the faults cleared"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn cases() -> u32 {
    std::env::var("PAYGATE_FAULT_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6)
}

/// Starts the gateway a property case runs against (`None`: that backend is not configured).
type MakeGateway = fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<Gateway>>>>;

fn check(make: MakeGateway) {
    let config = ProptestConfig {
        cases: cases(),
        max_shrink_iters: 8,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let counter = std::sync::atomic::AtomicU32::new(0);
    proptest!(config, |(case in case())| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let Some(mut gw) = make().await else { return };
            run(&mut gw, &case, &format!("case{n}")).await;
        });
    });
}

#[test]
fn sqlite_ledgers_agree_with_the_processor_under_generated_compound_faults() {
    check(|| {
        Box::pin(async {
            Some(Gateway {
                apps: vec![TestApp::spawn_with(touchy).await],
                next: 0,
            })
        })
    });
}

#[test]
fn postgres_two_replicas_agree_with_the_processor_under_generated_compound_faults() {
    check(|| {
        Box::pin(async {
            let a = TestApp::spawn_postgres_with(touchy).await?;
            let b = a.spawn_replica().await;
            Some(Gateway {
                apps: vec![a, b],
                next: 0,
            })
        })
    });
}
