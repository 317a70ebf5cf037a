//! CMI end to end: paygate against the CMI emulator (hosted page, signed callback, XML API),
//! plus the operator tools as a black box.

mod callbacks;
mod flows;
mod ops;
mod refund_reconcile;
mod tools;

use crate::emulators::cmi::CmiEmulator;
use crate::helpers::*;
use futures::StreamExt as _;
use paygate::grpc::proto as pb;
use std::time::Duration;

pub use crate::emulators::cmi::gate::PageResult;

/// A paygate with CMI on merchant `default`, and the emulator it talks to.
pub async fn spawn() -> (TestApp, CmiEmulator) {
    let emu = CmiEmulator::spawn().await;
    let app = TestApp::spawn_with_cmi(&emu, |_| {}).await;
    (app, emu)
}

pub fn cmi_req(key: &str, minor: i64, automatic: bool) -> pb::AuthorizeRequest {
    pb::AuthorizeRequest {
        idempotency_key: key.to_owned(),
        provider: "cmi".to_owned(),
        amount: mad(minor),
        merchant_reference: format!("order-{key}"),
        capture_mode: if automatic {
            pb::CaptureMode::Automatic
        } else {
            pb::CaptureMode::Manual
        } as i32,
        customer: Some(pb::Customer {
            name: "Amina Benali".into(),
            email: "amina@example.ma".into(),
            phone: "0600000000".into(),
            billing_address: None,
        }),
        return_url: "https://shop.example/return".into(),
        cancel_url: "https://shop.example/cancel".into(),
        locale: "fr-MA".into(),
        ..Default::default()
    }
}

/// Authorizes through CMI: REQUIRES_ACTION with a form to post.
pub async fn authorize(
    client: &mut Client,
    req: pb::AuthorizeRequest,
) -> (pb::Payment, pb::FormPost) {
    let p = client.authorize(req).await.expect("Authorize").into_inner();
    assert_eq!(p.status(), pb::PaymentStatus::RequiresAction, "{p:?}");
    let form = match p.next_action.as_ref().and_then(|n| n.action.clone()) {
        Some(pb::next_action::Action::FormPost(f)) => f,
        other => panic!("expected a form_post, got {other:?}"),
    };
    (p, form)
}

/// Plays the browser: posts the form to CMI's page and pays with `pan`.
pub async fn pay(emu: &CmiEmulator, form: &pb::FormPost, pan: &str) -> PageResult {
    emu.http
        .post(format!("{}?pan={pan}", form.url))
        .form(&form.fields)
        .send()
        .await
        .expect("posting the form")
        .json()
        .await
        .expect("page result")
}

pub async fn get(client: &mut Client, id: &str) -> pb::Payment {
    client
        .get_payment(get_req(id))
        .await
        .expect("GetPayment")
        .into_inner()
}

/// Posts `fields` as CMI's callback would; returns the HTTP status and the body.
pub async fn post_callback(app: &TestApp, fields: &[(String, String)]) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("{}/webhooks/cmi/default", app.http_base()))
        .form(fields)
        .send()
        .await
        .expect("callback");
    (r.status().as_u16(), r.text().await.expect("body"))
}

/// The `type` of the next `n` WatchEvents events.
pub async fn take_events(events: &mut tonic::Streaming<pb::PaymentEvent>, n: usize) -> Vec<String> {
    let mut got = Vec::new();
    while got.len() < n {
        let next = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("event did not arrive within 10 s")
            .expect("stream ended")
            .expect("stream error");
        got.push(next.r#type);
    }
    got
}

/// `fields` re-signed with the store key after a change (a genuine new callback).
pub fn resign(fields: &[(String, String)]) -> Vec<(String, String)> {
    let mut out: Vec<_> = fields
        .iter()
        .filter(|(n, _)| n != "HASH")
        .cloned()
        .collect();
    let hash = crate::emulators::cmi::ver3(&out, crate::emulators::cmi::STORE_KEY);
    out.push(("HASH".into(), hash));
    out
}

/// Fields of a callback as a list, with `name` set to `value` (added if absent).
pub fn with(fields: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut out = fields.to_vec();
    match out.iter_mut().find(|(n, _)| n == name) {
        Some(f) => f.1 = value.to_owned(),
        None => out.push((name.to_owned(), value.to_owned())),
    }
    out
}
