//! Return pages are public and unauthenticated, so a browser reloading one (or a script
//! replaying it) must not turn into a provider call per request. Per payment, at most one
//! return-page lookup is in flight at a time, and a lookup made for the same payment and return
//! outcome less than [`FRESH_FOR`] ago is not repeated: the request reads paygate's own state
//! instead. 1,000 reloads thus cost at most one provider lookup per [`FRESH_FOR`] per outcome
//! (per replica), rather than 1,000, and cannot run up the provider's rate limit.
//!
//! Only return pages go through this: webhooks, the reconciler and API calls ask the provider
//! on their own schedule.

use crate::domain::PaymentId;
use crate::providers::urls::ReturnOutcome;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::OwnedMutexGuard;
use tokio::time::Instant;

/// How long a return-page lookup's answer stands for the same payment and outcome. Long enough
/// to absorb a reload loop, short enough that a buyer who approves just after a lookup is not
/// kept waiting (the webhook usually settles the payment sooner anyway).
pub(crate) const FRESH_FOR: Duration = Duration::from_secs(5);

/// Below this many tracked payments, no sweep: the map stays tiny.
const MIN_SWEEP_AT: usize = 64;

pub(crate) struct ReturnLookups {
    fresh_for: Duration,
    inner: Mutex<Inner>,
}

struct Inner {
    slots: HashMap<PaymentId, Slot>,
    /// Sweep when the map grows past this; doubles with what a sweep keeps, so the cost of
    /// sweeping stays proportional to the insertions.
    sweep_at: usize,
}

#[derive(Default)]
struct Slot {
    /// Held by the one lookup in flight for this payment; later requests queue behind it.
    gate: Arc<tokio::sync::Mutex<()>>,
    /// When a lookup last started, per return outcome.
    asked: Vec<(ReturnOutcome, Instant)>,
}

/// This request's turn to ask the provider; the payment's other return requests wait until it
/// is dropped, then find the lookup fresh.
pub(crate) struct Lookup {
    _turn: OwnedMutexGuard<()>,
}

impl ReturnLookups {
    pub(crate) fn new(fresh_for: Duration) -> Self {
        Self {
            fresh_for,
            inner: Mutex::new(Inner {
                slots: HashMap::new(),
                sweep_at: MIN_SWEEP_AT,
            }),
        }
    }

    /// Waits for any lookup in flight for `payment`, then: `Some` when this request should ask
    /// the provider (the lookup counts as made from now, even if the request is cancelled: a
    /// buyer aborting reloads must not escape the limit), `None` when a lookup for the same
    /// payment and outcome started less than `fresh_for` ago (maybe the one just waited for).
    pub(crate) async fn begin(&self, payment: PaymentId, outcome: ReturnOutcome) -> Option<Lookup> {
        let gate = self.lock().slot(payment).gate.clone();
        let turn = gate.lock_owned().await;
        let now = Instant::now();
        let mut inner = self.lock();
        let slot = inner.slot(payment);
        match slot.asked.iter_mut().find(|(o, _)| *o == outcome) {
            Some((_, at)) if now.duration_since(*at) < self.fresh_for => return None,
            Some((_, at)) => *at = now,
            None => slot.asked.push((outcome, now)),
        }
        Some(Lookup { _turn: turn })
    }

    /// How many payments are tracked (tests: the map does not grow without bound).
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.lock().inner.slots.len()
    }

    fn lock(&self) -> Guard<'_> {
        // The map holds only timestamps and gates: a panic elsewhere cannot leave it in a state
        // worse than a missed or an extra lookup, so a poisoned lock is reused.
        Guard {
            inner: self.inner.lock().unwrap_or_else(PoisonError::into_inner),
            fresh_for: self.fresh_for,
        }
    }
}

struct Guard<'a> {
    inner: MutexGuard<'a, Inner>,
    fresh_for: Duration,
}

