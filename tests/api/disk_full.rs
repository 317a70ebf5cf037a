//! A SQLite database that cannot grow, as on a full disk (`max_page_count` through the
//! test-only `sqlite_max_pages` setting): Authorize answers UNAVAILABLE / STORE_UNAVAILABLE,
//! the "retry later" answer, never INTERNAL, and what was acknowledged stays readable.

use crate::helpers::*;
use std::collections::HashSet;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sqlite_database_is_store_unavailable_not_internal() {
    // Never below the size the migrations left: one page means "no room to grow".
    let app = TestApp::spawn_with(|s| s.database.sqlite_max_pages = Some(1)).await;
    let mut client = app.client();
    let mut acknowledged = Vec::new();
    let refused = loop {
        let key = format!("fill-{}", acknowledged.len());
        match client
            .authorize(authorize_req(&key, 1_000, "MAD", ""))
            .await
        {
            Ok(p) => acknowledged.push(p.into_inner().id),
            Err(e) => break e,
        }
        assert!(acknowledged.len() < 10_000, "the database never filled up");
    };
    assert_eq!(
        refused.code(),
        Code::Unavailable,
        "a full disk is an outage: {refused:?}"
    );
    assert_eq!(reason(&refused), "STORE_UNAVAILABLE", "{refused:?}");
    assert!(retry_delay(&refused).is_some(), "tells the caller to retry");

    let again = client
        .authorize(authorize_req("after-full", 1_000, "MAD", ""))
        .await;
    assert_error(again, Code::Unavailable, "STORE_UNAVAILABLE");
    // Nothing half-written: exactly the acknowledged payments are there, and readable.
    for id in &acknowledged {
        client
            .get_payment(get_req(id))
            .await
            .expect("still readable");
    }
    let stored: HashSet<String> = app.list_all().await.into_iter().map(|p| p.id).collect();
    assert_eq!(stored, acknowledged.iter().cloned().collect::<HashSet<_>>());
}
