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
use super::verify::{
    keccak, ordered_trie_root, rlp_bytes, rlp_list, rlp_uint, LogParts, Outcome, ReceiptParts,
    Unverified,
};
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
    sha3_uncles: Option<String>,
    miner: Option<String>,
    state_root: Option<String>,
    transactions_root: Option<String>,
    receipts_root: Option<String>,
    logs_bloom: Option<String>,
    difficulty: Option<Quantity>,
    gas_limit: Option<Quantity>,
    gas_used: Option<Quantity>,
    extra_data: Option<String>,
    mix_hash: Option<String>,
    nonce: Option<String>,
    base_fee_per_gas: Option<Quantity>,
    withdrawals_root: Option<String>,
    blob_gas_used: Option<Quantity>,
    excess_blob_gas: Option<Quantity>,
    parent_beacon_block_root: Option<String>,
    requests_hash: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RpcTxEntry {
    Hash(String),
    Full(Box<RpcTx>),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RpcTx {
    hash: Option<String>,
    from: Option<String>,
    to: Option<String>,
    value: Option<Quantity>,
    transaction_index: Option<Quantity>,
    block_hash: Option<String>,
    #[serde(rename = "type")]
    tx_type: Option<Quantity>,
    nonce: Option<Quantity>,
    gas_price: Option<Quantity>,
    gas: Option<Quantity>,
    input: Option<String>,
    v: Option<Quantity>,
    r: Option<Quantity>,
    s: Option<Quantity>,
    y_parity: Option<Quantity>,
    chain_id: Option<Quantity>,
    max_fee_per_gas: Option<Quantity>,
    max_priority_fee_per_gas: Option<Quantity>,
    access_list: Option<Vec<AccessItem>>,
    max_fee_per_blob_gas: Option<Quantity>,
    blob_versioned_hashes: Option<Vec<String>>,
    authorization_list: Option<Vec<Authorization>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessItem {
    address: String,
    #[serde(default)]
    storage_keys: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Authorization {
    chain_id: Quantity,
    address: String,
    nonce: Quantity,
    y_parity: Option<Quantity>,
    v: Option<Quantity>,
    r: Quantity,
    s: Quantity,
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
    #[serde(rename = "type")]
    tx_type: Option<Quantity>,
    cumulative_gas_used: Option<Quantity>,
    logs_bloom: Option<String>,
    root: Option<String>,
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
    let checks = check_block(f, b, height, hash)?;
    for c in checks.chain_ids {
        if !asm.chain_ids.contains(&c) {
            asm.chain_ids.push(c);
        }
    }
    asm.notes.extend(checks.notes);
    if height == 0 {
        asm.genesis = hash;
    }
    let receipts_root = f.opt_hash("receiptsRoot", &b.receipts_root)?;
    let facts = asm.block(height);
    facts.header(hash, parent, time);
    facts.roots(receipts_root, Some(b.transactions.len()));
    facts.checked("block-hash");
    facts.checked("transactions-root");
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
    let parts = match (&r.cumulative_gas_used, pos) {
        (Some(gas), Some(_)) => Some(ReceiptParts {
            tx_type: match &r.tx_type {
                Some(t) => u8::try_from(f.u64("type", t)?)
                    .map_err(|_| f.err("type", "transaction type above 255"))?,
                None => 0,
            },
            outcome: match (&r.status, &r.root) {
                (Some(s), _) => Outcome::Status(f.u64("status", s)?),
                (None, Some(root)) => Outcome::Root(f.hex_bytes("root", root)?),
                (None, None) => return Err(f.err("status", "missing field (nor root)")),
            },
            cumulative_gas: uint(f, "cumulativeGasUsed", gas)?,
            bloom: r.logs_bloom.as_deref().map(|b| f.hex_bytes("logsBloom", b)).transpose()?,
        }),
        _ => None,
    };
    let facts = asm.block(height);
    facts.header(block_hash, None, None);
    if let Some(p) = pos {
        facts.tx(p, txid);
        if let Some(parts) = parts {
            facts.receipt(p, parts);
        }
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
    let parts = log_parts(f, log.address.as_deref(), &log.topics, log.data.as_deref())?;
    let facts = asm.block(height);
    facts.header(block_hash, None, None);
    if let Some(p) = pos {
        facts.tx(p, txid);
        facts.log(p, log_index, parts);
    }
    if let Some(mv) = mv {
        facts.push(mv);
    }
    Ok(())
}

/// The raw parts of a log, for the receipts root.
pub(crate) fn log_parts(
    f: &Fields<'_>,
    address: Option<&str>,
    topics: &[String],
    data: Option<&str>,
) -> Result<LogParts, IngestError> {
    Ok(LogParts {
        address: f.hex_bytes("address", address.unwrap_or(""))?,
        topics: topics
            .iter()
            .enumerate()
            .map(|(i, t)| f.hex_bytes(&format!("topics[{i}]"), t))
            .collect::<Result<_, _>>()?,
        data: f.hex_bytes("data", data.unwrap_or("0x"))?,
    })
}

/// A quantity as big-endian bytes (RLP drops the leading zeros).
pub(crate) fn uint(f: &Fields<'_>, field: &str, q: &Quantity) -> Result<Vec<u8>, IngestError> {
    Ok(f.amount(field, q)?.to_be_bytes().to_vec())
}

/// What [`check_block`] found besides refusals.
pub(crate) struct BlockChecks {
    pub(crate) chain_ids: Vec<u64>,
    pub(crate) notes: Vec<Unverified>,
}

/// Checks the block hash against its header fields and each full transaction's hash and the
/// transactions root against the transactions (see [`super::verify`]).
fn check_block(
    f: &Fields<'_>,
    b: &RpcBlock,
    height: u64,
    hash: Option<floodgate_types::Hash32>,
) -> Result<BlockChecks, IngestError> {
    let mut out = BlockChecks { chain_ids: Vec::new(), notes: Vec::new() };
    let refuse = |field: &str, check: &str, detail: String| {
        f.err(
            field,
            format!(
                "block {height} ({}) fails the {check} check: {detail}; nothing of this input was stored",
                hash.map_or_else(|| "no hash".to_owned(), |h| h.to_hex_prefixed())
            ),
        )
    };
    match (hash, header_rlp(f, b, height)?) {
        (Some(h), Ok(rlp)) => {
            let computed = keccak(&rlp);
            if computed != h.0 {
                return Err(refuse(
                    "hash",
                    "block-hash",
                    format!("its header fields hash to 0x{}", hex::encode(computed)),
                ));
            }
        }
        (None, _) => out.notes.push(Unverified {
            height,
            check: "block-hash",
            reason: "the block has no hash".to_owned(),
        }),
        (Some(_), Err(missing)) => out.notes.push(Unverified {
            height,
            check: "block-hash",
            reason: format!("the header lacks {missing}"),
        }),
    }
    let mut encodings = Vec::with_capacity(b.transactions.len());
    let mut unverifiable = None;
    // One verification context for the block's signatures (it allocates).
    let secp = secp256k1::Secp256k1::verification_only();
    // Full transactions without `from` or a signature: their sender cannot be checked.
    let mut unsigned = 0usize;
    for (i, entry) in b.transactions.iter().enumerate() {
        let tx = match entry {
            RpcTxEntry::Full(tx) => tx,
            RpcTxEntry::Hash(_) => {
                unverifiable = Some("transactions are given as hashes only".to_owned());
                break;
            }
        };
        let tf = f.nested(format!("transactions[{i}]"));
        if let (Some(bh), Some(h)) = (&tx.block_hash, hash) {
            if tf.hash("blockHash", bh)? != h {
                return Err(refuse(
                    &format!("transactions[{i}].blockHash"),
                    "transaction-block",
                    format!("transaction {i} names block {bh}"),
                ));
            }
        }
        if let Some(p) = &tx.transaction_index {
            if tf.u64("transactionIndex", p)? != i as u64 {
                return Err(refuse(
                    &format!("transactions[{i}].transactionIndex"),
                    "transaction-index",
                    format!("transaction {i} says it is at position {}", p.0),
                ));
            }
        }
        match tx_encoding(&tf, tx)? {
            Ok(TxEncoding { enc, chain_id, sig }) => {
                let given = tf.hash("hash", tf.need("hash", &tx.hash)?)?;
                let computed = keccak(&enc);
                if computed != given.0 {
                    return Err(refuse(
                        &format!("transactions[{i}].hash"),
                        "transaction-hash",
                        format!(
                            "transaction {i} ({given}) encodes to a transaction with hash 0x{}",
                            hex::encode(computed)
                        ),
                    ));
                }
                match (sig, &tx.from) {
                    (Some(sig), Some(from)) => {
                        let named = tf.hex_bytes("from", from)?;
                        match sig.signer(&secp) {
                            Ok(signer) if signer[..] == named[..] => {}
                            Ok(signer) => {
                                return Err(refuse(
                                    &format!("transactions[{i}].from"),
                                    "transaction-sender",
                                    format!(
                                        "transaction {i} ({given}) names sender {from} but its \
                                         signature was made by 0x{}",
                                        hex::encode(signer)
                                    ),
                                ))
                            }
                            Err(why) => {
                                return Err(refuse(
                                    &format!("transactions[{i}].r"),
                                    "transaction-sender",
                                    format!(
                                        "transaction {i} ({given}) has no valid signature: {why}"
                                    ),
                                ))
                            }
                        }
                    }
                    _ => unsigned += 1,
                }
                if let Some(c) = chain_id {
                    if !out.chain_ids.contains(&c) {
                        out.chain_ids.push(c);
                    }
                }
                encodings.push(enc);
            }
            Err(why) => {
                unverifiable = Some(format!("transaction {i}: {why}"));
                break;
            }
        }
    }
    let root = f.opt_hash("transactionsRoot", &b.transactions_root)?;
    match (root, unverifiable) {
        (Some(root), None) => {
            let computed = ordered_trie_root(&encodings);
            if computed != root.0 {
                return Err(refuse(
                    "transactionsRoot",
                    "transactions-root",
                    format!(
                        "the header commits to {root} but the {} transactions give 0x{}",
                        encodings.len(),
                        hex::encode(computed)
                    ),
                ));
            }
        }
        (None, _) => out.notes.push(Unverified {
            height,
            check: "transactions-root",
            reason: "the block has no transactionsRoot".to_owned(),
        }),
        (Some(_), Some(why)) => {
            out.notes.push(Unverified { height, check: "transactions-root", reason: why })
        }
    }
    if unsigned > 0 {
        out.notes.push(Unverified {
            height,
            check: "transaction-sender",
            reason: format!("{unsigned} transactions lack a sender or a signature"),
        });
    }
    Ok(out)
}

/// The RLP header, or the name of the first missing field.
fn header_rlp(
    f: &Fields<'_>,
    b: &RpcBlock,
    height: u64,
) -> Result<Result<Vec<u8>, &'static str>, IngestError> {
    let mut p = Vec::with_capacity(600);
    macro_rules! bytes {
        ($field:literal, $v:expr) => {
            match &$v {
                Some(s) => rlp_bytes(&mut p, &f.hex_bytes($field, s)?),
                None => return Ok(Err($field)),
            }
        };
    }
    macro_rules! num {
        ($field:literal, $v:expr) => {
            match &$v {
                Some(q) => rlp_uint(&mut p, &uint(f, $field, q)?),
                None => return Ok(Err($field)),
            }
        };
    }
    bytes!("parentHash", b.parent_hash);
    bytes!("sha3Uncles", b.sha3_uncles);
    bytes!("miner", b.miner);
    bytes!("stateRoot", b.state_root);
    bytes!("transactionsRoot", b.transactions_root);
    bytes!("receiptsRoot", b.receipts_root);
    bytes!("logsBloom", b.logs_bloom);
    num!("difficulty", b.difficulty);
    rlp_uint(&mut p, &height.to_be_bytes());
    num!("gasLimit", b.gas_limit);
    num!("gasUsed", b.gas_used);
    num!("timestamp", b.timestamp);
    bytes!("extraData", b.extra_data);
    bytes!("mixHash", b.mix_hash);
    bytes!("nonce", b.nonce);
    // Fork fields, each present only from its fork on, always in this order.
    let forks = [
        b.base_fee_per_gas.is_some(),
        b.withdrawals_root.is_some(),
        b.blob_gas_used.is_some(),
        b.excess_blob_gas.is_some(),
        b.parent_beacon_block_root.is_some(),
        b.requests_hash.is_some(),
    ];
    let last = forks.iter().rposition(|x| *x);
    if let Some(last) = last {
        if forks[..=last].iter().any(|x| !x) {
            return Ok(Err("a fork field before the last one given"));
        }
        let n = last + 1;
        if n > 0 {
            num!("baseFeePerGas", b.base_fee_per_gas);
        }
        if n > 1 {
            bytes!("withdrawalsRoot", b.withdrawals_root);
        }
        if n > 2 {
            num!("blobGasUsed", b.blob_gas_used);
        }
        if n > 3 {
            num!("excessBlobGas", b.excess_blob_gas);
        }
        if n > 4 {
            bytes!("parentBeaconBlockRoot", b.parent_beacon_block_root);
        }
        if n > 5 {
            bytes!("requestsHash", b.requests_hash);
        }
    }
    let mut out = Vec::with_capacity(p.len() + 4);
    rlp_list(&mut out, &p);
    Ok(Ok(out))
}

/// A transaction's encoding, the chain id it is signed for and its signature, or why the input
/// does not allow encoding it.
type Encoded = Result<TxEncoding, String>;

/// What [`tx_encoding`] rebuilds of one transaction.
struct TxEncoding {
    /// The canonical (EIP-2718) encoding, whose keccak-256 is the transaction hash.
    enc: Vec<u8>,
    /// The chain id it is signed for (legacy transactions before EIP-155 name none).
    chain_id: Option<u64>,
    /// What was signed and the signature, for recovering the sender.
    sig: Option<TxSignature>,
}

/// A transaction's canonical encoding and the chain id it is signed for (legacy transactions
/// before EIP-155 name none), or why it cannot be encoded from the input.
fn tx_encoding(f: &Fields<'_>, tx: &RpcTx) -> Result<Encoded, IngestError> {
    let tx_type = match &tx.tx_type {
        Some(t) => f.u64("type", t)?,
        None => 0,
    };
    if tx_type > 4 {
        return Ok(Err(format!("transaction type {tx_type} is not one this build encodes")));
    }
    let mut p = Vec::with_capacity(256);
    macro_rules! num {
        ($field:literal, $v:expr) => {
            match &$v {
                Some(q) => rlp_uint(&mut p, &uint(f, $field, q)?),
                None => return Ok(Err(format!("it lacks {}", $field))),
            }
        };
    }
    macro_rules! data {
        ($field:literal, $v:expr) => {
            match &$v {
                Some(s) => rlp_bytes(&mut p, &f.hex_bytes($field, s)?),
                None => return Ok(Err(format!("it lacks {}", $field))),
            }
        };
    }
    let to = |p: &mut Vec<u8>| -> Result<(), IngestError> {
        match tx.to.as_deref().map(str::trim) {
            None | Some("") => rlp_bytes(p, &[]),
            Some(s) => rlp_bytes(p, &f.hex_bytes("to", s)?),
        }
        Ok(())
    };
    let access_list = |p: &mut Vec<u8>| -> Result<(), IngestError> {
        let mut items = Vec::new();
        for (i, a) in tx.access_list.iter().flatten().enumerate() {
            let mut one = Vec::new();
            rlp_bytes(&mut one, &f.hex_bytes(&format!("accessList[{i}].address"), &a.address)?);
            let mut keys = Vec::new();
            for (j, k) in a.storage_keys.iter().enumerate() {
                rlp_bytes(
                    &mut keys,
                    &f.hex_bytes(&format!("accessList[{i}].storageKeys[{j}]"), k)?,
                );
            }
            rlp_list(&mut one, &keys);
            rlp_list(&mut items, &one);
        }
        rlp_list(p, &items);
        Ok(())
    };
    let y_parity = match (&tx.y_parity, &tx.v) {
        (Some(y), _) => Some(f.u64("yParity", y)?),
        (None, Some(v)) => Some(f.u64("v", v)?),
        (None, None) => None,
    };
    let chain_id = tx.chain_id.as_ref().map(|c| f.u64("chainId", c)).transpose()?;
    if tx_type == 0 {
        num!("nonce", tx.nonce);
        num!("gasPrice", tx.gas_price);
        num!("gas", tx.gas);
        to(&mut p)?;
        num!("value", tx.value);
        data!("input", tx.input);
        let unsigned = p.len();
        num!("v", tx.v);
        num!("r", tx.r);
        num!("s", tx.s);
        let v = y_parity.unwrap_or(0);
        // EIP-155: v = chain_id * 2 + 35 or 36; 27/28 sign for no chain.
        let signed_for = (v >= 35).then(|| (v - 35) / 2);
        if let (Some(c), Some(s)) = (chain_id, signed_for) {
            if c != s {
                return Err(f.err("chainId", format!("chainId {c} but v {v} signs for chain {s}")));
            }
        }
        // What was signed: the six fields, then (EIP-155) the chain id and two empty strings.
        let mut signed = p[..unsigned].to_vec();
        let recovery = match signed_for {
            Some(c) => {
                rlp_uint(&mut signed, &c.to_be_bytes());
                rlp_bytes(&mut signed, &[]);
                rlp_bytes(&mut signed, &[]);
                v - 35 - 2 * c
            }
            None => v.wrapping_sub(27),
        };
        let mut payload = Vec::with_capacity(signed.len() + 4);
        rlp_list(&mut payload, &signed);
        let sig = TxSignature::new(f, &payload, recovery, tx)?;
        let mut out = Vec::with_capacity(p.len() + 4);
        rlp_list(&mut out, &p);
        return Ok(Ok(TxEncoding { enc: out, chain_id: signed_for, sig }));
    }
    num!("chainId", tx.chain_id);
    num!("nonce", tx.nonce);
    if tx_type == 1 {
        num!("gasPrice", tx.gas_price);
    } else {
        num!("maxPriorityFeePerGas", tx.max_priority_fee_per_gas);
        num!("maxFeePerGas", tx.max_fee_per_gas);
    }
    num!("gas", tx.gas);
    to(&mut p)?;
    num!("value", tx.value);
    data!("input", tx.input);
    access_list(&mut p)?;
    if tx_type == 3 {
        num!("maxFeePerBlobGas", tx.max_fee_per_blob_gas);
        let mut hashes = Vec::new();
        for (i, h) in tx.blob_versioned_hashes.iter().flatten().enumerate() {
            rlp_bytes(&mut hashes, &f.hex_bytes(&format!("blobVersionedHashes[{i}]"), h)?);
        }
        rlp_list(&mut p, &hashes);
    }
    if tx_type == 4 {
        let mut auths = Vec::new();
        for (i, a) in tx.authorization_list.iter().flatten().enumerate() {
            let af = f.nested(format!("authorizationList[{i}]"));
            let mut one = Vec::new();
            rlp_uint(&mut one, &uint(&af, "chainId", &a.chain_id)?);
            rlp_bytes(&mut one, &af.hex_bytes("address", &a.address)?);
            rlp_uint(&mut one, &uint(&af, "nonce", &a.nonce)?);
            match a.y_parity.as_ref().or(a.v.as_ref()) {
                Some(y) => rlp_uint(&mut one, &uint(&af, "yParity", y)?),
                None => return Ok(Err(format!("authorization {i} lacks yParity"))),
            }
            rlp_uint(&mut one, &uint(&af, "r", &a.r)?);
            rlp_uint(&mut one, &uint(&af, "s", &a.s)?);
            rlp_list(&mut auths, &one);
        }
        rlp_list(&mut p, &auths);
    }
    // What was signed: the type byte and the fields before the signature.
    let mut payload = Vec::with_capacity(p.len() + 4);
    payload.push(tx_type as u8);
    rlp_list(&mut payload, &p);
    let y = match y_parity {
        Some(y) => y,
        None => return Ok(Err("it lacks yParity".to_owned())),
    };
    rlp_uint(&mut p, &y.to_be_bytes());
    num!("r", tx.r);
    num!("s", tx.s);
    let sig = TxSignature::new(f, &payload, y, tx)?;
    let mut out = Vec::with_capacity(p.len() + 4);
    out.push(tx_type as u8);
    rlp_list(&mut out, &p);
    Ok(Ok(TxEncoding { enc: out, chain_id, sig }))
}

/// A transaction's signing hash and signature: enough to recover who signed it.
struct TxSignature {
    /// keccak-256 of what was signed.
    sighash: [u8; 32],
    /// The recovery id (0 or 1; anything else is an invalid signature).
    recovery: u64,
    /// `r ‖ s`, each 32 bytes big-endian; `None` when either is wider than 32 bytes.
    rs: Option<[u8; 64]>,
}

impl TxSignature {
    fn new(
        f: &Fields<'_>,
        payload: &[u8],
        recovery: u64,
        tx: &RpcTx,
    ) -> Result<Option<TxSignature>, IngestError> {
        let (Some(r), Some(s)) = (&tx.r, &tx.s) else { return Ok(None) };
        let mut rs = Some([0u8; 64]);
        for (half, be) in [uint(f, "r", r)?, uint(f, "s", s)?].iter().enumerate() {
            let start = be.iter().position(|b| *b != 0).unwrap_or(be.len());
            let digits = &be[start..];
            match rs.as_mut() {
                Some(out) if digits.len() <= 32 => {
                    out[half * 32 + 32 - digits.len()..half * 32 + 32].copy_from_slice(digits)
                }
                _ => rs = None,
            }
        }
        Ok(Some(TxSignature { sighash: keccak(payload), recovery, rs }))
    }

    /// The 20-byte address whose key made this signature, or why there is none.
    fn signer(
        &self,
        secp: &secp256k1::Secp256k1<secp256k1::VerifyOnly>,
    ) -> Result<[u8; 20], String> {
        use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
        let rs = self.rs.ok_or("r or s is wider than 32 bytes")?;
        let id = i32::try_from(self.recovery)
            .ok()
            .and_then(|r| RecoveryId::from_i32(r).ok())
            .ok_or_else(|| format!("recovery id {} is not 0 or 1", self.recovery))?;
        let sig = RecoverableSignature::from_compact(&rs, id).map_err(|e| e.to_string())?;
        let msg = secp256k1::Message::from_digest(self.sighash);
        let key = secp.recover_ecdsa(&msg, &sig).map_err(|e| e.to_string())?;
        let hash = keccak(&key.serialize_uncompressed()[1..]);
        let mut out = [0u8; 20];
        out.copy_from_slice(&hash[12..]);
        Ok(out)
    }
}
