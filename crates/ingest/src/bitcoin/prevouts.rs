//! Spent outputs supplied from outside the input file, so inputs can be resolved without a
//! full UTXO set (a fixture, an export of the outputs a block spends).

use std::collections::HashMap;
use std::path::Path;

use floodgate_types::{BtcAddress, BtcNetwork, Hash32, OutPoint};

use crate::{IngestError, Location};
use rustc_hash::FxBuildHasher as FxBuild;

/// One spent output: its value and locking script.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Prevout {
    value_sats: u64,
    script_pubkey: Box<[u8]>,
}

/// Outputs spent by the blocks being read, keyed by outpoint. Scripts are kept rather than
/// addresses so the same map serves any [`BtcNetwork`].
#[derive(Debug, Clone, Default)]
pub struct PrevoutMap {
    map: HashMap<OutPoint, Prevout, FxBuild>,
}

/// The columns [`PrevoutMap::load_csv`] needs; others (`height`, `is_coinbase`) are ignored.
const COLUMNS: [&str; 4] = ["txid", "vout", "value_sats", "script_pubkey_hex"];

impl PrevoutMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the output `outpoint` paying `value_sats` to `script_pubkey`.
    pub fn insert(&mut self, outpoint: OutPoint, value_sats: u64, script_pubkey: &[u8]) {
        self.map.insert(outpoint, Prevout { value_sats, script_pubkey: script_pubkey.into() });
    }

    /// Number of outputs held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The address and value (in satoshis) of a spent output, if known.
    pub fn get(&self, outpoint: &OutPoint, network: BtcNetwork) -> Option<(BtcAddress, u64)> {
        self.map
            .get(outpoint)
            .map(|p| (BtcAddress::from_script(&p.script_pubkey, network).address, p.value_sats))
    }

    /// Loads a CSV with a header row naming at least the columns `txid` (display order hex),
    /// `vout`, `value_sats` and `script_pubkey_hex`, in any order (the format of
    /// `mainnet_block_277647.prevouts.csv`: `txid,vout,height,is_coinbase,value_sats,script_pubkey_hex`).
    ///
    /// # Errors
    /// [`IngestError::Io`] when the file cannot be read; [`IngestError::Invalid`] naming the
    /// line and column for a missing column, a bad hash, number or hex script.
    pub fn load_csv(path: &Path) -> Result<Self, IngestError> {
        let file = std::fs::File::open(path)
            .map_err(|source| IngestError::Io { path: path.to_owned(), source })?;
        let mut rdr = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(file);
        let headers = rdr
            .headers()
            .map_err(|e| IngestError::invalid(path, Location::Line(1), format!("csv: {e}")))?
            .clone();
        let mut idx = [0usize; 4];
        for (slot, name) in idx.iter_mut().zip(COLUMNS) {
            *slot = headers.iter().position(|h| h == name).ok_or_else(|| {
                IngestError::invalid(
                    path,
                    Location::Line(1),
                    format!("missing column '{name}' (need {})", COLUMNS.join(",")),
                )
            })?;
        }
        let mut out = PrevoutMap::new();
        let mut record = csv::StringRecord::new();
        loop {
            let more = rdr.read_record(&mut record).map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                IngestError::invalid(path, Location::Line(line), format!("csv: {e}"))
            })?;
            if !more {
                break;
            }
            let line = record.position().map_or(0, |p| p.line());
            let bad = |col: usize, reason: String| {
                IngestError::invalid(path, Location::LineField(line, COLUMNS[col].into()), reason)
            };
            let field = |col: usize| record.get(idx[col]).unwrap_or("");
            let txid = Hash32::from_hex(field(0)).map_err(|e| bad(0, e.to_string()))?;
            let vout = field(1)
                .parse::<u32>()
                .map_err(|e| bad(1, format!("'{}' is not an output index: {e}", field(1))))?;
            let value_sats = field(2)
                .parse::<u64>()
                .map_err(|e| bad(2, format!("'{}' is not a satoshi amount: {e}", field(2))))?;
            let script = hex::decode(field(3)).map_err(|e| bad(3, format!("not hex: {e}")))?;
            out.insert(OutPoint { txid, vout }, value_sats, &script);
        }
        Ok(out)
    }
}
