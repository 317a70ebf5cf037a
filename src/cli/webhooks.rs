//! `paygate webhooks list|redeliver`: the delivery log and redelivery, for operators.
//!
//! Both talk to the database directly (the config's `[database]`), not to a running paygate:
//! they work against a deployment with any number of replicas, or none running. A redelivered
//! delivery is only made due again; whichever replica claims it next sends it, with the same
//! `webhook-id` and body as before.

use super::ConfigArgs;
use crate::config::Settings;
use crate::domain::{MerchantId, Timestamp};
use crate::store::{
    AttemptRow, DeliveryFilter, DeliveryJob, DeliveryRow, DeliveryState, DeliveryWritten, Store,
};

#[derive(clap::Args, Debug)]
pub struct WebhooksArgs {
    #[command(subcommand)]
    pub command: WebhooksCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum WebhooksCommand {
    /// List deliveries, newest first.
    List(ListArgs),
    /// Send deliveries again: one by id, or every failed one since a time.
    Redeliver(RedeliverArgs),
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Only this merchant's deliveries
    #[arg(long)]
    pub merchant: Option<String>,
    /// Endpoint id (as `check-config` prints it)
    #[arg(long)]
    pub endpoint: Option<String>,
    /// pending, delivered or failed
    #[arg(long)]
    pub state: Option<String>,
    /// Payment id
    #[arg(long)]
    pub payment: Option<String>,
    /// At most this many deliveries
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Show every attempt of each delivery
    #[arg(long)]
    pub attempts: bool,
    /// One JSON document on stdout, for scripts
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct RedeliverArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The delivery's id (the first column of `webhooks list`)
    #[arg(
        conflicts_with = "failed_since",
        required_unless_present = "failed_since"
    )]
    pub id: Option<i64>,
    /// Every failed delivery whose last attempt was at or after this RFC 3339 time
    #[arg(long)]
    pub failed_since: Option<String>,
    /// With --failed-since: only this merchant's
    #[arg(long, requires = "failed_since")]
    pub merchant: Option<String>,
}

impl WebhooksArgs {
    pub fn config(&self) -> Option<std::path::PathBuf> {
        match &self.command {
            WebhooksCommand::List(a) => a.config.config.clone(),
            WebhooksCommand::Redeliver(a) => a.config.config.clone(),
        }
    }
}

pub async fn run(args: WebhooksArgs, settings: &Settings) -> anyhow::Result<()> {
    let store = super::open_store(settings).await?;
    let result = match args.command {
        WebhooksCommand::List(a) => list(&store, a).await,
        WebhooksCommand::Redeliver(a) => redeliver(&store, a).await,
    };
    store.close().await;
    result
}

fn merchant(text: Option<String>) -> anyhow::Result<Option<MerchantId>> {
    text.map(|m| MerchantId::parse(&m).map_err(|e| anyhow::anyhow!("--merchant: {e}")))
        .transpose()
}

#[expect(clippy::print_stdout, reason = "CLI output")]
async fn list(store: &Store, a: ListArgs) -> anyhow::Result<()> {
    let state =
        match a.state.as_deref() {
            None => None,
            Some(s) => Some(s.parse::<DeliveryState>().map_err(|_| {
                anyhow::anyhow!("--state: {s:?} is not pending, delivered or failed")
            })?),
        };
    let filter = DeliveryFilter {
        merchant: merchant(a.merchant)?,
        endpoint: a.endpoint,
        state,
        payment: a.payment,
        limit: a.limit,
    };
    let rows = store.list_deliveries(&filter).await?;
    let mut shown = Vec::with_capacity(rows.len());
    for row in rows {
        let attempts = if a.attempts {
            store.delivery_attempts(row.id).await?
        } else {
            Vec::new()
        };
        shown.push((row, attempts));
    }
    if a.json {
        let docs: Vec<_> = shown
            .iter()
            .map(|(row, attempts)| json(row, attempts.as_slice(), a.attempts))
            .collect();
        println!("{}", serde_json::to_string_pretty(&docs)?);
        return Ok(());
    }
    println!(
        "{:<8} {:<10} {:>8}  {:<22} {:<38} {:<20} LAST",
        "ID", "STATE", "ATTEMPTS", "EVENT", "PAYMENT", "ENDPOINT"
    );
    for (row, attempts) in &shown {
        println!(
            "{:<8} {:<10} {:>8}  {:<22} {:<38} {:<20} {}",
            row.id,
            row.state.as_str(),
            row.attempts,
            row.event_type,
            row.payment_id,
            row.endpoint_id,
            last(row)
        );
        for t in attempts {
            println!(
                "         #{:<3} {}  {}  {} ms",
                t.attempt_no,
                t.at.to_rfc3339(),
                outcome(t.status, t.error.as_deref()),
                t.latency_ms
            );
        }
    }
    Ok(())
}

