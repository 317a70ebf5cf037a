//! The command line: `serve`, `migrate`, `check-config`, `mock-processor`, `call`, the
//! developer tools (`listen`, `trigger`) and the operator tools (`cmi hash|verify`, `paypal
//! verify-webhook`).

pub mod call;
pub mod cmi;
mod event_types;
pub mod json;
pub mod listen;
pub mod paypal;
pub mod trigger;
pub mod webhooks;

use crate::config::Settings;
use crate::store::{Store, StoreOptions};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Parser, Debug)]
#[command(
    name = "paygate",
    version,
    about = "Payment gateway adapter: gRPC in, CMI / PayPal / mock processor out"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Subcommand, Debug)]
#[allow(clippy::large_enum_variant, reason = "parsed once per process")]
pub enum Command {
    /// Run the service: gRPC API and HTTP side port.
    Serve(ConfigArgs),
    /// Apply database migrations and exit.
    Migrate(ConfigArgs),
    /// Validate a config file and print what would run, secrets masked.
    CheckConfig(ConfigArgs),
    /// Run the mock card processor on its own.
    MockProcessor {
        /// Address to listen on; the config's `[merchants.providers.mock] base_url` points here
        #[arg(long, default_value = "127.0.0.1:9090")]
        listen: SocketAddr,
    },
    /// A small gRPC client: authorize, capture, void, refund, get, list, watch.
    Call(call::CallArgs),
    /// Forward the merchant's new events to a local receiver as signed webhooks (development).
    Listen(listen::ListenArgs),
    /// Produce one event (payment.captured, ...) through the mock processor (development).
    Trigger(trigger::TriggerArgs),
    /// CMI operator tools: compute or check a ver3 hash offline.
    #[command(subcommand)]
    Cmi(cmi::CmiCommand),
    /// PayPal operator tools: `paypal verify-webhook`.
    Paypal(paypal::PaypalArgs),
    /// Webhooks to shops: the delivery log (`list`) and `redeliver`, from the database.
    Webhooks(webhooks::WebhooksArgs),
}

/// `--config`, only on the commands that read a config file (`call` and the offline tools do not).
#[derive(clap::Args, Debug)]
pub struct ConfigArgs {
    /// Config file (TOML). Without one (and without PAYGATE_CONFIG), development mode.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// `paygate check-config`: the summary on stdout, then the warnings; or every problem with its
/// key. The same validation as `serve` (config loading plus [`Settings::check_runnable`]), so
/// what `check-config` accepts, `serve` starts with.
#[expect(clippy::print_stdout, reason = "CLI output")]
pub fn check_config(settings: &Result<Settings, crate::config::ConfigError>) -> ExitCode {
    match settings {
        Ok(s) => {
            if let Err(problem) = s.check_runnable() {
                eprintln!("config error: {problem}");
                return ExitCode::FAILURE;
            }
            println!("{}", s.describe());
            let warnings = s.warnings();
            for warning in &warnings {
                println!("warning: {warning}");
            }
            match warnings.len() {
                0 => println!("config OK"),
                1 => println!("config OK, with 1 warning"),
                n => println!("config OK, with {n} warnings"),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("config error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The database the config names, for a command that works on it directly rather than through
/// a running paygate (`migrate`, `webhooks`). Opening applies the embedded migrations.
pub(crate) async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let options = StoreOptions {
        url: settings.database.url.clone(),
        busy_timeout: Duration::from_secs(5),
        sqlite_max_pages: None,
    };
    let metrics = std::sync::Arc::new(crate::telemetry::Metrics::new());
    Ok(Store::open(&options, metrics).await?)
}

pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    store.close().await;
    tracing::info!(database = %crate::store::redact_url(&settings.database.url), "migrations applied");
    Ok(())
}

pub async fn mock_processor(listen: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let url = format!("http://{}", listener.local_addr()?);
    tracing::info!(
        "mock processor at {url}: GET /v1/ledger shows what it charged, PUT /_faults injects faults"
    );
    crate::providers::mock::server::serve(
        listener,
        crate::providers::mock::server::ProcessorState::new(),
        crate::shutdown::signal(),
    )
    .await?;
    Ok(())
}
