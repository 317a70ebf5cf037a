//! `App::build`: the one wiring of paygate, shared by `main` and the black-box tests.
//!
//! It opens (and migrates) the database, binds both listeners (port 0 works; the HTTP address
//! goes into the webhook URL), settles the mock webhook secrets, starts the in-process mock
//! processor when a merchant needs it and builds every service. `run_until_stopped`
//! serves until the shutdown future resolves, lets in-flight RPCs finish, then closes the store.

use crate::config::Settings;
use crate::domain::{MerchantId, Timestamp};
use crate::grpc::auth::Authenticator;
use crate::grpc::metadata_limit::{H2_MAX_HEADER_LIST, MetadataLimitLayer};
use crate::grpc::pipeline::Gateway;
use crate::grpc::proto::payment_gateway_server::PaymentGatewayServer;
use crate::grpc::{Api, proto};
use crate::health::{Readiness, Reporters};
use crate::json::JsonApi;
use crate::listen::{ConnectionLimits, Slots};
use crate::providers::mock::server as mock_server;
use crate::providers::urls::PublicUrls;
use crate::providers::{http_client, registry};
use crate::service::{PaymentService, ReconcileOptions};
use crate::shop_webhooks::dispatcher::Dispatcher;
use crate::shutdown::Trigger;
use crate::standard_webhooks::WebhookSecret;
use crate::store::{Store, StoreOptions, Write};
use crate::supervise::supervise;
use crate::telemetry::Metrics;
use anyhow::Context;
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// How often the reconciler looks for due operations (each has its own backoff on top).
const RECONCILE_INTERVAL: Duration = Duration::from_millis(500);

pub struct App {
    settings: Settings,
    store: Store,
    metrics: Arc<Metrics>,
    service: PaymentService,
    auth: Arc<Authenticator>,
    grpc: TcpListener,
    http: TcpListener,
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    mock_processor: Option<SocketAddr>,
    /// Stops the in-process mock processor and background tasks.
    background: Trigger,
    /// Connections each listener takes at once (`max_connections`, or sized from the
    /// open-file limit).
    max_connections: usize,
    readiness: Readiness,
}

impl App {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        settings
            .check_runnable()
            .map_err(|problem| anyhow::anyhow!("config error: {problem}"))?;
        for warning in settings.warnings() {
            tracing::warn!(key = %warning.key, "config: {}", warning.message);
        }
        http_client::install_crypto_provider();
        let metrics = Arc::new(Metrics::new());
        let store = Store::open(
            &StoreOptions {
                url: settings.database.url.clone(),
                busy_timeout: Duration::from_secs(5),
                sqlite_max_pages: settings.database.sqlite_max_pages,
            },
            metrics.clone(),
        )
        .await
        .context("opening the database")?;
        let background = Trigger::new();
        let http = http_client::build(settings.server.provider_timeout)
            .context("building the HTTP client")?;

        let max_connections = connection_cap(&settings);
        // Bound first: the webhook URL handed to the processor names the side port.
        let grpc = TcpListener::bind(settings.server.grpc_addr)
            .await
            .with_context(|| format!("binding the gRPC port {}", settings.server.grpc_addr))?;
        let http_listener = TcpListener::bind(settings.server.http_addr)
            .await
            .with_context(|| format!("binding the HTTP port {}", settings.server.http_addr))?;
        let grpc_addr = grpc.local_addr()?;
        let http_addr = http_listener.local_addr()?;
        let public_base = match &settings.server.public_base_url {
            Some(url) => url.to_string(),
            None => format!("http://{http_addr}/"),
        };

        let secrets = registry::mock_secrets(&settings)?;
        let mock_processor = if secrets.local_processor {
            let at = settings.server.mock_processor_addr;
            let dev_mode = settings.dev_mode;
            Some(start_mock_processor(&background, secrets.processor.clone(), at, dev_mode).await?)
        } else {
            None
        };

        let urls = PublicUrls::new(&public_base);
        let providers =
            registry::build(&settings, &urls, &http, &metrics, mock_processor, &secrets)?;

        let mut keys = HashMap::new();
        for merchant in &settings.merchants {
            for client in &merchant.clients {
                keys.insert(client.api_key_sha256, merchant.id.clone());
            }
        }
        let open_as: Option<MerchantId> = if settings.server.require_auth {
            None
        } else {
            settings.merchants.first().map(|m| m.id.clone())
        };
        let auth = Arc::new(Authenticator::new(keys, open_as));
        let service = PaymentService::new(
            store.clone(),
            Arc::new(providers),
            metrics.clone(),
            settings.server.operation_timeout(),
            settings.events.max_streams_per_merchant,
        );
        match mock_processor {
            Some(addr) => {
                let mock_processor = format!("http://{addr}");
                tracing::info!(%grpc_addr, %http_addr, %mock_processor, "paygate listening");
            }
            None => tracing::info!(%grpc_addr, %http_addr, "paygate listening"),
        }
        Ok(Self {
            settings,
            store,
            metrics,
            service,
            auth,
            grpc,
            http: http_listener,
            grpc_addr,
            http_addr,
            mock_processor,
            background,
            max_connections,
            // Opening the store has just reached the database; the checker takes over at once.
            readiness: Readiness::new(true),
        })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The in-process mock processor's address, when one runs.
    pub fn mock_processor_addr(&self) -> Option<SocketAddr> {
        self.mock_processor
    }

