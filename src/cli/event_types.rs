//! The event types a merchant's `WatchEvents` stream (and so `paygate listen`) can carry, as the
//! domain names them ([`PaymentStatus::event_type`]): `--events` and `paygate trigger` check
//! against this list, so a typo is refused with the whole list instead of matching nothing.

use crate::domain::PaymentStatus;

/// Every event type, in the order of [`PaymentStatus::ALL`], each once (two statuses share
/// `payment.captured`, two `payment.refunded`).
pub fn all() -> Vec<&'static str> {
    let mut types: Vec<&'static str> = Vec::new();
    for status in PaymentStatus::ALL {
        let kind = status.event_type();
        if !types.contains(&kind) {
            types.push(kind);
        }
    }
    types
}

/// `kind` is one of [`all`]; otherwise the error names it and lists the known ones.
pub fn check(kind: &str) -> Result<(), UnknownEventType> {
    if all().contains(&kind) {
        Ok(())
    } else {
        Err(UnknownEventType(kind.to_owned()))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown event type {0:?}; the event types are: {known}", known = all().join(", "))]
pub struct UnknownEventType(pub String);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn each_type_is_listed_once_and_a_typo_names_the_list() {
        let types = all();
        assert_eq!(types.len(), 8, "{types:?}");
        assert!(types.contains(&"payment.captured"));
        assert!(check("payment.refunded").is_ok());
        let err = check("payment.capture").unwrap_err().to_string();
        assert!(err.contains("\"payment.capture\""), "{err}");
        assert!(err.contains("payment.requires_action"), "{err}");
    }
}
