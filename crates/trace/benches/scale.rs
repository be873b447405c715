//! The graph at scale: build a generated world of N transfers (default 2,000,000; the issue's
//! figure is 50,000,000: `FLOODGATE_BENCH_TRANSFERS=50000000 cargo bench -p floodgate-trace
//! --bench scale`), then measure build speed, bytes per edge, open time, peak memory and
//! 6-hop exposure latency (p50/p99), each beside a plain in-memory adjacency-map baseline
//! built and queried in the same run. Not criterion: one build is the measurement.

// A benchmark reports on stderr; unwrap is the failure report here.
#![allow(clippy::unwrap_used, clippy::print_stderr, missing_docs)]

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use floodgate_gen::{GenConfig, LegKind, World};
use floodgate_graph::{EdgeInput, Graph, GraphBuilder, NodeId, NodeKind};
use floodgate_trace::{
    build_index, exposure, exposure_indexed, round_trip_within, ExposureIndex, ExposureOptions,
    Return, TaintModel, ROUND_TRIP_SEARCH,
};
use floodgate_types::{Amount, Chain, RiskCategory};
use rustc_hash::FxHashMap;

/// The allocator the `floodgate` binary runs with, tuned as it tunes it (`floodgate_alloc`), so
/// that the index build and the queries are timed as `floodgate trace build` and `trace
/// exposure` run them.
#[global_allocator]
static ALLOCATOR: floodgate_alloc::MiMalloc = floodgate_alloc::MiMalloc;

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

