//! DESIGN.md §8: callers authenticate with a per-merchant key and only see their merchant's
//! payments; the health service needs no key.

use crate::helpers::*;
use paygate::grpc::proto as pb;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

#[tokio::test]
async fn missing_or_wrong_api_keys_are_unauthenticated() {
    let app = TestApp::spawn_multi_merchant().await;
    let mut client = app.client();

    let err = client
        .authorize(authorize_req("auth-none", 10_000, "MAD", ""))
        .await;
    assert_error(err, Code::Unauthenticated, "UNAUTHENTICATED");
    let err = client
        .authorize(authed(
            authorize_req("auth-wrong", 10_000, "MAD", ""),
            "not-a-key",
        ))
        .await;
    assert_error(err, Code::Unauthenticated, "UNAUTHENTICATED");
    let err = client
        .list_payments(pb::ListPaymentsRequest::default())
        .await;
    assert_error(err, Code::Unauthenticated, "UNAUTHENTICATED");
    let err = client
        .get_payment(authed(get_req(&uuid::Uuid::now_v7().to_string()), ""))
        .await;
    assert_error(err, Code::Unauthenticated, "UNAUTHENTICATED");

    // A key's hash is configured, not the key: the hash itself is not a valid key.
    let hash = hex::encode(sha256(ATLAS_KEY));
    let err = client
        .authorize(authed(authorize_req("auth-hash", 10_000, "MAD", ""), &hash))
        .await;
    assert_error(err, Code::Unauthenticated, "UNAUTHENTICATED");

    // Not a Bearer token.
    let mut req = tonic::Request::new(authorize_req("auth-basic", 10_000, "MAD", ""));
    req.metadata_mut().insert(
        "authorization",
        format!("Basic {ATLAS_KEY}").parse().unwrap(),
    );
    assert_error(
        client.authorize(req).await,
        Code::Unauthenticated,
        "UNAUTHENTICATED",
    );

    let ledger = app.ledger().await;
    assert_eq!(ledger.payments, 0, "unauthenticated requests reach nothing");
    assert!(list_all(&mut client, Some(ATLAS_KEY)).await.is_empty());
    assert!(list_all(&mut client, Some(SOUK_KEY)).await.is_empty());

    // And the right key works.
    let p = client
        .authorize(authed(
            authorize_req("auth-ok", 10_000, "MAD", ""),
            ATLAS_KEY,
        ))
        .await
        .expect("valid key")
        .into_inner();
    assert_eq!(p.status(), pb::PaymentStatus::Authorized);
}

#[tokio::test]
async fn one_merchant_cannot_see_or_touch_another_merchants_payment() {
    let app = TestApp::spawn_multi_merchant().await;
    let mut client = app.client();
    let mut req = authorize_req("tenancy-a", 10_000, "MAD", "");
    req.merchant_reference = "atlas-order-7".into();
    let a = client
        .authorize(authed(req, ATLAS_KEY))
        .await
        .expect("atlas")
        .into_inner();
    let a = client
        .capture(authed(
            capture_req("tenancy-a-cap", &a.id, mad(5_000)),
            ATLAS_KEY,
        ))
        .await
        .expect("atlas capture")
        .into_inner();

    let err = client.get_payment(authed(get_req(&a.id), SOUK_KEY)).await;
    assert_error(err, Code::NotFound, "PAYMENT_NOT_FOUND");
    let err = client
        .capture(authed(capture_req("tenancy-b-cap", &a.id, None), SOUK_KEY))
        .await;
    assert_error(err, Code::NotFound, "PAYMENT_NOT_FOUND");
    let err = client
        .refund(authed(refund_req("tenancy-b-ref", &a.id, None), SOUK_KEY))
        .await;
    assert_error(err, Code::NotFound, "PAYMENT_NOT_FOUND");
    let err = client
        .void(authed(void_req("tenancy-b-void", &a.id), SOUK_KEY))
        .await;
    assert_error(err, Code::NotFound, "PAYMENT_NOT_FOUND");

    // Souk's own payment, so its list is not trivially empty.
    let s = client
        .authorize(authed(
            authorize_req("tenancy-s", 3_000, "MAD", ""),
            SOUK_KEY,
        ))
        .await
        .expect("souk")
        .into_inner();
    let souk_list = list_all(&mut client, Some(SOUK_KEY)).await;
    assert_eq!(
        souk_list.iter().map(|p| p.id.clone()).collect::<Vec<_>>(),
        vec![s.id.clone()]
    );
    let by_ref = pb::ListPaymentsRequest {
        merchant_reference: "atlas-order-7".into(),
        ..Default::default()
    };
    let page = client
        .list_payments(authed(by_ref.clone(), SOUK_KEY))
        .await
        .expect("souk list")
        .into_inner();
    assert!(
        page.payments.is_empty(),
        "souk sees none of atlas's payments: {page:?}"
    );
    let page = client
        .list_payments(authed(by_ref, ATLAS_KEY))
        .await
        .expect("atlas list")
        .into_inner();
    assert_eq!(page.payments.len(), 1);

    // Atlas's payment is untouched.
    let after = client
        .get_payment(authed(get_req(&a.id), ATLAS_KEY))
        .await
        .expect("atlas get")
        .into_inner();
    assert_eq!(after, a);
    let ledger = app.ledger().await;
    assert_eq!(ledger.captured_total, 5_000);
    assert_eq!(ledger.refunded_total, 0);
}

#[tokio::test]
async fn health_check_needs_no_key_and_says_serving() {
    let app = TestApp::spawn_multi_merchant().await;
    let mut health = HealthClient::new(app.channel());
    for service in ["", "paygate.v1.PaymentGateway"] {
        assert_eq!(
            serving_status(&mut health, service).await,
            Ok(ServingStatus::Serving),
            "service {service:?}"
        );
    }
}

/// The health reporter is refreshed from the database every second: wait up to 5 s for SERVING.
async fn serving_status(
    health: &mut HealthClient<tonic::transport::Channel>,
    service: &str,
) -> Result<ServingStatus, Code> {
    let mut last = Err(Code::Unknown);
    for _ in 0..50 {
        let req = tonic_health::pb::HealthCheckRequest {
            service: service.to_owned(),
        };
        last = health
            .check(req)
            .await
            .map(|a| a.into_inner().status())
            .map_err(|e| e.code());
        if last == Ok(ServingStatus::Serving) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    last
}
