//! The `paygate` binary: parse the CLI, load settings, start telemetry, run one subcommand.

use clap::Parser;
use paygate::app::App;
use paygate::cli::{self, Cli, Command};
use paygate::config::Settings;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Clients and offline tools: no config, no logs on stdout (their output is for scripts).
    let config = match cli.command {
        Command::Cmi(command) => return cli::cmi::run(&command),
        Command::Paypal(args) => return cli::paypal::run(args),
        Command::Call(args) => return client_exit(cli::call::run(args).await),
        Command::Listen(args) => return client_exit(cli::listen::run(args).await),
        Command::Trigger(args) => return client_exit(cli::trigger::run(args).await),
        Command::CheckConfig(args) => {
            return cli::check_config(&Settings::load(args.config.as_deref()));
        }
        Command::Serve(ref args) | Command::Migrate(ref args) => args.config.clone(),
        Command::Webhooks(ref args) => args.config(),
        // Only for its log settings (PAYGATE_LOG, PAYGATE_LOG_FORMAT).
        Command::MockProcessor { .. } => None,
    };
    let settings = match Settings::load(config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("config error: {e}");
            return ExitCode::from(2);
        }
    };
    let traces = match start_telemetry(&settings) {
        Ok(traces) => traces,
        Err(e) => return failed(&e),
    };
    let result = match cli.command {
        Command::Serve(_) => serve(settings).await,
        Command::Migrate(_) => cli::migrate(&settings).await,
        Command::MockProcessor { listen } => cli::mock_processor(listen).await,
        Command::Webhooks(args) => cli::webhooks::run(args, &settings).await,
        Command::CheckConfig(_)
        | Command::Call(_)
        | Command::Listen(_)
        | Command::Trigger(_)
        | Command::Cmi(_)
        | Command::Paypal(_) => Ok(()),
    };
    // The spans of the last requests are still queued: send them before exiting.
    if let Some(traces) = traces {
        let _ = tokio::task::spawn_blocking(move || traces.shutdown()).await;
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => failed(&e),
    }
}

/// The trace exporter (if configured) and the log subscriber that feeds it.
fn start_telemetry(settings: &Settings) -> anyhow::Result<Option<paygate::traces::Traces>> {
    let traces = paygate::traces::Traces::start(&settings.telemetry)?;
    paygate::telemetry::init(&settings.log.filter, settings.log.format, traces.as_ref())?;
    Ok(traces)
}

/// The last resort: an error nothing else reported, on stderr, and a failing exit code.
fn failed(e: &anyhow::Error) -> ExitCode {
    eprintln!("error: {e:#}");
    ExitCode::FAILURE
}

/// A client command's exit code; an error it could not report itself is printed here.
fn client_exit(result: anyhow::Result<ExitCode>) -> ExitCode {
    result.unwrap_or_else(|e| failed(&e))
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    if settings.dev_mode {
        tracing::warn!(
            "development mode: no config file, database {}, in-process mock processor, caller authentication OFF, merchant \"default\"",
            // PAYGATE_DATABASE_URL may name PostgreSQL with a password: never log it.
            paygate::store::redact_url(&settings.database.url)
        );
    }
    App::build(settings)
        .await?
        .run_until_stopped(paygate::shutdown::signal())
        .await
}
