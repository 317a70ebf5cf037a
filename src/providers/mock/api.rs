//! HTTP client the gateway uses to talk to the mock card processor, with errors classified by
//! what the caller must do next: retry, give up, or reconcile.

use std::error::Error as _;

use reqwest::{RequestBuilder, StatusCode, Url};
use serde::de::DeserializeOwned;

use super::wire::{
    AmountRequest, CreatePaymentRequest, ErrorBody, Faults, LedgerSummary, OperationObject,
    PaymentObject, StatusResponse,
};

const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// Why a call to the mock processor failed, phrased as what the caller must do next.
#[derive(Debug, thiserror::Error)]
pub enum MockCallError {
    /// The processor certainly did not act: safe to retry with the same key.
    ///
    /// Either no connection was made (nothing could have been sent), or the processor answered
    /// 503 `unavailable`, which it only does before looking at the request; its contract is
    /// that such a request left no trace.
    #[error("mock processor did not act on the request: {source}")]
    NotSent { source: reqwest::Error },
    /// The processor looked at the request and refused it (a 4xx with an error body). Nothing
    /// was done; retrying the same request will fail the same way.
    #[error("mock processor rejected the request ({status} {code}): {message}")]
    Rejected {
        status: u16,
        code: String,
        message: String,
    },
    /// The request may or may not have been applied (timeout after sending, connection reset,
    /// a 5xx other than `unavailable`, an undecodable answer). The caller must reconcile, e.g.
    /// via [`MockApi::operation_status`], before deciding anything.
    #[error("outcome at the mock processor is unknown: {reason}")]
    Unknown { reason: String },
}

/// Client for one mock processor. Timeouts come from the supplied [`reqwest::Client`].
#[derive(Debug, Clone)]
pub struct MockApi {
    base: Url,
    http: reqwest::Client,
}

impl MockApi {
    /// `base` is the processor's root, e.g. `http://127.0.0.1:4010/`; a path prefix is kept.
    pub fn new(base: Url, http: reqwest::Client) -> Self {
        Self { base, http }
    }

    /// `POST /v1/payments`
    pub async fn create_payment(
        &self,
        key: &str,
        req: &CreatePaymentRequest,
    ) -> Result<PaymentObject, MockCallError> {
        let request = self.http.post(self.url(&["v1", "payments"]));
        call(request.header(IDEMPOTENCY_KEY, key).json(req)).await
    }

    /// `POST /v1/payments/{id}/captures`
    pub async fn capture(
        &self,
        key: &str,
        payment_id: &str,
        req: &AmountRequest,
    ) -> Result<OperationObject, MockCallError> {
        let request = self
            .http
            .post(self.url(&["v1", "payments", payment_id, "captures"]));
        call(request.header(IDEMPOTENCY_KEY, key).json(req)).await
    }

    /// `POST /v1/payments/{id}/void`
    pub async fn void(
        &self,
        key: &str,
        payment_id: &str,
    ) -> Result<OperationObject, MockCallError> {
        let request = self
            .http
            .post(self.url(&["v1", "payments", payment_id, "void"]));
        call(request.header(IDEMPOTENCY_KEY, key)).await
    }

    /// `POST /v1/payments/{id}/refunds`
    pub async fn refund(
        &self,
        key: &str,
        payment_id: &str,
        req: &AmountRequest,
    ) -> Result<OperationObject, MockCallError> {
        let request = self
            .http
            .post(self.url(&["v1", "payments", payment_id, "refunds"]));
        call(request.header(IDEMPOTENCY_KEY, key).json(req)).await
    }

    /// `GET /v1/payments/{id}`
    pub async fn get_payment(&self, payment_id: &str) -> Result<PaymentObject, MockCallError> {
        call(self.http.get(self.url(&["v1", "payments", payment_id]))).await
    }

    /// `GET /v1/operations/{key}`: what was applied under `key`, `None` if nothing was.
    ///
    /// Only the processor's own `not_found` answer maps to `None`; any other 404 (a wrong base
    /// URL, a proxy) stays an error, because a false "nothing happened" would make the
    /// reconciler charge twice.
    pub async fn operation_status(
        &self,
        key: &str,
    ) -> Result<Option<StatusResponse>, MockCallError> {
        let request = self.http.get(self.url(&["v1", "operations", key]));
        match call::<StatusResponse>(request).await {
            Ok(status) => Ok(Some(status)),
            Err(MockCallError::Rejected {
                status: 404, code, ..
            }) if code == "not_found" => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// `GET /v1/ledger`
    pub async fn ledger(&self) -> Result<LedgerSummary, MockCallError> {
        call(self.http.get(self.url(&["v1", "ledger"]))).await
    }

    /// `GET /_faults`
    pub async fn faults(&self) -> Result<Faults, MockCallError> {
        call(self.http.get(self.url(&["_faults"]))).await
    }

    /// `PUT /_faults`; returns the settings now in force.
    pub async fn set_faults(&self, faults: &Faults) -> Result<Faults, MockCallError> {
        call(self.http.put(self.url(&["_faults"])).json(faults)).await
    }

    /// `base` plus percent-encoded `segments`.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        // Fails only for a cannot-be-a-base URL (e.g. `mailto:`); the URL is then left as is,
        // reqwest refuses its scheme with a builder error, and that maps to `NotSent`.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }
}

/// Sends `request` and decodes a 2xx body as `T`, classifying every failure.
async fn call<T: DeserializeOwned>(request: RequestBuilder) -> Result<T, MockCallError> {
    let response = request.send().await.map_err(send_error)?;
    let status = response.status();
    let status_error = response.error_for_status_ref().err();
    let body = response
        .bytes()
        .await
        .map_err(|error| MockCallError::Unknown {
            reason: format!("reading the {status} answer failed: {}", chain(&error)),
        })?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|error| MockCallError::Unknown {
            reason: format!("undecodable {status} answer: {error}"),
        });
    }
    Err(failure(status, &body, status_error))
}

/// Errors before an answer arrived. Only a failed connect (or a request reqwest refused to
/// build) proves nothing reached the processor; a timeout or reset after connecting may have
/// hit it after it acted.
fn send_error(error: reqwest::Error) -> MockCallError {
    if error.is_connect() || error.is_builder() {
        MockCallError::NotSent { source: error }
    } else {
        MockCallError::Unknown {
            reason: format!("request may have reached the processor: {}", chain(&error)),
        }
    }
}

/// Classifies a non-2xx answer.
fn failure(status: StatusCode, body: &[u8], status_error: Option<reqwest::Error>) -> MockCallError {
    let error_body = serde_json::from_slice::<ErrorBody>(body).ok();
    match (error_body, status_error) {
        // The processor answers `unavailable` only before acting.
        (Some(error_body), Some(source))
            if status == StatusCode::SERVICE_UNAVAILABLE && error_body.error == "unavailable" =>
        {
            MockCallError::NotSent { source }
        }
        // A 4xx with the processor's error body is its own refusal. One without could come from
        // anything in between, so it proves nothing.
        (Some(error_body), _) if status.is_client_error() => MockCallError::Rejected {
            status: status.as_u16(),
            code: error_body.error,
            message: error_body.message,
        },
        (Some(error_body), _) => MockCallError::Unknown {
            reason: format!(
                "processor answered {status} {}: {}",
                error_body.error, error_body.message
            ),
        },
        (None, _) => MockCallError::Unknown {
            reason: format!("processor answered {status} without an error body"),
        },
    }
}

/// `error` and all its sources, so "operation timed out" is not lost behind "error sending".
fn chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
