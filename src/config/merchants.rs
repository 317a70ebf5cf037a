//! The `[[merchants]]` entries: ids, API clients and per-merchant provider credentials (DESIGN.md §8).

use super::Secret;
use super::build::{Env, Problems, built};
use super::raw::{RawCmi, RawMerchant, RawMock, RawPaypal, RawProviders};
use super::secret::{self, SecretSource};
use super::storefront::{self, Storefront};
use super::values::{http_url, key_hash, problem, required};
use super::webhooks;
use super::{
    ClientSettings, CmiSettings, MerchantSettings, MockSettings, PaypalSettings, ProviderSettings,
};
use crate::domain::MerchantId;
use crate::standard_webhooks::WebhookSecret;
use std::collections::{HashMap, HashSet};

/// Merchants in file order. A merchant with a problem is left out; the problem is recorded.
pub(super) fn merchants(
    raw: Vec<RawMerchant>,
    require_auth: bool,
    env: Env<'_>,
    p: &mut Problems,
) -> Vec<MerchantSettings> {
    if raw.is_empty() {
        p.push("merchants", "at least one [[merchants]] entry is required");
    }
    let mut ids: HashMap<MerchantId, String> = HashMap::new();
    let mut key_hashes: HashMap<[u8; 32], String> = HashMap::new();
    let mut endpoint_ids: HashMap<String, String> = HashMap::new();
    let mut out = Vec::new();
    for (i, merchant) in raw.into_iter().enumerate() {
        let at = format!("merchants[{i}]");
        let id_key = format!("{at}.id");
        let id = p.check(required(&id_key, merchant.id)).and_then(|text| {
            p.check(
                MerchantId::parse(&text)
                    .map_err(|e| problem(&id_key, format!("invalid merchant id {text:?}: {e}"))),
            )
        });
        if let Some(id) = &id
            && let Some(first) = ids.insert(id.clone(), format!("{at}.id"))
        {
            p.push(
                format!("{at}.id"),
                format!("duplicate merchant id \"{id}\" (first at {first})"),
            );
        }
        if require_auth && merchant.clients.is_empty() {
            p.push(
                format!("{at}.clients"),
                "at least one client is required while server.require_auth is true",
            );
        }
        let mut names = HashSet::new();
        let mut clients = Vec::new();
        for (j, client) in merchant.clients.into_iter().enumerate() {
            let at = format!("{at}.clients[{j}]");
            let name = p.check(required(&format!("{at}.name"), client.name));
            if let Some(name) = &name
                && !names.insert(name.clone())
            {
                p.push(
                    format!("{at}.name"),
                    format!("duplicate client name {name:?} in this merchant"),
                );
            }
            let hash_key = format!("{at}.api_key_sha256");
            let hash = p
                .check(required(&hash_key, client.api_key_sha256))
                .and_then(|text| p.check(key_hash(&hash_key, &text)));
            let (Some(name), Some(hash)) = (name, hash) else {
                continue;
            };
            if let Some(first) = key_hashes.insert(hash, format!("{at}.api_key_sha256")) {
                let message = format!(
                    "the same API key hash is already used by {first}; every client needs its own key"
                );
                p.push(format!("{at}.api_key_sha256"), message);
            }
            clients.push(ClientSettings {
                name,
                api_key_sha256: hash,
            });
        }
        let storefront = Storefront {
            display_name: merchant.display_name.and_then(|text| {
                p.check(storefront::display_name(
                    &format!("{at}.display_name"),
                    text,
                ))
            }),
            shop_url: merchant
                .shop_url
                .and_then(|text| p.check(storefront::shop_url(&format!("{at}.shop_url"), &text))),
        };
        let providers = providers(&at, merchant.providers, env, p);
        let endpoints = webhooks::endpoints(
            &at,
            id.as_ref(),
            merchant.webhook_endpoints,
            &mut endpoint_ids,
            env,
            p,
        );
        if let (Some(id), Some(providers), Some(webhook_endpoints)) = (id, providers, endpoints) {
            out.push(MerchantSettings {
                webhook_endpoints,
                id,
                clients,
                providers,
                storefront,
            });
        }
    }
    out
}

fn providers(
    at: &str,
    raw: RawProviders,
    env: Env<'_>,
    p: &mut Problems,
) -> Option<ProviderSettings> {
    let at = format!("{at}.providers");
    if raw.mock.is_none() && raw.cmi.is_none() && raw.paypal.is_none() {
        p.push(
            at.as_str(),
            "at least one provider is required: add [merchants.providers.mock], .cmi or .paypal",
        );
        return None;
    }
    let mock = raw.mock.map(|raw| mock(&format!("{at}.mock"), raw, env, p));
    let cmi = raw.cmi.map(|raw| cmi(&format!("{at}.cmi"), raw, env, p));
    let paypal = raw
        .paypal
        .map(|raw| paypal(&format!("{at}.paypal"), raw, env, p));
    Some(ProviderSettings {
        mock: built(mock)?,
        cmi: built(cmi)?,
        paypal: built(paypal)?,
    })
}

