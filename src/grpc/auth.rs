//! Caller authentication: `authorization: Bearer <key>` → the merchant that key belongs to.
//! Both transports pass the header's value here, so keys and merchant scoping are one thing.
//!
//! The config stores only SHA-256 hashes of keys. We hash what the caller sent and look the
//! hash up, so no stored secret is ever compared byte by byte against caller input.

use crate::domain::MerchantId;
use crate::error::AppError;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

pub struct Authenticator {
    by_key_hash: HashMap<[u8; 32], MerchantId>,
    /// Development mode: every caller acts for this merchant, no key needed.
    open_as: Option<MerchantId>,
}

impl Authenticator {
    pub fn new(by_key_hash: HashMap<[u8; 32], MerchantId>, open_as: Option<MerchantId>) -> Self {
        Self {
            by_key_hash,
            open_as,
        }
    }

    /// The merchant of the `authorization` header's value (`None`: absent or not text).
    pub fn merchant(&self, authorization: Option<&str>) -> Result<MerchantId, AppError> {
        if let Some(merchant) = &self.open_as {
            return Ok(merchant.clone());
        }
        let header = authorization.ok_or(AppError::Unauthenticated)?;
        let key = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or(AppError::Unauthenticated)?;
        let hash: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        self.by_key_hash
            .get(&hash)
            .cloned()
            .ok_or(AppError::Unauthenticated)
    }
}
