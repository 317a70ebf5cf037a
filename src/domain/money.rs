//! Money: a positive amount in a currency's minor unit, and exact decimal conversion.
//!
//! There is no float anywhere on this path. Providers speak decimal strings ("100.50"); each
//! provider formats through [`Money::to_decimal`] and parses through [`Money::from_decimal`],
//! which refuse anything the currency cannot hold exactly.

use super::currency::Currency;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A positive amount in the currency's minor unit (MAD: centimes). Private fields: every
/// `Money` came from [`Money::new`], so it is positive and its currency is supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount must be greater than zero (got {0} minor units)")]
    NotPositive(i64),
    #[error("amount {0} has more decimal places than {1} allows ({2})")]
    TooPrecise(String, Currency, u32),
    #[error("amount {0} is out of range")]
    OutOfRange(String),
    #[error("amount {0:?} is not a decimal number")]
    NotDecimal(String),
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Result<Self, MoneyError> {
        if minor <= 0 {
            return Err(MoneyError::NotPositive(minor));
        }
        Ok(Self { minor, currency })
    }

    pub fn minor(self) -> i64 {
        self.minor
    }

    pub fn currency(self) -> Currency {
        self.currency
    }

    /// Exact, with the currency's scale: 10050 MAD → 100.50, 1500 JPY → 1500, 1 KWD → 0.001.
    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.minor, self.currency.exponent())
    }

    /// The canonical decimal string with exactly the currency's number of places.
    pub fn to_decimal_string(self) -> String {
        self.to_decimal().to_string()
    }

    /// Exact conversion back: "100.5" and "100.50" are 10050 MAD; "100.505" MAD is refused
    /// rather than rounded, because a rounded amount is a different amount.
    pub fn from_decimal(value: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        let exp = currency.exponent();
        let normalized = value.normalize();
        if normalized.scale() > exp {
            return Err(MoneyError::TooPrecise(value.to_string(), currency, exp));
        }
        let scaled = normalized
            .checked_mul(Decimal::from(10_i64.pow(exp)))
            .ok_or_else(|| MoneyError::OutOfRange(value.to_string()))?;
        // `scaled` has no fractional part left (scale checked above), so this is exact.
        let minor = scaled
            .to_i64()
            .ok_or_else(|| MoneyError::OutOfRange(value.to_string()))?;
        Self::new(minor, currency)
    }

    /// Parses a provider's or a person's decimal string ("100.50") exactly.
    pub fn parse_decimal(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let trimmed = text.trim();
        if trimmed.is_empty()
            || !trimmed
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
        {
            return Err(MoneyError::NotDecimal(text.chars().take(32).collect()));
        }
        let value = Decimal::from_str_exact(trimmed).map_err(|e| match e {
            rust_decimal::Error::ExceedsMaximumPossibleValue
            | rust_decimal::Error::LessThanMinimumPossibleValue => {
                MoneyError::OutOfRange(trimmed.chars().take(32).collect())
            }
            _ => MoneyError::NotDecimal(trimmed.chars().take(32).collect()),
        })?;
        Self::from_decimal(value, currency)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cur(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    #[test]
    fn formats_with_the_currency_scale() {
        assert_eq!(
            Money::new(10050, cur("MAD")).unwrap().to_decimal_string(),
            "100.50"
        );
        assert_eq!(
            Money::new(1500, cur("JPY")).unwrap().to_decimal_string(),
            "1500"
        );
        assert_eq!(
            Money::new(1, cur("KWD")).unwrap().to_decimal_string(),
            "0.001"
        );
        assert_eq!(
            Money::new(100, cur("EUR")).unwrap().to_decimal_string(),
            "1.00"
        );
    }

    #[test]
    fn parses_exactly_or_refuses() {
        let mad = cur("MAD");
        assert_eq!(Money::parse_decimal("100.5", mad).unwrap().minor(), 10050);
        assert_eq!(Money::parse_decimal("100.500", mad).unwrap().minor(), 10050);
        assert_eq!(Money::parse_decimal("100", mad).unwrap().minor(), 10000);
        assert!(matches!(
            Money::parse_decimal("100.505", mad),
            Err(MoneyError::TooPrecise(..))
        ));
        assert!(matches!(
            Money::parse_decimal("1.5", cur("JPY")),
            Err(MoneyError::TooPrecise(..))
        ));
        assert!(matches!(
            Money::parse_decimal("0", mad),
            Err(MoneyError::NotPositive(0))
        ));
        assert!(matches!(
            Money::parse_decimal("-1.00", mad),
            Err(MoneyError::NotPositive(_))
        ));
        assert!(matches!(
            Money::parse_decimal("1e3", mad),
            Err(MoneyError::NotDecimal(_))
        ));
        assert!(matches!(
            Money::parse_decimal("abc", mad),
            Err(MoneyError::NotDecimal(_))
        ));
        assert!(matches!(
            Money::parse_decimal("99999999999999999999.00", mad),
            Err(MoneyError::OutOfRange(_))
        ));
    }

    #[test]
    fn refuses_non_positive() {
        assert_eq!(Money::new(0, cur("MAD")), Err(MoneyError::NotPositive(0)));
        assert_eq!(Money::new(-5, cur("MAD")), Err(MoneyError::NotPositive(-5)));
    }

    proptest! {
        #[test]
        fn decimal_round_trips_for_every_exponent(
            minor in 1_i64..=i64::MAX,
            code in prop::sample::select(vec!["MAD", "EUR", "USD", "JPY", "KWD", "HUF", "TND", "OMR", "KRW"]),
        ) {
            let m = Money::new(minor, cur(code)).unwrap();
            prop_assert_eq!(Money::from_decimal(m.to_decimal(), m.currency()).unwrap(), m);
            prop_assert_eq!(Money::parse_decimal(&m.to_decimal_string(), m.currency()).unwrap(), m);
            prop_assert_eq!(m.to_decimal_string().split('.').nth(1).map_or(0, str::len),
                usize::try_from(m.currency().exponent()).unwrap());
        }
    }
}
