//! Webhooks from paygate to the shop: every event of the log, signed with Standard Webhooks
//! (`crate::standard_webhooks`), delivered at least once to each of the merchant's endpoints.
pub mod address;
pub mod endpoint;
pub mod payload;
pub mod sender;
