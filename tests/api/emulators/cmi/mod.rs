//! A CMI (NestPay 3D Pay Hosting) emulator: the hosted payment page, the signed callback, and
//! the XML API over its own ledger, with switches to misbehave.
//!
//! Its ver3 hash is written here again, independently of paygate's, so a bug shared by both
//! sides cannot make the tests pass.

mod api;
pub mod gate;
mod hosted;

use axum::Router;
use axum::routing::post;
use base64::Engine as _;
use sha2::{Digest, Sha512};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub const CLIENT_ID: &str = "600000123";
pub const STORE_KEY: &str = "Store|Key\\2026";
pub const API_USER: &str = "paygate-api";
pub const API_PASSWORD: &str = "api-Pa55<&>";

/// The sandbox cards of specs/cmi.md §10, plus one emulator-only card for a funds decline.
pub const CARD_3DS_OK: &str = "5191630100004896";
pub const CARD_NOT_AUTHENTICATED: &str = "4000000000000010";
pub const CARD_NOT_ENROLLED: &str = "5453010000066100";
pub const CARD_NO_FUNDS: &str = "4000000000000051";

/// Ways the emulator misbehaves on demand.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Sign callbacks with this key instead of the store key.
    pub callback_key: Option<String>,
    /// Send each callback twice.
    pub duplicate_callback: bool,
    /// Do not send callbacks (a late one can be sent with [`CmiEmulator::resend_callback`]).
    pub hold_callback: bool,
    /// Apply the next mutating API request, then answer only after this many ms (paygate's
    /// timeout is shorter: the answer is lost).
    pub api_answer_delay_ms: Option<u64>,
    /// The next mutating API request never reaches the ledger: the connection hangs this many
    /// ms (longer than paygate waits), then an error comes that nobody reads. Taken before
    /// `api_answer_delay_ms`: with both set, the first request is lost, the next applied late.
    pub lose_next_request_ms: Option<u64>,
    /// ORDERSTATUS and ORDERHISTORY answer HTTP 503 (CMI's front end overloaded).
    pub queries_unavailable: bool,
}

/// Who asked CMI for a credit: paygate through the XML API, or someone in the Merchant Center.
/// CMI's history does not say; the emulator remembers it so tests can compare ledgers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Api,
    MerchantCenter,
}

/// One successful credit (refund) of an order.
#[derive(Debug, Clone)]
pub struct Credit {
    pub amount: i64,
    pub trans_id: String,
    /// When CMI applied it (UTC; the history shows it in Morocco's local time).
    pub at: time::OffsetDateTime,
    pub origin: Origin,
}

/// One order in the emulator's ledger.
#[derive(Debug, Clone)]
pub struct Order {
    pub amount: i64,
    pub currency: String,
    /// `PreAuth` or `Auth`.
    pub tran_type: String,
    /// `A` authorized, `C` captured today, `S` settled, `V` voided, `D` declined.
    pub stat: String,
    pub captured: Option<i64>,
    pub settled: bool,
    pub credits: Vec<Credit>,
    pub trans_id: String,
    pub proc_return_code: String,
    /// How many PostAuth requests were applied (must never exceed one).
    pub postauths: u32,
}

#[derive(Default)]
pub struct State {
    pub orders: HashMap<String, Order>,
    pub faults: Faults,
    /// The last callback of each oid, as sent (for late or repeated deliveries).
    pub callbacks: HashMap<String, Vec<(String, String)>>,
    /// Every callback reply paygate gave, in order.
    pub replies: Vec<String>,
    /// Every API request received (`PostAuth`, `ORDERSTATUS`...), in order.
    pub requests: Vec<String>,
    /// ORDERSTATUS/ORDERHISTORY requests refused by `queries_unavailable` (not in `requests`).
    pub queries_refused: u64,
    /// Mutating requests lost by `lose_next_request_ms` (never applied, not in `requests`).
    pub lost_requests: Vec<String>,
    next_id: u64,
}

impl Order {
    /// What paygate's own Credit requests refunded, in minor units.
    pub fn api_credited(&self) -> i64 {
        self.credits
            .iter()
            .filter(|c| c.origin == Origin::Api)
            .map(|c| c.amount)
            .sum()
    }

