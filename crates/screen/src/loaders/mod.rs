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
