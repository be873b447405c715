//! Which Tron network an input belongs to.
//!
//! GraphSense rows carry no chain id, so the network is what the user says (`--network`,
//! mainnet unless told otherwise) and the reader checks every claim the content lets it check:
//! - a Tron block id is the block's height (8 bytes, big-endian) followed by 24 bytes of the
//!   header's SHA-256 (java-tron `BlockId`); a block whose id does not begin with its height is
//!   not a Tron block (checked while reading);
//! - a block 0 in the input must be the network's genesis block;
//! - mainnet blocks at the heights of [`MAINNET_CHECKPOINTS`] must be those blocks;
//! - mainnet blocks are produced in 3-second slots, at most one per slot, so a block `n` heights
//!   below a checkpoint is at least `3n` seconds older than it, and one `n` above at least `3n`
//!   seconds newer. A testnet started later than mainnet (Nile, 2019) has blocks far too new
//!   for their height, and is refused as mainnet below the newest checkpoint.
//! - generated worlds (`floodgate gen`) mark their block ids with [`GEN_MARK`] after the height
//!   and bind the `floodgate-gen` network.

use floodgate_types::{Chain, Hash32, Timestamp};

use crate::NetworkId;

/// A Tron network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TronNetwork {
    /// Tron mainnet.
    #[default]
    Mainnet,
    /// The Nile testnet.
    Nile,
    /// The Shasta testnet.
    Shasta,
}

impl TronNetwork {
    /// The name a data directory is bound to (`meta` row `network.tron`).
    pub fn name(self) -> &'static str {
        match self {
            TronNetwork::Mainnet => "mainnet",
            TronNetwork::Nile => "nile",
            TronNetwork::Shasta => "shasta",
        }
    }

    /// The genesis block id, as `wallet/getblockbynum {"num":0}` answers it.
    pub fn genesis(self) -> Hash32 {
        let hex = match self {
            TronNetwork::Mainnet => {
                "00000000000000001ebf88508a03865c71d452e25f4d51194196a1d22b6653dc"
            }
            TronNetwork::Nile => "0000000000000000d698d4192c56cb6be724a558448e2684802de4d6cd8690dc",
            TronNetwork::Shasta => {
                "0000000000000000de1aa88295e1fcf982742f773e0419c5a9c134c994a9059e"
            }
        };
        // The constants above are 64 hex digits.
        Hash32::from_hex(hex).unwrap_or(Hash32([0; 32]))
    }
}

/// Mainnet blocks whose id and time are known: (height, block id, Unix seconds). Block
/// 50,000,011 is the GraphSense block of the test data (`SOURCES.md` §4.1).
pub const MAINNET_CHECKPOINTS: &[(u64, &str, i64)] = &[(
    50_000_011,
    "0000000002faf08b851ed298e6c3ad03421bb625c8ea2bafc07d3a6809c1c572",
    1_680_612_831,
)];

/// The bytes after the height in the block ids of a generated world (`floodgate gen`): the
/// `floodgate-gen` network's magic, as in its Bitcoin block files.
pub const GEN_MARK: [u8; 4] = *b"fgn1";

/// Seconds between two Tron block slots.
const SLOT_SECONDS: i64 = 3;

/// What the input says of one block: height, id, time.
pub(crate) type BlockSeen = (u64, Option<Hash32>, Option<Timestamp>);

