//! Provider emulators that speak the real protocols on loopback, with their own ledgers.

pub mod cmi;
pub mod paypal;
