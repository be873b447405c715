//! Readers that turn real chain data and exchange ledgers into floodgate's normalized records.
//!
//! Each reader takes a file, detects its format from the content (not the file name), and
//! hands normalized [`ChainBlock`]s to a sink one block at a time, so a multi-gigabyte
//! `blk*.dat` file never sits in memory. Errors name the file and the byte offset, line or
//! field at fault.
//!
//! | chain | formats |
//! |---|---|
//! | Bitcoin | raw serialized block, `blk*.dat` (magic + length framing, XOR key from `xor.dat`), Bitcoin Core `getblock` verbosity-2 JSON |
//! | Ethereum | `eth_getBlockByNumber` (full transactions), receipts, logs, `trace_block`, `debug_traceBlockByNumber` (callTracer), ethereum-etl and GraphSense JSON lines |
//! | Tron | GraphSense JSON lines (transactions, logs, traces) |
//! | ledger | CSV and JSON Lines of deposits, withdrawals and internal transfers (`docs/formats/ledger.md`) |
//!
//! ```
//! use floodgate_ingest::ledger::read_ledger_str;
//! use floodgate_types::AssetRegistry;
//!
//! let csv = "id,time,customer_id,direction,asset,amount,counterparty_address\n\
//!            d1,2025-01-02T03:04:05Z,c42,deposit,USDT-TRC20,1500.25,TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t\n";
//! let entries = read_ledger_str("example.csv", csv, &AssetRegistry::builtin())?;
//! assert_eq!(entries[0].amount.to_string(), "1500250000");
//! # Ok::<(), floodgate_ingest::IngestError>(())
//! ```

pub mod bitcoin;
mod error;
pub mod ethereum;
pub mod ledger;
pub mod readers;
pub mod tron;

use std::path::Path;

pub use error::{IngestError, Location};
use floodgate_types::{Chain, ChainBlock, Hash32, LedgerEntry};
pub use readers::{ReadOptions, Reader, READERS};

/// The error a sink returns to stop ingestion (a store failure, say).
pub type SinkError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Receives normalized blocks in input order. `bytes_done` is how far into the current file
/// the reader is, for progress bars.
pub trait BlockSink {
    /// Takes one block.
    ///
    /// # Errors
    /// Any error stops the reader, which returns it as [`IngestError::Sink`].
    fn block(&mut self, block: ChainBlock, bytes_done: u64) -> Result<(), SinkError>;

    /// Told, before the first block of an input, which network the input belongs to (a
    /// `blk*.dat` magic, the `--network` a raw block is read as, an Ethereum chain id), so
    /// that a store bound to another network can refuse it before anything is written.
    ///
    /// # Errors
    /// Any error stops the reader, which returns it as [`IngestError::Sink`].
    fn network(&mut self, id: &NetworkId) -> Result<(), SinkError> {
        let _ = id;
        Ok(())
    }

    /// Takes the entries of one exchange ledger file (`bytes`: the file's size), from the
    /// ledger reader. A sink of chain blocks only refuses them.
    ///
    /// # Errors
    /// Any error stops the reader, which returns it as [`IngestError::Sink`].
    fn ledger(
        &mut self,
        ledger: &str,
        entries: Vec<LedgerEntry>,
        bytes: u64,
    ) -> Result<(), SinkError> {
        let _ = (ledger, entries, bytes);
        Err("this sink takes chain blocks, not ledger entries".into())
    }
}

/// The network an input says it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkId {
    /// The chain.
    pub chain: Chain,
    /// The network's name: `mainnet`, `floodgate-gen`, `chain id 1`, ….
    pub name: String,
    /// Its genesis block hash, when the network has a fixed one.
    pub genesis: Option<Hash32>,
}

impl<F> BlockSink for F
where
    F: FnMut(ChainBlock, u64) -> Result<(), SinkError>,
{
    fn block(&mut self, block: ChainBlock, bytes_done: u64) -> Result<(), SinkError> {
        self(block, bytes_done)
    }
}

/// What a reader did with one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSummary {
    /// The format detected, for the summary line (`blk.dat`, `getblock-json`, …).
    pub format: &'static str,
    /// Blocks handed to the sink.
    pub blocks: u64,
    /// UTXO transactions handed to the sink.
    pub transactions: u64,
    /// Account-chain transfers handed to the sink.
    pub transfers: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Checks the input did not allow (Ethereum: a block without its full header,
    /// transactions or receipts), one note per block and check; stored all the same.
    pub unverified: Vec<ethereum::Unverified>,
}

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, IngestError> {
    std::fs::read(path).map_err(|source| IngestError::Io { path: path.to_owned(), source })
}
