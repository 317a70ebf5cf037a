//! Settings: the TOML config file plus `PAYGATE_*` overrides, checked once at start (DESIGN.md §10).
//!
//! Loading goes file → `raw` (serde shapes, unknown keys refused) → `build` and `merchants`
//! (every value parsed by `values`, secrets resolved by `secret`, every problem collected with
//! its key) → env overrides. The rest of paygate only ever sees a [`Settings`] that is valid.

mod build;
mod connections;
mod describe;
mod merchants;
mod raw;
mod secret;
mod storefront;
mod telemetry;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
mod tuning;
mod values;
mod warnings;
mod webhooks;

use crate::domain::MerchantId;
use crate::domain::ProviderKind;
use serde::Deserialize;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

pub use connections::ConnectionSettings;
pub use secret::Secret;
pub use storefront::Storefront;
pub use telemetry::TelemetrySettings;

/// Everything `paygate` needs to run, already validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub log: LogSettings,
    pub idempotency: IdempotencySettings,
    pub events: EventSettings,
    pub provider_calls: ProviderCallSettings,
    pub checkout: CheckoutSettings,
    pub telemetry: TelemetrySettings,
    /// `[webhooks]`: retries and limits of webhooks to shops.
    pub webhooks: crate::shop_webhooks::endpoint::DeliverySettings,
    pub merchants: Vec<MerchantSettings>,
    /// True when no config file was given: SQLite ./paygate.db, in-process mock, auth off, merchant "default".
    pub dev_mode: bool,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    /// Base of the callback and return URLs handed to providers; always ends with `/` so `join` appends.
    pub public_base_url: Option<reqwest::Url>,
    pub require_auth: bool,
    /// `PAYGATE_DEV_ALLOW_REMOTE=1`: serve the API without authentication on an address other
    /// than loopback. Without it such settings are refused (see [`Settings::check_runnable`]).
    pub allow_remote_without_auth: bool,
    /// gRPC decode limit.
    pub max_message_bytes: usize,
    pub webhook_body_limit: usize,
    pub max_concurrent_requests: usize,
    /// Total time allowed for one provider HTTP call, its retries included (key
    /// `provider_timeout_ms`).
    pub provider_timeout: Duration,
    /// Connection caps and timeouts of both listeners.
    pub connections: ConnectionSettings,
    /// Where the in-process mock processor listens, when one runs. Development mode gives it a
    /// fixed port (`127.0.0.1:9090`), so its `/v1/ledger` and `/_faults` have a URL the README
    /// can name; with a config file it takes a free port. No config key: env
    /// `PAYGATE_MOCK_PROCESSOR_ADDR` only. A taken port falls back to a free one (logged).
    pub mock_processor_addr: SocketAddr,
}

/// An operation may make several provider calls (CMI: PostAuth, then ORDERSTATUS after a lost
/// answer; PayPal: a token refresh, 429 waits, one refund per capture): it gets this many
/// provider timeouts in all.
const CALLS_PER_OPERATION: u32 = 3;

impl ServerSettings {
    /// One operation's whole budget with its provider, every call, retry, wait and part
    /// included: its deadline, and the length of its lease against the reconciler.
    pub fn operation_timeout(&self) -> Duration {
        self.provider_timeout * CALLS_PER_OPERATION
    }
}

#[derive(Clone)]
pub struct DatabaseSettings {
    /// `sqlite://PATH`, `postgres://...` or `postgresql://...`. May hold a password: print
    /// [`DatabaseSettings::redacted_url`] instead.
    pub url: String,
    /// Tests only (no config key): a ceiling on the SQLite file, in pages, so a test can fill
    /// a database for real (see `StoreOptions::sqlite_max_pages`). `None` in production.
    pub sqlite_max_pages: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line, for log collectors.
    Json,
    /// Human-readable lines, for a terminal.
    #[default]
    Pretty,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    /// An `EnvFilter` directive such as `info,paygate=debug`.
    pub filter: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone)]
pub struct IdempotencySettings {
    /// How long keys are kept; DESIGN.md §2.2 promises at least 24 h, so less is refused.
    pub retention: Duration,
    /// How often expired keys are deleted.
    pub reap_interval: Duration,
}

