//! A CMI (NestPay 3D Pay Hosting) emulator: the hosted payment page, the signed callback, and
//! the XML API over its own ledger, with switches to misbehave.
//!
//! Its ver3 hash is written here again, independently of paygate's, so a bug shared by both
//! sides cannot make the tests pass.

mod api;
pub mod gate;

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
    pub credits: Vec<(i64, String)>,
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
    next_id: u64,
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

/// `150.00` → 15000 (the emulator only deals in two-decimal amounts).
pub fn minor(text: &str) -> Option<i64> {
    let (units, cents) = text.split_once('.').unwrap_or((text, "00"));
    if cents.len() != 2 {
        return None;
    }
    Some(units.parse::<i64>().ok()? * 100 + cents.parse::<i64>().ok()?)
}
