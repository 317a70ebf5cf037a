//! The webhook receivers under `examples/webhooks/` (PHP, Node, Python) against the real binary:
//! `paygate listen --forward-to` each one, `paygate trigger payment.captured`, and the receiver
//! must accept both signed events; then the test, signing on its own (HMAC-SHA256 here, not
//! paygate's code), sends a forged signature, a stale timestamp, a replayed `webhook-id` and a
//! request without headers, which the receiver must refuse. Each receiver also takes the
//! server's own deliveries (an endpoint in the config of the real binary). Runtimes are probed as in
//! `examples.rs`: a missing one skips its test, unless `PAYGATE_REQUIRE_EXAMPLES=1` (CI).

use crate::dev_server::start_dev_server;
use crate::examples::available;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/webhooks");

/// A child process whose output (stdout and stderr) is collected as it comes; killed on drop.
pub struct Running {
    child: Child,
    output: Arc<Mutex<String>>,
}

impl Running {
    pub fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let output = Arc::new(Mutex::new(String::new()));
        let pipes: [Box<dyn Read + Send>; 2] = [
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for pipe in pipes {
            let output = Arc::clone(&output);
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut all = output.lock().unwrap();
                    all.push_str(&line);
                    all.push('\n');
                }
            });
        }
        Self { child, output }
    }

    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Waits until the output holds every one of `texts`; panics with the output after 30 s.
    pub fn wait_for(&self, what: &str, texts: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = self.output();
            if texts.iter().all(|t| out.contains(t)) {
                return out;
            }
            assert!(Instant::now() < deadline, "{what}: no {texts:?} in:\n{out}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_until_listening(port: u16, receiver: &Running) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "receiver never listened on {port}:\n{}",
            receiver.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The receiver of `language`, on `port`, with `secret`; `None` when its runtime is missing.
fn start_receiver(language: &str, port: u16, secret: &str, dir: &Path) -> Option<Running> {
    let mut command = match language {
        "php" => {
            if !available("php receiver", Command::new("php").arg("--version")) {
                return None;
            }
            let mut c = Command::new("php");
            c.arg("-S")
                .arg(format!("127.0.0.1:{port}"))
                .arg(format!("{ROOT}/php/receiver.php"))
                .env("PAYGATE_WEBHOOK_SEEN_FILE", dir.join("seen-ids"));
            c
        }
        "node" => {
            if !available("node receiver", Command::new("node").arg("--version")) {
                return None;
            }
            let mut c = Command::new("node");
            c.arg(format!("{ROOT}/node/receiver.mjs"));
            c
        }
        "python" => {
            if !available("python receiver", Command::new("python3").arg("--version")) {
                return None;
            }
            let mut c = Command::new("python3");
            c.arg(format!("{ROOT}/python/receiver.py"));
            c
        }
        other => panic!("no receiver for {other}"),
    };
    command
        .env("PAYGATE_WEBHOOK_SECRET", secret)
        .env("PORT", port.to_string())
        .current_dir(dir);
    let receiver = Running::spawn(&mut command);
    wait_until_listening(port, &receiver);
    Some(receiver)
}

/// `paygate ARGS` against `target`, with none of the caller's PAYGATE_* variables.
pub fn paygate(target: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_paygate"));
    c.args(args)
        .arg("--target")
        .arg(target)
        .env_remove("PAYGATE_TARGET")
        .env_remove("PAYGATE_API_KEY")
        .env_remove("PAYGATE_CONFIG");
    c
}

/// The Standard Webhooks signature, computed here from the printed `whsec_` text.
fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> String {
    let key = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// POSTs `body` with the given webhook headers (each `None` is left out); status and body.
fn post(port: u16, headers: &[(&str, Option<String>)], body: &str) -> (u16, String) {
    paygate::providers::http_client::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut request = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/webhooks"))
            .header("content-type", "application/json")
            .body(body.to_owned());
        for (name, value) in headers {
            if let Some(value) = value {
                request = request.header(*name, value);
            }
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    })
}

fn signed_headers(
    secret: &str,
    id: &str,
    timestamp: i64,
    body: &str,
) -> Vec<(&'static str, Option<String>)> {
    vec![
        ("webhook-id", Some(id.to_owned())),
        ("webhook-timestamp", Some(timestamp.to_string())),
        ("webhook-signature", Some(sign(secret, id, timestamp, body))),
    ]
}

fn exercise(language: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = start_dev_server(dir.path());
    let target = format!("http://{}", server.grpc);
    let port = free_port();

    // listen first: it prints the secret the receiver is started with.
    let listen = Running::spawn(&mut paygate(
        &target,
        &[
            "listen",
            "--forward-to",
            &format!("http://127.0.0.1:{port}/webhooks"),
        ],
    ));
    let ready = listen.wait_for("listen", &["Ready!", "Forwarding events after #"]);
    let secret = ready
        .split_whitespace()
        .find(|w| w.starts_with("whsec_"))
        .unwrap()
        .to_owned();
    let Some(receiver) = start_receiver(language, port, &secret, dir.path()) else {
        return;
    };

    // Real deliveries: authorize then capture, both through listen, both accepted.
    let out = paygate(&target, &["trigger", "payment.captured"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let payment = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let lines = listen.wait_for(
        "listen",
        &[
            &format!("payment.authorized {payment} -> 200"),
            &format!("payment.captured {payment} -> 200"),
        ],
    );
    assert!(!lines.contains("not retried"), "{lines}");
    receiver.wait_for(
        language,
        &[
            &format!("accepted payment.authorized payment {payment} sequence "),
            &format!("accepted payment.captured payment {payment} sequence "),
        ],
    );

    // Deliveries signed by this test.
    let body = r#"{"type":"payment.refunded","sequence":999,"occurred_at":"2026-01-01T00:00:00Z","data":{"payment":{"id":"pay_test"}}}"#;
    let accepted = "accepted payment.refunded payment pay_test sequence 999";
    let (status, _) = post(port, &signed_headers(&secret, "msg_t1", now(), body), body);
    assert_eq!(status, 200, "{language}: a correctly signed webhook");
    receiver.wait_for(language, &[accepted]);

    let forged_secret = format!("whsec_{}", STANDARD.encode([7u8; 32]));
    let (status, _) = post(
        port,
        &signed_headers(&forged_secret, "msg_t2", now(), body),
        body,
    );
    assert_eq!(status, 401, "{language}: signed with another secret");

    let mut tampered = signed_headers(&secret, "msg_t3", now(), body);
    let other_body = body.replace("999", "1000");
    let (status, _) = post(port, &tampered, &other_body);
    assert_eq!(status, 401, "{language}: body changed after signing");

    let (status, _) = post(
        port,
        &signed_headers(&secret, "msg_t4", now() - 600, body),
        body,
    );
    assert_eq!(status, 401, "{language}: a timestamp 10 minutes old");
    let (status, _) = post(
        port,
        &signed_headers(&secret, "msg_t5", now() + 600, body),
        body,
    );
    assert_eq!(status, 401, "{language}: a timestamp 10 minutes ahead");

    tampered[2].1 = None;
    let (status, _) = post(port, &tampered, body);
    assert_eq!(status, 400, "{language}: no webhook-signature header");

    // The same webhook-id again, freshly and correctly signed: not handled a second time.
    let (status, text) = post(port, &signed_headers(&secret, "msg_t1", now(), body), body);
    assert_eq!(
        (status, text.trim()),
        (200, "duplicate"),
        "{language}: a replayed webhook-id"
    );
    let log = receiver.wait_for(language, &["duplicate msg_t1 ignored"]);
    assert_eq!(log.matches(accepted).count(), 1, "{log}");
    // Nothing refused was accepted.
    assert_eq!(log.matches("accepted ").count(), 3, "{log}");
}

#[test]
fn the_php_receiver_accepts_listen_deliveries_and_refuses_bad_ones() {
    exercise("php");
}

#[test]
fn the_node_receiver_accepts_listen_deliveries_and_refuses_bad_ones() {
    exercise("node");
}

#[test]
fn the_python_receiver_accepts_listen_deliveries_and_refuses_bad_ones() {
    exercise("python");
}

/// The server's own deliveries (the delivery engine, not `listen`) to the receiver of
/// `language`: an endpoint in the config file of the real binary, an Authorize and a Capture
/// over gRPC, and the receiver accepts both events, verified with the configured secret.
fn server_delivers_to(language: &str) {
    const KEY: &str = "receiver-delivery-key-0001";
    let secret = format!("whsec_{}", STANDARD.encode([42u8; 32]));
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let Some(receiver) = start_receiver(language, port, &secret, dir.path()) else {
        return;
    };
    let config = dir.path().join("paygate.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[server]
grpc_addr = "127.0.0.1:0"
http_addr = "127.0.0.1:0"

[database]
url = "sqlite://{db}"

[[merchants]]
id = "receiver-shop"

  [[merchants.clients]]
  name = "shop"
  api_key_sha256 = "{hash}"

  [merchants.providers.mock]

  [[merchants.webhook_endpoints]]
  url = "http://127.0.0.1:{port}/webhooks"
  secret = "{secret}"
  allow_loopback = true
"#,
            db = dir.path().join("paygate.db").display(),
            hash = hex::encode(crate::helpers::sha256(KEY)),
        ),
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = crate::crash::Server::start(&config).await;
        let mut client = server.client().await;
        let req = crate::helpers::authorize_req("receiver-delivery", 1_500, "MAD", "");
        let p = client
            .authorize(crate::helpers::authed(req, KEY))
            .await
            .unwrap()
            .into_inner();
        let req = crate::helpers::capture_req("receiver-delivery-c", &p.id, None);
        client
            .capture(crate::helpers::authed(req, KEY))
            .await
            .unwrap();
        // "accepted" is logged only after the signature and timestamp checks passed.
        let id = &p.id;
        receiver.wait_for(
            language,
            &[
                &format!("accepted payment.authorized payment {id} sequence "),
                &format!("accepted payment.captured payment {id} sequence "),
            ],
        );
    });
}

#[test]
fn the_php_receiver_accepts_the_servers_deliveries() {
    server_delivers_to("php");
}

#[test]
fn the_node_receiver_accepts_the_servers_deliveries() {
    server_delivers_to("node");
}

#[test]
fn the_python_receiver_accepts_the_servers_deliveries() {
    server_delivers_to("python");
}
