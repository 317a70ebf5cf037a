//! paygate's operations in PayPal's terms: an Orders v2 order for the buyer's approval, then
//! Payments v2 for captures, voids and refunds (specs/paypal.md §3).
//!
//! Every money-moving POST carries a `PayPal-Request-Id` derived from paygate's operation id, so
//! a retry, the reconciler, the return page and the webhook all repeat the *same* request and
//! PayPal executes it at most once. Every amount PayPal answers is checked against the operation.
//! Refunds, split over captures, are in `refund.rs`.

use super::client::{CallError, PaypalApi};
use super::convert::{self, Refused};
use super::outcomes::{
    Answer, authorization_id, check_amount, check_amount_of_auth, classify, not_sent, order_id,
    outcome_of_order, paypal_amount, refused_outcome, unknown,
};
use super::wire::{
    Authorization, AuthorizationStatus, Capture, CaptureAuthorization, CaptureStatus, CreateOrder,
    ExperienceContext, Intent, Order, OrderStatus, PaymentSource, PaypalSource,
    PurchaseUnitRequest,
};
use crate::domain::{
    AuthorizeCommand, CaptureMode, Failure, MerchantId, NextAction, Operation, OperationKind,
    Outcome, Payment, ProviderKind,
};
use crate::providers::ProviderError;
use crate::providers::urls::{CustomerReturn, PublicUrls, ReturnOutcome};
use reqwest::Method;

pub struct Adapter {
    pub(super) api: PaypalApi,
    merchant: MerchantId,
    urls: PublicUrls,
}

impl Adapter {
    pub fn new(api: PaypalApi, merchant: MerchantId, urls: PublicUrls) -> Self {
        Self {
            api,
            merchant,
            urls,
        }
    }

    /// Creates the order the buyer approves on PayPal's page (§3.1).
    pub async fn authorize(
        &self,
        p: &Payment,
        op: &Operation,
        cmd: &AuthorizeCommand,
    ) -> Result<Outcome, ProviderError> {
        let page = |o| {
            self.urls
                .return_page(ProviderKind::Paypal, &self.merchant, p.id, o)
        };
        let automatic = p.capture_mode == CaptureMode::Automatic;
        let body = CreateOrder {
            intent: if automatic {
                Intent::Capture
            } else {
                Intent::Authorize
            },
            purchase_units: vec![PurchaseUnitRequest {
                amount: paypal_amount(op.amount)?,
                custom_id: p.id.to_string(),
                description: (!cmd.description.is_empty())
                    .then(|| cmd.description.chars().take(127).collect()),
            }],
            payment_source: PaymentSource {
                paypal: PaypalSource {
                    experience_context: ExperienceContext {
                        return_url: page(ReturnOutcome::Ok),
                        cancel_url: page(ReturnOutcome::Cancel),
                        shipping_preference: "NO_SHIPPING",
                        user_action: if automatic { "PAY_NOW" } else { "CONTINUE" },
                        locale: (!cmd.locale.is_empty()).then(|| cmd.locale.clone()),
                    },
                },
            },
        };
        let key = op.id.provider_key();
        let reply = self
            .api
            .call(Method::POST, "/v2/checkout/orders", Some(&body), Some(&key))
            .await;
        let order: Order = match classify(reply, OperationKind::Authorize)? {
            Answer::Body(order) => order,
            Answer::Refused(r) => return refused_outcome(r),
        };
        if let Some(amount) = order.purchase_units.first().and_then(|u| u.amount.as_ref()) {
            check_amount(op, amount)?;
        }
        let Some(url) = convert::approval_link(&order.links) else {
            return Err(unknown("order without an approval link"));
        };
        Ok(Outcome::RequiresAction {
            next_action: NextAction::Redirect { url },
            provider_reference: Some(order.id),
        })
    }

    /// The buyer is back: never trust the browser, ask PayPal and complete the order.
    ///
    /// The cancel URL is only the browser's word (anyone can open it), and a buyer who cancelled
    /// may still go back to PayPal's page and approve: so it reads the order and goes by what
    /// PayPal says. Approved completes; VOIDED fails; still waiting for the buyer changes
    /// nothing, and the checkout expiry settles an abandoned order.
    pub async fn customer_returned(
        &self,
        p: &Payment,
        op: &Operation,
        back: &CustomerReturn,
    ) -> Result<Option<Outcome>, ProviderError> {
        if back.outcome == ReturnOutcome::Cancel {
            let order = self.order(p).await?;
            return self.settle_order(p, op, order).await;
        }
        self.complete(p, op).await
    }

    /// Authorizes (manual capture) or captures (automatic) the approved order, with a request
    /// id derived from the authorize operation: the return page, the `CHECKOUT.ORDER.APPROVED`
    /// webhook and the reconciler all send this same request, so it happens exactly once.
    pub async fn complete(
        &self,
        p: &Payment,
        op: &Operation,
    ) -> Result<Option<Outcome>, ProviderError> {
        let order_id = order_id(p)?;
        let action = match p.capture_mode {
            CaptureMode::Manual => "authorize",
            CaptureMode::Automatic => "capture",
        };
        let key = format!("{}-{action}", op.id.provider_key());
        let path = format!("/v2/checkout/orders/{order_id}/{action}");
        let reply = self
            .api
            .call::<()>(Method::POST, &path, None, Some(&key))
            .await;
        match classify::<Order>(reply, OperationKind::Authorize)? {
            Answer::Body(order) => outcome_of_order(p, op, &order).map(Some),
            Answer::Refused(Refused::RequiresAction) => Ok(None),
            Answer::Refused(Refused::Reconcile) => {
                let order = self.order(p).await?;
                outcome_of_order(p, op, &order).map(Some)
            }
            Answer::Refused(Refused::Precondition(_, failure)) => {
                Ok(Some(Outcome::Failed(failure)))
            }
            Answer::Refused(other) => refused_outcome(other).map(Some),
        }
    }

