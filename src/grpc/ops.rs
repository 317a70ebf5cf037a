//! The API's operations, each one line from a proto request to a proto answer over the
//! use cases in `service/`. gRPC and the JSON API both call these, so a request means the
//! same thing on either transport (same conversion, same violations, same use case).

use super::convert;
use super::proto as pb;
use crate::domain::{
    AuthorizeCommand, CaptureCommand, ListQuery, MerchantId, RefundCommand, VoidCommand,
};
use crate::error::AppError;
use crate::service::PaymentService;
use crate::store::StoredEvent;

pub async fn authorize(
    s: PaymentService,
    m: MerchantId,
    r: pb::AuthorizeRequest,
) -> Result<pb::Payment, AppError> {
    Ok(s.authorize(&m, AuthorizeCommand::try_from(r)?)
        .await?
        .into())
}

pub async fn capture(
    s: PaymentService,
    m: MerchantId,
    r: pb::CaptureRequest,
) -> Result<pb::Payment, AppError> {
    Ok(s.capture(&m, CaptureCommand::try_from(r)?).await?.into())
}

pub async fn void(
    s: PaymentService,
    m: MerchantId,
    r: pb::VoidRequest,
) -> Result<pb::Payment, AppError> {
    Ok(s.void(&m, VoidCommand::try_from(r)?).await?.into())
}

pub async fn refund(
    s: PaymentService,
    m: MerchantId,
    r: pb::RefundRequest,
) -> Result<pb::Payment, AppError> {
    Ok(s.refund(&m, RefundCommand::try_from(r)?).await?.into())
}

pub async fn get_payment(
    s: PaymentService,
    m: MerchantId,
    r: pb::GetPaymentRequest,
) -> Result<pb::Payment, AppError> {
    Ok(s.get(&m, convert::payment_id(&r)?).await?.into())
}

pub async fn list_payments(
    s: PaymentService,
    m: MerchantId,
    r: pb::ListPaymentsRequest,
) -> Result<pb::ListPaymentsResponse, AppError> {
    let (page, next) = s.list(&m, ListQuery::try_from(r)?).await?;
    Ok(pb::ListPaymentsResponse {
        payments: page.into_iter().map(Into::into).collect(),
        next_page_token: next.map(|id| id.to_string()).unwrap_or_default(),
    })
}

/// The merchant's events after `after` (0 = the oldest kept), then each new one as it commits.
pub async fn watch_events(
    s: PaymentService,
    m: MerchantId,
    after: u64,
) -> Result<impl futures::Stream<Item = Result<StoredEvent, AppError>> + Send + use<>, AppError> {
    let request = pb::WatchEventsRequest {
        after_sequence: after,
    };
    s.watch_events(m, convert::sequence(&request)?).await
}

/// A page of at most `limit` of the merchant's events after `after`, without waiting.
pub async fn events_page(
    s: PaymentService,
    m: MerchantId,
    (after, limit): (u64, u32),
) -> Result<pb::EventsPage, AppError> {
    let request = pb::WatchEventsRequest {
        after_sequence: after,
    };
    let events = s
        .events_page(&m, convert::sequence(&request)?, limit)
        .await?;
    let next = events.last().map_or(after, |e| e.sequence.unsigned_abs());
    Ok(pb::EventsPage {
        events: events.into_iter().map(convert::event).collect(),
        next_after_sequence: next,
    })
}
