//! Reorganisations without a rebuild (issue 15 item 4): after the transfer store unwinds
//! (a rollback, then other blocks at the same heights), the next build unwinds the graph
//! and the clustering to what the store still holds and appends the rest. The result must
//! be what a build from scratch of the unwound store gives: the same nodes, the same edges,
//! the same entities and CoinJoins.

// In tests a panic is the failure report; helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use floodgate_gen::{GenConfig, World};
use floodgate_graph::{
    cluster_with, update_clustering, ClusterUpdate, Clustering, Graph, NodeId, NodeKind,
};
use floodgate_store::Store;
use floodgate_types::{
    Address, Amount, AssetId, BlockHeader, Chain, ChainBlock, Hash32, OutPoint, Timestamp,
    Transfer, TransferIndex, TransferKind, TxInput, TxOutput, UtxoTx,
};

/// A small deterministic random stream (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Valid addresses of each chain, from the world generator's address space.
struct Book {
    btc: Vec<Address>,
    eth: Vec<Address>,
}

fn book() -> Book {
    let w = World::new(&GenConfig { transfers: 4_000, seed: 5, ..GenConfig::default() });
    let (mut btc, mut eth) = (Vec::new(), Vec::new());
    for i in 0..w.address_count() {
        match w.address_chain(i) {
            Chain::Bitcoin if btc.len() < 40 => btc.push(w.address(i)),
            Chain::Ethereum if eth.len() < 40 => eth.push(w.address(i)),
            _ => {}
        }
    }
    assert!(btc.len() == 40 && eth.len() == 40);
    Book { btc, eth }
}

/// The block hash of `height` on `branch` (0 the first chain, 1 the one after the reorg).
fn hash(chain: Chain, height: u64, branch: u8) -> Hash32 {
    let mut b = [0u8; 32];
    b[0] = chain.code();
    b[1..9].copy_from_slice(&height.to_be_bytes());
    b[9] = branch;
    b[31] = 1;
    Hash32(b)
}

const T0: i64 = 1_700_000_000;
/// Exchange hot wallets are `eth[0]` and `eth[1]`; deposit addresses `eth[2..12]`.
const HOT: usize = 2;

/// Bitcoin block `height` of `branch`: a few co-spends, and every fourth block a
/// CoinJoin-shaped transaction (five funding inputs, five equal outputs, five changes).
fn btc_block(b: &Book, height: u64, branch: u8, parent_branch: u8) -> ChainBlock {
    let mut rng = Rng(height * 1_000 + u64::from(branch) * 7 + 1);
    let txid = |i: u64| {
        let mut h = hash(Chain::Bitcoin, height, branch).0;
        h[20] = i as u8;
        h[31] = 2;
        Hash32(h)
    };
    let input = |a: &Address, v: u64, i: u64| TxInput {
        prevout: Some(OutPoint { txid: Hash32([0xee; 32]), vout: (height * 100 + i) as u32 }),
        address: Some(a.clone()),
        value: Some(Amount::from(v)),
    };
    let mut txs = Vec::new();
    for t in 0..3u64 {
        let n_in = 1 + rng.below(3);
        let inputs: Vec<TxInput> = (0..n_in)
            .map(|k| input(&b.btc[rng.below(30)], 50_000 + k as u64, t * 10 + k as u64))
            .collect();
        let outputs = (0..1 + rng.below(2))
            .map(|k| TxOutput {
                vout: k as u32,
                address: b.btc[rng.below(40)].clone(),
                value: Amount::from(40_000u64),
            })
            .collect();
        txs.push(UtxoTx { txid: txid(t), position: t as u32, inputs, outputs });
    }
    if height % 4 == 1 {
        let parts: Vec<usize> = (0..5).map(|k| 30 + (k + height as usize) % 10).collect();
        let inputs =
            parts.iter().enumerate().map(|(k, &p)| input(&b.btc[p], 2_000_000, 90 + k as u64));
        let mut outputs = Vec::new();
        for (k, &p) in parts.iter().enumerate() {
            let vout = outputs.len() as u32;
            outputs.push(TxOutput {
                vout,
                address: b.btc[10 + (p + 3) % 10].clone(),
                value: Amount::from(1_000_000u64),
            });
            outputs.push(TxOutput {
                vout: vout + 1,
                address: b.btc[k].clone(),
                value: Amount::from(990_000u64 - k as u64),
            });
        }
        txs.push(UtxoTx { txid: txid(9), position: 3, inputs: inputs.collect(), outputs });
    }
    ChainBlock {
        header: Some(BlockHeader {
            chain: Chain::Bitcoin,
            height,
            hash: hash(Chain::Bitcoin, height, branch),
            parent: height.checked_sub(1).map(|p| hash(Chain::Bitcoin, p, parent_branch)),
            time: Some(Timestamp(T0 + height as i64 * 600)),
        }),
        utxo_txs: txs,
        transfers: vec![],
    }
}

