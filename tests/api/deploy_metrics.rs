//! The alert rules and dashboards under deploy/ name only metrics that paygate really exports.
//!
//! A renamed metric in `src/telemetry.rs` (or a typo in a rule) would otherwise leave an alert
//! that never fires and a dashboard panel that is quietly empty. `promtool` cannot catch this:
//! it checks the PromQL syntax, not that a series will exist.

use crate::helpers::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// paygate's own metrics and the standard process ones it exports (src/process_metrics.rs).
const PREFIXES: [&str; 2] = ["paygate_", "process_"];

#[tokio::test]
async fn every_metric_named_in_alerts_and_dashboards_is_exported() {
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let mut refs = References::default();
    let alerts = deploy.join("prometheus/alerts.yml");
    refs.add_yaml_rules(&alerts, &read(&alerts));
    let dashboards = json_files(&deploy.join("grafana/dashboards"));
    assert!(
        !dashboards.is_empty(),
        "no dashboard under deploy/grafana/dashboards"
    );
    for path in &dashboards {
        refs.add_dashboard(path, &read(path));
    }
    // Guards against a broken extractor passing vacuously.
    assert!(
        refs.in_queries.len() >= 5,
        "too few metric names found in the queries: {:?}",
        refs.in_queries
    );

    // A labelled family shows no line at all, not even `# TYPE`, before its first sample, so
    // populate each: an Authorize (gRPC and provider metrics), its replay (idempotent replays)
    // and an unsigned webhook (webhooks, rejected_signature). The gauge is always there. A
    // webhook endpoint for the shop makes its delivery series exist (at 0 until a delivery).
    let shop = crate::shop_webhooks::Receiver::start(crate::shop_webhooks::Mode::Ok).await;
    let app = TestApp::spawn_with(|s| {
        let merchant = s.merchants[0].id.to_string();
        s.merchants[0].webhook_endpoints = vec![crate::shop_webhooks::endpoint(
            "we_metrics",
            &merchant,
            &shop,
            &[],
        )];
    })
    .await;
    let mut client = app.client();
    let first = authorized(&mut client, "deploy-metrics-auth", 1_000).await;
    let replay = authorized(&mut client, "deploy-metrics-auth", 1_000).await;
    assert_eq!(first.id, replay.id, "the second Authorize must be a replay");
    let webhook = reqwest::Client::new()
        .post(format!("{}/webhooks/mock/default", app.http_base()))
        .body("{}")
        .send()
        .await
        .expect("POST webhook");
    assert!(
        webhook.status().is_client_error() || webhook.status().is_server_error(),
        "an unsigned webhook must be refused, got {}",
        webhook.status()
    );
    let exported = Exported::parse(&app.metrics().await);

    let missing: Vec<String> = refs
        .in_queries
        .iter()
        .filter(|(name, _)| !exported.samples.contains(name))
        .map(|(name, at)| format!("{name} (query in {at})"))
        .chain(
            refs.in_text
                .iter()
                .filter(|(name, _)| {
                    !exported.samples.contains(name) && !exported.families.contains(name)
                })
                .map(|(name, at)| format!("{name} (mentioned in {at})")),
        )
        .collect();
    assert!(
        missing.is_empty(),
        "deploy/ refers to metrics that /metrics does not export:\n  {}\nexported series names: {:?}",
        missing.join("\n  "),
        exported.samples
    );
}

/// `paygate_*` names found in deploy/ files, each with the file it came from.
#[derive(Default)]
struct References {
    /// Inside PromQL: must be a series name as scraped (`_total`, `_bucket`, ...).
    in_queries: BTreeSet<(String, String)>,
    /// Anywhere else (descriptions, comments): a family name is also fine there.
    in_text: BTreeSet<(String, String)>,
}

impl References {
    /// Alert/recording rules: `expr:` values (inline or block scalars) are queries.
    fn add_yaml_rules(&mut self, path: &Path, text: &str) {
        let at = short(path);
        let mut block_indent: Option<usize> = None;
        for line in text.lines() {
            let indent = line.len() - line.trim_start().len();
            let trimmed = line.trim_start();
            if let Some(min) = block_indent {
                if trimmed.is_empty() || indent > min {
                    self.add(true, &at, line);
                    continue;
                }
                block_indent = None;
            }
            if let Some(value) = trimmed.strip_prefix("expr:") {
                let value = value.trim();
                if value.starts_with('|') || value.starts_with('>') {
                    block_indent = Some(indent);
                } else {
                    self.add(true, &at, value);
                }
            } else {
                self.add(false, &at, line);
            }
        }
    }

    /// Grafana dashboard JSON: `expr` of targets and the `query`/`definition` of variables are
    /// queries; every other string is text.
    fn add_dashboard(&mut self, path: &Path, text: &str) {
        let at = short(path);
        let json: serde_json::Value =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{at} is not valid JSON: {e}"));
        self.walk_json(&at, None, &json);
    }

