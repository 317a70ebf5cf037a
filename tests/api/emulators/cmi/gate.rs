//! The hosted payment page: checks the posted form like CMI, "pays" with a sandbox card typed
//! on the page (given here as `?pan=`), sends the signed callback and reads the keyword.

use super::{CARD_3DS_OK, CARD_NO_FUNDS, CARD_NOT_AUTHENTICATED, CARD_NOT_ENROLLED};
use super::{CmiEmulator, Order, STORE_KEY, minor, ver3};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::{IntoResponse as _, Response};
use serde::{Deserialize, Serialize};

/// The card typed on the page. Without it, the post is a browser's: the emulator answers with
/// its HTML card page (`hosted.rs`) instead of paying at once.
#[derive(Deserialize)]
pub struct Card {
    pan: Option<String>,
}

/// What the page did, for the test playing the browser.
#[derive(Debug, Serialize, Deserialize)]
pub struct PageResult {
    /// `hash_mismatch` when the form was refused, else `approved` / `declined`.
    pub result: String,
    /// paygate's answer to the callback (`""` if none was sent).
    pub callback_reply: String,
    /// Where the browser is sent next (okUrl or failUrl) and the signed fields it posts there.
    pub return_url: String,
    pub return_fields: Vec<(String, String)>,
}

pub async fn pay(
    State(emu): State<CmiEmulator>,
    Query(card): Query<Card>,
    body: Bytes,
) -> Response {
    let posted: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    match card.pan {
        Some(pan) => Json(decide(&emu, posted, &pan).await).into_response(),
        None => super::hosted::card_page(&posted),
    }
}

/// What CMI does once the card is typed: check the hash, decide, record the order, send the
/// signed callback; the result says where the browser goes next.
pub async fn decide(emu: &CmiEmulator, posted: Vec<(String, String)>, pan: &str) -> PageResult {
    let get = |name: &str| {
        posted
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    // CMI recomputes the hash over everything it received.
    if get("HASH") != ver3(&posted, STORE_KEY) || get("hashAlgorithm") != "ver3" {
        return PageResult {
            result: "hash_mismatch".into(),
            callback_reply: String::new(),
            return_url: String::new(),
            return_fields: Vec::new(),
        };
    }
    let oid = get("oid");
    let (response, code, md_status, err) = match pan {
        CARD_3DS_OK => ("Approved", "00", "1", ""),
        CARD_NOT_AUTHENTICATED => ("Declined", "", "0", "Not authenticated"),
        CARD_NOT_ENROLLED => ("Declined", "57", "2", "Card not enrolled"),
        CARD_NO_FUNDS => ("Declined", "51", "1", "Insufficient funds"),
        _ => ("Declined", "14", "1", "Invalid card number"),
    };
    let approved = response == "Approved";
    let trans_id = {
        let mut state = emu.state.lock().unwrap();
        let trans_id = state.trans_id();
        let order = Order {
            amount: minor(&get("amount")).unwrap(),
            currency: get("currency"),
            tran_type: get("TranType"),
            stat: if !approved {
                "D".into()
            } else if get("TranType") == "Auth" {
                "C".into()
            } else {
                "A".into()
            },
            captured: (approved && get("TranType") == "Auth")
                .then(|| minor(&get("amount")).unwrap()),
            settled: false,
            credits: Vec::new(),
            trans_id: trans_id.clone(),
            proc_return_code: code.into(),
            postauths: 0,
        };
        // A retry on the page after a refusal replaces the declined attempt.
        let keep = state.orders.get(&oid).is_some_and(|o| o.stat != "D");
        if !keep {
            state.orders.insert(oid.clone(), order);
        }
        trans_id
    };
    let mut fields: Vec<(String, String)> = posted
        .iter()
        .filter(|(n, _)| n != "HASH")
        .cloned()
        .collect();
    for (n, v) in [
        ("Response", response),
        ("ProcReturnCode", code),
        ("mdStatus", md_status),
        ("ErrMsg", err),
        ("AuthCode", if approved { "P12345" } else { "" }),
        ("TransId", trans_id.as_str()),
        ("HostRefNum", "633100012345"),
        ("ReturnOid", oid.as_str()),
        ("MaskedPan", "519163***4896"),
        ("EXTRA_TRXDATE", "20261127 01:02:03"),
        ("xid", "a+b/c=="),
        // UTF-8 in a hashed field: paygate must verify over the bytes as sent.
        ("EXTRA_CARDISSUER", "Crédit du Maroc – مصرف"),
        ("callbackCall", "true"),
    ] {
        if n == "ProcReturnCode" && v.is_empty() {
            continue; // absent on authentication failures, as on NestPay
        }
        fields.push((n.to_owned(), v.to_owned()));
    }
    let signed = sign(fields.clone(), STORE_KEY);
    let (hold, twice) = {
        let mut state = emu.state.lock().unwrap();
        let faults = state.faults.clone();
        let callback = sign(fields, faults.callback_key.as_deref().unwrap_or(STORE_KEY));
        state.callbacks.insert(oid.clone(), callback);
        (faults.hold_callback, faults.duplicate_callback)
    };
    let mut reply = String::new();
    if !hold {
        let callback = emu.state.lock().unwrap().callbacks[&oid].clone();
        reply = deliver(emu, &callback).await.1;
        if twice {
            reply = deliver(emu, &callback).await.1;
        }
    }
    PageResult {
        result: if approved { "approved" } else { "declined" }.into(),
        callback_reply: reply,
        return_url: if approved {
            get("okUrl")
        } else {
            get("failUrl")
        },
        return_fields: signed,
    }
}

fn sign(mut fields: Vec<(String, String)>, key: &str) -> Vec<(String, String)> {
    let hash = ver3(&fields, key);
    fields.push(("HASH".into(), hash));
    fields
}

/// Posts a callback to its `callbackUrl`; returns the HTTP status and the body (the keyword).
/// Honours `ACTION=POSTAUTH` by capturing the pre-authorization in full.
pub async fn deliver(emu: &CmiEmulator, fields: &[(String, String)]) -> (u16, String) {
    let get = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let response = emu
        .http
        .post(get("callbackUrl"))
        .form(fields)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    let mut state = emu.state.lock().unwrap();
    state.replies.push(body.clone());
    if body == "ACTION=POSTAUTH"
        && let Some(order) = state.orders.get_mut(&get("oid"))
        && order.stat == "A"
    {
        order.stat = "C".into();
        order.captured = Some(order.amount);
        order.postauths += 1;
    }
    (status, body)
}
