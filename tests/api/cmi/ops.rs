//! Capture, void and refund through CMI's XML API, the refusals for the wrong timing, and a
//! PostAuth whose answer is lost.

use super::*;
use crate::emulators::cmi::{CARD_3DS_OK, CmiEmulator, Faults};
use tonic::Code;

async fn authorized_cmi(app: &TestApp, emu: &CmiEmulator, key: &str, minor: i64) -> pb::Payment {
    let mut client = app.client();
    let (p, form) = authorize(&mut client, cmi_req(key, minor, false)).await;
    assert_eq!(
        pay(emu, &form, CARD_3DS_OK).await.callback_reply,
        "APPROVED"
    );
    let p = get(&mut client, &p.id).await;
    assert_eq!(p.status(), pb::PaymentStatus::Authorized, "{p:?}");
    p
}

/// CMI takes one PostAuth per pre-authorization and releases the rest with it, so a partial
/// capture is final: the payment is CAPTURED for what was taken, and only that is refundable.
#[tokio::test]
async fn a_partial_capture_is_one_final_postauth_and_the_rest_is_released() {
    let (app, emu) = spawn().await;
    let mut client = app.client();
    let p = authorized_cmi(&app, &emu, "cap-1", 15_000).await;
    let p = client
        .capture(capture_req("cap-1-c", &p.id, mad(10_000)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.status(), pb::PaymentStatus::Captured, "{p:?}");
    assert_eq!(amount_of(p.captured.as_ref()).0, 10_000);
    let order = emu.order(&p.provider_reference).unwrap();
    assert_eq!((order.captured, order.postauths), (Some(10_000), 1));
    let again = client
        .capture(capture_req("cap-1-d", &p.id, mad(1_000)))
        .await;
    assert_error(again, Code::FailedPrecondition, "INVALID_STATE");
    assert_eq!(emu.order(&p.provider_reference).unwrap().postauths, 1);

    emu.settle_day();
    let too_much = client
        .refund(refund_req("cap-1-r", &p.id, mad(10_001)))
        .await;
    assert_error(
        too_much,
        Code::FailedPrecondition,
        "AMOUNT_EXCEEDS_REFUNDABLE",
    );
    let p = client
        .refund(refund_req("cap-1-s", &p.id, None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.status(), pb::PaymentStatus::Refunded, "{p:?}");
    assert_eq!(amount_of(p.refunded.as_ref()).0, 10_000);
}

#[tokio::test]
async fn a_void_before_settlement_voids_the_preauthorization() {
    let (app, emu) = spawn().await;
    let mut client = app.client();
    let p = authorized_cmi(&app, &emu, "void-1", 15_000).await;
    let p = client
        .void(void_req("void-1-v", &p.id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.status(), pb::PaymentStatus::Voided, "{p:?}");
    assert_eq!(emu.order(&p.provider_reference).unwrap().stat, "V");
}

#[tokio::test]
async fn a_capture_of_an_order_cmi_no_longer_holds_is_failed_precondition() {
    let (app, emu) = spawn().await;
    let mut client = app.client();
    let p = authorized_cmi(&app, &emu, "cap-2509", 15_000).await;
    // Voided in CMI's Merchant Center behind paygate's back.
    emu.state
        .lock()
        .unwrap()
        .orders
        .get_mut(&p.provider_reference)
        .unwrap()
        .stat = "V".into();
    let refused = client.capture(capture_req("cap-2509-c", &p.id, None)).await;
    let status = assert_error(refused, Code::FailedPrecondition, "INVALID_STATE");
    assert!(status.message().contains("pre-authorization"), "{status:?}");
    // CMI did nothing: the refused capture leaves no operation behind (the caller got the
    // error, and a retry with the same key may run once the state allows it).
    let now = get(&mut client, &p.id).await;
    assert_eq!(now.status(), pb::PaymentStatus::Authorized);
    assert_eq!(now.operations.len(), 1, "{:?}", now.operations);
    assert_eq!(now.operations[0].kind(), pb::OperationKind::Authorize);
}

#[tokio::test]
async fn a_refund_before_settlement_is_refused_and_the_same_key_works_after_it() {
    let (app, emu) = spawn().await;
    let mut client = app.client();
    let p = authorized_cmi(&app, &emu, "ref-1", 15_000).await;
    client
        .capture(capture_req("ref-1-c", &p.id, None))
        .await
        .unwrap();
    let early = client
        .refund(refund_req("ref-1-r", &p.id, mad(5_000)))
        .await;
    let status = assert_error(early, Code::FailedPrecondition, "INVALID_STATE");
    assert!(status.message().contains("settle"), "{status:?}");
    assert_eq!(
        get(&mut client, &p.id).await.status(),
        pb::PaymentStatus::Captured
    );
    assert!(emu.order(&p.provider_reference).unwrap().credits.is_empty());

    emu.settle_day();
    let p = client
        .refund(refund_req("ref-1-r", &p.id, mad(5_000)))
        .await
        .expect("the released key can be used again")
        .into_inner();
    assert_eq!(p.status(), pb::PaymentStatus::PartiallyRefunded, "{p:?}");
    let p = client
        .refund(refund_req("ref-1-s", &p.id, mad(3_000)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(amount_of(p.refunded.as_ref()).0, 8_000);
    let credits: Vec<i64> = emu
        .order(&p.provider_reference)
        .unwrap()
        .credits
        .iter()
        .map(|c| c.amount)
        .collect();
    assert_eq!(credits, [5_000, 3_000]);
    let too_much = client
        .refund(refund_req("ref-1-t", &p.id, mad(7_001)))
        .await;
    assert_error(
        too_much,
        Code::FailedPrecondition,
        "AMOUNT_EXCEEDS_REFUNDABLE",
    );
}

#[tokio::test]
async fn a_void_after_cmi_settled_a_sale_is_refused_with_refund_instead() {
    let (app, emu) = spawn().await;
    let mut client = app.client();
    let p = authorized_cmi(&app, &emu, "void-late", 15_000).await;
    // Captured and settled at CMI (e.g. from the Merchant Center), unknown to paygate.
    {
        let mut state = emu.state.lock().unwrap();
        let order = state.orders.get_mut(&p.provider_reference).unwrap();
        order.stat = "S".into();
        order.captured = Some(15_000);
        order.settled = true;
    }
    let refused = client.void(void_req("void-late-v", &p.id)).await;
    let status = assert_error(refused, Code::FailedPrecondition, "INVALID_STATE");
    assert!(status.message().contains("refund"), "{status:?}");
}

#[tokio::test]
async fn a_postauth_whose_answer_is_lost_is_settled_from_orderstatus_and_sent_once() {
    let emu = CmiEmulator::spawn().await;
    let app = TestApp::spawn_with_cmi(&emu, |s| {
        s.server.provider_timeout = Duration::from_millis(400);
    })
    .await;
    let mut client = app.client();
    let p = authorized_cmi(&app, &emu, "lost-1", 15_000).await;
    emu.set_faults(Faults {
        api_answer_delay_ms: Some(1_500),
        ..Default::default()
    });
    let p = client
        .capture(capture_req("lost-1-c", &p.id, None))
        .await
        .expect("a lost answer is not an error")
        .into_inner();
    assert_eq!(p.status(), pb::PaymentStatus::Captured, "{p:?}");
    // A retry with the same key replays; CMI saw exactly one PostAuth.
    let again = client
        .capture(capture_req("lost-1-c", &p.id, None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.status(), pb::PaymentStatus::Captured);
    let order = emu.order(&p.provider_reference).unwrap();
    assert_eq!((order.postauths, order.captured), (1, Some(15_000)));
    // Settled by asking, not by resending.
    let requests = emu.state.lock().unwrap().requests.clone();
    assert_eq!(requests, ["PostAuth", "ORDERSTATUS"]);
}

#[tokio::test]
async fn a_credit_whose_answer_is_lost_is_settled_from_orderhistory_and_sent_once() {
    let emu = CmiEmulator::spawn().await;
    let app = TestApp::spawn_with_cmi(&emu, |s| {
        s.server.provider_timeout = Duration::from_millis(400);
    })
    .await;
    let mut client = app.client();
    let p = authorized_cmi(&app, &emu, "lostref-1", 15_000).await;
    client
        .capture(capture_req("lostref-1-c", &p.id, None))
        .await
        .unwrap();
    emu.settle_day();
    client
        .refund(refund_req("lostref-1-r", &p.id, mad(4_000)))
        .await
        .unwrap();
    emu.set_faults(Faults {
        api_answer_delay_ms: Some(1_500),
        ..Default::default()
    });
    let p = client
        .refund(refund_req("lostref-1-s", &p.id, mad(2_500)))
        .await
        .expect("a lost answer is not an error")
        .into_inner();
    assert_eq!(p.status(), pb::PaymentStatus::PartiallyRefunded, "{p:?}");
    assert_eq!(amount_of(p.refunded.as_ref()).0, 6_500);
    let credits: Vec<i64> = emu
        .order(&p.provider_reference)
        .unwrap()
        .credits
        .iter()
        .map(|c| c.amount)
        .collect();
    assert_eq!(credits, [4_000, 2_500], "one Credit per refund");
    let requests = emu.state.lock().unwrap().requests.clone();
    assert_eq!(requests.last().map(String::as_str), Some("ORDERHISTORY"));
}
