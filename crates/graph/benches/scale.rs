//! The graph at scale: build a generated world of N transfers (default 2,000,000; the issue's
//! figure is 50,000,000: `FLOODGATE_BENCH_TRANSFERS=50000000 cargo bench -p floodgate-graph
//! --bench scale`), then measure build speed, bytes per edge, open time, peak memory and
//! 6-hop exposure latency (p50/p99), each beside a plain in-memory adjacency-map baseline
//! built and queried in the same run. Not criterion: one build is the measurement.

// A benchmark reports on stderr; unwrap is the failure report here.
#![allow(clippy::unwrap_used, clippy::print_stderr, missing_docs)]

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use floodgate_gen::{GenConfig, LegKind, World};
use floodgate_graph::{
    exposure, Category, EdgeInput, ExposureOptions, Graph, GraphBuilder, NodeId, NodeKind,
};
use floodgate_types::{Amount, Chain};
use rustc_hash::FxHashMap;

/// Peak and current resident memory of this process, in bytes (Linux; 0 elsewhere).
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn gib(b: u64) -> String {
    format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64)
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort_unstable();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// The baseline: the same haircut rules (transaction nodes cost no hop, tagged nodes end the
/// trace, integer floor division) over `HashMap<node, Vec<(neighbour, amount)>>`.
fn baseline_haircut(
    up: &FxHashMap<u32, Vec<(u32, u64)>>,
    is_tx: &[bool],
    tags: &FxHashMap<u32, Category>,
    target: u32,
    hops: u32,
) -> u128 {
    let cost = |n: u32| u32::from(!is_tx[n as usize]);
    let mut frontier: FxHashMap<(u32, u32), u128> = FxHashMap::default();
    for &(m, a) in up.get(&target).map_or(&[][..], |v| v) {
        if cost(m) <= hops {
            *frontier.entry((m, cost(m))).or_default() += u128::from(a);
        }
    }
    let mut found = 0u128;
    for step in 1..=(2 * hops + 2) {
        let mut next: FxHashMap<(u32, u32), u128> = FxHashMap::default();
        for (&(n, h), &f) in &frontier {
            if tags.contains_key(&n) {
                found += f;
                continue;
            }
            if step == 2 * hops + 2 {
                continue;
            }
            let Some(ups) = up.get(&n) else { continue };
            let d: u128 = ups.iter().map(|e| u128::from(e.1)).sum();
            for &(m, a) in ups {
                let hm = h + cost(m);
                if hm <= hops && d > 0 {
                    *next.entry((m, hm)).or_default() += f * u128::from(a) / d;
                }
            }
        }
        frontier = next;
        if frontier.is_empty() {
            break;
        }
    }
    found
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is ignored.
    let transfers: u64 = std::env::var("FLOODGATE_BENCH_TRANSFERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let queries: usize =
        std::env::var("FLOODGATE_BENCH_QUERIES").ok().and_then(|v| v.parse().ok()).unwrap_or(500);
    let t = Instant::now();
    let world = World::new(&GenConfig { transfers, seed: 42, ..GenConfig::default() });
    let keys: Vec<String> = (0..world.address_count()).map(|i| world.address_key(i)).collect();
    eprintln!(
        "world: {transfers} transfers planned, {} addresses, planned and keys rendered in {:.1?}",
        keys.len(),
        t.elapsed()
    );

    // Build: every leg as an edge, in the world's block order; an address is interned when
    // first met (as a build from the transfer store meets them), once: the generator, like
    // the store, knows which legs share an address.
    let dir = tempfile::tempdir().unwrap();
    let empty = Graph::open_or_empty(dir.path()).unwrap();
    let mut b = GraphBuilder::new(Some(&empty));
    b.reserve(keys.len() + (transfers / 4) as usize, transfers as usize);
    let mut ids: Vec<NodeId> = vec![NodeId(u32::MAX); keys.len()];
    let mut intern = Duration::ZERO;
    let t1 = Instant::now();
    let mut last_tx: Option<(u64, NodeId)> = None;
    let mut edges = 0u64;
    world.for_each_leg(|leg| {
        let input = EdgeInput {
            amount: Amount::from(leg.amount),
            time: Some(leg.time),
            asset: leg.asset,
            txid: leg.txid,
            chain: leg.chain,
        };
        let mut id = |b: &mut GraphBuilder<'_>, i: u32| {
            let slot = &mut ids[i as usize];
            if slot.0 == u32::MAX {
                let t = Instant::now();
                *slot = b.node(&keys[i as usize], NodeKind::Address).unwrap();
                intern += t.elapsed();
            }
            *slot
        };
        let mut txn = |b: &mut GraphBuilder<'_>| match last_tx {
            Some((t, n)) if t == leg.tx => n,
            _ => {
                let n = b.tx_node(leg.chain, &leg.txid).unwrap();
                last_tx = Some((leg.tx, n));
                n
            }
        };
        let (s, d) = match (leg.kind, leg.from, leg.to) {
            (LegKind::Input, Some(f), _) => (id(&mut b, f), txn(&mut b)),
            (LegKind::Output, _, Some(t)) => {
                let tx = txn(&mut b);
                (tx, id(&mut b, t))
            }
            (LegKind::Transfer, Some(f), Some(t)) => (id(&mut b, f), id(&mut b, t)),
            _ => return,
        };
        b.add_edge(s, d, &input).unwrap();
        edges += 1;
    });
    let add = t1.elapsed() - intern;
    let t2 = Instant::now();
    b.commit(&empty, BTreeMap::new()).unwrap();
    let commit = t2.elapsed();
    let (peak_build, _) = rss();
    let build = intern + add + commit;

    let t = Instant::now();
    let graph = Graph::open(dir.path()).unwrap();
    let open = t.elapsed();
    let bytes = graph.bytes();

    // The baseline, built from the same legs: an upstream adjacency map keyed by node id.
    let n = graph.node_count() as usize;
    let mut is_tx = vec![false; n];
    for (i, x) in is_tx.iter_mut().enumerate() {
        *x = graph.kind(NodeId(i as u32)) == NodeKind::Transaction;
    }
    let t = Instant::now();
    let mut up: FxHashMap<u32, Vec<(u32, u64)>> = FxHashMap::default();
    let mut last: Option<(u64, u32)> = None;
    world.for_each_leg(|leg| {
        let txn = match last {
            Some((t, n)) if t == leg.tx => n,
            _ if leg.kind == LegKind::Transfer => 0,
            _ => {
                let k = floodgate_graph::tx_key(leg.chain, &leg.txid);
                let n = graph.lookup(&k).unwrap().0;
                last = Some((leg.tx, n));
                n
            }
        };
        let (s, d) = match (leg.kind, leg.from, leg.to) {
            (LegKind::Input, Some(f), _) => (ids[f as usize].0, txn),
            (LegKind::Output, _, Some(t)) => (txn, ids[t as usize].0),
            (LegKind::Transfer, Some(f), Some(t)) => (ids[f as usize].0, ids[t as usize].0),
            _ => return,
        };
        up.entry(d).or_default().push((s, leg.amount));
    });
    // The tx-node lookups above are the baseline's own key index; not counted as its build.
    let baseline_build = t.elapsed();
    let (peak_all, now_all) = rss();

    // Queries: the world's tags (ground truth of what is publicly known), 6 hops, haircut,
    // into random addresses that received value.
    let mut tags: HashMap<NodeId, Category> = HashMap::new();
    world.for_each_entity(|e| {
        let Some(c) = Category::parse(e.category) else { return };
        for a in e.addresses.iter().filter(|a| a.tagged) {
            if ids[a.id as usize].0 != u32::MAX {
                tags.insert(ids[a.id as usize], c);
            }
        }
    });
    let btags: FxHashMap<u32, Category> = tags.iter().map(|(k, v)| (k.0, *v)).collect();
    let mut r = 0x9e37_79b9_7f4a_7c15u64;
    let mut targets = Vec::new();
    while targets.len() < queries {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        let a = ids[(r % ids.len() as u64) as usize];
        if a.0 != u32::MAX && up.contains_key(&a.0) && !tags.contains_key(&a) {
            targets.push(a);
        }
    }
    let asset = |a: NodeId| graph.in_edges(a).next().map(|e| e.asset.to_owned()).unwrap();
    let mut lib = Vec::with_capacity(queries);
    let mut base = Vec::with_capacity(queries);
    for &a in &targets {
        let opts = ExposureOptions { hops: 6, asset: Some(asset(a)), ..Default::default() };
        let t = Instant::now();
        let rep = exposure(&graph, &tags, a, &opts).unwrap();
        lib.push(t.elapsed());
        std::hint::black_box(rep);
        let t = Instant::now();
        std::hint::black_box(baseline_haircut(&up, &is_tx, &btags, a.0, 6));
        base.push(t.elapsed());
    }
    let (lp50, lp99) = (pct(&mut lib, 0.5), pct(&mut lib, 0.99));
    let (bp50, bp99) = (pct(&mut base, 0.5), pct(&mut base, 0.99));

    let rate = |d: Duration| edges as f64 / d.as_secs_f64() / 1e6;
    eprintln!("\n== graph at scale: {edges} edges, {n} nodes ({} addresses) ==", keys.len());
    eprintln!("build   floodgate     {:>8.2}M edges/s  ({build:.2?}: intern addresses {intern:.2?}, add edges {add:.2?}, sort+encode+write+fsync {commit:.2?})", rate(build));
    eprintln!("        without intern {:>7.2}M edges/s", rate(add + commit));
    eprintln!(
        "        baseline map  {:>8.2}M edges/s  ({baseline_build:.2?})  ratio {:.2}",
        rate(baseline_build),
        rate(build) / rate(baseline_build)
    );
    eprintln!("disk    {bytes} bytes = {:.1} bytes/edge", bytes as f64 / edges as f64);
    for (name, len) in graph.footprint() {
        eprintln!("          {name:<22} {:>6.2} bytes/edge", len as f64 / edges as f64);
    }
    eprintln!("open    {open:.2?}");
    eprintln!(
        "memory  peak during build {}, peak overall {} (with the baseline map), now {}",
        gib(peak_build),
        gib(peak_all),
        gib(now_all)
    );
    eprintln!("exposure 6 hops haircut, {queries} queries, {} tagged nodes:", tags.len());
    eprintln!("        floodgate     p50 {lp50:>10.2?}  p99 {lp99:>10.2?}");
    eprintln!(
        "        baseline map  p50 {bp50:>10.2?}  p99 {bp99:>10.2?}  ratio p50 {:.2} p99 {:.2}",
        lp50.as_secs_f64() / bp50.as_secs_f64().max(1e-9),
        lp99.as_secs_f64() / bp99.as_secs_f64().max(1e-9)
    );
    let _ = Chain::Bitcoin;
}
