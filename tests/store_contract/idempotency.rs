//! Idempotency keys: claimed by a unique key, never check-then-insert, so N concurrent
//! requests with one key start exactly one operation, whichever replica they reach.

use crate::harness::*;
use paygate::domain::{
    Abandoned, MerchantId, OperationId, OperationKind, PaymentId, PaymentStatus, Timestamp,
};
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
        lease_until: Timestamp::now(),
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

/// A call the provider never acted on is taken back (`Abandon`): a never-answered payment
/// disappears (no row, no event), its key stays bound to the same ids, and the caller's retry
/// with the same key and parameters continues the same payment and operation (the same
/// provider key); other parameters under that key are refused as a reuse.
pub async fn an_abandoned_call_leaves_nothing_and_its_retry_continues_under_the_same_ids(db: &Db) {
    let store = &db.store;
    let m = merchant();
    let (p, op) = started(open_payment(store, &m, "released", 100).await);
    let events_before = store.events_after(&m, 0, 1000).await.unwrap().len();
    abandon(store, p.id, op, Abandoned::WholePayment).await;
    assert!(
        matches!(
            store.payment(&m, p.id).await,
            Err(paygate::store::StoreError::NotFound)
        ),
        "nothing of a never-sent authorization remains"
    );
    assert_eq!(
        store.events_after(&m, 0, 1000).await.unwrap().len(),
        events_before,
        "no event for a call that was never sent"
    );
    let job = Write::OpenPayment {
        claim: claim(&m, "Authorize", "released", 9),
        payment: Box::new(new_payment(&m, "released", 100, Timestamp::now())),
        lease_until: Timestamp::now(),
    };
    match store.write(job).await.unwrap() {
        Written::Claimed(Claimed::Reused) => {}
        other => panic!("other parameters under a released key: expected Reused, got {other:?}"),
    }
    let (again, again_op) = started(open_payment(store, &m, "released", 100).await);
    assert_eq!(
        (again.id, again_op),
        (p.id, op),
        "a retry continues under the same ids"
    );
    let settled = settle(store, again.id, again_op, ok()).await;
    assert_eq!(settled.status, PaymentStatus::Authorized);

    // A capture that was never sent: the reserved amount is free again, the retry reuses the
    // operation id.
    let (cap, _) = started(
        begin(store, settled.id, OperationKind::Capture, Some(40), "cap-1")
            .await
            .unwrap(),
    );
    let cap_op = cap.operations.last().map(|o| o.id).unwrap();
    abandon(store, cap.id, cap_op, Abandoned::Operation).await;
    let after = store.payment(&m, cap.id).await.unwrap();
    assert_eq!(after.operations.len(), 1, "{:?}", after.operations);
    assert_eq!(after.status, PaymentStatus::Authorized);
    assert_eq!(after.capturable(), 100);
    let (retry, retry_op) = started(
        begin(store, cap.id, OperationKind::Capture, Some(40), "cap-1")
            .await
            .unwrap(),
    );
    assert_eq!(retry_op, cap_op);
    assert_eq!(retry.capturable(), 60);
    // A settled operation is never taken back.
    settle(store, retry.id, retry_op, ok()).await;
    abandon(store, retry.id, retry_op, Abandoned::NotOpen).await;
    assert_eq!(store.payment(&m, retry.id).await.unwrap().captured, 40);
}

async fn abandon(
    store: &paygate::store::Store,
    payment: PaymentId,
    op: OperationId,
    want: Abandoned,
) {
    let job = Write::Abandon {
        payment_id: payment,
        operation: op,
        now: Timestamp::now(),
    };
    match store.write(job).await.unwrap() {
        Written::Abandoned(done) => assert_eq!(done, want),
        other => panic!("unexpected {other:?}"),
    }
}
