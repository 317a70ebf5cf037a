//! PostgreSQL only: replicas starting at once on a fresh database migrate it exactly once
//! (sqlx's PostgreSQL migrator serializes on an advisory lock).

use crate::harness::PgDatabase;
use sqlx::{Connection, Row};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_replicas_starting_together_apply_each_migration_once() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    // Concurrent futures on one task (Store::open's future is not Send: the SQLite migrator
    // borrows a connection across awaits), each on its own connections: PostgreSQL sees six
    // migrators at once.
    let stores = futures::future::join_all((0..6).map(|_| crate::harness::open(&pg.url))).await;
    let files = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/store/migrations/postgres"
    ))
    .unwrap()
    .filter(|e| {
        e.as_ref()
            .map(|e| e.path().extension().is_some_and(|x| x == "sql"))
            .unwrap_or(false)
    })
    .count();
    let mut conn = sqlx::PgConnection::connect(&pg.url).await.unwrap();
    let applied: i64 = sqlx::query("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0);
    assert_eq!(usize::try_from(applied).unwrap(), files);
    let counters: i64 = sqlx::query("SELECT COUNT(*) FROM event_counter")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0);
    assert_eq!(counters, 1, "the counter row was inserted once");
    conn.close().await.unwrap();
    for s in stores {
        s.ping().await.unwrap();
        s.close().await;
    }
}
