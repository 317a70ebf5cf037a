//! The test harness: the real `App` wiring on port 0 with a fresh SQLite file in a tempdir and
//! the in-process HTTP mock processor, plus request builders and error readers.

use paygate::app::App;
use paygate::config::{
    ClientSettings, CmiCallbackReply, CmiSettings, MerchantSettings, MockSettings, PaypalSettings,
    PaypalVerification, ProviderSettings, Secret, Settings,
};
use paygate::domain::MerchantId;
use paygate::grpc::proto as pb;
use paygate::providers::mock::api::MockApi;
use paygate::providers::mock::wire::LedgerSummary;
use paygate::shutdown::Trigger;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use tonic_types::StatusExt;

#[path = "../common/postgres.rs"]
mod postgres;
pub use postgres::PgDatabase;

pub use pb::payment_gateway_client::PaymentGatewayClient;
pub type Client = PaymentGatewayClient<Channel>;

/// API keys of the two merchants of [`TestApp::spawn_multi_merchant`].
pub const ATLAS_KEY: &str = "atlas-checkout-key-0001";
pub const SOUK_KEY: &str = "souk-checkout-key-0002";

pub fn sha256(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// A merchant on the mock processor, with `key` as its API key when given.
pub fn mock_merchant(id: &str, key: Option<&str>) -> MerchantSettings {
    MerchantSettings {
        id: MerchantId::parse(id).expect("valid merchant id"),
        clients: key
            .map(|k| ClientSettings {
                name: format!("{id}-checkout"),
                api_key_sha256: sha256(k),
            })
            .into_iter()
            .collect(),
        providers: ProviderSettings {
            mock: Some(MockSettings {
                base_url: None,
                webhook_secrets: Vec::new(),
            }),
            cmi: None,
            paypal: None,
        },
        storefront: Default::default(),
        webhook_endpoints: Vec::new(),
    }
}

/// Merchant `shop` on PayPal, pointed at the emulator `emu`: its cert host and test root are
/// trusted through test-only settings, exactly as production trusts PayPal's hosts.
pub fn paypal_merchant(emu: &crate::emulators::paypal::Emulator) -> MerchantSettings {
    use crate::emulators::paypal as pp;
    MerchantSettings {
        id: MerchantId::parse("shop").expect("valid merchant id"),
        clients: Vec::new(),
        providers: ProviderSettings {
            mock: None,
            cmi: None,
            paypal: Some(PaypalSettings {
                client_id: pp::CLIENT_ID.to_owned(),
                client_secret: Secret::new(pp::CLIENT_SECRET.to_owned()),
                webhook_id: pp::WEBHOOK_ID.to_owned(),
                base_url: reqwest::Url::parse(&emu.base()).expect("emulator url"),
                webhook_verification: PaypalVerification::Certificate,
                accept_simulator_events: false,
                test_cert_origins: vec![reqwest::Url::parse(&emu.base()).expect("origin")],
                test_trust_roots_pem: vec![pp::ROOT_PEM.to_owned()],
            }),
        },
        storefront: Default::default(),
        webhook_endpoints: Vec::new(),
    }
}

/// A running paygate, built exactly as `main` builds it.
pub struct TestApp {
    settings: Settings,
    dir: Arc<TempDir>,
    /// The PostgreSQL database, when the app runs on one; dropped with the last replica.
    pg: Option<Arc<PgDatabase>>,
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    mock_addr: Option<SocketAddr>,
    trigger: Trigger,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
    channel: Channel,
    http: reqwest::Client,
}

impl TestApp {
    /// Development-like: merchant `default`, in-process mock processor, auth off.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Development-like settings (db in a fresh tempdir, port 0), changed by `change`.
    pub async fn spawn_with(change: impl FnOnce(&mut Settings)) -> TestApp {
        Self::spawn_on(None, change).await
    }

    /// Like [`TestApp::spawn_with`], on a fresh PostgreSQL database (`change` sees its URL in
    /// `settings.database.url`). `None`, after saying so on stderr, when
    /// `PAYGATE_TEST_POSTGRES_URL` is not set (a failure instead with `PAYGATE_REQUIRE_POSTGRES=1`).
    pub async fn spawn_postgres_with(change: impl FnOnce(&mut Settings)) -> Option<TestApp> {
        let pg = Arc::new(PgDatabase::create().await?);
        let url = pg.url.clone();
        let app = Self::spawn_on(Some(pg), |s| {
            s.database.url = url;
            change(s);
        })
        .await;
        Some(app)
    }

    /// Development-like settings (SQLite in a fresh tempdir unless `change` says otherwise,
    /// port 0), changed by `change`.
    async fn spawn_on(pg: Option<Arc<PgDatabase>>, change: impl FnOnce(&mut Settings)) -> TestApp {
        let dir = Arc::new(TempDir::new().expect("tempdir"));
        let mut settings = Settings::development();
        settings.dev_mode = false;
        settings.database.url = format!("sqlite://{}", dir.path().join("paygate.db").display());
        settings.server.grpc_addr = "127.0.0.1:0".parse().expect("addr");
        settings.server.http_addr = "127.0.0.1:0".parse().expect("addr");
        settings.server.mock_processor_addr = "127.0.0.1:0".parse().expect("addr");
        change(&mut settings);
        Self::start(settings, dir, pg).await
    }

    /// A second replica on this app's database, with the same settings, except that its mock
    /// provider calls this app's in-process processor: one processor ledger for both.
    pub async fn spawn_replica(&self) -> TestApp {
        let mut settings = self.settings.clone();
        let processor = self.mock_api_url();
        for merchant in &mut settings.merchants {
            if let Some(mock) = &mut merchant.providers.mock
                && mock.base_url.is_none()
            {
                mock.base_url = Some(processor.clone());
            }
        }
        Self::start(settings, self.dir.clone(), self.pg.clone()).await
    }

    /// Development-like, with CMI enabled for merchant `default`, pointing at `emulator`.
    pub async fn spawn_with_cmi(
        emulator: &crate::emulators::cmi::CmiEmulator,
        change: impl FnOnce(&mut Settings),
    ) -> TestApp {
        use crate::emulators::cmi::{API_PASSWORD, API_USER, CLIENT_ID, STORE_KEY};
        let base_url = reqwest::Url::parse(&emulator.base_url()).expect("emulator url");
        Self::spawn_with(|s| {
            for m in &mut s.merchants {
                m.providers.cmi = Some(CmiSettings {
                    client_id: CLIENT_ID.to_owned(),
                    store_key: Secret::new(STORE_KEY.to_owned()),
                    api_user: API_USER.to_owned(),
                    api_password: Secret::new(API_PASSWORD.to_owned()),
                    base_url: base_url.clone(),
                    callback_reply: CmiCallbackReply::Approved,
                });
            }
            change(s);
        })
        .await
    }

    /// Auth off, one merchant `shop` on PayPal through the emulator.
    pub async fn spawn_paypal(emu: &crate::emulators::paypal::Emulator) -> TestApp {
        let merchant = paypal_merchant(emu);
        Self::spawn_with(|s| s.merchants = vec![merchant]).await
    }

    /// [`TestApp::spawn_paypal`] with a provider timeout of its own (lost answers settle fast).
    pub async fn spawn_paypal_timeout(
        emu: &crate::emulators::paypal::Emulator,
        provider_timeout: Duration,
    ) -> TestApp {
        let merchant = paypal_merchant(emu);
        Self::spawn_with(|s| {
            s.merchants = vec![merchant];
            s.server.provider_timeout = provider_timeout;
        })
        .await
    }

    /// Auth on: merchants `atlas` (key [`ATLAS_KEY`]) and `souk` (key [`SOUK_KEY`]), both on mock.
    pub async fn spawn_multi_merchant() -> TestApp {
        Self::spawn_with(|s| {
            s.server.require_auth = true;
            s.merchants = vec![
                mock_merchant("atlas", Some(ATLAS_KEY)),
                mock_merchant("souk", Some(SOUK_KEY)),
            ];
        })
        .await
    }

    async fn start(settings: Settings, dir: Arc<TempDir>, pg: Option<Arc<PgDatabase>>) -> TestApp {
        paygate::providers::http_client::install_crypto_provider();
        let app = App::build(settings.clone()).await.expect("App::build");
        let grpc_addr = app.grpc_addr();
        let http_addr = app.http_addr();
        let mock_addr = app.mock_processor_addr();
        let trigger = Trigger::new();
        let handle = tokio::spawn(app.run_until_stopped(trigger.wait()));
        let channel = Endpoint::from_shared(format!("http://{grpc_addr}"))
            .expect("endpoint")
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .expect("connecting to the gRPC port");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("reqwest client");
        TestApp {
            settings,
            dir,
            pg,
            grpc_addr,
            http_addr,
            mock_addr,
            trigger,
            handle: Some(handle),
            channel,
            http,
        }
    }

    /// Stops this app and starts a new one with the same settings on the same database file.
    /// (The in-process mock processor is new, with an empty ledger.)
    pub async fn restart(mut self) -> TestApp {
        self.stop().await;
        let settings = self.settings.clone();
        let dir = self.dir.clone();
        let pg = self.pg.clone();
        Self::start(settings, dir, pg).await
    }

    /// Fires the shutdown trigger and waits until the app has stopped; panics if it failed.
    pub async fn stop(&mut self) {
        self.trigger.fire();
        if let Some(handle) = self.handle.take() {
            let result = tokio::time::timeout(Duration::from_secs(30), handle)
                .await
                .expect("app did not stop within 30 s")
                .expect("app task panicked");
            result.expect("run_until_stopped returned an error");
        }
    }

    /// Fires the trigger without waiting; `join` collects the result.
    pub fn fire_stop(&self) {
        self.trigger.fire();
    }

    pub async fn join(&mut self) -> anyhow::Result<()> {
        let handle = self.handle.take().expect("app already joined");
        handle.await.expect("app task panicked")
    }

    pub fn client(&self) -> Client {
        PaymentGatewayClient::new(self.channel.clone())
    }

    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    pub fn http_base(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    pub async fn http_get(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.http_base()))
            .send()
            .await
            .expect("HTTP GET");
        let status = response.status().as_u16();
        (status, response.text().await.expect("HTTP body"))
    }

    pub async fn metrics(&self) -> String {
        let (status, body) = self.http_get("/metrics").await;
        assert_eq!(status, 200, "/metrics answered {status}");
        body
    }

    pub fn mock_api(&self) -> MockApi {
        MockApi::new(self.mock_api_url(), self.http.clone())
    }

    pub fn mock_api_url(&self) -> reqwest::Url {
        let addr = self.mock_addr.expect("no in-process mock processor");
        reqwest::Url::parse(&format!("http://{addr}/")).expect("url")
    }

    pub async fn ledger(&self) -> LedgerSummary {
        self.mock_api().ledger().await.expect("mock ledger")
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("paygate.db")
    }

    /// All payments of the (dev) merchant, newest first.
    pub async fn list_all(&self) -> Vec<pb::Payment> {
        list_all(&mut self.client(), None).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.trigger.fire();
    }
}

