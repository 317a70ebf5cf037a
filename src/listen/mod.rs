//! The two listeners' defences against slow, idle and too many connections (README
//! "Listeners, timeouts and limits").
//!
//! Both ports accept through one loop ([`accept`]): a connection gets a slot on its listener
//! or is closed at once, and a failed accept (out of descriptors) pauses the loop instead of
//! spinning. The HTTP port then runs hyper's HTTP/1.1 with header and body deadlines
//! ([`http`]); the gRPC port hands tonic connections that must finish the HTTP/2 handshake in
//! time and close when idle ([`grpc`]).

mod accept;
mod body;
mod fds;
pub(crate) mod grpc;
pub(crate) mod http;
mod io;
mod slots;

pub(crate) use fds::{cap_exceeds, default_cap, raise_limit};
pub(crate) use slots::Slots;

use std::time::Duration;

/// The timeouts both listeners apply (from `[server]`, see `config::ConnectionSettings`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    /// HTTP: a request head must be complete this long after the connection starts waiting
    /// for it (a new connection, or an idle keep-alive one).
    pub header_read_timeout: Duration,
    /// HTTP: a request body must be complete this long after its head.
    pub body_read_timeout: Duration,
    /// gRPC: the HTTP/2 preface and first SETTINGS frame must arrive this soon.
    pub grpc_handshake_timeout: Duration,
    /// gRPC: a connection with no call in flight this long is closed.
    pub grpc_idle_timeout: Duration,
}
