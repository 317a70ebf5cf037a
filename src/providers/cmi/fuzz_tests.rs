//! CMI's inputs driven with arbitrary and with hostile-but-plausible bytes: the callback form
//! (public, decoded before the HASH check) and the XML API's answers. Nothing may panic, and
//! a 64 KiB input must cost milliseconds, not seconds.
//!
//! Timing bounds are generous (debug build, two shared cores): they catch a quadratic
//! algorithm (the old form decoder took 0.4 s on 10,000 fields), not a slow machine.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::form::{self, FormError, MAX_FIELDS};
use super::hash;
use super::wire::ApiResponse;
use proptest::prelude::*;
use std::time::{Duration, Instant};

/// Enough to catch a quadratic parser on 64 KiB; far above what a linear one needs in debug.
const BOUND: Duration = Duration::from_millis(200);

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// A form-encoded piece: plain bytes, `%XX` (valid or not), `+`, separators.
fn form_piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..8),
        "[A-Za-z0-9._]{1,12}".prop_map(String::into_bytes),
        (any::<u8>()).prop_map(|b| format!("%{b:02X}").into_bytes()),
        "%[0-9A-Za-z]?".prop_map(String::into_bytes),
        Just(b"+".to_vec()),
        Just(b"&".to_vec()),
        Just(b"=".to_vec()),
        Just(b"HASH=".to_vec()),
    ]
}

/// An XML piece as CMI's answers are made of, plus the ways they go wrong.
fn xml_piece() -> impl Strategy<Value = String> {
    let name = "[A-Za-z][A-Za-z0-9_]{0,10}";
    prop_oneof![
        Just("<CC5Response>".to_owned()),
        Just("</CC5Response>".to_owned()),
        Just("<Extra>".to_owned()),
        Just("</Extra>".to_owned()),
        Just("<Response>Approved</Response>".to_owned()),
        Just("<ProcReturnCode>00</ProcReturnCode>".to_owned()),
        Just("<TRXCOUNT>2</TRXCOUNT>".to_owned()),
        "[0-9]{1,3}".prop_map(|n| format!(
            "<TRX{n}>S\tC\t100\t100\t2024-01-02 21:53:02.4\t00\tT1</TRX{n}>"
        )),
        name.prop_map(|n| format!("<{n}>")),
        name.prop_map(|n| format!("</{n}>")),
        name.prop_map(|n| format!("<{n}/>")),
        "[^<&]{0,16}",
        Just("&amp;".to_owned()),
        "&[a-z#0-9x]{0,6};?",
        "[^\\]]{0,12}".prop_map(|t| format!("<![CDATA[{t}]]>")),
        Just("<?xml version=\"1.0\" encoding=\"ISO-8859-9\"?>".to_owned()),
        Just("<!DOCTYPE x [<!ENTITY a \"aaaaaaaa\">]>".to_owned()),
    ]
}

/// Everything a decoded form offers downstream, exercised.
fn use_form(body: &[u8]) {
    if let Ok(fields) = form::decode(body) {
        assert!(fields.len() <= MAX_FIELDS);
        let _ = form::names(&fields);
        let _ = form::get(&fields, "oid");
        let _ = hash::verify(&fields, b"store-key");
    }
}

/// Everything a decoded answer offers downstream, exercised.
fn use_answer(body: &[u8]) {
    if let Ok(answer) = ApiResponse::parse(body) {
        let _ = answer.approved();
        let _ = answer.error_code();
        let _ = answer.order_status();
        let _ = answer.history();
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn the_form_decoder_takes_any_bytes(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        use_form(&body);
    }

    #[test]
    fn the_form_decoder_takes_any_form_like_bytes(
        pieces in proptest::collection::vec(form_piece(), 0..100),
    ) {
        use_form(&pieces.concat());
    }

    #[test]
    fn the_api_answer_parser_takes_any_bytes(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        use_answer(&body);
    }

    #[test]
    fn the_api_answer_parser_takes_any_xml_like_text(
        pieces in proptest::collection::vec(xml_piece(), 0..60),
    ) {
        use_answer(pieces.concat().as_bytes());
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// Distinct names and any values, encoded as a browser would: decoded back exactly, in
    /// order, or refused as too many.
    #[test]
    fn encoded_fields_decode_back_exactly(
        fields in proptest::collection::btree_map(
            "[a-z][a-zA-Z0-9.]{0,10}",
            proptest::collection::vec(any::<u8>(), 0..16),
            0..300,
        ),
    ) {
        // Distinct regardless of case, as the decoder requires.
        let mut seen = std::collections::HashSet::new();
        let fields: Vec<(Vec<u8>, Vec<u8>)> = fields
            .into_iter()
            .filter(|(n, _)| seen.insert(n.to_ascii_uppercase()))
            .map(|(n, v)| (n.into_bytes(), v))
            .collect();
        let body = fields
            .iter()
            .map(|(n, v)| {
                let value: String = v.iter().map(|b| format!("%{b:02X}")).collect();
                format!("{}={value}", String::from_utf8_lossy(n))
            })
            .collect::<Vec<_>>()
            .join("&");
        match form::decode(body.as_bytes()) {
            Ok(decoded) => prop_assert_eq!(decoded, fields),
            Err(e) => {
                prop_assert_eq!(e, FormError::TooManyFields);
                prop_assert!(fields.len() > MAX_FIELDS);
            }
        }
    }
}

fn timed(what: &str, run: impl FnOnce()) {
    let started = Instant::now();
    run();
    let took = started.elapsed();
    assert!(took < BOUND, "{what}: {took:?}");
}

#[test]
fn hostile_64_kib_forms_cost_milliseconds() {
    let many = "a=&".repeat(64 * 1024 / 3);
    let repeated = "oid=1&".repeat(64 * 1024 / 6);
    let escapes = "x=".to_owned() + &"%41".repeat(64 * 1024 / 3);
    let separators = "&".repeat(64 * 1024);
    let bad_escape_at_end = "y=".to_owned() + &"a".repeat(64 * 1024) + "%";
    for (what, body) in [
        ("many fields", many),
        ("one name repeated", repeated),
        ("one long escaped value", escapes),
        ("separators only", separators),
        ("a bad escape at the end", bad_escape_at_end),
    ] {
        timed(what, || use_form(body.as_bytes()));
    }
}

#[test]
fn hostile_64_kib_api_answers_cost_milliseconds() {
    let deep = "<CC5Response>".to_owned() + &"<a>".repeat(64 * 1024 / 3);
    let wide = "<CC5Response><Extra>".to_owned()
        + &(0..5_000).map(|i| format!("<E{i}/>")).collect::<String>()
        + "</Extra><Response>Approved</Response></CC5Response>";
    let entities = "<CC5Response><ErrMsg>".to_owned()
        + &"&amp;".repeat(64 * 1024 / 5)
        + "</ErrMsg></CC5Response>";
    let history = "<CC5Response><Response>Approved</Response><ProcReturnCode>00</ProcReturnCode><Extra><TRXCOUNT>1000</TRXCOUNT>".to_owned()
        + &(1..=1000).map(|i| format!("<TRX{i}>C\tS\t1\t1\t\t00\tT</TRX{i}>")).collect::<String>()
        + "</Extra></CC5Response>";
    for (what, body) in [
        ("deep nesting", deep),
        ("5,000 empty children", wide),
        ("64 KiB of entities", entities),
        ("the largest history read", history),
    ] {
        timed(what, || use_answer(body.as_bytes()));
    }
}
