//! Malformed requests: INVALID_ARGUMENT (or PERMISSION_DENIED) with the DESIGN.md §2.1 reason,
//! BadRequest field violations, and nothing written to the ledger or sent to the processor.

use crate::helpers::*;
use paygate::grpc::proto as pb;
use tonic::Code;

/// Nothing was stored by paygate and nothing reached the mock processor.
async fn assert_nothing_written(app: &TestApp, payments_before: usize) {
    assert_eq!(
        app.list_all().await.len(),
        payments_before,
        "a refused request stored a payment"
    );
    let ledger = app.ledger().await;
    assert_eq!(
        ledger.payments,
        u64::try_from(payments_before).unwrap(),
        "{ledger:?}"
    );
}

#[tokio::test]
async fn missing_or_oversized_idempotency_keys_are_refused() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let p = authorized(&mut client, "valid-key", 10_000).await;

    let err = client.authorize(authorize_req("", 10_000, "MAD", "")).await;
    let status = assert_error(err, Code::InvalidArgument, "IDEMPOTENCY_KEY_REQUIRED");
    assert_eq!(bad_fields(&status), vec!["idempotency_key".to_owned()]);
    let err = client.capture(capture_req("", &p.id, None)).await;
    assert_error(err, Code::InvalidArgument, "IDEMPOTENCY_KEY_REQUIRED");
    let err = client.void(void_req("", &p.id)).await;
    assert_error(err, Code::InvalidArgument, "IDEMPOTENCY_KEY_REQUIRED");
    let err = client.refund(refund_req("", &p.id, None)).await;
    assert_error(err, Code::InvalidArgument, "IDEMPOTENCY_KEY_REQUIRED");

    for bad in ["k".repeat(256), "tab\tkey".to_owned(), "clé".to_owned()] {
        let err = client
            .authorize(authorize_req(&bad, 10_000, "MAD", ""))
            .await
            .expect_err("bad key");
        assert_eq!(err.code(), Code::InvalidArgument, "{bad:?}: {err:?}");
        assert!(
            bad_fields(&err).contains(&"idempotency_key".to_owned()),
            "{bad:?}: {err:?}"
        );
    }
    assert_nothing_written(&app, 1).await;

    // 255 printable ASCII characters is the longest valid key.
    let longest = "k".repeat(255);
    let mut req = authorize_req(&longest, 10_000, "MAD", "");
    req.merchant_reference = "longest-key".into();
    client.authorize(req).await.expect("255-char key is valid");
}

#[tokio::test]
async fn bad_amounts_are_invalid_amount() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    for (i, minor) in [0, -1, -10_000, i64::MIN, i64::MAX, 1_000_000_000_000]
        .into_iter()
        .enumerate()
    {
        let err = client
            .authorize(authorize_req(&format!("amount-{i}"), minor, "MAD", ""))
            .await;
        let status = assert_error(err, Code::InvalidArgument, "INVALID_AMOUNT");
        assert!(
            bad_fields(&status).iter().any(|f| f.starts_with("amount")),
            "{minor}: {status:?}"
        );
    }
    let mut missing = authorize_req("amount-missing", 1, "MAD", "");
    missing.amount = None;
    let status = assert_error(
        client.authorize(missing).await,
        Code::InvalidArgument,
        "INVALID_AMOUNT",
    );
    assert!(
        bad_fields(&status).iter().any(|f| f.starts_with("amount")),
        "{status:?}"
    );
    assert_nothing_written(&app, 0).await;

    let p = authorized(&mut client, "amount-ok", 10_000).await;
    for (i, minor) in [0, -5].into_iter().enumerate() {
        let err = client
            .capture(capture_req(&format!("cap-amount-{i}"), &p.id, mad(minor)))
            .await;
        assert_error(err, Code::InvalidArgument, "INVALID_AMOUNT");
        let err = client
            .refund(refund_req(&format!("ref-amount-{i}"), &p.id, mad(minor)))
            .await;
        assert_error(err, Code::InvalidArgument, "INVALID_AMOUNT");
    }
    let ledger = app.ledger().await;
    assert_eq!(ledger.captured_total, 0);
    assert_eq!(
        ledger.requests, 1,
        "only the authorization reached the processor"
    );
}

#[tokio::test]
async fn unknown_or_malformed_currencies_are_unsupported_currency() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    for (i, currency) in ["mad", "XYZ", "", "MADD", "XXX"].into_iter().enumerate() {
        let err = client
            .authorize(authorize_req(&format!("cur-{i}"), 10_000, currency, ""))
            .await;
        let status = assert_error(err, Code::InvalidArgument, "UNSUPPORTED_CURRENCY");
        assert!(
            bad_fields(&status).contains(&"amount.currency".to_owned()),
            "{currency:?}: {status:?}"
        );
    }
    let p = authorized(&mut client, "cur-ok", 10_000).await;
    let err = client
        .capture(capture_req("cur-cap", &p.id, Some(money(100, "mad"))))
        .await;
    assert_error(err, Code::InvalidArgument, "UNSUPPORTED_CURRENCY");
    assert_nothing_written(&app, 1).await;
}

#[tokio::test]
async fn unknown_provider_is_invalid_and_a_provider_not_enabled_is_permission_denied() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    for (i, provider) in ["visa", "", "stripe"].into_iter().enumerate() {
        let mut req = authorize_req(&format!("prov-{i}"), 10_000, "MAD", "");
        req.provider = provider.to_owned();
        let status = assert_error(
            client.authorize(req).await,
            Code::InvalidArgument,
            "UNKNOWN_PROVIDER",
        );
        assert_eq!(
            bad_fields(&status),
            vec!["provider".to_owned()],
            "{provider:?}"
        );
    }
    for provider in ["cmi", "paypal"] {
        let mut req = authorize_req(&format!("prov-{provider}"), 10_000, "MAD", "");
        req.provider = provider.to_owned();
        assert_error(
            client.authorize(req).await,
            Code::PermissionDenied,
            "PERMISSION_DENIED",
        );
    }
    assert_nothing_written(&app, 0).await;
}

