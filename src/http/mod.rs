//! The HTTP side port: health, readiness and metrics for operators, provider webhooks, and the
//! pages providers send customers back to.

mod cmi_callback;
mod health;
mod pages;
mod paypal_webhooks;
mod return_pages;
pub(crate) mod trace;
mod webhooks;

use crate::config::Storefront;
use crate::domain::MerchantId;
use crate::service::PaymentService;
use crate::store::Store;
use crate::telemetry::Metrics;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone)]
pub struct HttpState {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    /// Applies verified webhooks, and holds each merchant's verifiers.
    pub service: PaymentService,
    /// Larger webhook bodies get 413 before they are buffered.
    pub webhook_body_limit: usize,
    /// Each merchant's name and link on the customer pages (`[[merchants]] display_name`).
    pub storefronts: Arc<HashMap<MerchantId, Storefront>>,
    /// The health checker's last verdict, which `/readyz` reports.
    pub(crate) readiness: crate::health::Readiness,
}

pub fn router(state: HttpState) -> Router {
    let limit = state.webhook_body_limit;
    Router::new()
        .route(
            "/return/{provider}/{merchant}/{payment}/{outcome}",
            get(return_pages::customer_return)
                .post(return_pages::customer_return)
                .layer(DefaultBodyLimit::max(limit)),
        )
        // A static segment outranks `{provider}` in axum's router (matchit), so CMI's callback,
        // which answers with CMI's keywords, is routed here whatever the registration order.
        .route(
            "/webhooks/cmi/{merchant}",
            post(cmi_callback::receive).layer(DefaultBodyLimit::max(limit)),
        )
        // PayPal's verification is async (certificate fetch); its own route wins over the
        // generic one because a static segment beats a parameter.
        .route(
            "/webhooks/paypal/{merchant}",
            post(paypal_webhooks::receive).layer(DefaultBodyLimit::max(limit)),
        )
        .route(
            "/webhooks/{provider}/{merchant}",
            post(webhooks::receive).layer(DefaultBodyLimit::max(limit)),
        )
        // Routes above this line get a span; the probes below do not.
        .route_layer(axum::middleware::from_fn(trace::trace))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .with_state(state)
}
