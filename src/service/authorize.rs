//! Authorize: open a payment and ask the provider to authorize (or charge) it.

use super::idempotency::{Claim, fingerprint, resolve};
use super::{PaymentService, unexpected};
use crate::domain::{AuthorizeCommand, MerchantId, Payment, Timestamp};
use crate::error::{AppError, FieldViolations};
use crate::store::{KeyClaim, Write, Written};
use serde::Serialize;
use tokio::time::Instant;

/// Everything that changes what an Authorize does; the key itself is not part of it.
#[derive(Serialize)]
struct Fingerprint<'a> {
    provider: &'static str,
    amount: i64,
    currency: &'static str,
    merchant_reference: &'a str,
    capture_mode: &'static str,
    customer: &'a crate::domain::Customer,
    return_url: &'a Option<String>,
    cancel_url: &'a Option<String>,
    description: &'a str,
    locale: &'a str,
    metadata: &'a std::collections::BTreeMap<String, String>,
    payment_token: &'a str,
}

impl PaymentService {
    #[tracing::instrument(name = "authorize", skip_all, fields(merchant = %merchant, provider = %cmd.provider, payment_id = tracing::field::Empty))]
    pub async fn authorize(
        &self,
        merchant: &MerchantId,
        cmd: AuthorizeCommand,
    ) -> Result<Payment, AppError> {
        let provider = self
            .providers
            .get(merchant, cmd.provider)
            .ok_or(AppError::ProviderNotEnabled(cmd.provider))?;
        let max = provider.capabilities().max_minor;
        if cmd.amount.minor() > max {
            let mut bad = FieldViolations::default();
            bad.add(
                "amount.minor_units",
                "INVALID_AMOUNT",
                format!("{} accepts at most {max} minor units", cmd.provider),
            );
            return Err(AppError::Invalid(bad));
        }
        if let Err((reason, message)) = provider.check_amount(cmd.amount) {
            let mut bad = FieldViolations::default();
            bad.add("amount.currency", reason, message);
            return Err(AppError::Invalid(bad));
        }
        let claim = KeyClaim {
            merchant: merchant.clone(),
            method: "Authorize",
            key: cmd.key.clone(),
            fingerprint: fingerprint(&Fingerprint {
                provider: cmd.provider.as_str(),
                amount: cmd.amount.minor(),
                currency: cmd.amount.currency().code(),
                merchant_reference: &cmd.merchant_reference,
                capture_mode: cmd.capture_mode.as_str(),
                customer: &cmd.customer,
                return_url: &cmd.return_url,
                cancel_url: &cmd.cancel_url,
                description: &cmd.description,
                locale: &cmd.locale,
                metadata: &cmd.metadata,
                payment_token: &cmd.payment_token,
            })?,
        };
        let mut payment = cmd.open_payment(merchant, Timestamp::now());
        let trace_parent = crate::traces::current_traceparent();
        for op in &mut payment.operations {
            op.trace_parent.clone_from(&trace_parent);
        }
        let window = self.call_window();
        let claimed = match self
            .store
            .write(Write::OpenPayment {
                claim,
                payment: Box::new(payment),
                lease_until: window.lease_until,
            })
            .await?
        {
            Written::Claimed(c) => c,
            other => return Err(unexpected(other)),
        };
        let (payment, op_id) = match resolve(claimed, "Authorize", &self.metrics)? {
            Claim::Run(payment, op) => (payment, op),
            Claim::Replay(payment) => return Ok(payment),
        };
        tracing::Span::current().record("payment_id", tracing::field::display(payment.id));
        let op = payment
            .operation(op_id)
            .cloned()
            .ok_or_else(|| AppError::Internal("new payment without its operation".into()))?;
        let started = Instant::now();
        let result = self
            .within_window(
                window,
                provider.kind(),
                provider.authorize(&payment, &op, &cmd),
            )
            .await;
        self.finish(provider, payment.id, &op, started, result)
            .await
    }
}
