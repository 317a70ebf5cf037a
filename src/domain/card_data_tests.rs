//! The card-number detector: what it finds, and the text it must leave alone.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::as_conversions
)]

use super::*;
use proptest::prelude::*;

/// `payload` followed by the digit that makes it pass the Luhn check.
fn with_check_digit(payload: &str) -> String {
    (0..=9)
        .map(|d| format!("{payload}{d}"))
        .find(|candidate| luhn(candidate.as_bytes()))
        .unwrap_or_default()
}

#[test]
fn the_networks_test_numbers_are_card_numbers_however_written() {
    for pan in [
        "4111111111111111",
        "4222222222222",       // Visa, 13 digits
        "378282246310005",     // Amex, 15
        "5555555555554444",    // Mastercard
        "2223003122003222",    // Mastercard 2-series
        "6011111111111117",    // Discover
        "3530111333300000",    // JCB
        "30569309025904",      // Diners, 14
        "6200000000000005",    // UnionPay
        "6212345678901234566", // 19 digits (check digit below)
    ] {
        let pan = if pan.len() == 19 {
            with_check_digit(&pan[..18])
        } else {
            pan.to_owned()
        };
        assert!(luhn(pan.as_bytes()), "{pan}: test data must pass Luhn");
        for text in [
            pan.clone(),
            format!("card: {pan}, thanks"),
            format!("({pan})"),
            format!("{pan}@example.com"),
            format!("https://shop.example/pay?pan={pan}&x=1"),
            format!("«{pan}»"),
        ] {
            assert!(contains_card_number(&text), "{text:?}");
        }
    }
    for text in [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4111 1111-1111 1111",
        "3782 822463 10005",
        "Visa 4111 1111 1111 1111 exp 12/27",
        "4111111111111111 12/27",
        "4111 1111 1111 1111 123",   // with its CVV
        "4111 1111 1111 1111 12/27", // with its expiry
        "3782 822463 10005 1234",    // Amex with its CID
        "order 12, card 4111 1111 1111 1111.",
    ] {
        assert!(contains_card_number(text), "{text:?}");
    }
}

#[test]
fn numbers_that_are_not_card_numbers_pass() {
    for text in [
        "",
        "4111111111111112",     // fails Luhn
        "411111111111",         // 12 digits
        "41111111111111111111", // 20 digits (Luhn-valid or not, too long)
        "1234567812345670",     // Luhn-valid, but no card network starts with 1
        "7000000000000009",     // nor with 7
        "20240115103000",       // a compact timestamp
        "1718000000000",        // unix milliseconds
        "+212 6 12 34 56 78",
        "+4915123456789", // E.164
        "+49 1512 3456789",
        "INV4111111111111111", // letters glued to digits: an identifier
        "550e8400-e29b-41d4-a716-446655440000",
        "2024-01-15T10:30:00.123456789Z",
        "FR7630006000011234567890189", // an IBAN written as one word
        "4111  1111  1111  1111",      // double spaces: four short numbers
        "4111.1111.1111.1111",         // dots are not separators
    ] {
        assert!(!contains_card_number(text), "{text:?}");
    }
}

#[test]
fn map_entries_are_named_by_key_unless_the_key_holds_the_number() {
    let mut scan = CardDataScan::default();
    scan.map("metadata", [("note", "4111111111111111"), ("ok", "fine")]);
    assert_eq!(scan.finish().unwrap_err().fields, vec!["metadata[note]"]);

    let mut scan = CardDataScan::default();
    scan.map(
        "metadata",
        [("4111111111111111", "x"), ("note", "4111111111111111")],
    );
    let found = scan.finish().unwrap_err();
    assert_eq!(found.fields, vec!["metadata"]);
    assert!(!found.to_string().contains("4111"), "{found}");

    let mut scan = CardDataScan::default();
    scan.text("merchant_reference", "order-1");
    scan.map("metadata", [("note", "fine")]);
    assert_eq!(scan.finish(), Ok(()));
}

/// Network prefixes (IIN ranges) as cards carry them.
const PREFIXES: &[&str] = &[
    "4", "51", "52", "53", "54", "55", "2221", "2500", "2720", "34", "37", "36", "300", "305",
    "38", "35", "6011", "644", "65", "62", "50", "56", "58", "67",
];

