//! A database outage fails fast: once the health checker has seen PostgreSQL go away (here a
//! black hole: connections accepted and never answered), calls answer UNAVAILABLE /
//! STORE_UNAVAILABLE at once instead of each waiting out the pool's 5 s acquire timeout, and
//! `/readyz` answers 503 from the last health verdict.

use crate::helpers::*;
use crate::tcp_proxy::TcpProxy;
use std::time::Duration;
use tokio::time::Instant;
use tonic::Code;

async fn postgres_server() -> Option<std::net::SocketAddr> {
    let url = std::env::var("PAYGATE_TEST_POSTGRES_URL").ok()?;
    let url = reqwest::Url::parse(&url).ok()?;
    let host = url.host_str()?.to_owned();
    let port = url.port().unwrap_or(5432);
    tokio::net::lookup_host((host, port)).await.ok()?.next()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn calls_fail_fast_while_the_database_is_known_down_and_resume_after() {
    let Some(server) = postgres_server().await else {
        assert!(TestApp::spawn_postgres_with(|_| {}).await.is_none());
        return;
    };
    let proxy = TcpProxy::start(server).await;
    let through = proxy.addr();
    let Some(app) = TestApp::spawn_postgres_with(|s| {
        let mut url = reqwest::Url::parse(&s.database.url).unwrap();
        url.set_host(Some(&through.ip().to_string())).unwrap();
        url.set_port(Some(through.port())).unwrap();
        s.database.url = url.to_string();
    })
    .await
    else {
        return;
    };
    let mut client = app.client();
    let before = authorized(&mut client, "before-outage", 1_000).await;

    proxy.black_hole();
    // The checker pings every second, a ping counting as failed after at most 2 s.
    let mut known_down = false;
    for _ in 0..100 {
        if app.http_get("/readyz").await.0 == 503 {
            known_down = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(known_down, "/readyz reports the outage");

    for i in 0..5 {
        let started = Instant::now();
        let (status, _) = app.http_get("/readyz").await;
        let readyz = started.elapsed();
        assert_eq!(status, 503);
        let started = Instant::now();
        let err = client
            .authorize(authorize_req(&format!("during-{i}"), 1_000, "MAD", ""))
            .await
            .expect_err("no database, no payment");
        let authorize = started.elapsed();
        let started = Instant::now();
        let get = client.get_payment(get_req(&before.id)).await;
        let read = started.elapsed();
        println!("readyz {readyz:?}, authorize {authorize:?}, get {read:?}");
        assert_eq!(err.code(), Code::Unavailable, "{err:?}");
        assert_eq!(reason(&err), "STORE_UNAVAILABLE", "{err:?}");
        assert_error(get, Code::Unavailable, "STORE_UNAVAILABLE");
        // Before the gate each call waited out the 5 s acquire timeout; /readyz its own ping.
        assert!(
            authorize < Duration::from_secs(1),
            "authorize took {authorize:?}"
        );
        assert!(read < Duration::from_secs(1), "get took {read:?}");
        assert!(readyz < Duration::from_secs(1), "/readyz took {readyz:?}");
    }
    assert_eq!(
        app.ledger().await.authorizations,
        1,
        "nothing reached the processor"
    );

    proxy.restore();
    let mut back = false;
    for _ in 0..100 {
        if app.http_get("/readyz").await.0 == 200 {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "/readyz recovers with the database");
    let again = client.get_payment(get_req(&before.id)).await.unwrap();
    assert_eq!(again.into_inner().id, before.id);
    authorized(&mut client, "during-0", 1_000).await;
}
