//! `AppError`: what use cases return. Each variant answers "what should the caller do next";
//! `grpc/status.rs` maps it to a gRPC code and a DESIGN.md §2.1 reason in one place.

use crate::domain::{CardDataFound, ProviderKind, Refusal};
use crate::store::StoreError;

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
