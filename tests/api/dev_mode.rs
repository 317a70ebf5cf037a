//! What a newcomer sees on a first `paygate serve` without a config file: one warning, the
//! mock processor's URL on one line, and the "paygate listening" line in plain form. The real
//! binary, every port moved to 0 through the environment (development mode's own ports are
//! fixed, and tests never take fixed ports).

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// Starts `paygate serve` in development mode with the mock processor asked to listen on
/// `mock_at`, and reads its log (JSON lines) up to "paygate listening". The child is killed
/// when the returned handle drops.
async fn start_up_log(mock_at: SocketAddr) -> (Vec<serde_json::Value>, Running) {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("paygate.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_paygate"))
        .arg("serve")
        .current_dir(dir.path())
        .env_remove("PAYGATE_CONFIG")
        .env("PAYGATE_GRPC_ADDR", "127.0.0.1:0")
        .env("PAYGATE_HTTP_ADDR", "127.0.0.1:0")
        .env("PAYGATE_MOCK_PROCESSOR_ADDR", mock_at.to_string())
        .env("PAYGATE_DATABASE_URL", db)
        .env("PAYGATE_LOG", "info")
        .env("PAYGATE_LOG_FORMAT", "json")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starting paygate serve");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = Vec::new();
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let value: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
            let done = message(&value) == "paygate listening";
            log.push(value);
            if done {
                return;
            }
        }
        panic!("paygate serve ended before listening");
    };
    if tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .is_err()
    {
        panic!("no \"paygate listening\" within 60 s: {log:#?}");
    }
    (
        log,
        Running {
            _child: child,
            _dir: dir,
        },
    )
}

/// The server process and its directory, both gone on drop.
struct Running {
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

fn message(line: &serde_json::Value) -> &str {
    line.get("message")
        .or_else(|| line.pointer("/fields/message"))
        .and_then(|m| m.as_str())
        .unwrap_or_default()
}

fn field<'a>(line: &'a serde_json::Value, name: &str) -> &'a str {
    line.get(name)
        .or_else(|| line.pointer(&format!("/fields/{name}")))
        .and_then(|m| m.as_str())
        .unwrap_or_default()
}

fn warnings(log: &[serde_json::Value]) -> Vec<&str> {
    log.iter()
        .filter(|l| l["level"] == "WARN")
        .map(message)
        .collect()
}

/// The processor's URL as announced on its own line, and on the "paygate listening" line.
fn processor_urls(log: &[serde_json::Value]) -> (String, String) {
    let own: Vec<&str> = log
        .iter()
        .map(message)
        .filter(|m| m.starts_with("mock processor at http://"))
        .collect();
    assert_eq!(own.len(), 1, "one line names the processor: {log:#?}");
    let own = own[0]
        .trim_start_matches("mock processor at ")
        .split_once(": ")
        .unwrap()
        .0
        .to_owned();
    let listening = log.last().unwrap();
    (own, field(listening, "mock_processor").to_owned())
}

#[tokio::test]
async fn development_mode_logs_one_warning_and_the_mock_processor_url() {
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (log, _server) = start_up_log(free).await;
    let warned = warnings(&log);
    assert_eq!(warned.len(), 1, "{warned:#?}");
    assert!(warned[0].starts_with("development mode:"), "{warned:?}");
    let (own, listening) = processor_urls(&log);
    assert_eq!(own, format!("http://{free}"));
    assert_eq!(listening, own, "plain URL, not Debug: {:?}", log.last());
}

#[tokio::test]
async fn a_taken_mock_processor_port_falls_back_to_a_free_one_and_says_so() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = holder.local_addr().unwrap();
    let (log, _server) = start_up_log(taken).await;
    let warned = warnings(&log);
    assert_eq!(warned.len(), 2, "{warned:#?}");
    assert!(
        warned[1].starts_with(&format!("{taken} is in use")),
        "{warned:?}"
    );
    let (own, listening) = processor_urls(&log);
    assert_ne!(own, format!("http://{taken}"));
    assert!(own.starts_with("http://127.0.0.1:"), "{own}");
    assert_eq!(listening, own);
    // The fallback is a real, working processor.
    paygate::providers::http_client::install_crypto_provider();
    let ledger = reqwest::get(format!("{own}/v1/ledger")).await.unwrap();
    assert_eq!(ledger.status(), 200);
}
