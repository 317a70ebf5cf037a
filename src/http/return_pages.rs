//! `GET|POST /return/{provider}/{merchant}/{payment}/{outcome}`: where providers send the
//! customer back after their page (DESIGN.md §6, issue "redirect flows").
//!
//! The browser's word is never the outcome: the service asks the provider (or checks its signed
//! fields) and settles through the ledger; this handler only chooses which of the shop's pages
//! the customer lands on, from paygate's own state, and appends `payment_id` so the shop can
//! look the payment up. A shop without a `return_url` gets a small status page instead.

use super::HttpState;
use crate::domain::{MerchantId, Payment, PaymentId, PaymentStatus, ProviderKind};
use crate::error::AppError;
use crate::providers::urls::{CustomerReturn, ReturnOutcome};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};

pub(super) async fn customer_return(
    State(state): State<HttpState>,
    Path((provider, merchant, payment, outcome)): Path<(String, String, String, String)>,
    RawQuery(query): RawQuery,
    form: Bytes,
) -> Response {
    let (Ok(provider), Ok(merchant), Ok(payment), Ok(outcome)) = (
        provider.parse::<ProviderKind>(),
        MerchantId::parse(&merchant),
        PaymentId::parse(&payment),
        outcome.parse::<ReturnOutcome>(),
    ) else {
        return not_found();
    };
    let back = CustomerReturn {
        outcome,
        query: query.unwrap_or_default(),
        form,
    };
    match state
        .service
        .customer_returned(&merchant, provider, payment, &back)
        .await
    {
        Ok(payment) => redirect_to_shop(&payment, outcome),
        Err(AppError::NotFound) => not_found(),
        Err(AppError::StoreUnavailable(reason)) => {
            tracing::warn!(%reason, "return page: database unavailable");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "We could not load your payment right now. Please reload this page in a moment.",
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "return page failed");
            page(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong.")
        }
    }
}

/// Which of the shop's pages fits paygate's view of the payment: a success goes to
/// `return_url`; a definite failure to `cancel_url` (or `return_url` when the shop gave only
/// one); a payment still open follows the provider's page, since either page must then ask the
/// API (or WatchEvents) for the final word anyway.
pub(crate) fn redirect_to_shop(payment: &Payment, outcome: ReturnOutcome) -> Response {
    use PaymentStatus as S;
    let success = match payment.status {
        S::Authorized | S::PartiallyCaptured | S::Captured | S::PartiallyRefunded | S::Refunded => {
            true
        }
        S::Voided | S::Declined | S::Failed => false,
        S::RequiresAction | S::Pending => outcome == ReturnOutcome::Ok,
    };
    let target = if success {
        payment.return_url.as_ref()
    } else {
        payment.cancel_url.as_ref().or(payment.return_url.as_ref())
    };
    let Some(target) = target.and_then(|t| reqwest::Url::parse(t).ok()) else {
        let text = format!(
            "Payment {}: {}. You can close this window.",
            payment.id,
            payment.status.as_str()
        );
        return page(StatusCode::OK, &text);
    };
    let mut target = target;
    target
        .query_pairs_mut()
        .append_pair("payment_id", &payment.id.to_string());
    Redirect::to(target.as_str()).into_response()
}

fn not_found() -> Response {
    page(StatusCode::NOT_FOUND, "Unknown payment.")
}

/// A minimal page; `text` is paygate's own words (ids and status names), never input.
fn page(status: StatusCode, text: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Payment</title></head>\
         <body><p>{text}</p></body></html>\n"
    );
    (status, Html(html)).into_response()
}
