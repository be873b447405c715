//! A reorganisation without a rebuild (issue 15 item 4): the store holds a chain of
//! blocks, the graph was built in steps (one segment per `STEP` blocks) with its clustering;
//! then the store rolls back `DEPTH` blocks and takes `DEPTH + 1` other blocks. Measured in
//! the same run:
//!
//! - `unwind`: the next build — `Graph::update_from_store` (drops the segments above the
//!   newest one the store still holds, appends the rest) and `update_clustering` (unwinds
//!   the clustering to the kept segments, extends it);
//! - `rebuild` (baseline): a graph built from scratch from the same store, clustered from
//!   scratch — what a reorganisation cost before.
//!
//! `cargo bench -p floodgate-graph --bench unwind` (scale with FLOODGATE_BENCH_BLOCKS,
//! default 400 Bitcoin and 400 Ethereum blocks of 250 transactions; STEP 20, DEPTH 6).

// Benchmarks report through criterion (and describe their input on stderr); unwrap is the
// failure report here.
#![allow(clippy::unwrap_used, clippy::print_stderr, missing_docs)]

use std::collections::BTreeSet;
use std::path::Path;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use floodgate_gen::{GenConfig, World};
use floodgate_graph::{cluster_with, update_clustering, Graph, NodeId};
use floodgate_store::Store;
use floodgate_types::{
    Address, Amount, AssetId, BlockHeader, Chain, ChainBlock, Hash32, OutPoint, Timestamp,
    Transfer, TransferIndex, TransferKind, TxInput, TxOutput, UtxoTx,
};

const STEP: u64 = 20;
const DEPTH: u64 = 6;
const TXS: u64 = 250;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        floodgate_gen::splitmix64(&mut self.0)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

struct Book {
    btc: Vec<Address>,
    eth: Vec<Address>,
}

fn book() -> Book {
    let w = World::new(&GenConfig { transfers: 200_000, seed: 11, ..GenConfig::default() });
    let (mut btc, mut eth) = (Vec::new(), Vec::new());
    for i in 0..w.address_count() {
        match w.address_chain(i) {
            Chain::Bitcoin if btc.len() < 5_000 => btc.push(w.address(i)),
            Chain::Ethereum if eth.len() < 5_000 => eth.push(w.address(i)),
            _ => {}
        }
    }
    Book { btc, eth }
}

fn hash(chain: Chain, height: u64, branch: u8, tag: u8) -> Hash32 {
    let mut b = [0u8; 32];
    b[0] = chain.code();
    b[1..9].copy_from_slice(&height.to_be_bytes());
    b[9] = branch;
    b[31] = tag;
    Hash32(b)
}

fn header(chain: Chain, height: u64, branch: u8, parent: u8) -> Option<BlockHeader> {
    Some(BlockHeader {
        chain,
        height,
        hash: hash(chain, height, branch, 1),
        parent: height.checked_sub(1).map(|p| hash(chain, p, parent, 1)),
        time: Some(Timestamp(1_700_000_000 + height as i64 * 600)),
    })
}

