//! What a raw Bitcoin block must prove before it is handed on: that its header carries the
//! proof of work its own `nBits` demands, that `nBits` is no easier than its network allows,
//! that the header's merkle root commits to exactly these transactions, and (for a segwit
//! block) that the coinbase's witness commitment covers their witnesses (BIP 141).
//!
//! These are the checks a node makes on every block it does not yet have a full chain for
//! (Bitcoin Core `CheckBlockHeader` and `CheckBlock`); together they mean a single flipped bit
//! anywhere in a block is refused. They do not validate scripts or spent outputs: floodgate
//! records chain history, it does not decide consensus.

use bitcoin::hashes::Hash as _;
use bitcoin::pow::{CompactTarget, Target};
use floodgate_types::{BtcNetwork, Hash32};

/// A Bitcoin network as its block files and headers tell it apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BtcParams {
    /// Name recorded in the store and shown in errors: `mainnet`, `testnet3`, `testnet4`,
    /// `signet`, `testnet` (a raw block read with `--network testnet`), `regtest`,
    /// `floodgate-gen`.
    pub name: &'static str,
    /// The `pchMessageStart` bytes before each block in `blk*.dat`; `None` for `testnet`,
    /// which stands for any of the test networks.
    pub magic: Option<[u8; 4]>,
    /// The easiest target a header may claim (`powLimit`), compact form.
    pub pow_limit_bits: u32,
    /// The address encoding of outputs.
    pub addresses: BtcNetwork,
    /// The genesis block's hash (display order) when the network has one fixed genesis.
    pub genesis: Option<Hash32>,
}

const fn hash(hex: &[u8; 64]) -> Hash32 {
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]);
        i += 1;
    }
    Hash32(out)
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("not a lowercase hex digit"),
    }
}

/// Bitcoin mainnet.
pub const MAINNET: BtcParams = BtcParams {
    name: "mainnet",
    magic: Some([0xf9, 0xbe, 0xb4, 0xd9]),
    pow_limit_bits: 0x1d00_ffff,
    addresses: BtcNetwork::Mainnet,
    genesis: Some(hash(b"000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f")),
};

/// The networks `blk*.dat` magics name, and the synthetic `floodgate-gen` network that
/// `floodgate gen` writes (its own magic `66676e31`, "fgn1"; regtest's easy proof-of-work limit so
/// a generated block's nonce is found in a few tries; mainnet address encoding, so a world's
/// truth files and TagPack name the addresses its blocks pay). Its genesis is each world's
/// own first block.
pub const NETWORKS: [BtcParams; 6] = [
    MAINNET,
    BtcParams {
        name: "testnet3",
        magic: Some([0x0b, 0x11, 0x09, 0x07]),
        pow_limit_bits: 0x1d00_ffff,
        addresses: BtcNetwork::Testnet,
        genesis: Some(hash(b"000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943")),
    },
    BtcParams {
        name: "testnet4",
        magic: Some([0x1c, 0x16, 0x3f, 0x28]),
        pow_limit_bits: 0x1d00_ffff,
        addresses: BtcNetwork::Testnet,
        genesis: Some(hash(b"00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043")),
    },
    BtcParams {
        name: "signet",
        magic: Some([0x0a, 0x03, 0xcf, 0x40]),
        pow_limit_bits: 0x1e03_77ae,
        addresses: BtcNetwork::Testnet,
        genesis: Some(hash(b"00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6")),
    },
    BtcParams {
        name: "regtest",
        magic: Some([0xfa, 0xbf, 0xb5, 0xda]),
        pow_limit_bits: 0x207f_ffff,
        addresses: BtcNetwork::Regtest,
        genesis: Some(hash(b"0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206")),
    },
    FLOODGATE_GEN,
];

/// The synthetic network of `floodgate gen` worlds (see [`NETWORKS`]).
pub const FLOODGATE_GEN: BtcParams = BtcParams {
    name: "floodgate-gen",
    magic: Some(*b"fgn1"),
    pow_limit_bits: 0x207f_ffff,
    addresses: BtcNetwork::Mainnet,
    genesis: None,
};

impl BtcParams {
    /// The network whose `blk*.dat` magic this is.
    pub fn from_magic(bytes: &[u8]) -> Option<BtcParams> {
        let head = bytes.get(..4)?;
        NETWORKS.iter().copied().find(|n| n.magic.is_some_and(|m| m[..] == *head))
    }

