#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::as_conversions,
    clippy::print_stdout
)]
//! Black-box tests: the real application wiring on port 0, a real SQLite file, the real HTTP
//! mock processor, and the real binary for the crash test. One binary, one module per flow.

mod dev_server;
mod emulators;
mod helpers;
mod logs;

mod auth;
mod bounded_history;
mod browser;
mod card_data;
mod check_config;
mod checkout_expiry;
mod cli_call;
mod cmi;
mod compound_faults;
mod concurrency;
mod crash;
mod declines;
mod deploy_metrics;
mod descriptor_limit;
mod dev_mode;
mod disk_full;
mod durability;
mod examples;
mod happy_path;
mod idempotency;
mod json;
mod list;
mod listen_trigger;
mod listeners;
mod never_sent;
mod ops;
mod paypal;
mod paypal_cert_fetches;
mod paypal_cli;
mod paypal_parked;
mod paypal_recovery;
mod paypal_split_refunds;
mod paypal_webhooks;
mod process_metrics;
mod public_pages;
mod readme;
mod reaping;
mod reflection;
mod replicas;
mod request_bounds;
mod resilience;
mod return_pages;
mod shop_webhooks;
mod shutdown;
mod state_rules;
mod store_outage;
mod tcp_proxy;
mod traces;
mod unknown_outcome;
mod validation;
mod watch_events;
mod webhook_receivers;
mod webhooks;
