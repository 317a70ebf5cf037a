//! Failure-mode tests: what the client reports for each injected fault, and what was applied.

use crate::domain::ProviderKind;
use crate::providers::http_client::{ProviderHttp, ResilienceSettings};
use std::time::Duration;

use reqwest::Url;

use super::{client, payment, start};
use crate::providers::mock::api::{MockApi, MockCallError};
use crate::providers::mock::wire::{Faults, LedgerSummary, PaymentState};

#[tokio::test]
async fn mock_unavailable_is_not_sent_and_leaves_no_trace() {
    let h = start().await;
    let result = h
        .api
        .create_payment("u", &payment("mock_unavailable", 1000, false))
        .await;
    assert!(
        matches!(result, Err(MockCallError::NotSent { .. })),
        "{result:?}"
    );
    assert_eq!(h.api.ledger().await.unwrap(), LedgerSummary::default());
    assert!(h.api.operation_status("u").await.unwrap().is_none());
    // The key was not consumed.
    let p = h
        .api
        .create_payment("u", &payment("mock_ok", 1000, false))
        .await
        .unwrap();
    assert_eq!(p.status, PaymentState::Authorized);
}

#[tokio::test]
async fn error_rate_100_is_not_sent() {
    let h = start().await;
    let faults = Faults {
        error_rate_percent: 100,
        ..Faults::default()
    };
    assert_eq!(h.api.set_faults(&faults).await.unwrap(), faults);
    let result = h
        .api
        .create_payment("e", &payment("mock_ok", 1000, false))
        .await;
    assert!(
        matches!(result, Err(MockCallError::NotSent { .. })),
        "{result:?}"
    );
    assert_eq!(h.api.ledger().await.unwrap(), LedgerSummary::default());

    // The key was not consumed: once the fault is gone the same request goes through.
    h.api.set_faults(&Faults::default()).await.unwrap();
    let p = h
        .api
        .create_payment("e", &payment("mock_ok", 1000, false))
        .await
        .unwrap();
    assert_eq!(p.status, PaymentState::Authorized);
}

#[tokio::test]
async fn dropped_answer_is_unknown_but_applied_and_replayable() {
    let h = start().await;
    let faults = Faults {
        drop_rate_percent: 100,
        timeout_delay_ms: 10,
        ..Faults::default()
    };
    h.api.set_faults(&faults).await.unwrap();
    let result = h
        .api
        .create_payment("d", &payment("mock_ok", 1000, true))
        .await;
    assert!(
        matches!(result, Err(MockCallError::Unknown { .. })),
        "{result:?}"
    );
    assert_eq!(h.state.summary().captured_total, 1000);

    h.api.set_faults(&Faults::default()).await.unwrap();
    let replay = h
        .api
        .create_payment("d", &payment("mock_ok", 1000, true))
        .await
        .unwrap();
    assert_eq!(replay.status, PaymentState::Captured);
    let summary = h.api.ledger().await.unwrap();
    assert_eq!((summary.payments, summary.requests), (1, 1));
}

#[tokio::test]
async fn invalid_fault_settings_are_rejected() {
    let h = start().await;
    let faults = Faults {
        drop_rate_percent: 101,
        ..Faults::default()
    };
    let result = h.api.set_faults(&faults).await;
    assert!(
        matches!(result, Err(MockCallError::Rejected { status: 400, .. })),
        "{result:?}"
    );
    assert_eq!(h.api.faults().await.unwrap(), Faults::default());
}

#[tokio::test]
async fn connection_refused_is_not_sent() {
    // Bind then drop a listener so the port is (almost certainly) closed.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let base = Url::parse(&format!("http://{addr}/")).unwrap();
    let api = MockApi::new(base, client(Duration::from_secs(5)));
    let result = api
        .create_payment("c", &payment("mock_ok", 1000, false))
        .await;
    assert!(
        matches!(result, Err(MockCallError::NotSent { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn mock_timeout_is_unknown_then_reconciled() {
    let h = start().await;
    let faults = Faults {
        timeout_delay_ms: 300,
        ..Faults::default()
    };
    h.api.set_faults(&faults).await.unwrap();
    // As paygate runs it: the stack's budget is the client's timeout, so a stalled answer
    // uses it all and leaves no time for a retry that would turn the unknown into a replay.
    let patience = Duration::from_millis(100);
    let stack = ProviderHttp::new(
        ProviderKind::Mock,
        client(patience),
        ResilienceSettings::with_timeout(patience),
        None,
    );
    let impatient = MockApi::with_stack(h.base.clone(), stack);
    let result = impatient
        .create_payment("t", &payment("mock_timeout", 1000, false))
        .await;
    assert!(
        matches!(result, Err(MockCallError::Unknown { .. })),
        "{result:?}"
    );

    let status = h.api.operation_status("t").await.unwrap().unwrap();
    assert_eq!(status.kind, "payment");
    assert_eq!(status.payment.status, PaymentState::Authorized);
    assert_eq!(status.payment.amount, 1000);
    assert_eq!(h.api.ledger().await.unwrap().authorizations, 1);
}
