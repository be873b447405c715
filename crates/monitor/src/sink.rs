//! An append-only decision file that holds every committed decision exactly once, across
//! crashes: on open, a torn last line is cut and decisions committed to `monitor.db` but not
//! yet written are appended, in decision order.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::decision::Decision;
use crate::error::MonitorError;
use crate::monitor::Monitor;

/// A JSON Lines (or other line-per-decision) decision file.
#[derive(Debug)]
pub struct DecisionFile {
    file: File,
    path: PathBuf,
}

/// Counts the complete lines of `path`, cutting a torn last line.
fn complete_lines(path: &Path) -> Result<u64, MonitorError> {
    let io = |e| MonitorError::io(path, e);
    let Ok(mut f) = File::open(path) else { return Ok(0) };
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).map_err(io)?;
    let keep = buf.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    if keep < buf.len() {
        OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|f| f.set_len(keep as u64))
            .map_err(io)?;
    }
    Ok(buf[..keep].iter().filter(|b| **b == b'\n').count() as u64)
}

impl DecisionFile {
    /// Opens `path` for appending and brings it up to date with `monitor`'s committed
    /// decisions, each rendered by `render` (one line, with its newline).
    ///
    /// # Errors
    /// [`MonitorError::Io`], or the monitor's errors reading stored decisions.
    pub fn open(
        path: &Path,
        monitor: &Monitor,
        render: impl Fn(&Decision, &mut String),
    ) -> Result<DecisionFile, MonitorError> {
        let have = complete_lines(path)?;
        let io = |e| MonitorError::io(path, e);
        let file = OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
        let mut f = DecisionFile { file, path: path.to_owned() };
        let missing = monitor.decisions_after(have)?;
        f.append(&missing, render)?;
        Ok(f)
    }

    /// Appends decisions (call only after they were committed).
    ///
    /// # Errors
    /// [`MonitorError::Io`].
    pub fn append(
        &mut self,
        decisions: &[Decision],
        render: impl Fn(&Decision, &mut String),
    ) -> Result<(), MonitorError> {
        if decisions.is_empty() {
            return Ok(());
        }
        let mut s = String::new();
        for d in decisions {
            render(d, &mut s);
        }
        let io = |e| MonitorError::io(&self.path, e);
        self.file.write_all(s.as_bytes()).map_err(io)?;
        self.file.flush().map_err(io)
    }
}

impl DecisionFile {
    /// Appends lines already rendered (each without its newline; call only after their
    /// decisions were committed).
    ///
    /// # Errors
    /// [`MonitorError::Io`].
    pub fn append_lines<'a>(
        &mut self,
        lines: impl Iterator<Item = &'a str>,
    ) -> Result<(), MonitorError> {
        let mut s = String::new();
        for l in lines {
            s.push_str(l);
            s.push('\n');
        }
        if s.is_empty() {
            return Ok(());
        }
        let io = |e| MonitorError::io(&self.path, e);
        self.file.write_all(s.as_bytes()).map_err(io)?;
        self.file.flush().map_err(io)
    }
}

/// Renders a decision as one JSON line.
pub fn jsonl(d: &Decision, out: &mut String) {
    out.push_str(&serde_json::to_string(d).expect("a decision always serializes"));
    out.push('\n');
}
