//! Payment creation tests: token outcomes, validation, redirects, idempotency, lookups.

use super::{eur, payment, rejected_code, start};
use crate::providers::mock::wire::{LedgerSummary, PaymentState};

#[tokio::test]
async fn ok_and_empty_tokens_authorize_or_capture() {
    let h = start().await;
    let p = h
        .api
        .create_payment("k1", &payment("mock_ok", 1000, false))
        .await
        .unwrap();
    assert_eq!(p.status, PaymentState::Authorized);
    assert!(p.id.starts_with("mp_"));
    assert_eq!(
        (p.amount, p.captured, p.currency.as_str()),
        (1000, 0, "EUR")
    );
    assert_eq!(p.reference, "order-1");

    let p = h
        .api
        .create_payment("k2", &payment("", 700, true))
        .await
        .unwrap();
    assert_eq!(p.status, PaymentState::Captured);
    assert_eq!(p.captured, 700);

    let summary = h.api.ledger().await.unwrap();
    let expected = LedgerSummary {
        payments: 2,
        authorizations: 2,
        captured_total: 700,
        refunded_total: 0,
        requests: 2,
    };
    assert_eq!(summary, expected);
}

#[tokio::test]
async fn decline_tokens_decline_with_their_codes() {
    let h = start().await;
    for (token, code) in [
        ("mock_decline", "card_declined"),
        ("mock_insufficient_funds", "insufficient_funds"),
        ("mock_expired_card", "expired_card"),
    ] {
        let p = h
            .api
            .create_payment(token, &payment(token, 500, true))
            .await
            .unwrap();
        assert_eq!(p.status, PaymentState::Declined);
        assert_eq!(p.decline_code.as_deref(), Some(code));
        assert!(p.decline_message.is_some());
        assert_eq!(p.captured, 0);
    }
    let summary = h.api.ledger().await.unwrap();
    assert_eq!(
        (
            summary.payments,
            summary.authorizations,
            summary.captured_total
        ),
        (3, 0, 0)
    );
}

#[tokio::test]
async fn invalid_requests_are_rejected_without_effect() {
    let h = start().await;
    let invalid = h
        .api
        .create_payment("k", &payment("mock_nope", 500, false))
        .await;
    assert_eq!(
        rejected_code(invalid),
        Some((400, "invalid_token".to_owned()))
    );
    for amount in [0, -5, 1_000_000_000_000] {
        let result = h
            .api
            .create_payment("k", &payment("mock_ok", amount, false))
            .await;
        assert_eq!(
            rejected_code(result),
            Some((400, "invalid_amount".to_owned()))
        );
    }
    for currency in ["eur", "EU", "EURO", "E1R"] {
        let mut req = payment("mock_ok", 500, false);
        req.currency = currency.to_owned();
        let result = h.api.create_payment("k", &req).await;
        assert_eq!(
            rejected_code(result),
            Some((400, "invalid_currency".to_owned()))
        );
    }
    let missing_key = h
        .http
        .post(h.base.join("v1/payments").unwrap())
        .json(&payment("mock_ok", 500, false))
        .send()
        .await
        .unwrap();
    assert_eq!(missing_key.status().as_u16(), 400);
    let body: serde_json::Value = missing_key.json().await.unwrap();
    assert_eq!(body.get("error").unwrap(), "idempotency_key_required");
    assert_eq!(h.api.ledger().await.unwrap(), LedgerSummary::default());
    // The refused key was not consumed.
    let p = h
        .api
        .create_payment("k", &payment("mock_ok", 500, false))
        .await
        .unwrap();
    assert_eq!(p.status, PaymentState::Authorized);
}

