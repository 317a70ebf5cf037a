//! `GET /v1/events`: a page of the merchant's events, or, with `Accept: text/event-stream`,
//! the same events as Server-Sent Events that follow new ones as they commit (WatchEvents).
//! Each SSE event's `id:` is its sequence, so a reconnecting client's `Last-Event-ID`
//! resumes exactly after the last event it saw. The stream reads the durable log at the
//! reader's pace, so a slow reader holds nothing back.

use super::{JsonApi, meta, problem::Problem, query, respond};
use crate::error::AppError;
use crate::grpc::{convert, ops};
use axum::extract::{RawQuery, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http::{HeaderMap, header};
use std::convert::Infallible;

pub async fn events(
    State(api): State<JsonApi>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if wants_stream(&headers) {
        return stream(api, query, headers).await;
    }
    let answer = api
        .gateway
        .call("ListEvents", meta(&headers), query, |s, m, q| async move {
            ops::events_page(s, m, query::events_request(q.as_deref())?).await
        })
        .await;
    respond(answer)
}

fn wants_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/event-stream"))
}

async fn stream(api: JsonApi, query: Option<String>, headers: HeaderMap) -> Response {
    let resume = &headers;
    let opened = api
        .gateway
        .call("WatchEvents", meta(&headers), (), |s, m, ()| async move {
            let after = resume_point(resume, query.as_deref())?;
            ops::watch_events(s, m, after).await
        })
        .await;
    let events = match opened {
        Ok(events) => events,
        Err(e) => return Problem::from(e).into_response(),
    };
    let sse = events
        .map(|item| Ok::<_, Infallible>(sse_event(item)))
        .take_until(api.stop.wait());
    Sse::new(sse)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// `Last-Event-ID` (a reconnect) wins over `after_sequence` (the first connect).
fn resume_point(headers: &HeaderMap, query: Option<&str>) -> Result<u64, AppError> {
    let (after, _) = query::events_request(query)?;
    match headers.get("last-event-id") {
        None => Ok(after),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| {
                AppError::Invalid(super::body::one(
                    "last_event_id",
                    "Last-Event-ID must be an event's sequence number",
                ))
            }),
    }
}

/// One event as SSE: `id:` its sequence, `data:` the PaymentEvent's proto3 JSON. A store
/// error ends the stream with an `event: error` carrying the problem document.
fn sse_event(item: Result<crate::store::StoredEvent, AppError>) -> Event {
    match item {
        Ok(stored) => {
            let event = convert::event(stored);
            let id = event.sequence.to_string();
            match serde_json::to_string(&event) {
                Ok(data) => Event::default().id(id).data(data),
                Err(e) => error_event(AppError::Internal(format!("encoding an event: {e}"))),
            }
        }
        Err(e) => error_event(e),
    }
}

fn error_event(e: AppError) -> Event {
    e.log_server_fault();
    let body =
        serde_json::json!({"code": e.code().name(), "reason": e.reason(), "detail": e.to_string()});
    Event::default().event("error").data(body.to_string())
}
