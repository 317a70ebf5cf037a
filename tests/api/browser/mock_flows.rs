//! The mock processor's redirect in a browser: its card-check page, then paygate's status page
//! (no `return_url`) in French, Arabic and English, or the shop's own pages.

use super::{Browser, Shop, assert_no_internal_ids, shots};
use crate::helpers::*;
use paygate::grpc::proto as pb;

async fn spawn(shop: &Shop) -> TestApp {
    let home = format!("{}/", shop.base);
    TestApp::spawn_with(|s| {
        for m in &mut s.merchants {
            m.storefront.display_name = Some("Atlas Shop".into());
            m.storefront.shop_url = Some(reqwest::Url::parse(&home).unwrap());
        }
    })
    .await
}

/// A `mock_redirect` payment of `minor` MAD; its id and the processor page's URL.
async fn checkout(
    app: &TestApp,
    key: &str,
    minor: i64,
    shop_urls: Option<(&str, &str)>,
) -> (String, String) {
    let mut req = authorize_req(key, minor, "MAD", "mock_redirect");
    req.merchant_reference = "CMD-2026-0042".into();
    if let Some((ok, cancel)) = shop_urls {
        req.return_url = ok.into();
        req.cancel_url = cancel.into();
    }
    let p = app.client().authorize(req).await.unwrap().into_inner();
    assert_eq!(p.status(), pb::PaymentStatus::RequiresAction);
    let url = match p.next_action.and_then(|n| n.action) {
        Some(pb::next_action::Action::Redirect(r)) => r.url,
        other => panic!("expected a redirect, got {other:?}"),
    };
    (p.id, url)
}

/// What the customer must read on paygate's status page, per language.
struct Expect {
    accept_language: &'static str,
    approve: bool,
    lang: &'static str,
    dir: &'static str,
    amount: &'static str,
    heading: &'static str,
    back: &'static str,
}

#[tokio::test]
async fn without_a_return_url_the_customer_reads_the_outcome_in_french_arabic_or_english() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let dir = shots("mock_status_pages");
    let shop = Shop::spawn().await;
    let app = spawn(&shop).await;
    let cases = [
        Expect {
            accept_language: "fr-MA,fr;q=0.9,ar;q=0.8",
            approve: true,
            lang: "fr",
            dir: "ltr",
            amount: "1\u{202f}250,00\u{a0}MAD",
            heading: "Paiement accepté",
            back: "Retour à la boutique",
        },
        Expect {
            accept_language: "ar-MA,ar;q=0.9,fr;q=0.8",
            approve: false,
            lang: "ar",
            dir: "rtl",
            amount: "1.250,00\u{a0}MAD",
            heading: "تم رفض الدفع",
            back: "العودة إلى المتجر",
        },
        Expect {
            accept_language: "en-GB,en;q=0.9",
            approve: true,
            lang: "en",
            dir: "ltr",
            amount: "1,250.00\u{a0}MAD",
            heading: "Payment accepted",
            back: "Back to the shop",
        },
    ];
    for want in cases {
        let lang = want.lang;
        let (id, url) = checkout(&app, &format!("status-{lang}"), 125_000, None).await;
        let page = browser.page(want.accept_language).await;

        page.goto(&url).await;
        page.screenshot(&dir.join(format!("{lang}-1-mock-card-check.png")))
            .await;
        let text = page.text().await;
        assert!(text.contains("1250.00 MAD"), "a decimal amount:\n{text}");
        assert!(!text.contains("minor units"), "{text}");
        let processor_id = url.rsplit('/').next().unwrap();
        assert_no_internal_ids(&text, &[&id, processor_id]);

        let button = if want.approve {
            "form[action$='/approve'] button"
        } else {
            "form[action$='/decline'] button"
        };
        page.click_and_wait(button).await;
        assert!(
            page.url()
                .await
                .contains(&format!("/return/mock/default/{id}/"))
        );
        assert_eq!(page.status().await, 200);
        page.screenshot(&dir.join(format!("{lang}-2-status-page.png")))
            .await;
        assert_eq!(
            page.lang_dir().await,
            (want.lang.to_owned(), want.dir.to_owned())
        );
        let text = page.text().await;
        for expected in [
            "Atlas Shop",
            want.amount,
            want.heading,
            "CMD-2026-0042",
            want.back,
        ] {
            assert!(
                text.contains(expected),
                "{lang}: wants {expected:?} in\n{text}"
            );
        }
        assert_no_internal_ids(&text, &[&id, processor_id]);
        let html = page.eval("document.documentElement.outerHTML").await;
        assert_no_internal_ids(html.as_str().unwrap(), &[&id, processor_id]);
        // Nothing on the page is loaded from anywhere: one document, no sub-resources.
        let loaded = page
            .eval("performance.getEntriesByType('resource').length")
            .await;
        assert_eq!(loaded, 0, "{lang}: the status page loaded resources");

        // Back on the processor's page (the back button): the outcome, no buttons any more.
        page.goto(&url).await;
        page.screenshot(&dir.join(format!("{lang}-3-mock-after.png")))
            .await;
        let text = page.text().await;
        let outcome = if want.approve {
            "Payment approved."
        } else {
            "Payment declined."
        };
        assert!(text.contains(outcome), "{text}");
        assert_eq!(
            page.eval("document.querySelectorAll('button').length")
                .await,
            0
        );
    }

    // The link back leads to the shop's home page.
    let (_, url) = checkout(&app, "status-back", 5_000, None).await;
    let page = browser.page("fr").await;
    page.goto(&url).await;
    page.click_and_wait("form[action$='/approve'] button").await;
    assert!(page.text().await.contains("50,00\u{a0}MAD"));
    page.click_and_wait("a.back").await;
    assert_eq!(page.url().await, format!("{}/", shop.base));
}

