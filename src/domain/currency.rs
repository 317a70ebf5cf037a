//! ISO 4217 currencies: the alphabetic code, the minor-unit exponent and the numeric code.
//!
//! The table comes from `iso_currency` (generated from the ISO list). We accept only currencies
//! that have a minor unit defined and are not funds, precious metals or testing codes, because a
//! payment in `XAU` or `XTS` is a bug on the caller's side, not a sale.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A currency a payment can be made in. Private field: every value came from [`Currency::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency(iso_currency::Currency);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CurrencyError {
    #[error(
        "currency {0:?} is not an ISO 4217 code (three upper-case letters, e.g. MAD, EUR, USD)"
    )]
    Malformed(String),
    #[error("currency {0:?} is not a supported ISO 4217 currency")]
    Unsupported(String),
}

impl Currency {
    /// Parses an upper-case ISO 4217 alphabetic code. Lower case is refused rather than
    /// guessed at: a payments API should not silently reinterpret what the caller sent.
    pub fn parse(code: &str) -> Result<Self, CurrencyError> {
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(CurrencyError::Malformed(code.chars().take(16).collect()));
        }
        let iso = iso_currency::Currency::from_code(code)
            .ok_or_else(|| CurrencyError::Unsupported(code.to_owned()))?;
        if iso.exponent().is_none() || iso.is_fund() || iso.is_special() {
            return Err(CurrencyError::Unsupported(code.to_owned()));
        }
        Ok(Self(iso))
    }

    /// The three-letter code, e.g. `MAD`.
    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// ISO 4217 numeric code, e.g. 504 for MAD (CMI's `currency` field).
    pub fn numeric(self) -> u16 {
        self.0.numeric()
    }

    /// Digits after the decimal point in the minor unit: MAD 2, JPY 0, KWD 3.
    pub fn exponent(self) -> u32 {
        // `parse` refuses currencies without an exponent, so the fallback is never taken.
        self.0.exponent().map_or(0, u32::from)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = CurrencyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Self::parse(&code).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn knows_exponents_and_numeric_codes() {
        for (code, exp, num) in [
            ("MAD", 2, 504),
            ("EUR", 2, 978),
            ("USD", 2, 840),
            ("JPY", 0, 392),
            ("KWD", 3, 414),
            ("HUF", 2, 348),
        ] {
            let c = Currency::parse(code).unwrap();
            assert_eq!((c.exponent(), c.numeric(), c.code()), (exp, num, code));
        }
    }

    #[test]
    fn refuses_garbage_lowercase_and_non_currencies() {
        for bad in [
            "", "mad", "Mad", "MA", "MADD", "M4D", "ZZZ", "XAU", "XTS", "XXX",
        ] {
            assert!(Currency::parse(bad).is_err(), "{bad} must be refused");
        }
    }
}
