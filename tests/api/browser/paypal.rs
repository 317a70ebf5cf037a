//! PayPal in a browser: the emulator's approval page (the order's `payer-action` link), then
//! paygate's return page, which asks PayPal and shows the status page (no `return_url`).

use super::{Browser, Shop, assert_no_internal_ids, shots};
use crate::emulators::paypal::Emulator;
use crate::helpers::*;
use crate::paypal::requires_action;
use paygate::grpc::proto as pb;

async fn spawn(shop: &Shop) -> (TestApp, Emulator) {
    let emu = Emulator::spawn().await;
    let mut merchant = paypal_merchant(&emu);
    merchant.storefront.display_name = Some("Atlas Shop".into());
    merchant.storefront.shop_url = Some(reqwest::Url::parse(&format!("{}/", shop.base)).unwrap());
    let app = TestApp::spawn_with(|s| s.merchants = vec![merchant]).await;
    (app, emu)
}

fn approval_url(p: &pb::Payment) -> String {
    match p.next_action.as_ref().and_then(|n| n.action.as_ref()) {
        Some(pb::next_action::Action::Redirect(r)) => r.url.clone(),
        other => panic!("expected a redirect, got {other:?}"),
    }
}

#[tokio::test]
async fn approving_on_paypal_shows_accepted_and_cancelling_shows_not_completed() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let dir = shots("paypal");
    let shop = Shop::spawn().await;
    let (app, _emu) = spawn(&shop).await;

    let (p, order) = requires_action(&app, "pp-approve", 4_990, pb::CaptureMode::Manual).await;
    let page = browser.page("en-US,en;q=0.9").await;
    page.goto(&approval_url(&p)).await;
    page.screenshot(&dir.join("1-paypal-approval.png")).await;
    page.click_and_wait("#approve").await;
    assert!(
        page.url()
            .await
            .contains(&format!("/return/paypal/shop/{}/ok", p.id))
    );
    page.screenshot(&dir.join("2-en-status-page.png")).await;
    assert_eq!(page.lang_dir().await, ("en".to_owned(), "ltr".to_owned()));
    let text = page.text().await;
    for expected in [
        "Atlas Shop",
        "Payment accepted",
        "49.90\u{a0}EUR",
        "Back to the shop",
    ] {
        assert!(text.contains(expected), "wants {expected:?} in\n{text}");
    }
    assert_no_internal_ids(&text, &[&p.id, &order]);
    let status = crate::paypal::get(&app, &p.id).await.status();
    assert_eq!(status, pb::PaymentStatus::Authorized);

    let (p, order) = requires_action(&app, "pp-cancel", 4_990, pb::CaptureMode::Manual).await;
    let page = browser.page("fr").await;
    page.goto(&approval_url(&p)).await;
    page.click_and_wait("#cancel").await;
    assert!(
        page.url()
            .await
            .contains(&format!("/return/paypal/shop/{}/cancel", p.id))
    );
    page.screenshot(&dir.join("3-fr-status-after-cancel.png"))
        .await;
    let text = page.text().await;
    let status = crate::paypal::get(&app, &p.id).await.status();
    assert_ne!(status, pb::PaymentStatus::Authorized);
    assert!(
        text.contains("49,90\u{a0}EUR") && !text.contains("Paiement accepté"),
        "{text}"
    );
    assert_no_internal_ids(&text, &[&p.id, &order]);
    println!("after a cancel on PayPal: {status:?}\n{text}");
}
