//! JSON-RPC results: `eth_getBlockByNumber` (with full transactions, or hashes only),
//! `eth_getTransactionReceipt` / `eth_getBlockReceipts`, and `eth_getLogs` /
//! `eth_getFilterLogs`, as specified by the
//! [Ethereum execution API](https://ethereum.github.io/execution-apis/api-documentation/).
//! Quantities are `0x` hex strings.

use floodgate_types::{AssetId, AssetRegistry, TransferIndex, TransferKind};
use serde::Deserialize;

use super::assembly::{Assembly, Move};
use super::fields::{Fields, Quantity};
use super::log::{transfer_move, RawLog};
use crate::IngestError;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RpcBlock {
    number: Option<Quantity>,
    hash: Option<String>,
    parent_hash: Option<String>,
    timestamp: Option<Quantity>,
    #[serde(default)]
    transactions: Vec<RpcTxEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RpcTxEntry {
    Hash(String),
    Full(RpcTx),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RpcTx {
    hash: Option<String>,
    from: Option<String>,
    to: Option<String>,
    value: Option<Quantity>,
    transaction_index: Option<Quantity>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RpcReceipt {
    transaction_hash: Option<String>,
    transaction_index: Option<Quantity>,
    block_number: Option<Quantity>,
    block_hash: Option<String>,
    /// `0x1` success, `0x0` failure; absent before Byzantium (block 4 370 000), when receipts
    /// carried a state `root` instead and failure was not recorded.
    status: Option<Quantity>,
    contract_address: Option<String>,
    #[serde(default)]
    logs: Vec<RpcLog>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RpcLog {
    address: Option<String>,
    #[serde(default)]
    topics: Vec<String>,
    data: Option<String>,
    block_number: Option<Quantity>,
    block_hash: Option<String>,
    transaction_hash: Option<String>,
    transaction_index: Option<Quantity>,
    log_index: Option<Quantity>,
    removed: Option<bool>,
}

/// Adds a block: its header and one native transfer per transaction with value.
pub(crate) fn add_block(
    f: &Fields<'_>,
    b: &RpcBlock,
    asm: &mut Assembly,
) -> Result<(), IngestError> {
    let height = f.u64("number", f.need("number", &b.number)?)?;
    let hash = f.opt_hash("hash", &b.hash)?;
    let parent = f.opt_hash("parentHash", &b.parent_hash)?;
    let time = f.opt_time("timestamp", &b.timestamp)?;
    let native = AssetId(native_symbol(f).to_owned());
    let facts = asm.block(height);
    facts.header(hash, parent, time);
    for (i, entry) in b.transactions.iter().enumerate() {
        let field = |name: &str| format!("transactions[{i}].{name}");
        let pos = u32::try_from(i).map_err(|_| f.err("transactions", "too many transactions"))?;
        match entry {
            RpcTxEntry::Hash(h) => facts.tx(pos, f.hash(&field("hash"), h)?),
            RpcTxEntry::Full(tx) => {
                let txid = f.hash(&field("hash"), f.need(&field("hash"), &tx.hash)?)?;
                let pos =
                    f.opt_u32(&field("transactionIndex"), &tx.transaction_index)?.unwrap_or(pos);
                facts.tx(pos, txid);
                let value = match &tx.value {
                    Some(v) => f.amount(&field("value"), v)?,
                    None => continue,
                };
                if value.is_zero() {
                    continue;
                }
                let from = f.address(&field("from"), f.need(&field("from"), &tx.from)?)?;
                let to = f.opt_address(&field("to"), &tx.to)?;
                facts.push(Move {
                    txid: Some(txid),
                    tx_position: Some(pos),
                    index: TransferIndex::Tx,
                    kind: TransferKind::Native,
                    from,
                    to,
                    asset: native.clone(),
                    amount: value,
                    origin: (f.path.to_owned(), f.at(&field("value"))),
                });
            }
        }
    }
    Ok(())
}

pub(crate) fn native_symbol(f: &Fields<'_>) -> &'static str {
    match f.chain {
        floodgate_types::Chain::Tron => "TRX",
        _ => "ETH",
    }
}

/// Adds a receipt: its status, created contract and `Transfer` logs.
pub(crate) fn add_receipt(
    f: &Fields<'_>,
    assets: &AssetRegistry,
    r: &RpcReceipt,
    asm: &mut Assembly,
) -> Result<(), IngestError> {
    let height = f.u64("blockNumber", f.need("blockNumber", &r.block_number)?)?;
    let txid = f.hash("transactionHash", f.need("transactionHash", &r.transaction_hash)?)?;
    let pos = f.opt_u32("transactionIndex", &r.transaction_index)?;
    let block_hash = f.opt_hash("blockHash", &r.block_hash)?;
    let contract = f.opt_address("contractAddress", &r.contract_address)?;
    let failed = match &r.status {
        Some(s) => f.u64("status", s)? == 0,
        None => false,
    };
    let facts = asm.block(height);
    facts.header(block_hash, None, None);
    if let Some(p) = pos {
        facts.tx(p, txid);
    }
    if failed {
        facts.fail(Some(txid), pos);
    }
    if let Some(c) = contract {
        facts.created(txid, c);
    }
    for (i, log) in r.logs.iter().enumerate() {
        let lf = f.nested(format!("logs[{i}]"));
        add_log_inner(&lf, assets, log, Some(height), Some(txid), pos, asm)?;
    }
    Ok(())
}

/// Adds one log from `eth_getLogs` / `eth_getFilterLogs`.
pub(crate) fn add_log(
    f: &Fields<'_>,
    assets: &AssetRegistry,
    log: &RpcLog,
    asm: &mut Assembly,
) -> Result<(), IngestError> {
    add_log_inner(f, assets, log, None, None, None, asm)
}

fn add_log_inner(
    f: &Fields<'_>,
    assets: &AssetRegistry,
    log: &RpcLog,
    height: Option<u64>,
    txid: Option<floodgate_types::Hash32>,
    pos: Option<u32>,
    asm: &mut Assembly,
) -> Result<(), IngestError> {
    if log.removed == Some(true) {
        // A log from a block that a reorg removed: it moved nothing on the canonical chain.
        return Ok(());
    }
    let height = match height {
        Some(h) => h,
        None => f.u64("blockNumber", f.need("blockNumber", &log.block_number)?)?,
    };
    let txid = match txid {
        Some(t) => t,
        None => f.hash("transactionHash", f.need("transactionHash", &log.transaction_hash)?)?,
    };
    let pos = match pos {
        Some(p) => Some(p),
        None => f.opt_u32("transactionIndex", &log.transaction_index)?,
    };
    let log_index = f.u32("logIndex", f.need("logIndex", &log.log_index)?)?;
    let block_hash = f.opt_hash("blockHash", &log.block_hash)?;
    let raw = RawLog {
        address: log.address.as_deref(),
        topics: &log.topics,
        data: log.data.as_deref(),
        txid,
        tx_position: pos,
        log_index,
    };
    let mv = transfer_move(f, assets, &raw)?;
    let facts = asm.block(height);
    facts.header(block_hash, None, None);
    if let Some(p) = pos {
        facts.tx(p, txid);
    }
    if let Some(mv) = mv {
        facts.push(mv);
    }
    Ok(())
}
