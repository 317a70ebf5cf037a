//! How refunds are split over captures when they begin, and how older refunds are counted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::*;
use crate::domain::commands::AuthorizeCommand;
use crate::domain::currency::Currency;
use crate::domain::ids::{IdempotencyKey, MerchantId};
use crate::domain::money::Money;
use crate::domain::payment::{Outcome, Refusal};
use crate::domain::provider::{Capabilities, ProviderKind};
use crate::domain::timestamp::Timestamp;

const PAYPAL: Capabilities = Capabilities {
    partial_capture: true,
    multiple_captures: true,
    void: true,
    partial_refund: true,
    multiple_refunds: true,
    refunds_per_capture: true,
    max_minor: i64::MAX,
};

fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::parse("EUR").unwrap()).unwrap()
}

fn t() -> Timestamp {
    Timestamp::from_micros(1_700_000_000_000_000)
}

fn succeeded(reference: Option<&str>) -> Outcome {
    Outcome::Succeeded {
        provider_reference: reference.map(str::to_owned),
        expires_at: None,
    }
}

fn part(capture: &str, minor: i64) -> RefundPart {
    RefundPart {
        capture_reference: capture.to_owned(),
        minor,
    }
}

/// An authorized PayPal payment of `amount` (manual capture), or one captured in one step.
fn payment(amount: i64, mode: CaptureMode) -> Payment {
    let cmd = AuthorizeCommand {
        key: IdempotencyKey::parse("k").unwrap(),
        provider: ProviderKind::Paypal,
        amount: eur(amount),
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
    let mut p = cmd.open_payment(&MerchantId::parse("m").unwrap(), t());
    let auth = p.operations[0].id;
    let reference = match mode {
        CaptureMode::Manual => "AUTH1",
        CaptureMode::Automatic => "CAPAUTO",
    };
    assert!(p.settle(auth, succeeded(Some(reference)), t()));
    p
}

/// Begins `kind` (with no reason), pushes it, settles it with `outcome` (if any); returns it.
fn run(
    p: &mut Payment,
    kind: OperationKind,
    minor: Option<i64>,
    outcome: Option<Outcome>,
) -> Result<Operation, Refusal> {
    let op = p.begin(kind, minor.map(eur), false, "", PAYPAL, t())?;
    p.operations.push(op.clone());
    if let Some(outcome) = outcome {
        p.settle(op.id, outcome, t());
    }
    Ok(op)
}

/// Authorized 10 000, captured 3 000 (`CAPA`) then 5 000 (`CAPB`).
fn two_captures() -> Payment {
    let mut p = payment(10_000, CaptureMode::Manual);
    let ok = |r| Some(succeeded(Some(r)));
    run(&mut p, OperationKind::Capture, Some(3_000), ok("CAPA")).unwrap();
    run(&mut p, OperationKind::Capture, Some(5_000), ok("CAPB")).unwrap();
    p
}

#[test]
fn a_refund_is_split_newest_capture_first_when_it_begins() {
    let mut p = two_captures();
    let r = run(&mut p, OperationKind::Refund, Some(6_000), None).unwrap();
    assert_eq!(r.parts, vec![part("CAPB", 5_000), part("CAPA", 1_000)]);
    assert_eq!(
        p.refund_parts(&r),
        r.parts,
        "the persisted parts are the ones sent"
    );
}

#[test]
fn earlier_refunds_draw_from_captures_by_their_persisted_parts() {
    let mut p = two_captures();
    let ok = Some(succeeded(Some("REF1")));
    let first = run(&mut p, OperationKind::Refund, Some(2_000), ok).unwrap();
    assert_eq!(first.parts, vec![part("CAPB", 2_000)]);
    // Still in flight: it holds what it drew, so the next refund cannot count on it.
    let open = run(&mut p, OperationKind::Refund, Some(4_000), None).unwrap();
    assert_eq!(open.parts, vec![part("CAPB", 3_000), part("CAPA", 1_000)]);
    let last = run(&mut p, OperationKind::Refund, None, None).unwrap();
    assert_eq!(last.parts, vec![part("CAPA", 2_000)]);
}

#[test]
fn a_failed_refund_draws_nothing() {
    let mut p = two_captures();
    let declined = Some(Outcome::Failed(crate::domain::Failure::new("x", "y")));
    run(&mut p, OperationKind::Refund, Some(5_000), declined).unwrap();
    let again = run(&mut p, OperationKind::Refund, Some(5_000), None).unwrap();
    assert_eq!(again.parts, vec![part("CAPB", 5_000)]);
}

#[test]
fn persisted_parts_are_kept_when_the_payment_changes_afterwards() {
    let mut p = two_captures();
    let r = run(&mut p, OperationKind::Refund, Some(1_000), None).unwrap();
    // A capture made while the refund is in flight comes first in newest-first order...
    let ok = Some(succeeded(Some("CAPC")));
    run(&mut p, OperationKind::Capture, Some(2_000), ok).unwrap();
    // ...but the refund still goes where it was decided to go.
    assert_eq!(p.refund_parts(&r), vec![part("CAPB", 1_000)]);
    let next = run(&mut p, OperationKind::Refund, Some(2_500), None).unwrap();
    assert_eq!(next.parts, vec![part("CAPC", 2_000), part("CAPB", 500)]);
}

#[test]
fn refunds_persisted_before_parts_existed_are_split_from_the_history_before_them() {
    let mut p = two_captures();
    let mut old = run(&mut p, OperationKind::Refund, Some(6_000), None).unwrap();
    // As an older document stores it: no parts.
    old.parts.clear();
    p.operations.last_mut().unwrap().parts.clear();
    let ok = Some(succeeded(Some("CAPC")));
    run(&mut p, OperationKind::Capture, Some(2_000), ok).unwrap();
    assert_eq!(
        p.refund_parts(&old),
        vec![part("CAPB", 5_000), part("CAPA", 1_000)],
        "the captures made after it do not count"
    );
    // And later refunds count it as drawn newest first.
    let next = run(&mut p, OperationKind::Refund, Some(3_000), None).unwrap();
    assert_eq!(next.parts, vec![part("CAPC", 2_000), part("CAPA", 1_000)]);
}

#[test]
fn an_automatic_payment_refunds_its_one_step_capture() {
    let mut p = payment(2_550, CaptureMode::Automatic);
    let r = run(&mut p, OperationKind::Refund, Some(550), None).unwrap();
    assert_eq!(r.parts, vec![part("CAPAUTO", 550)]);
}

#[test]
fn a_refund_over_captures_without_a_provider_id_is_refused_before_it_starts() {
    let mut p = payment(10_000, CaptureMode::Manual);
    run(
        &mut p,
        OperationKind::Capture,
        Some(3_000),
        Some(succeeded(None)),
    )
    .unwrap();
    let refused = p.begin(
        OperationKind::Refund,
        Some(eur(1_000)),
        false,
        "",
        PAYPAL,
        t(),
    );
    assert!(
        matches!(refused, Err(Refusal::ExceedsRefundable { .. })),
        "{refused:?}"
    );
}

#[test]
fn only_providers_that_refund_captures_get_parts_and_only_refunds_keep_a_reason() {
    let p = two_captures();
    let whole = Capabilities {
        refunds_per_capture: false,
        ..PAYPAL
    };
    let r = p
        .begin(
            OperationKind::Refund,
            Some(eur(6_000)),
            false,
            "damaged",
            whole,
            t(),
        )
        .unwrap();
    assert!(r.parts.is_empty());
    assert_eq!(r.reason, "damaged");
    let c = p
        .begin(
            OperationKind::Capture,
            Some(eur(100)),
            false,
            "ignored",
            PAYPAL,
            t(),
        )
        .unwrap();
    assert!(c.parts.is_empty() && c.reason.is_empty(), "{c:?}");
}

#[test]
fn parts_and_reason_are_left_out_of_documents_without_them_and_older_ones_load() {
    let p = two_captures();
    let r = p
        .begin(
            OperationKind::Refund,
            Some(eur(6_000)),
            false,
            "damaged",
            PAYPAL,
            t(),
        )
        .unwrap();
    let doc = serde_json::to_value(&r).unwrap();
    assert_eq!(doc["reason"], "damaged");
    assert_eq!(doc["parts"][1]["capture_reference"], "CAPA");
    assert_eq!(serde_json::from_value::<Operation>(doc).unwrap(), r);
    let capture = serde_json::to_value(&p.operations[1]).unwrap();
    assert!(capture.get("parts").is_none() && capture.get("reason").is_none());
    let mut older = serde_json::to_value(&r).unwrap();
    older.as_object_mut().unwrap().remove("parts");
    older.as_object_mut().unwrap().remove("reason");
    let loaded: Operation = serde_json::from_value(older).unwrap();
    assert!(loaded.parts.is_empty() && loaded.reason.is_empty());
}
