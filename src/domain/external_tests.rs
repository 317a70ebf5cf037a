//! When an external operation fits the ledger now, later, or only with an operator.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use super::*;
use crate::domain::commands::AuthorizeCommand;
use crate::domain::currency::Currency;
use crate::domain::ids::{IdempotencyKey, MerchantId};
use crate::domain::payment::{CaptureMode, Outcome};
use crate::domain::provider::ProviderKind;

fn mad(minor: i64) -> Money {
    Money::new(minor, Currency::parse("MAD").unwrap()).unwrap()
}

fn t() -> Timestamp {
    Timestamp::from_micros(1_700_000_000_000_000)
}

fn ok(reference: Option<&str>) -> Outcome {
    Outcome::Succeeded {
        provider_reference: reference.map(str::to_owned),
        expires_at: None,
    }
}

/// A payment of 100.00 MAD, authorized, then each `(kind, amount, outcome)` begun and settled
/// (`None` as outcome: left open, `Some(Outcome::Unknown)`: unknown).
fn payment(steps: &[(OperationKind, i64, Option<Outcome>)]) -> Payment {
    let mut p = AuthorizeCommand {
        key: IdempotencyKey::parse("k").unwrap(),
        provider: ProviderKind::Paypal,
        amount: mad(10_000),
        merchant_reference: "order-1".into(),
        capture_mode: CaptureMode::Manual,
        customer: Default::default(),
        return_url: None,
        cancel_url: None,
        description: String::new(),
        locale: String::new(),
        metadata: Default::default(),
        payment_token: String::new(),
    }
    .open_payment(&MerchantId::parse("m").unwrap(), t());
    let auth = p.operations[0].id;
    assert!(p.settle(auth, ok(Some("AUTH1")), t()));
    for (kind, minor, outcome) in steps {
        let op = p
            .begin(
                *kind,
                Some(mad(*minor)),
                false,
                "",
                AS_DONE_BY_THE_PROVIDER,
                t(),
            )
            .unwrap();
        let id = op.id;
        p.operations.push(op);
        if let Some(outcome) = outcome {
            assert!(p.settle(id, outcome.clone(), t()));
        }
    }
    p
}

fn ext(source: ExternalSource, minor: Option<i64>, reference: &str) -> ExternalOperation {
    ExternalOperation {
        source,
        amount: minor.map(mad),
        provider_reference: reference.into(),
    }
}

fn fit(p: &Payment, e: &ExternalOperation) -> Result<OperationKind, ParkReason> {
    match p.fit_external(e, t()) {
        Fit::Apply(op) => Ok(op.kind),
        Fit::Park(reason) => Err(reason),
        other => panic!("unexpected {other:?}"),
    }
}

/// What a case is called, the steps before, the event, and what the ledger must say.
type Case = (
    &'static str,
    Vec<(OperationKind, i64, Option<Outcome>)>,
    ExternalOperation,
    Result<OperationKind, ParkReason>,
);

#[test]
fn reversals_and_refunds_fit_now_later_or_never() {
    use {ExternalSource as S, OperationKind as K, ParkReason as R};
    let captured = (K::Capture, 10_000, Some(ok(Some("CAP1"))));
    let failed = Outcome::Failed(crate::domain::Failure::new("x", "y"));
    let cases: [Case; 10] = [
        (
            "reversal of a captured payment",
            vec![captured.clone()],
            ext(S::Reversal, Some(10_000), "RV1"),
            Ok(K::Refund),
        ),
        (
            "reversal beside an open refund, room left",
            vec![captured.clone(), (K::Refund, 3_000, None)],
            ext(S::Reversal, Some(7_000), "RV1"),
            Ok(K::Refund),
        ),
        (
            "reversal the open refund's hold does not leave room for",
            vec![captured.clone(), (K::Refund, 3_000, None)],
            ext(S::Reversal, Some(10_000), "RV1"),
            Err(R::RefundOpen),
        ),
        (
            "reversal while a refund's outcome is unknown",
            vec![captured.clone(), (K::Refund, 3_000, Some(Outcome::Unknown))],
            ext(S::Reversal, Some(10_000), "RV1"),
            Err(R::RefundOpen),
        ),
        (
            "reversal while a capture's outcome is unknown (PENDING)",
            vec![
                (K::Capture, 4_000, Some(ok(Some("CAP1")))),
                (K::Capture, 6_000, Some(Outcome::Unknown)),
            ],
            ext(S::Reversal, Some(4_000), "RV1"),
            Err(R::OperationOpen),
        ),
        (
            "reversal of more than the payment ever was",
            vec![captured.clone(), (K::Refund, 3_000, None)],
            ext(S::Reversal, Some(99_900), "RV1"),
            Err(R::ExceedsCaptured),
        ),
        (
            "reversal of more than captured, nothing open",
            vec![(K::Capture, 4_000, Some(ok(Some("CAP1"))))],
            ext(S::Reversal, Some(5_000), "RV1"),
            Err(R::ExceedsCaptured),
        ),
        (
            "unattributed refund while a refund of ours is open, even with room",
            vec![captured.clone(), (K::Refund, 3_000, None)],
            ext(S::Refund, Some(1_000), "R9"),
            Err(R::RefundOpen),
        ),
        (
            "unattributed refund once ours failed",
            vec![captured.clone(), (K::Refund, 3_000, Some(failed))],
            ext(S::Refund, Some(1_000), "R9"),
            Ok(K::Refund),
        ),
        (
            "refund of a voided payment",
            vec![(K::Void, 10_000, Some(ok(None)))],
            ext(S::Refund, Some(1_000), "R9"),
            Err(R::ExceedsCaptured),
        ),
    ];
    for (what, steps, e, want) in cases {
        assert_eq!(fit(&payment(&steps), &e), want, "{what}");
    }
}

#[test]
fn a_reference_paygate_already_holds_is_recorded_not_applied_twice() {
    use OperationKind as K;
    let p = payment(&[
        (K::Capture, 10_000, Some(ok(Some("CAP1")))),
        (K::Refund, 6_000, Some(ok(Some("R1,R2")))),
    ]);
    let part = ext(ExternalSource::Refund, Some(3_000), "R2");
    assert_eq!(p.fit_external(&part, t()), Fit::AlreadyRecorded);
}

#[test]
fn voids_wait_for_an_open_capture_and_are_moot_after_one() {
    use OperationKind as K;
    let void = ext(ExternalSource::Void, None, "AUTH1");
    assert!(matches!(
        payment(&[]).fit_external(&void, t()),
        Fit::Apply(_)
    ));
    let in_flight = payment(&[(K::Capture, 4_000, None)]);
    assert_eq!(
        in_flight.fit_external(&void, t()),
        Fit::Park(ParkReason::OperationOpen)
    );
    let captured = payment(&[(K::Capture, 4_000, Some(ok(Some("CAP1"))))]);
    assert_eq!(captured.fit_external(&void, t()), Fit::Moot);
}

#[test]
fn stored_names_round_trip() {
    for r in [
        ParkReason::RefundOpen,
        ParkReason::OperationOpen,
        ParkReason::ExceedsCaptured,
        ParkReason::Refused,
    ] {
        assert_eq!(ParkReason::parse(r.as_str()), Some(r));
    }
    for s in [
        ExternalSource::Reversal,
        ExternalSource::Refund,
        ExternalSource::Void,
    ] {
        assert_eq!(ExternalSource::parse(s.as_str()), Some(s));
    }
}
