//! Verified PayPal webhook bodies in paygate's terms (§7): which event, which PayPal ids it
//! names (to find the payment), and the amount it reports.

use super::convert;
use super::wire::{Amount, Event};
use crate::domain::MerchantId;
use crate::providers::webhook::{MalformedWebhook, VerifiedWebhook};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    OrderApproved,
    ApprovalReversed,
    AuthorizationCreated,
    AuthorizationVoided,
    CaptureCompleted,
    CapturePending,
    /// `PAYMENT.CAPTURE.DECLINED` and the older `PAYMENT.CAPTURE.DENIED`.
    CaptureDeclined,
    CaptureRefunded,
    CaptureReversed,
    /// Anything else: answered 2xx and counted `ignored`.
    Other,
}

impl EventKind {
    fn parse(event_type: &str) -> Self {
        match event_type {
            "CHECKOUT.ORDER.APPROVED" => Self::OrderApproved,
            "CHECKOUT.PAYMENT-APPROVAL.REVERSED" => Self::ApprovalReversed,
            "PAYMENT.AUTHORIZATION.CREATED" => Self::AuthorizationCreated,
            "PAYMENT.AUTHORIZATION.VOIDED" => Self::AuthorizationVoided,
            "PAYMENT.CAPTURE.COMPLETED" => Self::CaptureCompleted,
            "PAYMENT.CAPTURE.PENDING" => Self::CapturePending,
            "PAYMENT.CAPTURE.DECLINED" | "PAYMENT.CAPTURE.DENIED" => Self::CaptureDeclined,
            "PAYMENT.CAPTURE.REFUNDED" => Self::CaptureRefunded,
            "PAYMENT.CAPTURE.REVERSED" => Self::CaptureReversed,
            _ => Self::Other,
        }
    }
}

/// An event, decoded from verified bytes.
#[derive(Debug, Clone)]
pub struct PaypalEvent {
    pub id: String,
    pub event_type: String,
    pub kind: EventKind,
    /// `resource.id`: the order, authorization, capture or refund id.
    pub resource_id: Option<String>,
    /// Parent ids, in the spec's resolution order: related ids, then the `up` link.
    pub parents: Vec<String>,
    /// `custom_id`: paygate's payment id, the last-resort link.
    pub custom_id: Option<String>,
    pub amount: Option<Amount>,
}

/// A PayPal event whose signature checked out. Only `providers::paypal` builds one.
#[derive(Debug, Clone)]
pub struct VerifiedPaypalEvent {
    verified: VerifiedWebhook,
    event: PaypalEvent,
}

impl VerifiedPaypalEvent {
    pub fn webhook(&self) -> &VerifiedWebhook {
        &self.verified
    }
    pub fn event(&self) -> &PaypalEvent {
        &self.event
    }
}

/// Parent ids kept per event. PayPal names three related ids and an `up` link at most; each
/// parent costs two indexed lookups, so a body with thousands of links must not cost
/// thousands of queries.
pub(super) const MAX_PARENTS: usize = 8;

