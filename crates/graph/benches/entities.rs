//! The persisted clustering (`entities.fge`) on a seeded synthetic UTXO graph: clustering
//! from scratch, extending the stored state by one appended segment, and opening the file.
//!
//! `cargo bench -p floodgate-graph --bench entities` (scale with FLOODGATE_BENCH_TXS,
//! default 300,000 transactions of 2 inputs and 2 outputs, 99 % in the first segment).

// Benchmarks report through criterion; unwrap is the failure report here.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use floodgate_graph::{
    cluster_with, update_clustering, Clustering, EdgeInput, Graph, GraphBuilder, NodeKind,
    ENTITIES_FILE,
};
use floodgate_types::{Amount, Chain, Hash32};

/// splitmix64: a tiny seeded generator, so the input is the same on every machine.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        floodgate_gen::splitmix64(&mut self.0)
    }
}

/// Appends transactions `range` (2 inputs, 2 outputs each; addresses drawn from
/// `0..addresses`) as one segment.
fn append(dir: &std::path::Path, range: std::ops::Range<u64>, addresses: u64) -> Graph {
    let base = Graph::open_or_empty(dir).unwrap();
    let mut b = GraphBuilder::new(Some(&base));
    let mut r = Rng(range.start);
    for i in range {
        let mut id = [0u8; 32];
        id[..8].copy_from_slice(&i.to_le_bytes());
        let txid = Hash32(id);
        let t =
            b.node(&floodgate_graph::tx_key(Chain::Bitcoin, &txid), NodeKind::Transaction).unwrap();
        let e = |v: u64| EdgeInput {
            amount: Amount::from(v),
            time: Some(1_600_000_000 + i as i64),
            asset: "BTC",
            txid,
            chain: Chain::Bitcoin,
        };
        for _ in 0..2 {
            let a = b.node(&format!("1a{}", r.next() % addresses), NodeKind::Address).unwrap();
            b.add_edge(a, t, &e(1000)).unwrap();
        }
        for _ in 0..2 {
            let a = b.node(&format!("1a{}", r.next() % addresses), NodeKind::Address).unwrap();
            b.add_edge(t, a, &e(1 + r.next() % 999)).unwrap();
        }
    }
    b.commit(&base, BTreeMap::new()).unwrap();
    Graph::open(dir).unwrap()
}

fn bench(c: &mut Criterion) {
    let txs: u64 =
        std::env::var("FLOODGATE_BENCH_TXS").ok().and_then(|v| v.parse().ok()).unwrap_or(300_000);
    let addresses = txs * 2;
    let dir = tempfile::tempdir().unwrap();
    let split = txs * 99 / 100;
    let none = BTreeSet::new();
    let g1 = append(dir.path(), 0..split, addresses);
    let (first, _) = update_clustering(&g1, &none).unwrap();
    let g = append(dir.path(), split..txs, addresses);
    let t = Instant::now();
    update_clustering(&g, &none).unwrap();
    let extend_once = t.elapsed();
    let path = dir.path().join(ENTITIES_FILE);
    let t = Instant::now();
    let loaded = Clustering::load(&path).unwrap();
    report(&g, &path, &loaded, extend_once, t.elapsed());

    let mut group = c.benchmark_group("entities");
    group.sample_size(10);
    group.bench_function("cluster from scratch", |b| b.iter(|| cluster_with(&g, &none)));
    group.bench_function("extend by the appended 1 %", |b| {
        b.iter(|| {
            let mut c = first.clone();
            c.extend(&g);
            c
        })
    });
    group.bench_function("open entities.fge", |b| b.iter(|| Clustering::load(&path).unwrap()));
    group.finish();
}

#[allow(clippy::print_stderr)] // the figure is the point of a benchmark run
fn report(
    g: &Graph,
    path: &std::path::Path,
    c: &Clustering,
    extend: std::time::Duration,
    open: std::time::Duration,
) {
    let bytes = std::fs::metadata(path).unwrap().len();
    eprintln!(
        "entities.fge: {} nodes, {} edges, {bytes} bytes ({:.1} bytes/node), {} merges; update (load + extend + save) {extend:?}, open {open:?}",
        g.node_count(),
        g.edge_count(),
        bytes as f64 / f64::from(g.node_count()),
        c.merge_count(),
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