    fn walk_json(&mut self, at: &str, key: Option<&str>, value: &serde_json::Value) {
        match value {
            serde_json::Value::String(s) => {
                let query = matches!(key, Some("expr" | "query" | "definition"));
                self.add(query, at, s);
            }
            serde_json::Value::Array(items) => {
                for item in items {
                    self.walk_json(at, key, item);
                }
            }
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    self.walk_json(at, Some(k), v);
                }
            }
            _ => {}
        }
    }

    fn add(&mut self, query: bool, at: &str, text: &str) {
        for name in metric_names(text) {
            let set = if query {
                &mut self.in_queries
            } else {
                &mut self.in_text
            };
            set.insert((name, at.to_owned()));
        }
    }
}

/// Every `paygate_[a-z0-9_]+` or `process_[a-z0-9_]+` token that is not the tail of a longer
/// identifier, in order of appearance.
fn metric_names(text: &str) -> Vec<String> {
    let mut found: Vec<(usize, String)> = PREFIXES
        .iter()
        .flat_map(|prefix| names_with(text, prefix))
        .collect();
    found.sort();
    found.into_iter().map(|(_, name)| name).collect()
}

fn names_with(text: &str, prefix: &str) -> Vec<(usize, String)> {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(pos) = rest.find(prefix) {
        let start = offset + pos;
        let before = text[..start].chars().next_back();
        let len = text[start..]
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(text.len() - start);
        let name = text[start..start + len].trim_end_matches('_');
        // `paygate_*` in prose is a pattern, not a name.
        if !before.is_some_and(is_ident) && name.len() > prefix.len() {
            out.push((start, name.to_owned()));
        }
        offset = start + len.max(prefix.len());
        rest = &text[offset..];
    }
    out
}

/// What a scrape of /metrics offers to PromQL.
struct Exported {
    /// Metric family names from `# TYPE` lines (`paygate_grpc_requests`).
    families: BTreeSet<String>,
    /// Series names a query can select (`paygate_grpc_requests_total`), derived from each
    /// family's type as the exposition format defines them, plus every sample line's name.
    samples: BTreeSet<String>,
}

impl Exported {
    fn parse(text: &str) -> Exported {
        let mut families = BTreeSet::new();
        let mut samples = BTreeSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut parts = rest.split_whitespace();
                let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
                    panic!("malformed TYPE line: {line}");
                };
                families.insert(name.to_owned());
                samples.extend(series_of(name, kind));
            } else if !line.starts_with('#') && !line.trim().is_empty() {
                let end = line.find(['{', ' ']).unwrap_or(line.len());
                samples.insert(line[..end].to_owned());
            }
        }
        Exported { families, samples }
    }
}

/// The series names of one family. OpenMetrics (what paygate serves) names a counter family
/// without `_total` and its sample with it; the older Prometheus text format puts `_total` in
/// the family name already. Histograms expose `_bucket`, `_sum` and `_count`, never the bare name.
/// (`_created` series exist only when a client opts in; paygate's does not.)
fn series_of(family: &str, kind: &str) -> Vec<String> {
    let with = |suffixes: &[&str]| suffixes.iter().map(|s| format!("{family}{s}")).collect();
    match kind {
        "counter" if family.ends_with("_total") => vec![family.to_owned()],
        "counter" => with(&["_total"]),
        "histogram" => with(&["_bucket", "_sum", "_count"]),
        "gaugehistogram" => with(&["_bucket", "_gsum", "_gcount"]),
        "summary" => with(&["", "_sum", "_count"]),
        "info" => with(&["_info"]),
        _ => vec![family.to_owned()], // gauge, stateset, unknown, untyped
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

/// `deploy/...` for messages.
fn short(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn names_are_cut_at_identifier_boundaries() {
    assert_eq!(
        metric_names(r#"rate(paygate_grpc_requests_total{code="OK"}[5m]) / x_paygate_no"#),
        vec!["paygate_grpc_requests_total"]
    );
    assert_eq!(
        metric_names("histogram_quantile(0.9, paygate_a_bucket) paygate_b, every paygate_* name"),
        vec!["paygate_a_bucket", "paygate_b"]
    );
    assert_eq!(
        metric_names("process_open_fds / paygate_x and my_process_y"),
        vec!["process_open_fds", "paygate_x"]
    );
}

#[test]
fn series_follow_the_exposition_format() {
    let text = "# HELP paygate_c x\n# TYPE paygate_c counter\npaygate_c_total{a=\"b\"} 1\n\
                # TYPE paygate_h histogram\n# TYPE paygate_g gauge\npaygate_g 2\n# EOF\n";
    let e = Exported::parse(text);
    for name in [
        "paygate_c_total",
        "paygate_h_bucket",
        "paygate_h_count",
        "paygate_g",
    ] {
        assert!(e.samples.contains(name), "{name}");
    }
    for name in [
        "paygate_c",
        "paygate_h",
        "paygate_g_total",
        "paygate_c_total_total",
    ] {
        assert!(!e.samples.contains(name), "{name}");
    }
}
