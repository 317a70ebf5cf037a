//! A fresh database per test, SQLite or PostgreSQL, and the fixtures every case uses.
//!
//! PostgreSQL: `PAYGATE_TEST_POSTGRES_URL` names a server where the user may CREATE DATABASE;
//! each test creates `paygate_test_<random>` and drops it when its guard goes out of scope,
//! also when the test fails. Without the variable the PostgreSQL variant says so and passes,
//! unless `PAYGATE_REQUIRE_POSTGRES=1` (CI), where it fails.

use paygate::domain::{
    AuthorizeCommand, Capabilities, CaptureMode, Currency, IdempotencyKey, MerchantId, Money,
    OperationId, OperationKind, Outcome, Payment, PaymentId, ProviderKind, Timestamp,
};
use paygate::store::{Claimed, KeyClaim, Store, StoreError, StoreOptions, Write, Written};
use sqlx::Connection;
use std::time::Duration;

/// One test's database and the store opened on it.
pub struct Db {
    pub store: Store,
    url: String,
    extra: std::sync::Mutex<Vec<Store>>,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<PgDatabase>,
}

impl Db {
    pub async fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("contract.db").display());
        let store = open(&url).await;
        Db {
            store,
            url,
            extra: Default::default(),
            _dir: Some(dir),
            _pg: None,
        }
    }

    /// `None` (after saying why on stderr) when PostgreSQL tests are not configured.
    pub async fn postgres() -> Option<Db> {
        let pg = PgDatabase::create().await?;
        let store = open(&pg.url).await;
        Some(Db {
            store,
            url: pg.url.clone(),
            extra: Default::default(),
            _dir: None,
            _pg: Some(pg),
        })
    }

    /// Another store on the same database: what a second replica would open.
    pub async fn replica(&self) -> Store {
        let store = open(&self.url).await;
        self.extra.lock().unwrap().push(store.clone());
        store
    }

    pub async fn close(self) {
        let extra = std::mem::take(&mut *self.extra.lock().unwrap());
        for store in extra {
            store.close().await;
        }
        self.store.close().await;
    }
}

pub async fn open(url: &str) -> Store {
    Store::open(&StoreOptions {
        url: url.to_owned(),
        busy_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap_or_else(|e| panic!("opening {}: {e}", paygate::store::redact_url(url)))
}

/// A database created for one test on the server named by `PAYGATE_TEST_POSTGRES_URL`, dropped
/// (WITH FORCE, so open pools do not block it) when the guard is dropped.
pub struct PgDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

impl PgDatabase {
    pub async fn create() -> Option<PgDatabase> {
        let admin_url = match std::env::var("PAYGATE_TEST_POSTGRES_URL") {
            Ok(url) if !url.trim().is_empty() => url,
            _ => {
                if std::env::var("PAYGATE_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                    panic!(
                        "PAYGATE_REQUIRE_POSTGRES=1 but PAYGATE_TEST_POSTGRES_URL is not set: \
                         the PostgreSQL tests must run"
                    );
                }
                eprintln!("PostgreSQL tests did not run: PAYGATE_TEST_POSTGRES_URL is not set");
                return None;
            }
        };
        let name = format!("paygate_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "connecting to PAYGATE_TEST_POSTGRES_URL {}: {e}",
                    paygate::store::redact_url(&admin_url)
                )
            });
        // The name is ours (a fixed prefix and hex digits), not input.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await
            .unwrap();
        let _ = admin.close().await;
        let mut url = reqwest::Url::parse(&admin_url).unwrap();
        url.set_path(&format!("/{name}"));
        Some(PgDatabase {
            url: url.to_string(),
            admin_url,
            name,
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        // Drop cannot await, and may run while a panic unwinds inside the test's runtime: a
        // thread with its own small runtime does the dropping.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(done, Ok(Ok(()))) {
            eprintln!("could not drop test database {}: {done:?}", self.name);
        }
    }
}

// ---- fixtures ----

pub fn merchant() -> MerchantId {
    MerchantId::parse("atlas").unwrap()
}

pub fn caps() -> Capabilities {
    Capabilities {
        partial_capture: true,
        multiple_captures: true,
        void: true,
        partial_refund: true,
        multiple_refunds: true,
        max_minor: i64::MAX,
    }
}

