//! Reads: what was written comes back, scoped to its merchant, in the same order on both backends.

use crate::harness::*;
use paygate::domain::{ListQuery, MerchantId, Outcome, PaymentId, PaymentStatus, ProviderKind};
use paygate::store::StoreError;

pub async fn reads_return_what_was_written(db: &Db) {
    let store = &db.store;
    let m = merchant();
    let (p, op) = started(open_payment(store, &m, "read-1", 4200).await);
    assert_eq!(store.payment(&m, p.id).await.unwrap(), p);
    let settled = settle(
        store,
        p.id,
        op,
        Outcome::Succeeded {
            provider_reference: Some("prov-ref-1".into()),
            expires_at: None,
        },
    )
    .await;
    // Another replica reads the committed state.
    let replica = db.replica().await;
    assert_eq!(replica.payment(&m, p.id).await.unwrap(), settled);
    let by_ref = replica
        .payment_by_provider_reference(&m, ProviderKind::Mock, "prov-ref-1")
        .await
        .unwrap();
    assert_eq!(by_ref, Some(settled.clone()));
    let souk = MerchantId::parse("souk").unwrap();
    assert_eq!(
        replica
            .payment_by_provider_reference(&souk, ProviderKind::Mock, "prov-ref-1")
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        store.payment(&souk, p.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.payment(&m, PaymentId::new()).await,
        Err(StoreError::NotFound)
    ));
    store.ping().await.unwrap();
}

pub async fn listing_pages_newest_first_with_filters(db: &Db) {
    let store = &db.store;
    let m = merchant();
    let mut ids = Vec::new();
    for i in 0..5 {
        let (p, op) = started(open_payment(store, &m, &format!("list-{i}"), 100).await);
        if i % 2 == 0 {
            settle(store, p.id, op, ok()).await;
        }
        ids.push(p.id);
    }
    started(open_payment(store, &MerchantId::parse("souk").unwrap(), "list-x", 100).await);
    ids.sort();
    ids.reverse();

    let mut listed = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list(
                &m,
                &ListQuery {
                    page_size: 2,
                    after,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|p| p.id);
        listed.extend(page.into_iter().map(|p| p.id));
    }
    assert_eq!(listed, ids, "newest first, every page continuing the last");

    let authorized = store
        .list(
            &m,
            &ListQuery {
                page_size: 10,
                status: Some(PaymentStatus::Authorized),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(authorized.len(), 3);
    assert!(
        authorized
            .iter()
            .all(|p| p.status == PaymentStatus::Authorized)
    );
    let by_reference = store
        .list(
            &m,
            &ListQuery {
                page_size: 10,
                merchant_reference: Some("order-list-3".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(by_reference.len(), 1);
    assert_eq!(by_reference[0].merchant_reference, "order-list-3");
}

/// A refund's split over the captures and its reason are decided in the begin transaction and
/// come back from the stored document, on another replica too: the reconciler sends them.
pub async fn a_refund_keeps_its_split_and_reason(db: &Db) {
    use paygate::domain::{Capabilities, OperationKind, RefundPart, Timestamp};
    use paygate::store::{Write, Written};
    let store = &db.store;
    let m = merchant();
    let p = authorized(store, "split-1", 10_000).await;
    for (key, minor, capture) in [("split-c1", 3_000, "CAPA"), ("split-c2", 5_000, "CAPB")] {
        let (_, op) = started(
            begin(store, p.id, OperationKind::Capture, Some(minor), key)
                .await
                .unwrap(),
        );
        let captured = Outcome::Succeeded {
            provider_reference: Some(capture.into()),
            expires_at: None,
        };
        settle(store, p.id, op, captured).await;
    }
    let job = Write::BeginOperation {
        claim: claim(&m, "Refund", "split-r", 2),
        payment_id: p.id,
        kind: OperationKind::Refund,
        amount: Some(mad(6_000)),
        final_capture: false,
        reason: "damaged on arrival".into(),
        trace_parent: None,
        caps: Capabilities {
            refunds_per_capture: true,
            ..caps()
        },
        now: Timestamp::now(),
        lease_until: Timestamp::now(),
    };
    let (_, op) = match store.write(job).await.unwrap() {
        Written::Claimed(c) => started(c),
        other => panic!("unexpected {other:?}"),
    };
    let replica = db.replica().await;
    let read = replica.payment(&m, p.id).await.unwrap();
    let refund = read.operation(op).unwrap();
    let part = |capture: &str, minor| RefundPart {
        capture_reference: capture.into(),
        minor,
    };
    assert_eq!(refund.parts, vec![part("CAPB", 5_000), part("CAPA", 1_000)]);
    assert_eq!(refund.reason, "damaged on arrival");
}

/// Webhooks name operations by the provider's ids (PayPal capture and refund ids; a split
/// refund records several, comma-separated): each id finds its payment, only within its
/// merchant and provider, on another replica too.
pub async fn payments_are_found_by_any_of_their_operation_references(db: &Db) {
    use paygate::domain::OperationKind;
    let store = &db.store;
    let m = merchant();
    let p = authorized(store, "opref-1", 10_000).await;
    let succeeded = |reference: &str| Outcome::Succeeded {
        provider_reference: Some(reference.into()),
        expires_at: None,
    };
    let (_, capture) = started(
        begin(store, p.id, OperationKind::Capture, Some(10_000), "opref-c")
            .await
            .unwrap(),
    );
    settle(store, p.id, capture, succeeded("CAP-9")).await;
    let (_, refund) = started(
        begin(store, p.id, OperationKind::Refund, Some(4_000), "opref-r")
            .await
            .unwrap(),
    );
    let settled = settle(store, p.id, refund, succeeded("REF-7,REF-8")).await;
    // Another payment of the merchant, so a lookup has something to pick wrongly.
    authorized(store, "opref-2", 500).await;

    let replica = db.replica().await;
    for reference in ["CAP-9", "REF-7", "REF-8"] {
        let found = replica
            .payment_by_operation_reference(&m, ProviderKind::Mock, reference)
            .await
            .unwrap();
        assert_eq!(found.as_ref(), Some(&settled), "{reference}");
    }
    let souk = MerchantId::parse("souk").unwrap();
    for (merchant, provider, reference) in [
        (&m, ProviderKind::Mock, "REF-"),
        (&m, ProviderKind::Mock, "REF-9"),
        (&m, ProviderKind::Paypal, "CAP-9"),
        (&souk, ProviderKind::Mock, "CAP-9"),
    ] {
        let found = replica
            .payment_by_operation_reference(merchant, provider, reference)
            .await
            .unwrap();
        assert_eq!(found, None, "{merchant} {provider:?} {reference}");
    }
}
