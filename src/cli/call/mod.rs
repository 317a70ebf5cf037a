//! `paygate call`: a small gRPC client for people and scripts (DESIGN §1).
//!
//! Each subcommand builds one request, sends it, and prints the answer as JSON on stdout (with
//! `--id-only`, only the payment id). A gRPC error goes to stderr as `{"error": {code, reason,
//! message, field_violations, hint?}}` with exit code 1; so does a server that cannot be
//! reached (`UNAVAILABLE`, naming the address). Input that cannot become a request (an amount
//! the currency cannot hold, a malformed target) exits with 2 before anything is sent, like
//! clap's own usage errors. Submodules: `args` (the command line), `connect` (connection, key,
//! hints).

mod args;
mod connect;

pub use args::*;
pub use connect::{BadConnection, BearerAuth, ConnectionArgs, InvalidApiKey};
pub(in crate::cli) use connect::{CannotConnect, Client, unauthenticated_hint};

use crate::cli::json;
use crate::domain::{Currency, Money};
use crate::grpc::proto;
use serde_json::Value;
use std::collections::HashMap;
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

/// How long a unary call may take before the client gives up. A provider round trip is
/// normally well under a second; this only stops a script hanging on a dead connection.
pub(in crate::cli) const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Exit code for input that never became a request (clap uses the same for usage errors).
pub(in crate::cli) const EXIT_USAGE: u8 = 2;

