//! Authorize through CMI's hosted page: the form paygate hands the shop, then each card outcome
//! arriving through the signed callback, as GetPayment and WatchEvents show it.

use super::*;
use crate::emulators::cmi::{
    CARD_3DS_OK, CARD_NO_FUNDS, CARD_NOT_AUTHENTICATED, CARD_NOT_ENROLLED, CLIENT_ID, STORE_KEY,
    ver3,
};

#[tokio::test]
async fn the_form_carries_every_spec_field_signed_with_the_store_key() {
    let (app, _emu) = spawn().await;
    let mut client = app.client();
    let (p, form) = authorize(&mut client, cmi_req("form-1", 15_000, false)).await;
    assert!(form.url.ends_with("/fim/est3Dgate"), "{}", form.url);
    let f = &form.fields;
    let base = app.http_base();
    let expect = [
        ("clientid", CLIENT_ID.to_owned()),
        ("storetype", "3D_PAY_HOSTING".into()),
        ("TranType", "PreAuth".into()),
        ("amount", "150.00".into()),
        ("currency", "504".into()),
        ("okUrl", format!("{base}/return/cmi/default/{}/ok", p.id)),
        (
            "failUrl",
            format!("{base}/return/cmi/default/{}/fail", p.id),
        ),
        ("callbackUrl", format!("{base}/webhooks/cmi/default")),
        ("shopurl", "https://shop.example/cancel".into()),
        ("lang", "fr".into()),
        ("hashAlgorithm", "ver3".into()),
        ("encoding", "UTF-8".into()),
        ("BillToName", "Amina Benali".into()),
        ("email", "amina@example.ma".into()),
        ("tel", "0600000000".into()),
    ];
    for (name, value) in expect {
        assert_eq!(f.get(name), Some(&value), "field {name}");
    }
    assert_eq!(
        f.get("oid"),
        Some(&p.provider_reference),
        "oid is the provider reference"
    );
    assert!(f["rnd"].len() >= 16);
    let fields: Vec<(String, String)> = f.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(
        f["HASH"],
        ver3(&fields, STORE_KEY),
        "HASH covers every field"
    );

    // A new attempt gets a new oid.
    let (p2, form2) = authorize(&mut client, cmi_req("form-2", 15_000, false)).await;
    assert_ne!(p2.provider_reference, p.provider_reference);
    assert_ne!(form2.fields["oid"], form.fields["oid"]);
}

#[tokio::test]
async fn an_approved_card_authorizes_the_payment_through_the_callback() {
    let (app, emu) = spawn().await;
    let mut client = app.client();
    let mut events = client
        .watch_events(pb::WatchEventsRequest { after_sequence: 0 })
        .await
        .unwrap()
        .into_inner();
    let (p, form) = authorize(&mut client, cmi_req("ok-1", 15_000, false)).await;
    let page = pay(&emu, &form, CARD_3DS_OK).await;
    assert_eq!(page.result, "approved");
    assert_eq!(page.callback_reply, "APPROVED");
    let p = get(&mut client, &p.id).await;
    assert_eq!(p.status(), pb::PaymentStatus::Authorized, "{p:?}");
    assert_eq!(
        take_events(&mut events, 2).await,
        ["payment.requires_action", "payment.authorized"]
    );
    let order = emu.order(&p.provider_reference).unwrap();
    assert_eq!((order.stat.as_str(), order.amount), ("A", 15_000));
    let metrics = app.metrics().await;
    assert_eq!(
        metric_value(
            &metrics,
            "paygate_webhooks_total{provider=\"cmi\",result=\"applied\"}"
        ),
        1.0
    );
}

#[tokio::test]
async fn automatic_capture_is_a_sale_and_lands_captured() {
    let (app, emu) = spawn().await;
    let mut client = app.client();
    let (p, form) = authorize(&mut client, cmi_req("auto-1", 9_990, true)).await;
    assert_eq!(form.fields["TranType"], "Auth");
    let page = pay(&emu, &form, CARD_3DS_OK).await;
    assert_eq!(page.callback_reply, "APPROVED");
    let p = get(&mut client, &p.id).await;
    assert_eq!(p.status(), pb::PaymentStatus::Captured, "{p:?}");
    assert_eq!(
        emu.order(&p.provider_reference).unwrap().captured,
        Some(9_990)
    );
}