/// The last attempt in a few words: `200`, `500`, `timeout: ...`, or `-` for none yet.
fn last(row: &DeliveryRow) -> String {
    match row.last_attempt_at {
        None => "-".to_owned(),
        Some(at) => format!(
            "{} at {}",
            outcome(row.last_status, row.last_error.as_deref()),
            at.to_rfc3339()
        ),
    }
}

fn outcome(status: Option<i64>, error: Option<&str>) -> String {
    match (status, error) {
        (Some(s), _) => format!("HTTP {s}"),
        (None, Some(e)) => e.to_owned(),
        (None, None) => "-".to_owned(),
    }
}

fn json(row: &DeliveryRow, attempts: &[AttemptRow], with_attempts: bool) -> serde_json::Value {
    let mut doc = serde_json::json!({
        "id": row.id,
        "merchant": row.merchant,
        "endpoint": row.endpoint_id,
        "sequence": row.sequence,
        "type": row.event_type,
        "payment_id": row.payment_id,
        "webhook_id": row.webhook_id,
        "state": row.state.as_str(),
        "attempts": row.attempts,
        "next_attempt_at": (row.state == DeliveryState::Pending).then(|| row.next_attempt_at.to_rfc3339()),
        "created_at": row.created_at.to_rfc3339(),
        "last_attempt_at": row.last_attempt_at.map(Timestamp::to_rfc3339),
        "last_status": row.last_status,
        "last_error": row.last_error,
    });
    if with_attempts && let Some(map) = doc.as_object_mut() {
        let log: Vec<_> = attempts
            .iter()
            .map(|t| {
                serde_json::json!({
                    "attempt": t.attempt_no,
                    "at": t.at.to_rfc3339(),
                    "status": t.status,
                    "error": t.error,
                    "latency_ms": t.latency_ms,
                })
            })
            .collect();
        map.insert("attempt_log".into(), serde_json::Value::Array(log));
    }
    doc
}

#[expect(clippy::print_stdout, reason = "CLI output")]
async fn redeliver(store: &Store, a: RedeliverArgs) -> anyhow::Result<()> {
    let now = Timestamp::now();
    let job = match (a.id, a.failed_since) {
        (Some(id), _) => DeliveryJob::Redeliver { id, now },
        (None, Some(since)) => {
            let at =
                time::OffsetDateTime::parse(&since, &time::format_description::well_known::Rfc3339)
                    .map_err(|e| {
                        anyhow::anyhow!("--failed-since: {since:?} is not RFC 3339: {e}")
                    })?;
            let micros = i64::try_from(at.unix_timestamp_nanos() / 1000)?;
            DeliveryJob::RedeliverFailedSince {
                since: Timestamp::from_micros(micros),
                merchant: merchant(a.merchant)?,
                now,
            }
        }
        (None, None) => anyhow::bail!("give a delivery id or --failed-since"),
    };
    let single = matches!(job, DeliveryJob::Redeliver { .. });
    let n = match store.deliveries(job).await? {
        DeliveryWritten::Count(n) => n,
        other => anyhow::bail!("unexpected answer: {other:?}"),
    };
    if single && n == 0 {
        anyhow::bail!("no delivery with that id");
    }
    println!("{n} deliveries due again; a running paygate sends them within a second");
    Ok(())
}
