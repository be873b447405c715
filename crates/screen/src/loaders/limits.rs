//! Size limits on list input, so that a hostile or broken file cannot exhaust memory: a bzip2
//! bomb, a line of hundreds of megabytes, a name field of megabytes.
//!
//! [`LimitedReader`] wraps every byte stream a loader reads (after decompression) and fails the
//! read as soon as a limit is passed, naming the line; the loaders turn that into an error
//! naming the file. [`check_fields`] checks the parsed fields of a snapshot, and
//! [`check_record`] the cells of a CSV record.

use std::cell::Cell;
use std::io::{self, Read};
use std::path::Path;
use std::rc::Rc;

use crate::error::{Result, ScreenError};
use crate::model::ListSnapshot;

/// Limits on list input. The defaults leave room for every list floodgate reads (the OFAC SDN
/// advanced XML is 121 MB decompressed, 36× its bzip2 size, with lines of at most 511 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes one line may have (config `lists.max_line_bytes`).
    pub max_line_bytes: u64,
    /// The most bytes one field (a CSV cell, a name, a document number, an address) may have
    /// (config `lists.max_field_bytes`).
    pub max_field_bytes: u64,
    /// The most bytes a list file may have, after decompression (config
    /// `lists.max_file_bytes`).
    pub max_file_bytes: u64,
    /// The largest ratio of decompressed to compressed bytes (config
    /// `lists.max_compression_ratio`); checked once 16 MiB have been decompressed.
    pub max_compression_ratio: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line_bytes: 1 << 20,
            max_field_bytes: 64 << 10,
            max_file_bytes: 1 << 30,
            max_compression_ratio: 100,
        }
    }
}

/// Decompressed bytes after which the compression ratio is checked (small files may compress
/// far better than large ones).
const RATIO_CHECK_AFTER: u64 = 16 << 20;

thread_local! {
    static CURRENT: Cell<Limits> = Cell::new(Limits::default());
}

/// The limits in force on this thread (set by [`with_limits`]).
pub fn current() -> Limits {
    CURRENT.with(Cell::get)
}

/// Runs `f` with `limits` in force for every loader it calls on this thread, then restores the
/// previous limits.
pub fn with_limits<T>(limits: Limits, f: impl FnOnce() -> T) -> T {
    struct Restore(Limits);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(CURRENT.with(|c| c.replace(limits)));
    f()
}

