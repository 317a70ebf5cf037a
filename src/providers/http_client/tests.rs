//! The stack against a real HTTP server on loopback that counts what reaches it: which answers
//! are retried for which kind of call, `Retry-After`, the concurrency limit, the breaker.

use super::backoff::BackoffSettings;
use super::breaker::{BreakerSettings, BreakerState};
use super::{ProviderHttp, ResilienceSettings, Retry, SendError};
use crate::domain::ProviderKind;
use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;

/// A server whose `/` answers `status` (with `retry_after` seconds, if any) after `delay`.
async fn server(
    status: StatusCode,
    retry_after: Option<&'static str>,
    delay: Duration,
) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = Router::new().route(
        "/",
        get(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                match retry_after {
                    Some(secs) => (status, [("retry-after", secs)]).into_response(),
                    None => status.into_response(),
                }
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hits)
}

fn stack(settings: ResilienceSettings) -> ProviderHttp {
    super::install_crypto_provider();
    let client = reqwest::Client::builder().build().unwrap();
    ProviderHttp::new(ProviderKind::Mock, client, settings, None)
}

fn settings() -> ResilienceSettings {
    ResilienceSettings {
        total_timeout: Duration::from_secs(5),
        max_concurrent: 16,
        backoff: BackoffSettings {
            max_attempts: 3,
            base: Duration::from_millis(5),
            max: Duration::from_secs(2),
        },
        breaker: BreakerSettings {
            min_calls: 1000,
            ..BreakerSettings::default()
        },
    }
}

async fn get_status(http: &ProviderHttp, url: &str, retry: Retry) -> Result<u16, String> {
    http.send("test", retry, |c| c.get(url))
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn safe_calls_are_retried_on_5xx_and_unsafe_ones_are_not() {
    let (url, hits) = server(StatusCode::BAD_GATEWAY, None, Duration::ZERO).await;
    let http = stack(settings());
    let retried = get_status(&http, &url, Retry::Safe).await;
    assert!(
        retried
            .as_ref()
            .is_err_and(|e| e.contains("may have been applied")),
        "a 502 may have acted: after three, the call's outcome is unknown: {retried:?}"
    );
    assert_eq!(hits.swap(0, Ordering::SeqCst), 3, "three attempts");
    assert_eq!(get_status(&http, &url, Retry::OnlyIfNotSent).await, Ok(502));
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "a non-idempotent call is sent once"
    );
}

#[tokio::test]
async fn a_4xx_is_an_answer_not_a_failure() {
    let (url, hits) = server(StatusCode::CONFLICT, None, Duration::ZERO).await;
    let http = stack(settings());
    assert_eq!(get_status(&http, &url, Retry::Safe).await, Ok(409));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn retry_after_is_waited_for_even_on_unsafe_calls_and_too_long_ends_retries() {
    let (url, hits) = server(StatusCode::TOO_MANY_REQUESTS, Some("1"), Duration::ZERO).await;
    let http = stack(settings());
    let started = std::time::Instant::now();
    assert_eq!(get_status(&http, &url, Retry::OnlyIfNotSent).await, Ok(429));
    assert_eq!(
        hits.load(Ordering::SeqCst),
        3,
        "429 means not acted: retried"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "waited 1 s twice"
    );

    let (url, hits) = server(StatusCode::TOO_MANY_REQUESTS, Some("60"), Duration::ZERO).await;
    assert_eq!(get_status(&http, &url, Retry::Safe).await, Ok(429));
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "a 60 s wait is beyond the cap: give up"
    );
}

#[tokio::test]
async fn a_refused_connection_is_not_sent_and_a_timeout_is_unknown() {
    let http = stack(settings());
    // Port 9 (discard) is closed on loopback: the connect fails, nothing left this process.
    let refused = http.send("test", Retry::OnlyIfNotSent, |c| {
        c.get("http://127.0.0.1:9/")
    });
    assert!(matches!(refused.await, Err(SendError::NotSent(_))));

    let (url, hits) = server(StatusCode::OK, None, Duration::from_secs(3)).await;
    let impatient = stack(ResilienceSettings {
        total_timeout: Duration::from_millis(200),
        ..settings()
    });
    let slow = impatient.send("test", Retry::Safe, |c| c.get(&url)).await;
    assert!(matches!(slow, Err(SendError::Unknown(_))), "{slow:?}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "the budget was spent on one attempt"
    );
}

