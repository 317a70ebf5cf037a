//! The money invariants: captured ≤ amount, refunded ≤ captured, void only before capture,
//! and state that never moves backwards, also under concurrent requests on two replicas.

use crate::harness::*;
use paygate::domain::{Failure, OperationKind, Outcome, PaymentStatus, Refusal};
use paygate::store::{Claimed, StoreError};

pub async fn captures_never_exceed_the_amount(db: &Db) {
    let store = &db.store;
    let p = authorized(store, "cap-seq", 1000).await;
    let p1 = done(store, p.id, OperationKind::Capture, Some(600), "cap-1").await;
    assert_eq!(
        (p1.captured, p1.status),
        (600, PaymentStatus::PartiallyCaptured)
    );
    let over = begin(store, p.id, OperationKind::Capture, Some(401), "cap-2").await;
    assert!(
        matches!(
            over,
            Err(StoreError::Refused(Refusal::ExceedsCapturable { .. }))
        ),
        "{over:?}"
    );
    let p2 = done(store, p.id, OperationKind::Capture, Some(400), "cap-3").await;
    assert_eq!((p2.captured, p2.status), (1000, PaymentStatus::Captured));

    // 12 concurrent captures of 300 on 1000: three fit, the rest are refused, on two replicas.
    let replica = db.replica().await;
    let q = authorized(store, "cap-race", 1000).await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let s = if i % 2 == 0 {
            store.clone()
        } else {
            replica.clone()
        };
        tasks.push(tokio::spawn(async move {
            begin(
                &s,
                q.id,
                OperationKind::Capture,
                Some(300),
                &format!("cap-race-{i}"),
            )
            .await
        }));
    }
    let mut started_ops = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(Claimed::Started { operation, .. }) => started_ops.push(operation),
            Err(StoreError::Refused(Refusal::ExceedsCapturable { .. })) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(started_ops.len(), 3, "exactly three 300s fit in 1000");
    let mut last = None;
    for op in started_ops {
        last = Some(settle(store, q.id, op, ok()).await);
    }
    let last = last.unwrap();
    assert_eq!(last.captured, 900);
    assert_eq!(
        store.payment(&merchant(), q.id).await.unwrap().captured,
        900
    );
}

pub async fn concurrent_refunds_on_two_replicas_never_exceed_the_captured_amount(db: &Db) {
    let store = &db.store;
    let replica = db.replica().await;
    let p = authorized(store, "ref", 1000).await;
    done(store, p.id, OperationKind::Capture, None, "ref-cap").await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = if i % 2 == 0 {
            store.clone()
        } else {
            replica.clone()
        };
        tasks.push(tokio::spawn(async move {
            let started = begin(
                &s,
                p.id,
                OperationKind::Refund,
                Some(150),
                &format!("ref-{i}"),
            )
            .await;
            match started {
                // Settle on the same replica, as the RPC that began it would.
                Ok(Claimed::Started { operation, .. }) => {
                    settle(&s, p.id, operation, ok()).await;
                    true
                }
                Err(StoreError::Refused(Refusal::ExceedsRefundable { .. })) => false,
                other => panic!("unexpected {other:?}"),
            }
        }));
    }
    let mut refunded = 0;
    for t in tasks {
        if t.await.unwrap() {
            refunded += 150;
        }
    }
    assert_eq!(refunded, 900, "six refunds of 150 fit in 1000, no more");
    let now = replica.payment(&merchant(), p.id).await.unwrap();
    assert_eq!((now.captured, now.refunded), (1000, 900));
    assert_eq!(now.status, PaymentStatus::PartiallyRefunded);
}

pub async fn void_only_before_any_capture(db: &Db) {
    let store = &db.store;
    // Captured (even partly): no void.
    let p = authorized(store, "void-a", 1000).await;
    done(store, p.id, OperationKind::Capture, Some(100), "void-a-cap").await;
    let refused = begin(store, p.id, OperationKind::Void, None, "void-a-void").await;
    assert!(
        matches!(
            refused,
            Err(StoreError::Refused(Refusal::InvalidState { .. }))
        ),
        "{refused:?}"
    );
    // A capture in flight: no void either.
    let q = authorized(store, "void-b", 1000).await;
    started(
        begin(store, q.id, OperationKind::Capture, None, "void-b-cap")
            .await
            .unwrap(),
    );
    let refused = begin(store, q.id, OperationKind::Void, None, "void-b-void").await;
    assert!(
        matches!(
            refused,
            Err(StoreError::Refused(Refusal::InvalidState { .. }))
        ),
        "{refused:?}"
    );
    // Untouched: void works, and then nothing can be captured.
    let r = authorized(store, "void-c", 1000).await;
    let voided = done(store, r.id, OperationKind::Void, None, "void-c-void").await;
    assert_eq!(voided.status, PaymentStatus::Voided);
    let refused = begin(store, r.id, OperationKind::Capture, None, "void-c-cap").await;
    assert!(
        matches!(
            refused,
            Err(StoreError::Refused(Refusal::InvalidState { .. }))
        ),
        "{refused:?}"
    );
}

pub async fn settled_operations_never_move_backwards(db: &Db) {
    let store = &db.store;
    let (p, auth) = started(open_payment(store, &merchant(), "mono", 1000).await);
    let authorized = settle(store, p.id, auth, ok()).await;
    assert_eq!(authorized.status, PaymentStatus::Authorized);
    let events_before = store.events_after(&merchant(), 0, 100).await.unwrap().len();

    // A late decline of the same operation changes nothing, and announces nothing.
    let late = settle(
        store,
        p.id,
        auth,
        Outcome::Declined(Failure::new("card_declined", "late")),
    )
    .await;
    assert_eq!(late, authorized);
    let stored = store.payment(&merchant(), p.id).await.unwrap();
    assert_eq!(stored, authorized);
    let events_after = store.events_after(&merchant(), 0, 100).await.unwrap().len();
    assert_eq!(events_before, events_after);

    // Captured stays captured when a stale "unknown" arrives for the capture.
    let (_, cap) = started(
        begin(store, p.id, OperationKind::Capture, None, "mono-cap")
            .await
            .unwrap(),
    );
    let captured = settle(store, p.id, cap, ok()).await;
    assert_eq!(captured.status, PaymentStatus::Captured);
    let stale = settle(store, p.id, cap, Outcome::Unknown).await;
    assert_eq!(stale.status, PaymentStatus::Captured);
    assert_eq!(stale.captured, 1000);
}
