//! The sender against real loopback servers, one per fault the issue lists: each is a failed
//! attempt with its kind, and the refused addresses never see a connection.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::*;
use crate::domain::MerchantId;
use crate::shop_webhooks::address::FixedResolver;
use crate::standard_webhooks::WebhookSecret;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;

const NEW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OLD_SECRET: &str = "whsec_dGhlIG9sZCBzZWNyZXQgYmVpbmcgcm90YXRlZA==";
const BODY: &[u8] = br#"{"type":"payment.captured","sequence":7}"#;

/// One-second attempts keep the timeout cases short.
fn settings() -> DeliverySettings {
    DeliverySettings {
        timeout: Duration::from_secs(1),
        ..DeliverySettings::default()
    }
}

fn endpoint(url: &str, allow_loopback: bool, allow_private: bool) -> Endpoint {
    Endpoint {
        id: "we_test".into(),
        merchant: MerchantId::parse("shop").unwrap(),
        url: url.parse().unwrap(),
        secrets: vec![
            WebhookSecret::parse(NEW_SECRET).unwrap(),
            WebhookSecret::parse(OLD_SECRET).unwrap(),
        ],
        events: Vec::new(),
        allow_loopback,
        allow_private,
        max_concurrent: 4,
    }
}

fn sender() -> Sender {
    Sender::new(&settings()).unwrap()
}

/// A request as the receiver saw it: lower-cased header names, and the raw body.
struct Received {
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// What a scripted receiver does once it has read a request.
#[derive(Clone)]
enum Script {
    /// Writes these bytes, then closes.
    Answer(String),
    /// Never answers (holds the connection open).
    Silent,
    /// Waits, then answers.
    Late(Duration, String),
    /// Closes with a TCP reset.
    Reset,
    /// A 200 whose body (no length, ends at close) is this many bytes; counts what it wrote.
    Huge(usize),
}

struct Receiver {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    /// Bytes of body the receiver managed to write, for `Script::Huge`.
    written: Arc<AtomicUsize>,
    requests: mpsc::UnboundedReceiver<Received>,
}

impl Receiver {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

async fn receiver(script: Script) -> Receiver {
    // A small send buffer, inherited by accepted sockets, so a receiver that stops reading
    // leaves the writer blocked rather than holding megabytes in the kernel.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(16 * 1024).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener: TcpListener = socket.listen(16).unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let written = Arc::new(AtomicUsize::new(0));
    let (tx, requests) = mpsc::unbounded_channel();
    let (h, w) = (hits.clone(), written.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            h.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(handle(stream, script.clone(), tx.clone(), w.clone()));
        }
    });
    Receiver {
        addr,
        hits,
        written,
        requests,
    }
}

async fn handle(
    mut stream: TcpStream,
    script: Script,
    tx: mpsc::UnboundedSender<Received>,
    written: Arc<AtomicUsize>,
) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    let _ = tx.send(request);
    match script {
        Script::Answer(text) => {
            let _ = stream.write_all(text.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
        Script::Silent => tokio::time::sleep(Duration::from_secs(30)).await,
        Script::Late(wait, text) => {
            tokio::time::sleep(wait).await;
            let _ = stream.write_all(text.as_bytes()).await;
        }
        Script::Reset => {
            stream.set_zero_linger().unwrap();
            drop(stream);
        }
        Script::Huge(total) => {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n";
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = vec![b'x'; 16 * 1024];
            let mut sent = 0;
            while sent < total {
                if stream.write_all(&chunk).await.is_err() {
                    break;
                }
                sent += chunk.len();
                written.store(sent, Ordering::SeqCst);
            }
        }
    }
}

async fn read_request(stream: &mut TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let headers: HashMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Received { headers, body })
}

