//! The persisted clustering (`entities.fge`): persisted == recomputed, appended == from
//! scratch, aliases across builds, deposit-address clustering, change evidence, damage.

// In tests a panic is the failure report; helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use floodgate_graph::{
    cluster_with, open_clustering, update_clustering, ClusterUpdate, Clustering, EdgeInput,
    EntityId, Graph, GraphBuilder, GraphError, JoinRule, NodeId, NodeKind, ENTITIES_FILE,
};
use floodgate_types::{Amount, Chain, Hash32};
use proptest::prelude::*;

/// A UTXO transaction: input address numbers, (output address number, value).
type RawTx = (Vec<u32>, Vec<(u32, u64)>);
/// An account transfer: (from, to, value, time).
type RawTransfer = (u32, u32, u64, i64);

fn utxo(a: u32) -> String {
    format!("1addr{a}")
}

fn account(a: u32) -> String {
    format!("0x{:040x}", a + 1)
}

/// Appends one segment holding `txs` (Bitcoin, txids from `tx_base`) and `transfers`
/// (Ethereum) to the graph in `dir`.
fn append(dir: &Path, tx_base: u8, txs: &[RawTx], transfers: &[RawTransfer]) -> Graph {
    let base = Graph::open_or_empty(dir).unwrap();
    let mut b = GraphBuilder::new(Some(&base));
    for (i, (ins, outs)) in txs.iter().enumerate() {
        let txid = Hash32([tx_base.wrapping_add(i as u8); 32]);
        let t =
            b.node(&floodgate_graph::tx_key(Chain::Bitcoin, &txid), NodeKind::Transaction).unwrap();
        let e = |v: u64| EdgeInput {
            amount: Amount::from(v),
            time: Some(1_300_000_000 + i64::from(tx_base) * 1000 + i as i64),
            asset: "BTC",
            txid,
            chain: Chain::Bitcoin,
        };
        for &a in ins {
            let a = b.node(&utxo(a), NodeKind::Address).unwrap();
            b.add_edge(a, t, &e(100)).unwrap();
        }
        for &(a, v) in outs {
            let a = b.node(&utxo(a), NodeKind::Address).unwrap();
            b.add_edge(t, a, &e(v)).unwrap();
        }
    }
    for (i, &(f, to, v, time)) in transfers.iter().enumerate() {
        let mut id = [0xee; 32];
        id[0] = tx_base;
        id[1] = i as u8;
        let fi = b.node(&account(f), NodeKind::Address).unwrap();
        let ti = b.node(&account(to), NodeKind::Address).unwrap();
        let e = EdgeInput {
            amount: Amount::from(v),
            time: Some(time),
            asset: "ETH",
            txid: Hash32(id),
            chain: Chain::Ethereum,
        };
        b.add_edge(fi, ti, &e).unwrap();
    }
    b.commit(&base, BTreeMap::new()).unwrap();
    Graph::open(dir).unwrap()
}

fn file_bytes(c: &Clustering) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    c.save(dir.path()).unwrap();
    std::fs::read(dir.path().join(ENTITIES_FILE)).unwrap()
}

fn exchange_set(g: &Graph, exchanges: &[u32]) -> BTreeSet<NodeId> {
    exchanges.iter().filter_map(|&a| g.lookup(&account(a))).collect()
}

/// One segment's worth of random input: UTXO transactions and account transfers.
fn part_strategy() -> impl Strategy<Value = (Vec<RawTx>, Vec<(u32, u32, u64)>)> {
    let tx = (
        proptest::collection::vec(0u32..10, 1..4),
        proptest::collection::vec((0u32..10, 1u64..4), 1..5),
    );
    // Account transfers among 8 addresses (0 and 1 are exchange wallets), amounts chosen so
    // that sweeps of 90 % or more and partial forwards both occur.
    let transfer = (0u32..8, 0u32..8, prop_oneof![Just(100u64), Just(95), Just(40), Just(200)]);
    (proptest::collection::vec(tx, 0..8), proptest::collection::vec(transfer, 0..16))
}

