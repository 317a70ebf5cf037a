//! The HTTP side port: health, readiness and metrics for operators (webhooks join it later).

mod health;

use crate::store::Store;
use crate::telemetry::Metrics;
use axum::Router;
use axum::routing::get;
use std::sync::Arc;

#[derive(Clone)]
pub struct HttpState {
    pub store: Store,
    pub metrics: Arc<Metrics>,
}

pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .with_state(state)
}
