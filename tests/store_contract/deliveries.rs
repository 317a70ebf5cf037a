//! Webhook deliveries: the fan-out cursor moves once however many replicas race, each due
//! delivery is claimed by one replica per lease, attempts are recorded, a redelivery starts a
//! new round with the same id, and pruning keeps what is still owed.

use crate::harness::*;
use paygate::domain::{MerchantId, Timestamp};
use paygate::store::{
    AttemptRecord, AttemptResult, ClaimedDelivery, DeliveryFilter, DeliveryJob, DeliveryState,
    DeliveryWritten, NewDelivery, Store, Write, Written,
};
use std::collections::HashSet;

async fn job(store: &Store, job: DeliveryJob) -> DeliveryWritten {
    store.deliveries(job).await.unwrap()
}

async fn init(store: &Store, m: &MerchantId) -> i64 {
    match job(
        store,
        DeliveryJob::InitCursor {
            merchant: m.clone(),
        },
    )
    .await
    {
        DeliveryWritten::Cursor(at) => at,
        other => panic!("unexpected {other:?}"),
    }
}

fn delivery(endpoint: &str, sequence: i64) -> NewDelivery {
    NewDelivery {
        endpoint_id: endpoint.to_owned(),
        sequence,
        event_type: "payment.authorized".into(),
        payment_id: format!("pay_{sequence}"),
        webhook_id: format!("msg_{endpoint}_{sequence}"),
        body: format!("{{\"sequence\":{sequence}}}").into_bytes(),
        next_attempt_at: Timestamp::now(),
        trace_parent: Some(format!("00-{sequence:032x}-00f067aa0ba902b7-01")),
    }
}

async fn fan_out(store: &Store, from: i64, to: i64, endpoint: &str) -> DeliveryWritten {
    let deliveries = ((from + 1)..=to).map(|s| delivery(endpoint, s)).collect();
    job(
        store,
        DeliveryJob::FanOut {
            merchant: merchant(),
            from,
            to,
            deliveries,
            now: Timestamp::now(),
        },
    )
    .await
}

async fn claim(store: &Store, endpoint: &str, limit: u32, lease_secs: i64) -> Vec<ClaimedDelivery> {
    let now = Timestamp::now();
    let job = DeliveryJob::Claim {
        now,
        lease_until: now.plus_seconds(lease_secs),
        endpoints: vec![(endpoint.to_owned(), limit)],
    };
    match store.deliveries(job).await.unwrap() {
        DeliveryWritten::Claimed(c) => c,
        other => panic!("unexpected {other:?}"),
    }
}

async fn all(store: &Store) -> Vec<paygate::store::DeliveryRow> {
    let filter = DeliveryFilter {
        limit: 1000,
        ..Default::default()
    };
    store.list_deliveries(&filter).await.unwrap()
}

pub async fn the_cursor_starts_at_the_last_event_and_moves_once_under_racing_fan_outs(db: &Db) {
    let store = &db.store;
    let m = merchant();
    authorized(store, "before-endpoints", 100).await;
    // (PostgreSQL: numbered by this read; an event still unnumbered at InitCursor would get a
    // number above the cursor and be delivered, which is harmless.)
    assert_eq!(store.events_after(&m, 0, 10).await.unwrap().len(), 1);
    let start = init(store, &m).await;
    assert_eq!(
        start, 1,
        "no replay of what happened before the first endpoint"
    );
    assert_eq!(init(store, &m).await, 1, "created once");
    for i in 0..3 {
        authorized(store, &format!("after-{i}"), 100).await;
    }
    assert_eq!(store.events_after(&m, 1, 10).await.unwrap().len(), 3);
    let replica = db.replica().await;
    let (a, b) = tokio::join!(
        fan_out(store, start, 4, "we_a"),
        fan_out(&replica, start, 4, "we_a")
    );
    let moved: Vec<bool> = [a, b]
        .into_iter()
        .map(|w| match w {
            DeliveryWritten::FannedOut { moved, cursor, .. } => {
                assert_eq!(cursor, 4);
                moved
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        moved.iter().filter(|m| **m).count(),
        1,
        "exactly one fan-out wins: {moved:?}"
    );
    let rows = all(store).await;
    let mut seqs: Vec<i64> = rows.iter().map(|r| r.sequence).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, vec![2, 3, 4], "each event once");
    // A stale fan-out (cursor already past) writes nothing.
    match fan_out(store, start, 4, "we_a").await {
        DeliveryWritten::FannedOut {
            moved, inserted, ..
        } => assert!(!moved && inserted == 0),
        other => panic!("unexpected {other:?}"),
    }
}

pub async fn concurrent_claims_never_hand_out_a_delivery_twice(db: &Db) {
    let m = merchant();
    let from = init(&db.store, &m).await;
    fan_out(&db.store, from, from + 60, "we_busy").await;
    let replica = db.replica().await;
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
                let got = claim(&s, "we_busy", 7, 120).await;
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|d| d.id));
            }
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.extend(t.await.unwrap());
    }
    let unique: HashSet<_> = ids.iter().copied().collect();
    assert_eq!(ids.len(), 60, "no delivery handed out twice");
    assert_eq!(unique.len(), 60);
    assert!(
        claim(&replica, "we_busy", 100, 120).await.is_empty(),
        "leased"
    );
    // Other endpoints are claimed apart.
    assert!(claim(&replica, "we_other", 100, 120).await.is_empty());
}

