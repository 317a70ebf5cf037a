//! Builds each merchant's adapters from the settings: which providers it has, with which
//! credentials, endpoints and webhook keys. `App::build` calls it once at start.

use crate::config::Settings;
use crate::domain::{MerchantId, ProviderKind};
use crate::providers::http_client::backoff::BackoffSettings;
use crate::providers::http_client::breaker::BreakerSettings;
use crate::providers::http_client::{ProviderHttp, ResilienceSettings};

use crate::providers::cmi::CmiClient;
use crate::providers::mock::MockClient;
use crate::providers::mock::api::MockApi;
use crate::providers::paypal::PaypalClient;
use crate::providers::urls::PublicUrls;
use crate::providers::{AnyProvider, Providers};
use crate::standard_webhooks::WebhookSecret;
use crate::telemetry::Metrics;
use anyhow::Context;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// The stack settings for every provider, from `[provider_calls]` and the provider timeout.
pub fn resilience(settings: &Settings) -> ResilienceSettings {
    let calls = settings.provider_calls;
    ResilienceSettings {
        total_timeout: settings.server.provider_timeout,
        max_concurrent: calls.max_concurrent,
        backoff: BackoffSettings {
            max_attempts: calls.max_attempts,
            ..BackoffSettings::default()
        },
        breaker: BreakerSettings {
            window_secs: u32::try_from(calls.breaker_window.as_secs()).unwrap_or(u32::MAX),
            min_calls: calls.breaker_min_calls,
            failure_percent: calls.breaker_failure_percent,
            open_for: calls.breaker_open_for,
        },
    }
}

/// Every merchant's adapters. `mock_processor` is the in-process mock processor, if started.
///
/// Each (merchant, provider) gets a [`ProviderHttp`] of its own: its own circuit breaker and
/// concurrency limit, over one shared connection pool per provider. Trouble at a provider is
/// often one merchant's (its credentials, its account throttled, a buyer looping on its return
/// page); with one breaker per provider, one merchant's 429s would cut every merchant off.
/// A provider that is down for everyone opens each merchant's breaker on that merchant's own
/// failures, a few calls later.
pub fn build(
    settings: &Settings,
    urls: &PublicUrls,
    http: &reqwest::Client,
    metrics: &Arc<Metrics>,
    mock_processor: Option<SocketAddr>,
    secrets: &MockSecrets,
) -> anyhow::Result<Providers> {
    let stack = |kind| {
        ProviderHttp::new(
            kind,
            http.clone(),
            resilience(settings),
            Some(metrics.clone()),
        )
    };
    let mock_http = ProviderHttp::with_protocol(
        ProviderKind::Mock,
        http.clone(),
        resilience(settings),
        Some(metrics.clone()),
        crate::providers::mock::api::not_processed,
    );
    let cmi_http = stack(ProviderKind::Cmi);
    // PayPal's adapter has its own retry policy (429 backoff, 401 refresh, same request id):
    // its stack makes one attempt per call and adds the deadline, breaker and limit.
    let mut paypal_calls = resilience(settings);
    paypal_calls.backoff.max_attempts = 1;
    let paypal_http = ProviderHttp::new(
        ProviderKind::Paypal,
        crate::providers::paypal::http_client(settings.server.provider_timeout)?,
        paypal_calls,
        Some(metrics.clone()),
    );
    let mut providers = Providers::default();
    for merchant in &settings.merchants {
        if let Some(mock) = &merchant.providers.mock {
            let base = match (&mock.base_url, mock_processor) {
                (Some(url), _) => url.clone(),
                (None, Some(addr)) => reqwest::Url::parse(&format!("http://{addr}/"))?,
                (None, None) => anyhow::bail!("mock processor expected but not started"),
            };
            let verify_with = secrets
                .by_merchant
                .get(&merchant.id)
                .cloned()
                .unwrap_or_default();
            providers.insert(
                merchant.id.clone(),
                AnyProvider::Mock(MockClient::new(
                    MockApi::with_stack(base, mock_http.for_merchant(&merchant.id)),
                    merchant.id.clone(),
                    urls.clone(),
                    verify_with,
                )),
            );
        }
        if let Some(cmi) = &merchant.providers.cmi {
            let client = CmiClient::new(
                merchant.id.clone(),
                cmi,
                urls.clone(),
                cmi_http.for_merchant(&merchant.id),
                metrics.clone(),
            )
            .with_context(|| format!("merchant {}: providers.cmi.base_url", merchant.id))?;
            providers.insert(merchant.id.clone(), AnyProvider::Cmi(client));
        }
        if let Some(paypal) = &merchant.providers.paypal {
            let client = PaypalClient::new(
                paypal,
                merchant.id.clone(),
                urls.clone(),
                paypal_http.for_merchant(&merchant.id),
            )
            .with_context(|| format!("merchant {}: providers.paypal", merchant.id))?;
            providers.insert(merchant.id.clone(), AnyProvider::Paypal(Box::new(client)));
        }
    }
    Ok(providers)
}

/// Who signs and who verifies mock webhooks.
pub struct MockSecrets {
    /// Whether some merchant uses the in-process processor.
    pub local_processor: bool,
    /// What the in-process processor signs with: every key its merchants verify with.
    pub processor: Vec<WebhookSecret>,
    /// What each merchant's route verifies with; empty means the route answers 503.
    pub by_merchant: HashMap<MerchantId, Vec<WebhookSecret>>,
}

/// Parses the configured secrets. A merchant on the in-process processor with none gets a
/// random key made at start-up (development), shared with that processor only; a merchant on an
/// external processor with none gets none: its webhooks are refused, never accepted unverified.
pub fn mock_secrets(settings: &Settings) -> anyhow::Result<MockSecrets> {
    let mut out = MockSecrets {
        local_processor: false,
        processor: Vec::new(),
        by_merchant: HashMap::new(),
    };
    let mut dev_secret = None;
    for merchant in &settings.merchants {
        let Some(mock) = &merchant.providers.mock else {
            continue;
        };
        let mut keys = Vec::new();
        for secret in &mock.webhook_secrets {
            keys.push(WebhookSecret::parse(secret.expose()).with_context(|| {
                format!("merchant {}: providers.mock.webhook_secret", merchant.id)
            })?);
        }
        if mock.base_url.is_none() {
            out.local_processor = true;
            if keys.is_empty() {
                let secret = match &dev_secret {
                    Some(secret) => secret,
                    None => dev_secret.insert(random_secret()?),
                };
                tracing::info!(merchant = %merchant.id, "no mock webhook secret configured: using a random one made at start-up");
                keys.push(secret.clone());
            }
            out.processor.extend(keys.iter().cloned());
        }
        out.by_merchant.insert(merchant.id.clone(), keys);
    }
    Ok(out)
}

/// 32 random bytes, as a Standard Webhooks secret.
fn random_secret() -> anyhow::Result<WebhookSecret> {
    use base64::Engine as _;
    let bytes: [u8; 32] = rand::random();
    let text = base64::engine::general_purpose::STANDARD.encode(bytes);
    WebhookSecret::parse(&text).context("generating the development webhook secret")
}
