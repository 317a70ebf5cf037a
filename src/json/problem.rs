//! Errors of the JSON API as `application/problem+json` (RFC 9457). An `AppError` keeps the
//! code and reason decided in `error.rs` (the same as gRPC's `ErrorInfo`); only the HTTP
//! status is this transport's. Errors no RPC has (unknown route, wrong method) live here too.

use crate::error::{AppError, ErrorCode, FieldViolations};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;
use std::time::Duration;

/// One problem answer, ready to render.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    code: &'static str,
    reason: &'static str,
    detail: String,
    violations: Option<FieldViolations>,
    retry_after: Option<Duration>,
}

impl Problem {
    /// An error of the HTTP surface itself, with no RPC behind it.
    pub fn http(status: StatusCode, code: ErrorCode, reason: &'static str, detail: &str) -> Self {
        Self {
            status,
            code: code.name(),
            reason,
            detail: detail.to_owned(),
            violations: None,
            retry_after: None,
        }
    }

    pub fn not_found_route() -> Self {
        Self::http(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "ROUTE_NOT_FOUND",
            "no such route; see GET /v1/openapi.json",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::http(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::InvalidArgument,
            "METHOD_NOT_ALLOWED",
            "this route does not take this method; see GET /v1/openapi.json",
        )
    }

    /// A body over `server.max_message_bytes`: 413 with gRPC's reason.
    pub fn too_large() -> Self {
        let err = AppError::MessageTooLarge;
        Self::http(
            StatusCode::PAYLOAD_TOO_LARGE,
            err.code(),
            err.reason(),
            &err.to_string(),
        )
    }
}

impl From<AppError> for Problem {
    fn from(err: AppError) -> Self {
        err.log_server_fault();
        let code = err.code();
        Self {
            status: StatusCode::from_u16(code.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: code.name(),
            reason: err.reason(),
            detail: err.to_string(),
            retry_after: err.retry_after(),
            violations: match err {
                AppError::Invalid(v) => Some(v),
                _ => None,
            },
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": format!("urn:paygate:error:{}", self.reason),
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
            "reason": self.reason,
        });
        if let (Some(v), Some(map)) = (&self.violations, body.as_object_mut()) {
            let list: Vec<_> = v
                .violations()
                .iter()
                .map(
                    |v| json!({"field": v.field, "reason": v.reason, "description": v.description}),
                )
                .collect();
            map.insert("violations".into(), list.into());
        }
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(after) = self.retry_after {
            // Whole seconds, rounded up: Retry-After has no finer unit.
            let secs = after.as_millis().div_ceil(1000).max(1);
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                headers.insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}
