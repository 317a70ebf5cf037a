//! loadgen: measures a running paygate (DESIGN §12).
//!
//! It drives Authorize and Authorize+Capture through the mock provider, and
//! `grpc.health.v1.Health/Check`, against the same server in the same run, one scenario after
//! another, and prints requests/s and p50/p99/p999 latency for each. Health/Check is the bare
//! transport, so "authorize p50 / health p50" is the service's own cost on this machine.
//! `authorize-json` sends the same Authorize as JSON over HTTP/1.1 (`POST /v1/payments`), and
//! `api-compare` runs it right after the gRPC one, so the two transports meet the same server.
//!
//! ```text
//! paygate serve &                                     # development mode: mock provider, no keys
//! cargo run --release --bin loadgen -- --server-pid $! # closed loop, as fast as it goes
//! cargo run --release --bin loadgen -- --rate 500 --scenario authorize --server-pid $!
//! cargo run --release --bin loadgen -- --scenario api-compare --concurrency 8  # gRPC, then JSON
//! # webhooks: paygate must verify with a secret loadgen knows (deploy/config/bench.toml)
//! cargo run --release --bin loadgen -- --scenario webhook --rate 1000 \
//!     --webhook-secret whsec_... --merchant bench
//! # event delivery latency while offering 500 authorizations/s
//! cargo run --release --bin loadgen -- --scenario authorize --rate 500 --watch-events
//! # webhook delivery latency (deploy/config/bench-webhooks.toml points an endpoint here)
//! cargo run --release --bin loadgen -- --scenario authorize --rate 500 \
//!     --webhook-receiver 127.0.0.1:7070
//! ```

#[path = "loadgen/drive.rs"]
mod drive;
#[path = "loadgen/hooks.rs"]
mod hooks;
#[path = "loadgen/json_api.rs"]
mod json_api;
#[path = "loadgen/report.rs"]
mod report;
#[path = "loadgen/stats.rs"]
mod stats;
#[path = "loadgen/target.rs"]
mod target;
#[path = "loadgen/watch.rs"]
mod watch;
#[path = "loadgen/webhooks.rs"]
mod webhooks;

use anyhow::Context as _;
use clap::Parser;
use paygate::cli::call::BearerAuth;
use report::{Memory, Row};
use std::io::Write as _;
use std::num::NonZeroU32;
use std::process::ExitCode;
use target::{Scenario, Target};
use tokio::time::Duration;

/// Drives paygate with Authorize, Authorize+Capture and Health/Check and reports
/// requests/s and latency percentiles. Exits 1 if any request failed.
#[derive(clap::Parser)]
#[command(name = "loadgen")]
struct Args {
    /// gRPC endpoint of the paygate under test
    #[arg(long, env = "PAYGATE_TARGET", default_value = "http://127.0.0.1:50051")]
    target: String,
    /// API key sent as `authorization: Bearer <key>` (omit in development mode)
    // hide_env_values: otherwise `--help` would print the key taken from the environment.
    #[arg(long, env = "PAYGATE_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Measured time per scenario: 10, 10s, 1500ms or 2m
    #[arg(long, default_value = "10", value_parser = parse_window)]
    duration: Duration,
    /// Unmeasured load before each scenario's window (same syntax as --duration)
    #[arg(long, default_value = "2", value_parser = parse_duration)]
    warmup: Duration,
    /// Workers: the most requests in flight at once
    #[arg(long, default_value_t = 32, value_parser = parse_positive)]
    concurrency: usize,
    /// Offered requests/s on a fixed schedule (open loop; Authorize+Capture pairs in that
    /// scenario); 0 = closed loop, each worker sending as soon as it has an answer
    #[arg(long, default_value_t = 0)]
    rate: u32,
    /// Which scenario to run; all runs health, authorize, authorize-capture in that order;
    /// api-compare runs authorize (gRPC) then authorize-json (HTTP/1.1 JSON)
    #[arg(long, value_enum, default_value_t = Which::All)]
    scenario: Which,
    /// HTTP/2 connections to spread the gRPC workers over [default: one per 8 workers]; the
    /// JSON scenario keeps one HTTP/1.1 connection per worker
    #[arg(long, value_parser = parse_positive)]
    connections: Option<usize>,
    /// Report this process's resident memory (VmRSS, VmHWM from /proc/PID/status)
    #[arg(long)]
    server_pid: Option<u32>,
    /// Tokio worker threads for loadgen itself [default: one per CPU]
    #[arg(long, value_parser = parse_positive)]
    threads: Option<usize>,
    /// Print a machine-readable JSON summary instead of the table
    #[arg(long)]
    json: bool,
    /// HTTP side port of the paygate under test (webhook scenario)
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    http: String,
    /// Merchant whose webhook route the webhook scenario posts to
    #[arg(long, default_value = "default")]
    merchant: String,
    /// Standard Webhooks secret (`whsec_...`) the merchant's mock provider verifies with
    #[arg(long, env = "PAYGATE_LOADGEN_WEBHOOK_SECRET", hide_env_values = true)]
    webhook_secret: Option<String>,
    /// Also subscribe to WatchEvents and report state change → subscriber latency
    #[arg(long)]
    watch_events: bool,
    /// Also receive the server's webhooks to shops on this address (an endpoint of the merchant
    /// under load must point here) and report state change → webhook received latency
    #[arg(long)]
    webhook_receiver: Option<std::net::SocketAddr>,
    /// Hold connections on this address open without answering: a dead shop endpoint (of
    /// another merchant) during the run
    #[arg(long)]
    dead_receiver: Option<std::net::SocketAddr>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    All,
    Health,
    Authorize,
    AuthorizeJson,
    AuthorizeCapture,
    Webhook,
    ApiCompare,
}

