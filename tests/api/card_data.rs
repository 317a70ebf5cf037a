//! Card numbers in caller text are refused (INVALID_ARGUMENT, CARD_DATA_NOT_ALLOWED, the field
//! named) before anything is written: not in the ledger, not in its WAL, not at the processor.

use crate::helpers::*;
use paygate::grpc::proto as pb;
use tonic::Code;

const PAN: &str = "4111111111111111";

/// Whether the digits of `PAN` are anywhere in the SQLite file or its WAL.
fn on_disk(app: &TestApp) -> bool {
    let db = app.db_path();
    let wal = db.with_extension("db-wal");
    [db, wal].iter().any(|path| {
        std::fs::read(path).is_ok_and(|bytes| bytes.windows(PAN.len()).any(|w| w == PAN.as_bytes()))
    })
}

fn assert_refused<T: std::fmt::Debug>(result: Result<T, tonic::Status>, field: &str) {
    let status = assert_error(result, Code::InvalidArgument, "CARD_DATA_NOT_ALLOWED");
    assert_eq!(bad_fields(&status), vec![field.to_owned()], "{status:?}");
    assert!(
        !status.message().contains(PAN),
        "the error repeats the number: {status:?}"
    );
}

#[tokio::test]
async fn a_card_number_in_any_caller_text_is_refused_and_never_stored() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let base = || authorize_req("card-data", 10_000, "MAD", "");

    let mut cases: Vec<(pb::AuthorizeRequest, &str)> = Vec::new();
    let mut r = base();
    r.metadata
        .insert("note".into(), format!("card {PAN} exp 12/27"));
    cases.push((r, "metadata[note]"));
    let mut r = base();
    r.metadata.insert(PAN.into(), "x".into());
    cases.push((r, "metadata"));
    let mut r = base();
    r.merchant_reference = "4111 1111 1111 1111".into();
    cases.push((r, "merchant_reference"));
    let mut r = base();
    r.idempotency_key = format!("key-{PAN}");
    cases.push((r, "idempotency_key"));
    let mut r = base();
    r.customer = Some(pb::Customer {
        email: format!("{PAN}@example.com"),
        ..Default::default()
    });
    cases.push((r, "customer.email"));
    let mut r = base();
    r.description = "4111-1111-1111-1111".into();
    cases.push((r, "description"));
    let mut r = base();
    r.return_url = format!("https://shop.example/back?card={PAN}");
    cases.push((r, "return_url"));
    for (req, field) in cases {
        assert_refused(client.authorize(req).await, field);
    }
    assert!(
        app.list_all().await.is_empty(),
        "a refused request stored a payment"
    );
    assert_eq!(
        app.ledger().await.payments,
        0,
        "a refused request reached the processor"
    );

    // Operations on an existing payment and the list filter refuse it the same way.
    let p = authorized(&mut client, "card-data-ok", 10_000).await;
    assert_refused(
        client.capture(capture_req(PAN, &p.id, None)).await,
        "idempotency_key",
    );
    assert_refused(
        client.void(void_req(&format!("v {PAN}"), &p.id)).await,
        "idempotency_key",
    );
    let mut refund = refund_req("card-data-refund", &p.id, None);
    refund.reason = format!("refund to card {PAN}");
    assert_refused(client.refund(refund).await, "reason");
    let list = pb::ListPaymentsRequest {
        merchant_reference: PAN.into(),
        ..Default::default()
    };
    assert_refused(client.list_payments(list).await, "merchant_reference");
    let after = client
        .get_payment(get_req(&p.id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.operations.len(), 1, "{after:?}");

    assert!(!on_disk(&app), "the card number reached the database files");
}

#[tokio::test]
async fn text_that_only_looks_numeric_is_accepted() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let mut req = authorize_req("numeric-text", 10_000, "MAD", "");
    req.merchant_reference = "ORD4111111111111111".into();
    req.customer = Some(pb::Customer {
        phone: "+212 6 12 34 56 78".into(),
        ..Default::default()
    });
    for (k, v) in [
        ("order", "2024-000123"),
        ("created_ms", "1718000000000"),
        ("stamp", "20240115103000"),
        ("trace", "550e8400-e29b-41d4-a716-446655440000"),
        ("long", "41111111111111111111"),
        ("not_luhn", "4111111111111112"),
    ] {
        req.metadata.insert(k.into(), v.into());
    }
    let p = client
        .authorize(req)
        .await
        .expect("no card number here")
        .into_inner();
    assert_eq!(p.status(), pb::PaymentStatus::Authorized);
    assert_eq!(
        p.metadata.get("created_ms").map(String::as_str),
        Some("1718000000000")
    );
}
