//! PayPal's webhook signing certificates: which URLs may be fetched at all, and what makes a
//! certificate good enough to verify a signature with (chain, validity, name).
//!
//! Everything goes through rustls-webpki's `EndEntityCert` (one parser, one chain builder, one
//! RSA PKCS#1 v1.5 SHA-256 verifier); there is no hand-rolled X.509 or RSA here.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use std::time::Duration;
use webpki::{EndEntityCert, KeyUsage};

/// DigiCert's EV intermediate that PayPal's leaves are issued by. PayPal serves only the leaf.
const DIGICERT_EV_INTERMEDIATE: &[u8] =
    include_bytes!("certs/DigiCertSHA2ExtendedValidationServerCA.pem");
/// The root above it. Mozilla (hence webpki-roots 1.x) dropped it for TLS in 2025, but PayPal's
/// message-verification certificates still chain to it, so it is pinned here for this one use.
const DIGICERT_EV_ROOT: &[u8] = include_bytes!("certs/DigiCertHighAssuranceEVRootCA.pem");

/// Live (`api.paypal.com`) or sandbox hosts: a merchant accepts certificates of its own only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Live,
    Sandbox,
}

impl Environment {
    /// Live only for PayPal's live API hosts; anything else (sandbox, an emulator) is sandbox,
    /// so a misconfigured test can never accept live certificates by accident.
    pub fn from_base_url(url: &reqwest::Url) -> Self {
        match url.host_str() {
            Some("api-m.paypal.com" | "api.paypal.com") => Self::Live,
            _ => Self::Sandbox,
        }
    }

    fn cert_hosts(self) -> &'static [&'static str] {
        match self {
            Self::Live => &["api.paypal.com", "api-m.paypal.com"],
            Self::Sandbox => &["api.sandbox.paypal.com", "api-m.sandbox.paypal.com"],
        }
    }

    /// The DNS name a signing certificate of this environment carries.
    pub fn subject_name(self) -> &'static str {
        match self {
            Self::Live => "messageverificationcerts.paypal.com",
            Self::Sandbox => "messageverificationcerts.sandbox.paypal.com",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("certificate URL not allowed: {0}")]
    UrlNotAllowed(&'static str),
    #[error("certificate is not a single PEM certificate")]
    NotPem,
    #[error("certificate rejected: {0}")]
    Invalid(String),
    #[error("signature does not verify with the certificate")]
    BadSignature,
}

/// Checks a `PAYPAL-CERT-URL` **before** any fetch (this is also the SSRF defence): https, one of
/// PayPal's exact hosts for the environment, no userinfo/port/query/fragment, the certs path.
/// `extra_origins` (e.g. `http://127.0.0.1:4321`) come from test configuration only.
pub fn check_url(
    url: &str,
    env: Environment,
    extra_origins: &[reqwest::Url],
) -> Result<reqwest::Url, CertError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| CertError::UrlNotAllowed("not a URL"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(CertError::UrlNotAllowed("userinfo"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(CertError::UrlNotAllowed("query or fragment"));
    }
    if !parsed.path().starts_with("/v1/notifications/certs/") {
        return Err(CertError::UrlNotAllowed("path"));
    }
    let extra = extra_origins.iter().any(|o| {
        o.scheme() == parsed.scheme()
            && o.host_str() == parsed.host_str()
            && o.port_or_known_default() == parsed.port_or_known_default()
    });
    if extra {
        return Ok(parsed);
    }
    if parsed.scheme() != "https" {
        return Err(CertError::UrlNotAllowed("scheme"));
    }
    if parsed.port().is_some() {
        return Err(CertError::UrlNotAllowed("port"));
    }
    match parsed.host_str() {
        Some(host) if env.cert_hosts().contains(&host) => Ok(parsed),
        _ => Err(CertError::UrlNotAllowed("host")),
    }
}

/// Whether `url` names one of PayPal's certificate hosts of either environment (for reports).
pub fn is_paypal_cert_url(url: &str) -> bool {
    [Environment::Live, Environment::Sandbox]
        .into_iter()
        .any(|env| check_url(url, env, &[]).is_ok())
}

/// The roots and intermediates a signing certificate must chain through.
pub struct TrustStore {
    anchors: Vec<TrustAnchor<'static>>,
    intermediates: Vec<CertificateDer<'static>>,
}

impl TrustStore {
    /// Public roots, plus the DigiCert chain PayPal uses, plus `extra_roots_pem` (tests).
    pub fn new(extra_roots_pem: &[String]) -> Result<Self, CertError> {
        let mut anchors: Vec<TrustAnchor<'static>> = webpki_roots::TLS_SERVER_ROOTS.to_vec();
        let mut roots = vec![leaf_from_pem(DIGICERT_EV_ROOT)?];
        for pem in extra_roots_pem {
            roots.push(leaf_from_pem(pem.as_bytes())?);
        }
        for root in &roots {
            let anchor = webpki::anchor_from_trusted_cert(root)
                .map_err(|e| CertError::Invalid(format!("trust root: {e}")))?;
            anchors.push(anchor.to_owned());
        }
        Ok(Self {
            anchors,
            intermediates: vec![leaf_from_pem(DIGICERT_EV_INTERMEDIATE)?],
        })
    }
}

/// Parses the one PEM certificate PayPal serves (CRLF line endings allowed).
pub fn leaf_from_pem(pem: &[u8]) -> Result<CertificateDer<'static>, CertError> {
    let mut certs = CertificateDer::pem_slice_iter(pem);
    let first = certs
        .next()
        .ok_or(CertError::NotPem)?
        .map_err(|_| CertError::NotPem)?;
    if certs.next().is_some() {
        return Err(CertError::NotPem);
    }
    Ok(first)
}

