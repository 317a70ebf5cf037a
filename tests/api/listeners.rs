//! The listeners under abuse: slow and idle connections are closed on time, a gRPC connection
//! that never speaks HTTP/2 is closed, and at the connection cap the idle ones give way.

use crate::helpers::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

const SHORT: Duration = Duration::from_millis(600);

async fn spawn_short() -> TestApp {
    TestApp::spawn_with(|s| {
        let c = &mut s.server.connections;
        c.header_read_timeout = SHORT;
        c.body_read_timeout = SHORT;
        c.grpc_handshake_timeout = SHORT;
        c.grpc_idle_timeout = Duration::from_secs(1);
    })
    .await
}

fn http_addr(app: &TestApp) -> SocketAddr {
    app.http_base()
        .trim_start_matches("http://")
        .parse()
        .unwrap()
}

/// Reads until the server closes the connection (EOF or reset) and returns what it sent, or
/// `None` if it was still open after `limit`.
async fn read_until_closed(tcp: &mut (impl AsyncRead + Unpin), limit: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0_u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Sends `bytes` one at a time, `every` apart, stopping early if the server closed.
async fn trickle(tcp: &mut (impl AsyncWrite + Unpin), bytes: &[u8], every: Duration) {
    for byte in bytes {
        if tcp.write_all(&[*byte]).await.is_err() {
            return;
        }
        tokio::time::sleep(every).await;
    }
}

#[tokio::test]
async fn a_request_head_sent_slowly_is_cut_off_at_the_header_timeout() {
    let app = spawn_short().await;
    let tcp = TcpStream::connect(http_addr(&app)).await.unwrap();
    let (mut reader, mut writer) = tcp.into_split();
    let started = Instant::now();
    // 40 bytes at 10/s: 4 s to finish the head, far past the 0.6 s allowed.
    let head = b"GET /healthz HTTP/1.1\r\nHost: paygate\r\n\r\n";
    let (closed, ()) = tokio::join!(
        read_until_closed(&mut reader, Duration::from_secs(3)),
        trickle(&mut writer, head, Duration::from_millis(100)),
    );
    let closed = closed.expect("closed before the head was complete");
    assert!(started.elapsed() >= SHORT, "not before the timeout");
    assert!(
        !String::from_utf8_lossy(&closed).contains("200 OK"),
        "never served: {closed:?}"
    );
    let text = app.metrics().await;
    assert!(
        metric_value(
            &text,
            "paygate_connections_closed_total{listener=\"http\",reason=\"header_timeout\"}"
        ) >= 1.0,
        "{text}"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = spawn_short().await;
    let mut tcp = TcpStream::connect(http_addr(&app)).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: paygate\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0_u8; 1024];
    let n = tcp.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // Keep-alive: the connection stays open for the next request, but not for ever.
    let started = Instant::now();
    let rest = read_until_closed(&mut tcp, Duration::from_secs(3))
        .await
        .expect("an idle keep-alive connection is closed");
    assert!(rest.is_empty(), "{rest:?}");
    assert!(started.elapsed() >= SHORT / 2, "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_body_sent_slowly_gets_408_and_the_connection_is_closed() {
    let app = spawn_short().await;
    let tcp = TcpStream::connect(http_addr(&app)).await.unwrap();
    let (mut reader, mut tcp) = tcp.into_split();
    tcp.write_all(
        b"POST /webhooks/mock/default HTTP/1.1\r\nHost: paygate\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n",
    )
    .await
    .unwrap();
    let read =
        tokio::spawn(async move { read_until_closed(&mut reader, Duration::from_secs(5)).await });
    // 100 bytes at 10/s: each byte keeps a per-read timeout happy, the whole takes 10 s.
    trickle(&mut tcp, &[b'x'; 100], Duration::from_millis(100)).await;
    let answer = read.await.unwrap().expect("closed after the body timeout");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test]
async fn a_grpc_connection_that_never_sends_the_preface_is_closed() {
    let app = spawn_short().await;
    let mut tcp = TcpStream::connect(app.grpc_addr()).await.unwrap();
    let started = Instant::now();
    read_until_closed(&mut tcp, Duration::from_secs(3))
        .await
        .expect("closed at the handshake timeout");
    assert!(started.elapsed() >= SHORT / 2, "{:?}", started.elapsed());
    let text = app.metrics().await;
    assert!(
        metric_value(
            &text,
            "paygate_connections_closed_total{listener=\"grpc\",reason=\"handshake_timeout\"}"
        ) >= 1.0,
        "{text}"
    );
}

#[tokio::test]
async fn a_grpc_connection_with_no_call_in_flight_is_closed_when_idle() {
    let app = spawn_short().await;
    let mut client = app.client();
    authorized(&mut client, "before-idle", 1_000).await;
    let series = "paygate_connections_closed_total{listener=\"grpc\",reason=\"idle_timeout\"}";
    let mut closed = 0.0;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        closed = metric_value(&app.metrics().await, series);
        if closed >= 1.0 {
            break;
        }
    }
    assert!(closed >= 1.0, "the idle connection was closed");
    // The client reconnects on its next call.
    authorized(&mut client, "after-idle", 1_000).await;
}

#[tokio::test]
async fn a_long_call_is_not_idle() {
    // WatchEvents streams for longer than the idle timeout with no call starting: its
    // connection stays open while the stream does.
    let app = spawn_short().await;
    let mut client = app.client();
    let mut stream = client
        .watch_events(paygate::grpc::proto::WatchEventsRequest::default())
        .await
        .unwrap()
        .into_inner();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let mut other = app.client();
    authorized(&mut other, "during-watch", 1_000).await;
    let event = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("the stream still delivers")
        .expect("no stream error");
    assert!(event.is_some());
}

#[tokio::test]
async fn at_the_cap_slow_connections_give_way_and_health_still_answers() {
    let app = TestApp::spawn_with(|s| s.server.connections.max_connections = Some(8)).await;
    let addr = http_addr(&app);
    // Twice the cap in slow clients, each holding its connection with half a request head.
    let mut slow = Vec::new();
    for _ in 0..16 {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let _ = tcp.write_all(b"GET /healthz HTTP/1.1\r\n").await;
        slow.push(tcp);
    }
    for _ in 0..5 {
        let (status, body) = app.http_get("/healthz").await;
        assert_eq!((status, body.as_str()), (200, "ok"));
        let (status, _) = app.http_get("/readyz").await;
        assert_eq!(status, 200);
    }
    let text = app.metrics().await;
    assert!(
        metric_value(
            &text,
            "paygate_connections_closed_total{listener=\"http\",reason=\"evicted\"}"
        ) >= 8.0,
        "{text}"
    );
    assert!(
        metric_value(&text, "paygate_connections_open{listener=\"http\"}") <= 9.0,
        "{text}"
    );
}

#[tokio::test]
async fn a_request_head_over_64_kib_is_431() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    let big = "a".repeat(70 * 1024);
    let answer = client
        .get(format!("{}/healthz", app.http_base()))
        .header("x-big", big)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 431);
    let (status, _) = app.http_get("/healthz").await;
    assert_eq!(status, 200);
}
