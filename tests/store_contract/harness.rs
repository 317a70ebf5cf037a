//! A fresh database per test, SQLite or PostgreSQL, and the fixtures every case uses.
//! The PostgreSQL database comes from `tests/common/postgres.rs` (shared with the API tests).

use paygate::domain::{
    AuthorizeCommand, Capabilities, CaptureMode, Currency, IdempotencyKey, MerchantId, Money,
    OperationId, OperationKind, Outcome, Payment, PaymentId, ProviderKind, Timestamp,
};
use paygate::store::{Claimed, KeyClaim, Store, StoreError, StoreOptions, Write, Written};
use paygate::telemetry::Metrics;
#[path = "../common/postgres.rs"]
mod postgres;
pub use postgres::PgDatabase;
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
    open_with(url, None).await
}

/// [`open`], with a ceiling on the SQLite file (`StoreOptions::sqlite_max_pages`).
pub async fn open_with(url: &str, sqlite_max_pages: Option<u32>) -> Store {
    let options = StoreOptions {
        url: url.to_owned(),
        busy_timeout: Duration::from_secs(5),
        sqlite_max_pages,
    };
    Store::open(&options, std::sync::Arc::new(Metrics::new()))
        .await
        .unwrap_or_else(|e| panic!("opening {}: {e}", paygate::store::redact_url(url)))
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
        refunds_per_capture: false,
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
        lease_until: now,
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
        expires_at: None,
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
        reason: String::new(),
        trace_parent: None,
        caps: caps(),
        now: Timestamp::now(),
        lease_until: Timestamp::now(),
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