pub fn mad(minor: i64) -> Money {
    Money::new(minor, Currency::parse("MAD").unwrap()).unwrap()
}

pub fn claim(merchant: &MerchantId, method: &'static str, key: &str, fp: u8) -> KeyClaim {
    KeyClaim {
        merchant: merchant.clone(),
        method,
        key: IdempotencyKey::parse(key).unwrap(),
        fingerprint: [fp; 32],
    }
}

/// A new payment of `minor` MAD with its authorize operation pending, as of `now`.
pub fn new_payment(merchant: &MerchantId, key: &str, minor: i64, now: Timestamp) -> Payment {
    AuthorizeCommand {
        key: IdempotencyKey::parse(key).unwrap(),
        provider: ProviderKind::Mock,
        amount: mad(minor),
        merchant_reference: format!("order-{key}"),
        capture_mode: CaptureMode::Manual,
        customer: Default::default(),
        return_url: None,
        cancel_url: None,
        description: String::new(),
        locale: String::new(),
        metadata: Default::default(),
        payment_token: String::new(),
    }
    .open_payment(merchant, now)
}

pub async fn open_payment(store: &Store, merchant: &MerchantId, key: &str, minor: i64) -> Claimed {
    open_payment_at(store, merchant, key, minor, Timestamp::now()).await
}

pub async fn open_payment_at(
    store: &Store,
    merchant: &MerchantId,
    key: &str,
    minor: i64,
    now: Timestamp,
) -> Claimed {
    let job = Write::OpenPayment {
        claim: claim(merchant, "Authorize", key, 1),
        payment: Box::new(new_payment(merchant, key, minor, now)),
    };
    match store.write(job).await.unwrap() {
        Written::Claimed(c) => c,
        other => panic!("unexpected {other:?}"),
    }
}

pub fn started(c: Claimed) -> (Payment, OperationId) {
    match c {
        Claimed::Started { payment, operation } => (*payment, operation),
        other => panic!("expected Started, got {other:?}"),
    }
}

pub fn ok() -> Outcome {
    Outcome::Succeeded {
        provider_reference: None,
    }
}

pub async fn settle(
    store: &Store,
    payment: PaymentId,
    op: OperationId,
    outcome: Outcome,
) -> Payment {
    let job = Write::Settle {
        payment_id: payment,
        operation: op,
        outcome,
        release_key: false,
        now: Timestamp::now(),
    };
    match store.write(job).await.unwrap() {
        Written::Settled(p) => *p,
        other => panic!("unexpected {other:?}"),
    }
}

/// An authorized payment of `minor` MAD for [`merchant`].
pub async fn authorized(store: &Store, key: &str, minor: i64) -> Payment {
    let (p, op) = started(open_payment(store, &merchant(), key, minor).await);
    settle(store, p.id, op, ok()).await
}

/// Starts `kind` on the payment under `key`: the claim, the rules and the PENDING operation.
pub async fn begin(
    store: &Store,
    payment: PaymentId,
    kind: OperationKind,
    amount: Option<i64>,
    key: &str,
) -> Result<Claimed, StoreError> {
    let method = match kind {
        OperationKind::Authorize => "Authorize",
        OperationKind::Capture => "Capture",
        OperationKind::Void => "Void",
        OperationKind::Refund => "Refund",
    };
    let job = Write::BeginOperation {
        claim: claim(&merchant(), method, key, 2),
        payment_id: payment,
        kind,
        amount: amount.map(mad),
        final_capture: false,
        caps: caps(),
        now: Timestamp::now(),
    };
    store.write(job).await.map(|w| match w {
        Written::Claimed(c) => c,
        other => panic!("unexpected {other:?}"),
    })
}

/// Begins and settles `kind` successfully; returns the payment after it.
pub async fn done(
    store: &Store,
    payment: PaymentId,
    kind: OperationKind,
    amount: Option<i64>,
    key: &str,
) -> Payment {
    let (_, op) = started(begin(store, payment, kind, amount, key).await.unwrap());
    settle(store, payment, op, ok()).await
}
