//! The results: a table for people, a JSON document for scripts, and the server's memory.

use crate::stats::{Summary, ms, u64_to_f64};
use serde_json::{Value, json};
use std::fmt::Write as _;

/// One line of the report.
#[derive(Debug)]
pub struct Row {
    pub name: &'static str,
    pub summary: Summary,
    /// The server's resident memory right after this scenario's load, when a pid was given.
    pub server_rss: Option<Memory>,
}

/// A process's memory from `/proc/PID/status`, in KiB as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss_kib: u64,
    /// `VmHWM`: the highest resident size since the process started.
    pub peak_kib: u64,
}

impl Memory {
    pub fn read(pid: u32) -> anyhow::Result<Self> {
        let path = format!("/proc/{pid}/status");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("cannot read {path}: {e}"))?;
        parse_status(&text).ok_or_else(|| anyhow::anyhow!("no VmRSS/VmHWM in {path}"))
    }
}

fn parse_status(text: &str) -> Option<Memory> {
    let kib = |field: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|number| number.trim().parse::<u64>().ok())
    };
    Some(Memory {
        rss_kib: kib("VmRSS:")?,
        peak_kib: kib("VmHWM:")?,
    })
}

fn mib(kib: u64) -> f64 {
    u64_to_f64(kib) / 1024.0
}

/// The table, the error breakdown, the authorize/health ratio and the server's memory.
pub fn text(rows: &[Row], memory: Option<Memory>) -> String {
    let mut out = format!(
        "{:<18} {:>12} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8}\n",
        "scenario", "rate(req/s)", "count", "errors", "p50(ms)", "p99(ms)", "p999(ms)", "max(ms)"
    );
    for row in rows {
        let s = &row.summary;
        let _ = writeln!(
            out,
            "{:<18} {:>12.1} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8}",
            row.name,
            s.rate,
            s.count,
            s.error_total(),
            latency(s.p50, 2),
            latency(s.p99, 2),
            latency(s.p999, 2),
            latency(s.max, 1),
        );
    }
    for row in rows.iter().filter(|row| !row.summary.errors.is_empty()) {
        let kinds: Vec<String> = row
            .summary
            .errors
            .iter()
            .map(|(kind, count)| format!("{kind} {count}"))
            .collect();
        let _ = writeln!(out, "errors in {}: {}", row.name, kinds.join(", "));
    }
    if let Some(ratio) = Ratio::of(rows) {
        let _ = writeln!(
            out,
            "ratio authorize p50 / health p50: {:.1}x (p99: {:.1}x)",
            ratio.p50, ratio.p99
        );
    }
    if let Some(ratio) = json_to_grpc(rows) {
        let _ = writeln!(
            out,
            "ratio authorize-json / authorize (gRPC) rate: {ratio:.2}x"
        );
    }
    if let Some(m) = memory {
        let _ = writeln!(
            out,
            "server RSS: {:.1} MiB (peak {:.1} MiB)",
            mib(m.rss_kib),
            mib(m.peak_kib)
        );
    }
    out
}

fn latency(micros: Option<u32>, places: usize) -> String {
    micros.map_or_else(|| "-".to_owned(), |us| format!("{:.places$}", ms(us)))
}

/// The settings a run used, echoed in the JSON so results can be compared later.
#[derive(Debug)]
pub struct Settings<'a> {
    pub target: &'a str,
    pub concurrency: usize,
    pub connections: usize,
    /// Offered requests/s; 0 for the closed loop.
    pub rate: u32,
    pub duration_s: f64,
    pub warmup_s: f64,
}

pub fn json(settings: &Settings<'_>, rows: &[Row], memory: Option<Memory>) -> Value {
    let results: Vec<Value> = rows
        .iter()
        .map(|row| {
            let s = &row.summary;
            json!({
                "name": row.name,
                "rate": s.rate,
                "count": s.count,
                "errors": s.errors,
                "error_total": s.error_total(),
                "p50_ms": s.p50.map(ms),
                "p99_ms": s.p99.map(ms),
                "p999_ms": s.p999.map(ms),
                "max_ms": s.max.map(ms),
                "server_rss_mib": row.server_rss.map(|m| mib(m.rss_kib)),
            })
        })
        .collect();
    json!({
        "target": settings.target,
        "concurrency": settings.concurrency,
        "connections": settings.connections,
        "offered_rate": settings.rate,
        "duration_s": settings.duration_s,
        "warmup_s": settings.warmup_s,
        "results": results,
        "ratio_authorize_to_health": Ratio::of(rows).map(|r| json!({ "p50": r.p50, "p99": r.p99 })),
        "ratio_json_to_grpc_rate": json_to_grpc(rows),
        "server": memory.map(|m| json!({ "rss_mib": mib(m.rss_kib), "peak_rss_mib": mib(m.peak_kib) })),
    })
}

