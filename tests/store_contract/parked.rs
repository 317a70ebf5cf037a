//! Provider events reporting money moved that the ledger cannot take now (a reversal while a
//! refund holds the amount, a refund while the payment is PENDING) are parked with their event
//! id, counted, and applied once in the transaction of the change that lets them in.

use crate::harness::*;
use paygate::domain::{
    ExternalOperation, ExternalSource, Failure, MerchantId, OperationId, OperationKind, Outcome,
    ParkReason, Payment, PaymentId, PaymentStatus, ProviderKind, Timestamp,
};
use paygate::store::{Store, WebhookWritten, Write, Written};

fn external(
    event_id: &str,
    payment: PaymentId,
    source: ExternalSource,
    minor: i64,
    reference: &str,
) -> Write {
    Write::ApplyExternalOperation {
        provider: ProviderKind::Paypal,
        event_id: event_id.to_owned(),
        merchant: merchant(),
        payment_id: payment,
        operation: ExternalOperation {
            source,
            amount: Some(mad(minor)),
            provider_reference: reference.to_owned(),
        },
        now: Timestamp::now(),
    }
}

async fn webhook(store: &Store, job: Write) -> WebhookWritten {
    match store.write(job).await.unwrap() {
        Written::Webhook(w) => w,
        other => panic!("unexpected {other:?}"),
    }
}

/// A payment of `minor`, captured in full, with a refund of `refund` begun and left open.
async fn captured_with_open_refund(
    db: &Db,
    key: &str,
    minor: i64,
    refund: i64,
) -> (Payment, OperationId) {
    let p = authorized(&db.store, key, minor).await;
    done(
        &db.store,
        p.id,
        OperationKind::Capture,
        Some(minor),
        &format!("{key}-c"),
    )
    .await;
    let key = format!("{key}-r");
    let r = begin(&db.store, p.id, OperationKind::Refund, Some(refund), &key).await;
    started(r.unwrap())
}

async fn reload(db: &Db, id: PaymentId) -> Payment {
    db.store.payment(&merchant(), id).await.unwrap()
}

pub async fn a_parked_reversal_is_applied_once_when_the_open_refund_settles(db: &Db) {
    let replica = db.replica().await;
    let (p, refund) = captured_with_open_refund(db, "pk-rev", 10_000, 3_000).await;
    // The refund's outcome is unknown: the payment is PENDING and 30.00 stays reserved.
    assert_eq!(
        settle(&db.store, p.id, refund, Outcome::Unknown)
            .await
            .status,
        PaymentStatus::Pending
    );
    // A chargeback of the whole 100.00, delivered to both replicas at once, several times.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = if i % 2 == 0 {
            db.store.clone()
        } else {
            replica.clone()
        };
        let job = external("WH-REV", p.id, ExternalSource::Reversal, 10_000, "RV1");
        tasks.push(tokio::spawn(async move { webhook(&s, job).await }));
    }
    let (mut parked, mut duplicate) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            WebhookWritten::Parked(ParkReason::RefundOpen) => parked += 1,
            WebhookWritten::Duplicate => duplicate += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((parked, duplicate), (1, 7));
    assert_eq!(db.store.count_parked().await.unwrap(), 1);
    assert_eq!(reload(db, p.id).await.refunded, 0);

    // The refund fails: in that same transaction the reversal fits, and is applied.
    let failed = Outcome::Failed(Failure::new("refused", "capture fully reversed"));
    let answered = settle(&db.store, p.id, refund, failed).await;
    assert_eq!(
        answered.refunded, 0,
        "the answer is the refund's own change"
    );
    let now = reload(db, p.id).await;
    assert_eq!(
        (now.status, now.refunded),
        (PaymentStatus::Refunded, 10_000)
    );
    let reversal = now.operations.last().unwrap();
    assert_eq!(reversal.provider_reference.as_deref(), Some("RV1"));
    assert_eq!(db.store.count_parked().await.unwrap(), 0);
    let events = db.store.events_after(&merchant(), 0, 100).await.unwrap();
    assert_eq!(events.last().unwrap().kind, "payment.refunded");

    // A late redelivery changes nothing.
    let again = external("WH-REV", p.id, ExternalSource::Reversal, 10_000, "RV1");
    assert!(matches!(
        webhook(&replica, again).await,
        WebhookWritten::Duplicate
    ));
    assert_eq!(reload(db, p.id).await.refunded, 10_000);
}

pub async fn a_parked_event_is_tried_again_on_every_change_of_its_payment(db: &Db) {
    // More than captured, nothing open: flagged for an operator, yet a later capture makes room.
    let p = authorized(&db.store, "pk-never", 10_000).await;
    done(
        &db.store,
        p.id,
        OperationKind::Capture,
        Some(4_000),
        "pk-never-c1",
    )
    .await;
    let job = external("WH-BIG", p.id, ExternalSource::Reversal, 5_000, "RV2");
    assert!(matches!(
        webhook(&db.store, job).await,
        WebhookWritten::Parked(ParkReason::ExceedsCaptured)
    ));
    assert_eq!(db.store.count_parked().await.unwrap(), 1);
    done(
        &db.store,
        p.id,
        OperationKind::Capture,
        Some(6_000),
        "pk-never-c2",
    )
    .await;
    assert_eq!(reload(db, p.id).await.refunded, 5_000);
    assert_eq!(db.store.count_parked().await.unwrap(), 0);

    // A refund no operation names, while paygate's own refund is open, could be a part of it:
    // parked even though it fits; when paygate's refund settles naming it, it is not counted twice.
    let r = begin(
        &db.store,
        p.id,
        OperationKind::Refund,
        Some(2_000),
        "pk-never-r",
    )
    .await;
    let (_, ours) = started(r.unwrap());
    let part = external("WH-PART", p.id, ExternalSource::Refund, 1_000, "R7");
    assert!(matches!(
        webhook(&db.store, part).await,
        WebhookWritten::Parked(ParkReason::RefundOpen)
    ));
    let named = Outcome::Succeeded {
        provider_reference: Some("R6,R7".into()),
        expires_at: None,
    };
    settle(&db.store, p.id, ours, named).await;
    assert_eq!(reload(db, p.id).await.refunded, 7_000);
    assert_eq!(db.store.count_parked().await.unwrap(), 0);
}

pub async fn abandoning_the_open_refund_lets_a_parked_reversal_in(db: &Db) {
    let (p, refund) = captured_with_open_refund(db, "pk-ab", 10_000, 3_000).await;
    let job = external("WH-AB", p.id, ExternalSource::Reversal, 10_000, "RV3");
    assert!(matches!(
        webhook(&db.store, job).await,
        WebhookWritten::Parked(ParkReason::RefundOpen)
    ));
    let abandon = Write::Abandon {
        payment_id: p.id,
        operation: refund,
        now: Timestamp::now(),
    };
    db.store.write(abandon).await.unwrap();
    let now = reload(db, p.id).await;
    assert_eq!(
        (now.status, now.refunded),
        (PaymentStatus::Refunded, 10_000)
    );
    assert_eq!(db.store.count_parked().await.unwrap(), 0);
    // Another merchant's route cannot park anything on this payment.
    let mut other = external("WH-X", p.id, ExternalSource::Reversal, 1_000, "RV4");
    if let Write::ApplyExternalOperation { merchant, .. } = &mut other {
        *merchant = MerchantId::parse("souk").unwrap();
    }
    assert!(db.store.write(other).await.is_err());
}
