//! The `[events]` and `[provider_calls]` tables: operational knobs with defaults that suit a
//! card processor, each checked and named by key when wrong.

use super::build::Problems;
use super::raw::{RawEvents, RawProviderCalls};
use super::values::{at_least_one, problem};
use super::{EventSettings, ProviderCallSettings};
use std::time::Duration;

/// 30 days: long enough for any subscriber to catch up after an outage, small enough that the
/// log does not grow without bound.
pub(super) const DEFAULT_EVENTS: EventSettings = EventSettings {
    retention: Some(Duration::from_secs(30 * 24 * 3600)),
};

pub(super) const DEFAULT_PROVIDER_CALLS: ProviderCallSettings = ProviderCallSettings {
    max_attempts: 3,
    max_concurrent: 256,
    breaker_window: Duration::from_secs(10),
    breaker_min_calls: 20,
    breaker_failure_percent: 50,
    breaker_open_for: Duration::from_secs(5),
};

pub(super) fn events(raw: &RawEvents, p: &mut Problems) -> Option<EventSettings> {
    match raw.retention_hours {
        None => Some(DEFAULT_EVENTS),
        Some(0) => Some(EventSettings { retention: None }),
        Some(hours) => {
            let secs = p.check(
                hours
                    .checked_mul(3600)
                    .ok_or_else(|| problem("events.retention_hours", "too large".into())),
            )?;
            Some(EventSettings {
                retention: Some(Duration::from_secs(secs)),
            })
        }
    }
}

pub(super) fn provider_calls(
    raw: &RawProviderCalls,
    p: &mut Problems,
) -> Option<ProviderCallSettings> {
    let d = DEFAULT_PROVIDER_CALLS;
    let max_attempts = p.check(at_least_one(
        "provider_calls.max_attempts",
        raw.max_attempts.unwrap_or(d.max_attempts),
    ));
    let max_concurrent = p.check(at_least_one(
        "provider_calls.max_concurrent",
        raw.max_concurrent.unwrap_or(d.max_concurrent),
    ));
    let window = p.check(at_least_one(
        "provider_calls.breaker_window_secs",
        raw.breaker_window_secs
            .unwrap_or(u32::try_from(d.breaker_window.as_secs()).unwrap_or(10)),
    ));
    let min_calls = p.check(at_least_one(
        "provider_calls.breaker_min_calls",
        raw.breaker_min_calls.unwrap_or(d.breaker_min_calls),
    ));
    let percent = raw
        .breaker_failure_percent
        .unwrap_or(d.breaker_failure_percent);
    let percent = if (1..=100).contains(&percent) {
        Some(percent)
    } else {
        p.push(
            "provider_calls.breaker_failure_percent",
            format!("must be between 1 and 100, got {percent}"),
        );
        None
    };
    let open_for = p.check(at_least_one(
        "provider_calls.breaker_open_secs",
        raw.breaker_open_secs
            .unwrap_or(d.breaker_open_for.as_secs()),
    ));
    Some(ProviderCallSettings {
        max_attempts: max_attempts?,
        max_concurrent: max_concurrent?,
        breaker_window: Duration::from_secs(u64::from(window?)),
        breaker_min_calls: min_calls?,
        breaker_failure_percent: percent?,
        breaker_open_for: Duration::from_secs(open_for?),
    })
}
