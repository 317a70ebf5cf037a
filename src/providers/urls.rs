//! The URLs of paygate's own HTTP port that adapters hand to providers: where to send signed
//! events (webhooks) and where to send the customer back (return pages).
//!
//! Built from `server.public_base_url` (or the bound HTTP address in development), so every
//! adapter spells them the same way and the HTTP router matches what was sent.

use crate::domain::{MerchantId, PaymentId, ProviderKind};
use std::fmt;
use std::str::FromStr;

/// What the provider's page said when it sent the customer back. It only picks which of the
/// shop's pages the customer lands on when paygate itself does not know yet; it never decides a
/// payment's outcome (a browser can be made to say anything).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnOutcome {
    /// The provider's "success" URL (CMI okUrl, PayPal return_url, mock approve).
    Ok,
    /// The provider's "failure" URL (CMI failUrl, mock decline).
    Fail,
    /// The customer gave up (PayPal cancel_url).
    Cancel,
}

impl ReturnOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Fail => "fail",
            Self::Cancel => "cancel",
        }
    }
}

impl FromStr for ReturnOutcome {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "ok" => Ok(Self::Ok),
            "fail" => Ok(Self::Fail),
            "cancel" => Ok(Self::Cancel),
            other => Err(format!("unknown return outcome {other:?}")),
        }
    }
}

impl fmt::Display for ReturnOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A customer's way back from the provider's page, as received: which URL (`outcome`) and the
/// raw query string and form body, which some providers sign (CMI) or fill with ids (PayPal).
#[derive(Debug, Clone)]
pub struct CustomerReturn {
    pub outcome: ReturnOutcome,
    pub query: String,
    pub form: bytes::Bytes,
}

/// paygate's public base URL, without a trailing slash.
#[derive(Debug, Clone)]
pub struct PublicUrls {
    base: String,
}

impl PublicUrls {
    /// `base` is `server.public_base_url`, e.g. `https://pay.example.ma/`.
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// `POST {base}/webhooks/{provider}/{merchant}`: signed events and callbacks.
    pub fn webhook(&self, provider: ProviderKind, merchant: &MerchantId) -> String {
        format!("{}/webhooks/{provider}/{merchant}", self.base)
    }

    /// `{base}/return/{provider}/{merchant}/{payment}/{outcome}`: the customer's way back.
    pub fn return_page(
        &self,
        provider: ProviderKind,
        merchant: &MerchantId,
        payment: PaymentId,
        outcome: ReturnOutcome,
    ) -> String {
        format!(
            "{}/return/{provider}/{merchant}/{payment}/{outcome}",
            self.base
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_built_under_the_base_without_double_slashes() {
        let urls = PublicUrls::new("https://pay.example.ma/");
        let merchant = MerchantId::parse("atlas-shop").unwrap();
        assert_eq!(
            urls.webhook(ProviderKind::Cmi, &merchant),
            "https://pay.example.ma/webhooks/cmi/atlas-shop"
        );
        let id = PaymentId::new();
        assert_eq!(
            urls.return_page(ProviderKind::Paypal, &merchant, id, ReturnOutcome::Cancel),
            format!("https://pay.example.ma/return/paypal/atlas-shop/{id}/cancel")
        );
    }

    #[test]
    fn outcomes_round_trip_and_unknown_ones_are_refused() {
        for o in [
            ReturnOutcome::Ok,
            ReturnOutcome::Fail,
            ReturnOutcome::Cancel,
        ] {
            assert_eq!(o.as_str().parse::<ReturnOutcome>().unwrap(), o);
        }
        assert!("approved".parse::<ReturnOutcome>().is_err());
    }
}
