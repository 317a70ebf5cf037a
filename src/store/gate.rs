//! Whether the database is known to be down, so that requests fail at once while it is.
//!
//! Without it every request during an outage waits out its own connection attempt (the
//! pool's 5 s acquire timeout, SQLite's busy timeout) before answering UNAVAILABLE, and piles
//! up behind the others meanwhile. The health checker pings every second and knows first; it
//! sets this, and every store call but the ping checks it before touching the database.

use super::StoreError;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The reason of every call the gate refuses. The outage itself is logged once, when the
/// health checker sees it; the refusals it causes are not each an error worth a log line.
pub(crate) const KNOWN_DOWN: &str = "the database did not answer the last health check";

#[derive(Clone, Default)]
pub(crate) struct Gate {
    down: Arc<AtomicBool>,
}

impl Gate {
    pub(crate) fn set_reachable(&self, up: bool) {
        let was_down = self.down.swap(!up, Ordering::AcqRel);
        if was_down == up {
            if up {
                tracing::info!("database reachable again: store calls resume");
            } else {
                tracing::warn!("database unreachable: store calls fail at once until it answers");
            }
        }
    }

    pub(crate) fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable(KNOWN_DOWN.into()));
        }
        Ok(())
    }
}
