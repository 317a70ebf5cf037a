//! The real binary under `ulimit -n 256` with more slow connections than descriptors: the
//! listeners' caps refuse (or evict) before the kernel runs out, so health, readiness and a
//! gRPC call still answer, and the accept loop does not spin writing errors.

use crate::helpers::*;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::Command;

const KEY: &str = "fd-limit-key-0004";

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let text = format!(
        "[server]\ngrpc_addr = \"127.0.0.1:0\"\nhttp_addr = \"127.0.0.1:0\"\n\
         [database]\nurl = \"sqlite://{}\"\n[log]\nformat = \"json\"\n\
         [[merchants]]\nid = \"fd-shop\"\n[[merchants.clients]]\nname = \"c\"\n\
         api_key_sha256 = \"{}\"\n[merchants.providers.mock]\n",
        dir.join("paygate.db").display(),
        hex::encode(sha256(KEY))
    );
    let path = dir.join("paygate.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The (gRPC, HTTP) addresses of a JSON "paygate listening" line.
fn listening(line: &str) -> Option<(SocketAddr, SocketAddr)> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let field = |name: &str| {
        value
            .get(name)
            .or_else(|| value.pointer(&format!("/fields/{name}")))
            .and_then(|v| v.as_str())
            .and_then(|v| v.parse().ok())
    };
    (field("message").is_some() || value.get("message")?.as_str()? == "paygate listening")
        .then_some(())?;
    Some((field("grpc_addr")?, field("http_addr")?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_256_descriptors_and_600_slow_connections_health_and_grpc_still_answer() {
    let dir = tempfile::TempDir::new().unwrap();
    let config = config(dir.path());
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 256 && exec \"$0\" serve --config \"$1\"")
        .arg(env!("CARGO_BIN_EXE_paygate"))
        .arg(&config)
        .env("PAYGATE_LOG", "info")
        .env_remove("PAYGATE_CONFIG")
        .env_remove("PAYGATE_DATABASE_URL")
        .env_remove("PAYGATE_GRPC_ADDR")
        .env_remove("PAYGATE_HTTP_ADDR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let (tx, rx) = tokio::sync::oneshot::channel();
    {
        let log = log.clone();
        tokio::spawn(async move {
            let mut tx = Some(tx);
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("paygate listening")
                    && let Some(addrs) = listening(&line)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addrs);
                }
                log.lock().unwrap().push(line);
            }
        });
    }
    let (grpc, http) = tokio::time::timeout(Duration::from_secs(60), rx)
        .await
        .expect("started")
        .expect("listening line");

    // 500 slow HTTP clients (half a request head each) and 100 silent gRPC ones: more
    // connections than the child has descriptors.
    let mut held = Vec::new();
    for i in 0..600 {
        let addr = if i % 6 == 5 { grpc } else { http };
        let Ok(mut tcp) = TcpStream::connect(addr).await else {
            continue;
        };
        if addr == http {
            let _ = tcp.write_all(b"GET /healthz HTTP/1.1\r\n").await;
        }
        held.push(tcp);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    paygate::providers::http_client::install_crypto_provider();
    let web = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    for path in ["/healthz", "/readyz"] {
        let answer = web
            .get(format!("http://{http}{path}"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(answer.status(), 200, "{path}");
    }
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{grpc}"))
        .unwrap()
        .timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("a new gRPC connection");
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("grpc.health answers")
        .into_inner();
    assert_eq!(serving.status, 1, "SERVING");
    let mut client = PaymentGatewayClient::new(channel);
    let payment = client
        .authorize(authed(
            authorize_req("under-pressure", 1_000, "MAD", ""),
            KEY,
        ))
        .await
        .expect("an Authorize still goes through")
        .into_inner();
    assert!(!payment.id.is_empty());
    let metrics = web
        .get(format!("http://{http}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    println!(
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("connections") || l.contains("accept"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    drop(held);

    let log = log.lock().unwrap().join("\n");
    assert!(
        !log.contains("Too many open files"),
        "the caps kept the process off the descriptor limit:\n{log}"
    );
    let accept_lines = log.matches("accept failed").count();
    assert!(
        accept_lines <= 5,
        "{accept_lines} accept-error lines:\n{log}"
    );
    let _ = child.start_kill();
}
