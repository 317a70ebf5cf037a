//! Reads: one payment, or a page of the merchant's payments.

use super::PaymentService;
use crate::domain::{ListQuery, MerchantId, Payment, PaymentId};
use crate::error::AppError;

impl PaymentService {
    pub async fn get(&self, merchant: &MerchantId, id: PaymentId) -> Result<Payment, AppError> {
        Ok(self.store.payment(merchant, id).await?)
    }

    /// A page and the id to resume after, if there may be more.
    pub async fn list(&self, merchant: &MerchantId, query: ListQuery) -> Result<(Vec<Payment>, Option<PaymentId>), AppError> {
        let page = self.store.list(merchant, &query).await?;
        let full = u32::try_from(page.len()).is_ok_and(|n| n == query.page_size);
        let next = if full { page.last().map(|p| p.id) } else { None };
        Ok((page, next))
    }
}
