//! The HTTP/JSON API on the internal port: the same behaviour as gRPC (a table run over both
//! surfaces), its own bad input, idempotency across surfaces, merchant isolation, SSE and the
//! OpenAPI document.

mod bad_input;
mod events;
mod openapi;
mod parity;
mod surfaces;

use crate::helpers::TestApp;
use serde_json::Value;

/// A JSON API client for one app (and, optionally, one merchant's key).
#[derive(Clone)]
pub struct Json {
    base: String,
    key: Option<String>,
    http: reqwest::Client,
}

/// One answer: HTTP status, headers, body as JSON (`Null` when it is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn reason(&self) -> &str {
        self.body["reason"].as_str().unwrap_or_default()
    }

    /// The violation fields of a problem, in order.
    pub fn fields(&self) -> Vec<String> {
        self.body["violations"]
            .as_array()
            .map(|v| {
                v.iter()
                    .filter_map(|f| f["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts an RFC 9457 problem with `status` and `reason`.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, reason: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{self:?}"
        );
        assert_eq!(self.reason(), reason, "{self:?}");
        assert_eq!(self.body["status"], status, "{self:?}");
        for member in ["type", "title", "detail", "code"] {
            assert!(self.body[member].is_string(), "{member} missing: {self:?}");
        }
    }
}

impl Json {
    pub fn new(app: &TestApp) -> Self {
        Self {
            base: format!("http://{}", app.grpc_addr()),
            key: None,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(20))
                .build()
                .unwrap(),
        }
    }

    pub fn with_key(mut self, key: &str) -> Self {
        self.key = Some(key.to_owned());
        self
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut req = self.http.request(method, self.url(path));
        if let Some(key) = &self.key {
            req = req.bearer_auth(key);
        }
        req
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let resp = req.send().await.expect("HTTP request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("HTTP body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    /// `POST path` with `Idempotency-Key: key` (unless empty) and `body`.
    pub async fn post(&self, path: &str, key: &str, body: &str) -> Answer {
        let mut req = self
            .request(reqwest::Method::POST, path)
            .header("content-type", "application/json")
            .body(body.to_owned());
        if !key.is_empty() {
            req = req.header("idempotency-key", key);
        }
        self.send(req).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    /// Authorizes `minor` MAD centimes on the mock with `token`; panics unless 200.
    pub async fn authorize(&self, key: &str, minor: i64, token: &str) -> Value {
        let body = serde_json::json!({
            "provider": "mock",
            "amount": {"currency": "MAD", "minorUnits": minor.to_string()},
            "merchantReference": format!("order-{key}"),
            "paymentToken": token,
        });
        let answer = self.post("/v1/payments", key, &body.to_string()).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.body
    }
}
