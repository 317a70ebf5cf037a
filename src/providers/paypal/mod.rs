//! The PayPal adapter (specs/paypal.md): Orders v2 for the buyer's approval, Payments v2 for
//! captures, voids and refunds, OAuth client credentials, and RSA-signed webhooks.
//!
//! `client.rs` holds the one outbound HTTP function and the token; `adapter.rs` maps paygate's
//! operations (`refund.rs` the refunds, part by part); `wire.rs`/`convert.rs` are PayPal's words and their mapping; `webhook.rs`,
//! `cert.rs` and `verifier.rs` check signatures; `events.rs` decodes verified events.
mod adapter;
pub mod auth;
pub mod cert;
mod cert_cache;
mod client;
pub mod convert;
pub mod events;
#[cfg(test)]
mod fuzz_tests;
mod outcomes;
mod refund;
mod verifier;
pub mod webhook;
pub mod wire;

pub use events::{EventKind, PaypalEvent, VerifiedPaypalEvent};
pub use verifier::VerifyFailure;

use crate::config::PaypalSettings;
use crate::domain::{
    AuthorizeCommand, Capabilities, MerchantId, Money, Operation, Outcome, Payment,
};
use crate::providers::ProviderError;
use crate::providers::http_client::ProviderHttp;
use crate::providers::urls::{CustomerReturn, PublicUrls};
use crate::providers::webhook::MalformedWebhook;
use std::time::Duration;

/// The HTTP client PayPal's provider stack is built on (no redirects; see `client.rs`).
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    client::PaypalApi::http_client(timeout)
}

/// PayPal supports partial and multiple captures (up to its own count limit), void before
/// capture, and partial and multiple refunds.
pub const CAPABILITIES: Capabilities = Capabilities {
    partial_capture: true,
    multiple_captures: true,
    void: true,
    partial_refund: true,
    multiple_refunds: true,
    // Payments v2 refunds one capture per request: a refund over several is split (§3.3).
    refunds_per_capture: true,
    max_minor: 99_999_999_999_999_999,
};

/// Why a webhook was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum PaypalWebhookError {
    #[error(transparent)]
    Verify(#[from] VerifyFailure),
    #[error(transparent)]
    Malformed(#[from] MalformedWebhook),
}

pub struct PaypalClient {
    adapter: adapter::Adapter,
    verifier: verifier::Verifier,
    merchant: MerchantId,
}

impl PaypalClient {
    pub fn new(
        settings: &PaypalSettings,
        merchant: MerchantId,
        urls: PublicUrls,
        http: ProviderHttp,
    ) -> anyhow::Result<Self> {
        let api = client::PaypalApi::new(
            settings.base_url.clone(),
            settings.client_id.clone(),
            settings.client_secret.clone(),
            http,
        );
        let env = cert::Environment::from_base_url(&settings.base_url);
        if settings.accept_simulator_events && env == cert::Environment::Live {
            tracing::warn!(merchant = %merchant, "accept_simulator_events is ignored for a live PayPal merchant");
        }
        let verifier = verifier::Verifier::new(verifier::VerifierConfig {
            mode: settings.webhook_verification,
            webhook_id: settings.webhook_id.clone(),
            accept_simulator: settings.accept_simulator_events,
            env,
            extra_origins: settings.test_cert_origins.clone(),
            extra_roots_pem: settings.test_trust_roots_pem.clone(),
        })?;
        Ok(Self {
            adapter: adapter::Adapter::new(api, merchant.clone(), urls),
            verifier,
            merchant,
        })
    }

    /// Refuses what PayPal cannot take before anything is stored or sent (MAD, HUF cents...).
    pub fn check_amount(&self, amount: Money) -> Result<(), (&'static str, String)> {
        match convert::to_amount(amount) {
            Ok(_) => Ok(()),
            Err(e @ convert::AmountError::UnsupportedCurrency(_)) => {
                Err(("UNSUPPORTED_CURRENCY", e.to_string()))
            }
            Err(e) => Err(("INVALID_AMOUNT", e.to_string())),
        }
    }

    pub async fn authorize(
        &self,
        p: &Payment,
        op: &Operation,
        cmd: &AuthorizeCommand,
    ) -> Result<Outcome, ProviderError> {
        self.adapter.authorize(p, op, cmd).await
    }

    pub async fn capture(&self, p: &Payment, op: &Operation) -> Result<Outcome, ProviderError> {
        self.adapter.capture(p, op).await
    }

    pub async fn void(&self, p: &Payment, op: &Operation) -> Result<Outcome, ProviderError> {
        self.adapter.void(p, op).await
    }

    pub async fn refund(&self, p: &Payment, op: &Operation) -> Result<Outcome, ProviderError> {
        self.adapter.refund(p, op).await
    }

    pub async fn customer_returned(
        &self,
        p: &Payment,
        op: &Operation,
        back: &CustomerReturn,
    ) -> Result<Option<Outcome>, ProviderError> {
        self.adapter.customer_returned(p, op, back).await
    }

    /// The approved order's authorize/capture step (shared by return page and webhook).
    pub async fn complete_order(
        &self,
        p: &Payment,
        op: &Operation,
    ) -> Result<Option<Outcome>, ProviderError> {
        self.adapter.complete(p, op).await
    }

    pub async fn status(
        &self,
        p: &Payment,
        op: &Operation,
    ) -> Result<Option<Outcome>, ProviderError> {
        self.adapter.status(p, op).await
    }

    /// How many OAuth tokens this merchant's client fetched so far.
    pub fn token_fetches(&self) -> u64 {
        self.adapter.api.token_fetches()
    }

    /// Verifies a delivery over the raw body, then decodes it. Nothing here stores anything.
    pub async fn verify_webhook(
        &self,
        headers: &reqwest::header::HeaderMap,
        body: bytes::Bytes,
        now_unix: i64,
    ) -> Result<VerifiedPaypalEvent, PaypalWebhookError> {
        self.verifier
            .verify(&self.adapter.api, headers, &body, now_unix)
            .await?;
        Ok(events::parse(&self.merchant, body)?)
    }
}
