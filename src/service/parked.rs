//! The `paygate_webhook_events_parked` gauge: provider events reporting money moved that the
//! ledger could not take yet (see `domain/external.rs`). It is a count read from the shared
//! database, like `paygate_operations_unresolved`, so every replica shows the same number; the
//! reconciler refreshes it on each pass, and a webhook that parks an event refreshes it at once.

use super::PaymentService;

impl PaymentService {
    /// A failed count leaves the last value: the next pass tries again.
    pub(super) async fn refresh_parked_gauge(&self) {
        match self.store.count_parked().await {
            Ok(n) => self.metrics.set_parked(n),
            Err(e) => tracing::warn!(error = %e, "cannot count parked provider events"),
        }
    }
}
