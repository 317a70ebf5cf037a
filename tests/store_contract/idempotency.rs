//! Idempotency keys: claimed by a unique key, never check-then-insert, so N concurrent
//! requests with one key start exactly one operation, whichever replica they reach.

use crate::harness::*;
use paygate::domain::{MerchantId, OperationKind, PaymentStatus, Timestamp};
use paygate::store::{Claimed, Write, Written};

pub async fn concurrent_claims_of_one_key_start_exactly_once(db: &Db) {
    let replica = db.replica().await;
    let m = merchant();
    let mut tasks = Vec::new();
    for i in 0..32 {
        let s = if i % 2 == 0 {
            db.store.clone()
        } else {
            replica.clone()
        };
        let m = m.clone();
        // Every request builds its own payment (own id), as concurrent RPCs would.
        tasks.push(tokio::spawn(async move {
            open_payment(&s, &m, "same-key", 500).await
        }));
    }
    let mut started_payments = Vec::new();
    let mut in_use = 0;
    for t in tasks {
        match t.await.unwrap() {
            Claimed::Started { payment, operation } => started_payments.push((*payment, operation)),
            Claimed::InUse => in_use += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(started_payments.len(), 1, "one Started, {in_use} InUse");
    assert_eq!(in_use, 31);
    let (payment, op) = started_payments.pop().unwrap();
    let settled = settle(&db.store, payment.id, op, ok()).await;

    // Finished: the same key replays the first answer on either replica.
    for s in [&db.store, &replica] {
        match open_payment(s, &m, "same-key", 500).await {
            Claimed::Replay(p) => assert_eq!(*p, settled),
            other => panic!("expected Replay, got {other:?}"),
        }
    }
    let all = db
        .store
        .list(
            &m,
            &paygate::domain::ListQuery {
                page_size: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 1, "one payment stored");
}

pub async fn concurrent_operation_claims_start_exactly_once(db: &Db) {
    let replica = db.replica().await;
    let p = authorized(&db.store, "op-race", 1000).await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = if i % 2 == 0 {
            db.store.clone()
        } else {
            replica.clone()
        };
        tasks.push(tokio::spawn(async move {
            begin(&s, p.id, OperationKind::Capture, Some(100), "one-capture")
                .await
                .unwrap()
        }));
    }
    let mut started_ops = 0;
    for t in tasks {
        match t.await.unwrap() {
            Claimed::Started { .. } => started_ops += 1,
            Claimed::InUse => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(started_ops, 1);
    let now = db.store.payment(&merchant(), p.id).await.unwrap();
    assert_eq!(
        now.operations.len(),
        2,
        "authorize + one capture: {:?}",
        now.operations
    );
}

pub async fn a_key_is_scoped_to_merchant_and_bound_to_its_parameters(db: &Db) {
    let store = &db.store;
    let atlas = merchant();
    let souk = MerchantId::parse("souk").unwrap();
    started(open_payment(store, &atlas, "shared", 100).await);
    // Another merchant's identical key is a different key.
    started(open_payment(store, &souk, "shared", 100).await);
    // Same merchant, same key, other parameters (fingerprint): reused.
    let job = Write::OpenPayment {
        claim: claim(&atlas, "Authorize", "shared", 9),
        payment: Box::new(new_payment(&atlas, "shared", 100, Timestamp::now())),
    };
    match store.write(job).await.unwrap() {
        Written::Claimed(Claimed::Reused) => {}
        other => panic!("expected Reused, got {other:?}"),
    }
    // Same key on another method is another scope.
    let p = authorized(store, "scoped-pay", 100).await;
    match begin(store, p.id, OperationKind::Capture, None, "shared")
        .await
        .unwrap()
    {
        Claimed::Started { .. } => {}
        other => panic!("expected Started, got {other:?}"),
    }
}

pub async fn a_released_key_can_be_claimed_again(db: &Db) {
    let store = &db.store;
    let (p, op) = started(open_payment(store, &merchant(), "released", 100).await);
    // Nothing reached the provider: the key is released with the failure.
    let job = Write::Settle {
        payment_id: p.id,
        operation: op,
        outcome: paygate::domain::Outcome::Failed(paygate::domain::Failure::new(
            "provider_unavailable",
            "not sent",
        )),
        release_key: true,
        now: Timestamp::now(),
    };
    match store.write(job).await.unwrap() {
        Written::Settled(p) => assert_eq!(p.status, PaymentStatus::Failed),
        other => panic!("unexpected {other:?}"),
    }
    let (again, _) = started(open_payment(store, &merchant(), "released", 100).await);
    assert_ne!(again.id, p.id, "a retry starts afresh");
}
