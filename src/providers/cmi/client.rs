//! The CMI adapter: the signed hosted-payment form at authorize time, and the XML API for
//! capture (PostAuth), void, refund (Credit) and status (ORDERSTATUS / ORDERHISTORY).

use super::convert;
use super::hash;
use super::wire::{ApiAuth, ApiRequest, ApiResponse};
use crate::config::{CmiCallbackReply, CmiSettings, Secret};
use crate::domain::{
    AuthorizeCommand, CaptureMode, Failure, MerchantId, NextAction, Operation, OperationKind,
    Outcome, Payment, ProviderKind, Refusal,
};
use crate::providers::ProviderError;
use crate::providers::http_client::{ProviderHttp, Retry, SendError};
use crate::providers::urls::{PublicUrls, ReturnOutcome};
use crate::telemetry::Metrics;
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct CmiClient {
    pub(super) merchant: MerchantId,
    pub(super) client_id: String,
    pub(super) store_key: Secret,
    api_user: String,
    api_password: Secret,
    gate_url: String,
    api_url: reqwest::Url,
    urls: PublicUrls,
    http: ProviderHttp,
    callback_reply: CmiCallbackReply,
    /// For what only CMI's adapter can see: refund reconciliations its history cannot decide.
    pub(super) metrics: Arc<Metrics>,
}

/// Why an API call gave no answer, by what it means for money.
pub(super) enum CallError {
    /// Nothing reached CMI (no connection): safe to report as not sent.
    NotSent(String),
    /// Sent; CMI may or may not have acted.
    Unknown(String),
}

impl CmiClient {
    pub fn new(
        merchant: MerchantId,
        settings: &CmiSettings,
        urls: PublicUrls,
        http: ProviderHttp,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let base = settings.base_url.as_str().trim_end_matches('/');
        Ok(Self {
            merchant,
            client_id: settings.client_id.clone(),
            store_key: settings.store_key.clone(),
            api_user: settings.api_user.clone(),
            api_password: settings.api_password.clone(),
            gate_url: format!("{base}/fim/est3Dgate"),
            api_url: reqwest::Url::parse(&format!("{base}/fim/api"))?,
            urls,
            http,
            callback_reply: settings.callback_reply,
            metrics,
        })
    }

