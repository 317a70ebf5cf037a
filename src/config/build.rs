//! From the file's raw shapes to typed [`Settings`]: parse each value, apply defaults, resolve
//! secrets and check the rules of DESIGN.md §8 and §10, collecting every problem with its key.

use super::raw::{RawCmi, RawFile, RawMerchant, RawMock, RawPaypal, RawServer};
use super::secret::{self, SecretSource};
use super::{
    CmiSettings, ClientSettings, ConfigError, DatabaseSettings, IdempotencySettings, LogFormat, LogSettings,
    MerchantSettings, MockSettings, PaypalSettings, Problem, ProviderSettings, ServerSettings, Settings,
};
use crate::domain::MerchantId;
use hex::FromHex;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
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

type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Every problem found so far. Checks keep going after a failure so one run reports them all.
#[derive(Default)]
pub(super) struct Problems(Vec<Problem>);

impl Problems {
    pub fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem { key: key.into(), message: message.into() });
    }

    fn check<T>(&mut self, result: Result<T, Problem>) -> Option<T> {
        result.map_err(|problem| self.0.push(problem)).ok()
    }

    /// `value` if nothing went wrong. A missing value with no recorded problem cannot happen,
    /// but is still reported rather than trusted.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, ConfigError> {
        match value {
            Some(value) if self.0.is_empty() => Ok(value),
            _ if !self.0.is_empty() => Err(ConfigError::Invalid(self.0)),
            _ => Err(ConfigError::Invalid(vec![problem("config", "invalid configuration".to_owned())])),
        }
    }
}

fn problem(key: &str, message: String) -> Problem {
    Problem { key: key.to_owned(), message }
}

/// An environment variable, with an empty value counting as unset.
pub(super) fn env_var(env: Env<'_>, name: &str) -> Option<String> {
    env(name).filter(|value| !value.is_empty())
}

/// The `PAYGATE_*` overrides, parsed up front so their problems name the variable.
pub(super) struct Overrides {
    grpc_addr: Option<SocketAddr>,
    http_addr: Option<SocketAddr>,
    database_url: Option<String>,
    log_filter: Option<String>,
    log_format: Option<LogFormat>,
}

impl Overrides {
    pub fn from_env(env: Env<'_>, p: &mut Problems) -> Self {
        let var = |name| env_var(env, name).map(|value| (name, value));
        Self {
            grpc_addr: var("PAYGATE_GRPC_ADDR").and_then(|(k, v)| p.check(socket_addr(k, &v))),
            http_addr: var("PAYGATE_HTTP_ADDR").and_then(|(k, v)| p.check(socket_addr(k, &v))),
            database_url: var("PAYGATE_DATABASE_URL").and_then(|(k, v)| p.check(database_url(k, v))),
            log_filter: var("PAYGATE_LOG").and_then(|(k, v)| p.check(log_filter(k, v))),
            log_format: var("PAYGATE_LOG_FORMAT").and_then(|(k, v)| p.check(log_format(k, &v))),
        }
    }

