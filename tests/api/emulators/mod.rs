//! Provider emulators on loopback, speaking the real protocols.
pub mod paypal;
