//! JSON Lines exports: [ethereum-etl](https://ethereum-etl.readthedocs.io/en/latest/schema/)
//! (`export_all`/`stream` output, one object per line with a `type` field: `block`,
//! `transaction`, `log`, `token_transfer`, `trace`, …) and GraphSense's account-model tables
//! ([graphsense-lib](https://github.com/graphsense/graphsense-lib) Cassandra schema: `tx_hash`,
//! `block_id`, `from_address`, `topics`, `trace_address` as `"0,1"`, …), for Ethereum and Tron.
//!
//! Rows without a `type` are recognised by their fields. Rules:
//! - transactions: one native transfer when `value` > 0, unless `receipt_status` is 0 (failed).
//!   On Tron only `TransferContract` (type 1) and `TriggerSmartContract` (type 31, its
//!   `call_value`) move TRX: type 2 is a TRC-10 asset transfer whose amount is not in sun,
//!   and type 13 (reward withdrawal) has no sender.
//! - logs: ERC-20/TRC-20 `Transfer` events (see [`super::log`]).
//! - `token_transfer` rows (ethereum-etl's decoded transfers) are used only when the input has
//!   no `log` rows: ethereum-etl also emits ERC-721 transfers there, with the token id as
//!   `value`, and they cannot be told apart without the raw topics.
//! - traces: the rules of [`super::trace`]; ethereum-etl's `status` 0 already marks calls under
//!   a failed call. Tron internal transactions move TRX when `call_value` > 0, `call_token_id`
//!   is null (otherwise a TRC-10 token moved) and `rejected` is false.
//!
//! Numbers of 20 digits or more are read as text, so wei amounts keep every digit.

use std::path::Path;

use floodgate_types::{AssetId, AssetRegistry, Chain, TransferIndex, TransferKind};
use serde::Deserialize;

use super::assembly::{Assembly, Move};
use super::fields::{quote_long_integers, Fields, Quantity, TraceAddress};
use super::log::{transfer_move, RawLog};
use super::trace;
use super::verify::{Outcome, ReceiptParts};
use crate::{IngestError, Location};

#[derive(Debug, Deserialize)]
struct Row {
    #[serde(rename = "type")]
    kind: Option<serde_json::Value>,
    number: Option<Quantity>,
    hash: Option<String>,
    parent_hash: Option<String>,
    timestamp: Option<Quantity>,
    block_number: Option<Quantity>,
    block_id: Option<Quantity>,
    block_hash: Option<String>,
    block_timestamp: Option<Quantity>,
    transaction_hash: Option<String>,
    tx_hash: Option<String>,
    transaction_index: Option<Quantity>,
    from_address: Option<String>,
    to_address: Option<String>,
    value: Option<Quantity>,
    receipt_status: Option<Quantity>,
    receipt_contract_address: Option<String>,
    transaction_type: Option<Quantity>,
    log_index: Option<Quantity>,
    address: Option<String>,
    topics: Option<Vec<String>>,
    data: Option<String>,
    removed: Option<bool>,
    token_address: Option<String>,
    trace_type: Option<String>,
    call_type: Option<String>,
    trace_address: Option<TraceAddress>,
    error: Option<String>,
    status: Option<Quantity>,
    caller_address: Option<String>,
    transferto_address: Option<String>,
    call_value: Option<Quantity>,
    call_token_id: Option<serde_json::Value>,
    rejected: Option<bool>,
    trace_index: Option<Quantity>,
    transaction_traces: Option<serde_json::Value>,
    receipts_root: Option<String>,
    transaction_count: Option<Quantity>,
    receipt_cumulative_gas_used: Option<Quantity>,
    receipt_root: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowKind {
    Block,
    Transaction,
    Log,
    TokenTransfer,
    Trace,
    TronTrace,
    GethBlock,
    Other,
}

fn kind_of(r: &Row) -> RowKind {
    if let Some(serde_json::Value::String(t)) = &r.kind {
        return match t.as_str() {
            "block" => RowKind::Block,
            "transaction" => RowKind::Transaction,
            "log" => RowKind::Log,
            "token_transfer" => RowKind::TokenTransfer,
            "trace" => RowKind::Trace,
            _ => RowKind::Other,
        };
    }
    if r.transaction_traces.is_some() {
        RowKind::GethBlock
    } else if r.topics.is_some() {
        RowKind::Log
    } else if r.caller_address.is_some() || r.transferto_address.is_some() {
        RowKind::TronTrace
    } else if r.trace_type.is_some() || r.trace_address.is_some() {
        RowKind::Trace
    } else if r.token_address.is_some() {
        RowKind::TokenTransfer
    } else if r.tx_hash.is_some() || r.transaction_hash.is_some() || r.from_address.is_some() {
        RowKind::Transaction
    } else if r.parent_hash.is_some() {
        RowKind::Block
    } else {
        RowKind::Other
    }
}

/// Reads JSON Lines into `asm`.
pub(crate) fn read_lines(
    path: &Path,
    chain: Chain,
    text: &str,
    assets: &AssetRegistry,
    asm: &mut Assembly,
) -> Result<(), IngestError> {
    let mut saw_logs = false;
    let mut token_rows: Vec<(u64, Move)> = Vec::new();
    let mut traces = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        let quoted = quote_long_integers(line);
        let row: Row = serde_json::from_str(&quoted).map_err(|e| {
            IngestError::invalid(path, Location::Line(n), format!("malformed json: {e}"))
        })?;
        let f = Fields::on_line(path, chain, n);
        match kind_of(&row) {
            RowKind::Block => block(&f, &row, asm)?,
            RowKind::Transaction => transaction(&f, &row, asm)?,
            RowKind::Log => {
                saw_logs = true;
                log(&f, assets, &row, asm)?;
            }
            RowKind::TokenTransfer => {
                if let Some(t) = token_transfer(&f, assets, &row)? {
                    token_rows.push(t);
                }
            }
            RowKind::Trace => traces.push(eth_trace(&f, &row)?),
            RowKind::TronTrace => tron_trace(&f, &row, asm)?,
            RowKind::GethBlock => {
                let doc: serde_json::Value = serde_json::from_str(&quoted).map_err(|e| {
                    IngestError::invalid(path, Location::Line(n), format!("malformed json: {e}"))
                })?;
                trace::geth_facts(path, &doc)?.apply(path, asm);
            }
            RowKind::Other => {}
        }
    }
    if !traces.is_empty() {
        trace::reduce_flats(traces).apply(path, asm);
    }
    if !saw_logs {
        for (h, m) in token_rows {
            asm.block(h).push(m);
        }
    }
    Ok(())
}

