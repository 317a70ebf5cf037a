//! Standard Webhooks v1 (HMAC-SHA256), in both directions: the mock processor signs its webhooks
//! with [`sign`] and paygate checks them with [`verify`] before it trusts a single byte of the body
//! (specs/webhooks.md §1); paygate signs its own webhooks to shops with the same [`sign`].

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

/// How far the signed timestamp may be from the verifier's clock, in either direction. The
/// window bounds how long a captured request can be replayed; future timestamps are refused too,
/// so a sender cannot mint requests that stay replayable for longer.
pub const TOLERANCE_S: u64 = 300;

/// The only signature version this scheme produces and accepts; `v1a` (asymmetric) and unknown
/// versions are skipped, never guessed at.
const VERSION: &str = "v1";

/// How secrets are written in configuration; the prefix is optional so a bare Base64 secret
/// works too, as in the reference libraries.
const SECRET_PREFIX: &str = "whsec_";

/// A Standard Webhooks signing secret: the HMAC key is the base64-DECODED bytes after an optional
/// `whsec_` prefix.
///
/// Keying the HMAC with the `whsec_…` text itself is the classic interoperability bug, so the
/// only way in is [`WebhookSecret::parse`]. The bytes are zeroed on drop and never printed.
#[derive(Clone)]
pub struct WebhookSecret {
    key: SecretSlice<u8>,
}

/// Why a configured secret was refused. The messages never quote the secret, not even one
/// character of it, because they end up in startup logs.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// An empty key would make every signature forgeable; the route must not run with it.
    #[error("webhook secret is empty")]
    Empty,
    /// Unpadded, URL-safe or otherwise damaged text: the operator should paste it as issued.
    #[error("webhook secret is not padded standard Base64; paste it exactly as issued")]
    NotBase64,
}

impl WebhookSecret {
    /// Accepts `whsec_<base64>` or bare `<base64>` (standard alphabet, padded). Empty ("" or
    /// "whsec_") or undecodable -> Err with a message that never contains the secret.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text.strip_prefix(SECRET_PREFIX).unwrap_or(text);
        if encoded.is_empty() {
            return Err(SecretError::Empty);
        }
        // The decoder's own error names the offending byte, which is part of the secret: drop it.
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::NotBase64)?;
        if key.is_empty() {
            return Err(SecretError::Empty);
        }
        Ok(Self {
            key: SecretSlice::from(key),
        })
    }

    /// HMAC-SHA256 of `id.timestamp.body` under this key. `None` only if the HMAC refused the key,
    /// which it never does for HMAC; callers treat it as "no signature" so nothing can panic.
    fn mac(&self, id: &str, timestamp: &str, body: &[u8]) -> Option<[u8; 32]> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.expose_secret()).ok()?;
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        Some(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Why a webhook was refused. Every variant means "answer 401 and store nothing"; the variants
/// exist for the log line and the tests, never for the response body.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// The named header was absent or empty.
    #[error("missing or empty header {0}")]
    MissingHeader(&'static str),
    /// `webhook-timestamp` is not a plain base-10 integer of ASCII digits.
    #[error("webhook-timestamp is not an integer of ASCII digits")]
    BadTimestamp,
    /// Signed more than the tolerance before the verifier's clock.
    #[error("webhook-timestamp is too old")]
    TooOld,
    /// Signed more than the tolerance after the verifier's clock.
    #[error("webhook-timestamp is too far in the future")]
    TooNew,
    /// No `v1` entry matched any active secret (or there was no active secret at all).
    #[error("no signature matched")]
    NoMatch,
}

/// Verifies on the RAW body bytes. `now_unix` is injected (tests control time). Tolerance ±300 s
/// both ways.
///
/// Accepts if ANY `v1,` entry in the space-separated signature header matches ANY of `secrets`
/// (rotation); skips non-v1 entries (e.g. v1a); compares in constant time over the full length
/// (subtle::ConstantTimeEq on the decoded MAC bytes; a different length is a mismatch). Fails
/// closed: no secrets -> Err(NoMatch).
///
/// The MAC covers `id + "." + timestamp + "." + body` with the header texts exactly as received:
/// re-formatting the parsed timestamp would verify something the sender never signed.
pub fn verify(
    secrets: &[WebhookSecret],
    id: &str,
    timestamp: &str,
    signature_header: &str,
    body: &[u8],
    now_unix: i64,
) -> Result<(), VerifyError> {
    if id.is_empty() {
        return Err(VerifyError::MissingHeader("webhook-id"));
    }
    if timestamp.is_empty() {
        return Err(VerifyError::MissingHeader("webhook-timestamp"));
    }
    if signature_header.is_empty() {
        return Err(VerifyError::MissingHeader("webhook-signature"));
    }

    // `i64::from_str` alone would also take a leading `+`; the spec allows digits only.
    if !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::BadTimestamp);
    }
    let signed_at: i64 = timestamp.parse().map_err(|_| VerifyError::BadTimestamp)?;
    // `abs_diff` cannot overflow, whatever the two values are.
    if now_unix.abs_diff(signed_at) > TOLERANCE_S {
        return Err(if signed_at < now_unix {
            VerifyError::TooOld
        } else {
            VerifyError::TooNew
        });
    }

    let expected: Vec<[u8; 32]> = secrets
        .iter()
        .filter_map(|secret| secret.mac(id, timestamp, body))
        .collect();

    // Every entry is compared against every key without an early exit, so the time taken does
    // not depend on which entry or key matched.
    let mut matched = Choice::from(0);
    for entry in signature_header.split(' ') {
        let Some((version, value)) = entry.split_once(',') else {
            continue;
        };
        if version != VERSION {
            continue;
        }
        // Not Base64 means it cannot be one of our MACs; that is a mismatch, not an error.
        let Ok(presented) = STANDARD.decode(value) else {
            continue;
        };
        for mac in &expected {
            // `ct_eq` on slices of different lengths is false; checked explicitly as well so a
            // truncated value (`v1,` alone, a prefix) can never match.
            let same_length = Choice::from(u8::from(presented.len() == mac.len()));
            matched |= same_length & presented.as_slice().ct_eq(mac.as_slice());
        }
    }

    if bool::from(matched) {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}

/// The signature the mock processor sends: "v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>",
/// one entry per secret joined by spaces.
///
/// Signing with every active secret is what makes rotation seamless: a receiver that knows only
/// the old or only the new secret still finds its entry. No secrets gives an empty string, which
/// every verifier rejects as a missing header.
pub fn sign(secrets: &[WebhookSecret], id: &str, timestamp: i64, body: &[u8]) -> String {
    let timestamp = timestamp.to_string();
    secrets
        .iter()
        .filter_map(|secret| secret.mac(id, &timestamp, body))
        .map(|mac| format!("{VERSION},{}", STANDARD.encode(mac)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests;