#[tokio::test]
async fn the_concurrency_limit_makes_extra_calls_wait_then_fail_as_not_sent() {
    let (url, hits) = server(StatusCode::OK, None, Duration::from_millis(600)).await;
    let http = stack(ResilienceSettings {
        total_timeout: Duration::from_millis(300),
        max_concurrent: 1,
        ..settings()
    });
    let first = {
        let (http, url) = (http.clone(), url.clone());
        tokio::spawn(async move {
            http.send("test", Retry::OnlyIfNotSent, |c| c.get(&url))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    // This caller gives up (its deadline) while the first call still holds the only slot.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(150);
    let second = crate::deadline::within(
        Some(deadline),
        http.send("test", Retry::OnlyIfNotSent, |c| c.get(&url)),
    )
    .await;
    assert!(matches!(second, Err(SendError::NotSent(_))), "{second:?}");
    assert!(matches!(first.await.unwrap(), Err(SendError::Unknown(_))));
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "the second call never reached the server"
    );
}

#[tokio::test]
async fn an_open_breaker_refuses_without_sending() {
    let (url, hits) = server(StatusCode::SERVICE_UNAVAILABLE, None, Duration::ZERO).await;
    let http = stack(ResilienceSettings {
        backoff: BackoffSettings {
            max_attempts: 1,
            ..settings().backoff
        },
        breaker: BreakerSettings {
            window_secs: 10,
            min_calls: 5,
            failure_percent: 50,
            open_for: Duration::from_secs(60),
        },
        ..settings()
    });
    for _ in 0..5 {
        assert_eq!(get_status(&http, &url, Retry::Safe).await, Ok(503));
    }
    assert_eq!(http.breaker_state(), BreakerState::Open);
    let refused = http.send("test", Retry::Safe, |c| c.get(&url)).await;
    assert!(matches!(refused, Err(SendError::NotSent(_))), "{refused:?}");
    assert_eq!(hits.load(Ordering::SeqCst), 5);
}

/// A server whose `/` gives the scripted answers in order (status, JSON body), then repeats
/// the last one; counts the requests that reached it.
async fn scripted(answers: Vec<(StatusCode, &'static str)>) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let answers = Arc::new(answers);
    let app = Router::new().route(
        "/",
        get(move || {
            let (counter, answers) = (counter.clone(), answers.clone());
            async move {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let (status, body) = answers
                    .get(n)
                    .or(answers.last())
                    .copied()
                    .unwrap_or((StatusCode::OK, "{}"));
                (status, [("content-type", "application/json")], body).into_response()
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hits)
}

const DROPPED: (StatusCode, &str) = (
    StatusCode::GATEWAY_TIMEOUT,
    r#"{"error":"dropped","message":"applied, answer lost"}"#,
);
const UNAVAILABLE: (StatusCode, &str) = (
    StatusCode::SERVICE_UNAVAILABLE,
    r#"{"error":"unavailable","message":"not processed"}"#,
);

/// The mock processor's protocol: its 503 `unavailable` comes only before acting.
fn mock_stack(settings: ResilienceSettings) -> ProviderHttp {
    super::install_crypto_provider();
    let client = reqwest::Client::builder().build().unwrap();
    ProviderHttp::with_protocol(
        ProviderKind::Mock,
        client,
        settings,
        None,
        crate::providers::mock::api::not_processed,
    )
}

#[tokio::test]
async fn an_answer_lost_after_acting_then_refusals_is_unknown_never_not_sent() {
    let (url, hits) = scripted(vec![DROPPED, UNAVAILABLE, UNAVAILABLE]).await;
    let http = mock_stack(settings());
    let result = http.send("test", Retry::Safe, |c| c.get(&url)).await;
    assert!(matches!(result, Err(SendError::Unknown(_))), "{result:?}");
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn refusals_before_acting_alone_leave_the_last_refusal_to_the_adapter() {
    let (url, _) = scripted(vec![UNAVAILABLE]).await;
    let http = mock_stack(settings());
    assert_eq!(get_status(&http, &url, Retry::Safe).await, Ok(503));
    // A 503 the protocol does not mark as "not processed" (no `unavailable` body) may have
    // acted: after it, a later refusal cannot prove anything.
    let (url, _) = scripted(vec![
        (
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"error":"overloaded","message":""}"#,
        ),
        UNAVAILABLE,
    ])
    .await;
    let result = get_status(&http, &url, Retry::Safe).await;
    assert!(result.is_err_and(|e| e.contains("may have been applied")));
}

#[tokio::test]
async fn an_answer_lost_then_a_replayed_success_is_the_success() {
    let (url, hits) = scripted(vec![DROPPED, UNAVAILABLE, (StatusCode::OK, "{}")]).await;
    let http = mock_stack(settings());
    assert_eq!(get_status(&http, &url, Retry::Safe).await, Ok(200));
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn an_answer_lost_then_the_breaker_opening_is_unknown() {
    let (url, hits) = scripted(vec![DROPPED]).await;
    // The breaker opens on the first failure: the retry is refused before any send.
    let http = mock_stack(ResilienceSettings {
        breaker: BreakerSettings {
            window_secs: 10,
            min_calls: 1,
            failure_percent: 1,
            open_for: Duration::from_secs(60),
        },
        ..settings()
    });
    let result = http.send("test", Retry::Safe, |c| c.get(&url)).await;
    assert_eq!(http.breaker_state(), BreakerState::Open);
    assert!(matches!(result, Err(SendError::Unknown(_))), "{result:?}");
    assert_eq!(hits.load(Ordering::SeqCst), 1, "the retry was never sent");
    // A call that starts with the breaker open was never sent anywhere.
    let refused = http.send("test", Retry::Safe, |c| c.get(&url)).await;
    assert!(matches!(refused, Err(SendError::NotSent(_))), "{refused:?}");
}

#[tokio::test]
async fn an_answer_lost_then_no_time_left_is_unknown() {
    let (url, hits) = scripted(vec![DROPPED]).await;
    let http = mock_stack(ResilienceSettings {
        backoff: BackoffSettings {
            max_attempts: 5,
            base: Duration::from_secs(1),
            max: Duration::from_secs(1),
        },
        ..settings()
    });
    // The backoff would outlast the caller's deadline: no retry, and no "not sent" either.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(100);
    let result = crate::deadline::within(
        Some(deadline),
        http.send("test", Retry::Safe, |c| c.get(&url)),
    )
    .await;
    match result {
        // The last (only) answer is the 504 itself, for the adapter: unknown by its protocol.
        Ok(response) => assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT),
        Err(error) => assert!(matches!(error, SendError::Unknown(_)), "{error:?}"),
    }
    assert!(hits.load(Ordering::SeqCst) <= 2);
}
