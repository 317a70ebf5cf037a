//! CMI's server-to-server callback (specs/cmi.md §5): verify over the raw body, check the
//! attempt against the ledger, then record the attempt and settle the authorization in one
//! transaction. The answer is one of CMI's keywords, decided here.
//!
//! With automatic capture and `callback_reply = "postauth_when_automatic"`, a success is
//! answered `ACTION=POSTAUTH`: the payment becomes AUTHORIZED with a capture PENDING, never
//! CAPTURED on paygate's word alone.
//!
//! Several callbacks may arrive for one `oid`: failed attempts, then the customer's success on
//! the same page. Each distinct attempt is recorded once; a failure settles the payment as
//! DECLINED, a later success reopens and authorizes it, and nothing ever moves an authorized
//! payment back (DESIGN.md §4).

use super::PaymentService;
use crate::domain::{CaptureMode, MerchantId, OperationKind, ProviderKind, Timestamp};
use crate::providers::AnyProvider;
use crate::providers::cmi::webhook::PostRejection;
use crate::store::{WebhookWritten, Write, Written};

/// CMI's reply keywords (§5.3). `ACTION=POSTAUTH` answers a successful PreAuth of a payment in
/// automatic capture: CMI captures it, and the reconciler confirms that from ORDERSTATUS.
pub const APPROVED: &str = "APPROVED";
pub const POSTAUTH: &str = "ACTION=POSTAUTH";
pub const FAILURE: &str = "FAILURE";

/// The keyword to send, the HTTP status, and the `paygate_webhooks_total` result label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CmiReply {
    pub keyword: &'static str,
    pub http_status: u16,
    pub result: &'static str,
}

impl CmiReply {
    fn failure(http_status: u16, result: &'static str) -> Self {
        Self {
            keyword: FAILURE,
            http_status,
            result,
        }
    }
}

impl PaymentService {
    /// `None` when the merchant does not have CMI enabled.
    #[tracing::instrument(name = "cmi_callback", skip_all, fields(%merchant, payment_id = tracing::field::Empty))]
    pub async fn cmi_callback(&self, merchant: &MerchantId, body: &[u8]) -> Option<CmiReply> {
        let Some(AnyProvider::Cmi(cmi)) = self.providers.get(merchant, ProviderKind::Cmi) else {
            return None;
        };
        let post = match cmi.verify_post(body) {
            Ok(post) => post,
            Err(PostRejection::Signature) => {
                return Some(CmiReply::failure(401, "rejected_signature"));
            }
            Err(e @ PostRejection::Malformed(_)) => {
                tracing::warn!(error = %e, "CMI callback rejected");
                return Some(CmiReply::failure(400, "rejected_malformed"));
            }
        };
        let found = self
            .store
            .payment_by_provider_reference(merchant, ProviderKind::Cmi, post.oid())
            .await;
        let payment = match found {
            Ok(Some(p)) => p,
            Ok(None) => {
                tracing::error!(
                    "verified CMI callback for an order paygate does not know; operator attention needed"
                );
                return Some(CmiReply::failure(200, "ignored"));
            }
            Err(e) => {
                tracing::error!(error = %e, "CMI callback not recorded: database unavailable");
                return Some(CmiReply::failure(503, "ignored"));
            }
        };
        tracing::Span::current().record("payment_id", tracing::field::display(payment.id));
        let Some(op) = payment
            .operations
            .iter()
            .find(|o| o.kind == OperationKind::Authorize)
        else {
            return Some(CmiReply::failure(500, "ignored"));
        };
        let attempt = match cmi.read_attempt(&post, &payment, op) {
            Ok(a) => a,
            Err(mismatch) => {
                tracing::error!(%mismatch, "verified CMI callback does not match the payment; not applied, operator attention needed");
                return Some(CmiReply::failure(200, "rejected_malformed"));
            }
        };
        // Decided from the signed TranType, so the keyword does not depend on configuration
        // changed since the form was made, and a repeat gets the same answer as the first.
        let capture_pending = attempt.approved
            && payment.capture_mode == CaptureMode::Automatic
            && post.get("TranType") == "PreAuth";
        let job = Write::ApplyCallback {
            provider: ProviderKind::Cmi,
            event_id: attempt.dedupe_key,
            merchant: merchant.clone(),
            payment_id: payment.id,
            operation: op.id,
            outcome: attempt.outcome,
            reopen_declined: true,
            capture_pending,
            now: Timestamp::now(),
        };
        let result = match self.store.write(job).await {
            Ok(Written::Webhook(WebhookWritten::Applied(p))) => {
                tracing::info!(
                    approved = attempt.approved,
                    md_status = %attempt.md_status,
                    status = p.status.as_str(),
                    "CMI callback applied"
                );
                "applied"
            }
            Ok(Written::Webhook(WebhookWritten::Ignored)) => {
                tracing::info!(
                    approved = attempt.approved,
                    md_status = %attempt.md_status,
                    "CMI callback recorded; the payment had already settled"
                );
                "ignored"
            }
            Ok(Written::Webhook(WebhookWritten::Duplicate)) => "duplicate",
            Ok(other) => {
                tracing::error!(written = ?other, "unexpected store answer to a CMI callback");
                return Some(CmiReply::failure(500, "ignored"));
            }
            Err(e) => {
                tracing::error!(error = %e, "CMI callback not recorded");
                return Some(CmiReply::failure(503, "ignored"));
            }
        };
        // A refusal is acknowledged too: CMI's page may let the customer try again.
        Some(CmiReply {
            keyword: if capture_pending { POSTAUTH } else { APPROVED },
            http_status: 200,
            result,
        })
    }
}
