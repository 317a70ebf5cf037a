//! The per-merchant webhook verifier: `certificate` mode checks the signature offline with the
//! certificate at `PAYPAL-CERT-URL` (allow-listed, fetched once per URL, cached once it has
//! verified a signature; see `cert_cache.rs`); `api` mode asks PayPal's
//! verify-webhook-signature with the raw body spliced in byte for byte.

use super::cert::{self, Environment, TrustStore};
use super::cert_cache::{CertCache, Miss};
use super::client::{CallError, PaypalApi, decode};
use super::webhook::{self, SignatureError, Transmission};
use super::wire::VerifyReply;
use crate::config::PaypalVerification;
use rustls_pki_types::CertificateDer;
use std::num::NonZeroUsize;

/// Certificates rotate about yearly, each under a new URL: a handful of entries is plenty.
const CACHE_ENTRIES: NonZeroUsize = match NonZeroUsize::new(16) {
    Some(n) => n,
    None => NonZeroUsize::MIN,
};
/// Certificate URLs fetched per minute and merchant. PayPal signs with one certificate at a
/// time (two around a rotation), so a real merchant needs one or two fetches after a start;
/// ten leaves room for retries of failed fetches while a flood of bogus URLs costs PayPal,
/// and us, at most ten requests a minute.
const FETCHES_PER_MINUTE: u32 = 10;

/// Why a delivery was not verified.
#[derive(Debug, thiserror::Error)]
pub enum VerifyFailure {
    /// Bad or missing signature material: 401, nothing stored.
    #[error(transparent)]
    Rejected(#[from] SignatureError),
    /// paygate could not check (certificate fetch, postback down): 5xx so PayPal retries.
    #[error("verification unavailable: {0}")]
    Unavailable(String),
    /// The certificate is not cached and this minute's fetches are spent (a flood of
    /// deliveries naming new certificate URLs): 503 so PayPal retries later.
    #[error("certificate fetches are over their per-minute limit")]
    Throttled,
}

pub struct Verifier {
    mode: PaypalVerification,
    webhook_id: String,
    /// Simulator events are signed with `WEBHOOK_ID`; accepted only when configured, never live.
    accept_simulator: bool,
    env: Environment,
    extra_origins: Vec<reqwest::Url>,
    trust: TrustStore,
    certs: CertCache,
}

pub struct VerifierConfig {
    pub mode: PaypalVerification,
    pub webhook_id: String,
    pub accept_simulator: bool,
    pub env: Environment,
    pub extra_origins: Vec<reqwest::Url>,
    pub extra_roots_pem: Vec<String>,
}

impl Verifier {
    pub fn new(c: VerifierConfig) -> Result<Self, cert::CertError> {
        Ok(Self {
            mode: c.mode,
            webhook_id: c.webhook_id,
            accept_simulator: c.accept_simulator && c.env == Environment::Sandbox,
            env: c.env,
            extra_origins: c.extra_origins,
            trust: TrustStore::new(&c.extra_roots_pem)?,
            certs: CertCache::new(CACHE_ENTRIES, FETCHES_PER_MINUTE),
        })
    }

    /// Verifies one delivery over its raw `body`, with certificate validity at `now_unix`.
    pub async fn verify(
        &self,
        api: &PaypalApi,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
        now_unix: i64,
    ) -> Result<(), VerifyFailure> {
        let t = Transmission::from_headers(headers)?;
        t.check_algorithm()?;
        match self.mode {
            PaypalVerification::Certificate => self.verify_offline(api, &t, body, now_unix).await,
            PaypalVerification::Api => self.verify_postback(api, &t, body).await,
        }
    }

