//! gRPC transport: `paygate.v1.PaymentGateway` implemented over `service/`. Each RPC is one
//! line: the shared [`pipeline`] (authenticate, deadline, count) runs the shared [`ops`]
//! operation; errors become a `Status` only in `status.rs`.

pub mod auth;
pub mod caller_text;
pub mod convert;
pub mod layers;
pub mod metadata_limit;
pub mod ops;
pub mod pipeline;
pub mod proto;
pub mod status;
pub mod trace;

use crate::shutdown::Trigger;
use pipeline::{CallMeta, Gateway};
use proto as pb;
use std::pin::Pin;
use tokio::time::Instant;
use tonic::{Request, Response, Status};

pub struct Api {
    gateway: Gateway,
    stop: Trigger,
}

impl Api {
    pub fn new(gateway: Gateway, stop: Trigger) -> Self {
        Self { gateway, stop }
    }
}

/// The caller's key and deadline (`grpc-timeout`) from the request's metadata.
fn meta(metadata: &tonic::metadata::MetadataMap) -> CallMeta<'_> {
    let deadline = metadata
        .get("grpc-timeout")
        .and_then(|v| v.to_str().ok())
        .and_then(crate::deadline::parse_grpc_timeout)
        .map(|d| Instant::now() + d);
    CallMeta {
        authorization: metadata.get("authorization").and_then(|v| v.to_str().ok()),
        deadline,
    }
}

/// Runs one unary RPC through the pipeline.
macro_rules! unary {
    ($self:ident, $req:ident, $method:literal, $op:path) => {{
        let (metadata, _, message) = $req.into_parts();
        let gateway = &$self.gateway;
        let answer = gateway.call($method, meta(&metadata), message, $op).await;
        answer.map(Response::new).map_err(Status::from)
    }};
}

type EventStream = Pin<Box<dyn futures::Stream<Item = Result<pb::PaymentEvent, Status>> + Send>>;

#[tonic::async_trait]
impl pb::payment_gateway_server::PaymentGateway for Api {
    async fn authorize(
        &self,
        req: Request<pb::AuthorizeRequest>,
    ) -> Result<Response<pb::Payment>, Status> {
        unary!(self, req, "Authorize", ops::authorize)
    }

    async fn capture(
        &self,
        req: Request<pb::CaptureRequest>,
    ) -> Result<Response<pb::Payment>, Status> {
        unary!(self, req, "Capture", ops::capture)
    }

    async fn void(&self, req: Request<pb::VoidRequest>) -> Result<Response<pb::Payment>, Status> {
        unary!(self, req, "Void", ops::void)
    }

    async fn refund(
        &self,
        req: Request<pb::RefundRequest>,
    ) -> Result<Response<pb::Payment>, Status> {
        unary!(self, req, "Refund", ops::refund)
    }

    async fn get_payment(
        &self,
        req: Request<pb::GetPaymentRequest>,
    ) -> Result<Response<pb::Payment>, Status> {
        unary!(self, req, "GetPayment", ops::get_payment)
    }

    async fn list_payments(
        &self,
        req: Request<pb::ListPaymentsRequest>,
    ) -> Result<Response<pb::ListPaymentsResponse>, Status> {
        unary!(self, req, "ListPayments", ops::list_payments)
    }

    type WatchEventsStream = EventStream;

    async fn watch_events(
        &self,
        req: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        use futures::StreamExt;
        let (metadata, _, message) = req.into_parts();
        let after = message.after_sequence;
        let events = self
            .gateway
            .call("WatchEvents", meta(&metadata), after, ops::watch_events)
            .await?;
        // Streams end when the server stops, so graceful shutdown does not wait on them forever.
        let stream = events
            .map(|item| item.map(convert::event).map_err(Status::from))
            .take_until(self.stop.wait());
        Ok(Response::new(Box::pin(stream)))
    }
}
