//! The core suite's happy path and bad inputs, each run over gRPC and over HTTP/JSON on the
//! same app: the outcomes (payment status and amounts, or code, reason, violation fields and
//! retry advice) must be the same. Each surface gets its own payment and keys.

use super::{Answer, Json};
use crate::helpers::*;
use paygate::cli::json::code_name;
use paygate::grpc::proto as pb;

/// One request of the table (built, sent once, dropped: its size does not matter).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum Call {
    Authorize(pb::AuthorizeRequest),
    Capture(pb::CaptureRequest),
    Void(pb::VoidRequest),
    Refund(pb::RefundRequest),
    Get(pb::GetPaymentRequest),
    List(pb::ListPaymentsRequest),
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Payment {
        status: i32,
        amount: Option<pb::Money>,
        captured: Option<pb::Money>,
        refunded: Option<pb::Money>,
        failure: String,
    },
    Listed(usize),
    Error {
        code: String,
        reason: String,
        fields: Vec<String>,
        retry: bool,
    },
}

fn payment(p: pb::Payment) -> Outcome {
    Outcome::Payment {
        status: p.status,
        amount: p.amount,
        captured: p.captured,
        refunded: p.refunded,
        failure: p.failure.map(|f| f.code).unwrap_or_default(),
    }
}

/// What the payment is before the call.
#[derive(Debug, Clone, Copy)]
enum Setup {
    Nothing,
    Authorized,
    Captured,
    Voided,
}

struct Case {
    name: &'static str,
    setup: Setup,
    /// The call, given the set-up payment's id, a fresh key and the set-up's key.
    call: fn(&str, &str, &str) -> Call,
    key: Option<&'static str>,
}

async fn prepare(client: &mut Client, setup: Setup, key: &str) -> String {
    if matches!(setup, Setup::Nothing) {
        return String::new();
    }
    let p = client
        .authorize(authed(authorize_req(key, 10_000, "MAD", ""), ATLAS_KEY))
        .await
        .unwrap()
        .into_inner();
    match setup {
        Setup::Captured => {
            let req = capture_req(&format!("{key}-c"), &p.id, None);
            client.capture(authed(req, ATLAS_KEY)).await.unwrap();
        }
        Setup::Voided => {
            client
                .void(authed(void_req(&format!("{key}-v"), &p.id), ATLAS_KEY))
                .await
                .unwrap();
        }
        Setup::Nothing | Setup::Authorized => {}
    }
    p.id
}

async fn over_grpc(client: &mut Client, call: Call, key: Option<&str>) -> Outcome {
    let result = match call {
        Call::Authorize(m) => client
            .authorize(maybe_authed(m, key))
            .await
            .map(|p| payment(p.into_inner())),
        Call::Capture(m) => client
            .capture(maybe_authed(m, key))
            .await
            .map(|p| payment(p.into_inner())),
        Call::Void(m) => client
            .void(maybe_authed(m, key))
            .await
            .map(|p| payment(p.into_inner())),
        Call::Refund(m) => client
            .refund(maybe_authed(m, key))
            .await
            .map(|p| payment(p.into_inner())),
        Call::Get(m) => client
            .get_payment(maybe_authed(m, key))
            .await
            .map(|p| payment(p.into_inner())),
        Call::List(m) => client
            .list_payments(maybe_authed(m, key))
            .await
            .map(|l| Outcome::Listed(l.into_inner().payments.len())),
    };
    result.unwrap_or_else(|status| Outcome::Error {
        code: code_name(status.code()).to_owned(),
        reason: reason(&status),
        fields: bad_fields(&status),
        retry: retry_delay(&status).is_some(),
    })
}