    /// Spawns `start`'s task under [`supervise`], stopping with the other background tasks.
    fn keep_running<S, F>(&self, name: &'static str, start: S)
    where
        S: FnMut() -> F + Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let stop = self.background.wait();
        tokio::spawn(supervise(name, self.metrics.clone(), stop, start));
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = Trigger::new();
        {
            let stop = stop.clone();
            tokio::spawn(async move {
                shutdown.await;
                stop.fire();
            });
        }
        // Every background task runs supervised (restarted if it panics or ends early) until
        // `background` fires; PostgreSQL's event numbering is the store's own, supervised there.
        let (health, health_service) = tonic_health::server::health_reporter();
        let reporters = Reporters {
            grpc: health,
            metrics: self.metrics.clone(),
            readiness: self.readiness.clone(),
        };
        tokio::spawn(crate::health::run(
            self.store.clone(),
            reporters,
            self.background.clone(),
        ));
        let reconcile = ReconcileOptions {
            settle_after: self.settings.server.operation_timeout(),
            checkouts: self.settings.checkout,
        };
        let (service, background) = (self.service.clone(), self.background.clone());
        self.keep_running("reconciler", move || {
            reconcile_loop(service.clone(), reconcile, background.wait())
        });
        let (store, background) = (self.store.clone(), self.background.clone());
        let retention = self.settings.idempotency.retention;
        let every = self.settings.idempotency.reap_interval;
        let events = self.settings.events.retention;
        self.keep_running("reaper", move || {
            reap(store.clone(), retention, events, every, background.wait())
        });
        // Webhooks to shops: only when some merchant has an endpoint.
        let endpoints: Vec<_> = self
            .settings
            .merchants
            .iter()
            .flat_map(|m| m.webhook_endpoints.iter().cloned())
            .collect();
        if let Some(dispatcher) = Dispatcher::new(
            self.store.clone(),
            self.settings.webhooks.clone(),
            self.metrics.clone(),
            endpoints,
        )
        .context("building the webhook sender")?
        {
            let background = self.background.clone();
            self.keep_running("webhook_dispatcher", move || {
                dispatcher.clone().run(background.wait())
            });
        }
        // Both reflection versions: grpcurl asks v1, but Python's grpcio-reflection client,
        // Evans, grpc_cli and older Postman ask only v1alpha and would get UNIMPLEMENTED.
        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        };
        let reflection_v1 = reflection().build_v1().context("building reflection")?;
        let reflection_v1alpha = reflection()
            .build_v1alpha()
            .context("building reflection v1alpha")?;
        let limit = self.settings.server.max_message_bytes;
        let gateway = Gateway::new(
            self.service.clone(),
            self.auth.clone(),
            self.metrics.clone(),
        );
        let api = PaymentGatewayServer::new(Api::new(gateway.clone(), stop.clone()))
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit.max(4 * 1024 * 1024));
        let grpc_routes = tonic::service::Routes::new(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(api);
        let json = crate::json::router(JsonApi::new(gateway, stop.clone(), limit));
        let c = self.settings.server.connections;
        let limits = ConnectionLimits {
            header_read_timeout: c.header_read_timeout,
            body_read_timeout: c.body_read_timeout,
            grpc_handshake_timeout: c.grpc_handshake_timeout,
            grpc_idle_timeout: c.grpc_idle_timeout,
        };
        // Each listener has its own cap, so a flood on the public HTTP port cannot take the
        // internal gRPC port's slots (or the reverse).
        let grpc_slots = Slots::new("grpc", self.max_connections, self.metrics.clone());
        let http_slots = Slots::new("http", self.max_connections, self.metrics.clone());
        let grpc = tonic::transport::Server::builder()
            .accept_http1(true)
            .concurrency_limit_per_connection(self.settings.server.max_concurrent_requests)
            .http2_keepalive_interval(Some(c.grpc_keepalive_interval))
            .http2_keepalive_timeout(Some(c.grpc_keepalive_timeout))
            .http2_max_header_list_size(H2_MAX_HEADER_LIST)
            // Outermost: the call's span (joined to the caller's trace) covers all below.
            .layer(crate::grpc::trace::GrpcTraceLayer)
            // Then a call is in flight (its connection not idle) from this layer on.
            .layer(crate::listen::grpc::InFlightLayer)
            .layer(MetadataLimitLayer::new(self.metrics.clone()))
            .layer(crate::grpc::layers::MessageLimitLayer::new(
                self.metrics.clone(),
            ))
            .add_routes(crate::api_port::routes(grpc_routes, json))
            .serve_with_incoming_shutdown(
                crate::listen::grpc::incoming(self.grpc, limits, grpc_slots),
                stop.wait(),
            );
        let router = crate::http::router(crate::http::HttpState {
            store: self.store.clone(),
            metrics: self.metrics.clone(),
            service: self.service.clone(),
            webhook_body_limit: self.settings.server.webhook_body_limit,
            storefronts: Arc::new(
                self.settings
                    .merchants
                    .iter()
                    .map(|m| (m.id.clone(), m.storefront.clone()))
                    .collect(),
            ),
            readiness: self.readiness.clone(),
        });
        let http = crate::listen::http::serve(self.http, router, limits, http_slots, stop.wait());
        // Spawned, not awaited in place: whatever `main` blocks on runs on its own thread
        // outside the worker pool, which would funnel every connection through one core.
        let grpc = tokio::spawn(grpc);
        let http = tokio::spawn(http);
        let (grpc_result, http_result) = tokio::join!(grpc, http);
        let grpc_result = grpc_result.context("gRPC server task")?;
        http_result.context("HTTP server task")?;
        // In-flight RPCs have finished: now stop the helpers and flush the writer.
        self.background.fire();
        self.store.close().await;
        tracing::info!("paygate stopped");
        grpc_result.context("gRPC server")?;
        Ok(())
    }
}

