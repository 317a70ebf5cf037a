//! SIGKILL of the real binary with deliveries due (the receiver down): after the restart, with
//! the receiver back, every event is delivered; a repeat only ever carries the same id and body.

use super::*;
use crate::crash::Server;
use crate::helpers::*;
use std::collections::HashMap;
use std::path::Path;

const KEY: &str = "webhook-kill-key-0001";

fn write_config(dir: &Path, receiver: SocketAddr) -> std::path::PathBuf {
    let text = format!(
        r#"
[server]
grpc_addr = "127.0.0.1:0"
http_addr = "127.0.0.1:0"

[database]
url = "sqlite://{db}"

[log]
format = "json"

[webhooks]
retry_schedule_secs = [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]

[[merchants]]
id = "kill-shop"

  [[merchants.clients]]
  name = "load"
  api_key_sha256 = "{hash}"

  [merchants.providers.mock]

  [[merchants.webhook_endpoints]]
  url = "http://{receiver}/hooks"
  secret = "{SECRET}"
  allow_loopback = true
"#,
        db = dir.join("paygate.db").display(),
        hash = hex::encode(sha256(KEY)),
    );
    let path = dir.join("paygate.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_with_deliveries_due_loses_none_after_restart() {
    // A port with nobody listening: the receiver is down until after the restart.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let receiver_addr = port.local_addr().unwrap();
    drop(port);
    let dir = tempfile::TempDir::new().unwrap();
    let config = write_config(dir.path(), receiver_addr);
    let mut server = Server::start(&config).await;
    let mut client = server.client().await;
    const N: usize = 10;
    for i in 0..N {
        let p = client
            .authorize(authed(
                authorize_req(&format!("kill-{i}"), 1_000, "MAD", ""),
                KEY,
            ))
            .await
            .unwrap()
            .into_inner();
        client
            .capture(authed(
                capture_req(&format!("kill-{i}-c"), &p.id, None),
                KEY,
            ))
            .await
            .unwrap();
    }
    // Let attempts fail against the closed port for a while, then kill.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    server.sigkill().await;
    drop(server);

    let rx = Receiver::start_at(receiver_addr, Mode::Ok).await;
    let server = Server::start(&config).await;
    let got = rx
        .wait_for(Duration::from_secs(60), "every event", |g| {
            g.iter()
                .map(|r| r.id.as_str())
                .collect::<std::collections::HashSet<_>>()
                .len()
                >= 2 * N
        })
        .await;
    let mut bodies: HashMap<&str, &[u8]> = HashMap::new();
    for r in &got {
        assert!(verified(r), "{}", server.log_text());
        let first = bodies.entry(r.id.as_str()).or_insert(r.body.as_slice());
        assert_eq!(
            *first,
            r.body.as_slice(),
            "a repeat of {} carries the same body",
            r.id
        );
    }
    assert_eq!(bodies.len(), 2 * N, "every event delivered, none lost");
    let kinds: Vec<String> = got.iter().map(Received::kind).collect();
    assert!(kinds.iter().filter(|k| *k == "payment.captured").count() >= N);
}
