//! The accept loop shared by both listeners: a slot per connection (or an immediate close),
//! and a pause after a failed accept instead of a spin.
//!
//! Out of descriptors (EMFILE), `accept` fails at once for as long as the shortage lasts: a
//! loop that retried at once would burn a core and write a log line per attempt. So a failure
//! pauses the loop, 10 ms doubling to 1 s, and is logged at most once a second with the count.

use super::io::Conn;
use super::slots::Slots;
use std::io;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::time::Instant;

const FIRST_PAUSE: Duration = Duration::from_millis(10);
const LONGEST_PAUSE: Duration = Duration::from_secs(1);
const LOG_EVERY: Duration = Duration::from_secs(1);

pub(crate) struct Acceptor {
    listener: TcpListener,
    slots: Slots,
    pause: Duration,
    /// Failures since the last log line, and when that line was written.
    unlogged: u64,
    logged_at: Option<Instant>,
}

impl Acceptor {
    pub(crate) fn new(listener: TcpListener, slots: Slots) -> Self {
        Self {
            listener,
            slots,
            pause: FIRST_PAUSE,
            unlogged: 0,
            logged_at: None,
        }
    }

    /// The next admitted connection. Refused ones are closed here, and accept errors waited out.
    pub(crate) async fn next(&mut self) -> Conn {
        loop {
            match self.listener.accept().await {
                Ok((tcp, _)) => {
                    self.pause = FIRST_PAUSE;
                    // Refused: dropping the socket closes it at once, and costs nothing more.
                    let Some(slot) = self.slots.admit() else {
                        continue;
                    };
                    // Small answers would otherwise wait for the peer's delayed ACK (~40 ms).
                    let _ = tcp.set_nodelay(true);
                    return Conn::new(tcp, slot);
                }
                Err(e) if is_per_connection(&e) => {}
                Err(e) => {
                    self.failed(&e);
                    tokio::time::sleep(self.pause).await;
                    self.pause = (self.pause * 2).min(LONGEST_PAUSE);
                }
            }
        }
    }

    fn failed(&mut self, error: &io::Error) {
        self.slots.metrics().accept_error(self.slots.listener());
        self.unlogged += 1;
        let now = Instant::now();
        if self.logged_at.is_some_and(|at| now < at + LOG_EVERY) {
            return;
        }
        tracing::warn!(
            listener = self.slots.listener(),
            error = %error,
            failures = self.unlogged,
            pause_ms = u64::try_from(self.pause.as_millis()).unwrap_or(u64::MAX),
            "accept failed; pausing the listener"
        );
        self.unlogged = 0;
        self.logged_at = Some(now);
    }
}

/// Errors about one connection that died before it was accepted: the next accept is fine.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}
