//! CMI's callback under attack and disorder: forged posts change nothing, repeats are
//! idempotent, failures before a success do not stop it, nothing downgrades a success; and the
//! browser's return post is checked but never believed.

use super::*;
use crate::emulators::cmi::{CARD_3DS_OK, CARD_NO_FUNDS, Faults};

/// Pays with the callback held back, so the test can deliver (or forge) it.
async fn held(
    app: &TestApp,
    emu: &crate::emulators::cmi::CmiEmulator,
    key: &str,
    pan: &str,
) -> (pb::Payment, Vec<(String, String)>) {
    emu.set_faults(Faults {
        hold_callback: true,
        ..Default::default()
    });
    let (p, form) = authorize(&mut app.client(), cmi_req(key, 15_000, false)).await;
    pay(emu, &form, pan).await;
    emu.set_faults(Faults::default());
    let fields = emu.state.lock().unwrap().callbacks[&p.provider_reference].clone();
    (p, fields)
}

#[tokio::test]
async fn forged_callbacks_get_failure_and_change_nothing() {
    let (app, emu) = spawn().await;
    let mut client = app.client();
    let (p, genuine) = held(&app, &emu, "forge-1", CARD_3DS_OK).await;
    let without_hash: Vec<_> = genuine
        .iter()
        .filter(|(n, _)| n != "HASH")
        .cloned()
        .collect();
    let forgeries = [
        ("tampered amount", with(&genuine, "amount", "1.00")),
        (
            "tampered ProcReturnCode",
            with(
                &with(&genuine, "ProcReturnCode", "51"),
                "Response",
                "Declined",
            ),
        ),
        (
            "field added after signing",
            with(&genuine, "ACTION", "POSTAUTH"),
        ),
        ("missing HASH", without_hash.clone()),
        ("HASH of another key", {
            let mut f = without_hash.clone();
            f.push((
                "HASH".into(),
                crate::emulators::cmi::ver3(&without_hash, "wrong-key"),
            ));
            f
        }),
    ];
    for (what, fields) in &forgeries {
        let (status, body) = post_callback(&app, fields).await;
        assert_eq!(body, "FAILURE", "{what}");
        assert_eq!(status, 401, "{what}");
        let now = get(&mut client, &p.id).await;
        assert_eq!(now.status(), pb::PaymentStatus::RequiresAction, "{what}");
    }
    let metrics = app.metrics().await;
    assert_eq!(
        metric_value(
            &metrics,
            "paygate_webhooks_total{provider=\"cmi\",result=\"rejected_signature\"}"
        ),
        forgeries.len() as f64
    );
    // The genuine one still works afterwards.
    assert_eq!(
        post_callback(&app, &genuine).await,
        (200, "APPROVED".into())
    );
    assert_eq!(
        get(&mut client, &p.id).await.status(),
        pb::PaymentStatus::Authorized
    );
}

#[tokio::test]
async fn a_callback_signed_with_a_wrong_store_key_is_failure() {
    let (app, emu) = spawn().await;
    emu.set_faults(Faults {
        callback_key: Some("not-the-store-key".into()),
        ..Default::default()
    });
    let mut client = app.client();
    let (p, form) = authorize(&mut client, cmi_req("wrongkey-1", 15_000, false)).await;
    let page = pay(&emu, &form, CARD_3DS_OK).await;
    assert_eq!(page.callback_reply, "FAILURE");
    assert_eq!(
        get(&mut client, &p.id).await.status(),
        pb::PaymentStatus::RequiresAction
    );
}

