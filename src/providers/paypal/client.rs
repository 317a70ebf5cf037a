//! PayPal over HTTP: every outbound request goes through [`PaypalApi::send`], on the shared
//! provider stack (caller deadline, PayPal's circuit breaker and concurrency limit). The stack
//! is built with one attempt per call: the retry policy is PayPal's own and sits above `send`
//! (the OAuth token, one refresh-and-retry on 401, backoff on 429, the classification of what
//! an answer means for money: not sent / refused / unknown).

use super::auth::{AccessToken, REFRESH_MARGIN, TokenCache};
use super::wire::{ErrorBody, TokenReply};
use crate::config::Secret;
use crate::providers::http_client::{ProviderHttp, Retry, SendError as StackError};
use bytes::Bytes;
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Larger answers are not PayPal's: refuse them rather than buffer them.
const MAX_REPLY_BYTES: usize = 1 << 20;
/// How often a 429 is retried (PayPal did not act, so it is safe) before giving up.
const RATE_LIMIT_RETRIES: u32 = 2;
/// The longest paygate waits for one `Retry-After`: the caller's deadline matters more.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// A certificate fetch happens inside a webhook delivery: fail fast, PayPal retries on 503.
const CERT_FETCH_TIMEOUT: Duration = Duration::from_secs(3);

/// A failed exchange, typed by what it means for money.
#[derive(Debug)]
pub enum CallError {
    /// PayPal did not act (connect failure, 429, 401, GET 5xx): safe to retry.
    NotSent(String),
    /// The request may have been executed (POST timeout, POST 5xx, unreadable 2xx).
    Unknown(String),
    /// A 4xx with PayPal's error body: PayPal did not act; the issue says why.
    Refused { status: u16, body: ErrorBody },
}

