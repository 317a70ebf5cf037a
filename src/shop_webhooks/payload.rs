//! The body of a webhook to a shop: `{"type", "sequence", "occurred_at", "data": {"payment"}}`.
//!
//! `data.payment` is the payment exactly as the HTTP API returns it (the proto3 JSON mapping of
//! `paygate.v1.Payment`, from the same pbjson code), so a shop parses one shape whether it asked
//! or was told. The envelope is paygate's own: `sequence` is a JSON number (the event log's
//! gap-free order, for dropping a stale delivery) and `occurred_at` an RFC 3339 UTC time, as
//! the API prints timestamps.
//! The body is rendered once, when the delivery is created, and stored: every retry and every
//! redelivery sends the same bytes under the same `webhook-id`.

use crate::grpc::proto as pb;
use serde::Serialize;

#[derive(Serialize)]
struct Envelope {
    r#type: String,
    sequence: u64,
    occurred_at: Option<pbjson_types::Timestamp>,
    data: Data,
}

#[derive(Serialize)]
struct Data {
    payment: Option<pb::Payment>,
}

/// The webhook body for `event` (the server converts its `StoredEvent` with
/// `grpc::convert::event`; `paygate listen` has the event from `WatchEvents`), as UTF-8 JSON.
pub fn body(event: pb::PaymentEvent) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&Envelope {
        r#type: event.r#type,
        sequence: event.sequence,
        occurred_at: event.occurred_at,
        data: Data {
            payment: event.payment,
        },
    })
}

/// The `webhook-id` of the delivery of event `sequence` to endpoint `endpoint`: the same for
/// every attempt and redelivery of that pair, different for each endpoint, so a receiver's
/// replay check (keyed by this id) drops exactly the repeats.
pub fn webhook_id(endpoint: &str, sequence: i64) -> String {
    format!("msg_{endpoint}_{sequence}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn payment_is_the_http_api_json() {
        let payment = pb::Payment {
            id: "pay_1".into(),
            merchant_reference: "order-7".into(),
            ..Default::default()
        };
        let event = pb::PaymentEvent {
            sequence: 42,
            r#type: "payment.captured".into(),
            payment: Some(payment.clone()),
            occurred_at: Some(pbjson_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
        };
        let v: serde_json::Value = serde_json::from_slice(&body(event).unwrap()).unwrap();
        assert_eq!(v["type"], "payment.captured");
        assert_eq!(v["sequence"], 42);
        assert!(
            v["occurred_at"]
                .as_str()
                .unwrap()
                .starts_with("2023-11-14T22:13:20")
        );
        assert_eq!(
            v["data"]["payment"],
            serde_json::to_value(&payment).unwrap()
        );
        assert_eq!(v["data"]["payment"]["merchantReference"], "order-7");
    }

    #[test]
    fn ids_differ_per_endpoint_and_event() {
        assert_eq!(webhook_id("we_1", 7), "msg_we_1_7");
        assert_ne!(webhook_id("we_1", 7), webhook_id("we_2", 7));
        assert_ne!(webhook_id("we_1", 7), webhook_id("we_1", 8));
    }
}
