//! File descriptors: raise the soft limit to the hard one at start, and size the connection
//! caps below it, so a flood of connections is refused by paygate before the kernel refuses
//! paygate its database files, its provider connections and the health probe's socket.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// The most connections a listener takes when `max_connections` is not set.
pub(crate) const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Descriptors kept out of both caps: the database (SQLite: writer, readers, WAL and shm
/// files; PostgreSQL: up to 16), provider connections, the in-process mock processor, logs.
pub(crate) const RESERVED: u64 = 128;
/// A cap never goes below this, whatever the limit says.
const MIN_CAP: usize = 16;

/// Raises the soft descriptor limit to the hard limit (as Go's runtime does) and returns the
/// soft limit in force. `None` if it cannot be read.
pub(crate) fn raise_limit() -> Option<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    if hard > soft && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        tracing::info!(from = soft, to = hard, "raised the open-file limit");
        return Some(hard);
    }
    Some(soft)
}

/// The per-listener cap when none is configured: half of what the descriptor limit leaves
/// after [`RESERVED`] (two listeners), at most [`DEFAULT_MAX_CONNECTIONS`].
pub(crate) fn default_cap(limit: Option<u64>) -> usize {
    let Some(limit) = limit else {
        return DEFAULT_MAX_CONNECTIONS;
    };
    let each = limit.saturating_sub(RESERVED) / 2;
    usize::try_from(each)
        .unwrap_or(usize::MAX)
        .clamp(MIN_CAP, DEFAULT_MAX_CONNECTIONS)
}

/// Whether two listeners at `cap` each could run the process out of descriptors.
pub(crate) fn cap_exceeds(limit: Option<u64>, cap: usize) -> bool {
    let cap = u64::try_from(cap).unwrap_or(u64::MAX);
    limit.is_some_and(|limit| cap.saturating_mul(2).saturating_add(RESERVED) > limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_leaves_room_below_the_descriptor_limit() {
        for (limit, cap) in [
            (Some(256), 64),
            (Some(1024), 448),
            (Some(1_048_576), DEFAULT_MAX_CONNECTIONS),
            (Some(100), MIN_CAP),
            (None, DEFAULT_MAX_CONNECTIONS),
        ] {
            assert_eq!(default_cap(limit), cap, "{limit:?}");
        }
        assert!(cap_exceeds(Some(1024), 10_000));
        assert!(!cap_exceeds(Some(1024), 448));
    }
}
