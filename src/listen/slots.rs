//! The connection cap of one listener, and which connection gives way when it is reached.
//!
//! A full listener that simply refused newcomers would let a few thousand slow connections
//! lock out everyone else, the load balancer's `/readyz` probe included. So at the cap the
//! oldest connection with no request in flight (an idle keep-alive, or one that has not sent
//! a complete request yet: the slow ones) is closed to make room, and a newcomer is refused
//! only when every slot is busy serving a request.

use crate::telemetry::Metrics;
use futures::task::AtomicWaker;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::watch;
use tokio::time::Instant;

/// The open connections of one listener, oldest first, bounded by `cap`.
#[derive(Clone)]
pub(crate) struct Slots {
    shared: Arc<Shared>,
}

struct Shared {
    listener: &'static str,
    cap: usize,
    metrics: Arc<Metrics>,
    /// The number of live [`Slot`]s; [`Slots::closed`] waits for it to reach 0.
    open: watch::Sender<usize>,
    /// Every admitted connection in admission order; entries of closed ones are pruned lazily.
    order: Mutex<VecDeque<Weak<ConnState>>>,
}

/// What a connection shares with its listener: whether it is serving a request, and the
/// listener's order to close it.
pub(crate) struct ConnState {
    in_flight: AtomicUsize,
    /// When `in_flight` last dropped to 0 (or the connection opened).
    idle_since: Mutex<Instant>,
    evicted: AtomicBool,
    /// Woken on eviction, so a connection blocked on a read closes at once.
    waker: AtomicWaker,
}

/// A connection's place on its listener: dropping it (when the connection closes) frees it.
pub(crate) struct Slot {
    state: Arc<ConnState>,
    shared: Arc<Shared>,
}

/// Marks one request in flight on a connection, from its head until its response is sent.
pub(crate) struct InFlight(Arc<ConnState>);

impl Slots {
    pub(crate) fn new(listener: &'static str, cap: usize, metrics: Arc<Metrics>) -> Self {
        let (open, _) = watch::channel(0);
        Self {
            shared: Arc::new(Shared {
                listener,
                cap: cap.max(1),
                metrics,
                open,
                order: Mutex::new(VecDeque::new()),
            }),
        }
    }

    pub(crate) fn listener(&self) -> &'static str {
        self.shared.listener
    }

    pub(crate) fn metrics(&self) -> &Arc<Metrics> {
        &self.shared.metrics
    }

    /// A slot for a newly accepted connection, or `None`: refuse it (close it at once).
    ///
    /// At the cap the oldest idle connection is evicted and the newcomer admitted; evicted
    /// connections close within a scheduler turn, so the count may pass the cap by the few
    /// still closing, never by more than an eighth of it.
    pub(crate) fn admit(&self) -> Option<Slot> {
        let shared = &self.shared;
        let mut order = shared.order.lock().unwrap_or_else(|e| e.into_inner());
        let open = *shared.open.borrow();
        if open >= shared.cap {
            let slack = shared.cap / 8 + 1;
            if open >= shared.cap + slack || !evict_oldest_idle(&mut order) {
                shared.metrics.connection_refused(shared.listener);
                return None;
            }
            shared.metrics.connection_closed(shared.listener, "evicted");
        }
        let state = Arc::new(ConnState {
            in_flight: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
            evicted: AtomicBool::new(false),
            waker: AtomicWaker::new(),
        });
        // Closed connections leave dead entries behind; sweep them once they dominate.
        if order.len() > 2 * open + 64 {
            order.retain(|entry| entry.strong_count() > 0);
        }
        order.push_back(Arc::downgrade(&state));
        shared.open.send_modify(|n| *n += 1);
        shared.metrics.connection_open(shared.listener, 1);
        Some(Slot {
            state,
            shared: shared.clone(),
        })
    }

    /// Resolves once every admitted connection has closed (graceful shutdown).
    pub(crate) async fn closed(&self) {
        let mut open = self.shared.open.subscribe();
        let _ = open.wait_for(|n| *n == 0).await;
    }
}

/// Marks the oldest live connection with nothing in flight for closing; false if none.
fn evict_oldest_idle(order: &mut VecDeque<Weak<ConnState>>) -> bool {
    while order.front().is_some_and(|entry| entry.strong_count() == 0) {
        order.pop_front();
    }
    for entry in order.iter() {
        let Some(state) = entry.upgrade() else {
            continue;
        };
        if state.in_flight.load(Ordering::Acquire) == 0 && !state.evicted.load(Ordering::Acquire) {
            state.evicted.store(true, Ordering::Release);
            state.waker.wake();
            return true;
        }
    }
    false
}

impl Slot {
    pub(crate) fn state(&self) -> &Arc<ConnState> {
        &self.state
    }

    pub(crate) fn listener(&self) -> &'static str {
        self.shared.listener
    }

    pub(crate) fn metrics(&self) -> &Arc<Metrics> {
        &self.shared.metrics
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.shared.open.send_modify(|n| *n = n.saturating_sub(1));
        self.shared
            .metrics
            .connection_open(self.shared.listener, -1);
    }
}

impl ConnState {
    /// Counts a request in flight until the returned guard is dropped.
    pub(crate) fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    pub(crate) fn is_evicted(&self) -> bool {
        self.evicted.load(Ordering::Acquire)
    }

    pub(crate) fn register(&self, waker: &std::task::Waker) {
        self.waker.register(waker);
    }

    /// `Some(since)` while nothing is in flight: the instant the connection became idle.
    pub(crate) fn idle_since(&self) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        Some(*self.idle_since.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            *self.0.idle_since.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn slots(cap: usize) -> Slots {
        Slots::new("http", cap, Arc::new(Metrics::new()))
    }

    #[tokio::test]
    async fn at_the_cap_the_oldest_idle_connection_gives_way() {
        let slots = slots(2);
        let first = slots.admit().unwrap();
        let second = slots.admit().unwrap();
        let _busy = first.state().begin();
        let third = slots.admit().expect("the idle one gives way");
        assert!(!first.state().is_evicted(), "busy: kept");
        assert!(second.state().is_evicted(), "oldest idle: evicted");
        assert!(!third.state().is_evicted());
        drop(second);
        let text = slots.metrics().render().unwrap();
        assert!(
            text.contains(
                "paygate_connections_closed_total{listener=\"http\",reason=\"evicted\"} 1"
            ),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_full_listener_of_busy_connections_refuses() {
        let slots = slots(2);
        let a = slots.admit().unwrap();
        let b = slots.admit().unwrap();
        let (_x, _y) = (a.state().begin(), b.state().begin());
        assert!(slots.admit().is_none());
        let text = slots.metrics().render().unwrap();
        assert!(
            text.contains("paygate_connections_refused_total{listener=\"http\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("paygate_connections_open{listener=\"http\"} 2"),
            "{text}"
        );
        drop(a);
        let _c = slots.admit().expect("a closed connection frees its slot");
    }

    #[tokio::test]
    async fn a_request_ending_makes_the_connection_idle_again() {
        let slots = slots(4);
        let slot = slots.admit().unwrap();
        let guard = slot.state().begin();
        assert!(slot.state().idle_since().is_none());
        drop(guard);
        assert!(slot.state().idle_since().is_some());
    }
}
