//! The one place where an `AppError` becomes a gRPC `Status`: code + `google.rpc.ErrorInfo`
//! (domain `paygate`, reason per DESIGN.md §2.1), plus BadRequest / RetryInfo where they help.

use crate::domain::Refusal;
use crate::error::AppError;
use std::collections::HashMap;
use std::time::Duration;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// How long a caller should wait before retrying an ABORTED or UNAVAILABLE request.
const RETRY_AFTER: Duration = Duration::from_millis(200);

impl From<AppError> for Status {
    fn from(err: AppError) -> Self {
        let mut details = ErrorDetails::new();
        let (code, reason) = match &err {
            AppError::Invalid(v) => {
                for violation in v.violations() {
                    details.add_bad_request_violation(
                        violation.field.clone(),
                        violation.description.clone(),
                    );
                }
                (Code::InvalidArgument, v.reason())
            }
            AppError::NotFound => (Code::NotFound, "PAYMENT_NOT_FOUND"),
            AppError::Refused(r) => (Code::FailedPrecondition, refusal_reason(r)),
            AppError::KeyReused => (Code::FailedPrecondition, "IDEMPOTENCY_KEY_REUSED"),
            AppError::KeyInUse => {
                details.set_retry_info(Some(RETRY_AFTER));
                (Code::Aborted, "IDEMPOTENCY_KEY_IN_USE")
            }
            AppError::ProviderNotEnabled(_) => (Code::PermissionDenied, "PERMISSION_DENIED"),
            AppError::ProviderUnavailable { .. } => {
                details.set_retry_info(Some(RETRY_AFTER));
                (Code::Unavailable, "PROVIDER_UNAVAILABLE")
            }
            AppError::StoreUnavailable(reason) => {
                tracing::error!(%reason, "database unavailable");
                details.set_retry_info(Some(RETRY_AFTER));
                (Code::Unavailable, "STORE_UNAVAILABLE")
            }
            AppError::EventsPruned { .. } => (Code::OutOfRange, "EVENTS_PRUNED"),
            AppError::MessageTooLarge => (Code::ResourceExhausted, "MESSAGE_TOO_LARGE"),
            AppError::TooManyStreams { .. } => (Code::ResourceExhausted, "TOO_MANY_STREAMS"),
            AppError::MetadataTooLarge { .. } => (Code::ResourceExhausted, "METADATA_TOO_LARGE"),
            AppError::Unauthenticated => (Code::Unauthenticated, "UNAUTHENTICATED"),
            AppError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                (Code::Internal, "INTERNAL")
            }
        };
        details.set_error_info(reason, "paygate", HashMap::new());
        // Internal causes stay in the log; the caller sees only "internal error".
        Status::with_error_details(code, err.to_string(), details)
    }
}

fn refusal_reason(r: &Refusal) -> &'static str {
    match r {
        Refusal::InvalidState { .. } => "INVALID_STATE",
        Refusal::ExceedsCapturable { .. } => "AMOUNT_EXCEEDS_CAPTURABLE",
        Refusal::ExceedsRefundable { .. } => "AMOUNT_EXCEEDS_REFUNDABLE",
        Refusal::CurrencyMismatch { .. } => "CURRENCY_MISMATCH",
        Refusal::NotSupported { .. } => "OPERATION_NOT_SUPPORTED",
        Refusal::ByProvider { reason, .. } => reason,
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
