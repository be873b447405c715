//! Tron: native TRX and TRC-20 transfers from GraphSense JSON Lines.
//!
//! The format is GraphSense's account-model tables for Tron
//! ([graphsense-lib](https://github.com/graphsense/graphsense-lib), `tests/deltaupdate/resources/account/trx`),
//! one JSON object per line: `blocks`, `transactions`, `logs` and `traces` (internal
//! transactions). Addresses are the 20-byte account hex **without** Tron's `0x41` prefix;
//! they are read as [`floodgate_types::address::TronAddress`] and render in base58check
//! (`T…`). Which table a row belongs to is told by its fields, not the file name.
//!
//! What moves value (the row rules are shared with Ethereum, see
//! [`crate::ethereum::jsonl`]):
//! - transactions: TRX (in sun) for `TransferContract` (type 1) and the `call_value` of
//!   `TriggerSmartContract` (type 31) when `value` > 0 and `receipt_status` is not 0. TRC-10
//!   transfers (type 2) carry no TRX amount; reward withdrawals (type 13) have no sender.
//! - logs: TRC-20 `Transfer` events, the same `0xddf252ad…` event as ERC-20; USDT's contract
//!   `TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t` maps to `USDT-TRC20`.
//! - traces: internal TRX transfers with `call_value` > 0, no `call_token_id` and not
//!   `rejected`, indexed `trace:<trace_index>`.
//!
//! The block header comes from a `blocks` row when the input has one, otherwise from the rows'
//! `block_id`, `block_hash` and `block_timestamp` (transactions carry the time; logs do not).
//!
//! The rows name no network; [`network`] says what is checked of the one the user names.

use std::path::{Path, PathBuf};

use floodgate_types::{AssetRegistry, Chain};

use crate::ethereum::assembly::Assembly;
use crate::ethereum::{jsonl, parse_input, Input};
use crate::{BlockSink, FileSummary, IngestError, Location};

pub mod network;

pub use network::TronNetwork;

/// Reads one Tron GraphSense JSON Lines file and hands its blocks to `sink`.
///
/// # Errors
/// As [`read_paths`].
pub fn read_path(
    path: &Path,
    assets: &AssetRegistry,
    sink: &mut dyn BlockSink,
) -> Result<FileSummary, IngestError> {
    read_paths(&[path.to_owned()], assets, sink)
}

/// Reads several Tron GraphSense JSON Lines files as one mainnet input: [`read_paths_on`]
/// with [`TronNetwork::Mainnet`].
///
/// # Errors
/// As [`read_paths_on`].
pub fn read_paths(
    paths: &[PathBuf],
    assets: &AssetRegistry,
    sink: &mut dyn BlockSink,
) -> Result<FileSummary, IngestError> {
    read_paths_on(paths, TronNetwork::Mainnet, assets, sink)
}

/// Reads several Tron GraphSense JSON Lines files as one input (a block's `blocks`,
/// `transactions`, `logs` and `traces` rows joined) of the Tron network `network`, and hands
/// its blocks to `sink`. Logs carry no time, so a block whose time no row gives is refused:
/// read the logs together with the block's transactions or blocks rows. Before the first
/// block, the sink is told the network ([`network`]: a generated world's marked block ids
/// name `floodgate-gen` instead).
///
/// # Errors
/// [`IngestError`] naming the file and line/field at fault; [`IngestError::UnknownFormat`] for
/// content that is not JSON Lines rows; [`IngestError::Invalid`] for a block hash that does not
/// begin with its height (Tron block ids do: Ethereum data read as Tron), a block without
/// time, or a block that cannot belong to `network` (its genesis, a known block, or a time
/// its height rules out); [`IngestError::Sink`] when the sink refuses the network or a block.
pub fn read_paths_on(
    paths: &[PathBuf],
    network: TronNetwork,
    assets: &AssetRegistry,
    sink: &mut dyn BlockSink,
) -> Result<FileSummary, IngestError> {
    let mut asm = Assembly::new(Chain::Tron);
    asm.tron_network = network;
    let mut summary = FileSummary { format: "tron-graphsense-jsonl", ..FileSummary::default() };
    let mut last = PathBuf::new();
    for path in paths {
        let bytes = crate::read_file(path)?;
        summary.bytes += bytes.len() as u64;
        let text = match parse_input(path, &bytes)? {
            Input::Lines(text) => text,
            Input::Document(serde_json::Value::Object(o)) => {
                serde_json::to_string(&o).map_err(|e| {
                    IngestError::invalid(path, Location::File, format!("cannot re-encode row: {e}"))
                })?
            }
            Input::Document(_) => {
                return Err(IngestError::UnknownFormat {
                    path: path.to_owned(),
                    reason: "expected GraphSense JSON Lines (one object per line)".to_owned(),
                })
            }
        };
        jsonl::read_lines(path, Chain::Tron, &text, assets, &mut asm)?;
        last.clone_from(path);
    }
    asm.finish(&last, summary.bytes, sink, &mut summary)?;
    Ok(summary)
}