/// A Luhn-valid card number of 13–19 digits under a real network prefix.
fn pan() -> impl Strategy<Value = String> {
    (
        proptest::sample::select(PREFIXES),
        13usize..=19,
        proptest::collection::vec(0u8..10, 19),
    )
        .prop_map(|(prefix, len, fill)| {
            let mut payload = prefix.to_owned();
            for d in fill.into_iter().take(len - 1 - prefix.len()) {
                payload.push(char::from(b'0' + d));
            }
            with_check_digit(&payload)
        })
}

/// `pan` printed in groups: a first group of 4, then groups of 1–6, each gap one space or dash.
fn grouped(pan: &str, sizes: &[usize], dashes: &[bool]) -> String {
    let (first, mut rest) = pan.split_at(4);
    let mut out = first.to_owned();
    for (i, size) in sizes.iter().cycle().enumerate() {
        if rest.is_empty() {
            break;
        }
        let (group, tail) = rest.split_at((*size).min(rest.len()));
        out.push(if dashes.get(i % dashes.len().max(1)) == Some(&true) {
            '-'
        } else {
            ' '
        });
        out.push_str(group);
        rest = tail;
    }
    out
}

/// A card number as callers paste one: plain, or grouped with spaces or dashes.
fn written_pan() -> impl Strategy<Value = String> {
    (
        pan(),
        any::<bool>(),
        proptest::collection::vec(1usize..=6, 1..6),
        proptest::collection::vec(any::<bool>(), 1..6),
    )
        .prop_map(|(pan, plain, sizes, dashes)| {
            if plain {
                pan
            } else {
                grouped(&pan, &sizes, &dashes)
            }
        })
}

/// Caller text around a card number: prose, or punctuation.
fn embedded_pan() -> impl Strategy<Value = String> {
    (
        "([a-zA-Z]{1,8} ){0,4}",
        written_pan(),
        "( [a-zA-Z]{1,8}){0,4}",
        "[a-zA-Z ]{0,12}",
        proptest::sample::select(vec![": ", "=", "(", "#", "/", "[", " - "]),
        proptest::sample::select(vec![".", ",", ")", ";", "!", "]", " exp 12/27"]),
        any::<bool>(),
    )
        .prop_map(|(before, pan, after, lead, open, close, prose)| {
            if prose {
                format!("{before}{pan}{after}")
            } else {
                format!("{lead}{open}{pan}{close}{after}")
            }
        })
}

/// Phone numbers: E.164 with a `+` (grouped any way), or national with a leading 0.
fn phone() -> impl Strategy<Value = String> {
    let international = (
        "[1-9][0-9]{0,2}",
        proptest::collection::vec("[0-9]{1,4}", 1..5),
    )
        .prop_filter("E.164 has at most 15 digits", |(cc, groups)| {
            cc.len() + groups.iter().map(String::len).sum::<usize>() <= 15
        })
        .prop_flat_map(|(cc, groups)| {
            proptest::sample::select(vec!["", " ", "-"])
                .prop_map(move |sep| format!("+{cc}{sep}{}", groups.join(sep)))
        });
    let national =
        ("0[1-9]", proptest::collection::vec("[0-9]{2}", 4)).prop_flat_map(|(head, pairs)| {
            proptest::sample::select(vec!["", " ", "-", "."])
                .prop_map(move |sep| format!("{head}{sep}{}", pairs.join(sep)))
        });
    prop_oneof![international, national]
}

/// Order references as shops write them.
fn order_number() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Z]{1,4}[0-9]{1,30}",
        "[A-Z]{2,4}-(19|20)[0-9]{2}-[0-9]{1,10}",
        "#?[0-9]{1,12}",
        "[A-Z]{3}_[0-9]{1,12}_[a-z0-9]{1,8}",
    ]
}