fn answer(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn assert_failed(attempt: &Attempt, kind: &str) {
    assert!(!attempt.delivered(), "{attempt:?}");
    assert_eq!(attempt.failure_kind(), Some(kind), "{attempt:?}");
}

#[tokio::test]
async fn a_2xx_is_delivered_signed_with_both_secrets_during_rotation() {
    let mut shop = receiver(Script::Answer(answer("204 No Content", ""))).await;
    let attempt = sender()
        .send(
            &endpoint(&shop.url("/hooks?t=1"), true, false),
            "msg_we_test_7",
            BODY,
        )
        .await;
    assert!(attempt.delivered(), "{attempt:?}");
    assert_eq!(attempt.status, Some(204));
    assert_eq!(attempt.failure_kind(), None);

    let got = shop.requests.recv().await.unwrap();
    assert_eq!(got.body, BODY);
    let h = &got.headers;
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(h["webhook-id"], "msg_we_test_7");
    assert_eq!(
        h["user-agent"],
        concat!("paygate-webhooks/", env!("CARGO_PKG_VERSION"))
    );
    let signature = &h["webhook-signature"];
    assert_eq!(signature.split(' ').count(), 2, "{signature}");
    assert!(signature.split(' ').all(|e| e.starts_with("v1,")));
    let now = crate::domain::Timestamp::now().seconds();
    let signed_at: i64 = h["webhook-timestamp"].parse().unwrap();
    assert!((now - signed_at).abs() < 60, "the attempt's time");
    // A receiver that knows only one of the two secrets verifies, either one.
    for secret in [NEW_SECRET, OLD_SECRET] {
        let only = [WebhookSecret::parse(secret).unwrap()];
        standard_webhooks::verify(
            &only,
            &h["webhook-id"],
            &h["webhook-timestamp"],
            signature,
            &got.body,
            now,
        )
        .unwrap();
    }
    let other = [WebhookSecret::parse("whsec_b3RoZXI=").unwrap()];
    let wrong = standard_webhooks::verify(
        &other,
        &h["webhook-id"],
        &h["webhook-timestamp"],
        signature,
        &got.body,
        now,
    );
    assert!(wrong.is_err());
}

#[tokio::test]
async fn a_500_is_a_failed_attempt_with_its_status() {
    let shop = receiver(Script::Answer(answer("500 Internal Server Error", "oops"))).await;
    let attempt = sender()
        .send(&endpoint(&shop.url("/"), true, false), "msg_1", BODY)
        .await;
    assert_failed(&attempt, "status");
    assert_eq!(attempt.status, Some(500));
    assert_eq!(attempt.error.as_deref(), Some("status: HTTP 500"));
}

#[tokio::test]
async fn no_answer_times_out() {
    let shop = receiver(Script::Silent).await;
    let attempt = sender()
        .send(&endpoint(&shop.url("/"), true, false), "msg_1", BODY)
        .await;
    assert_failed(&attempt, "timeout");
    assert_eq!(attempt.status, None);
    assert_eq!(shop.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_200_after_the_timeout_is_a_timeout_not_a_delivery() {
    let late = Script::Late(Duration::from_secs(3), answer("200 OK", "ok"));
    let shop = receiver(late).await;
    let attempt = sender()
        .send(&endpoint(&shop.url("/"), true, false), "msg_1", BODY)
        .await;
    assert_failed(&attempt, "timeout");
}

#[tokio::test]
async fn a_reset_connection_is_a_reset() {
    let shop = receiver(Script::Reset).await;
    let attempt = sender()
        .send(&endpoint(&shop.url("/"), true, false), "msg_1", BODY)
        .await;
    assert_failed(&attempt, "reset");
    assert_eq!(attempt.status, None);
}

#[tokio::test]
async fn a_redirect_is_recorded_and_not_followed() {
    let target = receiver(Script::Answer(answer("200 OK", "ok"))).await;
    let redirect = format!(
        "HTTP/1.1 302 Found\r\nlocation: {}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        target.url("/elsewhere")
    );
    let shop = receiver(Script::Answer(redirect)).await;
    let attempt = sender()
        .send(&endpoint(&shop.url("/"), true, false), "msg_1", BODY)
        .await;
    assert_failed(&attempt, "redirect");
    assert_eq!(attempt.status, Some(302));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(target.hits.load(Ordering::SeqCst), 0, "the target was hit");
}

#[tokio::test]
async fn a_10_mib_answer_fails_and_is_not_read_to_the_end() {
    const TEN_MIB: usize = 10 * 1024 * 1024;
    let shop = receiver(Script::Huge(TEN_MIB)).await;
    let attempt = sender()
        .send(&endpoint(&shop.url("/"), true, false), "msg_1", BODY)
        .await;
    assert_failed(&attempt, "too_large");
    assert_eq!(attempt.status, Some(200), "even with a 2xx");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let written = shop.written.load(Ordering::SeqCst);
    assert!(written < TEN_MIB, "the receiver wrote all {written} bytes");
}

#[tokio::test]
async fn a_declared_length_over_the_limit_fails_unread() {
    let big = "x".repeat(100 * 1024);
    let shop = receiver(Script::Answer(answer("200 OK", &big))).await;
    let attempt = sender()
        .send(&endpoint(&shop.url("/"), true, false), "msg_1", BODY)
        .await;
    assert_failed(&attempt, "too_large");
    assert_eq!(
        attempt.error.as_deref(),
        Some("too_large: answer over 65536 bytes")
    );
}

#[tokio::test]
async fn loopback_needs_allow_loopback_and_nothing_connects_without_it() {
    let shop = receiver(Script::Answer(answer("200 OK", ""))).await;
    let port = shop.addr.port();
    let sender = sender();
    // Plain http to loopback without the flag, and https to a loopback literal.
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("https://127.0.0.1:{port}/"),
        format!("https://[::ffff:127.0.0.1]:{port}/"),
    ] {
        let attempt = sender
            .send(&endpoint(&url, false, false), "msg_1", BODY)
            .await;
        assert_failed(&attempt, "refused_address");
    }
    assert_eq!(shop.hits.load(Ordering::SeqCst), 0);
    let url = format!("http://127.0.0.1:{port}/");
    let attempt = sender
        .send(&endpoint(&url, true, false), "msg_1", BODY)
        .await;
    assert!(attempt.delivered(), "{attempt:?}");
}

#[tokio::test]
async fn refused_literals_never_connect() {
    let sender = sender();
    let cases = [
        ("http://hooks.example/x", true, true, "plain http"),
        ("https://10.0.0.1/x", false, false, "private"),
        (
            "https://169.254.169.254/latest/meta-data",
            true,
            true,
            "link-local",
        ),
        (
            "https://[::ffff:169.254.169.254]/",
            true,
            true,
            "link-local",
        ),
        ("https://100.64.0.1/", false, false, "CGNAT"),
    ];
    for (url, loopback, private, says) in cases {
        let attempt = sender
            .send(&endpoint(url, loopback, private), "msg_1", BODY)
            .await;
        assert_failed(&attempt, "refused_address");
        let error = attempt.error.unwrap();
        assert!(error.contains(says), "{url}: {error}");
        assert!(!error.contains("meta-data"), "{error}");
    }
}

#[tokio::test]
async fn names_resolving_to_refused_addresses_are_refused_at_connect() {
    let shop = receiver(Script::Answer(answer("200 OK", ""))).await;
    let port = shop.addr.port();
    let ip = |t: &str| t.parse::<std::net::IpAddr>().unwrap();
    let resolver = FixedResolver::default()
        .with("inside.test", ip("10.0.0.1"))
        .with("metadata.test", ip("169.254.169.254"))
        .with("rebound.test", ip("127.0.0.1"));
    let sender = Sender::with_resolver(&settings(), Arc::new(resolver)).unwrap();
    let cases = [
        ("https://inside.test/", false, false, "10.0.0.1 is private"),
        (
            "https://metadata.test/",
            true,
            true,
            "169.254.169.254 is link-local",
        ),
        (
            &*format!("https://rebound.test:{port}/"),
            false,
            true,
            "127.0.0.1 is loopback",
        ),
    ];
    for (url, loopback, private, says) in cases {
        let attempt = sender
            .send(&endpoint(url, loopback, private), "msg_1", BODY)
            .await;
        assert_failed(&attempt, "refused_address");
        let error = attempt.error.unwrap();
        assert!(error.contains(says), "{url}: {error}");
    }
    assert_eq!(shop.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_flags_open_their_ranges_through_the_resolver() {
    let mut shop = receiver(Script::Answer(answer("200 OK", "ok"))).await;
    let port = shop.addr.port();
    let resolver = FixedResolver::default()
        .with("localhost", "127.0.0.1".parse().unwrap())
        .with("inside.test", "10.0.0.1".parse().unwrap());
    let sender = Sender::with_resolver(&settings(), Arc::new(resolver)).unwrap();
    // http://localhost with allow_loopback: resolved, checked, delivered.
    let url = format!("http://localhost:{port}/hooks");
    let attempt = sender
        .send(&endpoint(&url, true, false), "msg_1", BODY)
        .await;
    assert!(attempt.delivered(), "{attempt:?}");
    assert_eq!(shop.requests.recv().await.unwrap().body, BODY);
    // allow_private lets the connection go to 10.0.0.1: whatever happens there (nothing
    // listens in a test), it is not a refusal.
    let attempt = sender
        .send(
            &endpoint("https://inside.test:9/", false, true),
            "msg_1",
            BODY,
        )
        .await;
    assert!(!attempt.delivered());
    assert_ne!(
        attempt.failure_kind(),
        Some("refused_address"),
        "{attempt:?}"
    );
}