/// One request, before the token and the common headers are added.
pub struct Outbound {
    pub method: Method,
    pub url: Url,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<(Vec<u8>, &'static str)>,
    pub max_bytes: usize,
    /// Shorter than the client's total timeout where a slow answer is useless (certificates).
    pub timeout: Option<Duration>,
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
    /// `Retry-After` in seconds, honoured on 429.
    pub retry_after: Option<Duration>,
}

#[derive(Debug)]
pub enum SendError {
    /// Nothing was delivered (connect or DNS failure).
    NotDelivered(String),
    /// Sent, or possibly sent: no usable answer.
    NoAnswer(String),
}

pub struct PaypalApi {
    http: ProviderHttp,
    base: Url,
    client_id: String,
    secret: Secret,
    tokens: TokenCache,
    /// How many tokens were fetched (tests assert single flight).
    token_fetches: Arc<AtomicU64>,
}

impl PaypalApi {
    /// The HTTP client for PayPal's stack: `timeout` bounds every call, and redirects are never
    /// followed (certificates: §8.4).
    pub fn http_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("paygate/", env!("CARGO_PKG_VERSION")))
            .build()
    }

    /// `http` is PayPal's stack over [`PaypalApi::http_client`], built with one attempt per call.
    pub fn new(base: Url, client_id: String, secret: Secret, http: ProviderHttp) -> Self {
        Self {
            http,
            base,
            client_id,
            secret,
            tokens: TokenCache::new(REFRESH_MARGIN),
            token_fetches: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn url(&self, path: &str) -> Result<Url, CallError> {
        self.base
            .join(path)
            .map_err(|e| CallError::NotSent(format!("bad PayPal URL {path}: {e}")))
    }

    pub fn token_fetches(&self) -> u64 {
        self.token_fetches.load(Ordering::Relaxed)
    }

    /// The one outbound HTTP function of the PayPal adapter. It only exchanges bytes; every
    /// policy (tokens, retries, classification) sits above it.
    pub async fn send(&self, req: Outbound) -> Result<Reply, SendError> {
        let build = |client: &reqwest::Client| {
            let mut builder = client.request(req.method.clone(), req.url.clone());
            if let Some(timeout) = req.timeout {
                builder = builder.timeout(timeout);
            }
            for (name, value) in &req.headers {
                builder = builder.header(*name, value.as_str());
            }
            if let Some((body, content_type)) = &req.body {
                builder = builder
                    .header("content-type", *content_type)
                    .body(body.clone());
            }
            builder
        };
        // One attempt (see the module doc), so the retry kind only matters for the stack's own
        // refusals: breaker open, no capacity, no time left.
        let response = self
            .http
            .send("paypal", Retry::OnlyIfNotSent, build)
            .await
            .map_err(|e| match e {
                StackError::NotSent(reason) => SendError::NotDelivered(reason),
                StackError::Unknown(reason) => SendError::NoAnswer(reason),
            })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        if response
            .content_length()
            .is_some_and(|n| n > u64::try_from(req.max_bytes).unwrap_or(u64::MAX))
        {
            return Err(SendError::NoAnswer("answer too large".into()));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| SendError::NoAnswer(e.to_string()))?;
        if body.len() > req.max_bytes {
            return Err(SendError::NoAnswer("answer too large".into()));
        }
        Ok(Reply {
            status,
            body,
            retry_after,
        })
    }

    /// A fresh token, fetched once for all concurrent callers.
    async fn token(&self) -> Result<AccessToken, CallError> {
        self.tokens.get(|| self.fetch_token()).await
    }

    async fn fetch_token(&self) -> Result<(AccessToken, Duration), CallError> {
        use base64::Engine as _;
        self.token_fetches.fetch_add(1, Ordering::Relaxed);
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            self.client_id,
            self.secret.expose()
        ));
        let req = Outbound {
            method: Method::POST,
            url: self.url("/v1/oauth2/token")?,
            headers: vec![
                ("authorization", format!("Basic {basic}")),
                ("accept", "application/json".into()),
            ],
            body: Some((
                b"grant_type=client_credentials".to_vec(),
                "application/x-www-form-urlencoded",
            )),
            max_bytes: MAX_REPLY_BYTES,
            timeout: None,
        };
        let reply = self.send(req).await.map_err(|e| match e {
            SendError::NotDelivered(r) | SendError::NoAnswer(r) => CallError::NotSent(r),
        })?;
        if reply.status == StatusCode::UNAUTHORIZED {
            // Bad credentials: retrying in a loop would only get the account throttled.
            tracing::error!(client_id = %self.client_id, "PayPal refused the client credentials: operator attention needed");
            return Err(CallError::NotSent(
                "PayPal refused the client credentials".into(),
            ));
        }
        if !reply.status.is_success() {
            return Err(CallError::NotSent(format!(
                "token endpoint answered {}",
                reply.status
            )));
        }
        let token: TokenReply = serde_json::from_slice(&reply.body)
            .map_err(|_| CallError::NotSent("token answer does not parse".into()))?;
        Ok((
            AccessToken::new(token.access_token),
            Duration::from_secs(token.expires_in),
        ))
    }

    /// An API call with the bearer token. `request_id` is PayPal's idempotency key (POSTs);
    /// every POST asks for the full representation so amounts and statuses can be checked.
    pub async fn call<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        request_id: Option<&str>,
    ) -> Result<Reply, CallError> {
        let is_post = method == Method::POST;
        let payload = match body {
            Some(b) => Some(serde_json::to_vec(b).map_err(|e| CallError::NotSent(e.to_string()))?),
            None if is_post => Some(b"{}".to_vec()),
            None => None,
        };
        self.call_raw(method, path, payload, request_id).await
    }

    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        payload: Option<Vec<u8>>,
        request_id: Option<&str>,
    ) -> Result<Reply, CallError> {
        let is_post = method == Method::POST;
        let url = self.url(path)?;
        let mut refreshed = false;
        let mut throttled = 0;
        loop {
            let token = self.token().await?;
            let mut headers = vec![
                ("authorization", format!("Bearer {}", token.expose())),
                ("accept", "application/json".into()),
            ];
            if is_post {
                headers.push(("prefer", "return=representation".into()));
            }
            if let Some(id) = request_id {
                headers.push(("paypal-request-id", id.to_owned()));
            }
            let req = Outbound {
                method: method.clone(),
                url: url.clone(),
                headers,
                body: payload.clone().map(|p| (p, "application/json")),
                max_bytes: MAX_REPLY_BYTES,
                timeout: None,
            };
            let reply = match self.send(req).await {
                Ok(reply) => reply,
                Err(SendError::NotDelivered(r)) => return Err(CallError::NotSent(r)),
                Err(SendError::NoAnswer(r)) if is_post => return Err(CallError::Unknown(r)),
                Err(SendError::NoAnswer(r)) => return Err(CallError::NotSent(r)),
            };
            let status = reply.status.as_u16();
            match status {
                200..=299 => return Ok(reply),
                // A 401 means PayPal did not act: refresh once and retry (§2).
                401 if !refreshed => {
                    refreshed = true;
                    self.tokens.invalidate(&token).await;
                }
                401 => return Err(CallError::NotSent("PayPal refused a fresh token".into())),
                429 if throttled < RATE_LIMIT_RETRIES => {
                    throttled += 1;
                    let wait = reply
                        .retry_after
                        .unwrap_or_default()
                        .max(backoff(throttled));
                    tokio::time::sleep(wait.min(MAX_BACKOFF)).await;
                }
                429 => return Err(CallError::NotSent("rate limited by PayPal".into())),
                500..=599 if is_post => {
                    return Err(CallError::Unknown(format!("PayPal answered {status}")));
                }
                500..=599 => return Err(CallError::NotSent(format!("PayPal answered {status}"))),
                _ => {
                    let body: ErrorBody = serde_json::from_slice(&reply.body).unwrap_or_default();
                    tracing::info!(status, issue = body.issue(), debug_id = %body.debug_id, "PayPal refused the request");
                    return Err(CallError::Refused { status, body });
                }
            }
        }
    }

    /// GETs a signing certificate (no token, no redirects, small size limit).
    pub async fn fetch_cert(&self, url: Url) -> Result<Bytes, String> {
        let req = Outbound {
            method: Method::GET,
            url,
            headers: Vec::new(),
            body: None,
            max_bytes: 16 * 1024,
            timeout: Some(CERT_FETCH_TIMEOUT),
        };
        let reply = self.send(req).await.map_err(|e| format!("{e:?}"))?;
        if reply.status != StatusCode::OK {
            return Err(format!("certificate fetch answered {}", reply.status));
        }
        Ok(reply.body)
    }
}

/// Decodes a 2xx answer; a body that does not parse leaves the outcome unknown.
pub fn decode<T: DeserializeOwned>(reply: &Reply) -> Result<T, CallError> {
    serde_json::from_slice(&reply.body)
        .map_err(|e| CallError::Unknown(format!("PayPal's answer does not parse: {e}")))
}

/// 200 ms, 400 ms, ... plus jitter, capped: PayPal publishes no numbers (§4).
fn backoff(attempt: u32) -> Duration {
    let base = 200_u64.saturating_mul(2_u64.saturating_pow(attempt.saturating_sub(1)));
    let jitter = rand::random_range(0..=base / 2);
    Duration::from_millis(base + jitter).min(MAX_BACKOFF)
}