/// The `WatchEvents` log (`[events]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventSettings {
    /// Events older than this are deleted; `None` keeps them forever (`retention_hours = 0`).
    /// A subscriber resuming after a pruned sequence gets `OUT_OF_RANGE`.
    pub retention: Option<Duration>,
    /// Open `WatchEvents` streams one merchant may hold on one replica; one more is refused
    /// with `RESOURCE_EXHAUSTED / TOO_MANY_STREAMS`. Each stream re-reads the log on every
    /// commit, so an unbounded number of them is an unbounded amount of work per commit.
    pub max_streams_per_merchant: usize,
}

/// How long a customer has to finish a checkout on the provider's page (`[checkout]`): a
/// payment still `REQUIRES_ACTION` after that gets one last status check, then is `FAILED`
/// with `failure.code = checkout_expired`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckoutSettings {
    pub mock: Duration,
    pub cmi: Duration,
    pub paypal: Duration,
}

impl CheckoutSettings {
    pub fn expiry(&self, provider: crate::domain::ProviderKind) -> Duration {
        match provider {
            crate::domain::ProviderKind::Mock => self.mock,
            crate::domain::ProviderKind::Cmi => self.cmi,
            crate::domain::ProviderKind::Paypal => self.paypal,
        }
    }
}

/// How paygate calls providers (`[provider_calls]`): retries, concurrency, circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderCallSettings {
    /// Attempts per call, the first included (retries only where they cannot charge twice).
    pub max_attempts: u32,
    /// Calls in flight to one provider for one merchant at once (each merchant's own limit).
    pub max_concurrent: usize,
    /// The breaker opens when, over `breaker_window`, at least `breaker_min_calls` calls were
    /// made and `breaker_failure_percent` of them failed; it stays open `breaker_open_for`.
    pub breaker_window: Duration,
    pub breaker_min_calls: u32,
    pub breaker_failure_percent: u32,
    pub breaker_open_for: Duration,
}

#[derive(Debug, Clone)]
pub struct MerchantSettings {
    pub id: MerchantId,
    pub clients: Vec<ClientSettings>,
    pub providers: ProviderSettings,
    /// How the shop appears on paygate's customer pages.
    pub storefront: Storefront,
    /// Where paygate sends the merchant's events (`[[merchants.webhook_endpoints]]`).
    pub webhook_endpoints: Vec<crate::shop_webhooks::endpoint::Endpoint>,
}

/// An API client of one merchant. Only the key's SHA-256 is configured, so the config file
/// never holds a usable credential.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub name: String,
    pub api_key_sha256: [u8; 32],
}

#[derive(Debug, Clone, Default)]
pub struct ProviderSettings {
    pub mock: Option<MockSettings>,
    pub cmi: Option<CmiSettings>,
    pub paypal: Option<PaypalSettings>,
}

#[derive(Debug, Clone)]
pub struct MockSettings {
    /// `None`: `serve` starts the in-process mock processor.
    pub base_url: Option<reqwest::Url>,
    /// Standard Webhooks secrets: `webhook_secret`, then `previous_webhook_secret` during a
    /// rotation (a webhook signed with either is accepted).
    pub webhook_secrets: Vec<Secret>,
}

#[derive(Debug, Clone)]
pub struct CmiSettings {
    pub client_id: String,
    pub store_key: Secret,
    pub api_user: String,
    pub api_password: Secret,
    pub base_url: reqwest::Url,
    pub callback_reply: CmiCallbackReply,
}

/// What paygate answers to CMI's callback (see specs/cmi.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CmiCallbackReply {
    #[default]
    PostauthWhenAutomatic,
    Approved,
}

#[derive(Debug, Clone)]
pub struct PaypalSettings {
    pub client_id: String,
    pub client_secret: Secret,
    pub webhook_id: String,
    pub base_url: reqwest::Url,
    pub webhook_verification: PaypalVerification,
    /// Accept Webhooks-simulator events (signed with the literal `WEBHOOK_ID`). Off by default,
    /// and ignored for live merchants (specs/paypal.md §8.3).
    pub accept_simulator_events: bool,
    /// Tests only (no config key): extra origins certificates may be fetched from, e.g. an
    /// emulator on loopback. Production trusts PayPal's own hosts only.
    pub test_cert_origins: Vec<reqwest::Url>,
    /// Tests only (no config key): extra trust roots (PEM) for signing certificates.
    pub test_trust_roots_pem: Vec<String>,
}

/// How PayPal webhooks are verified: offline with the signing certificate, or by asking PayPal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaypalVerification {
    #[default]
    Certificate,
    Api,
}

