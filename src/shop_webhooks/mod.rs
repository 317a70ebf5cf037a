//! Webhooks from paygate to the shop: every event of the log, signed with Standard Webhooks
//! (`crate::standard_webhooks`), delivered at least once to each of the merchant's endpoints.
//!
//! `fanout` turns new events into deliveries (the event log is the outbox), `dispatcher`
//! claims and sends them with retries, `sender` makes one signed POST, `address` decides which
//! URLs and addresses it may reach, `payload` renders the body once per delivery, `endpoint`
//! holds what the config says.
pub mod address;
pub mod dispatcher;
pub mod endpoint;
mod fanout;
pub mod payload;
pub mod sender;
