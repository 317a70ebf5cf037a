//! Logs and metrics: the tracing subscriber (json | pretty) and the Prometheus registry with
//! every metric of DESIGN.md §9, owned by the app (no globals, so tests can run many apps).

use crate::traces::{TraceIdsLayer, Traces, WithTraceIds};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;
use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrpcLabels {
    method: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabel {
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: &'static str,
    operation: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderOpLabels {
    provider: &'static str,
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabel {
    provider: &'static str,
}

/// A breaker is a (merchant, provider)'s: merchants come from the config, so the label's
/// values are few and known.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BreakerLabels {
    provider: &'static str,
    merchant: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CircuitLabels {
    provider: &'static str,
    merchant: String,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    provider: &'static str,
    result: &'static str,
}

/// Merchants and endpoint ids come from the config: few, known values.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    merchant: String,
    endpoint: String,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MerchantLabel {
    merchant: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabel {
    task: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ListenerLabel {
    listener: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClosedLabels {
    listener: &'static str,
    reason: &'static str,
}

/// Set by build.rs: `git rev-parse --short HEAD`, `PAYGATE_BUILD_COMMIT`, or `unknown`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    commit: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Latency buckets from 0.5 ms to ~16 s: the range between a replay and a slow provider.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

pub struct Metrics {
    registry: Registry,
    grpc_requests: Family<GrpcLabels, Counter>,
    grpc_duration: HistogramFamily<MethodLabel>,
    provider_requests: Family<ProviderLabels, Counter>,
    provider_duration: HistogramFamily<ProviderOpLabels>,
    webhooks: Family<WebhookLabels, Counter>,
    replays: Family<MethodLabel, Counter>,
    unresolved: Gauge,
    checkouts_open: Gauge,
    parked: Gauge,
    database_up: Gauge,
    provider_retries: Family<ProviderLabel, Counter>,
    circuit_open: Family<BreakerLabels, Gauge>,
    circuit_transitions: Family<CircuitLabels, Counter>,
    reconcile_ambiguous: Family<ProviderLabel, Counter>,
    event_numbering_failures: Counter,
    task_restarts: Family<TaskLabel, Counter>,
    connections_open: Family<ListenerLabel, Gauge>,
    connections_refused: Family<ListenerLabel, Counter>,
    connections_closed: Family<ClosedLabels, Counter>,
    accept_errors: Family<ListenerLabel, Counter>,
    webhook_deliveries: Family<DeliveryLabels, Counter>,
    webhook_delivery_duration: Histogram,
    webhook_backlog: Family<MerchantLabel, Gauge>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let grpc_requests = Family::<GrpcLabels, Counter>::default();
        let grpc_duration = HistogramFamily::<MethodLabel>::new_with_constructor(latency_histogram);
        let provider_requests = Family::<ProviderLabels, Counter>::default();
        let provider_duration =
            HistogramFamily::<ProviderOpLabels>::new_with_constructor(latency_histogram);
        let webhooks = Family::<WebhookLabels, Counter>::default();
        let replays = Family::<MethodLabel, Counter>::default();
        let unresolved = Gauge::default();
        let checkouts_open = Gauge::default();
        let parked = Gauge::default();
        let database_up = Gauge::default();
        registry.register(
            "paygate_database_up",
            "1 while the database answers the health check (every second), else 0",
            database_up.clone(),
        );
        let provider_retries = Family::<ProviderLabel, Counter>::default();
        let circuit_open = Family::<BreakerLabels, Gauge>::default();
        let circuit_transitions = Family::<CircuitLabels, Counter>::default();
        registry.register(
            "paygate_provider_retries",
            "Provider HTTP attempts repeated after a failure that could not charge twice",
            provider_retries.clone(),
        );
        registry.register(
            "paygate_provider_circuit_open",
            "1 while the merchant's circuit breaker for the provider refuses calls (open or half-open), else 0",
            circuit_open.clone(),
        );
        registry.register(
            "paygate_provider_circuit_transitions",
            "Circuit breaker state changes, by the state entered",
            circuit_transitions.clone(),
        );
        let reconcile_ambiguous = Family::<ProviderLabel, Counter>::default();
        registry.register(
            "paygate_reconcile_ambiguous",
            "Reconciliation attempts the provider's answer could not decide (left unresolved, for an operator)",
            reconcile_ambiguous.clone(),
        );
        // Only CMI reports it. Exported at 0 from the start, so an alert on its increase also
        // sees the first one (a series born at 1 shows no increase).
        drop(reconcile_ambiguous.get_or_create(&ProviderLabel { provider: "cmi" }));
        let event_numbering_failures = Counter::default();
        registry.register(
            "paygate_event_numbering_failures",
            "PostgreSQL event-numbering passes that failed; WatchEvents subscribers wait until one succeeds",
            event_numbering_failures.clone(),
        );
        let task_restarts = Family::<TaskLabel, Counter>::default();
        registry.register(
            "paygate_background_task_restarts",
            "Background task runs that panicked or ended before shutdown, by task; each is restarted after a pause",
            task_restarts.clone(),
        );
        let connections_open = Family::<ListenerLabel, Gauge>::default();
        registry.register(
            "paygate_connections_open",
            "Connections open on each listener (grpc, http)",
            connections_open.clone(),
        );
        let connections_refused = Family::<ListenerLabel, Counter>::default();
        registry.register(
            "paygate_connections_refused",
            "Connections closed at accept because the listener was at max_connections and none could give way",
            connections_refused.clone(),
        );
        let connections_closed = Family::<ClosedLabels, Counter>::default();
        registry.register(
            "paygate_connections_closed",
            "Connections paygate closed itself, by reason (header_timeout, body_timeout, \
             handshake_timeout, idle_timeout, evicted)",
            connections_closed.clone(),
        );
        let accept_errors = Family::<ListenerLabel, Counter>::default();
        registry.register(
            "paygate_accept_errors",
            "Failed accepts (e.g. out of file descriptors), each followed by a pause",
            accept_errors.clone(),
        );
        for listener in ["grpc", "http"] {
            let label = ListenerLabel { listener };
            drop(connections_open.get_or_create(&label));
            drop(connections_refused.get_or_create(&label));
            drop(accept_errors.get_or_create(&label));
        }
        // prometheus-client appends `_total` to counters and the unit suffix itself.
        registry.register(
            "paygate_grpc_requests",
            "gRPC requests by method and status code",
            grpc_requests.clone(),
        );
        registry.register(
            "paygate_grpc_request_duration_seconds",
            "gRPC request latency",
            grpc_duration.clone(),
        );
        registry.register(
            "paygate_provider_requests",
            "Provider calls by outcome",
            provider_requests.clone(),
        );
        registry.register(
            "paygate_provider_request_duration_seconds",
            "Provider call latency",
            provider_duration.clone(),
        );
        registry.register(
            "paygate_webhooks",
            "Webhooks and callbacks received, by result",
            webhooks.clone(),
        );
        registry.register(
            "paygate_idempotent_replays",
            "Requests answered from a saved idempotent response",
            replays.clone(),
        );
        registry.register(
            "paygate_operations_unresolved",
            "Operations waiting for reconciliation (open checkouts excluded)",
            unresolved.clone(),
        );
        registry.register(
            "paygate_checkouts_open",
            "Payments waiting for the customer on the provider's page (REQUIRES_ACTION)",
            checkouts_open.clone(),
        );
        registry.register(
            "paygate_webhook_events_parked",
            "Provider events reporting money moved (reversals, dashboard refunds) that the ledger \
             could not take yet, kept until it can or an operator acts",
            parked.clone(),
        );
        let webhook_deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "paygate_webhook_deliveries",
            "Attempts to deliver a webhook to a shop's endpoint, by result: delivered (2xx), \
             retrying (failed, will retry), failed (failed, retry schedule exhausted)",
            webhook_deliveries.clone(),
        );
        let webhook_delivery_duration = latency_histogram();
        registry.register(
            "paygate_webhook_delivery_duration_seconds",
            "Latency of each attempt to deliver a webhook to a shop, failed ones included",
            webhook_delivery_duration.clone(),
        );
        let webhook_backlog = Family::<MerchantLabel, Gauge>::default();
        registry.register(
            "paygate_webhook_backlog",
            "Webhook deliveries to the merchant's endpoints that are due and not delivered",
            webhook_backlog.clone(),
        );
        registry.register_collector(Box::new(crate::process_metrics::ProcessCollector));
        // Process-wide, like the tracer; 0 while traces are off.
        let spans = crate::traces::span_counters();
        registry.register(
            "paygate_trace_spans_ended",
            "Sampled spans handed to the OTLP export queue",
            spans.ended,
        );
        registry.register(
            "paygate_trace_spans_exported",
            "Spans the OTLP collector accepted",
            spans.exported,
        );
        registry.register(
            "paygate_trace_spans_export_failed",
            "Spans lost in an OTLP export that failed (collector down, refusing or slow); \
             ended - exported - failed were dropped from a full queue",
            spans.export_failed,
        );
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
                commit: env!("PAYGATE_BUILD_COMMIT"),
            })
            .set(1);
        registry.register(
            "paygate_build_info",
            "Always 1; the labels say which build is running (commit is `unknown` when built outside git)",
            build_info,
        );
        Self {
            registry,
            grpc_requests,
            grpc_duration,
            provider_requests,
            provider_duration,
            webhooks,
            replays,
            unresolved,
            checkouts_open,
            parked,
            database_up,
            provider_retries,
            circuit_open,
            circuit_transitions,
            reconcile_ambiguous,
            event_numbering_failures,
            task_restarts,
            connections_open,
            connections_refused,
            connections_closed,
            accept_errors,
            webhook_deliveries,
            webhook_delivery_duration,
            webhook_backlog,
        }
    }

    /// One attempt to deliver a webhook to `endpoint` of `merchant`; `result` is `delivered`,
    /// `retrying` or `failed`.
    pub fn webhook_delivery(
        &self,
        merchant: &str,
        endpoint: &str,
        result: &'static str,
        took: Duration,
    ) {
        self.webhook_deliveries
            .get_or_create(&DeliveryLabels {
                merchant: merchant.to_owned(),
                endpoint: endpoint.to_owned(),
                result,
            })
            .inc();
        self.webhook_delivery_duration.observe(took.as_secs_f64());
    }

    /// Creates the endpoint's series at 0, so an alert on their increase sees the first one.
    pub fn webhook_endpoint_watched(&self, merchant: &str, endpoint: &str) {
        for result in ["delivered", "retrying", "failed"] {
            let _ = self.webhook_deliveries.get_or_create(&DeliveryLabels {
                merchant: merchant.to_owned(),
                endpoint: endpoint.to_owned(),
                result,
            });
        }
    }

    /// Read from the shared database, like `set_unresolved`: every replica shows the same count.
    pub fn set_webhook_backlog(&self, merchant: &str, n: i64) {
        self.webhook_backlog
            .get_or_create(&MerchantLabel {
                merchant: merchant.to_owned(),
            })
            .set(n);
    }

    /// A connection was admitted on `listener` (+1) or closed (-1).
    pub fn connection_open(&self, listener: &'static str, delta: i64) {
        self.connections_open
            .get_or_create(&ListenerLabel { listener })
            .inc_by(delta);
    }

    pub fn connection_refused(&self, listener: &'static str) {
        self.connections_refused
            .get_or_create(&ListenerLabel { listener })
            .inc();
    }

    pub fn connection_closed(&self, listener: &'static str, reason: &'static str) {
        self.connections_closed
            .get_or_create(&ClosedLabels { listener, reason })
            .inc();
    }

    pub fn accept_error(&self, listener: &'static str) {
        self.accept_errors
            .get_or_create(&ListenerLabel { listener })
            .inc();
    }

    pub fn set_database_up(&self, up: bool) {
        self.database_up.set(i64::from(up));
    }

    pub fn event_numbering_failed(&self) {
        self.event_numbering_failures.inc();
    }

    /// Creates the task's series at 0, so that it is exported (and an alert on its increase
    /// works) before the task's first restart.
    pub fn background_task_supervised(&self, task: &'static str) {
        let _ = self.task_restarts.get_or_create(&TaskLabel { task });
    }

    pub fn background_task_restarted(&self, task: &'static str) {
        self.task_restarts.get_or_create(&TaskLabel { task }).inc();
    }

    pub fn provider_retry(&self, provider: &'static str) {
        self.provider_retries
            .get_or_create(&ProviderLabel { provider })
            .inc();
    }

    /// Creates `merchant`'s breaker series for `provider`, closed (0), before any transition.
    pub fn provider_circuit_watched(&self, provider: &'static str, merchant: &str) {
        let merchant = merchant.to_owned();
        let _ = self
            .circuit_open
            .get_or_create(&BreakerLabels { provider, merchant });
    }

    /// `merchant`'s breaker for `provider` entered `state` (`open`, `half_open`, `closed`).
    pub fn provider_circuit(&self, provider: &'static str, merchant: &str, state: &'static str) {
        let merchant = merchant.to_owned();
        let transition = CircuitLabels {
            provider,
            merchant,
            state,
        };
        self.circuit_transitions.get_or_create(&transition).inc();
        let CircuitLabels { merchant, .. } = transition;
        let open = self
            .circuit_open
            .get_or_create(&BreakerLabels { provider, merchant });
        open.set(i64::from(state != "closed"));
    }

    /// `provider`'s status answer could not decide an operation; it stays unresolved.
    pub fn reconcile_ambiguous(&self, provider: &'static str) {
        self.reconcile_ambiguous
            .get_or_create(&ProviderLabel { provider })
            .inc();
    }

    pub fn grpc_request(&self, method: &str, code: &str, took: Duration) {
        let labels = GrpcLabels {
            method: method.to_owned(),
            code: code.to_owned(),
        };
        self.grpc_requests.get_or_create(&labels).inc();
        self.grpc_duration
            .get_or_create(&MethodLabel {
                method: method.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    pub fn provider_request(
        &self,
        provider: &'static str,
        operation: &'static str,
        outcome: &'static str,
        took: Duration,
    ) {
        self.provider_requests
            .get_or_create(&ProviderLabels {
                provider,
                operation,
                outcome,
            })
            .inc();
        self.provider_duration
            .get_or_create(&ProviderOpLabels {
                provider,
                operation,
            })
            .observe(took.as_secs_f64());
    }

    pub fn webhook(&self, provider: &'static str, result: &'static str) {
        self.webhooks
            .get_or_create(&WebhookLabels { provider, result })
            .inc();
    }

    pub fn idempotent_replay(&self, method: &str) {
        self.replays
            .get_or_create(&MethodLabel {
                method: method.to_owned(),
            })
            .inc();
    }

    pub fn set_unresolved(&self, n: i64) {
        self.unresolved.set(n);
    }

    pub fn set_checkouts_open(&self, n: i64) {
        self.checkouts_open.set(n);
    }

    /// Read from the shared database, like `set_unresolved`: every replica shows the same count.
    pub fn set_parked(&self, n: i64) {
        self.parked.set(n);
    }

    /// The Prometheus text exposition format, for `GET /metrics`.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(8 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Log output: `Json` for machines, `Pretty` for people.
pub use crate::config::LogFormat;

/// Installs the global tracing subscriber: logs, and spans to `traces` when exporting. Called
/// once by `main`; tests skip it (or build their own from [`json_logs`] and `traces`).
pub fn init(filter: &str, format: LogFormat, traces: Option<&Traces>) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(filter)
        .map_err(|e| anyhow::anyhow!("invalid log filter {filter:?}: {e}"))?;
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(traces.map(Traces::layer))
        .with(traces.map(|_| TraceIdsLayer::default()));
    let result = match format {
        LogFormat::Json => registry.with(json_logs(std::io::stderr)).try_init(),
        LogFormat::Pretty => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .compact()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot install the log subscriber: {e}"))
}

/// One JSON object per line, event fields flattened, the current span's fields under `span`,
/// and `trace_id`/`span_id` while a trace is active.
pub fn json_logs<S, W>(writer: W) -> impl Layer<S>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let format = tracing_subscriber::fmt::format()
        .json()
        .flatten_event(true)
        .with_current_span(true);
    tracing_subscriber::fmt::layer()
        .fmt_fields(JsonFields::new())
        .event_format(WithTraceIds(format))
        .with_writer(writer)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn exposes_the_design_metric_names() {
        let m = Metrics::new();
        m.grpc_request("Authorize", "OK", Duration::from_millis(3));
        m.provider_request("mock", "authorize", "succeeded", Duration::from_millis(1));
        m.webhook("mock", "applied");
        m.idempotent_replay("Capture");
        m.set_unresolved(2);
        m.reconcile_ambiguous("cmi");
        m.event_numbering_failed();
        m.background_task_supervised("health");
        m.background_task_supervised("reaper");
        m.background_task_restarted("reaper");
        m.set_parked(1);
        m.provider_circuit_watched("paypal", "shop-b");
        m.provider_circuit("paypal", "shop-a", "open");
        m.connection_open("http", 2);
        m.connection_open("http", -1);
        m.connection_refused("grpc");
        m.connection_closed("http", "header_timeout");
        let text = m.render().unwrap();
        for name in [
            "paygate_grpc_requests_total{method=\"Authorize\",code=\"OK\"} 1",
            "paygate_grpc_request_duration_seconds_bucket",
            "paygate_provider_requests_total{provider=\"mock\",operation=\"authorize\",outcome=\"succeeded\"} 1",
            "paygate_provider_request_duration_seconds_count",
            "paygate_webhooks_total{provider=\"mock\",result=\"applied\"} 1",
            "paygate_idempotent_replays_total{method=\"Capture\"} 1",
            "paygate_operations_unresolved 2",
            "paygate_reconcile_ambiguous_total{provider=\"cmi\"} 1",
            "paygate_event_numbering_failures_total 1",
            "paygate_background_task_restarts_total{task=\"health\"} 0",
            "paygate_background_task_restarts_total{task=\"reaper\"} 1",
            "paygate_webhook_events_parked 1",
            "paygate_provider_circuit_open{provider=\"paypal\",merchant=\"shop-a\"} 1",
            "paygate_provider_circuit_open{provider=\"paypal\",merchant=\"shop-b\"} 0",
            "paygate_provider_circuit_transitions_total{provider=\"paypal\",merchant=\"shop-a\",state=\"open\"} 1",
            "paygate_connections_open{listener=\"http\"} 1",
            "paygate_connections_open{listener=\"grpc\"} 0",
            "paygate_connections_refused_total{listener=\"grpc\"} 1",
            "paygate_connections_closed_total{listener=\"http\",reason=\"header_timeout\"} 1",
            "paygate_accept_errors_total{listener=\"http\"} 0",
            "paygate_build_info{version=\"",
        ] {
            assert!(text.contains(name), "missing {name} in\n{text}");
        }
    }
}
