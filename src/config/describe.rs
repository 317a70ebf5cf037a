//! The `paygate check-config` summary: what would run, in plain words, with every secret as `***`.

use super::{
    CmiCallbackReply, CmiSettings, MerchantSettings, MockSettings, PaypalSettings,
    PaypalVerification, Settings,
};
use crate::shop_webhooks::endpoint::Endpoint;
use std::fmt::Write;

/// Secrets appear only through `Secret`'s `Display`, which prints `***`; the database URL goes
/// through `redacted_url`. Client keys show only the first 8 hex digits of their hash.
pub(super) fn describe(settings: &Settings) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; the results are ignored for that reason.
    if settings.dev_mode {
        let _ = writeln!(
            out,
            "mode: development (no config file): SQLite, in-process mock processor, caller authentication off"
        );
    } else {
        let _ = writeln!(out, "mode: config file");
    }
    let server = &settings.server;
    let _ = writeln!(out, "server:");
    let _ = writeln!(out, "  grpc_addr: {}", server.grpc_addr);
    let _ = writeln!(out, "  http_addr: {}", server.http_addr);
    let base = server
        .public_base_url
        .as_ref()
        .map_or_else(|| "(not set)".to_owned(), ToString::to_string);
    let _ = writeln!(out, "  public_base_url: {base}");
    let auth = if server.require_auth {
        "required (bearer API key)"
    } else {
        "OFF: any caller is accepted"
    };
    let _ = writeln!(out, "  caller authentication: {auth}");
    let _ = writeln!(
        out,
        "  limits: gRPC message {} bytes, webhook body {} bytes, {} concurrent requests",
        server.max_message_bytes, server.webhook_body_limit, server.max_concurrent_requests
    );
    let _ = writeln!(
        out,
        "  provider_timeout: {} ms",
        server.provider_timeout.as_millis()
    );
    let c = server.connections;
    let cap = c
        .max_connections
        .map_or_else(|| "from the open-file limit".to_owned(), |n| n.to_string());
    let _ = writeln!(
        out,
        "  connections: {cap} per listener; HTTP header {} ms, body {} ms; gRPC handshake {} ms, \
         keepalive every {} s (answer within {} s), idle {} s",
        c.header_read_timeout.as_millis(),
        c.body_read_timeout.as_millis(),
        c.grpc_handshake_timeout.as_millis(),
        c.grpc_keepalive_interval.as_secs(),
        c.grpc_keepalive_timeout.as_secs(),
        c.grpc_idle_timeout.as_secs()
    );
    let _ = writeln!(out, "database: {}", settings.database.redacted_url());
    let _ = writeln!(
        out,
        "log: filter {:?}, format {}",
        settings.log.filter,
        settings.log.format.as_str()
    );
    let _ = writeln!(
        out,
        "idempotency: keys kept {} h, reaped every {} s",
        settings.idempotency.retention.as_secs() / 3600,
        settings.idempotency.reap_interval.as_secs()
    );
    let events = match settings.events.retention {
        Some(kept) => format!("kept {} h", kept.as_secs() / 3600),
        None => "kept forever".to_owned(),
    };
    let _ = writeln!(
        out,
        "events: {events}, at most {} streams per merchant",
        settings.events.max_streams_per_merchant
    );
    let traces = match &settings.telemetry.otlp_endpoint {
        Some(endpoint) => format!(
            "OTLP to {endpoint}, sampling ratio {}",
            settings.telemetry.sampling_ratio
        ),
        None => "off (no otlp_endpoint)".to_owned(),
    };
    let _ = writeln!(out, "traces: {traces}");
    let checkout = settings.checkout;
    let _ = writeln!(
        out,
        "checkout expiry: mock {} s, cmi {} s, paypal {} s",
        checkout.mock.as_secs(),
        checkout.cmi.as_secs(),
        checkout.paypal.as_secs()
    );
    let calls = settings.provider_calls;
    let _ = writeln!(
        out,
        "provider_calls: {} attempts, {} concurrent, breaker opens at {}% of >= {} calls in {} s for {} s",
        calls.max_attempts,
        calls.max_concurrent,
        calls.breaker_failure_percent,
        calls.breaker_min_calls,
        calls.breaker_window.as_secs(),
        calls.breaker_open_for.as_secs()
    );
    let hooks = &settings.webhooks;
    let schedule: Vec<String> = hooks
        .retry_schedule
        .iter()
        .map(|wait| wait.as_secs().to_string())
        .collect();
    let _ = writeln!(
        out,
        "webhooks: retry schedule [{}] s, timeout {} s, answers read up to {} bytes, lease {} s, log kept {} h",
        schedule.join(", "),
        hooks.timeout.as_secs(),
        hooks.max_response_bytes,
        hooks.lease.as_secs(),
        hooks.log_retention.as_secs() / 3600
    );
    let _ = writeln!(out, "merchants: {}", settings.merchants.len());
    for merchant in &settings.merchants {
        merchant_lines(&mut out, merchant);
    }
    out
}

