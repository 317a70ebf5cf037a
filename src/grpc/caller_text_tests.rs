//! Every string field of every request, found in the proto's own descriptor, refuses a card
//! number with `CARD_DATA_NOT_ALLOWED` naming that field: a string field added to the proto
//! is covered by this test the day it is added.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use super::super::convert;
use super::super::proto as pb;
use crate::domain::{AuthorizeCommand, CaptureCommand, ListQuery, RefundCommand, VoidCommand};
use crate::error::{AppError, CARD_DATA_NOT_ALLOWED};
use proptest::prelude::*;
use prost::Message;
use prost_types::field_descriptor_proto::Type;
use prost_types::{DescriptorProto, FileDescriptorSet};

/// One string somewhere in a request: the field numbers leading to it, and its API name.
#[derive(Debug, Clone)]
struct Leaf {
    /// Outermost first; `Map` levels hold a map entry.
    path: Vec<Step>,
    name: String,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Field(u32),
    /// A map field: the text goes in the entry's key (true) or value (false).
    Map(u32, bool),
}

fn descriptors() -> (Vec<String>, Vec<DescriptorProto>) {
    let set = FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).unwrap();
    let file = set
        .file
        .into_iter()
        .find(|f| f.package() == "paygate.v1")
        .unwrap();
    let inputs = file.service[0]
        .method
        .iter()
        .map(|m| m.input_type().trim_start_matches(".paygate.v1.").to_owned())
        .collect();
    (inputs, file.message_type)
}

/// Every string leaf of `message`, recursing into message fields and maps.
fn leaves(
    all: &[DescriptorProto],
    message: &DescriptorProto,
    prefix: &[Step],
    name: &str,
) -> Vec<Leaf> {
    let mut out = Vec::new();
    for field in &message.field {
        let number = u32::try_from(field.number()).unwrap();
        let at = if name.is_empty() {
            field.name().to_owned()
        } else {
            format!("{name}.{}", field.name())
        };
        let mut path = prefix.to_vec();
        match field.r#type() {
            Type::String => {
                path.push(Step::Field(number));
                out.push(Leaf { path, name: at });
            }
            Type::Message => {
                let type_name = field.type_name().rsplit('.').next().unwrap();
                if let Some(entry) = message.nested_type.iter().find(|n| n.name() == type_name) {
                    assert!(
                        entry.options.as_ref().is_some_and(|o| o.map_entry()),
                        "{at}"
                    );
                    let mut key = path.clone();
                    key.push(Step::Map(number, true));
                    out.push(Leaf {
                        path: key,
                        name: at.clone(),
                    });
                    path.push(Step::Map(number, false));
                    out.push(Leaf {
                        path,
                        name: format!("{at}[note]"),
                    });
                } else if type_name != "Timestamp" {
                    let nested = all.iter().find(|m| m.name() == type_name).unwrap();
                    path.push(Step::Field(number));
                    out.extend(leaves(all, nested, &path, &at));
                }
            }
            _ => {}
        }
    }
    out
}

fn length_delimited(number: u32, bytes: &[u8], out: &mut Vec<u8>) {
    prost::encoding::encode_key(number, prost::encoding::WireType::LengthDelimited, out);
    prost::encoding::encode_varint(u64::try_from(bytes.len()).unwrap(), out);
    out.extend_from_slice(bytes);
}

/// Wire bytes setting only `leaf` to `text`; appended to a message, they override or merge.
fn set(leaf: &Leaf, text: &str) -> Vec<u8> {
    let mut inner = text.as_bytes().to_vec();
    for step in leaf.path.iter().rev() {
        let mut out = Vec::new();
        match *step {
            Step::Field(n) => length_delimited(n, &inner, &mut out),
            Step::Map(n, in_key) => {
                let mut entry = Vec::new();
                let (key, value) = if in_key {
                    (&inner[..], &b"x"[..])
                } else {
                    (&b"note"[..], &inner[..])
                };
                length_delimited(1, key, &mut entry);
                length_delimited(2, value, &mut entry);
                length_delimited(n, &entry, &mut out);
            }
        }
        inner = out;
    }
    inner
}

const PAYMENT_ID: &str = "0190f5c4-2b6e-7d3a-9c1e-5f2a8b7c6d4e";

