//! Bitcoin: raw blocks (binary or hex), `blk*.dat` files, Bitcoin Core `getblock` JSON
//! (`crate::bitcoin`).

use std::path::{Path, PathBuf};

use floodgate_types::Chain;

use super::{is_json, ReadOptions, Reader};
use crate::{BlockSink, FileSummary, IngestError};

/// The Bitcoin reader.
pub(super) struct Bitcoin;

impl Reader for Bitcoin {
    fn name(&self) -> &'static str {
        "bitcoin"
    }
    fn about(&self) -> &'static str {
        "Raw blocks, blk*.dat files, or `getblock <hash> 2` JSON"
    }
    fn chain(&self) -> Option<Chain> {
        Some(Chain::Bitcoin)
    }
    fn resolves_inputs(&self) -> bool {
        true
    }
    fn sniff(&self, _path: &Path, head: &[u8]) -> bool {
        if is_json(head) {
            // getblock verbosity 2: a block with its merkle root and decoded transactions.
            let text = String::from_utf8_lossy(head);
            return text.contains("\"merkleroot\"");
        }
        crate::bitcoin::sniff(head)
    }
    fn read(
        &self,
        paths: &[PathBuf],
        opts: &ReadOptions<'_>,
        sink: &mut dyn BlockSink,
    ) -> Result<FileSummary, IngestError> {
        let mut total = FileSummary::default();
        for p in paths {
            let s = crate::bitcoin::read_path(p, opts.bitcoin, sink)?;
            if paths.len() == 1 {
                return Ok(s);
            }
            total.format = s.format;
            total.blocks += s.blocks;
            total.transactions += s.transactions;
            total.transfers += s.transfers;
            total.bytes += s.bytes;
            total.unverified.extend(s.unverified);
        }
        Ok(total)
    }
}
