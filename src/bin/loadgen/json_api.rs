//! Authorize over the HTTP/JSON API (`POST /v1/payments` on the gRPC port), so the JSON
//! transport can be measured next to gRPC in the same run (issue 12).
//!
//! The request is the gRPC scenario's Authorize (100.00 MAD, mock provider, manual capture) in
//! proto3 JSON, with a fresh `Idempotency-Key` header each time. The body does not change, so
//! it is encoded once; the answer is decoded into a `Payment` and must be `AUTHORIZED`, as the
//! gRPC scenario demands, so both sides pay for reading the whole answer.
//!
//! HTTP/1.1 keep-alive, as a PHP or Node client would use it: one connection per request in
//! flight (the pool keeps them), where gRPC multiplexes eight workers on one HTTP/2 connection.

use crate::target::expect_status;
use bytes::Bytes;
use paygate::grpc::proto;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use tokio::time::Duration;

/// Where and how to POST; cloning shares the connection pool.
#[derive(Clone)]
pub struct JsonAuthorize {
    http: reqwest::Client,
    url: String,
    auth: Option<HeaderValue>,
    body: Bytes,
}

impl JsonAuthorize {
    /// `target` is the gRPC address (`http://host:port`); `pool` is how many connections to
    /// keep open, i.e. the number of workers.
    pub fn new(
        target: &str,
        api_key: Option<&str>,
        amount: proto::Money,
        pool: usize,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let auth = match api_key.filter(|key| !key.is_empty()) {
            None => None,
            Some(key) => {
                let mut value = HeaderValue::try_from(format!("Bearer {key}"))
                    .map_err(|_| anyhow::anyhow!("the API key is not a valid header value"))?;
                value.set_sensitive(true);
                Some(value)
            }
        };
        // Only the fields the gRPC scenario sets, as a hand-written client sends them (the
        // generated serializer would add every empty field).
        let request = serde_json::json!({
            "provider": "mock",
            "amount": {
                "currency": amount.currency,
                "minorUnits": amount.minor_units.to_string(),
            },
            "merchantReference": "loadgen",
            "captureMode": proto::CaptureMode::Manual.as_str_name(),
        });
        let body = Bytes::from(serde_json::to_vec(&request)?);
        paygate::providers::http_client::install_crypto_provider();
        let http = reqwest::Client::builder()
            .http1_only()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(pool)
            .timeout(timeout)
            .build()?;
        Ok(Self {
            http,
            url: format!("{}/v1/payments", target.trim_end_matches('/')),
            auth,
            body,
        })
    }

    /// One Authorize; `Ok` only for a `200` whose payment is `AUTHORIZED`.
    pub async fn authorize(&self) -> Result<(), &'static str> {
        let mut request = self
            .http
            .post(&self.url)
            .header(CONTENT_TYPE, "application/json")
            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
            .body(self.body.clone());
        if let Some(auth) = &self.auth {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        let response = request.send().await.map_err(transport_error)?;
        let status = response.status();
        let body = response.bytes().await.map_err(transport_error)?;
        if status != reqwest::StatusCode::OK {
            return Err(http_error(status.as_u16()));
        }
        let payment: proto::Payment = serde_json::from_slice(&body).map_err(|_| "BAD_JSON")?;
        expect_status(&payment, proto::PaymentStatus::Authorized)
    }
}

fn transport_error(e: reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "TIMEOUT"
    } else if e.is_connect() {
        "CONNECT"
    } else {
        "HTTP_ERROR"
    }
}

/// The statuses the error table gives Authorize, named; anything else is `HTTP_OTHER`.
fn http_error(status: u16) -> &'static str {
    match status {
        400 => "HTTP_400",
        401 => "HTTP_401",
        403 => "HTTP_403",
        409 => "HTTP_409",
        413 => "HTTP_413",
        422 => "HTTP_422",
        429 => "HTTP_429",
        500 => "HTTP_500",
        503 => "HTTP_503",
        _ => "HTTP_OTHER",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn amount() -> proto::Money {
        proto::Money {
            currency: "MAD".to_owned(),
            minor_units: 10_000,
        }
    }

    #[test]
    fn the_body_is_the_grpc_scenarios_authorize_without_a_key() {
        let json = JsonAuthorize::new(
            "http://127.0.0.1:50051/",
            Some("k"),
            amount(),
            8,
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(json.url, "http://127.0.0.1:50051/v1/payments");
        assert!(json.auth.is_some());
        let body: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
        assert_eq!(body["provider"], "mock");
        assert_eq!(body["amount"]["currency"], "MAD");
        assert_eq!(body["amount"]["minorUnits"], "10000");
        assert_eq!(body["captureMode"], "CAPTURE_MODE_MANUAL");
        assert!(body.get("idempotencyKey").is_none(), "the key is a header");
    }

    #[test]
    fn an_empty_key_is_none() {
        let json = JsonAuthorize::new("http://h:1", Some(""), amount(), 1, Duration::from_secs(1))
            .unwrap();
        assert!(json.auth.is_none());
    }
}
