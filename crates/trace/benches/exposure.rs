//! Graph build and exposure benchmarks on a seeded synthetic account-chain graph, against a
//! plain in-memory adjacency-map baseline measured in the same run.
//!
//! `cargo bench -p floodgate-trace --bench exposure` (scale with FLOODGATE_BENCH_EDGES, default 1,000,000).
//! The exposure index: its build beside the graph build, an update over an appended segment
//! of 1 % of the transfers, and its lookup beside the per-query causal haircut of the same
//! targets, in the same run (`exposure_index`).

// Benchmarks report through criterion; unwrap is the failure report here.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::{BTreeMap, HashMap};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use floodgate_graph::{EdgeInput, Graph, GraphBuilder, NodeId, NodeKind};
use floodgate_trace::{
    build_index, exposure, state_path, update_index, ExposureIndex, ExposureOptions, IndexUpdate,
    TaintModel, INDEX_FILE,
};
use floodgate_types::{Amount, Chain, Hash32, RiskCategory};

/// splitmix64: a tiny seeded generator, so the input is the same on every machine.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        floodgate_gen::splitmix64(&mut self.0)
    }
    /// A heavy-tailed node index in `0..n` (a few hubs receive most edges).
    fn heavy(&mut self, n: u32) -> u32 {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((n as f64) * u.powi(3)) as u32 % n
    }
}

fn edges(count: usize, nodes: u32) -> Vec<(u32, u32, u64, u32)> {
    let mut r = Rng(42);
    (0..count)
        .map(|i| {
            let a = (r.next() % u64::from(nodes)) as u32;
            let b = r.heavy(nodes);
            (a, b, 1 + r.next() % 1_000_000_000, 1_600_000_000 + i as u32)
        })
        .collect()
}

fn key(i: u32) -> String {
    format!("0x{i:040x}")
}

fn build(dir: &std::path::Path, es: &[(u32, u32, u64, u32)], nodes: u32) -> Graph {
    build_segments(dir, es, nodes, es.len())
}

/// The graph of `es` in two segments: every node and the first `split` edges, then the rest
/// (node ids are those of [`build`]).
fn build_segments(
    dir: &std::path::Path,
    es: &[(u32, u32, u64, u32)],
    nodes: u32,
    split: usize,
) -> Graph {
    append(dir, es, nodes, 0..split);
    if split < es.len() {
        append(dir, es, nodes, split..es.len());
    }
    Graph::open(dir).unwrap()
}

fn append(
    dir: &std::path::Path,
    es: &[(u32, u32, u64, u32)],
    nodes: u32,
    range: std::ops::Range<usize>,
) {
    let base = Graph::open_or_empty(dir).unwrap();
    let mut b = GraphBuilder::new(Some(&base));
    let ids: Vec<NodeId> =
        (0..nodes).map(|i| b.node(&key(i), NodeKind::Address).unwrap()).collect();
    for (i, &(f, t, a, time)) in es.iter().enumerate().skip(range.start).take(range.len()) {
        let mut txid = [0u8; 32];
        txid[..8].copy_from_slice(&(i as u64).to_le_bytes());
        let e = EdgeInput {
            amount: Amount::from(a),
            time: Some(i64::from(time)),
            asset: "ETH",
            txid: Hash32(txid),
            chain: Chain::Ethereum,
        };
        b.add_edge(ids[f as usize], ids[t as usize], &e).unwrap();
    }
    b.commit(&base, BTreeMap::new()).unwrap();
}

