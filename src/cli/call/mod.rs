//! `paygate call`: a small gRPC client for people and scripts (DESIGN §1).
//!
//! Each subcommand builds one request, sends it, and prints the answer as JSON on stdout. A gRPC
//! error goes to stderr as `{"error": {code, reason, message, field_violations}}` with exit code
//! 1; input that cannot become a request (an amount the currency cannot hold, a malformed
//! target) exits with 2 before anything is sent, like clap's own usage errors.

use crate::cli::json;
use crate::domain::{Currency, Money};
use crate::grpc::proto;
use proto::payment_gateway_client::PaymentGatewayClient;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

/// How long a unary call may take before the client gives up. A provider round trip is
/// normally well under a second; this only stops a script hanging on a dead connection.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Exit code for input that never became a request (clap uses the same for usage errors).
const EXIT_USAGE: u8 = 2;

#[derive(clap::Args)]
pub struct CallArgs {
    /// gRPC endpoint
    #[arg(long, env = "PAYGATE_TARGET", default_value = "http://127.0.0.1:50051")]
    pub target: String,
    /// API key sent as `authorization: Bearer <key>` (omit in development mode)
    // hide_env_values: otherwise `--help` would print the key taken from the environment.
    #[arg(long, env = "PAYGATE_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Print answers as the HTTP/JSON API's bodies (the proto3 JSON of the message), not the
    /// readable view
    #[arg(long)]
    pub json: bool,
    #[command(subcommand)]
    pub command: CallCommand,
}

/// Written by hand so that `{:?}` of the parsed command line never shows the API key.
impl fmt::Debug for CallArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallArgs")
            .field("target", &self.target)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("command", &self.command)
            .finish()
    }
}

