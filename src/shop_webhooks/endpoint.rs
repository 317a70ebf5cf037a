//! A merchant's webhook endpoint and the delivery settings, as `config` builds them: the
//! dispatcher and the sender read these, never the raw config.

use crate::domain::MerchantId;
use crate::standard_webhooks::WebhookSecret;
use std::time::Duration;

/// One of a merchant's `[[merchants.webhook_endpoints]]`. Its `Debug` leaves out the URL's query
/// (a shop may put a token there) and shows secrets as `***`.
#[derive(Clone)]
pub struct Endpoint {
    /// Stable across restarts and replicas (it keys the delivery rows and `webhook-id`):
    /// the configured `id`, or derived from the merchant and the URL.
    pub id: String,
    pub merchant: MerchantId,
    pub url: reqwest::Url,
    /// The current secret first, then `previous_secret` during a rotation: every delivery
    /// carries one signature per secret, so the shop can switch keys at its own pace.
    pub secrets: Vec<WebhookSecret>,
    /// Event types delivered (`payment.captured`, ...); empty: all of them.
    pub events: Vec<String>,
    /// Development only: plain `http://` to a loopback address is allowed.
    pub allow_loopback: bool,
    /// The URL may resolve to a private range (10/8, 172.16/12, 192.168/16, fc00::/7): for a
    /// shop on the same private network. Link-local and metadata addresses stay refused.
    pub allow_private: bool,
    /// Deliveries in flight to this endpoint at once, per replica.
    pub max_concurrent: usize,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut url = self.url.clone();
        if url.query().is_some() {
            url.set_query(Some("***"));
        }
        f.debug_struct("Endpoint")
            .field("id", &self.id)
            .field("merchant", &self.merchant)
            .field("url", &url.as_str())
            .field("secrets", &self.secrets)
            .field("events", &self.events)
            .field("allow_loopback", &self.allow_loopback)
            .field("allow_private", &self.allow_private)
            .field("max_concurrent", &self.max_concurrent)
            .finish()
    }
}

impl Endpoint {
    /// Whether events of type `kind` go to this endpoint.
    pub fn wants(&self, kind: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == kind)
    }
}

/// `[webhooks]`: how deliveries are made and retried.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// The wait before each attempt, one entry per attempt: entry 0 (normally 0 s,
    /// "immediately") counts from the event, entry n from the failure of attempt n. When the
    /// last attempt fails the delivery is `failed`, kept for redelivery.
    pub retry_schedule: Vec<Duration>,
    /// Whole attempt, connect to last byte read.
    pub timeout: Duration,
    /// Bytes of the endpoint's answer read at most (the rest is dropped, unread).
    pub max_response_bytes: usize,
    /// How long a replica owns a claimed delivery before another may take it.
    pub lease: Duration,
    /// Delivered and failed deliveries (and their attempts) are deleted after this.
    pub log_retention: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        let secs = Duration::from_secs;
        Self {
            // Immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: about a day.
            retry_schedule: vec![
                secs(0),
                secs(5),
                secs(300),
                secs(1_800),
                secs(7_200),
                secs(18_000),
                secs(36_000),
                secs(36_000),
            ],
            timeout: secs(10),
            max_response_bytes: 64 * 1024,
            lease: secs(60),
            log_retention: secs(30 * 24 * 3600),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn empty_filter_wants_everything_a_list_only_its_types() {
        let mut endpoint = Endpoint {
            id: "we_1".into(),
            merchant: MerchantId::parse("shop").unwrap(),
            url: "https://shop.example/hooks".parse().unwrap(),
            secrets: Vec::new(),
            events: Vec::new(),
            allow_loopback: false,
            allow_private: false,
            max_concurrent: 4,
        };
        assert!(endpoint.wants("payment.refunded"));
        endpoint.url = "https://shop.example/hooks?token=s3cr3t".parse().unwrap();
        let shown = format!("{endpoint:?}");
        assert!(
            !shown.contains("s3cr3t") && shown.contains("shop.example/hooks"),
            "{shown}"
        );
        endpoint.events = vec!["payment.captured".into()];
        assert!(endpoint.wants("payment.captured"));
        assert!(!endpoint.wants("payment.refunded"));
    }
}
