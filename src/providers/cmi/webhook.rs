//! CMI's server-to-server callback and the browser's okUrl/failUrl post (specs/cmi.md §5):
//! verified over the raw body first, then read against the payment it names.

use super::client::CmiClient;
use super::form::{self, Field};
use super::{convert, hash};
use crate::domain::{Operation, Outcome, Payment};

/// A CMI post whose `HASH` checked out with this merchant's store key. Only
/// [`CmiClient::verify_post`] builds one, so nothing downstream can read unchecked fields.
#[derive(Debug)]
pub struct VerifiedPost {
    fields: Vec<Field>,
}

/// Why a post was not verified.
#[derive(Debug, thiserror::Error)]
pub enum PostRejection {
    /// Not a form CMI could have signed unambiguously (repeated names, bad escapes).
    #[error("malformed form body: {0}")]
    Malformed(#[from] form::FormError),
    /// Missing, repeated or wrong `HASH`.
    #[error("HASH missing or wrong")]
    Signature,
}

/// A verified post that does not fit the payment it names: answered `FAILURE`, nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum Mismatch {
    #[error("clientid is not this merchant's")]
    ClientId,
    #[error("oid does not name this payment's attempt")]
    Oid,
    #[error("amount differs from the payment's")]
    Amount,
    #[error("currency differs from the payment's")]
    Currency,
}

/// What a verified callback says about the attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub outcome: Outcome,
    /// `(merchant, oid, ProcReturnCode, TransId)` (§5.5): an exact repeat is a duplicate, a new
    /// attempt on the same `oid` is not.
    pub dedupe_key: String,
    pub approved: bool,
    /// 3-D Secure result, recorded in the log only: CMI decides on it, paygate does not (§5.4).
    pub md_status: String,
}

impl VerifiedPost {
    /// A field as text (exact name); empty if absent or not UTF-8.
    pub fn get(&self, name: &str) -> &str {
        form::get(&self.fields, name).unwrap_or_default()
    }

    /// The attempt's order id.
    pub fn oid(&self) -> &str {
        self.get("oid")
    }
}

impl CmiClient {
    /// Decodes and verifies `body` over all received fields (never a whitelist: §11 pitfall 6).
    /// On a mismatch only the field names are logged, never values, `HASH` or the key.
    pub fn verify_post(&self, body: &[u8]) -> Result<VerifiedPost, PostRejection> {
        let fields = form::decode(body)?;
        if !hash::verify(&fields, self.store_key.expose().as_bytes()) {
            tracing::warn!(merchant = %self.merchant, fields = %form::names(&fields), "CMI post failed the ver3 hash check");
            return Err(PostRejection::Signature);
        }
        Ok(VerifiedPost { fields })
    }

    /// Checks a verified post against the payment and its authorize operation (§5.2 steps
    /// 3-6) and reads the attempt's result.
    pub fn read_attempt(
        &self,
        post: &VerifiedPost,
        payment: &Payment,
        op: &Operation,
    ) -> Result<Attempt, Mismatch> {
        if post.get("clientid") != self.client_id {
            return Err(Mismatch::ClientId);
        }
        let oid = post.oid();
        if oid != convert::oid(op) {
            return Err(Mismatch::Oid);
        }
        let currency = payment.amount.currency();
        if post.get("currency") != currency.numeric().to_string() {
            return Err(Mismatch::Currency);
        }
        if convert::parse_amount(post.get("amount"), currency) != Some(payment.amount.minor()) {
            return Err(Mismatch::Amount);
        }
        let code = post.get("ProcReturnCode");
        let approved = code == "00" && post.get("Response") == "Approved";
        let outcome = if approved {
            Outcome::Succeeded {
                provider_reference: Some(oid.to_owned()),
                expires_at: None,
            }
        } else {
            convert::refusal(
                code,
                post.get("Response"),
                post.get("ErrMsg"),
                post.get("mdStatus"),
            )
        };
        Ok(Attempt {
            outcome,
            dedupe_key: format!(
                "{}:{oid}:{code}:{}:{}",
                self.merchant,
                post.get("TransId"),
                post.get("Response")
            ),
            approved,
            md_status: post.get("mdStatus").chars().take(4).collect(),
        })
    }
}
