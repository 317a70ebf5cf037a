//! PayPal words to paygate words: the one amount conversion, status and error mapping (§5), and
//! the approval link. (How a refund is split over captures is a domain rule: `domain::refund_parts`.)

use super::wire::{Amount, ErrorBody, Link};
use crate::domain::{Currency, Failure, Money, Refusal};
use rust_decimal::Decimal;

/// PayPal's RFC 3339 times (`expiration_time`), e.g. `2026-12-26T10:00:00Z`; `None` when PayPal
/// sends something else, so an odd format never fails a payment.
pub(super) fn timestamp(text: &str) -> Option<crate::domain::Timestamp> {
    let at =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    let micros = i64::try_from(at.unix_timestamp_nanos() / 1_000).ok()?;
    Some(crate::domain::Timestamp::from_micros(micros))
}

/// PayPal's supported currencies (§6). MAD is not one: refused before anything is sent.
const SUPPORTED: [&str; 25] = [
    "AUD", "BRL", "CAD", "CNY", "CZK", "DKK", "EUR", "HKD", "HUF", "ILS", "JPY", "MYR", "MXN",
    "TWD", "NZD", "NOK", "PHP", "PLN", "GBP", "RUB", "SGD", "SEK", "CHF", "THB", "USD",
];
/// ISO gives these two an exponent of 2, but PayPal takes whole units only.
const WHOLE_UNITS: [&str; 2] = ["HUF", "TWD"];
/// PayPal's upper bound, 999999999999999.99, in cents.
const MAX_CENTS: i64 = 99_999_999_999_999_999;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("PayPal does not support {0}")]
    UnsupportedCurrency(&'static str),
    #[error("PayPal takes whole {0} amounts only")]
    FractionNotAllowed(&'static str),
    #[error("amount exceeds PayPal's maximum")]
    TooLarge,
    #[error("PayPal answered an amount that does not parse: {0:?}")]
    Unparseable(String),
}

pub fn is_supported(currency: Currency) -> bool {
    SUPPORTED.contains(&currency.code())
}

/// The one formatting of paygate money as PayPal's `value` string: "100.50", JPY "1500",
/// HUF 150000 minor units → "1500". Exact, via rust_decimal.
pub fn to_amount(money: Money) -> Result<Amount, AmountError> {
    let currency = money.currency();
    let code = currency.code();
    if !is_supported(currency) {
        return Err(AmountError::UnsupportedCurrency(code));
    }
    let minor = money.minor();
    let value = if WHOLE_UNITS.contains(&code) {
        if minor % 100 != 0 {
            return Err(AmountError::FractionNotAllowed(code));
        }
        Decimal::from(minor / 100).to_string()
    } else {
        money.to_decimal_string()
    };
    if minor > MAX_CENTS {
        return Err(AmountError::TooLarge);
    }
    Ok(Amount {
        currency_code: code.to_owned(),
        value,
    })
}

/// PayPal's `amount` back to minor units, exactly; `None` when the currency differs.
pub fn from_amount(amount: &Amount, currency: Currency) -> Result<Option<i64>, AmountError> {
    if amount.currency_code != currency.code() {
        return Ok(None);
    }
    let bad = || AmountError::Unparseable(amount.value.chars().take(32).collect());
    let money =
        Money::parse_decimal(&amount.value, currency_for_parse(currency)).map_err(|_| bad())?;
    if WHOLE_UNITS.contains(&currency.code()) {
        return money.minor().checked_mul(100).map(Some).ok_or_else(bad);
    }
    Ok(Some(money.minor()))
}

/// For HUF/TWD PayPal's value is whole units: parse it as a zero-exponent amount.
fn currency_for_parse(currency: Currency) -> Currency {
    if WHOLE_UNITS.contains(&currency.code()) {
        Currency::parse("JPY").unwrap_or(currency)
    } else {
        currency
    }
}

/// The approval page: `payer-action` (experience_context) or `approve` (older flows).
pub fn approval_link(links: &[Link]) -> Option<String> {
    links
        .iter()
        .find(|l| l.rel == "payer-action" || l.rel == "approve")
        .map(|l| l.href.clone())
}

/// The last path segment of a HATEOAS link if it looks like a PayPal id (`^[A-Z0-9]+$`).
pub fn id_from_link(href: &str) -> Option<&str> {
    let last = href.trim_end_matches('/').rsplit('/').next()?;
    let ok = !last.is_empty()
        && last.len() <= 36
        && last
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    ok.then_some(last)
}

/// The failure recorded for a PayPal refusal: our code from the issue, PayPal's own words kept.
pub fn failure(code: &str, err: &ErrorBody) -> Failure {
    Failure {
        code: code.to_owned(),
        message: format!("PayPal refused: {}", err.issue()),
        provider_code: err.issue().to_owned(),
        provider_message: err.description().chars().take(200).collect(),
    }
}

/// What a 4xx answer means for the operation (§5.2/§5.3), decided on the issue code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// A decline: a result, the RPC answers OK.
    Declined(Failure),
    /// Failed for a reason on paygate's or the merchant's side.
    Failed(Failure),
    /// The payment's state at PayPal forbids it: FAILED_PRECONDITION.
    Precondition(Refusal, Failure),
    /// The buyer must (still) approve on PayPal's page.
    RequiresAction,
    /// Re-read the resource: an earlier attempt of ours may have done it already.
    Reconcile,
    /// PayPal is busy with the same request: try again later, outcome unknown meanwhile.
    Retry,
}

