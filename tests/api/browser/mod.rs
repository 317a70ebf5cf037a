//! The checkout as a customer sees it, in headless Chromium: the mock processor's redirect
//! (approve, decline, with and without a `return_url`), CMI from the shop's form template
//! (examples/cmi-form/) through the emulator's page, the callback and the return, and PayPal's
//! approval page (approve, cancel). Every page a
//! customer sees is saved as a PNG under `target/tmp/browser/` (never committed); the text a
//! customer reads is checked: amount, shop name, outcome, language and direction, and no
//! internal id.

mod cdp;
mod cmi_form;
mod mock_flows;
mod paypal;

use axum::Router;
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Html;
use axum::routing::get;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub use cdp::{Browser, Page};

/// `target/tmp/browser/{test}/`: where a test's screenshots go.
pub fn shots(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("browser")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A path the shop served, and the `Referer` it was asked with.
type Visit = (String, Option<String>);

/// A stand-in shop on 127.0.0.1:0: it serves pages a test puts there (`/page/{name}`, e.g. a
/// rendered CMI form) and answers anything else with a page naming the path and query, like a
/// shop's "thank you" or "cart" page. It remembers the `Referer` each request came with.
#[derive(Clone)]
pub struct Shop {
    pub base: String,
    pages: Arc<Mutex<HashMap<String, String>>>,
    referers: Arc<Mutex<Vec<Visit>>>,
}

impl Shop {
    pub async fn spawn() -> Shop {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let shop = Shop {
            base: format!("http://{}", listener.local_addr().unwrap()),
            pages: Arc::default(),
            referers: Arc::default(),
        };
        let app = Router::new()
            .route("/page/{name}", get(serve_page))
            .fallback(get(other))
            .with_state(shop.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        shop
    }

    /// Serves `html` at the returned URL.
    pub fn put(&self, name: &str, html: String) -> String {
        self.pages.lock().unwrap().insert(name.to_owned(), html);
        format!("{}/page/{name}", self.base)
    }

    /// The `Referer` the browser sent when it reached `path` (`None`: it sent none).
    pub fn referer(&self, path: &str) -> Option<Option<String>> {
        self.referers
            .lock()
            .unwrap()
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, r)| r.clone())
    }
}

async fn serve_page(State(shop): State<Shop>, UrlPath(name): UrlPath<String>) -> Html<String> {
    Html(
        shop.pages
            .lock()
            .unwrap()
            .get(&name)
            .cloned()
            .unwrap_or_default(),
    )
}

async fn other(
    State(shop): State<Shop>,
    uri: axum::http::Uri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Html<String> {
    let referer = headers
        .get("referer")
        .map(|v| v.to_str().unwrap().to_owned());
    shop.referers
        .lock()
        .unwrap()
        .push((uri.path().to_owned(), referer));
    Html(format!(
        "<!doctype html><meta charset=\"utf-8\"><title>Atlas Shop</title><h1>Atlas Shop</h1>\
         <p>{} {}</p>",
        uri.path(),
        query.unwrap_or_default()
    ))
}

/// Fails if `text` (what a customer reads) holds any of `ids`, anything shaped like a UUID
/// (paygate's payment and operation ids), an operation key sent to a provider (`pg-…`) or a
/// mock processor id (`mp_…`).
pub fn assert_no_internal_ids(text: &str, ids: &[&str]) {
    for id in ids.iter().filter(|id| !id.is_empty()) {
        assert!(!text.contains(id), "the page shows {id:?}:\n{text}");
    }
    assert!(!has_uuid(text), "the page shows a UUID:\n{text}");
    for marker in ["pg-", "mp_"] {
        assert!(
            !text.contains(marker),
            "the page shows a {marker} id:\n{text}"
        );
    }
}

fn has_uuid(text: &str) -> bool {
    let b = text.as_bytes();
    b.windows(36).any(|w| {
        w.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
    })
}

#[test]
fn uuids_are_recognised() {
    assert!(has_uuid("Réf. 01a23d05-1b2c-7d3e-8f40-123456789abc."));
    assert!(!has_uuid("Commande CMD-2026-0042, 50,00 MAD"));
}
