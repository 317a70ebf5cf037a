//! [`ProviderHttp`]: the one way adapters send HTTP to a provider. Around each call it puts, in
//! this order: the caller's deadline (no call outlives the RPC that needs it), a concurrency
//! limit (a slow provider cannot absorb every task), the circuit breaker (a failing provider
//! gets no traffic for a while; callers get a fast "not sent"), and retries with backoff where
//! they cannot charge twice. The registry gives each (merchant, provider) a stack of its own
//! ([`ProviderHttp::for_merchant`]), so the limit and the breaker are per merchant.
//!
//! What is safe to retry is the adapter's call, not this layer's: [`Retry::Safe`] for requests
//! the provider deduplicates by a key paygate sends (mock `Idempotency-Key`, PayPal
//! `PayPal-Request-Id`) and for reads; [`Retry::OnlyIfNotSent`] for the rest (CMI's XML API),
//! which are retried only when nothing reached the provider or it refused before acting (429).
//!
//! "Could it have acted?" is a property of the whole call, not of its last attempt: once one
//! attempt may have reached the provider (a timeout or reset after sending, or an answer that
//! the provider's protocol does not define as "not processed", such as a gateway's 504), no
//! later refusal, open breaker or exhausted deadline can turn the call into "not sent". The
//! call then ends as [`SendError::Unknown`] unless a later attempt got a definitive 2xx answer
//! (a provider that deduplicates by key replays the first result).

use super::backoff::BackoffSettings;
use super::breaker::{Admitted, Breaker, BreakerSettings, BreakerState, Transition};
use crate::deadline;
use crate::domain::{MerchantId, ProviderKind};
use crate::telemetry::Metrics;
use reqwest::{RequestBuilder, Response, StatusCode};
use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::Instrument;
use tracing::field::Empty;

/// Tunables of the stack, per provider; the defaults suit a card processor.
#[derive(Debug, Clone, Copy)]
pub struct ResilienceSettings {
    /// Total time for one logical call, retries and waits included (also bounded by the
    /// caller's deadline).
    pub total_timeout: Duration,
    /// Calls in flight to this provider at once; more wait (within the deadline).
    pub max_concurrent: usize,
    pub backoff: BackoffSettings,
    pub breaker: BreakerSettings,
}

impl ResilienceSettings {
    pub fn with_timeout(total_timeout: Duration) -> Self {
        Self {
            total_timeout,
            max_concurrent: 256,
            backoff: BackoffSettings::default(),
            breaker: BreakerSettings::default(),
        }
    }
}

/// Whether a call may be repeated after a failure that may have reached the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// The provider deduplicates it (an idempotency key) or it changes nothing (a read).
    Safe,
    /// Repeating it could act twice: retried only when it certainly did not arrive.
    OnlyIfNotSent,
}

/// A call that produced no HTTP answer to hand back.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Nothing reached the provider (refused to connect, breaker open, no capacity, no time
    /// left before sending): safe to report UNAVAILABLE and let the caller retry.
    #[error("not sent: {0}")]
    NotSent(String),
    /// It may have reached the provider (timeout or reset after sending): reconcile.
    #[error("outcome unknown: {0}")]
    Unknown(String),
}

/// A provider protocol's proof that a request was not processed: an answer that, by the
/// provider's documentation, comes only before it acts (its status and body). Anything else
/// that is not a success may have acted.
pub type NotProcessed = fn(StatusCode, &[u8]) -> bool;

/// HTTP's own "not processed" (RFC 6585: 429 refuses to serve the request): the default for
/// providers whose protocol defines nothing more.
pub fn only_rate_limited(status: StatusCode, _body: &[u8]) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
}

/// Bodies of answers that are retried are read this far to see whether they prove "not
/// processed"; a longer one proves nothing.
const MAX_REFUSAL_BODY: usize = 64 * 1024;

/// Cheap to clone; clones share the breaker and the concurrency limit (a new stack from
/// [`ProviderHttp::for_merchant`] does not).
#[derive(Clone)]
pub struct ProviderHttp {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    provider: ProviderKind,
    /// Whose calls these are, for the breaker's logs and metrics; `None` outside the registry
    /// (tools, tests).
    merchant: Option<MerchantId>,
    settings: ResilienceSettings,
    breaker: Breaker,
    limit: Semaphore,
    metrics: Option<Arc<Metrics>>,
    not_processed: NotProcessed,
}

/// One attempt's result, classified.
enum Attempt {
    Answered(Response),
    Failed { error: SendError, retryable: bool },
}

impl ProviderHttp {
    pub fn new(
        provider: ProviderKind,
        client: reqwest::Client,
        settings: ResilienceSettings,
        metrics: Option<Arc<Metrics>>,
    ) -> Self {
        Self::with_protocol(provider, client, settings, metrics, only_rate_limited)
    }

