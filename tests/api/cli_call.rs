//! `paygate call` as a newcomer uses it: the real binary against a real server on port 0. What
//! it says when it cannot connect or is not let in, `--id-only` for shell variables (the
//! README's walk-through, step by step), and the customer flags reaching CMI's form.

use crate::emulators::cmi::CmiEmulator;
use crate::helpers::*;
use serde_json::Value;
use std::process::Stdio;

/// What one `paygate call` run printed, and how it exited.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|_| panic!("stdout: {}", self.stdout))
    }

    /// The `error` object printed on stderr.
    fn error(&self) -> Value {
        let value: Value = serde_json::from_str(self.stderr.trim())
            .unwrap_or_else(|_| panic!("stderr: {}", self.stderr));
        value["error"].clone()
    }
}

/// `paygate call --target http://{addr} ARGS`, with none of the caller's PAYGATE_* variables.
/// Async: the server under test runs on this test's own thread.
async fn call(target: &str, args: &[&str]) -> Run {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_paygate"))
        .arg("call")
        .arg("--target")
        .arg(target)
        .args(args)
        .env_remove("PAYGATE_TARGET")
        .env_remove("PAYGATE_API_KEY")
        .env_remove("PAYGATE_CONFIG")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("running paygate call");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn target(app: &TestApp) -> String {
    format!("http://{}", app.grpc_addr())
}

#[tokio::test]
async fn a_server_that_is_not_there_is_named_with_a_hint() {
    // A port that was free a moment ago: nothing listens there.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let target = format!("http://{addr}");
    let run = call(&target, &["get", "0190f5b8-0000-7000-8000-000000000000"]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    let error = run.error();
    assert_eq!(error["code"], "UNAVAILABLE");
    assert_eq!(
        error["message"],
        format!("cannot connect to {target}: connection refused")
    );
    let hint = error["hint"].as_str().unwrap();
    assert!(
        hint.contains("paygate serve") && hint.contains("--target / PAYGATE_TARGET"),
        "{hint}"
    );
    assert!(run.stdout.is_empty());
}

#[tokio::test]
async fn unauthenticated_says_how_to_send_a_key() {
    let app = TestApp::spawn_multi_merchant().await;
    let without = call(&target(&app), &["authorize", "--amount", "10"]).await;
    assert_eq!(without.code, 1);
    let error = without.error();
    assert_eq!(error["code"], "UNAUTHENTICATED");
    let hint = error["hint"].as_str().unwrap();
    assert!(
        hint.contains("--api-key") && hint.contains("PAYGATE_API_KEY"),
        "{hint}"
    );

    let wrong = call(
        &target(&app),
        &["--api-key", "not-a-key", "authorize", "--amount", "10"],
    )
    .await;
    let hint = wrong.error()["hint"].as_str().unwrap().to_owned();
    assert!(hint.contains("does not know this API key"), "{hint}");
    assert!(!wrong.stderr.contains("not-a-key"), "{}", wrong.stderr);

    let right = call(
        &target(&app),
        &["--api-key", ATLAS_KEY, "authorize", "--amount", "10", "-q"],
    )
    .await;
    assert_eq!(right.code, 0, "{}", right.stderr);
}

/// The README's five-minute walk-through, with `ID=$(... --id-only)`.
#[tokio::test]
async fn id_only_prints_just_the_id_and_the_walk_through_runs() {
    let app = TestApp::spawn().await;
    let t = target(&app);
    let auth = call(
        &t,
        &[
            "authorize",
            "--amount",
            "100.00",
            "--currency",
            "MAD",
            "--reference",
            "order-1001",
            "--id-only",
        ],
    )
    .await;
    assert_eq!(auth.code, 0, "{}", auth.stderr);
    let id = auth.stdout.strip_suffix('\n').expect("one line");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{:?}", auth.stdout);

    let steps: [(&[&str], &str); 4] = [
        (&["capture", id, "--amount", "40.00"], "partially_captured"),
        (&["capture", id], "captured"),
        (&["refund", id, "--amount", "25.00"], "partially_refunded"),
        (&["refund", id], "refunded"),
    ];
    for (args, status) in steps {
        let run = call(&t, args).await;
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert_eq!(run.json()["status"], status, "{args:?}");
    }
    let got = call(&t, &["get", id]).await.json();
    assert_eq!(got["operations"].as_array().unwrap().len(), 5);
    // The global flag also works before the subcommand, and `list` prints one id per line.
    let listed = call(&t, &["-q", "list", "--reference", "order-1001"]).await;
    assert_eq!(listed.stdout, format!("{id}\n"));
}

#[tokio::test]
async fn customer_flags_fill_cmi_bill_to_fields() {
    let emu = CmiEmulator::spawn().await;
    let app = TestApp::spawn_with_cmi(&emu, |_| {}).await;
    let run = call(
        &target(&app),
        &[
            "authorize",
            "--provider",
            "cmi",
            "--amount",
            "150.00",
            "--return-url",
            "https://shop.example/return",
            "--customer-name",
            "Amina Benali",
            "--email",
            "amina@example.ma",
            "--phone",
            "0600000000",
            "--address-line1",
            "12 rue Atlas",
            "--city",
            "Casablanca",
            "--postal-code",
            "20000",
            "--country",
            "MA",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let payment = run.json();
    assert_eq!(payment["status"], "requires_action");
    let fields = &payment["next_action"]["fields"];
    assert_eq!(fields["BillToName"], "Amina Benali");
    assert_eq!(fields["email"], "amina@example.ma");
    assert_eq!(fields["tel"], "0600000000");
    assert_eq!(fields["BillToStreet1"], "12 rue Atlas");
    assert_eq!(fields["BillToCity"], "Casablanca");
    assert_eq!(fields["BillToPostalCode"], "20000");
}

#[tokio::test]
async fn config_is_an_option_of_the_commands_that_read_one() {
    for command in [
        ["serve", "--help"],
        ["migrate", "--help"],
        ["check-config", "--help"],
    ] {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_paygate"))
            .args(command)
            .output()
            .await
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("--config <CONFIG>"), "{command:?}: {help}");
    }
    for command in [
        &["call", "--help"][..],
        &["call", "authorize", "--help"],
        &["cmi", "hash", "--help"],
        &["mock-processor", "--help"],
    ] {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_paygate"))
            .args(command)
            .output()
            .await
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{command:?}");
        assert!(!help.contains("--config"), "{command:?}: {help}");
    }
}
