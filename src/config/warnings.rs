//! Legal but risky settings: `check-config` prints them and `serve` logs them at start.
//!
//! A warning never stops paygate; it names the key and says what will happen, so the operator
//! learns it before the first customer does.

use super::{Problem, Settings};
use crate::shop_webhooks::endpoint::Endpoint;
use sha2::{Digest, Sha256};

/// API keys printed in paygate's own examples (README, `deploy/config/local.toml`, compose) and
/// the classic stand-ins: a client configured with one of these is open to anyone who read them.
const EXAMPLE_KEYS: [&str; 7] = [
    "dev-key-change-me",
    "",
    "test",
    "secret",
    "changeme",
    "change-me",
    "password",
];

/// A real SHA-256 has ~16 distinct hex digits; fewer than this is a hand-typed stand-in such
/// as `000…001` (as in `deploy/config/production.toml`, waiting for real hashes).
const MIN_DISTINCT_HEX_DIGITS: usize = 6;

pub(super) fn warnings(settings: &Settings) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut warn = |key: String, message: String| out.push(Problem { key, message });
    for (i, merchant) in settings.merchants.iter().enumerate() {
        let at = format!("merchants[{i}]");
        if let Some(mock) = &merchant.providers.mock
            && mock.base_url.is_some()
            && mock.webhook_secrets.is_empty()
        {
            warn(
                format!("{at}.providers.mock.webhook_secret"),
                "not set, with an external mock processor (base_url): every webhook it sends will be refused (503)".to_owned(),
            );
        }
        for (j, endpoint) in merchant.webhook_endpoints.iter().enumerate() {
            if let Some(why) = loopback_risk(settings, endpoint) {
                warn(format!("{at}.webhook_endpoints[{j}].allow_loopback"), why);
            }
        }
        for (j, client) in merchant.clients.iter().enumerate() {
            if let Some(why) = placeholder(&client.api_key_sha256) {
                warn(format!("{at}.clients[{j}].api_key_sha256"), why);
            }
        }
    }
    if !settings.server.require_auth && !settings.dev_mode {
        warn(
            "server.require_auth".to_owned(),
            "is false: any caller that reaches the gRPC port acts as the merchant, with no API key"
                .to_owned(),
        );
    }
    out
}

/// Why `hash` looks like a placeholder rather than the hash of a real, secret key, if it does.
fn placeholder(hash: &[u8; 32]) -> Option<String> {
    if let Some(key) = EXAMPLE_KEYS
        .iter()
        .find(|key| Sha256::digest(key.as_bytes()).as_slice() == hash)
    {
        return Some(format!(
            "is the SHA-256 of the example key {key:?}: anyone who read the docs can call as this client; generate a key (e.g. openssl rand -hex 32)"
        ));
    }
    let distinct = hex::encode(hash)
        .bytes()
        .collect::<std::collections::HashSet<u8>>()
        .len();
    (distinct < MIN_DISTINCT_HEX_DIGITS).then(|| {
        "looks like a placeholder, not the SHA-256 of a real key: callers cannot have a key that matches it, or can guess one".to_owned()
    })
}

/// `allow_loopback` is for a receiver on the developer's machine. Opening it for a public name,
/// or in a deployment on PostgreSQL (what production runs), lets webhooks reach services on
/// paygate's own host.
fn loopback_risk(settings: &Settings, endpoint: &Endpoint) -> Option<String> {
    if !endpoint.allow_loopback {
        return None;
    }
    let loopback_host = crate::shop_webhooks::address::is_loopback_host(&endpoint.url);
    let postgres = settings.database.url.starts_with("postgres");
    if !loopback_host {
        Some("is true for a host that is not loopback: if the name ever resolves to 127.0.0.1, webhooks reach services on paygate's own host; allow_loopback is for development".to_owned())
    } else if postgres {
        Some("is true in a deployment on PostgreSQL: allow_loopback is for a receiver on a developer's machine".to_owned())
    } else {
        None
    }
}
