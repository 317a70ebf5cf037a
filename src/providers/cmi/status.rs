//! What CMI did, read back through ORDERSTATUS and ORDERHISTORY: the reconciler's question, the
//! browser return's check, and the answer to a lost or refused API call (specs/cmi.md §6.3-6.4).

use super::client::{CmiClient, order_id, unknown};
use super::convert;
use super::wire::{ApiRequest, Trx};
use crate::domain::{CaptureMode, Operation, OperationKind, OperationStatus, Outcome, Payment};
use crate::providers::ProviderError;

impl CmiClient {
    /// What CMI did for `op`: from ORDERSTATUS (the order's latest transaction), or
    /// ORDERHISTORY for refunds, where several credits may exist. `None`: CMI never did it.
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

    /// A refund happened if CMI shows more successful credits than paygate has recorded.
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
        let credits: Vec<Trx> = answer
            .history()
            .map_err(|e| unknown(format!("ORDERHISTORY: {e}")))?
            .into_iter()
            .filter(|t| t.charge_type == "C" && matches!(t.trans_stat.as_str(), "C" | "S"))
            .collect();
        let recorded = p
            .operations
            .iter()
            .filter(|o| {
                o.kind == OperationKind::Refund
                    && o.id != op.id
                    && o.status == OperationStatus::Succeeded
            })
            .count();
        Ok(if credits.len() > recorded {
            Some(Outcome::Succeeded {
                provider_reference: credits.last().map(|t| t.trans_id.clone()),
                expires_at: None,
            })
        } else {
            None
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
