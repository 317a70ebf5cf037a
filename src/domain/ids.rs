//! Identifier newtypes. Each has a fallible constructor, so a value that exists is valid.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must be a UUID like 0190f5c4-2b6e-7d3a-9c1e-5f2a8b7c6d4e")]
    NotUuid,
    #[error("must be 1-255 printable ASCII characters")]
    BadIdempotencyKey,
    #[error("must be 1-64 characters of a-z, 0-9, '-' or '_', starting with a letter or digit")]
    BadMerchantId,
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $name(Uuid);

        impl $name {
            /// A new time-ordered (v7) id, so ids sort by creation and index well.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            /// Accepts only the hyphenated form, the one paygate hands out.
            pub fn parse(text: &str) -> Result<Self, IdError> {
                if text.len() != 36 {
                    return Err(IdError::NotUuid);
                }
                Uuid::try_parse(text).map(Self).map_err(|_| IdError::NotUuid)
            }
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_id!(
    /// A payment's id, shown to callers.
    PaymentId
);
uuid_id!(
    /// One authorize/capture/void/refund attempt. The key sent to the provider derives from it.
    OperationId
);

impl OperationId {
    /// The idempotency key sent to the provider for this operation. Derived, not random, so a
    /// retry or the reconciler reuses it and never starts a second money movement.
    pub fn provider_key(&self) -> String {
        format!("pg-{}", self.0.simple())
    }
}

/// The caller's idempotency key: 1-255 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let ok =
            (1..=255).contains(&text.len()) && text.bytes().all(|b| (0x20..=0x7e).contains(&b));
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(IdError::BadIdempotencyKey)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A merchant's id from the config (`atlas-shop`). Used in URLs and as the tenancy key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MerchantId(String);

impl MerchantId {
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let mut bytes = text.bytes();
        let first_ok = bytes
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let rest_ok =
            bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if first_ok && rest_ok && text.len() <= 64 {
            Ok(Self(text.to_owned()))
        } else {
            Err(IdError::BadMerchantId)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MerchantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_ids_round_trip_and_refuse_garbage() {
        let id = PaymentId::new();
        assert_eq!(PaymentId::parse(&id.to_string()), Ok(id));
        for bad in [
            "",
            "not-a-uuid",
            "0190f5c42b6e7d3a9c1e5f2a8b7c6d4e",
            "{0190f5c4-2b6e-7d3a-9c1e-5f2a8b7c6d4e}",
        ] {
            assert_eq!(PaymentId::parse(bad), Err(IdError::NotUuid), "{bad}");
        }
    }

    #[test]
    fn idempotency_keys_are_printable_ascii_up_to_255() {
        assert!(IdempotencyKey::parse("order-42 attempt 1").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        for bad in [
            String::new(),
            "k".repeat(256),
            "tab\there".into(),
            "é".into(),
        ] {
            assert!(IdempotencyKey::parse(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn merchant_ids_are_url_safe() {
        assert!(MerchantId::parse("atlas-shop").is_ok());
        for bad in ["", "-x", "Atlas", "a/b", "a b"] {
            assert!(MerchantId::parse(bad).is_err(), "{bad}");
        }
    }
}
