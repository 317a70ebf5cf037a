//! Across surfaces and merchants: one idempotency key means one payment whichever transport
//! carries it, and another merchant's payment is a 404 indistinguishable from no payment.

use super::Json;
use crate::helpers::*;

#[tokio::test]
async fn the_same_key_over_grpc_then_http_replays_the_same_payment() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let p = client
        .authorize(authorize_req("cross-key", 10_000, "MAD", ""))
        .await
        .unwrap()
        .into_inner();
    let json = Json::new(&app);
    let body = serde_json::json!({
        "provider": "mock",
        "amount": {"currency": "MAD", "minorUnits": "10000"},
        "merchantReference": "order-cross-key",
    });
    let answer = json
        .post("/v1/payments", "cross-key", &body.to_string())
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.body["id"],
        p.id.as_str(),
        "a replay returns the same payment"
    );
    assert_eq!(app.ledger().await.payments, 1, "one provider call for both");

    // The other way round, and a capture: HTTP first, gRPC replays it.
    let path = format!("/v1/payments/{}/capture", p.id);
    let captured = json
        .post(
            &path,
            "cap-key",
            r#"{"amount":{"currency":"MAD","minorUnits":"4000"}}"#,
        )
        .await;
    assert_eq!(captured.status, 200, "{captured:?}");
    let again = client
        .capture(capture_req("cap-key", &p.id, mad(4_000)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        again.captured.unwrap().minor_units,
        4_000,
        "not captured twice"
    );
    // Different parameters under the same key are refused on either surface.
    let reused = json
        .post(
            &path,
            "cap-key",
            r#"{"amount":{"currency":"MAD","minorUnits":"10"}}"#,
        )
        .await;
    reused.assert_problem(422, "IDEMPOTENCY_KEY_REUSED");
}

#[tokio::test]
async fn another_merchants_payment_is_404_indistinguishable_from_none() {
    let app = TestApp::spawn_multi_merchant().await;
    let atlas = Json::new(&app).with_key(ATLAS_KEY);
    let souk = Json::new(&app).with_key(SOUK_KEY);
    let p = atlas.authorize("atlas-1", 10_000, "").await;
    let id = p["id"].as_str().unwrap();
    let unknown = "0190f5c4-2b6e-7d3a-9c1e-5f2a8b7c6d4e";

    let theirs = souk.get(&format!("/v1/payments/{id}")).await;
    let nobodys = souk.get(&format!("/v1/payments/{unknown}")).await;
    theirs.assert_problem(404, "PAYMENT_NOT_FOUND");
    assert_eq!(theirs.body, nobodys.body, "the answers must not differ");
    for op in ["capture", "void", "refund"] {
        let theirs = souk
            .post(&format!("/v1/payments/{id}/{op}"), &format!("s-{op}"), "")
            .await;
        let nobodys = souk
            .post(
                &format!("/v1/payments/{unknown}/{op}"),
                &format!("n-{op}"),
                "",
            )
            .await;
        theirs.assert_problem(404, "PAYMENT_NOT_FOUND");
        assert_eq!(theirs.body, nobodys.body, "{op}");
    }
    let listed = souk.get("/v1/payments").await;
    assert_eq!(listed.body["payments"], serde_json::json!([]), "{listed:?}");
    let events = souk.get("/v1/events").await;
    assert_eq!(events.body["events"], serde_json::json!([]), "{events:?}");
    // Atlas's payment is untouched.
    let mine = atlas.get(&format!("/v1/payments/{id}")).await;
    assert_eq!(mine.body["status"], "PAYMENT_STATUS_AUTHORIZED");
    // No key, or a wrong one: 401.
    Json::new(&app)
        .get("/v1/payments")
        .await
        .assert_problem(401, "UNAUTHENTICATED");
    Json::new(&app)
        .with_key("nope")
        .get("/v1/payments")
        .await
        .assert_problem(401, "UNAUTHENTICATED");
}

#[tokio::test]
async fn paygate_call_json_prints_the_http_apis_body() {
    let app = TestApp::spawn().await;
    let json = Json::new(&app);
    let p = json.authorize("cli-json", 10_000, "").await;
    let id = p["id"].as_str().unwrap().to_owned();
    let target = format!("http://{}", app.grpc_addr());
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_paygate"))
        .args(["call", "--target", &target, "--json", "get", &id])
        .env_remove("PAYGATE_API_KEY")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let http = json
        .send(json.request(reqwest::Method::GET, &format!("/v1/payments/{id}")))
        .await;
    let printed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        printed.trim_end(),
        http.body.to_string(),
        "the same bytes on both surfaces"
    );
}
