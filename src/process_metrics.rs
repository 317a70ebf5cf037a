//! Process metrics under their standard Prometheus names (`process_resident_memory_bytes`, ...)
//! and `paygate_build_info`, read at scrape time.
//!
//! prometheus-client has no process collector, so this reads `/proc/self` itself, the way the
//! Go client's procfs collector does. Reading on scrape (not on a timer) means no task runs when
//! nobody scrapes, and a value is never staler than the scrape. Off Linux, or when a `/proc`
//! file cannot be read, that metric is simply left out of the scrape: a missing series is
//! visible (`absent()`), a made-up zero would not be.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// The kernel's `USER_HZ`: `/proc` reports CPU times and the start time in these ticks. It is
/// 100 on every Linux architecture Rust targets (it is ABI, not the kernel's `HZ`); the Go
/// client's procfs hard-codes it too. Reading it with `sysconf` would need `unsafe`.
const USER_HZ: f64 = 100.0;

/// Scraped values of this process; `None` where `/proc` did not answer.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ProcessSample {
    pub(crate) resident_bytes: Option<u64>,
    pub(crate) cpu_seconds: Option<f64>,
    pub(crate) open_fds: Option<u64>,
    pub(crate) max_fds: Option<u64>,
    pub(crate) start_time_seconds: Option<f64>,
}

impl ProcessSample {
    /// Reads `/proc/self`; every field is read on its own, so one unreadable file costs one metric.
    pub(crate) fn read() -> Self {
        let proc_file = |name: &str| std::fs::read_to_string(format!("/proc/{name}")).ok();
        let stat = proc_file("self/stat");
        let stat = stat.as_deref().and_then(StatFields::parse);
        let boot_time = proc_file("stat").as_deref().and_then(boot_time);
        Self {
            resident_bytes: proc_file("self/status").as_deref().and_then(resident_bytes),
            cpu_seconds: stat.map(|s| ticks_to_seconds(s.utime + s.stime)),
            open_fds: std::fs::read_dir("/proc/self/fd")
                .ok()
                .and_then(|dir| u64::try_from(dir.count()).ok()),
            max_fds: proc_file("self/limits").as_deref().and_then(max_open_files),
            start_time_seconds: stat
                .zip(boot_time)
                .map(|(s, boot)| boot + ticks_to_seconds(s.start_ticks)),
        }
    }
}

fn ticks_to_seconds(ticks: u64) -> f64 {
    // u64 → f64 without `as`: two exact u32 halves; exact below 2^53 ticks.
    let high = u32::try_from(ticks >> 32).unwrap_or(u32::MAX);
    let low = u32::try_from(ticks & u64::from(u32::MAX)).unwrap_or(u32::MAX);
    (f64::from(high) * 4_294_967_296.0 + f64::from(low)) / USER_HZ
}

/// The fields of `/proc/self/stat` this needs (see proc(5)).
#[derive(Clone, Copy)]
struct StatFields {
    utime: u64,
    stime: u64,
    start_ticks: u64,
}

impl StatFields {
    /// The command name (field 2) is in parentheses and may itself contain spaces or `)`, so
    /// fields are counted from the last `)`.
    fn parse(stat: &str) -> Option<Self> {
        let after_comm = stat.get(stat.rfind(')')? + 1..)?;
        // After the name: field 3 (state) is index 0, so field n is index n - 3.
        let fields: Vec<&str> = after_comm.split_whitespace().collect();
        let field = |n: usize| fields.get(n.checked_sub(3)?)?.parse::<u64>().ok();
        Some(Self {
            utime: field(14)?,
            stime: field(15)?,
            start_ticks: field(22)?,
        })
    }
}

/// `VmRSS:   12345 kB` in `/proc/self/status`.
fn resident_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// `btime 1700000000` in `/proc/stat`: boot time, in seconds since the epoch.
fn boot_time(stat: &str) -> Option<f64> {
    let line = stat.lines().find(|l| l.starts_with("btime "))?;
    let secs: u32 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(f64::from(secs))
}

/// The soft limit on the `Max open files` line of `/proc/self/limits` (`unlimited` is left out).
fn max_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Registered once in the app's registry; encodes a fresh [`ProcessSample`] on every scrape.
#[derive(Debug)]
pub(crate) struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = ProcessSample::read();
        if let Some(v) = s.cpu_seconds {
            // A counter: the text format appends `_total`.
            let m = ConstCounter::new(v);
            m.encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds",
                None,
                m.metric_type(),
            )?)?;
        }
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                s.resident_bytes,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors",
                s.open_fds,
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors (soft limit)",
                s.max_fds,
            ),
        ];
        for (name, help, value) in gauges {
            if let Some(v) = value {
                let m = ConstGauge::new(v);
                m.encode(encoder.encode_descriptor(name, help, None, m.metric_type())?)?;
            }
        }
        if let Some(v) = s.start_time_seconds {
            let m = ConstGauge::new(v);
            m.encode(encoder.encode_descriptor(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds",
                None,
                m.metric_type(),
            )?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        // A command name with a space and a `)` in it must not shift the fields.
        let stat = "4242 (pay gate) x) S 1 4242 4242 0 -1 4194560 900 0 0 0 \
                    250 50 0 0 20 0 8 0 123456 1000000 3000 18446744073709551615";
        let s = StatFields::parse(stat).unwrap();
        assert_eq!((s.utime, s.stime, s.start_ticks), (250, 50, 123456));
        assert_eq!(ticks_to_seconds(s.utime + s.stime), 3.0);
    }

    #[test]
    fn status_limits_and_boot_time_are_parsed() {
        let status = "Name:\tpaygate\nVmHWM:\t  9000 kB\nVmRSS:\t   2048 kB\n";
        assert_eq!(resident_bytes(status), Some(2048 * 1024));
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max processes             63455                63455                processes\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(max_open_files(limits), Some(1024));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(max_open_files(unlimited), None);
        assert_eq!(boot_time("cpu  1 2 3\nbtime 1700000000\n"), Some(1.7e9));
    }
}
