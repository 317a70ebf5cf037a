//! The HTTP/JSON API: every operation of `paygate.v1.PaymentGateway` as JSON over HTTP/1.1
//! or HTTP/2, on the internal port beside gRPC (`api_port.rs` routes between them). Bodies
//! are the proto messages in the proto3 JSON mapping; each handler is one call of the shared
//! pipeline over the same operations gRPC runs (`grpc/ops.rs`), so the two cannot drift.

mod body;
mod events;
pub mod problem;
mod query;

use crate::domain::MerchantId;
use crate::error::AppError;
use crate::grpc::ops;
use crate::grpc::pipeline::{CallMeta, Gateway};
use crate::grpc::proto as pb;
use crate::service::PaymentService;
use crate::shutdown::Trigger;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use problem::Problem;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;

/// The OpenAPI 3.1 description of this API, kept beside the proto it mirrors.
pub const OPENAPI: &str = include_str!("../../proto/paygate/v1/openapi.json");

#[derive(Clone)]
pub struct JsonApi {
    gateway: Gateway,
    /// Ends event streams when the server stops.
    stop: Trigger,
    /// `server.max_message_bytes`, as for gRPC messages.
    body_limit: usize,
}

impl JsonApi {
    pub fn new(gateway: Gateway, stop: Trigger, body_limit: usize) -> Self {
        Self {
            gateway,
            stop,
            body_limit,
        }
    }

    /// Reads and decodes the body, lets `fill` merge header and path values in, then runs `op`
    /// through the pipeline. A body that is too large is refused before anything else.
    async fn unary<Req, Resp, Fut>(
        &self,
        method: &'static str,
        headers: &HeaderMap,
        raw: Body,
        fill: impl FnOnce(&mut Req) -> Result<(), AppError>,
        op: impl FnOnce(PaymentService, MerchantId, Req) -> Fut,
    ) -> Response
    where
        Req: DeserializeOwned + Default,
        Resp: Serialize,
        Fut: Future<Output = Result<Resp, AppError>>,
    {
        let started = tokio::time::Instant::now();
        let raw = match body::read(raw, self.body_limit).await {
            Ok(raw) => raw,
            Err(problem) => {
                self.gateway
                    .count::<()>(method, started, &Err(AppError::MessageTooLarge));
                return problem.into_response();
            }
        };
        let meta = meta(headers);
        let answer = self
            .gateway
            .call(method, meta, raw, |service, merchant, raw| async move {
                let mut req: Req = body::decode(&raw)?;
                fill(&mut req)?;
                op(service, merchant, req).await
            })
            .await;
        respond(answer)
    }
}

/// The caller's key; the JSON API has no deadline header (the operation's own budget holds).
fn meta(headers: &HeaderMap) -> CallMeta<'_> {
    CallMeta {
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
        deadline: None,
    }
}

/// 200 with the message's proto3 JSON, or the error as problem+json.
fn respond<T: Serialize>(answer: Result<T, AppError>) -> Response {
    let message = match answer {
        Ok(message) => message,
        Err(e) => return Problem::from(e).into_response(),
    };
    match serde_json::to_vec(&message) {
        Ok(json) => json_response(json),
        Err(e) => Problem::from(AppError::Internal(format!("encoding JSON: {e}"))).into_response(),
    }
}

fn json_response(json: Vec<u8>) -> Response {
    let mut response = (StatusCode::OK, json).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub fn router(api: JsonApi) -> Router {
    Router::new()
        .route("/v1/payments", post(authorize).get(list_payments))
        .route("/v1/payments/{id}", get(get_payment))
        .route("/v1/payments/{id}/capture", post(capture))
        .route("/v1/payments/{id}/void", post(void))
        .route("/v1/payments/{id}/refund", post(refund))
        .route("/v1/events", get(events::events))
        .route("/v1/openapi.json", get(openapi))
        .fallback(|| async { Problem::not_found_route() })
        .method_not_allowed_fallback(|| async { Problem::method_not_allowed() })
        // The caller's `traceparent` parents the call's span, as on the gRPC side.
        .route_layer(axum::middleware::from_fn(crate::http::trace::trace))
        .with_state(api)
}

/// The key from `Idempotency-Key` (preferred) into the body's field.
fn keyed(headers: &HeaderMap, slot: &mut String) -> Result<(), AppError> {
    let key = body::idempotency_key(headers)?;
    body::merge(slot, "idempotency_key", key, "Idempotency-Key header")
}

/// Both the key and the payment id from the path.
fn keyed_on(
    headers: &HeaderMap,
    id: &str,
    key_slot: &mut String,
    id_slot: &mut String,
) -> Result<(), AppError> {
    keyed(headers, key_slot)?;
    body::merge(id_slot, "payment_id", Some(id), "payment id in the path")
}

async fn authorize(State(api): State<JsonApi>, headers: HeaderMap, raw: Body) -> Response {
    let fill = |r: &mut pb::AuthorizeRequest| keyed(&headers, &mut r.idempotency_key);
    api.unary("Authorize", &headers, raw, fill, ops::authorize)
        .await
}

async fn capture(
    State(api): State<JsonApi>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Body,
) -> Response {
    let fill = |r: &mut pb::CaptureRequest| {
        keyed_on(&headers, &id, &mut r.idempotency_key, &mut r.payment_id)
    };
    api.unary("Capture", &headers, raw, fill, ops::capture)
        .await
}

async fn void(
    State(api): State<JsonApi>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Body,
) -> Response {
    let fill = |r: &mut pb::VoidRequest| {
        keyed_on(&headers, &id, &mut r.idempotency_key, &mut r.payment_id)
    };
    api.unary("Void", &headers, raw, fill, ops::void).await
}

async fn refund(
    State(api): State<JsonApi>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Body,
) -> Response {
    let fill = |r: &mut pb::RefundRequest| {
        keyed_on(&headers, &id, &mut r.idempotency_key, &mut r.payment_id)
    };
    api.unary("Refund", &headers, raw, fill, ops::refund).await
}

async fn get_payment(
    State(api): State<JsonApi>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let req = pb::GetPaymentRequest { payment_id: id };
    let answer = api
        .gateway
        .call("GetPayment", meta(&headers), req, ops::get_payment)
        .await;
    respond(answer)
}

async fn list_payments(
    State(api): State<JsonApi>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let answer =
        api.gateway
            .call(
                "ListPayments",
                meta(&headers),
                query,
                |s, m, q| async move {
                    ops::list_payments(s, m, query::list_request(q.as_deref())?).await
                },
            )
            .await;
    respond(answer)
}

async fn openapi() -> Response {
    json_response(OPENAPI.as_bytes().to_vec())
}