#[tokio::test]
async fn validly_signed_callbacks_that_do_not_match_the_ledger_are_failure() {
    let (app, emu) = spawn().await;
    let mut client = app.client();
    let (p, genuine) = held(&app, &emu, "mismatch-1", CARD_3DS_OK).await;
    for (what, fields) in [
        ("other amount", resign(&with(&genuine, "amount", "149.99"))),
        ("other currency", resign(&with(&genuine, "currency", "978"))),
        (
            "other clientid",
            resign(&with(&genuine, "clientid", "600000999")),
        ),
        (
            "unknown oid",
            resign(&with(
                &genuine,
                "oid",
                "pg-00000000000000000000000000000000",
            )),
        ),
    ] {
        let (_, body) = post_callback(&app, &fields).await;
        assert_eq!(body, "FAILURE", "{what}");
        assert_eq!(
            get(&mut client, &p.id).await.status(),
            pb::PaymentStatus::RequiresAction,
            "{what}"
        );
    }
}

#[tokio::test]
async fn a_duplicated_callback_is_applied_once_and_answered_the_same() {
    let (app, emu) = spawn().await;
    emu.set_faults(Faults {
        duplicate_callback: true,
        ..Default::default()
    });
    let mut client = app.client();
    let mut events = client
        .watch_events(pb::WatchEventsRequest { after_sequence: 0 })
        .await
        .unwrap()
        .into_inner();
    let (p, form) = authorize(&mut client, cmi_req("dup-1", 15_000, false)).await;
    pay(&emu, &form, CARD_3DS_OK).await;
    assert_eq!(emu.replies(), ["APPROVED", "APPROVED"]);
    assert_eq!(
        get(&mut client, &p.id).await.status(),
        pb::PaymentStatus::Authorized
    );
    assert_eq!(
        take_events(&mut events, 2).await,
        ["payment.requires_action", "payment.authorized"]
    );
    let more = tokio::time::timeout(Duration::from_millis(300), events.next()).await;
    assert!(more.is_err(), "no second event: {more:?}");
    let metrics = app.metrics().await;
    assert_eq!(
        metric_value(
            &metrics,
            "paygate_webhooks_total{provider=\"cmi\",result=\"duplicate\"}"
        ),
        1.0
    );
}

#[tokio::test]
async fn failed_attempts_then_a_success_on_the_same_oid_authorize_and_stay_authorized() {
    let (app, emu) = spawn().await;
    let mut client = app.client();
    let mut events = client
        .watch_events(pb::WatchEventsRequest { after_sequence: 0 })
        .await
        .unwrap()
        .into_inner();
    let (p, form) = authorize(&mut client, cmi_req("retry-1", 15_000, false)).await;
    pay(&emu, &form, CARD_NO_FUNDS).await;
    let failed = emu.state.lock().unwrap().callbacks[&p.provider_reference].clone();
    pay(&emu, &form, "4111111111111111").await; // a second refusal (invalid card)
    assert_eq!(
        get(&mut client, &p.id).await.status(),
        pb::PaymentStatus::Declined
    );
    // The customer tries again on CMI's page, with a good card this time.
    let page = pay(&emu, &form, CARD_3DS_OK).await;
    assert_eq!(page.callback_reply, "APPROVED");
    let now = get(&mut client, &p.id).await;
    assert_eq!(now.status(), pb::PaymentStatus::Authorized, "{now:?}");
    assert!(now.failure.is_none());
    assert_eq!(
        take_events(&mut events, 3).await,
        [
            "payment.requires_action",
            "payment.declined",
            "payment.authorized"
        ]
    );
    // A late copy of the first refusal, and a new refusal after the success: no downgrade.
    assert_eq!(post_callback(&app, &failed).await.1, "APPROVED");
    let late_new = resign(&with(&failed, "TransId", "26331LATE000001"));
    assert_eq!(post_callback(&app, &late_new).await.1, "APPROVED");
    assert_eq!(
        get(&mut client, &p.id).await.status(),
        pb::PaymentStatus::Authorized
    );
}

