//! Reads: one payment, or a page of the merchant's payments.

use super::PaymentService;
use crate::domain::{ListQuery, MerchantId, Payment, PaymentId};
use crate::error::AppError;

impl PaymentService {
    pub async fn get(&self, merchant: &MerchantId, id: PaymentId) -> Result<Payment, AppError> {
        Ok(self.store.payment(merchant, id).await?)
    }

    /// A page and the id to resume after, if there may be more.
    pub async fn list(
        &self,
        merchant: &MerchantId,
        query: ListQuery,
    ) -> Result<(Vec<Payment>, Option<PaymentId>), AppError> {
        // Ask for one more than a page: if it exists there is a next page, so the last page
        // never carries a token that leads to an empty one.
        let wanted = usize::try_from(query.page_size).unwrap_or(usize::MAX);
        let probe = ListQuery {
            page_size: query.page_size.saturating_add(1),
            ..query
        };
        let mut page = self.store.list(merchant, &probe).await?;
        let more = page.len() > wanted;
        page.truncate(wanted);
        let next = if more {
            page.last().map(|p| p.id)
        } else {
            None
        };
        Ok((page, next))
    }
}
