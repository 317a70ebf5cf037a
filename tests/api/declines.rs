//! Declines are results (OK + DECLINED); an unavailable processor is an error that charged nothing.

use crate::helpers::*;
use paygate::grpc::proto::{OperationKind, OperationStatus, PaymentStatus};
use tonic::Code;

#[tokio::test]
async fn every_decline_token_answers_ok_with_declined_status_and_failure_code() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    for (token, code) in [
        ("mock_decline", "card_declined"),
        ("mock_insufficient_funds", "insufficient_funds"),
        ("mock_expired_card", "expired_card"),
    ] {
        let p = client
            .authorize(authorize_req(
                &format!("decline-{token}"),
                10_000,
                "MAD",
                token,
            ))
            .await
            .unwrap_or_else(|e| panic!("{token}: a decline is a result, got {e:?}"))
            .into_inner();
        assert_eq!(p.status(), PaymentStatus::Declined, "{token}: {p:?}");
        let failure = p
            .failure
            .as_ref()
            .unwrap_or_else(|| panic!("{token}: failure must be set"));
        assert_eq!(failure.code, code, "{token}");
        assert!(!failure.message.is_empty(), "{token}: failure message");
        assert_eq!(amount_of(p.captured.as_ref()).0, 0);
        let ops: Vec<_> = p
            .operations
            .iter()
            .map(|o| (o.kind(), o.status()))
            .collect();
        assert_eq!(
            ops,
            vec![(OperationKind::Authorize, OperationStatus::Failed)],
            "{token}"
        );

        // DECLINED is terminal.
        let err = client
            .capture(capture_req(&format!("cap-{token}"), &p.id, None))
            .await;
        assert_error(err, Code::FailedPrecondition, "INVALID_STATE");
        let err = client.void(void_req(&format!("void-{token}"), &p.id)).await;
        assert_error(err, Code::FailedPrecondition, "INVALID_STATE");
    }
    // A decline keeps its key: the same request replays the decline without asking again.
    let requests = app.ledger().await.requests;
    let first = client
        .get_payment(get_req(&app.list_all().await[0].id))
        .await
        .expect("get")
        .into_inner();
    let replay = client
        .authorize(authorize_req(
            "decline-mock_expired_card",
            10_000,
            "MAD",
            "mock_expired_card",
        ))
        .await
        .expect("replay")
        .into_inner();
    assert_eq!(replay, first);
    let ledger = app.ledger().await;
    assert_eq!(
        ledger.requests, requests,
        "a replayed decline does not reach the processor"
    );
    assert_eq!(ledger.authorizations, 0, "declines hold no money");
    assert_eq!(ledger.captured_total, 0);
    let declined = app.list_all().await;
    assert_eq!(declined.len(), 3);
    assert!(
        declined
            .iter()
            .all(|p| p.status() == PaymentStatus::Declined)
    );
}

#[tokio::test]
async fn unavailable_processor_is_provider_unavailable_and_nothing_is_charged() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let before = app.ledger().await;

    let err = client
        .authorize(authorize_req(
            "unavail-1",
            10_000,
            "MAD",
            "mock_unavailable",
        ))
        .await;
    let status = assert_error(err, Code::Unavailable, "PROVIDER_UNAVAILABLE");
    assert!(!status.message().is_empty());
    assert!(
        retry_delay(&status).is_some(),
        "UNAVAILABLE says when to retry: {status:?}"
    );
    let after = app.ledger().await;
    assert_eq!(after.authorizations, before.authorizations, "nothing held");
    assert_eq!(
        after.captured_total, before.captured_total,
        "nothing charged"
    );

    // The key was released: the same request reaches the processor again (no replay of a
    // stale answer, no IDEMPOTENCY_KEY_REUSED) and is refused again the same way.
    let err = client
        .authorize(authorize_req(
            "unavail-1",
            10_000,
            "MAD",
            "mock_unavailable",
        ))
        .await;
    assert_error(err, Code::Unavailable, "PROVIDER_UNAVAILABLE");
    let metrics = app.metrics().await;
    assert_eq!(
        metric_value(
            &metrics,
            "paygate_idempotent_replays_total{method=\"Authorize\"}"
        ),
        0.0,
        "{metrics}"
    );
    assert_eq!(
        metric_value(
            &metrics,
            "paygate_grpc_requests_total{method=\"Authorize\",code=\"UNAVAILABLE\"}"
        ),
        2.0,
        "{metrics}"
    );
    assert_eq!(app.ledger().await.authorizations, before.authorizations);

    // Nothing looks captured or authorized in paygate either.
    for p in app.list_all().await {
        assert!(
            !matches!(
                p.status(),
                PaymentStatus::Authorized | PaymentStatus::Captured | PaymentStatus::Pending
            ),
            "{p:?}"
        );
    }
}

#[tokio::test]
async fn after_unavailable_a_retry_with_the_same_key_and_a_working_card_is_authorized_once() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    // Fault injection: every mutating request is answered 503 without acting.
    let faults = paygate::providers::mock::wire::Faults {
        error_rate_percent: 100,
        ..Default::default()
    };
    app.mock_api()
        .set_faults(&faults)
        .await
        .expect("set faults");
    let err = client
        .authorize(authorize_req("retry-1", 7_000, "MAD", ""))
        .await;
    assert_error(err, Code::Unavailable, "PROVIDER_UNAVAILABLE");
    assert_eq!(app.ledger().await.authorizations, 0);

    app.mock_api()
        .set_faults(&Default::default())
        .await
        .expect("clear faults");
    let p = client
        .authorize(authorize_req("retry-1", 7_000, "MAD", ""))
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(p.status(), PaymentStatus::Authorized);
    let again = client
        .authorize(authorize_req("retry-1", 7_000, "MAD", ""))
        .await
        .expect("replay")
        .into_inner();
    assert_eq!(again.id, p.id, "now the key is kept and replays");
    assert_eq!(app.ledger().await.authorizations, 1);
}
