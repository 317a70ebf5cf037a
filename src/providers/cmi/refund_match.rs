//! Which credit in CMI's ORDERHISTORY, if any, is a given refund: decided on evidence, never by
//! counting credits (specs/cmi.md §6.3-6.4).
//!
//! A Credit request carries nothing of paygate's that CMI gives back: it sends `OrderId`,
//! `Total` and `Currency`, and an ORDERHISTORY line has no merchant field, only CMI's own
//! `TRANS_ID`, the amount and times. A refund made by hand in CMI's Merchant Center looks exactly
//! like one paygate sent. So the evidence is: the exact amount in minor units, the TransId CMI
//! returned for this request (when paygate recorded one), credits already attributed to other
//! refunds, and the credit's time against the refund's creation. Where that evidence does not
//! single out one credit that only this refund can claim, the answer is "ambiguous", for an
//! operator: recording money as refunded when it was not (or on the wrong refund) is worse
//! than waiting.

use super::wire::Trx;
use crate::domain::{Operation, OperationId, OperationKind, OperationStatus, Timestamp};

/// A credit whose wall-clock time is this much before the refund was created was made before
/// it under any time zone (UTC−12 to UTC+14) and clock error: it cannot be this refund's.
const SURELY_EARLIER_MICROS: i64 = 24 * 3_600 * 1_000_000;
/// How far CMI's clock may run behind paygate's. On Morocco's time (UTC+0/+1, §6.4) a credit
/// made after the refund was created never reads earlier than that minus this.
const CLOCK_TOLERANCE_MICROS: i64 = 5 * 60 * 1_000_000;

/// What ORDERHISTORY says about one refund operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RefundMatch {
    /// CMI applied it: this credit's `TRANS_ID`.
    Applied { trans_id: String },
    /// No credit can be this refund: CMI never applied it.
    NotApplied,
    /// Some credit could be this refund, but the evidence does not say which or whether.
    Ambiguous(Ambiguity),
}

/// Why a refund cannot be settled from the history, for the operator's log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Ambiguity {
    /// Several unattributed credits of exactly this amount.
    SeveralCandidates(usize),
    /// One credit of this amount, but another refund of the same amount could be it (open,
    /// or succeeded without a recorded TransId).
    CompetingRefund(OperationId),
    /// The one credit of this amount is dated before this refund was created, yet not so
    /// long before that CMI's unverified time zone could not explain it: most likely a
    /// Merchant Center refund, possibly this one.
    DatedBeforeTheRefund,
    /// A credit of this amount in a state paygate cannot read (`PN`, `R`, ...), whose two
    /// amount columns disagree, or without a TransId.
    UnreadableCredit,
    /// CMI returned a TransId for this request, but its history shows no such credit, or shows
    /// it with another amount.
    RecordedCreditNotShown,
}

impl std::fmt::Display for Ambiguity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SeveralCandidates(n) => write!(f, "{n} unattributed credits of this amount"),
            Self::CompetingRefund(id) => {
                write!(f, "refund {id} of the same amount could be this credit")
            }
            Self::DatedBeforeTheRefund => f.write_str(
                "the only credit of this amount is dated before the refund was created (a Merchant Center refund?)",
            ),
            Self::UnreadableCredit => f.write_str("a credit of this amount in an unreadable state"),
            Self::RecordedCreditNotShown => {
                f.write_str("the TransId CMI returned for this refund is not in its history as such")
            }
        }
    }
}

/// How one credit line stands against the refund, before looking at the other refunds.
enum Fit {
    /// Cannot be this refund (another amount, or attributed elsewhere, or long before it).
    No,
    /// Successful, this amount, and consistent in time with this refund.
    Candidate,
    /// Successful, this amount, but dated before the refund within the zone's margin.
    Earlier,
    /// This amount, but its state, amounts or TransId cannot be read.
    Unreadable,
}

