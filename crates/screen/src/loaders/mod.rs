//! List loaders: each turns a publisher's file into a [`ListSnapshot`](crate::ListSnapshot).
//!
//! Loaders read everything into memory and return an error naming the file and the line,
//! record or element on the first malformed input, so that a bad file never replaces a good
//! list version (the [`Screener`](crate::Screener) swaps lists only after a load succeeded).

pub mod bis_dpl;
pub mod ftm;
pub mod generic_csv;
pub mod limits;
pub mod ofac_addresses;
pub mod ofac_advanced;
pub mod ofac_csv;
pub mod un_xml;
pub mod us_csl;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::error::{Result, ScreenError};

/// The 1-based line at which a CSV record starts, counted from its byte offset (the csv
/// crate's own line count is off for files with CRLF line ends). Only called on errors.
pub(crate) fn line_of(bytes: &[u8], pos: Option<&csv::Position>) -> u64 {
    pos.map_or(0, |p| {
        let mut end = usize::try_from(p.byte()).unwrap_or(usize::MAX).min(bytes.len());
        // With CRLF ends a record's offset points at the `\n` of the previous line's end.
        while end < bytes.len() && (bytes[end] == b'\n' || bytes[end] == b'\r') {
            end += 1;
        }
        bytes[..end].iter().filter(|b| **b == b'\n').count() as u64 + 1
    })
}

/// A CSV record that failed to read, as a [`ScreenError`] naming the file and line.
pub(crate) fn csv_error(path: &Path, bytes: &[u8], e: &csv::Error) -> ScreenError {
    ScreenError::malformed(path, format!("line {}", line_of(bytes, e.position())), e.to_string())
}

/// Opens a file for reading, decompressing bzip2 on the fly when the name ends in `.bz2`,
/// under the [`limits::current`] limits (line length, size after decompression, compression
/// ratio): a read past a limit fails with a message naming the limit and the line.
pub(crate) fn open_maybe_bz2(path: &Path) -> Result<Box<dyn BufRead>> {
    let f = File::open(path).map_err(|e| ScreenError::io(path, e))?;
    let l = limits::current();
    if path.extension().is_some_and(|e| e == "bz2") {
        let (counted, count) = limits::Counted::new(BufReader::with_capacity(1 << 16, f));
        let bz = bzip2::read::BzDecoder::new(counted);
        Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            limits::LimitedReader::decompressed(bz, l, count),
        )))
    } else {
        Ok(Box::new(BufReader::with_capacity(1 << 16, limits::LimitedReader::new(f, l))))
    }
}

/// A list format: how to tell it from a path and from a file's first bytes, how to load it,
/// and which files a load reads. Every format is one file in this directory and one line in
/// [`FORMATS`].
pub trait ListFormat: Sync {
    /// A short name (`ofac-advanced`, `un-xml`).
    fn name(&self) -> &'static str;
    /// What the format is, in a few words for messages (`UN XML`).
    fn about(&self) -> &'static str;
    /// Whether `path` is this format by its name alone: a directory holding the format's
    /// files, or a file name the publisher fixes. `name` is the file name, lowercased.
    fn detect_name(&self, path: &Path, name: &str) -> bool {
        let _ = (path, name);
        false
    }
    /// Whether a file is this format by its first bytes: `head` is up to 8 KiB of text
    /// (decompressed, a byte-order mark removed), `first` its first line.
    fn detect_content(&self, head: &str, first: &str) -> bool {
        let _ = (head, first);
        false
    }
    /// Loads the list.
    ///
    /// # Errors
    /// The loader's error naming the file and the line, record or element.
    fn load(&self, path: &Path) -> Result<crate::ListSnapshot>;
    /// The files a load of `path` reads (for the load history's SHA-256 digests).
    ///
    /// # Errors
    /// [`ScreenError::Io`] when a directory cannot be read.
    fn files(&self, path: &Path) -> Result<Vec<std::path::PathBuf>> {
        Ok(vec![path.to_path_buf()])
    }
}

/// Every list format, in the order they are asked: first by name ([`ListFormat::detect_name`]),
/// then by content ([`ListFormat::detect_content`]), so a stricter test belongs before a
/// looser one (generic CSV before the US CSL's column test).
pub static FORMATS: &[&dyn ListFormat] = &[
    &ofac_csv::OfacCsv,
    &ofac_addresses::OfacAddresses,
    &ofac_advanced::OfacAdvanced,
    &un_xml::UnXml,
    &bis_dpl::BisDpl,
    &ftm::Ftm,
    &generic_csv::GenericCsv,
    &us_csl::UsCsl,
];

fn lowercase_name(path: &Path) -> String {
    path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_ascii_lowercase()
}

fn by_name(path: &Path) -> Option<&'static dyn ListFormat> {
    let name = lowercase_name(path);
    FORMATS.iter().copied().find(|f| f.detect_name(path, &name))
}

/// The files [`load_path`] reads for `path`: the file itself, or the list files of a
/// directory (OFAC legacy CSV or per-asset address files), sorted. For the load history's
/// SHA-256 digests.
///
/// # Errors
/// [`ScreenError::Io`] when a directory cannot be read.
pub fn files_read(path: &Path) -> Result<Vec<std::path::PathBuf>> {
    match by_name(path) {
        Some(f) => f.files(path),
        None => Ok(vec![path.to_path_buf()]),
    }
}

