//! A paygate refund at PayPal: one Payments v2 refund per part, over the parts persisted when the
//! refund began (`domain::refund_parts`), and what their answers mean together.
//!
//! Part n is always sent to the same capture, for the same amount, with the request id
//! `{operation key}-{n}`, so a retry or the reconciler repeats exactly the first requests and
//! PayPal refunds each part once (it replays the first answer for a known request id, §4).

use super::adapter::Adapter;
use super::convert;
use super::outcomes::{Answer, classify, not_sent, paypal_amount, refused_outcome, unknown};
use super::wire::{Refund, RefundCapture, RefundStatus};
use crate::domain::{Failure, Money, Operation, OperationKind, Outcome, Payment, RefundPart};
use crate::providers::ProviderError;
use reqwest::Method;

/// PayPal's limit on `note_to_payer` (§3.3), in characters.
const NOTE_TO_PAYER_MAX: usize = 255;

impl Adapter {
    /// Sends the parts in order, newest capture first as they were decided.
    ///
    /// Until part 0 has been sent nothing can have moved, so its refusal is the operation's
    /// answer. From part 1 on, earlier parts may have refunded money: whatever goes wrong then
    /// (not sent, refused, failed) leaves the outcome unknown, never "not sent", so the key is
    /// not released for a retry that would start a second refund; the reconciler sends the same
    /// parts again until every one has an answer.
    pub async fn refund(&self, p: &Payment, op: &Operation) -> Result<Outcome, ProviderError> {
        let parts = p.refund_parts(op);
        if parts.iter().map(|r| r.minor).sum::<i64>() != op.amount.minor() {
            return Err(not_sent("no capture left to refund from"));
        }
        let mut ids = Vec::new();
        let mut pending = false;
        for (n, part) in parts.iter().enumerate() {
            let refund = match self.refund_part(p, op, n, part).await {
                Ok(Answer::Body(refund)) => refund,
                Ok(Answer::Refused(r)) if n == 0 => return refused_outcome(r),
                Ok(Answer::Refused(_)) => {
                    return Err(unknown("a later part of a split refund was refused"));
                }
                Err(ProviderError::NotSent { reason, .. }) if n > 0 => {
                    return Err(unknown(format!(
                        "part {n} of a split refund not sent after earlier parts were: {reason}"
                    )));
                }
                Err(e) => return Err(e),
            };
            if convert::from_amount(&refund.amount, op.amount.currency()) != Ok(Some(part.minor)) {
                tracing::error!(operation = %op.id, part = n, "PayPal refunded another amount than asked");
                return Err(unknown("refund amount mismatch in PayPal's answer"));
            }
            match refund.status {
                RefundStatus::Completed => {}
                RefundStatus::Pending => pending = true,
                RefundStatus::Failed | RefundStatus::Cancelled if n == 0 => {
                    return Ok(Outcome::Failed(Failure::new(
                        "refund_failed",
                        "PayPal did not refund",
                    )));
                }
                RefundStatus::Failed | RefundStatus::Cancelled => {
                    return Err(unknown("a later part of a split refund failed"));
                }
            }
            ids.push(refund.id);
        }
        if pending {
            return Ok(Outcome::Unknown);
        }
        Ok(Outcome::Succeeded {
            provider_reference: Some(ids.join(",")),
            expires_at: None,
        })
    }

    /// One `POST /v2/payments/captures/{id}/refund` (§3.3) for part `n`.
    async fn refund_part(
        &self,
        p: &Payment,
        op: &Operation,
        n: usize,
        part: &RefundPart,
    ) -> Result<Answer<Refund>, ProviderError> {
        let amount =
            Money::new(part.minor, op.amount.currency()).map_err(|e| not_sent(e.to_string()))?;
        let body = RefundCapture {
            amount: paypal_amount(amount)?,
            custom_id: p.id.to_string(),
            note_to_payer: note_to_payer(&op.reason),
        };
        let path = format!("/v2/payments/captures/{}/refund", part.capture_reference);
        let key = format!("{}-{n}", op.id.provider_key());
        let reply = self
            .api
            .call(Method::POST, &path, Some(&body), Some(&key))
            .await;
        classify(reply, OperationKind::Refund)
    }
}

/// The refund's reason as PayPal takes it: at most 255 characters, cut on a character boundary;
/// none when the merchant gave none.
fn note_to_payer(reason: &str) -> Option<String> {
    (!reason.is_empty()).then(|| reason.chars().take(NOTE_TO_PAYER_MAX).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_note_to_payer_is_cut_at_255_characters_on_a_character_boundary() {
        assert_eq!(note_to_payer(""), None);
        assert_eq!(note_to_payer("damaged").as_deref(), Some("damaged"));
        let long = "é".repeat(300);
        let note = note_to_payer(&long).unwrap_or_default();
        assert_eq!(note.chars().count(), 255);
        assert_eq!(note.len(), 510, "two bytes per é: no character is split");
    }
}
