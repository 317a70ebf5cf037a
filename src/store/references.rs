//! The provider's ids of a payment's operations, as the `operation_references` table holds
//! them: one row per id, so a webhook naming any of them finds the payment by key.

use crate::domain::Payment;

/// Every operation reference of `p`, once each. A split PayPal refund records its refund ids
/// comma-separated on one operation; each id is a reference of its own.
pub(super) fn operation_references(p: &Payment) -> Vec<&str> {
    let mut refs: Vec<&str> = p
        .operations
        .iter()
        .filter_map(|op| op.provider_reference.as_deref())
        .flat_map(|joined| joined.split(','))
        .filter(|r| !r.is_empty())
        .collect();
    refs.sort_unstable();
    refs.dedup();
    refs
}
