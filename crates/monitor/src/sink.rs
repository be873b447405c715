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

/// Counts the complete lines of `path`, cutting a torn last line. The file is read in chunks
/// of 1 MiB: a decision file of a long-running monitor holds gigabytes, which a restart must
/// not need in memory.
fn complete_lines(path: &Path) -> Result<u64, MonitorError> {
    complete_lines_by(path, 1 << 20)
}

fn complete_lines_by(path: &Path, chunk: usize) -> Result<u64, MonitorError> {
    let io = |e| MonitorError::io(path, e);
    let Ok(mut f) = File::open(path) else { return Ok(0) };
    let mut buf = vec![0u8; chunk.max(1)];
    // Bytes read so far, the end of the last complete line, complete lines.
    let (mut read, mut keep, mut lines) = (0u64, 0u64, 0u64);
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        let part = &buf[..n];
        if let Some(i) = part.iter().rposition(|b| *b == b'\n') {
            keep = read + i as u64 + 1;
            lines += part.iter().filter(|b| **b == b'\n').count() as u64;
        }
        read += n as u64;
    }
    if keep < read {
        OpenOptions::new().write(true).open(path).and_then(|f| f.set_len(keep)).map_err(io)?;
    }
    Ok(lines)
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
        // A page at a time: a file far behind a long run's store is not read into memory.
        for missing in monitor.decision_pages(have, 4096) {
            f.append(&missing?, &render)?;
        }
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
        lines: impl Iterator<Item = &'a str> + Clone,
    ) -> Result<(), MonitorError> {
        let s = lines_text(lines);
        if s.is_empty() {
            return Ok(());
        }
        let io = |e| MonitorError::io(&self.path, e);
        self.file.write_all(s.as_bytes()).map_err(io)?;
        self.file.flush().map_err(io)
    }
}

/// Lines already rendered (each without its newline) as one text, each followed by a newline.
/// Sized up front: a group's lines are megabytes, which grew by doubling.
pub fn lines_text<'a>(lines: impl Iterator<Item = &'a str> + Clone) -> String {
    let mut s = String::with_capacity(lines.clone().map(|l| l.len() + 1).sum());
    push_lines(lines, &mut s);
    s
}

/// Appends `lines` to `out`, each ended by a newline (into a buffer kept from group to group).
pub fn push_lines<'a>(lines: impl Iterator<Item = &'a str>, out: &mut String) {
    for l in lines {
        out.push_str(l);
        out.push('\n');
    }
}

/// Renders a decision as one JSON line.
pub fn jsonl(d: &Decision, out: &mut String) {
    d.write_json(out).expect("a decision always serializes");
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines are counted and a torn tail cut the same whatever the chunks the file is read
    /// in (lines and the tail straddling chunk edges), and a missing file has none.
    #[test]
    fn complete_lines_are_counted_and_a_torn_tail_cut_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        assert_eq!(complete_lines_by(&path, 7).unwrap(), 0);
        let body = "{\"a\":1}\n{\"bb\":22}\n\n{\"ccc\":333}\n";
        for (tail, chunk) in [("", 7), ("{\"torn", 7), ("{\"torn", 1), ("x", 3), ("", 1 << 20)] {
            std::fs::write(&path, format!("{body}{tail}")).unwrap();
            assert_eq!(complete_lines_by(&path, chunk).unwrap(), 4, "tail {tail:?}, chunk {chunk}");
            assert_eq!(
                std::fs::read_to_string(&path).unwrap(),
                body,
                "tail {tail:?}, chunk {chunk}"
            );
        }
        std::fs::write(&path, "no newline at all").unwrap();
        assert_eq!(complete_lines_by(&path, 4).unwrap(), 0);
        assert_eq!(std::fs::read(&path).unwrap(), b"");
    }
}
