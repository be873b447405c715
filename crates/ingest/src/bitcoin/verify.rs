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

use super::view::BlockView;

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

/// Checks one block; `Err` says which check failed, in words that name the block. The
/// transaction ids were hashed from the block's bytes by the walk that found them.
pub(crate) fn verify_block(block: &BlockView<'_>, net: &BtcParams) -> Result<(), String> {
    let hash = block.hash();
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
    let ids = block.txs();
    let root = bitcoin::merkle_tree::calculate_root(
        ids.iter().map(|t| bitcoin::TxMerkleNode::from_raw_hash(t.ids.txid.to_raw_hash())),
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
    if !witness_commitment_holds(block) {
        return fail(
            "witness-commitment",
            "the coinbase's witness commitment does not match the transactions' witnesses".into(),
        );
    }
    Ok(())
}

/// BIP 141's witness commitment (rust-bitcoin's `Block::check_witness_commitment`, with the
/// txids already computed reused as the wtxids of transactions without witness).
fn witness_commitment_holds(block: &BlockView<'_>) -> bool {
    const MAGIC: [u8; 6] = [0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed];
    let txs = block.txs();
    if txs.iter().all(|t| t.ids.wtxid.is_none()) {
        return true;
    }
    let Some(coinbase) = txs.first().filter(|c| block.is_coinbase(c)) else { return false };
    let Some((_, script)) =
        block.outputs(coinbase).rev().find(|(_, s)| s.len() >= 38 && s[0..6] == MAGIC)
    else {
        return false;
    };
    let reserved = block.first_witness(coinbase);
    let [value] = reserved.as_slice() else { return false };
    if value.len() != 32 {
        return false;
    }
    let leaves = txs.iter().enumerate().map(|(i, t)| {
        if i == 0 {
            bitcoin::WitnessMerkleNode::all_zeros()
        } else {
            let h = t.ids.wtxid.map_or(t.ids.txid.to_raw_hash(), |w| w.to_raw_hash());
            bitcoin::WitnessMerkleNode::from_raw_hash(h)
        }
    });
    let Some(root) = bitcoin::merkle_tree::calculate_root(leaves) else { return false };
    let commitment = bitcoin::Block::compute_witness_commitment(&root, value);
    script[6..38] == commitment.to_byte_array()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

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
