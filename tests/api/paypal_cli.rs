//! `paygate paypal verify-webhook`, run as the real binary over every public vector.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn vectors() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/paypal_webhooks");
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.file_name().unwrap().to_string_lossy().starts_with('_'))
        .collect();
    out.sort();
    out
}

fn run(dir: &Path, headers: &Path, body: &Path, extra: &[&str]) -> Output {
    let webhook_id = std::fs::read_to_string(dir.join("webhook_id.txt")).unwrap();
    Command::new(env!("CARGO_BIN_EXE_paygate"))
        .args(["paypal", "verify-webhook", "--headers-file"])
        .arg(headers)
        .arg("--body-file")
        .arg(body)
        .arg("--cert-file")
        .arg(dir.join("cert.pem"))
        .args(["--webhook-id", webhook_id.trim()])
        .args(extra)
        .output()
        .expect("running paygate")
}

#[test]
fn verify_webhook_tool_gives_every_vector_its_expected_verdict() {
    let all = vectors();
    assert_eq!(all.len(), 11);
    for dir in all {
        let expected = std::fs::read_to_string(dir.join("expected.txt")).unwrap();
        let out = run(&dir, &dir.join("headers.json"), &dir.join("body.json"), &[]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let name = dir.display();
        assert!(
            stdout.contains("allowed PayPal host: yes"),
            "{name}: {stdout}"
        );
        assert!(stdout.contains("certificate: valid at"), "{name}: {stdout}");
        match expected.trim() {
            "VERIFY" => {
                assert_eq!(out.status.code(), Some(0), "{name}: {stdout}");
                assert!(stdout.contains("signature: valid"), "{name}: {stdout}");
            }
            _ => {
                assert_eq!(out.status.code(), Some(1), "{name}: {stdout}");
                assert!(stdout.contains("signature: invalid"), "{name}: {stdout}");
            }
        }
    }
}

#[test]
fn verify_webhook_tool_reports_expiry_tampering_and_foreign_cert_hosts() {
    let dir = vectors()
        .into_iter()
        .find(|d| d.file_name().unwrap().to_string_lossy().starts_with("08_"))
        .unwrap();
    // Checked now, the 2024 certificate has expired: invalid.
    let now = run(
        &dir,
        &dir.join("headers.json"),
        &dir.join("body.json"),
        &["--at", "2026-01-01T00:00:00Z"],
    );
    let stdout = String::from_utf8_lossy(&now.stdout);
    assert_eq!(now.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("certificate: not valid at 2026-01-01T00:00:00Z"),
        "{stdout}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let mut body = std::fs::read(dir.join("body.json")).unwrap();
    body.push(b' ');
    std::fs::write(tmp.path().join("body.json"), &body).unwrap();
    let tampered = run(
        &dir,
        &dir.join("headers.json"),
        &tmp.path().join("body.json"),
        &[],
    );
    assert_eq!(tampered.status.code(), Some(1));

    let headers = std::fs::read_to_string(dir.join("headers.json"))
        .unwrap()
        .replace("https://api.paypal.com/", "https://evil.example/");
    std::fs::write(tmp.path().join("headers.json"), headers).unwrap();
    let foreign = run(
        &dir,
        &tmp.path().join("headers.json"),
        &dir.join("body.json"),
        &[],
    );
    let stdout = String::from_utf8_lossy(&foreign.stdout);
    assert!(stdout.contains("allowed PayPal host: no"), "{stdout}");
    // The certificate came from a file: the verdict rests on it, not on the URL text (§8.4).
    assert!(stdout.contains("signature: valid"), "{stdout}");

    let sha1 = std::fs::read_to_string(dir.join("headers.json"))
        .unwrap()
        .replace("SHA256withRSA", "SHA1withRSA");
    std::fs::write(tmp.path().join("headers.json"), sha1).unwrap();
    let out = run(
        &dir,
        &tmp.path().join("headers.json"),
        &dir.join("body.json"),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
}