#[tokio::test]
async fn malformed_payment_ids_are_invalid_argument() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    for bad in [
        "not-a-uuid",
        "",
        "0190c0de-0000-7000-8000-00000000000",
        "0190c0de-0000-7000-8000-00000000000g",
    ] {
        let status = client
            .get_payment(get_req(bad))
            .await
            .expect_err("malformed id");
        assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}: {status:?}");
        assert_eq!(
            bad_fields(&status),
            vec!["payment_id".to_owned()],
            "{bad:?}"
        );
        let status = client
            .capture(capture_req("malformed-cap", bad, None))
            .await
            .expect_err("malformed id");
        assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}: {status:?}");
        let status = client
            .void(void_req("malformed-void", bad))
            .await
            .expect_err("malformed id");
        assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}: {status:?}");
        let status = client
            .refund(refund_req("malformed-ref", bad, None))
            .await
            .expect_err("malformed id");
        assert_eq!(status.code(), Code::InvalidArgument, "{bad:?}: {status:?}");
    }
    assert_nothing_written(&app, 0).await;
}

#[tokio::test]
async fn bad_return_and_cancel_urls_are_invalid_field() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    for (i, url) in [
        "not a url",
        "ftp://x",
        "/relative/path",
        "javascript:alert(1)",
    ]
    .into_iter()
    .enumerate()
    {
        let mut req = authorize_req(&format!("url-{i}"), 10_000, "MAD", "");
        req.return_url = url.to_owned();
        let status = assert_error(
            client.authorize(req).await,
            Code::InvalidArgument,
            "INVALID_FIELD",
        );
        assert_eq!(
            bad_fields(&status),
            vec!["return_url".to_owned()],
            "{url:?}"
        );

        let mut req = authorize_req(&format!("cancel-url-{i}"), 10_000, "MAD", "");
        req.cancel_url = url.to_owned();
        let status = assert_error(
            client.authorize(req).await,
            Code::InvalidArgument,
            "INVALID_FIELD",
        );
        assert_eq!(
            bad_fields(&status),
            vec!["cancel_url".to_owned()],
            "{url:?}"
        );
    }
    assert_nothing_written(&app, 0).await;

    let mut req = authorize_req("url-ok", 10_000, "MAD", "");
    req.return_url = "https://shop.example.ma/return?order=1".into();
    req.cancel_url = "http://localhost:3000/cancel".into();
    client
        .authorize(req)
        .await
        .expect("valid URLs are accepted");
}

#[tokio::test]
async fn several_bad_fields_are_all_reported_as_field_violations() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let req = pb::AuthorizeRequest {
        idempotency_key: String::new(),
        provider: "visa".into(),
        amount: Some(money(-1, "MAD")),
        return_url: "not a url".into(),
        cancel_url: "ftp://x".into(),
        customer: Some(pb::Customer {
            email: "no-at-sign".into(),
            ..Default::default()
        }),
        merchant_reference: "line\nbreak".into(),
        ..Default::default()
    };
    let status = client.authorize(req).await.expect_err("invalid");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(!reason(&status).is_empty(), "ErrorInfo present: {status:?}");
    let fields = bad_fields(&status);
    for want in [
        "idempotency_key",
        "provider",
        "amount.minor_units",
        "return_url",
        "cancel_url",
        "customer.email",
        "merchant_reference",
    ] {
        assert!(
            fields.contains(&want.to_owned()),
            "missing violation {want} in {fields:?}"
        );
    }
    let bad_currency = pb::AuthorizeRequest {
        amount: Some(money(100, "XYZ")),
        ..authorize_req("", 0, "", "")
    };
    let status = client.authorize(bad_currency).await.expect_err("invalid");
    let fields = bad_fields(&status);
    assert!(
        fields.contains(&"idempotency_key".to_owned())
            && fields.contains(&"amount.currency".to_owned()),
        "{fields:?}"
    );

    let list = pb::ListPaymentsRequest {
        page_size: -1,
        status: 999,
        page_token: "garbage".into(),
        ..Default::default()
    };
    let status = client.list_payments(list).await.expect_err("invalid");
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields = bad_fields(&status);
    for want in ["page_size", "status", "page_token"] {
        assert!(
            fields.contains(&want.to_owned()),
            "missing violation {want} in {fields:?}"
        );
    }
    assert_nothing_written(&app, 0).await;
}

#[tokio::test]
async fn an_unknown_capture_mode_is_invalid_field() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let mut req = authorize_req("mode-99", 10_000, "MAD", "");
    req.capture_mode = 99;
    let status = assert_error(
        client.authorize(req).await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
    assert_eq!(bad_fields(&status), vec!["capture_mode".to_owned()]);
    assert_nothing_written(&app, 0).await;
}

/// DESIGN.md §2.1: limits are RESOURCE_EXHAUSTED / MESSAGE_TOO_LARGE, and every error carries
/// an ErrorInfo. The default gRPC message limit is 1 MiB.
#[tokio::test]
async fn an_oversized_request_is_resource_exhausted_message_too_large() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let mut req = authorize_req("too-large", 10_000, "MAD", "");
    req.description = "x".repeat(2 * 1024 * 1024);
    let err = client.authorize(req).await;
    assert_error(err, Code::ResourceExhausted, "MESSAGE_TOO_LARGE");
    assert_nothing_written(&app, 0).await;
}
