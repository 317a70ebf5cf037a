//! State machine and invariant tests for `Payment`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::*;
use crate::domain::commands::AuthorizeCommand;
use crate::domain::currency::Currency;
use crate::domain::ids::IdempotencyKey;
use crate::domain::provider::Capabilities;

const ALL: Capabilities = Capabilities {
    partial_capture: true,
    multiple_captures: true,
    void: true,
    partial_refund: true,
    multiple_refunds: true,
    refunds_per_capture: false,
    max_minor: i64::MAX,
};

fn mad(minor: i64) -> Money {
    Money::new(minor, Currency::parse("MAD").unwrap()).unwrap()
}

fn t() -> Timestamp {
    Timestamp::from_micros(1_700_000_000_000_000)
}

fn payment(amount: i64, mode: CaptureMode) -> Payment {
    let cmd = AuthorizeCommand {
        key: IdempotencyKey::parse("k").unwrap(),
        provider: ProviderKind::Mock,
        amount: mad(amount),
        merchant_reference: "order-1".into(),
        capture_mode: mode,
        customer: Default::default(),
        return_url: None,
        cancel_url: None,
        description: String::new(),
        locale: String::new(),
        metadata: Default::default(),
        payment_token: String::new(),
    };
    cmd.open_payment(&MerchantId::parse("m").unwrap(), t())
}

fn authorized(amount: i64) -> Payment {
    let mut p = payment(amount, CaptureMode::Manual);
    let id = p.operations[0].id;
    assert!(p.settle(
        id,
        Outcome::Succeeded {
            provider_reference: Some("mp_1".into()),
            expires_at: None,
        },
        t()
    ));
    p
}

/// Begins and settles one operation, returning the payment's status.
fn run(
    p: &mut Payment,
    kind: OperationKind,
    amount: Option<i64>,
    outcome: Outcome,
) -> Result<PaymentStatus, Refusal> {
    let op = p.begin(kind, amount.map(mad), false, "", ALL, t())?;
    let id = op.id;
    p.operations.push(op);
    p.settle(id, outcome, t());
    Ok(p.status)
}

fn ok() -> Outcome {
    Outcome::Succeeded {
        provider_reference: None,
        expires_at: None,
    }
}

#[test]
fn new_payment_is_pending_until_the_provider_answers() {
    assert_eq!(
        payment(100, CaptureMode::Manual).derive_status(),
        PaymentStatus::Pending
    );
}

#[test]
fn automatic_capture_lands_in_captured() {
    let mut p = payment(100, CaptureMode::Automatic);
    let id = p.operations[0].id;
    p.settle(id, ok(), t());
    assert_eq!((p.status, p.captured), (PaymentStatus::Captured, 100));
}

#[test]
fn happy_path_partial_captures_then_refunds() {
    let mut p = authorized(10_000);
    assert_eq!(
        run(&mut p, OperationKind::Capture, Some(4_000), ok()),
        Ok(PaymentStatus::PartiallyCaptured)
    );
    assert_eq!(
        run(&mut p, OperationKind::Capture, Some(6_000), ok()),
        Ok(PaymentStatus::Captured)
    );
    assert_eq!(
        run(&mut p, OperationKind::Refund, Some(2_500), ok()),
        Ok(PaymentStatus::PartiallyRefunded)
    );
    assert_eq!(
        run(&mut p, OperationKind::Refund, None, ok()),
        Ok(PaymentStatus::Refunded)
    );
    assert_eq!((p.captured, p.refunded), (10_000, 10_000));
}

#[test]
fn final_capture_closes_capturing() {
    let mut p = authorized(10_000);
    let op = p
        .begin(OperationKind::Capture, Some(mad(3_000)), true, "", ALL, t())
        .unwrap();
    let id = op.id;
    p.operations.push(op);
    p.settle(id, ok(), t());
    assert_eq!(p.status, PaymentStatus::Captured);
    assert!(matches!(
        p.begin(OperationKind::Capture, Some(mad(1)), false, "", ALL, t()),
        Err(Refusal::InvalidState { .. })
    ));
}

#[test]
fn a_capture_is_final_where_the_provider_takes_only_one() {
    let one_capture = Capabilities {
        multiple_captures: false,
        ..ALL
    };
    let mut p = authorized(10_000);
    let op = p
        .begin(
            OperationKind::Capture,
            Some(mad(4_000)),
            false,
            "",
            one_capture,
            t(),
        )
        .unwrap();
    assert!(op.final_capture, "implied by the provider");
    let id = op.id;
    p.operations.push(op);
    p.settle(id, ok(), t());
    assert_eq!(p.status, PaymentStatus::Captured);
    assert_eq!(
        (p.captured, p.capturable(), p.refundable()),
        (4_000, 0, 4_000)
    );
    // A capture the provider refused closes nothing: the authorization is still whole.
    let mut q = authorized(10_000);
    let op = q
        .begin(
            OperationKind::Capture,
            Some(mad(4_000)),
            false,
            "",
            one_capture,
            t(),
        )
        .unwrap();
    let id = op.id;
    q.operations.push(op);
    q.settle(id, Outcome::Failed(Failure::new("refused", "no")), t());
    assert_eq!(
        (q.status, q.capturable()),
        (PaymentStatus::Authorized, 10_000)
    );
    // Where several captures are allowed, a partial one leaves the rest capturable.
    let mut r = authorized(10_000);
    assert_eq!(
        run(&mut r, OperationKind::Capture, Some(4_000), ok()),
        Ok(PaymentStatus::PartiallyCaptured)
    );
    assert_eq!(r.capturable(), 6_000);
}

