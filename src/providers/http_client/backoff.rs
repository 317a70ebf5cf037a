//! How long to wait before retrying a provider call: exponential backoff with full jitter, or
//! what the provider asked for in `Retry-After`, whichever is longer.

use reqwest::header::{HeaderMap, RETRY_AFTER};
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct BackoffSettings {
    /// Most attempts per call, the first included.
    pub max_attempts: u32,
    /// Upper bound of the first retry's delay; doubles per attempt.
    pub base: Duration,
    /// No single wait is longer than this (a larger `Retry-After` ends the retries instead).
    pub max: Duration,
}

impl Default for BackoffSettings {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base: Duration::from_millis(50),
            max: Duration::from_secs(2),
        }
    }
}

impl BackoffSettings {
    /// The wait before attempt `attempt + 1` (after `attempt` failures, from 1): random in
    /// `[0, base·2^(attempt-1)]` ("full jitter", so callers that failed together spread out),
    /// capped at `max`. `None` when the provider asks for longer than `max`: give up now.
    pub fn delay(&self, attempt: u32, headers: Option<&HeaderMap>) -> Option<Duration> {
        let exp = attempt.saturating_sub(1).min(16);
        let ceiling = self.base.saturating_mul(1 << exp).min(self.max);
        let jittered = ceiling.mul_f64(rand::random::<f64>());
        match headers.and_then(retry_after) {
            Some(asked) if asked > self.max => None,
            Some(asked) => Some(asked.max(jittered)),
            None => Some(jittered),
        }
    }
}

/// `Retry-After` as delta-seconds. The HTTP-date form is not used by the providers paygate
/// speaks; it is ignored (plain backoff applies).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?;
    text.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn delays_grow_are_jittered_and_capped() {
        let b = BackoffSettings {
            max_attempts: 5,
            base: Duration::from_millis(100),
            max: Duration::from_millis(300),
        };
        for _ in 0..200 {
            assert!(b.delay(1, None).unwrap() <= Duration::from_millis(100));
            assert!(b.delay(2, None).unwrap() <= Duration::from_millis(200));
            assert!(b.delay(9, None).unwrap() <= Duration::from_millis(300));
        }
        let spread: std::collections::HashSet<_> = (0..50).map(|_| b.delay(3, None)).collect();
        assert!(spread.len() > 10, "jitter spreads retries");
    }

    #[test]
    fn retry_after_is_honoured_and_too_long_gives_up() {
        let b = BackoffSettings {
            max_attempts: 3,
            base: Duration::from_millis(10),
            max: Duration::from_secs(2),
        };
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
        assert!(b.delay(1, Some(&headers)).unwrap() >= Duration::from_secs(1));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("30"));
        assert_eq!(b.delay(1, Some(&headers)), None);
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert!(b.delay(1, Some(&headers)).unwrap() <= Duration::from_millis(10));
    }
}
