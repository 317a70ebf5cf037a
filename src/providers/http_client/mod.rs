//! The one outbound HTTP stack shared by every provider adapter: a pooled `reqwest::Client`
//! (warm connections to each processor, connect and total timeouts) wrapped per provider in
//! [`ProviderHttp`] (deadline, concurrency limit, circuit breaker, safe retries).

pub mod backoff;
pub mod breaker;
mod send;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

pub use send::{
    NotProcessed, ProviderHttp, ResilienceSettings, Retry, SendError, chain, only_rate_limited,
};

use std::time::Duration;

/// Connecting should be quick on any healthy network; a slow connect is a sign to fail fast,
/// and a failed connect is safe to report as "not sent".
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

pub fn build(total_timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(total_timeout)
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(256)
        .user_agent(concat!("paygate/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Installs ring as rustls' crypto provider, once per process. reqwest is built without a
/// default provider (see DEPENDENCIES.md), so a client built before this would fail.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
