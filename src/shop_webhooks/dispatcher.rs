//! The delivery engine: one task per replica that fans new events out into deliveries, claims
//! the due ones and sends each in a task of its own.
//!
//! It wakes on every commit (`Store::commits`: an event reaches the shop within milliseconds)
//! and on a tick (retries falling due, events another replica numbered). Each endpoint has its
//! own `Semaphore(max_concurrent)` and is only ever claimed for its free slots, so an endpoint
//! that hangs fills its own slots and nothing else: other endpoints and merchants keep going.
//! An endpoint whose last attempt failed is paced to one attempt at a time (`FAILING_PACE`),
//! so one that fails fast cannot flood the shared database with attempts either.
//! A claim hides a delivery behind a lease (`DeliverySettings::lease`, longer than an attempt),
//! so with several replicas each delivery is attempted by one at a time; a replica that dies
//! mid-attempt only delays it until the lease ends. After an attempt the delivery is
//! delivered, due again after the next wait of the retry schedule, or failed when the schedule
//! is exhausted; every attempt is recorded. At shutdown it stops claiming and lets attempts in
//! flight finish within the attempt timeout.

use super::endpoint::{DeliverySettings, Endpoint};
use super::fanout::Fanout;
use super::sender::{Attempt, Sender};
use crate::domain::Timestamp;
use crate::store::{
    AttemptRecord, AttemptResult, ClaimedDelivery, DeliveryJob, DeliveryWritten, Store,
};
use crate::telemetry::Metrics;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

/// Retries falling due, and events numbered by other replicas, are found within this.
const TICK: Duration = Duration::from_secs(1);
/// How often `paygate_webhook_backlog` is read from the database.
const GAUGES: Duration = Duration::from_secs(5);
/// How often delivered and failed deliveries past `log_retention` are deleted.
const PRUNE: Duration = Duration::from_secs(300);
/// An endpoint whose last attempt failed gets one attempt at a time, at most one per PACE (and
/// at least one per TICK), until an attempt succeeds. An endpoint that refuses or answers 500 in
/// a millisecond would otherwise churn through its whole backlog at the database's write rate,
/// and every merchant shares that database: measured on SQLite, such a burst raised another
/// merchant's delivery p99 from 17–51 ms to 210–380 ms. Its due deliveries stay due and go out at
/// full speed as soon as it answers 2xx again.
const FAILING_PACE: Duration = Duration::from_millis(200);

/// What the dispatcher needs; cheap to clone into each (re)start of its task.
#[derive(Clone)]
pub struct Dispatcher {
    store: Store,
    sender: Sender,
    settings: DeliverySettings,
    metrics: Arc<Metrics>,
    endpoints: Vec<Arc<Endpoint>>,
}

/// An endpoint and its slots on this replica.
struct Slots {
    endpoint: Arc<Endpoint>,
    free: Arc<Semaphore>,
    /// Its last attempt failed (set and cleared by the attempts' tasks): paced, see FAILING_PACE.
    failing: Arc<AtomicBool>,
}

impl Dispatcher {
    /// `None` when no merchant has an endpoint: then there is nothing to run.
    pub fn new(
        store: Store,
        settings: DeliverySettings,
        metrics: Arc<Metrics>,
        endpoints: Vec<Endpoint>,
    ) -> anyhow::Result<Option<Self>> {
        if endpoints.is_empty() {
            return Ok(None);
        }
        for e in &endpoints {
            metrics.webhook_endpoint_watched(e.merchant.as_str(), &e.id);
            metrics.set_webhook_backlog(e.merchant.as_str(), 0);
        }
        Ok(Some(Self {
            sender: Sender::new(&settings)?,
            store,
            settings,
            metrics,
            endpoints: endpoints.into_iter().map(Arc::new).collect(),
        }))
    }

