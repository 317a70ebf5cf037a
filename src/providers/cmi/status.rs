//! What CMI did, read back through ORDERSTATUS and ORDERHISTORY: the reconciler's question, the
//! browser return's check, and the answer to a lost or refused API call (specs/cmi.md §6.3-6.4).

use super::client::{CmiClient, order_id, unknown};
use super::convert;
use super::refund_match::{RefundMatch, match_refund};
use super::wire::{ApiRequest, Trx};
use crate::domain::{CaptureMode, Operation, OperationKind, Outcome, Payment, ProviderKind};
use crate::providers::ProviderError;

impl CmiClient {
    /// What CMI did for `op`: from ORDERSTATUS (the order's latest transaction), or
    /// ORDERHISTORY for refunds, where several credits may exist. `None`: CMI never did it;
    /// `Some(Unknown)`: not final yet.
    pub async fn status(
        &self,
        p: &Payment,
        op: &Operation,
    ) -> Result<Option<Outcome>, ProviderError> {
        let oid = match op.kind {
            OperationKind::Authorize => convert::oid(op),
            _ => order_id(p)?,
        };
        if op.kind == OperationKind::Refund {
            return self.refund_status(p, op, &oid).await;
        }
        let latest = self.order_status(&oid).await?;
        let Some(trx) = latest else {
            return Ok(match op.kind {
                // The customer may still be on CMI's page: not an answer yet.
                OperationKind::Authorize => Some(Outcome::Unknown),
                _ => None,
            });
        };
        let stat = trx.trans_stat.as_str();
        let succeeded = Outcome::Succeeded {
            provider_reference: Some(match op.kind {
                OperationKind::Authorize => oid.clone(),
                _ => trx.trans_id.clone(),
            }),
            expires_at: None,
        };
        Ok(Some(match (op.kind, stat) {
            (OperationKind::Authorize, "A" | "C" | "S") => {
                if trx.orig_amount != Some(op.amount.minor()) {
                    tracing::error!(operation = %op.id, "CMI reports another amount for this order");
                    return Err(unknown("amount mismatch in ORDERSTATUS".into()));
                }
                // An automatic-capture payment settles as captured: an open PreAuth (`A`) is
                // not that. Its callback (answered ACTION=POSTAUTH) may still come; if it never
                // does, someone must capture it in CMI's Merchant Center.
                if p.capture_mode == CaptureMode::Automatic && stat == "A" {
                    tracing::error!(operation = %op.id, "CMI holds an uncaptured pre-authorization for an automatic-capture payment whose callback has not arrived; operator attention needed if it does not");
                    return Ok(Some(Outcome::Unknown));
                }
                succeeded
            }
            (OperationKind::Authorize, "D") => {
                convert::refusal(&trx.proc_return_code, "Declined", "", "")
            }
            (OperationKind::Authorize, "ERR") => {
                convert::refusal(&trx.proc_return_code, "Error", "", "")
            }
            (OperationKind::Capture, "C" | "S") => {
                if trx.capture_amount != Some(op.amount.minor()) {
                    tracing::error!(operation = %op.id, "CMI reports another captured amount");
                    return Err(unknown("captured amount mismatch in ORDERSTATUS".into()));
                }
                succeeded
            }
            (OperationKind::Capture, "A" | "V" | "CNCL" | "D") => return Ok(None),
            (OperationKind::Void, "V" | "CNCL") => succeeded,
            (OperationKind::Void, "A" | "C" | "S") => return Ok(None),
            _ => {
                tracing::error!(operation = %op.id, trans_stat = stat, "CMI order in a state paygate cannot read; operator attention needed");
                Outcome::Unknown
            }
        }))
    }

    /// Whether CMI applied this refund, from ORDERHISTORY, matched by evidence
    /// ([`match_refund`]): `None` when no credit can be it. A history that cannot single out
    /// its credit is not final (`Unknown`): logged for an operator and counted, never guessed.
    ///
    /// Right after a lost Credit, `p` is the snapshot taken when the refund began, so a refund
    /// of the same payment created later is missing from it. That can only hand a credit to
    /// the wrong one of two refunds of the same amount (the later one sees the earlier as a
    /// rival), never count one credit twice; the reconciler always reads the payment afresh.
    async fn refund_status(
        &self,
        p: &Payment,
        op: &Operation,
        oid: &str,
    ) -> Result<Option<Outcome>, ProviderError> {
        let answer = self
            .call(&ApiRequest::OrderHistory { oid })
            .await
            .map_err(|e| unknown(e.reason()))?;
        let history = answer
            .history()
            .map_err(|e| unknown(format!("ORDERHISTORY: {e}")))?;
        Ok(match match_refund(&history, &p.operations, op) {
            RefundMatch::Applied { trans_id } => Some(Outcome::Succeeded {
                provider_reference: Some(trans_id),
                expires_at: None,
            }),
            RefundMatch::NotApplied => None,
            RefundMatch::Ambiguous(why) => {
                self.metrics.reconcile_ambiguous(ProviderKind::Cmi.as_str());
                tracing::error!(
                    operation = %op.id,
                    payment_id = %p.id,
                    order_id = oid,
                    reason = %why,
                    "CMI's order history cannot tell whether this refund was applied; left unresolved: check the order's credits in CMI's Merchant Center"
                );
                Some(Outcome::Unknown)
            }
        })
    }

    /// ORDERSTATUS: the order's latest transaction, `None` when CMI has no record of it.
    pub(super) async fn order_status(&self, oid: &str) -> Result<Option<Trx>, ProviderError> {
        let answer = self
            .call(&ApiRequest::OrderStatus { oid })
            .await
            .map_err(|e| unknown(e.reason()))?;
        Ok(answer.order_status())
    }
}
