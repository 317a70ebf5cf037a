//! `paygate trigger` and `paygate listen` on their own, against the real binary in development
//! mode: every event type but `payment.pending` can be triggered; listen starts after the events that already exist,
//! forwards only the `--events` asked for, with `webhook-id` `msg_listen_<sequence>`; a typo in
//! an event type is refused with the list.

use crate::dev_server::start_dev_server;
use crate::webhook_receivers::{Running, paygate};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// The `(type, payment id)` of every event the server has, read from `GET /v1/events`.
fn events(http: &str) -> Vec<(String, String)> {
    let out = std::process::Command::new("curl")
        .args(["-fsS", &format!("{http}/v1/events?limit=500")])
        .output()
        .unwrap();
    let page: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["payment"]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn every_event_type_can_be_triggered() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_dev_server(dir.path());
    let target = format!("http://{}", server.grpc);
    for kind in [
        "payment.authorized",
        "payment.captured",
        "payment.refunded",
        "payment.voided",
        "payment.declined",
        "payment.failed",
        "payment.requires_action",
    ] {
        let out = paygate(&target, &["trigger", kind]).output().unwrap();
        assert!(out.status.success(), "{kind}: {out:?}");
        let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let seen = events(&target);
        assert!(
            seen.contains(&(kind.to_owned(), id.clone())),
            "{kind} of {id} not in {seen:?}"
        );
    }
    let out = paygate(&target, &["trigger", "payment.pending"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no pending answer"));
    let out = paygate(&target, &["trigger", "payment.settled"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown event type \"payment.settled\"")
            && stderr.contains("payment.requires_action"),
        "{stderr}"
    );
}

/// A receiver that answers 200 and records each request's `webhook-id`.
fn recording_receiver() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let ids = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&ids);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                if let Some(v) = lower.strip_prefix("webhook-id:") {
                    seen.lock().unwrap().push(v.trim().to_owned());
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (port, ids)
}

#[test]
fn listen_starts_after_existing_events_and_forwards_only_the_types_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_dev_server(dir.path());
    let target = format!("http://{}", server.grpc);
    // History that listen must not replay.
    for kind in ["payment.refunded", "payment.declined"] {
        assert!(
            paygate(&target, &["trigger", kind])
                .status()
                .unwrap()
                .success()
        );
    }
    let newest = events(&target).len();

    let bad = paygate(
        &target,
        &[
            "listen",
            "--forward-to",
            "http://127.0.0.1:1/",
            "--events",
            "payment.capture",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("payment.captured"));

    let (port, ids) = recording_receiver();
    let listen = Running::spawn(&mut paygate(
        &target,
        &[
            "listen",
            "--forward-to",
            &format!("http://127.0.0.1:{port}/hooks"),
            "--events",
            "payment.refunded",
        ],
    ));
    listen.wait_for("listen", &[&format!("Forwarding events after #{newest} ")]);
    let out = paygate(&target, &["trigger", "payment.refunded"])
        .output()
        .unwrap();
    let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    // authorize, capture, refund: sequences newest+1 .. newest+3; only the refund goes out.
    let refund = newest + 3;
    let lines = listen.wait_for(
        "listen",
        &[&format!("#{refund} payment.refunded {id} -> 200 in ")],
    );
    assert!(!lines.contains("payment.captured"), "{lines}");
    assert!(!lines.contains("payment.authorized"), "{lines}");
    assert_eq!(*ids.lock().unwrap(), [format!("msg_listen_{refund}")]);
}
