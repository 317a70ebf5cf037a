//! Two replicas on one PostgreSQL database: every event reaches every endpoint, once while the
//! receivers answer promptly (claims are leased; fan-out moves one cursor).

use super::*;
use crate::helpers::*;
use std::collections::HashSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_deliver_each_event_to_each_endpoint_once() {
    let (a, b) = (
        Receiver::start(Mode::Ok).await,
        Receiver::start(Mode::Ok).await,
    );
    let Some(first) = TestApp::spawn_postgres_with(|s| {
        let m = s.merchants[0].id.to_string();
        s.merchants[0].webhook_endpoints =
            vec![endpoint("we_a", &m, &a, &[]), endpoint("we_b", &m, &b, &[])];
        s.webhooks = delivery(&[0, 1, 1], Duration::from_secs(5));
    })
    .await
    else {
        return;
    };
    let second = first.spawn_replica().await;
    const N: usize = 20;
    let mut tasks = Vec::new();
    for i in 0..N {
        let mut client = if i % 2 == 0 {
            first.client()
        } else {
            second.client()
        };
        tasks.push(tokio::spawn(async move {
            captured(&mut client, &format!("rep-{i}"), 1_000).await.id
        }));
    }
    let mut payments = HashSet::new();
    for t in tasks {
        payments.insert(t.await.unwrap());
    }
    for (rx, endpoint) in [(&a, "we_a"), (&b, "we_b")] {
        let got = rx
            .wait_for(Duration::from_secs(30), "two events per payment", |g| {
                g.len() >= 2 * N
            })
            .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let got = if rx.got().len() > got.len() {
            rx.got()
        } else {
            got
        };
        let ids: HashSet<&str> = got.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids.len(),
            got.len(),
            "{endpoint}: no webhook-id delivered twice"
        );
        assert_eq!(got.len(), 2 * N, "{endpoint}: every event, once");
        let seen: HashSet<String> = got.iter().map(Received::payment_id).collect();
        assert_eq!(seen, payments, "{endpoint}: no payment missing");
        assert!(got.iter().all(verified));
        for r in &got {
            assert!(r.id.starts_with(&format!("msg_{endpoint}_")));
        }
    }
}