/// Every page of ListPayments (optionally as the holder of `key`).
pub async fn list_all(client: &mut Client, key: Option<&str>) -> Vec<pb::Payment> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let req = pb::ListPaymentsRequest {
            page_size: 100,
            page_token: token.clone(),
            ..Default::default()
        };
        let page = client
            .list_payments(maybe_authed(req, key))
            .await
            .expect("ListPayments")
            .into_inner();
        out.extend(page.payments);
        if page.next_page_token.is_empty() {
            return out;
        }
        token = page.next_page_token;
    }
}

/// `msg` with `authorization: Bearer <key>` metadata.
pub fn authed<T>(msg: T, key: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    let value = format!("Bearer {key}").parse().expect("metadata value");
    req.metadata_mut().insert("authorization", value);
    req
}

pub fn maybe_authed<T>(msg: T, key: Option<&str>) -> tonic::Request<T> {
    match key {
        Some(key) => authed(msg, key),
        None => tonic::Request::new(msg),
    }
}

pub fn money(minor: i64, currency: &str) -> pb::Money {
    pb::Money {
        currency: currency.to_owned(),
        minor_units: minor,
    }
}

pub fn mad(minor: i64) -> Option<pb::Money> {
    Some(money(minor, "MAD"))
}

/// Authorize through the mock provider, manual capture.
pub fn authorize_req(key: &str, minor: i64, currency: &str, token: &str) -> pb::AuthorizeRequest {
    pb::AuthorizeRequest {
        idempotency_key: key.to_owned(),
        provider: "mock".to_owned(),
        amount: Some(money(minor, currency)),
        merchant_reference: format!("order-{}", key.get(..64).unwrap_or(key)),
        payment_token: token.to_owned(),
        ..Default::default()
    }
}