    /// A stack for a provider whose protocol marks more answers as "not processed" than 429
    /// (the mock processor's 503 `unavailable`).
    pub fn with_protocol(
        provider: ProviderKind,
        client: reqwest::Client,
        settings: ResilienceSettings,
        metrics: Option<Arc<Metrics>>,
        not_processed: NotProcessed,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                provider,
                merchant: None,
                settings,
                breaker: Breaker::new(settings.breaker),
                limit: Semaphore::new(settings.max_concurrent.max(1)),
                metrics,
                not_processed,
            }),
        }
    }

    /// A stack of its own for `merchant`: this one's client (its pooled connections), settings
    /// and protocol, with a fresh breaker and concurrency limit. A provider's trouble is often
    /// one merchant's (its account throttled or suspended, a buyer looping on its return page),
    /// and a shared breaker would then refuse every merchant's calls to that provider.
    pub fn for_merchant(&self, merchant: &MerchantId) -> Self {
        let template = &self.inner;
        let inner = Inner {
            client: template.client.clone(),
            provider: template.provider,
            merchant: Some(merchant.clone()),
            settings: template.settings,
            breaker: Breaker::new(template.settings.breaker),
            limit: Semaphore::new(template.settings.max_concurrent.max(1)),
            metrics: template.metrics.clone(),
            not_processed: template.not_processed,
        };
        if let Some(metrics) = &inner.metrics {
            // Exported closed from the start, so a dashboard lists every breaker there is.
            metrics.provider_circuit_watched(inner.provider.as_str(), merchant.as_str());
        }
        Self {
            inner: Arc::new(inner),
        }
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.inner.breaker.state()
    }

    /// Sends the request `build` makes (called once per attempt). The last HTTP answer is
    /// returned as is, even a 5xx, for the adapter to classify in its protocol's terms, unless
    /// an earlier attempt may have acted: then anything but a 2xx is [`SendError::Unknown`].
    /// `operation` labels logs.
    pub async fn send(
        &self,
        operation: &'static str,
        retry: Retry,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Response, SendError> {
        let inner = &self.inner;
        let budget = match deadline::remaining() {
            Some(left) => left.min(inner.settings.total_timeout),
            None => inner.settings.total_timeout,
        };
        let deadline = Instant::now() + budget;
        let Ok(Ok(_permit)) = tokio::time::timeout_at(deadline, inner.limit.acquire()).await else {
            return Err(SendError::NotSent(format!(
                "{} calls to {}{} already in flight",
                inner.settings.max_concurrent,
                inner.provider,
                self.whose()
            )));
        };
        // Once an attempt may have reached the provider, no later failure can claim "not sent".
        let mut maybe_sent = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.final_error(maybe_sent, "no time left before the deadline"));
            }
            let admitted = match inner.breaker.admit() {
                Ok((admitted, change)) => {
                    self.transition(change);
                    admitted
                }
                Err(state) => {
                    let reason = format!(
                        "circuit breaker {} for {}{}",
                        state.as_str(),
                        inner.provider,
                        self.whose()
                    );
                    return Err(self.final_error(maybe_sent, &reason));
                }
            };
            let mut request = build(&inner.client);
            // The client's own timeout is the provider timeout; only a shorter remainder (a
            // caller's deadline, time spent on earlier attempts) needs setting per request.
            if left < inner.settings.total_timeout {
                request = request.timeout(left);
            }
            let span = attempt_span(inner.provider, operation, attempt);
            let sent = match request.build_split() {
                (client, Ok(mut request)) => {
                    span.record("http.request.method", request.method().as_str());
                    // The provider sees this attempt as the parent of whatever it does.
                    crate::traces::inject(&span, request.headers_mut());
                    client.execute(request).instrument(span.clone()).await
                }
                (_, Err(e)) => Err(e),
            };
            let outcome = self.classify(sent, retry);
            record_attempt(&span, &outcome);
            let headers = match &outcome {
                Attempt::Answered(r) => Some(r.headers().clone()),
                Attempt::Failed { .. } => None,
            };
            let healthy = match &outcome {
                Attempt::Answered(r) => !is_provider_failure(r.status()),
                Attempt::Failed { .. } => false,
            };
            self.record(admitted, healthy);
            let retryable = match &outcome {
                Attempt::Answered(r) => {
                    let status = r.status();
                    status == StatusCode::TOO_MANY_REQUESTS
                        || (retry == Retry::Safe && status.is_server_error())
                }
                Attempt::Failed { retryable, .. } => *retryable,
            };
            let delay = inner.settings.backoff.delay(attempt, headers.as_ref());
            let give_up = !retryable
                || attempt >= inner.settings.backoff.max_attempts
                || delay.is_none_or(|d| Instant::now() + d >= deadline);
            if give_up {
                return match outcome {
                    Attempt::Answered(response)
                        if maybe_sent && !response.status().is_success() =>
                    {
                        Err(SendError::Unknown(format!(
                            "an earlier attempt may have been applied; then {} answered {}",
                            inner.provider,
                            response.status()
                        )))
                    }
                    Attempt::Answered(response) => Ok(response),
                    Attempt::Failed {
                        error: SendError::NotSent(reason),
                        ..
                    } => Err(self.final_error(maybe_sent, &reason)),
                    Attempt::Failed { error, .. } => Err(error),
                };
            }
            // This attempt is over and will be retried: did it possibly act?
            maybe_sent |= match outcome {
                Attempt::Answered(response) => !self.proves_not_processed(response).await,
                Attempt::Failed {
                    error: SendError::Unknown(_),
                    ..
                } => true,
                Attempt::Failed { .. } => false,
            };
            if let Some(metrics) = &inner.metrics {
                metrics.provider_retry(inner.provider.as_str());
            }
            tracing::debug!(provider = %inner.provider, operation, attempt, "retrying provider call");
            tokio::time::sleep(delay.unwrap_or_default()).await;
        }
    }

    /// Whether a retried answer is, by the provider's protocol, one it gives only before acting.
    async fn proves_not_processed(&self, response: Response) -> bool {
        let status = response.status();
        if response
            .content_length()
            .is_some_and(|n| usize::try_from(n).map_or(true, |n| n > MAX_REFUSAL_BODY))
        {
            return false;
        }
        match response.bytes().await {
            Ok(body) if body.len() <= MAX_REFUSAL_BODY => (self.inner.not_processed)(status, &body),
            // A body that cannot be read or is too long proves nothing.
            _ => false,
        }
    }

    fn classify(&self, sent: Result<Response, reqwest::Error>, retry: Retry) -> Attempt {
        match sent {
            Ok(response) => Attempt::Answered(response),
            // No connection, or a request reqwest would not build: nothing left this process.
            Err(e) if e.is_connect() || e.is_builder() => Attempt::Failed {
                error: SendError::NotSent(chain(&e)),
                retryable: true,
            },
            Err(e) => Attempt::Failed {
                error: SendError::Unknown(format!(
                    "request may have reached the provider: {}",
                    chain(&e)
                )),
                retryable: retry == Retry::Safe,
            },
        }
    }

    fn final_error(&self, maybe_sent: bool, reason: &str) -> SendError {
        if maybe_sent {
            SendError::Unknown(format!(
                "an earlier attempt may have arrived; then: {reason}"
            ))
        } else {
            SendError::NotSent(reason.to_owned())
        }
    }

    fn record(&self, admitted: Admitted, healthy: bool) {
        let change = self.inner.breaker.record(admitted, healthy);
        self.transition(change);
    }

    fn transition(&self, change: Transition) {
        let Some(state) = change else { return };
        let provider = self.inner.provider;
        let merchant = self.inner.merchant.as_ref().map_or("", MerchantId::as_str);
        match state {
            BreakerState::Open => {
                tracing::warn!(%provider, merchant, "circuit breaker opened: provider calls refused for a while")
            }
            BreakerState::HalfOpen => {
                tracing::info!(%provider, merchant, "circuit breaker half-open: probing the provider")
            }
            BreakerState::Closed => {
                tracing::info!(%provider, merchant, "circuit breaker closed: provider healthy again")
            }
        }
        if let Some(metrics) = &self.inner.metrics {
            metrics.provider_circuit(provider.as_str(), merchant, state.as_str());
        }
    }

    /// ` (merchant m)` for messages, when the stack is a merchant's.
    fn whose(&self) -> String {
        self.inner
            .merchant
            .as_ref()
            .map(|m| format!(" (merchant {m})"))
            .unwrap_or_default()
    }
}