    /// The network a raw block (no magic) is read as, from the `--network` choice. A test
    /// network cannot be told from a raw block, so `testnet` allows the easiest of their limits
    /// (signet's) and binds the store to the name `testnet`.
    pub fn for_addresses(network: BtcNetwork) -> BtcParams {
        match network {
            BtcNetwork::Mainnet => MAINNET,
            BtcNetwork::Testnet => BtcParams {
                name: "testnet",
                magic: None,
                pow_limit_bits: 0x1e03_77ae,
                addresses: BtcNetwork::Testnet,
                genesis: None,
            },
            BtcNetwork::Regtest => NETWORKS[4],
        }
    }
}

/// A transaction's ids: its txid, and its wtxid when it has a witness (else the txid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TxIds {
    txid: bitcoin::Txid,
    wtxid: Option<bitcoin::Wtxid>,
}

/// Reads a CompactSize at `*at`, moving past it.
fn compact_size(raw: &[u8], at: &mut usize) -> Option<u64> {
    let first = *raw.get(*at)?;
    let width = match first {
        0xfd => 2,
        0xfe => 4,
        0xff => 8,
        n => {
            *at += 1;
            return Some(u64::from(n));
        }
    };
    let bytes = raw.get(*at + 1..*at + 1 + width)?;
    let mut w = [0u8; 8];
    w[..width].copy_from_slice(bytes);
    *at += 1 + width;
    Some(u64::from_le_bytes(w))
}

/// Skips a CompactSize-prefixed byte string.
fn skip_bytes(raw: &[u8], at: &mut usize) -> Option<()> {
    let n = usize::try_from(compact_size(raw, at)?).ok()?;
    *at = at.checked_add(n).filter(|end| *end <= raw.len())?;
    Some(())
}

/// Every transaction's ids, hashed straight from the block's serialized bytes (`raw`, which
/// rust-bitcoin decoded into `n_tx` transactions): the txid over the version, inputs, outputs
/// and lock time as they lie in the block, the wtxid over the whole transaction. Hashing
/// through rust-bitcoin's encoder (`compute_txid`, `compute_wtxid`), which serializes every
/// field again in small writes, cost the reader as much as decoding the block. `None` when
/// the bytes do not walk as `n_tx` transactions (then the caller uses the encoder).
fn raw_tx_ids(raw: &[u8], n_tx: usize) -> Option<Vec<TxIds>> {
    use bitcoin::hashes::{sha256d, HashEngine};
    let mut at = 80;
    if usize::try_from(compact_size(raw, &mut at)?).ok()? != n_tx {
        return None;
    }
    let mut out = Vec::with_capacity(n_tx);
    for _ in 0..n_tx {
        let start = at;
        at = at.checked_add(4)?;
        let mut inputs = compact_size(raw, &mut at)?;
        // BIP 144: an empty input list then flag 1 marks the witness serialization.
        let segwit = inputs == 0 && raw.get(at) == Some(&1);
        let body = if segwit {
            at += 1;
            let body = at;
            inputs = compact_size(raw, &mut at)?;
            body
        } else {
            start + 4
        };
        for _ in 0..inputs {
            at = at.checked_add(36)?;
            skip_bytes(raw, &mut at)?;
            at = at.checked_add(4)?;
        }
        for _ in 0..compact_size(raw, &mut at)? {
            at = at.checked_add(8)?;
            skip_bytes(raw, &mut at)?;
        }
        let body_end = at;
        if segwit {
            for _ in 0..inputs {
                for _ in 0..compact_size(raw, &mut at)? {
                    skip_bytes(raw, &mut at)?;
                }
            }
        }
        let end = at.checked_add(4)?;
        let lock_time = raw.get(at..end)?;
        at = end;
        let txid = if segwit {
            let mut e = sha256d::Hash::engine();
            e.input(raw.get(start..start + 4)?);
            e.input(raw.get(body..body_end)?);
            e.input(lock_time);
            sha256d::Hash::from_engine(e)
        } else {
            sha256d::Hash::hash(raw.get(start..end)?)
        };
        let wtxid =
            segwit.then(|| bitcoin::Wtxid::from_raw_hash(sha256d::Hash::hash(&raw[start..end])));
        out.push(TxIds { txid: bitcoin::Txid::from_raw_hash(txid), wtxid });
    }
    (at == raw.len()).then_some(out)
}

