//! `POST /webhooks/{provider}/{merchant}`: provider events (DESIGN.md §6, specs/webhooks.md §3).
//!
//! The body is taken as raw, size-limited bytes and verified before anything parses it; only a
//! `VerifiedWebhook` reaches the service, which deduplicates and applies it in one transaction.
//! Logs carry provider, merchant and the reason, never the body, signature or secret.

use super::HttpState;
use crate::domain::{MerchantId, ProviderKind, Timestamp};
use crate::error::AppError;
use crate::providers::webhook::WebhookRejection;
use crate::service::WebhookError;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

pub(super) async fn receive(
    State(state): State<HttpState>,
    Path((provider, merchant)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let kind = match provider.parse::<ProviderKind>() {
        Ok(ProviderKind::Mock) => ProviderKind::Mock,
        Ok(other @ (ProviderKind::Cmi | ProviderKind::Paypal)) => {
            let text = format!("{other} webhooks are not implemented in this build");
            return (StatusCode::NOT_FOUND, text).into_response();
        }
        Err(_) => return (StatusCode::NOT_FOUND, "unknown provider").into_response(),
    };
    let label = kind.as_str();
    // One answer for "no such merchant" and "provider not enabled": nothing more is revealed.
    let not_found = || {
        (
            StatusCode::NOT_FOUND,
            "unknown merchant or provider not enabled",
        )
    };
    let Ok(merchant) = MerchantId::parse(&merchant) else {
        return not_found().into_response();
    };
    let Some(adapter) = state.service.provider_for(&merchant, kind) else {
        return not_found().into_response();
    };
    let now = Timestamp::now().seconds();
    let verified = match adapter.verify_webhook(&merchant, &headers, body, now) {
        Ok(verified) => verified,
        Err(WebhookRejection::NotConfigured) => {
            tracing::error!(provider = label, %merchant, "webhook refused: no signing secret configured for this merchant");
            state.metrics.webhook(label, "rejected_signature");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "webhook verification not configured",
            )
                .into_response();
        }
        Err(WebhookRejection::OtherRoute) => {
            return (StatusCode::NOT_FOUND, "unknown provider").into_response();
        }
        Err(rejection @ WebhookRejection::DuplicateHeader(_)) => {
            tracing::warn!(provider = label, %merchant, reason = %rejection, "webhook rejected");
            state.metrics.webhook(label, "rejected_malformed");
            return (StatusCode::BAD_REQUEST, "malformed webhook headers").into_response();
        }
        Err(rejection @ WebhookRejection::Signature(_)) => {
            tracing::warn!(provider = label, %merchant, reason = %rejection, "webhook rejected");
            state.metrics.webhook(label, "rejected_signature");
            return (StatusCode::UNAUTHORIZED, "invalid signature").into_response();
        }
    };
    let event_id = verified.event_id().to_owned();
    match state.service.apply_webhook(verified).await {
        Ok(result) => {
            state.metrics.webhook(label, result.as_str());
            (StatusCode::OK, result.as_str()).into_response()
        }
        Err(WebhookError::Malformed(e)) => {
            tracing::warn!(provider = label, %merchant, event_id, error = %e, "verified webhook is malformed");
            state.metrics.webhook(label, "rejected_malformed");
            (StatusCode::BAD_REQUEST, "malformed event").into_response()
        }
        Err(WebhookError::App(AppError::StoreUnavailable(reason))) => {
            tracing::warn!(provider = label, %merchant, event_id, %reason, "webhook not recorded: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "try again later").into_response()
        }
        Err(WebhookError::App(e)) => {
            tracing::error!(provider = label, %merchant, event_id, error = %e, "webhook not applied");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}
