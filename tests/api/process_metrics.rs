//! `/metrics` exposes the process metrics under their standard Prometheus names, with values a
//! running paygate can have, and `paygate_build_info`.

use crate::helpers::*;
use std::time::{SystemTime, UNIX_EPOCH};

/// The value of the one unlabelled sample `name` in a scrape.
fn sample(text: &str, name: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no {name} sample in\n{text}"));
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap_or_else(|e| panic!("{line}: {e}"))
}

#[tokio::test]
async fn metrics_expose_process_figures_with_sane_values() {
    let app = TestApp::spawn().await;
    let text = app.metrics().await;

    let rss = sample(&text, "process_resident_memory_bytes");
    assert!(rss > 1024.0 * 1024.0, "resident memory {rss} bytes");
    let fds = sample(&text, "process_open_fds");
    assert!(fds >= 3.0, "open fds {fds}: stdin, stdout, stderr at least");
    let max_fds = sample(&text, "process_max_fds");
    assert!(max_fds >= fds, "max fds {max_fds} below open fds {fds}");
    let cpu = sample(&text, "process_cpu_seconds_total");
    assert!(cpu >= 0.0, "cpu seconds {cpu}");
    assert!(
        text.contains("# TYPE process_cpu_seconds counter"),
        "cpu seconds must be a counter:\n{text}"
    );
    let start = sample(&text, "process_start_time_seconds");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    // The test process started this app: not older than an hour, not in the future (give or
    // take the one-second resolution of the kernel's boot time).
    assert!(
        start <= now + 1.0 && start > now - 3600.0,
        "start time {start}, now {now}"
    );

    let version = env!("CARGO_PKG_VERSION");
    let build = text
        .lines()
        .find(|l| l.starts_with("paygate_build_info{"))
        .unwrap_or_else(|| panic!("no paygate_build_info in\n{text}"));
    assert!(
        build.contains(&format!("version=\"{version}\"")) && build.contains("commit=\""),
        "{build}"
    );
    assert!(build.ends_with(" 1"), "{build}");
}