fn mock(at: &str, raw: RawMock, env: Env<'_>, p: &mut Problems) -> Option<MockSettings> {
    let base_url = raw
        .base_url
        .map(|text| p.check(http_url(&format!("{at}.base_url"), &text)));
    let source = SecretSource {
        literal: raw.webhook_secret,
        env: raw.webhook_secret_env,
        file: raw.webhook_secret_file,
    };
    let secret = p.check(secret::resolve(
        &format!("{at}.webhook_secret"),
        source,
        env,
    ));
    let previous = SecretSource {
        literal: raw.previous_webhook_secret,
        env: raw.previous_webhook_secret_env,
        file: raw.previous_webhook_secret_file,
    };
    let previous = p.check(secret::resolve(
        &format!("{at}.previous_webhook_secret"),
        previous,
        env,
    ));
    let (secret, previous) = (secret?, previous?);
    // The format `serve` needs (padded Base64 after `whsec_`), checked here so `check-config`
    // refuses what `serve` would, under the same key.
    let well_formed = |p: &mut Problems, key: &str, secret: &Option<Secret>| match secret {
        Some(s) => match WebhookSecret::parse(s.expose()) {
            Ok(_) => true,
            Err(e) => {
                p.push(key, e.to_string());
                false
            }
        },
        None => true,
    };
    let current_ok = well_formed(p, &format!("{at}.webhook_secret"), &secret);
    let previous_ok = well_formed(p, &format!("{at}.previous_webhook_secret"), &previous);
    if !(current_ok && previous_ok) {
        return None;
    }
    if secret.is_none() && previous.is_some() {
        p.push(
            format!("{at}.previous_webhook_secret"),
            "is only meaningful next to webhook_secret (the one being rotated in)",
        );
        return None;
    }
    Some(MockSettings {
        base_url: built(base_url)?,
        // The current secret first: the in-process processor signs with every secret listed.
        webhook_secrets: secret.into_iter().chain(previous).collect(),
    })
}

fn cmi(at: &str, raw: RawCmi, env: Env<'_>, p: &mut Problems) -> Option<CmiSettings> {
    let client_id = p.check(required(&format!("{at}.client_id"), raw.client_id));
    let store_key = SecretSource {
        literal: raw.store_key,
        env: raw.store_key_env,
        file: raw.store_key_file,
    };
    let store_key = p.check(secret::require(&format!("{at}.store_key"), store_key, env));
    let api_user = p.check(required(&format!("{at}.api_user"), raw.api_user));
    let password = SecretSource {
        literal: raw.api_password,
        env: raw.api_password_env,
        file: raw.api_password_file,
    };
    let api_password = p.check(secret::require(
        &format!("{at}.api_password"),
        password,
        env,
    ));
    let base_url = url(p, &format!("{at}.base_url"), raw.base_url);
    Some(CmiSettings {
        client_id: client_id?,
        store_key: store_key?,
        api_user: api_user?,
        api_password: api_password?,
        base_url: base_url?,
        callback_reply: raw.callback_reply,
    })
}

fn paypal(at: &str, raw: RawPaypal, env: Env<'_>, p: &mut Problems) -> Option<PaypalSettings> {
    let client_id = p.check(required(&format!("{at}.client_id"), raw.client_id));
    let source = SecretSource {
        literal: raw.client_secret,
        env: raw.client_secret_env,
        file: raw.client_secret_file,
    };
    let client_secret = p.check(secret::require(&format!("{at}.client_secret"), source, env));
    let webhook_id = p.check(required(&format!("{at}.webhook_id"), raw.webhook_id));
    let base_url = url(p, &format!("{at}.base_url"), raw.base_url);
    Some(PaypalSettings {
        client_id: client_id?,
        client_secret: client_secret?,
        webhook_id: webhook_id?,
        base_url: base_url?,
        webhook_verification: raw.webhook_verification,
        accept_simulator_events: raw.accept_simulator_events,
        test_cert_origins: Vec::new(),
        test_trust_roots_pem: Vec::new(),
    })
}

/// A required `http(s)://` URL: missing, blank and malformed are each a problem under `key`.
fn url(p: &mut Problems, key: &str, text: Option<String>) -> Option<reqwest::Url> {
    let text = p.check(required(key, text))?;
    p.check(http_url(key, &text))
}
