//! HTTP client the gateway uses to talk to the mock card processor, with errors classified by
//! what the caller must do next: retry, give up, or reconcile.

use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;

use crate::domain::ProviderKind;
use crate::providers::http_client::{
    ProviderHttp, ResilienceSettings, Retry, SendError, chain, only_rate_limited,
};

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
    #[error("mock processor did not act on the request: {reason}")]
    NotSent { reason: String },
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

/// Client for one mock processor, over the shared provider HTTP stack. Every mutating call
/// carries an `Idempotency-Key`, so every call is [`Retry::Safe`].
#[derive(Clone)]
pub struct MockApi {
    base: Url,
    http: ProviderHttp,
}

impl MockApi {
    /// A client with its own stack (default limits, no metrics), for tools and tests.
    /// `base` is the processor's root, e.g. `http://127.0.0.1:4010/`; a path prefix is kept.
    pub fn new(base: Url, client: reqwest::Client) -> Self {
        // The total timeout is the client's own; the stack adds no tighter one.
        let settings = ResilienceSettings::with_timeout(std::time::Duration::from_secs(3600));
        Self::with_stack(
            base,
            ProviderHttp::with_protocol(ProviderKind::Mock, client, settings, None, not_processed),
        )
    }

    /// A client on paygate's stack for the mock provider (shared breaker, limit, metrics).
    pub fn with_stack(base: Url, http: ProviderHttp) -> Self {
        Self { base, http }
    }

    /// `POST /v1/payments`
    pub async fn create_payment(
        &self,
        key: &str,
        req: &CreatePaymentRequest,
    ) -> Result<PaymentObject, MockCallError> {
        let url = self.url(&["v1", "payments"]);
        self.call("create_payment", Method::POST, url, Some(key), Some(req))
            .await
    }

    /// `POST /v1/payments/{id}/captures`
    pub async fn capture(
        &self,
        key: &str,
        payment_id: &str,
        req: &AmountRequest,
    ) -> Result<OperationObject, MockCallError> {
        let url = self.url(&["v1", "payments", payment_id, "captures"]);
        self.call("capture", Method::POST, url, Some(key), Some(req))
            .await
    }

    /// `POST /v1/payments/{id}/void`
    pub async fn void(
        &self,
        key: &str,
        payment_id: &str,
    ) -> Result<OperationObject, MockCallError> {
        let url = self.url(&["v1", "payments", payment_id, "void"]);
        self.call::<_, ()>("void", Method::POST, url, Some(key), None)
            .await
    }

    /// `POST /v1/payments/{id}/refunds`
    pub async fn refund(
        &self,
        key: &str,
        payment_id: &str,
        req: &AmountRequest,
    ) -> Result<OperationObject, MockCallError> {
        let url = self.url(&["v1", "payments", payment_id, "refunds"]);
        self.call("refund", Method::POST, url, Some(key), Some(req))
            .await
    }

    /// `GET /v1/payments/{id}`
    pub async fn get_payment(&self, payment_id: &str) -> Result<PaymentObject, MockCallError> {
        let url = self.url(&["v1", "payments", payment_id]);
        self.get("get_payment", url).await
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
        let url = self.url(&["v1", "operations", key]);
        match self.get::<StatusResponse>("operation_status", url).await {
            Ok(status) => Ok(Some(status)),
            Err(MockCallError::Rejected {
                status: 404, code, ..
            }) if code == "not_found" => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// `GET /v1/ledger`
    pub async fn ledger(&self) -> Result<LedgerSummary, MockCallError> {
        self.get("ledger", self.url(&["v1", "ledger"])).await
    }

    /// `GET /_faults`
    pub async fn faults(&self) -> Result<Faults, MockCallError> {
        self.get("faults", self.url(&["_faults"])).await
    }

    /// `PUT /_faults`; returns the settings now in force.
    pub async fn set_faults(&self, faults: &Faults) -> Result<Faults, MockCallError> {
        let url = self.url(&["_faults"]);
        self.call("set_faults", Method::PUT, url, None, Some(faults))
            .await
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

impl MockApi {
    async fn get<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        url: Url,
    ) -> Result<T, MockCallError> {
        self.call::<T, ()>(operation, Method::GET, url, None, None)
            .await
    }

    /// Sends one request through the stack and decodes a 2xx body as `T`, classifying every
    /// failure.
    async fn call<T: DeserializeOwned, B: serde::Serialize>(
        &self,
        operation: &'static str,
        method: Method,
        url: Url,
        key: Option<&str>,
        body: Option<&B>,
    ) -> Result<T, MockCallError> {
        let build = |client: &reqwest::Client| {
            let mut request = client.request(method.clone(), url.clone());
            if let Some(key) = key {
                request = request.header(IDEMPOTENCY_KEY, key);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            request
        };
        let response = self
            .http
            .send(operation, Retry::Safe, build)
            .await
            .map_err(send_error)?;
        decode(response).await
    }
}

/// The processor's answers that, by its contract, come only before it acts: 503 `unavailable`
/// (its error body says so) and HTTP's 429. Everything else that is not a success may have
/// been applied (a 504 `dropped` always was). The provider stack uses this to tell whether a
/// retried attempt may have acted.
pub fn not_processed(status: StatusCode, body: &[u8]) -> bool {
    if only_rate_limited(status, body) {
        return true;
    }
    status == StatusCode::SERVICE_UNAVAILABLE
        && serde_json::from_slice::<ErrorBody>(body).is_ok_and(|b| b.error == "unavailable")
}

/// Decodes a 2xx body as `T`, classifying every other answer.
async fn decode<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, MockCallError> {
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

/// Errors before an answer arrived, as the stack classified them: only a failed connect, a
/// refusal by the breaker or the limit proves nothing reached the processor.
fn send_error(error: SendError) -> MockCallError {
    match error {
        SendError::NotSent(reason) => MockCallError::NotSent { reason },
        SendError::Unknown(reason) => MockCallError::Unknown { reason },
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
            MockCallError::NotSent {
                reason: source.to_string(),
            }
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
