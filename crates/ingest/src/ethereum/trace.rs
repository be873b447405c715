//! Call traces: which internal calls moved ether.
//!
//! Two sources:
//! - Parity/OpenEthereum `trace_block` (also served by Erigon, Nethermind and reth): a flat
//!   list of `call`, `create`, `suicide` and `reward` traces, each with its `traceAddress`
//!   ([Parity trace module](https://openethereum.github.io/JSONRPC-trace-module)).
//! - Geth `debug_traceBlockByNumber` with `{"tracer": "callTracer"}`: one call tree per
//!   transaction ([geth built-in tracers](https://geth.ethereum.org/docs/developers/evm-tracing/built-in-tracers#call-tracer)).
//!   Trace addresses are assigned by walking the tree as Parity numbers it: the n-th child
//!   of a call at `a` is at `a ++ [n]`. The raw RPC output names neither the block nor the
//!   transactions (geth ≥ 1.14 adds `txHash`); ethereum-etl's `geth_traces.json` adds
//!   `block_number`. What is missing is bound by position to a block in the same input.
//!
//! Rules, the same for both:
//! - Only non-root calls move value as *internal* transfers: the root call's value is the
//!   transaction's own value, recorded as its native transfer.
//! - `call` and `create`/`create2` with value > 0 move value from caller to callee (the new
//!   contract for a creation); `suicide`/`SELFDESTRUCT` moves the balance to the refund
//!   address. `delegatecall`, `staticcall` and `callcode` move nothing: the code runs in the
//!   caller's context and the value stays there (Parity even reports `callcode` as a
//!   self-transfer).
//! - A trace with an `error` moves nothing, and neither does anything under it: a reverted
//!   call reverts its subcalls. An errored root means the whole transaction failed, so its
//!   native transfer is dropped too when the block is in the same input.
//! - `reward` traces (block and uncle rewards) are issuance with no sender and are skipped.
//! - Old geth versions report `SELFDESTRUCT` without addresses or value; those move nothing
//!   here, which is why Parity and geth traces can differ on self-destructs.

use std::collections::HashMap;
use std::path::Path;

use floodgate_types::{Address, Amount, AssetId, Chain, Hash32, TransferIndex, TransferKind};
use serde::Deserialize;

use super::assembly::{Assembly, Move};
use super::fields::{Fields, Quantity, TraceAddress};
use crate::{IngestError, Location};

/// One internal ether transfer found in a trace, before it is bound to a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternalTransfer {
    /// Block number, when the source says (Parity does; raw geth output does not).
    pub height: Option<u64>,
    /// Transaction hash, when the source says.
    pub txid: Option<Hash32>,
    /// Position of the transaction in its block, when known.
    pub tx_position: Option<u32>,
    /// The call's trace address (never empty: root calls are the transaction's own value).
    pub trace_address: Vec<u32>,
    /// `call`, `create` or `suicide`.
    pub call: &'static str,
    /// Caller (the self-destructed contract for `suicide`).
    pub from: Address,
    /// Callee, new contract or refund address.
    pub to: Address,
    /// Wei moved.
    pub amount: Amount,
}

/// A transaction as a trace names it: block, hash and position, each when known.
pub(crate) type TxRef = (Option<u64>, Option<Hash32>, Option<u32>);

/// What the traces say: transfers, failed transactions and created contracts.
#[derive(Debug, Default)]
pub(crate) struct TraceFacts {
    pub(crate) transfers: Vec<(InternalTransfer, Location)>,
    /// `(height, txid, tx_position)` of transactions whose root call failed.
    pub(crate) failed: Vec<TxRef>,
    /// `(height, txid, tx_position, contract)` of root creations.
    pub(crate) created: Vec<(TxRef, Address)>,
}

impl TraceFacts {
    /// Feeds the facts into an assembly.
    pub(crate) fn apply(self, path: &Path, asm: &mut Assembly) {
        for (height, txid, pos) in self.failed {
            let facts = match height {
                Some(h) => asm.block(h),
                None => asm.floating(path),
            };
            facts.fail(txid, pos);
        }
        for ((height, txid, pos), contract) in self.created {
            let facts = match height {
                Some(h) => asm.block(h),
                None => asm.floating(path),
            };
            facts.created_at(txid, pos, contract);
        }
        for (t, at) in self.transfers {
            let mv = Move {
                txid: t.txid,
                tx_position: t.tx_position,
                index: TransferIndex::Trace(t.trace_address),
                kind: TransferKind::Internal,
                from: t.from,
                to: Some(t.to),
                asset: AssetId("ETH".to_owned()),
                amount: t.amount,
                origin: (path.to_owned(), at),
            };
            let facts = match t.height {
                Some(h) => asm.block(h),
                None => asm.floating(path),
            };
            facts.push(mv);
        }
    }
}

