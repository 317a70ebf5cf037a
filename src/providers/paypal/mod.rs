//! The PayPal adapter (specs/paypal.md): Orders v2 for the buyer's approval, Payments v2 for
//! captures, voids and refunds, OAuth client credentials, and RSA-signed webhooks.
pub mod cert;
pub mod webhook;
