//! Payment providers: one adapter per processor behind a closed enum, and the per-merchant
//! registry that decides which adapters a merchant may use.

pub mod cmi;
pub mod http_client;
pub mod mock;
pub mod paypal;
pub mod registry;
pub mod urls;
pub mod webhook;

use crate::domain::{
    AuthorizeCommand, Capabilities, MerchantId, Money, Operation, Outcome, Payment, ProviderKind,
};
use bytes::Bytes;
use reqwest::header::HeaderMap;
use std::collections::HashMap;
use webhook::{VerifiedWebhook, WebhookRejection};

/// A failed exchange with a provider, typed by whether money could have moved.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Nothing reached the processor, or it refused before acting: UNAVAILABLE, safe to retry.
    #[error("request not delivered to {provider}: {reason}")]
    NotSent {
        provider: ProviderKind,
        reason: String,
    },
    /// Sent, but no usable answer: the operation becomes UNKNOWN and the reconciler settles it.
    #[error("outcome unknown at {provider}: {reason}")]
    OutcomeUnknown {
        provider: ProviderKind,
        reason: String,
    },
    /// The provider refused because of the payment's state on its side, and certainly did
    /// nothing: the operation fails with `failure`, its key is released (the caller may retry
    /// later, e.g. after settlement), and the RPC answers FAILED_PRECONDITION with `refusal`.
    #[error("refused by {provider}: {refusal}")]
    Refused {
        provider: ProviderKind,
        refusal: Box<crate::domain::Refusal>,
        failure: Box<crate::domain::Failure>,
    },
}

/// The closed set of adapters; a `match` per operation keeps every provider's case in view.
pub enum AnyProvider {
    Mock(mock::MockClient),
    Cmi(cmi::CmiClient),
    Paypal(Box<paypal::PaypalClient>),
}

impl AnyProvider {
    pub fn kind(&self) -> ProviderKind {
        match self {
            Self::Mock(_) => ProviderKind::Mock,
            Self::Cmi(_) => ProviderKind::Cmi,
            Self::Paypal(_) => ProviderKind::Paypal,
        }
    }

    pub fn capabilities(&self) -> Capabilities {
        match self {
            Self::Mock(_) => mock::CAPABILITIES,
            Self::Cmi(_) => cmi::CAPABILITIES,
            Self::Paypal(_) => paypal::CAPABILITIES,
        }
    }

    pub async fn authorize(
        &self,
        p: &Payment,
        op: &Operation,
        cmd: &AuthorizeCommand,
    ) -> Result<Outcome, ProviderError> {
        match self {
            Self::Mock(c) => c.authorize(p, op, cmd).await,
            Self::Cmi(c) => Ok(c.authorize(p, op, cmd)),
            Self::Paypal(c) => c.authorize(p, op, cmd).await,
        }
    }

    pub async fn capture(&self, p: &Payment, op: &Operation) -> Result<Outcome, ProviderError> {
        match self {
            Self::Mock(c) => c.capture(p, op).await,
            Self::Cmi(c) => c.capture(p, op).await,
            Self::Paypal(c) => c.capture(p, op).await,
        }
    }

    pub async fn void(&self, p: &Payment, op: &Operation) -> Result<Outcome, ProviderError> {
        match self {
            Self::Mock(c) => c.void(p, op).await,
            Self::Cmi(c) => c.void(p, op).await,
            Self::Paypal(c) => c.void(p, op).await,
        }
    }

    pub async fn refund(&self, p: &Payment, op: &Operation) -> Result<Outcome, ProviderError> {
        match self {
            Self::Mock(c) => c.refund(p, op).await,
            Self::Cmi(c) => c.refund(p, op).await,
            Self::Paypal(c) => c.refund(p, op).await,
        }
    }