/// Reads the internal transfers of a Parity `trace_block` or geth callTracer file (raw
/// JSON-RPC response, bare result, or ethereum-etl's `geth_traces.json`), without binding
/// them to a block: for comparing trace sources, and for geth output whose block is not at hand.
///
/// # Errors
/// [`IngestError`] naming the file and field when the file is not a trace file or is malformed.
pub fn internal_transfers(path: &Path) -> Result<Vec<InternalTransfer>, IngestError> {
    let bytes = crate::read_file(path)?;
    let doc = super::parse_document(path, &bytes)?;
    let facts = match super::classify(&doc) {
        Some(super::DocKind::Empty) => return Ok(Vec::new()),
        Some(super::DocKind::ParityTraces) => parity_facts(path, &doc)?,
        Some(super::DocKind::GethTraces) => geth_facts(path, &doc)?,
        _ => {
            return Err(IngestError::UnknownFormat {
                path: path.to_owned(),
                reason: "expected a Parity trace_block or geth callTracer result".to_owned(),
            })
        }
    };
    Ok(facts.transfers.into_iter().map(|(t, _)| t).collect())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ParityTrace {
    action: Option<ParityAction>,
    block_number: Option<Quantity>,
    error: Option<String>,
    result: Option<ParityResult>,
    trace_address: Option<TraceAddress>,
    transaction_hash: Option<String>,
    transaction_position: Option<Quantity>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ParityAction {
    call_type: Option<String>,
    from: Option<String>,
    to: Option<String>,
    value: Option<Quantity>,
    address: Option<String>,
    refund_address: Option<String>,
    balance: Option<Quantity>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ParityResult {
    address: Option<String>,
}

/// A trace reduced to what the rules need.
pub(crate) struct Flat {
    pub(crate) height: Option<u64>,
    pub(crate) txid: Option<Hash32>,
    pub(crate) pos: Option<u32>,
    pub(crate) address: Vec<u32>,
    pub(crate) errored: bool,
    /// `(call, from, to, value)` when the trace moves value by its type.
    pub(crate) mv: Option<(&'static str, Address, Address, Amount)>,
    pub(crate) created: Option<Address>,
    pub(crate) at: Location,
}

/// The trace addresses of errored calls in one transaction.
type TraceAddresses = Vec<Vec<u32>>;

/// Applies the error-propagation rule to flat traces grouped by transaction.
pub(crate) fn reduce_flats(flats: Vec<Flat>) -> TraceFacts {
    let mut errored: HashMap<(Option<Hash32>, Option<u32>), TraceAddresses> = HashMap::new();
    for t in flats.iter().filter(|t| t.errored) {
        errored.entry((t.txid, t.pos)).or_default().push(t.address.clone());
    }
    let mut out = TraceFacts::default();
    for t in flats {
        let reverted = errored
            .get(&(t.txid, t.pos))
            .is_some_and(|errs| errs.iter().any(|e| t.address.starts_with(e)));
        if t.address.is_empty() {
            if reverted {
                out.failed.push((t.height, t.txid, t.pos));
            } else if let Some(c) = t.created {
                out.created.push(((t.height, t.txid, t.pos), c));
            }
            continue;
        }
        if reverted {
            continue;
        }
        if let Some((call, from, to, amount)) = t.mv {
            if amount.is_zero() {
                continue;
            }
            out.transfers.push((
                InternalTransfer {
                    height: t.height,
                    txid: t.txid,
                    tx_position: t.pos,
                    trace_address: t.address,
                    call,
                    from,
                    to,
                    amount,
                },
                t.at,
            ));
        }
    }
    out
}

pub(crate) fn parity_facts(
    path: &Path,
    doc: &serde_json::Value,
) -> Result<TraceFacts, IngestError> {
    let items = super::result_array(doc);
    let mut flats = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let f = Fields::in_document(
            path,
            Chain::Ethereum,
            format!("{}[{i}]", super::result_prefix(doc)),
        );
        let t: ParityTrace = super::typed(&f, item)?;
        let kind = t.kind.as_deref().unwrap_or("");
        if kind == "reward" {
            continue;
        }
        let Some(a) = &t.action else { return Err(f.err("action", "missing field")) };
        let height = f.opt_u64("blockNumber", &t.block_number)?;
        let txid = f.opt_hash("transactionHash", &t.transaction_hash)?;
        let pos = f.opt_u32("transactionPosition", &t.transaction_position)?;
        let address = f.trace_address("traceAddress", &t.trace_address)?;
        let value = |q: &Option<Quantity>, field: &str| -> Result<Amount, IngestError> {
            q.as_ref().map(|q| f.amount(field, q)).transpose().map(Option::unwrap_or_default)
        };
        let result_address = match &t.result {
            Some(r) => f.opt_address("result.address", &r.address)?,
            None => None,
        };
        let mv = match kind {
            "call" => match a.call_type.as_deref().unwrap_or("call") {
                "call" => {
                    let amount = value(&a.value, "action.value")?;
                    if amount.is_zero() {
                        None
                    } else {
                        let from = f.address("action.from", f.need("action.from", &a.from)?)?;
                        let to = f.address("action.to", f.need("action.to", &a.to)?)?;
                        Some(("call", from, to, amount))
                    }
                }
                _ => None,
            },
            "create" => {
                let amount = value(&a.value, "action.value")?;
                match (&result_address, amount.is_zero()) {
                    (Some(to), false) => {
                        let from = f.address("action.from", f.need("action.from", &a.from)?)?;
                        Some(("create", from, to.clone(), amount))
                    }
                    _ => None,
                }
            }
            "suicide" => {
                let amount = value(&a.balance, "action.balance")?;
                if amount.is_zero() {
                    None
                } else {
                    let from =
                        f.address("action.address", f.need("action.address", &a.address)?)?;
                    let to = f.address(
                        "action.refundAddress",
                        f.need("action.refundAddress", &a.refund_address)?,
                    )?;
                    Some(("suicide", from, to, amount))
                }
            }
            _ => None,
        };
        flats.push(Flat {
            height,
            txid,
            pos,
            address,
            errored: t.error.is_some(),
            mv,
            created: if kind == "create" { result_address } else { None },
            at: f.at("action"),
        });
    }
    Ok(reduce_flats(flats))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GethFrame {
    #[serde(rename = "type")]
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
    value: Option<Quantity>,
    error: Option<String>,
    #[serde(default)]
    calls: Vec<GethFrame>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GethTxTrace {
    tx_hash: Option<String>,
    result: Option<GethFrame>,
}

/// ethereum-etl's `geth_traces.json` row.
#[derive(Debug, Deserialize)]
pub(crate) struct EtlGethBlock {
    block_number: Option<u64>,
    #[serde(default)]
    transaction_traces: Vec<GethFrame>,
}

pub(crate) fn geth_facts(path: &Path, doc: &serde_json::Value) -> Result<TraceFacts, IngestError> {
    if doc.get("transaction_traces").is_some() {
        let f = Fields::in_document(path, Chain::Ethereum, String::new());
        let b: EtlGethBlock = super::typed(&f, doc)?;
        let mut flats = Vec::new();
        for (i, frame) in b.transaction_traces.iter().enumerate() {
            let pos =
                u32::try_from(i).map_err(|_| f.err("transaction_traces", "too many traces"))?;
            let tf = f.nested(format!("transaction_traces[{i}]"));
            walk(&tf, frame, b.block_number, None, pos, &mut Vec::new(), &mut flats)?;
        }
        return Ok(reduce_flats(flats));
    }
    let items = super::result_array(doc);
    let mut flats = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let f = Fields::in_document(
            path,
            Chain::Ethereum,
            format!("{}[{i}]", super::result_prefix(doc)),
        );
        let t: GethTxTrace = super::typed(&f, item)?;
        let txid = f.opt_hash("txHash", &t.tx_hash)?;
        let Some(frame) = &t.result else { return Err(f.err("result", "missing field")) };
        let pos = u32::try_from(i).map_err(|_| f.err("result", "too many traces"))?;
        walk(&f.nested("result".to_owned()), frame, None, txid, pos, &mut Vec::new(), &mut flats)?;
    }
    Ok(reduce_flats(flats))
}

fn walk(
    f: &Fields<'_>,
    frame: &GethFrame,
    height: Option<u64>,
    txid: Option<Hash32>,
    pos: u32,
    address: &mut Vec<u32>,
    out: &mut Vec<Flat>,
) -> Result<(), IngestError> {
    let kind = frame.kind.as_deref().unwrap_or("").to_ascii_uppercase();
    let amount = match &frame.value {
        Some(v) => f.amount("value", v)?,
        None => Amount::ZERO,
    };
    let call = match kind.as_str() {
        "CALL" => Some("call"),
        "CREATE" | "CREATE2" => Some("create"),
        "SELFDESTRUCT" => Some("suicide"),
        _ => None,
    };
    let to = f.opt_address("to", &frame.to)?;
    let mv = match (call, amount.is_zero()) {
        (Some(call), false) => {
            let from = f.opt_address("from", &frame.from)?;
            match (from, to.clone()) {
                (Some(from), Some(to)) => Some((call, from, to, amount)),
                _ => None,
            }
        }
        _ => None,
    };
    out.push(Flat {
        height,
        txid,
        pos: Some(pos),
        address: address.clone(),
        errored: frame.error.is_some(),
        mv,
        created: if call == Some("create") { to } else { None },
        at: f.at("type"),
    });
    for (n, child) in frame.calls.iter().enumerate() {
        let n32 = u32::try_from(n).map_err(|_| f.err("calls", "too many calls"))?;
        address.push(n32);
        walk(&f.nested(format!("calls[{n}]")), child, height, txid, pos, address, out)?;
        address.pop();
    }
    Ok(())
}
