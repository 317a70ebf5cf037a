//! The public-path reads (and the webhook backlog) use their indexes (SQLite's `EXPLAIN QUERY PLAN`), and migration 0006
//! fills `operation_references` from the payments already stored.

use super::deliveries::BACKLOG;
use super::{BY_OPERATION_REFERENCE, EVENTS_AFTER};
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Row, SqliteConnection};
use std::str::FromStr;

async fn connect(dir: &tempfile::TempDir) -> SqliteConnection {
    let url = format!("sqlite://{}", dir.path().join("plans.db").display());
    SqliteConnectOptions::from_str(&url)
        .unwrap()
        .create_if_missing(true)
        .connect()
        .await
        .unwrap()
}

/// The `detail` column of each step of the plan, e.g. "SEARCH events USING INDEX ...".
async fn plan(conn: &mut SqliteConnection, sql: &str) -> Vec<String> {
    let explain = format!("EXPLAIN QUERY PLAN {sql}");
    sqlx::query(sqlx::AssertSqlSafe(explain))
        .fetch_all(&mut *conn)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get::<String, _>("detail"))
        .collect()
}

#[tokio::test]
async fn watch_events_and_operation_reference_reads_search_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = connect(&dir).await;
    sqlx::migrate!("src/store/migrations/sqlite")
        .run(&mut conn)
        .await
        .unwrap();

    let events = plan(&mut conn, EVENTS_AFTER).await;
    assert_eq!(
        events,
        ["SEARCH events USING INDEX events_by_merchant (merchant_id=? AND sequence>?)"],
        "one merchant's events after a sequence, in order, without a sort or a scan"
    );

    let by_reference = plan(&mut conn, BY_OPERATION_REFERENCE).await;
    assert_eq!(
        by_reference,
        [
            "SEARCH r USING PRIMARY KEY (merchant_id=? AND provider=? AND reference=?)",
            "SEARCH p USING INDEX sqlite_autoindex_payments_1 (id=?)",
        ],
        "no payment document is parsed to find the payment"
    );

    let backlog = plan(&mut conn, BACKLOG).await;
    assert_eq!(
        backlog.first().map(String::as_str),
        Some("SCAN webhook_deliveries USING INDEX webhook_deliveries_due"),
        "the backlog reads pending rows only, not the whole delivery log"
    );
}

#[tokio::test]
async fn migration_0006_indexes_the_references_already_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = connect(&dir).await;
    let all = sqlx::migrate!("src/store/migrations/sqlite");
    let mut before = Migrator::new(std::path::Path::new("src/store/migrations/sqlite"))
        .await
        .unwrap();
    before.migrations = all
        .migrations
        .iter()
        .filter(|m| m.version < 6)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    before.run(&mut conn).await.unwrap();
    // A payment with a capture, a refund split into two PayPal refunds and a pending void.
    let doc = r#"{"operations": [{"provider_reference": "CAP-1"},
        {"provider_reference": "REF-1,REF-2"}, {"provider_reference": null}]}"#;
    sqlx::query(
        "INSERT INTO payments (id, merchant_id, provider, merchant_reference, status, currency, \
         amount, captured, refunded, provider_reference, doc, version, created_at, updated_at) \
         VALUES ('p1', 'atlas', 'paypal', 'o-1', 'partially_refunded', 'EUR', 100, 100, 50, \
         'ORDER-1', ?, 0, 0, 0)",
    )
    .bind(doc)
    .execute(&mut conn)
    .await
    .unwrap();

    all.run(&mut conn).await.unwrap();
    let rows = sqlx::query(
        "SELECT merchant_id, provider, reference, payment_id FROM operation_references \
         ORDER BY reference",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let got: Vec<(String, String, String, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let want = |reference: &str| {
        (
            "atlas".to_owned(),
            "paypal".to_owned(),
            reference.to_owned(),
            "p1".to_owned(),
        )
    };
    assert_eq!(got, vec![want("CAP-1"), want("REF-1"), want("REF-2")]);
}
