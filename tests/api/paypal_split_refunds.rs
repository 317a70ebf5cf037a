//! PayPal refunds split over several captures: the parts are decided when the refund begins and
//! persisted with it, a part that fails after an earlier one was sent leaves the refund PENDING
//! (never "not sent"), and the reconciler finishes exactly the persisted parts. The emulator
//! refuses a request id sent again to another capture or with another body, as PayPal may.

use crate::emulators::paypal::{Emulator, Fault};
use crate::helpers::*;
use crate::paypal::{authorized_payment, eur};
use crate::paypal_recovery::{quick_reconcile, settled};
use paygate::domain::{MerchantId, OperationKind, PaymentId};
use paygate::grpc::proto as pb;
use paygate::store::{Store, StoreOptions};
use std::time::Duration;

/// The emulator's id of the capture of `cents` (each test captures distinct amounts).
fn capture_of(emu: &Emulator, cents: i64) -> String {
    let ledger = emu.ledger();
    let mut ids = ledger.captures.values().filter(|c| c.cents == cents);
    let id = ids.next().expect("capture at PayPal").id.clone();
    assert!(ids.next().is_none(), "one capture of {cents}");
    id
}

fn refunded_at(emu: &Emulator, capture: &str) -> i64 {
    emu.ledger().captures[capture].refunded
}