    /// Runs until `stop` resolves (see the module doc).
    pub async fn run(self, stop: impl Future<Output = ()> + Send) {
        tokio::pin!(stop);
        let mut fanouts = self.fanouts();
        let slots: HashMap<String, Slots> = self
            .endpoints
            .iter()
            .map(|e| {
                let free = Arc::new(Semaphore::new(e.max_concurrent.max(1)));
                let slots = Slots {
                    endpoint: e.clone(),
                    free,
                    failing: Arc::default(),
                };
                (e.id.clone(), slots)
            })
            .collect();
        let mut commits = self.store.commits();
        let mut commits_open = true;
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut gauges = tokio::time::interval(GAUGES);
        gauges.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut prune = tokio::time::interval(PRUNE);
        prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut inflight: JoinSet<String> = JoinSet::new();
        // Endpoints whose last claim took every free slot: more may be due when one frees.
        let mut more: HashSet<String> = HashSet::new();
        // When each failing endpoint was last claimed for.
        let mut paced: HashMap<String, Instant> = HashMap::new();
        loop {
            let mut fan_out = false;
            let mut claim: Option<Vec<String>> = None;
            tokio::select! {
                // Not `biased`: under load an attempt finishes every few milliseconds, and a
                // fixed order starved the fan-out behind them (deliveries waited for the tick).
                () = &mut stop => break,
                Some(done) = inflight.join_next(), if !inflight.is_empty() => {
                    // Every attempt finished by now, in one pass.
                    let mut freed: Vec<String> = done.into_iter().collect();
                    while let Some(done) = inflight.try_join_next() {
                        freed.extend(done);
                    }
                    freed.retain(|endpoint| more.contains(endpoint));
                    freed.sort();
                    freed.dedup();
                    if !freed.is_empty() {
                        claim = Some(freed);
                    }
                }
                changed = commits.changed(), if commits_open => {
                    commits_open = changed.is_ok();
                    fan_out = true;
                }
                _ = tick.tick() => {
                    fan_out = true;
                    claim = Some(slots.keys().cloned().collect());
                }
                _ = gauges.tick() => self.refresh_backlog().await,
                _ = prune.tick() => self.prune().await,
            }
            if fan_out && self.fan_out(&mut fanouts).await > 0 {
                claim = Some(slots.keys().cloned().collect());
            }
            if let Some(endpoints) = claim {
                for delivery in self.claim(&slots, &endpoints, &mut more, &mut paced).await {
                    self.start(&slots, delivery, &mut inflight);
                }
            }
        }
        // Shutdown: nothing more is claimed; what is in flight may finish (or its lease ends
        // and another replica, or the next start, retries it).
        let drain = async { while inflight.join_next().await.is_some() {} };
        if tokio::time::timeout(self.settings.timeout, drain)
            .await
            .is_err()
        {
            inflight.abort_all();
        }
    }

    fn fanouts(&self) -> Vec<Fanout> {
        let mut by_merchant: Vec<(crate::domain::MerchantId, Vec<Arc<Endpoint>>)> = Vec::new();
        for e in &self.endpoints {
            match by_merchant.iter_mut().find(|(m, _)| *m == e.merchant) {
                Some((_, list)) => list.push(e.clone()),
                None => by_merchant.push((e.merchant.clone(), vec![e.clone()])),
            }
        }
        let first_wait = self
            .settings
            .retry_schedule
            .first()
            .copied()
            .unwrap_or_default();
        by_merchant
            .into_iter()
            .map(|(m, list)| Fanout::new(m, list, first_wait))
            .collect()
    }

    /// Every merchant's fan-out; returns how many deliveries were created.
    async fn fan_out(&self, fanouts: &mut [Fanout]) -> u64 {
        let mut created = 0;
        for fanout in fanouts {
            match fanout.run(&self.store).await {
                Ok(n) => created += n,
                Err(e) => {
                    tracing::warn!(merchant = %fanout.merchant(), error = %e, "webhook fan-out failed; retried at the next wake");
                }
            }
        }
        created
    }

