//! The `[server]` keys that bound connections on both listeners: how many, and how long a
//! connection may take to say something (README "Listeners, timeouts and limits").

use super::build::Problems;
use super::raw::RawServer;
use super::values::at_least_one;
use std::time::Duration;

/// How the listeners treat connections. Every timeout is at least 1 ms (or 1 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// Connections per listener; `None`: sized at start from the open-file limit (half of
    /// what 128 reserved descriptors leave, at most 10,000).
    pub max_connections: Option<usize>,
    /// HTTP: a request head must be complete this long after the connection starts waiting
    /// for one, so this also closes idle keep-alive connections.
    pub header_read_timeout: Duration,
    /// HTTP: a request body must be complete this long after its head (a total, not a
    /// per-read timeout: a byte every few seconds does not keep it alive).
    pub body_read_timeout: Duration,
    /// gRPC: the HTTP/2 preface and first SETTINGS frame must arrive this soon.
    pub grpc_handshake_timeout: Duration,
    /// gRPC: HTTP/2 PING every interval, and the connection closes if the answer takes
    /// longer than the timeout (a peer that vanished without a FIN).
    pub grpc_keepalive_interval: Duration,
    pub grpc_keepalive_timeout: Duration,
    /// gRPC: a connection with no call in flight this long is closed.
    pub grpc_idle_timeout: Duration,
}

/// Short enough that a slow client holds a slot seconds, not minutes; long enough for any
/// real webhook sender or browser on a poor mobile link.
pub(super) const DEFAULT_CONNECTIONS: ConnectionSettings = ConnectionSettings {
    max_connections: None,
    header_read_timeout: Duration::from_secs(10),
    body_read_timeout: Duration::from_secs(10),
    grpc_handshake_timeout: Duration::from_secs(10),
    grpc_keepalive_interval: Duration::from_secs(60),
    grpc_keepalive_timeout: Duration::from_secs(20),
    grpc_idle_timeout: Duration::from_secs(600),
};

pub(super) fn connections(raw: &RawServer, p: &mut Problems) -> Option<ConnectionSettings> {
    let d = DEFAULT_CONNECTIONS;
    // `Some(None)`: not set; `None`: set but refused (the problem is recorded).
    let max_connections = match raw.max_connections {
        Some(n) => p.check(at_least_one("server.max_connections", n)).map(Some),
        None => Some(None),
    };
    let mut ms = |key: &str, value: Option<u64>, default: Duration| {
        let default = u64::try_from(default.as_millis()).unwrap_or(u64::MAX);
        p.check(at_least_one(key, value.unwrap_or(default)))
            .map(Duration::from_millis)
    };
    let header = ms(
        "server.header_read_timeout_ms",
        raw.header_read_timeout_ms,
        d.header_read_timeout,
    );
    let body = ms(
        "server.body_read_timeout_ms",
        raw.body_read_timeout_ms,
        d.body_read_timeout,
    );
    let handshake = ms(
        "server.grpc_handshake_timeout_ms",
        raw.grpc_handshake_timeout_ms,
        d.grpc_handshake_timeout,
    );
    let mut secs = |key: &str, value: Option<u64>, default: Duration| {
        p.check(at_least_one(key, value.unwrap_or(default.as_secs())))
            .map(Duration::from_secs)
    };
    let interval = secs(
        "server.grpc_keepalive_interval_secs",
        raw.grpc_keepalive_interval_secs,
        d.grpc_keepalive_interval,
    );
    let ping_timeout = secs(
        "server.grpc_keepalive_timeout_secs",
        raw.grpc_keepalive_timeout_secs,
        d.grpc_keepalive_timeout,
    );
    let idle = secs(
        "server.grpc_idle_timeout_secs",
        raw.grpc_idle_timeout_secs,
        d.grpc_idle_timeout,
    );
    Some(ConnectionSettings {
        max_connections: max_connections?,
        header_read_timeout: header?,
        body_read_timeout: body?,
        grpc_handshake_timeout: handshake?,
        grpc_keepalive_interval: interval?,
        grpc_keepalive_timeout: ping_timeout?,
        grpc_idle_timeout: idle?,
    })
}