fn height(f: &Fields<'_>, r: &Row) -> Result<u64, IngestError> {
    match (&r.block_number, &r.block_id) {
        (Some(q), _) => f.u64("block_number", q),
        (None, Some(q)) => f.u64("block_id", q),
        (None, None) => Err(f.err("block_number", "missing field (nor block_id)")),
    }
}

fn txid(f: &Fields<'_>, r: &Row, also_hash: bool) -> Result<floodgate_types::Hash32, IngestError> {
    if let Some(h) = &r.transaction_hash {
        return f.hash("transaction_hash", h);
    }
    if let Some(h) = &r.tx_hash {
        return f.hash("tx_hash", h);
    }
    match (&r.hash, also_hash) {
        (Some(h), true) => f.hash("hash", h),
        _ => Err(f.err("transaction_hash", "missing field (nor tx_hash)")),
    }
}

fn block(f: &Fields<'_>, r: &Row, asm: &mut Assembly) -> Result<(), IngestError> {
    let h = match &r.number {
        Some(q) => f.u64("number", q)?,
        None => height(f, r)?,
    };
    let hash = match &r.hash {
        Some(s) => Some(f.hash("hash", s)?),
        None => f.opt_hash("block_hash", &r.block_hash)?,
    };
    let parent = f.opt_hash("parent_hash", &r.parent_hash)?;
    let time = f.opt_time("timestamp", &r.timestamp)?;
    tron_block_id(f, h, hash, if r.hash.is_some() { "hash" } else { "block_hash" })?;
    let facts = asm.block(h);
    facts.header(hash, parent, time);
    if f.chain == Chain::Ethereum {
        let count = f.opt_u64("transaction_count", &r.transaction_count)?;
        let count = count
            .map(usize::try_from)
            .transpose()
            .map_err(|_| f.err("transaction_count", "does not fit in memory on this machine"))?;
        facts.roots(f.opt_hash("receipts_root", &r.receipts_root)?, count);
    }
    Ok(())
}

fn common(f: &Fields<'_>, r: &Row, asm: &mut Assembly) -> Result<u64, IngestError> {
    let h = height(f, r)?;
    let hash = f.opt_hash("block_hash", &r.block_hash)?;
    let time = f.opt_time("block_timestamp", &r.block_timestamp)?;
    tron_block_id(f, h, hash, "block_hash")?;
    asm.block(h).header(hash, None, time);
    Ok(h)
}

