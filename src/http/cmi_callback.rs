//! `POST /webhooks/cmi/{merchant}`: CMI's server-to-server callback (specs/cmi.md §5).
//!
//! CMI reads the response body as a bare keyword (`APPROVED`, `FAILURE`), so every answer here
//! is `text/plain` with the keyword alone, errors included. The body is taken as raw,
//! size-limited bytes; it is never logged (it carries masked card data and the HASH).

use super::HttpState;
use crate::domain::MerchantId;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

pub(super) async fn receive(
    State(state): State<HttpState>,
    Path(merchant): Path<String>,
    body: Bytes,
) -> Response {
    let reply = match MerchantId::parse(&merchant) {
        Ok(merchant) => state.service.cmi_callback(&merchant, &body).await,
        Err(_) => None,
    };
    let Some(reply) = reply else {
        return keyword(StatusCode::NOT_FOUND, crate::service::cmi_callback::FAILURE);
    };
    state.metrics.webhook("cmi", reply.result);
    let status = StatusCode::from_u16(reply.http_status).unwrap_or(StatusCode::OK);
    keyword(status, reply.keyword)
}

fn keyword(status: StatusCode, word: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain")], word).into_response()
}
