//! The emulator's HTTP API: OAuth, Orders v2, Payments v2 and the signing certificate, with
//! `PayPal-Request-Id` replay scoped to the request it was first used for, and injectable
//! misbehaviour (5xx, lost answers, 429, slowness).

use super::ledger::{Answer, Order, RequestUse, error};
use super::{Emulator, Fault};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::time::Duration;

pub fn router(emu: Emulator) -> Router {
    Router::new()
        .route("/v1/oauth2/token", post(token))
        .route("/v1/notifications/certs/{name}", get(cert))
        .route(
            "/v1/notifications/verify-webhook-signature",
            post(verify_signature),
        )
        .route("/v2/checkout/orders", post(create_order))
        .route("/v2/checkout/orders/{id}", get(get_order))
        .route("/v2/checkout/orders/{id}/{action}", post(order_action))
        .route("/v2/payments/authorizations/{id}", get(get_auth))
        .route(
            "/v2/payments/authorizations/{id}/{action}",
            post(auth_action),
        )
        .route("/v2/payments/captures/{id}/refund", post(refund))
        .route("/checkoutnow", get(super::approval::page))
        .route("/checkoutnow/{choice}", post(super::approval::decide))
        .with_state(emu)
}

fn reply((status, body): Answer) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, axum::Json(body)).into_response()
}

async fn token(State(emu): State<Emulator>, headers: HeaderMap) -> Response {
    use base64::Engine as _;
    let expected = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        super::CLIENT_ID,
        super::CLIENT_SECRET
    ));
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if auth != Some(&format!("Basic {expected}")) {
        return reply(error(401, "invalid_client", "invalid_client"));
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut ledger = emu.ledger();
    ledger.token_fetches += 1;
    let token = format!("A21AA-emulated-{}", ledger.token_fetches);
    ledger.tokens.insert(token.clone());
    reply((
        200,
        json!({"access_token": token, "token_type": "Bearer", "expires_in": 32400, "app_id": "APP-EMU"}),
    ))
}

async fn cert(State(emu): State<Emulator>) -> Response {
    emu.inner
        .cert_fetches
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    (StatusCode::OK, super::LEAF_PEM).into_response()
}

/// What a `PayPal-Request-Id` is bound to by its first use: the endpoint, the resource in the
/// path (capture, authorization, order id) and the body.
pub struct Scope<'a> {
    pub resource: &'a str,
    pub body: &'a Value,
}

/// Checks the bearer token, applies faults, replays a known request id, else runs `act`.
/// A `LoseAnswer` fault runs `act` and then answers 500: the caller cannot know it happened.
///
/// A request id is scoped as strictly as PayPal can be: replayed only for the same endpoint,
/// resource and body it was first used with; anything else is refused with 422
/// `PAYPAL_REQUEST_ID_PREVIOUSLY_USED` and changes nothing. (specs/paypal.md §4 only says a
/// known id returns the first request's result; PayPal documents that issue, "The
/// PayPal-Request-Id has already been used for another request", in its Payment Method Tokens
/// API. A looser emulator would replay the first answer and hide a request id re-sent to
/// another capture.)
async fn guarded(
    emu: &Emulator,
    headers: &HeaderMap,
    op: &str,
    scope: Scope<'_>,
    act: impl FnOnce(&Emulator) -> Answer,
) -> Response {
    *emu.ledger().calls.entry(op.to_owned()).or_default() += 1;
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    if !bearer.is_some_and(|t| emu.ledger().tokens.contains(&t)) {
        return reply(error(401, "AUTHENTICATION_FAILURE", "INVALID_TOKEN"));
    }
    let fault = emu.take_fault(op);
    match fault {
        Some(Fault::Status(code)) => {
            return reply(error(code, "INTERNAL_SERVER_ERROR", "EMULATED"));
        }
        Some(Fault::RateLimit) => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "0")],
                axum::Json(json!({"name": "RATE_LIMIT_REACHED"})),
            )
                .into_response();
        }
        Some(Fault::Slow(d)) => tokio::time::sleep(d).await,
        Some(Fault::LoseAnswer | Fault::SlowAnswer(_) | Fault::Act) | None => {}
    }
    let request_id = headers
        .get("paypal-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let used = RequestUse {
        op: op.to_owned(),
        resource: scope.resource.to_owned(),
        body: scope.body.clone(),
    };
    if let Some(id) = &request_id {
        let mut ledger = emu.ledger();
        ledger.request_ids.push((op.to_owned(), id.clone()));
        if let Some((first, answer)) = ledger.replays.get(id) {
            if *first == used {
                return reply((200, answer.clone()));
            }
            let refused = (id.clone(), format!("{first:?} then {used:?}"));
            ledger.request_id_conflicts.push(refused);
            return reply(super::ledger::unprocessable(
                "PAYPAL_REQUEST_ID_PREVIOUSLY_USED",
            ));
        }
    }
    let answer = act(emu);
    if let Some(id) = request_id
        && (200..300).contains(&answer.0)
    {
        emu.ledger().replays.insert(id, (used, answer.1.clone()));
    }
    match fault {
        Some(Fault::LoseAnswer) => {
            return reply(error(500, "INTERNAL_SERVER_ERROR", "EMULATED_LOST_ANSWER"));
        }
        Some(Fault::SlowAnswer(d)) => tokio::time::sleep(d).await,
        _ => {}
    }
    reply(answer)
}