impl Which {
    fn scenarios(self) -> &'static [Scenario] {
        match self {
            Self::All => &[
                Scenario::Health,
                Scenario::Authorize,
                Scenario::AuthorizeCapture,
            ],
            Self::Health => &[Scenario::Health],
            Self::Authorize => &[Scenario::Authorize],
            Self::AuthorizeJson => &[Scenario::AuthorizeJson],
            Self::ApiCompare => &[Scenario::Authorize, Scenario::AuthorizeJson],
            Self::AuthorizeCapture => &[Scenario::AuthorizeCapture],
            Self::Webhook => &[Scenario::Webhook],
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        builder.worker_threads(threads);
    }
    let result = builder
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")
        .and_then(|runtime| runtime.block_on(run(args)));
    result.unwrap_or_else(|e| {
        eprintln!("loadgen: {e:#}");
        ExitCode::FAILURE
    })
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let auth = BearerAuth::new(args.api_key.as_deref())?;
    if let Some(pid) = args.server_pid {
        // Fail before offering load rather than after it.
        Memory::read(pid)?;
    }
    let connections = args.connections.unwrap_or(args.concurrency.div_ceil(8));
    let mut targets = connect(&args.target, &auth, connections).await?;
    if args.scenario.scenarios().contains(&Scenario::Webhook) {
        prepare_webhooks(&args, &mut targets).await?;
    }
    if args.scenario.scenarios().contains(&Scenario::AuthorizeJson) {
        let client = json_api::JsonAuthorize::new(
            &args.target,
            args.api_key.as_deref(),
            target::authorize_amount()?,
            args.concurrency,
            target::REQUEST_TIMEOUT,
        )?;
        for target in &mut targets {
            target.set_json(client.clone());
        }
    }

    let mode = NonZeroU32::new(args.rate).map_or_else(
        || "closed loop".to_owned(),
        |r| format!("open loop at {r} req/s"),
    );
    eprintln!(
        "loadgen: {} with {} workers over {} connections, {mode}, {:?} per scenario after {:?} warm-up",
        args.target, args.concurrency, connections, args.duration, args.warmup
    );

    if let Some(addr) = args.dead_receiver {
        hooks::dead(addr).await?;
    }
    let mut rows = Vec::new();
    for &scenario in args.scenario.scenarios() {
        eprintln!("loadgen: running {}", scenario.name());
        let plan = drive::Plan {
            scenario,
            warmup: args.warmup,
            duration: args.duration,
            concurrency: args.concurrency,
            rate: NonZeroU32::new(args.rate),
        };
        let watcher = if args.watch_events {
            Some(watch::spawn(&args.target, auth.clone(), args.warmup, args.duration).await?)
        } else {
            None
        };
        let receiver = match args.webhook_receiver {
            Some(addr) => Some(hooks::spawn(addr, args.warmup, args.duration).await?),
            None => None,
        };
        let samples = drive::run(plan, &targets).await?;
        let server_rss = args.server_pid.and_then(|pid| Memory::read(pid).ok());
        if let Some(receiver) = receiver {
            let delivered = receiver.await?;
            rows.push(Row {
                name: "webhook delivery",
                summary: delivered.summarize(args.duration),
                server_rss,
            });
        }
        if let Some(watcher) = watcher {
            let delivered = watcher.await?;
            rows.push(Row {
                name: "event delivery",
                summary: delivered.summarize(args.duration),
                server_rss,
            });
        }
        let (main_name, capture_name) = scenario.row_names();
        if let Some(name) = capture_name {
            let summary = samples.capture.summarize(args.duration);
            rows.push(Row {
                name,
                summary,
                server_rss,
            });
        }
        let summary = samples.main.summarize(args.duration);
        rows.push(Row {
            name: main_name,
            summary,
            server_rss,
        });
    }

