//! Retention: finished idempotency keys past the cutoff are forgotten, running ones never, and
//! replicas reaping at the same time each delete a key at most once; old events are pruned
//! without disturbing the numbering.

use crate::harness::*;
use paygate::domain::{Outcome, PaymentStatus, Timestamp};
use paygate::store::{Claimed, Write, Written};

async fn reap(store: &paygate::store::Store, cutoff: Timestamp) -> u64 {
    match store.write(Write::ReapKeys { cutoff }).await.unwrap() {
        Written::Reaped(n) => n,
        other => panic!("unexpected {other:?}"),
    }
}

pub async fn reaping_forgets_only_finished_keys_past_the_cutoff(db: &Db) {
    let store = &db.store;
    let m = merchant();
    let two_hours_ago = Timestamp::now().plus_seconds(-7200);
    let (old, op) = started(open_payment_at(store, &m, "old-finished", 100, two_hours_ago).await);
    settle(store, old.id, op, ok()).await;
    started(open_payment_at(store, &m, "old-running", 100, two_hours_ago).await);
    authorized(store, "recent-finished", 100).await;

    assert_eq!(
        reap(store, Timestamp::now().plus_seconds(-3 * 3600)).await,
        0
    );
    assert_eq!(reap(store, Timestamp::now().plus_seconds(-3600)).await, 1);

    assert!(
        matches!(
            open_payment(store, &m, "old-finished", 100).await,
            Claimed::Started { .. }
        ),
        "forgotten after reaping"
    );
    assert!(
        matches!(
            open_payment(store, &m, "old-running", 100).await,
            Claimed::InUse
        ),
        "a running request keeps its key"
    );
    assert!(
        matches!(
            open_payment(store, &m, "recent-finished", 100).await,
            Claimed::Replay(_)
        ),
        "a recent key is kept"
    );
}

/// A key whose operation is still UNKNOWN is never reaped, however old: a retry after that
/// would open a second charge while the first is unknown. A released key (its call never
/// sent) is reaped like a finished one.
pub async fn reaping_never_forgets_the_key_of_an_unknown_operation(db: &Db) {
    let store = &db.store;
    let m = merchant();
    let long_ago = Timestamp::now().plus_seconds(-3 * 86_400);
    let (unknown, op) = started(open_payment_at(store, &m, "old-unknown", 100, long_ago).await);
    let pending = settle(store, unknown.id, op, Outcome::Unknown).await;
    assert_eq!(pending.status, PaymentStatus::Pending);
    let (never_sent, op) = started(open_payment_at(store, &m, "old-released", 100, long_ago).await);
    match store
        .write(Write::Abandon {
            payment_id: never_sent.id,
            operation: op,
            now: long_ago,
        })
        .await
        .unwrap()
    {
        Written::Abandoned(_) => {}
        other => panic!("unexpected {other:?}"),
    }

    assert_eq!(
        reap(store, Timestamp::now().plus_seconds(-3600)).await,
        1,
        "only the released key"
    );
    match open_payment(store, &m, "old-unknown", 100).await {
        Claimed::Replay(p) => assert_eq!(
            p.id, unknown.id,
            "the retry sees the same, still unknown payment"
        ),
        other => panic!("the unknown operation's key must be kept: {other:?}"),
    }
}

pub async fn two_replicas_reaping_at_once_reap_each_key_once(db: &Db) {
    let replica = db.replica().await;
    let m = merchant();
    let long_ago = Timestamp::now().plus_seconds(-7200);
    for i in 0..40 {
        let (p, op) =
            started(open_payment_at(&db.store, &m, &format!("reap-{i}"), 100, long_ago).await);
        settle(&db.store, p.id, op, ok()).await;
    }
    let cutoff = Timestamp::now().plus_seconds(-3600);
    let mut tasks = Vec::new();
    for i in 0..6 {
        let s = if i % 2 == 0 {
            db.store.clone()
        } else {
            replica.clone()
        };
        tasks.push(tokio::spawn(async move { reap(&s, cutoff).await }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    assert_eq!(total, 40, "every key reaped exactly once");
    assert_eq!(reap(&db.store, cutoff).await, 0);
}

/// Event retention: only events older than the cutoff go, the numbering continues after them
/// (no number is handed out twice), and the pruned range is reported for resuming readers.
pub async fn pruning_deletes_old_events_and_numbering_continues(db: &Db) {
    let store = &db.store;
    let m = merchant();
    let two_hours_ago = Timestamp::now().plus_seconds(-7200);
    let (old, op) = started(open_payment_at(store, &m, "old-event", 100, two_hours_ago).await);
    let settled = store
        .write(Write::Settle {
            payment_id: old.id,
            operation: op,
            outcome: ok(),
            now: two_hours_ago,
        })
        .await
        .unwrap();
    assert!(matches!(settled, Written::Settled(_)));
    let recent = authorized(store, "recent-event", 100).await;
    let before: Vec<i64> = store
        .events_after(&m, 0, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.sequence)
        .collect();
    assert_eq!(before, vec![1, 2]);

    let cutoff = Timestamp::now().plus_seconds(-3600);
    let pruned = store.write(Write::PruneEvents { cutoff }).await.unwrap();
    assert!(matches!(pruned, Written::Reaped(1)), "got {pruned:?}");
    assert_eq!(store.events_pruned_through().await.unwrap(), 1);

    let next = authorized(store, "next-event", 100).await;
    let after = store.events_after(&m, 0, 10).await.unwrap();
    let kept: Vec<_> = after.iter().map(|e| (e.sequence, e.payment.id)).collect();
    assert_eq!(kept, vec![(2, recent.id), (3, next.id)]);
}
