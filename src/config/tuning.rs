//! The `[events]`, `[provider_calls]` and `[checkout]` tables: operational knobs with defaults
//! that suit a card processor, each checked and named by key when wrong.

use super::build::Problems;
use super::raw::{RawCheckout, RawEvents, RawProviderCalls};
use super::values::{at_least_one, problem};
use super::{CheckoutSettings, EventSettings, ProviderCallSettings};
use std::time::Duration;

/// 30 days: long enough for any subscriber to catch up after an outage, small enough that the
/// log does not grow without bound.
///
/// 64 streams: a merchant runs one subscriber per service instance, a few dozen at most.
pub(super) const DEFAULT_EVENTS: EventSettings = EventSettings {
    retention: Some(Duration::from_secs(30 * 24 * 3600)),
    max_streams_per_merchant: 64,
};

pub(super) const DEFAULT_PROVIDER_CALLS: ProviderCallSettings = ProviderCallSettings {
    max_attempts: 3,
    max_concurrent: 256,
    breaker_window: Duration::from_secs(10),
    breaker_min_calls: 20,
    breaker_failure_percent: 50,
    breaker_open_for: Duration::from_secs(5),
};

/// From each provider's documented page lifetime: CMI's `sessionTimeout` is at most 2,700 s
/// (specs/cmi.md §3), so an hour leaves room for a late callback; PayPal gives the buyer 3 h
/// to be redirected and 3 h more to approve (specs/paypal.md §3.1); the mock's page has no
/// limit of its own, an hour is a development default.
pub(super) const DEFAULT_CHECKOUT: CheckoutSettings = CheckoutSettings {
    mock: Duration::from_secs(3600),
    cmi: Duration::from_secs(3600),
    paypal: Duration::from_secs(6 * 3600),
};

pub(super) fn checkout(raw: &RawCheckout, p: &mut Problems) -> Option<CheckoutSettings> {
    let d = DEFAULT_CHECKOUT;
    let mut secs = |key: &str, value: Option<u64>, default: Duration| {
        p.check(at_least_one(key, value.unwrap_or(default.as_secs())))
            .map(Duration::from_secs)
    };
    let mock = secs("checkout.mock_expiry_secs", raw.mock_expiry_secs, d.mock);
    let cmi = secs("checkout.cmi_expiry_secs", raw.cmi_expiry_secs, d.cmi);
    let paypal = secs(
        "checkout.paypal_expiry_secs",
        raw.paypal_expiry_secs,
        d.paypal,
    );
    Some(CheckoutSettings {
        mock: mock?,
        cmi: cmi?,
        paypal: paypal?,
    })
}

pub(super) fn events(raw: &RawEvents, p: &mut Problems) -> Option<EventSettings> {
    let max_streams = p.check(at_least_one(
        "events.max_streams_per_merchant",
        raw.max_streams_per_merchant
            .unwrap_or(DEFAULT_EVENTS.max_streams_per_merchant),
    ));
    let retention = match raw.retention_hours {
        None => DEFAULT_EVENTS.retention,
        Some(0) => None,
        Some(hours) => Some(Duration::from_secs(
            p.check(
                hours
                    .checked_mul(3600)
                    .ok_or_else(|| problem("events.retention_hours", "too large".into())),
            )?,
        )),
    };
    Some(EventSettings {
        retention,
        max_streams_per_merchant: max_streams?,
    })
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
