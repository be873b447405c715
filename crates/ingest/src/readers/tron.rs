//! Tron: GraphSense JSON lines (`crate::tron`), all files of a run read as one input.

use std::path::{Path, PathBuf};

use floodgate_types::Chain;

use super::{first_line, ReadOptions, Reader};
use crate::{BlockSink, FileSummary, IngestError};

/// The Tron reader.
pub(super) struct Tron;

impl Reader for Tron {
    fn name(&self) -> &'static str {
        "tron"
    }
    fn about(&self) -> &'static str {
        "GraphSense JSON lines (transactions, logs, traces, blocks)"
    }
    fn chain(&self) -> Option<Chain> {
        Some(Chain::Tron)
    }
    fn one_input(&self) -> bool {
        true
    }
    fn sniff(&self, _path: &Path, head: &[u8]) -> bool {
        // A Tron block id begins with the block's height (eight bytes, so its first four
        // are zero for any height below 2^32); only Tron's traces carry `call_info_index`.
        let line = first_line(head);
        line.starts_with('{')
            && (line.contains("\"call_info_index\"")
                || [
                    "\"hash\": \"0x00000000",
                    "\"block_hash\": \"0x00000000",
                    "\"parent_hash\": \"0x00000000",
                ]
                .iter()
                .any(|p| line.contains(p)))
    }
    fn read(
        &self,
        paths: &[PathBuf],
        opts: &ReadOptions<'_>,
        sink: &mut dyn BlockSink,
    ) -> Result<FileSummary, IngestError> {
        crate::tron::read_paths_on(paths, opts.tron, opts.assets, sink)
    }
}
