//! PostgreSQL only: the event log is numbered after commit (migration 0002), so these check
//! what that adds to the shared contract: a database written before the migration keeps its
//! numbers and continues without a gap, and events a replica committed but never numbered (it
//! stopped first) are numbered by another replica.

use crate::harness::{PgDatabase, authorized, merchant, new_payment, open};
use paygate::domain::Timestamp;
use sqlx::Connection;
use std::time::Duration;

const MIGRATIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/store/migrations/postgres");

/// An event row as a replica of the previous release wrote it: numbered in its transaction.
async fn insert_numbered_event(conn: &mut sqlx::PgConnection, sequence: i64, key: &str) {
    let payment = new_payment(&merchant(), key, 100, Timestamp::now());
    sqlx::query(
        "INSERT INTO events (sequence, merchant_id, payment_id, type, payment, occurred_at) \
         VALUES ($1, $2, $3::uuid, 'payment.authorized', $4, $5)",
    )
    .bind(sequence)
    .bind(merchant().as_str())
    .bind(payment.id.to_string())
    .bind(serde_json::to_string(&payment).unwrap())
    .bind(Timestamp::now().micros())
    .execute(&mut *conn)
    .await
    .unwrap();
    sqlx::query("UPDATE event_counter SET last = $1")
        .bind(sequence)
        .execute(&mut *conn)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_events_written_before_the_numbering_migration_keep_their_numbers() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    // The previous release's schema: migration 0001 alone (same file, same checksum).
    let old = tempfile::tempdir().unwrap();
    std::fs::copy(
        format!("{MIGRATIONS}/0001_init.sql"),
        old.path().join("0001_init.sql"),
    )
    .unwrap();
    let mut conn = sqlx::PgConnection::connect(&pg.url).await.unwrap();
    sqlx::migrate::Migrator::new(old.path())
        .await
        .unwrap()
        .run(&mut conn)
        .await
        .unwrap();
    for sequence in 1..=3 {
        insert_numbered_event(&mut conn, sequence, &format!("old-{sequence}")).await;
    }
    conn.close().await.unwrap();

    // This release migrates on open, then numbers its own events after the old ones.
    let store = open(&pg.url).await;
    let p = authorized(&store, "new-1", 100).await;
    let events = store.events_after(&merchant(), 0, 100).await.unwrap();
    let sequences: Vec<i64> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, vec![1, 2, 3, 4]);
    assert_eq!(events[0].payment.merchant_reference, "order-old-1");
    assert_eq!(events[3].payment.id, p.id);
    assert_eq!(events[3].kind, "payment.authorized");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_events_a_stopped_replica_left_unnumbered_are_numbered_by_another() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    let store = open(&pg.url).await;
    authorized(&store, "first", 100).await;
    assert_eq!(
        store.events_after(&merchant(), 0, 10).await.unwrap().len(),
        1
    );

    // Another replica commits a change and its event, then dies before numbering it: the
    // event is queued in the database and nobody on this replica committed anything.
    let stranded = new_payment(&merchant(), "stranded", 200, Timestamp::now());
    let mut conn = sqlx::PgConnection::connect(&pg.url).await.unwrap();
    sqlx::query(
        "WITH e AS (INSERT INTO events (merchant_id, payment_id, type, payment, occurred_at) \
         VALUES ($1, $2::uuid, 'payment.authorized', $3, $4) RETURNING id, merchant_id, occurred_at) \
         INSERT INTO events_to_number (event_id, merchant_id, occurred_at) SELECT * FROM e",
    )
    .bind(merchant().as_str())
    .bind(stranded.id.to_string())
    .bind(serde_json::to_string(&stranded).unwrap())
    .bind(Timestamp::now().micros())
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    // This replica's once-a-second sweep numbers it. `tail_events` (what a subscriber reads)
    // numbers nothing itself, so only the sweep can make it appear there.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let events = loop {
        let events = store.tail_events(&merchant(), 0, 10).await.unwrap();
        if events.len() == 2 || tokio::time::Instant::now() > deadline {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(events.len(), 2, "the stranded event was never numbered");
    assert_eq!(events[1].sequence, 2);
    assert_eq!(events[1].payment.id, stranded.id);
    store.close().await;
}
