//! The server under load: its connections, and one iteration of each scenario.
//!
//! Health/Check and the payment RPCs go over the same connections, so the ratio between
//! them is the service's own cost over the bare gRPC transport (DESIGN §12).

use crate::json_api::JsonAuthorize;
use crate::stats::Recorder;
use crate::webhooks::{Prepared, WebhookSender};
use paygate::cli::call::BearerAuth;
use paygate::cli::json::{code_name, payment_status_name};
use paygate::domain::{Currency, Money};
use paygate::grpc::proto;
use proto::payment_gateway_client::PaymentGatewayClient;
use tokio::time::{Duration, Instant};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// A request that takes longer than this counts as an error, so a stuck server ends the run
/// instead of hanging it.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// grpc.health.v1.Health/Check with service ""
    Health,
    /// Authorize 100.00 MAD through the mock provider, manual capture
    Authorize,
    /// The same Authorize as JSON over HTTP/1.1 (`POST /v1/payments` on the gRPC port)
    AuthorizeJson,
    /// Authorize, then Capture that payment
    AuthorizeCapture,
    /// A signed mock webhook settling a payment prepared in `requires_action`
    Webhook,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Self::Health => "health",
            Self::Authorize => "authorize",
            Self::AuthorizeJson => "authorize-json",
            Self::AuthorizeCapture => "authorize-capture",
            Self::Webhook => "webhook",
        }
    }

    /// Report row names: the main series first, then the capture series when there is one.
    pub fn row_names(self) -> (&'static str, Option<&'static str>) {
        match self {
            Self::Health => ("health/check", None),
            Self::Authorize => ("authorize", None),
            Self::AuthorizeJson => ("authorize-json", None),
            Self::AuthorizeCapture => ("authorize+capture", Some("capture")),
            Self::Webhook => ("webhook", None),
        }
    }
}

/// What one worker measured. `main` is the whole iteration, from its scheduled (open loop) or
/// send (closed loop) time; `capture` is the Capture call alone, from its own send time.
#[derive(Debug, Default)]
pub struct Samples {
    pub main: Recorder,
    pub capture: Recorder,
}

impl Samples {
    pub fn merge(&mut self, other: Samples) {
        self.main.merge(other.main);
        self.capture.merge(other.capture);
    }
}

type Gateway = PaymentGatewayClient<InterceptedService<Channel, BearerAuth>>;

/// Clients over one HTTP/2 connection. Cloning shares the connection.
#[derive(Clone)]
pub struct Target {
    gateway: Gateway,
    health: HealthClient<Channel>,
    amount: proto::Money,
    webhooks: Option<WebhookSender>,
    json: Option<JsonAuthorize>,
}

/// What every Authorize of every scenario asks for: 100.00 MAD.
pub fn authorize_amount() -> anyhow::Result<proto::Money> {
    let currency = Currency::parse("MAD")?;
    let money = Money::parse_decimal("100.00", currency)?;
    Ok(proto::Money {
        currency: currency.code().to_owned(),
        minor_units: money.minor(),
    })
}

impl Target {
    /// Opens one connection now, so a wrong address fails before any load is offered.
    pub async fn connect(target: &str, auth: BearerAuth) -> anyhow::Result<Self> {
        let channel = Endpoint::from_shared(target.to_owned())?
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .tcp_nodelay(true)
            .connect()
            .await?;
        Ok(Self {
            gateway: PaymentGatewayClient::with_interceptor(channel.clone(), auth),
            health: HealthClient::new(channel),
            amount: authorize_amount()?,
            webhooks: None,
            json: None,
        })
    }

    /// Lets this target run the webhook scenario through `sender`.
    pub fn set_webhooks(&mut self, sender: WebhookSender) {
        self.webhooks = Some(sender);
    }

    /// Lets this target run the HTTP/JSON Authorize scenario through `client`.
    pub fn set_json(&mut self, client: JsonAuthorize) {
        self.json = Some(client);
    }

