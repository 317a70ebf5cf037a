//! The config file as written: serde shapes mirroring the TOML of DESIGN.md §10, before any checking.
//!
//! Every table denies unknown keys, so a typo such as `stor_key_env` is an error naming the key
//! instead of a silently missing secret. Values stay strings here; `build` parses them so each
//! problem can name its key. These types hold literal secrets and so derive no `Debug`.

use super::build::Problems;
use super::{CmiCallbackReply, ConfigError, LogFormat, PaypalVerification};
use figment::error::Kind;
use figment::providers::{Format, Toml};
use serde::Deserialize;
use std::path::Path;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawFile {
    pub server: RawServer,
    pub database: RawDatabase,
    pub log: RawLog,
    pub idempotency: RawIdempotency,
    pub events: RawEvents,
    pub checkout: RawCheckout,
    pub provider_calls: RawProviderCalls,
    pub telemetry: RawTelemetry,
    pub webhooks: RawWebhooks,
    pub merchants: Vec<RawMerchant>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawServer {
    pub grpc_addr: Option<String>,
    pub http_addr: Option<String>,
    pub public_base_url: Option<String>,
    pub require_auth: Option<bool>,
    pub max_message_bytes: Option<usize>,
    pub webhook_body_limit: Option<usize>,
    pub max_concurrent_requests: Option<usize>,
    pub provider_timeout_ms: Option<u64>,
    pub max_connections: Option<usize>,
    pub header_read_timeout_ms: Option<u64>,
    pub body_read_timeout_ms: Option<u64>,
    pub grpc_handshake_timeout_ms: Option<u64>,
    pub grpc_keepalive_interval_secs: Option<u64>,
    pub grpc_keepalive_timeout_secs: Option<u64>,
    pub grpc_idle_timeout_secs: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawDatabase {
    pub url: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawLog {
    pub filter: Option<String>,
    pub format: Option<LogFormat>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawTelemetry {
    pub otlp_endpoint: Option<String>,
    pub sampling_ratio: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawIdempotency {
    pub retention_hours: Option<u64>,
    pub reap_interval_secs: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawEvents {
    pub retention_hours: Option<u64>,
    pub max_streams_per_merchant: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawCheckout {
    pub mock_expiry_secs: Option<u64>,
    pub cmi_expiry_secs: Option<u64>,
    pub paypal_expiry_secs: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawProviderCalls {
    pub max_attempts: Option<u32>,
    pub max_concurrent: Option<usize>,
    pub breaker_window_secs: Option<u32>,
    pub breaker_min_calls: Option<u32>,
    pub breaker_failure_percent: Option<u32>,
    pub breaker_open_secs: Option<u64>,
}

/// `[webhooks]`: how webhooks to shops are delivered and retried.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawWebhooks {
    pub retry_schedule_secs: Option<Vec<u64>>,
    pub timeout_secs: Option<u64>,
    pub max_response_bytes: Option<usize>,
    pub lease_secs: Option<u64>,
    pub log_retention_hours: Option<u64>,
}

// Keys a table requires are `Option`s here, with `default`: a missing one is then a problem
// `build` records beside every other, instead of a shape error that hides the rest of the file.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawMerchant {
    pub id: Option<String>,
    pub display_name: Option<String>,
    pub shop_url: Option<String>,
    pub clients: Vec<RawClient>,
    pub providers: RawProviders,
    pub webhook_endpoints: Vec<RawEndpoint>,
}

/// `[[merchants.webhook_endpoints]]`: where the merchant's events are sent.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawEndpoint {
    pub id: Option<String>,
    pub url: Option<String>,
    pub secret: Option<String>,
    pub secret_env: Option<String>,
    pub secret_file: Option<String>,
    pub previous_secret: Option<String>,
    pub previous_secret_env: Option<String>,
    pub previous_secret_file: Option<String>,
    pub events: Option<Vec<String>>,
    pub allow_loopback: bool,
    pub allow_private: bool,
    pub max_concurrent: Option<usize>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawClient {
    pub name: Option<String>,
    pub api_key_sha256: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawProviders {
    pub mock: Option<RawMock>,
    pub cmi: Option<RawCmi>,
    pub paypal: Option<RawPaypal>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawMock {
    pub base_url: Option<String>,
    pub webhook_secret: Option<String>,
    pub webhook_secret_env: Option<String>,
    pub webhook_secret_file: Option<String>,
    /// The secret being rotated out: still accepted (and signed with by the in-process
    /// processor) until it is removed from the config.
    pub previous_webhook_secret: Option<String>,
    pub previous_webhook_secret_env: Option<String>,
    pub previous_webhook_secret_file: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawCmi {
    pub client_id: Option<String>,
    pub store_key: Option<String>,
    pub store_key_env: Option<String>,
    pub store_key_file: Option<String>,
    pub api_user: Option<String>,
    pub api_password: Option<String>,
    pub api_password_env: Option<String>,
    pub api_password_file: Option<String>,
    pub base_url: Option<String>,
    pub callback_reply: CmiCallbackReply,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawPaypal {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_secret_env: Option<String>,
    pub client_secret_file: Option<String>,
    pub webhook_id: Option<String>,
    pub base_url: Option<String>,
    pub webhook_verification: PaypalVerification,
    pub accept_simulator_events: bool,
}

/// Keys whose value is a literal secret: a type error on them must not echo the value.
const SECRET_KEYS: [&str; 7] = [
    "secret",
    "previous_secret",
    "store_key",
    "api_password",
    "client_secret",
    "webhook_secret",
    "previous_webhook_secret",
];

/// Parses the file's text. A syntax error is fatal (`Err`); a shape error (unknown key, wrong
/// type, missing key) is recorded in `problems` with its key path and gives `Ok(None)`.
pub(super) fn parse(
    path: &Path,
    text: &str,
    problems: &mut Problems,
) -> Result<Option<RawFile>, ConfigError> {
    let value = Toml::from_str::<figment::value::Value>(text).map_err(|err| {
        let start = err.span().map_or(0, |span| span.start);
        let before = text.get(..start).unwrap_or(text);
        let line = before.matches('\n').count().saturating_add(1);
        let column = before
            .rsplit('\n')
            .next()
            .unwrap_or_default()
            .chars()
            .count()
            .saturating_add(1);
        ConfigError::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            message: err.message().to_owned(),
        }
    })?;
    match value.deserialize::<RawFile>() {
        Ok(raw) => Ok(Some(raw)),
        Err(errors) => {
            for error in errors {
                let (key, message) = describe_shape_error(&error.path, error.kind);
                problems.push(key, message);
            }
            Ok(None)
        }
    }
}

/// Turns figment's path (`["merchants", "0", "id"]`) and error kind into a key path and message.
/// For an unknown key figment's path already ends with it; for a missing one it does not.
fn describe_shape_error(path: &[String], kind: Kind) -> (String, String) {
    let at = key_path(path);
    let child = |at: &str, field: &str| {
        if path.last().is_some_and(|last| last == field) {
            at.to_owned()
        } else {
            child(at, field)
        }
    };
    match kind {
        Kind::UnknownField(field, expected) => {
            let message = if expected.is_empty() {
                "unknown key".to_owned()
            } else {
                format!("unknown key (expected one of: {})", expected.join(", "))
            };
            (child(&at, &field), message)
        }
        Kind::UnknownVariant(found, expected) => (
            at,
            format!(
                "unknown value {found:?} (expected one of: {})",
                expected.join(", ")
            ),
        ),
        Kind::MissingField(field) => (child(&at, &field), "required key is missing".to_owned()),
        Kind::InvalidType(_, expected) | Kind::InvalidValue(_, expected)
            if path
                .last()
                .is_some_and(|last| SECRET_KEYS.contains(&last.as_str())) =>
        {
            (at, format!("invalid value, expected {expected}"))
        }
        other => (
            if at.is_empty() {
                "(top level)".to_owned()
            } else {
                at
            },
            other.to_string(),
        ),
    }
}

/// `["merchants", "0", "providers"]` → `merchants[0].providers`.
fn key_path(path: &[String]) -> String {
    path.iter().fold(String::new(), |acc, segment| {
        if segment.parse::<usize>().is_ok() {
            format!("{acc}[{segment}]")
        } else {
            child(&acc, segment)
        }
    })
}

fn child(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}