/// A Tron block id begins with the block's height as 8 big-endian bytes (java-tron
/// `BlockCapsule.BlockId`); an Ethereum block hash does not. This is what tells Ethereum data
/// given to `ingest tron` apart: both use 20-byte hex accounts in GraphSense's tables.
fn tron_block_id(
    f: &Fields<'_>,
    height: u64,
    hash: Option<floodgate_types::Hash32>,
    field: &str,
) -> Result<(), IngestError> {
    let Some(hash) = hash.filter(|_| f.chain == Chain::Tron) else { return Ok(()) };
    let mut lead = [0u8; 8];
    lead.copy_from_slice(&hash.0[..8]);
    if u64::from_be_bytes(lead) != height {
        return Err(f.err(
            field,
            format!(
                "block hash {hash} of block {height} does not begin with the height ({height:016x}) \
                 as every Tron block id does: this is not Tron data (Ethereum? use `floodgate \
                 ingest ethereum`)"
            ),
        ));
    }
    Ok(())
}

fn transaction(f: &Fields<'_>, r: &Row, asm: &mut Assembly) -> Result<(), IngestError> {
    let h = common(f, r, asm)?;
    let txid = txid(f, r, true)?;
    let pos = f.opt_u32("transaction_index", &r.transaction_index)?;
    let failed = match &r.receipt_status {
        Some(s) => f.u64("receipt_status", s)? == 0,
        None => false,
    };
    let created = f.opt_address("receipt_contract_address", &r.receipt_contract_address)?;
    let value = match &r.value {
        Some(v) => f.amount("value", v)?,
        None => floodgate_types::Amount::ZERO,
    };
    let moves_native = match f.chain {
        Chain::Tron => match &r.transaction_type {
            None => true,
            Some(t) => matches!(f.u64("transaction_type", t)?, 1 | 31),
        },
        _ => true,
    };
    let from = match (f.chain, &r.from_address) {
        (Chain::Tron, None) => None,
        _ => Some(f.address("from_address", f.need("from_address", &r.from_address)?)?),
    };
    let to = f.opt_address("to_address", &r.to_address)?;
    let receipt = match (&r.receipt_cumulative_gas_used, f.chain) {
        (Some(gas), Chain::Ethereum) => {
            let outcome = match (&r.receipt_status, &r.receipt_root) {
                (Some(s), _) => Some(Outcome::Status(f.u64("receipt_status", s)?)),
                (None, Some(root)) => Some(Outcome::Root(f.hex_bytes("receipt_root", root)?)),
                (None, None) => None,
            };
            let tx_type = match &r.transaction_type {
                Some(t) => u8::try_from(f.u64("transaction_type", t)?)
                    .map_err(|_| f.err("transaction_type", "above 255"))?,
                None => 0,
            };
            match outcome {
                Some(outcome) => Some(ReceiptParts {
                    tx_type,
                    outcome,
                    cumulative_gas: super::rpc::uint(f, "receipt_cumulative_gas_used", gas)?,
                    bloom: None,
                }),
                None => None,
            }
        }
        _ => None,
    };
    let facts = asm.block(h);
    if let Some(p) = pos {
        facts.tx(p, txid);
        if let Some(receipt) = receipt {
            facts.receipt(p, receipt);
        }
    }
    if failed {
        facts.fail(Some(txid), pos);
    }
    if let Some(c) = created {
        facts.created(txid, c);
    }
    if let (Some(from), true, false) = (from, moves_native, value.is_zero()) {
        facts.push(Move {
            txid: Some(txid),
            tx_position: pos,
            index: TransferIndex::Tx,
            kind: TransferKind::Native,
            from,
            to,
            asset: AssetId(super::rpc::native_symbol(f).to_owned()),
            amount: value,
            origin: (f.path.to_owned(), f.at("value")),
        });
    }
    Ok(())
}

