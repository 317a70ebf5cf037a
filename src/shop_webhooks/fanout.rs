//! Fan-out: a merchant's new events become deliveries, one per endpoint that wants the type.
//!
//! The event log is the outbox. A cursor per merchant (`webhook_cursors`) says how far it has
//! been fanned out; every event after it is rendered here, outside any transaction, and one job
//! inserts the deliveries and moves the cursor, only if nobody moved it since it was read. A
//! crash between the event's commit and its fan-out loses nothing: the event is still after
//! the cursor at the next start. Two replicas fanning out at once: one wins the compare-and-set,
//! the other reads again from where the winner left the cursor.

use super::endpoint::Endpoint;
use super::payload;
use crate::domain::{MerchantId, Timestamp};
use crate::store::{DeliveryJob, DeliveryWritten, NewDelivery, Store, StoredEvent};
use std::sync::Arc;
use std::time::Duration;

/// Events read and fanned out per job: bounds a job's size after a long outage.
const PAGE: u32 = 500;

/// One merchant's fan-out, with its endpoints and the cursor as last seen.
pub(crate) struct Fanout {
    merchant: MerchantId,
    endpoints: Vec<Arc<Endpoint>>,
    /// Entry 0 of the retry schedule: the wait before the first attempt.
    first_wait: Duration,
    /// `None` until the cursor is created or read (at the first pass).
    cursor: Option<i64>,
}

impl Fanout {
    pub(crate) fn new(
        merchant: MerchantId,
        endpoints: Vec<Arc<Endpoint>>,
        first_wait: Duration,
    ) -> Self {
        Self {
            merchant,
            endpoints,
            first_wait,
            cursor: None,
        }
    }

    pub(crate) fn merchant(&self) -> &MerchantId {
        &self.merchant
    }

    /// Fans out every event after the cursor; returns how many deliveries were created.
    pub(crate) async fn run(&mut self, store: &Store) -> anyhow::Result<u64> {
        let mut created = 0;
        loop {
            let from = match self.cursor {
                Some(at) => at,
                None => self.init(store).await?,
            };
            // Without numbering first (PostgreSQL): the dispatcher is woken once events are
            // numbered, and its tick finds those other replicas numbered.
            let events = store.tail_events(&self.merchant, from, PAGE).await?;
            let Some(to) = events.last().map(|e| e.sequence) else {
                return Ok(created);
            };
            let full = events.len() >= usize::try_from(PAGE).unwrap_or(usize::MAX);
            let deliveries = self.render(events)?;
            let job = DeliveryJob::FanOut {
                merchant: self.merchant.clone(),
                from,
                to,
                deliveries,
                now: Timestamp::now(),
            };
            match store.deliveries(job).await? {
                DeliveryWritten::FannedOut {
                    moved,
                    cursor,
                    inserted,
                } => {
                    self.cursor = Some(cursor);
                    created += inserted;
                    // Lost the race: read again from where the winner left it.
                    if !moved {
                        continue;
                    }
                }
                other => anyhow::bail!("unexpected answer to FanOut: {other:?}"),
            }
            if !full {
                return Ok(created);
            }
        }
    }

    async fn init(&mut self, store: &Store) -> anyhow::Result<i64> {
        let job = DeliveryJob::InitCursor {
            merchant: self.merchant.clone(),
        };
        match store.deliveries(job).await? {
            DeliveryWritten::Cursor(at) => {
                self.cursor = Some(at);
                Ok(at)
            }
            other => anyhow::bail!("unexpected answer to InitCursor: {other:?}"),
        }
    }

    /// One delivery per (event, endpoint that wants its type), its body rendered once.
    fn render(&self, events: Vec<StoredEvent>) -> anyhow::Result<Vec<NewDelivery>> {
        let wait = i64::try_from(self.first_wait.as_micros()).unwrap_or(i64::MAX);
        let due = Timestamp::from_micros(Timestamp::now().micros().saturating_add(wait));
        let mut out = Vec::new();
        for event in events {
            let wanted: Vec<&Arc<Endpoint>> = self
                .endpoints
                .iter()
                .filter(|e| e.wants(&event.kind))
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let (sequence, kind) = (event.sequence, event.kind.clone());
            let payment_id = event.payment.id.to_string();
            // The event reports the operation that changed last: its call's trace.
            let trace_parent = event
                .payment
                .operations
                .iter()
                .max_by_key(|op| op.updated_at)
                .and_then(|op| op.trace_parent.clone());
            let body = payload::body(crate::grpc::convert::event(event))?;
            for endpoint in wanted {
                out.push(NewDelivery {
                    endpoint_id: endpoint.id.clone(),
                    sequence,
                    event_type: kind.clone(),
                    payment_id: payment_id.clone(),
                    webhook_id: payload::webhook_id(&endpoint.id, sequence),
                    body: body.clone(),
                    next_attempt_at: due,
                    trace_parent: trace_parent.clone(),
                });
            }
        }
        Ok(out)
    }
}