#[test]
fn void_only_before_capture_and_nothing_after_void() {
    let mut p = authorized(100);
    assert_eq!(
        run(&mut p, OperationKind::Void, None, ok()),
        Ok(PaymentStatus::Voided)
    );
    for kind in [
        OperationKind::Capture,
        OperationKind::Refund,
        OperationKind::Void,
    ] {
        assert!(
            matches!(
                p.begin(kind, None, false, "", ALL, t()),
                Err(Refusal::InvalidState { .. })
            ),
            "{kind:?}"
        );
    }
    let mut q = authorized(100);
    run(&mut q, OperationKind::Capture, Some(10), ok()).unwrap();
    assert!(matches!(
        q.begin(OperationKind::Void, None, false, "", ALL, t()),
        Err(Refusal::InvalidState { .. })
    ));
}

#[test]
fn refund_before_capture_is_invalid_state() {
    let p = authorized(100);
    assert!(matches!(
        p.begin(OperationKind::Refund, None, false, "", ALL, t()),
        Err(Refusal::InvalidState { .. })
    ));
}

#[test]
fn amounts_beyond_the_balance_are_refused() {
    let mut p = authorized(100);
    assert!(matches!(
        p.begin(OperationKind::Capture, Some(mad(101)), false, "", ALL, t()),
        Err(Refusal::ExceedsCapturable { .. })
    ));
    run(&mut p, OperationKind::Capture, Some(60), ok()).unwrap();
    assert!(matches!(
        p.begin(OperationKind::Refund, Some(mad(61)), false, "", ALL, t()),
        Err(Refusal::ExceedsRefundable { .. })
    ));
}

#[test]
fn in_flight_refunds_reserve_their_amount() {
    let mut p = authorized(100);
    run(&mut p, OperationKind::Capture, None, ok()).unwrap();
    let first = p
        .begin(OperationKind::Refund, Some(mad(70)), false, "", ALL, t())
        .unwrap();
    p.operations.push(first);
    assert!(matches!(
        p.begin(OperationKind::Refund, Some(mad(31)), false, "", ALL, t()),
        Err(Refusal::ExceedsRefundable { .. })
    ));
    assert!(
        p.begin(OperationKind::Refund, Some(mad(30)), false, "", ALL, t())
            .is_ok()
    );
}

#[test]
fn a_failed_refund_releases_its_reservation() {
    let mut p = authorized(100);
    run(&mut p, OperationKind::Capture, None, ok()).unwrap();
    let failed = Outcome::Failed(Failure::new("processing_error", "no"));
    assert_eq!(
        run(&mut p, OperationKind::Refund, Some(100), failed),
        Ok(PaymentStatus::Captured)
    );
    assert_eq!(p.refundable(), 100);
}

#[test]
fn currency_mismatch_is_refused() {
    let p = authorized(100);
    let eur = Money::new(10, Currency::parse("EUR").unwrap()).unwrap();
    assert!(matches!(
        p.begin(OperationKind::Capture, Some(eur), false, "", ALL, t()),
        Err(Refusal::CurrencyMismatch { .. })
    ));
}

#[test]
fn unsupported_operations_are_declared_by_the_provider() {
    let p = authorized(100);
    let caps = Capabilities {
        partial_capture: false,
        void: false,
        ..ALL
    };
    assert!(matches!(
        p.begin(OperationKind::Capture, Some(mad(50)), false, "", caps, t()),
        Err(Refusal::NotSupported { .. })
    ));
    assert!(matches!(
        p.begin(OperationKind::Void, None, false, "", caps, t()),
        Err(Refusal::NotSupported { .. })
    ));
    assert!(
        p.begin(OperationKind::Capture, None, false, "", caps, t())
            .is_ok()
    );
}

#[test]
fn decline_and_failure_are_terminal() {
    let mut p = payment(100, CaptureMode::Manual);
    let id = p.operations[0].id;
    p.settle(
        id,
        Outcome::Declined(Failure::new("card_declined", "declined")),
        t(),
    );
    assert_eq!(p.status, PaymentStatus::Declined);
    // A late success for the same operation does not move it backwards.
    assert!(!p.settle(id, ok(), t()));
    assert_eq!(p.status, PaymentStatus::Declined);
    for kind in [
        OperationKind::Capture,
        OperationKind::Void,
        OperationKind::Refund,
    ] {
        assert!(p.begin(kind, None, false, "", ALL, t()).is_err());
    }
}