/// Timestamps from 1970 to 2199: RFC 3339, SQL-like, compact, and unix (s, ms, µs, ns; 2001–2033).
fn timestamp() -> impl Strategy<Value = String> {
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    let calendar =
        (0i64..=7_258_118_399, 0u32..1_000_000_000, 0u8..4).prop_map(|(secs, nanos, style)| {
            let t = time::OffsetDateTime::from_unix_timestamp(secs)
                .unwrap()
                .replace_nanosecond(nanos)
                .unwrap();
            match style {
                0 => t.format(&Rfc3339).unwrap(),
                1 => t
                    .format(format_description!(
                        "[year]-[month]-[day] [hour]:[minute]:[second]"
                    ))
                    .unwrap(),
                2 => t
                    .format(format_description!(
                        "[year][month][day][hour][minute][second]"
                    ))
                    .unwrap(),
                _ => t
                    .format(format_description!(
                        "[year][month][day][hour][minute][second][subsecond digits:3]"
                    ))
                    .unwrap(),
            }
        });
    let unix = (1_000_000_000i128..2_000_000_000, 0u8..4).prop_map(|(secs, unit)| {
        let scaled = secs * 10i128.pow(3 * u32::from(unit));
        scaled.to_string()
    });
    prop_oneof![calendar, unix]
}

/// RFC 4122 UUIDs (v4 random, v7 time-ordered) in their usual spellings.
fn uuid_text() -> impl Strategy<Value = String> {
    (
        any::<[u8; 16]>(),
        any::<[u8; 10]>(),
        0u64..=(1 << 48) - 1,
        any::<bool>(),
        0u8..4,
    )
        .prop_map(|(random, tail, ms, v7, style)| {
            let id = if v7 {
                uuid::Builder::from_unix_timestamp_millis(ms, &tail).into_uuid()
            } else {
                uuid::Builder::from_random_bytes(random).into_uuid()
            };
            match style {
                0 => id.hyphenated().to_string(),
                1 => id.hyphenated().to_string().to_uppercase(),
                2 => id.simple().to_string(),
                _ => id.urn().to_string(),
            }
        })
}

/// Numbers of 20 digits or more: one run, or grouped in groups other than a card's.
fn long_number() -> impl Strategy<Value = String> {
    let plain = "[1-9][0-9]{19,40}";
    let grouped = (
        proptest::collection::vec("[0-9]{5,12}", 2..6),
        any::<bool>(),
    )
        .prop_filter("20 digits or more", |(groups, _)| {
            groups.iter().map(String::len).sum::<usize>() >= 20
        })
        .prop_map(|(groups, dash)| groups.join(if dash { "-" } else { " " }));
    prop_oneof![plain.prop_map(|s| s), grouped]
}

proptest! {
    #[test]
    fn a_card_number_is_found_however_it_is_written(text in embedded_pan()) {
        prop_assert!(contains_card_number(&text), "{:?}", text);
    }

    #[test]
    fn phone_numbers_are_not_card_numbers(text in phone()) {
        prop_assert!(!contains_card_number(&text), "{:?}", text);
    }

    #[test]
    fn order_numbers_are_not_card_numbers(text in order_number()) {
        prop_assert!(!contains_card_number(&text), "{:?}", text);
    }

    #[test]
    fn timestamps_are_not_card_numbers(text in timestamp()) {
        prop_assert!(!contains_card_number(&text), "{:?}", text);
    }

    #[test]
    fn uuids_are_not_card_numbers(text in uuid_text()) {
        prop_assert!(!contains_card_number(&text), "{:?}", text);
    }

    #[test]
    fn numbers_of_20_digits_or_more_are_not_card_numbers(text in long_number()) {
        prop_assert!(!contains_card_number(&text), "{:?}", text);
    }

    /// The other side of the Luhn rule: one wrong digit and it is just a number.
    #[test]
    fn a_number_failing_luhn_is_not_a_card_number(pan in pan(), at in 0usize..19, bump in 1u8..10) {
        let mut digits = pan.into_bytes();
        let at = at % digits.len();
        if let Some(d) = digits.get_mut(at) {
            *d = b'0' + (*d - b'0' + bump) % 10;
        }
        let text = String::from_utf8(digits).unwrap();
        prop_assume!(!luhn(text.as_bytes()));
        prop_assert!(!contains_card_number(&text), "{:?}", text);
    }
}
