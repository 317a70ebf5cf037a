//! The connection keys of `[server]`: defaults, every key read, zero refused by name.

use super::*;

#[test]
fn connection_keys_default_when_absent() {
    let s = load_text(&minimal(), &[]).unwrap();
    let c = s.server.connections;
    assert_eq!(c, Settings::development().server.connections);
    assert_eq!(c.max_connections, None, "sized from the open-file limit");
    assert_eq!(c.header_read_timeout, Duration::from_secs(10));
    assert_eq!(c.body_read_timeout, Duration::from_secs(10));
    assert_eq!(c.grpc_handshake_timeout, Duration::from_secs(10));
    assert_eq!(c.grpc_keepalive_interval, Duration::from_secs(60));
    assert_eq!(c.grpc_keepalive_timeout, Duration::from_secs(20));
    assert_eq!(c.grpc_idle_timeout, Duration::from_secs(600));
}

#[test]
fn every_connection_key_is_read() {
    let text = format!(
        "[server]\nmax_connections = 500\nheader_read_timeout_ms = 1500\nbody_read_timeout_ms = 2500\n\
         grpc_handshake_timeout_ms = 3500\ngrpc_keepalive_interval_secs = 30\n\
         grpc_keepalive_timeout_secs = 5\ngrpc_idle_timeout_secs = 120\n{}",
        minimal()
    );
    let s = load_text(&text, &[]).unwrap();
    let c = s.server.connections;
    assert_eq!(c.max_connections, Some(500));
    assert_eq!(c.header_read_timeout, Duration::from_millis(1500));
    assert_eq!(c.body_read_timeout, Duration::from_millis(2500));
    assert_eq!(c.grpc_handshake_timeout, Duration::from_millis(3500));
    assert_eq!(c.grpc_keepalive_interval, Duration::from_secs(30));
    assert_eq!(c.grpc_keepalive_timeout, Duration::from_secs(5));
    assert_eq!(c.grpc_idle_timeout, Duration::from_secs(120));
    assert!(
        s.describe().contains(
            "connections: 500 per listener; HTTP header 1500 ms, body 2500 ms; gRPC handshake 3500 ms"
        ),
        "{}",
        s.describe()
    );
}

#[test]
fn zero_connection_values_are_refused_by_key() {
    let text = format!(
        "[server]\nmax_connections = 0\nheader_read_timeout_ms = 0\ngrpc_idle_timeout_secs = 0\n{}",
        minimal()
    );
    let err = load_text(&text, &[]).unwrap_err();
    let keys: Vec<&str> = match &err {
        ConfigError::Invalid(problems) => problems.iter().map(|p| p.key.as_str()).collect(),
        other => unreachable!("{other}"),
    };
    assert_eq!(
        keys,
        [
            "server.max_connections",
            "server.header_read_timeout_ms",
            "server.grpc_idle_timeout_secs"
        ]
    );
}
