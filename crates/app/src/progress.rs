//! How a long operation reports its progress to the door that runs it (the CLI draws a
//! progress bar; the HTTP API reports nothing). Every method defaults to doing nothing.

/// Progress of a long operation: a count of rows, files or bytes.
pub trait Progress {
    /// The work starts; `total` units are expected (0: unknown).
    fn start(&self, total: u64) {
        let _ = total;
    }
    /// `n` more units are done.
    fn inc(&self, n: u64) {
        let _ = n;
    }
    /// `done` units are done in all.
    fn set_position(&self, done: u64) {
        let _ = done;
    }
    /// What is being done now (a file name, "storing list un").
    fn message(&self, what: &str) {
        let _ = what;
    }
    /// The work is over (also after a failure the caller reports).
    fn finish(&self) {}
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
