//! The `[webhooks]` table and each merchant's `[[merchants.webhook_endpoints]]`: webhooks from
//! paygate to shops. URLs are judged by `shop_webhooks::address`, the rule the sender applies
//! again at every attempt, so `check-config` refuses what the sender would.

use super::build::{Env, Problems};
use super::raw::{RawEndpoint, RawWebhooks};
use super::secret::{self, SecretSource};
use super::values::{at_least_one, problem, required};
use crate::domain::{MerchantId, PaymentStatus};
use crate::shop_webhooks::address;
use crate::shop_webhooks::endpoint::{DeliverySettings, Endpoint};
use crate::standard_webhooks::WebhookSecret;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::Duration;

/// Deliveries in flight to one endpoint from one replica, unless configured.
const DEFAULT_MAX_CONCURRENT: usize = 8;
/// Configured endpoint ids key delivery rows and appear in `webhook-id`: plain characters only.
const MAX_ID_LEN: usize = 64;

pub(super) fn delivery(raw: &RawWebhooks, p: &mut Problems) -> Option<DeliverySettings> {
    let d = DeliverySettings::default();
    let schedule = match &raw.retry_schedule_secs {
        None => Some(d.retry_schedule),
        Some(secs) if secs.is_empty() => {
            p.push(
                "webhooks.retry_schedule_secs",
                "must list at least one attempt (e.g. [0]: once, immediately)",
            );
            None
        }
        Some(secs) => Some(secs.iter().copied().map(Duration::from_secs).collect()),
    };
    let mut secs = |key: &str, value: Option<u64>, default: Duration| {
        p.check(at_least_one(key, value.unwrap_or(default.as_secs())))
            .map(Duration::from_secs)
    };
    let timeout = secs("webhooks.timeout_secs", raw.timeout_secs, d.timeout);
    let lease = secs("webhooks.lease_secs", raw.lease_secs, d.lease);
    let max_response_bytes = p.check(at_least_one(
        "webhooks.max_response_bytes",
        raw.max_response_bytes.unwrap_or(d.max_response_bytes),
    ));
    let hours = raw
        .log_retention_hours
        .unwrap_or(d.log_retention.as_secs() / 3600);
    let log_retention = p
        .check(at_least_one("webhooks.log_retention_hours", hours))
        .and_then(|hours| {
            p.check(
                hours
                    .checked_mul(3600)
                    .map(Duration::from_secs)
                    .ok_or_else(|| problem("webhooks.log_retention_hours", "too large".into())),
            )
        });
    // A lease shorter than an attempt would let a second replica send while the first is
    // still waiting for the answer.
    if let (Some(timeout), Some(lease)) = (timeout, lease)
        && lease <= timeout
    {
        p.push(
            "webhooks.lease_secs",
            format!(
                "must be longer than webhooks.timeout_secs ({} s), or a delivery in flight \
                 could be claimed and sent again by another replica",
                timeout.as_secs()
            ),
        );
        return None;
    }
    Some(DeliverySettings {
        retry_schedule: schedule?,
        timeout: timeout?,
        max_response_bytes: max_response_bytes?,
        lease: lease?,
        log_retention: log_retention?,
    })
}

/// The merchant's endpoints, every problem recorded under its key (`{at}.webhook_endpoints[i].url`).
/// `merchant` is `None` when its id was refused: the endpoints are still checked, not built.
///
/// `ids` holds the endpoint ids of every merchant seen so far (id → where): an id is unique
/// across the whole config, because the delivery log, the claims and the dispatcher's slots
/// are keyed by it alone. Two merchants each with an endpoint "orders" would otherwise share
/// one key, and one merchant's events could go to the other's URL.
pub(super) fn endpoints(
    at: &str,
    merchant: Option<&MerchantId>,
    raw: Vec<RawEndpoint>,
    ids: &mut HashMap<String, String>,
    env: Env<'_>,
    p: &mut Problems,
) -> Option<Vec<Endpoint>> {
    let mut out = Some(Vec::new());
    for (i, raw) in raw.into_iter().enumerate() {
        let at = format!("{at}.webhook_endpoints[{i}]");
        let endpoint = endpoint(&at, merchant, raw, env, p);
        if let Some(endpoint) = &endpoint
            && let Some(first) = ids.insert(endpoint.id.clone(), format!("{at}.id"))
        {
            p.push(
                format!("{at}.id"),
                format!(
                    "duplicate endpoint id {:?} (first at {first}; ids are unique across \
                     merchants, and two endpoints without an id and the same url derive the \
                     same one)",
                    endpoint.id
                ),
            );
        }
        match (endpoint, &mut out) {
            (Some(endpoint), Some(list)) => list.push(endpoint),
            _ => out = None,
        }
    }
    out
}

