//! `paygate trigger EVENT`: makes a running paygate produce one event through the mock
//! processor, so a shop can test its webhook receiver (with `paygate listen`) without clicking
//! through a checkout.
//!
//! Each event is made by the API calls a shop would make, on a `mock` payment whose card token
//! picks the processor's answer: nothing is written behind the API's back, so the event, its
//! payload and its sequence are exactly what a real flow produces. Prints the payment's id (or,
//! with `--json`, the payment as the HTTP/JSON API returns it); errors as `paygate call` prints
//! them.

use super::call::{self, ConnectionArgs, EXIT_USAGE};
use super::event_types;
use crate::domain::{Currency, Money, PaymentStatus};
use crate::grpc::proto;
use std::future::Future;
use std::process::ExitCode;

const AFTER_HELP: &str = "\
How each event is made (all on the mock processor):
  payment.authorized       authorize (card token mock_ok)
  payment.captured         authorize, then capture
  payment.refunded         authorize, capture, then refund
  payment.voided           authorize, then void
  payment.declined         authorize with mock_decline
  payment.failed           authorize with a token the processor rejects
  payment.requires_action  a redirect checkout (mock_redirect); it waits on the processor's page
payment.pending cannot be triggered: the mock processor has no pending answer (a late answer,
mock_timeout, leaves the payment pending without an event; the reconciler then authorizes it).
Each step sends its own events: payment.captured is preceded by payment.authorized.";

#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct TriggerArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// The event to produce, e.g. payment.captured (see below)
    pub event: String,
    /// Decimal amount of the test payment
    #[arg(long, default_value = "10.00")]
    pub amount: String,
    /// ISO 4217 code of --amount
    #[arg(long, default_value = "MAD")]
    pub currency: String,
    /// For payment.requires_action: where the processor's page sends the customer afterwards
    #[arg(long)]
    pub return_url: Option<String>,
    /// Print the final payment as the HTTP/JSON API's body (one line), not only its id
    #[arg(long)]
    pub json: bool,
}

/// The API calls that produce an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recipe {
    Authorize,
    Capture,
    Refund,
    Void,
    Decline,
    Reject,
    Redirect,
}

impl Recipe {
    /// The recipe for the event type `kind`, found through the status that announces it, so a
    /// new status fails to compile here until someone decides how to trigger it.
    fn for_event(kind: &str) -> Result<Self, UsageError> {
        use PaymentStatus as S;
        let status = PaymentStatus::ALL
            .into_iter()
            .find(|s| s.event_type() == kind)
            .ok_or_else(|| event_types::UnknownEventType(kind.to_owned()))?;
        Ok(match status {
            S::RequiresAction => Self::Redirect,
            S::Pending => return Err(UsageError::Unsupported(kind.to_owned())),
            S::Authorized => Self::Authorize,
            S::PartiallyCaptured | S::Captured => Self::Capture,
            S::PartiallyRefunded | S::Refunded => Self::Refund,
            S::Voided => Self::Void,
            S::Declined => Self::Decline,
            S::Failed => Self::Reject,
        })
    }

    /// The mock card token of the first step (see `providers/mock/server/rules.rs`).
    fn token(self) -> &'static str {
        match self {
            Self::Authorize | Self::Capture | Self::Refund | Self::Void => "mock_ok",
            Self::Decline => "mock_decline",
            // Any token the processor does not know is refused with a 400: the payment fails.
            Self::Reject => "mock_trigger_failed",
            Self::Redirect => "mock_redirect",
        }
    }

    /// Whether the first step must leave the payment authorized for the next one.
    fn needs_authorized(self) -> bool {
        matches!(self, Self::Capture | Self::Refund | Self::Void)
    }
}

