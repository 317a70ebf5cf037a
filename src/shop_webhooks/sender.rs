//! Sends one signed webhook to one endpoint and reports what happened, whatever happened.
//!
//! Every outcome is an [`Attempt`]: a 2xx with a body within the limit is delivered; anything
//! else (another status, a redirect, a timeout, a reset, an oversized answer, a refused
//! address) is a failed attempt for the dispatcher to retry. The endpoint is someone else's
//! server, so it is treated as hostile: no redirects are followed (a 3xx could point anywhere,
//! the metadata service included), every address is checked against the endpoint's policy
//! (`address`), the whole attempt has one deadline, and at most `max_response_bytes` of the
//! answer are read. Nothing of the payload, the secret or the URL's query is logged or kept.

use super::address::{self, GuardedResolver, Policy, Refused, SystemResolver};
use super::endpoint::{DeliverySettings, Endpoint};
use crate::standard_webhooks;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Connecting should take a fraction of the attempt; a slow connect fails fast.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Headers an answer may carry. Their total size is bounded by hyper's read buffer (about
/// 400 KiB) and their time by the attempt's deadline.
const MAX_HEADERS: usize = 100;
const MAX_HEADER_LIST_BYTES: u32 = 64 * 1024;

/// The outcome of one attempt, as the delivery log records it.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The endpoint's HTTP status, if it answered.
    pub status: Option<u16>,
    /// Why the attempt failed, as `kind: text` with a stable kind (see [`FailureKind`]): a
    /// short text for the operator; never the payload, a secret, the URL or the answer's body.
    pub error: Option<String>,
    pub latency: Duration,
}

impl Attempt {
    /// A 2xx, read completely within the limit: the shop has the event.
    pub fn delivered(&self) -> bool {
        self.error.is_none() && self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// The stable kind of a failed attempt (`timeout`, `status`, ...), for metrics and
    /// filtering; `None` when delivered.
    pub fn failure_kind(&self) -> Option<&str> {
        let error = self.error.as_deref()?;
        Some(error.split_once(':').map_or(error, |(kind, _)| kind))
    }

    fn failed(status: Option<u16>, kind: FailureKind, text: &str, started: Instant) -> Self {
        Self {
            status,
            error: Some(format!("{}: {text}", kind.as_str())),
            latency: started.elapsed(),
        }
    }
}

/// Why an attempt failed; `as_str` is the stable prefix of [`Attempt::error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// No complete answer within the attempt's deadline.
    Timeout,
    /// No connection: refused, unreachable, DNS failure, TLS handshake failure.
    Connect,
    /// The URL or an address it resolved to is outside the endpoint's policy: nothing sent.
    RefusedAddress,
    /// A 3xx: not followed.
    Redirect,
    /// Any other non-2xx status.
    Status,
    /// The answer's body exceeds `max_response_bytes`.
    TooLarge,
    /// The connection was reset or closed before a complete answer.
    Reset,
    /// Anything else the HTTP exchange reported (a malformed answer).
    Protocol,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::RefusedAddress => "refused_address",
            Self::Redirect => "redirect",
            Self::Status => "status",
            Self::TooLarge => "too_large",
            Self::Reset => "reset",
            Self::Protocol => "protocol",
        }
    }
}

/// The HTTP clients for webhooks to shops, one per address [`Policy`], built once; cheap to
/// clone (the clients share their connection pools).
#[derive(Clone)]
pub struct Sender {
    clients: Arc<[(Policy, reqwest::Client)]>,
    max_response_bytes: usize,
    timeout: Duration,
}

impl Sender {
    pub fn new(settings: &DeliverySettings) -> anyhow::Result<Self> {
        Self::with_resolver(settings, Arc::new(SystemResolver))
    }

