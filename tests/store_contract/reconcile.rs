//! Handing due operations to reconcilers: each one to one replica at a time, held by a lease
//! that settling or deferring ends.

use crate::harness::*;
use paygate::domain::{OperationId, Timestamp};
use paygate::store::{Store, Write};
use std::collections::HashSet;

async fn claim(store: &Store, now: Timestamp, lease_secs: i64, limit: u32) -> Vec<OperationId> {
    let settled_before = now.plus_seconds(-30);
    store
        .claim_due_operations(settled_before, now, now.plus_seconds(lease_secs), limit)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.operation)
        .collect()
}

/// `n` payments whose authorize operation was left PENDING a minute ago (a crash, say).
async fn orphans(store: &Store, prefix: &str, n: usize) -> Vec<OperationId> {
    let minute_ago = Timestamp::now().plus_seconds(-60);
    let mut ops = Vec::new();
    for i in 0..n {
        let (_, op) = started(
            open_payment_at(
                store,
                &merchant(),
                &format!("{prefix}-{i}"),
                100,
                minute_ago,
            )
            .await,
        );
        ops.push(op);
    }
    ops
}

pub async fn concurrent_claims_never_hand_out_an_operation_twice(db: &Db) {
    let replica = db.replica().await;
    let ops = orphans(&db.store, "due", 100).await;
    let now = Timestamp::now();
    let mut tasks = Vec::new();
    for r in 0..4 {
        let s = if r % 2 == 0 {
            db.store.clone()
        } else {
            replica.clone()
        };
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = claim(&s, now, 120, 7).await;
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got);
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().copied().collect();
    assert_eq!(all.len(), 100, "no operation handed out twice");
    assert_eq!(unique, ops.into_iter().collect::<HashSet<_>>());
    // Leased: nobody gets them again before the lease ends.
    assert!(claim(&replica, Timestamp::now(), 120, 100).await.is_empty());
}

pub async fn claimed_operations_come_back_only_when_their_lease_ends(db: &Db) {
    let store = &db.store;
    let ops = orphans(store, "lease", 3).await;
    let now = Timestamp::now();
    let got: HashSet<_> = claim(store, now, 10, 10).await.into_iter().collect();
    assert_eq!(got, ops.iter().copied().collect::<HashSet<_>>());
    assert!(claim(store, now, 10, 10).await.is_empty(), "leased");

    // Settle the first, defer the second far ahead, leave the third alone (its reconciler died).
    let first = store
        .payment(&merchant(), payment_of(db, ops[0]).await)
        .await
        .unwrap();
    settle(store, first.id, ops[0], ok()).await;
    store
        .write(Write::Defer {
            operation: ops[1],
            attempts: 1,
            next_attempt_at: now.plus_seconds(1000),
        })
        .await
        .unwrap();
    let later = now.plus_seconds(20);
    assert_eq!(
        claim(store, later, 10, 10).await,
        vec![ops[2]],
        "only the expired lease"
    );
    assert_eq!(
        claim(store, now.plus_seconds(500), 10, 10).await,
        vec![ops[2]],
        "the deferred one waits for its time"
    );
    let much_later = now.plus_seconds(2000);
    let got: HashSet<_> = claim(store, much_later, 10, 10).await.into_iter().collect();
    assert_eq!(
        got,
        HashSet::from([ops[1], ops[2]]),
        "the deferred one, in time"
    );
    assert_eq!(
        store.count_open(much_later).await.unwrap().unresolved,
        2,
        "claiming does not resolve anything"
    );
}

async fn payment_of(db: &Db, op: OperationId) -> paygate::domain::PaymentId {
    let page = db
        .store
        .list(
            &merchant(),
            &paygate::domain::ListQuery {
                page_size: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    page.into_iter()
        .find(|p| p.operation(op).is_some())
        .map(|p| p.id)
        .unwrap()
}

/// A live call leases its operation until just after its deadline: however long ago the
/// operation was written, no reconciler is handed it before the lease ends (a capture that
/// is still waiting for CMI's ORDERSTATUS, a split refund's later parts...).
pub async fn a_live_call_s_lease_hides_its_operation_from_reconcilers(db: &Db) {
    let store = &db.store;
    let minute_ago = Timestamp::now().plus_seconds(-60);
    let lease_until = Timestamp::now().plus_seconds(300);
    let job = Write::OpenPayment {
        claim: crate::harness::claim(&merchant(), "Authorize", "leased", 1),
        payment: Box::new(new_payment(&merchant(), "leased", 100, minute_ago)),
        lease_until,
    };
    let op = match store.write(job).await.unwrap() {
        paygate::store::Written::Claimed(c) => started(c).1,
        other => panic!("unexpected {other:?}"),
    };
    let now = Timestamp::now();
    assert!(
        !claim(store, now, 120, 10).await.contains(&op),
        "handed out while its live call may still run"
    );
    assert_eq!(
        claim(store, lease_until.plus_seconds(1), 120, 10).await,
        vec![op],
        "handed out once the lease has ended"
    );
}
