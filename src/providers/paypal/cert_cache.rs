//! The signing certificates behind `PAYPAL-CERT-URL`s: a small LRU of certificates that have
//! verified a signature, one fetch at a time per URL, and a budget of fetches per minute.
//!
//! Anyone can POST a webhook naming an allow-listed URL, and each URL not cached costs a fetch
//! from PayPal. So a certificate enters the cache only once a signature verified with it
//! (bogus deliveries cannot push the real certificate out); deliveries naming one URL share
//! one fetch, with no lock across URLs (a slow fetch holds up nobody else); and fetches beyond
//! the budget are refused at once, so the webhook is answered with a retryable status and
//! PayPal delivers again later.

use rustls_pki_types::CertificateDer;
use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::OnceCell;
use tokio::time::{Duration, Instant};

type Cert = CertificateDer<'static>;
/// A fetch's result, shared by everyone waiting on it; the error is a reason for the log.
type Fetched = Result<Cert, String>;
type Flight = Arc<OnceCell<Fetched>>;

/// Why [`CertCache::fetch`] has no certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Miss {
    /// The fetch budget of the current minute is spent: nothing was fetched.
    Throttled,
    /// The fetch failed (PayPal unreachable, not one PEM certificate...).
    Failed(String),
}

pub(super) struct CertCache {
    verified: Mutex<lru::LruCache<String, Cert>>,
    /// The fetches under way, by URL: a delivery for a URL in here waits on that fetch.
    flights: Mutex<HashMap<String, Flight>>,
    budget: Mutex<Budget>,
}

/// At most `per_window` fetches started in each fixed window of `window`.
struct Budget {
    per_window: u32,
    window: Duration,
    started: Option<Instant>,
    used: u32,
}

impl Budget {
    fn take(&mut self, now: Instant) -> bool {
        match self.started {
            Some(start) if now.duration_since(start) < self.window => {}
            _ => {
                self.started = Some(now);
                self.used = 0;
            }
        }
        if self.used >= self.per_window {
            return false;
        }
        self.used += 1;
        true
    }
}

/// Every critical section here is one map or counter step, so a panic elsewhere cannot leave
/// the data half-changed: a poisoned lock is still right to use.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl CertCache {
    pub(super) fn new(entries: NonZeroUsize, fetches_per_minute: u32) -> Self {
        Self {
            verified: Mutex::new(lru::LruCache::new(entries)),
            flights: Mutex::default(),
            budget: Mutex::new(Budget {
                per_window: fetches_per_minute,
                window: Duration::from_secs(60),
                started: None,
                used: 0,
            }),
        }
    }

    /// The certificate of `url` if one verified a signature lately (and marks it recently used).
    pub(super) fn verified(&self, url: &str) -> Option<Cert> {
        lock(&self.verified).get(url).cloned()
    }

    /// Keeps `cert` for `url` once a signature verified with it; the least recently used goes.
    pub(super) fn remember(&self, url: &str, cert: Cert) {
        lock(&self.verified).put(url.to_owned(), cert);
    }

    /// Fetches `url` with `fetch`, or joins the fetch of it already under way. Only a new fetch
    /// spends the budget. If the caller running the fetch goes away, a waiter takes it over.
    pub(super) async fn fetch<F, Fut>(&self, url: &str, fetch: F) -> Result<Cert, Miss>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Fetched>,
    {
        let flight = {
            let mut flights = lock(&self.flights);
            match flights.get(url) {
                Some(flight) => flight.clone(),
                None => {
                    if !lock(&self.budget).take(Instant::now()) {
                        return Err(Miss::Throttled);
                    }
                    let flight = Flight::default();
                    flights.insert(url.to_owned(), flight.clone());
                    flight
                }
            }
        };
        let _leave = Leave {
            flights: &self.flights,
            url,
            flight: &flight,
        };
        flight
            .get_or_init(fetch)
            .await
            .clone()
            .map_err(Miss::Failed)
    }
}

/// Takes a fetch off the map once it is over (its answer is with every waiter), or when its
/// last waiter leaves before the end: the next delivery for the URL then starts afresh.
struct Leave<'a> {
    flights: &'a Mutex<HashMap<String, Flight>>,
    url: &'a str,
    flight: &'a Flight,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        let mut flights = lock(self.flights);
        let ours = flights
            .get(self.url)
            .is_some_and(|f| Arc::ptr_eq(f, self.flight));
        // Clones are made under this lock, so the count is exact: the map's and ours.
        let nobody_else = Arc::strong_count(self.flight) <= 2;
        if ours && (self.flight.initialized() || nobody_else) {
            flights.remove(self.url);
        }
    }
}

#[cfg(test)]
#[path = "cert_cache_tests.rs"]
mod tests;