/// CPU time this process has used (user + system), from `/proc/self/stat` (Linux; zero
/// elsewhere), in clock ticks of 10 ms.
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let ticks: u64 = stat
        .rsplit(')')
        .next()
        .map(|rest| {
            rest.split_whitespace().skip(11).take(2).filter_map(|v| v.parse::<u64>().ok()).sum()
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// CPU time this thread has run, in nanoseconds (Linux `schedstat`; zero elsewhere): precise
/// enough to time one query, unlike [`cpu`]'s 10 ms ticks, and not counting the time spent
/// waiting for a core on a loaded machine. The kernel brings a running thread's count up to
/// date at a tick or a switch: yielding first makes it exact.
fn thread_cpu() -> Duration {
    std::thread::yield_now();
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    Duration::from_nanos(s.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(0))
}

fn gib(b: u64) -> String {
    format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64)
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a, continued from `h` over `bytes`.
fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort_unstable();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// The baseline: the same haircut rules (transaction nodes cost no hop, tagged nodes end the
/// trace, value back at the target is untraced, integer floor division) over
/// `HashMap<node, Vec<(neighbour, amount)>>`.
fn baseline_haircut(
    up: &FxHashMap<u32, Vec<(u32, u64)>>,
    first_tx: u32,
    tags: &FxHashMap<u32, RiskCategory>,
    target: u32,
    hops: u32,
) -> u128 {
    let cost = |n: u32| u32::from(n < first_tx);
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
                if hm <= hops && d > 0 && m != target {
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

/// One leg of the world, held compactly so that generating it is not part of any timing.
#[derive(Clone, Copy)]
struct Leg {
    from: u32,
    to: u32,
    amount: u64,
    tx: u32,
    time: u32,
    height: u64,
    kind: LegKind,
    chain: Chain,
    asset: u8,
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Resets the peak-memory counter (Linux `clear_refs`), so a phase can be measured alone.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn main() {
    floodgate_alloc::tune();
    // `cargo bench` passes `--bench`; a filter argument is ignored.
    let transfers = env("FLOODGATE_BENCH_TRANSFERS", 2_000_000);
    // `FLOODGATE_BENCH_QUERIES=0`: no per-query trace (the index build and lookups alone).
    let queries = env("FLOODGATE_BENCH_QUERIES", 200) as usize;
    // `RUST_LOG=floodgate=debug`: the library's timing logs (the index build's phases) on
    // stderr.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let t = Instant::now();
    let world = World::new(&GenConfig { transfers, seed: 42, ..GenConfig::default() });
    let keys: Vec<String> = (0..world.address_count()).map(|i| world.address_key(i)).collect();
    let mut legs: Vec<Leg> = Vec::with_capacity(transfers as usize + 16);
    let mut txids: Vec<floodgate_types::Hash32> = Vec::new();
    let mut assets: Vec<&'static str> = Vec::new();
    let mut last_tx = u64::MAX;
    world.for_each_leg(|l| {
        if l.tx != last_tx {
            txids.push(l.txid);
            last_tx = l.tx;
        }
        let asset = match assets.iter().position(|&a| a == l.asset) {
            Some(i) => i,
            None => {
                assets.push(l.asset);
                assets.len() - 1
            }
        };
        legs.push(Leg {
            from: l.from.unwrap_or(u32::MAX),
            to: l.to.unwrap_or(u32::MAX),
            amount: l.amount,
            tx: (txids.len() - 1) as u32,
            time: u32::try_from(l.time).unwrap(),
            height: l.height,
            kind: l.kind,
            chain: l.chain,
            asset: asset as u8,
        });
    });
    let mut tagged: Vec<(u32, RiskCategory)> = Vec::new();
    world.for_each_entity(|e| {
        if let Some(c) = RiskCategory::parse(e.category) {
            tagged.extend(e.addresses.iter().filter(|a| a.tagged).map(|a| (a.id, c)));
        }
    });
    let address_count = world.address_count();
    let _ = &world; // the world is not needed below
    eprintln!(
        "world: {} legs, {} transactions, {} address ids, generated in {:.1?} (not timed below)",
        legs.len(),
        txids.len(),
        keys.len(),
        t.elapsed()
    );

    // Build: every leg as an edge, in block order; an address is interned when first met (as
    // a build from the transfer store meets them), once: the generator, like the store, knows
    // which legs share an address.
    reset_peak();
    let (_, before_build) = rss();
    // `FLOODGATE_BENCH_KEEP=DIR`: the graph and the pruning index are written to DIR and kept,
    // with the tags (`tags.txt`: a node id and its category a line) and the targets
    // (`targets.txt`: node ids), so `cargo run --release -p floodgate-trace --example
    // round_trips -- DIR` can time queries on them without building the world again.
    let keep = std::env::var_os("FLOODGATE_BENCH_KEEP").map(std::path::PathBuf::from);
    let temp = tempfile::tempdir().unwrap();
    let dir: &std::path::Path = keep.as_deref().unwrap_or(temp.path());
    let empty = Graph::open_or_empty(dir).unwrap();
    let t0 = Instant::now();
    let cpu0 = cpu();
    let mut b = GraphBuilder::new(Some(&empty));
    b.reserve(keys.len() + txids.len(), legs.len());
    let mut ids: Vec<NodeId> = vec![NodeId(u32::MAX); keys.len()];
    let mut tx_ids: Vec<NodeId> = vec![NodeId(u32::MAX); txids.len()];
    let intern = std::cell::Cell::new(Duration::ZERO);
    for l in &legs {
        let input = EdgeInput {
            amount: Amount::from(l.amount),
            time: Some(i64::from(l.time)),
            asset: assets[l.asset as usize],
            txid: txids[l.tx as usize],
            chain: l.chain,
        };
        let mut id = |b: &mut GraphBuilder<'_>, i: u32| {
            let slot = &mut ids[i as usize];
            if slot.0 == u32::MAX {
                let t = Instant::now();
                *slot = b.node(&keys[i as usize], NodeKind::Address).unwrap();
                intern.set(intern.get() + t.elapsed());
            }
            *slot
        };
        let mut txn = |b: &mut GraphBuilder<'_>| {
            let slot = &mut tx_ids[l.tx as usize];
            if slot.0 == u32::MAX {
                let t = Instant::now();
                *slot = b.tx_node(l.chain, &txids[l.tx as usize]).unwrap();
                intern.set(intern.get() + t.elapsed());
            }
            *slot
        };
        let (s, d) = match l.kind {
            LegKind::Input => (id(&mut b, l.from), txn(&mut b)),
            LegKind::Output => {
                let tx = txn(&mut b);
                (tx, id(&mut b, l.to))
            }
            LegKind::Transfer => (id(&mut b, l.from), id(&mut b, l.to)),
        };
        b.add_store_edge(s, d, &input, l.height).unwrap();
    }
    let add = t0.elapsed();
    let intern = intern.get();
    let t2 = Instant::now();
    b.commit(&empty, BTreeMap::new()).unwrap();
    let commit = t2.elapsed();
    let build = t0.elapsed();
    let build_cpu = cpu() - cpu0;
    let (peak_build, _) = rss();
    let edges = legs.len() as u64;
    drop((keys, tx_ids));

    let t = Instant::now();
    let graph = Graph::open(dir).unwrap();
    // The queries below are timed one by one: the block-start table a first query reaching a
    // hub would make is made here, counted in the open.
    graph.prepare_reads();
    let open = t.elapsed();
    let bytes = graph.bytes();

    // Queries: the world's publicly known tags (its TagPack), 6 hops, haircut, into random
    // addresses that received value. Floodgate alone in memory first (the legs aside).
    let tags: HashMap<NodeId, RiskCategory> = tagged
        .iter()
        .filter(|(i, _)| ids[*i as usize].0 != u32::MAX)
        .map(|&(i, c)| (ids[i as usize], c))
        .collect();
    let mut received = vec![false; address_count as usize];
    for l in &legs {
        if l.to != u32::MAX {
            received[l.to as usize] = true;
        }
    }
    let mut r = 0x9e37_79b9_7f4a_7c15u64;
    let mut targets: Vec<u32> = Vec::new();
    while targets.len() < queries {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        let a = (r % u64::from(address_count)) as u32;
        if received[a as usize] && !tags.contains_key(&ids[a as usize]) {
            targets.push(a);
        }
    }
    // `FLOODGATE_BENCH_TARGETS=449064,527982`: these address ids instead (the slowest ones a
    // run named), to profile them.
    if let Ok(list) = std::env::var("FLOODGATE_BENCH_TARGETS") {
        targets = list.split(',').map(|a| a.trim().parse().unwrap()).collect();
    }
    let queries = targets.len();
    if keep.is_some() {
        let line = |(n, c): (&NodeId, &RiskCategory)| format!("{} {}\n", n.0, c.as_str());
        std::fs::write(dir.join("tags.txt"), tags.iter().map(line).collect::<String>()).unwrap();
        let line = |&a: &u32| format!("{}\n", ids[a as usize].0);
        std::fs::write(dir.join("targets.txt"), targets.iter().map(line).collect::<String>())
            .unwrap();
    }
    let asset = |a: NodeId| graph.in_edges(a).next().map(|e| e.asset.to_owned()).unwrap();
    // `FLOODGATE_BENCH_PRUNE=0`: no query pruned by the exposure index. Otherwise the index is
    // built first (untimed here) and the causal haircut and poison run twice on every
    // target, unpruned and pruned by it ("pruned"), so the two are timed in the same run and
    // their answers compared (digests below).
    let prune = env("FLOODGATE_BENCH_PRUNE", 1) == 1;
    let bound = prune.then(|| {
        let t = Instant::now();
        let p = dir.join("prune.fgx");
        build_index(&graph, &tags, &p).unwrap();
        eprintln!("pruning index built in {:.2?} (not timed below)", t.elapsed());
        ExposureIndex::open(&p).unwrap()
    });
    reset_peak();
    let (_, before_queries) = rss();
    // Every model on the same targets, the causal ones also with `--ignore-time`; the
    // baseline below implements haircut ignoring time only.
    let models = [
        (TaintModel::Haircut, false),
        (TaintModel::Haircut, true),
        (TaintModel::Poison, false),
        (TaintModel::Poison, true),
        (TaintModel::Fifo, false),
        (TaintModel::Lifo, false),
        (TaintModel::Tiho, false),
        (TaintModel::Tiho, true),
    ];
    // The pruned runs, after the others: (model, ignore time, pruned by the index).
    let models = models.into_iter().map(|(m, i)| (m, i, false)).chain(
        [TaintModel::Haircut, TaintModel::Poison]
            .into_iter()
            .filter(|_| prune)
            .map(|m| (m, false, true)),
    );
    // `FLOODGATE_BENCH_CAUSAL_ONLY=1`: only the causal haircut, poison and TIHO (the
    // per-query models users run by default; `--ignore-time` and FIFO/LIFO take most of a
    // run's time otherwise).
    // `=2`: those, FIFO and LIFO (every model that respects time).
    let causal_only = env("FLOODGATE_BENCH_CAUSAL_ONLY", 0);
    // `FLOODGATE_BENCH_PRUNED_ONLY=1`: only the pruned queries, to profile them (the first
    // row, "Haircut (causal)", is then the pruned haircut).
    let pruned_only = env("FLOODGATE_BENCH_PRUNED_ONLY", 0) == 1;
    // `FLOODGATE_BENCH_MODEL=fifo` (or lifo, haircut, poison, tiho): only that model, to
    // profile it (the first row, "Haircut (causal)", is then that model).
    let only: Option<TaintModel> =
        std::env::var("FLOODGATE_BENCH_MODEL").ok().map(|m| match m.as_str() {
            "fifo" => TaintModel::Fifo,
            "lifo" => TaintModel::Lifo,
            "haircut" => TaintModel::Haircut,
            "poison" => TaintModel::Poison,
            "tiho" => TaintModel::Tiho,
            other => panic!("FLOODGATE_BENCH_MODEL: no model {other}"),
        });
    // `FLOODGATE_BENCH_ANSWERED_ONLY=1`: none of them; only the answers as `trace exposure`
    // gives them (below), not compared.
    let answered_only = env("FLOODGATE_BENCH_ANSWERED_ONLY", 0) == 1;
    let models: Vec<(TaintModel, bool, bool)> = models
        .filter(|_| !answered_only)
        .filter(|&(m, _, p)| (p || !pruned_only) && only.is_none_or(|o| o == m))
        .filter(|&(m, i, _)| {
            causal_only == 0
                || (!i && (causal_only == 2 || !matches!(m, TaintModel::Fifo | TaintModel::Lifo)))
        })
        .collect();
    let name = |&(model, ignore_time, pruned): &(TaintModel, bool, bool)| {
        let how = match (ignore_time, pruned) {
            (true, _) => " --ignore-time",
            (_, true) => " pruned",
            _ => "",
        };
        format!("{model:?}{how}")
    };
    let mut lib: Vec<Vec<Duration>> = vec![Vec::with_capacity(queries); models.len()];
    // Per model, each query's CPU time (this thread's run time: what the query cost, without
    // the time it waited for a core).
    let mut lib_run: Vec<Vec<Duration>> = vec![Vec::with_capacity(queries); models.len()];
    // Per model, the CPU time of its queries (user + system, in 10 ms ticks: summed over many
    // queries; the figure to read on a loaded machine).
    let mut lib_cpu: Vec<Duration> = vec![Duration::ZERO; models.len()];
    // Per model, a digest of every report (FNV-1a over its `Debug` text: categories, shares,
    // evidence, total, untraced, peel links), so two builds' answers can be compared.
    let mut digests: Vec<u64> = vec![FNV_OFFSET; models.len()];
    // The same without the peel-chain links counted (which issue 15 item 6 redefined as the
    // links the value found passed, not those the trace met), to compare with older builds.
    let mut digests_values: Vec<u64> = vec![FNV_OFFSET; models.len()];
    let mut causal6 = Vec::with_capacity(queries);
    let (cpu0, wall0) = (cpu(), Instant::now());
    for &a in &targets {
        let a = ids[a as usize];
        for (m, &(model, ignore_time, pruned)) in models.iter().enumerate() {
            let opts = ExposureOptions {
                hops: 6,
                model,
                asset: Some(asset(a)),
                ignore_time,
                ..Default::default()
            };
            let (t, c, r) = (Instant::now(), cpu(), thread_cpu());
            let rep = match (&bound, pruned) {
                (Some(idx), true) => {
                    let (rep, used) = exposure_indexed(&graph, &tags, idx, a, &opts).unwrap();
                    assert!(used, "the index was not used to prune");
                    rep
                }
                _ => exposure(&graph, &tags, a, &opts).unwrap(),
            };
            lib[m].push(t.elapsed());
            lib_run[m].push(thread_cpu() - r);
            lib_cpu[m] += cpu() - c;
            digests[m] = fnv1a(digests[m], format!("{rep:?}").as_bytes());
            let mut values = rep.clone();
            values.iter_mut().for_each(|r| r.peel_links = 0);
            digests_values[m] = fnv1a(digests_values[m], format!("{values:?}").as_bytes());
            if m == 0 {
                causal6.push(rep);
            } else {
                std::hint::black_box(rep);
            }
        }
    }
    let (peak_queries, _) = rss();
    let (query_cpu, query_wall) = (cpu() - cpu0, wall0.elapsed());
    // A 6-hop causal haircut as `trace exposure` answers it with a current index (the
    // application's `index_answer`): the index when the address is not flagged as a possible
    // round trip, or when it is and no path leads back to it within the hops
    // (`round_trip_within`); otherwise the trace per query, pruned by the index. Each answer
    // is checked against the per-query one of the same target (the first model's).
    let mut answered: Vec<Duration> = Vec::with_capacity(queries);
    let mut answered_run: Vec<Duration> = Vec::with_capacity(queries);
    // Targets answered: from the index unflagged, from the index after the search, per query.
    let mut how = [0usize; 3];
    let mut searched: Vec<Duration> = Vec::new();
    let mut slowest_answered: Vec<(Duration, u32)> = Vec::new();
    let compare = models.first().is_some_and(|m| m.0 == TaintModel::Haircut && !m.1);
    if let (Some(idx), true) = (&bound, compare || answered_only) {
        for (i, &a) in targets.iter().enumerate() {
            let n = ids[a as usize];
            let asset_of = asset(n);
            let opts =
                ExposureOptions { hops: 6, asset: Some(asset_of.clone()), ..Default::default() };
            let (t, r) = (Instant::now(), thread_cpu());
            let e = idx.lookup_asset(n, &asset_of);
            let s = Instant::now();
            let back = e
                .as_ref()
                .map(|e| round_trip_within(&graph, &tags, idx, n, e, 6, ROUND_TRIP_SEARCH));
            if e.as_ref().is_some_and(|e| e.round_trip) {
                searched.push(s.elapsed());
            }
            let rep = if let (Some(e), Some(Return::None)) = (&e, back) {
                how[usize::from(e.round_trip)] += 1;
                e.report(&graph, "target", TaintModel::Haircut, 6).unwrap()
            } else {
                how[2] += 1;
                exposure_indexed(&graph, &tags, idx, n, &opts).unwrap().0.remove(0)
            };
            answered.push(t.elapsed());
            answered_run.push(thread_cpu() - r);
            slowest_answered.push((t.elapsed(), a));
            let Some(want) = causal6.get(i) else { continue };
            let v = |r: &floodgate_trace::ExposureReport| -> Vec<(RiskCategory, Amount, Amount)> {
                r.categories.iter().map(|c| (c.category, c.value, c.direct)).collect()
            };
            assert_eq!(
                (v(&rep), rep.total, rep.untraced),
                (v(&want[0]), want[0].total, want[0].untraced),
                "address id {a}: answered as `trace exposure` would, against the per-query trace"
            );
        }
    }
    if !answered.is_empty() {
        let (a50, a99) = (pct(&mut answered, 0.5), pct(&mut answered, 0.99));
        let (r50, r99) = (pct(&mut answered_run, 0.5), pct(&mut answered_run, 0.99));
        let (s50, s99) = (pct(&mut searched, 0.5), pct(&mut searched, 0.99));
        eprintln!(
            "        as `trace exposure --hops 6` answers (index; flagged: index after the round-trip search, or per query pruned) p50 {a50:>10.2?}  p99 {a99:>10.2?} (per query CPU p50 {r50:.2?} p99 {r99:.2?}); {} from the index, {} flagged and proved exact by the search (its p50 {s50:.2?} p99 {s99:.2?}), {} per query; {}",
            how[0],
            how[1],
            how[2],
            if causal6.is_empty() {
                "answers not compared"
            } else {
                "every answer equal to the per-query trace's"
            }
        );
        slowest_answered.sort_unstable_by(|x, y| y.cmp(x));
        for (d, a) in slowest_answered.iter().take(5) {
            eprintln!("          slowest answered: address id {a}, {d:.2?}");
        }
    }
    if answered_only {
        return;
    }
    // `FLOODGATE_BENCH_SLOWEST=N`: the N slowest targets of the causal haircut, to profile.
    // With the pruned time of the same target beside it, when pruned.
    let pruned_haircut = models.iter().position(|&(m, _, p)| p && m == TaintModel::Haircut);
    let mut slowest: Vec<(Duration, u32, Option<Duration>)> = (0..targets.len())
        .map(|i| (lib[0][i], targets[i], pruned_haircut.map(|m| lib[m][i])))
        .collect();
    slowest.sort_unstable_by(|a, b| b.cmp(a));
    let slowest_of: Vec<Option<(Duration, u32)>> =
        lib.iter().map(|v| v.iter().copied().zip(targets.iter().copied()).max()).collect();
    slowest.truncate(env("FLOODGATE_BENCH_SLOWEST", 0) as usize);

    // The baseline, built from the same legs with its own ids (addresses by index, then
    // transactions): an upstream adjacency map.
    let t = Instant::now();
    let first_tx = address_count;
    let mut up: FxHashMap<u32, Vec<(u32, u64)>> = FxHashMap::default();
    for l in &legs {
        let txn = first_tx + l.tx;
        let (s, d) = match l.kind {
            LegKind::Input => (l.from, txn),
            LegKind::Output => (txn, l.to),
            LegKind::Transfer => (l.from, l.to),
        };
        up.entry(d).or_default().push((s, l.amount));
    }
    let baseline_build = t.elapsed();
    let btags: FxHashMap<u32, RiskCategory> = tagged.iter().copied().collect();
    let mut base = Vec::with_capacity(queries);
    // `FLOODGATE_BENCH_BASELINE=0`: no baseline queries (a profile of one model, whose
    // targets the baseline takes many times as long over).
    let baseline_targets = if env("FLOODGATE_BENCH_BASELINE", 1) == 1 { &targets[..] } else { &[] };
    for &a in baseline_targets {
        let t = Instant::now();
        std::hint::black_box(baseline_haircut(&up, first_tx, &btags, a, 6));
        base.push(t.elapsed());
    }
    let (lp50, lp99) = (pct(&mut lib[0], 0.5), pct(&mut lib[0], 0.99));
    let (bp50, bp99) = (pct(&mut base, 0.5), pct(&mut base, 0.99));

    let rate = |d: Duration| edges as f64 / d.as_secs_f64() / 1e6;
    let n = graph.node_count();
    eprintln!("\n== graph at scale: {edges} edges, {n} nodes ==");
    eprintln!(
        "build   floodgate     {:>7.2}M edges/s  ({build:.2?}: intern nodes {intern:.2?}, add edges {:.2?}, sort+encode+write+fsync {commit:.2?})",
        rate(build),
        add - intern
    );
    eprintln!(
        "        baseline map  {:>7.2}M edges/s  ({baseline_build:.2?}, ids given, nothing written)  floodgate/baseline time {:.2}",
        rate(baseline_build),
        build.as_secs_f64() / baseline_build.as_secs_f64()
    );
    eprintln!("disk    {bytes} bytes = {:.1} bytes/edge", bytes as f64 / edges as f64);
    for (name, len) in graph.footprint() {
        eprintln!("          {name:<22} {:>6.2} bytes/edge", len as f64 / edges as f64);
    }
    eprintln!("open    {open:.2?}");
    eprintln!(
        "memory  build: peak {} (process had {} before: the bench's own copy of the legs)",
        gib(peak_build),
        gib(before_build)
    );
    eprintln!(
        "        queries: peak {} (process had {} before; the graph is mapped, pages count when touched)",
        gib(peak_queries),
        gib(before_queries)
    );
    eprintln!(
        "exposure 6 hops, {queries} queries, {} tagged nodes ({} models: CPU {query_cpu:.2?} user+sys in {query_wall:.2?} wall):",
        tags.len(),
        models.len()
    );
    let mut run_pct = |m: usize| (pct(&mut lib_run[m], 0.5), pct(&mut lib_run[m], 0.99));
    for (m, model) in models.iter().enumerate().skip(1) {
        let (p50, p99) = (pct(&mut lib[m], 0.5), pct(&mut lib[m], 0.99));
        let (c50, c99) = run_pct(m);
        let name = name(model);
        eprintln!(
            "        floodgate {name:<22} p50 {p50:>10.2?}  p99 {p99:>10.2?}  CPU {:.2?} (per query p50 {c50:.2?} p99 {c99:.2?})",
            lib_cpu[m]
        );
    }
    let (c50, c99) = run_pct(0);
    eprintln!(
        "        floodgate Haircut (causal)     p50 {lp50:>10.2?}  p99 {lp99:>10.2?}  CPU {:.2?} (per query p50 {c50:.2?} p99 {c99:.2?})",
        lib_cpu[0]
    );
    for (m, model) in models.iter().enumerate() {
        let name = name(model);
        eprintln!(
            "        answers digest {name:<22} {:016x} (without peel links {:016x})",
            digests[m], digests_values[m]
        );
    }
    for (d, a, p) in &slowest {
        let key = graph.key(ids[*a as usize]);
        eprintln!(
            "        slow causal haircut target: address id {a} ({key}), {d:.2?} (pruned {p:.2?})"
        );
    }
    if !slowest.is_empty() {
        // Each model's slowest target (`lib` is sorted by now: the times are taken before).
        for (m, model) in models.iter().enumerate() {
            if let Some((d, a)) = slowest_of[m] {
                eprintln!("        slowest target of {}: address id {a}, {d:.2?}", name(model));
            }
        }
    }
    eprintln!(
        "        baseline Haircut ignoring time p50 {bp50:>10.2?}  p99 {bp99:>10.2?}  floodgate causal/baseline p50 {:.2} p99 {:.2}",
        lp50.as_secs_f64() / bp50.as_secs_f64().max(1e-9),
        lp99.as_secs_f64() / bp99.as_secs_f64().max(1e-9)
    );
    // `FLOODGATE_BENCH_SKIP_INDEX=1`: queries only (the index pass needs several times the
    // graph's memory: at 10M transfers more than one process should take here).
    if env("FLOODGATE_BENCH_SKIP_INDEX", 0) == 1 {
        return;
    }

    // The exposure index (issue 15 item 2): one forward pass over every transfer, then
    // lookups; the same targets' 6-hop causal haircut (above) checks what it answers.
    let ipath = dir.join(floodgate_trace::INDEX_FILE);
    reset_peak();
    let (_, before_index) = rss();
    let t = Instant::now();
    let cpu0 = cpu();
    let irep = build_index(&graph, &tags, &ipath).unwrap();
    let index_build = t.elapsed();
    let index_cpu = cpu() - cpu0;
    let (peak_index, _) = rss();
    // A digest of the index file, so that two builds' files can be compared.
    let index_sha: String = {
        use sha2::Digest;
        let mut f = std::fs::File::open(&ipath).unwrap();
        let mut h = sha2::Sha256::new();
        std::io::copy(&mut f, &mut h).unwrap();
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    };
    let t = Instant::now();
    let idx = ExposureIndex::open(&ipath).unwrap();
    let index_open = t.elapsed();
    let (mut exact, mut round_trip, mut differ) = (0usize, 0usize, 0usize);
    // What differed, shown below the count: the index's answer beside the per-query one.
    let mut differing: Vec<String> = Vec::new();
    for (&a, want) in targets.iter().zip(&causal6) {
        let n = ids[a as usize];
        let Some(got) = idx.lookup_asset(n, &want[0].asset) else {
            differ += 1;
            differing.push(format!("address id {a}: not in the index"));
            continue;
        };
        let r = got.report(&graph, &want[0].target, TaintModel::Haircut, 6).unwrap();
        let v = |r: &floodgate_trace::ExposureReport| -> Vec<(RiskCategory, Amount)> {
            r.categories.iter().map(|c| (c.category, c.value)).collect()
        };
        if got.round_trip {
            round_trip += 1;
        } else if v(&r) == v(&want[0]) && r.total == want[0].total {
            exact += 1;
        } else {
            differ += 1;
            differing.push(format!(
                "address id {a}: index {:?} of {:?}, per query {:?} of {:?}",
                v(&r),
                r.total,
                v(&want[0]),
                want[0].total
            ));
        }
    }
    // Lookup latency: many random addresses (a lookup is far below the clock's resolution
    // per call otherwise measured on 200 targets only); each timed alone.
    let lookups = env("FLOODGATE_BENCH_LOOKUPS", 200_000) as usize;
    let mut look = Vec::with_capacity(lookups);
    let mut look_report = Vec::with_capacity(lookups);
    for _ in 0..lookups {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        let a = ids[(r % u64::from(address_count)) as usize];
        if a.0 == u32::MAX {
            continue;
        }
        let t = Instant::now();
        let e = idx.lookup(a);
        look.push(t.elapsed());
        let t = Instant::now();
        let reps: Vec<_> =
            e.iter().filter_map(|x| x.report(&graph, "target", TaintModel::Haircut, 3)).collect();
        look_report.push(t.elapsed() + look[look.len() - 1]);
        std::hint::black_box(reps);
    }

    let (ip50, ip99) = (pct(&mut look, 0.5), pct(&mut look, 0.99));
    let (rp50, rp99) = (pct(&mut look_report, 0.5), pct(&mut look_report, 0.99));
    eprintln!(
        "index   build {index_build:.2?} = {:.2}M transfers/s ({} transfers replayed; graph build of the same world {build:.2?}, index/graph time {:.2}); {} bytes = {:.1} bytes/edge (saved pass beside it {} bytes = {:.1} bytes/edge); {} addresses, {} exposed within 6 hops, {} round-trip flagged",
        irep.transfers as f64 / index_build.as_secs_f64() / 1e6,
        irep.transfers,
        index_build.as_secs_f64() / build.as_secs_f64(),
        irep.bytes,
        irep.bytes as f64 / edges as f64,
        irep.state_bytes,
        irep.state_bytes as f64 / edges as f64,
        irep.entries,
        irep.exposed,
        irep.round_trips
    );
    eprintln!(
        "        CPU time (user + system, all threads) index build {index_cpu:.2?}, graph build {build_cpu:.2?}: index/graph {:.2}",
        index_cpu.as_secs_f64() / build_cpu.as_secs_f64().max(1e-9)
    );
    eprintln!(
        "        memory peak {} (process had {} before); open + verify checksum {index_open:.2?}",
        gib(peak_index),
        gib(before_index)
    );
    eprintln!("        index file SHA-256 {index_sha}");
    eprintln!(
        "        lookup p50 {ip50:.2?} p99 {ip99:.2?}; lookup + report p50 {rp50:.2?} p99 {rp99:.2?} ({} lookups); causal haircut 6 hops of {} targets p50 {lp50:.2?} p99 {lp99:.2?}: per-query/index p50 {:.0}x p99 {:.0}x",
        look.len(),
        targets.len(),
        lp50.as_secs_f64() / rp50.as_secs_f64().max(1e-9),
        lp99.as_secs_f64() / rp99.as_secs_f64().max(1e-9)
    );
    eprintln!(
        "        the {} targets at 6 hops: {exact} equal to the per-query causal haircut, {round_trip} round-trip flagged (answered per query), {differ} different",
        targets.len()
    );
    for d in &differing {
        eprintln!("          different: {d}");
    }
}
