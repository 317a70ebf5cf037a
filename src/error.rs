//! `AppError`: what use cases return. Each variant answers "what should the caller do next".
//! [`AppError::code`] and [`AppError::reason`] are the one mapping to a gRPC code and a
//! DESIGN.md §2.1 reason; `grpc/status.rs` and `json/problem.rs` only render them, so both
//! transports answer the same error the same way.

use crate::domain::{CardDataFound, ProviderKind, Refusal};
use crate::store::StoreError;
use std::time::Duration;

/// One bad request field, as reported in `google.rpc.BadRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
    /// The DESIGN.md reason this violation stands for (INVALID_AMOUNT, UNSUPPORTED_CURRENCY,
    /// CARD_DATA_NOT_ALLOWED...).
    pub reason: &'static str,
}

/// Every bad field of a request, collected so the caller fixes them in one round trip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldViolations(Vec<FieldViolation>);

impl FieldViolations {
    pub fn add(&mut self, field: &str, reason: &'static str, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.to_owned(),
            description: description.into(),
            reason,
        });
    }

    /// Keeps `Ok` values and records `Err`s under `field` with `reason`.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        reason: &'static str,
        r: Result<T, E>,
    ) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, reason, e.to_string());
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn violations(&self) -> &[FieldViolation] {
        &self.0
    }

    /// The reason of the first violation: the most specific thing wrong with the request.
    pub fn reason(&self) -> &'static str {
        self.0.first().map_or("INVALID_FIELD", |v| v.reason)
    }

    pub fn into_result(self) -> Result<(), AppError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(AppError::Invalid(self))
        }
    }
}

impl std::fmt::Display for FieldViolations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|v| format!("{}: {}", v.field, v.description))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid request: {0}")]
    Invalid(FieldViolations),
    #[error("payment not found")]
    NotFound,
    #[error("{0}")]
    Refused(Refusal),
    #[error("this idempotency key was used before with different parameters")]
    KeyReused,
    #[error("a request with this idempotency key is still running; retry with the same key")]
    KeyInUse,
    #[error("provider {0} is not enabled for this merchant")]
    ProviderNotEnabled(ProviderKind),
    #[error("provider {provider} is unavailable; nothing was charged, retry with the same key")]
    ProviderUnavailable {
        provider: ProviderKind,
        reason: String,
    },
    #[error("the database is unavailable; retry with the same key")]
    StoreUnavailable(String),
    #[error(
        "events up to sequence {pruned_through} were deleted by retention; resume from after_sequence = 0 (the oldest kept) or re-read payments with ListPayments"
    )]
    EventsPruned { pruned_through: i64 },
    #[error("the request is larger than this server accepts")]
    MessageTooLarge,
    #[error(
        "this merchant already has {limit} WatchEvents streams open on this server; close one before opening another"
    )]
    TooManyStreams { limit: usize },
    #[error("the request metadata (headers) is larger than {limit} bytes")]
    MetadataTooLarge { limit: usize },
    #[error("missing or invalid API key")]
    Unauthenticated,
    #[error("internal error")]
    Internal(String),
}

/// The reason of a card number found in caller text (README "Card numbers and caller text").
pub const CARD_DATA_NOT_ALLOWED: &str = "CARD_DATA_NOT_ALLOWED";

impl From<CardDataFound> for AppError {
    /// One violation per field; the description never repeats the text.
    fn from(found: CardDataFound) -> Self {
        let mut bad = FieldViolations::default();
        for field in &found.fields {
            bad.add(
                field,
                CARD_DATA_NOT_ALLOWED,
                "holds a card number (13-19 digits that pass the Luhn check); paygate never takes card data: send the provider's token instead",
            );
        }
        Self::Invalid(bad)
    }
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Self::NotFound,
            StoreError::Refused(r) => Self::Refused(r),
            StoreError::Unavailable(reason) => Self::StoreUnavailable(reason),
            StoreError::Internal(reason) => Self::Internal(reason),
        }
    }
}

/// How long a caller should wait before retrying an ABORTED or UNAVAILABLE request.
pub const RETRY_AFTER: Duration = Duration::from_millis(200);