/// Why the command line did not become a trigger (exit 2).
#[derive(Debug, thiserror::Error)]
enum UsageError {
    #[error(transparent)]
    Event(#[from] event_types::UnknownEventType),
    #[error(
        "{0} cannot be produced through the mock processor: it has no pending answer (see --help)"
    )]
    Unsupported(String),
    #[error("invalid --currency: {0}")]
    Currency(#[from] crate::domain::CurrencyError),
    #[error("invalid --amount: {0}")]
    Amount(#[from] crate::domain::MoneyError),
    #[error(transparent)]
    Connection(#[from] call::BadConnection),
}

/// Runs `paygate trigger` and returns the process exit code.
pub async fn run(args: TriggerArgs) -> anyhow::Result<ExitCode> {
    let prepared = (|| -> Result<_, UsageError> {
        let recipe = Recipe::for_event(&args.event)?;
        let currency = Currency::parse(&args.currency)?;
        let money = Money::parse_decimal(&args.amount, currency)?;
        let amount = proto::Money {
            currency: currency.code().to_owned(),
            minor_units: money.minor(),
        };
        Ok((recipe, amount, args.connection.prepare()?))
    })();
    let (recipe, amount, connection) = match prepared {
        Ok(ready) => ready,
        Err(usage) => {
            eprintln!("paygate trigger: {usage}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    let sent_key = connection.has_key();
    let client = match connection.connect().await {
        Ok(client) => client,
        Err(e) => return Ok(call::cannot_connect(&e)),
    };
    match produce(client, recipe, amount, args.return_url).await {
        Ok(payment) => {
            if args.json {
                call::write_stdout(&call::proto_json(&payment), false)?;
            } else {
                call::write_line(&payment.id)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(Failed::Call(status, key)) => Ok(call::report(&status, key.as_deref(), sent_key)),
        Err(Failed::Unexpected(payment)) => {
            let status = proto::PaymentStatus::try_from(payment.status)
                .map_or("unknown", |s| s.as_str_name());
            eprintln!(
                "paygate trigger: payment {} is {status} after authorize, not authorized; {} was not produced",
                payment.id, args.event
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

/// A step did not go as the recipe needs.
enum Failed {
    /// The call failed (with the idempotency key it carried, to retry with).
    Call(tonic::Status, Option<String>),
    /// The authorization was not approved, so the next step cannot run.
    Unexpected(Box<proto::Payment>),
}

/// The calls of `recipe`, in order; returns the payment as the last call left it.
async fn produce(
    mut client: call::Client,
    recipe: Recipe,
    amount: proto::Money,
    return_url: Option<String>,
) -> Result<proto::Payment, Failed> {
    let authorize = proto::AuthorizeRequest {
        idempotency_key: fresh_key(),
        provider: "mock".into(),
        amount: Some(amount),
        merchant_reference: "paygate-trigger".into(),
        capture_mode: i32::from(proto::CaptureMode::Manual),
        payment_token: recipe.token().into(),
        return_url: match recipe {
            Recipe::Redirect => return_url.unwrap_or_default(),
            _ => String::new(),
        },
        ..Default::default()
    };
    let key = authorize.idempotency_key.clone();
    let payment = step(key, client.authorize(authorize)).await?;
    if !recipe.needs_authorized() {
        return Ok(payment);
    }
    if payment.status != i32::from(proto::PaymentStatus::Authorized) {
        return Err(Failed::Unexpected(Box::new(payment)));
    }
    let id = payment.id;
    if recipe == Recipe::Void {
        let void = proto::VoidRequest {
            idempotency_key: fresh_key(),
            payment_id: id,
        };
        let key = void.idempotency_key.clone();
        return step(key, client.void(void)).await;
    }
    let capture = proto::CaptureRequest {
        idempotency_key: fresh_key(),
        payment_id: id.clone(),
        amount: None,
        final_capture: false,
    };
    let key = capture.idempotency_key.clone();
    let payment = step(key, client.capture(capture)).await?;
    if recipe == Recipe::Capture {
        return Ok(payment);
    }
    let refund = proto::RefundRequest {
        idempotency_key: fresh_key(),
        payment_id: id,
        amount: None,
        reason: "paygate trigger".into(),
    };
    let key = refund.idempotency_key.clone();
    step(key, client.refund(refund)).await
}

/// One call with `paygate call`'s timeout; a failure keeps the key it was sent with.
async fn step(
    key: String,
    call: impl Future<Output = Result<tonic::Response<proto::Payment>, tonic::Status>>,
) -> Result<proto::Payment, Failed> {
    match tokio::time::timeout(call::CALL_TIMEOUT, call).await {
        Ok(Ok(response)) => Ok(response.into_inner()),
        Ok(Err(status)) => Err(Failed::Call(status, Some(key))),
        Err(_elapsed) => Err(Failed::Call(
            tonic::Status::deadline_exceeded(format!(
                "no answer within {} s",
                call::CALL_TIMEOUT.as_secs()
            )),
            Some(key),
        )),
    }
}

fn fresh_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_but_pending_has_a_recipe() {
        for kind in event_types::all() {
            let recipe = Recipe::for_event(kind);
            assert_eq!(recipe.is_ok(), kind != "payment.pending", "{kind}");
        }
        assert_eq!(
            Recipe::for_event("payment.captured").unwrap(),
            Recipe::Capture
        );
        assert!(matches!(
            Recipe::for_event("payment.capture"),
            Err(UsageError::Event(_))
        ));
    }
}