    let memory = match args.server_pid.map(Memory::read).transpose() {
        Ok(memory) => memory,
        Err(e) => {
            eprintln!("loadgen: {e:#}");
            None
        }
    };
    let output = if args.json {
        let settings = report::Settings {
            target: &args.target,
            concurrency: args.concurrency,
            connections,
            rate: args.rate,
            duration_s: args.duration.as_secs_f64(),
            warmup_s: args.warmup.as_secs_f64(),
        };
        format!("{:#}\n", report::json(&settings, &rows, memory))
    } else {
        report::text(&rows, memory)
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(output.as_bytes())?;
    stdout.flush()?;

    let failed = rows.iter().any(|row| row.summary.error_total() > 0);
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Creates the `requires_action` payments the webhook scenario settles, one per webhook it
/// may send (the rate times warm-up plus window, or 30,000 in the closed loop), unmeasured.
async fn prepare_webhooks(args: &Args, targets: &mut [Target]) -> anyhow::Result<()> {
    let secret = args.webhook_secret.as_deref().context(
        "the webhook scenario needs --webhook-secret (the merchant's mock webhook secret)",
    )?;
    let sender = webhooks::WebhookSender::new(&args.http, &args.merchant, secret)?;
    // Integer milliseconds: rate × (warm-up + window), plus 5% and 100 for scheduling slack.
    let millis = (args.warmup + args.duration).as_millis();
    let count = match args.rate {
        0 => 30_000,
        rate => {
            let due = u128::from(rate) * millis / 1000;
            usize::try_from(due + due / 20 + 100).unwrap_or(usize::MAX)
        }
    };
    eprintln!("loadgen: preparing {count} payments in requires_action for the webhook scenario");
    let per_worker = count.div_ceil(args.concurrency);
    let mut set = tokio::task::JoinSet::new();
    for target in targets.iter().cycle().take(args.concurrency).cloned() {
        let sender = sender.clone();
        let mut target = target;
        set.spawn(async move {
            let mut batch = Vec::with_capacity(per_worker);
            for _ in 0..per_worker {
                batch.push(target.prepare_redirect().await?);
            }
            sender.add(batch);
            Ok::<(), &'static str>(())
        });
    }
    while let Some(done) = set.join_next().await {
        done?.map_err(|kind| anyhow::anyhow!("preparing a redirect payment failed: {kind}"))?;
    }
    for target in targets.iter_mut() {
        target.set_webhooks(sender.clone());
    }
    Ok(())
}

/// Several connections, because one HTTP/2 connection is served by one task on the server and
/// becomes the bottleneck long before the service does. One Health/Check on each proves the
/// address and the server before the clock starts.
async fn connect(address: &str, auth: &BearerAuth, count: usize) -> anyhow::Result<Vec<Target>> {
    let mut targets = Vec::with_capacity(count);
    for _ in 0..count {
        let mut target = Target::connect(address, auth.clone())
            .await
            .with_context(|| format!("cannot connect to {address}"))?;
        target
            .check()
            .await
            .map_err(|code| anyhow::anyhow!("Health/Check on {address} failed: {code}"))?;
        targets.push(target);
    }
    Ok(targets)
}

/// `10` and `10s` are seconds; `ms` and `m` suffixes are accepted too.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("expected a duration like 10, 10s, 500ms or 2m, got {text:?}"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        other => Err(format!("unknown duration unit {other:?} (use s, ms or m)")),
    }
}

fn parse_window(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        Duration::ZERO => Err("the measured duration must be more than zero".to_owned()),
        window => Ok(window),
    }
}

fn parse_positive(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "expected a whole number of at least 1, got {text:?}"
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn defaults_match_the_benchmark_plan() {
        let args = Args::try_parse_from(["loadgen"]).unwrap();
        assert_eq!(args.duration, Duration::from_secs(10));
        assert_eq!(args.warmup, Duration::from_secs(2));
        assert_eq!((args.concurrency, args.rate, args.json), (32, 0, false));
        assert_eq!(args.scenario, Which::All);
        assert_eq!(args.scenario.scenarios().len(), 3);
    }

    #[test]
    fn flags_parse() {
        let args = Args::try_parse_from([
            "loadgen",
            "--rate",
            "500",
            "--duration",
            "30s",
            "--warmup",
            "500ms",
            "--scenario",
            "authorize-capture",
            "--server-pid",
            "42",
            "--concurrency",
            "64",
            "--json",
        ])
        .unwrap();
        assert_eq!(args.rate, 500);
        assert_eq!(args.duration, Duration::from_secs(30));
        assert_eq!(args.warmup, Duration::from_millis(500));
        assert_eq!(args.scenario.scenarios(), &[Scenario::AuthorizeCapture]);
        assert_eq!(
            (args.server_pid, args.concurrency, args.json),
            (Some(42), 64, true)
        );
        assert!(Args::try_parse_from(["loadgen", "--concurrency", "0"]).is_err());
        let compare = Args::try_parse_from(["loadgen", "--scenario", "api-compare"]).unwrap();
        assert_eq!(
            compare.scenario.scenarios(),
            &[Scenario::Authorize, Scenario::AuthorizeJson]
        );
        let json = Args::try_parse_from(["loadgen", "--scenario", "authorize-json"]).unwrap();
        assert_eq!(json.scenario.scenarios(), &[Scenario::AuthorizeJson]);
        assert!(Args::try_parse_from(["loadgen", "--duration", "0s"]).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("10h").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("-1").is_err());
    }
}
