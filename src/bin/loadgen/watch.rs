//! Event delivery latency: a `WatchEvents` subscriber alongside the load, recording for each
//! event the time from its `occurred_at` (stamped by the server when the change is written) to
//! its arrival here. Client and server share this machine's clock, so the difference is the
//! commit plus the delivery path.

use crate::stats::Recorder;
use paygate::cli::call::BearerAuth;
use paygate::grpc::proto;
use proto::payment_gateway_client::PaymentGatewayClient;
use tokio::task::JoinHandle;
use tokio::time::Duration;
use tonic::transport::Endpoint;

/// No event for this long while draining the existing log: caught up.
const CAUGHT_UP_AFTER: Duration = Duration::from_millis(300);

/// Subscribes from the current end of the log; events stamped within the measured window
/// (after `warmup` from the moment the subscriber has caught up, for `duration`) are recorded.
pub async fn spawn(
    target: &str,
    auth: BearerAuth,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<JoinHandle<Recorder>> {
    let channel = Endpoint::from_shared(target.to_owned())?
        .tcp_nodelay(true)
        .connect()
        .await?;
    let mut client = PaymentGatewayClient::with_interceptor(channel, auth);
    // The API has no "from now": read from the start and drain what is already in the log
    // before the load begins, so that a long log does not show up as delivery latency.
    let mut stream = client
        .watch_events(proto::WatchEventsRequest { after_sequence: 0 })
        .await?
        .into_inner();
    let mut drained = 0_u64;
    while let Ok(next) = tokio::time::timeout(CAUGHT_UP_AFTER, stream.message()).await {
        if next?.is_none() {
            anyhow::bail!("WatchEvents ended while catching up");
        }
        drained += 1;
    }
    if drained > 0 {
        eprintln!("loadgen: skipped {drained} events already in the log");
    }
    // The load starts when this returns, so the window is timed from here.
    let measure_from = std::time::SystemTime::now() + warmup;
    let end = measure_from + duration;
    Ok(tokio::spawn(async move {
        let mut recorder = Recorder::default();
        let stop_at = end + Duration::from_secs(2);
        loop {
            let Ok(left) = stop_at.duration_since(std::time::SystemTime::now()) else {
                return recorder;
            };
            let next = match tokio::time::timeout(left, stream.message()).await {
                Ok(Ok(Some(event))) => event,
                Ok(Ok(None) | Err(_)) | Err(_) => return recorder,
            };
            let arrived = std::time::SystemTime::now();
            let Some(at) = next.occurred_at.and_then(to_system_time) else {
                recorder.error("NO_TIMESTAMP");
                continue;
            };
            if at < measure_from || at >= end {
                continue;
            }
            recorder.ok(arrived.duration_since(at).unwrap_or_default());
        }
    }))
}

fn to_system_time(ts: pbjson_types::Timestamp) -> Option<std::time::SystemTime> {
    let secs = u64::try_from(ts.seconds).ok()?;
    let nanos = u32::try_from(ts.nanos).ok()?;
    std::time::UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}
