#![allow(clippy::unwrap_used, clippy::panic)]

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

fn cert(tag: u8) -> Cert {
    CertificateDer::from(vec![tag; 4])
}

fn cache(entries: usize, per_minute: u32) -> CertCache {
    CertCache::new(NonZeroUsize::new(entries).unwrap(), per_minute)
}

#[tokio::test(start_paused = true)]
async fn concurrent_deliveries_naming_one_url_share_one_fetch() {
    let cache = cache(16, 10);
    let fetches = AtomicUsize::new(0);
    let fetch = || async {
        fetches.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(cert(1))
    };
    let all = futures::future::join_all((0..20).map(|_| cache.fetch("u1", fetch))).await;
    assert!(all.iter().all(|r| r == &Ok(cert(1))));
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    assert!(
        lock(&cache.flights).is_empty(),
        "the finished fetch is forgotten"
    );
}

#[tokio::test(start_paused = true)]
async fn a_fetch_that_hangs_holds_up_no_other_url() {
    let cache = cache(16, 10);
    let hanging = cache.fetch("slow", futures::future::pending);
    let other = cache.fetch("fast", || async { Ok(cert(2)) });
    tokio::select! {
        _ = hanging => panic!("never finishes"),
        got = other => assert_eq!(got, Ok(cert(2))),
    }
}

#[tokio::test(start_paused = true)]
async fn fetches_beyond_the_budget_are_refused_until_the_next_minute() {
    let cache = cache(16, 3);
    let fetches = AtomicUsize::new(0);
    let fetch = || async {
        fetches.fetch_add(1, Ordering::SeqCst);
        Err("404".to_owned())
    };
    for url in ["a", "b", "c"] {
        assert_eq!(
            cache.fetch(url, fetch).await,
            Err(Miss::Failed("404".into()))
        );
    }
    assert_eq!(cache.fetch("d", fetch).await, Err(Miss::Throttled));
    // A failure is not kept: the same URL again is a new fetch, so it is refused too.
    assert_eq!(cache.fetch("a", fetch).await, Err(Miss::Throttled));
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        3,
        "nothing fetched once refused"
    );

    tokio::time::advance(Duration::from_secs(60)).await;
    assert_eq!(
        cache.fetch("d", fetch).await,
        Err(Miss::Failed("404".into()))
    );
    assert_eq!(fetches.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn a_waiter_takes_over_when_the_fetching_delivery_goes_away() {
    let cache = cache(16, 10);
    let first = cache.fetch("u", futures::future::pending);
    // The first caller starts the fetch, then is dropped (its client hung up).
    assert!(
        tokio::time::timeout(Duration::from_millis(10), first)
            .await
            .is_err()
    );
    assert!(lock(&cache.flights).is_empty(), "no waiter left: forgotten");

    let hanging = cache.fetch("u", futures::future::pending);
    let waiter = cache.fetch("u", || async { Ok(cert(3)) });
    let hanging = tokio::time::timeout(Duration::from_millis(10), hanging);
    let (first, second) = tokio::join!(hanging, waiter);
    assert!(first.is_err());
    assert_eq!(second, Ok(cert(3)));
    assert!(lock(&cache.flights).is_empty());
}

#[test]
fn the_least_recently_used_certificate_is_the_one_dropped() {
    let cache = cache(2, 10);
    cache.remember("a", cert(1));
    cache.remember("b", cert(2));
    assert_eq!(cache.verified("a"), Some(cert(1)));
    cache.remember("c", cert(3));
    assert_eq!(cache.verified("b"), None, "b was used least recently");
    assert_eq!(cache.verified("a"), Some(cert(1)));
    assert_eq!(cache.verified("c"), Some(cert(3)));
}
