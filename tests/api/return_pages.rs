//! The customer's way back: the mock processor's hosted page sends the browser to paygate's
//! return page, which settles from the processor's word (never the browser's) and redirects to
//! the shop's `return_url` / `cancel_url` with the payment id.

use crate::helpers::*;
use paygate::grpc::proto as pb;
use paygate::providers::mock::server::{ProcessorState, serve};
use tokio::net::TcpListener;

const SHOP_OK: &str = "https://shop.example.ma/thanks?order=42";
const SHOP_CANCEL: &str = "https://shop.example.ma/cart";

/// A client that shows redirects instead of following them, as a test of where they point.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// paygate on an external mock processor that has no signing secret, so it sends no webhooks:
/// whatever settles a payment here is paygate asking the processor.
async fn spawn_without_webhooks() -> (TestApp, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, ProcessorState::new(), async move {
        let _ = stopped.await;
    }));
    let app = TestApp::spawn_with(|s| {
        for m in &mut s.merchants {
            if let Some(mock) = &mut m.providers.mock {
                mock.base_url = Some(reqwest::Url::parse(&format!("http://{addr}/")).unwrap());
            }
        }
    })
    .await;
    (app, stop)
}

async fn redirect_payment(client: &mut Client, key: &str) -> (pb::Payment, String) {
    let mut req = authorize_req(key, 25_000, "MAD", "mock_redirect");
    req.return_url = SHOP_OK.into();
    req.cancel_url = SHOP_CANCEL.into();
    let p = client.authorize(req).await.unwrap().into_inner();
    assert_eq!(p.status(), pb::PaymentStatus::RequiresAction);
    let url = match p.next_action.as_ref().and_then(|n| n.action.as_ref()) {
        Some(pb::next_action::Action::Redirect(r)) => r.url.clone(),
        other => panic!("expected a redirect, got {other:?}"),
    };
    (p, url)
}

/// Follows one redirect by hand; returns the status and the `Location` header.
async fn hop(method: reqwest::Method, url: &str) -> (u16, String) {
    let resp = browser().request(method, url).send().await.unwrap();
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (resp.status().as_u16(), location)
}

async fn status_of(client: &mut Client, id: &str) -> pb::PaymentStatus {
    client
        .get_payment(get_req(id))
        .await
        .unwrap()
        .into_inner()
        .status()
}

#[tokio::test]
async fn approving_sends_the_customer_back_through_paygate_to_the_shop_with_the_payment_settled() {
    let (app, _processor) = spawn_without_webhooks().await;
    let mut client = app.client();
    let (p, url) = redirect_payment(&mut client, "ret-ok").await;

    let (code, back) = hop(reqwest::Method::POST, &format!("{url}/approve")).await;
    assert_eq!(code, 303, "the processor sends the customer back");
    let expected = format!("{}/return/mock/default/{}/ok", app.http_base(), p.id);
    assert_eq!(back, expected);

    let (code, shop) = hop(reqwest::Method::GET, &back).await;
    assert_eq!(code, 303);
    assert_eq!(shop, format!("{SHOP_OK}&payment_id={}", p.id));
    // No webhook can arrive from this processor: the return page asked it.
    assert_eq!(
        status_of(&mut client, &p.id).await,
        pb::PaymentStatus::Authorized
    );
}

#[tokio::test]
async fn declining_lands_on_the_cancel_page_and_a_forged_ok_changes_nothing() {
    let (app, _processor) = spawn_without_webhooks().await;
    let mut client = app.client();
    let (p, url) = redirect_payment(&mut client, "ret-decline").await;

    let (code, back) = hop(reqwest::Method::POST, &format!("{url}/decline")).await;
    assert_eq!(code, 303);
    assert!(back.ends_with(&format!("/{}/fail", p.id)), "{back}");
    let (_, shop) = hop(reqwest::Method::GET, &back).await;
    assert_eq!(shop, format!("{SHOP_CANCEL}?payment_id={}", p.id));
    assert_eq!(
        status_of(&mut client, &p.id).await,
        pb::PaymentStatus::Declined
    );

    // The customer edits the URL to say "ok": paygate's state decides the page.
    let forged = back.replace("/fail", "/ok");
    let (code, shop) = hop(reqwest::Method::GET, &forged).await;
    assert_eq!(code, 303);
    assert_eq!(shop, format!("{SHOP_CANCEL}?payment_id={}", p.id));
    assert_eq!(
        status_of(&mut client, &p.id).await,
        pb::PaymentStatus::Declined
    );
}

#[tokio::test]
async fn an_ok_return_before_the_customer_acted_settles_nothing() {
    let (app, _processor) = spawn_without_webhooks().await;
    let mut client = app.client();
    let (p, _url) = redirect_payment(&mut client, "ret-early").await;
    let early = format!("{}/return/mock/default/{}/ok", app.http_base(), p.id);
    let (code, shop) = hop(reqwest::Method::GET, &early).await;
    assert_eq!(code, 303);
    assert_eq!(shop, format!("{SHOP_OK}&payment_id={}", p.id));
    assert_eq!(
        status_of(&mut client, &p.id).await,
        pb::PaymentStatus::RequiresAction
    );
}

