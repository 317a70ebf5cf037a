//! How a refund is split over a payment's captures, for providers that refund one capture per
//! request rather than a payment (PayPal: `POST /v2/payments/captures/{id}/refund`).
//!
//! The rule: newest capture first, each capture giving what earlier refunds (still open, or
//! succeeded) have not already drawn from it. `Payment::begin` applies it once, when the refund
//! begins, and the parts are persisted with the operation before the first request. Deciding it
//! again later, from the payment as it is then, could send part n's request id to another capture
//! or with another amount (a capture or refund made meanwhile moves the newest-first order); the
//! provider rightly refuses that, or worse, refunds the wrong capture.

use super::ids::OperationId;
use super::operation::{Operation, OperationKind, OperationStatus};
use super::payment::{CaptureMode, Payment};
use serde::{Deserialize, Serialize};

/// One provider refund of a paygate refund: which capture, and how much of it. Part n of
/// operation `op` is sent with the request id `{op.id.provider_key()}-{n}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundPart {
    /// The provider's id of the capture (PayPal's capture id).
    pub capture_reference: String,
    /// In the payment's minor units, always above zero.
    pub minor: i64,
}

/// What is still refundable on each capture, oldest capture first.
struct Room(Vec<(String, i64)>);

impl Room {
    /// Takes `amount` newest capture first. Falls short when the captures hold less.
    fn take(&mut self, mut amount: i64) -> Vec<RefundPart> {
        let mut parts = Vec::new();
        for (capture, left) in self.0.iter_mut().rev() {
            if amount <= 0 {
                break;
            }
            let part = amount.min(*left);
            if part > 0 {
                *left -= part;
                amount -= part;
                parts.push(RefundPart {
                    capture_reference: capture.clone(),
                    minor: part,
                });
            }
        }
        parts
    }

    /// Removes exactly what persisted parts drew.
    fn draw(&mut self, parts: &[RefundPart]) {
        for part in parts {
            if let Some((_, left)) = self
                .0
                .iter_mut()
                .find(|(c, _)| *c == part.capture_reference)
            {
                *left = (*left - part.minor).max(0);
            }
        }
    }
}

impl Payment {
    /// The split of a new refund of `want` over the captures, after every refund already on
    /// the payment. Sums to less than `want` only when some capture has no provider id.
    pub(super) fn allocate_refund(&self, want: i64) -> Vec<RefundPart> {
        self.room_before(None).take(want)
    }

    /// The parts to send for refund `op`: those persisted when it began or, for a refund
    /// persisted before parts existed, the split recomputed from the history before it (which
    /// is how it was computed then).
    pub fn refund_parts(&self, op: &Operation) -> Vec<RefundPart> {
        if !op.parts.is_empty() {
            return op.parts.clone();
        }
        self.room_before(Some(op.id)).take(op.amount.minor())
    }

    /// What each capture holds once the operations before `stop` (all, with `None`) are
    /// replayed in order: a succeeded capture with the provider's id adds its amount (for an
    /// automatic payment, the one-step capture whose id the authorize operation keeps); a
    /// refund draws its parts. A failed or declined refund drew nothing; one still open may
    /// have, so it counts. A refund without parts (older documents, refunds made outside
    /// paygate) is taken to have drawn newest capture first from the captures before it, the
    /// rule it was made under.
    fn room_before(&self, stop: Option<OperationId>) -> Room {
        let capture = match self.capture_mode {
            CaptureMode::Automatic => OperationKind::Authorize,
            CaptureMode::Manual => OperationKind::Capture,
        };
        let mut room = Room(Vec::new());
        for op in self.operations.iter().take_while(|o| Some(o.id) != stop) {
            match (op.kind, op.status) {
                (kind, OperationStatus::Succeeded) if kind == capture => {
                    if let Some(reference) = &op.provider_reference {
                        room.0.push((reference.clone(), op.amount.minor()));
                    }
                }
                (OperationKind::Refund, OperationStatus::Failed | OperationStatus::Declined) => {}
                (OperationKind::Refund, _) if op.parts.is_empty() => {
                    room.take(op.amount.minor());
                }
                (OperationKind::Refund, _) => room.draw(&op.parts),
                _ => {}
            }
        }
        room
    }
}

#[cfg(test)]
#[path = "refund_parts_tests.rs"]
mod tests;