pub async fn attempts_are_recorded_and_redelivery_starts_a_new_round(db: &Db) {
    let store = &db.store;
    let m = merchant();
    let from = init(store, &m).await;
    fan_out(store, from, from + 1, "we_log").await;
    let d = claim(store, "we_log", 10, 60).await.pop().unwrap();
    assert_eq!(d.round_attempts, 0);
    assert_eq!(
        d.trace_parent,
        Some(format!("00-{:032x}-00f067aa0ba902b7-01", from + 1)),
        "the claim carries the trace to link to"
    );
    let record = |at: Timestamp, status, result, round| AttemptRecord {
        delivery_id: d.id,
        at,
        status,
        error: None,
        latency_ms: 12,
        result,
        round_attempts: round,
    };
    let now = Timestamp::now();
    job(
        store,
        DeliveryJob::Record(record(now, Some(500), AttemptResult::Retry(now), 1)),
    )
    .await;
    let again = claim(store, "we_log", 10, 60).await.pop().unwrap();
    assert_eq!((again.id, again.round_attempts), (d.id, 1));
    job(
        store,
        DeliveryJob::Record(record(now, None, AttemptResult::GaveUp, 2)),
    )
    .await;
    assert!(claim(store, "we_log", 10, 60).await.is_empty(), "failed");
    let row = all(store).await.pop().unwrap();
    assert_eq!(
        (row.state, row.attempts, row.last_status),
        (DeliveryState::Failed, 2, None)
    );
    let log = store.delivery_attempts(d.id).await.unwrap();
    let statuses: Vec<_> = log.iter().map(|a| (a.attempt_no, a.status)).collect();
    assert_eq!(statuses, vec![(1, Some(500)), (2, None)]);

    let redo = DeliveryJob::RedeliverFailedSince {
        since: now.plus_seconds(-1),
        merchant: Some(m.clone()),
        now: Timestamp::now(),
    };
    assert!(matches!(job(store, redo).await, DeliveryWritten::Count(1)));
    let back = claim(store, "we_log", 10, 60).await.pop().unwrap();
    assert_eq!(back.round_attempts, 0, "a new round of the schedule");
    assert_eq!((back.webhook_id, back.body), (d.webhook_id, d.body));
    job(
        store,
        DeliveryJob::Record(record(
            Timestamp::now(),
            Some(200),
            AttemptResult::Delivered,
            1,
        )),
    )
    .await;
    // A late failure from an attempt whose lease had ended does not undo the delivery.
    job(
        store,
        DeliveryJob::Record(record(
            Timestamp::now(),
            Some(500),
            AttemptResult::GaveUp,
            3,
        )),
    )
    .await;
    let row = all(store).await.pop().unwrap();
    assert_eq!((row.state, row.attempts), (DeliveryState::Delivered, 4));
    let missing = DeliveryJob::Redeliver {
        id: d.id + 1000,
        now: Timestamp::now(),
    };
    assert!(matches!(
        job(store, missing).await,
        DeliveryWritten::Count(0)
    ));
}

pub async fn pruning_keeps_pending_deliveries_and_events_no_cursor_has_passed(db: &Db) {
    let store = &db.store;
    let m = merchant();
    let from = init(store, &m).await;
    fan_out(store, from, from + 2, "we_prune").await;
    let claimed = claim(store, "we_prune", 1, 60).await;
    let now = Timestamp::now();
    job(
        store,
        DeliveryJob::Record(AttemptRecord {
            delivery_id: claimed[0].id,
            at: now,
            status: Some(204),
            error: None,
            latency_ms: 3,
            result: AttemptResult::Delivered,
            round_attempts: 1,
        }),
    )
    .await;
    let cutoff = Timestamp::now().plus_seconds(1);
    match job(store, DeliveryJob::Prune { cutoff }).await {
        DeliveryWritten::Count(n) => assert_eq!(n, 1, "the delivered one only"),
        other => panic!("unexpected {other:?}"),
    }
    let left = all(store).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].state, DeliveryState::Pending);
    assert!(
        store
            .delivery_attempts(claimed[0].id)
            .await
            .unwrap()
            .is_empty()
    );

    // Events: the cursor is at 2 (`from` was 0, no event yet); of four old events, retention
    // deletes the two the cursor has passed and keeps the two still to fan out.
    assert_eq!(from, 0);
    for i in 0..4 {
        authorized(store, &format!("event-{i}"), 100).await;
    }
    // (On PostgreSQL a read numbers what is committed: retention prunes numbered events only.)
    assert_eq!(store.events_after(&m, 0, 10).await.unwrap().len(), 4);
    let cutoff = Timestamp::now().plus_seconds(3600);
    let pruned = store.write(Write::PruneEvents { cutoff }).await.unwrap();
    assert!(matches!(pruned, Written::Reaped(2)), "got {pruned:?}");
    let kept: Vec<i64> = store
        .events_after(&m, 0, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.sequence)
        .collect();
    assert_eq!(kept, vec![3, 4], "events after the cursor are kept");
}
