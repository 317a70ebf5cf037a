//! The Standard Webhooks receiver driven with arbitrary header bytes and bodies, and with a
//! hostile signature header: nothing may panic, and the check stays linear in the header.
//! The timing bound is generous (debug build, two shared cores): it catches a superlinear
//! algorithm, not a slow machine.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::events;
use crate::domain::MerchantId;
use crate::standard_webhooks::{WebhookSecret, sign};
use proptest::prelude::*;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::time::{Duration, Instant};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NOW: i64 = 1_700_000_000;
const NAMES: [&str; 4] = [
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-other",
];

fn verify(headers: &HeaderMap, body: &[u8]) -> bool {
    let secrets = [WebhookSecret::parse(SECRET).unwrap()];
    let merchant = MerchantId::parse("shop").unwrap();
    let verified = events::verify(&secrets, &merchant, headers, body.to_vec().into(), NOW);
    if let Ok(v) = &verified {
        let _ = events::parse(v.event_id(), body);
    }
    verified.is_ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_receiver_takes_any_headers_and_body(
        headers in proptest::collection::vec(
            (0..NAMES.len(), proptest::collection::vec(any::<u8>(), 0..96)),
            0..8,
        ),
        body in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            if let Ok(value) = HeaderValue::from_bytes(&value) {
                map.append(HeaderName::from_bytes(NAMES[name].as_bytes()).unwrap(), value);
            }
        }
        prop_assert!(!verify(&map, &body), "no random input carries a valid signature");
    }

    /// Signed correctly, with any body: verified, and the body parser takes whatever it is.
    #[test]
    fn any_signed_body_verifies_and_parses_without_panic(
        body in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let secrets = [WebhookSecret::parse(SECRET).unwrap()];
        let signature = sign(&secrets, "evt_1", NOW, &body);
        let mut map = HeaderMap::new();
        map.insert("webhook-id", HeaderValue::from_static("evt_1"));
        map.insert("webhook-timestamp", HeaderValue::from_str(&NOW.to_string()).unwrap());
        map.insert("webhook-signature", HeaderValue::from_str(&signature).unwrap());
        prop_assert!(verify(&map, &body));
    }
}

#[test]
fn a_signature_header_of_thousands_of_entries_costs_milliseconds() {
    let entry = "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4= ";
    let header = entry.repeat(60 * 1024 / entry.len());
    let mut map = HeaderMap::new();
    map.insert("webhook-id", HeaderValue::from_static("evt_1"));
    map.insert(
        "webhook-timestamp",
        HeaderValue::from_str(&NOW.to_string()).unwrap(),
    );
    map.insert("webhook-signature", HeaderValue::from_str(&header).unwrap());
    let started = Instant::now();
    assert!(!verify(&map, &[b'x'; 64 * 1024]));
    let took = started.elapsed();
    assert!(took < Duration::from_millis(200), "{took:?}");
}
