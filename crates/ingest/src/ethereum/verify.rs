//! What an Ethereum input must prove before its blocks are handed on (issue 9, item 2): the
//! checks a node makes on a block body it did not execute.
//!
//! - **Block hash.** keccak-256 of the RLP header
//!   ([Yellow Paper §4.3](https://ethereum.github.io/yellowpaper/paper.pdf); fork fields
//!   appended in order: EIP-1559 `baseFeePerGas`, EIP-4895 `withdrawalsRoot`, EIP-4844
//!   `blobGasUsed`/`excessBlobGas`, EIP-4788 `parentBeaconBlockRoot`, EIP-7685
//!   `requestsHash`) must equal the block's `hash`, so `parentHash`, `number`, `timestamp` and
//!   both roots below are bound to the hash the next block links to.
//! - **Transactions.** Each full transaction's canonical encoding (legacy RLP, or the
//!   EIP-2718 type byte and RLP payload of EIP-2930, EIP-1559, EIP-4844 and EIP-7702
//!   transactions) must hash to its `hash`, and the ordered Merkle-Patricia trie over the
//!   encodings must give `transactionsRoot`.
//! - **Receipts.** When the input holds the receipt of every transaction of a block (JSON-RPC
//!   receipts, or ethereum-etl transaction rows with their log rows), the trie over the
//!   receipt encodings (EIP-658 status or pre-Byzantium state root, cumulative gas, bloom,
//!   logs) must give `receiptsRoot`.
//!
//! - **Senders.** `from` is not part of the encoding: the signing hash (legacy: the six fields,
//!   plus the chain id and two empty strings under EIP-155; typed: the type byte and the fields
//!   before the signature) and `r`, `s`, `v`/`yParity` recover the signer's public key
//!   (secp256k1), whose keccak-256 gives the address `from` must equal.
//!
//! Not checked: state and execution. What an input does not
//! allow to be checked (a block with transaction hashes only, a block without its receipts,
//! a transaction type this build does not know) is counted as an unverified note, not refused.

use floodgate_types::Hash32;
use sha3::{Digest, Keccak256};

/// keccak-256.
pub(crate) fn keccak(bytes: &[u8]) -> [u8; 32] {
    Keccak256::digest(bytes).into()
}

/// Appends the RLP encoding of a byte string.
pub(crate) fn rlp_bytes(out: &mut Vec<u8>, b: &[u8]) {
    if b.len() == 1 && b[0] < 0x80 {
        out.push(b[0]);
    } else {
        rlp_len(out, b.len(), 0x80);
        out.extend_from_slice(b);
    }
}

/// Appends the RLP encoding of an unsigned integer given big-endian (leading zeros dropped).
pub(crate) fn rlp_uint(out: &mut Vec<u8>, be: &[u8]) {
    let start = be.iter().position(|b| *b != 0).unwrap_or(be.len());
    rlp_bytes(out, &be[start..]);
}

/// Appends an RLP list around an already-encoded payload.
pub(crate) fn rlp_list(out: &mut Vec<u8>, payload: &[u8]) {
    rlp_len(out, payload.len(), 0xc0);
    out.extend_from_slice(payload);
}

fn rlp_len(out: &mut Vec<u8>, len: usize, offset: u8) {
    if len < 56 {
        out.push(offset + len as u8);
    } else {
        let be = (len as u64).to_be_bytes();
        let start = be.iter().position(|b| *b != 0).unwrap_or(7);
        out.push(offset + 55 + (8 - start) as u8);
        out.extend_from_slice(&be[start..]);
    }
}

/// The root of the ordered trie Ethereum builds over a block's transactions or receipts: key
/// `rlp(i)`, value the i-th encoding.
pub(crate) fn ordered_trie_root(values: &[Vec<u8>]) -> [u8; 32] {
    if values.is_empty() {
        return keccak(&[0x80]);
    }
    let mut items: Vec<(Vec<u8>, &[u8])> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let mut key = Vec::new();
            rlp_uint(&mut key, &(i as u64).to_be_bytes());
            (key.iter().flat_map(|b| [b >> 4, b & 0x0f]).collect(), v.as_slice())
        })
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    keccak(&trie_node(&items, 0))
}

/// The RLP encoding of the trie node over `items` (sorted by key nibbles) below `depth`.
fn trie_node(items: &[(Vec<u8>, &[u8])], depth: usize) -> Vec<u8> {
    let mut payload = Vec::new();
    if let [(key, value)] = items {
        rlp_bytes(&mut payload, &hex_prefix(&key[depth..], true));
        rlp_bytes(&mut payload, value);
        let mut out = Vec::new();
        rlp_list(&mut out, &payload);
        return out;
    }
    // Longest prefix every key shares below `depth`: an extension node.
    let first = &items[0].0;
    let mut shared = 0;
    while depth + shared < first.len()
        && items
            .iter()
            .all(|(k, _)| k.len() > depth + shared && k[depth + shared] == first[depth + shared])
    {
        shared += 1;
    }
    if shared > 0 {
        rlp_bytes(&mut payload, &hex_prefix(&first[depth..depth + shared], false));
        node_ref(&mut payload, trie_node(items, depth + shared));
    } else {
        let mut value: &[u8] = &[];
        let mut rest = items;
        if let Some(((k, v), tail)) = rest.split_first() {
            if k.len() == depth {
                value = v;
                rest = tail;
            }
        }
        for nibble in 0..16u8 {
            let n = rest.iter().take_while(|(k, _)| k[depth] == nibble).count();
            let (group, tail) = rest.split_at(n);
            rest = tail;
            if group.is_empty() {
                payload.push(0x80);
            } else {
                node_ref(&mut payload, trie_node(group, depth + 1));
            }
        }
        rlp_bytes(&mut payload, value);
    }
    let mut out = Vec::new();
    rlp_list(&mut out, &payload);
    out
}

