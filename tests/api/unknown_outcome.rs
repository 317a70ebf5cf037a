//! DESIGN.md §2.1 / §5 / §11: a provider call that was sent but not answered in time is not an
//! error: OK, payment PENDING, operation UNKNOWN, and never a second charge on retry.

use crate::helpers::*;
use paygate::grpc::proto::{OperationKind, OperationStatus, PaymentStatus};
use paygate::providers::mock::wire::Faults;
use std::time::Duration;
use tonic::Code;

/// The provider timeout is short and the processor stalls `mock_timeout` answers beyond it.
async fn spawn_with_short_provider_timeout() -> TestApp {
    let app = TestApp::spawn_with(|s| s.server.provider_timeout = Duration::from_millis(300)).await;
    let faults = Faults {
        timeout_delay_ms: 1_500,
        ..Default::default()
    };
    app.mock_api()
        .set_faults(&faults)
        .await
        .expect("set faults");
    app
}

#[tokio::test]
async fn a_timed_out_authorization_is_ok_pending_with_an_unknown_operation_and_never_charged_twice()
{
    let app = spawn_with_short_provider_timeout().await;
    let mut client = app.client();
    let req = authorize_req("timeout-1", 10_000, "MAD", "mock_timeout");
    let p = client
        .authorize(req.clone())
        .await
        .expect("an unknown outcome is a result")
        .into_inner();
    assert_eq!(p.status(), PaymentStatus::Pending, "{p:?}");
    let ops: Vec<_> = p
        .operations
        .iter()
        .map(|o| (o.kind(), o.status()))
        .collect();
    assert_eq!(
        ops,
        vec![(OperationKind::Authorize, OperationStatus::Unknown)]
    );
    // The processor did apply it: one hold, which paygate must not repeat.
    assert_eq!(app.ledger().await.authorizations, 1);

    // Retrying with the same key is safe: no second processor call, no error.
    let again = client.authorize(req).await.expect("retry").into_inner();
    assert_eq!(again.id, p.id);
    assert_eq!(
        app.ledger().await.authorizations,
        1,
        "a retry never starts a second money movement"
    );
    let metrics = app.metrics().await;
    assert_eq!(
        metric_value(
            &metrics,
            "paygate_provider_requests_total{provider=\"mock\",operation=\"authorize\",outcome=\"unknown\"}"
        ),
        1.0,
        "{metrics}"
    );

    // Nothing can be captured or voided until the outcome is known.
    let status = client
        .capture(capture_req("timeout-cap", &p.id, None))
        .await
        .expect_err("pending");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let status = client
        .void(void_req("timeout-void", &p.id))
        .await
        .expect_err("pending");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(app.ledger().await.captured_total, 0);
}

/// DESIGN.md §11: "`mock_timeout`: paygate returns PENDING, reconciliation later finds it
/// approved". Waits up to 20 s for the background reconciler.
#[tokio::test]
async fn reconciliation_settles_a_timed_out_authorization_as_authorized() {
    let app = spawn_with_short_provider_timeout().await;
    let mut client = app.client();
    let p = client
        .authorize(authorize_req("reconcile-1", 10_000, "MAD", "mock_timeout"))
        .await
        .expect("authorize")
        .into_inner();
    assert_eq!(p.status(), PaymentStatus::Pending);
    let mut last = p.clone();
    for _ in 0..200 {
        last = client
            .get_payment(get_req(&p.id))
            .await
            .expect("get")
            .into_inner();
        if last.status() != PaymentStatus::Pending {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        last.status(),
        PaymentStatus::Authorized,
        "still not reconciled after 20 s: {last:?}"
    );
    assert_eq!(last.operations[0].status(), OperationStatus::Succeeded);
    assert_eq!(
        app.ledger().await.authorizations,
        1,
        "reconciliation asks, it does not charge again"
    );
}