    /// Claims, for each of `endpoints`, as many due deliveries as it has free slots.
    async fn claim(
        &self,
        slots: &HashMap<String, Slots>,
        endpoints: &[String],
        more: &mut HashSet<String>,
        paced: &mut HashMap<String, Instant>,
    ) -> Vec<ClaimedDelivery> {
        let mut wants = Vec::new();
        for id in endpoints {
            let Some(s) = slots.get(id) else { continue };
            let mut free = u32::try_from(s.free.available_permits()).unwrap_or(u32::MAX);
            if s.failing.load(Ordering::Relaxed) {
                // One at a time, and not again before the pace allows: the tick comes back.
                let early = paced.get(id).is_some_and(|at| at.elapsed() < FAILING_PACE);
                let busy = s.free.available_permits() < s.endpoint.max_concurrent.max(1);
                if early || busy {
                    continue;
                }
                paced.insert(id.clone(), Instant::now());
                free = free.min(1);
            } else {
                paced.remove(id);
            }
            if free == 0 {
                more.insert(id.clone());
            } else {
                wants.push((id.clone(), free));
            }
        }
        if wants.is_empty() {
            return Vec::new();
        }
        let now = Timestamp::now();
        let lease = i64::try_from(self.settings.lease.as_micros()).unwrap_or(i64::MAX);
        let job = DeliveryJob::Claim {
            now,
            lease_until: Timestamp::from_micros(now.micros().saturating_add(lease)),
            endpoints: wants.clone(),
        };
        let claimed = match self.store.deliveries(job).await {
            Ok(DeliveryWritten::Claimed(claimed)) => claimed,
            Ok(other) => {
                tracing::error!(answer = ?other, "unexpected answer to a delivery claim");
                return Vec::new();
            }
            Err(e) => {
                tracing::warn!(error = %e, "claiming webhook deliveries failed; retried at the next tick");
                return Vec::new();
            }
        };
        for (id, free) in wants {
            let got = claimed.iter().filter(|d| d.endpoint_id == id).count();
            if u32::try_from(got).unwrap_or(u32::MAX) >= free {
                more.insert(id);
            } else {
                more.remove(&id);
            }
        }
        claimed
    }

    /// Sends one claimed delivery in a task of its own, holding one of its endpoint's slots.
    fn start(
        &self,
        slots: &HashMap<String, Slots>,
        delivery: ClaimedDelivery,
        inflight: &mut JoinSet<String>,
    ) {
        let Some(s) = slots.get(&delivery.endpoint_id) else {
            return;
        };
        // Claims never exceed the free slots, and only this loop takes them.
        let Ok(permit) = s.free.clone().try_acquire_owned() else {
            tracing::warn!(
                delivery = delivery.id,
                "no free slot for a claimed delivery; it is retried when its lease ends"
            );
            return;
        };
        let endpoint = s.endpoint.clone();
        let failing = s.failing.clone();
        let this = self.clone();
        // Each attempt is a trace of its own, linked to the trace of the call behind the event.
        let span = tracing::info_span!(
            parent: None,
            "webhook_delivery",
            otel.kind = "client",
            merchant = %delivery.merchant,
            endpoint = %endpoint.id,
            webhook_id = %delivery.webhook_id,
            sequence = delivery.sequence,
        );
        if let Some(traceparent) = &delivery.trace_parent {
            crate::traces::link_to(&span, traceparent);
        }
        inflight.spawn(
            async move {
                let attempt = this
                    .sender
                    .send(&endpoint, &delivery.webhook_id, &delivery.body)
                    .await;
                failing.store(!attempt.delivered(), Ordering::Relaxed);
                this.record(&endpoint, &delivery, &attempt).await;
                drop(permit);
                endpoint.id.clone()
            }
            .instrument(span),
        );
    }

