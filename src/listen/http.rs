//! The public HTTP port: HTTP/1.1 connections from our own accept loop, with a deadline for
//! every request head and body, so a slow or silent client cannot hold a connection open.
//!
//! HTTP/1.1 only: providers' webhooks and customers' browsers reach this port over HTTP/1.1
//! (TLS, and with it HTTP/2, ends at the load balancer), and one protocol is less to defend.

use super::accept::Acceptor;
use super::body::{Deadline, Tracked};
use super::io::Conn;
use super::{ConnectionLimits, Slots};
use axum::Router;
use axum::body::Body;
use http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::net::TcpListener;
use tokio::time::Instant;
use tower::ServiceExt;

/// Serves `router` on `listener` until `stop` resolves, then lets open requests finish.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    slots: Slots,
    stop: impl Future<Output = ()> + Send + 'static,
) {
    let mut acceptor = Acceptor::new(listener, slots.clone());
    let (stopping, _) = tokio::sync::watch::channel(false);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            conn = acceptor.next() => {
                let done = stopping.subscribe();
                tokio::spawn(connection(conn, router.clone(), limits, done));
            }
        }
    }
    // Stop accepting (the socket closes with the acceptor), then drain.
    drop(acceptor);
    stopping.send_replace(true);
    slots.closed().await;
}

/// One connection: hyper's HTTP/1.1 state machine with its header-read timer (which runs
/// whenever the connection waits for a request head, so it also ends idle keep-alives).
async fn connection(
    conn: Conn,
    router: Router,
    limits: ConnectionLimits,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let state = conn.slot().state().clone();
    let (listener, metrics) = (conn.slot().listener(), conn.slot().metrics().clone());
    let body_timeout = limits.body_read_timeout;
    let counted = metrics.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let in_flight = state.begin();
        let fired = Arc::new(AtomicBool::new(false));
        let deadline = Instant::now() + body_timeout;
        let req = req.map(|body| Body::new(Deadline::new(body, deadline, fired.clone())));
        let router = router.clone();
        let metrics = counted.clone();
        async move {
            let response = match router.oneshot(req).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let response = if fired.load(Ordering::Acquire) {
                metrics.connection_closed(listener, "body_timeout");
                body_timed_out()
            } else {
                response
            };
            Ok::<_, Infallible>(response.map(|body| Body::new(Tracked::new(body, in_flight))))
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(MAX_HEAD_BYTES);
    let served = http.serve_connection(TokioIo::new(conn), service);
    tokio::pin!(served);
    let stop = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    let result = tokio::select! {
        result = &mut served => result,
        () = stop => {
            served.as_mut().graceful_shutdown();
            served.await
        }
    };
    match result {
        // hyper's header-read timer: a slow head, or a keep-alive connection left idle.
        Err(e) if e.is_timeout() => metrics.connection_closed(listener, "header_timeout"),
        Err(e) => tracing::debug!(listener, error = %e, "connection ended with an error"),
        Ok(()) => {}
    }
}

/// The largest request head: 64 KiB, as nginx's default total (hyper's own default is ~400 KiB).
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// 408 with `Connection: close`: the rest of a late body is not worth waiting for.
fn body_timed_out() -> Response<Body> {
    let mut response = Response::new(Body::from("request body timed out\n"));
    *response.status_mut() = StatusCode::REQUEST_TIMEOUT;
    response.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    response
}