/// Decides whether `op` (a refund of the payment whose operations are `ops`) is one of the
/// credits in `history`. Pure: no I/O, so every case is a unit test.
pub(super) fn match_refund(history: &[Trx], ops: &[Operation], op: &Operation) -> RefundMatch {
    let credits = history.iter().filter(|t| t.charge_type == "C");
    if let Some(recorded) = &op.provider_reference {
        return by_recorded_reference(credits, op, recorded);
    }
    let attributed = |trans_id: &str| {
        ops.iter().any(|o| {
            o.id != op.id
                && o.kind == OperationKind::Refund
                && o.status == OperationStatus::Succeeded
                && o.provider_reference.as_deref() == Some(trans_id)
        })
    };
    let mut candidates = Vec::new();
    let mut earlier = 0_usize;
    for credit in credits.filter(|c| !attributed(&c.trans_id)) {
        match fit(credit, op) {
            Fit::No => {}
            Fit::Candidate => candidates.push(credit),
            Fit::Earlier => earlier += 1,
            Fit::Unreadable => return RefundMatch::Ambiguous(Ambiguity::UnreadableCredit),
        }
    }
    let found = candidates.len() + earlier;
    if found > 1 {
        return RefundMatch::Ambiguous(Ambiguity::SeveralCandidates(found));
    }
    if earlier == 1 {
        return RefundMatch::Ambiguous(Ambiguity::DatedBeforeTheRefund);
    }
    let Some(credit) = candidates.first() else {
        return RefundMatch::NotApplied;
    };
    // Another refund of this amount may own the credit: one still open (unless CMI gave it
    // another TransId), or one that succeeded without CMI returning a TransId to record.
    let rival = ops.iter().find(|o| {
        let may_own = match o.status {
            OperationStatus::Pending | OperationStatus::Unknown => o
                .provider_reference
                .as_deref()
                .is_none_or(|r| r == credit.trans_id),
            OperationStatus::Succeeded => o.provider_reference.is_none(),
            OperationStatus::Declined | OperationStatus::Failed => false,
        };
        o.id != op.id && o.kind == OperationKind::Refund && o.amount == op.amount && may_own
    });
    if let Some(rival) = rival {
        return RefundMatch::Ambiguous(Ambiguity::CompetingRefund(rival.id));
    }
    RefundMatch::Applied {
        trans_id: credit.trans_id.clone(),
    }
}

/// CMI answered this very request with a TransId (kept on the operation): only that credit can
/// be it, and the amount must agree.
fn by_recorded_reference<'a>(
    mut credits: impl Iterator<Item = &'a Trx>,
    op: &Operation,
    recorded: &str,
) -> RefundMatch {
    let Some(credit) = credits.find(|c| c.trans_id == recorded) else {
        return RefundMatch::Ambiguous(Ambiguity::RecordedCreditNotShown);
    };
    let amounts_agree = credit.orig_amount == Some(op.amount.minor())
        && credit.capture_amount.is_none_or(|a| a == op.amount.minor());
    match credit.trans_stat.as_str() {
        "C" | "S" if amounts_agree => RefundMatch::Applied {
            trans_id: credit.trans_id.clone(),
        },
        "C" | "S" => RefundMatch::Ambiguous(Ambiguity::RecordedCreditNotShown),
        "D" | "ERR" | "V" | "CNCL" => RefundMatch::NotApplied,
        _ => RefundMatch::Ambiguous(Ambiguity::UnreadableCredit),
    }
}

fn fit(credit: &Trx, op: &Operation) -> Fit {
    let amount = op.amount.minor();
    let orig_fits = credit.orig_amount == Some(amount);
    let capture_fits = credit.capture_amount.is_none_or(|a| a == amount);
    if !orig_fits && credit.capture_amount != Some(amount) {
        return Fit::No;
    }
    let done = match credit.trans_stat.as_str() {
        "C" | "S" => true,
        // Failed or voided credits moved no money.
        "D" | "ERR" | "V" | "CNCL" => return Fit::No,
        _ => false,
    };
    // Without a TransId it could not be recorded, so it could be claimed again later.
    if !done || !orig_fits || !capture_fits || credit.trans_id.is_empty() {
        return Fit::Unreadable;
    }
    match credit.made_at_wall_clock {
        Some(at) if at < before(op.created_at, SURELY_EARLIER_MICROS) => Fit::No,
        Some(at) if at < before(op.created_at, CLOCK_TOLERANCE_MICROS) => Fit::Earlier,
        // After the refund was created, or undated: nothing rules it out.
        Some(_) | None => Fit::Candidate,
    }
}

fn before(t: Timestamp, micros: i64) -> Timestamp {
    Timestamp::from_micros(t.micros().saturating_sub(micros))
}

#[cfg(test)]
#[path = "refund_match_tests.rs"]
mod tests;