/// The baseline: haircut exposure over a HashMap adjacency, the same rules.
fn baseline_haircut(
    up: &HashMap<u32, Vec<(u32, u128)>>,
    tags: &HashMap<u32, u8>,
    target: u32,
    hops: u32,
) -> u128 {
    let total: u128 = up.get(&target).map_or(0, |v| v.iter().map(|e| e.1).sum());
    let mut frontier: HashMap<u32, u128> = HashMap::from([(target, total)]);
    let mut found = 0u128;
    for step in 0..=hops {
        let mut next: HashMap<u32, u128> = HashMap::new();
        for (&n, &f) in &frontier {
            if step > 0 && tags.contains_key(&n) {
                found += f;
                continue;
            }
            if step == hops {
                continue;
            }
            let Some(ups) = up.get(&n) else { continue };
            let d: u128 = ups.iter().map(|e| e.1).sum();
            for &(m, a) in ups {
                *next.entry(m).or_default() += f * a / d;
            }
        }
        frontier = next;
    }
    found
}

fn bench(c: &mut Criterion) {
    let count: usize = std::env::var("FLOODGATE_BENCH_EDGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let nodes = (count / 5).max(10) as u32;
    let es = edges(count, nodes);

    let mut g = c.benchmark_group("graph_build");
    g.sample_size(10);
    g.throughput(Throughput::Elements(count as u64));
    g.bench_function(BenchmarkId::new("csr_segment", count), |b| {
        b.iter(|| {
            let dir = tempfile::tempdir().unwrap();
            build(dir.path(), &es, nodes).edge_count()
        })
    });
    g.bench_function(BenchmarkId::new("hashmap_baseline", count), |b| {
        b.iter(|| {
            let mut up: HashMap<u32, Vec<(u32, u128)>> = HashMap::new();
            for &(f, t, a, _) in &es {
                up.entry(t).or_default().push((f, u128::from(a)));
            }
            up.len()
        })
    });
    g.finish();

    let dir = tempfile::tempdir().unwrap();
    let graph = build(dir.path(), &es, nodes);
    let mut up: HashMap<u32, Vec<(u32, u128)>> = HashMap::new();
    for &(f, t, a, _) in &es {
        up.entry(graph.lookup(&key(t)).unwrap().0)
            .or_default()
            .push((graph.lookup(&key(f)).unwrap().0, u128::from(a)));
    }
    // 1% of nodes tagged, hubs excluded so traces go deep.
    let mut r = Rng(7);
    let mut tags: HashMap<NodeId, RiskCategory> = HashMap::new();
    let mut btags: HashMap<u32, u8> = HashMap::new();
    for _ in 0..nodes / 100 {
        let n = graph.lookup(&key((r.next() % u64::from(nodes)) as u32)).unwrap();
        tags.insert(n, RiskCategory::Scam);
        btags.insert(n.0, 0);
    }
    let targets: Vec<NodeId> = (0..64)
        .map(|_| graph.lookup(&key((r.next() % u64::from(nodes)) as u32)).unwrap())
        .collect();
    for hops in [2u32, 4, 6] {
        let mut g = c.benchmark_group(format!("exposure_haircut_{hops}_hops"));
        g.sample_size(10);
        let opts = ExposureOptions { hops, asset: Some("ETH".into()), ..Default::default() };
        let mut i = 0;
        g.bench_function(BenchmarkId::new("csr", count), |b| {
            b.iter(|| {
                i = (i + 1) % targets.len();
                exposure(&graph, &tags, targets[i], &opts).unwrap().len()
            })
        });
        // The same model ignoring time (`--ignore-time`), the rules the baseline implements.
        let old = ExposureOptions { ignore_time: true, ..opts.clone() };
        let mut i = 0;
        g.bench_function(BenchmarkId::new("csr_ignore_time", count), |b| {
            b.iter(|| {
                i = (i + 1) % targets.len();
                exposure(&graph, &tags, targets[i], &old).unwrap().len()
            })
        });
        let mut i = 0;
        g.bench_function(BenchmarkId::new("hashmap_baseline", count), |b| {
            b.iter(|| {
                i = (i + 1) % targets.len();
                baseline_haircut(&up, &btags, targets[i].0, hops)
            })
        });
        g.finish();
    }
    // The exposure index: one forward pass over every transfer (beside `graph_build` above,
    // the same edges), then a lookup (with its report) beside the per-query causal haircut
    // of the same targets at 6 hops.
    let ipath = dir.path().join(INDEX_FILE);
    let mut g = c.benchmark_group("exposure_index");
    g.sample_size(10);
    g.throughput(Throughput::Elements(count as u64));
    g.bench_function(BenchmarkId::new("build_index", count), |b| {
        b.iter(|| build_index(&graph, &tags, &ipath).unwrap().entries)
    });
    // An update: the same edges with the last 1 % appended as a second segment; the pass
    // saved over the first segment is continued over the new one (`update_index`), each
    // iteration from the same saved pass.
    let split_dir = tempfile::tempdir().unwrap();
    let split = count - count / 100;
    let two = build_segments(split_dir.path(), &es, nodes, split);
    let upath = split_dir.path().join(INDEX_FILE);
    build_index(&two.prefix(1).unwrap(), &tags, &upath).unwrap();
    let saved = std::fs::read(state_path(&upath)).unwrap();
    g.bench_function(BenchmarkId::new("update_index_last_1pct", count), |b| {
        b.iter_batched(
            || std::fs::write(state_path(&upath), &saved).unwrap(),
            |()| {
                let rep = update_index(&two, &tags, &upath).unwrap();
                assert!(matches!(rep.update, IndexUpdate::Extended { .. }), "{:?}", rep.update);
                rep.entries
            },
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();
    if !ipath.exists() {
        // `build_index` was filtered out.
        build_index(&graph, &tags, &ipath).unwrap();
    }
    let idx = ExposureIndex::open(&ipath).unwrap();
    let mut g = c.benchmark_group("exposure_index_lookup_6_hops");
    let mut i = 0;
    g.bench_function(BenchmarkId::new("index_lookup_and_report", count), |b| {
        b.iter(|| {
            i = (i + 1) % targets.len();
            let e = idx.lookup_asset(targets[i], "ETH");
            e.and_then(|e| e.report(&graph, "t", TaintModel::Haircut, 6)).map(|r| r.total)
        })
    });
    g.sample_size(10);
    let opts = ExposureOptions { hops: 6, asset: Some("ETH".into()), ..Default::default() };
    let mut i = 0;
    g.bench_function(BenchmarkId::new("per_query_causal_haircut", count), |b| {
        b.iter(|| {
            i = (i + 1) % targets.len();
            exposure(&graph, &tags, targets[i], &opts).unwrap().len()
        })
    });
    g.finish();
    // The order and TIHO models at 6 hops, same targets (no baseline: it implements
    // haircut only).
    let mut g = c.benchmark_group("exposure_models_6_hops");
    g.sample_size(10);
    for model in [TaintModel::Fifo, TaintModel::Lifo, TaintModel::Tiho] {
        let opts =
            ExposureOptions { hops: 6, model, asset: Some("ETH".into()), ..Default::default() };
        let mut i = 0;
        g.bench_function(BenchmarkId::new(format!("{model:?}").to_lowercase(), count), |b| {
            b.iter(|| {
                i = (i + 1) % targets.len();
                exposure(&graph, &tags, targets[i], &opts).unwrap().len()
            })
        });
    }
    g.finish();
    let t = std::time::Instant::now();
    let reopened = Graph::open(dir.path()).unwrap();
    let open = t.elapsed();
    let t = std::time::Instant::now();
    reopened.verify().unwrap();
    let verify = t.elapsed();
    eprintln_bytes(&graph, count, open, verify);
}

#[allow(clippy::print_stderr)] // the figure is the point of a benchmark run
fn eprintln_bytes(g: &Graph, count: usize, open: std::time::Duration, verify: std::time::Duration) {
    eprintln!(
        "graph: {count} edges, {} nodes, {} bytes on disk, {:.1} bytes/edge; open (validate) {open:?}, verify checksums {verify:?}",
        g.node_count(),
        g.bytes(),
        g.bytes() as f64 / count as f64
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
