//! Ethereum: native, token and internal transfers from JSON-RPC results, call traces and
//! JSON Lines exports.
//!
//! [`read_path`] detects the format from the content:
//!
//! | format | source | yields |
//! |---|---|---|
//! | `eth_getBlockByNumber(n, true)` result, bare or in a JSON-RPC envelope; an array of them | [execution API](https://ethereum.github.io/execution-apis/api-documentation/) | header, one `Native` transfer per transaction with value (index `tx`) |
//! | `eth_getTransactionReceipt` result, or an array (`eth_getBlockReceipts`) | same | status, created contract, ERC-20 `Transfer` logs (`Token`, index `log:N`) |
//! | `eth_getLogs` / `eth_getFilterLogs` array | same | ERC-20 `Transfer` logs |
//! | Parity `trace_block` array | [trace module](https://openethereum.github.io/JSONRPC-trace-module) | `Internal` transfers (index `trace:0.1`), failed transactions |
//! | geth `debug_traceBlockByNumber` with `callTracer`, or ethereum-etl `geth_traces.json` | [geth tracers](https://geth.ethereum.org/docs/developers/evm-tracing/built-in-tracers#call-tracer) | the same as Parity |
//! | ethereum-etl and GraphSense JSON Lines | [`jsonl`] module docs | all of the above |
//!
//! Output is grouped per block and handed to the sink once per block number, in the order
//! blocks first appear in the input. Several files that belong together (a block, its
//! receipts, its traces) can be read as one input with [`read_paths`]: only then can a failed
//! transaction be recognised, because **a block alone does not say whether a transaction
//! failed**. Receipts (`status` 0x0), an errored root trace or a `receipt_status` of 0 do, and
//! a failed transaction then moves nothing. Each file is read whole: these are per-block or
//! per-range exports, not chain dumps.
//!
//! Token transfers come from `Transfer` logs only ([`log`]); calldata is decoded separately,
//! as evidence, by [`token_transfer_calls`].
//!
//! ```
//! use floodgate_ingest::ethereum;
//! use floodgate_types::{AssetRegistry, ChainBlock};
//!
//! let path = std::env::temp_dir().join(format!("floodgate-doc-{}.json", std::process::id()));
//! std::fs::write(&path, r#"[{"address":"0xdac17f958d2ee523a2206206994597c13d831ec7",
//!   "topics":["0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef",
//!     "0x0000000000000000000000001b63142628311395ceafeea5667e7c9026c862ca",
//!     "0x000000000000000000000000ac4df82fe37ea2187bc8c011a23d743b4f39019a"],
//!   "data":"0x00000000000000000000000000000000000000000000000000000000000f4240",
//!   "blockNumber":"0x10","transactionHash":"0x04cbcb236043d8fb7839e07bbc7f5eed692fb2ca55d897f1101eac3e3ad4fab8",
//!   "transactionIndex":"0x0","logIndex":"0x3"}]"#)?;
//! let mut blocks = Vec::new();
//! let mut sink = |b: ChainBlock, _: u64| { blocks.push(b); Ok(()) };
//! ethereum::read_path(&path, &AssetRegistry::builtin(), &mut sink)?;
//! let t = &blocks[0].transfers[0];
//! assert_eq!((t.asset.as_str(), t.amount.to_string(), t.index.to_string()), ("USDT-ERC20", "1000000".into(), "log:3".into()));
//! # std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub(crate) mod assembly;
mod calls;
mod fields;
pub mod jsonl;
pub mod log;
mod rpc;
pub mod trace;
pub(crate) mod verify;

pub use self::verify::Unverified;

use std::path::{Path, PathBuf};

use floodgate_types::{AssetRegistry, Chain};
use serde_json::Value;

use self::assembly::Assembly;
pub use self::calls::{token_transfer_calls, TokenCall, TokenMethod};
use self::fields::{quote_long_integers, Fields};
pub use self::log::TRANSFER_TOPIC;
pub use self::trace::{internal_transfers, InternalTransfer};
use crate::{BlockSink, FileSummary, IngestError, Location};

/// Reads one Ethereum file (any format in the table above) and hands its blocks to `sink`.
///
/// # Errors
/// [`IngestError`] naming the file and the line or field at fault; [`IngestError::UnknownFormat`]
/// for JSON that is none of the formats; [`IngestError::Sink`] when the sink refuses a block.
pub fn read_path(
    path: &Path,
    assets: &AssetRegistry,
    sink: &mut dyn BlockSink,
) -> Result<FileSummary, IngestError> {
    read_paths(&[path.to_owned()], assets, sink)
}

