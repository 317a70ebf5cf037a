//! A payment hammered with attempts the processor refuses keeps a bounded document: the last
//! `KEPT_FAILED_ATTEMPTS` failed attempts and a count of the rest, so the stored document, every
//! saved idempotent reply and every event that copies it stop growing.

use crate::helpers::*;
use paygate::domain::KEPT_FAILED_ATTEMPTS;
use paygate::grpc::proto::{OperationKind, OperationStatus, PaymentStatus};
use paygate::providers::mock::wire::AmountRequest;
use sqlx::{Connection, Row};

/// (payment document, largest saved reply, largest event copy), in bytes, read from the file.
async fn stored_sizes(app: &TestApp) -> (i64, i64, i64) {
    let url = format!("sqlite://{}?mode=ro", app.db_path().display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let row = sqlx::query(
        "SELECT (SELECT MAX(LENGTH(doc)) FROM payments), \
                (SELECT MAX(LENGTH(response)) FROM idempotency_keys), \
                (SELECT MAX(LENGTH(payment)) FROM events)",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    let sizes = (row.get(0), row.get(1), row.get(2));
    db.close().await.unwrap();
    sizes
}

#[tokio::test]
async fn a_payment_hammered_with_refused_captures_keeps_a_bounded_document() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let p = authorized(&mut client, "hammer", 10_000).await;
    // Behind paygate's back, half is captured at the processor: from then on it refuses any
    // capture above 50.00, and paygate (which cannot know) records each as a failed attempt.
    let half = AmountRequest {
        amount: 5_000,
        currency: "MAD".into(),
    };
    app.mock_api()
        .capture("behind-its-back", &p.provider_reference, &half)
        .await
        .unwrap();

    let attempts = 4 * KEPT_FAILED_ATTEMPTS;
    let mut at_kept = (0, 0, 0);
    for n in 0..attempts {
        let reply = client
            .capture(capture_req(&format!("hammer-{n}"), &p.id, mad(6_000)))
            .await
            .expect("a refusal by the processor is a result")
            .into_inner();
        let last = reply.operations.last().unwrap();
        assert_eq!(last.status(), OperationStatus::Failed, "{reply:?}");
        assert_eq!(reply.status(), PaymentStatus::Authorized);
        if n + 1 == KEPT_FAILED_ATTEMPTS {
            at_kept = stored_sizes(&app).await;
        }
    }
    let now = client
        .get_payment(get_req(&p.id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(now.operations.len(), 1 + KEPT_FAILED_ATTEMPTS, "{now:?}");
    assert_eq!(now.operations[0].kind(), OperationKind::Authorize);

    // What the processor will take still works, and its event copies the bounded document.
    let ok = client
        .capture(capture_req("hammer-ok", &p.id, mad(1_000)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.status(), PaymentStatus::PartiallyCaptured, "{ok:?}");
    let (doc, reply, event) = stored_sizes(&app).await;
    let margin = 600; // the count, and one succeeded capture in place of a failed one
    assert!(
        doc <= at_kept.0 + margin,
        "document {doc} B, {} B after {KEPT_FAILED_ATTEMPTS}",
        at_kept.0
    );
    assert!(
        reply <= at_kept.1 + margin,
        "saved reply {reply} B, {} B after {KEPT_FAILED_ATTEMPTS}",
        at_kept.1
    );
    assert!(event <= at_kept.0 + margin, "event copy {event} B");
}
