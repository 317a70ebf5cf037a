//! WatchEvents: the durable event log streamed to subscribers, resumable by sequence.

use crate::helpers::*;
use paygate::grpc::proto as pb;
use std::time::Duration;
use tokio_stream::StreamExt;

type Events = tonic::Streaming<pb::PaymentEvent>;

async fn watch(client: &mut Client, after: u64, key: Option<&str>) -> Events {
    client
        .watch_events(maybe_authed(
            pb::WatchEventsRequest {
                after_sequence: after,
            },
            key,
        ))
        .await
        .expect("WatchEvents")
        .into_inner()
}

/// The next `n` events, failing the test if they do not arrive within 10 s.
async fn take(events: &mut Events, n: usize) -> Vec<pb::PaymentEvent> {
    let mut got = Vec::new();
    while got.len() < n {
        let next = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("event did not arrive within 10 s")
            .expect("stream ended")
            .expect("stream error");
        got.push(next);
    }
    got
}

fn kinds(events: &[pb::PaymentEvent]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| (e.payment.as_ref().unwrap().id.clone(), e.r#type.clone()))
        .collect()
}

#[tokio::test]
async fn a_subscriber_sees_each_state_change_in_order_with_the_payment_after_it() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let mut events = watch(&mut client, 0, None).await;
    let p = captured(&mut client, "w-1", 10_000).await;
    client
        .refund(refund_req("w-1-r", &p.id, mad(2_500)))
        .await
        .unwrap();

    let got = take(&mut events, 3).await;
    let expected: Vec<(String, String)> =
        ["payment.authorized", "payment.captured", "payment.refunded"]
            .iter()
            .map(|t| (p.id.clone(), (*t).to_owned()))
            .collect();
    assert_eq!(kinds(&got), expected);
    assert!(
        got.windows(2).all(|w| w[0].sequence < w[1].sequence),
        "sequences increase: {got:?}"
    );
    let last = got[2].payment.as_ref().unwrap();
    assert_eq!(last.status(), pb::PaymentStatus::PartiallyRefunded);
    assert_eq!(amount_of(last.refunded.as_ref()).0, 2_500);
    assert!(got.iter().all(|e| e.occurred_at.is_some()));
}

#[tokio::test]
async fn a_declined_payment_is_announced_as_declined() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let mut events = watch(&mut client, 0, None).await;
    let p = client
        .authorize(authorize_req("w-d", 500, "MAD", "mock_decline"))
        .await
        .unwrap()
        .into_inner();
    let got = take(&mut events, 1).await;
    assert_eq!(kinds(&got), vec![(p.id, "payment.declined".to_owned())]);
}

#[tokio::test]
async fn resuming_after_a_disconnect_and_a_restart_sees_every_event_exactly_once() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let mut events = watch(&mut client, 0, None).await;
    authorized(&mut client, "r-1", 100).await;
    authorized(&mut client, "r-2", 200).await;
    let first = take(&mut events, 2).await;
    drop(events); // disconnect

    // Changes made while nobody listens, then across a restart on the same database.
    authorized(&mut client, "r-3", 300).await;
    let app = app.restart().await;
    let mut client = app.client();
    authorized(&mut client, "r-4", 400).await;

    let resume_at = first.last().unwrap().sequence;
    let mut events = watch(&mut client, resume_at, None).await;
    let rest = take(&mut events, 2).await;
    let amounts: Vec<i64> = first
        .iter()
        .chain(rest.iter())
        .map(|e| amount_of(e.payment.as_ref().unwrap().amount.as_ref()).0)
        .collect();
    assert_eq!(
        amounts,
        vec![100, 200, 300, 400],
        "no loss, no duplicate, in order"
    );
    assert!(rest.iter().all(|e| e.sequence > resume_at));

    // Nothing more is pending: a new change is the very next event.
    authorized(&mut client, "r-5", 500).await;
    let next = take(&mut events, 1).await;
    assert_eq!(
        amount_of(next[0].payment.as_ref().unwrap().amount.as_ref()).0,
        500
    );
}

#[tokio::test]
async fn several_subscribers_each_get_the_full_stream() {
    let app = TestApp::spawn().await;
    let mut client = app.client();
    let mut a = watch(&mut client, 0, None).await;
    let mut b = watch(&mut client, 0, None).await;
    for i in 0..5 {
        authorized(&mut client, &format!("m-{i}"), 100 + i).await;
    }
    let (got_a, got_b) = (take(&mut a, 5).await, take(&mut b, 5).await);
    let seq = |v: &[pb::PaymentEvent]| v.iter().map(|e| e.sequence).collect::<Vec<_>>();
    assert_eq!(seq(&got_a), seq(&got_b));
}