/// A child is embedded when its encoding is shorter than 32 bytes, referenced by hash otherwise.
fn node_ref(out: &mut Vec<u8>, node: Vec<u8>) {
    if node.len() < 32 {
        out.extend_from_slice(&node);
    } else {
        rlp_bytes(out, &keccak(&node));
    }
}

/// Hex-prefix (compact) encoding of a nibble path (Yellow Paper appendix C).
fn hex_prefix(nibbles: &[u8], leaf: bool) -> Vec<u8> {
    let flag = if leaf { 2 } else { 0 };
    let mut out = Vec::with_capacity(nibbles.len() / 2 + 1);
    let mut rest = nibbles;
    if nibbles.len() % 2 == 1 {
        out.push(((flag + 1) << 4) | nibbles[0]);
        rest = &nibbles[1..];
    } else {
        out.push(flag << 4);
    }
    for pair in rest.chunks(2) {
        out.push((pair[0] << 4) | pair[1]);
    }
    out
}

/// One log as the receipt encodes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogParts {
    pub(crate) address: Vec<u8>,
    pub(crate) topics: Vec<Vec<u8>>,
    pub(crate) data: Vec<u8>,
}

/// What a receipt says besides its logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReceiptParts {
    /// EIP-2718 type (0 for legacy).
    pub(crate) tx_type: u8,
    /// EIP-658 status, or the pre-Byzantium intermediate state root.
    pub(crate) outcome: Outcome,
    pub(crate) cumulative_gas: Vec<u8>,
    /// The receipt's bloom when the input gives it; computed from the logs otherwise.
    pub(crate) bloom: Option<Vec<u8>>,
}

/// The first field of a receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Status(u64),
    Root(Vec<u8>),
}

/// The 2048-bit bloom of a receipt's logs (Yellow Paper §4.3.1).
pub(crate) fn logs_bloom(logs: &[LogParts]) -> Vec<u8> {
    let mut bloom = vec![0u8; 256];
    for log in logs {
        for item in std::iter::once(&log.address).chain(log.topics.iter()) {
            let h = keccak(item);
            for i in [0, 2, 4] {
                let bit = ((usize::from(h[i]) << 8) | usize::from(h[i + 1])) & 2047;
                bloom[255 - bit / 8] |= 1 << (bit % 8);
            }
        }
    }
    bloom
}

/// The canonical encoding of a receipt (the value in the receipts trie).
pub(crate) fn receipt_encoding(r: &ReceiptParts, logs: &[LogParts]) -> Vec<u8> {
    let mut payload = Vec::new();
    match &r.outcome {
        Outcome::Status(s) => rlp_uint(&mut payload, &s.to_be_bytes()),
        Outcome::Root(root) => rlp_bytes(&mut payload, root),
    }
    rlp_uint(&mut payload, &r.cumulative_gas);
    match &r.bloom {
        Some(b) => rlp_bytes(&mut payload, b),
        None => rlp_bytes(&mut payload, &logs_bloom(logs)),
    }
    let mut logs_payload = Vec::new();
    for log in logs {
        let mut one = Vec::new();
        rlp_bytes(&mut one, &log.address);
        let mut topics = Vec::new();
        for t in &log.topics {
            rlp_bytes(&mut topics, t);
        }
        rlp_list(&mut one, &topics);
        rlp_bytes(&mut one, &log.data);
        rlp_list(&mut logs_payload, &one);
    }
    rlp_list(&mut payload, &logs_payload);
    let mut out = Vec::new();
    if r.tx_type != 0 {
        out.push(r.tx_type);
    }
    rlp_list(&mut out, &payload);
    out
}

/// A block the input could not fully verify, and why: counted in the ingest summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unverified {
    /// Block height.
    pub height: u64,
    /// The check that could not run: `block-hash`, `transactions-root`, `receipts-root`.
    pub check: &'static str,
    /// What the input lacks.
    pub reason: String,
}

/// Known genesis hashes by chain id, so a store bound to one chain id also pins its genesis.
pub(crate) fn known_genesis(chain_id: u64) -> Option<Hash32> {
    let hex = match chain_id {
        1 => "d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3",
        11_155_111 => "25a5cc106eea7138acab33231d7160d69cb777ee0c2c553fcddf5138993e6dd9",
        17_000 => "b5f7f912443c940f21fd611f12828d75b534364ed9e95ca4e307729a4661bde4",
        _ => return None,
    };
    Hash32::from_hex(hex).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rlp_matches_the_yellow_paper_examples() {
        let mut o = Vec::new();
        rlp_bytes(&mut o, b"dog");
        assert_eq!(o, [0x83, b'd', b'o', b'g']);
        let mut o = Vec::new();
        rlp_uint(&mut o, &0u64.to_be_bytes());
        assert_eq!(o, [0x80]);
        let mut o = Vec::new();
        rlp_uint(&mut o, &1024u64.to_be_bytes());
        assert_eq!(o, [0x82, 0x04, 0x00]);
        let long = [7u8; 60];
        let mut o = Vec::new();
        rlp_bytes(&mut o, &long);
        assert_eq!(&o[..2], &[0xb8, 60]);
    }

    #[test]
    fn the_empty_trie_root_is_ethereums() {
        assert_eq!(
            hex::encode(ordered_trie_root(&[])),
            "56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"
        );
    }
}
