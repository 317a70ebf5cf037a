//! Where `paygate listen` starts: after the merchant's newest existing event, like `stripe
//! listen`, so a developer sees what happens from now on, not the history.
//!
//! No RPC says "the newest sequence", and reading the log from 0 would replay all of it over
//! the wire. The HTTP/JSON API (on the same port as gRPC) answers `GET
//! /v1/events?after_sequence=N&limit=1` with the first of the merchant's events above N, or
//! none; "none above N" only becomes true past the newest event, so a search over N finds it
//! with one-event pages: about 2·log2(newest) requests (≈ 40 for a million events), each a
//! single indexed row.

use crate::grpc::proto;

/// What one probe `after_sequence = n` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// No event of the merchant above `n`: `n` is at or past the newest.
    Empty,
    /// The first event above `n` has this sequence.
    Next(u64),
    /// `n` is below what retention has deleted (`EVENTS_PRUNED`): the start lies higher.
    Pruned,
}

/// The smallest `n` whose probe is [`Probe::Empty`]: the newest event's sequence (0 when the
/// merchant has none kept). Everything above it is new. `probe` is the only effect, so the search is tested without a server.
pub async fn newest<F, Fut, E>(mut probe: F) -> Result<u64, E>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<Probe, E>>,
{
    // Invariant: every n < low probes non-empty; `high` (once found) probes empty.
    let mut low = 0_u64;
    // Grow: jump to the event found, then twice as far, until a probe is empty.
    let mut high = 0_u64;
    loop {
        match probe(high).await? {
            Probe::Empty => break,
            Probe::Next(seq) => {
                low = seq.max(high.saturating_add(1));
                high = low.saturating_mul(2);
            }
            Probe::Pruned => {
                low = high.saturating_add(1);
                high = low.saturating_mul(2);
            }
        }
        if low == u64::MAX {
            return Ok(low);
        }
    }
    // Narrow: bisect [low, high].
    while low < high {
        let mid = low + (high - low) / 2;
        match probe(mid).await? {
            Probe::Empty => high = mid,
            Probe::Next(seq) => low = seq.max(mid.saturating_add(1)).min(high),
            Probe::Pruned => low = mid.saturating_add(1),
        }
    }
    Ok(low)
}

/// Why the start could not be found.
#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    #[error("GET /v1/events: {0}")]
    Request(String),
    #[error("GET /v1/events answered {status}: {code} {reason}")]
    Refused {
        status: u16,
        code: String,
        reason: String,
    },
}

impl HeadError {
    pub fn unauthenticated(&self) -> bool {
        matches!(self, Self::Refused { status: 401, .. })
    }
}

/// Probes over the JSON API of `target` (the gRPC address: the same port serves both).
pub struct HttpProbe {
    client: reqwest::Client,
    url: String,
    api_key: Option<String>,
}

impl HttpProbe {
    pub fn new(target: &str, api_key: Option<&str>) -> Result<Self, HeadError> {
        crate::providers::http_client::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| HeadError::Request(e.without_url().to_string()))?;
        Ok(Self {
            client,
            url: format!("{}/v1/events", target.trim_end_matches('/')),
            api_key: api_key.map(str::to_owned),
        })
    }

    pub async fn probe(&self, after: u64) -> Result<Probe, HeadError> {
        let mut request = self
            .client
            .get(&self.url)
            .query(&[("after_sequence", after.to_string()), ("limit", "1".into())]);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = request
            .send()
            .await
            .map_err(|e| HeadError::Request(e.without_url().to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| HeadError::Request(e.without_url().to_string()))?;
        if status == 200 {
            let page: proto::EventsPage = serde_json::from_slice(&body)
                .map_err(|e| HeadError::Request(format!("unreadable page: {e}")))?;
            return Ok(page
                .events
                .first()
                .map_or(Probe::Empty, |e| Probe::Next(e.sequence)));
        }
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let text = |name: &str| {
            problem
                .get(name)
                .and_then(serde_json::Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        if text("reason") == "EVENTS_PRUNED" {
            return Ok(Probe::Pruned);
        }
        Err(HeadError::Refused {
            status,
            code: text("code"),
            reason: text("reason"),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A log holding `events` (sorted) with everything at or below `pruned` deleted; counts
    /// the probes.
    async fn search(events: &[u64], pruned: u64) -> (u64, u32) {
        let calls = Cell::new(0);
        let found = newest(|after| {
            calls.set(calls.get() + 1);
            let answer = if after > 0 && after < pruned {
                Probe::Pruned
            } else {
                events
                    .iter()
                    .find(|&&s| s > after && s > pruned)
                    .map_or(Probe::Empty, |&s| Probe::Next(s))
            };
            async move { Ok::<_, ()>(answer) }
        })
        .await
        .unwrap();
        (found, calls.get())
    }

    #[tokio::test]
    async fn finds_the_newest_event_of_the_merchant() {
        assert_eq!(search(&[], 0).await.0, 0);
        assert_eq!(search(&[1], 0).await.0, 1);
        assert_eq!(search(&[3, 9, 10], 0).await.0, 10);
        // Other merchants' events make gaps.
        assert_eq!(search(&[2, 40, 41, 1000], 0).await.0, 1000);
        for newest in 1..300_u64 {
            let events: Vec<u64> = (1..=newest).filter(|s| s % 7 != 3).collect();
            let want = events.last().copied().unwrap_or(0);
            assert_eq!(search(&events, 0).await.0, want, "newest {newest}");
        }
    }

    #[tokio::test]
    async fn a_million_events_take_few_probes() {
        let events: Vec<u64> = (1..=1_000_000).collect();
        let (found, calls) = search(&events, 0).await;
        assert_eq!(found, 1_000_000);
        eprintln!("{calls} probes for 1,000,000 events");
        assert!(calls <= 45, "{calls} probes");
    }

    #[tokio::test]
    async fn pruned_history_starts_at_or_after_the_retention_line() {
        assert_eq!(search(&[5, 6, 120, 130], 100).await.0, 130);
        // Everything of this merchant was pruned: 0 ("the oldest kept") is already past it.
        assert_eq!(search(&[5, 6], 100).await.0, 0);
    }
}
