//! The closed set of providers, and what each one supports.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Mock,
    Cmi,
    Paypal,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 3] = [Self::Mock, Self::Cmi, Self::Paypal];

    /// The name used in config, the database, URLs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mock => "mock",
            Self::Cmi => "cmi",
            Self::Paypal => "paypal",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider {0:?} (known: mock, cmi, paypal)")]
pub struct UnknownProvider(pub String);

impl FromStr for ProviderKind {
    type Err = UnknownProvider;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownProvider(s.chars().take(32).collect()))
    }
}

/// Which operations a provider supports, declared by its adapter and checked before any call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    pub partial_capture: bool,
    pub multiple_captures: bool,
    pub void: bool,
    pub partial_refund: bool,
    pub multiple_refunds: bool,
    /// A refund names one capture, not the payment (PayPal): a refund over several captures is
    /// split into parts, decided and persisted when it begins (see `domain::refund_parts`).
    pub refunds_per_capture: bool,
    /// The largest amount, in minor units, the provider's wire format can carry.
    pub max_minor: i64,
}
