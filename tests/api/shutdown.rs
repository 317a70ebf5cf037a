//! Graceful shutdown: an RPC in flight when the trigger fires still completes, and is recorded.

use crate::helpers::*;
use paygate::grpc::proto::PaymentStatus;
use paygate::providers::mock::wire::Faults;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rpc_in_flight_when_shutdown_fires_still_completes_ok() {
    let mut app = TestApp::spawn().await;
    let faults = Faults {
        latency_ms: 500,
        ..Default::default()
    };
    app.mock_api()
        .set_faults(&faults)
        .await
        .expect("set faults");

    let mut client = app.client();
    let in_flight = tokio::spawn(async move {
        client
            .authorize(authorize_req("inflight-1", 10_000, "MAD", ""))
            .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    app.fire_stop();

    let payment = tokio::time::timeout(Duration::from_secs(30), in_flight)
        .await
        .expect("the in-flight RPC did not finish")
        .expect("task")
        .expect("the in-flight Authorize must complete OK")
        .into_inner();
    assert_eq!(payment.status(), PaymentStatus::Authorized);
    tokio::time::timeout(Duration::from_secs(30), app.join())
        .await
        .expect("app did not stop")
        .expect("app stopped cleanly");

    // Its outcome was written before the store closed.
    let app = app.restart().await;
    let got = app
        .client()
        .get_payment(get_req(&payment.id))
        .await
        .expect("get after restart")
        .into_inner();
    assert_eq!(got, payment);
}

#[tokio::test]
async fn after_shutdown_new_rpcs_are_refused() {
    let mut app = TestApp::spawn().await;
    let mut client = app.client();
    authorized(&mut client, "before-stop", 1_000).await;
    app.stop().await;
    let err = client
        .authorize(authorize_req("after-stop", 1_000, "MAD", ""))
        .await
        .expect_err("stopped");
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
}
