//! Renders an `AppError` as a gRPC `Status`: the code and reason decided once in
//! `error.rs`, as `google.rpc.ErrorInfo` (domain `paygate`), plus BadRequest / RetryInfo.

use crate::error::{AppError, ErrorCode};
use std::collections::HashMap;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

impl From<AppError> for Status {
    fn from(err: AppError) -> Self {
        err.log_server_fault();
        let mut details = ErrorDetails::new();
        if let AppError::Invalid(v) = &err {
            for violation in v.violations() {
                details.add_bad_request_violation(
                    violation.field.clone(),
                    violation.description.clone(),
                );
            }
        }
        if let Some(after) = err.retry_after() {
            details.set_retry_info(Some(after));
        }
        details.set_error_info(err.reason(), "paygate", HashMap::new());
        // Internal causes stay in the log; the caller sees only "internal error".
        Status::with_error_details(grpc_code(err.code()), err.to_string(), details)
    }
}

fn grpc_code(code: ErrorCode) -> Code {
    match code {
        ErrorCode::InvalidArgument => Code::InvalidArgument,
        ErrorCode::NotFound => Code::NotFound,
        ErrorCode::FailedPrecondition => Code::FailedPrecondition,
        ErrorCode::Aborted => Code::Aborted,
        ErrorCode::PermissionDenied => Code::PermissionDenied,
        ErrorCode::Unavailable => Code::Unavailable,
        ErrorCode::OutOfRange => Code::OutOfRange,
        ErrorCode::ResourceExhausted => Code::ResourceExhausted,
        ErrorCode::Unauthenticated => Code::Unauthenticated,
        ErrorCode::Internal => Code::Internal,
    }
}

/// The code's name as gRPC spells it (`FAILED_PRECONDITION`), for metric labels.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}
