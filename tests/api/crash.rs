//! SIGKILL in the middle of traffic: every payment paygate acknowledged is still there, with
//! the status it was acknowledged with, after the real binary restarts on the same file.

use crate::helpers::*;
use paygate::grpc::proto::{self as pb, CaptureMode};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const KEY: &str = "crash-test-key-0003";

/// The `paygate serve` child process; killed (SIGKILL) and reaped when dropped, so a failing
/// test never leaves it behind.
pub(crate) struct Server {
    child: Child,
    grpc_addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    pub(crate) async fn start(config: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_paygate"))
            .arg("serve")
            .arg("--config")
            .arg(config)
            .env("PAYGATE_LOG_FORMAT", "json")
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
            .expect("starting the paygate binary");
        let stderr = child.stderr.take().expect("stderr piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let lines_log = log.clone();
        // Keeps draining stderr for the child's whole life, so it never blocks on a full pipe.
        tokio::spawn(async move {
            let mut tx = Some(tx);
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(addr) = listening_addr(&line)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addr);
                }
                lines_log.lock().unwrap().push(line);
            }
        });
        let mut server = Server {
            child,
            grpc_addr: "127.0.0.1:0".parse().unwrap(),
            log,
        };
        match tokio::time::timeout(Duration::from_secs(60), rx).await {
            Ok(Ok(addr)) => server.grpc_addr = addr,
            _ => panic!(
                "no \"paygate listening\" line; stderr:\n{}",
                server.log_text()
            ),
        }
        server
    }

    pub(crate) fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub(crate) async fn client(&self) -> Client {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", self.grpc_addr))
            .unwrap()
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .expect("connecting to the child");
        PaymentGatewayClient::new(channel)
    }

    pub(crate) async fn sigkill(&mut self) {
        let pid = self.child.id().expect("child still running");
        let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("SIGKILL");
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("child did not die")
            .expect("wait");
        assert!(!status.success(), "killed, not exited: {status:?}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.try_wait();
    }
}

/// The gRPC address of a JSON "paygate listening" log line.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let message = value
        .get("message")
        .or_else(|| value.pointer("/fields/message"))?
        .as_str()?;
    if message != "paygate listening" {
        return None;
    }
    let addr = value
        .get("grpc_addr")
        .or_else(|| value.pointer("/fields/grpc_addr"))?
        .as_str()?;
    addr.parse().ok()
}