#[tokio::test]
async fn unknown_payments_merchants_providers_and_outcomes_get_404() {
    let (app, _processor) = spawn_without_webhooks().await;
    let mut client = app.client();
    let (p, _) = redirect_payment(&mut client, "ret-404").await;
    let base = app.http_base();
    for path in [
        format!(
            "/return/mock/default/{}/ok",
            paygate::domain::PaymentId::new()
        ),
        format!("/return/mock/other-shop/{}/ok", p.id),
        format!("/return/cmi/default/{}/ok", p.id),
        format!("/return/mock/default/{}/approved", p.id),
        "/return/mock/default/not-a-uuid/ok".to_string(),
    ] {
        let (code, _) = hop(reqwest::Method::GET, &format!("{base}{path}")).await;
        assert_eq!(code, 404, "{path}");
    }
}

#[tokio::test]
async fn without_a_return_url_the_customer_sees_a_status_page_in_their_language() {
    let (app, _processor) = spawn_without_webhooks().await;
    let mut client = app.client();
    let mut req = authorize_req("ret-plain", 125_000, "MAD", "mock_redirect");
    req.merchant_reference = "CMD-2026-0042".into();
    let p = client.authorize(req).await.unwrap().into_inner();
    let url = format!("{}/return/mock/default/{}/ok", app.http_base(), p.id);
    let cases = [
        (
            None,
            "lang=\"fr\" dir=\"ltr\"",
            "1\u{202f}250,00\u{a0}MAD",
            "Paiement en cours",
        ),
        (
            Some("ar-MA,ar;q=0.9"),
            "lang=\"ar\" dir=\"rtl\"",
            "1.250,00\u{a0}MAD",
            "الدفع قيد التحقق",
        ),
        (
            Some("en-GB,en;q=0.9,fr;q=0.8"),
            "lang=\"en\" dir=\"ltr\"",
            "1,250.00\u{a0}MAD",
            "Payment being checked",
        ),
    ];
    for (accept, html_tag, amount, heading) in cases {
        let mut get = browser().get(&url);
        if let Some(accept) = accept {
            get = get.header("accept-language", accept);
        }
        let resp = get.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let headers = resp.headers().clone();
        assert_eq!(
            headers["content-security-policy"],
            "default-src 'none'; style-src 'unsafe-inline'"
        );
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["cache-control"], "no-store");
        let body = resp.text().await.unwrap();
        for want in [html_tag, amount, heading, "CMD-2026-0042"] {
            assert!(body.contains(want), "{accept:?} wants {want:?}: {body}");
        }
        // The shop's reference is the customer's; paygate's and the provider's ids are not.
        assert!(!body.contains(&p.id), "{body}");
        assert!(
            !body.contains("requires_action") && !body.contains("mp_"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_wrong_outcome_for_an_existing_payment_is_a_404_page_that_does_not_deny_the_payment() {
    let (app, _processor) = spawn_without_webhooks().await;
    let mut client = app.client();
    let (p, _) = redirect_payment(&mut client, "ret-bad-outcome").await;
    let url = format!("{}/return/mock/default/{}/approved", app.http_base(), p.id);
    let resp = browser()
        .get(&url)
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    assert_eq!(resp.headers()["x-frame-options"], "DENY");
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("Page not found") && body.contains("This link is not valid"),
        "{body}"
    );
    assert!(!body.to_lowercase().contains("unknown payment"), "{body}");
}

#[tokio::test]
async fn the_shop_name_and_link_come_from_the_merchant_config_escaped() {
    let (app, _processor) = spawn_with_storefront(
        "Café <Atlas> & Fils",
        "https://atlas.example.ma/boutique?from=pay&x=\"1\"",
    )
    .await;
    let mut client = app.client();
    let p = client
        .authorize(authorize_req("ret-shop", 5_000, "MAD", "mock_redirect"))
        .await
        .unwrap()
        .into_inner();
    let url = format!(
        "{}/return/mock/default/{}/ok?lang=fr",
        app.http_base(),
        p.id
    );
    let body = browser()
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("Café &lt;Atlas&gt; &amp; Fils"), "{body}");
    assert!(!body.contains("<Atlas>"), "{body}");
    assert!(
        body.contains("href=\"https://atlas.example.ma/boutique?from=pay&amp;x=%221%22\""),
        "{body}"
    );
    assert!(
        body.contains("Retour à la boutique") && body.contains("50,00\u{a0}MAD"),
        "{body}"
    );
}

/// [`spawn_without_webhooks`], with merchant `default` named `name`, linking back to `url`.
async fn spawn_with_storefront(
    name: &str,
    url: &str,
) -> (TestApp, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, ProcessorState::new(), async move {
        let _ = stopped.await;
    }));
    let app = TestApp::spawn_with(|s| {
        for m in &mut s.merchants {
            m.storefront.display_name = Some(name.to_owned());
            m.storefront.shop_url = Some(reqwest::Url::parse(url).unwrap());
            if let Some(mock) = &mut m.providers.mock {
                mock.base_url = Some(reqwest::Url::parse(&format!("http://{addr}/")).unwrap());
            }
        }
    })
    .await;
    (app, stop)
}
