//! List loaders: each turns a publisher's file into a [`ListSnapshot`](crate::ListSnapshot).
//!
//! Loaders read everything into memory and return an error naming the file and the line,
//! record or element on the first malformed input, so that a bad file never replaces a good
//! list version (the [`Screener`](crate::Screener) swaps lists only after a load succeeded).

pub mod ofac_addresses;
pub mod ofac_advanced;
pub mod un_xml;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::error::{Result, ScreenError};

/// Opens a file for reading, decompressing bzip2 on the fly when the name ends in `.bz2`.
pub(crate) fn open_maybe_bz2(path: &Path) -> Result<Box<dyn BufRead>> {
    let f = File::open(path).map_err(|e| ScreenError::io(path, e))?;
    if path.extension().is_some_and(|e| e == "bz2") {
        Ok(Box::new(BufReader::with_capacity(1 << 16, bzip2::read::BzDecoder::new(f))))
    } else {
        Ok(Box::new(BufReader::with_capacity(1 << 16, f)))
    }
}

/// Loads a list file, telling its format from its name and content: OFAC advanced XML
/// (`<Sanctions>`), UN consolidated XML (`<CONSOLIDATED_LIST>`), or a directory / file of
/// OFAC per-asset address lists (`sanctioned_addresses_<ASSET>.txt`).
///
/// # Errors
/// [`ScreenError::UnknownFormat`], or the loader's error naming file and line/element.
pub fn load_path(path: &Path) -> Result<crate::ListSnapshot> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_ascii_lowercase();
    if path.is_dir() || name.starts_with("sanctioned_addresses_") {
        return ofac_addresses::load(path);
    }
    let mut head = String::new();
    {
        use std::io::Read;
        let mut r = open_maybe_bz2(path)?;
        let mut buf = vec![0u8; 4096];
        let n = r.read(&mut buf).map_err(|e| ScreenError::io(path, e))?;
        head.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    if head.contains("<Sanctions") {
        ofac_advanced::load(path)
    } else if head.contains("<CONSOLIDATED_LIST") {
        un_xml::load(path)
    } else {
        Err(ScreenError::UnknownFormat {
            path: path.to_path_buf(),
            reason: "not an OFAC advanced XML, UN XML or address list".into(),
        })
    }
}
