//! How many `WatchEvents` streams each merchant holds open on this replica.
//!
//! Every open stream re-reads the event log after each commit, so the work a commit causes
//! grows with the number of streams; a merchant with a leaked reconnect loop could otherwise
//! open thousands. The count is per process: each replica enforces its own bound.

use crate::domain::MerchantId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The open-stream counts, shared by every `WatchEvents` call of this process.
#[derive(Clone)]
pub(crate) struct StreamSlots {
    max_per_merchant: usize,
    open: Arc<Mutex<HashMap<MerchantId, usize>>>,
}

/// One open stream; dropping it (the stream ended or the client went away) frees the slot.
pub(crate) struct StreamSlot {
    open: Arc<Mutex<HashMap<MerchantId, usize>>>,
    merchant: MerchantId,
}

impl StreamSlots {
    pub(crate) fn new(max_per_merchant: usize) -> Self {
        Self {
            max_per_merchant,
            open: Arc::default(),
        }
    }

    pub(crate) fn max_per_merchant(&self) -> usize {
        self.max_per_merchant
    }

    /// A slot for one more stream of `merchant`, or `None` when it holds the maximum.
    pub(crate) fn take(&self, merchant: &MerchantId) -> Option<StreamSlot> {
        // A panic while holding this lock cannot leave a count half-updated (each critical
        // section is one integer step), so a poisoned lock is still right to use.
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(merchant.clone()).or_insert(0);
        if *count >= self.max_per_merchant {
            return None;
        }
        *count += 1;
        Some(StreamSlot {
            open: self.open.clone(),
            merchant: merchant.clone(),
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.merchant) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                // Merchants come from configuration, but keep the map to the ones streaming.
                open.remove(&self.merchant);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_merchant_gets_at_most_its_slots_and_a_closed_stream_frees_one() {
        let slots = StreamSlots::new(2);
        let a = MerchantId::parse("atlas-shop").unwrap();
        let b = MerchantId::parse("other-shop").unwrap();
        let first = slots.take(&a).unwrap();
        let _second = slots.take(&a).unwrap();
        assert!(slots.take(&a).is_none());
        // Another merchant's streams are counted apart.
        assert!(slots.take(&b).is_some());
        drop(first);
        assert!(slots.take(&a).is_some());
    }
}