fn merchant_lines(out: &mut String, merchant: &MerchantSettings) {
    let _ = writeln!(out, "  - id: {}", merchant.id);
    if let Some(name) = &merchant.storefront.display_name {
        let _ = writeln!(out, "    display_name: {name:?}");
    }
    if let Some(url) = &merchant.storefront.shop_url {
        let _ = writeln!(out, "    shop_url: {url}");
    }
    if merchant.clients.is_empty() {
        let _ = writeln!(out, "    clients: none");
    }
    for client in &merchant.clients {
        let prefix = hex::encode(client.api_key_sha256.get(..4).unwrap_or_default());
        let _ = writeln!(
            out,
            "    client: {} (api_key_sha256 {prefix}...)",
            client.name
        );
    }
    if let Some(mock) = &merchant.providers.mock {
        mock_line(out, mock);
    }
    if let Some(cmi) = &merchant.providers.cmi {
        cmi_line(out, cmi);
    }
    if let Some(paypal) = &merchant.providers.paypal {
        paypal_line(out, paypal);
    }
    for endpoint in &merchant.webhook_endpoints {
        endpoint_line(out, endpoint);
    }
}

/// The URL without its query (it may carry the shop's token), the secrets as `***`.
fn endpoint_line(out: &mut String, endpoint: &Endpoint) {
    let mut url = endpoint.url.clone();
    let hidden = if url.query().is_some() { "?***" } else { "" };
    url.set_query(None);
    let events = if endpoint.events.is_empty() {
        "all".to_owned()
    } else {
        endpoint.events.join(", ")
    };
    let secrets = vec!["***"; endpoint.secrets.len()].join(", ");
    let mut flags = String::new();
    if endpoint.allow_loopback {
        flags.push_str(", allow_loopback");
    }
    if endpoint.allow_private {
        flags.push_str(", allow_private");
    }
    let _ = writeln!(
        out,
        "    webhook endpoint {}: {url}{hidden}, events {events}, secret {secrets}, {} concurrent{flags}",
        endpoint.id, endpoint.max_concurrent
    );
}

fn mock_line(out: &mut String, mock: &MockSettings) {
    let target = mock.base_url.as_ref().map_or_else(
        || "in-process mock processor".to_owned(),
        ToString::to_string,
    );
    let secrets: Vec<String> = mock
        .webhook_secrets
        .iter()
        .map(ToString::to_string)
        .collect();
    let secrets = if secrets.is_empty() {
        "none".to_owned()
    } else {
        secrets.join(", ")
    };
    let _ = writeln!(out, "    mock: {target}, webhook_secret {secrets}");
}

fn cmi_line(out: &mut String, cmi: &CmiSettings) {
    let reply = match cmi.callback_reply {
        CmiCallbackReply::PostauthWhenAutomatic => "postauth_when_automatic",
        CmiCallbackReply::Approved => "approved",
    };
    let _ = writeln!(
        out,
        "    cmi: {}, client_id {}, store_key {}, api_user {}, api_password {}, callback_reply {reply}",
        cmi.base_url, cmi.client_id, cmi.store_key, cmi.api_user, cmi.api_password
    );
}

fn paypal_line(out: &mut String, paypal: &PaypalSettings) {
    let verification = match paypal.webhook_verification {
        PaypalVerification::Certificate => "certificate",
        PaypalVerification::Api => "api",
    };
    let _ = writeln!(
        out,
        "    paypal: {}, client_id {}, client_secret {}, webhook_id {}, webhook_verification {verification}",
        paypal.base_url, paypal.client_id, paypal.client_secret, paypal.webhook_id
    );
}