fn experience(body: &Value, name: &str) -> String {
    body["payment_source"]["paypal"]["experience_context"][name]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn create_order(State(emu): State<Emulator>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return reply(error(400, "INVALID_REQUEST", "MALFORMED_REQUEST_JSON"));
    };
    let scope = Scope {
        resource: "",
        body: &body,
    };
    guarded(&emu, &headers, "create_order", scope, |emu| {
        let unit = &body["purchase_units"][0];
        let currency = unit["amount"]["currency_code"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let value = unit["amount"]["value"].as_str().unwrap_or_default();
        let Some(cents) = super::ledger::cents(value) else {
            return super::ledger::unprocessable("DECIMAL_PRECISION");
        };
        let mut ledger = emu.ledger();
        let id = ledger.id("ORD");
        let order = Order {
            id: id.clone(),
            intent: body["intent"].as_str().unwrap_or_default().to_owned(),
            currency,
            cents,
            custom_id: unit["custom_id"].as_str().unwrap_or_default().to_owned(),
            status: "PAYER_ACTION_REQUIRED",
            authorization: None,
            capture: None,
            return_url: experience(&body, "return_url"),
            cancel_url: experience(&body, "cancel_url"),
        };
        let json = ledger.order_json(&emu.base(), &order);
        ledger.orders.insert(id, order);
        (201, json)
    })
    .await
}

async fn get_order(
    State(emu): State<Emulator>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let scope = Scope {
        resource: &id,
        body: &Value::Null,
    };
    guarded(&emu, &headers, "get_order", scope, |emu| {
        let ledger = emu.ledger();
        match ledger.orders.get(&id) {
            Some(o) => (200, ledger.order_json(&emu.base(), o)),
            None => error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID"),
        }
    })
    .await
}

async fn order_action(
    State(emu): State<Emulator>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(json!({}));
    let op = format!("{action}_order");
    let scope = Scope {
        resource: &id,
        body: &body,
    };
    guarded(&emu, &headers, &op, scope, |emu| {
        let base = emu.base();
        let mut ledger = emu.ledger();
        match action.as_str() {
            "authorize" => ledger.authorize_order(&base, &id),
            "capture" => ledger.capture_order(&base, &id),
            _ => error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID"),
        }
    })
    .await
}

async fn get_auth(
    State(emu): State<Emulator>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let scope = Scope {
        resource: &id,
        body: &Value::Null,
    };
    guarded(&emu, &headers, "get_authorization", scope, |emu| {
        let ledger = emu.ledger();
        match ledger.authorizations.get(&id) {
            Some(a) => (200, ledger.auth_json(&emu.base(), a)),
            None => error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID"),
        }
    })
    .await
}

async fn auth_action(
    State(emu): State<Emulator>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(json!({}));
    let op = format!("{action}_authorization");
    let scope = Scope {
        resource: &id,
        body: &body,
    };
    guarded(&emu, &headers, &op, scope, |emu| {
        let base = emu.base();
        let mut ledger = emu.ledger();
        match action.as_str() {
            "capture" => ledger.capture_authorization(&base, &id, &body),
            "void" => ledger.void(&base, &id),
            _ => error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID"),
        }
    })
    .await
}

async fn refund(
    State(emu): State<Emulator>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(json!({}));
    let scope = Scope {
        resource: &id,
        body: &body,
    };
    guarded(&emu, &headers, "refund_capture", scope, |emu| {
        let base = emu.base();
        emu.ledger().refund(&base, &id, &body)
    })
    .await
}

/// The postback (§8.2): checks the signature over `webhook_event` exactly as it arrives in this
/// request, so a paygate that re-serialised the body would get FAILURE.
async fn verify_signature(
    State(emu): State<Emulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    #[derive(serde::Deserialize)]
    struct Req {
        auth_algo: String,
        transmission_id: String,
        transmission_sig: String,
        transmission_time: String,
        webhook_id: String,
        webhook_event: Box<serde_json::value::RawValue>,
    }
    let scope = Scope {
        resource: "",
        body: &Value::Null,
    };
    guarded(&emu, &headers, "verify_webhook_signature", scope, |_| {
        use base64::Engine as _;
        let Ok(req) = serde_json::from_slice::<Req>(&body) else {
            return error(400, "INVALID_REQUEST", "MALFORMED_REQUEST_JSON");
        };
        let crc = crc32fast::hash(req.webhook_event.get().as_bytes());
        let message = format!(
            "{}|{}|{}|{crc}",
            req.transmission_id, req.transmission_time, req.webhook_id
        );
        let sig = base64::engine::general_purpose::STANDARD
            .decode(&req.transmission_sig)
            .unwrap_or_default();
        let key = ring::signature::RsaKeyPair::from_pkcs8(super::LEAF_KEY).unwrap();
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            key.public().as_ref(),
        );
        let ok =
            req.auth_algo == "SHA256withRSA" && public.verify(message.as_bytes(), &sig).is_ok();
        (
            200,
            json!({"verification_status": if ok { "SUCCESS" } else { "FAILURE" }}),
        )
    })
    .await
}
