//! Log capture shared by the test binaries: one `tracing` subscriber per binary, at DEBUG from
//! every crate, writing into memory so tests can assert what reached the logs.

use std::io::Write;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

fn captured() -> MutexGuard<'static, Vec<u8>> {
    static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| Mutex::new(Vec::new()))
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

struct Capture;

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        captured().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber (once; later calls do nothing).
pub fn init_logs() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(|| Capture)
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// The captured log text so far.
pub fn logs() -> String {
    String::from_utf8_lossy(&captured()).into_owned()
}
