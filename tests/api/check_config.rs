//! `check-config` and `serve` validate a config file along one path: whatever `serve` refuses,
//! `check-config` refuses first, with the same keys, every problem at once.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Files `serve` must refuse, each with the problem lines both commands must print.
fn refused() -> Vec<(&'static str, String, Vec<&'static str>)> {
    let ports = "[server]\ngrpc_addr = \"127.0.0.1:0\"\nhttp_addr = \"127.0.0.1:0\"\n";
    vec![
        (
            "a bad secret, a missing key and a bad URL, all reported",
            format!(
                "{ports}require_auth = false\n[[merchants]]\nid = \"atlas-shop\"\n\
                 [merchants.providers.mock]\nbase_url = \"http://127.0.0.1:9\"\nwebhook_secret = \"hunter2\"\n\
                 [merchants.providers.paypal]\nclient_id = \"x\"\nclient_secret = \"y\"\nbase_url = \"ftp://nope\"\n"
            ),
            vec![
                "merchants[0].providers.mock.webhook_secret: webhook secret",
                "merchants[0].providers.paypal.webhook_id: required key is missing",
                "merchants[0].providers.paypal.base_url: must be an absolute",
            ],
        ),
        (
            "a secret that is not Base64",
            format!(
                "{ports}require_auth = false\n[[merchants]]\nid = \"a\"\n\
                 [merchants.providers.mock]\nwebhook_secret = \"whsec_notbase64!!\"\n"
            ),
            vec!["merchants[0].providers.mock.webhook_secret: webhook secret"],
        ),
        (
            "a webhook endpoint with an http URL, a bad secret and an unknown event type",
            format!(
                "{ports}require_auth = false\n[[merchants]]\nid = \"a\"\n[merchants.providers.mock]\n\
                 [[merchants.webhook_endpoints]]\nurl = \"http://shop.example/hooks?token=t0k\"\n\
                 secret = \"hunter2\"\nevents = [\"payment.captured\", \"payment.exploded\"]\n"
            ),
            vec![
                "merchants[0].webhook_endpoints[0].url: plain http:// is allowed only to a loopback host",
                "merchants[0].webhook_endpoints[0].secret: webhook secret is not padded standard Base64",
                "merchants[0].webhook_endpoints[0].events[1]: unknown event type \"payment.exploded\"",
            ],
        ),
        (
            "a metadata address, a zero concurrency and an empty retry schedule",
            format!(
                "{ports}require_auth = false\n[webhooks]\nretry_schedule_secs = []\n\
                 [[merchants]]\nid = \"a\"\n[merchants.providers.mock]\n\
                 [[merchants.webhook_endpoints]]\nurl = \"https://169.254.169.254/latest\"\n\
                 secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\nallow_private = true\nmax_concurrent = 0\n"
            ),
            vec![
                "merchants[0].webhook_endpoints[0].url: address 169.254.169.254 is link-local",
                "merchants[0].webhook_endpoints[0].max_concurrent: must be at least 1",
                "webhooks.retry_schedule_secs: must list at least one attempt",
            ],
        ),
        (
            "open access with two merchants",
            format!(
                "{ports}require_auth = false\n[[merchants]]\nid = \"a\"\n[merchants.providers.mock]\n\
                 [[merchants]]\nid = \"b\"\n[merchants.providers.mock]\n"
            ),
            vec!["server.require_auth: is false with 2 merchants"],
        ),
    ]
}

fn paygate(config: &std::path::Path, command: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_paygate"))
        .arg(command)
        .arg("--config")
        .arg(config)
        .env_remove("PAYGATE_CONFIG")
        .env("PAYGATE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running paygate");
    // A `serve` that accepted the file would run forever: that is a failure, not a hang.
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("paygate {command} accepted a config it should refuse");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn problem_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(|line| line.trim_start_matches("config error: ").to_owned())
        .filter(|line| !line.is_empty())
        .collect()
}