    async fn order(&self, p: &Payment) -> Result<Order, ProviderError> {
        let path = format!("/v2/checkout/orders/{}", order_id(p)?);
        let reply = self.api.call::<()>(Method::GET, &path, None, None).await;
        match classify(reply, OperationKind::Authorize)? {
            Answer::Body(order) => Ok(order),
            Answer::Refused(_) => Err(not_sent("PayPal does not know the order")),
        }
    }

    /// An order read back: completes it if approved, else what it says.
    async fn settle_order(
        &self,
        p: &Payment,
        op: &Operation,
        order: Order,
    ) -> Result<Option<Outcome>, ProviderError> {
        match order.status {
            OrderStatus::Approved => self.complete(p, op).await,
            _ => outcome_of_order(p, op, &order).map(Some),
        }
    }

    pub async fn capture(&self, p: &Payment, op: &Operation) -> Result<Outcome, ProviderError> {
        let auth_id = authorization_id(p)?;
        let body = CaptureAuthorization {
            amount: paypal_amount(op.amount)?,
            final_capture: op.final_capture
                || p.captured.saturating_add(op.amount.minor()) >= p.amount.minor(),
        };
        let path = format!("/v2/payments/authorizations/{auth_id}/capture");
        let key = op.id.provider_key();
        let reply = self
            .api
            .call(Method::POST, &path, Some(&body), Some(&key))
            .await;
        match classify::<Capture>(reply, OperationKind::Capture)? {
            Answer::Body(capture) => {
                check_amount(op, &capture.amount)?;
                Ok(match capture.status {
                    CaptureStatus::Completed
                    | CaptureStatus::PartiallyRefunded
                    | CaptureStatus::Refunded => Outcome::Succeeded {
                        provider_reference: Some(capture.id),
                        expires_at: None,
                    },
                    // Not paid yet: the webhook or the reconciler (same request id) settles it.
                    CaptureStatus::Pending => Outcome::Unknown,
                    CaptureStatus::Declined | CaptureStatus::Failed => Outcome::Failed(
                        Failure::new("capture_declined", "PayPal declined the capture"),
                    ),
                })
            }
            Answer::Refused(r) => refused_outcome(r),
        }
    }

    /// Void has no `PayPal-Request-Id`, so a retry is made safe by reading the authorization:
    /// `PREVIOUSLY_VOIDED` counts only once a GET confirms `VOIDED` (§3.3).
    pub async fn void(&self, p: &Payment, op: &Operation) -> Result<Outcome, ProviderError> {
        let auth_id = authorization_id(p)?;
        let path = format!("/v2/payments/authorizations/{auth_id}/void");
        match self.api.call::<()>(Method::POST, &path, None, None).await {
            Ok(_) => Ok(Outcome::Succeeded {
                provider_reference: None,
                expires_at: None,
            }),
            Err(CallError::Refused { status, body }) => {
                match convert::refusal(status, &body, OperationKind::Void) {
                    Refused::Reconcile => match self.void_status(p, op).await? {
                        Some(outcome) => Ok(outcome),
                        None => Err(unknown("authorization not voided after PREVIOUSLY_VOIDED")),
                    },
                    other => refused_outcome(other),
                }
            }
            Err(CallError::NotSent(r)) => Err(not_sent(r)),
            Err(CallError::Unknown(r)) => Err(unknown(r)),
        }
    }

    async fn void_status(
        &self,
        p: &Payment,
        op: &Operation,
    ) -> Result<Option<Outcome>, ProviderError> {
        let auth = self.authorization(p).await?;
        check_amount_of_auth(p, op, &auth)?;
        Ok(match auth.status {
            AuthorizationStatus::Voided => Some(Outcome::Succeeded {
                provider_reference: None,
                expires_at: None,
            }),
            // Still open: the void never happened, nothing moved.
            AuthorizationStatus::Created | AuthorizationStatus::Pending => None,
            AuthorizationStatus::Captured
            | AuthorizationStatus::PartiallyCaptured
            | AuthorizationStatus::Denied => Some(Outcome::Failed(Failure::new(
                "invalid_state",
                "the authorization can no longer be voided",
            ))),
        })
    }

    async fn authorization(&self, p: &Payment) -> Result<Authorization, ProviderError> {
        let path = format!("/v2/payments/authorizations/{}", authorization_id(p)?);
        let reply = self.api.call::<()>(Method::GET, &path, None, None).await;
        match classify(reply, OperationKind::Void)? {
            Answer::Body(auth) => Ok(auth),
            Answer::Refused(_) => Err(not_sent("PayPal does not know the authorization")),
        }
    }

    /// What PayPal did under this operation. Captures and refunds are re-sent with the same
    /// request id (PayPal keeps them 45 days and answers the first result); orders and
    /// authorizations are read with GET.
    pub async fn status(
        &self,
        p: &Payment,
        op: &Operation,
    ) -> Result<Option<Outcome>, ProviderError> {
        match op.kind {
            OperationKind::Authorize => {
                if p.provider_reference.is_none() {
                    // No order id: the buyer never got a link, so nothing can have been paid.
                    return Ok(None);
                }
                let order = self.order(p).await?;
                self.settle_order(p, op, order).await
            }
            OperationKind::Capture => self.capture(p, op).await.map(Some),
            OperationKind::Refund => self.refund(p, op).await.map(Some),
            OperationKind::Void => self.void_status(p, op).await,
        }
    }
}
