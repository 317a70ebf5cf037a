//! Reaching `paygate serve`: the connection, the bearer key, and the hints a person needs when
//! either is wrong (which address was tried and how to change it; how to send a key).

use crate::grpc::proto::payment_gateway_client::PaymentGatewayClient;
use std::fmt;
use std::io;
use std::time::Duration;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) type Client = PaymentGatewayClient<InterceptedService<Channel, BearerAuth>>;

/// Connects before anything is sent, so that a server that is not there is reported as that,
/// with the address tried, rather than as an anonymous `UNAVAILABLE` from the first call.
pub(super) async fn connect(
    target: &str,
    endpoint: Endpoint,
    auth: BearerAuth,
) -> Result<Client, CannotConnect> {
    let channel = endpoint
        .connect_timeout(CONNECT_TIMEOUT)
        .connect()
        .await
        .map_err(|e| CannotConnect {
            target: target.to_owned(),
            why: why(&e),
        })?;
    Ok(PaymentGatewayClient::with_interceptor(channel, auth))
}

/// No connection to `target`: the message names the address, the hint says what to check.
#[derive(Debug)]
pub(super) struct CannotConnect {
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
pub(super) fn unauthenticated_hint(sent_a_key: bool) -> &'static str {
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
