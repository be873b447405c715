//! Graph build on one and on two threads (issue 15 item 5), beside an in-memory adjacency map
//! built from the same legs in the same run.
//!
//! A generated world (`floodgate-gen`, seed 42; `FLOODGATE_BENCH_TRANSFERS`, default
//! 2,000,000) is turned into the legs a build from the transfer store reads (`ExportLeg`:
//! canonical address text, transaction id, amount, time), held in memory so that neither
//! generating nor reading is timed. Then, in one run:
//!
//! - `baseline map`: `HashMap<node, Vec<(neighbour, amount)>>` of the same legs with ids given
//!   (nothing parsed, nothing written);
//! - `1 thread`: `GraphBuilder::add_leg` per leg, then the segment encoded, written and
//!   fsynced, all on one thread (`with_threads(1)`);
//! - `2 threads`: `GraphBuilder::add_legs` (the next batch's keys encoded on a second
//!   thread while this one interns) and the encoding at commit split in two.
//!
//! The two graphs must be byte-identical (checked). Prints edges/s, the ratios, bytes per
//! edge by section and the load average before and after: not criterion, one build is the
//! measurement. `cargo bench -p floodgate-graph --bench build`.

// A benchmark reports on stderr; unwrap is the failure report here.
#![allow(clippy::unwrap_used, clippy::print_stderr, missing_docs)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use floodgate_gen::{GenConfig, LegKind, World};
use floodgate_graph::{Graph, GraphBuilder};
use floodgate_store::export::ExportLeg;
use floodgate_types::Amount;
use rustc_hash::FxHashMap;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// CPU time of this process so far (user + system, Linux; zero elsewhere).
fn cpu() -> Duration {
    cpu_of("/proc/self/stat")
}

/// CPU time of the calling thread so far.
fn thread_cpu() -> Duration {
    cpu_of("/proc/thread-self/stat")
}

fn cpu_of(path: &str) -> Duration {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields 14 and 15 (utime, stime) in clock ticks, after the parenthesised name.
    let rest = stat.rsplit_once(')').map_or("", |r| r.1);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let ticks = field(11) + field(12);
    Duration::from_millis(ticks * 10)
}

/// What one build took: wall time, of which adding the legs; CPU time of the process and of
/// the calling thread.
struct Took {
    wall: Duration,
    add: Duration,
    cpu: Duration,
    main_cpu: Duration,
}

/// Builds the graph of `legs` in a fresh directory.
fn build(legs: &[ExportLeg], threads: usize) -> (Took, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let empty = Graph::open_or_empty(dir.path()).unwrap();
    let c = cpu();
    let tc = thread_cpu();
    let t = Instant::now();
    let mut b = GraphBuilder::new(Some(&empty)).with_threads(threads);
    if threads == 1 {
        for l in legs {
            b.add_leg(l).unwrap();
        }
    } else {
        b.add_legs(legs).unwrap();
    }
    let add = t.elapsed();
    b.commit(&empty, BTreeMap::new()).unwrap();
    let took = Took { wall: t.elapsed(), add, cpu: cpu() - c, main_cpu: thread_cpu() - tc };
    (took, dir)
}

fn main() {
    let transfers = env("FLOODGATE_BENCH_TRANSFERS", 2_000_000);
    let t = Instant::now();
    let world = World::new(&GenConfig { transfers, seed: 42, ..GenConfig::default() });
    let keys: Vec<String> = (0..world.address_count()).map(|i| world.address_key(i)).collect();
    let mut legs: Vec<ExportLeg> = Vec::with_capacity(transfers as usize + 16);
    // For the baseline: (source, target, amount) with ids given (transactions after the
    // addresses).
    let mut ids: Vec<(u32, u32, u64)> = Vec::with_capacity(transfers as usize + 16);
    let first_tx = world.address_count();
    world.for_each_leg(|l| {
        let txn = first_tx + l.tx as u32;
        ids.push(match l.kind {
            LegKind::Input => (l.from.unwrap(), txn, l.amount),
            LegKind::Output => (txn, l.to.unwrap(), l.amount),
            LegKind::Transfer => (l.from.unwrap(), l.to.unwrap(), l.amount),
        });
        legs.push(ExportLeg {
            chain: l.chain,
            height: l.height,
            time: Some(l.time),
            txid: l.txid,
            kind: l.kind,
            from: l.from.map(|i| keys[i as usize].clone()),
            to: l.to.map(|i| keys[i as usize].clone()),
            asset: l.asset.to_owned(),
            amount: Amount::from(l.amount),
        });
    });
    drop((keys, world));
    let edges = legs.len() as u64;
    let load_before = loadavg();
    eprintln!(
        "world: {edges} legs, generated in {:.1?} (not timed); load average before {load_before}",
        t.elapsed()
    );

    let t = Instant::now();
    let mut up: FxHashMap<u32, Vec<(u32, u64)>> = FxHashMap::default();
    for &(s, d, a) in &ids {
        up.entry(d).or_default().push((s, a));
    }
    let map = t.elapsed();
    std::hint::black_box(&up);
    drop((up, ids));

    let (one, one_dir) = build(&legs, 1);
    let (two, two_dir) = build(&legs, 2);
    let load_after = loadavg();

    let g2 = Graph::open(two_dir.path()).unwrap();
    let seg = |d: &tempfile::TempDir| std::fs::read(d.path().join("seg-000001.fgs")).unwrap();
    assert!(seg(&one_dir) == seg(&two_dir), "1- and 2-thread builds differ");
    assert_eq!(g2.edge_count(), edges);

    let rate = |d: Duration| edges as f64 / d.as_secs_f64() / 1e6;
    eprintln!("\n== graph build: {edges} edges, {} nodes ==", g2.node_count());
    eprintln!("baseline map  {:>6.2}M edges/s ({map:.2?}; ids given, nothing written)", rate(map));
    for (name, t) in [("1 thread", &one), ("2 threads", &two)] {
        eprintln!(
            "{name:<13} {:>6.2}M edges/s ({:.2?}: add {:.2?}, encode+write+fsync {:.2?})  floodgate/map time {:.2}",
            rate(t.wall),
            t.wall,
            t.add,
            t.wall - t.add,
            t.wall.as_secs_f64() / map.as_secs_f64(),
        );
        eprintln!(
            "              CPU {:.2?} (calling thread {:.2?}, others {:.2?}); wall on two free cores at least {:.2?} = {:.2}M edges/s",
            t.cpu,
            t.main_cpu,
            t.cpu.saturating_sub(t.main_cpu),
            t.main_cpu.max(t.cpu.saturating_sub(t.main_cpu)),
            rate(t.main_cpu.max(t.cpu.saturating_sub(t.main_cpu))),
        );
    }
    eprintln!(
        "2 threads / 1 thread: wall {:.2}, CPU {:.2}",
        two.wall.as_secs_f64() / one.wall.as_secs_f64(),
        two.cpu.as_secs_f64() / one.cpu.as_secs_f64()
    );
    let bytes = g2.bytes();
    eprintln!("disk          {bytes} bytes = {:.2} bytes/edge", bytes as f64 / edges as f64);
    for (name, len) in g2.footprint() {
        eprintln!("                {name:<22} {:>6.2} bytes/edge", len as f64 / edges as f64);
    }
    eprintln!("load average  before {load_before}, after {load_after}");
}