/// Decodes a request of type `name` from valid base fields plus `extra`, and converts it
/// the way `grpc/mod.rs` does.
fn convert(name: &str, extra: &[u8]) -> Result<(), AppError> {
    fn with<M: Message + Default>(base: M, extra: &[u8]) -> M {
        let mut bytes = base.encode_to_vec();
        bytes.extend_from_slice(extra);
        M::decode(&bytes[..]).unwrap()
    }
    let money = Some(pb::Money {
        currency: "MAD".into(),
        minor_units: 100,
    });
    match name {
        "AuthorizeRequest" => {
            let base = pb::AuthorizeRequest {
                idempotency_key: "k".into(),
                provider: "mock".into(),
                amount: money,
                ..Default::default()
            };
            AuthorizeCommand::try_from(with(base, extra)).map(drop)
        }
        "CaptureRequest" => {
            let base = pb::CaptureRequest {
                idempotency_key: "k".into(),
                payment_id: PAYMENT_ID.into(),
                ..Default::default()
            };
            CaptureCommand::try_from(with(base, extra)).map(drop)
        }
        "VoidRequest" => {
            let base = pb::VoidRequest {
                idempotency_key: "k".into(),
                payment_id: PAYMENT_ID.into(),
            };
            VoidCommand::try_from(with(base, extra)).map(drop)
        }
        "RefundRequest" => {
            let base = pb::RefundRequest {
                idempotency_key: "k".into(),
                payment_id: PAYMENT_ID.into(),
                ..Default::default()
            };
            RefundCommand::try_from(with(base, extra)).map(drop)
        }
        "GetPaymentRequest" => {
            let base = pb::GetPaymentRequest {
                payment_id: PAYMENT_ID.into(),
            };
            convert::payment_id(&with(base, extra)).map(drop)
        }
        "ListPaymentsRequest" => {
            ListQuery::try_from(with(pb::ListPaymentsRequest::default(), extra)).map(drop)
        }
        "WatchEventsRequest" => {
            convert::sequence(&with(pb::WatchEventsRequest::default(), extra)).map(drop)
        }
        other => panic!("request {other} has no conversion in this test: add it"),
    }
}

/// Every (request, string leaf) pair of the API.
fn every_leaf() -> Vec<(String, Leaf)> {
    let (inputs, all) = descriptors();
    inputs
        .into_iter()
        .flat_map(|input| {
            let message = all.iter().find(|m| m.name() == input).unwrap().clone();
            leaves(&all, &message, &[], "")
                .into_iter()
                .map(move |leaf| (input.clone(), leaf))
        })
        .collect()
}

#[test]
fn the_descriptor_walk_sees_every_string_field() {
    let names: Vec<String> = every_leaf()
        .iter()
        .map(|(r, l)| format!("{r}.{}", l.name))
        .collect();
    for expected in [
        "AuthorizeRequest.customer.billing_address.postal_code",
        "AuthorizeRequest.metadata",
        "AuthorizeRequest.metadata[note]",
        "AuthorizeRequest.amount.currency",
        "RefundRequest.reason",
        "ListPaymentsRequest.merchant_reference",
        "GetPaymentRequest.payment_id",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not in {names:?}"
        );
    }
    // Each base request is valid, so a refusal below is the card number's doing.
    for request in [
        "AuthorizeRequest",
        "CaptureRequest",
        "VoidRequest",
        "RefundRequest",
        "GetPaymentRequest",
        "ListPaymentsRequest",
        "WatchEventsRequest",
    ] {
        convert(request, &[]).unwrap_or_else(|e| panic!("{request}: {e}"));
    }
}

/// A Luhn-valid number under a card prefix, written plain or in groups of 4.
fn pan_text() -> impl Strategy<Value = String> {
    (
        proptest::sample::select(vec!["4", "51", "37", "6011", "2221", "35"]),
        13usize..=19,
        proptest::collection::vec(0u8..10, 19),
        0u8..4,
        "[a-z ]{0,10}",
    )
        .prop_map(|(prefix, len, fill, style, words)| {
            let mut payload = prefix.to_owned();
            for d in fill.into_iter().take(len - 1 - prefix.len()) {
                payload.push(char::from(b'0' + d));
            }
            let pan = (0..=9u8)
                .map(|d| format!("{payload}{d}"))
                .find(|c| crate::domain::card_data::contains_card_number(c))
                .unwrap();
            let grouped = |sep: &str| {
                pan.as_bytes()
                    .chunks(4)
                    .map(|c| std::str::from_utf8(c).unwrap())
                    .collect::<Vec<_>>()
                    .join(sep)
            };
            match style {
                0 => pan.clone(),
                1 => grouped(" "),
                2 => grouped("-"),
                _ => format!("{words}: {pan}."),
            }
        })
}

proptest! {
    #[test]
    fn a_card_number_in_any_string_of_any_request_is_refused_naming_the_field(
        pick in any::<prop::sample::Index>(),
        text in pan_text(),
    ) {
        let leaves = every_leaf();
        let (request, leaf) = pick.get(&leaves);
        let err = convert(request, &set(leaf, &text)).expect_err("a card number must be refused");
        let AppError::Invalid(bad) = err else { panic!("{request}.{}: {err:?}", leaf.name) };
        prop_assert_eq!(bad.reason(), CARD_DATA_NOT_ALLOWED);
        let fields: Vec<&str> = bad.violations().iter().map(|v| v.field.as_str()).collect();
        prop_assert_eq!(fields, vec![leaf.name.as_str()], "{}", request);
        prop_assert!(!bad.to_string().contains(&text), "the error repeats the text: {}", bad);
    }
}
