//! Reads: plain statements on the pool, each seeing the latest committed state.

use super::PostgresStore;
use crate::domain::{
    ListQuery, MerchantId, OperationId, Payment, PaymentId, ProviderKind, Timestamp,
};
use crate::store::{DueOperation, StoreError, StoredEvent};
use sqlx::Row;
use sqlx::postgres::PgRow;

/// The payment one of whose operations the provider knows by a reference.
pub(in crate::store) const BY_OPERATION_REFERENCE: &str = "SELECT p.doc FROM operation_references r \
     JOIN payments p ON p.id = r.payment_id \
     WHERE r.merchant_id = $1 AND r.provider = $2 AND r.reference = $3 LIMIT 1";

impl PostgresStore {
    pub(in crate::store) async fn payment(
        &self,
        merchant: &MerchantId,
        id: PaymentId,
    ) -> Result<Payment, StoreError> {
        let row = sqlx::query("SELECT doc FROM payments WHERE id = $1::uuid AND merchant_id = $2")
            .bind(id.to_string())
            .bind(merchant.as_str())
            .fetch_optional(&self.inner.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(serde_json::from_str(row.try_get::<&str, _>(0)?)?)
    }

    pub(in crate::store) async fn payment_by_provider_reference(
        &self,
        merchant: &MerchantId,
        provider: ProviderKind,
        reference: &str,
    ) -> Result<Option<Payment>, StoreError> {
        let row = sqlx::query(
            "SELECT doc FROM payments WHERE merchant_id = $1 AND provider = $2 AND provider_reference = $3",
        )
        .bind(merchant.as_str())
        .bind(provider.as_str())
        .bind(reference)
        .fetch_optional(&self.inner.pool)
        .await?;
        match row {
            Some(row) => Ok(Some(serde_json::from_str(row.try_get::<&str, _>(0)?)?)),
            None => Ok(None),
        }
    }

    pub(in crate::store) async fn list(
        &self,
        merchant: &MerchantId,
        query: &ListQuery,
    ) -> Result<Vec<Payment>, StoreError> {
        let mut sql = sqlx::QueryBuilder::new("SELECT doc FROM payments WHERE merchant_id = ");
        sql.push_bind(merchant.as_str());
        if let Some(reference) = &query.merchant_reference {
            sql.push(" AND merchant_reference = ")
                .push_bind(reference.as_str());
        }
        if let Some(status) = query.status {
            sql.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(after) = query.after {
            sql.push(" AND id < ")
                .push_bind(after.to_string())
                .push("::uuid");
        }
        sql.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(query.page_size));
        let rows = sql.build().fetch_all(&self.inner.pool).await?;
        rows.iter()
            .map(|row| Ok(serde_json::from_str(row.try_get::<&str, _>(0)?)?))
            .collect()
    }

    pub(in crate::store) async fn due_operations(
        &self,
        settled_before: Timestamp,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<DueOperation>, StoreError> {
        let rows = sqlx::query(
            "SELECT o.id::text, o.payment_id::text, p.merchant_id, o.attempts FROM operations o \
             JOIN payments p ON p.id = o.payment_id \
             WHERE o.status IN ('pending', 'unknown') AND o.next_attempt_at <= $1 AND o.updated_at <= $2 \
             ORDER BY o.next_attempt_at LIMIT $3",
        )
        .bind(now.micros())
        .bind(settled_before.micros())
        .bind(i64::from(limit))
        .fetch_all(&self.inner.pool)
        .await?;
        rows.iter().map(due_operation).collect()
    }

    /// By the `operation_references` key (written with each payment document), so a webhook
    /// costs one index probe however many payments the merchant has.
    pub(in crate::store) async fn payment_by_operation_reference(
        &self,
        merchant: &MerchantId,
        provider: ProviderKind,
        reference: &str,
    ) -> Result<Option<Payment>, StoreError> {
        let row = sqlx::query(BY_OPERATION_REFERENCE)
            .bind(merchant.as_str())
            .bind(provider.as_str())
            .bind(reference)
            .fetch_optional(&self.inner.pool)
            .await?;
        match row {
            Some(row) => Ok(Some(serde_json::from_str(row.try_get::<&str, _>(0)?)?)),
            None => Ok(None),
        }
    }

    /// Below the oldest event left, or everything the counter ever handed out when none is.
    pub(in crate::store) async fn events_pruned_through(&self) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COALESCE((SELECT MIN(sequence) - 1 FROM event_numbers), \
             (SELECT last FROM event_counter), 0)",
        )
        .fetch_one(&self.inner.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    pub(in crate::store) async fn events_after(
        &self,
        merchant: &MerchantId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.number_pending().await?;
        self.read_events(merchant, after, limit).await
    }

    /// The numbered events as they stand, without waiting for the numbering task.
    pub(in crate::store) async fn read_events(
        &self,
        merchant: &MerchantId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT n.sequence, e.type, e.payment, e.occurred_at \
             FROM event_numbers n JOIN events e ON e.id = n.event_id \
             WHERE n.merchant_id = $1 AND n.sequence > $2 ORDER BY n.sequence LIMIT $3",
        )
        .bind(merchant.as_str())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.inner.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredEvent {
                    sequence: row.try_get(0)?,
                    kind: row.try_get(1)?,
                    payment: serde_json::from_str(row.try_get::<&str, _>(2)?)?,
                    occurred_at: Timestamp::from_micros(row.try_get(3)?),
                })
            })
            .collect()
    }

    pub(in crate::store) async fn count_open(
        &self,
        settled_before: Timestamp,
    ) -> Result<crate::store::OpenCounts, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) FILTER (WHERE p.status <> 'requires_action' AND o.updated_at <= $1), \
             COUNT(*) FILTER (WHERE p.status = 'requires_action') \
             FROM operations o JOIN payments p ON p.id = o.payment_id WHERE o.status IN ('pending', 'unknown')",
        )
        .bind(settled_before.micros())
        .fetch_one(&self.inner.pool)
        .await?;
        Ok(crate::store::OpenCounts {
            unresolved: row.try_get(0)?,
            checkouts: row.try_get(1)?,
        })
    }

    pub(in crate::store) async fn count_parked(&self) -> Result<i64, StoreError> {
        let row = sqlx::query(super::external::COUNT_PARKED)
            .fetch_one(&self.inner.pool)
            .await?;
        Ok(row.try_get(0)?)
    }
}

/// Decodes `(operation id, payment id, merchant id, attempts)`, ids as text.
pub(super) fn due_operation(row: &PgRow) -> Result<DueOperation, StoreError> {
    let bad = |what: &str| StoreError::Internal(format!("corrupt {what} in operations"));
    Ok(DueOperation {
        operation: OperationId::parse(row.try_get(0)?).map_err(|_| bad("id"))?,
        payment_id: PaymentId::parse(row.try_get(1)?).map_err(|_| bad("payment_id"))?,
        merchant: MerchantId::parse(row.try_get(2)?).map_err(|_| bad("merchant_id"))?,
        attempts: row.try_get(3)?,
    })
}