#[tokio::test]
async fn a_merchant_sees_only_its_own_events() {
    let app = TestApp::spawn_multi_merchant().await;
    let mut client = app.client();
    let mut souk = watch(&mut client, 0, Some(SOUK_KEY)).await;
    client
        .authorize(authed(authorize_req("x-1", 100, "MAD", ""), ATLAS_KEY))
        .await
        .unwrap();
    let mine = client
        .authorize(authed(authorize_req("x-2", 200, "MAD", ""), SOUK_KEY))
        .await
        .unwrap()
        .into_inner();
    let got = take(&mut souk, 1).await;
    assert_eq!(
        kinds(&got),
        vec![(mine.id, "payment.authorized".to_owned())]
    );
    let denied = client
        .watch_events(pb::WatchEventsRequest { after_sequence: 0 })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), tonic::Code::Unauthenticated);
}

#[tokio::test]
async fn an_open_subscription_does_not_block_graceful_shutdown() {
    let mut app = TestApp::spawn().await;
    let mut client = app.client();
    let mut events = watch(&mut client, 0, None).await;
    authorized(&mut client, "s-1", 100).await;
    take(&mut events, 1).await;
    app.stop().await; // panics if the app does not stop within 30 s
}

#[tokio::test]
async fn retention_prunes_old_events_and_resuming_below_them_is_out_of_range() {
    let app = TestApp::spawn_with(|s| {
        s.events.retention = Some(Duration::from_secs(1));
        s.idempotency.reap_interval = Duration::from_millis(200);
    })
    .await;
    let mut client = app.client();
    authorized(&mut client, "old-1", 1_000).await;
    authorized(&mut client, "old-2", 1_000).await;
    let mut early = watch(&mut client, 0, None).await;
    let first = take(&mut early, 2).await;
    drop(early);

    // Past the retention window the reaper deletes both events.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let refused = client
            .watch_events(pb::WatchEventsRequest {
                after_sequence: first[0].sequence,
            })
            .await;
        match refused {
            Err(status) => {
                assert_eq!(status.code(), tonic::Code::OutOfRange);
                assert_eq!(reason(&status), "EVENTS_PRUNED");
                break;
            }
            Ok(_) => {
                assert!(tokio::time::Instant::now() < deadline, "never pruned");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    // `after_sequence = 0` starts at the oldest kept event: only what came after the pruning.
    let fresh = authorized(&mut client, "new-1", 1_000).await;
    let mut from_start = watch(&mut client, 0, None).await;
    let got = take(&mut from_start, 1).await;
    assert_eq!(
        got[0].payment.as_ref().map(|p| p.id.clone()),
        Some(fresh.id)
    );
    assert!(got[0].sequence > first[1].sequence);
    // Resuming exactly where a subscriber stopped is fine once it is at the newest event.
    let resumed = client
        .watch_events(pb::WatchEventsRequest {
            after_sequence: got[0].sequence,
        })
        .await;
    assert!(resumed.is_ok());
}

#[tokio::test]
async fn a_merchant_over_its_stream_limit_is_refused_until_one_closes() {
    let app = TestApp::spawn_with(|s| {
        s.server.require_auth = true;
        s.merchants = vec![
            mock_merchant("atlas", Some(ATLAS_KEY)),
            mock_merchant("souk", Some(SOUK_KEY)),
        ];
        s.events.max_streams_per_merchant = 2;
    })
    .await;
    let mut client = app.client();
    let first = watch(&mut client, 0, Some(ATLAS_KEY)).await;
    let _second = watch(&mut client, 0, Some(ATLAS_KEY)).await;
    let third = client
        .watch_events(maybe_authed(
            pb::WatchEventsRequest { after_sequence: 0 },
            Some(ATLAS_KEY),
        ))
        .await;
    assert_error(third, tonic::Code::ResourceExhausted, "TOO_MANY_STREAMS");
    // The limit is per merchant: another merchant still gets a stream.
    let _souk = watch(&mut client, 0, Some(SOUK_KEY)).await;

    // Closing a stream frees its slot (once the server sees the reset, hence the retries).
    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let again = client
            .watch_events(maybe_authed(
                pb::WatchEventsRequest { after_sequence: 0 },
                Some(ATLAS_KEY),
            ))
            .await;
        match again {
            Ok(_) => break,
            Err(status) if tokio::time::Instant::now() < deadline => {
                assert_eq!(reason(&status), "TOO_MANY_STREAMS");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(status) => panic!("the closed stream's slot was never freed: {status:?}"),
        }
    }
}
