//! Starting an operation: whether the payment's state and the provider allow it, how much of the
//! payment it reserves and, for a refund, how it is split over the captures. Kept apart from the
//! state machine in `payment.rs`, whose private helpers it shares as a child module.

use super::{Payment, Refusal};
use crate::domain::money::Money;
use crate::domain::operation::{Operation, OperationKind, OperationStatus};
use crate::domain::provider::Capabilities;
use crate::domain::timestamp::Timestamp;

impl Payment {
    /// Checks that `kind` may start now and returns the operation to persist before calling the
    /// provider. Its amount is reserved from that moment: two concurrent refunds cannot both
    /// see the same refundable balance, because the second one sees the first as in flight.
    ///
    /// A refund keeps `reason` (the merchant's words, sent to providers that take one). Where
    /// the provider refunds captures rather than payments (`caps.refunds_per_capture`), the
    /// refund's split over the captures is decided here and persisted with the operation, in
    /// the same transaction, so every later send of it (retry, reconciler) repeats exactly these
    /// parts whatever happens to the payment meanwhile.
    pub fn begin(
        &self,
        kind: OperationKind,
        requested: Option<Money>,
        final_capture: bool,
        reason: &str,
        caps: Capabilities,
        now: Timestamp,
    ) -> Result<Operation, Refusal> {
        let provider = self.provider.as_str();
        if let Some(m) = requested
            && m.currency() != self.amount.currency()
        {
            return Err(Refusal::CurrencyMismatch {
                requested: m.currency().code(),
                payment: self.amount.currency().code(),
            });
        }
        let in_flight_void = self.has(OperationKind::Void, OperationStatus::Pending);
        let invalid = || Refusal::InvalidState {
            status: self.status.as_str(),
            op: kind,
        };
        if !self.status.allows(kind) || in_flight_void {
            return Err(invalid());
        }
        let fmt = |minor: i64| self.fmt_minor(minor);
        let mut parts = Vec::new();
        let amount = match kind {
            OperationKind::Authorize => return Err(invalid()),
            OperationKind::Capture => {
                let available = self.capturable();
                let want = requested.map_or(available, Money::minor);
                if available <= 0 || want > available {
                    return Err(Refusal::ExceedsCapturable {
                        requested: fmt(want),
                        available: fmt(available.max(0)),
                    });
                }
                if want < self.amount.minor() - self.captured && !caps.partial_capture {
                    return Err(Refusal::NotSupported {
                        provider,
                        what: "partial capture",
                    });
                }
                if self.captured > 0 && !caps.multiple_captures {
                    return Err(Refusal::NotSupported {
                        provider,
                        what: "several captures",
                    });
                }
                want
            }
            OperationKind::Void => {
                if !caps.void {
                    return Err(Refusal::NotSupported {
                        provider,
                        what: "void",
                    });
                }
                if self.captured > 0 || self.sum_open(OperationKind::Capture) > 0 {
                    return Err(invalid());
                }
                self.amount.minor()
            }
            OperationKind::Refund => {
                let available = self.refundable();
                let want = requested.map_or(available, Money::minor);
                if available <= 0 || want > available {
                    return Err(Refusal::ExceedsRefundable {
                        requested: fmt(want),
                        available: fmt(available.max(0)),
                    });
                }
                if want < self.captured - self.refunded && !caps.partial_refund {
                    return Err(Refusal::NotSupported {
                        provider,
                        what: "partial refund",
                    });
                }
                if self.refunded > 0 && !caps.multiple_refunds {
                    return Err(Refusal::NotSupported {
                        provider,
                        what: "several refunds",
                    });
                }
                if caps.refunds_per_capture {
                    parts = self.allocate_refund(want);
                    let covered: i64 = parts.iter().map(|p| p.minor).sum();
                    // Only captures the provider gave an id for can be refunded: refuse now,
                    // before anything is reserved or sent, rather than fail at the provider.
                    if covered != want {
                        return Err(Refusal::ExceedsRefundable {
                            requested: fmt(want),
                            available: fmt(covered),
                        });
                    }
                }
                want
            }
        };
        let amount =
            Money::new(amount, self.amount.currency()).map_err(|_| Refusal::ExceedsCapturable {
                requested: fmt(amount),
                available: fmt(0),
            })?;
        // A provider that takes one capture per authorization (CMI: one PostAuth) releases the
        // rest of the authorization with it, so every capture there is final: a partial one
        // leaves the payment CAPTURED for what it took, not PARTIALLY_CAPTURED for ever.
        let final_capture =
            kind == OperationKind::Capture && (final_capture || !caps.multiple_captures);
        let mut op = Operation::new(kind, amount, final_capture, now);
        if kind == OperationKind::Refund {
            op.parts = parts;
            op.reason = reason.to_owned();
        }
        Ok(op)
    }
}