/// One attempt's span, a child of the caller's (the RPC, webhook or reconciler pass). Its
/// attributes say which call and how it ended; never the URL, headers or body.
fn attempt_span(provider: ProviderKind, operation: &'static str, attempt: u32) -> tracing::Span {
    tracing::info_span!(
        "provider_call",
        otel.name = %format_args!("{provider} {operation}"),
        otel.kind = "client",
        provider = %provider,
        operation,
        attempt,
        http.request.method = Empty,
        http.response.status_code = Empty,
        outcome = Empty,
    )
}

fn record_attempt(span: &tracing::Span, outcome: &Attempt) {
    let label = match outcome {
        Attempt::Answered(r) => {
            span.record("http.response.status_code", r.status().as_u16());
            if r.status().is_success() {
                "answered"
            } else {
                "http_error"
            }
        }
        Attempt::Failed {
            error: SendError::NotSent(_),
            ..
        } => "not_sent",
        Attempt::Failed {
            error: SendError::Unknown(_),
            ..
        } => "unknown",
    };
    span.record("outcome", label);
}

/// Answers that say the provider is in trouble (they count against the breaker): 5xx and 429.
/// A 4xx is the provider working correctly and refusing a request.
fn is_provider_failure(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

/// `error` and all its sources, so "operation timed out" is not lost behind "error sending".
pub fn chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