/// Every transaction's ids through rust-bitcoin's encoder.
fn encoded_tx_ids(block: &bitcoin::Block) -> Vec<TxIds> {
    let has_witness = |t: &bitcoin::Transaction| t.input.iter().any(|i| !i.witness.is_empty());
    block
        .txdata
        .iter()
        .map(|t| TxIds { txid: t.compute_txid(), wtxid: has_witness(t).then(|| t.compute_wtxid()) })
        .collect()
}

/// Checks one decoded block; `Err` says which check failed, in words that name the block.
/// `raw` is the serialized block it was decoded from, when there is one: the transaction ids
/// are hashed from it. Returns the transaction ids (display order), computed once here for
/// the merkle root and reused by the normalizer.
pub(crate) fn verify_block(
    block: &bitcoin::Block,
    raw: Option<&[u8]>,
    net: &BtcParams,
) -> Result<Vec<Hash32>, String> {
    let hash = Hash32::from_wire_order(block.block_hash().to_byte_array());
    let bits = block.header.bits.to_consensus();
    let fail = |check: &str, detail: String| {
        Err(format!("block {hash} fails the {check} check: {detail}; nothing of it was stored"))
    };
    // Core's DeriveTarget: a negative, zero or overflowing compact target is invalid.
    let exponent = bits >> 24;
    let mantissa = bits & 0x007f_ffff;
    if bits & 0x0080_0000 != 0 || mantissa == 0 || exponent > 34 {
        return fail("nBits", format!("0x{bits:08x} is not a valid compact target"));
    }
    let target = Target::from_compact(CompactTarget::from_consensus(bits));
    let limit = Target::from_compact(CompactTarget::from_consensus(net.pow_limit_bits));
    if target > limit {
        return fail(
            "nBits",
            format!(
                "0x{bits:08x} claims an easier target than {} allows (limit 0x{:08x}); is this \
                 block from another network?",
                net.name, net.pow_limit_bits
            ),
        );
    }
    if block.header.validate_pow(target).is_err() {
        return fail(
            "proof-of-work",
            format!("the header hash is above the target its nBits 0x{bits:08x} demands"),
        );
    }
    let ids = raw
        .and_then(|r| raw_tx_ids(r, block.txdata.len()))
        .unwrap_or_else(|| encoded_tx_ids(block));
    let root = bitcoin::merkle_tree::calculate_root(
        ids.iter().map(|t| bitcoin::TxMerkleNode::from_raw_hash(t.txid.to_raw_hash())),
    );
    if root != Some(block.header.merkle_root) {
        let computed = root
            .map(|r| Hash32::from_wire_order(r.to_byte_array()).to_string())
            .unwrap_or_else(|| "none (no transactions)".into());
        return fail(
            "merkle-root",
            format!(
                "the header commits to {} but the transactions give {computed}",
                Hash32::from_wire_order(block.header.merkle_root.to_byte_array())
            ),
        );
    }
    if !witness_commitment_holds(block, &ids) {
        return fail(
            "witness-commitment",
            "the coinbase's witness commitment does not match the transactions' witnesses".into(),
        );
    }
    Ok(ids.iter().map(|t| Hash32::from_wire_order(t.txid.to_byte_array())).collect())
}