const DECLINES: [&str; 14] = [
    "INSTRUMENT_DECLINED",
    "TRANSACTION_REFUSED",
    "PAYER_CANNOT_PAY",
    "COMPLIANCE_VIOLATION",
    "PAYER_ACCOUNT_RESTRICTED",
    "PAYER_ACCOUNT_LOCKED_OR_CLOSED",
    "MAX_NUMBER_OF_PAYMENT_ATTEMPTS_EXCEEDED",
    "TRANSACTION_LIMIT_EXCEEDED",
    "TRANSACTION_RECEIVING_LIMIT_EXCEEDED",
    "DECLINED_DUE_TO_RELATED_TXN",
    "CARD_BRAND_NOT_SUPPORTED",
    "REFERENCED_CARD_EXPIRED",
    "TOKEN_EXPIRED",
    "TRANSACTION_BLOCKED_BY_PAYEE",
];

const MERCHANT: [&str; 9] = [
    "PAYEE_ACCOUNT_INVALID",
    "PAYEE_ACCOUNT_LOCKED_OR_CLOSED",
    "PAYEE_ACCOUNT_RESTRICTED",
    "AUTH_CAPTURE_NOT_ENABLED",
    "NOT_ENABLED_FOR_CARD_PROCESSING",
    "PAYEE_BLOCKED_TRANSACTION",
    "PERMISSION_DENIED",
    "REFUND_FAILED_INSUFFICIENT_FUNDS",
    "PLATFORM_FEE_NOT_ENABLED",
];