/// Ethereum block `height` of `branch`: customers pay deposit addresses, deposit addresses
/// sweep everything to a hot wallet in the next block, and a few payments between others.
fn eth_block(b: &Book, height: u64, branch: u8, parent_branch: u8) -> ChainBlock {
    let mut rng = Rng(height * 3_000 + u64::from(branch) * 11 + 5);
    let block = hash(Chain::Ethereum, height, branch);
    let time = Timestamp(T0 + height as i64 * 600 + 300);
    let mut transfers = Vec::new();
    let mut push = |from: &Address, to: &Address, amount: u64, rng: &mut Rng| {
        let mut id = block.0;
        id[20] = transfers.len() as u8;
        id[21] = rng.below(250) as u8;
        id[31] = 3;
        transfers.push(Transfer {
            chain: Chain::Ethereum,
            height,
            block_hash: Some(block),
            time: Some(time),
            txid: Hash32(id),
            tx_position: Some(transfers.len() as u32),
            index: TransferIndex::Log(transfers.len() as u32),
            kind: TransferKind::Token,
            from: from.clone(),
            to: to.clone(),
            asset: AssetId("USDT-ERC20".to_owned()),
            amount: Amount::from(amount),
        });
    };
    // Both hot wallets appear in block 0, so the exchange nodes are the same in every build.
    if height == 0 {
        push(&b.eth[0], &b.eth[1], 1, &mut rng);
    }
    // Deposit address d receives in even blocks and sweeps in the next one.
    let d = HOT + (height as usize / 2 + usize::from(branch) * 3) % 10;
    if height % 2 == 0 {
        let customer = 20 + rng.below(20);
        push(&b.eth[customer], &b.eth[d], 1_000_000, &mut rng);
    } else {
        push(&b.eth[d], &b.eth[rng.below(HOT)], 1_000_000, &mut rng);
    }
    for _ in 0..2 {
        let (x, y) = (12 + rng.below(28), 12 + rng.below(28));
        push(&b.eth[x], &b.eth[y], 5_000 + rng.below(100) as u64, &mut rng);
    }
    ChainBlock {
        header: Some(BlockHeader {
            chain: Chain::Ethereum,
            height,
            hash: block,
            parent: height.checked_sub(1).map(|p| hash(Chain::Ethereum, p, parent_branch)),
            time: Some(time),
        }),
        utxo_txs: vec![],
        transfers,
    }
}

fn exchanges(g: &Graph, b: &Book) -> BTreeSet<NodeId> {
    b.eth[..HOT].iter().filter_map(|a| g.lookup(&a.to_canonical())).collect()
}

/// Everything a graph says, by node key (node ids may differ between two builds of the
/// same store when the chains' blocks were appended in different steps).
fn content(g: &Graph) -> (BTreeSet<String>, Vec<String>) {
    let mut keys = BTreeSet::new();
    let mut edges = Vec::new();
    for n in 0..g.node_count() {
        let n = NodeId(n);
        keys.insert(g.key(n).into_owned());
        for e in g.out_edges(n) {
            edges.push(format!(
                "{} -> {} {} {} {:?} {}",
                g.key(e.src),
                g.key(e.dst),
                e.amount,
                e.asset,
                e.time,
                e.txid_string()
            ));
        }
    }
    edges.sort();
    (keys, edges)
}

/// Each address's entity as the sorted keys of its members, CoinJoins by key, and the
/// addresses whose entity id is their own node (the entity ids, compared where two builds
/// give the same node ids).
fn entities(g: &Graph, c: &Clustering) -> (BTreeMap<String, Vec<String>>, BTreeSet<String>) {
    let mut members: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for n in 0..g.node_count() {
        if g.kind(NodeId(n)) == NodeKind::Address {
            members.entry(c.entity_of(NodeId(n)).0).or_default().push(g.key(NodeId(n)).into());
        }
    }
    let mut by_key = BTreeMap::new();
    for m in members.values_mut() {
        m.sort();
        for k in m.iter() {
            by_key.insert(k.clone(), m.clone());
        }
    }
    let cj = (0..g.node_count())
        .filter(|&n| c.is_coinjoin(NodeId(n)))
        .map(|n| g.key(NodeId(n)).into_owned())
        .collect();
    (by_key, cj)
}

fn apply(store: &mut Store, blocks: &[ChainBlock]) {
    store.apply_blocks(blocks).unwrap();
}