fn endpoint(
    at: &str,
    merchant: Option<&MerchantId>,
    raw: RawEndpoint,
    env: Env<'_>,
    p: &mut Problems,
) -> Option<Endpoint> {
    let url_key = format!("{at}.url");
    let url = p.check(required(&url_key, raw.url)).and_then(|text| {
        // The URL is not quoted back: its path or query may carry the shop's token.
        let url = p.check(
            reqwest::Url::parse(&text).map_err(|e| problem(&url_key, format!("invalid URL: {e}"))),
        )?;
        let checked = address::check_url(&url, raw.allow_loopback, raw.allow_private);
        p.check(checked.map_err(|refused| problem(&url_key, refused.to_string())))?;
        Some(url)
    });
    let id = match raw.id {
        Some(id) => p.check(endpoint_id(&format!("{at}.id"), id)),
        None => url
            .as_ref()
            .map(|url| derived_id(merchant.map_or("", MerchantId::as_str), url)),
    };
    let current = SecretSource {
        literal: raw.secret,
        env: raw.secret_env,
        file: raw.secret_file,
    };
    let secret_key = format!("{at}.secret");
    let current = p
        .check(secret::require(&secret_key, current, env))
        .and_then(|s| p.check(signing_secret(&secret_key, s.expose())));
    let previous = SecretSource {
        literal: raw.previous_secret,
        env: raw.previous_secret_env,
        file: raw.previous_secret_file,
    };
    let previous_key = format!("{at}.previous_secret");
    let previous = p
        .check(secret::resolve(&previous_key, previous, env))
        .and_then(|s| match s {
            None => Some(None),
            Some(s) => p.check(signing_secret(&previous_key, s.expose())).map(Some),
        });
    let events = match raw.events {
        None => Some(Vec::new()),
        Some(list) => event_types(&format!("{at}.events"), list, p),
    };
    let max_concurrent = p.check(at_least_one(
        &format!("{at}.max_concurrent"),
        raw.max_concurrent.unwrap_or(DEFAULT_MAX_CONCURRENT),
    ));
    Some(Endpoint {
        id: id?,
        merchant: merchant?.clone(),
        url: url?,
        // The current secret first: signatures are listed in this order.
        secrets: std::iter::once(current?).chain(previous?).collect(),
        events: events?,
        allow_loopback: raw.allow_loopback,
        allow_private: raw.allow_private,
        max_concurrent: max_concurrent?,
    })
}

/// `WebhookSecret::parse`, whose messages never quote the secret, under `key`.
fn signing_secret(key: &str, text: &str) -> Result<WebhookSecret, super::Problem> {
    WebhookSecret::parse(text).map_err(|e| problem(key, e.to_string()))
}

fn endpoint_id(key: &str, id: String) -> Result<String, super::Problem> {
    let plain = id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if id.is_empty() || id.len() > MAX_ID_LEN || !plain {
        return Err(problem(
            key,
            format!("must be 1 to {MAX_ID_LEN} letters, digits, '_' or '-', got {id:?}"),
        ));
    }
    Ok(id)
}

/// `we_` + 12 hex digits of SHA-256(merchant, newline, url): stable across restarts and
/// replicas as long as the URL does not change, and different for each merchant.
pub(super) fn derived_id(merchant: &str, url: &reqwest::Url) -> String {
    let digest = Sha256::digest(format!("{merchant}\n{url}").as_bytes());
    let hex = hex::encode(digest);
    format!("we_{}", hex.get(..12).unwrap_or(&hex))
}

/// Every type must be one paygate announces ([`PaymentStatus::EVENT_TYPES`]); an empty list
/// is refused, since leaving `events` out already means "all".
fn event_types(key: &str, list: Vec<String>, p: &mut Problems) -> Option<Vec<String>> {
    if list.is_empty() {
        p.push(
            key,
            "is empty: list at least one event type, or leave events out to receive all",
        );
        return None;
    }
    let mut ok = true;
    for (k, kind) in list.iter().enumerate() {
        if !PaymentStatus::EVENT_TYPES.contains(&kind.as_str()) {
            p.push(
                format!("{key}[{k}]"),
                format!(
                    "unknown event type {kind:?} (expected one of: {})",
                    PaymentStatus::EVENT_TYPES.join(", ")
                ),
            );
            ok = false;
        }
    }
    ok.then_some(list)
}