fn timed(part: &[(u32, u32, u64)], start: i64) -> Vec<RawTransfer> {
    part.iter().enumerate().map(|(i, &(f, t, v))| (f, t, v, start + 600 * i as i64)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Building the clustering segment by segment (load the stored file, extend it with the
    /// new segment only, store it again) gives byte for byte the file that clustering the
    /// whole graph at once gives; a loaded file answers like the clustering it stores.
    #[test]
    fn appended_clustering_equals_clustering_from_scratch(
        parts in proptest::collection::vec(part_strategy(), 1..4)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut g = Graph::open_or_empty(dir.path()).unwrap();
        let mut how = Vec::new();
        for (k, (txs, transfers)) in parts.iter().enumerate() {
            let start = 1_600_000_000 + 100_000 * k as i64;
            let mut transfers = timed(transfers, start);
            if k == 0 {
                // The exchange wallets exist from the first segment on.
                transfers.insert(0, (0, 1, 1, start - 1));
            }
            g = append(dir.path(), (k * 16) as u8, txs, &transfers);
            // The exchange wallets are tagged from the start (a node may not exist yet).
            let (_, h) = update_clustering(&g, &exchange_set(&g, &[0, 1])).unwrap();
            how.push(h);
        }
        let exchanges = exchange_set(&g, &[0, 1]);
        let scratch = cluster_with(&g, &exchanges);
        let stored = Clustering::load(&dir.path().join(ENTITIES_FILE)).unwrap();
        prop_assert!(stored.is_current(&g));
        // Every later build extended the stored file with the new segment only.
        for (k, h) in how.iter().enumerate().skip(1) {
            prop_assert_eq!(h, &ClusterUpdate::Extended { from_segments: k });
        }
        prop_assert_eq!(file_bytes(&stored), file_bytes(&scratch));
        for n in 0..g.node_count() {
            let n = NodeId(n);
            prop_assert_eq!(stored.entity_of(n), scratch.entity_of(n));
            prop_assert_eq!(stored.size_of(n), scratch.size_of(n));
        }
        prop_assert_eq!(stored.merges(&g), scratch.merges(&g));
        // Every explanation is a chain of real joins.
        for a in 0..g.node_count() {
            for b in 0..g.node_count() {
                let (a, b) = (NodeId(a), NodeId(b));
                if g.kind(a) != NodeKind::Address || g.kind(b) != NodeKind::Address || a == b {
                    continue;
                }
                let why = stored.why(&g, a, b);
                prop_assert_eq!(why.is_some(), stored.entity_of(a) == stored.entity_of(b));
                prop_assert_eq!(&why, &scratch.why(&g, a, b));
                for s in why.into_iter().flatten() {
                    match s.rule {
                        JoinRule::CoSpend => {
                            let tx = g.lookup(&s.tx).unwrap();
                            let ins: Vec<String> =
                                g.in_edges(tx).map(|e| g.key(e.src).to_string()).collect();
                            prop_assert!(ins.contains(&s.a) && ins.contains(&s.b));
                        }
                        JoinRule::DepositSweep => {
                            let (x, y) = (g.lookup(&s.a).unwrap(), g.lookup(&s.b).unwrap());
                            let swept = g
                                .out_edges(x)
                                .chain(g.out_edges(y))
                                .any(|e| e.txid_string() == s.tx);
                            prop_assert!(swept, "{:?}", s);
                        }
                    }
                }
            }
        }
        // A query opens the stored file as is.
        prop_assert!(open_clustering(&g).unwrap().is_some());
    }
}

#[test]
fn entity_ids_survive_an_append_and_a_merged_id_resolves_as_an_alias() {
    let dir = tempfile::tempdir().unwrap();
    let none = BTreeSet::new();
    // Build 1: E(a0) = {0, 1}, E(a2) = {2, 3}.
    let g1 =
        append(dir.path(), 0, &[(vec![0, 1], vec![(9, 50)]), (vec![2, 3], vec![(9, 40)])], &[]);
    let (c1, how) = update_clustering(&g1, &none).unwrap();
    assert!(matches!(how, ClusterUpdate::Rebuilt { .. }), "first build: {how:?}");
    let n = |g: &Graph, a: u32| g.lookup(&utxo(a)).unwrap();
    let (e0, e2) = (c1.entity_of(n(&g1, 0)), c1.entity_of(n(&g1, 2)));
    assert_ne!(e0, e2);
    // Build 2 appends a transaction spending from 1 and 3: the two entities merge, the
    // older id survives, and the other is an alias naming the joining transaction.
    let g2 =
        append(dir.path(), 100, &[(vec![1, 3], vec![(8, 10)]), (vec![4, 5], vec![(8, 1)])], &[]);
    let (c2, how) = update_clustering(&g2, &none).unwrap();
    assert_eq!(how, ClusterUpdate::Extended { from_segments: 1 });
    assert_eq!(c2.entity_of(n(&g2, 3)), e0, "E{} keeps its id as it grows", e0.0);
    assert_eq!(c2.size_of(n(&g2, 0)), 4);
    let join_tx = floodgate_graph::tx_key(Chain::Bitcoin, &Hash32([100; 32]));
    let note = c2.alias_note(&g2, e2).unwrap();
    assert_eq!((note.alias, note.merged_into, note.entity), (e2, e0, e0));
    assert_eq!(note.tx, join_tx);
    assert_eq!(note.rule, JoinRule::CoSpend);
    let text = note.to_string();
    assert!(
        text.starts_with(&format!("{e2} was merged into {e0} by co-spend tx {join_tx} at ")),
        "{text}"
    );
    // The graph holds times; a caller that knows the block (the CLI asks the transfer store)
    // fills it in, and the note names it.
    assert_eq!(note.block, None);
    assert_eq!(note.party, utxo(1), "an input of the joining transaction");
    let with_block = floodgate_graph::AliasNote { block: Some(7), ..note.clone() };
    assert!(with_block.to_string().contains(&format!("{join_tx} at block 7 (")), "{with_block}");
    // The merge log is persisted: a fresh load says the same.
    let loaded = open_clustering(&g2).unwrap().unwrap();
    assert_eq!(loaded.alias_note(&g2, e2), Some(note));
    assert_eq!(loaded.merges(&g2).len(), 1);
    assert_eq!(loaded.merges(&g2)[0].alias, e2);
    // The new entity E(a4) is a current id: no alias note.
    assert_eq!(loaded.alias_note(&g2, loaded.entity_of(n(&g2, 4))), None);
    // A single address that joined an entity resolves to it, naming its first join.
    let single = loaded.alias_note(&g2, EntityId(n(&g2, 1).0)).unwrap();
    assert_eq!(single.entity, e0);
    assert_eq!(single.tx, floodgate_graph::tx_key(Chain::Bitcoin, &Hash32([0; 32])));
}

/// Victor 2020's deposit addresses on a constructed account chain: customers pay deposit
/// address D; D sweeps it to the exchange's hot wallet H within the hour.
#[test]
fn a_deposit_address_that_sweeps_to_a_tagged_exchange_joins_it_and_others_do_not() {
    const H: u32 = 0; // exchange hot wallet (tagged)
    const U: u32 = 1; // untagged wallet
    let t = 1_700_000_000;
    let transfers: Vec<RawTransfer> = vec![
        (10, 20, 100, t),             // customer 10 → deposit 20
        (11, 20, 50, t + 60),         // customer 11 → deposit 20
        (20, H, 148, t + 600),        // 20 sweeps 148 of 150 (98.7 %) to H: a deposit address
        (12, 21, 100, t),             // customer 12 → 21
        (21, H, 20, t + 600),         // 21 forwards only 20 %: not a deposit address
        (13, 22, 100, t),             // customer 13 → 22
        (22, U, 100, t + 600),        // 22 forwards all, but to an untagged wallet
        (14, 23, 100, t),             // customer 14 → 23
        (23, H, 100, t + 3 * 86_400), // 23 forwards all to H, but three days later
        (15, 24, 70, t + 1_000),      // customer 15 → deposit 24
        (24, H, 70, t + 1_200),       // a second deposit address of the same exchange
    ];
    // 25 is a busy wallet (a service): 10,000 receipts, then it sends everything to H.
    let mut transfers = transfers;
    transfers.extend((0..10_000).map(|i| (16, 25, 1, t + i)));
    transfers.push((25, H, 10_000, t + 10_000));
    let dir = tempfile::tempdir().unwrap();
    let g = append(dir.path(), 0, &[], &transfers);
    let node = |a: u32| g.lookup(&account(a)).unwrap();
    let exchanges = exchange_set(&g, &[H]);
    let c = cluster_with(&g, &exchanges);
    let h = c.entity_of(node(H));
    assert_eq!(c.entity_of(node(20)), h);
    assert_eq!(c.entity_of(node(24)), h);
    for other in [10, 11, 21, 22, 23, 25, U] {
        assert_ne!(c.entity_of(node(other)), h, "address {other} must not join the exchange");
    }
    assert_eq!(c.deposit_count(), 2);
    // The evidence is the sweep itself.
    let why = c.why(&g, node(20), node(24)).unwrap();
    assert_eq!(why.len(), 2, "{why:?}");
    assert!(why.iter().all(|s| s.rule == JoinRule::DepositSweep));
    let sweep_20 = g.out_edges(node(20)).next().unwrap().txid_string();
    assert_eq!(why[0].tx, sweep_20);
    assert_eq!(why[0].time, Some(t + 600));
    // Without exchange tags there is no deposit clustering.
    let plain = floodgate_graph::cluster(&g);
    assert_ne!(plain.entity_of(node(20)), plain.entity_of(node(H)));
}

#[test]
fn change_evidence_is_reported_but_never_merges() {
    let dir = tempfile::tempdir().unwrap();
    let g = append(
        dir.path(),
        0,
        &[
            (vec![4], vec![(4, 1)]), // address 4 exists before
            (vec![0, 1], vec![(4, 50_000_000), (5, 1_234_567)]), // pays a round 0.5 BTC to 4
        ],
        &[],
    );
    let c = floodgate_graph::cluster(&g);
    let n = |a: u32| g.lookup(&utxo(a)).unwrap();
    let e = c.entity_of(n(0));
    let ev = floodgate_graph::change_evidence(&g, &c, e, &c.members(e));
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0].address, utxo(5));
    assert_eq!(ev[0].output, 1);
    assert_eq!(ev[0].tx, floodgate_graph::tx_key(Chain::Bitcoin, &Hash32([1; 32])));
    assert!(ev[0].reasons.iter().any(|r| r.starts_with("fresh address")), "{ev:?}");
    assert!(ev[0].reasons.iter().any(|r| r.contains("round 50000000")), "{ev:?}");
    // Evidence only: the change address is not part of the entity.
    assert_ne!(c.entity_of(n(5)), e);
    assert_eq!(c.size_of(n(0)), 2);
}

