//! The real `paygate` binary in development mode on port 0 (`paygate serve` with no config),
//! its addresses read from the JSON start-up line: what the README's snippets and the client
//! examples run against.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The development-mode server on port 0, with the addresses from its start-up line.
pub struct DevServer {
    child: Child,
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    pub mock: SocketAddr,
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_dev_server(dir: &Path) -> DevServer {
    let mut child = Command::new(env!("CARGO_BIN_EXE_paygate"))
        .arg("serve")
        .current_dir(dir)
        .env_remove("PAYGATE_CONFIG")
        .env_remove("PAYGATE_DATABASE_URL")
        .env("PAYGATE_GRPC_ADDR", "127.0.0.1:0")
        .env("PAYGATE_HTTP_ADDR", "127.0.0.1:0")
        .env("PAYGATE_MOCK_PROCESSOR_ADDR", "127.0.0.1:0")
        .env("PAYGATE_LOG_FORMAT", "json")
        .env("PAYGATE_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting paygate serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let (mut grpc, mut http, mut mock) = (None, None, None);
    while grpc.is_none() || http.is_none() || mock.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no start-up lines; stderr:\n{}", seen.join("\n")));
        let value: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        let field = |name: &str| -> Option<SocketAddr> {
            let text = value
                .get(name)
                .or_else(|| value.pointer(&format!("/fields/{name}")))?
                .as_str()?;
            text.trim_start_matches("http://")
                .trim_end_matches('/')
                .parse()
                .ok()
        };
        grpc = grpc.or_else(|| field("grpc_addr"));
        http = http.or_else(|| field("http_addr"));
        mock = mock
            .or_else(|| field("mock_processor"))
            .or_else(|| field("mock_processor_url"))
            .or_else(|| field("addr"));
        seen.push(line);
    }
    // Keep draining, so the child never blocks on a full pipe.
    std::thread::spawn(move || while rx.recv().is_ok() {});
    DevServer {
        child,
        grpc: grpc.expect("grpc"),
        http: http.expect("http"),
        mock: mock.expect("mock"),
    }
}
