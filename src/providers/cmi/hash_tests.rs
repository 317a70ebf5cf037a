#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::*;
use serde::Deserialize;

/// The shared vectors, copied byte-exact (DESIGN.md §12).
const VECTORS: &str = include_str!("../../../tests/fixtures/cmi_ver3.json");

#[derive(Deserialize)]
struct File {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    id: String,
    store_key: String,
    params: Vec<(String, Option<String>)>,
    expected_hash: String,
}

fn vectors() -> Vec<Vector> {
    serde_json::from_str::<File>(VECTORS).unwrap().vectors
}

fn params(v: &Vector) -> Vec<(String, String)> {
    v.params
        .iter()
        .map(|(n, val)| (n.clone(), val.clone().unwrap_or_default()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn every_shared_vector_hashes_to_its_expected_value() {
    let all = vectors();
    assert_eq!(all.len(), 11, "the fixture lost or gained vectors");
    for v in &all {
        let got = compute(&params(v), v.store_key.as_bytes());
        assert_eq!(got, v.expected_hash, "vector {}", v.id);
        assert_eq!(got.len(), 88, "vector {}", v.id);
    }
}

#[test]
fn every_shared_vector_verifies_as_a_callback_and_fails_when_touched() {
    for v in vectors() {
        let mut fields = params(&v);
        fields.push(("HASH".into(), v.expected_hash.clone()));
        assert!(verify(&fields, v.store_key.as_bytes()), "vector {}", v.id);
        // Any case of the name works, since it is excluded from the hash.
        fields.last_mut().unwrap().0 = "hash".into();
        assert!(verify(&fields, v.store_key.as_bytes()), "vector {}", v.id);
        // A wrong key, a changed value, or an added field must all fail.
        assert!(!verify(&fields, b"another-key"), "vector {}", v.id);
        let mut changed = fields.clone();
        changed[0].1.push('0');
        assert!(!verify(&changed, v.store_key.as_bytes()), "vector {}", v.id);
        let mut added = fields.clone();
        added.push(("callbackCall".into(), "true".into()));
        assert!(!verify(&added, v.store_key.as_bytes()), "vector {}", v.id);
    }
}

#[test]
fn hash_and_encoding_fields_in_any_case_do_not_change_the_hash() {
    for v in vectors() {
        let mut fields = params(&v);
        fields.push(("ENCODING".into(), "UTF-8".into()));
        fields.push(("Hash".into(), "whatever".into()));
        assert_eq!(
            compute(&fields, v.store_key.as_bytes()),
            v.expected_hash,
            "vector {}",
            v.id
        );
    }
}

#[test]
fn derived_escaping_vector_has_the_documented_plaintext() {
    let v = vectors()
        .into_iter()
        .find(|v| v.id == "derived-value-escaping")
        .unwrap();
    let text = plaintext(&params(&v), v.store_key.as_bytes());
    assert_eq!(
        String::from_utf8(text).unwrap(),
        r"10.50|A\|B\\C|600000000|504|ver3|ORD-1|Key\|with\\slash"
    );
}

/// The wrong implementations the spec warns about (§12) must not reproduce the vector, so the
/// vector really pins the escaping rules.
#[test]
fn wrong_escape_order_or_raw_store_key_break_the_derived_vector() {
    let v = vectors()
        .into_iter()
        .find(|v| v.id == "derived-value-escaping")
        .unwrap();
    let digest = |text: String| {
        base64::engine::general_purpose::STANDARD.encode(Sha512::digest(text.as_bytes()))
    };
    let pipe_first = |s: &str| s.replace('|', "\\|").replace('\\', "\\\\");
    let good = |s: &str| s.replace('\\', "\\\\").replace('|', "\\|");
    let values = ["10.50", "A|B\\C", "600000000", "504", "ver3", "ORD-1"];
    let join = |esc: &dyn Fn(&str) -> String, key: String| {
        let mut text: String = values.iter().map(|s| esc(s) + "|").collect();
        text.push_str(&key);
        text
    };
    assert_eq!(
        digest(join(&good, good(&v.store_key))),
        v.expected_hash,
        "the reference construction itself"
    );
    assert_ne!(
        digest(join(&pipe_first, pipe_first(&v.store_key))),
        v.expected_hash
    );
    assert_ne!(digest(join(&good, v.store_key.clone())), v.expected_hash);
}

#[test]
fn cmi_shaped_form_from_the_spec_matches() {
    let fields = pairs(&[
        ("clientid", "600000000"),
        ("oid", "ORDER-1001"),
        ("amount", "150.00"),
        ("currency", "504"),
        ("okUrl", "https://shop.example/ok"),
        ("failUrl", "https://shop.example/fail"),
        ("callbackUrl", "https://shop.example/cb"),
        ("TranType", "PreAuth"),
        ("rnd", "1700000000123"),
        ("storetype", "3D_PAY_HOSTING"),
        ("hashAlgorithm", "ver3"),
        ("lang", "fr"),
        ("encoding", "UTF-8"),
    ]);
    assert_eq!(
        compute(&fields, b"TEST_STORE_KEY"),
        "Vd55FWXVr0uDhVu1ZbwtFrLIiHye48APOHToSnPMlOfecaMF88KwUrMU7ETMHhS/jzX4o97MDwE5/GSDeaBxiA=="
    );
}

/// UTF-8 values are hashed as their UTF-8 bytes. Expected values computed independently
/// (Python hashlib over the same rules), not by this code.
#[test]
fn arabic_and_accented_french_values_hash_over_their_utf8_bytes() {
    let arabic = pairs(&[
        ("clientid", "600000000"),
        ("oid", "ORD-AR-1"),
        ("amount", "99.90"),
        ("currency", "504"),
        ("BillToName", "محمد العلوي"),
        ("BillToCity", "الدار البيضاء"),
        ("hashAlgorithm", "ver3"),
        ("encoding", "UTF-8"),
    ]);
    assert_eq!(
        compute(&arabic, "clé-magasin".as_bytes()),
        "ay7E/4MpXC/qmlgA/2pCW5WyPxIHo1ifwt0M9IAkSWBifyLKMUHlaKyRAD6JlksJvepmYXQ/bGHgf9LlqQuzQg=="
    );
    let french = pairs(&[
        ("clientid", "600000000"),
        ("oid", "ORD-FR-1"),
        ("amount", "12.05"),
        ("currency", "504"),
        ("BillToName", "Hélène Çelik-Goëmans"),
        ("BillToStreet1", "12, rue de l'Église"),
        ("hashAlgorithm", "ver3"),
        ("_charset_", "UTF-8"),
    ]);
    let text = String::from_utf8(plaintext(&french, b"K")).unwrap();
    assert!(
        text.ends_with("|ORD-FR-1|UTF-8|K"),
        "`_` sorts after the letters: {text}"
    );
    assert_eq!(
        compute(&french, b"TEST_STORE_KEY"),
        "ZOikChYXCIQxVyqGtU7OGAojXNv+SDNmecYneQ/VdsOeLppLp7b20x3iU8+1EQl8OfK/muRhgvzo/3Abdt3dew=="
    );
}

#[test]
fn missing_or_repeated_hash_never_verifies() {
    let fields = pairs(&[("clientid", "1"), ("oid", "o")]);
    assert!(!verify(&fields, b"k"));
    let good = compute(&fields, b"k");
    let mut twice = fields.clone();
    twice.push(("HASH".into(), good.clone()));
    assert!(verify(&twice, b"k"));
    twice.push(("hash".into(), good));
    assert!(!verify(&twice, b"k"));
    let mut empty = fields;
    empty.push(("HASH".into(), String::new()));
    assert!(!verify(&empty, b"k"));
}

/// The Turkish platform echoes `encoding=ISO-8859-9`: such a body is verified over its bytes as
/// received, never transcoded (specs/cmi.md §4.3). Expected value computed independently.
#[test]
fn a_latin5_callback_is_verified_over_its_raw_bytes() {
    let body = b"amount=1.00&BillToName=%DEahin+%D6zt%FCrk&clientid=190100000&currency=949\
&encoding=ISO-8859-9&hashAlgorithm=ver3\
&HASH=RVmMrOE%2FFCByUH1Kh49mK89p%2F3hOmv4QNdq8Kqe34poFxYuJPu5U8rnyk5o1MA6tPuJYqVivJv5D954mmWr5hw%3D%3D";
    let fields = crate::providers::cmi::form::decode(body).unwrap();
    assert!(verify(&fields, b"123456"));
    assert!(!verify(&fields, b"1234567"));
}
