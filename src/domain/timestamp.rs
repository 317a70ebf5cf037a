//! Wall-clock instants as Unix microseconds. "Now" is always passed in, never read here, so
//! tests control time.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn from_micros(micros: i64) -> Self {
        Self(micros)
    }
    pub fn micros(self) -> i64 {
        self.0
    }
    /// Reads the system clock; called only at the edges (service, store), never in rules.
    pub fn now() -> Self {
        let now = time::OffsetDateTime::now_utc();
        let micros = now.unix_timestamp_nanos() / 1000;
        Self(i64::try_from(micros).unwrap_or(i64::MAX))
    }
    pub fn seconds(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }
    pub fn subsec_nanos(self) -> i32 {
        // rem_euclid keeps it in 0..1_000_000, so *1000 fits an i32.
        i32::try_from(self.0.rem_euclid(1_000_000) * 1000).unwrap_or(0)
    }
    pub fn plus_seconds(self, secs: i64) -> Self {
        Self(self.0.saturating_add(secs.saturating_mul(1_000_000)))
    }
    /// RFC 3339, for people and JSON output.
    pub fn to_rfc3339(self) -> String {
        let nanos = i128::from(self.0) * 1000;
        time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default()
    }
}