    /// With `resolver` in place of the system's (tests: `address::FixedResolver`, so a name
    /// can resolve to 10.0.0.1). Its answers still pass the endpoint's address policy.
    pub fn with_resolver(
        settings: &DeliverySettings,
        resolver: Arc<dyn reqwest::dns::Resolve>,
    ) -> anyhow::Result<Self> {
        crate::providers::http_client::install_crypto_provider();
        let clients = Policy::ALL
            .into_iter()
            .map(|policy| Ok((policy, client(settings, policy, resolver.clone())?)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self {
            clients: clients.into(),
            max_response_bytes: settings.max_response_bytes,
            timeout: settings.timeout,
        })
    }

    /// POSTs `body` to the endpoint, signed with each of its secrets at the current time.
    pub async fn send(&self, endpoint: &Endpoint, webhook_id: &str, body: &[u8]) -> Attempt {
        let started = Instant::now();
        let url = &endpoint.url;
        if let Err(refused) =
            address::check_url(url, endpoint.allow_loopback, endpoint.allow_private)
        {
            let text = refused.to_string();
            return Attempt::failed(None, FailureKind::RefusedAddress, &text, started);
        }
        let policy = Policy::for_url(url, endpoint.allow_loopback, endpoint.allow_private);
        let Some(client) = self.client(policy) else {
            // Policy::ALL covers every policy `for_url` can give; kept as a failure, not a panic.
            let text = "no client for this address policy";
            return Attempt::failed(None, FailureKind::RefusedAddress, text, started);
        };
        let timestamp = crate::domain::Timestamp::now().seconds();
        let signature = standard_webhooks::sign(&endpoint.secrets, webhook_id, timestamp, body);
        // The attempt's trace context, so a shop that traces continues the same trace.
        let mut trace = http::HeaderMap::new();
        crate::traces::inject(&tracing::Span::current(), &mut trace);
        let sent = client
            .post(url.clone())
            .headers(trace)
            .header("content-type", "application/json")
            .header("webhook-id", webhook_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_vec())
            .send()
            .await;
        match sent {
            Ok(response) => self.judge(response, started).await,
            Err(e) => {
                let (kind, text) = self.classify(&e);
                Attempt::failed(None, kind, &text, started)
            }
        }
    }

    fn client(&self, policy: Policy) -> Option<&reqwest::Client> {
        self.clients
            .iter()
            .find(|(p, _)| *p == policy)
            .map(|(_, client)| client)
    }

    /// Reads the answer (at most the limit) and decides: a 2xx read completely is delivered.
    async fn judge(&self, mut response: reqwest::Response, started: Instant) -> Attempt {
        let status = response.status();
        let code = Some(status.as_u16());
        if status.is_redirection() {
            let text = format!("HTTP {}; redirects are not followed", status.as_u16());
            return Attempt::failed(code, FailureKind::Redirect, &text, started);
        }
        let limit = self.max_response_bytes;
        let too_large = || format!("answer over {limit} bytes");
        // A declared length over the limit is refused unread.
        let declared = response.content_length();
        let mut read = 0u64;
        let limit_u64 = u64::try_from(limit).unwrap_or(u64::MAX);
        let body = if declared.is_some_and(|n| n > limit_u64) {
            Err((FailureKind::TooLarge, too_large()))
        } else {
            loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => {
                        read = read.saturating_add(u64::try_from(chunk.len()).unwrap_or(u64::MAX));
                        if read > limit_u64 {
                            break Err((FailureKind::TooLarge, too_large()));
                        }
                    }
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(self.classify(&e)),
                }
            }
        };
        // Dropping the response closes a connection with unread bytes: the rest is never read.
        drop(response);
        if !status.is_success() {
            // The status is the news, whatever happened to its body.
            let text = format!("HTTP {}", status.as_u16());
            return Attempt::failed(code, FailureKind::Status, &text, started);
        }
        match body {
            Ok(()) => Attempt {
                status: code,
                error: None,
                latency: started.elapsed(),
            },
            Err((kind, text)) => Attempt::failed(code, kind, &text, started),
        }
    }

    /// The kind of a failure and a text without the URL (it may carry a token in its path or
    /// query): the innermost cause, which is an OS or protocol message, or our own refusal.
    fn classify(&self, e: &reqwest::Error) -> (FailureKind, String) {
        let mut innermost: &dyn std::error::Error = e;
        let mut reset = false;
        let mut refused = None;
        let mut source: Option<&dyn std::error::Error> = Some(e);
        while let Some(err) = source {
            innermost = err;
            if let Some(r) = err.downcast_ref::<Refused>() {
                refused = Some(r.to_string());
            }
            if let Some(io) = err.downcast_ref::<std::io::Error>() {
                use std::io::ErrorKind as K;
                reset |= matches!(
                    io.kind(),
                    K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof
                );
            }
            if let Some(h) = err.downcast_ref::<hyper::Error>() {
                reset |= h.is_incomplete_message() || h.is_canceled();
            }
            source = err.source();
        }
        if let Some(text) = refused {
            (FailureKind::RefusedAddress, text)
        } else if e.is_timeout() {
            let text = format!("no complete answer within {} ms", self.timeout.as_millis());
            (FailureKind::Timeout, text)
        } else if reset {
            (FailureKind::Reset, innermost.to_string())
        } else if e.is_connect() {
            (FailureKind::Connect, innermost.to_string())
        } else {
            (FailureKind::Protocol, innermost.to_string())
        }
    }
}

/// One client for one address policy: its resolver checks every address against `policy`.
/// No proxy: a proxy would be the address connected to, and the shop's address would go
/// unchecked.
fn client(
    settings: &DeliverySettings,
    policy: Policy,
    resolver: Arc<dyn reqwest::dns::Resolve>,
) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout.min(CONNECT_TIMEOUT))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(GuardedResolver {
            policy,
            inner: resolver,
        })
        .http1_max_headers(MAX_HEADERS)
        .http2_max_header_list_size(MAX_HEADER_LIST_BYTES)
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("paygate-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

#[cfg(test)]
#[path = "sender_tests.rs"]
mod tests;