    pub fn apply(self, settings: &mut Settings) {
        if let Some(addr) = self.grpc_addr {
            settings.server.grpc_addr = addr;
        }
        if let Some(addr) = self.http_addr {
            settings.server.http_addr = addr;
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
    let idempotency = idempotency(raw.idempotency.retention_hours, raw.idempotency.reap_interval_secs, p);
    let merchants = merchants(raw.merchants, require_auth, env, p);
    Some(Settings {
        server: server?,
        database: DatabaseSettings { url: database_url? },
        log: LogSettings { filter: filter?, format: raw.log.format.unwrap_or_default() },
        idempotency: idempotency?,
        merchants,
        dev_mode: false,
    })
}

fn server(raw: RawServer, p: &mut Problems) -> Option<ServerSettings> {
    let addr = |p: &mut Problems, key: &str, value: Option<String>, port: u16| match value {
        Some(text) => p.check(socket_addr(key, &text)),
        None => Some(SocketAddr::from(([127, 0, 0, 1], port))),
    };
    let grpc_addr = addr(p, "server.grpc_addr", raw.grpc_addr, super::DEFAULT_GRPC_PORT);
    let http_addr = addr(p, "server.http_addr", raw.http_addr, super::DEFAULT_HTTP_PORT);
    let public_base_url = raw.public_base_url.map(|text| p.check(http_url("server.public_base_url", &text)));
    let positive = |p: &mut Problems, key: &str, value: Option<usize>, default: usize| {
        p.check(at_least_one(key, value.unwrap_or(default)))
    };
    let max_message_bytes = positive(p, "server.max_message_bytes", raw.max_message_bytes, DEFAULT_MAX_MESSAGE_BYTES);
    let webhook_body_limit = positive(p, "server.webhook_body_limit", raw.webhook_body_limit, DEFAULT_WEBHOOK_BODY_LIMIT);
    let max_concurrent_requests =
        positive(p, "server.max_concurrent_requests", raw.max_concurrent_requests, DEFAULT_MAX_CONCURRENT_REQUESTS);
    let provider_timeout = match raw.provider_timeout_ms {
        Some(ms) => p.check(at_least_one("server.provider_timeout_ms", ms)).map(Duration::from_millis),
        None => Some(DEFAULT_PROVIDER_TIMEOUT),
    };
    Some(ServerSettings {
        grpc_addr: grpc_addr?,
        http_addr: http_addr?,
        public_base_url: built(public_base_url)?,
        require_auth: raw.require_auth.unwrap_or(true),
        max_message_bytes: max_message_bytes?,
        webhook_body_limit: webhook_body_limit?,
        max_concurrent_requests: max_concurrent_requests?,
        provider_timeout: provider_timeout?,
    })
}

fn idempotency(retention_hours: Option<u64>, reap_secs: Option<u64>, p: &mut Problems) -> Option<IdempotencySettings> {
    let hours = retention_hours.unwrap_or(MIN_RETENTION_HOURS);
    let retention = if hours < MIN_RETENTION_HOURS {
        let message = format!("must be at least {MIN_RETENTION_HOURS} (keys are kept at least a day), got {hours}");
        p.push("idempotency.retention_hours", message);
        None
    } else {
        let secs = hours.checked_mul(3600);
        p.check(secs.map(Duration::from_secs).ok_or_else(|| problem("idempotency.retention_hours", "too large".into())))
    };
    let reap = p.check(at_least_one("idempotency.reap_interval_secs", reap_secs.unwrap_or(600)));
    Some(IdempotencySettings { retention: retention?, reap_interval: Duration::from_secs(reap?) })
}

/// Merchants in file order. A merchant with a problem is left out; the problem is recorded.
fn merchants(raw: Vec<RawMerchant>, require_auth: bool, env: Env<'_>, p: &mut Problems) -> Vec<MerchantSettings> {
    if raw.is_empty() {
        p.push("merchants", "at least one [[merchants]] entry is required");
    }
    let mut ids: HashMap<MerchantId, String> = HashMap::new();
    let mut key_hashes: HashMap<[u8; 32], String> = HashMap::new();
    let mut out = Vec::new();
    for (i, merchant) in raw.into_iter().enumerate() {
        let at = format!("merchants[{i}]");
        let id = p.check(MerchantId::parse(&merchant.id).map_err(|e| {
            problem(&format!("{at}.id"), format!("invalid merchant id {:?}: {e}", merchant.id))
        }));
        if let Some(id) = &id
            && let Some(first) = ids.insert(id.clone(), format!("{at}.id"))
        {
            p.push(format!("{at}.id"), format!("duplicate merchant id \"{id}\" (first at {first})"));
        }
        if require_auth && merchant.clients.is_empty() {
            p.push(format!("{at}.clients"), "at least one client is required while server.require_auth is true");
        }
        let mut names = HashSet::new();
        let mut clients = Vec::new();
        for (j, client) in merchant.clients.into_iter().enumerate() {
            let at = format!("{at}.clients[{j}]");
            if client.name.trim().is_empty() {
                p.push(format!("{at}.name"), "must not be empty");
            } else if !names.insert(client.name.clone()) {
                p.push(format!("{at}.name"), format!("duplicate client name {:?} in this merchant", client.name));
            }
            let Some(hash) = p.check(key_hash(&format!("{at}.api_key_sha256"), &client.api_key_sha256)) else {
                continue;
            };
            if let Some(first) = key_hashes.insert(hash, format!("{at}.api_key_sha256")) {
                let message = format!("the same API key hash is already used by {first}; every client needs its own key");
                p.push(format!("{at}.api_key_sha256"), message);
            }
            clients.push(ClientSettings { name: client.name, api_key_sha256: hash });
        }
        let providers = providers(&at, merchant.providers, env, p);
        if let (Some(id), Some(providers)) = (id, providers) {
            out.push(MerchantSettings { id, clients, providers });
        }
    }
    out
}

fn providers(at: &str, raw: super::raw::RawProviders, env: Env<'_>, p: &mut Problems) -> Option<ProviderSettings> {
    let at = format!("{at}.providers");
    if raw.mock.is_none() && raw.cmi.is_none() && raw.paypal.is_none() {
        p.push(at.as_str(), "at least one provider is required: add [merchants.providers.mock], .cmi or .paypal");
        return None;
    }
    let mock = raw.mock.map(|raw| mock(&format!("{at}.mock"), raw, env, p));
    let cmi = raw.cmi.map(|raw| cmi(&format!("{at}.cmi"), raw, env, p));
    let paypal = raw.paypal.map(|raw| paypal(&format!("{at}.paypal"), raw, env, p));
    Some(ProviderSettings { mock: built(mock)?, cmi: built(cmi)?, paypal: built(paypal)? })
}

/// For an optional setting: `Some(None)` when absent, `Some(Some(_))` when given and valid,
/// `None` when given but broken (its problem is already recorded).
fn built<T>(value: Option<Option<T>>) -> Option<Option<T>> {
    value.map_or(Some(None), |value| value.map(Some))
}

fn mock(at: &str, raw: RawMock, env: Env<'_>, p: &mut Problems) -> Option<MockSettings> {
    let base_url = raw.base_url.map(|text| p.check(http_url(&format!("{at}.base_url"), &text)));
    let source = SecretSource { literal: raw.webhook_secret, env: raw.webhook_secret_env, file: raw.webhook_secret_file };
    let secret = p.check(secret::resolve(&format!("{at}.webhook_secret"), source, env));
    Some(MockSettings { base_url: built(base_url)?, webhook_secrets: secret?.into_iter().collect() })
}

fn cmi(at: &str, raw: RawCmi, env: Env<'_>, p: &mut Problems) -> Option<CmiSettings> {
    let client_id = p.check(non_empty(&format!("{at}.client_id"), raw.client_id));
    let store_key = SecretSource { literal: raw.store_key, env: raw.store_key_env, file: raw.store_key_file };
    let store_key = p.check(secret::require(&format!("{at}.store_key"), store_key, env));
    let api_user = p.check(non_empty(&format!("{at}.api_user"), raw.api_user));
    let password = SecretSource { literal: raw.api_password, env: raw.api_password_env, file: raw.api_password_file };
    let api_password = p.check(secret::require(&format!("{at}.api_password"), password, env));
    let base_url = p.check(http_url(&format!("{at}.base_url"), &raw.base_url));
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
    let client_id = p.check(non_empty(&format!("{at}.client_id"), raw.client_id));
    let source = SecretSource { literal: raw.client_secret, env: raw.client_secret_env, file: raw.client_secret_file };
    let client_secret = p.check(secret::require(&format!("{at}.client_secret"), source, env));
    let webhook_id = p.check(non_empty(&format!("{at}.webhook_id"), raw.webhook_id));
    let base_url = p.check(http_url(&format!("{at}.base_url"), &raw.base_url));
    Some(PaypalSettings {
        client_id: client_id?,
        client_secret: client_secret?,
        webhook_id: webhook_id?,
        base_url: base_url?,
        webhook_verification: raw.webhook_verification,
    })
}

fn socket_addr(key: &str, text: &str) -> Result<SocketAddr, Problem> {
    text.parse()
        .map_err(|_| problem(key, format!("invalid socket address {text:?} (expected IP:PORT, e.g. 127.0.0.1:50051)")))
}

/// An absolute http(s) URL with a host and no credentials (they would be printed). The path is
/// made to end with `/` so that `base.join("webhooks/...")` appends instead of replacing.
fn http_url(key: &str, text: &str) -> Result<reqwest::Url, Problem> {
    let mut url = reqwest::Url::parse(text)
        .map_err(|e| problem(key, format!("invalid URL {text:?}: {e} (expected e.g. https://host)")))?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err(problem(key, format!("must be an absolute http:// or https:// URL, got {text:?}")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(problem(key, "must not contain a user name or password".to_owned()));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// Checks the scheme without echoing the URL, which may hold a database password.
fn database_url(key: &str, url: String) -> Result<String, Problem> {
    let rest = ["sqlite://", "postgres://", "postgresql://"].into_iter().find_map(|prefix| url.strip_prefix(prefix));
    match rest {
        Some(rest) if !rest.is_empty() => Ok(url),
        Some(_) => Err(problem(key, "is missing the database path or host after the scheme".to_owned())),
        None => {
            let scheme = url.split_once("://").map_or("none", |(scheme, _)| scheme);
            Err(problem(key, format!("must start with sqlite://, postgres:// or postgresql:// (scheme: {scheme})")))
        }
    }
}

fn log_filter(key: &str, filter: String) -> Result<String, Problem> {
    match tracing_subscriber::EnvFilter::builder().parse(&filter) {
        Ok(_) if !filter.trim().is_empty() => Ok(filter),
        Ok(_) => Err(problem(key, "must not be empty (e.g. \"info\")".to_owned())),
        Err(e) => Err(problem(key, format!("invalid log filter {filter:?}: {e}"))),
    }
}

fn log_format(key: &str, text: &str) -> Result<LogFormat, Problem> {
    text.parse().map_err(|message| problem(key, message))
}

fn key_hash(key: &str, text: &str) -> Result<[u8; 32], Problem> {
    let bad = || problem(key, format!("must be 64 hex characters (the SHA-256 of the API key), got {} characters", text.len()));
    if text.len() != 64 {
        return Err(bad());
    }
    <[u8; 32]>::from_hex(text).map_err(|e| problem(key, format!("must be 64 hex characters: {e}")))
}

fn non_empty(key: &str, value: String) -> Result<String, Problem> {
    if value.trim().is_empty() { Err(problem(key, "must not be empty".to_owned())) } else { Ok(value) }
}

fn at_least_one<T: PartialOrd + From<u8>>(key: &str, value: T) -> Result<T, Problem> {
    if value >= T::from(1) { Ok(value) } else { Err(problem(key, "must be at least 1".to_owned())) }
}