/// Maps a 4xx error body. `what` names the operation for messages ("captured", "voided", ...).
pub fn refusal(status: u16, err: &ErrorBody, what: crate::domain::OperationKind) -> Refused {
    use crate::domain::OperationKind as K;
    let issue = err.issue();
    let state = |s: &'static str| {
        Refused::Precondition(
            Refusal::InvalidState {
                status: s,
                op: what,
            },
            failure(&issue.to_ascii_lowercase(), err),
        )
    };
    let unsupported = |w: &'static str| {
        Refused::Precondition(
            Refusal::NotSupported {
                provider: "paypal",
                what: w,
            },
            failure(&issue.to_ascii_lowercase(), err),
        )
    };
    match issue {
        "PREVIOUS_REQUEST_IN_PROGRESS" | "ORDER_COMPLETION_IN_PROGRESS" => Refused::Retry,
        "ORDER_NOT_APPROVED" | "PAYER_ACTION_REQUIRED" | "REDIRECT_PAYER_FOR_ALTERNATE_FUNDING" => {
            Refused::RequiresAction
        }
        "INSTRUMENT_DECLINED" if what == K::Authorize => Refused::RequiresAction,
        "ORDER_ALREADY_AUTHORIZED" | "ORDER_ALREADY_CAPTURED" | "PREVIOUSLY_VOIDED" => {
            Refused::Reconcile
        }
        // The request id was used before for another request (another resource or body). Some
        // request of ours may have acted under it, so this is never a failure: find out.
        "PAYPAL_REQUEST_ID_PREVIOUSLY_USED" => {
            tracing::error!(debug_id = %err.debug_id, "PayPal says this request id was sent before with another request: operator attention needed");
            Refused::Reconcile
        }
        "ORDER_EXPIRED" | "ORDER_COMPLETED_OR_VOIDED" => {
            Refused::Declined(failure("order_expired", err))
        }
        "AUTHORIZATION_DENIED" => Refused::Declined(failure("authorization_denied", err)),
        "AUTHORIZATION_VOIDED" => state("voided"),
        "AUTHORIZATION_EXPIRED" => state("expired"),
        "AUTHORIZATION_ALREADY_CAPTURED" | "PREVIOUSLY_CAPTURED" => state("captured"),
        "PENDING_CAPTURE" => state("pending"),
        "MAX_AUTHORIZATION_COUNT_EXCEEDED" => state("authorized"),
        "MAX_CAPTURE_AMOUNT_EXCEEDED" => Refused::Precondition(
            Refusal::ExceedsCapturable {
                requested: "the requested amount".into(),
                available: "what PayPal still allows".into(),
            },
            failure("max_capture_amount_exceeded", err),
        ),
        "CAPTURE_FULLY_REFUNDED" | "REFUND_AMOUNT_EXCEEDED" => Refused::Precondition(
            Refusal::ExceedsRefundable {
                requested: "the requested amount".into(),
                available: "what PayPal still allows".into(),
            },
            failure(&issue.to_ascii_lowercase(), err),
        ),
        "MAX_CAPTURE_COUNT_EXCEEDED" => unsupported("more captures on this authorization"),
        "CANNOT_BE_VOIDED" => unsupported("voiding a reauthorization"),
        "REFUND_NOT_ALLOWED"
        | "REFUND_TIME_LIMIT_EXCEEDED"
        | "PARTIAL_REFUND_NOT_ALLOWED"
        | "MAX_NUMBER_OF_REFUNDS_EXCEEDED"
        | "REFUND_IS_RESTRICTED"
        | "REFUND_NOT_PERMITTED_DUE_TO_CHARGEBACK"
        | "TRANSACTION_DISPUTED" => unsupported("this refund"),
        "AUTH_CAPTURE_CURRENCY_MISMATCH"
        | "REFUND_CAPTURE_CURRENCY_MISMATCH"
        | "CURRENCY_MISMATCH"
        | "AUTH_CURRENCY_MISMATCH" => state("other-currency"),
        issue if DECLINES.contains(&issue) => {
            Refused::Declined(failure(&issue.to_ascii_lowercase(), err))
        }
        issue if MERCHANT.contains(&issue) || status == 403 => {
            tracing::error!(issue, debug_id = %err.debug_id, "PayPal account problem: operator attention needed");
            Refused::Failed(failure("provider_account_error", err))
        }
        _ => {
            if status == 400 || status == 422 {
                tracing::error!(issue, debug_id = %err.debug_id, "PayPal refused a request paygate should not have sent");
            }
            Refused::Failed(failure("invalid_request", err))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn expiration_times_parse_as_rfc3339_and_odd_ones_are_dropped() {
        let at = timestamp("2026-12-26T10:00:00.5Z").unwrap();
        assert_eq!(at.micros(), 1_798_279_200_500_000);
        assert_eq!(
            timestamp("2026-12-26T11:00:00+01:00"),
            timestamp("2026-12-26T10:00:00Z")
        );
        assert_eq!(timestamp("next tuesday"), None);
    }

    fn money(minor: i64, code: &str) -> Money {
        Money::new(minor, Currency::parse(code).unwrap()).unwrap()
    }

    #[test]
    fn amounts_use_paypal_decimal_rules() {
        assert_eq!(to_amount(money(10050, "EUR")).unwrap().value, "100.50");
        assert_eq!(to_amount(money(1, "USD")).unwrap().value, "0.01");
        assert_eq!(to_amount(money(1500, "JPY")).unwrap().value, "1500");
        assert_eq!(to_amount(money(150_000, "HUF")).unwrap().value, "1500");
        assert_eq!(
            to_amount(money(150_050, "TWD")),
            Err(AmountError::FractionNotAllowed("TWD"))
        );
        assert_eq!(
            to_amount(money(10000, "MAD")),
            Err(AmountError::UnsupportedCurrency("MAD"))
        );
        assert_eq!(
            to_amount(money(MAX_CENTS + 1, "USD")),
            Err(AmountError::TooLarge)
        );
    }

    #[test]
    fn answers_in_another_currency_or_unparseable_are_not_accepted() {
        let eur = Currency::parse("EUR").unwrap();
        let a = |v: &str, c: &str| Amount {
            currency_code: c.into(),
            value: v.into(),
        };
        assert_eq!(from_amount(&a("100.5", "EUR"), eur), Ok(Some(10050)));
        assert_eq!(from_amount(&a("100.50", "USD"), eur), Ok(None));
        assert!(from_amount(&a("1e2", "EUR"), eur).is_err());
        assert!(from_amount(&a("1.005", "EUR"), eur).is_err());
    }

    proptest! {
        #[test]
        fn amounts_round_trip(minor in 1_i64..=MAX_CENTS, code in prop::sample::select(vec!["EUR", "USD", "JPY", "GBP", "HUF", "TWD"])) {
            let currency = Currency::parse(code).unwrap();
            let minor = if WHOLE_UNITS.contains(&code) { (minor / 100).max(1) * 100 } else { minor };
            let m = money(minor, code);
            let amount = to_amount(m).unwrap();
            prop_assert_eq!(from_amount(&amount, currency).unwrap(), Some(minor));
        }
    }

    #[test]
    fn issues_map_to_the_spec_classes() {
        use crate::domain::OperationKind as K;
        let body = |issue: &str| ErrorBody {
            name: "UNPROCESSABLE_ENTITY".into(),
            details: vec![super::super::wire::ErrorDetail {
                issue: issue.into(),
                description: "d".into(),
            }],
            ..ErrorBody::default()
        };
        assert!(matches!(
            refusal(422, &body("AUTHORIZATION_VOIDED"), K::Capture),
            Refused::Precondition(Refusal::InvalidState { .. }, _)
        ));
        assert!(matches!(
            refusal(422, &body("MAX_CAPTURE_AMOUNT_EXCEEDED"), K::Capture),
            Refused::Precondition(Refusal::ExceedsCapturable { .. }, _)
        ));
        assert!(matches!(
            refusal(422, &body("REFUND_AMOUNT_EXCEEDED"), K::Refund),
            Refused::Precondition(Refusal::ExceedsRefundable { .. }, _)
        ));
        assert!(matches!(
            refusal(422, &body("CANNOT_BE_VOIDED"), K::Void),
            Refused::Precondition(Refusal::NotSupported { .. }, _)
        ));
        assert!(
            matches!(refusal(422, &body("TRANSACTION_REFUSED"), K::Capture), Refused::Declined(f) if f.code == "transaction_refused")
        );
        assert_eq!(
            refusal(422, &body("ORDER_NOT_APPROVED"), K::Authorize),
            Refused::RequiresAction
        );
        assert_eq!(
            refusal(422, &body("ORDER_ALREADY_AUTHORIZED"), K::Authorize),
            Refused::Reconcile
        );
        assert_eq!(
            refusal(409, &body("PREVIOUS_REQUEST_IN_PROGRESS"), K::Refund),
            Refused::Retry
        );
        assert!(
            matches!(refusal(422, &body("PAYEE_ACCOUNT_RESTRICTED"), K::Capture), Refused::Failed(f) if f.code == "provider_account_error")
        );
        assert!(
            matches!(refusal(422, &body("SOMETHING_NEW"), K::Capture), Refused::Failed(f) if f.provider_code == "SOMETHING_NEW")
        );
    }

    #[test]
    fn links_give_ids_only_when_they_look_like_paypal_ids() {
        assert_eq!(
            id_from_link("https://api.paypal.com/v2/payments/captures/7TK53561YB803214S"),
            Some("7TK53561YB803214S")
        );
        assert_eq!(
            id_from_link("https://api.paypal.com/v2/payments/captures/../x"),
            None
        );
        assert_eq!(id_from_link(""), None);
    }
}