/// Reads several Ethereum files as one input, so that receipts and traces can mark the
/// transactions of a block in another file failed, and geth traces can borrow transaction
/// hashes from the block. Blocks are emitted after the last file is read.
///
/// # Errors
/// As [`read_path`]; a sink error names the last file.
pub fn read_paths(
    paths: &[PathBuf],
    assets: &AssetRegistry,
    sink: &mut dyn BlockSink,
) -> Result<FileSummary, IngestError> {
    let mut asm = Assembly::new(Chain::Ethereum);
    let mut summary = FileSummary::default();
    let mut last = PathBuf::new();
    for path in paths {
        let bytes = crate::read_file(path)?;
        summary.bytes += bytes.len() as u64;
        let format = read_into(path, &bytes, assets, &mut asm)?;
        summary.format =
            if summary.format.is_empty() || summary.format == format { format } else { "mixed" };
        last.clone_from(path);
    }
    asm.finish(&last, summary.bytes, sink, &mut summary)?;
    Ok(summary)
}

fn read_into(
    path: &Path,
    bytes: &[u8],
    assets: &AssetRegistry,
    asm: &mut Assembly,
) -> Result<&'static str, IngestError> {
    let doc = match parse_input(path, bytes)? {
        Input::Lines(text) => {
            jsonl::read_lines(path, Chain::Ethereum, &text, assets, asm)?;
            return Ok("eth-jsonl");
        }
        Input::Document(doc) => doc,
    };
    check_rpc_error(path, &doc)?;
    let kind = classify(&doc).ok_or_else(|| IngestError::UnknownFormat {
        path: path.to_owned(),
        reason: "JSON that is no Ethereum block, receipt, log, trace or export row".to_owned(),
    })?;
    let prefix = result_prefix(&doc);
    let items = result_array(&doc);
    let is_array = unwrap_envelope(&doc).is_array();
    let fields = |i: usize| {
        let p = if is_array { format!("{prefix}[{i}]") } else { prefix.to_owned() };
        Fields::in_document(path, Chain::Ethereum, p)
    };
    match kind {
        DocKind::Empty => Ok("empty"),
        DocKind::Block => {
            for (i, item) in items.iter().enumerate() {
                let f = fields(i);
                rpc::add_block(&f, &typed(&f, item)?, asm)?;
            }
            Ok("eth-block-json")
        }
        DocKind::Receipt => {
            for (i, item) in items.iter().enumerate() {
                let f = fields(i);
                rpc::add_receipt(&f, assets, &typed(&f, item)?, asm)?;
            }
            Ok("eth-receipts-json")
        }
        DocKind::Log => {
            for (i, item) in items.iter().enumerate() {
                let f = fields(i);
                rpc::add_log(&f, assets, &typed(&f, item)?, asm)?;
            }
            Ok("eth-logs-json")
        }
        DocKind::ParityTraces => {
            trace::parity_facts(path, &doc)?.apply(path, asm);
            Ok("parity-trace-json")
        }
        DocKind::GethTraces => {
            trace::geth_facts(path, &doc)?.apply(path, asm);
            Ok("geth-calltracer-json")
        }
        DocKind::Row => {
            let line = serde_json::to_string(&doc).map_err(|e| {
                IngestError::invalid(path, Location::File, format!("cannot re-encode row: {e}"))
            })?;
            jsonl::read_lines(path, Chain::Ethereum, &line, assets, asm)?;
            Ok("eth-jsonl")
        }
    }
}

/// A whole JSON document, or JSON Lines.
pub(crate) enum Input {
    Document(Value),
    Lines(String),
}

