//! How much history a payment document keeps: failed attempts beyond the last few are counted,
//! not kept, so the document (and every event and saved reply that copies it) stays bounded.

use super::Payment;
use crate::domain::ids::OperationId;
use crate::domain::operation::{Operation, OperationKind, OperationStatus};

/// How many failed or declined captures, voids and refunds a payment document keeps.
///
/// Every event and every saved idempotent reply copies the whole document, so a payment
/// hammered with refused captures would otherwise grow each copy without limit. A failed
/// attempt holds no money and decides no status; the last ones are kept for the caller to read.
pub const KEPT_FAILED_ATTEMPTS: usize = 10;

pub(super) fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Payment {
    /// Drops the oldest failed or declined captures, voids and refunds beyond
    /// [`KEPT_FAILED_ATTEMPTS`], counting them; never `keep` (the one just settled, which the
    /// caller's reply must show).
    pub(super) fn forget_old_failed_attempts(&mut self, keep: OperationId) {
        let failed = |o: &Operation| {
            o.kind != OperationKind::Authorize
                && matches!(
                    o.status,
                    OperationStatus::Failed | OperationStatus::Declined
                )
        };
        let count = self.operations.iter().filter(|o| failed(o)).count();
        let mut excess = count.saturating_sub(KEPT_FAILED_ATTEMPTS);
        if excess == 0 {
            return;
        }
        let mut dropped: u64 = 0;
        self.operations.retain(|o| {
            if excess > 0 && failed(o) && o.id != keep {
                excess -= 1;
                dropped += 1;
                return false;
            }
            true
        });
        self.earlier_failed_attempts = self.earlier_failed_attempts.saturating_add(dropped);
    }
}