/// Builds the graph in `dir` the way a node that runs `trace build` after every two blocks
/// does: one segment per step, the clustering extended each time.
fn grow(store: &mut Store, b: &Book, dir: &Path, heights: std::ops::Range<u64>) {
    for h in heights {
        apply(store, &[btc_block(b, h, 0, 0), eth_block(b, h, 0, 0)]);
        if h % 2 == 1 {
            Graph::update_from_store(dir, &*store).unwrap();
            let g = Graph::open(dir).unwrap();
            update_clustering(&g, &exchanges(&g, b)).unwrap();
        }
    }
}

#[test]
fn a_store_unwind_unwinds_the_graph_and_clustering_to_equal_a_fresh_build() {
    let b = book();
    for (cut, fork_len) in [(9u64, 3u64), (6, 1), (4, 6), (0, 2), (10, 2)] {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = Store::open(tmp.path()).unwrap();
        let dir = tmp.path().join("graph");
        grow(&mut store, &b, &dir, 0..12);
        let before = Graph::open(&dir).unwrap();
        assert_eq!(before.segment_count(), 6);
        fn nodes_at(g: &Graph) -> Vec<String> {
            (0..g.node_count()).map(|n| g.key(NodeId(n)).into_owned()).collect()
        }
        let old_keys = nodes_at(&before);
        drop(before);
        // A reorganisation: both chains roll back to `cut`, another branch is mined above.
        store.rollback_to(Chain::Bitcoin, cut).unwrap();
        store.rollback_to(Chain::Ethereum, cut).unwrap();
        for h in cut + 1..=cut + fork_len {
            let parent = u8::from(h > cut + 1);
            apply(&mut store, &[btc_block(&b, h, 1, parent), eth_block(&b, h, 1, parent)]);
        }
        let report = Graph::update_from_store(&dir, &store).unwrap();
        let u = report.unwound.clone().expect("the graph was unwound, not rebuilt");
        // Segments end at heights 1, 3, 5, …: the newest still valid ends at or below `cut`.
        let kept = cut.div_ceil(2) as usize;
        assert_eq!(u.kept_segments, kept, "cut {cut}: {u:?}");
        assert_eq!(u.dropped_segments, 6 - kept);
        assert_eq!(report.segments, kept + 1, "the kept segments and one appended");
        assert_eq!(report.tips["bitcoin"], cut + fork_len);
        let g = Graph::open(&dir).unwrap();
        // Kept node ids are unchanged.
        let kept_nodes = u.kept_nodes as usize;
        assert_eq!(nodes_at(&g)[..kept_nodes], old_keys[..kept_nodes]);
        // Only the dropped segment files are gone; nothing else is left behind.
        let files = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".fgs"));
        assert_eq!(files.count(), kept + 1);
        let (c, how) = update_clustering(&g, &exchanges(&g, &b)).unwrap();
        if kept > 0 {
            assert!(
                matches!(how, ClusterUpdate::Unwound { kept_segments, from_segments: 6, .. } if kept_segments == kept),
                "cut {cut}: {how:?}"
            );
        } else {
            assert!(matches!(how, ClusterUpdate::Rebuilt { .. }), "{how:?}");
        }
        // A fresh build of the same store, in one step.
        let fresh_dir = tmp.path().join("fresh");
        Graph::update_from_store(&fresh_dir, &store).unwrap();
        let f = Graph::open(&fresh_dir).unwrap();
        assert_eq!(content(&g), content(&f), "cut {cut}: graph differs from a fresh build");
        let fc = cluster_with(&f, &exchanges(&f, &b));
        assert_eq!(entities(&g, &c), entities(&f, &fc), "cut {cut}: clustering differs");
        // (A sweep follows its receipt by one block; cut at 0, the other branch has none.)
        assert!(
            fc.coinjoin_count() > 0 && (fc.deposit_count() > 0 || cut < 2),
            "the worlds exercise both: {} CoinJoins, {} deposit addresses",
            fc.coinjoin_count(),
            fc.deposit_count()
        );
        assert_eq!((c.coinjoin_count(), g.edge_count()), (fc.coinjoin_count(), f.edge_count()));
        // And the same as clustering the unwound graph from scratch (same node ids).
        let scratch = cluster_with(&g, &exchanges(&g, &b));
        for n in 0..g.node_count() {
            assert_eq!(c.entity_of(NodeId(n)), scratch.entity_of(NodeId(n)), "node {n}");
        }
        // The stored file now matches the graph: queries use it.
        assert!(floodgate_graph::open_clustering(&g).unwrap().is_some());
    }
}

