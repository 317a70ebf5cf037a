//! `paygate call`'s command line: what each subcommand takes, with the help text a person reads
//! first. Turning it into a request is `Call::build` in `mod.rs`.

use super::connect::ConnectionArgs;
use crate::grpc::proto;

/// Shown under `paygate call --help`: where the pieces of a development setup are.
const AFTER_HELP: &str = "\
In development mode (`paygate serve` without a config file) the server listens on
http://127.0.0.1:50051 with authentication off, and the mock processor behind the `mock`
provider on http://127.0.0.1:9090 (GET /v1/ledger: what it charged; PUT /_faults: faults).

Output: the payment as JSON on stdout; with --id-only, only its id. Errors: JSON on stderr,
exit 1; a command line that cannot become a request exits 2.";

#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct CallArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Print only the payment id (one per line for `list` and `watch`), e.g. ID=$(paygate call authorize --amount 10 --id-only)
    #[arg(long, short = 'q', global = true, conflicts_with = "json")]
    pub id_only: bool,
    /// Print answers as the HTTP/JSON API's bodies (the proto3 JSON of the message, one line),
    /// not the readable view
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: CallCommand,
}

#[derive(clap::Subcommand, Debug)]
#[allow(clippy::large_enum_variant, reason = "parsed once per process")]
pub enum CallCommand {
    /// Start a payment (prints it; a decline is a payment with status "declined", not an error)
    Authorize(AuthorizeArgs),
    /// Capture all or part of an authorized payment
    Capture(CaptureArgs),
    /// Cancel an authorization before any capture
    Void(VoidArgs),
    /// Return captured money, in full or in part
    Refund(RefundArgs),
    /// Print one payment, with its operations
    Get {
        /// The payment's id, as printed by `authorize` ("id")
        payment_id: String,
    },
    /// List payments, newest first
    List(ListArgs),
    /// Print payment events as JSON lines until Ctrl-C, the end of the stream or `--limit`
    Watch {
        /// Start after this event sequence number (0 = the oldest retained event)
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Stop after this many events (a script's way to read a few; `| head` would wait for
        /// one more event before the closed pipe is noticed)
        #[arg(long)]
        limit: Option<u64>,
    },
}

#[derive(clap::Args, Debug)]
pub struct AuthorizeArgs {
    /// Decimal amount, e.g. 100.00; converted exactly with the currency's minor unit
    #[arg(long)]
    pub amount: String,
    /// ISO 4217 code
    #[arg(long, default_value = "MAD")]
    pub currency: String,
    /// mock, cmi or paypal
    #[arg(long, default_value = "mock")]
    pub provider: String,
    /// When the money is taken
    #[arg(long, value_enum, default_value_t = CaptureModeArg::Manual)]
    pub capture_mode: CaptureModeArg,
    /// The shop's own order reference (`list --reference` finds it)
    #[arg(long)]
    pub reference: Option<String>,
    /// Provider payment token (for the mock processor it picks the outcome: mock_decline, mock_redirect...)
    #[arg(long)]
    pub token: Option<String>,
    /// Where the customer's browser goes after paying on the provider's page (CMI, PayPal, mock_redirect)
    #[arg(long)]
    pub return_url: Option<String>,
    /// Where it goes after a decline or a cancel on that page (default: --return-url)
    #[arg(long)]
    pub cancel_url: Option<String>,
    /// Shown to the customer where the provider shows one (PayPal's order description)
    #[arg(long)]
    pub description: Option<String>,
    /// Language of the provider's page, e.g. fr-MA
    #[arg(long)]
    pub locale: Option<String>,
    /// key=value, repeatable
    #[arg(long = "metadata", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub metadata: Vec<(String, String)>,
    /// Reuse a key to retry safely; a fresh UUID v4 when omitted
    #[arg(long)]
    pub idempotency_key: Option<String>,
    #[command(flatten)]
    pub customer: CustomerArgs,
}

/// The customer, sent to providers that ask (CMI's `BillTo*`, `email` and `tel` fields: without
/// a name, CMI's form says `BillToName=Client`).
#[derive(clap::Args, Debug, Default)]
#[command(next_help_heading = "Customer (all optional)")]
pub struct CustomerArgs {
    /// Cardholder's name, e.g. "Amina Benali"
    #[arg(long = "customer-name", value_name = "NAME")]
    pub name: Option<String>,
    /// e.g. amina@example.ma
    #[arg(long)]
    pub email: Option<String>,
    /// e.g. 0600000000
    #[arg(long)]
    pub phone: Option<String>,
    /// Billing address, first line
    #[arg(long = "address-line1", value_name = "TEXT")]
    pub line1: Option<String>,
    /// Billing address, second line
    #[arg(long = "address-line2", value_name = "TEXT")]
    pub line2: Option<String>,
    /// Billing address city
    #[arg(long)]
    pub city: Option<String>,
    /// Billing address state or region
    #[arg(long)]
    pub state: Option<String>,
    /// Billing address postal code
    #[arg(long)]
    pub postal_code: Option<String>,
    /// Billing address country, ISO 3166-1 alpha-2 in upper case, e.g. MA
    #[arg(long)]
    pub country: Option<String>,
}

impl CustomerArgs {
    /// `None` when nothing was given, so the request carries no empty customer; the address is
    /// left out the same way.
    pub fn into_proto(self) -> Option<proto::Customer> {
        let address = [
            &self.line1,
            &self.line2,
            &self.city,
            &self.state,
            &self.postal_code,
            &self.country,
        ]
        .iter()
        .any(|field| field.is_some())
        .then(|| proto::Address {
            line1: self.line1.unwrap_or_default(),
            line2: self.line2.unwrap_or_default(),
            city: self.city.unwrap_or_default(),
            state: self.state.unwrap_or_default(),
            postal_code: self.postal_code.unwrap_or_default(),
            country: self.country.unwrap_or_default(),
        });
        let person = [&self.name, &self.email, &self.phone]
            .iter()
            .any(|field| field.is_some());
        (person || address.is_some()).then(|| proto::Customer {
            name: self.name.unwrap_or_default(),
            email: self.email.unwrap_or_default(),
            phone: self.phone.unwrap_or_default(),
            billing_address: address,
        })
    }
}

#[derive(clap::Args, Debug)]
pub struct CaptureArgs {
    /// The payment's id, as printed by `authorize` ("id")
    pub payment_id: String,
    /// Decimal amount; omit to capture everything still capturable
    #[arg(long)]
    pub amount: Option<String>,
    /// Currency of --amount
    #[arg(long, default_value = "MAD")]
    pub currency: String,
    /// Close capturing after this capture even if it is partial (always so with CMI)
    #[arg(long = "final")]
    pub final_capture: bool,
    /// Reuse a key to retry safely; a fresh UUID v4 when omitted
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct VoidArgs {
    /// The payment's id, as printed by `authorize` ("id")
    pub payment_id: String,
    /// Reuse a key to retry safely; a fresh UUID v4 when omitted
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct RefundArgs {
    /// The payment's id, as printed by `authorize` ("id")
    pub payment_id: String,
    /// Decimal amount; omit to refund everything still refundable
    #[arg(long)]
    pub amount: Option<String>,
    /// Currency of --amount
    #[arg(long, default_value = "MAD")]
    pub currency: String,
    /// Why, in the merchant's words: kept with the refund, sent to PayPal as the buyer's note
    #[arg(long)]
    pub reason: Option<String>,
    /// Reuse a key to retry safely; a fresh UUID v4 when omitted
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Only payments with this merchant reference
    #[arg(long)]
    pub reference: Option<String>,
    /// Only payments in this status
    #[arg(long, value_enum)]
    pub status: Option<StatusArg>,
    /// 1-500 (the server's default is 50)
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=500))]
    pub page_size: Option<i32>,
    /// next_page_token from the previous page
    #[arg(long)]
    pub page_token: Option<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureModeArg {
    /// Authorize only; capture later
    Manual,
    /// Capture as part of the authorization
    Automatic,
}

/// Status names as `call` prints them (`partially_captured`); the kebab-case spelling clap
/// would generate is accepted too.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
#[value(rename_all = "snake_case")]
pub enum StatusArg {
    #[value(alias = "requires-action")]
    RequiresAction,
    Pending,
    Authorized,
    #[value(alias = "partially-captured")]
    PartiallyCaptured,
    Captured,
    #[value(alias = "partially-refunded")]
    PartiallyRefunded,
    Refunded,
    Voided,
    Declined,
    Failed,
}

impl From<StatusArg> for proto::PaymentStatus {
    fn from(status: StatusArg) -> Self {
        match status {
            StatusArg::RequiresAction => Self::RequiresAction,
            StatusArg::Pending => Self::Pending,
            StatusArg::Authorized => Self::Authorized,
            StatusArg::PartiallyCaptured => Self::PartiallyCaptured,
            StatusArg::Captured => Self::Captured,
            StatusArg::PartiallyRefunded => Self::PartiallyRefunded,
            StatusArg::Refunded => Self::Refunded,
            StatusArg::Voided => Self::Voided,
            StatusArg::Declined => Self::Declined,
            StatusArg::Failed => Self::Failed,
        }
    }
}

impl From<CaptureModeArg> for proto::CaptureMode {
    fn from(mode: CaptureModeArg) -> Self {
        match mode {
            CaptureModeArg::Manual => Self::Manual,
            CaptureModeArg::Automatic => Self::Automatic,
        }
    }
}

pub(super) fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}
