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
//! between them), against the mock processor; and against the PayPal emulator (lost answers,
//! 5xx, 429 and late answers on captures and refunds, split refunds included), whose request
//! ids are scoped to the resource they were sent to. `PAYGATE_FAULT_CASES` sets the number of
//! generated cases (default 6).

use crate::emulators::paypal::{Emulator, Fault};
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

/// The replicas under test (calls alternate between them), and the PayPal emulator when
/// PayPal is the provider (otherwise the first app's mock processor keeps the books).
struct Gateway {
    apps: Vec<TestApp>,
    next: usize,
    paypal: Option<Emulator>,
}

impl Gateway {
    fn client(&mut self) -> Client {
        self.next = self.next.wrapping_add(1);
        self.apps[self.next % self.apps.len()].client()
    }

    fn first(&self) -> &TestApp {
        &self.apps[0]
    }

    /// What the provider has done so far: it must not change during a call answered
    /// UNAVAILABLE.
    async fn acted(&self) -> Vec<i64> {
        match &self.paypal {
            Some(emu) => {
                let books = emu.ledger();
                vec![
                    books.captures.values().map(|c| c.cents).sum(),
                    books.refunds.values().map(|r| r.cents).sum(),
                    books.refunds.len() as i64,
                ]
            }
            None => vec![self.first().ledger().await.requests as i64],
        }
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
        let acted_before = gw.acted().await;
        match send(gw.client()).await {
            Ok(reply) => {
                let payment = reply.into_inner();
                return Answer::Payment(Box::new(settled(gw, payment).await));
            }
            Err(status) if matches!(status.code(), Code::Unavailable | Code::Aborted) => {
                let acted_after = gw.acted().await;
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
        run_steps(gw, plan, &payment, &key).await;
    }
    gw.first()
        .mock_api()
        .set_faults(&Faults::default())
        .await
        .unwrap();
    assert_ledgers_agree(gw).await;
}

/// The plan's captures, refunds and voids on an authorized payment, each as the README says.
async fn run_steps(gw: &mut Gateway, plan: &Plan, payment: &pb::Payment, key: &str) {
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
            if let Some(emu) = &gw.paypal {
                let books = emu.ledger();
                let (captured, refunded) = paygate_totals(&payments);
                assert_eq!(
                    (
                        books.captures.values().map(|c| c.cents).sum::<i64>(),
                        books.refunds.values().map(|r| r.cents).sum::<i64>()
                    ),
                    (captured, refunded),
                    "PayPal (captured, refunded) vs paygate's payments: {payments:#?}"
                );
                return;
            }
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
            let (captured, refunded) = paygate_totals(&payments);
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

/// Captured and refunded, summed over paygate's payments.
fn paygate_totals(payments: &[pb::Payment]) -> (i64, i64) {
    let sum = |f: fn(&pb::Payment) -> Option<&pb::Money>| -> i64 {
        payments.iter().map(|p| amount_of(f(p)).0).sum()
    };
    (sum(|p| p.captured.as_ref()), sum(|p| p.refunded.as_ref()))
}

fn cases() -> u32 {
    std::env::var("PAYGATE_FAULT_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6)
}

/// Starts the replicas of one case; `None` when their database is not configured here.
type Spawn = fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<Gateway>>>>;

fn check(make: Spawn) {
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
                paypal: None,
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
                paypal: None,
            })
        })
    });
}

/// One fault aimed at the next capture or refund call PayPal receives.
fn paypal_fault() -> impl Strategy<Value = (&'static str, Fault)> {
    let op = prop_oneof![Just("capture_authorization"), Just("refund_capture")];
    let fault = prop_oneof![
        3 => Just(Fault::LoseAnswer),
        2 => Just(Fault::Status(503)),
        1 => Just(Fault::Status(502)),
        2 => Just(Fault::RateLimit),
        1 => Just(Fault::SlowAnswer(Duration::from_millis(900))),
        2 => Just(Fault::Act),
    ];
    (op, fault)
}

#[test]
fn paypal_ledgers_agree_with_the_emulator_under_generated_compound_faults() {
    let config = ProptestConfig {
        cases: cases(),
        max_shrink_iters: 8,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let plan = (2_000..10_000i64, prop::collection::vec(step(), 1..5))
        .prop_map(|(amount, steps)| Plan { amount, steps });
    let generated = (
        prop::collection::vec(plan, 1..3),
        prop::collection::vec(paypal_fault(), 0..12),
    );
    let counter = std::sync::atomic::AtomicU32::new(0);
    proptest!(config, |((plans, faults) in generated)| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let emu = Emulator::spawn().await;
            let app = TestApp::spawn_paypal_timeout(&emu, Duration::from_millis(500)).await;
            let mut payments = Vec::new();
            for (i, plan) in plans.iter().enumerate() {
                let key = format!("pp{n}-{i}");
                payments.push(crate::paypal::authorized_payment(&app, &emu, &key, plan.amount).await);
            }
            for (op, fault) in &faults {
                emu.fail_next(op, *fault);
            }
            let mut gw = Gateway { apps: vec![app], next: 0, paypal: Some(emu) };
            for (i, (plan, payment)) in plans.iter().zip(&payments).enumerate() {
                run_steps(&mut gw, plan, payment, &format!("pp{n}-{i}")).await;
            }
            assert_ledgers_agree(&mut gw).await;
        });
    });
}