/// Why a command line did not become a request (exit code 2).
#[derive(Debug, thiserror::Error)]
enum UsageError {
    #[error("invalid --currency: {0}")]
    Currency(#[from] crate::domain::CurrencyError),
    #[error("invalid --amount: {0}")]
    Amount(#[from] crate::domain::MoneyError),
    #[error(transparent)]
    Connection(#[from] BadConnection),
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

/// What stdout gets: the readable JSON view, the HTTP/JSON API's body (`--json`), or only
/// payment ids (for `ID=$(...)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    Json,
    ProtoJson,
    IdOnly,
}

/// One answer, kept as proto until printed so that `--id-only` needs no JSON digging.
enum Answer {
    Payment(Box<proto::Payment>),
    List(proto::ListPaymentsResponse),
}

/// Runs one `paygate call` subcommand and returns the process exit code.
pub async fn run(args: CallArgs) -> anyhow::Result<ExitCode> {
    let output = if args.id_only {
        Output::IdOnly
    } else if args.json {
        Output::ProtoJson
    } else {
        Output::Json
    };
    let prepared =
        Call::build(args.command).and_then(|call| Ok((call, args.connection.prepare()?)));
    let (call, connection) = match prepared {
        Ok(ready) => ready,
        Err(usage) => {
            eprintln!("paygate call: {usage}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    let sent_key = connection.has_key();
    let client = match connection.connect().await {
        Ok(client) => client,
        Err(e) => return Ok(cannot_connect(&e)),
    };
    let report = |status: &tonic::Status, key: Option<&str>| report(status, key, sent_key);
    match call {
        Call::Watch(request, limit) => watch(client, request, limit, output, report).await,
        Call::Unary(unary) => {
            let key = unary.idempotency_key().map(str::to_owned);
            match tokio::time::timeout(CALL_TIMEOUT, unary.send(client)).await {
                Ok(Ok(answer)) => {
                    print_answer(&answer, output)?;
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
                customer: a.customer.into_proto(),
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

    async fn send(self, mut client: Client) -> Result<Answer, tonic::Status> {
        let payment =
            |r: tonic::Response<proto::Payment>| Answer::Payment(Box::new(r.into_inner()));
        Ok(match self {
            Self::Authorize(r) => payment(client.authorize(*r).await?),
            Self::Capture(r) => payment(client.capture(r).await?),
            Self::Void(r) => payment(client.void(r).await?),
            Self::Refund(r) => payment(client.refund(r).await?),
            Self::Get(r) => payment(client.get_payment(r).await?),
            Self::List(r) => Answer::List(client.list_payments(r).await?.into_inner()),
        })
    }
}

fn print_answer(answer: &Answer, output: Output) -> anyhow::Result<()> {
    match (answer, output) {
        (Answer::Payment(p), Output::Json) => write_stdout(&json::payment(p), true)?,
        (Answer::List(l), Output::Json) => write_stdout(&json::payment_list(l), true)?,
        // --json: one compact line, byte for byte the HTTP API's body.
        (Answer::Payment(p), Output::ProtoJson) => write_stdout(&proto_json(p.as_ref()), false)?,
        (Answer::List(l), Output::ProtoJson) => write_stdout(&proto_json(l), false)?,
        (Answer::Payment(p), Output::IdOnly) => write_line(&p.id)?,
        (Answer::List(l), Output::IdOnly) => {
            for p in &l.payments {
                if !write_line(&p.id)? {
                    break;
                }
            }
            true
        }
    };
    Ok(())
}

/// Prints one JSON line per event (or its payment's id) until the stream ends or the user
/// presses Ctrl-C (a normal way to stop watching, so it exits 0).
async fn watch(
    mut client: Client,
    request: proto::WatchEventsRequest,
    limit: Option<u64>,
    output: Output,
    report: impl Fn(&tonic::Status, Option<&str>) -> ExitCode,
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
                    let open = match output {
                        Output::Json => write_stdout(&json::event(&event), false)?,
                        Output::ProtoJson => write_stdout(&proto_json(&event), false)?,
                        Output::IdOnly => {
                            write_line(event.payment.as_ref().map_or("", |p| p.id.as_str()))?
                        }
                    };
                    left -= 1;
                    if !open || left == 0 {
                        return Ok(ExitCode::SUCCESS);
                    }
                }
                Ok(None) => return Ok(ExitCode::SUCCESS),
                Err(status) => return Ok(report(&status, None)),
            },
        }
    }
}

/// The message's proto3 JSON: the serde impls the HTTP/JSON API writes its bodies with.
pub(in crate::cli) fn proto_json<T: serde::Serialize>(message: &T) -> Value {
    serde_json::to_value(message).unwrap_or(Value::Null)
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

/// Prints the error JSON on stderr (plus the idempotency key to retry with, and a hint where
/// the fix is on this side) and picks exit 1.
pub(in crate::cli) fn report(
    status: &tonic::Status,
    idempotency_key: Option<&str>,
    sent_key: bool,
) -> ExitCode {
    let hint = (status.code() == tonic::Code::Unauthenticated)
        .then(|| connect::unauthenticated_hint(sent_key));
    print_error(status, idempotency_key, hint)
}

/// Nothing was sent: reported as `UNAVAILABLE`, like a server that refuses, so scripts that
/// branch on the code need no second case; the message names the address.
pub(in crate::cli) fn cannot_connect(error: &CannotConnect) -> ExitCode {
    let status = tonic::Status::unavailable(error.message());
    print_error(&status, None, Some(CannotConnect::hint()))
}

pub(in crate::cli) fn print_error(
    status: &tonic::Status,
    idempotency_key: Option<&str>,
    hint: Option<&str>,
) -> ExitCode {
    let mut value = json::status_error(status);
    if let Some(Value::Object(error)) = value.get_mut("error") {
        if let Some(key) = idempotency_key {
            error.insert("idempotency_key".into(), Value::String(key.to_owned()));
        }
        if let Some(hint) = hint {
            error.insert("hint".into(), Value::String(hint.to_owned()));
        }
    }
    eprintln!("{value}");
    ExitCode::FAILURE
}

/// One line of plain text on stdout; `false` when the reader has gone away.
pub(in crate::cli) fn write_line(text: &str) -> anyhow::Result<bool> {
    let mut out = io::stdout().lock();
    let written = out
        .write_all(text.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Writes JSON and a newline to stdout. Returns `false` when the reader has gone away
/// (`paygate call watch | head -1`): that ends the command quietly instead of panicking
/// the way `println!` does on a closed pipe.
pub(in crate::cli) fn write_stdout(value: &Value, pretty: bool) -> anyhow::Result<bool> {
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