/// One thing wrong with the configuration, located by its key path (`merchants[0].id`) or by
/// the environment variable it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

/// With `require_auth = false` every caller is the first merchant: a second merchant's
/// payments would be reachable by anyone who can reach the port, so that is refused.
fn open_access_problem(require_auth: bool, merchants: usize) -> Option<Problem> {
    (!require_auth && merchants > 1).then(|| Problem {
        key: "server.require_auth".to_owned(),
        message: format!(
            "is false with {merchants} merchants: every unauthenticated caller would act as the first one; \
             set require_auth = true and give each merchant its clients, or keep one merchant"
        ),
    })
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Why settings could not be loaded. Every message names the file or the offending key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {}: cannot read: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("config file {}: TOML syntax error at line {line}, column {column}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// All problems found, one per line, so an operator fixes them in one pass.
    #[error("{}", join_lines(.0))]
    Invalid(Vec<Problem>),
}

fn join_lines(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "json" => Ok(Self::Json),
            "pretty" => Ok(Self::Pretty),
            other => Err(format!("must be \"json\" or \"pretty\", got {other:?}")),
        }
    }
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Pretty => "pretty",
        }
    }
}

impl DatabaseSettings {
    /// The URL with any password replaced by `***`, safe for logs and `check-config`.
    pub fn redacted_url(&self) -> String {
        match reqwest::Url::parse(&self.url) {
            Ok(mut url) if url.password().is_some() => {
                // Only fails for URLs that cannot have a password, and this one has one.
                let _ = url.set_password(Some("***"));
                url.to_string()
            }
            Ok(_) => self.url.clone(),
            Err(_) if self.url.contains('@') => {
                let scheme = self.url.split("://").next().unwrap_or_default();
                format!("{scheme}://***")
            }
            Err(_) => self.url.clone(),
        }
    }
}

impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &self.redacted_url())
            .field("sqlite_max_pages", &self.sqlite_max_pages)
            .finish()
    }
}

impl ProviderSettings {
    /// The providers this merchant has configured, in `ProviderKind::ALL` order.
    pub fn enabled(&self) -> Vec<ProviderKind> {
        ProviderKind::ALL
            .into_iter()
            .filter(|kind| match kind {
                ProviderKind::Mock => self.mock.is_some(),
                ProviderKind::Cmi => self.cmi.is_some(),
                ProviderKind::Paypal => self.paypal.is_some(),
            })
            .collect()
    }
}

pub(crate) const DEFAULT_DATABASE_URL: &str = "sqlite://paygate.db";
pub(crate) const DEFAULT_GRPC_PORT: u16 = 50051;
pub(crate) const DEFAULT_HTTP_PORT: u16 = 8080;
/// The development mode's mock processor port: the one `paygate mock-processor` and the compose
/// file use too, so one URL works for every way of running it.
pub(crate) const DEV_MOCK_PROCESSOR_PORT: u16 = 9090;

impl Settings {
    /// Reads the file at `path` (or the PAYGATE_CONFIG env var if `path` is None); with neither, dev mode.
    /// Applies PAYGATE_* env overrides, resolves *_env / *_file secrets, validates.
    pub fn load(path: Option<&Path>) -> Result<Settings, ConfigError> {
        Self::load_with_env(path, &|name| std::env::var(name).ok())
    }

