//! The hosted "card check" page a `mock_redirect` payment sends the customer to, with approve and
//! decline buttons standing in for a bank's 3-D Secure challenge. The decision is sent to the
//! payment's `webhook_url` as a signed event.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::{ProcessorState, delivery};
use crate::providers::mock::wire::{PaymentState, WebhookEventType};

/// `GET /pay/{id}`
pub(super) async fn page(State(state): State<ProcessorState>, Path(id): Path<String>) -> Response {
    let Some(payment) = state.with_ledger(|ledger| ledger.payment(&id).cloned()) else {
        return (StatusCode::NOT_FOUND, Html("<p>Unknown payment.</p>")).into_response();
    };
    // Only processor-generated values are interpolated: the id (`mp_` + hex) and a currency
    // validated as three uppercase letters. The merchant's free-text reference is not shown.
    let id = &payment.id;
    let html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Mock card check</title></head>\
         <body><h1>Mock card check</h1>\
         <p>Payment {id}: {amount} minor units of {currency}, status {status}.</p>\
         <form method=\"post\" action=\"/pay/{id}/approve\"><button type=\"submit\">Approve</button></form>\
         <form method=\"post\" action=\"/pay/{id}/decline\"><button type=\"submit\">Decline</button></form>\
         </body></html>\n",
        amount = payment.amount,
        currency = payment.currency,
        status = state_name(payment.status),
    );
    Html(html).into_response()
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
        Err(error) => (error.status, error.message).into_response(),
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
        Err(error) => (error.status, error.message).into_response(),
    }
}

/// Like a real processor: 303 to the merchant's return URL when it gave one (the webhook has
/// been sent already, so the merchant may know the outcome when the customer arrives).
fn send_back(to: Option<String>, page: &'static str) -> Response {
    match to {
        Some(url) => Redirect::to(&url).into_response(),
        None => Html(page).into_response(),
    }
}

fn state_name(state: PaymentState) -> &'static str {
    match state {
        PaymentState::RequiresAction => "requires_action",
        PaymentState::Authorized => "authorized",
        PaymentState::Captured => "captured",
        PaymentState::Declined => "declined",
        PaymentState::Voided => "voided",
    }
}
