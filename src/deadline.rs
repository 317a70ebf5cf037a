//! The caller's deadline, carried to provider calls without threading it through every
//! signature: the gRPC handler runs the use case inside [`within`], and the provider HTTP stack
//! reads [`remaining`] to bound its timeouts, retries and waits.
//!
//! A provider call that would outlive the caller is pointless: the caller has given up, and the
//! operation would be settled by the reconciler anyway. Stopping a little before the deadline
//! leaves time to record the (possibly unknown) outcome and answer.

use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Kept back from the caller's deadline to record the outcome and send the answer.
const MARGIN: Duration = Duration::from_millis(50);

/// Runs `fut` with `deadline` (if any) as the bound for provider calls made inside it.
pub async fn within<F: Future>(deadline: Option<Instant>, fut: F) -> F::Output {
    match deadline {
        Some(at) => {
            DEADLINE
                .scope(at.checked_sub(MARGIN).unwrap_or(at), fut)
                .await
        }
        None => fut.await,
    }
}

/// Time left before the caller's deadline; `None` when the caller set none.
pub fn remaining() -> Option<Duration> {
    DEADLINE
        .try_with(|at| at.saturating_duration_since(Instant::now()))
        .ok()
}

/// Parses gRPC's `grpc-timeout` header (`"100m"`, `"5S"`, ...: up to 8 digits and a unit).
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.checked_mul(3600)?),
        "M" => Duration::from_secs(n.checked_mul(60)?),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse_by_unit_and_junk_is_refused() {
        assert_eq!(parse_grpc_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(parse_grpc_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_grpc_timeout("2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse_grpc_timeout("7u"), Some(Duration::from_micros(7)));
        for bad in ["", "m", "10", "10x", "-5S", "123456789S"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn remaining_is_bounded_inside_and_absent_outside() {
        assert_eq!(remaining(), None);
        let at = Instant::now() + Duration::from_secs(2);
        let left = within(Some(at), async { remaining() })
            .await
            .unwrap_or_default();
        assert!(left <= Duration::from_secs(2) - MARGIN && left > Duration::from_secs(1));
    }
}
