//! CMI (Morocco's interbank processor, NestPay platform) in its 3D Pay Hosting model:
//! a signed form the customer's browser posts to CMI, a signed server-to-server callback, and
//! an XML API for capture, void, refund and status (specs/cmi.md).
mod client;
pub mod convert;
pub mod form;
#[cfg(test)]
mod fuzz_tests;
pub mod hash;
mod refund_match;
mod status;
pub mod webhook;
pub mod wire;

pub use client::CmiClient;

use crate::domain::{Capabilities, Operation, Outcome, Payment};
use crate::providers::ProviderError;
use crate::providers::urls::CustomerReturn;

/// Per specs/cmi.md §1: one PostAuth per pre-authorization (partial allowed; a second capture
/// is unverified, so refused), void before settlement, partial and repeated Credits. With one
/// capture allowed, every capture is final (`Payment::begin`): the rest of the authorization is
/// released, and the payment is CAPTURED for the amount taken.
pub const CAPABILITIES: Capabilities = Capabilities {
    partial_capture: true,
    multiple_captures: false,
    void: true,
    partial_refund: true,
    multiple_refunds: true,
    // A Credit refunds the order as a whole: no split to decide.
    refunds_per_capture: false,
    // 999,999,999.99 MAD: far above any card limit, well inside NestPay's amount field.
    max_minor: 99_999_999_999,
};

impl CmiClient {
    /// The browser came back through okUrl/failUrl. Its fields are checked (a forged post is
    /// logged and ignored) but never decide the outcome: CMI's ORDERSTATUS does.
    pub async fn customer_returned(
        &self,
        p: &Payment,
        op: &Operation,
        back: &CustomerReturn,
    ) -> Result<Option<Outcome>, ProviderError> {
        if !self.return_is_genuine(p, op, back) {
            return Ok(None);
        }
        self.status(p, op).await
    }

    /// Whether the return post is signed with the store key and names this operation's order.
    /// Local (no call to CMI), so the service checks it before spending a lookup on the post.
    pub fn return_is_genuine(&self, p: &Payment, op: &Operation, back: &CustomerReturn) -> bool {
        match self.verify_post(&back.form) {
            Ok(post) if post.oid() == convert::oid(op) => true,
            Ok(_) => {
                tracing::warn!(payment_id = %p.id, "CMI return post names another order; ignored");
                false
            }
            Err(rejection) => {
                tracing::warn!(payment_id = %p.id, %rejection, "CMI return post not verified; ignored");
                false
            }
        }
    }
}
