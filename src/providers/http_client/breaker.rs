//! A per-provider circuit breaker: when a provider fails often, stop sending it traffic for a
//! while so callers get a fast, safe "not sent" (UNAVAILABLE) instead of piling up on timeouts,
//! and the provider gets room to recover.
//!
//! Closed: calls flow; outcomes are counted in a rolling window of one-second buckets. When the
//! window holds at least `min_calls` and the failure share reaches `failure_ratio`, it opens.
//! Open: every call is refused until `open_for` has passed. Half-open: one probe call goes
//! through; success closes the breaker (with a fresh window), failure opens it again.

use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct BreakerSettings {
    /// Length of the rolling window, in whole seconds (one bucket per second).
    pub window_secs: u32,
    /// No decision on fewer calls than this in the window: a few failures prove nothing.
    pub min_calls: u32,
    /// Failure share (percent) at which the breaker opens.
    pub failure_percent: u32,
    /// How long an open breaker refuses calls before letting a probe through.
    pub open_for: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            window_secs: 10,
            min_calls: 20,
            failure_percent: 50,
            open_for: Duration::from_secs(5),
        }
    }
}

/// Where the breaker stands; `as_str` is the metric and log label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

/// Permission to make one call; report how it went with [`Breaker::record`].
#[derive(Debug)]
#[must_use]
pub struct Admitted {
    probe: bool,
}

#[derive(Debug, Default, Clone, Copy)]
struct Bucket {
    second: u64,
    ok: u32,
    failed: u32,
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    opened_at: Instant,
    probe_in_flight: bool,
    buckets: Vec<Bucket>,
}

#[derive(Debug)]
pub struct Breaker {
    settings: BreakerSettings,
    epoch: Instant,
    inner: Mutex<Inner>,
}

/// A state change, for the caller to log and count.
pub type Transition = Option<BreakerState>;

impl Breaker {
    pub fn new(settings: BreakerSettings) -> Self {
        let now = Instant::now();
        let buckets = usize::try_from(settings.window_secs.max(1)).unwrap_or(1);
        Self {
            settings,
            epoch: now,
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                opened_at: now,
                probe_in_flight: false,
                buckets: vec![Bucket::default(); buckets],
            }),
        }
    }

    pub fn state(&self) -> BreakerState {
        self.lock().state
    }

    /// `Err` while open (or while the half-open probe is out): the call must not be sent.
    pub fn admit(&self) -> Result<(Admitted, Transition), BreakerState> {
        let mut inner = self.lock();
        match inner.state {
            BreakerState::Closed => Ok((Admitted { probe: false }, None)),
            BreakerState::Open if inner.opened_at.elapsed() >= self.settings.open_for => {
                inner.state = BreakerState::HalfOpen;
                inner.probe_in_flight = true;
                Ok((Admitted { probe: true }, Some(BreakerState::HalfOpen)))
            }
            BreakerState::HalfOpen if !inner.probe_in_flight => {
                inner.probe_in_flight = true;
                Ok((Admitted { probe: true }, None))
            }
            state @ (BreakerState::Open | BreakerState::HalfOpen) => Err(state),
        }
    }

    /// Reports the outcome of an admitted call; returns the new state if it changed.
    pub fn record(&self, admitted: Admitted, ok: bool) -> Transition {
        let second = self.epoch.elapsed().as_secs();
        let mut inner = self.lock();
        if admitted.probe {
            inner.probe_in_flight = false;
            if inner.state != BreakerState::HalfOpen {
                return None;
            }
            if ok {
                inner.state = BreakerState::Closed;
                inner.buckets.fill(Bucket::default());
                return Some(BreakerState::Closed);
            }
            inner.state = BreakerState::Open;
            inner.opened_at = Instant::now();
            return Some(BreakerState::Open);
        }
        if inner.state != BreakerState::Closed {
            // A call admitted before the breaker opened: its outcome is already stale.
            return None;
        }
        let len = u64::try_from(inner.buckets.len()).unwrap_or(1).max(1);
        let slot = usize::try_from(second % len).unwrap_or(0);
        if let Some(bucket) = inner.buckets.get_mut(slot) {
            if bucket.second != second {
                *bucket = Bucket {
                    second,
                    ..Bucket::default()
                };
            }
            if ok {
                bucket.ok = bucket.ok.saturating_add(1);
            } else {
                bucket.failed = bucket.failed.saturating_add(1);
            }
        }
        if ok {
            return None;
        }
        let window = u64::from(self.settings.window_secs.max(1));
        let (calls, failed) = inner
            .buckets
            .iter()
            .filter(|b| second.saturating_sub(b.second) < window)
            .fold((0u64, 0u64), |(c, f), b| {
                (
                    c + u64::from(b.ok) + u64::from(b.failed),
                    f + u64::from(b.failed),
                )
            });
        let tripped = calls >= u64::from(self.settings.min_calls)
            && failed * 100 >= calls * u64::from(self.settings.failure_percent);
        if tripped {
            inner.state = BreakerState::Open;
            inner.opened_at = Instant::now();
            return Some(BreakerState::Open);
        }
        None
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave the counters inconsistent in a way that
        // matters more than refusing every provider call would, so a poisoned lock is reused.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn settings() -> BreakerSettings {
        BreakerSettings {
            window_secs: 10,
            min_calls: 10,
            failure_percent: 50,
            open_for: Duration::from_millis(50),
        }
    }

    fn call(b: &Breaker, ok: bool) -> Transition {
        let (admitted, _) = b.admit().unwrap();
        b.record(admitted, ok)
    }

    #[tokio::test]
    async fn few_failures_prove_nothing_and_a_healthy_mix_stays_closed() {
        let b = Breaker::new(settings());
        for _ in 0..9 {
            assert_eq!(call(&b, false), None);
        }
        assert_eq!(b.state(), BreakerState::Closed, "9 calls < min_calls");
        let b = Breaker::new(settings());
        for i in 0..100 {
            call(&b, i % 3 != 0);
        }
        assert_eq!(b.state(), BreakerState::Closed, "33% failures < 50%");
    }

    #[tokio::test]
    async fn opens_at_the_ratio_refuses_then_probes_and_closes() {
        let b = Breaker::new(settings());
        let mut opened = false;
        for i in 0..20 {
            if call(&b, i % 2 == 0) == Some(BreakerState::Open) {
                opened = true;
                break;
            }
        }
        assert!(opened);
        assert_eq!(b.admit().unwrap_err(), BreakerState::Open);
        tokio::time::sleep(Duration::from_millis(60)).await;
        let (probe, change) = b.admit().unwrap();
        assert_eq!(change, Some(BreakerState::HalfOpen));
        assert_eq!(
            b.admit().unwrap_err(),
            BreakerState::HalfOpen,
            "one probe at a time"
        );
        assert_eq!(b.record(probe, true), Some(BreakerState::Closed));
        assert_eq!(call(&b, false), None, "a fresh window after closing");
    }

    #[tokio::test]
    async fn a_failed_probe_opens_again() {
        let b = Breaker::new(settings());
        for _ in 0..10 {
            call(&b, false);
        }
        assert_eq!(b.state(), BreakerState::Open);
        tokio::time::sleep(Duration::from_millis(60)).await;
        let (probe, _) = b.admit().unwrap();
        assert_eq!(b.record(probe, false), Some(BreakerState::Open));
        assert!(b.admit().is_err());
    }
}
