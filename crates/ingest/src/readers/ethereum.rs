//! Ethereum: `eth_getBlockByNumber`, receipts, logs, Parity and geth traces, ethereum-etl and
//! GraphSense JSON lines (`crate::ethereum`), all files of a run read as one input.

use std::path::{Path, PathBuf};

use floodgate_types::Chain;

use super::{is_json, ReadOptions, Reader};
use crate::{BlockSink, FileSummary, IngestError};

/// The Ethereum reader.
pub(super) struct Ethereum;

/// Field names only Ethereum-style JSON (JSON-RPC, ethereum-etl, GraphSense) carries.
const FIELDS: &[&str] = &[
    "\"jsonrpc\"",
    "\"transactionsRoot\"",
    "\"logsBloom\"",
    "\"blockHash\"",
    "\"blockNumber\"",
    "\"logs_bloom\"",
    "\"block_hash\"",
    "\"block_number\"",
    "\"transaction_index\"",
    "\"from_address\"",
    "\"topics\"",
    "\"action\"",
];

impl Reader for Ethereum {
    fn name(&self) -> &'static str {
        "ethereum"
    }
    fn about(&self) -> &'static str {
        "eth_getBlockByNumber, receipts, logs, trace_block, debug_traceBlockByNumber, ETL/GraphSense JSON lines"
    }
    fn chain(&self) -> Option<Chain> {
        Some(Chain::Ethereum)
    }
    fn one_input(&self) -> bool {
        true
    }
    fn sniff(&self, _path: &Path, head: &[u8]) -> bool {
        if !is_json(head) {
            return false;
        }
        let text = String::from_utf8_lossy(head);
        FIELDS.iter().any(|f| text.contains(f))
    }
    fn read(
        &self,
        paths: &[PathBuf],
        opts: &ReadOptions<'_>,
        sink: &mut dyn BlockSink,
    ) -> Result<FileSummary, IngestError> {
        crate::ethereum::read_paths(paths, opts.assets, sink)
    }
}
