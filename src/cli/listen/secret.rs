//! The signing secret of `paygate listen`, derived rather than stored: the same API key gives
//! the same secret on every run, so a developer pastes it into the shop's `.env` once and
//! restarts `listen` at will, with no file to keep.
//!
//! `whsec_` + base64(HMAC-SHA256(key = API key, "paygate listen v1")). HMAC is one-way, so the
//! secret (which is printed) reveals nothing of the key; the label versions the derivation.
//! Without an API key (the development server has authentication off) the target address takes
//! the key's place: still stable, but anyone who knows the address can compute it, which is
//! acceptable only because there is nothing to protect on a server without authentication.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

const LABEL: &[u8] = b"paygate listen v1";

/// Where the secret came from, for the start-up line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    ApiKey,
    Target,
}

/// The `whsec_…` text for this API key, or for `target` when there is no key.
pub fn derive(api_key: Option<&str>, target: &str) -> (String, Source) {
    let (key, source) = match api_key {
        Some(key) => (key, Source::ApiKey),
        None => (target, Source::Target),
    };
    // HMAC takes keys of any length, so this never fails; an empty MAC would only ever give
    // a secret that `WebhookSecret::parse` refuses, never a weak one.
    let mac = Hmac::<Sha256>::new_from_slice(key.as_bytes())
        .map(|mut mac| {
            mac.update(LABEL);
            mac.finalize().into_bytes().to_vec()
        })
        .unwrap_or_default();
    (format!("whsec_{}", STANDARD.encode(mac)), source)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::standard_webhooks::{WebhookSecret, sign, verify};

    /// Computed independently: python3 -c "import hmac,hashlib,base64;
    /// print(base64.b64encode(hmac.new(b'sk_test_123', b'paygate listen v1',
    /// hashlib.sha256).digest()).decode())"
    #[test]
    fn the_secret_is_the_documented_hmac_of_the_api_key() {
        let (secret, source) = derive(Some("sk_test_123"), "http://127.0.0.1:50051");
        assert_eq!(secret, "whsec_ypDf6mNRqSIqEUSctycoZ8y+rboFN3fE0OfYjEKozso=");
        assert_eq!(source, Source::ApiKey);
    }

    #[test]
    fn without_a_key_it_comes_from_the_target() {
        let (secret, source) = derive(None, "http://127.0.0.1:50051");
        assert_eq!(secret, "whsec_x3J2B86kmQxg1SMgn0oX2FmhkGaRJe9RmWCUnvZ2oes=");
        assert_eq!(source, Source::Target);
        assert_ne!(derive(None, "http://127.0.0.1:50052").0, secret);
    }

    #[test]
    fn stable_per_key_different_across_keys() {
        assert_eq!(derive(Some("k1"), "t").0, derive(Some("k1"), "other").0);
        assert_ne!(derive(Some("k1"), "t").0, derive(Some("k2"), "t").0);
    }

    #[test]
    fn a_receiver_decoding_the_printed_secret_verifies_what_listen_signs() {
        let (text, _) = derive(Some("sk_test_123"), "t");
        let secret = WebhookSecret::parse(&text).unwrap();
        let body = br#"{"type":"payment.captured"}"#;
        let signature = sign(
            std::slice::from_ref(&secret),
            "msg_listen_7",
            1_700_000_000,
            body,
        );
        assert!(
            verify(
                &[secret],
                "msg_listen_7",
                "1700000000",
                &signature,
                body,
                1_700_000_010
            )
            .is_ok()
        );
    }
}
