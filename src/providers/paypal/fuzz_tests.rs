//! PayPal's webhook inputs driven with arbitrary and with hostile-but-plausible bytes: the
//! `PAYPAL-*` headers (public: read before any check), the operator tool's saved headers, the
//! signature check itself, and the event body. Nothing may panic, and a 64 KiB body must cost
//! milliseconds. Timing bounds are generous (debug build, two shared cores): they catch a
//! superlinear algorithm, not a slow machine.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::cert::{TrustStore, leaf_from_pem, unix_time};
use super::events::{self, MAX_PARENTS};
use super::webhook::{Transmission, verify_with_cert};
use crate::domain::MerchantId;
use proptest::prelude::*;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const BOUND: Duration = Duration::from_millis(200);

const NAMES: [&str; 6] = [
    "paypal-transmission-id",
    "paypal-transmission-time",
    "paypal-transmission-sig",
    "paypal-cert-url",
    "PAYPAL-AUTH-ALGO",
    "x-other",
];

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// JSON shaped like PayPal's events: their keys, nested any way, with any scalar values.
fn event_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("id"),
        Just("event_type"),
        Just("resource"),
        Just("links"),
        Just("rel"),
        Just("href"),
        Just("supplementary_data"),
        Just("related_ids"),
        Just("capture_id"),
        Just("order_id"),
        Just("custom_id"),
        Just("amount"),
        Just("currency_code"),
        Just("value"),
        Just("purchase_units"),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        Just(Value::from("up")),
        "[A-Z0-9]{1,20}".prop_map(|id| Value::from(format!("https://x/v2/payments/captures/{id}"))),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::vec((key.clone(), inner), 0..8).prop_map(|pairs| {
                Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

fn use_body(body: Vec<u8>) {
    let merchant = MerchantId::parse("shop").unwrap();
    if let Ok(parsed) = events::parse(&merchant, body.into()) {
        assert!(parsed.event().parents.len() <= MAX_PARENTS);
    }
}

/// One of the public signature vectors' certificates, and a time it is valid at.
fn fixture_cert() -> Vec<u8> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/paypal_webhooks/01_node_sdk_test_2015_sale_completed");
    std::fs::read(dir.join("cert.pem")).unwrap()
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn the_header_reader_takes_any_header_values(
        headers in proptest::collection::vec(
            (0..NAMES.len(), proptest::collection::vec(any::<u8>(), 0..64)),
            0..12,
        ),
    ) {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            if let Ok(value) = HeaderValue::from_bytes(&value) {
                map.append(HeaderName::from_bytes(NAMES[name].as_bytes()).unwrap(), value);
            }
        }
        if let Ok(t) = Transmission::from_headers(&map) {
            let _ = t.check_algorithm();
        }
    }

    #[test]
    fn the_saved_headers_reader_takes_any_bytes(text in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Transmission::from_json(&text);
    }

    #[test]
    fn the_event_parser_takes_any_bytes(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        use_body(body);
    }

    #[test]
    fn the_event_parser_takes_any_event_shaped_json(
        id in ".{0,8}",
        event_type in ".{0,24}",
        resource in event_json(),
    ) {
        let body = json!({"id": id, "event_type": event_type, "resource": resource});
        use_body(serde_json::to_vec(&body).unwrap());
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// The signature check with a real certificate and any transmission: refused, never a panic.
    #[test]
    fn the_signature_check_takes_any_transmission(
        id in ".{0,40}",
        time in ".{0,30}",
        sig in "[A-Za-z0-9+/=]{0,400}|.{0,40}",
        algo in "SHA256withRSA|.{0,16}",
        body in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let headers = json!({
            "PAYPAL-TRANSMISSION-ID": id, "PAYPAL-TRANSMISSION-TIME": time,
            "PAYPAL-TRANSMISSION-SIG": sig, "PAYPAL-CERT-URL": "https://api.paypal.com/v1/notifications/certs/x",
            "PAYPAL-AUTH-ALGO": algo,
        });
        if let Ok(t) = Transmission::from_json(&serde_json::to_vec(&headers).unwrap()) {
            let leaf = leaf_from_pem(&fixture_cert()).unwrap();
            let trust = TrustStore::new(&[]).unwrap();
            let at = unix_time(1_450_000_000).unwrap();
            let names = ["messageverificationcerts.paypal.com"];
            prop_assert!(verify_with_cert(&t, "WH-ID", &body, &leaf, &trust, at, &names).is_err());
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
fn hostile_64_kib_bodies_cost_milliseconds_and_few_lookups() {
    let link =
        |i: usize| json!({"rel": "up", "href": format!("https://x/v2/payments/captures/C{i}")});
    let links: Vec<Value> = (0..600).map(link).collect();
    let many_links = serde_json::to_vec(&json!({
        "id": "WH-1", "event_type": "PAYMENT.CAPTURE.REFUNDED",
        "resource": {"id": "R1", "links": links},
    }))
    .unwrap();
    assert!(many_links.len() <= 64 * 1024);
    let merchant = MerchantId::parse("shop").unwrap();
    let parsed = events::parse(&merchant, many_links.clone().into()).unwrap();
    assert_eq!(
        parsed.event().parents.len(),
        MAX_PARENTS,
        "each parent costs lookups"
    );

    let deep = "[".repeat(64 * 1024);
    let long_string = format!("{{\"id\":\"{}\"}}", "\\u00e9".repeat(64 * 1024 / 6));
    for (what, body) in [
        ("600 up links", many_links),
        ("64 KiB of nesting", deep.into_bytes()),
        ("one long escaped string", long_string.into_bytes()),
    ] {
        timed(what, || use_body(body));
    }
}