/// The format of `path`, told by [`FORMATS`]: by name, then (for a file) by its first bytes.
///
/// # Errors
/// [`ScreenError::UnknownFormat`]; [`ScreenError::Io`] when the file cannot be read.
pub fn format_of(path: &Path) -> Result<&'static dyn ListFormat> {
    if let Some(f) = by_name(path) {
        return Ok(f);
    }
    if path.is_dir() {
        return Err(ScreenError::UnknownFormat {
            path: path.to_path_buf(),
            reason: "the directory holds no list file floodgate recognises (OFAC legacy CSV \
                     `sdn.csv`/`cons_prim.csv`, or `sanctioned_addresses_<ASSET>.txt`); \
                     give the list file itself"
                .into(),
        });
    }
    let mut head = String::new();
    {
        use std::io::Read;
        let mut r = open_maybe_bz2(path)?;
        let mut buf = vec![0u8; 8192];
        let mut n = 0;
        // Read up to the buffer size (one read may return less).
        while n < buf.len() {
            let k = r.read(&mut buf[n..]).map_err(|e| ScreenError::io(path, e))?;
            if k == 0 {
                break;
            }
            n += k;
        }
        head.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let head = head.trim_start_matches('\u{feff}');
    let first = head.lines().next().unwrap_or_default();
    FORMATS.iter().copied().find(|f| f.detect_content(head, first)).ok_or_else(|| {
        ScreenError::UnknownFormat {
            path: path.to_path_buf(),
            reason: format!(
                "not a list format floodgate reads ({})",
                FORMATS.iter().map(|f| f.about()).collect::<Vec<_>>().join(", ")
            ),
        }
    })
}

thread_local! {
    static DROPPED_DATES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A date of birth as a published list gives it: an impossible calendar date (31 February) is
/// dropped with a logged warning and counted (see [`Loaded::dropped_dates`]), not loaded and
/// not fatal — one bad date must not refuse a whole OFAC file.
pub(crate) fn listed_date(s: &str) -> Option<crate::PartialDate> {
    let d = crate::PartialDate::parse_syntax(s)?;
    if d.is_calendar_date() {
        return Some(d);
    }
    tracing::warn!(target: "floodgate::screen::load", date = s, "dropping an impossible date of birth");
    DROPPED_DATES.with(|c| c.set(c.get() + 1));
    None
}

/// A parsed list file with what was dropped from it.
#[derive(Debug)]
pub struct Loaded {
    /// The list.
    pub snapshot: crate::ListSnapshot,
    /// Dates of birth dropped because the day does not exist in its month (logged).
    pub dropped_dates: usize,
}

/// [`load_path`] under the given limits; the parsed fields are checked too
/// ([`limits::check_fields`]), and impossible dates of birth are dropped and counted.
///
/// # Errors
/// As [`load_path`], or [`ScreenError::Malformed`]/[`ScreenError::Io`] naming the file, the
/// line or entity and the limit passed.
pub fn load_path_with(path: &Path, l: &limits::Limits) -> Result<Loaded> {
    DROPPED_DATES.with(|c| c.set(0));
    let mut snap = limits::with_limits(*l, || load_path(path))?;
    limits::check_fields(path, &snap, l)?;
    let mut dropped = DROPPED_DATES.with(|c| c.replace(0));
    for e in &mut snap.entities {
        let before = e.dobs.len();
        e.dobs.retain(|d| d.is_calendar_date());
        if e.dobs.len() < before {
            tracing::warn!(target: "floodgate::screen::load", entity = %e.id, "dropping an impossible date of birth");
            dropped += before - e.dobs.len();
        }
    }
    if dropped > 0 {
        tracing::warn!(target: "floodgate::screen::load", file = %path.display(), dropped, "impossible dates of birth dropped");
    }
    Ok(Loaded { snapshot: snap, dropped_dates: dropped })
}

/// Loads a list file, telling its format from its name and content through [`FORMATS`]:
///
/// | path | format |
/// |---|---|
/// | a directory with `sdn.csv` or `cons_prim.csv`, or such a file | [`ofac_csv`] |
/// | a directory of (or a) `sanctioned_addresses_<ASSET>.txt` | [`ofac_addresses`] |
/// | XML with `<Sanctions` | [`ofac_advanced`] |
/// | XML with `<CONSOLIDATED_LIST` | [`un_xml`] |
/// | tab-separated, header `"Name" "Street_Address" …` | [`bis_dpl`] |
/// | JSON lines with `"schema"` | [`ftm`] (FollowTheMoney) |
/// | CSV with `# list:` metadata or only the documented columns | [`generic_csv`] |
/// | CSV with columns `source`, `name`, `alt_names` | [`us_csl`] |
///
/// # Errors
/// [`ScreenError::UnknownFormat`], or the loader's error naming file and line/element.
pub fn load_path(path: &Path) -> Result<crate::ListSnapshot> {
    format_of(path)?.load(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_are_unique() {
        let mut names: Vec<_> = FORMATS.iter().map(|f| f.name()).collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n);
    }

    #[test]
    fn content_detection_walks_the_registry_in_order() {
        let find = |head: &str| {
            let first = head.lines().next().unwrap_or_default();
            FORMATS.iter().find(|f| f.detect_content(head, first)).map(|f| f.name())
        };
        assert_eq!(find("<?xml?>\n<Sanctions xmlns=\"x\">"), Some("ofac-advanced"));
        assert_eq!(find("<CONSOLIDATED_LIST>"), Some("un-xml"));
        assert_eq!(find("\"Name\"\t\"Street_Address\"\n"), Some("bis-dpl"));
        assert_eq!(find("{\"id\": \"x\", \"schema\": \"Person\"}\n"), Some("ftm"));
        assert_eq!(find("source,entity_number,type,name,alt_names\n"), Some("us-csl"));
        assert_eq!(find("name1,name2,type\n"), None);
    }
}
