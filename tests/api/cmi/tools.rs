//! `paygate cmi hash|verify`, run as the built binary with the shared vectors.

use serde::Deserialize;
use std::io::Write;
use std::process::{Command, Output, Stdio};

const VECTORS: &str = include_str!("../../fixtures/cmi_ver3.json");

#[derive(Deserialize)]
struct File {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    id: String,
    store_key: String,
    params: Vec<(String, Option<String>)>,
    expected_hash: String,
}

fn vectors() -> Vec<Vector> {
    serde_json::from_str::<File>(VECTORS).unwrap().vectors
}

fn body(v: &Vector, extra: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (n, val) in &v.params {
        s.append_pair(n, val.as_deref().unwrap_or(""));
    }
    for (n, val) in extra {
        s.append_pair(n, val);
    }
    s.finish()
}

fn run(tool: &str, key: &str, stdin: &str) -> Output {
    run_with(&[tool], key, stdin)
}

fn run_with(args: &[&str], key: &str, stdin: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("store.key");
    std::fs::write(&key_file, format!("{key}\n")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_paygate"))
        .arg("cmi")
        .args(args)
        .arg("--store-key-file")
        .arg(&key_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn cmi_hash_prints_every_vectors_hash_as_its_last_line() {
    for v in vectors() {
        // A HASH field in the body is ignored (so is `encoding`: see derived-value-escaping).
        let out = run("hash", &v.store_key, &body(&v, &[("HASH", "x")]));
        assert!(out.status.success(), "{}: {out:?}", v.id);
        let text = stdout(&out);
        assert_eq!(
            text.lines().last(),
            Some(v.expected_hash.as_str()),
            "{}",
            v.id
        );
        assert!(!text.contains(&v.store_key), "{}: store key printed", v.id);
    }
}

#[test]
fn cmi_verify_accepts_every_signed_vector_and_rejects_tampering() {
    for v in vectors() {
        let signed = body(&v, &[("HASH", &v.expected_hash)]);
        let out = run("verify", &v.store_key, &signed);
        assert!(out.status.success(), "{}: {out:?}", v.id);
        assert_eq!(stdout(&out).trim(), "valid", "{}", v.id);

        let tampered = body(&v, &[("HASH", &v.expected_hash), ("ProcReturnCode", "00")]);
        let out = run("verify", &v.store_key, &tampered);
        assert_eq!(out.status.code(), Some(1), "{}: {out:?}", v.id);
        let text = stdout(&out);
        assert!(text.starts_with("invalid"), "{}: {text}", v.id);
        assert!(text.contains("expected HASH: "), "{}: {text}", v.id);
        assert!(!text.contains(&v.store_key), "{}: store key printed", v.id);
    }
}

#[test]
fn cmi_verify_with_the_wrong_key_or_without_hash_is_invalid() {
    let v = vectors().into_iter().next().unwrap();
    let out = run(
        "verify",
        "not-the-key",
        &body(&v, &[("HASH", &v.expected_hash)]),
    );
    assert_eq!(out.status.code(), Some(1));
    let out = run("verify", &v.store_key, &body(&v, &[]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains(&v.expected_hash),
        "prints what it expected"
    );
}

#[test]
fn cmi_hash_explain_shows_names_and_plaintext_with_the_key_masked() {
    let v = vectors()
        .into_iter()
        .find(|v| v.id == "derived-value-escaping")
        .unwrap();
    let out = run_with(&["hash", "--explain"], &v.store_key, &body(&v, &[]));
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(
        text.contains("fields: amount,BillToName,clientid,currency,encoding,hashAlgorithm,oid"),
        "{text}"
    );
    assert!(
        text.contains(r"plaintext: 10.50|A\|B\\C|600000000|504|ver3|ORD-1|<store key>"),
        "{text}"
    );
    assert!(!text.contains("Key|with"), "store key printed: {text}");
    assert_eq!(text.lines().last(), Some(v.expected_hash.as_str()));
}
