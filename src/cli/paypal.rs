//! `paygate paypal verify-webhook`: checks a saved PayPal webhook offline with the same code the
//! server runs (specs/paypal.md §8.3), for an operator asking "was this delivery genuine?".
//!
//! The certificate is given as a file, so nothing is fetched; the verdict rests on the algorithm,
//! the certificate (chain, validity, name) and the signature, and the tool also says whether the
//! certificate URL is one paygate would ever have fetched.

use crate::providers::paypal::cert::{self, TrustStore};
use crate::providers::paypal::webhook::{self, Transmission};
use std::path::PathBuf;
use std::process::ExitCode;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(clap::Args, Debug)]
pub struct PaypalArgs {
    #[command(subcommand)]
    pub command: PaypalCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum PaypalCommand {
    /// Verify a saved webhook delivery: prints `signature: valid` (exit 0) or `signature: invalid` (exit 1).
    VerifyWebhook(VerifyArgs),
}

#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// JSON object of the PAYPAL-* headers (names case-insensitive).
    #[arg(long)]
    pub headers_file: PathBuf,
    /// The raw request body, byte for byte.
    #[arg(long)]
    pub body_file: PathBuf,
    /// The PEM certificate served at PAYPAL-CERT-URL.
    #[arg(long)]
    pub cert_file: PathBuf,
    /// The webhook id the delivery was signed for (`WEBHOOK_ID` for simulator events).
    #[arg(long)]
    pub webhook_id: String,
    /// When to check the certificate's validity (RFC 3339); default: PAYPAL-TRANSMISSION-TIME.
    #[arg(long)]
    pub at: Option<String>,
}

/// Runs the tool; exit 0 valid, 1 invalid, 2 unusable input.
#[expect(clippy::print_stdout, reason = "CLI output")]
pub fn run(args: PaypalArgs) -> ExitCode {
    let PaypalCommand::VerifyWebhook(args) = args.command;
    match verify(&args) {
        Ok(report) => {
            for line in &report.lines {
                println!("{line}");
            }
            if report.valid {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

struct Report {
    valid: bool,
    lines: Vec<String>,
}

fn read(path: &PathBuf) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn verify(args: &VerifyArgs) -> Result<Report, String> {
    let headers = read(&args.headers_file)?;
    let body = read(&args.body_file)?;
    let pem = read(&args.cert_file)?;
    let t = Transmission::from_json(&headers).map_err(|e| format!("headers file: {e}"))?;
    let at_text = args.at.clone().unwrap_or_else(|| t.time.clone());
    let at = OffsetDateTime::parse(&at_text, &Rfc3339)
        .map_err(|e| format!("--at / transmission time {at_text:?} is not RFC 3339: {e}"))?;
    let at = cert::unix_time(at.unix_timestamp()).map_err(|e| e.to_string())?;
    let trust = TrustStore::new(&[]).map_err(|e| e.to_string())?;
    let mut lines = Vec::new();
    let allowed = if cert::is_paypal_cert_url(&t.cert_url) {
        "yes"
    } else {
        "no (paygate would never fetch it)"
    };
    lines.push(format!(
        "cert url: {} (allowed PayPal host: {allowed})",
        t.cert_url
    ));
    let leaf = cert::leaf_from_pem(&pem).map_err(|e| format!("certificate file: {e}"))?;
    let names = [
        cert::Environment::Live.subject_name(),
        cert::Environment::Sandbox.subject_name(),
    ];
    match cert::check_leaf(&leaf, &trust, at, &names) {
        Ok(name) => lines.push(format!("certificate: valid at {at_text} for {name}")),
        Err(e) => lines.push(format!("certificate: not valid at {at_text}: {e}")),
    }
    lines.push(format!(
        "message: {}",
        webhook::signed_message(&t, &args.webhook_id, &body)
    ));
    let verdict = webhook::verify_with_cert(&t, &args.webhook_id, &body, &leaf, &trust, at, &names);
    let valid = verdict.is_ok();
    match verdict {
        Ok(_) => lines.push("signature: valid".into()),
        Err(e) => lines.push(format!("signature: invalid ({e})")),
    }
    Ok(Report { valid, lines })
}
