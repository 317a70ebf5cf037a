//! CMI from the shop's side: paygate's `form_post` rendered by the templates a shop copies
//! (examples/cmi-form/), submitted by the browser to the CMI emulator's page, paid there, the
//! signed callback, and the customer back on paygate's status page.

use super::{Browser, Shop, assert_no_internal_ids, shots};
use crate::cmi;
use crate::emulators::cmi::{CARD_3DS_OK, CARD_NO_FUNDS, CmiEmulator};
use crate::helpers::*;
use paygate::grpc::proto as pb;
use std::path::PathBuf;

fn example(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/cmi-form")
        .join(file)
}

/// paygate with CMI on merchant `default`, named Atlas Shop.
async fn spawn(shop: &Shop) -> (TestApp, CmiEmulator) {
    let emu = CmiEmulator::spawn().await;
    let home = format!("{}/", shop.base);
    let app = TestApp::spawn_with_cmi(&emu, |s| {
        for m in &mut s.merchants {
            m.storefront.display_name = Some("Atlas Shop".into());
            m.storefront.shop_url = Some(reqwest::Url::parse(&home).unwrap());
        }
    })
    .await;
    (app, emu)
}

/// A CMI payment with no `return_url` (the status page ends the flow), in `locale`, whose
/// description needs escaping in HTML.
async fn checkout(app: &TestApp, key: &str, locale: &str) -> (pb::Payment, pb::FormPost) {
    let mut req = cmi::cmi_req(key, 125_000, false);
    req.return_url.clear();
    req.cancel_url.clear();
    req.locale = locale.into();
    req.merchant_reference = "CMD-2026-0042".into();
    req.description = "Tapis \"Atlas\" <laine> & cuivre".into();
    cmi::authorize(&mut app.client(), req).await
}

fn php() -> Option<PathBuf> {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("php"))
        .find(|p| p.exists());
    if found.is_none() {
        assert_ne!(
            std::env::var("PAYGATE_REQUIRE_BROWSER").as_deref(),
            Ok("1"),
            "PAYGATE_REQUIRE_BROWSER=1 but no php: apt-get install php-cli"
        );
        eprintln!("SKIPPED: the PHP template test needs php (apt-get install php-cli)");
    }
    found
}

/// examples/cmi-form/render.php run by php-cli, as a shop would run it.
async fn render_php(form: &pb::FormPost) -> String {
    let json = serde_json::json!({"url": form.url, "fields": form.fields}).to_string();
    let mut child = tokio::process::Command::new("php")
        .arg(example("render.php"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use tokio::io::AsyncWriteExt as _;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(json.as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "php render.php failed");
    String::from_utf8(out.stdout).unwrap()
}

/// examples/cmi-form/cmi-form.html filled in as an auto-escaping engine (Twig, Blade) would.
fn render_snippet(form: &pb::FormPost) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;")
    };
    let snippet = std::fs::read_to_string(example("cmi-form.html")).unwrap();
    let mut body = String::new();
    for line in snippet.lines() {
        if line.contains("{{ name }}") {
            for (name, value) in &form.fields {
                let filled = line
                    .replace("{{ name }}", &esc(name))
                    .replace("{{ value }}", &esc(value));
                body.push_str(&filled);
                body.push('\n');
            }
        } else {
            body.push_str(&line.replace("{{ url }}", &esc(&form.url)));
            body.push('\n');
        }
    }
    format!(
        "<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Atlas Shop</title>\
         </head><body>{body}</body></html>"
    )
}

/// Types `pan` on the emulator's card page and pays; the browser then follows CMI's form back
/// to paygate, which shows its status page.
async fn pay_on_cmi_page(page: &super::Page<'_>, emu: &CmiEmulator, pan: &str) {
    page.wait_for(&format!(
        "location.href.startsWith('{}/fim/est3Dgate') && !!document.querySelector('#pay')",
        emu.base_url()
    ))
    .await;
    let js = format!("document.querySelector('input[name=pan]').value = '{pan}'; true");
    page.eval(&js).await;
    page.click_and_wait("#pay").await;
    page.wait_for(
        "location.pathname.startsWith('/return/cmi/') && document.readyState === 'complete'",
    )
    .await;
}

#[tokio::test]
async fn the_php_template_takes_the_customer_through_cmi_back_to_an_arabic_status_page() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    if php().is_none() {
        return;
    }
    let dir = shots("cmi_php");
    let shop = Shop::spawn().await;
    let (app, emu) = spawn(&shop).await;
    // The shop asked for Arabic; the browser prefers French: the payment's locale wins, since
    // CMI's page was shown in it and CMI posts `lang` back.
    let (p, form) = checkout(&app, "php-ar", "ar-MA").await;
    let checkout_url = shop.put("checkout", render_php(&form).await);

    let page = browser.page("fr-FR,fr;q=0.9").await;
    page.goto(&checkout_url).await;
    pay_on_cmi_page(&page, &emu, CARD_3DS_OK).await;
    page.screenshot(&dir.join("ar-status-page.png")).await;

    assert_eq!(page.status().await, 200);
    assert_eq!(page.lang_dir().await, ("ar".to_owned(), "rtl".to_owned()));
    let text = page.text().await;
    for expected in [
        "Atlas Shop",
        "تم قبول الدفع",
        "1.250,00\u{a0}MAD",
        "CMD-2026-0042",
        "العودة إلى المتجر",
    ] {
        assert!(text.contains(expected), "wants {expected:?} in\n{text}");
    }
    let payment = cmi::get(&mut app.client(), &p.id).await;
    assert_eq!(payment.status(), pb::PaymentStatus::Authorized);
    let order = emu.order(&payment.provider_reference).unwrap();
    assert_no_internal_ids(
        &text,
        &[&p.id, &payment.provider_reference, &order.trans_id],
    );
}

#[tokio::test]
async fn the_html_snippet_works_without_javascript_through_its_noscript_button() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let dir = shots("cmi_snippet");
    let shop = Shop::spawn().await;
    let (app, emu) = spawn(&shop).await;
    let (p, form) = checkout(&app, "snippet-fr", "fr").await;
    let checkout_url = shop.put("checkout", render_snippet(&form));

    let page = browser.page("en").await;
    page.set_javascript(false).await;
    page.goto(&checkout_url).await;
    page.screenshot(&dir.join("1-shop-form-without-js.png"))
        .await;
    assert_eq!(
        page.url().await,
        checkout_url,
        "nothing submits without JavaScript"
    );
    let text = page.text().await;
    assert!(
        text.contains("Continuer vers le paiement"),
        "the <noscript> button:\n{text}"
    );
    page.click_and_wait("#cmi-pay button").await;
    // CMI's own page and its way back use JavaScript, as the real ones do.
    page.set_javascript(true).await;
    page.screenshot(&dir.join("2-cmi-card-page.png")).await;
    pay_on_cmi_page(&page, &emu, CARD_NO_FUNDS).await;
    page.screenshot(&dir.join("3-fr-status-page.png")).await;

    assert_eq!(page.lang_dir().await, ("fr".to_owned(), "ltr".to_owned()));
    let text = page.text().await;
    for expected in [
        "Atlas Shop",
        "Paiement refusé",
        "1\u{202f}250,00\u{a0}MAD",
        "Retour à la boutique",
    ] {
        assert!(text.contains(expected), "wants {expected:?} in\n{text}");
    }
    let payment = cmi::get(&mut app.client(), &p.id).await;
    assert_eq!(payment.status(), pb::PaymentStatus::Declined);
    assert_no_internal_ids(&text, &[&p.id, &payment.provider_reference]);
}
