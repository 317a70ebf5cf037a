//! Standard Webhooks v1 (HMAC-SHA256) for the mock processor's webhooks: the processor signs with
//! [`sign`], paygate checks with [`verify`] before it trusts a single byte of the body
//! (specs/webhooks.md §1).

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
mod tests {
    use super::*;
    use serde_json::Value;
    use std::slice;

    const VECTORS: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/standard_webhooks.json"
    ));

    /// The clock for every rule-based case (any value works; this one is fixed so failures
    /// reproduce).
    const NOW: i64 = 1_767_225_600;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const BODY: &[u8] = br#"{"test": 2432232314}"#;

    fn secret(text: &str) -> WebhookSecret {
        WebhookSecret::parse(text).unwrap()
    }

    /// A key made of arbitrary bytes, for the "wrong key derivation" case only.
    fn raw_key(bytes: &[u8]) -> WebhookSecret {
        WebhookSecret {
            key: SecretSlice::from(bytes.to_vec()),
        }
    }

    fn str_field<'a>(value: &'a Value, field: &str) -> &'a str {
        value[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} is not a string in {value}"))
    }

    #[test]
    fn fixed_vectors_sign_and_verify() {
        let file: Value = serde_json::from_str(VECTORS).unwrap();
        let vectors = file["vectors"].as_array().unwrap();
        assert_eq!(
            vectors.len(),
            2,
            "the vectors file lost or gained fixed vectors"
        );

        for v in vectors {
            let id = str_field(v, "id");
            let key = secret(str_field(v, "secret"));
            let msg_id = str_field(v, "msg_id");
            let ts = v["timestamp"].as_i64().unwrap();
            let payload = str_field(v, "payload").as_bytes();
            let expected = str_field(v, "expected_signature");

            // The file's own statement of what is signed agrees with the rule in §1.3.
            let signed = format!("{msg_id}.{ts}.{}", str_field(v, "payload"));
            assert_eq!(signed, str_field(v, "signed_content"), "{id}");

            assert_eq!(
                sign(slice::from_ref(&key), msg_id, ts, payload),
                expected,
                "{id}"
            );
            assert_eq!(
                verify(
                    slice::from_ref(&key),
                    msg_id,
                    &ts.to_string(),
                    expected,
                    payload,
                    ts
                ),
                Ok(()),
                "{id}"
            );
            // The same fixed signature outside its window is refused.
            assert_eq!(
                verify(&[key], msg_id, &ts.to_string(), expected, payload, ts + 301),
                Err(VerifyError::TooOld),
                "{id}"
            );
        }
    }

    /// Runs every rule in `cases` (specs/webhooks.md §2) with the clock fixed to `NOW`.
    #[test]
    fn rule_cases() {
        let file: Value = serde_json::from_str(VECTORS).unwrap();
        let vectors = file["vectors"].as_array().unwrap();
        let cases = file["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 23, "the vectors file lost or gained cases");

        // A field this harness does not interpret would silently change what a case means.
        let known = [
            "id",
            "source",
            "rule",
            "expect",
            "base",
            "signature_header",
            "sign_offset_s",
            "remove_headers",
            "verifier_secret",
            "header_timestamp",
            "body",
            "sign_with",
        ];

        let (mut accepted, mut rejected, mut refused) = (0, 0, 0);
        for case in cases {
            let name = str_field(case, "id");
            for field in case.as_object().unwrap().keys() {
                assert!(
                    known.contains(&field.as_str()),
                    "{name}: unknown field {field}"
                );
            }
            let base = vectors
                .iter()
                .find(|v| v["id"] == case["base"])
                .unwrap_or_else(|| panic!("{name}: unknown base"));
            let base_secret = str_field(base, "secret");
            let msg_id = str_field(base, "msg_id");
            let payload = str_field(base, "payload");

            let verifier_secret = case["verifier_secret"].as_str().unwrap_or(base_secret);
            let expect = str_field(case, "expect");
            if expect == "config_error" {
                assert_eq!(
                    WebhookSecret::parse(verifier_secret).map(|_| ()),
                    Err(SecretError::Empty),
                    "{name}"
                );
                refused += 1;
                continue;
            }
            let verifier_key = secret(verifier_secret);

            let sign_offset = case["sign_offset_s"].as_i64().unwrap_or(0);
            let signed_at = NOW + sign_offset;
            let signing_key = match case["sign_with"].as_str().unwrap_or("decoded_key") {
                "decoded_key" => secret(base_secret),
                "secret_string_bytes" => raw_key(base_secret.as_bytes()),
                other => panic!("{name}: unknown sign_with {other}"),
            };
            let valid = sign(&[signing_key], msg_id, signed_at, payload.as_bytes());
            let valid_b64 = valid.strip_prefix("v1,").unwrap();
            let valid_prefix8: String = valid.chars().take(8).collect();

            let removed: Vec<&str> = case["remove_headers"]
                .as_array()
                .map(|a| a.iter().map(|h| h.as_str().unwrap()).collect())
                .unwrap_or_default();
            let header = |name: &str, value: String| {
                if removed.contains(&name) {
                    String::new()
                } else {
                    value
                }
            };

            let header_ts = match &case["header_timestamp"] {
                Value::Null => signed_at.to_string(),
                h if h["offset_s"].is_i64() => (NOW + h["offset_s"].as_i64().unwrap()).to_string(),
                h if h["literal"].is_string() => str_field(h, "literal").to_owned(),
                h => panic!("{name}: unknown header_timestamp {h}"),
            };
            let signature = match case["signature_header"].as_str() {
                Some(template) => template
                    .replace("{valid_b64}", valid_b64)
                    .replace("{valid_prefix8}", &valid_prefix8)
                    .replace("{valid}", &valid),
                None => {
                    assert!(
                        removed.contains(&"webhook-signature"),
                        "{name}: no signature"
                    );
                    String::new()
                }
            };
            let body = case["body"].as_str().unwrap_or(payload);

            let id = header("webhook-id", msg_id.to_owned());
            let ts = header("webhook-timestamp", header_ts);
            let sig = header("webhook-signature", signature);
            let got = verify(&[verifier_key], &id, &ts, &sig, body.as_bytes(), NOW);

            match expect {
                "accept" => {
                    assert_eq!(got, Ok(()), "{name}");
                    accepted += 1;
                }
                "reject" => {
                    // The file only says "reject"; also check it is rejected for the reason the
                    // case is about, not by accident (e.g. a time case failing on the MAC).
                    let reason = if let Some(first) = removed.first() {
                        VerifyError::MissingHeader(match *first {
                            "webhook-id" => "webhook-id",
                            "webhook-timestamp" => "webhook-timestamp",
                            "webhook-signature" => "webhook-signature",
                            other => panic!("{name}: unknown header {other}"),
                        })
                    } else if !ts.bytes().all(|b| b.is_ascii_digit()) {
                        VerifyError::BadTimestamp
                    } else if sign_offset < -300 {
                        VerifyError::TooOld
                    } else if sign_offset > 300 {
                        VerifyError::TooNew
                    } else {
                        VerifyError::NoMatch
                    };
                    assert_eq!(got, Err(reason), "{name}");
                    rejected += 1;
                }
                other => panic!("{name}: unknown expect {other}"),
            }
        }
        assert_eq!((accepted, rejected, refused), (5, 16, 2));
    }

    #[test]
    fn round_trip_with_rotation() {
        let old = secret(SECRET);
        let new = secret("whsec_dGhpcyBpcyB0aGUgbmV3IHNlY3JldCBrZXkhIQ==");
        let header = sign(&[new.clone(), old.clone()], ID, NOW, BODY);
        assert_eq!(header.split(' ').count(), 2);
        let ts = NOW.to_string();

        for keys in [vec![old.clone()], vec![new.clone()], vec![old, new.clone()]] {
            assert_eq!(verify(&keys, ID, &ts, &header, BODY, NOW), Ok(()));
        }
        // A verifier that knows neither secret rejects.
        let other = secret("whsec_b3RoZXIgbWVyY2hhbnQncyBzZWNyZXQ=");
        assert_eq!(
            verify(&[other], ID, &ts, &header, BODY, NOW),
            Err(VerifyError::NoMatch)
        );
        // One secret signs one entry.
        assert_eq!(sign(&[new], ID, NOW, BODY).split(' ').count(), 1);
    }

    #[test]
    fn tolerance_edges() {
        let key = secret(SECRET);
        for (offset, expected) in [
            (-301, Err(VerifyError::TooOld)),
            (-300, Ok(())),
            (0, Ok(())),
            (300, Ok(())),
            (301, Err(VerifyError::TooNew)),
        ] {
            let at = NOW + offset;
            let header = sign(slice::from_ref(&key), ID, at, BODY);
            let got = verify(
                slice::from_ref(&key),
                ID,
                &at.to_string(),
                &header,
                BODY,
                NOW,
            );
            assert_eq!(got, expected, "offset {offset}");
        }
    }

    #[test]
    fn body_changed_by_one_byte_fails() {
        let key = secret(SECRET);
        let header = sign(slice::from_ref(&key), ID, NOW, BODY);
        let ts = NOW.to_string();
        for i in 0..BODY.len() {
            let mut body = BODY.to_vec();
            body[i] ^= 0x01;
            assert_eq!(
                verify(slice::from_ref(&key), ID, &ts, &header, &body, NOW),
                Err(VerifyError::NoMatch),
                "byte {i}"
            );
        }
        let mut longer = BODY.to_vec();
        longer.push(b'\n');
        assert_eq!(
            verify(slice::from_ref(&key), ID, &ts, &header, &longer, NOW),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify(&[key], ID, &ts, &header, &BODY[..BODY.len() - 1], NOW),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn signature_of_a_different_length_fails() {
        let key = secret(SECRET);
        let ts = NOW.to_string();
        let valid = sign(slice::from_ref(&key), ID, NOW, BODY);
        let mac = STANDARD.decode(valid.strip_prefix("v1,").unwrap()).unwrap();
        assert_eq!(mac.len(), 32);

        let shorter = format!("v1,{}", STANDARD.encode(&mac[..31]));
        let mut extended = mac.clone();
        extended.push(0);
        let longer = format!("v1,{}", STANDARD.encode(&extended));
        let unpadded = format!("v1,{}", STANDARD.encode(&mac).trim_end_matches('='));
        for header in [
            shorter,
            longer,
            unpadded,
            "v1,".to_owned(),
            valid[..8].to_owned(),
            valid[..valid.len() - 1].to_owned(),
        ] {
            assert_eq!(
                verify(slice::from_ref(&key), ID, &ts, &header, BODY, NOW),
                Err(VerifyError::NoMatch),
                "{header}"
            );
        }
    }

    #[test]
    fn signature_header_parsing() {
        let key = secret(SECRET);
        let ts = NOW.to_string();
        let valid = sign(slice::from_ref(&key), ID, NOW, BODY);
        let b64 = valid.strip_prefix("v1,").unwrap();
        let check = |header: &str| verify(slice::from_ref(&key), ID, &ts, header, BODY, NOW);

        // Only v1 counts, the version is split at the first comma, and junk entries are skipped.
        assert_eq!(check(&format!("v1a,{b64}")), Err(VerifyError::NoMatch));
        assert_eq!(check(&format!("V1,{b64}")), Err(VerifyError::NoMatch));
        assert_eq!(check(&format!(",{b64}")), Err(VerifyError::NoMatch));
        assert_eq!(check(&format!("v1,,{b64}")), Err(VerifyError::NoMatch));
        assert_eq!(check(&format!("v1,{b64},")), Err(VerifyError::NoMatch));
        assert_eq!(check(b64), Err(VerifyError::NoMatch));
        assert_eq!(check(&format!("v1a,{b64} junk  v1 {valid}")), Ok(()));
        assert_eq!(check(&format!("{valid} v1,AAAA")), Ok(()));
        // Entries are separated by single spaces; a tab is part of the entry.
        assert_eq!(check(&format!("\t{valid}")), Err(VerifyError::NoMatch));
    }

    #[test]
    fn headers_and_timestamp_rules() {
        let key = secret(SECRET);
        let ts = NOW.to_string();
        let valid = sign(slice::from_ref(&key), ID, NOW, BODY);
        let check =
            |id: &str, ts: &str, sig: &str| verify(slice::from_ref(&key), id, ts, sig, BODY, NOW);

        assert_eq!(
            check("", &ts, &valid),
            Err(VerifyError::MissingHeader("webhook-id"))
        );
        assert_eq!(
            check(ID, "", &valid),
            Err(VerifyError::MissingHeader("webhook-timestamp"))
        );
        assert_eq!(
            check(ID, &ts, ""),
            Err(VerifyError::MissingHeader("webhook-signature"))
        );
        for bad in [
            format!("+{ts}"),
            format!("-{ts}"),
            format!(" {ts}"),
            format!("{ts} "),
            format!("{ts}.0"),
            format!("{ts}e0"),
            "0x1F".to_owned(),
            "١٢٣".to_owned(),
            "99999999999999999999".to_owned(),
        ] {
            assert_eq!(
                check(ID, &bad, &valid),
                Err(VerifyError::BadTimestamp),
                "{bad}"
            );
        }
        // Leading zeros are still ASCII digits; the MAC covers the text as sent, so a sender
        // that signed "0<ts>" verifies and the canonical form of it does not.
        let padded = format!("0{ts}");
        let padded_sig = {
            let mac = key.mac(ID, &padded, BODY).unwrap();
            format!("v1,{}", STANDARD.encode(mac))
        };
        assert_eq!(check(ID, &padded, &padded_sig), Ok(()));
        assert_eq!(check(ID, &ts, &padded_sig), Err(VerifyError::NoMatch));
        assert_eq!(check(ID, &padded, &valid), Err(VerifyError::NoMatch));
        // Extreme clocks neither overflow nor panic.
        let at = |now| verify(slice::from_ref(&key), ID, &ts, &valid, BODY, now);
        assert_eq!(at(i64::MIN), Err(VerifyError::TooNew));
        assert_eq!(at(i64::MAX), Err(VerifyError::TooOld));
        // The id is signed too.
        assert_eq!(check("msg_other", &ts, &valid), Err(VerifyError::NoMatch));
    }

    #[test]
    fn no_secrets_fails_closed() {
        let valid = sign(&[secret(SECRET)], ID, NOW, BODY);
        assert_eq!(
            verify(&[], ID, &NOW.to_string(), &valid, BODY, NOW),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(sign(&[], ID, NOW, BODY), "");
    }

    #[test]
    fn secret_parsing() {
        assert_eq!(
            WebhookSecret::parse("").map(|_| ()),
            Err(SecretError::Empty)
        );
        assert_eq!(
            WebhookSecret::parse("whsec_").map(|_| ()),
            Err(SecretError::Empty)
        );
        for bad in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",          // unpadded length
            "whsec_c2VjcmV",                            // unpadded
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", // trailing newline from a file
            "whsec_MfKQ9r8G_YqrTwjUPD8ILPZIo2LaLaSw",   // URL-safe alphabet
            "WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",   // the prefix is case-sensitive
            "whsec_whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "====",
        ] {
            assert_eq!(
                WebhookSecret::parse(bad).map(|_| ()),
                Err(SecretError::NotBase64),
                "{bad:?}"
            );
        }
        // Prefixed and bare forms give the same key.
        let prefixed = sign(&[secret(SECRET)], ID, NOW, BODY);
        let bare = sign(&[secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")], ID, NOW, BODY);
        assert_eq!(prefixed, bare);
    }

    #[test]
    fn secrets_never_printed() {
        let key = secret(SECRET);
        let shown = format!("{key:?} {:?} {:#?}", slice::from_ref(&key), Some(&key));
        assert_eq!(format!("{key:?}"), "***");
        for fragment in ["MfKQ", "whsec", "LaSw"] {
            assert!(!shown.contains(fragment), "{shown}");
        }
        // Nor do the errors for a bad secret quote any of it.
        let bad = "whsec_Zm9v!YmFy";
        let err = WebhookSecret::parse(bad).unwrap_err();
        let message = format!("{err} {err:?}");
        for fragment in ["Zm9v", "!", "YmFy", "33", "offset"] {
            assert!(!message.contains(fragment), "{message}");
        }
    }

    proptest::proptest! {
        /// No input makes the verifier or the parser panic.
        #[test]
        fn never_panics(
            id in ".{0,40}",
            ts in "[0-9+ .-]{0,25}",
            sig in "(v1a?,[A-Za-z0-9+/=]{0,48} ?){0,4}|.{0,80}",
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
            now in proptest::num::i64::ANY,
            secret_text in ".{0,60}",
        ) {
            let _ = WebhookSecret::parse(&secret_text);
            let keys = [secret(SECRET)];
            let _ = verify(&keys, &id, &ts, &sig, &body, now);
        }
    }
}