#[test]
fn check_config_refuses_what_serve_refuses_with_the_same_keys() {
    for (name, text, expected) in refused() {
        let mut file = tempfile::NamedTempFile::new().expect("tempfile");
        file.write_all(text.as_bytes()).expect("write");
        let check = paygate(file.path(), "check-config");
        let serve = paygate(file.path(), "serve");
        assert!(!check.status.success(), "{name}: check-config accepted it");
        assert!(!serve.status.success(), "{name}: serve accepted it");
        let (check_lines, serve_lines) = (problem_lines(&check), problem_lines(&serve));
        assert_eq!(
            check_lines.len(),
            expected.len(),
            "{name}: check-config said {check_lines:#?}"
        );
        for (line, start) in check_lines.iter().zip(&expected) {
            assert!(
                line.starts_with(start),
                "{name}: {line:?} should start {start:?}"
            );
        }
        assert_eq!(
            check_lines, serve_lines,
            "{name}: serve and check-config disagree"
        );
        assert!(
            !String::from_utf8_lossy(&check.stdout).contains("config OK"),
            "{name}"
        );
        let stderr = String::from_utf8_lossy(&check.stderr);
        assert!(
            !stderr.contains("hunter2") && !stderr.contains("t0k"),
            "{name}: a secret or the URL's query was printed: {stderr}"
        );
    }
}

#[test]
fn check_config_prints_warnings_and_counts_them() {
    let text = "[server]\nrequire_auth = true\n[[merchants]]\nid = \"atlas-shop\"\n\
                [[merchants.clients]]\nname = \"checkout\"\n\
                api_key_sha256 = \"57c8139db7290a9064aa57837c951138a32df40cca3aca526319f55651368823\"\n\
                [merchants.providers.mock]\nbase_url = \"http://127.0.0.1:9090\"\n";
    let mut file = tempfile::NamedTempFile::new().expect("tempfile");
    file.write_all(text.as_bytes()).expect("write");
    let out = paygate(file.path(), "check-config");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let warnings: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), 2, "{stdout}");
    assert!(
        warnings[0].contains("merchants[0].providers.mock.webhook_secret"),
        "{stdout}"
    );
    assert!(warnings[1].contains("\"dev-key-change-me\""), "{stdout}");
    assert!(
        stdout.trim_end().ends_with("config OK, with 2 warnings"),
        "{stdout}"
    );
}

/// What `docker run paygate` does: no config file (development mode, no API keys) and the
/// image's `PAYGATE_GRPC_ADDR=0.0.0.0:…`. It must refuse to serve, unless told to.
#[test]
fn development_mode_on_every_interface_is_refused_without_the_opt_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_paygate"))
        .arg("serve")
        .current_dir(dir.path())
        .env_remove("PAYGATE_CONFIG")
        .env_remove("PAYGATE_DEV_ALLOW_REMOTE")
        .env("PAYGATE_GRPC_ADDR", "0.0.0.0:0")
        .env("PAYGATE_HTTP_ADDR", "127.0.0.1:0")
        .env("PAYGATE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running paygate");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("development mode served on 0.0.0.0 without PAYGATE_DEV_ALLOW_REMOTE");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("server.grpc_addr"), "{stderr}");
    assert!(stderr.contains("PAYGATE_DEV_ALLOW_REMOTE=1"), "{stderr}");
    assert!(
        !dir.path().join("paygate.db").exists(),
        "refused before opening the database"
    );
}

/// An accepted endpoint is shown in the summary without its secret or its URL's query, and a
/// loopback endpoint in a PostgreSQL deployment is warned about.
#[test]
fn check_config_shows_webhook_endpoints_without_secrets() {
    let text = "[server]\nrequire_auth = false\n[database]\nurl = \"postgres://db/paygate\"\n\
                [[merchants]]\nid = \"shop\"\n[merchants.providers.mock]\n\
                [[merchants.webhook_endpoints]]\nid = \"orders\"\n\
                url = \"http://127.0.0.1:3000/hooks?token=t0k\"\nallow_loopback = true\n\
                secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\nevents = [\"payment.captured\"]\n";
    let mut file = tempfile::NamedTempFile::new().expect("tempfile");
    file.write_all(text.as_bytes()).expect("write");
    let out = paygate(file.path(), "check-config");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(
            "webhook endpoint orders: http://127.0.0.1:3000/hooks?***, events payment.captured, secret ***, 8 concurrent, allow_loopback"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("webhooks: retry schedule [0, 5, 300, 1800, 7200, 18000, 36000, 36000] s"),
        "{stdout}"
    );
    assert!(
        stdout.contains("warning: merchants[0].webhook_endpoints[0].allow_loopback: is true in a deployment on PostgreSQL"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("t0k") && !stdout.contains("MfKQ9r8"),
        "{stdout}"
    );
}
