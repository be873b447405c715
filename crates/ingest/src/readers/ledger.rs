//! Exchange ledgers: CSV or JSON Lines of deposits, withdrawals and internal transfers
//! (`crate::ledger`, `docs/formats/ledger.md`), handed to the sink's
//! [`BlockSink::ledger`] whole, one file at a time.

use std::path::{Path, PathBuf};

use floodgate_types::Chain;

use super::{first_line, ReadOptions, Reader};
use crate::{BlockSink, FileSummary, IngestError, Location};

/// The ledger reader.
pub(super) struct Ledger;

impl Reader for Ledger {
    fn name(&self) -> &'static str {
        "ledger"
    }
    fn about(&self) -> &'static str {
        "Exchange ledger CSV or JSON Lines (docs/formats/ledger.md)"
    }
    fn chain(&self) -> Option<Chain> {
        None
    }
    fn sniff(&self, _path: &Path, head: &[u8]) -> bool {
        let line = first_line(head);
        line.contains("customer_id") && line.contains("direction")
    }
    fn read(
        &self,
        paths: &[PathBuf],
        opts: &ReadOptions<'_>,
        sink: &mut dyn BlockSink,
    ) -> Result<FileSummary, IngestError> {
        let mut summary = FileSummary { format: "ledger", ..FileSummary::default() };
        for path in paths {
            let entries = crate::ledger::read_ledger_path(path, opts.assets)?;
            let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            summary.transfers += entries.len() as u64;
            summary.bytes += bytes;
            sink.ledger(opts.ledger, entries, bytes).map_err(|source| IngestError::Sink {
                path: path.clone(),
                at: Location::File,
                source,
            })?;
        }
        Ok(summary)
    }
}