/// A config for the child: its own SQLite file, the in-process mock processor, or the
/// external one at `processor` (which then outlives the child's crashes).
fn write_config(dir: &Path, processor: Option<SocketAddr>) -> std::path::PathBuf {
    let db = dir.join("paygate.db");
    let base_url =
        processor.map_or_else(String::new, |addr| format!("base_url = \"http://{addr}/\""));
    let text = format!(
        r#"
[server]
grpc_addr = "127.0.0.1:0"
http_addr = "127.0.0.1:0"
# Short, so the reconciler (which waits 2x this before touching an orphaned operation)
# settles what the crash left PENDING within the test.
provider_timeout_ms = 500

[database]
url = "sqlite://{db}"

[log]
format = "json"

[[merchants]]
id = "crash-shop"

  [[merchants.clients]]
  name = "load"
  api_key_sha256 = "{hash}"

  [merchants.providers.mock]
  {base_url}
"#,
        db = db.display(),
        hash = hex::encode(sha256(KEY)),
    );
    let path = dir.join("paygate.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// What a worker's request looks like: approvals, declines and sales, so the acknowledged
/// statuses vary.
fn request(worker: usize, n: usize) -> pb::AuthorizeRequest {
    let token = if n % 5 == 4 { "mock_decline" } else { "" };
    let mut req = authorize_req(
        &format!("crash-{worker}-{n}"),
        i64::try_from(1_000 + n).unwrap(),
        "MAD",
        token,
    );
    if n % 3 == 2 {
        req.capture_mode = CaptureMode::Automatic.into();
    }
    req
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_loses_no_acknowledged_payment() {
    let dir = tempfile::TempDir::new().unwrap();
    let config = write_config(dir.path(), None);
    let mut server = Server::start(&config).await;
    let client = server.client().await;

    let acknowledged: Arc<Mutex<Vec<(String, pb::PaymentStatus)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    // Worker 0 is strictly sequential; the other eight run alongside it.
    for worker in 0..9 {
        let mut client = client.clone();
        let acknowledged = acknowledged.clone();
        let stop = stop.clone();
        workers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                match client.authorize(authed(request(worker, n), KEY)).await {
                    Ok(p) => {
                        let p = p.into_inner();
                        acknowledged
                            .lock()
                            .unwrap()
                            .push((p.id.clone(), p.status()));
                    }
                    // The server is gone (or going): nothing more will be acknowledged.
                    Err(_) => return Some(request(worker, n)),
                }
                n += 1;
            }
            None
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before_kill = acknowledged.lock().unwrap().len();
    server.sigkill().await;
    stop.store(true, Ordering::Relaxed);
    let mut unanswered = Vec::new();
    for worker in workers {
        let last = tokio::time::timeout(Duration::from_secs(30), worker)
            .await
            .expect("worker hung")
            .expect("worker");
        unanswered.extend(last);
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        before_kill > 0,
        "load ran before the kill; stderr:\n{}",
        server.log_text()
    );
    drop(server);

    let server = Server::start(&config).await;
    let mut client = server.client().await;
    let mut statuses = std::collections::HashMap::new();
    for (id, status) in &acknowledged {
        let got = client
            .get_payment(authed(get_req(id), KEY))
            .await
            .unwrap_or_else(|e| panic!("acknowledged payment {id} lost after SIGKILL: {e:?}"))
            .into_inner();
        assert_eq!(
            got.status(),
            *status,
            "payment {id} changed status across the crash: {got:?}"
        );
        *statuses.entry(format!("{status:?}")).or_insert(0) += 1;
    }
    println!(
        "{} acknowledged payments survived SIGKILL: {statuses:?}",
        acknowledged.len()
    );
    // A request cut off by the crash can always be retried with its key: either it never got
    // in (it runs now), or its operation was persisted and the reconciler settles it after
    // the restart, after which the retry replays that outcome. Until then it is ABORTED /
    // IDEMPOTENCY_KEY_IN_USE; never another error, and never stuck.
    for req in unanswered {
        let key = req.idempotency_key.clone();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            match client.authorize(authed(req.clone(), KEY)).await {
                Ok(p) => {
                    println!(
                        "retry of {key} after the crash: {:?}",
                        p.into_inner().status()
                    );
                    break;
                }
                Err(e) => {
                    assert_eq!(
                        (e.code(), reason(&e).as_str()),
                        (tonic::Code::Aborted, "IDEMPOTENCY_KEY_IN_USE"),
                        "{key}"
                    );
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "{key} still IDEMPOTENCY_KEY_IN_USE 30 s after restart: reconciliation did not settle it"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }
    let listed = list_all(&mut client, Some(KEY)).await;
    assert!(
        listed.len() >= acknowledged.len(),
        "list shows every acknowledged payment"
    );
}

/// The crash lands exactly between "operation persisted" and "provider answer recorded": the
/// processor has charged (a `mock_timeout` payment stalls its answer), paygate dies. After the
/// restart the reconciler asks the processor and settles the payment; a retry of the same
/// request then replays that outcome, and the processor has charged exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_between_persist_and_answer_is_finished_by_reconciliation_with_one_charge() {
    use paygate::providers::mock::server::{ProcessorState, serve};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let processor = listener.local_addr().unwrap();
    let state = ProcessorState::new();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, state.clone(), async move {
        let _ = stopped.await;
    }));

    let dir = tempfile::TempDir::new().unwrap();
    let config = write_config(dir.path(), Some(processor));
    let mut server = Server::start(&config).await;
    let mut client = server.client().await;
    let req = authorize_req("cut-off-1", 4_200, "MAD", "mock_timeout");
    let call = {
        let req = req.clone();
        let mut client = client.clone();
        tokio::spawn(async move { client.authorize(authed(req, KEY)).await })
    };
    let charged_by = tokio::time::Instant::now() + Duration::from_secs(10);
    while state.summary().authorizations == 0 {
        assert!(
            tokio::time::Instant::now() < charged_by,
            "the processor never charged"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.sigkill().await;
    assert!(
        call.await.unwrap().is_err(),
        "the caller never got an answer"
    );

    let server = Server::start(&config).await;
    client = server.client().await;
    let settled_by = tokio::time::Instant::now() + Duration::from_secs(30);
    let payment = loop {
        match client.authorize(authed(req.clone(), KEY)).await {
            Ok(p) => break p.into_inner(),
            Err(e) => {
                assert_eq!(
                    (e.code(), reason(&e).as_str()),
                    (tonic::Code::Aborted, "IDEMPOTENCY_KEY_IN_USE"),
                );
                assert!(
                    tokio::time::Instant::now() < settled_by,
                    "not reconciled 30 s after restart; stderr:\n{}",
                    server.log_text()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    assert_eq!(payment.status(), pb::PaymentStatus::Authorized);
    assert_eq!(amount_of(payment.amount.as_ref()).0, 4_200);
    let ledger = state.summary();
    assert_eq!(ledger.authorizations, 1, "exactly one charge: {ledger:?}");
    assert_eq!(
        ledger.requests, 1,
        "the retry and the reconciler never re-sent it: {ledger:?}"
    );
    drop(stop);
}
