//! SQLite only: a database that cannot grow, as on a full disk (here `max_page_count`, through
//! `StoreOptions::sqlite_max_pages`), refuses writes as `Unavailable`, the "retry later" error,
//! never `Internal`, and keeps what it had acknowledged readable.

use crate::harness::{claim, merchant, new_payment, open_with};
use paygate::domain::{ListQuery, Timestamp};
use paygate::store::{StoreError, Write};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_sqlite_database_refuses_writes_as_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("full.db").display());
    // Never below the size the migrations left: one page means "no room to grow".
    let store = open_with(&url, Some(1)).await;
    let mut written = Vec::new();
    let refused = loop {
        let key = format!("fill-{}", written.len());
        let payment = new_payment(&merchant(), &key, 100, Timestamp::now());
        let job = Write::OpenPayment {
            claim: claim(&merchant(), "Authorize", &key, 1),
            payment: Box::new(payment.clone()),
            lease_until: Timestamp::now(),
        };
        match store.write(job).await {
            Ok(_) => written.push(payment.id),
            Err(e) => break e,
        }
        assert!(written.len() < 10_000, "the database never filled up");
    };
    let StoreError::Unavailable(cause) = &refused else {
        panic!("a full database is an outage, not a bug: {refused:?}");
    };
    // The cause names the full database (SQLITE_FULL), not what the rollback ran into after.
    assert!(cause.contains("(code: 13)"), "{cause}");
    // Still full: the next write is refused the same way, and nothing acknowledged is lost.
    let key = "after-full";
    let again = store
        .write(Write::OpenPayment {
            claim: claim(&merchant(), "Authorize", key, 1),
            payment: Box::new(new_payment(&merchant(), key, 100, Timestamp::now())),
            lease_until: Timestamp::now(),
        })
        .await;
    assert!(
        matches!(again, Err(StoreError::Unavailable(_))),
        "{again:?}"
    );
    // Nothing half-written: exactly the acknowledged payments are there.
    for id in &written {
        store.payment(&merchant(), *id).await.unwrap();
    }
    let query = ListQuery {
        page_size: 1_000,
        ..ListQuery::default()
    };
    let listed = store.list(&merchant(), &query).await.unwrap();
    assert_eq!(listed.len(), written.len());
    store.close().await;
}
