//! From the file's raw shapes to typed [`Settings`]: parse each value, apply defaults, resolve
//! secrets and check the rules of DESIGN.md §8 and §10, collecting every problem with its key.

use super::merchants::merchants;
use super::raw::{RawFile, RawServer};
use super::values::{
    at_least_one, database_url, http_url, log_filter, log_format, problem, socket_addr, switch,
};
use super::{
    ConfigError, DatabaseSettings, IdempotencySettings, LogFormat, LogSettings, Problem,
    ServerSettings, Settings,
};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

pub(super) const DEFAULT_MAX_MESSAGE_BYTES: usize = 1024 * 1024;
pub(super) const DEFAULT_WEBHOOK_BODY_LIMIT: usize = 64 * 1024;
pub(super) const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 1024;
pub(super) const DEFAULT_PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);
pub(super) const DEFAULT_LOG_FILTER: &str = "info";
/// DESIGN.md §2.2: idempotency keys are kept at least this long.
const MIN_RETENTION_HOURS: u64 = 24;
pub(super) const DEFAULT_RETENTION: Duration = Duration::from_secs(MIN_RETENTION_HOURS * 3600);
pub(super) const DEFAULT_REAP_INTERVAL: Duration = Duration::from_secs(600);

pub(super) type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Every problem found so far. Checks keep going after a failure so one run reports them all.
#[derive(Default)]
pub(super) struct Problems(Vec<Problem>);

impl Problems {
    pub fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            key: key.into(),
            message: message.into(),
        });
    }

    pub fn check<T>(&mut self, result: Result<T, Problem>) -> Option<T> {
        result.map_err(|problem| self.0.push(problem)).ok()
    }

    /// `value` if nothing went wrong. A missing value with no recorded problem cannot happen,
    /// but is still reported rather than trusted.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, ConfigError> {
        if !self.0.is_empty() {
            return Err(ConfigError::Invalid(self.0));
        }
        let unexplained = || problem("config", "invalid configuration".to_owned());
        value.ok_or_else(|| ConfigError::Invalid(vec![unexplained()]))
    }
}

/// An environment variable, with an empty value counting as unset.
pub(super) fn env_var(env: Env<'_>, name: &str) -> Option<String> {
    env(name).filter(|value| !value.is_empty())
}

/// The `PAYGATE_*` overrides, parsed up front so their problems name the variable.
pub(super) struct Overrides {
    grpc_addr: Option<SocketAddr>,
    http_addr: Option<SocketAddr>,
    mock_processor_addr: Option<SocketAddr>,
    database_url: Option<String>,
    log_filter: Option<String>,
    log_format: Option<LogFormat>,
    dev_allow_remote: Option<bool>,
}

impl Overrides {
    pub fn from_env(env: Env<'_>, p: &mut Problems) -> Self {
        let var = |name| env_var(env, name).map(|value| (name, value));
        Self {
            grpc_addr: var("PAYGATE_GRPC_ADDR").and_then(|(k, v)| p.check(socket_addr(k, &v))),
            http_addr: var("PAYGATE_HTTP_ADDR").and_then(|(k, v)| p.check(socket_addr(k, &v))),
            mock_processor_addr: var("PAYGATE_MOCK_PROCESSOR_ADDR")
                .and_then(|(k, v)| p.check(socket_addr(k, &v))),
            database_url: var("PAYGATE_DATABASE_URL")
                .and_then(|(k, v)| p.check(database_url(k, v))),
            log_filter: var("PAYGATE_LOG").and_then(|(k, v)| p.check(log_filter(k, v))),
            log_format: var("PAYGATE_LOG_FORMAT").and_then(|(k, v)| p.check(log_format(k, &v))),
            dev_allow_remote: var("PAYGATE_DEV_ALLOW_REMOTE")
                .and_then(|(k, v)| p.check(switch(k, &v))),
        }
    }

    pub fn apply(self, settings: &mut Settings) {
        if let Some(addr) = self.grpc_addr {
            settings.server.grpc_addr = addr;
        }
        if let Some(addr) = self.http_addr {
            settings.server.http_addr = addr;
        }
        if let Some(addr) = self.mock_processor_addr {
            settings.server.mock_processor_addr = addr;
        }
        if let Some(url) = self.database_url {
            settings.database.url = url;
        }
        if let Some(filter) = self.log_filter {
            settings.log.filter = filter;
        }
        if let Some(format) = self.log_format {
            settings.log.format = format;
        }
        if let Some(allow) = self.dev_allow_remote {
            settings.server.allow_remote_without_auth = allow;
        }
    }
}