/// The same message as JSON: the key goes in `Idempotency-Key`, the id in the path.
async fn over_http(json: &Json, call: Call) -> Outcome {
    let body = |m: &dyn erased::Ser| m.json();
    let (answer, list): (Answer, bool) = match call {
        Call::Authorize(mut m) => {
            let key = std::mem::take(&mut m.idempotency_key);
            (json.post("/v1/payments", &key, &body(&m)).await, false)
        }
        Call::Capture(mut m) => {
            let (key, id) = (take(&mut m.idempotency_key), take(&mut m.payment_id));
            let path = format!("/v1/payments/{id}/capture");
            (json.post(&path, &key, &body(&m)).await, false)
        }
        Call::Void(mut m) => {
            let (key, id) = (take(&mut m.idempotency_key), take(&mut m.payment_id));
            let path = format!("/v1/payments/{id}/void");
            (json.post(&path, &key, &body(&m)).await, false)
        }
        Call::Refund(mut m) => {
            let (key, id) = (take(&mut m.idempotency_key), take(&mut m.payment_id));
            let path = format!("/v1/payments/{id}/refund");
            (json.post(&path, &key, &body(&m)).await, false)
        }
        Call::Get(m) => (
            json.get(&format!("/v1/payments/{}", m.payment_id)).await,
            false,
        ),
        Call::List(m) => {
            let status = pb::PaymentStatus::try_from(m.status)
                .map(|s| s.as_str_name().to_owned())
                .unwrap_or_else(|_| m.status.to_string());
            let query = format!(
                "/v1/payments?merchant_reference={}&status={status}&page_size={}&page_token={}",
                m.merchant_reference, m.page_size, m.page_token
            );
            (json.get(&query).await, true)
        }
    };
    if answer.status != 200 {
        let code = answer.body["code"].as_str().unwrap_or_default();
        answer.assert_problem(http_status(code), answer.reason());
        return Outcome::Error {
            code: answer.body["code"].as_str().unwrap().to_owned(),
            reason: answer.reason().to_owned(),
            fields: answer.fields(),
            retry: answer.header("retry-after").is_some(),
        };
    }
    if list {
        let page: pb::ListPaymentsResponse = serde_json::from_value(answer.body).unwrap();
        return Outcome::Listed(page.payments.len());
    }
    payment(serde_json::from_value(answer.body).unwrap())
}

/// The README's table: gRPC code → HTTP status.
fn http_status(code: &str) -> u16 {
    match code {
        "INVALID_ARGUMENT" | "OUT_OF_RANGE" => 400,
        "UNAUTHENTICATED" => 401,
        "PERMISSION_DENIED" => 403,
        "NOT_FOUND" => 404,
        "ABORTED" => 409,
        "FAILED_PRECONDITION" => 422,
        "RESOURCE_EXHAUSTED" => 429,
        "UNAVAILABLE" => 503,
        _ => 500,
    }
}

fn take(s: &mut String) -> String {
    std::mem::take(s)
}

/// Serializes any request message (a trait object, so one closure serves every type).
mod erased {
    pub trait Ser {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Ser for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap()
        }
    }
}

