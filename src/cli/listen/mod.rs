//! `paygate listen --forward-to URL`: the `stripe listen` habit for local development. Follows
//! the merchant's `WatchEvents` from now on and forwards each event to the developer's receiver
//! as the signed webhook a deployment would send (same body, same Standard Webhooks headers,
//! the same `Sender`), printing one line per delivery.
//!
//! Submodules: `head` (where "from now on" starts), `secret` (the signing secret, derived so
//! it survives restarts). A forward that fails is printed and not retried: the developer sees
//! it and re-runs the action (or `paygate trigger`); the deployed engine is what retries.
//! Events are forwarded one at a time, in sequence order; a dropped stream is reopened after
//! the last sequence seen, so nothing is skipped or repeated across a server restart.

mod head;
mod secret;

use super::call::{self, ConnectionArgs, EXIT_USAGE};
use super::event_types;
use crate::domain::MerchantId;
use crate::grpc::proto;
use crate::shop_webhooks::endpoint::{DeliverySettings, Endpoint};
use crate::shop_webhooks::payload;
use crate::shop_webhooks::sender::Sender;
use crate::standard_webhooks::WebhookSecret;
use std::process::ExitCode;
use std::time::Duration;

const AFTER_HELP: &str = "\
Prints the signing secret first: set it as PAYGATE_WEBHOOK_SECRET in your receiver (see
examples/webhooks/). It is derived from the API key, so it is the same on every run; without a
key (a development server with authentication off) it is derived from --target instead.

Each event goes out once, as POST with webhook-id msg_listen_<sequence>, webhook-timestamp and
webhook-signature; one line per delivery shows the HTTP status (or the error) and the latency.
A failed delivery is not retried.";

/// `webhook-id` is `msg_listen_<sequence>`: the endpoint id `payload::webhook_id` puts in it.
const ENDPOINT_ID: &str = "listen";
/// Waits before reopening a dropped stream: doubling from the first to the second.
const RECONNECT: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(10));

#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct ListenArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Your webhook receiver, e.g. http://localhost:3000/hooks (plain http and private
    /// addresses are allowed: it is your own machine)
    #[arg(long, value_name = "URL")]
    pub forward_to: String,
    /// Only these event types, comma-separated (default: all), e.g.
    /// payment.captured,payment.refunded
    #[arg(long, value_delimiter = ',', value_name = "TYPES")]
    pub events: Vec<String>,
    /// Start after this event sequence instead of after the newest existing event (0: replay
    /// every event kept)
    #[arg(long, value_name = "SEQUENCE")]
    pub after: Option<u64>,
}