#[tokio::test]
async fn redirect_waits_for_the_customer() {
    let h = start().await;
    let p = h
        .api
        .create_payment("r1", &payment("mock_redirect", 900, true))
        .await
        .unwrap();
    assert_eq!(p.status, PaymentState::RequiresAction);
    let url = p.redirect_url.clone().unwrap();
    assert_eq!(url, format!("{}pay/{}", h.base, p.id));
    assert_eq!(h.api.ledger().await.unwrap().authorizations, 0);

    let page = h.http.get(&url).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("/pay/{}/approve", p.id)));
    assert!(html.contains(&format!("/pay/{}/decline", p.id)));
    assert!(
        html.contains("9.00 EUR"),
        "a decimal amount, not minor units: {html}"
    );

    let approve = h.http.post(format!("{url}/approve")).send().await.unwrap();
    assert_eq!(approve.status().as_u16(), 200);
    let approved = h.api.get_payment(&p.id).await.unwrap();
    assert_eq!(approved.status, PaymentState::Captured);
    assert_eq!(approved.captured, 900);
    assert_eq!(approved.redirect_url, None);
    let summary = h.api.ledger().await.unwrap();
    assert_eq!((summary.authorizations, summary.captured_total), (1, 900));

    // Not awaiting action any more.
    let again = h.http.post(format!("{url}/decline")).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 409);
    let html = again.text().await.unwrap();
    assert!(
        html.contains("Payment approved."),
        "the outcome, as a page: {html}"
    );
    // Once decided, the page offers no buttons any more.
    let html = h.http.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(
        html.contains("Payment approved.") && !html.contains("<button"),
        "{html}"
    );

    let p = h
        .api
        .create_payment("r2", &payment("mock_redirect", 900, false))
        .await
        .unwrap();
    let url = p.redirect_url.unwrap();
    let decline = h.http.post(format!("{url}/decline")).send().await.unwrap();
    assert_eq!(decline.status().as_u16(), 200);
    let declined = h.api.get_payment(&p.id).await.unwrap();
    assert_eq!(declined.status, PaymentState::Declined);
    assert_eq!(declined.decline_code.as_deref(), Some("card_declined"));
}

#[tokio::test]
async fn same_key_twice_applies_once() {
    let h = start().await;
    let req = payment("mock_ok", 1000, true);
    let first = h.api.create_payment("same", &req).await.unwrap();
    let second = h.api.create_payment("same", &req).await.unwrap();
    assert_eq!(first, second);
    let op1 = h.api.refund("rk", &first.id, &eur(10)).await.unwrap();
    let op2 = h.api.refund("rk", &first.id, &eur(10)).await.unwrap();
    assert_eq!(op1, op2);
    let summary = h.api.ledger().await.unwrap();
    let expected = LedgerSummary {
        payments: 1,
        authorizations: 1,
        captured_total: 1000,
        refunded_total: 10,
        requests: 2,
    };
    assert_eq!(summary, expected);
}

#[tokio::test]
async fn concurrent_duplicates_apply_once() {
    let h = start().await;
    let req = payment("mock_ok", 1000, false);
    let calls = (0..16).map(|_| h.api.create_payment("dup", &req));
    let results = futures::future::join_all(calls).await;
    let first = results.first().unwrap().as_ref().unwrap();
    assert!(results.iter().all(|r| r.as_ref().unwrap() == first));
    let summary = h.api.ledger().await.unwrap();
    assert_eq!((summary.payments, summary.requests), (1, 1));
}

#[tokio::test]
async fn key_reuse_with_a_different_body_is_rejected() {
    let h = start().await;
    h.api
        .create_payment("reused", &payment("mock_ok", 1000, false))
        .await
        .unwrap();
    let other = h
        .api
        .create_payment("reused", &payment("mock_ok", 2000, false))
        .await;
    assert_eq!(
        rejected_code(other),
        Some((422, "idempotency_key_reused".to_owned()))
    );
    assert_eq!(h.api.ledger().await.unwrap().payments, 1);
}

#[tokio::test]
async fn operation_status_reports_what_a_key_applied() {
    let h = start().await;
    assert!(
        h.api
            .operation_status("never-used")
            .await
            .unwrap()
            .is_none()
    );
    let p = h
        .api
        .create_payment("create-1", &payment("mock_ok", 1000, false))
        .await
        .unwrap();
    let status = h.api.operation_status("create-1").await.unwrap().unwrap();
    assert_eq!(
        (status.key.as_str(), status.kind.as_str()),
        ("create-1", "payment")
    );
    assert_eq!(status.payment, p);
    assert_eq!(status.operation, None);

    let op = h.api.capture("capture/1", &p.id, &eur(250)).await.unwrap();
    let status = h.api.operation_status("capture/1").await.unwrap().unwrap();
    assert_eq!(status.kind, "capture");
    assert_eq!(status.operation, Some(op));
    assert_eq!(status.payment.captured, 250);
}

#[tokio::test]
async fn unknown_payment_and_health() {
    let h = start().await;
    let missing = h.api.get_payment("mp_nope").await;
    assert_eq!(
        rejected_code(missing),
        Some((404, "payment_not_found".to_owned()))
    );
    let health = h
        .http
        .get(h.base.join("healthz").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");
}
