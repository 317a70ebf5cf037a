//! `App::build`: the one wiring of paygate, shared by `main` and the black-box tests.
//!
//! It opens (and migrates) the database, binds both listeners (port 0 works; the HTTP address
//! goes into the webhook URL), settles the mock webhook secrets, starts the in-process mock
//! processor when a merchant needs it and builds every service. `run_until_stopped`
//! serves until the shutdown future resolves, lets in-flight RPCs finish, then closes the store.

use crate::config::Settings;
use crate::domain::{MerchantId, Timestamp};
use crate::grpc::auth::Authenticator;
use crate::grpc::proto::payment_gateway_server::PaymentGatewayServer;
use crate::grpc::{Api, proto};
use crate::providers::mock::server as mock_server;
use crate::providers::mock::webhook::WebhookSecret;
use crate::providers::urls::PublicUrls;
use crate::providers::{http_client, registry};
use crate::service::{PaymentService, ReconcileOptions};
use crate::shutdown::Trigger;
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
            Some(start_mock_processor(&background, secrets.processor.clone()).await?)
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
        tracing::info!(%grpc_addr, %http_addr, mock_processor = ?mock_processor, "paygate listening");
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
        tokio::spawn(crate::health::run(
            self.store.clone(),
            health,
            self.metrics.clone(),
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
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .context("building reflection")?;
        let limit = self.settings.server.max_message_bytes;
        let api = PaymentGatewayServer::new(Api::new(
            self.service.clone(),
            self.auth.clone(),
            self.metrics.clone(),
            stop.clone(),
        ))
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit.max(4 * 1024 * 1024));
        let grpc = tonic::transport::Server::builder()
            .concurrency_limit_per_connection(self.settings.server.max_concurrent_requests)
            // Outermost: the call's span (joined to the caller's trace) covers all below.
            .layer(crate::grpc::trace::GrpcTraceLayer)
            .layer(crate::grpc::layers::MessageLimitLayer::new(
                self.metrics.clone(),
            ))
            .add_service(health_service)
            .add_service(reflection)
            .add_service(api)
            .serve_with_incoming_shutdown(nodelay(self.grpc), stop.wait());
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
        });
        let http_listener = axum::serve::ListenerExt::tap_io(self.http, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let http = axum::serve(http_listener, router).with_graceful_shutdown(stop.wait());
        // Spawned, not awaited in place: whatever `main` blocks on runs on its own thread
        // outside the worker pool, which would funnel every connection through one core.
        let grpc = tokio::spawn(grpc);
        let http = tokio::spawn(async move { http.await });
        let (grpc_result, http_result) = tokio::join!(grpc, http);
        let grpc_result = grpc_result.context("gRPC server task")?;
        let http_result = http_result.context("HTTP server task")?;
        // In-flight RPCs have finished: now stop the helpers and flush the writer.
        self.background.fire();
        self.store.close().await;
        tracing::info!("paygate stopped");
        grpc_result.context("gRPC server")?;
        http_result.context("HTTP server")?;
        Ok(())
    }
}

/// Accepted gRPC connections with Nagle off: with it, small responses wait for the peer's
/// delayed ACK (~40 ms) and a single caller gets 20 requests per second.
fn nodelay(
    listener: TcpListener,
) -> impl futures::Stream<Item = std::io::Result<tokio::net::TcpStream>> + Send + 'static {
    use futures::StreamExt;
    tokio_stream::wrappers::TcpListenerStream::new(listener).map(|conn| {
        conn.inspect(|tcp| {
            let _ = tcp.set_nodelay(true);
        })
    })
}

async fn start_mock_processor(
    stop: &Trigger,
    secrets: Vec<WebhookSecret>,
) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the in-process mock processor")?;
    let addr = listener.local_addr()?;
    let state = mock_server::ProcessorState::with_webhook_secrets(secrets);
    let wait = stop.wait();
    tokio::spawn(async move {
        if let Err(e) = mock_server::serve(listener, state, wait).await {
            tracing::error!(error = %e, "mock processor stopped");
        }
    });
    tracing::warn!(%addr, "running the in-process mock processor: development only, no real money moves");
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