#[tokio::test]
async fn the_return_post_is_verified_and_settled_from_orderstatus_when_the_callback_is_late() {
    let (app, emu) = spawn().await;
    let mut client = app.client();
    emu.set_faults(Faults {
        hold_callback: true,
        ..Default::default()
    });
    let (p, form) = authorize(&mut client, cmi_req("return-1", 15_000, false)).await;
    let page = pay(&emu, &form, CARD_3DS_OK).await;
    assert!(page.return_url.ends_with("/ok"));
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // A forged "approved" post: redirected, but nothing settled from it.
    let forged = with(&page.return_fields, "amount", "1.00");
    browser
        .post(&page.return_url)
        .form(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(
        get(&mut client, &p.id).await.status(),
        pb::PaymentStatus::RequiresAction
    );
    // The genuine post: verified, then CMI's ORDERSTATUS settles it.
    let r = browser
        .post(&page.return_url)
        .form(&page.return_fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("https://shop.example/return?payment_id="),
        "{location}"
    );
    assert_eq!(
        get(&mut client, &p.id).await.status(),
        pb::PaymentStatus::Authorized
    );
    // The late callback afterwards is answered and changes nothing.
    assert_eq!(emu.resend_callback(&p.provider_reference).await, "APPROVED");
    assert_eq!(
        get(&mut client, &p.id).await.status(),
        pb::PaymentStatus::Authorized
    );
}

#[tokio::test]
async fn a_lost_callback_is_settled_by_the_reconciler_and_an_unpaid_form_is_left_waiting() {
    let emu = crate::emulators::cmi::CmiEmulator::spawn().await;
    let app = TestApp::spawn_with_cmi(&emu, |s| {
        s.server.provider_timeout = Duration::from_millis(200);
    })
    .await;
    let mut client = app.client();
    emu.set_faults(Faults {
        hold_callback: true,
        ..Default::default()
    });
    let (paid, form) = authorize(&mut client, cmi_req("lostcb-1", 15_000, false)).await;
    let (unpaid, _) = authorize(&mut client, cmi_req("lostcb-2", 15_000, false)).await;
    pay(&emu, &form, CARD_3DS_OK).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let now = get(&mut client, &paid.id).await;
        if now.status() == pb::PaymentStatus::Authorized {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not reconciled: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The reconciler asked about the unpaid one too, and CMI knew nothing: still waiting for
    // the customer, not failed.
    assert!(emu.state.lock().unwrap().requests.len() >= 2);
    let unpaid = get(&mut client, &unpaid.id).await;
    assert_eq!(
        unpaid.status(),
        pb::PaymentStatus::RequiresAction,
        "{unpaid:?}"
    );
}

#[tokio::test]
async fn a_callback_repeating_a_field_name_is_refused_as_malformed() {
    let (app, emu) = spawn().await;
    let mut client = app.client();
    let (p, genuine) = held(&app, &emu, "twice-1", CARD_3DS_OK).await;
    let mut fields = genuine.clone();
    fields.push(("OID".into(), p.provider_reference.clone()));
    let (status, body) = post_callback(&app, &fields).await;
    assert_eq!((status, body.as_str()), (400, "FAILURE"));
    assert_eq!(
        get(&mut client, &p.id).await.status(),
        pb::PaymentStatus::RequiresAction
    );
    let metrics = app.metrics().await;
    assert_eq!(
        metric_value(
            &metrics,
            "paygate_webhooks_total{provider=\"cmi\",result=\"rejected_malformed\"}"
        ),
        1.0
    );
}

#[tokio::test]
async fn the_reply_is_the_bare_keyword_in_text_plain_even_for_unknown_merchants() {
    let (app, _emu) = spawn().await;
    let http = reqwest::Client::new();
    for (merchant, status) in [("default", 401), ("no-such-shop", 404)] {
        let r = http
            .post(format!("{}/webhooks/cmi/{merchant}", app.http_base()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("oid=x&HASH=y")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{merchant}");
        assert_eq!(r.headers()["content-type"], "text/plain", "{merchant}");
        assert_eq!(r.text().await.unwrap(), "FAILURE", "{merchant}");
    }
}