async fn capture(app: &TestApp, key: &str, payment: &str, minor: i64) -> pb::Payment {
    app.client()
        .capture(capture_req(key, payment, eur(minor)))
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn paypal_split_refund_whose_second_part_is_not_sent_is_pending_then_finished_once() {
    let emu = Emulator::spawn().await;
    let app = quick_reconcile(&emu).await;
    let p = authorized_payment(&app, &emu, "pp-split", 10_000).await;
    capture(&app, "pp-split-c1", &p.id, 3_000).await;
    let c = capture(&app, "pp-split-c2", &p.id, 7_000).await;
    assert_eq!(c.status(), pb::PaymentStatus::Captured, "{c:?}");
    let (older, newer) = (capture_of(&emu, 3_000), capture_of(&emu, 7_000));

    // 8000 = 7000 from the newest capture (part 0), then 1000 from the older one (part 1).
    // Part 0 goes through; part 1 is throttled until paygate gives up without sending it.
    emu.fail_next("refund_capture", Fault::Act);
    for _ in 0..3 {
        emu.fail_next("refund_capture", Fault::RateLimit);
    }
    let r = app
        .client()
        .refund(refund_req("pp-split-r", &p.id, eur(8_000)))
        .await
        .expect("not UNAVAILABLE: part 0 refunded money, a retry would refund it again")
        .into_inner();
    assert_eq!(r.status(), pb::PaymentStatus::Pending, "{r:?}");
    assert_eq!(refunded_at(&emu, &newer), 7_000);
    assert_eq!(refunded_at(&emu, &older), 0, "part 1 not sent yet");

    let r = settled(&app, &p.id).await;
    assert_eq!(r.status(), pb::PaymentStatus::PartiallyRefunded, "{r:?}");
    assert_eq!(amount_of(r.refunded.as_ref()), (8_000, "EUR".into()));
    let ledger = emu.ledger();
    assert_eq!(ledger.refunds.len(), 2, "part 0 refunded exactly once");
    assert_eq!(ledger.refunds.values().map(|r| r.cents).sum::<i64>(), 8_000);
    assert_eq!(
        (
            ledger.captures[&newer].refunded,
            ledger.captures[&older].refunded
        ),
        (7_000, 1_000)
    );
    assert!(
        ledger.request_id_conflicts.is_empty(),
        "{:?}",
        ledger.request_id_conflicts
    );
    drop(ledger);
    let ids = emu.request_ids("refund_capture");
    let (part0, part1): (Vec<_>, Vec<_>) = ids.iter().partition(|id| id.ends_with("-0"));
    assert!(
        part0.len() >= 2 && part0.iter().all(|id| *id == part0[0]),
        "{ids:?}"
    );
    // (The throttled attempts are refused before the emulator reads the request id.)
    assert!(
        !part1.is_empty() && part1.iter().all(|id| *id == part1[0]),
        "{ids:?}"
    );
    assert_eq!(
        part1[0].trim_end_matches("-1"),
        part0[0].trim_end_matches("-0")
    );
}

#[tokio::test]
async fn paypal_refund_reconciled_after_a_new_capture_resends_exactly_its_persisted_parts() {
    let emu = Emulator::spawn().await;
    // 2 s for each provider call: room for a capture while the refund waits for its answer.
    let app = TestApp::spawn_paypal_timeout(&emu, Duration::from_secs(2)).await;
    let p = authorized_payment(&app, &emu, "pp-kept", 10_000).await;
    capture(&app, "pp-kept-c1", &p.id, 3_000).await;
    let first = capture_of(&emu, 3_000);

    // PayPal refunds at once but its answer comes too late: the refund's outcome is unknown.
    emu.fail_next("refund_capture", Fault::SlowAnswer(Duration::from_secs(5)));
    let mut client = app.client();
    let id = p.id.clone();
    let refund = tokio::spawn(async move {
        client
            .refund(refund_req("pp-kept-r", &id, eur(2_000)))
            .await
    });
    for _ in 0..200 {
        if !emu.ledger().refunds.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(refunded_at(&emu, &first), 2_000);
    // While the refund is in flight a new capture becomes the newest one: a split recomputed
    // now would send part 0's request id to it.
    let c = capture(&app, "pp-kept-c2", &p.id, 5_000).await;
    assert_eq!(c.status(), pb::PaymentStatus::PartiallyCaptured, "{c:?}");
    let second = capture_of(&emu, 5_000);
    let r = refund.await.unwrap().unwrap().into_inner();
    assert_eq!(r.status(), pb::PaymentStatus::Pending, "{r:?}");

    let r = settled(&app, &p.id).await;
    assert_eq!(r.status(), pb::PaymentStatus::PartiallyRefunded, "{r:?}");
    assert_eq!(amount_of(r.refunded.as_ref()), (2_000, "EUR".into()));
    let ledger = emu.ledger();
    assert!(
        ledger.request_id_conflicts.is_empty(),
        "{:?}",
        ledger.request_id_conflicts
    );
    assert_eq!(ledger.refunds.len(), 1);
    assert_eq!(
        (
            ledger.captures[&first].refunded,
            ledger.captures[&second].refunded
        ),
        (2_000, 0)
    );
    drop(ledger);
    let ids = emu.request_ids("refund_capture");
    assert!(
        ids.len() >= 2 && ids.iter().all(|id| *id == ids[0]),
        "{ids:?}"
    );
}

#[tokio::test]
async fn paypal_refund_reason_is_sent_as_note_to_payer_and_kept_on_the_operation() {
    let emu = Emulator::spawn().await;
    let app = TestApp::spawn_paypal(&emu).await;
    let p = authorized_payment(&app, &emu, "pp-reason", 5_000).await;
    capture(&app, "pp-reason-c", &p.id, 5_000).await;
    // Longer than PayPal's 255 characters, and two bytes per character past the first words.
    let reason = format!("Damaged on arrival {}", "é".repeat(300));
    let mut req = refund_req("pp-reason-r", &p.id, eur(1_000));
    req.reason = reason.clone();
    let r = app.client().refund(req).await.unwrap().into_inner();
    assert_eq!(r.status(), pb::PaymentStatus::PartiallyRefunded, "{r:?}");

    let sent: String = reason.chars().take(255).collect();
    let notes: Vec<_> = emu
        .ledger()
        .refunds
        .values()
        .map(|r| r.note_to_payer.clone())
        .collect();
    assert_eq!(notes, vec![Some(sent)]);

    // The proto's Operation has no reason field: read it from the store.
    let store = Store::open(
        &StoreOptions {
            url: format!("sqlite://{}", app.db_path().display()),
            busy_timeout: Duration::from_secs(5),
            sqlite_max_pages: None,
        },
        std::sync::Arc::new(paygate::telemetry::Metrics::new()),
    )
    .await
    .unwrap();
    let merchant = MerchantId::parse("shop").unwrap();
    let stored = store
        .payment(&merchant, PaymentId::parse(&p.id).unwrap())
        .await
        .unwrap();
    let refund = stored
        .operations
        .iter()
        .find(|o| o.kind == OperationKind::Refund)
        .unwrap();
    assert_eq!(refund.reason, reason, "kept whole on the operation");
    assert_eq!(refund.parts.len(), 1, "{refund:?}");
}