/// The network of an input whose blocks are `blocks`, read as `said`; `Err` names the block
/// and the check that failed.
pub(crate) fn identify(
    said: TronNetwork,
    blocks: &[BlockSeen],
) -> Result<NetworkId, (u64, String)> {
    let ids: Vec<(u64, Hash32)> =
        blocks.iter().filter_map(|(h, id, _)| id.map(|i| (*h, i))).collect();
    let marked = ids.iter().filter(|(_, id)| id.0[8..12] == GEN_MARK).count();
    if marked > 0 {
        if marked < ids.len() {
            let h = ids.iter().find(|(_, id)| id.0[8..12] != GEN_MARK).map_or(0, |(h, _)| *h);
            return Err((
                h,
                format!(
                "block {h} is not a generated block, but other blocks of the input are (their ids \
                 carry the floodgate-gen mark): one input holds one network"
            ),
            ));
        }
        if said != TronNetwork::Mainnet {
            return Err((
                ids[0].0,
                format!(
                    "the input is a generated world (floodgate-gen), not Tron {}; drop --network",
                    said.name()
                ),
            ));
        }
        return Ok(NetworkId {
            chain: Chain::Tron,
            name: "floodgate-gen".to_owned(),
            genesis: None,
        });
    }
    let genesis = said.genesis();
    for (h, id) in &ids {
        if *h == 0 && *id != genesis {
            return Err((
                0,
                format!(
                    "block 0 is {}, but Tron {}'s genesis is {}",
                    id.to_hex_prefixed(),
                    said.name(),
                    genesis.to_hex_prefixed()
                ),
            ));
        }
    }
    if said == TronNetwork::Mainnet {
        for (ck, ck_id, ck_time) in MAINNET_CHECKPOINTS {
            let ck_id = Hash32::from_hex(ck_id).unwrap_or(Hash32([0; 32]));
            for (h, id, time) in blocks {
                if *h == *ck {
                    if let Some(id) = id.filter(|i| *i != ck_id) {
                        return Err((*h, format!(
                            "block {h} is {}, but Tron mainnet's block {h} is {}; if the input is a \
                             testnet, say which with --network nile or --network shasta",
                            id.to_hex_prefixed(), ck_id.to_hex_prefixed()
                        )));
                    }
                }
                let Some(t) = time else { continue };
                // One block per 3-second slot at most; 1 s of slack for times in whole seconds.
                let gap =
                    SLOT_SECONDS.saturating_mul(h.abs_diff(*ck).min(i64::MAX as u64 / 4) as i64);
                let (ok, bound) = if h < ck {
                    let latest = ck_time - gap + 1;
                    (t.0 <= latest, format!("no later than {}", Timestamp(latest).to_rfc3339()))
                } else {
                    let earliest = ck_time + gap - 1;
                    (
                        t.0 >= earliest,
                        format!("no earlier than {}", Timestamp(earliest).to_rfc3339()),
                    )
                };
                if !ok {
                    return Err((*h, format!(
                        "block {h}'s time {} cannot be Tron mainnet's: mainnet block {ck} was \
                         produced at {} and blocks come at most one per 3-second slot, so block {h} \
                         is {bound}; if the input is a testnet, say which with --network nile or \
                         --network shasta",
                        t.to_rfc3339(), Timestamp(*ck_time).to_rfc3339()
                    )));
                }
            }
        }
    }
    Ok(NetworkId { chain: Chain::Tron, name: said.name().to_owned(), genesis: Some(genesis) })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const CK: u64 = 50_000_011;
    const CK_TIME: i64 = 1_680_612_831;

    fn id(height: u64, tail: u8) -> Hash32 {
        let mut b = [tail; 32];
        b[..8].copy_from_slice(&height.to_be_bytes());
        Hash32(b)
    }

    fn checkpoint() -> Hash32 {
        Hash32::from_hex(MAINNET_CHECKPOINTS[0].1).unwrap()
    }

    #[test]
    fn genesis_ids_begin_with_height_zero_and_end_with_the_chain_ids() {
        // Tron's `eth_chainId` is the last four bytes of the genesis block id.
        for (n, chain_id) in [
            (TronNetwork::Mainnet, "2b6653dc"),
            (TronNetwork::Nile, "cd8690dc"),
            (TronNetwork::Shasta, "94a9059e"),
        ] {
            let g = n.genesis().to_hex();
            assert!(g.starts_with("0000000000000000") && g.ends_with(chain_id), "{g}");
        }
        assert_eq!(checkpoint().0[..8], CK.to_be_bytes());
    }

    #[test]
    fn the_real_block_and_its_neighbours_are_mainnet() {
        let blocks = [
            (CK - 1, Some(id(CK - 1, 7)), Some(Timestamp(CK_TIME - 3))),
            (CK, Some(checkpoint()), Some(Timestamp(CK_TIME))),
            // A day of missed slots above the checkpoint is allowed.
            (CK + 10, Some(id(CK + 10, 7)), Some(Timestamp(CK_TIME + 86_400))),
            // A block without time or id is not checked.
            (CK + 11, None, None),
        ];
        let net = identify(TronNetwork::Mainnet, &blocks).unwrap();
        assert_eq!(
            (net.name.as_str(), net.genesis),
            ("mainnet", Some(TronNetwork::Mainnet.genesis()))
        );
    }

    #[test]
    fn another_block_at_the_checkpoint_height_is_refused() {
        let (h, why) = identify(TronNetwork::Mainnet, &[(CK, Some(id(CK, 9)), None)]).unwrap_err();
        assert_eq!(h, CK);
        assert!(
            why.contains("Tron mainnet's block 50000011 is 0x0000000002faf08b851e")
                && why.contains("--network nile"),
            "{why}"
        );
        // Read as Nile, the same block is not compared with mainnet's.
        assert_eq!(
            identify(TronNetwork::Nile, &[(CK, Some(id(CK, 9)), None)]).unwrap().name,
            "nile"
        );
    }

    #[test]
    fn times_the_slots_rule_out_are_refused() {
        // Nile started in 2019: its block 1,000,000 is from long after mainnet's (mid-2018).
        let nile_like = [(1_000_000, Some(id(1_000_000, 3)), Some(Timestamp(1_575_000_000)))];
        let (h, why) = identify(TronNetwork::Mainnet, &nile_like).unwrap_err();
        assert_eq!(h, 1_000_000);
        assert!(
            why.contains("cannot be Tron mainnet's") && why.contains("no later than 2018-"),
            "{why}"
        );
        assert!(identify(TronNetwork::Nile, &nile_like).is_ok());
        // Above the checkpoint, a block cannot be closer in time than 3 s per height.
        let early = [(CK + 100, None, Some(Timestamp(CK_TIME + 299 - 1)))];
        assert!(identify(TronNetwork::Mainnet, &early).unwrap_err().1.contains("no earlier than"));
        let just = [(CK + 100, None, Some(Timestamp(CK_TIME + 299)))];
        assert!(identify(TronNetwork::Mainnet, &just).is_ok());
    }

    #[test]
    fn block_zero_must_be_the_networks_genesis() {
        let main = [(0, Some(TronNetwork::Mainnet.genesis()), None)];
        assert!(identify(TronNetwork::Mainnet, &main).is_ok());
        let (h, why) = identify(TronNetwork::Shasta, &main).unwrap_err();
        assert_eq!(h, 0);
        assert!(why.contains("Tron shasta's genesis is 0x0000000000000000de1aa882"), "{why}");
    }

    #[test]
    fn generated_worlds_bind_floodgate_gen_and_do_not_mix() {
        let mut g = id(5, 1);
        g.0[8..12].copy_from_slice(&GEN_MARK);
        // A recent time at a low height: not mainnet, but the mark says what it is.
        let world = [(5, Some(g), Some(Timestamp(1_700_000_000)))];
        let net = identify(TronNetwork::Mainnet, &world).unwrap();
        assert_eq!((net.name.as_str(), net.genesis), ("floodgate-gen", None));
        assert!(identify(TronNetwork::Nile, &world).unwrap_err().1.contains("generated world"));
        let mixed = [world[0], (6, Some(id(6, 1)), None)];
        let (h, why) = identify(TronNetwork::Mainnet, &mixed).unwrap_err();
        assert_eq!(h, 6);
        assert!(why.contains("one input holds one network"), "{why}");
    }
}