fn blocks(b: &Book, height: u64, branch: u8, parent: u8) -> [ChainBlock; 2] {
    let mut rng = Rng(height * 7 + u64::from(branch));
    let mut utxo = Vec::new();
    for t in 0..TXS {
        let mut id = hash(Chain::Bitcoin, height, branch, 2).0;
        id[10..18].copy_from_slice(&t.to_le_bytes());
        let inputs = (0..1 + rng.below(3))
            .map(|k| TxInput {
                prevout: Some(OutPoint { txid: Hash32([0xee; 32]), vout: k as u32 }),
                address: Some(b.btc[rng.below(b.btc.len())].clone()),
                value: Some(Amount::from(100_000u64)),
            })
            .collect();
        let outputs = (0..1 + rng.below(3))
            .map(|k| TxOutput {
                vout: k as u32,
                address: b.btc[rng.below(b.btc.len())].clone(),
                value: Amount::from(1_000 + rng.next() % 90_000),
            })
            .collect();
        utxo.push(UtxoTx { txid: Hash32(id), position: t as u32, inputs, outputs });
    }
    let mut transfers = Vec::new();
    for t in 0..TXS {
        let mut id = hash(Chain::Ethereum, height, branch, 3).0;
        id[10..18].copy_from_slice(&t.to_le_bytes());
        transfers.push(Transfer {
            chain: Chain::Ethereum,
            height,
            block_hash: Some(hash(Chain::Ethereum, height, branch, 1)),
            time: Some(Timestamp(1_700_000_000 + height as i64 * 600)),
            txid: Hash32(id),
            tx_position: Some(t as u32),
            index: TransferIndex::Log(t as u32),
            kind: TransferKind::Token,
            from: b.eth[rng.below(b.eth.len())].clone(),
            to: b.eth[rng.below(b.eth.len())].clone(),
            asset: AssetId("USDT-ERC20".to_owned()),
            amount: Amount::from(1 + rng.next() % 1_000_000_000),
        });
    }
    [
        ChainBlock {
            header: header(Chain::Bitcoin, height, branch, parent),
            utxo_txs: utxo,
            transfers: vec![],
        },
        ChainBlock {
            header: header(Chain::Ethereum, height, branch, parent),
            utxo_txs: vec![],
            transfers,
        },
    ]
}

fn exchanges(g: &Graph, b: &Book) -> BTreeSet<NodeId> {
    b.eth[..2].iter().filter_map(|a| g.lookup(&a.to_canonical())).collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let n: u64 =
        std::env::var("FLOODGATE_BENCH_BLOCKS").ok().and_then(|v| v.parse().ok()).unwrap_or(400);
    let b = book();
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    let built = tmp.path().join("built");
    for h in 0..n {
        store.apply_blocks(&blocks(&b, h, 0, 0)).unwrap();
        if (h + 1) % STEP == 0 {
            Graph::update_from_store(&built, &store).unwrap();
            let g = Graph::open(&built).unwrap();
            update_clustering(&g, &exchanges(&g, &b)).unwrap();
        }
    }
    let cut = n - 1 - DEPTH;
    store.rollback_to(Chain::Bitcoin, cut).unwrap();
    store.rollback_to(Chain::Ethereum, cut).unwrap();
    for h in cut + 1..n + 1 {
        store.apply_blocks(&blocks(&b, h, 1, u8::from(h > cut + 1))).unwrap();
    }
    let g = Graph::open(&built).unwrap();
    eprintln!(
        "graph before the reorganisation: {} segments, {} edges; store rolled back {DEPTH} blocks, {} blocks mined on the other branch",
        g.segment_count(),
        g.edge_count(),
        DEPTH + 1
    );
    drop(g);
    let mut group = c.benchmark_group("reorganisation");
    group.sample_size(10);
    let mut round = 0u64;
    group.bench_function("unwind then append (graph + clustering)", |bench| {
        bench.iter_batched(
            || {
                round += 1;
                let d = tmp.path().join(format!("unwind-{round}"));
                copy_dir(&built, &d);
                d
            },
            |d| {
                let r = Graph::update_from_store(&d, &store).unwrap();
                assert!(r.unwound.is_some());
                let g = Graph::open(&d).unwrap();
                update_clustering(&g, &exchanges(&g, &b)).unwrap();
                std::fs::remove_dir_all(&d).ok();
            },
            BatchSize::PerIteration,
        );
    });
    group.bench_function("rebuild from the store (baseline)", |bench| {
        bench.iter_batched(
            || {
                round += 1;
                tmp.path().join(format!("rebuild-{round}"))
            },
            |d| {
                Graph::update_from_store(&d, &store).unwrap();
                let g = Graph::open(&d).unwrap();
                let c = cluster_with(&g, &exchanges(&g, &b));
                c.save(&d).unwrap();
                std::fs::remove_dir_all(&d).ok();
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
