//! Request rules of the mock processor: what each card token means and which amounts and
//! currencies are acceptable.

use super::ApiError;

/// Largest amount accepted, in minor units (keeps every sum far from `i64` overflow).
const MAX_AMOUNT: i64 = 999_999_999_999;

/// Token whose payment is applied but answered only after `timeout_delay_ms`.
pub(super) const TOKEN_TIMEOUT: &str = "mock_timeout";

/// What the card token says should happen to a new payment.
pub(super) enum TokenOutcome {
    Approve,
    Decline {
        code: &'static str,
        message: &'static str,
    },
    Redirect,
    Unavailable,
}

pub(super) fn token_outcome(token: &str) -> Result<TokenOutcome, ApiError> {
    let outcome = match token {
        "" | "mock_ok" | TOKEN_TIMEOUT => TokenOutcome::Approve,
        "mock_decline" => TokenOutcome::Decline {
            code: "card_declined",
            message: "The card was declined.",
        },
        "mock_insufficient_funds" => TokenOutcome::Decline {
            code: "insufficient_funds",
            message: "The card has insufficient funds.",
        },
        "mock_expired_card" => TokenOutcome::Decline {
            code: "expired_card",
            message: "The card has expired.",
        },
        "mock_redirect" => TokenOutcome::Redirect,
        "mock_unavailable" => TokenOutcome::Unavailable,
        _ => {
            return Err(ApiError::bad_request("invalid_token", "unknown card token"));
        }
    };
    Ok(outcome)
}

pub(super) fn validate_amount(amount: i64) -> Result<(), ApiError> {
    if (1..=MAX_AMOUNT).contains(&amount) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_amount",
            "amount must be between 1 and 999999999999 minor units",
        ))
    }
}

pub(super) fn validate_currency(currency: &str) -> Result<(), ApiError> {
    if currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_currency",
            "currency must be an ISO 4217 code of three uppercase letters",
        ))
    }
}
