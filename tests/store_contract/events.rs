//! The event log behind WatchEvents: gap-free, numbered in commit order, readable by any
//! replica while other replicas write.

use crate::harness::*;
use paygate::domain::{MerchantId, OperationKind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const WRITERS: usize = 8;
const PAYMENTS_PER_WRITER: usize = 12;

pub async fn events_are_gap_free_and_in_commit_order_under_concurrent_writers(db: &Db) {
    let replica = db.replica().await;
    let reader_store = db.replica().await;
    let m = merchant();
    let stop = Arc::new(AtomicBool::new(false));

    // The reader follows the log while it grows, as a WatchEvents subscriber on a third
    // replica would. A reader that ever saw N+1 before N would skip N for good: each page
    // must continue exactly where the previous one ended.
    let reader = {
        let stop = stop.clone();
        let m = m.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut last = 0;
            loop {
                let finished = stop.load(Ordering::SeqCst);
                let page = reader_store.events_after(&m, last, 50).await.unwrap();
                for event in &page {
                    assert_eq!(event.sequence, last + 1, "gap or reorder after {last}");
                    last = event.sequence;
                    seen.push(event.sequence);
                }
                if finished && page.is_empty() {
                    return seen;
                }
                tokio::task::yield_now().await;
            }
        })
    };

    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let s = if w % 2 == 0 {
            db.store.clone()
        } else {
            replica.clone()
        };
        writers.push(tokio::spawn(async move {
            for i in 0..PAYMENTS_PER_WRITER {
                // Two events each: authorized, captured.
                let p = authorized(&s, &format!("ev-{w}-{i}"), 100).await;
                done(
                    &s,
                    p.id,
                    OperationKind::Capture,
                    None,
                    &format!("ev-{w}-{i}-cap"),
                )
                .await;
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    let seen = reader.await.unwrap();
    let expected = i64::try_from(WRITERS * PAYMENTS_PER_WRITER * 2).unwrap();
    assert_eq!(seen, (1..=expected).collect::<Vec<_>>());

    // Each payment's events are in its own order: authorized before captured.
    let all = db.store.events_after(&m, 0, 1000).await.unwrap();
    let mut state = std::collections::HashMap::new();
    for e in &all {
        let before = state.insert(e.payment.id, e.kind.clone());
        match e.kind.as_str() {
            "payment.authorized" => assert_eq!(before, None),
            "payment.captured" => assert_eq!(before.as_deref(), Some("payment.authorized")),
            other => panic!("unexpected event {other}"),
        }
    }
}

pub async fn events_are_scoped_to_their_merchant(db: &Db) {
    let souk = MerchantId::parse("souk").unwrap();
    let (p, op) = started(open_payment(&db.store, &souk, "souk-1", 100).await);
    settle(&db.store, p.id, op, ok()).await;
    authorized(&db.store, "atlas-1", 100).await;
    let atlas_events = db.store.events_after(&merchant(), 0, 100).await.unwrap();
    let souk_events = db.store.events_after(&souk, 0, 100).await.unwrap();
    assert_eq!(atlas_events.len(), 1);
    assert_eq!(souk_events.len(), 1);
    assert_eq!(souk_events[0].payment.id, p.id);
    assert_eq!(souk_events[0].kind, "payment.authorized");
    // The sequence is global: the two merchants' events share one numbering.
    assert_ne!(atlas_events[0].sequence, souk_events[0].sequence);
    let after = db
        .store
        .events_after(&souk, souk_events[0].sequence, 100)
        .await
        .unwrap();
    assert!(after.is_empty());
}
