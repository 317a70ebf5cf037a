//! The event types a merchant's `WatchEvents` stream (and so `paygate listen`) can carry, as the
//! domain lists them ([`PaymentStatus::EVENT_TYPES`]): `--events` and `paygate trigger` check
//! against this list, so a typo is refused with the whole list instead of matching nothing.

use crate::domain::PaymentStatus;

/// Every event type, each once: the domain's one list ([`PaymentStatus::EVENT_TYPES`], which a
/// domain test keeps equal to what the statuses announce).
pub fn all() -> Vec<&'static str> {
    PaymentStatus::EVENT_TYPES.to_vec()
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
