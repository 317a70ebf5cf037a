//! PayPal webhook signatures (specs/paypal.md §8): the signed message, offline verification with
//! the signing certificate, and the per-merchant verifier that fetches and caches certificates
//! or asks PayPal (`api` mode).
//!
//! Everything works on the raw body bytes as received. Fails closed: a missing header, another
//! algorithm, a certificate URL off the allow-list or any doubt is a rejection.

use super::cert::{self, CertError, Environment, TrustStore};
use base64::Engine as _;
use reqwest::header::HeaderMap;
use rustls_pki_types::{CertificateDer, UnixTime};

/// The only `PAYPAL-AUTH-ALGO` accepted. Others (`SHA1withRSA`, ...) are refused untried: the
/// legacy SDKs' generic `<hash>withRSA` mapping was a downgrade hole.
pub const ALGORITHM: &str = "SHA256withRSA";
/// What the Webhooks simulator signs with instead of a real webhook id (§8.3).
pub const SIMULATOR_WEBHOOK_ID: &str = "WEBHOOK_ID";

/// The `PAYPAL-*` headers of one delivery, verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmission {
    pub id: String,
    pub time: String,
    pub signature: String,
    pub cert_url: String,
    pub auth_algo: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("header {0} sent more than once")]
    DuplicateHeader(&'static str),
    #[error("unsupported PAYPAL-AUTH-ALGO (only SHA256withRSA)")]
    Algorithm,
    #[error("PAYPAL-TRANSMISSION-SIG is not base64")]
    Encoding,
    #[error(transparent)]
    Cert(#[from] CertError),
}

const HEADERS: [&str; 5] = [
    "paypal-transmission-id",
    "paypal-transmission-time",
    "paypal-transmission-sig",
    "paypal-cert-url",
    "paypal-auth-algo",
];

impl Transmission {
    /// Reads the headers (names are case-insensitive); a duplicate is ambiguous, so refused.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, SignatureError> {
        Self::from_lookup(|name| {
            let mut values = headers.get_all(name).iter();
            let first = values.next();
            if values.next().is_some() {
                return Err(SignatureError::DuplicateHeader(name));
            }
            Ok(first.and_then(|v| v.to_str().ok()).map(str::to_owned))
        })
    }

    /// Reads a saved `{"PAYPAL-TRANSMISSION-ID": ...}` object (the operator tool's input).
    pub fn from_json(text: &[u8]) -> Result<Self, SignatureError> {
        let map: std::collections::BTreeMap<String, String> =
            serde_json::from_slice(text).map_err(|_| SignatureError::MissingHeader("headers"))?;
        Self::from_lookup(|name| {
            let mut found = map
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone());
            let first = found.next();
            if found.next().is_some() {
                return Err(SignatureError::DuplicateHeader(name));
            }
            Ok(first)
        })
    }

    fn from_lookup(
        get: impl Fn(&'static str) -> Result<Option<String>, SignatureError>,
    ) -> Result<Self, SignatureError> {
        let mut values = Vec::with_capacity(HEADERS.len());
        for name in HEADERS {
            match get(name)? {
                Some(v) if !v.is_empty() => values.push(v),
                _ => return Err(SignatureError::MissingHeader(name)),
            }
        }
        let mut it = values.into_iter();
        let mut next = || it.next().unwrap_or_default();
        Ok(Self {
            id: next(),
            time: next(),
            signature: next(),
            cert_url: next(),
            auth_algo: next(),
        })
    }

    /// Refuses every algorithm but SHA256withRSA, before any fetch or RSA operation.
    pub fn check_algorithm(&self) -> Result<(), SignatureError> {
        if self.auth_algo == ALGORITHM {
            Ok(())
        } else {
            Err(SignatureError::Algorithm)
        }
    }
}

/// `transmission_id|transmission_time|webhook_id|crc32`, the CRC-32 (IEEE) of the raw body as an
/// unsigned decimal. Header values are used verbatim (the time is not re-formatted).
pub fn signed_message(t: &Transmission, webhook_id: &str, body: &[u8]) -> String {
    let crc = crc32fast::hash(body);
    format!("{}|{}|{webhook_id}|{crc}", t.id, t.time)
}

/// Verifies one delivery with a certificate already in hand: algorithm, certificate (chain,
/// validity at `at`, one of `names`), then the signature over the message. Returns the name the
/// certificate was issued to.
pub fn verify_with_cert(
    t: &Transmission,
    webhook_id: &str,
    body: &[u8],
    leaf: &CertificateDer<'_>,
    trust: &TrustStore,
    at: UnixTime,
    names: &[&'static str],
) -> Result<&'static str, SignatureError> {
    t.check_algorithm()?;
    let signature = base64::engine::general_purpose::STANDARD
        .decode(t.signature.as_bytes())
        .map_err(|_| SignatureError::Encoding)?;
    let name = cert::check_leaf(leaf, trust, at, names)?;
    let message = signed_message(t, webhook_id, body);
    cert::verify_rsa_sha256(leaf, message.as_bytes(), &signature)?;
    Ok(name)
}

/// The names a certificate may carry for a merchant of `env`.
pub fn names_for(env: Environment) -> [&'static str; 1] {
    [env.subject_name()]
}

#[cfg(test)]
#[path = "webhook_tests.rs"]
mod tests;