/// Counts the bytes read from the (compressed) file, for the ratio check.
pub(crate) struct Counted<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R> Counted<R> {
    pub(crate) fn new(inner: R) -> (Self, Rc<Cell<u64>>) {
        let count = Rc::new(Cell::new(0));
        (Counted { inner, count: count.clone() }, count)
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// A reader that fails once a line, the whole stream or its compression ratio passes a limit.
/// The error message names the limit, its config key and the line.
pub struct LimitedReader<R> {
    inner: R,
    limits: Limits,
    compressed: Option<Rc<Cell<u64>>>,
    total: u64,
    line: u64,
    line_len: u64,
}

impl<R: Read> LimitedReader<R> {
    /// Wraps an uncompressed stream.
    pub fn new(inner: R, limits: Limits) -> Self {
        LimitedReader { inner, limits, compressed: None, total: 0, line: 1, line_len: 0 }
    }

    pub(crate) fn decompressed(inner: R, limits: Limits, compressed: Rc<Cell<u64>>) -> Self {
        LimitedReader { compressed: Some(compressed), ..LimitedReader::new(inner, limits) }
    }
}

fn limit_error(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl<R: Read> Read for LimitedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let l = &self.limits;
        for chunk in buf[..n].split_inclusive(|b| *b == b'\n') {
            let ends = chunk.last() == Some(&b'\n');
            self.line_len += chunk.len() as u64 - u64::from(ends);
            if self.line_len > l.max_line_bytes {
                return Err(limit_error(format!(
                    "line {} is longer than {} bytes (limit lists.max_line_bytes)",
                    self.line, l.max_line_bytes
                )));
            }
            if ends {
                self.line += 1;
                self.line_len = 0;
            }
        }
        self.total += n as u64;
        if self.total > l.max_file_bytes {
            return Err(limit_error(format!(
                "more than {} bytes{} at line {} (limit lists.max_file_bytes)",
                l.max_file_bytes,
                if self.compressed.is_some() { " after decompression" } else { "" },
                self.line
            )));
        }
        if let Some(c) = &self.compressed {
            let c = c.get().max(1);
            if self.total > RATIO_CHECK_AFTER && self.total / c > l.max_compression_ratio {
                return Err(limit_error(format!(
                    "{} bytes decompressed from {c} compressed bytes, more than {}× \
                     (limit lists.max_compression_ratio): a compression bomb?",
                    self.total, l.max_compression_ratio
                )));
            }
        }
        Ok(n)
    }
}

/// Reads a whole (uncompressed) file under the [`current`] limits.
///
/// # Errors
/// [`ScreenError::Io`] naming the file, with the limit passed.
pub(crate) fn read_limited(path: &Path) -> Result<Vec<u8>> {
    let limits = current();
    let f = std::fs::File::open(path).map_err(|e| ScreenError::io(path, e))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len > limits.max_file_bytes {
        return Err(ScreenError::malformed(
            path,
            "the whole file",
            format!(
                "{len} bytes, more than {} (limit lists.max_file_bytes)",
                limits.max_file_bytes
            ),
        ));
    }
    // Grown as read, so that a file stopped early by a limit never costs its whole size.
    let mut out = Vec::with_capacity(usize::try_from(len.min(16 << 20)).unwrap_or(0));
    LimitedReader::new(f, limits).read_to_end(&mut out).map_err(|e| ScreenError::io(path, e))?;
    Ok(out)
}

/// Checks every cell of a CSV record against `max_field_bytes`.
///
/// # Errors
/// [`ScreenError::Malformed`] naming the file, line and column number.
pub(crate) fn check_record(path: &Path, bytes: &[u8], rec: &csv::StringRecord) -> Result<()> {
    let max = current().max_field_bytes;
    if let Some((i, f)) = rec.iter().enumerate().find(|(_, f)| f.len() as u64 > max) {
        return Err(ScreenError::malformed(
            path,
            format!("line {}", super::line_of(bytes, rec.position())),
            format!(
                "field {} has {} bytes, more than {max} (limit lists.max_field_bytes)",
                i + 1,
                f.len()
            ),
        ));
    }
    Ok(())
}

/// Checks the names, identifiers, addresses and programs of every entity against
/// `max_field_bytes`.
///
/// # Errors
/// [`ScreenError::Malformed`] naming the file, the entity and the field.
pub fn check_fields(path: &Path, snap: &ListSnapshot, limits: &Limits) -> Result<()> {
    let max = limits.max_field_bytes;
    for e in &snap.entities {
        let fields = std::iter::once(("id", e.id.as_str()))
            .chain(e.names.iter().map(|n| ("name", n.full.as_str())))
            .chain(e.identifiers.iter().map(|i| ("identifier", i.value.as_str())))
            .chain(e.addresses.iter().map(|a| ("address", a.address.as_str())))
            .chain(e.programs.iter().map(|p| ("program", p.as_str())))
            .chain(e.countries.iter().map(|c| ("country", c.as_str())));
        for (field, v) in fields {
            if v.len() as u64 > max {
                let id: String = e.id.chars().take(80).collect();
                return Err(ScreenError::malformed(
                    path,
                    format!("entity {id}"),
                    format!(
                        "{field} has {} bytes, more than {max} (limit lists.max_field_bytes)",
                        v.len()
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(data: &[u8], limits: Limits) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        LimitedReader::new(data, limits).read_to_end(&mut out).map(|_| out)
    }

    #[test]
    fn a_long_line_fails_naming_its_number_and_short_lines_pass() {
        let limits = Limits { max_line_bytes: 4, ..Limits::default() };
        assert_eq!(read_all(b"abcd\nefgh\n", limits).unwrap().len(), 10);
        let err = read_all(b"abcd\nefgh\nijklm\n", limits).unwrap_err().to_string();
        assert!(err.contains("line 3 is longer than 4 bytes"), "{err}");
    }

    #[test]
    fn the_stream_size_is_capped() {
        let limits = Limits { max_file_bytes: 8, ..Limits::default() };
        let err = read_all(b"abc\ndef\nghi\n", limits).unwrap_err().to_string();
        assert!(err.contains("more than 8 bytes"), "{err}");
    }
}