async fn declined_with(pan: &str, code: &str, provider_code: &str) {
    let (app, emu) = spawn().await;
    let mut client = app.client();
    let mut events = client
        .watch_events(pb::WatchEventsRequest { after_sequence: 0 })
        .await
        .unwrap()
        .into_inner();
    let (p, form) = authorize(&mut client, cmi_req("no-1", 15_000, false)).await;
    let page = pay(&emu, &form, pan).await;
    assert_eq!(page.result, "declined");
    // A refusal is acknowledged: CMI's page may let the customer try again.
    assert_eq!(page.callback_reply, "APPROVED");
    let p = get(&mut client, &p.id).await;
    assert_eq!(p.status(), pb::PaymentStatus::Declined, "{p:?}");
    let failure = p.failure.unwrap();
    assert_eq!(failure.code, code);
    assert_eq!(failure.provider_code, provider_code);
    assert_eq!(
        take_events(&mut events, 2).await,
        ["payment.requires_action", "payment.declined"]
    );
}

#[tokio::test]
async fn insufficient_funds_declines_with_the_normalized_code_and_cmis_own() {
    declined_with(CARD_NO_FUNDS, "insufficient_funds", "51").await;
}

#[tokio::test]
async fn a_card_failing_3ds_authentication_is_declined_authentication_failed() {
    declined_with(CARD_NOT_AUTHENTICATED, "authentication_failed", "").await;
}

#[tokio::test]
async fn a_card_not_enrolled_is_declined_not_allowed() {
    declined_with(CARD_NOT_ENROLLED, "transaction_not_allowed", "57").await;
}

#[tokio::test]
async fn utf8_customer_names_are_sent_as_ascii_and_utf8_callbacks_verify() {
    let (app, emu) = spawn().await;
    let mut client = app.client();
    let mut req = cmi_req("utf8-1", 1_205, false);
    req.customer = Some(pb::Customer {
        name: "Hélène Çelik-Goëmans".into(),
        email: "helene@example.ma".into(),
        phone: String::new(),
        billing_address: Some(pb::Address {
            line1: "12, rue de l'Église".into(),
            city: "Fès".into(),
            country: "MA".into(),
            ..Default::default()
        }),
    });
    let (p, form) = authorize(&mut client, req).await;
    assert_eq!(form.fields["BillToName"], "Helene Celik-Goemans");
    assert_eq!(form.fields["BillToCity"], "Fes");
    assert_eq!(form.fields["BillToCountry"], "504");
    assert!(!form.fields.contains_key("tel"));
    let mut req = cmi_req("utf8-2", 1_205, false);
    req.customer.as_mut().unwrap().name = "محمد العلوي".into();
    let (_, arabic) = authorize(&mut client, req).await;
    assert_eq!(arabic.fields["BillToName"], "Client");
    // The emulator's callback carries UTF-8 (an Arabic issuer name) in a hashed field.
    let page = pay(&emu, &form, CARD_3DS_OK).await;
    assert_eq!(page.callback_reply, "APPROVED");
    assert_eq!(
        get(&mut client, &p.id).await.status(),
        pb::PaymentStatus::Authorized
    );
}

#[tokio::test]
async fn postauth_mode_answers_action_postauth_and_the_capture_is_confirmed_from_orderstatus() {
    let emu = crate::emulators::cmi::CmiEmulator::spawn().await;
    let app = TestApp::spawn_with_cmi(&emu, |s| {
        s.server.provider_timeout = Duration::from_millis(200);
        for m in &mut s.merchants {
            if let Some(cmi) = &mut m.providers.cmi {
                cmi.callback_reply = paygate::config::CmiCallbackReply::PostauthWhenAutomatic;
            }
        }
    })
    .await;
    let mut client = app.client();
    let mut events = client
        .watch_events(pb::WatchEventsRequest { after_sequence: 0 })
        .await
        .unwrap()
        .into_inner();
    let (p, form) = authorize(&mut client, cmi_req("postauth-1", 15_000, true)).await;
    assert_eq!(form.fields["TranType"], "PreAuth");
    let page = pay(&emu, &form, CARD_3DS_OK).await;
    assert_eq!(page.callback_reply, "ACTION=POSTAUTH");
    let order = emu.order(&p.provider_reference).unwrap();
    assert_eq!((order.postauths, order.captured), (1, Some(15_000)));
    // Authorized at once; captured only once CMI's ORDERSTATUS confirms it.
    assert_eq!(
        take_events(&mut events, 3).await,
        [
            "payment.requires_action",
            "payment.authorized",
            "payment.captured"
        ]
    );
    let p = get(&mut client, &p.id).await;
    assert_eq!(p.status(), pb::PaymentStatus::Captured, "{p:?}");
    assert_eq!(amount_of(p.captured.as_ref()).0, 15_000);
    let kinds: Vec<_> = p
        .operations
        .iter()
        .map(|o| (o.kind(), o.status()))
        .collect();
    assert_eq!(
        kinds,
        [
            (pb::OperationKind::Authorize, pb::OperationStatus::Succeeded),
            (pb::OperationKind::Capture, pb::OperationStatus::Succeeded)
        ]
    );
}
