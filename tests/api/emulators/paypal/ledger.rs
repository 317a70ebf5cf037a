//! The emulator's own books: orders, authorizations, captures, refunds, tokens and the
//! `PayPal-Request-Id` replay table, with PayPal's rules and error issues (specs/paypal.md §3–§5).

use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone)]
pub struct Order {
    pub id: String,
    pub intent: String,
    pub currency: String,
    pub cents: i64,
    pub custom_id: String,
    pub status: &'static str,
    pub authorization: Option<String>,
    pub capture: Option<String>,
    /// Where the approval page sends the buyer (`experience_context`).
    pub return_url: String,
    pub cancel_url: String,
}

#[derive(Debug, Clone)]
pub struct Authorization {
    pub id: String,
    pub order_id: String,
    pub currency: String,
    pub cents: i64,
    pub captured: i64,
    pub status: &'static str,
    pub closed: bool,
}

#[derive(Debug, Clone)]
pub struct Capture {
    pub id: String,
    /// `authorizations/{id}` or `orders/{id}`: what the `up` link names.
    pub up: String,
    pub order_id: String,
    pub currency: String,
    pub cents: i64,
    pub refunded: i64,
    pub status: &'static str,
}

#[derive(Debug, Clone)]
pub struct Refund {
    pub id: String,
    pub capture_id: String,
    pub currency: String,
    pub cents: i64,
    pub note_to_payer: Option<String>,
}

/// What a `PayPal-Request-Id` was first used for: endpoint, resource and body.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestUse {
    pub op: String,
    pub resource: String,
    pub body: Value,
}

/// What the API answers: a status and a JSON body.
pub type Answer = (u16, Value);

#[derive(Default)]
pub struct Ledger {
    pub orders: HashMap<String, Order>,
    pub authorizations: HashMap<String, Authorization>,
    pub captures: HashMap<String, Capture>,
    pub refunds: HashMap<String, Refund>,
    pub tokens: HashSet<String>,
    pub token_fetches: u64,
    /// Requests received per operation (`get_order`, `authorize_order`, ...), whatever the answer.
    pub calls: HashMap<String, u64>,
    /// Request id → what it was first used for and its answer, replayed with 200 for the same
    /// use only.
    pub replays: HashMap<String, (RequestUse, Value)>,
    /// Every PayPal-Request-Id seen per operation, in order, replays included.
    pub request_ids: Vec<(String, String)>,
    /// Request ids sent again for another use (refused with `PAYPAL_REQUEST_ID_PREVIOUSLY_USED`):
    /// the id and both uses.
    pub request_id_conflicts: Vec<(String, String)>,
    next: u64,
}

pub fn error(status: u16, name: &str, issue: &str) -> Answer {
    let body = json!({
        "name": name, "message": "emulated", "debug_id": "emu",
        "details": [{"issue": issue, "description": format!("emulated {issue}")}]
    });
    (status, body)
}

pub fn unprocessable(issue: &str) -> Answer {
    error(422, "UNPROCESSABLE_ENTITY", issue)
}

pub fn cents(value: &str) -> Option<i64> {
    let d = Decimal::from_str_exact(value).ok()?;
    if d.scale() > 2 {
        return None;
    }
    (d * Decimal::from(100))
        .normalize()
        .to_string()
        .parse()
        .ok()
}

pub fn value(cents: i64) -> String {
    Decimal::new(cents, 2).to_string()
}

fn amount(currency: &str, cents: i64) -> Value {
    json!({"currency_code": currency, "value": value(cents)})
}

