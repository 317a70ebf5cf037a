//! The emulator's hosted page as a browser sees it: the posted form becomes a card page (the
//! signed fields carried along, a card number to type), and paying ends, as on CMI, with a form
//! that posts the signed result to the shop's okUrl or failUrl by itself.

use super::CmiEmulator;
use super::gate::decide;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{Html, IntoResponse as _, Response};

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn hidden(fields: &[(String, String)]) -> String {
    fields
        .iter()
        .map(|(n, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                esc(n),
                esc(v)
            )
        })
        .collect()
}

/// What a browser gets for the shop's form: a card page in the form's language.
pub fn card_page(posted: &[(String, String)]) -> Response {
    let lang = posted
        .iter()
        .find(|(n, _)| n == "lang")
        .map_or("fr", |(_, v)| v.as_str());
    let amount = posted
        .iter()
        .find(|(n, _)| n == "amount")
        .map_or("", |(_, v)| v.as_str());
    Html(format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>CMI emulator</title></head><body><h1>CMI (emulator)</h1>\
         <p>Montant : {amount} MAD</p>\
         <form id=\"card\" method=\"post\" action=\"/fim/est3Dgate/pay\">{}\
         <label>Carte <input name=\"pan\" autocomplete=\"off\"></label>\
         <button id=\"pay\" type=\"submit\">Payer</button></form></body></html>",
        hidden(posted),
        amount = esc(amount),
    ))
    .into_response()
}

/// `POST /fim/est3Dgate/pay`: the card page submitted.
pub async fn pay(State(emu): State<CmiEmulator>, body: Bytes) -> Response {
    let mut posted: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let pan = posted
        .iter()
        .position(|(n, _)| n == "pan")
        .map(|i| posted.remove(i).1)
        .unwrap_or_default();
    let result = decide(&emu, posted, &pan).await;
    if result.return_url.is_empty() {
        return Html(format!("<p>{}</p>", esc(&result.result))).into_response();
    }
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>CMI</title></head><body>\
         <form id=\"back\" method=\"post\" action=\"{}\">{}\
         <noscript><button type=\"submit\">Continuer</button></noscript></form>\
         <script>document.getElementById(\"back\").submit()</script></body></html>",
        esc(&result.return_url),
        hidden(&result.return_fields),
    ))
    .into_response()
}
