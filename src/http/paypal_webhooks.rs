//! `POST /webhooks/paypal/{merchant}` (specs/paypal.md §8.5). PayPal's check may fetch a signing
//! certificate or ask PayPal, so it is async and has its own route, registered before the
//! generic one. Raw bytes in; verify; then parse, dedupe and apply in one transaction.
//! Logs carry the merchant and the reason, never the body, signature or certificate.

use super::HttpState;
use crate::domain::{MerchantId, ProviderKind, Timestamp};
use crate::error::AppError;
use crate::providers::AnyProvider;
use crate::providers::paypal::{PaypalWebhookError, VerifyFailure};
use crate::service::WebhookError;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

const LABEL: &str = "paypal";

pub(super) async fn receive(
    State(state): State<HttpState>,
    Path(merchant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let not_found = || {
        (
            StatusCode::NOT_FOUND,
            "unknown merchant or provider not enabled",
        )
            .into_response()
    };
    let Ok(merchant) = MerchantId::parse(&merchant) else {
        return not_found();
    };
    let Some(AnyProvider::Paypal(client)) =
        state.service.provider_for(&merchant, ProviderKind::Paypal)
    else {
        return not_found();
    };
    let now = Timestamp::now().seconds();
    let verified = match client.verify_webhook(&headers, body, now).await {
        Ok(v) => v,
        Err(PaypalWebhookError::Verify(VerifyFailure::Rejected(reason))) => {
            tracing::warn!(provider = LABEL, %merchant, %reason, "webhook rejected");
            state.metrics.webhook(LABEL, "rejected_signature");
            return (StatusCode::UNAUTHORIZED, "invalid signature").into_response();
        }
        Err(PaypalWebhookError::Verify(VerifyFailure::Throttled)) => {
            tracing::warn!(provider = LABEL, %merchant, "certificate fetches over their limit; PayPal will retry");
            state.metrics.webhook(LABEL, "throttled");
            // PayPal redelivers on any non-2xx; the header tells other senders when to.
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [(axum::http::header::RETRY_AFTER, "60")],
                "try again later",
            )
                .into_response();
        }
        Err(PaypalWebhookError::Verify(VerifyFailure::Unavailable(reason))) => {
            tracing::warn!(provider = LABEL, %merchant, %reason, "webhook not verified yet; PayPal will retry");
            return (StatusCode::SERVICE_UNAVAILABLE, "try again later").into_response();
        }
        Err(PaypalWebhookError::Malformed(e)) => {
            tracing::warn!(provider = LABEL, %merchant, error = %e, "verified webhook is malformed");
            state.metrics.webhook(LABEL, "rejected_malformed");
            return (StatusCode::BAD_REQUEST, "malformed event").into_response();
        }
    };
    match state.service.apply_paypal_event(verified).await {
        Ok(result) => {
            state.metrics.webhook(LABEL, result.as_str());
            (StatusCode::OK, result.as_str()).into_response()
        }
        Err(WebhookError::Malformed(e)) => {
            tracing::warn!(provider = LABEL, %merchant, error = %e, "verified webhook is malformed");
            state.metrics.webhook(LABEL, "rejected_malformed");
            (StatusCode::BAD_REQUEST, "malformed event").into_response()
        }
        Err(WebhookError::App(
            AppError::StoreUnavailable(reason) | AppError::ProviderUnavailable { reason, .. },
        )) => {
            tracing::warn!(provider = LABEL, %merchant, %reason, "webhook not applied yet; PayPal will retry");
            (StatusCode::SERVICE_UNAVAILABLE, "try again later").into_response()
        }
        Err(WebhookError::App(e)) => {
            tracing::error!(provider = LABEL, %merchant, error = %e, "webhook not applied");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}