impl Ledger {
    pub fn id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{:014}", self.next)
    }

    pub fn order_json(&self, base: &str, o: &Order) -> Value {
        let mut payments = json!({});
        if let Some(a) = o
            .authorization
            .as_ref()
            .and_then(|id| self.authorizations.get(id))
        {
            payments["authorizations"] = json!([self.auth_json(base, a)]);
        }
        if let Some(c) = o.capture.as_ref().and_then(|id| self.captures.get(id)) {
            payments["captures"] = json!([self.capture_json(base, c)]);
        }
        json!({
            "id": o.id, "intent": o.intent, "status": o.status,
            "purchase_units": [{"reference_id": "default", "amount": amount(&o.currency, o.cents),
                "custom_id": o.custom_id, "payments": payments}],
            "links": [
                {"href": format!("{base}/v2/checkout/orders/{}", o.id), "rel": "self", "method": "GET"},
                {"href": format!("{base}/checkoutnow?token={}", o.id), "rel": "payer-action", "method": "GET"}
            ]
        })
    }

    pub fn auth_json(&self, base: &str, a: &Authorization) -> Value {
        json!({
            "id": a.id, "status": a.status, "amount": amount(&a.currency, a.cents),
            "expiration_time": "2099-01-01T00:00:00Z",
            "supplementary_data": {"related_ids": {"order_id": a.order_id}},
            "links": [{"href": format!("{base}/v2/checkout/orders/{}", a.order_id), "rel": "up", "method": "GET"}]
        })
    }

    pub fn capture_json(&self, base: &str, c: &Capture) -> Value {
        json!({
            "id": c.id, "status": c.status, "amount": amount(&c.currency, c.cents),
            "final_capture": true,
            "supplementary_data": {"related_ids": {"order_id": c.order_id}},
            "links": [{"href": format!("{base}/v2/{}", c.up), "rel": "up", "method": "GET"}]
        })
    }

    pub fn refund_json(&self, base: &str, r: &Refund) -> Value {
        let mut json = json!({
            "id": r.id, "status": "COMPLETED", "amount": amount(&r.currency, r.cents),
            "links": [{"href": format!("{base}/v2/payments/captures/{}", r.capture_id), "rel": "up", "method": "GET"}]
        });
        if let Some(note) = &r.note_to_payer {
            json["note_to_payer"] = json!(note);
        }
        json
    }

    /// The buyer approves on the (emulated) approval page.
    pub fn approve(&mut self, order_id: &str) -> bool {
        match self.orders.get_mut(order_id) {
            Some(o) if o.status == "PAYER_ACTION_REQUIRED" => {
                o.status = "APPROVED";
                true
            }
            _ => false,
        }
    }

    /// PayPal voids an order nobody approved in time (the order expired).
    pub fn expire(&mut self, order_id: &str) -> bool {
        match self.orders.get_mut(order_id) {
            Some(o) if o.status == "PAYER_ACTION_REQUIRED" => {
                o.status = "VOIDED";
                true
            }
            _ => false,
        }
    }

    pub fn authorize_order(&mut self, base: &str, order_id: &str) -> Answer {
        let Some(o) = self.orders.get(order_id).cloned() else {
            return error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID");
        };
        if o.authorization.is_some() {
            return unprocessable("ORDER_ALREADY_AUTHORIZED");
        }
        if o.status != "APPROVED" {
            return unprocessable("ORDER_NOT_APPROVED");
        }
        let id = self.id("AUTH");
        let a = Authorization {
            id: id.clone(),
            order_id: o.id.clone(),
            currency: o.currency.clone(),
            cents: o.cents,
            captured: 0,
            status: "CREATED",
            closed: false,
        };
        self.authorizations.insert(id.clone(), a);
        if let Some(order) = self.orders.get_mut(order_id) {
            order.authorization = Some(id);
            order.status = "COMPLETED";
        }
        let body = self.order_json(base, &self.orders[order_id]);
        (201, body)
    }

    pub fn capture_order(&mut self, base: &str, order_id: &str) -> Answer {
        let Some(o) = self.orders.get(order_id).cloned() else {
            return error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID");
        };
        if o.capture.is_some() {
            return unprocessable("ORDER_ALREADY_CAPTURED");
        }
        if o.status != "APPROVED" {
            return unprocessable("ORDER_NOT_APPROVED");
        }
        let id = self.id("CAP");
        let c = Capture {
            id: id.clone(),
            up: format!("checkout/orders/{}", o.id),
            order_id: o.id.clone(),
            currency: o.currency.clone(),
            cents: o.cents,
            refunded: 0,
            status: "COMPLETED",
        };
        self.captures.insert(id.clone(), c);
        if let Some(order) = self.orders.get_mut(order_id) {
            order.capture = Some(id);
            order.status = "COMPLETED";
        }
        let body = self.order_json(base, &self.orders[order_id]);
        (201, body)
    }

    pub fn capture_authorization(&mut self, base: &str, auth_id: &str, body: &Value) -> Answer {
        let Some(a) = self.authorizations.get(auth_id).cloned() else {
            return error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID");
        };
        if a.status == "VOIDED" {
            return unprocessable("AUTHORIZATION_VOIDED");
        }
        if a.closed {
            return unprocessable("AUTHORIZATION_ALREADY_CAPTURED");
        }
        let want = match body.pointer("/amount/value").and_then(Value::as_str) {
            Some(v) => match cents(v) {
                Some(c) => c,
                None => return unprocessable("DECIMAL_PRECISION"),
            },
            None => a.cents - a.captured,
        };
        if body
            .pointer("/amount/currency_code")
            .and_then(Value::as_str)
            .is_some_and(|c| c != a.currency)
        {
            return unprocessable("AUTH_CAPTURE_CURRENCY_MISMATCH");
        }
        if a.captured + want > a.cents {
            return unprocessable("MAX_CAPTURE_AMOUNT_EXCEEDED");
        }
        let id = self.id("CAP");
        let c = Capture {
            id: id.clone(),
            up: format!("payments/authorizations/{auth_id}"),
            order_id: a.order_id.clone(),
            currency: a.currency.clone(),
            cents: want,
            refunded: 0,
            status: "COMPLETED",
        };
        self.captures.insert(id.clone(), c);
        let final_capture = body
            .get("final_capture")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if let Some(auth) = self.authorizations.get_mut(auth_id) {
            auth.captured += want;
            auth.closed = final_capture || auth.captured >= auth.cents;
            auth.status = if auth.closed {
                "CAPTURED"
            } else {
                "PARTIALLY_CAPTURED"
            };
        }
        (201, self.capture_json(base, &self.captures[&id]))
    }

    pub fn void(&mut self, base: &str, auth_id: &str) -> Answer {
        let Some(a) = self.authorizations.get_mut(auth_id) else {
            return error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID");
        };
        match a.status {
            "VOIDED" => return unprocessable("PREVIOUSLY_VOIDED"),
            "CAPTURED" | "PARTIALLY_CAPTURED" => return unprocessable("PREVIOUSLY_CAPTURED"),
            _ => a.status = "VOIDED",
        }
        let a = a.clone();
        (200, self.auth_json(base, &a))
    }

    pub fn refund(&mut self, base: &str, capture_id: &str, body: &Value) -> Answer {
        let Some(c) = self.captures.get(capture_id).cloned() else {
            return error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID");
        };
        let want = match body.pointer("/amount/value").and_then(Value::as_str) {
            Some(v) => match cents(v) {
                Some(x) => x,
                None => return unprocessable("DECIMAL_PRECISION"),
            },
            None => c.cents - c.refunded,
        };
        if c.refunded >= c.cents {
            return unprocessable("CAPTURE_FULLY_REFUNDED");
        }
        if c.refunded + want > c.cents {
            return unprocessable("REFUND_AMOUNT_EXCEEDED");
        }
        let note_to_payer = match body.get("note_to_payer").and_then(Value::as_str) {
            Some(note) if note.chars().count() > 255 => {
                return error(400, "INVALID_REQUEST", "INVALID_STRING_LENGTH");
            }
            note => note.map(str::to_owned),
        };
        let id = self.id("REF");
        let r = Refund {
            id: id.clone(),
            capture_id: capture_id.to_owned(),
            currency: c.currency.clone(),
            cents: want,
            note_to_payer,
        };
        self.refunds.insert(id.clone(), r);
        if let Some(cap) = self.captures.get_mut(capture_id) {
            cap.refunded += want;
            cap.status = if cap.refunded >= cap.cents {
                "REFUNDED"
            } else {
                "PARTIALLY_REFUNDED"
            };
        }
        (201, self.refund_json(base, &self.refunds[&id]))
    }

    /// PayPal takes `cents` of a capture back on its own (a chargeback): the capture's refunded
    /// total grows as for a refund, and the `PAYMENT.CAPTURE.REVERSED` resource is returned.
    pub fn reverse(&mut self, base: &str, capture_id: &str, cents: i64) -> Value {
        let (status, mut resource) = self.refund(
            base,
            capture_id,
            &json!({"amount": {"currency_code": self.captures[capture_id].currency, "value": value(cents)}}),
        );
        assert_eq!(status, 201, "reversal of {capture_id}: {resource}");
        resource["note_to_payer"] = json!("Payment reversed");
        resource
    }

    /// What PayPal has given back on all captures so far (refunds and reversals), in cents.
    pub fn refunded_total(&self) -> i64 {
        self.captures.values().map(|c| c.refunded).sum()
    }
}
