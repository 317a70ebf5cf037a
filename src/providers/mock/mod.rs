//! The mock card processor: its HTTP server (`server/`), wire types, HTTP client and the
//! adapter paygate uses to talk to it exactly as to a real processor.
pub mod api;
mod client;
pub(crate) mod events;
#[cfg(test)]
mod fuzz_tests;
pub mod server;
pub mod wire;

pub use client::MockClient;

use crate::domain::Capabilities;

/// The mock processor supports every operation, so tests can reach every state.
pub const CAPABILITIES: Capabilities = Capabilities {
    partial_capture: true,
    multiple_captures: true,
    void: true,
    partial_refund: true,
    multiple_refunds: true,
    // The mock refunds the payment as a whole: no split to decide.
    refunds_per_capture: false,
    max_minor: 999_999_999_999,
};
