//! Reaching `paygate serve`: `--target` and `--api-key` (shared by `call`, `listen` and
//! `trigger`), the connection, the bearer key, and the hints a person needs when either is
//! wrong (which address was tried and how to change it; how to send a key).

use crate::grpc::proto::payment_gateway_client::PaymentGatewayClient;
use std::fmt;
use std::io;
use std::time::Duration;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub(in crate::cli) type Client = PaymentGatewayClient<InterceptedService<Channel, BearerAuth>>;

/// How a client command reaches a running paygate.
#[derive(clap::Args, Clone)]
pub struct ConnectionArgs {
    /// gRPC endpoint of `paygate serve`
    #[arg(long, env = "PAYGATE_TARGET", default_value = "http://127.0.0.1:50051")]
    pub target: String,
    /// API key sent as `authorization: Bearer <key>` (omit in development mode)
    // hide_env_values: otherwise `--help` would print the key taken from the environment.
    #[arg(long, env = "PAYGATE_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

/// Written by hand so that `{:?}` of a parsed command line never shows the API key.
impl fmt::Debug for ConnectionArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionArgs")
            .field("target", &self.target)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .finish()
    }
}

impl ConnectionArgs {
    /// The API key, if one was given: an empty one counts as none (`PAYGATE_API_KEY=`).
    pub fn key(&self) -> Option<&str> {
        self.api_key.as_deref().filter(|key| !key.is_empty())
    }

    /// Checks the target and the key before anything is sent (a bad one is a usage error).
    pub(in crate::cli) fn prepare(&self) -> Result<Prepared, BadConnection> {
        let endpoint =
            Endpoint::from_shared(self.target.clone()).map_err(|source| BadConnection::Target {
                target: self.target.clone(),
                source,
            })?;
        Ok(Prepared {
            target: self.target.clone(),
            endpoint,
            auth: BearerAuth::new(self.key())?,
        })
    }
}

/// `--target` or `--api-key` cannot be used at all.
#[derive(Debug, thiserror::Error)]
pub enum BadConnection {
    #[error("invalid --target {target:?}: {source}")]
    Target {
        target: String,
        source: tonic::transport::Error,
    },
    #[error(transparent)]
    ApiKey(#[from] InvalidApiKey),
}

/// A checked target and key, not yet connected.
pub(in crate::cli) struct Prepared {
    target: String,
    endpoint: Endpoint,
    auth: BearerAuth,
}

impl Prepared {
    pub fn has_key(&self) -> bool {
        self.auth.has_key()
    }

    /// Connects before anything is sent, so that a server that is not there is reported as
    /// that, with the address tried, rather than as an anonymous `UNAVAILABLE` from the first
    /// call.
    pub async fn connect(self) -> Result<Client, CannotConnect> {
        let channel = self
            .endpoint
            .connect_timeout(CONNECT_TIMEOUT)
            .connect()
            .await
            .map_err(|e| CannotConnect {
                target: self.target,
                why: why(&e),
            })?;
        Ok(PaymentGatewayClient::with_interceptor(channel, self.auth))
    }
}

/// No connection to `target`: the message names the address, the hint says what to check.
#[derive(Debug)]
pub(in crate::cli) struct CannotConnect {
    target: String,
    why: String,
}

impl CannotConnect {
    pub fn message(&self) -> String {
        format!("cannot connect to {}: {}", self.target, self.why)
    }

    pub fn hint() -> &'static str {
        "is `paygate serve` running? set --target / PAYGATE_TARGET"
    }
}

/// The innermost cause in plain words: "connection refused", not tonic's "transport error".
fn why(error: &tonic::transport::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(next) = cause.source() {
        if let Some(io) = next.downcast_ref::<io::Error>() {
            return match io.kind() {
                io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                io::ErrorKind::TimedOut => "timed out".to_owned(),
                _ => io.to_string(),
            };
        }
        cause = next;
    }
    cause.to_string()
}

/// What to do about an UNAUTHENTICATED answer: send a key, or a different one.
pub(in crate::cli) fn unauthenticated_hint(sent_a_key: bool) -> &'static str {
    if sent_a_key {
        "the server does not know this API key: check --api-key / PAYGATE_API_KEY against the merchant's api_key_sha256"
    } else {
        "this server requires an API key: pass --api-key KEY or set PAYGATE_API_KEY"
    }
}

/// Adds `authorization: Bearer <key>` to every call when a key is configured. The value is
/// marked sensitive so the HTTP/2 layer neither logs it nor puts it in the HPACK table.
#[derive(Clone)]
pub struct BearerAuth {
    header: Option<MetadataValue<Ascii>>,
}

impl BearerAuth {
    /// An empty key counts as none, so `PAYGATE_API_KEY=` behaves like an unset variable.
    pub fn new(api_key: Option<&str>) -> Result<Self, InvalidApiKey> {
        let header = match api_key.filter(|key| !key.is_empty()) {
            None => None,
            Some(key) => {
                let mut value =
                    MetadataValue::try_from(format!("Bearer {key}")).map_err(|_| InvalidApiKey)?;
                value.set_sensitive(true);
                Some(value)
            }
        };
        Ok(Self { header })
    }

    pub fn has_key(&self) -> bool {
        self.header.is_some()
    }
}

impl fmt::Debug for BearerAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self.header.as_ref().map(|_| "***");
        f.debug_struct("BearerAuth").field("key", &key).finish()
    }
}

impl Interceptor for BearerAuth {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.header {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// The key cannot be sent as an HTTP header value. The message does not repeat the key.
#[derive(Debug, thiserror::Error)]
#[error("the API key contains characters not allowed in an HTTP header")]
pub struct InvalidApiKey;