    /// The signed form the customer's browser posts to CMI's page. No network call: CMI only
    /// learns about the attempt when the browser arrives. The `oid` becomes the payment's
    /// `provider_reference`, which is how the callback finds it.
    pub fn authorize(&self, p: &Payment, op: &Operation, cmd: &AuthorizeCommand) -> Outcome {
        let currency = op.amount.currency();
        if !matches!(currency.code(), "MAD" | "EUR" | "USD") {
            return Outcome::Failed(Failure::new(
                "unsupported_currency",
                "CMI accepts MAD (and EUR or USD only where the contract allows them)",
            ));
        }
        let oid = convert::oid(op);
        let page = |o| {
            self.urls
                .return_page(ProviderKind::Cmi, &self.merchant, p.id, o)
        };
        // Automatic capture: with `postauth_when_automatic` a PreAuth that the callback reply
        // `ACTION=POSTAUTH` asks CMI to capture (confirmed later from ORDERSTATUS); with
        // `approved`, an Auth (a sale) whose callback already reports the capture.
        // Manual capture: a PreAuth, captured later with PostAuth.
        let tran_type = match (p.capture_mode, self.callback_reply) {
            (CaptureMode::Automatic, CmiCallbackReply::Approved) => "Auth",
            (CaptureMode::Automatic, CmiCallbackReply::PostauthWhenAutomatic)
            | (CaptureMode::Manual, _) => "PreAuth",
        };
        let customer = &cmd.customer;
        let mut name = convert::sanitize(&customer.name, 64);
        if name.is_empty() {
            // CMI treats BillToName as required; a name in a non-Latin script folds to nothing.
            name = "Client".to_owned();
        }
        let mut fields = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            fields.insert(k.to_owned(), v);
        };
        put("clientid", self.client_id.clone());
        put("storetype", "3D_PAY_HOSTING".into());
        put("TranType", tran_type.into());
        put("amount", convert::amount(op.amount));
        put("currency", currency.numeric().to_string());
        put("oid", oid.clone());
        put("okUrl", page(ReturnOutcome::Ok));
        put("failUrl", page(ReturnOutcome::Fail));
        put(
            "callbackUrl",
            self.urls.webhook(ProviderKind::Cmi, &self.merchant),
        );
        put(
            "shopurl",
            cmd.cancel_url
                .clone()
                .or_else(|| cmd.return_url.clone())
                .unwrap_or_else(|| page(ReturnOutcome::Fail)),
        );
        put("lang", convert::lang(&cmd.locale).into());
        put("rnd", random_token());
        put("hashAlgorithm", "ver3".into());
        put("encoding", "UTF-8".into());
        put("refreshtime", "5".into());
        put("BillToName", name);
        put("email", convert::sanitize_contact(&customer.email, 64));
        if !customer.phone.is_empty() {
            put("tel", convert::sanitize_contact(&customer.phone, 32));
        }
        if let Some(a) = &customer.billing_address {
            put("BillToStreet1", convert::sanitize(&a.line1, 64));
            put("BillToStreet2", convert::sanitize(&a.line2, 64));
            put("BillToCity", convert::sanitize(&a.city, 64));
            put("BillToStateProv", convert::sanitize(&a.state, 32));
            put("BillToPostalCode", convert::sanitize(&a.postal_code, 16));
            put("BillToCountry", convert::country(&a.country));
        }
        let pairs: Vec<(&String, &String)> = fields.iter().collect();
        let signature = hash::compute(&pairs, self.store_key.expose().as_bytes());
        fields.insert("HASH".to_owned(), signature);
        Outcome::RequiresAction {
            next_action: NextAction::FormPost {
                url: self.gate_url.clone(),
                fields,
            },
            provider_reference: Some(oid),
        }
    }

    /// PostAuth, sent once. A lost answer is settled from ORDERSTATUS, never by resending.
    pub async fn capture(&self, p: &Payment, op: &Operation) -> Result<Outcome, ProviderError> {
        let oid = order_id(p)?;
        let total = convert::amount(op.amount);
        let req = ApiRequest::PostAuth {
            oid: &oid,
            total: &total,
        };
        self.mutate(p, op, &req).await
    }

    /// Void, sent once; only possible before CMI's end-of-day settlement (§8).
    pub async fn void(&self, p: &Payment, op: &Operation) -> Result<Outcome, ProviderError> {
        let oid = order_id(p)?;
        self.mutate(p, op, &ApiRequest::Void { oid: &oid }).await
    }

    /// Credit (partial or full), sent once; only possible after settlement (§8).
    pub async fn refund(&self, p: &Payment, op: &Operation) -> Result<Outcome, ProviderError> {
        let oid = order_id(p)?;
        let total = convert::amount(op.amount);
        let req = ApiRequest::Credit {
            oid: &oid,
            total: &total,
            currency: op.amount.currency().numeric(),
        };
        self.mutate(p, op, &req).await
    }

    async fn mutate(
        &self,
        p: &Payment,
        op: &Operation,
        req: &ApiRequest<'_>,
    ) -> Result<Outcome, ProviderError> {
        match self.call(req).await {
            Ok(answer) if answer.approved() => Ok(Outcome::Succeeded {
                provider_reference: non_empty(answer.get("TransId")),
                expires_at: None,
            }),
            Ok(answer) => self.refused(p, op, &answer).await,
            Err(CallError::NotSent(reason)) => Err(ProviderError::NotSent {
                provider: ProviderKind::Cmi,
                reason,
            }),
            Err(CallError::Unknown(reason)) => {
                // Ask once right away; only a definite success settles it here. Anything else
                // waits for the reconciler, after the request can no longer be in flight.
                tracing::warn!(operation = %op.id, request = req.name(), %reason, "CMI answer lost; asking ORDERSTATUS");
                match self.status(p, op).await {
                    Ok(Some(found @ Outcome::Succeeded { .. })) => Ok(found),
                    _ => Err(unknown(reason)),
                }
            }
        }
    }

    /// A refusal: state errors (CORE-2008/2508/2509) are checked against ORDERSTATUS and become
    /// FAILED_PRECONDITION with what to do instead (§7.2); other codes fail the operation.
    async fn refused(
        &self,
        p: &Payment,
        op: &Operation,
        answer: &ApiResponse,
    ) -> Result<Outcome, ProviderError> {
        let code = answer.error_code().to_owned();
        let latest = match code.as_str() {
            "CORE-2509" | "CORE-2008" => self.order_status(&order_id(p)?).await.ok().flatten(),
            _ => None,
        };
        let stat = latest.as_ref().map(|t| t.trans_stat.as_str());
        let refuse = |reason: &'static str, message: &str| {
            Err(ProviderError::Refused {
                provider: ProviderKind::Cmi,
                refusal: Box::new(Refusal::ByProvider {
                    reason,
                    message: message.to_owned(),
                }),
                failure: Box::new(Failure {
                    code: "invalid_state".into(),
                    message: message.to_owned(),
                    provider_code: code.clone(),
                    provider_message: answer.get("ErrMsg").chars().take(256).collect(),
                }),
            })
        };
        match (code.as_str(), op.kind, stat) {
            // Already captured by an earlier attempt of this very operation: idempotent.
            ("CORE-2509", OperationKind::Capture, Some("C" | "S"))
                if latest.as_ref().and_then(|t| t.capture_amount) == Some(op.amount.minor()) =>
            {
                Ok(Outcome::Succeeded {
                    provider_reference: latest.map(|t| t.trans_id),
                    expires_at: None,
                })
            }
            ("CORE-2509", _, _) => refuse(
                "INVALID_STATE",
                "CMI has no open pre-authorization for this order (already captured, voided or expired); nothing was captured",
            ),
            ("CORE-2008", OperationKind::Void, Some("V" | "CNCL")) => Ok(Outcome::Succeeded {
                provider_reference: latest.map(|t| t.trans_id),
                expires_at: None,
            }),
            ("CORE-2008", _, Some("A")) => refuse(
                "OPERATION_NOT_SUPPORTED",
                "CMI refused to void this pre-authorization although it is still open; contact CMI",
            ),
            ("CORE-2008", _, None) => refuse(
                "INVALID_STATE",
                "CMI found nothing to void for this order and its status could not be read; check the order in CMI's Merchant Center",
            ),
            ("CORE-2008", _, _) => refuse(
                "INVALID_STATE",
                "the order was already settled by CMI and can no longer be voided: refund it instead",
            ),
            ("CORE-2508", _, _) => refuse(
                "INVALID_STATE",
                "CMI has not settled this order yet (end of day); a refund is possible only after settlement: retry then, or void before capture",
            ),
            _ => {
                let proc = answer.get("ProcReturnCode");
                let failure = match convert::refusal(
                    proc,
                    answer.get("Response"),
                    answer.get("ErrMsg"),
                    "",
                ) {
                    Outcome::Declined(f) | Outcome::Failed(f) => f,
                    _ => Failure::new("processor_error", "CMI refused the operation"),
                };
                let provider_code = if code.is_empty() {
                    proc.to_owned()
                } else {
                    code.clone()
                };
                Ok(Outcome::Failed(Failure {
                    provider_code,
                    ..failure
                }))
            }
        }
    }

    /// Every request to CMI's API goes through here, on the shared provider stack (deadline,
    /// breaker, concurrency limit). The API has no idempotency key (§6.1), so a PostAuth, Void
    /// or Credit is retried only when it certainly never arrived; queries may be retried.
    /// The body (with the API password) is never logged.
    pub(super) async fn call(&self, req: &ApiRequest<'_>) -> Result<ApiResponse, CallError> {
        let auth = ApiAuth {
            name: &self.api_user,
            password: self.api_password.expose(),
            client_id: &self.client_id,
        };
        let body = super::wire::request_xml(&auth, req);
        let retry = if req.is_query() {
            Retry::Safe
        } else {
            Retry::OnlyIfNotSent
        };
        let build = |client: &reqwest::Client| {
            client
                .post(self.api_url.clone())
                .header(reqwest::header::CONTENT_TYPE, "text/xml; charset=UTF-8")
                .body(body.clone())
        };
        let response = match self.http.send(req.name(), retry, build).await {
            Ok(r) => r,
            Err(SendError::NotSent(e)) => {
                return Err(CallError::NotSent(format!("{} not sent: {e}", req.name())));
            }
            Err(SendError::Unknown(e)) => {
                return Err(CallError::Unknown(format!("{}: {e}", req.name())));
            }
        };
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| CallError::Unknown(format!("{}: reading the answer: {e}", req.name())))?;
        if !status.is_success() {
            return Err(CallError::Unknown(format!(
                "{} answered HTTP {status}",
                req.name()
            )));
        }
        ApiResponse::parse(&bytes).map_err(|e| CallError::Unknown(format!("{}: {e}", req.name())))
    }
}

impl CallError {
    pub(super) fn reason(self) -> String {
        match self {
            Self::NotSent(r) | Self::Unknown(r) => r,
        }
    }
}

/// The payment's `oid` (its provider reference, set at authorize time).
pub(super) fn order_id(p: &Payment) -> Result<String, ProviderError> {
    p.provider_reference
        .clone()
        .or_else(|| {
            p.operations
                .iter()
                .find(|o| o.kind == OperationKind::Authorize)
                .map(convert::oid)
        })
        .ok_or_else(|| ProviderError::NotSent {
            provider: ProviderKind::Cmi,
            reason: "the payment has no CMI order id".into(),
        })
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

pub(super) fn unknown(reason: String) -> ProviderError {
    ProviderError::OutcomeUnknown {
        provider: ProviderKind::Cmi,
        reason,
    }
}

/// `rnd`: 20 random alphanumeric characters (the spec asks for at least 16).
fn random_token() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), 20)
}