#[test]
fn unknown_outcome_is_pending_until_settled() {
    let mut p = authorized(100);
    assert_eq!(
        run(&mut p, OperationKind::Capture, Some(100), Outcome::Unknown),
        Ok(PaymentStatus::Pending)
    );
    assert!(
        p.begin(OperationKind::Refund, None, false, "", ALL, t())
            .is_err()
    );
    let id = p.operations[1].id;
    assert!(p.settle(id, ok(), t()));
    assert_eq!(p.status, PaymentStatus::Captured);
}

#[test]
fn requires_action_then_approval() {
    let mut p = payment(100, CaptureMode::Manual);
    let id = p.operations[0].id;
    let next = NextAction::Redirect {
        url: "https://pay.example/x".into(),
    };
    p.settle(
        id,
        Outcome::RequiresAction {
            next_action: next,
            provider_reference: Some("mp_1".into()),
        },
        t(),
    );
    assert_eq!(p.status, PaymentStatus::RequiresAction);
    p.settle(id, ok(), t());
    assert_eq!(
        (p.status, p.next_action.is_none()),
        (PaymentStatus::Authorized, true)
    );
}

#[test]
fn status_names_round_trip() {
    for s in PaymentStatus::ALL {
        assert_eq!(PaymentStatus::parse(s.as_str()), Some(s));
    }
}

#[test]
fn a_declined_authorization_reopens_for_a_later_success_and_only_then() {
    let mut p = payment(15_000, CaptureMode::Manual);
    let id = p.operations[0].id;
    assert!(p.settle(
        id,
        Outcome::Declined(Failure::new("insufficient_funds", "")),
        t()
    ));
    assert_eq!(p.status, PaymentStatus::Declined);
    // Without reopening, the success is ignored: DECLINED is terminal for everyone else.
    let success = Outcome::Succeeded {
        provider_reference: Some("oid".into()),
        expires_at: None,
    };
    assert!(!p.settle(id, success.clone(), t()));
    assert!(p.reopen_declined_authorization(id, t()));
    assert_eq!(p.failure, None);
    assert!(p.settle(id, success, t()));
    assert_eq!(p.status, PaymentStatus::Authorized);
    // An authorized payment is never reopened.
    assert!(!p.reopen_declined_authorization(id, t()));
    assert_eq!(p.status, PaymentStatus::Authorized);
}

#[test]
fn failed_attempts_beyond_the_last_ten_are_counted_not_kept() {
    let mut p = authorized(10_000);
    let size_after = |p: &Payment| serde_json::to_string(p).unwrap().len();
    let mut sizes = Vec::new();
    for n in 0..40 {
        let kind = if n % 2 == 0 {
            OperationKind::Capture
        } else {
            OperationKind::Void
        };
        let amount = (kind == OperationKind::Capture).then(|| mad(1_000));
        let op = p.begin(kind, amount, false, "", ALL, t()).unwrap();
        let id = op.id;
        p.operations.push(op);
        let failure = Failure::new("provider_rejected", "the processor refused");
        let outcome = if n % 3 == 0 {
            Outcome::Declined(failure)
        } else {
            Outcome::Failed(failure)
        };
        assert!(p.settle(id, outcome, t()));
        assert!(
            p.operation(id).is_some(),
            "the attempt just settled is kept"
        );
        sizes.push(size_after(&p));
    }
    assert_eq!(p.operations.len(), 1 + KEPT_FAILED_ATTEMPTS);
    assert_eq!(p.earlier_failed_attempts, 30);
    assert_eq!(p.operations[0].kind, OperationKind::Authorize);
    assert_eq!(p.status, PaymentStatus::Authorized);
    assert_eq!(p.capturable(), 10_000, "failed attempts hold nothing");
    // Once the count appears, the document stops growing: its size varies only with which
    // ten are kept (capture or void, failed or declined) and the count's digits.
    let after = &sizes[KEPT_FAILED_ATTEMPTS..];
    let (low, high) = (after.iter().min().unwrap(), after.iter().max().unwrap());
    assert!(high - low <= 8, "{sizes:?}");

    // A success still lands, and the count survives a round trip through the store's JSON.
    let op = p
        .begin(
            OperationKind::Capture,
            Some(mad(1_000)),
            false,
            "",
            ALL,
            t(),
        )
        .unwrap();
    let id = op.id;
    p.operations.push(op);
    assert!(p.settle(
        id,
        Outcome::Succeeded {
            provider_reference: Some("cap_1".into()),
            expires_at: None
        },
        t()
    ));
    assert_eq!(p.captured, 1_000);
    let back: Payment = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
    assert_eq!(back, p);
}

#[test]
fn event_types_are_exactly_the_types_statuses_announce() {
    use std::collections::BTreeSet;
    let announced: BTreeSet<&str> = PaymentStatus::ALL
        .into_iter()
        .map(PaymentStatus::event_type)
        .collect();
    let listed: BTreeSet<&str> = PaymentStatus::EVENT_TYPES.into_iter().collect();
    assert_eq!(announced, listed);
    assert_eq!(
        listed.len(),
        PaymentStatus::EVENT_TYPES.len(),
        "no type listed twice"
    );
}
