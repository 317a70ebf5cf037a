//! `GET|POST /return/{provider}/{merchant}/{payment}/{outcome}`: where providers send the
//! customer back after their page (DESIGN.md §6, issue "redirect flows").
//!
//! The browser's word is never the outcome: the service asks the provider (or checks its signed
//! fields) and settles through the ledger; this handler only chooses which of the shop's pages
//! the customer lands on, from paygate's own state, and appends `payment_id` so the shop can
//! look the payment up. A shop without a `return_url` gets paygate's status page instead
//! (`pages`), in the customer's language.

use super::HttpState;
use super::pages::{self, Lang};
use crate::config::Storefront;
use crate::domain::{MerchantId, Payment, PaymentId, PaymentStatus, ProviderKind};
use crate::error::AppError;
use crate::providers::urls::{CustomerReturn, ReturnOutcome};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};

pub(super) async fn customer_return(
    State(state): State<HttpState>,
    Path((provider, merchant, payment, outcome)): Path<(String, String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    form: Bytes,
) -> Response {
    let query = query.unwrap_or_default();
    let lang = language(&query, &form, &headers);
    // The shop's look is known as soon as the merchant is, so even a 404 can link back.
    let shop = MerchantId::parse(&merchant)
        .ok()
        .and_then(|m| state.storefronts.get(&m).cloned())
        .unwrap_or_default();
    let (Ok(provider), Ok(merchant), Ok(payment), Ok(outcome)) = (
        provider.parse::<ProviderKind>(),
        MerchantId::parse(&merchant),
        PaymentId::parse(&payment),
        outcome.parse::<ReturnOutcome>(),
    ) else {
        return pages::not_found(&shop, lang);
    };
    let back = CustomerReturn {
        outcome,
        query,
        form,
    };
    match state
        .service
        .customer_returned(&merchant, provider, payment, &back)
        .await
    {
        Ok(payment) => redirect_to_shop(&payment, outcome, &shop, lang),
        Err(AppError::NotFound) => pages::not_found(&shop, lang),
        Err(AppError::StoreUnavailable(reason)) => {
            tracing::warn!(%reason, "return page: database unavailable");
            pages::unavailable(&shop, lang)
        }
        Err(e) => {
            tracing::error!(error = %e, "return page failed");
            pages::error(&shop, lang)
        }
    }
}

/// The shop's word on the language, if the return carries one: CMI posts back the `lang` field
/// paygate put in its form from the Authorize `locale`, and any return URL may carry `?lang=`.
/// Otherwise the browser's `Accept-Language` decides (see [`Lang::choose`]).
fn language(query: &str, form: &[u8], headers: &HeaderMap) -> Lang {
    let field = |body: &[u8]| {
        form_urlencoded::parse(body)
            .find(|(name, _)| name == "lang")
            .map(|(_, value)| value.into_owned())
    };
    let hint = field(query.as_bytes()).or_else(|| field(form));
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Lang::choose(hint.as_deref(), accept)
}

/// Which of the shop's pages fits paygate's view of the payment: a success goes to
/// `return_url`; a definite failure to `cancel_url` (or `return_url` when the shop gave only
/// one); a payment still open follows the provider's page, since either page must then ask the
/// API (or WatchEvents) for the final word anyway.
fn redirect_to_shop(
    payment: &Payment,
    outcome: ReturnOutcome,
    shop: &Storefront,
    lang: Lang,
) -> Response {
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
    let Some(mut target) = target.and_then(|t| reqwest::Url::parse(t).ok()) else {
        return pages::status(payment, shop, lang);
    };
    target
        .query_pairs_mut()
        .append_pair("payment_id", &payment.id.to_string());
    let mut response = Redirect::to(target.as_str()).into_response();
    pages::headers(response.headers_mut());
    response
}
