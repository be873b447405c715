//! The chain and ledger readers floodgate knows, in one registry: [`READERS`]. Each reader is
//! one file here implementing [`Reader`] over its format module (`bitcoin/`, `ethereum/`,
//! `tron/`, `ledger.rs`); the command line's `floodgate ingest <source>` accepts exactly the
//! names registered, and `floodgate ingest auto` asks each reader in turn whether it reads a
//! file ([`sniff_file`]).
//!
//! To add a reader: a file here with a unit struct implementing [`Reader`], and one line in
//! [`READERS`].

mod bitcoin;
mod ethereum;
mod ledger;
mod tron;

use std::io::Read;
use std::path::{Path, PathBuf};

use floodgate_types::{AssetRegistry, Chain};

use crate::bitcoin::BitcoinOptions;
use crate::{BlockSink, FileSummary, IngestError};

/// What a reader may need besides its files.
#[derive(Debug, Clone)]
pub struct ReadOptions<'a> {
    /// The asset registry (token contracts, decimals).
    pub assets: &'a AssetRegistry,
    /// Bitcoin: the network, spent outputs from outside the input, a height hint.
    pub bitcoin: &'a BitcoinOptions,
    /// Ledgers: the name entries are stored under (entry ids are unique per ledger).
    pub ledger: &'a str,
    /// Tron: the network the input is of (GraphSense rows do not say).
    pub tron: crate::tron::TronNetwork,
}

/// A reader of one kind of input (a chain's data in the formats it knows, or exchange
/// ledgers), detecting the exact format from the content.
pub trait Reader: Sync {
    /// The source name (`floodgate ingest <name>`).
    fn name(&self) -> &'static str;
    /// One line for the command line's help: what the files hold.
    fn about(&self) -> &'static str;
    /// The chain its blocks belong to; `None` for a reader of ledger entries.
    fn chain(&self) -> Option<Chain>;
    /// Whether all files of a run are read as one input (a block's receipts and traces in
    /// files beside the block); otherwise each file is read on its own.
    fn one_input(&self) -> bool {
        false
    }
    /// Whether stored transactions may have inputs left to resolve from outputs stored later
    /// (a UTXO chain): the summary then counts the unresolved ones.
    fn resolves_inputs(&self) -> bool {
        false
    }
    /// Whether this reader reads the file whose first bytes are `head` (up to
    /// [`SNIFF_BYTES`]). Readers are asked in [`READERS`] order, so a looser test (any JSON)
    /// belongs to a reader registered after the stricter ones.
    fn sniff(&self, path: &Path, head: &[u8]) -> bool;
    /// Reads `paths` (one file, or all of a run's files when [`Reader::one_input`]) and hands
    /// blocks or ledger entries to `sink`.
    ///
    /// # Errors
    /// [`IngestError`] naming the file and the byte offset, line or field at fault.
    fn read(
        &self,
        paths: &[PathBuf],
        opts: &ReadOptions<'_>,
        sink: &mut dyn BlockSink,
    ) -> Result<FileSummary, IngestError>;
}

/// Every reader, in the order `auto` asks them (stricter tests first) and help lists them.
pub static READERS: &[&dyn Reader] =
    &[&bitcoin::Bitcoin, &tron::Tron, &ethereum::Ethereum, &ledger::Ledger];

/// How many leading bytes of a file [`Reader::sniff`] sees.
pub const SNIFF_BYTES: usize = 8192;

/// The reader registered under `name`.
pub fn reader(name: &str) -> Option<&'static dyn Reader> {
    READERS.iter().copied().find(|r| r.name() == name)
}

/// The names of the readers, in registry order.
pub fn names() -> Vec<&'static str> {
    READERS.iter().map(|r| r.name()).collect()
}

/// The first reader that reads `path`, told from its first bytes.
///
/// # Errors
/// [`IngestError::Io`] when the file cannot be read; [`IngestError::UnknownFormat`] when no
/// reader claims it.
pub fn sniff_file(path: &Path) -> Result<&'static dyn Reader, IngestError> {
    let io = |source| IngestError::Io { path: path.to_owned(), source };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut head = vec![0u8; SNIFF_BYTES];
    let mut n = 0;
    while n < head.len() {
        let k = f.read(&mut head[n..]).map_err(io)?;
        if k == 0 {
            break;
        }
        n += k;
    }
    head.truncate(n);
    READERS.iter().copied().find(|r| r.sniff(path, &head)).ok_or_else(|| {
        IngestError::UnknownFormat {
            path: path.to_owned(),
            reason: format!("no reader recognises it ({}); name the source", names().join(", ")),
        }
    })
}

/// The first line of `head` as text, without a byte-order mark.
pub(crate) fn first_line(head: &[u8]) -> &str {
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        // The sniffed prefix may end inside a character.
        Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default(),
    };
    text.trim_start_matches('\u{feff}').lines().next().unwrap_or_default()
}

/// Whether `head` starts (after white space) with JSON (`{` or `[`).
pub(crate) fn is_json(head: &[u8]) -> bool {
    matches!(head.iter().copied().find(|b| !b.is_ascii_whitespace()), Some(b'{' | b'['))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        let n = names();
        let mut sorted = n.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), n.len(), "{n:?}");
        for name in n {
            assert_eq!(reader(name).map(|r| r.name()), Some(name));
        }
        assert!(reader("solana").is_none());
    }

    #[track_caller]
    fn sniffed(head: &str) -> Option<&'static str> {
        READERS.iter().find(|r| r.sniff(Path::new("x"), head.as_bytes())).map(|r| r.name())
    }

    #[test]
    fn each_format_is_claimed_by_its_reader() {
        assert_eq!(sniffed("{\"hash\":\"00\",\"merkleroot\":\"ab\",\"tx\":[]}"), Some("bitcoin"));
        assert_eq!(
            sniffed("{\"parent_hash\": \"0x0000000002faf08a\", \"hash\": \"0x0000000002faf08b\"}"),
            Some("tron")
        );
        assert_eq!(
            sniffed("{\"parent_hash\": \"0x15ae8914a9ec9c32\", \"logs_bloom\": \"0x41\"}"),
            Some("ethereum")
        );
        assert_eq!(
            sniffed("{\"jsonrpc\":\"2.0\",\"result\":{\"transactions\":[]}}"),
            Some("ethereum")
        );
        assert_eq!(
            sniffed("id,time,customer_id,direction,asset,amount\nd1,2025-01-02T03:04:05Z,c,deposit,BTC,1\n"),
            Some("ledger")
        );
        assert_eq!(sniffed("hello, world\n"), None);
    }
}