pub fn capture_req(key: &str, payment_id: &str, amount: Option<pb::Money>) -> pb::CaptureRequest {
    pb::CaptureRequest {
        idempotency_key: key.to_owned(),
        payment_id: payment_id.to_owned(),
        amount,
        final_capture: false,
    }
}

pub fn refund_req(key: &str, payment_id: &str, amount: Option<pb::Money>) -> pb::RefundRequest {
    pb::RefundRequest {
        idempotency_key: key.to_owned(),
        payment_id: payment_id.to_owned(),
        amount,
        reason: String::new(),
    }
}

pub fn void_req(key: &str, payment_id: &str) -> pb::VoidRequest {
    pb::VoidRequest {
        idempotency_key: key.to_owned(),
        payment_id: payment_id.to_owned(),
    }
}

pub fn get_req(payment_id: &str) -> pb::GetPaymentRequest {
    pb::GetPaymentRequest {
        payment_id: payment_id.to_owned(),
    }
}

/// Authorizes `minor` MAD (approved) and returns the payment.
pub async fn authorized(client: &mut Client, key: &str, minor: i64) -> pb::Payment {
    let payment = client
        .authorize(authorize_req(key, minor, "MAD", ""))
        .await
        .expect("Authorize")
        .into_inner();
    assert_eq!(
        payment.status(),
        pb::PaymentStatus::Authorized,
        "{payment:?}"
    );
    payment
}