fn log(
    f: &Fields<'_>,
    assets: &AssetRegistry,
    r: &Row,
    asm: &mut Assembly,
) -> Result<(), IngestError> {
    if r.removed == Some(true) {
        return Ok(());
    }
    let h = common(f, r, asm)?;
    let txid = txid(f, r, false)?;
    let pos = f.opt_u32("transaction_index", &r.transaction_index)?;
    let log_index = f.u32("log_index", f.need("log_index", &r.log_index)?)?;
    let topics = r.topics.as_deref().unwrap_or(&[]);
    let raw = RawLog {
        address: r.address.as_deref(),
        topics,
        data: r.data.as_deref(),
        txid,
        tx_position: pos,
        log_index,
    };
    let mv = transfer_move(f, assets, &raw)?;
    // Receipts roots are Ethereum's; Tron rows spell addresses in base58 and carry no roots.
    let parts = match f.chain {
        Chain::Ethereum => {
            Some(super::rpc::log_parts(f, r.address.as_deref(), topics, r.data.as_deref())?)
        }
        _ => None,
    };
    let facts = asm.block(h);
    if let Some(p) = pos {
        facts.tx(p, txid);
        if let Some(parts) = parts {
            facts.log(p, log_index, parts);
        }
    }
    if let Some(mv) = mv {
        facts.push(mv);
    }
    Ok(())
}

fn token_transfer(
    f: &Fields<'_>,
    assets: &AssetRegistry,
    r: &Row,
) -> Result<Option<(u64, Move)>, IngestError> {
    let h = height(f, r)?;
    let txid = txid(f, r, false)?;
    let contract = f.address("token_address", f.need("token_address", &r.token_address)?)?;
    let from = f.address("from_address", f.need("from_address", &r.from_address)?)?;
    let to = f.address("to_address", f.need("to_address", &r.to_address)?)?;
    let amount = f.amount("value", f.need("value", &r.value)?)?;
    let log_index = f.u32("log_index", f.need("log_index", &r.log_index)?)?;
    Ok(Some((
        h,
        Move {
            txid: Some(txid),
            tx_position: f.opt_u32("transaction_index", &r.transaction_index)?,
            index: TransferIndex::Log(log_index),
            kind: TransferKind::Token,
            from,
            to: Some(to),
            asset: assets.token_id(&contract),
            amount,
            origin: (f.path.to_owned(), f.at("value")),
        },
    )))
}

fn eth_trace(f: &Fields<'_>, r: &Row) -> Result<trace::Flat, IngestError> {
    let h = height(f, r)?;
    let kind = r.trace_type.as_deref().unwrap_or("");
    let txid = match kind {
        "reward" | "genesis" | "daofork" => None,
        _ => Some(txid(f, r, false)?),
    };
    let pos = f.opt_u32("transaction_index", &r.transaction_index)?;
    let address = f.trace_address("trace_address", &r.trace_address)?;
    let status_failed = match &r.status {
        Some(s) => f.u64("status", s)? == 0,
        None => false,
    };
    let errored = status_failed || r.error.as_deref().is_some_and(|e| !e.is_empty());
    let to = f.opt_address("to_address", &r.to_address)?;
    let amount = match &r.value {
        Some(v) => f.amount("value", v)?,
        None => floodgate_types::Amount::ZERO,
    };
    let call = match (kind, r.call_type.as_deref()) {
        ("call", Some("call") | None) => Some("call"),
        ("create", _) => Some("create"),
        ("suicide", _) => Some("suicide"),
        _ => None,
    };
    let mv = match (call, amount.is_zero(), &to) {
        (Some(call), false, Some(to)) => {
            let from = f.address("from_address", f.need("from_address", &r.from_address)?)?;
            Some((call, from, to.clone(), amount))
        }
        _ => None,
    };
    Ok(trace::Flat {
        height: Some(h),
        txid,
        pos,
        address,
        errored,
        mv: if txid.is_some() { mv } else { None },
        created: if call == Some("create") { to } else { None },
        at: f.at("value"),
    })
}

fn tron_trace(f: &Fields<'_>, r: &Row, asm: &mut Assembly) -> Result<(), IngestError> {
    let h = height(f, r)?;
    let txid = txid(f, r, false)?;
    let amount = match &r.call_value {
        Some(v) => f.amount("call_value", v)?,
        None => floodgate_types::Amount::ZERO,
    };
    let trx = matches!(r.call_token_id, None | Some(serde_json::Value::Null));
    if amount.is_zero() || !trx || r.rejected == Some(true) {
        return Ok(());
    }
    let from = f.address("caller_address", f.need("caller_address", &r.caller_address)?)?;
    let to =
        f.address("transferto_address", f.need("transferto_address", &r.transferto_address)?)?;
    let index = f.u32("trace_index", f.need("trace_index", &r.trace_index)?)?;
    asm.block(h).push(Move {
        txid: Some(txid),
        tx_position: None,
        index: TransferIndex::Trace(vec![index]),
        kind: TransferKind::Internal,
        from,
        to: Some(to),
        asset: AssetId("TRX".to_owned()),
        amount,
        origin: (f.path.to_owned(), f.at("call_value")),
    });
    Ok(())
}
