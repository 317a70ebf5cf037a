//! What the app logs during one test, captured as JSON lines: for tests that check an operator
//! is told about something (and that the line says no more than it should).

use std::io;
use std::sync::{Arc, Mutex};
use tracing::subscriber::DefaultGuard;
use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl io::Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Buffer {
        self.clone()
    }
}

/// Captures until dropped.
pub struct Logs {
    buffer: Buffer,
    _guard: DefaultGuard,
}

impl Logs {
    /// Starts capturing on this thread. `#[tokio::test]` runs on one thread, and the app's
    /// tasks (servers, reconciler) with it, so their lines land here; a global subscriber is
    /// never installed, so tests running side by side do not see each other's lines.
    pub fn capture() -> Logs {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_max_level(tracing::Level::INFO)
            .with_writer(buffer.clone())
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        Logs {
            buffer,
            _guard: guard,
        }
    }

    /// The lines logged at `level` (`ERROR`, `WARN`...) so far, each a JSON object.
    pub fn at(&self, level: &str) -> Vec<serde_json::Value> {
        let bytes = self.buffer.0.lock().unwrap().clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["level"] == level)
            .collect()
    }
}