    /// Checks a webhook sent to this merchant's route over the raw `body`, before anything
    /// parses it.
    pub fn verify_webhook(
        &self,
        merchant: &MerchantId,
        headers: &HeaderMap,
        body: Bytes,
        now_unix: i64,
    ) -> Result<VerifiedWebhook, WebhookRejection> {
        match self {
            Self::Mock(c) => c.verify_webhook(merchant, headers, body, now_unix),
            // CMI posts to its own route, which answers with CMI's keywords.
            Self::Cmi(_) => Err(WebhookRejection::OtherRoute),
            // PayPal's check may fetch a certificate or ask PayPal: it has its own async route
            // (`http/paypal_webhooks.rs`), so this synchronous path refuses.
            Self::Paypal(_) => Err(WebhookRejection::NotConfigured),
        }
    }

    /// The customer came back from the provider's page to `back`: what the provider now says
    /// about the authorize operation `op`. Never taken from the browser: which URL it came
    /// back through decides nothing. The mock asks the processor; CMI checks the signed fields,
    /// then asks (ORDERSTATUS); PayPal completes the approved order, or on a cancel reads it
    /// (only a VOIDED order fails). `Ok(None)`: nothing known yet (the webhook, the reconciler
    /// or the checkout expiry will settle it).
    pub async fn customer_returned(
        &self,
        p: &Payment,
        op: &Operation,
        back: &urls::CustomerReturn,
    ) -> Result<Option<Outcome>, ProviderError> {
        match self {
            Self::Mock(c) => {
                let _ = (p, back);
                c.status(op).await
            }
            Self::Cmi(c) => c.customer_returned(p, op, back).await,
            Self::Paypal(c) => c.customer_returned(p, op, back).await,
        }
    }

    /// Whether the customer's return carries what the provider signs, where it signs anything
    /// (CMI's return post). Checked locally, with no call: a forged return is then ignored
    /// before it costs a provider lookup or holds up the genuine one (the service coalesces
    /// return-page lookups per payment). The mock's and PayPal's returns carry nothing signed.
    pub fn return_is_genuine(
        &self,
        p: &Payment,
        op: &Operation,
        back: &urls::CustomerReturn,
    ) -> bool {
        match self {
            Self::Mock(_) | Self::Paypal(_) => true,
            Self::Cmi(c) => c.return_is_genuine(p, op, back),
        }
    }

    /// What the provider did under this operation's key; `None` if it never received it.
    /// `p` is the payment as stored (CMI queries by its order id; PayPal needs its order and
    /// authorization ids).
    pub async fn status(
        &self,
        p: &Payment,
        op: &Operation,
    ) -> Result<Option<Outcome>, ProviderError> {
        match self {
            Self::Mock(c) => c.status(op).await,
            Self::Cmi(c) => c.status(p, op).await,
            Self::Paypal(c) => c.status(p, op).await,
        }
    }

    /// Whether the provider can carry this amount at all (PayPal: no MAD, whole HUF/TWD).
    /// `Err((reason, message))` is an INVALID_ARGUMENT before anything is stored or sent.
    pub fn check_amount(&self, amount: Money) -> Result<(), (&'static str, String)> {
        match self {
            // CMI refuses currencies it does not take when it builds the form (unsupported_currency).
            Self::Mock(_) | Self::Cmi(_) => Ok(()),
            Self::Paypal(c) => c.check_amount(amount),
        }
    }
}

/// Which adapters each merchant has, built once from the config.
#[derive(Default)]
pub struct Providers {
    by_merchant: HashMap<(MerchantId, ProviderKind), AnyProvider>,
}

impl Providers {
    pub fn insert(&mut self, merchant: MerchantId, provider: AnyProvider) {
        self.by_merchant
            .insert((merchant, provider.kind()), provider);
    }

    /// `None` when the merchant has not enabled this provider.
    pub fn get(&self, merchant: &MerchantId, kind: ProviderKind) -> Option<&AnyProvider> {
        self.by_merchant.get(&(merchant.clone(), kind))
    }
}
