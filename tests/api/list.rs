//! ListPayments: filters, newest-first paging, and page_size validation.

use crate::helpers::*;
use paygate::grpc::proto::{self as pb, PaymentStatus};
use tonic::Code;

async fn page(client: &mut Client, req: pb::ListPaymentsRequest) -> pb::ListPaymentsResponse {
    client
        .list_payments(req)
        .await
        .expect("ListPayments")
        .into_inner()
}

#[tokio::test]
async fn filters_by_merchant_reference_and_status() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let mut ids = Vec::new();
    for (i, (reference, token)) in [
        ("ref-a", ""),
        ("ref-b", ""),
        ("ref-a", "mock_decline"),
        ("ref-c", ""),
    ]
    .into_iter()
    .enumerate()
    {
        let mut req = authorize_req(&format!("filter-{i}"), 1_000, "MAD", token);
        req.merchant_reference = reference.into();
        ids.push(
            client
                .authorize(req)
                .await
                .expect("authorize")
                .into_inner()
                .id,
        );
    }
    client
        .capture(capture_req("filter-cap", &ids[3], None))
        .await
        .expect("capture");

    let by_ref = page(
        &mut client,
        pb::ListPaymentsRequest {
            merchant_reference: "ref-a".into(),
            ..Default::default()
        },
    )
    .await;
    let got: Vec<_> = by_ref.payments.iter().map(|p| p.id.clone()).collect();
    assert_eq!(
        got,
        vec![ids[2].clone(), ids[0].clone()],
        "ref-a payments, newest first"
    );
    assert!(by_ref.next_page_token.is_empty());

    let by_status = |status: PaymentStatus| pb::ListPaymentsRequest {
        status: status.into(),
        ..Default::default()
    };
    let declined = page(&mut client, by_status(PaymentStatus::Declined)).await;
    assert_eq!(
        declined
            .payments
            .iter()
            .map(|p| p.id.clone())
            .collect::<Vec<_>>(),
        vec![ids[2].clone()]
    );
    let authorized = page(&mut client, by_status(PaymentStatus::Authorized)).await;
    assert_eq!(
        authorized
            .payments
            .iter()
            .map(|p| p.id.clone())
            .collect::<Vec<_>>(),
        vec![ids[1].clone(), ids[0].clone()]
    );
    let captured = page(&mut client, by_status(PaymentStatus::Captured)).await;
    assert_eq!(
        captured
            .payments
            .iter()
            .map(|p| p.id.clone())
            .collect::<Vec<_>>(),
        vec![ids[3].clone()]
    );
    assert!(
        page(&mut client, by_status(PaymentStatus::Voided))
            .await
            .payments
            .is_empty()
    );

    let both = pb::ListPaymentsRequest {
        merchant_reference: "ref-a".into(),
        status: PaymentStatus::Authorized.into(),
        ..Default::default()
    };
    let both = page(&mut client, both).await;
    assert_eq!(
        both.payments
            .iter()
            .map(|p| p.id.clone())
            .collect::<Vec<_>>(),
        vec![ids[0].clone()]
    );
    let none = pb::ListPaymentsRequest {
        merchant_reference: "ref-zzz".into(),
        ..Default::default()
    };
    assert!(page(&mut client, none).await.payments.is_empty());
}

#[tokio::test]
async fn paging_by_two_returns_each_of_five_payments_once_newest_first() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(
            authorized(&mut client, &format!("paging-{i}"), 1_000 + i)
                .await
                .id,
        );
    }
    let newest_first: Vec<_> = created.iter().rev().cloned().collect();

    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let req = pb::ListPaymentsRequest {
            page_size: 2,
            page_token: token.clone(),
            ..Default::default()
        };
        let answer = page(&mut client, req).await;
        assert!(answer.payments.len() <= 2, "page_size is respected");
        seen.extend(answer.payments.iter().map(|p| p.id.clone()));
        pages += 1;
        assert!(pages <= 5, "paging does not end: {seen:?}");
        if answer.next_page_token.is_empty() {
            break;
        }
        token = answer.next_page_token;
    }
    assert_eq!(
        seen, newest_first,
        "each payment exactly once, newest first"
    );
    assert_eq!(pages, 3);

    // The default page holds all five.
    let all = page(&mut client, pb::ListPaymentsRequest::default()).await;
    assert_eq!(
        all.payments
            .iter()
            .map(|p| p.id.clone())
            .collect::<Vec<_>>(),
        newest_first
    );
    assert!(all.next_page_token.is_empty());
}

#[tokio::test]
async fn bad_page_size_is_invalid_argument() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    for size in [-1, 501, i32::MAX, i32::MIN] {
        let req = pb::ListPaymentsRequest {
            page_size: size,
            ..Default::default()
        };
        let status = client.list_payments(req).await.expect_err("bad page_size");
        assert_eq!(status.code(), Code::InvalidArgument, "{size}: {status:?}");
        assert_eq!(bad_fields(&status), vec!["page_size".to_owned()], "{size}");
    }
    let req = pb::ListPaymentsRequest {
        page_size: 500,
        ..Default::default()
    };
    client
        .list_payments(req)
        .await
        .expect("500 is the largest page");
    let req = pb::ListPaymentsRequest {
        page_token: "not-a-token".into(),
        ..Default::default()
    };
    let status = client.list_payments(req).await.expect_err("bad page_token");
    assert_eq!(status.code(), Code::InvalidArgument);
}
