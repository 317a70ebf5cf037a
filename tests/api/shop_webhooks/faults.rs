//! A receiver that fails, then comes back; a schedule that runs out and an operator who
//! redelivers from the command line; an endpoint that never answers.

use super::*;
use crate::helpers::*;
use std::path::Path;

/// A config for the CLI: only the database matters to `paygate webhooks`.
fn cli_config(dir: &Path, db: &Path) -> std::path::PathBuf {
    let text = format!(
        "[server]\nrequire_auth = false\n\n[database]\nurl = \"sqlite://{}\"\n\n[[merchants]]\nid = \"default\"\n\n  [merchants.providers.mock]\n",
        db.display()
    );
    let path = dir.join("cli.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn cli(config: &Path, args: &[&str]) -> String {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_paygate"))
        .arg("webhooks")
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("PAYGATE_CONFIG")
        .env_remove("PAYGATE_DATABASE_URL")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "paygate webhooks {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn list(config: &Path, payment: &str) -> serde_json::Value {
    let out = cli(
        config,
        &["list", "--payment", payment, "--attempts", "--json"],
    )
    .await;
    let mut rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(rows.len(), 1, "{out}");
    rows.remove(0)
}

fn statuses(row: &serde_json::Value) -> Vec<i64> {
    row["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_i64().unwrap_or(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_receiver_is_retried_on_schedule_then_failed_then_redelivered_from_the_cli() {
    let rx = Receiver::start(Mode::Fail).await;
    let app = TestApp::spawn_with(|s| {
        let m = s.merchants[0].id.to_string();
        s.merchants[0].webhook_endpoints =
            vec![endpoint("we_flaky", &m, &rx, &["payment.authorized"])];
        s.webhooks = delivery(&[0, 1, 1, 1], Duration::from_secs(5));
    })
    .await;
    let dir = tempfile::TempDir::new().unwrap();
    let config = cli_config(dir.path(), &app.db_path());
    let mut client = app.client();

    // Down for two attempts, then back: delivered by the third, on the short schedule.
    let first = authorized(&mut client, "wh-flaky-1", 1_000).await;
    rx.wait_for(Duration::from_secs(20), "two failed attempts", |g| {
        g.len() >= 2
    })
    .await;
    rx.set(Mode::Ok);
    let got = rx
        .wait_for(Duration::from_secs(20), "the retry", |g| g.len() >= 3)
        .await;
    assert!(
        got.iter()
            .all(|r| r.id == got[0].id && r.body == got[0].body),
        "same id and body on every retry"
    );
    assert!(got.iter().all(verified));
    let row = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let row = list(&config, &first.id).await;
            if row["state"] == "delivered" {
                return row;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("delivered in the log");
    assert_eq!(statuses(&row), vec![500, 500, 204], "{row}");

    // Down for the whole schedule: four attempts, then failed.
    rx.set(Mode::Fail);
    let second = authorized(&mut client, "wh-flaky-2", 1_000).await;
    let row = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let row = list(&config, &second.id).await;
            if row["state"] == "failed" {
                return row;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("failed once the schedule is exhausted");
    assert_eq!(statuses(&row), vec![500, 500, 500, 500], "{row}");
    let failed_id = row["webhook_id"].as_str().unwrap().to_owned();
    let before = rx.got().len();
    let failed_body = rx.got().last().unwrap().body.clone();

    // The operator redelivers it: same webhook-id and body, delivered now.
    rx.set(Mode::Ok);
    let id = row["id"].as_i64().unwrap().to_string();
    let said = cli(&config, &["redeliver", &id]).await;
    assert!(said.starts_with("1 deliveries"), "{said}");
    let got = rx
        .wait_for(Duration::from_secs(10), "the redelivery", |g| {
            g.len() > before
        })
        .await;
    let again = &got[before];
    assert_eq!((&again.id, &again.body), (&failed_id, &failed_body));
    assert!(verified(again));
    let row = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let row = list(&config, &second.id).await;
            if row["state"] == "delivered" {
                return row;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("delivered after the redelivery");
    assert_eq!(statuses(&row), vec![500, 500, 500, 500, 204]);
    let metrics = app.metrics().await;
    for (result, n) in [("delivered", 2.0), ("retrying", 5.0), ("failed", 1.0)] {
        let series = format!(
            "paygate_webhook_deliveries_total{{merchant=\"default\",endpoint=\"we_flaky\",result=\"{result}\"}}"
        );
        assert_eq!(metric_value(&metrics, &series), n, "{series}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_endpoint_that_never_answers_holds_up_no_other_merchant() {
    let dead = Receiver::start(Mode::Hang).await;
    let alive = Receiver::start(Mode::Ok).await;
    let app = TestApp::spawn_with(|s| {
        s.server.require_auth = true;
        s.merchants = vec![
            mock_merchant("atlas", Some(ATLAS_KEY)),
            mock_merchant("souk", Some(SOUK_KEY)),
        ];
        let mut stuck = endpoint("we_dead", "atlas", &dead, &[]);
        stuck.max_concurrent = 2;
        s.merchants[0].webhook_endpoints = vec![stuck];
        s.merchants[1].webhook_endpoints = vec![endpoint("we_alive", "souk", &alive, &[])];
        // Attempts to the dead endpoint stay in flight for the whole test.
        s.webhooks = delivery(&[0, 60], Duration::from_secs(120));
    })
    .await;
    let mut client = app.client();
    for i in 0..5 {
        client
            .authorize(authed(
                authorize_req(&format!("atlas-{i}"), 1_000, "MAD", ""),
                ATLAS_KEY,
            ))
            .await
            .unwrap();
    }
    // Atlas's two slots are taken by attempts that never end.
    dead.wait_for(Duration::from_secs(20), "both slots in use", |g| {
        g.len() >= 2
    })
    .await;
    for i in 0..5 {
        client
            .authorize(authed(
                authorize_req(&format!("souk-{i}"), 1_000, "MAD", ""),
                SOUK_KEY,
            ))
            .await
            .unwrap();
    }
    let got = alive
        .wait_for(Duration::from_secs(20), "souk's five events", |g| {
            g.len() >= 5
        })
        .await;
    assert!(got.iter().all(verified));
    // Meanwhile atlas's deliveries are still in flight or waiting: none finished, and never
    // more than its two slots were in use.
    assert_eq!(dead.got().len(), 2, "only its own slots");
    let metrics = app.metrics().await;
    let atlas = metric_value(
        &metrics,
        "paygate_webhook_deliveries_total{merchant=\"atlas\"",
    );
    assert_eq!(atlas, 0.0, "no atlas attempt has ended");
    let souk = metric_value(
        &metrics,
        "paygate_webhook_deliveries_total{merchant=\"souk\",endpoint=\"we_alive\",result=\"delivered\"}",
    );
    assert_eq!(souk, 5.0);
}

/// An endpoint that fails fast (500 at once) with many deliveries due, retried at once by its
/// schedule: it is paced to one attempt at a time, a few a second, instead of churning through
/// its backlog at the database's write rate. Once it answers 2xx every delivery goes out.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fast_failing_endpoint_is_paced_then_drained_when_it_recovers() {
    let rx = Receiver::start(Mode::Fail).await;
    let app = TestApp::spawn_with(|s| {
        let merchant = s.merchants[0].id.to_string();
        s.merchants[0].webhook_endpoints = vec![endpoint("we_paced", &merchant, &rx, &[])];
        // No wait between attempts: unpaced, 20 events × 10 attempts would arrive at once.
        s.webhooks = delivery(&[0; 10], Duration::from_secs(5));
    })
    .await;
    let mut client = app.client();
    const N: usize = 20;
    for i in 0..N {
        authorized(&mut client, &format!("paced-{i}"), 1_000).await;
    }
    rx.wait_for(Duration::from_secs(10), "a first failed attempt", |g| {
        !g.is_empty()
    })
    .await;
    let first = tokio::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seen = rx.got().len();
    let elapsed = first.elapsed().as_secs_f64();
    // At most one attempt per 200 ms (plus the ones in flight at the start); a slower machine
    // only makes fewer.
    let bound = (elapsed / 0.2).ceil() as usize + 4;
    assert!(
        seen <= bound,
        "{seen} attempts in {elapsed:.1} s to a failing endpoint; paced allows {bound}"
    );

    // Requests recorded after this point read the mode after the switch: answered 2xx. Each
    // event must be among them.
    rx.set(Mode::Ok);
    let before = rx.got().len();
    let got = rx
        .wait_for(
            Duration::from_secs(30),
            "every event once it recovers",
            |g| {
                let delivered: std::collections::HashSet<&str> =
                    g.iter().skip(before).map(|r| r.id.as_str()).collect();
                delivered.len() >= N
            },
        )
        .await;
    assert!(got.iter().all(verified));
}
