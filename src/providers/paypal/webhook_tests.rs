//! The public PayPal signature vectors (tests/fixtures/paypal_webhooks, copied byte-exact from
//! the shared vectors): every one must give its `expected.txt`, with certificate validity
//! evaluated at its transmission time, and every tampering must fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::providers::paypal::cert::{leaf_from_pem, unix_time};
use std::path::{Path, PathBuf};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const BOTH: [&str; 2] = [
    "messageverificationcerts.paypal.com",
    "messageverificationcerts.sandbox.paypal.com",
];

struct Vector {
    name: String,
    transmission: Transmission,
    body: Vec<u8>,
    cert: Vec<u8>,
    webhook_id: String,
    verify: bool,
}

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/paypal_webhooks")
}

fn vectors() -> Vec<Vector> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(vectors_dir()).unwrap() {
        let dir = entry.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if !dir.is_dir() || name.starts_with('_') {
            continue;
        }
        let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
        let expected = String::from_utf8(read("expected.txt")).unwrap();
        out.push(Vector {
            transmission: Transmission::from_json(&read("headers.json")).unwrap(),
            body: read("body.json"),
            cert: read("cert.pem"),
            webhook_id: String::from_utf8(read("webhook_id.txt"))
                .unwrap()
                .trim()
                .to_owned(),
            verify: match expected.trim() {
                "VERIFY" => true,
                "FAIL" => false,
                other => panic!("{name}: unknown expectation {other}"),
            },
            name,
        });
    }
    assert_eq!(out.len(), 11, "all eleven vectors are present");
    out
}

fn at(t: &Transmission) -> UnixTime {
    let when = OffsetDateTime::parse(&t.time, &Rfc3339).unwrap();
    unix_time(when.unix_timestamp()).unwrap()
}

fn check(
    v: &Vector,
    t: &Transmission,
    body: &[u8],
    webhook_id: &str,
) -> Result<(), SignatureError> {
    let trust = TrustStore::new(&[]).unwrap();
    let leaf = leaf_from_pem(&v.cert).unwrap();
    verify_with_cert(
        t,
        webhook_id,
        body,
        &leaf,
        &trust,
        at(&v.transmission),
        &BOTH,
    )
    .map(|_| ())
}

#[test]
fn every_vector_gives_its_expected_result() {
    for v in vectors() {
        let result = check(&v, &v.transmission, &v.body, &v.webhook_id);
        assert_eq!(result.is_ok(), v.verify, "{}: {result:?}", v.name);
        if !v.verify {
            assert_eq!(
                result,
                Err(SignatureError::Cert(CertError::BadSignature)),
                "{}: must fail on the signature, not earlier",
                v.name
            );
        }
    }
}

#[test]
fn the_worked_example_message_matches_the_spec() {
    let v = vectors()
        .into_iter()
        .find(|v| v.name.starts_with("01_"))
        .unwrap();
    assert_eq!(
        signed_message(&v.transmission, &v.webhook_id, &v.body),
        "dfb3be50-fd74-11e4-8bf3-77339302725b|2015-05-18T15:45:13Z|4JH86294D6297924G|2771810304"
    );
}

#[test]
fn tampering_with_any_signed_part_fails() {
    for v in vectors().into_iter().filter(|v| v.verify) {
        let value: serde_json::Value = serde_json::from_slice(&v.body).unwrap();
        let pretty = serde_json::to_vec_pretty(&value).unwrap();
        assert!(
            check(&v, &v.transmission, &pretty, &v.webhook_id).is_err(),
            "{}: re-serialised",
            v.name
        );
        let mut newline = v.body.clone();
        newline.push(b'\n');
        assert!(
            check(&v, &v.transmission, &newline, &v.webhook_id).is_err(),
            "{}: newline",
            v.name
        );
        assert!(
            check(&v, &v.transmission, &v.body, "4JH86294D6297924X").is_err(),
            "{}: webhook id",
            v.name
        );

        let mut later = v.transmission.clone();
        let when =
            OffsetDateTime::parse(&later.time, &Rfc3339).unwrap() + time::Duration::seconds(1);
        let fmt =
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
        later.time = when.format(&fmt).unwrap();
        assert!(
            check(&v, &later, &v.body, &v.webhook_id).is_err(),
            "{}: time + 1 s",
            v.name
        );

        let mut other_id = v.transmission.clone();
        other_id.id.replace_range(
            0..1,
            if other_id.id.starts_with('0') {
                "1"
            } else {
                "0"
            },
        );
        assert!(
            check(&v, &other_id, &v.body, &v.webhook_id).is_err(),
            "{}: transmission id",
            v.name
        );

        let mut sha1 = v.transmission.clone();
        sha1.auth_algo = "SHA1withRSA".into();
        assert_eq!(
            check(&v, &sha1, &v.body, &v.webhook_id),
            Err(SignatureError::Algorithm),
            "{}",
            v.name
        );
    }
}

#[test]
fn simulator_vectors_verify_only_with_the_literal_simulator_id() {
    for v in vectors()
        .into_iter()
        .filter(|v| v.webhook_id == SIMULATOR_WEBHOOK_ID)
    {
        assert!(
            check(&v, &v.transmission, &v.body, "8PT597110X687430LKGECATA").is_err(),
            "{}",
            v.name
        );
    }
}

#[test]
fn certificates_are_checked_for_validity_name_and_chain() {
    let v = vectors()
        .into_iter()
        .find(|v| v.name.starts_with("08_"))
        .unwrap();
    let trust = TrustStore::new(&[]).unwrap();
    let leaf = leaf_from_pem(&v.cert).unwrap();
    // Expired since 2025-03-07: valid at the transmission time only.
    let now = unix_time(OffsetDateTime::now_utc().unix_timestamp()).unwrap();
    let expired = verify_with_cert(
        &v.transmission,
        &v.webhook_id,
        &v.body,
        &leaf,
        &trust,
        now,
        &BOTH,
    );
    assert!(
        matches!(expired, Err(SignatureError::Cert(CertError::Invalid(_)))),
        "{expired:?}"
    );
    // A live certificate is not good enough for a sandbox merchant.
    let sandbox_only = names_for(Environment::Sandbox);
    let wrong_env = verify_with_cert(
        &v.transmission,
        &v.webhook_id,
        &v.body,
        &leaf,
        &trust,
        at(&v.transmission),
        &sandbox_only,
    );
    assert!(
        matches!(wrong_env, Err(SignatureError::Cert(CertError::Invalid(_)))),
        "{wrong_env:?}"
    );
    // A self-signed certificate (here: the DigiCert root itself) does not chain as a leaf.
    let root = leaf_from_pem(include_bytes!("certs/DigiCertHighAssuranceEVRootCA.pem")).unwrap();
    let untrusted = verify_with_cert(
        &v.transmission,
        &v.webhook_id,
        &v.body,
        &root,
        &trust,
        at(&v.transmission),
        &BOTH,
    );
    assert!(untrusted.is_err());
}

#[test]
fn missing_and_duplicated_headers_are_refused() {
    let mut headers = HeaderMap::new();
    assert_eq!(
        Transmission::from_headers(&headers),
        Err(SignatureError::MissingHeader("paypal-transmission-id"))
    );
    for name in HEADERS {
        headers.insert(name, "x".parse().unwrap());
    }
    assert!(Transmission::from_headers(&headers).is_ok());
    headers.append("PAYPAL-CERT-URL", "y".parse().unwrap());
    assert_eq!(
        Transmission::from_headers(&headers),
        Err(SignatureError::DuplicateHeader("paypal-cert-url"))
    );
}
