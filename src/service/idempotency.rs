//! Idempotency: fingerprints of request parameters, and what a claimed key means for the caller.
//!
//! Scope is (merchant, method, key). The fingerprint is a SHA-256 over a canonical JSON of
//! every parameter that changes what the request does, so the same key with other
//! parameters is caught (IDEMPOTENCY_KEY_REUSED) instead of silently replayed.

use crate::domain::{OperationId, Payment};
use crate::error::AppError;
use crate::store::Claimed;
use crate::telemetry::Metrics;
use serde::Serialize;
use sha2::{Digest, Sha256};

pub(super) fn fingerprint(params: &impl Serialize) -> Result<[u8; 32], AppError> {
    let canonical =
        serde_json::to_vec(params).map_err(|e| AppError::Internal(format!("fingerprint: {e}")))?;
    Ok(Sha256::digest(&canonical).into())
}

/// What a request does after claiming its key.
pub(super) enum Claim {
    /// The key is ours: call the provider for this operation.
    Run(Payment, OperationId),
    /// The key was used before with the same parameters: answer this, call nothing.
    Replay(Payment),
}

pub(super) fn resolve(
    claimed: Claimed,
    method: &'static str,
    metrics: &Metrics,
) -> Result<Claim, AppError> {
    match claimed {
        Claimed::Started { payment, operation } => Ok(Claim::Run(*payment, operation)),
        Claimed::Replay(payment) => {
            metrics.idempotent_replay(method);
            Ok(Claim::Replay(*payment))
        }
        Claimed::Reused => Err(AppError::KeyReused),
        Claimed::InUse => Err(AppError::KeyInUse),
    }
}