/// Why the command line did not become a listener (exit 2).
#[derive(Debug, thiserror::Error)]
enum UsageError {
    #[error("--events: {0}")]
    Event(#[from] event_types::UnknownEventType),
    #[error("invalid --forward-to {0:?}: an http:// or https:// URL is needed")]
    ForwardTo(String),
    #[error(transparent)]
    Connection(#[from] call::BadConnection),
}

/// Runs `paygate listen` until Ctrl-C (exit 0) or an error no reconnect can cure (exit 1).
pub async fn run(args: ListenArgs) -> anyhow::Result<ExitCode> {
    let prepared = (|| -> Result<_, UsageError> {
        for kind in &args.events {
            event_types::check(kind)?;
        }
        let url = reqwest::Url::parse(&args.forward_to)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .ok_or_else(|| UsageError::ForwardTo(args.forward_to.clone()))?;
        Ok((url, args.connection.prepare()?))
    })();
    let (url, connection) = match prepared {
        Ok(ready) => ready,
        Err(usage) => {
            eprintln!("paygate listen: {usage}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    let (secret_text, source) = secret::derive(args.connection.key(), &args.connection.target);
    let endpoint = Endpoint {
        id: ENDPOINT_ID.into(),
        // Not sent anywhere: the server scopes the stream to the key's merchant.
        merchant: MerchantId::parse(ENDPOINT_ID)?,
        url,
        secrets: vec![WebhookSecret::parse(&secret_text)?],
        events: args.events,
        // The developer's own receiver: localhost or a machine on their network.
        allow_loopback: true,
        allow_private: true,
        max_concurrent: 1,
    };
    crate::providers::http_client::install_crypto_provider();
    let sender = Sender::new(&DeliverySettings::default())?;

    let sent_key = connection.has_key();
    let client = match connection.connect().await {
        Ok(client) => client,
        Err(e) => return Ok(call::cannot_connect(&e)),
    };
    let after = match args.after {
        Some(after) => after,
        None => {
            let probe = head::HttpProbe::new(&args.connection.target, args.connection.key())?;
            match head::newest(|n| probe.probe(n)).await {
                Ok(after) => after,
                Err(e) => {
                    eprintln!("paygate listen: cannot find the newest event: {e}");
                    if e.unauthenticated() {
                        eprintln!("hint: {}", call::unauthenticated_hint(sent_key));
                    }
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
    };
    let from = match source {
        secret::Source::ApiKey => "derived from your API key: the same on every run",
        secret::Source::Target => {
            "derived from --target, as no API key was given: the same on every run against this address"
        }
    };
    call::write_line(&format!(
        "Ready! Your webhook signing secret is {secret_text} ({from})"
    ))?;
    call::write_line(&format!(
        "Forwarding events after #{after} to {} (Ctrl-C to stop)",
        endpoint.url
    ))?;

    let ctrl_c = tokio::signal::ctrl_c();
    tokio::select! {
        _ = ctrl_c => Ok(ExitCode::SUCCESS),
        code = follow(client, &sender, &endpoint, after, sent_key) => code,
    }
}

/// Forwards events after `last`, reopening the stream whenever it drops.
async fn follow(
    mut client: call::Client,
    sender: &Sender,
    endpoint: &Endpoint,
    mut last: u64,
    sent_key: bool,
) -> anyhow::Result<ExitCode> {
    let mut wait = RECONNECT.0;
    loop {
        let request = proto::WatchEventsRequest {
            after_sequence: last,
        };
        let dropped = match client.watch_events(request).await {
            Ok(response) => {
                let mut events = response.into_inner();
                loop {
                    match events.message().await {
                        Ok(Some(event)) => {
                            wait = RECONNECT.0;
                            last = event.sequence;
                            if !forward(sender, endpoint, event).await? {
                                return Ok(ExitCode::SUCCESS); // stdout closed
                            }
                        }
                        Ok(None) => {
                            break tonic::Status::unavailable("the server ended the stream");
                        }
                        Err(status) => break status,
                    }
                }
            }
            Err(status) => status,
        };
        if !retryable(dropped.code()) {
            return Ok(call::report(&dropped, None, sent_key));
        }
        eprintln!(
            "paygate listen: stream dropped ({}); reconnecting in {} s after #{last}",
            dropped.message(),
            wait.as_secs()
        );
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(RECONNECT.1);
    }
}

/// Codes a later attempt can cure (the server restarting, the network); the others (a wrong
/// key, a resume point deleted by retention) need the developer.
fn retryable(code: tonic::Code) -> bool {
    use tonic::Code as C;
    match code {
        C::Unavailable
        | C::Unknown
        | C::Internal
        | C::Aborted
        | C::Cancelled
        | C::DeadlineExceeded
        | C::ResourceExhausted => true,
        C::Ok
        | C::InvalidArgument
        | C::NotFound
        | C::AlreadyExists
        | C::PermissionDenied
        | C::FailedPrecondition
        | C::OutOfRange
        | C::Unimplemented
        | C::DataLoss
        | C::Unauthenticated => false,
    }
}

/// Sends one event if `--events` wants it and prints its line; `false` when stdout is closed.
async fn forward(
    sender: &Sender,
    endpoint: &Endpoint,
    event: proto::PaymentEvent,
) -> anyhow::Result<bool> {
    if !endpoint.wants(&event.r#type) {
        return Ok(true);
    }
    let sequence = event.sequence;
    let kind = event.r#type.clone();
    let payment_id = event
        .payment
        .as_ref()
        .map_or_else(String::new, |p| p.id.clone());
    let id = payload::webhook_id(endpoint.id.as_str(), i64::try_from(sequence)?);
    let body = payload::body(event)?;
    let attempt = sender.send(endpoint, &id, &body).await;
    let outcome = match (attempt.status, attempt.error.as_deref()) {
        (Some(status), _) => status.to_string(),
        (None, error) => format!("error ({})", error.unwrap_or("no answer")),
    };
    let retried = if attempt.delivered() {
        ""
    } else {
        ", not retried"
    };
    call::write_line(&format!(
        "#{sequence} {kind} {payment_id} -> {outcome} in {} ms{retried}",
        attempt.latency.as_millis()
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_stream_is_reopened_a_refusal_is_not() {
        assert!(retryable(tonic::Code::Unavailable));
        assert!(!retryable(tonic::Code::Unauthenticated));
        assert!(!retryable(tonic::Code::OutOfRange));
    }
}