/// Authorize/s over HTTP/JSON as a fraction of Authorize/s over gRPC in the same run
/// (issue 12 aims for at least 0.8).
fn json_to_grpc(rows: &[Row]) -> Option<f64> {
    let rate = |name: &str| {
        rows.iter()
            .find(|row| row.name == name)
            .map(|row| row.summary.rate)
    };
    match (rate("authorize-json")?, rate("authorize")?) {
        (json, grpc) if grpc > 0.0 => Some(json / grpc),
        _ => None,
    }
}

/// How much slower Authorize is than the bare transport: the service's own cost.
struct Ratio {
    p50: f64,
    p99: f64,
}

impl Ratio {
    fn of(rows: &[Row]) -> Option<Self> {
        let find = |name: &str| {
            rows.iter()
                .find(|row| row.name == name)
                .map(|row| &row.summary)
        };
        let (authorize, health) = (find("authorize")?, find("health/check")?);
        let ratio = |a: Option<u32>, h: Option<u32>| match (a, h) {
            (Some(a), Some(h)) if h > 0 => Some(f64::from(a) / f64::from(h)),
            _ => None,
        };
        Some(Self {
            p50: ratio(authorize.p50, health.p50)?,
            p99: ratio(authorize.p99, health.p99)?,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::stats::Recorder;
    use tokio::time::Duration;

    fn row(name: &'static str, micros: &[u64], errors: &[&'static str]) -> Row {
        let mut r = Recorder::default();
        for &us in micros {
            r.ok(Duration::from_micros(us));
        }
        for &e in errors {
            r.error(e);
        }
        Row {
            name,
            summary: r.summarize(Duration::from_secs(1)),
            server_rss: None,
        }
    }

    #[test]
    fn reads_proc_status() {
        let status =
            "Name:\tpaygate\nVmPeak:\t  900000 kB\nVmHWM:\t   49152 kB\nVmRSS:\t   43110 kB\n";
        assert_eq!(
            parse_status(status),
            Some(Memory {
                rss_kib: 43110,
                peak_kib: 49152
            })
        );
        assert_eq!(
            parse_status("Name:\tkthreadd\n"),
            None,
            "kernel threads have no VmRSS"
        );
    }

    #[test]
    fn reads_our_own_memory() {
        let me = Memory::read(std::process::id()).unwrap();
        assert!(me.rss_kib > 0 && me.peak_kib >= me.rss_kib);
    }

    #[test]
    fn table_has_rows_errors_ratio_and_memory() {
        let rows = [
            row("health/check", &[1000, 1000, 2000], &[]),
            row(
                "authorize",
                &[6000, 6000, 8000],
                &["UNAVAILABLE", "declined"],
            ),
        ];
        let memory = Some(Memory {
            rss_kib: 43110,
            peak_kib: 49152,
        });
        let text = text(&rows, memory);
        assert!(text.starts_with("scenario "), "{text}");
        assert!(
            text.contains("authorize                   3.0        3        2     6.00     8.00"),
            "{text}"
        );
        assert!(
            text.contains("errors in authorize: UNAVAILABLE 1, declined 1"),
            "{text}"
        );
        assert!(
            text.contains("ratio authorize p50 / health p50: 6.0x (p99: 4.0x)"),
            "{text}"
        );
        assert!(
            text.contains("server RSS: 42.1 MiB (peak 48.0 MiB)"),
            "{text}"
        );
    }

    #[test]
    fn json_is_compared_with_grpc_when_both_ran() {
        let rows = [
            row("authorize", &[1000, 1000, 1000, 1000], &[]),
            row("authorize-json", &[1000, 1000, 1000], &[]),
        ];
        let text = text(&rows, None);
        assert!(
            text.contains("ratio authorize-json / authorize (gRPC) rate: 0.75x"),
            "{text}"
        );
        assert!(json_to_grpc(&rows[..1]).is_none(), "no JSON row, no ratio");
    }

    #[test]
    fn empty_rows_print_dashes() {
        let text = text(&[row("capture", &[], &["NOT_FOUND"])], None);
        assert!(text.contains(" - "), "{text}");
        assert!(!text.contains("ratio"), "{text}");
    }

    #[test]
    fn json_summary_is_machine_readable() {
        let rows = [
            row("health/check", &[1000], &[]),
            row("authorize", &[3000], &["ABORTED"]),
        ];
        let settings = Settings {
            target: "http://127.0.0.1:50051",
            concurrency: 32,
            connections: 4,
            rate: 500,
            duration_s: 10.0,
            warmup_s: 2.0,
        };
        let v = json(&settings, &rows, None);
        assert_eq!(v["results"][1]["errors"]["ABORTED"], 1);
        assert_eq!(v["results"][1]["p50_ms"], 3.0);
        assert_eq!(v["ratio_authorize_to_health"]["p50"], 3.0);
        assert_eq!(v["offered_rate"], 500);
        assert_eq!(v["server"], Value::Null);
    }
}