    async fn verify_offline(
        &self,
        api: &PaypalApi,
        t: &Transmission,
        body: &[u8],
        now_unix: i64,
    ) -> Result<(), VerifyFailure> {
        let url = cert::check_url(&t.cert_url, self.env, &self.extra_origins)
            .map_err(SignatureError::from)?;
        let key = url.as_str().to_owned();
        let (leaf, cached) = match self.certs.verified(&key) {
            Some(leaf) => (leaf, true),
            None => (self.fetch(api, url).await?, false),
        };
        let at = cert::unix_time(now_unix).map_err(SignatureError::from)?;
        let names = webhook::names_for(self.env);
        let first =
            webhook::verify_with_cert(t, &self.webhook_id, body, &leaf, &self.trust, at, &names);
        let verified = match first {
            Ok(_) => Ok(()),
            Err(_) if self.accept_simulator => webhook::verify_with_cert(
                t,
                webhook::SIMULATOR_WEBHOOK_ID,
                body,
                &leaf,
                &self.trust,
                at,
                &names,
            )
            .map(|_| ())
            .map_err(VerifyFailure::from),
            Err(e) => Err(e.into()),
        };
        if verified.is_ok() && !cached {
            self.certs.remember(&key, leaf);
        }
        verified
    }

    /// One fetch of `url`, shared with concurrent deliveries naming it. Only allow-listed
    /// URLs get here.
    async fn fetch(
        &self,
        api: &PaypalApi,
        url: reqwest::Url,
    ) -> Result<CertificateDer<'static>, VerifyFailure> {
        let key = url.as_str().to_owned();
        let fetch = || async {
            let pem = api.fetch_cert(url).await?;
            // A body that is not one certificate is PayPal's (or a proxy's) fault: retry later.
            cert::leaf_from_pem(&pem).map_err(|e| format!("certificate body: {e}"))
        };
        self.certs
            .fetch(&key, fetch)
            .await
            .map_err(|miss| match miss {
                Miss::Throttled => VerifyFailure::Throttled,
                Miss::Failed(reason) => VerifyFailure::Unavailable(reason),
            })
    }

    /// The postback (§8.2): the JSON is built around the raw body, never re-serialised.
    async fn verify_postback(
        &self,
        api: &PaypalApi,
        t: &Transmission,
        body: &[u8],
    ) -> Result<(), VerifyFailure> {
        #[derive(serde::Serialize)]
        struct Request<'a> {
            auth_algo: &'a str,
            cert_url: &'a str,
            transmission_id: &'a str,
            transmission_sig: &'a str,
            transmission_time: &'a str,
            webhook_id: &'a str,
            webhook_event: &'a serde_json::value::RawValue,
        }
        let text = std::str::from_utf8(body)
            .map_err(|_| SignatureError::MissingHeader("a UTF-8 JSON body"))?;
        let raw: &serde_json::value::RawValue =
            serde_json::from_str(text).map_err(|_| SignatureError::MissingHeader("a JSON body"))?;
        // RawValue drops surrounding whitespace; PayPal would then vouch for bytes other than
        // the ones received. Fail closed instead of verifying a neighbour of the body.
        if raw.get().len() != text.len() {
            return Err(SignatureError::Cert(cert::CertError::BadSignature).into());
        }
        let req = Request {
            auth_algo: &t.auth_algo,
            cert_url: &t.cert_url,
            transmission_id: &t.id,
            transmission_sig: &t.signature,
            transmission_time: &t.time,
            webhook_id: &self.webhook_id,
            webhook_event: raw,
        };
        let payload =
            serde_json::to_vec(&req).map_err(|e| VerifyFailure::Unavailable(e.to_string()))?;
        let reply = api
            .call_raw(
                reqwest::Method::POST,
                "/v1/notifications/verify-webhook-signature",
                Some(payload),
                None,
            )
            .await;
        let answer: VerifyReply = match reply {
            Ok(reply) => {
                decode(&reply).map_err(|_| VerifyFailure::Unavailable("postback answer".into()))?
            }
            Err(CallError::Refused { .. }) => {
                return Err(SignatureError::Cert(cert::CertError::BadSignature).into());
            }
            Err(CallError::NotSent(r) | CallError::Unknown(r)) => {
                return Err(VerifyFailure::Unavailable(r));
            }
        };
        if answer.verification_status == "SUCCESS" {
            Ok(())
        } else {
            Err(SignatureError::Cert(cert::CertError::BadSignature).into())
        }
    }
}
