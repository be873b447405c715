//! List loaders: each turns a publisher's file into a [`ListSnapshot`](crate::ListSnapshot).
//!
//! Loaders read everything into memory and return an error naming the file and the line,
//! record or element on the first malformed input, so that a bad file never replaces a good
//! list version (the [`Screener`](crate::Screener) swaps lists only after a load succeeded).

pub mod bis_dpl;
pub mod ftm;
pub mod generic_csv;
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

/// Opens a file for reading, decompressing bzip2 on the fly when the name ends in `.bz2`.
pub(crate) fn open_maybe_bz2(path: &Path) -> Result<Box<dyn BufRead>> {
    let f = File::open(path).map_err(|e| ScreenError::io(path, e))?;
    if path.extension().is_some_and(|e| e == "bz2") {
        Ok(Box::new(BufReader::with_capacity(1 << 16, bzip2::read::BzDecoder::new(f))))
    } else {
        Ok(Box::new(BufReader::with_capacity(1 << 16, f)))
    }
}

/// Loads a list file, telling its format from its name and content:
///
/// | path | format |
/// |---|---|
/// | a directory with `sdn.csv` or `cons_prim.csv`, or such a file | [`ofac_csv`] |
/// | a directory of (or a) `sanctioned_addresses_<ASSET>.txt` | [`ofac_addresses`] |
/// | XML with `<Sanctions` | [`ofac_advanced`] |
/// | XML with `<CONSOLIDATED_LIST` | [`un_xml`] |
/// | tab-separated, header `"Name" "Street_Address" …` | [`bis_dpl`] |
/// | JSON lines with `"schema"` | [`ftm`] (FollowTheMoney) |
/// | CSV with columns `source`, `name`, `alt_names` | [`us_csl`] |
/// | CSV with `# list:` metadata or only the documented columns | [`generic_csv`] |
///
/// # Errors
/// [`ScreenError::UnknownFormat`], or the loader's error naming file and line/element.
pub fn load_path(path: &Path) -> Result<crate::ListSnapshot> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_ascii_lowercase();
    if path.is_dir() {
        if path.join("sdn.csv").is_file() || path.join("cons_prim.csv").is_file() {
            return ofac_csv::load(path);
        }
        return ofac_addresses::load(path);
    }
    if name.starts_with("sanctioned_addresses_") {
        return ofac_addresses::load(path);
    }
    if name == "sdn.csv" || name == "cons_prim.csv" {
        return ofac_csv::load(path);
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
    if head.contains("<Sanctions") {
        ofac_advanced::load(path)
    } else if head.contains("<CONSOLIDATED_LIST") {
        un_xml::load(path)
    } else if first.starts_with("\"Name\"\t") || first.starts_with("Name\t") {
        bis_dpl::load(path)
    } else if first.trim_start().starts_with('{') && first.contains("\"schema\"") {
        ftm::load(path)
    } else if generic_csv::sniff(head) {
        generic_csv::load(path)
    } else if ["source", "name", "alt_names"]
        .iter()
        .all(|c| first.split(',').any(|h| h.trim().trim_matches('"') == *c))
    {
        us_csl::load(path)
    } else {
        Err(ScreenError::UnknownFormat {
            path: path.to_path_buf(),
            reason: "not a list format floodgate reads (OFAC advanced XML or legacy CSV, OFAC address lists, UN XML, US CSL, BIS DPL, FollowTheMoney JSON, generic CSV with a header naming the documented columns)".into(),
        })
    }
}
