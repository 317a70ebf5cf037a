//! Webhook events: deduplicated by (merchant, provider, event id) in the transaction that
//! applies them.

use crate::harness::*;
use paygate::domain::{
    ExternalOperation, ExternalSource, Failure, MerchantId, Outcome, PaymentStatus, ProviderKind,
    Timestamp,
};
use paygate::store::{StoreError, WebhookWritten, Write, Written};

fn webhook(
    event_id: &str,
    merchant: &MerchantId,
    payment: paygate::domain::PaymentId,
    op: paygate::domain::OperationId,
    outcome: Outcome,
) -> Write {
    Write::ApplyWebhook {
        provider: ProviderKind::Mock,
        event_id: event_id.to_owned(),
        merchant: merchant.clone(),
        payment_id: payment,
        operation: op,
        outcome,
        now: Timestamp::now(),
    }
}

pub async fn concurrent_deliveries_of_one_event_apply_once(db: &Db) {
    let replica = db.replica().await;
    let m = merchant();
    let (p, op) = started(open_payment(&db.store, &m, "wh", 700).await);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = if i % 2 == 0 {
            db.store.clone()
        } else {
            replica.clone()
        };
        let job = webhook("evt_1", &m, p.id, op, ok());
        tasks.push(tokio::spawn(async move { s.write(job).await.unwrap() }));
    }
    let (mut applied, mut duplicate) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Written::Webhook(WebhookWritten::Applied(p)) => {
                assert_eq!(p.status, PaymentStatus::Authorized);
                applied += 1;
            }
            Written::Webhook(WebhookWritten::Duplicate) => duplicate += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((applied, duplicate), (1, 15));
    let events = db.store.events_after(&m, 0, 100).await.unwrap();
    assert_eq!(events.len(), 1, "one state change, one event");
}

pub async fn late_webhooks_are_recorded_and_ignored(db: &Db) {
    let m = merchant();
    let (p, op) = started(open_payment(&db.store, &m, "wh-late", 700).await);
    let first = db
        .store
        .write(webhook("evt_ok", &m, p.id, op, ok()))
        .await
        .unwrap();
    assert!(
        matches!(first, Written::Webhook(WebhookWritten::Applied(_))),
        "{first:?}"
    );
    // A failure after the success: a new event id, recorded, but the payment stays put.
    let failed = Outcome::Failed(Failure::new("processing_error", "late"));
    let late = db
        .store
        .write(webhook("evt_fail", &m, p.id, op, failed.clone()))
        .await
        .unwrap();
    assert!(
        matches!(late, Written::Webhook(WebhookWritten::Ignored)),
        "{late:?}"
    );
    let again = db
        .store
        .write(webhook("evt_fail", &m, p.id, op, failed))
        .await
        .unwrap();
    assert!(
        matches!(again, Written::Webhook(WebhookWritten::Duplicate)),
        "{again:?}"
    );
    assert_eq!(
        db.store.payment(&m, p.id).await.unwrap().status,
        PaymentStatus::Authorized
    );
    // Another merchant's route cannot touch this payment.
    let souk = MerchantId::parse("souk").unwrap();
    let other = db
        .store
        .write(webhook("evt_x", &souk, p.id, op, ok()))
        .await;
    assert!(matches!(other, Err(StoreError::NotFound)), "{other:?}");
}

/// Event ids are unique per provider account, and each merchant has its own: the same id
/// arriving for two merchants is two events, applied (or parked) once for each.
pub async fn one_event_id_is_taken_once_per_merchant(db: &Db) {
    let atlas = merchant();
    let souk = MerchantId::parse("souk").unwrap();
    let (pa, opa) = started(open_payment(&db.store, &atlas, "wh-atlas", 700).await);
    let (ps, ops) = started(open_payment(&db.store, &souk, "wh-souk", 700).await);
    for (m, p, op) in [(&atlas, pa.id, opa), (&souk, ps.id, ops)] {
        let first = db
            .store
            .write(webhook("evt_same", m, p, op, ok()))
            .await
            .unwrap();
        assert!(
            matches!(first, Written::Webhook(WebhookWritten::Applied(_))),
            "{m}: {first:?}"
        );
        assert_eq!(
            db.store.payment(m, p).await.unwrap().status,
            PaymentStatus::Authorized
        );
        let again = db
            .store
            .write(webhook("evt_same", m, p, op, ok()))
            .await
            .unwrap();
        assert!(
            matches!(again, Written::Webhook(WebhookWritten::Duplicate)),
            "{m}: {again:?}"
        );
    }

    // Parked the same way: a refund reported while each merchant's payment is still PENDING.
    let (qa, _) = started(open_payment(&db.store, &atlas, "wh-atlas-2", 700).await);
    let (qs, _) = started(open_payment(&db.store, &souk, "wh-souk-2", 700).await);
    for (m, q) in [(&atlas, qa.id), (&souk, qs.id)] {
        let job = Write::ApplyExternalOperation {
            provider: ProviderKind::Mock,
            event_id: "evt_refund".to_owned(),
            merchant: m.clone(),
            payment_id: q,
            operation: ExternalOperation {
                source: ExternalSource::Refund,
                amount: Some(mad(100)),
                provider_reference: "re_1".to_owned(),
            },
            now: Timestamp::now(),
        };
        let parked = db.store.write(job).await.unwrap();
        assert!(
            matches!(parked, Written::Webhook(WebhookWritten::Parked(_))),
            "{m}: {parked:?}"
        );
    }
}
