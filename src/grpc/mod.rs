//! gRPC transport: `paygate.v1.PaymentGateway` implemented over `service/`. Each RPC
//! authenticates, converts, calls the use case and converts back; errors become a `Status`
//! only in `status.rs`, and every call is counted with its final code.

pub mod auth;
pub mod caller_text;
pub mod convert;
pub mod layers;
pub mod proto;
pub mod status;
pub mod trace;

use crate::domain::{AuthorizeCommand, CaptureCommand, ListQuery, RefundCommand, VoidCommand};
use crate::error::AppError;
use crate::service::PaymentService;
use crate::shutdown::Trigger;
use crate::telemetry::Metrics;
use auth::Authenticator;
use proto as pb;
use std::pin::Pin;
use std::sync::Arc;
use tokio::time::Instant;
use tonic::{Request, Response, Status};

pub struct Api {
    service: PaymentService,
    auth: Arc<Authenticator>,
    metrics: Arc<Metrics>,
    stop: Trigger,
}

impl Api {
    pub fn new(
        service: PaymentService,
        auth: Arc<Authenticator>,
        metrics: Arc<Metrics>,
        stop: Trigger,
    ) -> Self {
        Self {
            service,
            auth,
            metrics,
            stop,
        }
    }

    /// Counts the call with its final code and turns an `AppError` into a `Status`.
    fn answer<T>(
        &self,
        method: &str,
        started: Instant,
        result: Result<T, AppError>,
    ) -> Result<Response<T>, Status> {
        let result = result.map(Response::new).map_err(Status::from);
        let code = result
            .as_ref()
            .map_or_else(|s| s.code(), |_| tonic::Code::Ok);
        self.metrics
            .grpc_request(method, status::code_name(code), started.elapsed());
        result
    }
}

/// When the caller stops waiting (`grpc-timeout`), so provider calls end before it does.
fn caller_deadline(metadata: &tonic::metadata::MetadataMap) -> Option<Instant> {
    let text = metadata.get("grpc-timeout")?.to_str().ok()?;
    crate::deadline::parse_grpc_timeout(text).map(|d| Instant::now() + d)
}

type EventStream = Pin<Box<dyn futures::Stream<Item = Result<pb::PaymentEvent, Status>> + Send>>;

#[tonic::async_trait]
impl pb::payment_gateway_server::PaymentGateway for Api {
    async fn authorize(
        &self,
        req: Request<pb::AuthorizeRequest>,
    ) -> Result<Response<pb::Payment>, Status> {
        let started = Instant::now();
        let result = async {
            let merchant = self.auth.merchant(req.metadata())?;
            let deadline = caller_deadline(req.metadata());
            let cmd = AuthorizeCommand::try_from(req.into_inner())?;
            let work = self.service.authorize(&merchant, cmd);
            Ok(crate::deadline::within(deadline, work).await?.into())
        }
        .await;
        self.answer("Authorize", started, result)
    }

    async fn capture(
        &self,
        req: Request<pb::CaptureRequest>,
    ) -> Result<Response<pb::Payment>, Status> {
        let started = Instant::now();
        let result = async {
            let merchant = self.auth.merchant(req.metadata())?;
            let deadline = caller_deadline(req.metadata());
            let cmd = CaptureCommand::try_from(req.into_inner())?;
            let work = self.service.capture(&merchant, cmd);
            Ok(crate::deadline::within(deadline, work).await?.into())
        }
        .await;
        self.answer("Capture", started, result)
    }

    async fn void(&self, req: Request<pb::VoidRequest>) -> Result<Response<pb::Payment>, Status> {
        let started = Instant::now();
        let result = async {
            let merchant = self.auth.merchant(req.metadata())?;
            let deadline = caller_deadline(req.metadata());
            let cmd = VoidCommand::try_from(req.into_inner())?;
            let work = self.service.void(&merchant, cmd);
            Ok(crate::deadline::within(deadline, work).await?.into())
        }
        .await;
        self.answer("Void", started, result)
    }

    async fn refund(
        &self,
        req: Request<pb::RefundRequest>,
    ) -> Result<Response<pb::Payment>, Status> {
        let started = Instant::now();
        let result = async {
            let merchant = self.auth.merchant(req.metadata())?;
            let deadline = caller_deadline(req.metadata());
            let cmd = RefundCommand::try_from(req.into_inner())?;
            let work = self.service.refund(&merchant, cmd);
            Ok(crate::deadline::within(deadline, work).await?.into())
        }
        .await;
        self.answer("Refund", started, result)
    }

    async fn get_payment(
        &self,
        req: Request<pb::GetPaymentRequest>,
    ) -> Result<Response<pb::Payment>, Status> {
        let started = Instant::now();
        let result = async {
            let merchant = self.auth.merchant(req.metadata())?;
            let id = convert::payment_id(req.get_ref())?;
            Ok(self.service.get(&merchant, id).await?.into())
        }
        .await;
        self.answer("GetPayment", started, result)
    }

    async fn list_payments(
        &self,
        req: Request<pb::ListPaymentsRequest>,
    ) -> Result<Response<pb::ListPaymentsResponse>, Status> {
        let started = Instant::now();
        let result = async {
            let merchant = self.auth.merchant(req.metadata())?;
            let query = ListQuery::try_from(req.into_inner())?;
            let (page, next) = self.service.list(&merchant, query).await?;
            Ok(pb::ListPaymentsResponse {
                payments: page.into_iter().map(Into::into).collect(),
                next_page_token: next.map(|id| id.to_string()).unwrap_or_default(),
            })
        }
        .await;
        self.answer("ListPayments", started, result)
    }

    type WatchEventsStream = EventStream;

    async fn watch_events(
        &self,
        req: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        use futures::StreamExt;
        let started = Instant::now();
        let opened = async {
            let merchant = self.auth.merchant(req.metadata())?;
            let after = convert::sequence(req.get_ref())?;
            self.service.watch_events(merchant, after).await
        }
        .await;
        let events = self.answer("WatchEvents", started, opened)?.into_inner();
        // Streams end when the server stops, so graceful shutdown does not wait on them forever.
        let stream = events
            .map(|item| item.map(convert::event).map_err(Status::from))
            .take_until(self.stop.wait());
        Ok(Response::new(Box::pin(stream)))
    }
}