    /// Same as [`Settings::load`], with an injected environment lookup, so tests never touch
    /// the process environment. An empty variable counts as unset (as with `${VAR:-default}`).
    pub fn load_with_env(
        path: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        let env_path = || build::env_var(env, "PAYGATE_CONFIG").map(PathBuf::from);
        let path = path.map(Path::to_path_buf).or_else(env_path);
        let mut problems = build::Problems::default();
        let overrides = build::Overrides::from_env(env, &mut problems);
        let otlp_from_env = telemetry::endpoint_from_env(env, &mut problems);
        let settings = match &path {
            None => Some(Self::development()),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
                    path: path.clone(),
                    error,
                })?;
                let raw = raw::parse(path, &text, &mut problems)?;
                raw.and_then(|raw| build::settings(raw, env, &mut problems))
            }
        };
        let mut settings = problems.finish(settings)?;
        overrides.apply(&mut settings);
        if settings.telemetry.otlp_endpoint.is_none() {
            settings.telemetry.otlp_endpoint = otlp_from_env;
        }
        Ok(settings)
    }

    /// Development-mode defaults (what `serve` runs with no config file).
    pub fn development() -> Settings {
        let loopback = Ipv4Addr::LOCALHOST.into();
        // "default" is a valid merchant id; going through `parse` keeps MerchantId's one
        // constructor, and `into_iter` avoids an unwrap.
        let merchants = MerchantId::parse("default")
            .into_iter()
            .map(|id| MerchantSettings {
                webhook_endpoints: Vec::new(),
                id,
                clients: Vec::new(),
                providers: ProviderSettings {
                    mock: Some(MockSettings {
                        base_url: None,
                        webhook_secrets: Vec::new(),
                    }),
                    cmi: None,
                    paypal: None,
                },
                storefront: Storefront::default(),
            })
            .collect();
        Settings {
            webhooks: Default::default(),
            server: ServerSettings {
                grpc_addr: SocketAddr::new(loopback, DEFAULT_GRPC_PORT),
                http_addr: SocketAddr::new(loopback, DEFAULT_HTTP_PORT),
                public_base_url: None,
                require_auth: false,
                allow_remote_without_auth: false,
                max_message_bytes: build::DEFAULT_MAX_MESSAGE_BYTES,
                webhook_body_limit: build::DEFAULT_WEBHOOK_BODY_LIMIT,
                max_concurrent_requests: build::DEFAULT_MAX_CONCURRENT_REQUESTS,
                provider_timeout: build::DEFAULT_PROVIDER_TIMEOUT,
                connections: connections::DEFAULT_CONNECTIONS,
                mock_processor_addr: SocketAddr::new(loopback, DEV_MOCK_PROCESSOR_PORT),
            },
            database: DatabaseSettings {
                url: DEFAULT_DATABASE_URL.to_owned(),
                sqlite_max_pages: None,
            },
            log: LogSettings {
                filter: build::DEFAULT_LOG_FILTER.to_owned(),
                format: LogFormat::Pretty,
            },
            idempotency: IdempotencySettings {
                retention: build::DEFAULT_RETENTION,
                reap_interval: build::DEFAULT_REAP_INTERVAL,
            },
            events: tuning::DEFAULT_EVENTS,
            provider_calls: tuning::DEFAULT_PROVIDER_CALLS,
            checkout: tuning::DEFAULT_CHECKOUT,
            telemetry: telemetry::DEFAULT_TELEMETRY,
            merchants,
            dev_mode: true,
        }
    }

    /// Human-readable summary of what would run, secrets masked as ***, for `paygate check-config`.
    pub fn describe(&self) -> String {
        describe::describe(self)
    }

    /// Legal but risky choices, each with its key: `check-config` prints them and `serve` logs
    /// them at start, from this one list.
    pub fn warnings(&self) -> Vec<Problem> {
        warnings::warnings(self)
    }

    /// Refuses what no config file may ask for but settings built in code or env overrides
    /// could: without authentication every caller acts as one merchant, so more than one cannot
    /// be served; and an API without authentication listens only on loopback unless
    /// `PAYGATE_DEV_ALLOW_REMOTE=1` says otherwise (the container image sets
    /// `PAYGATE_GRPC_ADDR=0.0.0.0:50051`, which would otherwise open development mode to the
    /// network).
    pub fn check_runnable(&self) -> Result<(), Problem> {
        if let Some(problem) = open_access_problem(self.server.require_auth, self.merchants.len()) {
            return Err(problem);
        }
        let server = &self.server;
        if !server.require_auth
            && !server.grpc_addr.ip().is_loopback()
            && !server.allow_remote_without_auth
        {
            let mode = if self.dev_mode {
                "development mode (no config file) has no API keys"
            } else {
                "server.require_auth is false"
            };
            return Err(Problem {
                key: "server.grpc_addr".to_owned(),
                message: format!(
                    "is {}, not a loopback address, and {mode}: anyone who can reach the port \
                     would act as the merchant. Listen on 127.0.0.1, give a config file with \
                     require_auth = true, or set PAYGATE_DEV_ALLOW_REMOTE=1 to accept callers \
                     from elsewhere without a key",
                    server.grpc_addr
                ),
            });
        }
        Ok(())
    }

    pub fn merchant(&self, id: &MerchantId) -> Option<&MerchantSettings> {
        self.merchants.iter().find(|m| &m.id == id)
    }
}
