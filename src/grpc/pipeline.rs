//! The one call pipeline both transports run: authenticate → the caller's deadline → the
//! operation (convert, use case, convert back) → count the call with its final code.
//! Handlers only say which operation and where the header values come from.

use super::auth::Authenticator;
use crate::domain::MerchantId;
use crate::error::AppError;
use crate::service::PaymentService;
use crate::telemetry::Metrics;
use std::future::Future;
use std::sync::Arc;
use tokio::time::Instant;

/// What a transport knows of a call besides its body: who calls, and until when.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallMeta<'a> {
    /// The `authorization` header's value.
    pub authorization: Option<&'a str>,
    /// When the caller stops waiting, so provider calls end before it does.
    pub deadline: Option<Instant>,
}

/// The use cases plus who may call them; cheap to clone (shared handles).
#[derive(Clone)]
pub struct Gateway {
    service: PaymentService,
    auth: Arc<Authenticator>,
    metrics: Arc<Metrics>,
}

impl Gateway {
    pub fn new(service: PaymentService, auth: Arc<Authenticator>, metrics: Arc<Metrics>) -> Self {
        Self {
            service,
            auth,
            metrics,
        }
    }

    pub fn service(&self) -> &PaymentService {
        &self.service
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Runs `op` for the authenticated merchant within the caller's deadline and counts it in
    /// `paygate_grpc_requests_total` under `method` (the RPC's name, whichever transport).
    pub async fn call<Req, Resp, F, Fut>(
        &self,
        method: &'static str,
        meta: CallMeta<'_>,
        req: Req,
        op: F,
    ) -> Result<Resp, AppError>
    where
        F: FnOnce(PaymentService, MerchantId, Req) -> Fut,
        Fut: Future<Output = Result<Resp, AppError>>,
    {
        let started = Instant::now();
        let result = match self.auth.merchant(meta.authorization) {
            Ok(merchant) => {
                let work = op(self.service.clone(), merchant, req);
                crate::deadline::within(meta.deadline, work).await
            }
            Err(e) => Err(e),
        };
        self.count(method, started, &result);
        result
    }

    /// Authenticates alone, for calls whose work outlives the answer (event streams).
    pub fn merchant(&self, meta: CallMeta<'_>) -> Result<MerchantId, AppError> {
        self.auth.merchant(meta.authorization)
    }

    /// Counts one answered call with its final code.
    pub fn count<T>(&self, method: &str, started: Instant, result: &Result<T, AppError>) {
        let code = result.as_ref().map_or_else(|e| e.code().name(), |_| "OK");
        self.metrics.grpc_request(method, code, started.elapsed());
    }
}