/// Connections per listener: `max_connections`, or what the open-file limit allows (raised to
/// its hard limit first). A configured cap the limit cannot hold is kept, with a warning: then
/// the kernel, not paygate, refuses the connections past it, and health checks with them.
fn connection_cap(settings: &Settings) -> usize {
    let limit = crate::listen::raise_limit();
    let cap = settings
        .server
        .connections
        .max_connections
        .unwrap_or_else(|| crate::listen::default_cap(limit));
    // A plain number (or "unknown") in the start-up lines, never `Some(..)`.
    let open_file_limit = limit.map_or_else(|| "unknown".to_owned(), |n| n.to_string());
    if crate::listen::cap_exceeds(limit, cap) {
        tracing::warn!(
            max_connections = cap,
            %open_file_limit,
            "server.max_connections is too high for the open-file limit: raise `ulimit -n` or lower it"
        );
    }
    tracing::info!(max_connections = cap, %open_file_limit, "connection cap per listener");
    cap
}

/// Starts the in-process mock processor on `at` (or a free port if `at` is taken) and logs its
/// URL on one line. In development mode that line is INFO: the development-mode warning has
/// said it already. With a config file it stays a warning: a deployment whose merchants are
/// served by a processor that moves no real money should hear about it.
async fn start_mock_processor(
    stop: &Trigger,
    secrets: Vec<WebhookSecret>,
    at: SocketAddr,
    dev_mode: bool,
) -> anyhow::Result<SocketAddr> {
    let mock_server::Bound {
        listener,
        instead_of,
    } = mock_server::bind(at)
        .await
        .with_context(|| format!("binding the in-process mock processor to {at}"))?;
    let addr = listener.local_addr()?;
    if let Some(taken) = instead_of {
        tracing::warn!(
            "{taken} is in use (another paygate serve, or paygate mock-processor?): the mock processor takes a free port instead"
        );
    }
    let state = mock_server::ProcessorState::with_webhook_secrets(secrets);
    let wait = stop.wait();
    tokio::spawn(async move {
        if let Err(e) = mock_server::serve(listener, state, wait).await {
            tracing::error!(error = %e, "mock processor stopped");
        }
    });
    let url = format!("http://{addr}");
    if dev_mode {
        tracing::info!(
            "mock processor at {url}: GET /v1/ledger shows what it charged, PUT /_faults injects faults"
        );
    } else {
        tracing::warn!(
            "running the in-process mock processor at {url}: development only, no real money moves"
        );
    }
    Ok(addr)
}

/// Settles unknown and crash-orphaned operations in the background (DESIGN.md §5).
async fn reconcile_loop(
    service: PaymentService,
    opts: ReconcileOptions,
    stop: impl Future<Output = ()> + Send,
) {
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(RECONCILE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = service.reconcile_once(opts).await {
            tracing::warn!(error = %e, "reconciliation pass failed");
        }
    }
}

/// Forgets finished idempotency keys once they are older than the retention period.
/// Deletes finished idempotency keys past their retention and events past theirs (if any).
async fn reap(
    store: Store,
    retention: Duration,
    event_retention: Option<Duration>,
    every: Duration,
    stop: impl Future<Output = ()> + Send,
) {
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = tick.tick() => {}
        }
        let secs = i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
        let cutoff = Timestamp::now().plus_seconds(-secs);
        match store.write(Write::ReapKeys { cutoff }).await {
            Ok(n) => tracing::debug!(reaped = ?n, "idempotency keys reaped"),
            Err(e) => tracing::warn!(error = %e, "reaping idempotency keys failed"),
        }
        let Some(kept) = event_retention else {
            continue;
        };
        let secs = i64::try_from(kept.as_secs()).unwrap_or(i64::MAX);
        let cutoff = Timestamp::now().plus_seconds(-secs);
        match store.write(Write::PruneEvents { cutoff }).await {
            Ok(n) => tracing::debug!(pruned = ?n, "old events pruned"),
            Err(e) => tracing::warn!(error = %e, "pruning old events failed"),
        }
    }
}
