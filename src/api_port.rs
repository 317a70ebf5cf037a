//! The service of the internal port (`server.grpc_addr`): requests whose content type is
//! `application/grpc*` go to tonic's routes, everything else to the JSON API. One listener,
//! HTTP/1.1 and HTTP/2 (h2c), so curl and PHP reach the JSON API where gRPC clients already
//! connect, and the public side port never carries the API.

use axum::body::Body;
use tonic::service::Routes;
use tower::ServiceExt;

/// Both APIs as one set of routes for the tonic server (which keeps applying its
/// per-connection limits and layers to every request).
pub fn routes(grpc: Routes, json: axum::Router) -> Routes {
    let grpc = grpc.prepare().into_axum_router();
    let json = json.with_state(());
    let dispatch = tower::service_fn(move |req: http::Request<Body>| {
        let target = if is_grpc(req.headers()) {
            grpc.clone()
        } else {
            json.clone()
        };
        target.oneshot(req)
    });
    Routes::from(axum::Router::new().fallback_service(dispatch))
}

fn is_grpc(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}