/// BIP 141's witness commitment (rust-bitcoin's `Block::check_witness_commitment`, with the
/// txids already computed reused as the wtxids of transactions without witness).
fn witness_commitment_holds(block: &bitcoin::Block, ids: &[TxIds]) -> bool {
    const MAGIC: [u8; 6] = [0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed];
    if ids.iter().all(|t| t.wtxid.is_none()) {
        return true;
    }
    let Some(coinbase) = block.txdata.first().filter(|c| c.is_coinbase()) else { return false };
    let Some(out) = coinbase
        .output
        .iter()
        .rev()
        .find(|o| o.script_pubkey.len() >= 38 && o.script_pubkey.as_bytes()[0..6] == MAGIC)
    else {
        return false;
    };
    let reserved: Vec<&[u8]> = coinbase.input[0].witness.iter().collect();
    let [value] = reserved.as_slice() else { return false };
    if value.len() != 32 {
        return false;
    }
    let leaves = ids.iter().enumerate().map(|(i, t)| {
        if i == 0 {
            bitcoin::WitnessMerkleNode::all_zeros()
        } else {
            let h = t.wtxid.map_or(t.txid.to_raw_hash(), |w| w.to_raw_hash());
            bitcoin::WitnessMerkleNode::from_raw_hash(h)
        }
    });
    let Some(root) = bitcoin::merkle_tree::calculate_root(leaves) else { return false };
    let commitment = bitcoin::Block::compute_witness_commitment(&root, value);
    out.script_pubkey.as_bytes()[6..38] == commitment.to_byte_array()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The ids hashed from a block's bytes are rust-bitcoin's, on every real block of the
    /// test data (pre-segwit, segwit and taproot-era), and the walk refuses bytes that are
    /// not the block (cut short, one byte more).
    #[test]
    fn ids_hashed_from_the_bytes_are_the_encoders() {
        let Some(dir) = floodgate_testdata::dir("bitcoin/raw-blocks") else { return };
        let mut blocks = 0;
        let mut segwit = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.starts_with("mainnet_block_") || !name.ends_with(".raw") {
                continue;
            }
            let raw = std::fs::read(&path).unwrap();
            let block = super::super::raw::decode_block(&raw).ok().unwrap();
            let ids = raw_tx_ids(&raw, block.txdata.len()).unwrap();
            assert_eq!(ids, encoded_tx_ids(&block), "{name}");
            segwit += ids.iter().filter(|i| i.wtxid.is_some()).count();
            blocks += 1;
            assert_eq!(raw_tx_ids(&raw[..raw.len() - 1], block.txdata.len()), None, "{name}");
            let longer = [&raw[..], &[0]].concat();
            assert_eq!(raw_tx_ids(&longer, block.txdata.len()), None, "{name}");
            assert_eq!(raw_tx_ids(&raw, block.txdata.len() + 1), None, "{name}");
        }
        assert!(blocks >= 10 && segwit > 1000, "{blocks} blocks, {segwit} with witness");
    }

    /// Damaged bytes: whenever rust-bitcoin still decodes them as a block, the walk over the
    /// bytes finds its transactions and hashes what the encoder hashes; it never panics on
    /// what rust-bitcoin refuses. Single-byte changes and cuts of the first 80 transactions
    /// of a real block of 2021 (serialized again, so small; 36 with witness), seeded.
    #[test]
    fn ids_hashed_from_damaged_bytes_are_the_encoders_or_refused() {
        let Some(dir) = floodgate_testdata::dir("bitcoin/raw-blocks") else { return };
        let whole = std::fs::read(dir.join("mainnet_block_702861.raw")).unwrap();
        let mut block = super::super::raw::decode_block(&whole).ok().unwrap();
        block.txdata.truncate(80);
        let raw = bitcoin::consensus::serialize(&block);
        let segwit = encoded_tx_ids(&block).iter().filter(|t| t.wtxid.is_some()).count();
        assert!(segwit > 30, "{segwit} of 80 with witness");
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut decoded = 0;
        for _ in 0..1_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut d = raw.clone();
            let at = (x >> 8) as usize % d.len();
            match x % 3 {
                0 => d[at] ^= 1 << ((x >> 40) % 8),
                1 => d[at] = (x >> 32) as u8,
                _ => d.truncate(at),
            }
            let Ok(block) = super::super::raw::decode_block(&d) else {
                let _ = raw_tx_ids(&d, 2_000);
                continue;
            };
            decoded += 1;
            assert_eq!(raw_tx_ids(&d, block.txdata.len()), Some(encoded_tx_ids(&block)));
        }
        assert!(decoded > 150, "{decoded} damaged copies still decoded");
    }

    #[test]
    fn genesis_constants_are_display_order() {
        assert_eq!(
            MAINNET.genesis.map(|h| h.to_string()).as_deref(),
            Some("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f")
        );
    }

    #[test]
    fn magics_are_distinct() {
        for (i, a) in NETWORKS.iter().enumerate() {
            for b in &NETWORKS[i + 1..] {
                assert_ne!(a.magic, b.magic, "{} and {}", a.name, b.name);
            }
        }
    }
}
