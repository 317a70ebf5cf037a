//! Input only HTTP can send wrong: broken JSON, unknown fields, wrong types, a header that
//! disagrees with the body, oversized bodies, wrong methods and paths. Each is a problem
//! document naming the field, and nothing is written or sent to the processor.

use super::Json;
use crate::helpers::*;

/// Nothing stored by paygate, nothing reached the processor.
async fn assert_nothing_written(app: &TestApp, payments: usize) {
    assert_eq!(
        app.list_all().await.len(),
        payments,
        "a refused request stored a payment"
    );
    assert_eq!(
        app.ledger().await.payments,
        u64::try_from(payments).unwrap()
    );
}

#[tokio::test]
async fn malformed_bodies_are_400_naming_the_field_and_write_nothing() {
    let app = TestApp::spawn().await;
    let json = Json::new(&app);
    let p = json.authorize("ok", 10_000, "").await;
    let id = p["id"].as_str().unwrap();
    let cases = [
        ("/v1/payments".to_owned(), r#"{"provider":"mock","#, "body"),
        ("/v1/payments".to_owned(), r#"[1,2]"#, "body"),
        (
            "/v1/payments".to_owned(),
            r#"{"provider":"mock","colour":"red"}"#,
            "colour",
        ),
        (
            "/v1/payments".to_owned(),
            r#"{"amount":{"currency":"MAD","minorUnits":"12x"}}"#,
            "amount.minor_units",
        ),
        (
            "/v1/payments".to_owned(),
            r#"{"amount":{"currency":"MAD","minor_units":1.5}}"#,
            "amount.minor_units",
        ),
        (
            "/v1/payments".to_owned(),
            r#"{"captureMode":"SOMETIMES"}"#,
            "capture_mode",
        ),
        (
            "/v1/payments".to_owned(),
            r#"{"customer":{"billingAddress":{"zip":"1"}}}"#,
            "customer.billing_address.zip",
        ),
        (
            "/v1/payments".to_owned(),
            r#"{"metadata":{"a":1}}"#,
            "metadata.a",
        ),
        (
            format!("/v1/payments/{id}/capture"),
            r#"{"amount":"all"}"#,
            "amount",
        ),
        (
            format!("/v1/payments/{id}/refund"),
            r#"{"finalCapture":true}"#,
            "final_capture",
        ),
        (
            "/v1/payments/not-a-uuid/capture".to_owned(),
            "",
            "payment_id",
        ),
        (
            format!("/v1/payments/{id}/void"),
            &format!(
                r#"{{"paymentId":"{}"}}"#,
                "0190f5c4-2b6e-7d3a-9c1e-5f2a8b7c6d4e"
            ),
            "payment_id",
        ),
        (
            "/v1/payments".to_owned(),
            r#"{"idempotencyKey":"other"}"#,
            "idempotency_key",
        ),
    ];
    for (i, (path, body, field)) in cases.iter().enumerate() {
        let answer = json.post(path, &format!("bad-{i}"), body).await;
        answer.assert_problem(400, "INVALID_FIELD");
        assert_eq!(
            answer.fields(),
            vec![field.to_string()],
            "{path} {body}: {answer:?}"
        );
        assert_eq!(answer.body["code"], "INVALID_ARGUMENT");
    }
    assert_nothing_written(&app, 1).await;
    let after = json.get(&format!("/v1/payments/{id}")).await;
    assert_eq!(
        after.body["status"], "PAYMENT_STATUS_AUTHORIZED",
        "{after:?}"
    );
    assert_eq!(after.body["operations"].as_array().unwrap().len(), 1);

    // The body's key agreeing with the header is fine; snake_case names are read too.
    let body = r#"{"idempotency_key":"same","provider":"mock","amount":{"currency":"MAD","minor_units":"500"}}"#;
    let answer = json.post("/v1/payments", "same", body).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["amount"]["minorUnits"], "500");
}

#[tokio::test]
async fn oversized_bodies_are_413_and_write_nothing() {
    let app = TestApp::spawn_with(|s| s.server.max_message_bytes = 2048).await;
    let json = Json::new(&app);
    let body = format!(
        r#"{{"provider":"mock","amount":{{"currency":"MAD","minorUnits":"100"}},"description":"{}"}}"#,
        "x".repeat(4096)
    );
    let answer = json.post("/v1/payments", "big", &body).await;
    answer.assert_problem(413, "MESSAGE_TOO_LARGE");
    assert_nothing_written(&app, 0).await;
    let metrics = app.metrics().await;
    assert_eq!(
        metric_value(
            &metrics,
            "paygate_grpc_requests_total{method=\"Authorize\",code=\"RESOURCE_EXHAUSTED\"}"
        ),
        1.0
    );
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_are_problems() {
    let app = TestApp::spawn().await;
    let json = Json::new(&app);
    json.get("/v1/nothing-here")
        .await
        .assert_problem(404, "ROUTE_NOT_FOUND");
    json.get("/").await.assert_problem(404, "ROUTE_NOT_FOUND");
    let answer = json
        .send(json.request(reqwest::Method::DELETE, "/v1/payments"))
        .await;
    answer.assert_problem(405, "METHOD_NOT_ALLOWED");
    assert!(
        answer.header("allow").unwrap().contains("POST"),
        "{answer:?}"
    );
    json.get("/v1/payments/0190f5c4-2b6e-7d3a-9c1e-5f2a8b7c6d4e/capture")
        .await
        .assert_problem(405, "METHOD_NOT_ALLOWED");
    let answer = json.get("/v1/payments?colour=red").await;
    answer.assert_problem(400, "INVALID_FIELD");
    assert_eq!(answer.fields(), vec!["colour"]);
    let answer = json.get("/v1/payments?status=HAPPY").await;
    assert_eq!(answer.fields(), vec!["status"], "{answer:?}");
}

#[tokio::test]
async fn retryable_errors_carry_retry_after() {
    let app = TestApp::spawn().await;
    let json = Json::new(&app);
    let body = r#"{"provider":"mock","amount":{"currency":"MAD","minorUnits":"100"},"paymentToken":"mock_unavailable"}"#;
    let answer = json.post("/v1/payments", "unavailable", body).await;
    answer.assert_problem(503, "PROVIDER_UNAVAILABLE");
    assert_eq!(answer.header("retry-after"), Some("1"));
    // Retrying with the same key once the provider is back is how a client recovers.
    let answer = json
        .post(
            "/v1/payments",
            "unavailable",
            &body.replace("mock_unavailable", ""),
        )
        .await;
    assert_eq!(
        answer.status, 422,
        "different parameters under the same key: {answer:?}"
    );
}