/// Decodes the verified `body`; `Err` is a 400 (signed, but not an event).
pub(super) fn parse(
    merchant: &MerchantId,
    body: bytes::Bytes,
) -> Result<VerifiedPaypalEvent, MalformedWebhook> {
    let envelope: Event =
        serde_json::from_slice(&body).map_err(|e| MalformedWebhook(e.to_string()))?;
    if envelope.id.is_empty() || envelope.event_type.is_empty() {
        return Err(MalformedWebhook("event without id or event_type".into()));
    }
    let r = &envelope.resource;
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    let mut parents: Vec<String> = Vec::new();
    let mut add_parent = |id: &str| {
        if parents.len() < MAX_PARENTS && !parents.iter().any(|p| p == id) {
            parents.push(id.to_owned());
        }
    };
    if let Some(related) = r.pointer("/supplementary_data/related_ids") {
        for key in ["authorization_id", "capture_id", "order_id"] {
            if let Some(id) = related.get(key).and_then(|v| v.as_str()) {
                add_parent(id);
            }
        }
    }
    if let Some(id) = r.get("order_id").and_then(|v| v.as_str()) {
        add_parent(id);
    }
    if let Some(links) = r.get("links").and_then(|l| l.as_array()) {
        for link in links {
            if link.get("rel").and_then(|v| v.as_str()) == Some("up")
                && let Some(id) = link
                    .get("href")
                    .and_then(|v| v.as_str())
                    .and_then(convert::id_from_link)
            {
                add_parent(id);
            }
        }
    }
    let custom_id = r
        .get("custom_id")
        .and_then(text)
        .or_else(|| r.pointer("/purchase_units/0/custom_id").and_then(text));
    let amount = r
        .get("amount")
        .or_else(|| r.pointer("/purchase_units/0/amount"))
        .and_then(|a| serde_json::from_value::<Amount>(a.clone()).ok());
    let event = PaypalEvent {
        kind: EventKind::parse(&envelope.event_type),
        resource_id: r.get("id").and_then(text),
        id: envelope.id,
        event_type: envelope.event_type,
        parents,
        custom_id,
        amount,
    };
    let verified = VerifiedWebhook::new(
        crate::domain::ProviderKind::Paypal,
        merchant.clone(),
        event.id.clone(),
        body,
    );
    Ok(VerifiedPaypalEvent { verified, event })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample(name: &str) -> PaypalEvent {
        let path = format!(
            "{}/tests/fixtures/paypal_events/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let body = std::fs::read(path).unwrap();
        parse(&MerchantId::parse("m").unwrap(), body.into())
            .unwrap()
            .event
    }

    #[test]
    fn sample_events_name_their_parents() {
        let declined = sample("PAYMENT.CAPTURE.DECLINED.simulator.raw.json");
        assert_eq!(declined.kind, EventKind::CaptureDeclined);
        assert!(declined.parents.len() >= 2, "{declined:?}");
        let refunded = sample("PAYMENT.CAPTURE.REFUNDED.simulator.raw.json");
        assert_eq!(refunded.kind, EventKind::CaptureRefunded);
        assert!(
            !refunded.parents.is_empty(),
            "the capture comes from the up link"
        );
        let reversed = sample("PAYMENT.CAPTURE.REVERSED.simulator.raw.json");
        assert_eq!(reversed.kind, EventKind::CaptureReversed);
        assert!(!reversed.parents.is_empty());
        let voided = sample("PAYMENT.AUTHORIZATION.VOIDED.sample.json");
        assert_eq!(voided.kind, EventKind::AuthorizationVoided);
        assert!(
            !voided.parents.is_empty(),
            "no supplementary_data: the up link names the order"
        );
        let approved = sample("CHECKOUT.ORDER.APPROVED.sandbox_2023.json");
        assert_eq!(approved.kind, EventKind::OrderApproved);
        assert!(approved.resource_id.is_some() && approved.amount.is_some());
        let completed = sample("PAYMENT.CAPTURE.COMPLETED.simulator.raw.json");
        assert_eq!(completed.kind, EventKind::CaptureCompleted);
        assert!(completed.amount.is_some());
    }

    #[test]
    fn events_without_id_or_type_are_malformed() {
        let m = MerchantId::parse("m").unwrap();
        assert!(parse(&m, bytes::Bytes::from_static(b"{\"event_type\":\"X\"}")).is_err());
        assert!(parse(&m, bytes::Bytes::from_static(b"not json")).is_err());
        let other = parse(
            &m,
            bytes::Bytes::from_static(
                b"{\"id\":\"WH-1\",\"event_type\":\"CUSTOMER.DISPUTE.CREATED\"}",
            ),
        )
        .unwrap();
        assert_eq!(other.event.kind, EventKind::Other);
    }
}
