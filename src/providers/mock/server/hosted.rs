//! The hosted "card check" page a `mock_redirect` payment sends the customer to, with approve and
//! decline buttons standing in for a bank's 3-D Secure challenge. The decision is sent to the
//! payment's `webhook_url` as a signed event.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::{ProcessorState, delivery};
use crate::domain::{Currency, Money};
use crate::providers::mock::wire::{PaymentObject, PaymentState, WebhookEventType};

/// `GET /pay/{id}`: the approve and decline buttons while the payment waits for the customer;
/// once it is decided, only the outcome (a second click must not look like it could change it).
pub(super) async fn page(State(state): State<ProcessorState>, Path(id): Path<String>) -> Response {
    match state.with_ledger(|ledger| ledger.payment(&id).cloned()) {
        Some(payment) => Html(render(&payment)).into_response(),
        None => unknown(),
    }
}

fn unknown() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(shell("<p>Unknown payment.</p>")),
    )
        .into_response()
}

/// Only processor-generated values are interpolated: the id (`mp_` + hex, in the form actions
/// only), an amount, and a currency validated as three uppercase letters. The merchant's
/// free-text reference is not shown.
fn render(payment: &PaymentObject) -> String {
    let id = &payment.id;
    let amount = amount(payment);
    let body = if payment.status == PaymentState::RequiresAction {
        format!(
            "<p>Amount: <strong>{amount}</strong></p>\
             <form method=\"post\" action=\"/pay/{id}/approve\"><button type=\"submit\">Approve</button></form>\
             <form method=\"post\" action=\"/pay/{id}/decline\"><button type=\"submit\">Decline</button></form>"
        )
    } else {
        format!(
            "<p>Amount: <strong>{amount}</strong></p><p class=\"done\">{}</p>",
            outcome(payment.status)
        )
    };
    shell(&body)
}

/// `50.00 MAD`, through the same exact decimal conversion the providers use (never a float);
/// minor units only for a currency paygate does not know, which paygate itself never sends.
fn amount(payment: &PaymentObject) -> String {
    Currency::parse(&payment.currency)
        .ok()
        .and_then(|currency| Money::new(payment.amount, currency).ok())
        .map_or_else(
            || format!("{} minor units of {}", payment.amount, payment.currency),
            |money| format!("{} {}", money.to_decimal_string(), money.currency()),
        )
}

fn shell(body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Mock card check</title><style>{STYLE}</style></head>\
         <body><main><h1>Mock card check</h1>{body}</main></body></html>\n"
    )
}

const STYLE: &str = "body{font:1rem/1.5 system-ui,sans-serif;margin:0;background:#f3f4f6}\
main{max-width:26rem;margin:0 auto;padding:1.5rem}\
form{display:inline-block;margin:.5rem .5rem 0 0}\
button{font-size:1rem;padding:.75rem 1.5rem}.done{font-weight:600}";

fn outcome(state: PaymentState) -> &'static str {
    match state {
        PaymentState::RequiresAction => "Waiting for the customer.",
        PaymentState::Authorized | PaymentState::Captured => "Payment approved.",
        PaymentState::Declined => "Payment declined.",
        PaymentState::Voided => "Payment cancelled.",
    }
}

/// A click on a payment that is already decided (a double click, the back button): the page
/// with the outcome, as a 409, instead of an error in plain text.
fn already_decided(state: &ProcessorState, id: &str, fallback: Response) -> Response {
    match state.with_ledger(|ledger| ledger.payment(id).cloned()) {
        Some(payment) => (StatusCode::CONFLICT, Html(render(&payment))).into_response(),
        None => fallback,
    }
}

/// `POST /pay/{id}/approve`
pub(super) async fn approve(
    State(state): State<ProcessorState>,
    Path(id): Path<String>,
) -> Response {
    let decided = state.with_ledger(|ledger| {
        ledger.approve(&id).map(|p| {
            (
                p,
                ledger.webhook_url(&id),
                ledger.customer_return(&id, true),
            )
        })
    });
    match decided {
        Ok((payment, url, back)) => {
            tracing::info!(payment_id = %payment.id, "customer approved a payment");
            let kind = if payment.status == PaymentState::Captured {
                WebhookEventType::Captured
            } else {
                WebhookEventType::Authorized
            };
            if let Some(url) = url {
                delivery::spawn(&state, url, kind, payment);
            }
            send_back(back, "<p>Payment approved. You can close this window.</p>")
        }
        Err(error) => already_decided(&state, &id, (error.status, error.message).into_response()),
    }
}

/// `POST /pay/{id}/decline`
pub(super) async fn decline(
    State(state): State<ProcessorState>,
    Path(id): Path<String>,
) -> Response {
    let decided = state.with_ledger(|ledger| {
        ledger.decline(&id).map(|p| {
            (
                p,
                ledger.webhook_url(&id),
                ledger.customer_return(&id, false),
            )
        })
    });
    match decided {
        Ok((payment, url, back)) => {
            tracing::info!(payment_id = %payment.id, "customer declined a payment");
            if let Some(url) = url {
                delivery::spawn(&state, url, WebhookEventType::Declined, payment);
            }
            send_back(back, "<p>Payment declined. You can close this window.</p>")
        }
        Err(error) => already_decided(&state, &id, (error.status, error.message).into_response()),
    }
}

/// Like a real processor: 303 to the merchant's return URL when it gave one (the webhook has
/// been sent already, so the merchant may know the outcome when the customer arrives).
fn send_back(to: Option<String>, page: &'static str) -> Response {
    match to {
        Some(url) => Redirect::to(&url).into_response(),
        None => Html(shell(page)).into_response(),
    }
}