/// Builds settings from a parsed file. The file must be valid on its own, even where an env
/// variable overrides a value, so the same file works in every environment.
pub(super) fn settings(raw: RawFile, env: Env<'_>, p: &mut Problems) -> Option<Settings> {
    let require_auth = raw.server.require_auth.unwrap_or(true);
    let server = server(raw.server, p);
    let database_url = match raw.database.url {
        Some(url) => p.check(database_url("database.url", url)),
        None => Some(super::DEFAULT_DATABASE_URL.to_owned()),
    };
    let filter = match raw.log.filter {
        Some(filter) => p.check(log_filter("log.filter", filter)),
        None => Some(DEFAULT_LOG_FILTER.to_owned()),
    };
    let idempotency = idempotency(
        raw.idempotency.retention_hours,
        raw.idempotency.reap_interval_secs,
        p,
    );
    let merchants = merchants(raw.merchants, require_auth, env, p);
    if let Some(problem) = super::open_access_problem(require_auth, merchants.len()) {
        p.push(problem.key, problem.message);
    }
    let events = super::tuning::events(&raw.events, p);
    let provider_calls = super::tuning::provider_calls(&raw.provider_calls, p);
    let checkout = super::tuning::checkout(&raw.checkout, p);
    let telemetry = super::telemetry::telemetry(&raw.telemetry, p);
    let webhooks = super::webhooks::delivery(&raw.webhooks, p);
    Some(Settings {
        webhooks: webhooks?,
        server: server?,
        database: DatabaseSettings {
            url: database_url?,
            sqlite_max_pages: None,
        },
        log: LogSettings {
            filter: filter?,
            format: raw.log.format.unwrap_or_default(),
        },
        idempotency: idempotency?,
        events: events?,
        provider_calls: provider_calls?,
        checkout: checkout?,
        telemetry: telemetry?,
        merchants,
        dev_mode: false,
    })
}

fn server(raw: RawServer, p: &mut Problems) -> Option<ServerSettings> {
    let connections = super::connections::connections(&raw, p);
    let addr = |p: &mut Problems, key: &str, value: Option<String>, port: u16| match value {
        Some(text) => p.check(socket_addr(key, &text)),
        None => Some(SocketAddr::from(([127, 0, 0, 1], port))),
    };
    let grpc_addr = addr(
        p,
        "server.grpc_addr",
        raw.grpc_addr,
        super::DEFAULT_GRPC_PORT,
    );
    let http_addr = addr(
        p,
        "server.http_addr",
        raw.http_addr,
        super::DEFAULT_HTTP_PORT,
    );
    let public_base_url = raw
        .public_base_url
        .map(|text| p.check(http_url("server.public_base_url", &text)));
    let positive = |p: &mut Problems, key: &str, value: Option<usize>, default: usize| {
        p.check(at_least_one(key, value.unwrap_or(default)))
    };
    let max_message_bytes = positive(
        p,
        "server.max_message_bytes",
        raw.max_message_bytes,
        DEFAULT_MAX_MESSAGE_BYTES,
    );
    let webhook_body_limit = positive(
        p,
        "server.webhook_body_limit",
        raw.webhook_body_limit,
        DEFAULT_WEBHOOK_BODY_LIMIT,
    );
    let max_concurrent_requests = positive(
        p,
        "server.max_concurrent_requests",
        raw.max_concurrent_requests,
        DEFAULT_MAX_CONCURRENT_REQUESTS,
    );
    let provider_timeout = match raw.provider_timeout_ms {
        Some(ms) => p
            .check(at_least_one("server.provider_timeout_ms", ms))
            .map(Duration::from_millis),
        None => Some(DEFAULT_PROVIDER_TIMEOUT),
    };
    Some(ServerSettings {
        grpc_addr: grpc_addr?,
        http_addr: http_addr?,
        public_base_url: built(public_base_url)?,
        require_auth: raw.require_auth.unwrap_or(true),
        allow_remote_without_auth: false,
        max_message_bytes: max_message_bytes?,
        webhook_body_limit: webhook_body_limit?,
        max_concurrent_requests: max_concurrent_requests?,
        provider_timeout: provider_timeout?,
        connections: connections?,
        mock_processor_addr: SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0),
    })
}

fn idempotency(
    retention_hours: Option<u64>,
    reap_secs: Option<u64>,
    p: &mut Problems,
) -> Option<IdempotencySettings> {
    let hours = retention_hours.unwrap_or(MIN_RETENTION_HOURS);
    let retention = if hours < MIN_RETENTION_HOURS {
        let message = format!(
            "must be at least {MIN_RETENTION_HOURS} (keys are kept at least a day), got {hours}"
        );
        p.push("idempotency.retention_hours", message);
        None
    } else {
        let secs = hours.checked_mul(3600);
        p.check(
            secs.map(Duration::from_secs)
                .ok_or_else(|| problem("idempotency.retention_hours", "too large".into())),
        )
    };
    let reap = p.check(at_least_one(
        "idempotency.reap_interval_secs",
        reap_secs.unwrap_or(DEFAULT_REAP_INTERVAL.as_secs()),
    ));
    Some(IdempotencySettings {
        retention: retention?,
        reap_interval: Duration::from_secs(reap?),
    })
}

/// For an optional setting: `Some(None)` when absent, `Some(Some(_))` when given and valid,
/// `None` when given but broken (its problem is already recorded).
pub(super) fn built<T>(value: Option<Option<T>>) -> Option<Option<T>> {
    value.map_or(Some(None), |value| value.map(Some))
}