impl Guard<'_> {
    fn slot(&mut self, payment: PaymentId) -> &mut Slot {
        if !self.inner.slots.contains_key(&payment) {
            self.sweep();
        }
        self.inner.slots.entry(payment).or_default()
    }

    /// Forgets payments with no request in flight or queued (only the map holds the gate) and
    /// no lookup younger than `fresh_for`.
    fn sweep(&mut self) {
        if self.inner.slots.len() < self.inner.sweep_at {
            return;
        }
        let now = Instant::now();
        let fresh_for = self.fresh_for;
        self.inner.slots.retain(|_, slot| {
            Arc::strong_count(&slot.gate) > 1
                || slot
                    .asked
                    .iter()
                    .any(|(_, at)| now.duration_since(*at) < fresh_for)
        });
        self.inner.sweep_at = self.inner.slots.len().saturating_mul(2).max(MIN_SWEEP_AT);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn id() -> PaymentId {
        PaymentId::new()
    }

    #[tokio::test(start_paused = true)]
    async fn a_lookup_is_not_repeated_while_fresh_then_is() {
        let lookups = ReturnLookups::new(Duration::from_secs(5));
        let p = id();
        assert!(lookups.begin(p, ReturnOutcome::Ok).await.is_some());
        assert!(lookups.begin(p, ReturnOutcome::Ok).await.is_none());
        tokio::time::advance(Duration::from_millis(4_900)).await;
        assert!(lookups.begin(p, ReturnOutcome::Ok).await.is_none());
        tokio::time::advance(Duration::from_millis(200)).await;
        assert!(lookups.begin(p, ReturnOutcome::Ok).await.is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn payments_and_outcomes_are_apart() {
        let lookups = ReturnLookups::new(Duration::from_secs(5));
        let (a, b) = (id(), id());
        drop(lookups.begin(a, ReturnOutcome::Cancel).await.unwrap());
        assert!(lookups.begin(b, ReturnOutcome::Cancel).await.is_some());
        // A buyer who cancelled, went back and approved gets a fresh look.
        assert!(lookups.begin(a, ReturnOutcome::Ok).await.is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_requests_wait_for_the_one_in_flight_and_do_not_ask_again() {
        let lookups = Arc::new(ReturnLookups::new(Duration::from_secs(5)));
        let p = id();
        let asked = Arc::new(AtomicU32::new(0));
        let in_flight = Arc::new(AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (lookups, asked, in_flight) = (lookups.clone(), asked.clone(), in_flight.clone());
            tasks.push(tokio::spawn(async move {
                if let Some(_turn) = lookups.begin(p, ReturnOutcome::Ok).await {
                    assert_eq!(in_flight.fetch_add(1, Ordering::SeqCst), 0, "one at a time");
                    asked.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_secs(1)).await; // the provider call
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(asked.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lookup_slower_than_freshness_still_runs_alone() {
        let lookups = Arc::new(ReturnLookups::new(Duration::from_secs(5)));
        let p = id();
        let first = lookups.begin(p, ReturnOutcome::Ok).await.unwrap();
        let waiting = {
            let lookups = lookups.clone();
            tokio::spawn(async move { lookups.begin(p, ReturnOutcome::Ok).await.is_some() })
        };
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(!waiting.is_finished(), "waits while the first is in flight");
        drop(first);
        assert!(
            waiting.await.unwrap(),
            "then asks: the first answer is stale"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn stale_payments_are_forgotten() {
        let lookups = ReturnLookups::new(Duration::from_secs(5));
        for _ in 0..1_000 {
            drop(lookups.begin(id(), ReturnOutcome::Ok).await);
        }
        assert_eq!(lookups.tracked(), 1_000, "all fresh: all kept");
        tokio::time::advance(Duration::from_secs(6)).await;
        // The next sweep (when the map has doubled since the last) drops every stale one.
        for _ in 0..30 {
            drop(lookups.begin(id(), ReturnOutcome::Ok).await);
        }
        assert!(lookups.tracked() <= 30, "kept {}", lookups.tracked());
    }
}
