//! Mock card processor HTTP server: a stateful, in-memory processor the gateway calls over HTTP.
//!
//! Submodules: `ledger` (state and transitions), `rules` (tokens and validation), `routes` (the
//! `/v1` API), `faults` (fault injection and its control endpoint) and `hosted` (the customer's
//! approve/decline page), `delivery` (signed webhooks to the payment's `webhook_url`), `listen`
//! (the in-process processor's port, with a fallback when it is taken), `traceparents` (the
//! trace context each request carried, for tests).

mod delivery;
mod faults;
mod hosted;
mod ledger;
mod listen;
mod routes;
mod rules;
#[cfg(test)]
mod tests;
mod traceparents;

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;

use self::ledger::Ledger;
pub use self::listen::{Bound, bind};
use crate::providers::mock::wire::{ErrorBody, FaultStep, Faults, LedgerSummary};
use crate::standard_webhooks::WebhookSecret;

/// Shared state of one mock processor: its ledger and fault settings. Cheap to clone.
#[derive(Clone, Default)]
pub struct ProcessorState {
    inner: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    ledger: Mutex<Ledger>,
    faults: Mutex<Faults>,
    traceparents: Mutex<traceparents::Seen>,
    /// Signing keys for outgoing webhooks; none means no webhook is sent.
    webhook_secrets: Vec<WebhookSecret>,
}

impl ProcessorState {
    /// An empty ledger with no faults.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty ledger that signs its webhooks with `secrets` (every one, for rotation).
    pub fn with_webhook_secrets(secrets: Vec<WebhookSecret>) -> Self {
        Self {
            inner: Arc::new(Shared {
                webhook_secrets: secrets,
                ..Shared::default()
            }),
        }
    }

    /// Current fault settings.
    pub fn faults(&self) -> Faults {
        self.inner
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the fault settings.
    pub fn set_faults(&self, faults: Faults) {
        *self
            .inner
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = faults;
    }

    /// Takes the next scripted step, if any is left.
    fn next_step(&self) -> Option<FaultStep> {
        let mut faults = self
            .inner
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        (!faults.script.is_empty()).then(|| faults.script.remove(0))
    }

    /// The same counters `GET /v1/ledger` returns.
    pub fn summary(&self) -> LedgerSummary {
        self.with_ledger(|ledger| ledger.summary())
    }

    /// Runs `f` under the ledger lock. Taking a closure (not returning a guard) makes it
    /// impossible to hold the std mutex across an `.await`.
    fn with_ledger<R>(&self, f: impl FnOnce(&mut Ledger) -> R) -> R {
        // A poisoned lock only means some thread panicked while holding it; every ledger
        // mutation completes before it can fail, so the data is still consistent.
        let mut ledger = self
            .inner
            .ledger
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&mut ledger)
    }
}

/// The processor's routes, with fault injection on mutating `/v1` requests.
pub fn router(state: ProcessorState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/v1/payments", post(routes::create_payment))
        .route("/v1/payments/{id}", get(routes::get_payment))
        .route("/v1/payments/{id}/captures", post(routes::capture))
        .route("/v1/payments/{id}/void", post(routes::void))
        .route("/v1/payments/{id}/refunds", post(routes::refund))
        .route("/v1/operations/{key}", get(routes::operation_status))
        .route("/v1/ledger", get(routes::ledger))
        .route("/_faults", get(faults::get_faults).put(faults::put_faults))
        .route("/_traceparents", get(traceparents::list))
        .route("/pay/{id}", get(hosted::page))
        .route("/pay/{id}/approve", post(hosted::approve))
        .route("/pay/{id}/decline", post(hosted::decline))
        .fallback(routes::no_route)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            faults::inject,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            traceparents::record,
        ))
        .with_state(state)
}

/// Serves the processor on `listener` until `shutdown` completes, then drains in-flight requests.
/// The caller announces the URL: it knows whether this is the standalone processor or the one
/// inside `serve`, and says so in one line.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ProcessorState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Nagle plus delayed ACKs would add ~40 ms to every small request/response pair.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// A JSON answer kept verbatim so an idempotent replay is byte-for-byte the original.
#[derive(Debug, Clone)]
struct Reply {
    status: StatusCode,
    body: String,
}

impl Reply {
    fn ok<T: Serialize>(value: &T) -> Self {
        Self::json(StatusCode::OK, value)
    }

    fn json<T: Serialize>(status: StatusCode, value: &T) -> Self {
        match serde_json::to_string(value) {
            Ok(body) => Self { status, body },
            Err(error) => {
                tracing::error!(%error, "cannot encode a mock processor response");
                Self {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    body: r#"{"error":"internal","message":"response encoding failed"}"#.to_owned(),
                }
            }
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            self.body,
        )
            .into_response()
    }
}

/// A refusal: the processor did nothing. Rendered as an [`ErrorBody`].
#[derive(Debug, Clone)]
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: &str) -> Self {
        Self {
            status,
            code,
            message: message.to_owned(),
        }
    }

    fn bad_request(code: &'static str, message: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    fn not_found(code: &'static str, message: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    fn conflict(code: &'static str, message: &str) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    fn unprocessable(code: &'static str, message: &str) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 503 `unavailable`: a promise that the request was not acted on, so it is safe to retry.
    fn rate_limited() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests; nothing was done",
        )
    }

    fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the processor is temporarily unavailable; nothing was done",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code.to_owned(),
            message: self.message,
        };
        Reply::json(self.status, &body).into_response()
    }
}