fn cases() -> Vec<Case> {
    let atlas = Some(ATLAS_KEY);
    vec![
        Case {
            name: "authorize approved",
            setup: Setup::Nothing,
            key: atlas,
            call: |_, k, _| Call::Authorize(authorize_req(k, 10_000, "MAD", "")),
        },
        Case {
            name: "authorize declined (a result)",
            setup: Setup::Nothing,
            key: atlas,
            call: |_, k, _| Call::Authorize(authorize_req(k, 10_000, "MAD", "mock_decline")),
        },
        Case {
            name: "authorize insufficient funds",
            setup: Setup::Nothing,
            key: atlas,
            call: |_, k, _| {
                Call::Authorize(authorize_req(k, 10_000, "MAD", "mock_insufficient_funds"))
            },
        },
        Case {
            name: "provider unavailable",
            setup: Setup::Nothing,
            key: atlas,
            call: |_, k, _| Call::Authorize(authorize_req(k, 10_000, "MAD", "mock_unavailable")),
        },
        Case {
            name: "automatic capture",
            setup: Setup::Nothing,
            key: atlas,
            call: |_, k, _| {
                let mut r = authorize_req(k, 10_000, "MAD", "");
                r.capture_mode = pb::CaptureMode::Automatic.into();
                Call::Authorize(r)
            },
        },
        Case {
            name: "no key",
            setup: Setup::Nothing,
            key: atlas,
            call: |_, _, _| Call::Authorize(authorize_req("", 10_000, "MAD", "")),
        },
        Case {
            name: "key too long",
            setup: Setup::Nothing,
            key: atlas,
            call: |_, _, _| Call::Authorize(authorize_req(&"k".repeat(256), 10_000, "MAD", "")),
        },
        Case {
            name: "zero amount",
            setup: Setup::Nothing,
            key: atlas,
            call: |_, k, _| Call::Authorize(authorize_req(k, 0, "MAD", "")),
        },
        Case {
            name: "negative amount",
            setup: Setup::Nothing,
            key: atlas,
            call: |_, k, _| Call::Authorize(authorize_req(k, -5, "MAD", "")),
        },
        Case {
            name: "no amount",
            setup: Setup::Nothing,
            key: atlas,
            call: |_, k, _| {
                let mut r = authorize_req(k, 1, "MAD", "");
                r.amount = None;
                Call::Authorize(r)
            },
        },
        Case {
            name: "unknown currency",
            setup: Setup::Nothing,
            key: atlas,
            call: |_, k, _| Call::Authorize(authorize_req(k, 100, "XXY", "")),
        },
        Case {
            name: "unknown provider",
            setup: Setup::Nothing,
            key: atlas,
            call: |_, k, _| {
                let mut r = authorize_req(k, 100, "MAD", "");
                r.provider = "stripe".into();
                Call::Authorize(r)
            },
        },
        Case {
            name: "provider not enabled",
            setup: Setup::Nothing,
            key: atlas,
            call: |_, k, _| {
                let mut r = authorize_req(k, 100, "MAD", "");
                r.provider = "cmi".into();
                Call::Authorize(r)
            },
        },
        Case {
            name: "bad return url and email",
            setup: Setup::Nothing,
            key: atlas,
            call: |_, k, _| {
                let mut r = authorize_req(k, 100, "MAD", "");
                r.return_url = "not a url".into();
                r.customer = Some(pb::Customer {
                    email: "nope".into(),
                    ..Default::default()
                });
                Call::Authorize(r)
            },
        },
        Case {
            name: "no API key",
            setup: Setup::Nothing,
            key: None,
            call: |_, k, _| Call::Authorize(authorize_req(k, 100, "MAD", "")),
        },
        Case {
            name: "wrong API key",
            setup: Setup::Nothing,
            key: Some("not-a-key"),
            call: |_, k, _| Call::Authorize(authorize_req(k, 100, "MAD", "")),
        },
        Case {
            name: "key reused with other parameters",
            setup: Setup::Authorized,
            key: atlas,
            call: |_, _, setup| Call::Authorize(authorize_req(setup, 999, "MAD", "")),
        },
        Case {
            name: "key replayed",
            setup: Setup::Authorized,
            key: atlas,
            call: |_, _, setup| Call::Authorize(authorize_req(setup, 10_000, "MAD", "")),
        },
        Case {
            name: "capture part",
            setup: Setup::Authorized,
            key: atlas,
            call: |id, k, _| Call::Capture(capture_req(k, id, mad(4_000))),
        },
        Case {
            name: "capture all",
            setup: Setup::Authorized,
            key: atlas,
            call: |id, k, _| Call::Capture(capture_req(k, id, None)),
        },
        Case {
            name: "capture too much",
            setup: Setup::Authorized,
            key: atlas,
            call: |id, k, _| Call::Capture(capture_req(k, id, mad(10_001))),
        },
        Case {
            name: "capture in another currency",
            setup: Setup::Authorized,
            key: atlas,
            call: |id, k, _| Call::Capture(capture_req(k, id, Some(money(100, "EUR")))),
        },
        Case {
            name: "capture a voided payment",
            setup: Setup::Voided,
            key: atlas,
            call: |id, k, _| Call::Capture(capture_req(k, id, None)),
        },
        Case {
            name: "capture a non-UUID id",
            setup: Setup::Nothing,
            key: atlas,
            call: |_, k, _| Call::Capture(capture_req(k, "pay_123", None)),
        },
        Case {
            name: "capture an unknown payment",
            setup: Setup::Nothing,
            key: atlas,
            call: |_, k, _| {
                Call::Capture(capture_req(k, "0190f5c4-2b6e-7d3a-9c1e-5f2a8b7c6d4e", None))
            },
        },
        Case {
            name: "void",
            setup: Setup::Authorized,
            key: atlas,
            call: |id, k, _| Call::Void(void_req(k, id)),
        },
        Case {
            name: "void a captured payment",
            setup: Setup::Captured,
            key: atlas,
            call: |id, k, _| Call::Void(void_req(k, id)),
        },
        Case {
            name: "refund part",
            setup: Setup::Captured,
            key: atlas,
            call: |id, k, _| Call::Refund(refund_req(k, id, mad(2_500))),
        },
        Case {
            name: "refund too much",
            setup: Setup::Captured,
            key: atlas,
            call: |id, k, _| Call::Refund(refund_req(k, id, mad(10_001))),
        },
        Case {
            name: "refund before capture",
            setup: Setup::Authorized,
            key: atlas,
            call: |id, k, _| Call::Refund(refund_req(k, id, None)),
        },
        Case {
            name: "get",
            setup: Setup::Captured,
            key: atlas,
            call: |id, _, _| Call::Get(get_req(id)),
        },
        Case {
            name: "get a non-UUID id",
            setup: Setup::Nothing,
            key: atlas,
            call: |_, _, _| Call::Get(get_req("abc")),
        },
        Case {
            name: "get an unknown payment",
            setup: Setup::Nothing,
            key: atlas,
            call: |_, _, _| Call::Get(get_req("0190f5c4-2b6e-7d3a-9c1e-5f2a8b7c6d4e")),
        },
        Case {
            name: "list by reference",
            setup: Setup::Authorized,
            key: atlas,
            call: |_, _, setup| {
                Call::List(pb::ListPaymentsRequest {
                    merchant_reference: format!("order-{setup}"),
                    ..Default::default()
                })
            },
        },
        Case {
            name: "list page too large",
            setup: Setup::Nothing,
            key: atlas,
            call: |_, _, _| {
                Call::List(pb::ListPaymentsRequest {
                    page_size: 501,
                    ..Default::default()
                })
            },
        },
        Case {
            name: "list bad page token",
            setup: Setup::Nothing,
            key: atlas,
            call: |_, _, _| {
                Call::List(pb::ListPaymentsRequest {
                    page_token: "x".into(),
                    ..Default::default()
                })
            },
        },
    ]
}

#[tokio::test]
async fn every_core_case_has_the_same_outcome_over_grpc_and_http() {
    let app = TestApp::spawn_multi_merchant().await;
    let mut client = app.client();
    let json_base = Json::new(&app);
    let mut compared = 0;
    for (i, case) in cases().into_iter().enumerate() {
        let mut outcomes = Vec::new();
        for surface in ["grpc", "http"] {
            let setup_key = format!("case{i}-{surface}-setup");
            let id = prepare(&mut client, case.setup, &setup_key).await;
            let key = format!("case{i}-{surface}");
            let call = (case.call)(&id, &key, &setup_key);
            let outcome = if surface == "grpc" {
                over_grpc(&mut client, call, case.key).await
            } else {
                let json = match case.key {
                    Some(k) => json_base.clone().with_key(k),
                    None => json_base.clone(),
                };
                over_http(&json, call).await
            };
            outcomes.push(outcome);
        }
        assert_eq!(
            outcomes[0], outcomes[1],
            "case {:?}: gRPC vs HTTP",
            case.name
        );
        compared += 1;
    }
    assert_eq!(compared, cases().len());
}