#[tokio::test]
async fn with_return_urls_the_customer_lands_on_the_shop_pages_without_a_referrer() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let dir = shots("mock_shop_pages");
    let shop = Shop::spawn().await;
    let app = spawn(&shop).await;
    let ok = format!("{}/thanks?order=42", shop.base);
    let cancel = format!("{}/cart", shop.base);

    let (id, url) = checkout(&app, "shop-ok", 5_000, Some((&ok, &cancel))).await;
    let page = browser.page("fr").await;
    page.goto(&url).await;
    page.click_and_wait("form[action$='/approve'] button").await;
    assert_eq!(page.url().await, format!("{ok}&payment_id={id}"));
    page.screenshot(&dir.join("1-shop-thanks.png")).await;
    assert_eq!(
        shop.referer("/thanks"),
        Some(None),
        "paygate's return URL leaked as Referer"
    );

    let (id, url) = checkout(&app, "shop-decline", 5_000, Some((&ok, &cancel))).await;
    page.goto(&url).await;
    page.click_and_wait("form[action$='/decline'] button").await;
    assert_eq!(page.url().await, format!("{cancel}?payment_id={id}"));
    page.screenshot(&dir.join("2-shop-cart.png")).await;
    let status = app
        .client()
        .get_payment(get_req(&id))
        .await
        .unwrap()
        .into_inner()
        .status();
    assert_eq!(status, pb::PaymentStatus::Declined);
}

#[tokio::test]
async fn a_mangled_return_link_shows_a_404_page_in_the_same_style() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let dir = shots("mock_404");
    let shop = Shop::spawn().await;
    let app = spawn(&shop).await;
    let (id, _) = checkout(&app, "mangled", 5_000, None).await;
    let page = browser.page("ar").await;
    page.goto(&format!(
        "{}/return/mock/default/{id}/approved",
        app.http_base()
    ))
    .await;
    assert_eq!(page.status().await, 404);
    page.screenshot(&dir.join("ar-404.png")).await;
    assert_eq!(page.lang_dir().await, ("ar".to_owned(), "rtl".to_owned()));
    let text = page.text().await;
    for expected in ["Atlas Shop", "الصفحة غير موجودة", "العودة إلى المتجر"]
    {
        assert!(text.contains(expected), "wants {expected:?} in\n{text}");
    }
    assert_no_internal_ids(&text, &[&id]);
}