#[test]
fn unwind_to_a_height_drops_whole_segments_above_it() {
    let b = book();
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    let dir = tmp.path().join("graph");
    grow(&mut store, &b, &dir, 0..8);
    assert_eq!(Graph::unwind_to(&dir, Chain::Bitcoin, 7).unwrap(), None, "nothing above 7");
    let u = Graph::unwind_to(&dir, Chain::Bitcoin, 4).unwrap().unwrap();
    // Segments end at 1, 3, 5, 7: the one ending at 5 holds block 5, above 4.
    assert_eq!((u.kept_segments, u.dropped_segments), (2, 2));
    assert_eq!(u.tips["bitcoin"], 3);
    let g = Graph::open(&dir).unwrap();
    assert_eq!(g.tips()["bitcoin"].height, 3);
    // The store still holds 0..8: the next build appends 4..8 again, equal to a fresh build.
    let r = Graph::update_from_store(&dir, &store).unwrap();
    assert_eq!(r.unwound, None, "the graph's tips are blocks of the store");
    let fresh = tmp.path().join("fresh");
    Graph::update_from_store(&fresh, &store).unwrap();
    assert_eq!(content(&Graph::open(&dir).unwrap()), content(&Graph::open(&fresh).unwrap()));
    let _ = store.chain_tip(Chain::Bitcoin).unwrap();
}

/// Issue 15 item 3 (graph format 3): an account transfer's transaction id is not in the
/// graph but resolved from the transfer store beside it, and is the id the store lists for
/// that transfer; a store that changed the block since (a reorganisation the graph has not
/// followed yet) or no store at all gives an error naming the block, never another id.
#[test]
fn account_transfer_ids_are_resolved_from_the_store_and_checked_against_it() {
    use floodgate_graph::{GraphError, TxRef};
    use floodgate_store::TransferFilter;
    let b = book();
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    let dir = tmp.path().join("graph");
    grow(&mut store, &b, &dir, 0..6);
    let g = Graph::open(&dir).unwrap();
    let txids = g.footprint().iter().find(|(n, _)| *n == "txids").map(|e| e.1);
    assert_eq!(txids, Some(0), "no transaction id is stored in the graph");
    let mut from_graph = BTreeSet::new();
    for n in 0..g.node_count() {
        for e in g.out_edges(NodeId(n)).filter(|e| e.chain == Chain::Ethereum) {
            assert!(matches!(e.tx, TxRef::StoreRow { block: Some(_), .. }), "{:?}", e.tx);
            let (from, to) = (g.key(e.src).into_owned(), g.key(e.dst).into_owned());
            from_graph.insert((from, to, e.amount, e.time, e.txid().unwrap().to_hex_prefixed()));
        }
    }
    let filter = TransferFilter { chain: Some(Chain::Ethereum), ..TransferFilter::default() };
    let from_store: BTreeSet<_> = store
        .transfers(&filter)
        .unwrap()
        .into_iter()
        .map(|r| (r.from.unwrap(), r.to.unwrap(), r.amount.unwrap(), r.time.map(|t| t.0), r.txid))
        .collect();
    assert_eq!(from_graph.len(), 3 * 6 + 1);
    assert_eq!(from_graph, from_store);
    g.verify().unwrap();

    // The store takes another block 5 (a reorganisation); the graph is not rebuilt yet.
    store.rollback_to(Chain::Ethereum, 4).unwrap();
    apply(&mut store, &[eth_block(&b, 5, 1, 0)]);
    let stale: Vec<_> = (0..g.node_count())
        .flat_map(|n| g.out_edges(NodeId(n)).collect::<Vec<_>>())
        .filter(|e| e.chain == Chain::Ethereum && e.time == Some(T0 + 5 * 600 + 300))
        .map(|e| e.txid())
        .collect();
    assert_eq!(stale.len(), 3);
    for r in stale {
        let err = r.unwrap_err();
        assert!(matches!(err, GraphError::Unresolved { height: 5, .. }), "{err}");
        assert!(err.to_string().contains("trace build"), "{err}");
    }
    let err = Graph::open(&dir).unwrap().verify().unwrap_err();
    assert!(matches!(err, GraphError::Unresolved { height: 5, .. }), "{err}");
    // The next build unwinds the graph: its ids resolve again.
    Graph::update_from_store(&dir, &store).unwrap();
    Graph::open(&dir).unwrap().verify().unwrap();

    // A graph without its store cannot show account transfers' ids.
    let alone = tempfile::tempdir().unwrap();
    let copy = alone.path().join("graph");
    std::fs::create_dir(&copy).unwrap();
    for f in std::fs::read_dir(&dir).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), copy.join(f.file_name())).unwrap();
    }
    let g = Graph::open(&copy).unwrap();
    let e = (0..g.node_count())
        .find_map(|n| g.out_edges(NodeId(n)).find(|e| e.chain == Chain::Ethereum))
        .unwrap();
    let err = e.txid().unwrap_err();
    assert!(err.to_string().contains("no transfer store beside the graph"), "{err}");
    assert_eq!(e.txid_string(), "");
    assert!(!alone.path().join(floodgate_store::STORE_FILE).exists(), "no store was created");
}
