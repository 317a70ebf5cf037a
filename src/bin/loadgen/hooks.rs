//! Webhook delivery latency: an HTTP receiver standing in for the shop's endpoint, recording for
//! each delivery the time from the event's `occurred_at` (stamped by the server when the change
//! is written) to the moment the POST arrives here. paygate and loadgen share this machine's
//! clock, so the difference is commit, fan-out, claim, signing and the HTTP round trip.
//!
//! The server must have an endpoint pointing here (`deploy/config/bench-webhooks.toml`).
//! `dead` opens a second listener that accepts connections and never answers: another
//! merchant's broken endpoint, to show it slows nobody else.

use crate::stats::Recorder;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::task::JoinHandle;

#[derive(Clone)]
struct Window {
    measure_from: SystemTime,
    end: SystemTime,
    recorder: Arc<Mutex<Recorder>>,
}

/// Listens on `addr`; deliveries of events stamped within the window (after `warmup` from now,
/// for `duration`) are recorded. The handle ends two seconds after the window with the figures.
pub async fn spawn(
    addr: SocketAddr,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<JoinHandle<Recorder>> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let measure_from = SystemTime::now() + warmup;
    let window = Window {
        measure_from,
        end: measure_from + duration,
        recorder: Arc::new(Mutex::new(Recorder::default())),
    };
    let app = axum::Router::new()
        .fallback(axum::routing::post(receive))
        .with_state(window.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(tokio::spawn(async move {
        tokio::time::sleep(warmup + duration + Duration::from_secs(2)).await;
        server.abort();
        window
            .recorder
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default()
    }))
}

/// Answers 204 at once (as a receiver should), then records.
async fn receive(State(window): State<Window>, body: Bytes) -> StatusCode {
    let arrived = SystemTime::now();
    let at = occurred_at(&body);
    if let Ok(mut recorder) = window.recorder.lock() {
        match at {
            None => recorder.error("NO_TIMESTAMP"),
            Some(at) if at < window.measure_from || at >= window.end => {}
            Some(at) => recorder.ok(arrived.duration_since(at).unwrap_or_default()),
        }
    }
    StatusCode::NO_CONTENT
}

fn occurred_at(body: &[u8]) -> Option<SystemTime> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text = value.get("occurred_at")?.as_str()?;
    let parsed =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    let nanos = u64::try_from(parsed.unix_timestamp_nanos()).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_nanos(nanos))
}

/// Accepts connections on `addr` and holds them without a byte of answer until loadgen exits.
pub async fn dead(addr: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    Ok(())
}
