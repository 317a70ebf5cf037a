//! The ledger is the SQLite file: payments and idempotency keys survive a restart.

use crate::helpers::*;
use paygate::grpc::proto::PaymentStatus;
use tonic::Code;

#[tokio::test]
async fn payments_and_keys_survive_a_restart_on_the_same_database_file() {
    let app = TestApp::spawn().await;
    let db = app.db_path();
    let mut client = app.client();

    let mut req = authorize_req("durable-1", 10_000, "MAD", "");
    req.metadata.insert("k".into(), "v".into());
    req.merchant_reference = "durable-order".into();
    let p = client
        .authorize(req.clone())
        .await
        .expect("authorize")
        .into_inner();
    let p = client
        .capture(capture_req("durable-cap", &p.id, mad(4_000)))
        .await
        .expect("capture")
        .into_inner();
    let p = client
        .refund(refund_req("durable-ref", &p.id, mad(1_000)))
        .await
        .expect("refund")
        .into_inner();
    assert_eq!(p.status(), PaymentStatus::PartiallyRefunded);
    let declined = client
        .authorize(authorize_req("durable-2", 500, "MAD", "mock_decline"))
        .await
        .expect("decline")
        .into_inner();
    let listed_before = app.list_all().await;

    let app = app.restart().await;
    assert_eq!(app.db_path(), db, "same database file");
    assert!(db.exists());
    let mut client = app.client();
    let got = client
        .get_payment(get_req(&p.id))
        .await
        .expect("GetPayment after restart")
        .into_inner();
    assert_eq!(got, p, "identical payment after restart");
    let got = client
        .get_payment(get_req(&declined.id))
        .await
        .expect("declined after restart")
        .into_inner();
    assert_eq!(got, declined);
    assert_eq!(app.list_all().await, listed_before);

    // Idempotency keys are durable too: a replay needs no processor (this one is brand new).
    let replay = client
        .authorize(req)
        .await
        .expect("replay after restart")
        .into_inner();
    assert_eq!(replay.id, p.id);
    let err = client
        .capture(capture_req("durable-cap", &p.id, mad(4_001)))
        .await;
    assert_error(err, Code::FailedPrecondition, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(
        app.ledger().await.requests,
        0,
        "nothing reached the new processor"
    );
}

#[tokio::test]
async fn a_stopped_app_closes_its_grpc_port_and_a_restart_serves_the_same_payment() {
    let mut app = TestApp::spawn().await;
    let mut client = app.client();
    let p = authorized(&mut client, "stop-1", 2_000).await;
    let addr = app.grpc_addr();
    app.stop().await;
    // The old address no longer serves.
    let reconnect = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(std::time::Duration::from_secs(2))
        .connect()
        .await;
    assert!(reconnect.is_err(), "the gRPC listener is closed after stop");

    let app = app.restart().await;
    let got = app
        .client()
        .get_payment(get_req(&p.id))
        .await
        .expect("get")
        .into_inner();
    assert_eq!(got, p);
}
