//! The operator surface: /healthz, /readyz and /metrics (reflection: `reflection.rs`).

use crate::helpers::*;

#[tokio::test]
async fn healthz_and_readyz_answer_200() {
    let app = TestApp::spawn().await;
    let (status, _) = app.http_get("/healthz").await;
    assert_eq!(status, 200);
    let (status, _) = app.http_get("/readyz").await;
    assert_eq!(status, 200);
    let (status, _) = app.http_get("/no-such-page").await;
    assert_eq!(status, 404);
}

/// Exported from the start, at 0, so alerts on their increase work before the first event.
#[tokio::test]
async fn background_task_restarts_and_numbering_failures_are_exported() {
    let app = TestApp::spawn().await;
    let text = app.metrics().await;
    for series in [
        "paygate_event_numbering_failures_total 0",
        "paygate_background_task_restarts_total{task=\"health\"} 0",
        "paygate_background_task_restarts_total{task=\"reconciler\"} 0",
        "paygate_background_task_restarts_total{task=\"reaper\"} 0",
    ] {
        assert!(
            text.lines().any(|line| line == series),
            "missing {series}:\n{text}"
        );
    }
}

#[tokio::test]
async fn metrics_count_grpc_calls_provider_calls_and_replays() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let p = authorized(&mut client, "metrics-1", 10_000).await;
    client
        .authorize(authorize_req("metrics-1", 10_000, "MAD", ""))
        .await
        .expect("replay");
    client
        .authorize(authorize_req("metrics-2", 10_000, "MAD", "mock_decline"))
        .await
        .expect("decline");
    client
        .capture(capture_req("metrics-cap", &p.id, None))
        .await
        .expect("capture");
    let _ = client
        .get_payment(get_req("not-a-uuid"))
        .await
        .expect_err("invalid");

    let text = app.metrics().await;
    let count = |series: &str| metric_value(&text, series);
    assert_eq!(
        count("paygate_grpc_requests_total{method=\"Authorize\",code=\"OK\"}"),
        3.0,
        "{text}"
    );
    assert_eq!(
        count("paygate_grpc_requests_total{method=\"Capture\",code=\"OK\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(
        count("paygate_grpc_requests_total{method=\"GetPayment\",code=\"INVALID_ARGUMENT\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(
        count(
            "paygate_provider_requests_total{provider=\"mock\",operation=\"authorize\",outcome=\"succeeded\"}"
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        count(
            "paygate_provider_requests_total{provider=\"mock\",operation=\"authorize\",outcome=\"declined\"}"
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        count(
            "paygate_provider_requests_total{provider=\"mock\",operation=\"capture\",outcome=\"succeeded\"}"
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        count("paygate_idempotent_replays_total{method=\"Authorize\"}"),
        1.0,
        "{text}"
    );
    for name in [
        "paygate_grpc_request_duration_seconds_bucket",
        "paygate_provider_request_duration_seconds_count",
        "# TYPE paygate_operations_unresolved gauge",
    ] {
        assert!(text.contains(name), "missing {name} in\n{text}");
    }
}