#[test]
fn a_stale_or_foreign_file_is_not_used_and_a_damaged_one_is_named_or_rebuilt() {
    let none = BTreeSet::new();
    let a = tempfile::tempdir().unwrap();
    let ga = append(a.path(), 0, &[(vec![0, 1], vec![(9, 5)])], &[]);
    update_clustering(&ga, &none).unwrap();
    let b = tempfile::tempdir().unwrap();
    let gb = append(b.path(), 50, &[(vec![2, 3], vec![(9, 5)]), (vec![3], vec![(2, 1)])], &[]);
    // A file copied from another graph is foreign: queries do not use it, a build replaces it.
    std::fs::copy(a.path().join(ENTITIES_FILE), b.path().join(ENTITIES_FILE)).unwrap();
    assert!(open_clustering(&gb).unwrap().is_none());
    let (_, how) = update_clustering(&gb, &none).unwrap();
    assert!(
        matches!(how, ClusterUpdate::Rebuilt { ref reason } if reason.contains("another graph")),
        "{how:?}"
    );
    assert!(open_clustering(&gb).unwrap().is_some());
    // Stale: the graph grew after the file was written.
    let gb = append(b.path(), 60, &[(vec![5, 6], vec![(9, 5)])], &[]);
    assert!(open_clustering(&gb).unwrap().is_none(), "a stale file is not used");
    // Damage: a query names the file and the offset; a build rebuilds it.
    update_clustering(&gb, &none).unwrap();
    let path = b.path().join(ENTITIES_FILE);
    let good = std::fs::read(&path).unwrap();
    for (at, what) in [(0usize, "bad magic"), (good.len() - 3, "checksum"), (20, "segment")] {
        let mut bad = good.clone();
        bad[at] ^= 0x5a;
        std::fs::write(&path, &bad).unwrap();
        let err = open_clustering(&gb).unwrap_err();
        assert!(matches!(err, GraphError::Corrupt { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains(ENTITIES_FILE) && msg.contains("byte offset"), "{msg}");
        let _ = what;
        let (c, how) = update_clustering(&gb, &none).unwrap();
        assert!(matches!(how, ClusterUpdate::Rebuilt { .. }), "{how:?}");
        assert_eq!(file_bytes(&c), good);
    }
    // A truncated file too.
    std::fs::write(&path, &good[..good.len() / 2]).unwrap();
    let msg = open_clustering(&gb).unwrap_err().to_string();
    assert!(msg.contains(ENTITIES_FILE), "{msg}");
}

/// Format compatibility: `tests/data/entities-v1/entities.fge` was written once by format
/// version 1 (two Bitcoin segments with a merge and a CoinJoin, an Ethereum deposit sweep;
/// see tests/data/README.md) and is never rewritten; it must keep opening.
#[test]
fn the_frozen_version_1_entities_file_still_opens() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/entities-v1").join(ENTITIES_FILE);
    let c = Clustering::load(&path).unwrap();
    assert_eq!(c.node_count(), 17);
    // 1addr0..1addr3 (nodes 1, 2, 5, 6) are one entity, E1; E5 merged into it.
    for n in [1, 2, 5, 6] {
        assert_eq!(c.entity_of(NodeId(n)), EntityId(1));
    }
    assert_eq!(c.size_of(NodeId(6)), 4);
    assert_eq!(c.merge_count(), 1);
    assert_eq!(c.coinjoin_count(), 1);
    assert!(c.is_coinjoin(NodeId(9)));
    // The deposit address (node 15) and the exchange wallet (node 16) are one entity.
    assert_eq!(c.deposit_count(), 1);
    assert_eq!(c.entity_of(NodeId(16)), EntityId(15));
    assert_eq!(c.exchange_nodes().collect::<Vec<_>>(), vec![NodeId(16)]);
}
