//! Public pages cannot be turned against a provider or against other merchants: a buyer
//! looping on a return page costs a bounded number of provider calls and cannot fail the
//! payment, and one merchant's provider trouble opens only that merchant's circuit breaker.

use crate::emulators::paypal::{Emulator, Fault};
use crate::helpers::*;
use crate::paypal::{get, paypal_req, requires_action};
use paygate::config::ClientSettings;
use paygate::domain::MerchantId;
use paygate::grpc::proto as pb;
use std::time::Duration;
use tokio::time::Instant;

/// How long a return page's provider lookup stands (src/service/return_lookups.rs).
const FRESH_FOR: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_looping_on_a_paypal_return_page_makes_a_bounded_number_of_paypal_calls() {
    let emu = Emulator::spawn().await;
    let app = TestApp::spawn_paypal(&emu).await;
    let (p, order) = requires_action(&app, "pp-loop", 1_000, pb::CaptureMode::Manual).await;
    assert_eq!(emu.order_calls(), 0);

    // 1,000 reloads, 20 at a time, half on the success URL and half on the cancel URL, by a
    // buyer who never approved at PayPal.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..20 {
        let outcome = if worker % 2 == 0 { "ok" } else { "cancel" };
        let url = format!(
            "{}/return/paypal/shop/{}/{outcome}?token={order}&PayerID=EMUPAYER",
            app.http_base(),
            p.id
        );
        let browser = browser.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..50 {
                let status = browser.get(&url).send().await.unwrap().status().as_u16();
                assert_eq!(status, 200, "every reload still gets its status page");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();

    // Per outcome, one lookup per freshness window at most (one PayPal request each: the
    // completion attempt for `ok`, the order read for `cancel`).
    let windows = u64::try_from(elapsed.as_millis() / FRESH_FOR.as_millis()).unwrap() + 1;
    let calls = emu.order_calls();
    eprintln!("1,000 PayPal return reloads in {elapsed:?}: {calls} PayPal order requests");
    assert!(
        (2..=2 * windows).contains(&calls),
        "{calls} PayPal order requests for 1,000 reloads in {elapsed:?} (at most {})",
        2 * windows
    );
    let p = get(&app, &p.id).await;
    assert_eq!(
        p.status(),
        pb::PaymentStatus::RequiresAction,
        "a cancel URL is the browser's word, not PayPal's: {p:?}"
    );
    assert!(emu.ledger().authorizations.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_signed_cmi_return_post_asks_cmi_a_bounded_number_of_times() {
    use crate::emulators::cmi::{CARD_3DS_OK, CmiEmulator, Faults};
    let emu = CmiEmulator::spawn().await;
    let app = TestApp::spawn_with_cmi(&emu, |_| {}).await;
    // The callback is late and CMI's status queries are overloaded (503): the payment stays
    // open, so every replay of the genuine post would ask ORDERSTATUS again.
    emu.set_faults(Faults {
        hold_callback: true,
        queries_unavailable: true,
        ..Default::default()
    });
    let mut client = app.client();
    let (p, form) =
        crate::cmi::authorize(&mut client, crate::cmi::cmi_req("cmi-loop", 15_000, false)).await;
    let page = crate::cmi::pay(&emu, &form, CARD_3DS_OK).await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (browser, url, fields) = (
            browser.clone(),
            page.return_url.clone(),
            page.return_fields.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for _ in 0..20 {
                let r = browser.post(&url).form(&fields).send().await.unwrap();
                assert_eq!(r.status().as_u16(), 303);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    // One lookup per freshness window, each at most `max_attempts` (3) ORDERSTATUS requests.
    let windows = u64::try_from(elapsed.as_millis() / FRESH_FOR.as_millis()).unwrap() + 1;
    let asked = emu.state.lock().unwrap().queries_refused;
    eprintln!("200 replayed CMI return posts in {elapsed:?}: {asked} ORDERSTATUS requests");
    assert!(
        (1..=3 * windows).contains(&asked),
        "{asked} ORDERSTATUS requests for 200 replays in {elapsed:?} (at most {})",
        3 * windows
    );
    let p = client
        .get_payment(get_req(&p.id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.status(), pb::PaymentStatus::RequiresAction, "{p:?}");
}

/// A PayPal merchant with its own API key, on its own emulator (its own PayPal account).
fn merchant(id: &str, key: &str, emu: &Emulator) -> paygate::config::MerchantSettings {
    let mut m = paypal_merchant(emu);
    m.id = MerchantId::parse(id).unwrap();
    m.clients = vec![ClientSettings {
        name: format!("{id}-checkout"),
        api_key_sha256: sha256(key),
    }];
    m
}

#[tokio::test]
async fn one_merchants_provider_failures_open_only_that_merchants_breaker() {
    const KEY_A: &str = "shop-a-checkout-key-0001";
    const KEY_B: &str = "shop-b-checkout-key-0002";
    let (emu_a, emu_b) = (Emulator::spawn().await, Emulator::spawn().await);
    let (a, b) = (
        merchant("shop-a", KEY_A, &emu_a),
        merchant("shop-b", KEY_B, &emu_b),
    );
    let app = TestApp::spawn_with(|s| {
        s.server.require_auth = true;
        s.merchants = vec![a, b];
        s.provider_calls.breaker_min_calls = 4;
        s.provider_calls.breaker_failure_percent = 50;
        s.provider_calls.breaker_window = Duration::from_secs(30);
        s.provider_calls.breaker_open_for = Duration::from_secs(60);
    })
    .await;
    // Merchant A's PayPal account is throttled: every order creation answers 429.
    for _ in 0..30 {
        emu_a.fail_next("create_order", Fault::RateLimit);
    }
    let mut client = app.client();
    // Until A's breaker opens: then A's calls are refused without reaching PayPal.
    let mut refused_by_breaker = false;
    for i in 0..6 {
        let sent_before = emu_a.calls("create_order");
        let req = authed(
            paypal_req(&format!("a-{i}"), 1_000, pb::CaptureMode::Manual),
            KEY_A,
        );
        let status = client.authorize(req).await.unwrap_err();
        assert_eq!(reason(&status), "PROVIDER_UNAVAILABLE", "{status:?}");
        if emu_a.calls("create_order") == sent_before {
            refused_by_breaker = true;
            break;
        }
    }
    assert!(refused_by_breaker, "merchant A's breaker never opened");
    let created_at_a = emu_a.calls("create_order");

    // Merchant B, same provider, other account: unaffected.
    for i in 0..3 {
        let req = authed(
            paypal_req(&format!("b-{i}"), 1_000, pb::CaptureMode::Manual),
            KEY_B,
        );
        let p = client.authorize(req).await.unwrap().into_inner();
        assert_eq!(p.status(), pb::PaymentStatus::RequiresAction, "{p:?}");
    }
    assert_eq!(emu_b.ledger().orders.len(), 3);
    // A is still refused without a call to PayPal.
    let req = authed(paypal_req("a-late", 1_000, pb::CaptureMode::Manual), KEY_A);
    assert_error(
        client.authorize(req).await,
        tonic::Code::Unavailable,
        "PROVIDER_UNAVAILABLE",
    );
    assert_eq!(emu_a.calls("create_order"), created_at_a);

    let metrics = app.metrics().await;
    let open = |m: &str| {
        metric_value(
            &metrics,
            &format!("paygate_provider_circuit_open{{provider=\"paypal\",merchant=\"{m}\"}}"),
        )
    };
    assert_eq!(open("shop-a"), 1.0, "{metrics}");
    assert_eq!(open("shop-b"), 0.0, "{metrics}");
    assert!(
        metrics
            .contains("paygate_provider_circuit_open{provider=\"paypal\",merchant=\"shop-b\"} 0"),
        "every merchant's breaker is exported from the start:\n{metrics}"
    );
}