#[derive(clap::Subcommand, Debug)]
pub enum CallCommand {
    /// Start a payment (prints it; a decline is a payment with status "declined", not an error)
    Authorize(AuthorizeArgs),
    /// Capture all or part of an authorized payment
    Capture(CaptureArgs),
    /// Cancel an authorization before any capture
    Void(VoidArgs),
    /// Return captured money, in full or in part
    Refund(RefundArgs),
    /// Print one payment
    Get { payment_id: String },
    /// List payments, newest first
    List(ListArgs),
    /// Print payment events as JSON lines until Ctrl-C, the end of the stream or `--limit`
    Watch {
        /// Start after this event sequence number (0 = the oldest retained event)
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Stop after this many events (a script's way to read a few; `| head` would wait for
        /// one more event before the closed pipe is noticed)
        #[arg(long)]
        limit: Option<u64>,
    },
}

#[derive(clap::Args, Debug)]
pub struct AuthorizeArgs {
    /// Decimal amount, e.g. 100.00; converted exactly with the currency's minor unit
    #[arg(long)]
    pub amount: String,
    /// ISO 4217 code
    #[arg(long, default_value = "MAD")]
    pub currency: String,
    /// mock, cmi or paypal
    #[arg(long, default_value = "mock")]
    pub provider: String,
    #[arg(long, value_enum, default_value_t = CaptureModeArg::Manual)]
    pub capture_mode: CaptureModeArg,
    /// The shop's own order reference
    #[arg(long)]
    pub reference: Option<String>,
    /// Provider payment token (for the mock processor it picks the outcome)
    #[arg(long)]
    pub token: Option<String>,
    #[arg(long)]
    pub return_url: Option<String>,
    #[arg(long)]
    pub cancel_url: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    /// e.g. fr-MA
    #[arg(long)]
    pub locale: Option<String>,
    /// key=value, repeatable
    #[arg(long = "metadata", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub metadata: Vec<(String, String)>,
    /// Reuse a key to retry safely; a fresh UUID v4 when omitted
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct CaptureArgs {
    pub payment_id: String,
    /// Decimal amount; omit to capture everything still capturable
    #[arg(long)]
    pub amount: Option<String>,
    /// Currency of --amount
    #[arg(long, default_value = "MAD")]
    pub currency: String,
    /// Close capturing after this capture even if it is partial
    #[arg(long = "final")]
    pub final_capture: bool,
    /// Reuse a key to retry safely; a fresh UUID v4 when omitted
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct VoidArgs {
    pub payment_id: String,
    /// Reuse a key to retry safely; a fresh UUID v4 when omitted
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct RefundArgs {
    pub payment_id: String,
    /// Decimal amount; omit to refund everything still refundable
    #[arg(long)]
    pub amount: Option<String>,
    /// Currency of --amount
    #[arg(long, default_value = "MAD")]
    pub currency: String,
    #[arg(long)]
    pub reason: Option<String>,
    /// Reuse a key to retry safely; a fresh UUID v4 when omitted
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Only payments with this merchant reference
    #[arg(long)]
    pub reference: Option<String>,
    /// Only payments in this status
    #[arg(long, value_enum)]
    pub status: Option<StatusArg>,
    /// 1-500 (the server's default is 50)
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=500))]
    pub page_size: Option<i32>,
    /// next_page_token from the previous page
    #[arg(long)]
    pub page_token: Option<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureModeArg {
    /// Authorize only; capture later
    Manual,
    /// Capture as part of the authorization
    Automatic,
}

/// Status names as `call` prints them (`partially_captured`); the kebab-case spelling clap
/// would generate is accepted too.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
#[value(rename_all = "snake_case")]
pub enum StatusArg {
    #[value(alias = "requires-action")]
    RequiresAction,
    Pending,
    Authorized,
    #[value(alias = "partially-captured")]
    PartiallyCaptured,
    Captured,
    #[value(alias = "partially-refunded")]
    PartiallyRefunded,
    Refunded,
    Voided,
    Declined,
    Failed,
}

impl From<StatusArg> for proto::PaymentStatus {
    fn from(status: StatusArg) -> Self {
        match status {
            StatusArg::RequiresAction => Self::RequiresAction,
            StatusArg::Pending => Self::Pending,
            StatusArg::Authorized => Self::Authorized,
            StatusArg::PartiallyCaptured => Self::PartiallyCaptured,
            StatusArg::Captured => Self::Captured,
            StatusArg::PartiallyRefunded => Self::PartiallyRefunded,
            StatusArg::Refunded => Self::Refunded,
            StatusArg::Voided => Self::Voided,
            StatusArg::Declined => Self::Declined,
            StatusArg::Failed => Self::Failed,
        }
    }
}

impl From<CaptureModeArg> for proto::CaptureMode {
    fn from(mode: CaptureModeArg) -> Self {
        match mode {
            CaptureModeArg::Manual => Self::Manual,
            CaptureModeArg::Automatic => Self::Automatic,
        }
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

type Client = PaymentGatewayClient<InterceptedService<Channel, BearerAuth>>;

/// Why a command line did not become a request (exit code 2).
#[derive(Debug, thiserror::Error)]
enum UsageError {
    #[error("invalid --currency: {0}")]
    Currency(#[from] crate::domain::CurrencyError),
    #[error("invalid --amount: {0}")]
    Amount(#[from] crate::domain::MoneyError),
    #[error("invalid --target {target:?}: {source}")]
    Target {
        target: String,
        source: tonic::transport::Error,
    },
    #[error(transparent)]
    ApiKey(#[from] InvalidApiKey),
}

/// What to send, built and checked before any connection is made.
enum Call {
    Unary(Unary),
    Watch(proto::WatchEventsRequest, Option<u64>),
}

/// One request with one answer. The authorize request is boxed: it is far larger than the
/// others, and clippy (rightly) dislikes enums sized by their rarest variant.
enum Unary {
    Authorize(Box<proto::AuthorizeRequest>),
    Capture(proto::CaptureRequest),
    Void(proto::VoidRequest),
    Refund(proto::RefundRequest),
    Get(proto::GetPaymentRequest),
    List(proto::ListPaymentsRequest),
}

/// Runs one `paygate call` subcommand and returns the process exit code.
pub async fn run(args: CallArgs) -> anyhow::Result<ExitCode> {
    let prepared = Call::build(args.command)
        .and_then(|call| Ok((call, client(&args.target, args.api_key.as_deref())?)));
    let (call, client) = match prepared {
        Ok(ready) => ready,
        Err(usage) => {
            eprintln!("paygate call: {usage}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    match call {
        Call::Watch(request, limit) => watch(client, request, limit, args.json).await,
        Call::Unary(unary) => {
            let key = unary.idempotency_key().map(str::to_owned);
            match tokio::time::timeout(CALL_TIMEOUT, unary.send(client, args.json)).await {
                Ok(Ok(value)) => {
                    // --json: one compact line, byte for byte the HTTP API's body.
                    write_stdout(&value, !args.json)?;
                    Ok(ExitCode::SUCCESS)
                }
                Ok(Err(status)) => Ok(report(&status, key.as_deref())),
                Err(_elapsed) => {
                    let status = tonic::Status::deadline_exceeded(format!(
                        "no answer within {} s",
                        CALL_TIMEOUT.as_secs()
                    ));
                    Ok(report(&status, key.as_deref()))
                }
            }
        }
    }
}

/// A lazily connected client: a server that is down becomes an `UNAVAILABLE` error on the
/// call, reported like any other gRPC error, rather than a separate failure path.
fn client(target: &str, api_key: Option<&str>) -> Result<Client, UsageError> {
    let endpoint = Endpoint::from_shared(target.to_owned())
        .map_err(|source| UsageError::Target {
            target: target.to_owned(),
            source,
        })?
        .connect_timeout(CONNECT_TIMEOUT);
    let auth = BearerAuth::new(api_key)?;
    Ok(PaymentGatewayClient::with_interceptor(
        endpoint.connect_lazy(),
        auth,
    ))
}

impl Call {
    fn build(command: CallCommand) -> Result<Self, UsageError> {
        let unary = match command {
            CallCommand::Watch { after, limit } => {
                return Ok(Self::Watch(
                    proto::WatchEventsRequest {
                        after_sequence: after,
                    },
                    limit,
                ));
            }
            CallCommand::Authorize(a) => Unary::Authorize(Box::new(proto::AuthorizeRequest {
                idempotency_key: key_or_fresh(a.idempotency_key),
                provider: a.provider,
                amount: Some(amount(&a.amount, &a.currency)?),
                merchant_reference: a.reference.unwrap_or_default(),
                capture_mode: i32::from(proto::CaptureMode::from(a.capture_mode)),
                customer: None,
                return_url: a.return_url.unwrap_or_default(),
                cancel_url: a.cancel_url.unwrap_or_default(),
                description: a.description.unwrap_or_default(),
                locale: a.locale.unwrap_or_default(),
                metadata: a.metadata.into_iter().collect::<HashMap<_, _>>(),
                payment_token: a.token.unwrap_or_default(),
            })),
            CallCommand::Capture(c) => Unary::Capture(proto::CaptureRequest {
                idempotency_key: key_or_fresh(c.idempotency_key),
                payment_id: c.payment_id,
                amount: c
                    .amount
                    .as_deref()
                    .map(|a| amount(a, &c.currency))
                    .transpose()?,
                final_capture: c.final_capture,
            }),
            CallCommand::Void(v) => Unary::Void(proto::VoidRequest {
                idempotency_key: key_or_fresh(v.idempotency_key),
                payment_id: v.payment_id,
            }),
            CallCommand::Refund(r) => Unary::Refund(proto::RefundRequest {
                idempotency_key: key_or_fresh(r.idempotency_key),
                payment_id: r.payment_id,
                amount: r
                    .amount
                    .as_deref()
                    .map(|a| amount(a, &r.currency))
                    .transpose()?,
                reason: r.reason.unwrap_or_default(),
            }),
            CallCommand::Get { payment_id } => Unary::Get(proto::GetPaymentRequest { payment_id }),
            CallCommand::List(l) => Unary::List(proto::ListPaymentsRequest {
                merchant_reference: l.reference.unwrap_or_default(),
                status: l
                    .status
                    .map_or(0, |s| i32::from(proto::PaymentStatus::from(s))),
                page_size: l.page_size.unwrap_or(0),
                page_token: l.page_token.unwrap_or_default(),
            }),
        };
        Ok(Self::Unary(unary))
    }
}

impl Unary {
    /// The key actually sent, so that an error report tells the user which key to retry with.
    fn idempotency_key(&self) -> Option<&str> {
        match self {
            Self::Authorize(r) => Some(&r.idempotency_key),
            Self::Capture(r) => Some(&r.idempotency_key),
            Self::Void(r) => Some(&r.idempotency_key),
            Self::Refund(r) => Some(&r.idempotency_key),
            Self::Get(_) | Self::List(_) => None,
        }
    }

    /// Sends the request; the answer as the readable view, or (`proto_json`) exactly as the
    /// HTTP/JSON API's body.
    async fn send(self, mut client: Client, proto_json: bool) -> Result<Value, tonic::Status> {
        let pay = |p: &proto::Payment| view(p, json::payment, proto_json);
        Ok(match self {
            Self::Authorize(r) => pay(client.authorize(*r).await?.get_ref()),
            Self::Capture(r) => pay(client.capture(r).await?.get_ref()),
            Self::Void(r) => pay(client.void(r).await?.get_ref()),
            Self::Refund(r) => pay(client.refund(r).await?.get_ref()),
            Self::Get(r) => pay(client.get_payment(r).await?.get_ref()),
            Self::List(r) => view(
                client.list_payments(r).await?.get_ref(),
                json::payment_list,
                proto_json,
            ),
        })
    }
}

/// `readable(message)`, or the message's proto3 JSON (the serde impls the JSON API uses).
fn view<T: serde::Serialize>(message: &T, readable: fn(&T) -> Value, proto_json: bool) -> Value {
    if proto_json {
        serde_json::to_value(message).unwrap_or(Value::Null)
    } else {
        readable(message)
    }
}

/// Prints one JSON line per event until the stream ends or the user presses Ctrl-C (a normal
/// way to stop watching, so it exits 0).
async fn watch(
    mut client: Client,
    request: proto::WatchEventsRequest,
    limit: Option<u64>,
    proto_json: bool,
) -> anyhow::Result<ExitCode> {
    let mut left = limit.unwrap_or(u64::MAX);
    if left == 0 {
        return Ok(ExitCode::SUCCESS);
    }
    let mut events = match client.watch_events(request).await {
        Ok(response) => response.into_inner(),
        Err(status) => return Ok(report(&status, None)),
    };
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => return Ok(ExitCode::SUCCESS),
            next = events.message() => match next {
                Ok(Some(event)) => {
                    left -= 1;
                    if !write_stdout(&view(&event, json::event, proto_json), false)? || left == 0 {
                        return Ok(ExitCode::SUCCESS);
                    }
                }
                Ok(None) => return Ok(ExitCode::SUCCESS),
                Err(status) => return Ok(report(&status, None)),
            },
        }
    }
}

fn key_or_fresh(key: Option<String>) -> String {
    key.unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Converts a person's decimal amount exactly; "100.505" MAD is refused, never rounded.
fn amount(text: &str, currency: &str) -> Result<proto::Money, UsageError> {
    let currency = Currency::parse(currency)?;
    let money = Money::parse_decimal(text, currency)?;
    Ok(proto::Money {
        currency: currency.code().to_owned(),
        minor_units: money.minor(),
    })
}

fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

/// Prints the error JSON on stderr (plus the idempotency key to retry with) and picks exit 1.
fn report(status: &tonic::Status, idempotency_key: Option<&str>) -> ExitCode {
    let mut value = json::status_error(status);
    if let (Some(key), Value::Object(map)) = (idempotency_key, &mut value) {
        map.insert("idempotency_key".into(), Value::String(key.to_owned()));
    }
    eprintln!("{value}");
    ExitCode::FAILURE
}

/// Writes JSON and a newline to stdout. Returns `false` when the reader has gone away
/// (`paygate call watch | head -1`): that ends the command quietly instead of panicking
/// the way `println!` does on a closed pipe.
fn write_stdout(value: &Value, pretty: bool) -> anyhow::Result<bool> {
    let mut out = io::stdout().lock();
    let written = if pretty {
        serde_json::to_writer_pretty(&mut out, value)
    } else {
        serde_json::to_writer(&mut out, value)
    }
    .map_err(io::Error::from)
    .and_then(|()| out.write_all(b"\n"))
    .and_then(|()| out.flush());
    match written {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