/// The gRPC codes paygate answers with, transport-neutral: gRPC renders them as a `Status`,
/// the JSON API as an HTTP status (Google's gRPC↔HTTP mapping, FAILED_PRECONDITION aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidArgument,
    NotFound,
    FailedPrecondition,
    Aborted,
    PermissionDenied,
    Unavailable,
    OutOfRange,
    ResourceExhausted,
    Unauthenticated,
    Internal,
}

impl ErrorCode {
    /// The code's name as gRPC spells it, for metric labels and problem titles.
    pub fn name(self) -> &'static str {
        match self {
            Self::InvalidArgument => "INVALID_ARGUMENT",
            Self::NotFound => "NOT_FOUND",
            Self::FailedPrecondition => "FAILED_PRECONDITION",
            Self::Aborted => "ABORTED",
            Self::PermissionDenied => "PERMISSION_DENIED",
            Self::Unavailable => "UNAVAILABLE",
            Self::OutOfRange => "OUT_OF_RANGE",
            Self::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Internal => "INTERNAL",
        }
    }

    /// The HTTP status of the JSON API. FAILED_PRECONDITION is 422, not Google's 400: the
    /// request was well-formed but the payment's state (or the key's earlier use) forbids it,
    /// and keeping 409 for ABORTED alone means "409 → retry with the same key" holds.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidArgument | Self::OutOfRange => 400,
            Self::Unauthenticated => 401,
            Self::PermissionDenied => 403,
            Self::NotFound => 404,
            Self::Aborted => 409,
            Self::FailedPrecondition => 422,
            Self::ResourceExhausted => 429,
            Self::Internal => 500,
            Self::Unavailable => 503,
        }
    }
}

impl AppError {
    /// The code this error answers with on either transport.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) => ErrorCode::InvalidArgument,
            Self::NotFound => ErrorCode::NotFound,
            Self::Refused(_) | Self::KeyReused => ErrorCode::FailedPrecondition,
            Self::KeyInUse => ErrorCode::Aborted,
            Self::ProviderNotEnabled(_) => ErrorCode::PermissionDenied,
            Self::ProviderUnavailable { .. } | Self::StoreUnavailable(_) => ErrorCode::Unavailable,
            Self::EventsPruned { .. } => ErrorCode::OutOfRange,
            Self::MessageTooLarge | Self::TooManyStreams { .. } | Self::MetadataTooLarge { .. } => {
                ErrorCode::ResourceExhausted
            }
            Self::Unauthenticated => ErrorCode::Unauthenticated,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The stable DESIGN.md §2.1 reason (gRPC `ErrorInfo.reason`, problem+json `reason`).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Invalid(v) => v.reason(),
            Self::NotFound => "PAYMENT_NOT_FOUND",
            Self::Refused(r) => refusal_reason(r),
            Self::KeyReused => "IDEMPOTENCY_KEY_REUSED",
            Self::KeyInUse => "IDEMPOTENCY_KEY_IN_USE",
            Self::ProviderNotEnabled(_) => "PERMISSION_DENIED",
            Self::ProviderUnavailable { .. } => "PROVIDER_UNAVAILABLE",
            Self::StoreUnavailable(_) => "STORE_UNAVAILABLE",
            Self::EventsPruned { .. } => "EVENTS_PRUNED",
            Self::MessageTooLarge => "MESSAGE_TOO_LARGE",
            Self::TooManyStreams { .. } => "TOO_MANY_STREAMS",
            Self::MetadataTooLarge { .. } => "METADATA_TOO_LARGE",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Internal(_) => "INTERNAL",
        }
    }

    /// When the caller should retry with the same key: ABORTED and UNAVAILABLE only.
    pub fn retry_after(&self) -> Option<Duration> {
        matches!(self.code(), ErrorCode::Aborted | ErrorCode::Unavailable).then_some(RETRY_AFTER)
    }

    /// Logs what the caller will not see (internal causes stay in the log). Called once per
    /// answered error, by the transport that renders it.
    pub fn log_server_fault(&self) {
        match self {
            // Refused by the gate: the outage was logged once when health saw it.
            Self::StoreUnavailable(reason) if reason == crate::store::KNOWN_DOWN => {
                tracing::debug!(%reason, "database known down: call refused");
            }
            Self::StoreUnavailable(reason) => tracing::error!(%reason, "database unavailable"),
            Self::Internal(cause) => tracing::error!(%cause, "internal error"),
            _ => {}
        }
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