    /// Decides what the attempt leads to, counts it and records it.
    async fn record(&self, endpoint: &Endpoint, delivery: &ClaimedDelivery, attempt: &Attempt) {
        let at = Timestamp::now();
        let round_attempts = delivery.round_attempts.saturating_add(1);
        let result = next_step(&self.settings.retry_schedule, round_attempts, attempt, at);
        let label = match result {
            AttemptResult::Delivered => "delivered",
            AttemptResult::Retry(_) => "retrying",
            AttemptResult::GaveUp => "failed",
        };
        self.metrics.webhook_delivery(
            delivery.merchant.as_str(),
            &endpoint.id,
            label,
            attempt.latency,
        );
        let latency_ms = i64::try_from(attempt.latency.as_millis()).unwrap_or(i64::MAX);
        match result {
            AttemptResult::Delivered => {
                tracing::debug!(status = attempt.status, latency_ms, "webhook delivered");
            }
            _ => tracing::info!(
                status = attempt.status,
                error = attempt.error.as_deref(),
                latency_ms,
                result = label,
                "webhook attempt failed"
            ),
        }
        let job = DeliveryJob::Record(AttemptRecord {
            delivery_id: delivery.id,
            at,
            status: attempt.status,
            error: attempt.error.clone(),
            latency_ms,
            result,
            round_attempts,
        });
        if let Err(e) = self.store.deliveries(job).await {
            // The lease ends and the delivery is attempted again: at least once, same id.
            tracing::warn!(error = %e, "recording a webhook attempt failed");
        }
    }

    /// `paygate_webhook_backlog`, from the shared database (every replica shows the same).
    async fn refresh_backlog(&self) {
        match self.store.delivery_backlog(Timestamp::now()).await {
            Ok(counts) => {
                // Configured merchants with nothing due go back to 0; the rest take their count.
                let counts: HashMap<String, i64> = counts.into_iter().collect();
                for e in &self.endpoints {
                    if !counts.contains_key(e.merchant.as_str()) {
                        self.metrics.set_webhook_backlog(e.merchant.as_str(), 0);
                    }
                }
                for (m, n) in &counts {
                    self.metrics.set_webhook_backlog(m, *n);
                }
            }
            Err(e) => tracing::debug!(error = %e, "reading the webhook backlog failed"),
        }
    }

    async fn prune(&self) {
        let kept = i64::try_from(self.settings.log_retention.as_secs()).unwrap_or(i64::MAX);
        let cutoff = Timestamp::now().plus_seconds(kept.saturating_neg());
        match self.store.deliveries(DeliveryJob::Prune { cutoff }).await {
            Ok(n) => tracing::debug!(pruned = ?n, "old webhook deliveries pruned"),
            Err(e) => tracing::warn!(error = %e, "pruning webhook deliveries failed"),
        }
    }
}

/// What attempt `round_attempts` of the current round leads to: delivered on a 2xx; else the
/// schedule's next wait, counted from `now`; past its last entry, given up.
fn next_step(
    schedule: &[Duration],
    round_attempts: i64,
    attempt: &Attempt,
    now: Timestamp,
) -> AttemptResult {
    if attempt.delivered() {
        return AttemptResult::Delivered;
    }
    let next = usize::try_from(round_attempts)
        .ok()
        .and_then(|n| schedule.get(n));
    match next {
        Some(wait) => {
            let wait = i64::try_from(wait.as_micros()).unwrap_or(i64::MAX);
            AttemptResult::Retry(Timestamp::from_micros(now.micros().saturating_add(wait)))
        }
        None => AttemptResult::GaveUp,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn failed() -> Attempt {
        Attempt {
            status: Some(500),
            error: None,
            latency: Duration::ZERO,
        }
    }

    #[test]
    fn failures_follow_the_schedule_then_give_up() {
        let s = |n| Duration::from_secs(n);
        let schedule = [s(0), s(5), s(300)];
        let now = Timestamp::from_micros(1_000_000);
        // Attempt 1 (entry 0) failed: the next waits entry 1, 5 s.
        assert_eq!(
            next_step(&schedule, 1, &failed(), now),
            AttemptResult::Retry(now.plus_seconds(5))
        );
        assert_eq!(
            next_step(&schedule, 2, &failed(), now),
            AttemptResult::Retry(now.plus_seconds(300))
        );
        assert_eq!(
            next_step(&schedule, 3, &failed(), now),
            AttemptResult::GaveUp
        );
        let ok = Attempt {
            status: Some(204),
            ..failed()
        };
        assert_eq!(next_step(&schedule, 3, &ok, now), AttemptResult::Delivered);
        let reset = Attempt {
            status: None,
            error: Some("connect: refused".into()),
            latency: Duration::ZERO,
        };
        assert_eq!(
            next_step(&schedule, 1, &reset, now),
            AttemptResult::Retry(now.plus_seconds(5))
        );
    }
}
