//! Latency samples and their summary: exact nearest-rank percentiles over every sample.
//!
//! A run records at most a few million latencies, so keeping each one as a `u32` of
//! microseconds (4 bytes) and sorting once at the end is both exact and cheap; a histogram
//! would only trade accuracy at p999 for memory we do not need to save.

use std::collections::BTreeMap;
use tokio::time::Duration;

/// The latencies of one series (e.g. "capture") and its failures by kind: a gRPC code name
/// (`UNAVAILABLE`) or an unexpected payment status (`declined`).
#[derive(Debug, Default)]
pub struct Recorder {
    micros: Vec<u32>,
    errors: BTreeMap<&'static str, u64>,
}

impl Recorder {
    pub fn ok(&mut self, latency: Duration) {
        // u32 microseconds hold 71 minutes; anything longer is clamped, not wrapped.
        self.micros
            .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
    }

    pub fn error(&mut self, kind: &'static str) {
        self.errors_of(kind, 1);
    }

    pub fn errors_of(&mut self, kind: &'static str, count: u64) {
        if count > 0 {
            *self.errors.entry(kind).or_insert(0) += count;
        }
    }

    pub fn merge(&mut self, other: Recorder) {
        self.micros.extend(other.micros);
        for (kind, count) in other.errors {
            self.errors_of(kind, count);
        }
    }

    /// Successes plus failures: every request that got an answer.
    pub fn completed(&self) -> u64 {
        u64::try_from(self.micros.len())
            .unwrap_or(u64::MAX)
            .saturating_add(self.errors.values().sum())
    }

    /// Sorts the samples and reduces them; `window` is the measured time the rate is over.
    pub fn summarize(mut self, window: Duration) -> Summary {
        self.micros.sort_unstable();
        let sorted = &self.micros;
        let count = u64::try_from(sorted.len()).unwrap_or(u64::MAX);
        let seconds = window.as_secs_f64();
        Summary {
            count,
            rate: if seconds > 0.0 {
                u64_to_f64(count) / seconds
            } else {
                0.0
            },
            p50: percentile(sorted, 500),
            p99: percentile(sorted, 990),
            p999: percentile(sorted, 999),
            max: sorted.last().copied(),
            errors: self.errors,
        }
    }
}

/// One row of the report. Latencies are microseconds; `None` when nothing succeeded.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Successful requests in the window (errors are counted apart and have no latency).
    pub count: u64,
    /// Successful requests per second.
    pub rate: f64,
    pub p50: Option<u32>,
    pub p99: Option<u32>,
    pub p999: Option<u32>,
    pub max: Option<u32>,
    pub errors: BTreeMap<&'static str, u64>,
}

impl Summary {
    pub fn error_total(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// Nearest-rank percentile of sorted samples, `per_mille` of 1000 (990 = p99): the smallest
/// sample with at least that share of samples at or below it. Integer arithmetic, so p999 of
/// 1000 samples is exactly the 999th, not a float's neighbour.
pub fn percentile(sorted: &[u32], per_mille: u64) -> Option<u32> {
    let n = u64::try_from(sorted.len()).ok()?;
    if n == 0 {
        return None;
    }
    let rank = n.saturating_mul(per_mille).div_ceil(1000).clamp(1, n);
    sorted.get(usize::try_from(rank - 1).ok()?).copied()
}

/// Microseconds as milliseconds, for display.
pub fn ms(micros: u32) -> f64 {
    f64::from(micros) / 1000.0
}

/// `u64` to `f64` without an `as` cast; exact below 2^53, which every count here is.
pub fn u64_to_f64(n: u64) -> f64 {
    let high = u32::try_from(n >> 32).unwrap_or(u32::MAX);
    let low = u32::try_from(n & 0xFFFF_FFFF).unwrap_or(u32::MAX);
    f64::from(high) * 4_294_967_296.0 + f64::from(low)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let one_to_thousand: Vec<u32> = (1..=1000).collect();
        assert_eq!(percentile(&one_to_thousand, 500), Some(500));
        assert_eq!(percentile(&one_to_thousand, 990), Some(990));
        assert_eq!(percentile(&one_to_thousand, 999), Some(999));
        assert_eq!(percentile(&one_to_thousand, 1000), Some(1000));

        let ten: Vec<u32> = (1..=10).collect();
        assert_eq!(percentile(&ten, 500), Some(5));
        assert_eq!(
            percentile(&ten, 990),
            Some(10),
            "rounds the rank up, never down"
        );
        assert_eq!(percentile(&[7], 999), Some(7));
        assert_eq!(percentile(&[7], 0), Some(7), "rank is at least 1");
        assert_eq!(percentile(&[], 500), None);
    }

    #[test]
    fn summary_sorts_counts_and_rates() {
        let mut r = Recorder::default();
        for micros in [3000, 1000, 2000, 4000] {
            r.ok(Duration::from_micros(micros));
        }
        r.error("UNAVAILABLE");
        r.error("UNAVAILABLE");
        r.error("declined");
        assert_eq!(r.completed(), 7);
        let s = r.summarize(Duration::from_secs(2));
        assert_eq!(s.count, 4);
        assert!((s.rate - 2.0).abs() < f64::EPSILON);
        assert_eq!((s.p50, s.p99, s.max), (Some(2000), Some(4000), Some(4000)));
        assert_eq!(s.errors.get("UNAVAILABLE"), Some(&2));
        assert_eq!(s.error_total(), 3);
    }

    #[test]
    fn merging_keeps_every_sample_and_error() {
        let mut a = Recorder::default();
        a.ok(Duration::from_micros(10));
        a.error("ABORTED");
        let mut b = Recorder::default();
        b.ok(Duration::from_micros(30));
        b.ok(Duration::from_micros(20));
        b.error("ABORTED");
        b.errors_of("NOT_SENT", 0);
        a.merge(b);
        let s = a.summarize(Duration::from_secs(1));
        assert_eq!((s.count, s.p50, s.max), (3, Some(20), Some(30)));
        assert_eq!(s.errors.len(), 1, "a zero count adds no row");
        assert_eq!(s.errors.get("ABORTED"), Some(&2));
    }

    #[test]
    fn empty_window_has_no_latencies() {
        let s = Recorder::default().summarize(Duration::ZERO);
        assert_eq!((s.count, s.p50, s.max), (0, None, None));
        assert!(s.rate.abs() < f64::EPSILON);
    }

    #[test]
    fn huge_latencies_clamp() {
        let mut r = Recorder::default();
        r.ok(Duration::from_secs(10_000));
        assert_eq!(r.summarize(Duration::from_secs(1)).max, Some(u32::MAX));
    }

    #[test]
    fn conversions() {
        assert!((ms(1500) - 1.5).abs() < f64::EPSILON);
        assert!((u64_to_f64(0)).abs() < f64::EPSILON);
        assert!((u64_to_f64(12_345) - 12_345.0).abs() < f64::EPSILON);
        assert!((u64_to_f64(1 << 40) - 1_099_511_627_776.0).abs() < f64::EPSILON);
    }
}
