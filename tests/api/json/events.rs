//! `GET /v1/events`: pages, and Server-Sent Events that resume exactly with `Last-Event-ID`,
//! across a restart of paygate, with no event lost or repeated.

use super::Json;
use crate::helpers::*;
use std::time::Duration;

/// Reads SSE events (id, data) from an open response until `n` have arrived.
async fn read_events(mut resp: reqwest::Response, n: usize) -> Vec<(u64, serde_json::Value)> {
    let mut text = String::new();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while out.len() < n {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .expect("events in time")
            .expect("chunk")
            .expect("stream open");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let (mut id, mut data) = (None, None);
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = Some(v.trim().parse::<u64>().unwrap());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = Some(serde_json::from_str(v.trim()).unwrap());
                }
            }
            if let (Some(id), Some(data)) = (id, data) {
                out.push((id, data));
            }
        }
    }
    out
}

async fn open(json: &Json, query: &str, last: Option<u64>) -> reqwest::Response {
    let mut req = json
        .request(reqwest::Method::GET, &format!("/v1/events{query}"))
        .header("accept", "text/event-stream")
        .timeout(Duration::from_secs(60));
    if let Some(last) = last {
        req = req.header("last-event-id", last.to_string());
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    resp
}

#[tokio::test]
async fn sse_resumes_with_last_event_id_across_a_restart_without_loss_or_duplicates() {
    let app = TestApp::spawn().await;
    let json = Json::new(&app);
    for i in 0..3 {
        json.authorize(&format!("before-{i}"), 1_000, "").await;
    }
    let first = read_events(open(&json, "", None).await, 3).await;
    let last_seen = first.last().unwrap().0;
    // The connection drops; more happens while the client is away, and paygate restarts.
    json.authorize("while-away", 1_000, "").await;
    let app = app.restart().await;
    let json = Json::new(&app);
    json.authorize("after-restart", 1_000, "").await;
    let rest = read_events(open(&json, "?after_sequence=0", Some(last_seen)).await, 2).await;

    let all: Vec<u64> = first.iter().chain(&rest).map(|(id, _)| *id).collect();
    let expected: Vec<u64> = (all[0]..all[0] + 5).collect();
    assert_eq!(
        all, expected,
        "gap-free, no duplicate, Last-Event-ID wins over after_sequence"
    );
    for (id, data) in first.iter().chain(&rest) {
        assert_eq!(data["sequence"], id.to_string(), "id: is the sequence");
        assert_eq!(data["type"], "payment.authorized");
    }
    assert_eq!(
        rest[0].1["payment"]["merchantReference"],
        "order-while-away"
    );

    // Pages: the same events, `next_after_sequence` continues.
    let page = json.get("/v1/events?after_sequence=0&limit=2").await;
    assert_eq!(page.status, 200, "{page:?}");
    assert_eq!(page.body["events"].as_array().unwrap().len(), 2);
    let next = page.body["nextAfterSequence"].as_str().unwrap().to_owned();
    assert_eq!(next, all[1].to_string());
    let page = json
        .get(&format!("/v1/events?after_sequence={next}&limit=500"))
        .await;
    let seqs: Vec<&str> = page.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["sequence"].as_str().unwrap())
        .collect();
    assert_eq!(seqs.len(), 3, "{page:?}");
    let page = json.get("/v1/events?limit=0").await;
    page.assert_problem(400, "INVALID_FIELD");
    assert_eq!(page.fields(), vec!["limit"]);
}

#[tokio::test]
async fn a_stalled_sse_reader_holds_nothing_back() {
    let app = TestApp::spawn().await;
    let json = Json::new(&app);
    // Opened and never read: its events pile up nowhere but in the durable log.
    let stalled = open(&json, "", None).await;
    let started = std::time::Instant::now();
    for i in 0..40 {
        json.authorize(&format!("busy-{i}"), 1_000, "").await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let got = read_events(stalled, 40).await;
    assert_eq!(got.len(), 40);
}