/// Authorizes and fully captures `minor` MAD.
pub async fn captured(client: &mut Client, key: &str, minor: i64) -> pb::Payment {
    let payment = authorized(client, key, minor).await;
    let payment = client
        .capture(capture_req(&format!("{key}-capture"), &payment.id, None))
        .await
        .expect("Capture")
        .into_inner();
    assert_eq!(payment.status(), pb::PaymentStatus::Captured, "{payment:?}");
    payment
}

/// The `google.rpc.ErrorInfo` reason of an error ("" if none).
pub fn reason(status: &Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|info| info.reason.clone())
        .unwrap_or_default()
}

/// The fields named in the error's `google.rpc.BadRequest`.
pub fn bad_fields(status: &Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .map(|br| {
            br.field_violations
                .iter()
                .map(|v| v.field.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// The `google.rpc.RetryInfo` delay of an error, if any.
pub fn retry_delay(status: &Status) -> Option<Duration> {
    status
        .get_error_details()
        .retry_info()
        .and_then(|info| info.retry_delay)
}

/// Asserts `result` is an error with `code` and ErrorInfo `reason`; returns the status.
#[track_caller]
pub fn assert_error<T: std::fmt::Debug>(
    result: Result<T, Status>,
    code: Code,
    want: &str,
) -> Status {
    let status = match result {
        Ok(value) => panic!("expected {code:?}/{want}, got OK: {value:?}"),
        Err(status) => status,
    };
    assert_eq!(
        status.code(),
        code,
        "wrong code (reason {}): {status:?}",
        reason(&status)
    );
    assert_eq!(reason(&status), want, "wrong reason: {status:?}");
    let info = status.get_error_details();
    assert_eq!(
        info.error_info().map(|i| i.domain.as_str()),
        Some("paygate"),
        "ErrorInfo domain: {status:?}"
    );
    status
}

pub fn amount_of(m: Option<&pb::Money>) -> (i64, String) {
    let m = m.expect("money present");
    (m.minor_units, m.currency.clone())
}

/// The value of a Prometheus sample line that starts with `series` (0 if absent).
pub fn metric_value(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|line| line.starts_with(series))
        .filter_map(|line| line.get(series.len()..))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter_map(|v| v.parse::<f64>().ok())
        .sum()
}
