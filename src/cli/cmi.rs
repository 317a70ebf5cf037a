//! `paygate cmi hash|verify`: operator tools to debug a CMI hash mismatch offline.
//!
//! Both read one `application/x-www-form-urlencoded` body on stdin (as saved from a callback or
//! built by hand) and the store key from a file, never from the command line, where it would land
//! in the shell history and in `ps`. The key is never printed; the plaintext shown by `--explain`
//! has it masked.

use crate::providers::cmi::{form, hash};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code for input that cannot be checked at all (unreadable file, undecodable body).
const EXIT_USAGE: u8 = 2;
/// Larger than any real CMI body; a guard against piping the wrong file.
const MAX_BODY: u64 = 1 << 20;

#[derive(clap::Subcommand, Debug)]
pub enum CmiCommand {
    /// Print the ver3 HASH of the form body on stdin (HASH/encoding fields are ignored).
    Hash(KeyArgs),
    /// Check the HASH field of the form body on stdin: prints `valid` (exit 0) or `invalid`
    /// and the expected hash (exit 1).
    Verify(KeyArgs),
}

#[derive(clap::Args, Debug)]
pub struct KeyArgs {
    /// File holding the merchant's CMI store key (trailing newlines are ignored).
    #[arg(long)]
    pub store_key_file: PathBuf,
    /// Also print the sorted field names and the hashed plaintext, store key masked.
    #[arg(long)]
    pub explain: bool,
}

#[expect(clippy::print_stdout, reason = "CLI output")]
pub fn run(command: &CmiCommand) -> ExitCode {
    let args = match command {
        CmiCommand::Hash(a) | CmiCommand::Verify(a) => a,
    };
    let (fields, key) = match inputs(args) {
        Ok(x) => x,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if args.explain {
        let masked = hash::plaintext(&fields, b"<store key>");
        println!("fields: {}", form::names(&fields));
        println!("plaintext: {}", String::from_utf8_lossy(&masked));
    }
    let expected = hash::compute(&fields, key.as_bytes());
    match command {
        CmiCommand::Hash(_) => {
            println!("{expected}");
            ExitCode::SUCCESS
        }
        CmiCommand::Verify(_) => {
            if hash::verify(&fields, key.as_bytes()) {
                println!("valid");
                ExitCode::SUCCESS
            } else {
                if hash::received(&fields).is_none() {
                    println!("invalid: no HASH field (or more than one)");
                } else {
                    println!("invalid");
                }
                println!("expected HASH: {expected}");
                ExitCode::FAILURE
            }
        }
    }
}

fn inputs(args: &KeyArgs) -> Result<(Vec<form::Field>, String), String> {
    let key = std::fs::read_to_string(&args.store_key_file)
        .map_err(|e| format!("cannot read {}: {e}", args.store_key_file.display()))?;
    let key = key.trim_end_matches(['\r', '\n']).to_owned();
    if key.is_empty() {
        return Err(format!("{} is empty", args.store_key_file.display()));
    }
    let mut body = Vec::new();
    std::io::stdin()
        .take(MAX_BODY)
        .read_to_end(&mut body)
        .map_err(|e| format!("reading stdin: {e}"))?;
    // A body saved with `echo` or an editor ends with a newline that is not part of the form.
    while body.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        body.pop();
    }
    let fields = form::decode(&body).map_err(|e| format!("stdin is not a form body: {e}"))?;
    Ok((fields, key))
}
