//! The W3C `traceparent` headers the processor received, newest last, so a test (or a person
//! with curl) can see that paygate's trace reached the provider: `GET /_traceparents`.

use super::ProcessorState;
use axum::Json;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::VecDeque;
use std::sync::PoisonError;

/// Enough for any one test's calls; older ones are forgotten, so memory stays bounded.
const KEPT: usize = 256;

#[derive(Default)]
pub(super) struct Seen(VecDeque<String>);

/// Middleware: remembers the request's `traceparent`, if it has one.
pub(super) async fn record(
    State(state): State<ProcessorState>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(value) = req
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
    {
        let mut seen = state
            .inner
            .traceparents
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if seen.0.len() >= KEPT {
            seen.0.pop_front();
        }
        seen.0.push_back(value.to_owned());
    }
    next.run(req).await
}

pub(super) async fn list(State(state): State<ProcessorState>) -> Json<Vec<String>> {
    let seen = state
        .inner
        .traceparents
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    Json(seen.0.iter().cloned().collect())
}