/// Unix seconds as webpki's clock type; negative times are refused as invalid.
pub fn unix_time(seconds: i64) -> Result<UnixTime, CertError> {
    let secs = u64::try_from(seconds).map_err(|_| CertError::Invalid("time before 1970".into()))?;
    Ok(UnixTime::since_unix_epoch(Duration::from_secs(secs)))
}

/// Checks that `leaf` chains to a trusted root, is valid at `at`, is usable for server auth
/// (what PayPal's EV certificates carry) and is issued to one of `names`; returns the name.
pub fn check_leaf(
    leaf: &CertificateDer<'_>,
    trust: &TrustStore,
    at: UnixTime,
    names: &[&'static str],
) -> Result<&'static str, CertError> {
    let cert = EndEntityCert::try_from(leaf).map_err(|e| CertError::Invalid(e.to_string()))?;
    cert.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &trust.anchors,
        &trust.intermediates,
        at,
        KeyUsage::server_auth(),
        None,
        None,
    )
    .map_err(|e| CertError::Invalid(e.to_string()))?;
    for name in names {
        let server = ServerName::try_from(*name)
            .map_err(|_| CertError::Invalid("bad expected name".into()))?;
        if cert.verify_is_valid_for_subject_name(&server).is_ok() {
            return Ok(name);
        }
    }
    Err(CertError::Invalid(
        "not issued to messageverificationcerts(.sandbox).paypal.com".into(),
    ))
}

/// RSASSA-PKCS1-v1_5 with SHA-256 over `message`, with the leaf's public key. Nothing else is
/// offered: the caller has already refused every other `PAYPAL-AUTH-ALGO`.
pub fn verify_rsa_sha256(
    leaf: &CertificateDer<'_>,
    message: &[u8],
    signature: &[u8],
) -> Result<(), CertError> {
    let cert = EndEntityCert::try_from(leaf).map_err(|e| CertError::Invalid(e.to_string()))?;
    cert.verify_signature(webpki::ring::RSA_PKCS1_2048_8192_SHA256, message, signature)
        .map_err(|_| CertError::BadSignature)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_paypal_hosts_of_the_environment_pass_the_allow_list() {
        let ok = "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1a5f47cb";
        assert!(check_url(ok, Environment::Live, &[]).is_ok());
        assert!(check_url(ok, Environment::Sandbox, &[]).is_err());
        let sandbox = "https://api-m.sandbox.paypal.com/v1/notifications/certs/CERT-1";
        assert!(check_url(sandbox, Environment::Sandbox, &[]).is_ok());
        for bad in [
            "http://api.paypal.com/v1/notifications/certs/CERT-1",
            "https://api.paypal.com:8443/v1/notifications/certs/CERT-1",
            "https://user@api.paypal.com/v1/notifications/certs/CERT-1",
            "https://api.paypal.com/v1/notifications/certs/CERT-1?x=1",
            "https://api.paypal.com/v1/notifications/certs/CERT-1#x",
            "https://api.paypal.com/v1/other/CERT-1",
            "https://evil.paypal.com/v1/notifications/certs/CERT-1",
            "https://api.paypal.com.evil.example/v1/notifications/certs/CERT-1",
            "https://127.0.0.1/v1/notifications/certs/CERT-1",
            "not a url",
        ] {
            assert!(check_url(bad, Environment::Live, &[]).is_err(), "{bad}");
        }
    }

    #[test]
    fn extra_origins_come_only_from_configuration() {
        let origin = reqwest::Url::parse("http://127.0.0.1:4321").unwrap();
        let url = "http://127.0.0.1:4321/v1/notifications/certs/CERT-test";
        assert!(check_url(url, Environment::Sandbox, &[]).is_err());
        assert!(check_url(url, Environment::Sandbox, std::slice::from_ref(&origin)).is_ok());
        let other_port = "http://127.0.0.1:9999/v1/notifications/certs/CERT-test";
        assert!(check_url(other_port, Environment::Sandbox, &[origin]).is_err());
    }

    #[test]
    fn environment_follows_the_configured_api_host() {
        let live = reqwest::Url::parse("https://api-m.paypal.com").unwrap();
        let sandbox = reqwest::Url::parse("https://api-m.sandbox.paypal.com").unwrap();
        assert_eq!(Environment::from_base_url(&live), Environment::Live);
        assert_eq!(Environment::from_base_url(&sandbox), Environment::Sandbox);
    }

    #[test]
    fn two_certificates_in_one_pem_are_refused() {
        let both = [DIGICERT_EV_ROOT, b"\n", DIGICERT_EV_INTERMEDIATE].concat();
        assert_eq!(leaf_from_pem(&both), Err(CertError::NotPem));
        assert_eq!(leaf_from_pem(b"garbage"), Err(CertError::NotPem));
    }
}