    /// A `mock_redirect` Authorize left in `requires_action`, for the webhook scenario.
    pub async fn prepare_redirect(&mut self) -> Result<Prepared, &'static str> {
        let request = proto::AuthorizeRequest {
            idempotency_key: uuid::Uuid::new_v4().to_string(),
            provider: "mock".to_owned(),
            amount: Some(self.amount.clone()),
            merchant_reference: "loadgen-webhook".to_owned(),
            capture_mode: i32::from(proto::CaptureMode::Manual),
            payment_token: "mock_redirect".to_owned(),
            ..proto::AuthorizeRequest::default()
        };
        let payment = self
            .gateway
            .authorize(request)
            .await
            .map_err(|s| code_name(s.code()))?
            .into_inner();
        Prepared::from_payment(&payment).ok_or("not_requires_action")
    }

    /// Runs one iteration of `scenario` and records it; `since` is when it was due.
    pub async fn once(&mut self, scenario: Scenario, since: Instant, samples: &mut Samples) {
        match scenario {
            Scenario::Health => match self.check().await {
                Ok(()) => samples.main.ok(since.elapsed()),
                Err(kind) => samples.main.error(kind),
            },
            Scenario::Authorize => match self.authorize().await {
                Ok(_) => samples.main.ok(since.elapsed()),
                Err(kind) => samples.main.error(kind),
            },
            Scenario::AuthorizeJson => match &self.json {
                Some(client) => match client.authorize().await {
                    Ok(()) => samples.main.ok(since.elapsed()),
                    Err(kind) => samples.main.error(kind),
                },
                None => samples.main.error("NO_JSON_CLIENT"),
            },
            Scenario::Webhook => match &self.webhooks {
                Some(sender) => sender.once(since, &mut samples.main).await,
                None => samples.main.error("NO_WEBHOOK_SETUP"),
            },
            Scenario::AuthorizeCapture => {
                let payment_id = match self.authorize().await {
                    Ok(id) => id,
                    Err(kind) => {
                        samples.main.error(kind);
                        return;
                    }
                };
                let capture_sent = Instant::now();
                match self.capture(payment_id).await {
                    Ok(()) => {
                        samples.capture.ok(capture_sent.elapsed());
                        samples.main.ok(since.elapsed());
                    }
                    Err(kind) => {
                        samples.capture.error(kind);
                        samples.main.error(kind);
                    }
                }
            }
        }
    }

    /// One Health/Check; anything but SERVING is an error.
    pub async fn check(&mut self) -> Result<(), &'static str> {
        let request = HealthCheckRequest {
            service: String::new(),
        };
        let response = self
            .health
            .check(request)
            .await
            .map_err(|s| code_name(s.code()))?;
        if response.get_ref().status == i32::from(ServingStatus::Serving) {
            Ok(())
        } else {
            Err("NOT_SERVING")
        }
    }

    /// An Authorize that must come back AUTHORIZED; returns the payment id.
    async fn authorize(&mut self) -> Result<String, &'static str> {
        let request = proto::AuthorizeRequest {
            idempotency_key: uuid::Uuid::new_v4().to_string(),
            provider: "mock".to_owned(),
            amount: Some(self.amount.clone()),
            merchant_reference: "loadgen".to_owned(),
            capture_mode: i32::from(proto::CaptureMode::Manual),
            ..proto::AuthorizeRequest::default()
        };
        let payment = self
            .gateway
            .authorize(request)
            .await
            .map_err(|s| code_name(s.code()))?;
        let payment = payment.into_inner();
        expect_status(&payment, proto::PaymentStatus::Authorized)?;
        Ok(payment.id)
    }

    /// A full Capture that must come back CAPTURED.
    async fn capture(&mut self, payment_id: String) -> Result<(), &'static str> {
        let request = proto::CaptureRequest {
            idempotency_key: uuid::Uuid::new_v4().to_string(),
            payment_id,
            amount: None,
            final_capture: false,
        };
        let payment = self
            .gateway
            .capture(request)
            .await
            .map_err(|s| code_name(s.code()))?;
        expect_status(payment.get_ref(), proto::PaymentStatus::Captured)
    }
}

/// An OK answer in another status (a decline, a PENDING unknown outcome) is not the work we
/// meant to measure, so it counts as an error named after the status.
pub fn expect_status(
    payment: &proto::Payment,
    wanted: proto::PaymentStatus,
) -> Result<(), &'static str> {
    match proto::PaymentStatus::try_from(payment.status) {
        Ok(status) if status == wanted => Ok(()),
        Ok(status) => Err(payment_status_name(status)),
        Err(_) => Err("unknown_status"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn other_statuses_are_named_errors() {
        let mut p = proto::Payment {
            status: i32::from(proto::PaymentStatus::Authorized),
            ..proto::Payment::default()
        };
        assert_eq!(expect_status(&p, proto::PaymentStatus::Authorized), Ok(()));
        p.status = i32::from(proto::PaymentStatus::Declined);
        assert_eq!(
            expect_status(&p, proto::PaymentStatus::Authorized),
            Err("declined")
        );
        p.status = 42;
        assert_eq!(
            expect_status(&p, proto::PaymentStatus::Authorized),
            Err("unknown_status")
        );
    }
}
