//! `/healthz` (the process is up), `/readyz` (the database answered the last health check)
//! and `/metrics`.

use super::HttpState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

pub(super) async fn healthz() -> &'static str {
    "ok"
}

/// Ready only while the database answers: a load balancer then stops sending traffic to a
/// replica that could accept requests but not record them.
///
/// Answered from the health checker's last ping (once a second), not by a ping of its own:
/// a probe must answer within its timeout whatever the database does, and a ping per probe
/// would queue behind the SQLite writer or wait on a dead PostgreSQL connection.
pub(super) async fn readyz(State(state): State<HttpState>) -> (StatusCode, &'static str) {
    if state.readiness.is_ready() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
    }
}

pub(super) async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    match state.metrics.render() {
        Ok(text) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        ),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain")],
            String::new(),
        ),
    }
}
