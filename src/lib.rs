//! paygate: a payment gateway adapter. Shop services call it over gRPC to authorize,
//! capture, void and refund payments; it speaks each provider's HTTP protocol, keeps a
//! durable ledger and never charges twice.
//!
//! # Layout
//! Data flows one way: transport → use case → domain → provider/store.
//! - [`grpc`], [`json`], [`http`], [`cli`]: transports (proto types stay in `grpc/` and
//!   `json/`); [`api_port`] serves gRPC and the JSON API on one port. `listen` accepts
//!   their connections: a cap per listener, accept back-off, header/body/handshake/idle deadlines.
//! - [`service`]: use cases, one per file; the only layer that talks to providers and store.
//! - [`domain`]: money, ids, the payment state machine; no I/O.
//! - [`providers`]: one adapter per processor (mock today), plus the mock processor itself.
//! - [`store`]: the ledger (SQLite with group commit, or PostgreSQL for replicas); all SQL
//!   lives there.
//! - [`app`]: the one wiring shared by `main` and the tests; [`config`], [`telemetry`]
//!   (with `process_metrics`, read from `/proc` at scrape time), [`traces`] (OTLP export,
//!   W3C trace context in and out, trace ids on log lines),
//!   [`shutdown`] and [`deadline`] (the caller's deadline, carried to provider calls) support it.
//!   Its background tasks run under `supervise` (restarted if they panic); `health` keeps
//!   `grpc.health.v1` current.
pub mod api_port;
pub mod app;
pub mod cli;
pub mod config;
pub mod deadline;
pub mod domain;
pub mod error;
pub mod grpc;
pub(crate) mod health;
pub mod http;
pub mod json;
pub(crate) mod listen;
pub(crate) mod process_metrics;
pub mod providers;
pub mod service;
pub mod shop_webhooks;
pub mod shutdown;
pub mod standard_webhooks;
pub mod store;
pub(crate) mod supervise;
pub mod telemetry;
pub mod traces;
