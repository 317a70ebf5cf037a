//! WatchEvents: a stream over the store's event log after a sequence number.
//!
//! Subscribers read the durable log at their own pace, so a slow one holds nothing back: the
//! writer never waits for them. A commit wakes every waiting subscriber at once; a periodic
//! re-read also catches commits made by another process on the same database.

use super::PaymentService;
use super::stream_slots::StreamSlot;
use crate::domain::MerchantId;
use crate::error::AppError;
use crate::store::{Store, StoredEvent};
use futures::Stream;
use std::collections::VecDeque;
use std::time::Duration;

/// Rows read per query; also the most a subscriber buffers in memory.
const PAGE: u32 = 256;
/// Re-read at least this often even without a local commit (another replica may have written).
const POLL: Duration = Duration::from_secs(1);

struct Cursor {
    store: Store,
    merchant: MerchantId,
    last: i64,
    buffer: VecDeque<StoredEvent>,
    commits: tokio::sync::watch::Receiver<u64>,
    started: bool,
    failed: bool,
    /// Held for as long as the stream lives; dropped with it.
    _slot: StreamSlot,
}

impl PaymentService {
    /// The merchant's events with a sequence above `after`, then every new one as it commits.
    /// Ends only on a store error (reported as the last item) or when the store closes.
    /// `after = 0` starts at the oldest event kept; resuming from a sequence that retention has
    /// deleted is refused (`EventsPruned`), since the subscriber would silently miss events.
    /// A merchant already holding `[events] max_streams_per_merchant` streams on this replica
    /// is refused (`TooManyStreams`).
    pub async fn watch_events(
        &self,
        merchant: MerchantId,
        after: i64,
    ) -> Result<impl Stream<Item = Result<StoredEvent, AppError>> + Send + use<>, AppError> {
        let Some(slot) = self.streams.take(&merchant) else {
            let limit = self.streams.max_per_merchant();
            tracing::warn!(%merchant, limit, "WatchEvents refused: too many open streams");
            return Err(AppError::TooManyStreams { limit });
        };
        if after > 0 {
            let pruned_through = self.store.events_pruned_through().await?;
            if after < pruned_through {
                return Err(AppError::EventsPruned { pruned_through });
            }
        }
        let cursor = Cursor {
            store: self.store.clone(),
            merchant,
            last: after,
            buffer: VecDeque::new(),
            commits: self.store.commits(),
            started: false,
            failed: false,
            _slot: slot,
        };
        Ok(futures::stream::unfold(cursor, next_event))
    }
}

impl PaymentService {
    /// At most `limit` of the merchant's events above `after`, oldest first, without waiting
    /// for new ones; refused like [`PaymentService::watch_events`] below the retention line.
    pub async fn events_page(
        &self,
        merchant: &MerchantId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, AppError> {
        if after > 0 {
            let pruned_through = self.store.events_pruned_through().await?;
            if after < pruned_through {
                return Err(AppError::EventsPruned { pruned_through });
            }
        }
        Ok(self.store.events_after(merchant, after, limit).await?)
    }
}

async fn next_event(mut c: Cursor) -> Option<(Result<StoredEvent, AppError>, Cursor)> {
    if c.failed {
        return None;
    }
    loop {
        if let Some(event) = c.buffer.pop_front() {
            c.last = event.sequence;
            return Some((Ok(event), c));
        }
        // Mark the current commit as seen *before* reading, so a commit that lands between
        // the read and the wait still wakes us: no event can slip through.
        c.commits.borrow_and_update();
        // The first page sees everything written before the call; later ones follow the
        // commit notifications.
        let page = if c.started {
            c.store.tail_events(&c.merchant, c.last, PAGE).await
        } else {
            c.started = true;
            c.store.events_after(&c.merchant, c.last, PAGE).await
        };
        match page {
            Ok(page) if !page.is_empty() => c.buffer.extend(page),
            Ok(_) => {
                if let Ok(Err(_)) = tokio::time::timeout(POLL, c.commits.changed()).await {
                    return None; // the store closed: the service is stopping
                }
            }
            Err(e) => {
                c.failed = true;
                return Some((Err(e.into()), c));
            }
        }
    }
}