/// Decodes UTF-8 and tells a JSON document from JSON Lines.
pub(crate) fn parse_input(path: &Path, bytes: &[u8]) -> Result<Input, IngestError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        IngestError::invalid(path, Location::Offset(e.valid_up_to() as u64), "not UTF-8 text")
    })?;
    if text.trim().is_empty() {
        return Err(IngestError::UnknownFormat {
            path: path.to_owned(),
            reason: "empty file".to_owned(),
        });
    }
    match serde_json::from_str::<Value>(&quote_long_integers(text)) {
        Ok(v) => Ok(Input::Document(v)),
        Err(e) => {
            let mut lines = text.lines().filter(|l| !l.trim().is_empty());
            let first_is_object = lines.next().is_some_and(|l| {
                serde_json::from_str::<Value>(&quote_long_integers(l)).is_ok_and(|v| v.is_object())
            });
            if first_is_object && lines.next().is_some() {
                return Ok(Input::Lines(text.to_owned()));
            }
            Err(IngestError::invalid(
                path,
                Location::Line(e.line() as u64),
                format!("malformed json at column {}: {e}", e.column()),
            ))
        }
    }
}

/// A whole JSON document; JSON Lines are refused.
pub(crate) fn parse_document(path: &Path, bytes: &[u8]) -> Result<Value, IngestError> {
    match parse_input(path, bytes)? {
        Input::Document(v) => Ok(v),
        Input::Lines(_) => Err(IngestError::UnknownFormat {
            path: path.to_owned(),
            reason: "JSON Lines where one JSON document was expected".to_owned(),
        }),
    }
}

fn is_envelope(doc: &Value) -> bool {
    doc.as_object().is_some_and(|o| {
        o.contains_key("result") && (o.contains_key("jsonrpc") || o.contains_key("id"))
    })
}

/// The `result` of a JSON-RPC envelope, or the document itself.
pub(crate) fn unwrap_envelope(doc: &Value) -> &Value {
    if is_envelope(doc) {
        &doc["result"]
    } else {
        doc
    }
}

/// `result` for an envelope, empty otherwise: the start of field paths in errors.
pub(crate) fn result_prefix(doc: &Value) -> &'static str {
    if is_envelope(doc) {
        "result"
    } else {
        ""
    }
}

/// The elements of the (unwrapped) array, or the single (unwrapped) object.
pub(crate) fn result_array(doc: &Value) -> Vec<&Value> {
    match unwrap_envelope(doc) {
        Value::Array(a) => a.iter().collect(),
        Value::Null => Vec::new(),
        v => vec![v],
    }
}

/// Deserializes one element into its typed form.
pub(crate) fn typed<T: serde::de::DeserializeOwned>(
    f: &Fields<'_>,
    v: &Value,
) -> Result<T, IngestError> {
    T::deserialize(v)
        .map_err(|e| IngestError::invalid(f.path, f.whole(), format!("unexpected shape: {e}")))
}

/// The formats a JSON document can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DocKind {
    Empty,
    Block,
    Receipt,
    Log,
    ParityTraces,
    GethTraces,
    Row,
}

/// Tells what a document is from its fields.
pub(crate) fn classify(doc: &Value) -> Option<DocKind> {
    if doc.get("transaction_traces").is_some() {
        return Some(DocKind::GethTraces);
    }
    let body = unwrap_envelope(doc);
    let first = match body {
        Value::Array(a) => match a.first() {
            None => return Some(DocKind::Empty),
            Some(v) => v,
        },
        Value::Null => return Some(DocKind::Empty),
        v => v,
    };
    let o = first.as_object()?;
    let has = |k: &str| o.contains_key(k);
    if has("action") && (has("traceAddress") || has("type")) {
        Some(DocKind::ParityTraces)
    } else if has("txHash")
        || o.get("result").is_some_and(|r| r.get("type").is_some() || r.get("from").is_some())
    {
        Some(DocKind::GethTraces)
    } else if has("transactions") && has("number") {
        Some(DocKind::Block)
    } else if has("logs") && has("transactionHash") {
        Some(DocKind::Receipt)
    } else if has("topics") && (has("logIndex") || has("transactionHash")) {
        Some(DocKind::Log)
    } else if ["block_number", "block_id", "tx_hash", "transaction_hash", "type"]
        .iter()
        .any(|k| has(k))
    {
        Some(DocKind::Row)
    } else {
        None
    }
}

/// Rejects a JSON-RPC error response with its message.
pub(crate) fn check_rpc_error(path: &Path, doc: &Value) -> Result<(), IngestError> {
    match doc.get("error") {
        Some(err) if doc.get("jsonrpc").is_some() || doc.get("id").is_some() => {
            Err(IngestError::invalid(
                path,
                Location::Field("error".to_owned()),
                format!("json-rpc error response: {err}"),
            ))
        }
        _ => Ok(()),
    }
}
