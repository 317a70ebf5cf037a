//! OAuth2 client-credentials tokens (specs/paypal.md §2): one cached token per merchant
//! (environment + client id), refreshed shortly before it expires, fetched by one caller while
//! the others wait (single-flight), and dropped on a 401 so the next call fetches a fresh one.
//!
//! Fetching a token per request is one of PayPal's listed causes of throttling, hence the cache.

use std::fmt;
use std::future::Future;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Refresh this long before the announced expiry, so a token never dies mid-request.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// A bearer token. `Debug` prints `***`: it is a secret like the client secret it came from.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    pub fn new(value: String) -> Self {
        Self(value)
    }
    /// The value, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

struct Cached {
    token: AccessToken,
    refresh_at: Instant,
}

/// The cache. The async mutex is held across the fetch on purpose: that is the single flight,
/// since every concurrent caller queues on it and then finds the fresh token.
pub struct TokenCache {
    slot: Mutex<Option<Cached>>,
    margin: Duration,
}

impl TokenCache {
    pub fn new(margin: Duration) -> Self {
        Self {
            slot: Mutex::new(None),
            margin,
        }
    }

    /// The cached token if still fresh, else the result of `fetch` (token, `expires_in`).
    pub async fn get<F, Fut, E>(&self, fetch: F) -> Result<AccessToken, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(AccessToken, Duration), E>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some(cached) = slot.as_ref()
            && Instant::now() < cached.refresh_at
        {
            return Ok(cached.token.clone());
        }
        let (token, lifetime) = fetch().await?;
        // A token shorter-lived than twice the margin is refreshed at half its life instead.
        let margin = self.margin.min(lifetime / 2);
        *slot = Some(Cached {
            token: token.clone(),
            refresh_at: Instant::now() + lifetime.saturating_sub(margin),
        });
        Ok(token)
    }

    /// Forgets `stale` after PayPal refused it (401), unless another caller already replaced it.
    pub async fn invalidate(&self, stale: &AccessToken) {
        let mut slot = self.slot.lock().await;
        if slot.as_ref().is_some_and(|c| &c.token == stale) {
            *slot = None;
        }
    }

    /// The cached token without fetching, if fresh (tests and diagnostics).
    pub async fn current(&self) -> Option<AccessToken> {
        let slot = self.slot.lock().await;
        slot.as_ref()
            .filter(|c| Instant::now() < c.refresh_at)
            .map(|c| c.token.clone())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn token(v: &str) -> AccessToken {
        AccessToken::new(v.to_owned())
    }

    #[tokio::test(start_paused = true)]
    async fn paypal_token_is_refreshed_before_it_expires() {
        let cache = TokenCache::new(REFRESH_MARGIN);
        let t = cache
            .get(|| async { Ok::<_, ()>((token("t1"), Duration::from_secs(3600))) })
            .await
            .unwrap();
        assert_eq!(t.expose(), "t1");
        tokio::time::advance(Duration::from_secs(3539)).await;
        assert_eq!(cache.current().await, Some(token("t1")));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(cache.current().await.is_none(), "must refresh 60 s early");
        let t = cache
            .get(|| async { Ok::<_, ()>((token("t2"), Duration::from_secs(3600))) })
            .await
            .unwrap();
        assert_eq!(t.expose(), "t2");
    }

    #[tokio::test]
    async fn a_hundred_concurrent_callers_share_one_fetch() {
        let cache = Arc::new(TokenCache::new(REFRESH_MARGIN));
        let fetches = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let (cache, fetches) = (cache.clone(), fetches.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get(|| async {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok::<_, ()>((token("shared"), Duration::from_secs(32400)))
                    })
                    .await
                    .unwrap()
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap().expose(), "shared");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_refused_token_is_dropped_once_and_a_failed_fetch_is_not_cached() {
        let cache = TokenCache::new(REFRESH_MARGIN);
        let failed = cache
            .get(|| async { Err::<(AccessToken, Duration), _>("401") })
            .await;
        assert!(failed.is_err());
        let t1 = cache
            .get(|| async { Ok::<_, ()>((token("t1"), Duration::from_secs(3600))) })
            .await
            .unwrap();
        cache.invalidate(&token("other")).await;
        assert_eq!(cache.current().await, Some(t1.clone()));
        cache.invalidate(&t1).await;
        assert!(cache.current().await.is_none());
        assert_eq!(format!("{t1:?}"), "***");
    }
}
