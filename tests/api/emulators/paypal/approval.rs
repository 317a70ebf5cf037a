//! PayPal's approval page (`payer-action`, `/checkoutnow?token=`) for a browser: the buyer
//! approves or cancels, and is sent to the order's `return_url` (`?token=&PayerID=`) or
//! `cancel_url` (`?token=`), as PayPal does.

use super::Emulator;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct Token {
    token: String,
}

pub async fn page(State(emu): State<Emulator>, Query(q): Query<Token>) -> Response {
    let Some(order) = emu.ledger().orders.get(&q.token).cloned() else {
        return (StatusCode::NOT_FOUND, "unknown order").into_response();
    };
    // The token is the emulator's own id (letters and digits): safe in an attribute.
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>PayPal (emulator)</title></head><body><h1>PayPal (emulator)</h1>\
         <p>Pay {}.{:02} {}</p>\
         <form method=\"post\" action=\"/checkoutnow/approve?token={id}\"><button id=\"approve\">Approve</button></form>\
         <form method=\"post\" action=\"/checkoutnow/cancel?token={id}\"><button id=\"cancel\">Cancel</button></form>\
         </body></html>",
        order.cents / 100,
        order.cents % 100,
        order.currency,
        id = order.id,
    ))
    .into_response()
}

pub async fn decide(
    State(emu): State<Emulator>,
    Path(choice): Path<String>,
    Query(q): Query<Token>,
) -> Response {
    let Some(order) = emu.ledger().orders.get(&q.token).cloned() else {
        return (StatusCode::NOT_FOUND, "unknown order").into_response();
    };
    let target = if choice == "approve" {
        emu.approve(&order.id);
        format!("{}?token={}&PayerID=EMUPAYER", order.return_url, order.id)
    } else {
        format!("{}?token={}", order.cancel_url, order.id)
    };
    Redirect::to(&target).into_response()
}
