//! Bounds on what one call may carry: a list filter as long as the field it filters, and
//! metadata that fails the one call, not the connection it came on.

use crate::helpers::*;
use paygate::grpc::proto as pb;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tonic::Code;
use tonic::transport::Endpoint;

#[tokio::test]
async fn a_megabyte_merchant_reference_filter_is_invalid_argument_naming_the_field() {
    let app = TestApp::spawn().await;
    let req = pb::ListPaymentsRequest {
        merchant_reference: "r".repeat(1024 * 1024 - 64),
        ..Default::default()
    };
    let err = assert_error(
        app.client().list_payments(req).await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
    assert_eq!(bad_fields(&err), ["merchant_reference"]);
    // A filter of ordinary length still works.
    let req = pb::ListPaymentsRequest {
        merchant_reference: "order-1".to_owned(),
        ..Default::default()
    };
    app.client().list_payments(req).await.unwrap();
}

/// A channel over one connection whose connects are counted: a GOAWAY would show as a second.
async fn counted_channel(app: &TestApp) -> (tonic::transport::Channel, Arc<AtomicUsize>) {
    let connects = Arc::new(AtomicUsize::new(0));
    let (addr, counter) = (app.grpc_addr(), connects.clone());
    let connector = tower::service_fn(move |_: http::Uri| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            let tcp = tokio::net::TcpStream::connect(addr).await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tcp))
        }
    });
    let channel = Endpoint::from_static("http://paygate")
        .connect_with_connector(connector)
        .await
        .unwrap();
    (channel, connects)
}

#[tokio::test]
async fn oversized_metadata_fails_the_call_and_the_connection_serves_the_next() {
    let app = TestApp::spawn().await;
    let (channel, connects) = counted_channel(&app).await;
    let mut client = PaymentGatewayClient::new(channel);
    authorized(&mut client, "before-big-header", 1_000).await;

    let mut req = tonic::Request::new(get_req("00000000-0000-0000-0000-000000000000"));
    let big = "v".repeat(64 * 1024);
    req.metadata_mut().insert("x-big", big.parse().unwrap());
    assert_error(
        client.get_payment(req).await,
        Code::ResourceExhausted,
        "METADATA_TOO_LARGE",
    );

    authorized(&mut client, "after-big-header", 1_000).await;
    assert_eq!(
        connects.load(Ordering::SeqCst),
        1,
        "the same connection served all three calls"
    );
}