    /// A Credit under CMI's rules (§8): only after settlement, never above the captured amount.
    pub fn credit(
        &mut self,
        amount: i64,
        trans_id: &str,
        at: time::OffsetDateTime,
        origin: Origin,
    ) -> bool {
        let credited: i64 = self.credits.iter().map(|c| c.amount).sum();
        if self.stat != "S" || amount <= 0 || credited + amount > self.captured.unwrap_or(0) {
            return false;
        }
        self.credits.push(Credit {
            amount,
            trans_id: trans_id.to_owned(),
            at,
            origin,
        });
        true
    }
}

impl State {
    pub fn trans_id(&mut self) -> String {
        self.next_id += 1;
        format!("26331EMU{:06}", self.next_id)
    }
}

#[derive(Clone)]
pub struct CmiEmulator {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
    pub http: reqwest::Client,
}

impl CmiEmulator {
    pub async fn spawn() -> CmiEmulator {
        paygate::providers::http_client::install_crypto_provider();
        let state = Arc::new(Mutex::new(State::default()));
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap();
        let emulator = CmiEmulator {
            addr: "127.0.0.1:0".parse().unwrap(),
            state,
            http,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let emulator = CmiEmulator { addr, ..emulator };
        let app = Router::new()
            .route("/fim/est3Dgate", post(gate::pay))
            .route("/fim/est3Dgate/pay", post(hosted::pay))
            .route("/fim/api", post(api::handle))
            .with_state(emulator.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        emulator
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_faults(&self, faults: Faults) {
        self.state.lock().unwrap().faults = faults;
    }

    pub fn order(&self, oid: &str) -> Option<Order> {
        self.state.lock().unwrap().orders.get(oid).cloned()
    }

    pub fn replies(&self) -> Vec<String> {
        self.state.lock().unwrap().replies.clone()
    }

    /// End of day: today's captures and sales are settled.
    pub fn settle_day(&self) {
        for order in self.state.lock().unwrap().orders.values_mut() {
            if order.stat == "C" {
                order.stat = "S".into();
            }
            order.settled = true;
        }
    }

    /// A refund made by hand in CMI's Merchant Center, `ago` before now: CMI's history shows it
    /// exactly like a Credit sent through the API. Returns its TransId.
    pub fn merchant_center_credit(
        &self,
        oid: &str,
        amount: i64,
        ago: std::time::Duration,
    ) -> String {
        let mut state = self.state.lock().unwrap();
        let trans_id = state.trans_id();
        let at = time::OffsetDateTime::now_utc() - ago;
        let order = state.orders.get_mut(oid).unwrap();
        assert!(
            order.credit(amount, &trans_id, at, Origin::MerchantCenter),
            "CMI would refuse this credit"
        );
        trans_id
    }

    /// Sends the last callback of `oid` again (late or repeated delivery); returns the reply.
    pub async fn resend_callback(&self, oid: &str) -> String {
        let fields = self
            .state
            .lock()
            .unwrap()
            .callbacks
            .get(oid)
            .cloned()
            .unwrap();
        gate::deliver(self, &fields).await.1
    }
}

/// ver3 (specs/cmi.md §4.1), written independently of paygate's implementation.
pub fn ver3(fields: &[(String, String)], key: &str) -> String {
    let mut kept: Vec<&(String, String)> = fields
        .iter()
        .filter(|(n, _)| !["HASH", "ENCODING"].contains(&n.to_uppercase().as_str()))
        .collect();
    kept.sort_by_key(|(n, _)| n.to_uppercase());
    let esc = |s: &str| s.replace('\\', "\\\\").replace('|', "\\|");
    let mut text = String::new();
    for (_, v) in kept {
        text.push_str(&esc(v));
        text.push('|');
    }
    text.push_str(&esc(key));
    base64::engine::general_purpose::STANDARD.encode(Sha512::digest(text.as_bytes()))
}

/// How CMI's history writes a time: `yyyy-MM-dd HH:mm:ss.SSS` on the platform's wall clock,
/// Morocco's (UTC+1 outside Ramadan; specs/cmi.md §6.4).
pub fn cmi_time(at: time::OffsetDateTime) -> String {
    let local = at.to_offset(time::macros::offset!(+1));
    let format = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:3]"
    );
    local.format(&format).unwrap()
}

/// `150.00` → 15000 (the emulator only deals in two-decimal amounts).
pub fn minor(text: &str) -> Option<i64> {
    let (units, cents) = text.split_once('.').unwrap_or((text, "00"));
    if cents.len() != 2 {
        return None;
    }
    Some(units.parse::<i64>().ok()? * 100 + cents.parse::<i64>().ok()?)
}
