//! Public pages cannot be turned against a provider: a buyer looping on a return page costs a
//! bounded number of provider calls and cannot fail the payment.

use crate::emulators::paypal::Emulator;
use crate::helpers::*;
use crate::paypal::{get, requires_action};
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
