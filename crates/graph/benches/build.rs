//! Graph build on one and on two threads (issue 15 items 5 and 6), beside an in-memory
//! adjacency map built from the same legs in the same run.
//!
//! A generated world (`floodgate-gen`, seed 42; `FLOODGATE_BENCH_TRANSFERS`, default
//! 2,000,000) is turned into the legs a build from the transfer store reads (`ExportLeg`:
//! canonical address text, transaction id, amount, time). The legs are streamed: generated
//! in chunks of 2^20, each chunk handed to the build, so that the process holds one chunk
//! and what the build itself holds (not every leg as text, which took 20 GB at 50M).
//! Generating a chunk is not timed; only the calls that add it, and the commit. In one run:
//!
//! - `baseline map`: `HashMap<node, Vec<(neighbour, amount)>>` of the same legs with ids given
//!   (nothing parsed, nothing written);
//! - `add_leg per leg` (`FLOODGATE_BENCH_REFERENCE=0` skips it): `GraphBuilder::add_leg` per
//!   leg on one thread, every key decoded and its checksum verified, as the one-thread build
//!   did before the legs' texts were numbered;
//! - `1 thread` (`FLOODGATE_BENCH_ONE_THREAD=0` skips it): `GraphBuilder::add_stored_legs`
//!   with `with_threads(1)`;
//! - `2 threads`: `GraphBuilder::add_stored_legs` (the next run's texts numbered and the new
//!   ones decoded on this thread while a second interns) and the encoding at commit split
//!   in two.
//!
//! Each build's segment is encoded, written and fsynced; the segments must be byte-identical
//! (checked by SHA-256). Prints edges/s, CPU, the ratios, each phase's peak RSS (the peak is
//! reset between phases through `/proc/self/clear_refs`; for a build, also the peak by the
//! end of adding the legs, before the commit), bytes per edge by section and the
//! load average before and after: not criterion, one build is the measurement.
//! `cargo bench -p floodgate-graph --bench build`.

// A benchmark reports on stderr; unwrap is the failure report here.
#![allow(clippy::unwrap_used, clippy::print_stderr, missing_docs)]

use std::collections::BTreeMap;
use std::io::Read;
use std::time::{Duration, Instant};

use floodgate_gen::{GenConfig, LegKind, World};
use floodgate_graph::{Graph, GraphBuilder};
use floodgate_store::export::ExportLeg;
use floodgate_types::Amount;
use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};

/// Legs generated and handed to the build at a time.
const CHUNK: usize = 1 << 20;

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

/// Resets the process's peak RSS (Linux ≥ 4.0; nothing elsewhere).
fn reset_peak_rss() {
    std::fs::write("/proc/self/clear_refs", "5").ok();
}

/// The process's peak RSS since the last reset, in GiB.
fn peak_rss_gib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    kib / (1024.0 * 1024.0)
}

/// Every address's canonical text, in one buffer (computed once, not timed).
struct Keys {
    text: String,
    ends: Vec<usize>,
}

impl Keys {
    fn of(world: &World) -> Keys {
        let mut k = Keys { text: String::new(), ends: Vec::new() };
        for i in 0..world.address_count() {
            k.text.push_str(&world.address_key(i));
            k.ends.push(k.text.len());
        }
        k
    }

    fn get(&self, i: u32) -> &str {
        let i = i as usize;
        &self.text[if i == 0 { 0 } else { self.ends[i - 1] }..self.ends[i]]
    }
}

/// Calls `f` with every chunk of the world's legs as the store exports them.
fn for_each_chunk(world: &World, keys: &Keys, mut f: impl FnMut(&[ExportLeg])) {
    let mut chunk: Vec<ExportLeg> = Vec::with_capacity(CHUNK);
    world.for_each_leg(|l| {
        chunk.push(ExportLeg {
            chain: l.chain,
            height: l.height,
            time: Some(l.time),
            txid: l.txid,
            kind: l.kind,
            from: l.from.map(|i| keys.get(i).to_owned()),
            to: l.to.map(|i| keys.get(i).to_owned()),
            asset: l.asset.to_owned(),
            amount: Amount::from(l.amount),
        });
        if chunk.len() == CHUNK {
            f(&chunk);
            chunk.clear();
        }
    });
    f(&chunk);
}

/// What one build took: wall time, of which adding the legs; CPU time of the process (of
/// which adding the legs) and of the calling thread; peak RSS of the build (GiB; the chunk of legs included).
#[derive(Default)]
struct Took {
    wall: Duration,
    add: Duration,
    cpu: Duration,
    /// CPU time of adding the legs (the rest is the commit's).
    add_cpu: Duration,
    main_cpu: Duration,
    rss: f64,
    /// Peak RSS by the end of adding the legs (before the commit), GiB.
    add_rss: f64,
}

impl Took {
    /// Runs `f`, adding its wall and CPU time.
    fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let (c, tc, t) = (cpu(), thread_cpu(), Instant::now());
        let r = f();
        self.wall += t.elapsed();
        self.cpu += cpu() - c;
        self.main_cpu += thread_cpu() - tc;
        r
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Way {
    /// `add_leg` per leg, one thread, checksums verified.
    PerLeg,
    /// `add_stored_legs` on this many threads.
    Stored(usize),
}

/// Builds the graph of the world's legs in a fresh directory; the segment's SHA-256.
fn build(world: &World, keys: &Keys, way: Way) -> (Took, tempfile::TempDir, [u8; 32]) {
    let dir = tempfile::tempdir().unwrap();
    let empty = Graph::open_or_empty(dir.path()).unwrap();
    reset_peak_rss();
    let mut took = Took::default();
    let threads = match way {
        Way::PerLeg => 1,
        Way::Stored(t) => t,
    };
    let mut b = GraphBuilder::new(Some(&empty)).with_threads(threads);
    for_each_chunk(world, keys, |legs| {
        took.time(|| match way {
            Way::PerLeg => legs.iter().for_each(|l| b.add_leg(l).unwrap()),
            Way::Stored(_) => b.add_stored_legs(legs).unwrap(),
        });
    });
    (took.add, took.add_cpu) = (took.wall, took.cpu);
    took.add_rss = peak_rss_gib();
    took.time(|| b.commit(&empty, BTreeMap::new()).unwrap());
    took.rss = peak_rss_gib();
    let mut file = std::fs::File::open(dir.path().join("seg-000001.fgs")).unwrap();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    (took, dir, h.finalize().into())
}

/// The allocator the `floodgate` binary builds its graph with (`floodgate_alloc`), for the
/// build and the map alike.
#[global_allocator]
static ALLOCATOR: floodgate_alloc::MiMalloc = floodgate_alloc::MiMalloc;

fn main() {
    floodgate_alloc::tune();
    let transfers = env("FLOODGATE_BENCH_TRANSFERS", 2_000_000);
    let reference = env("FLOODGATE_BENCH_REFERENCE", 1) == 1;
    let t = Instant::now();
    let world = World::new(&GenConfig { transfers, seed: 42, ..GenConfig::default() });
    let keys = Keys::of(&world);
    let first_tx = world.address_count();
    let load_before = loadavg();
    eprintln!(
        "world: {} addresses ({:.2} GiB of text), keys made in {:.1?} (not timed); load average before {load_before}",
        first_tx,
        keys.text.len() as f64 / (1u64 << 30) as f64,
        t.elapsed()
    );

    // The baseline, from the same legs with ids given (transactions after the addresses).
    reset_peak_rss();
    let mut up: FxHashMap<u32, Vec<(u32, u64)>> = FxHashMap::default();
    let mut map = Duration::ZERO;
    let mut chunk: Vec<(u32, u32, u64)> = Vec::with_capacity(CHUNK);
    let mut edges = 0u64;
    let mut add = |chunk: &mut Vec<(u32, u32, u64)>| {
        let t = Instant::now();
        for &(s, d, a) in chunk.iter() {
            up.entry(d).or_default().push((s, a));
        }
        map += t.elapsed();
        edges += chunk.len() as u64;
        chunk.clear();
    };
    world.for_each_leg(|l| {
        let txn = first_tx + l.tx as u32;
        chunk.push(match l.kind {
            LegKind::Input => (l.from.unwrap(), txn, l.amount),
            LegKind::Output => (txn, l.to.unwrap(), l.amount),
            LegKind::Transfer => (l.from.unwrap(), l.to.unwrap(), l.amount),
        });
        if chunk.len() == CHUNK {
            add(&mut chunk);
        }
    });
    add(&mut chunk);
    std::hint::black_box(&up);
    let map_rss = peak_rss_gib();
    drop((up, chunk));

    let mut ways = vec![];
    if reference {
        ways.push(("add_leg per leg", Way::PerLeg));
    }
    if env("FLOODGATE_BENCH_ONE_THREAD", 1) == 1 {
        ways.push(("1 thread", Way::Stored(1)));
    }
    ways.push(("2 threads", Way::Stored(2)));
    let mut runs = Vec::new();
    let mut last_dir = None;
    for (name, way) in ways {
        let (took, dir, sum) = build(&world, &keys, way);
        eprintln!("{name}: built in {:.2?}", took.wall);
        runs.push((name, took, sum));
        last_dir = Some(dir);
    }
    let load_after = loadavg();
    let dir = last_dir.unwrap();
    let g = Graph::open(dir.path()).unwrap();
    assert!(runs.iter().all(|r| r.2 == runs[0].2), "the builds' segments differ");
    assert_eq!(g.edge_count(), edges);

    let rate = |d: Duration| edges as f64 / d.as_secs_f64() / 1e6;
    eprintln!("\n== graph build: {edges} edges, {} nodes ==", g.node_count());
    eprintln!(
        "baseline map    {:>6.2}M edges/s ({map:.2?}; ids given, nothing written; peak RSS {map_rss:.2} GiB)",
        rate(map)
    );
    for (name, t, _) in &runs {
        eprintln!(
            "{name:<15} {:>6.2}M edges/s ({:.2?}: add {:.2?}, encode+write+fsync {:.2?})  floodgate/map speed {:.3}",
            rate(t.wall),
            t.wall,
            t.add,
            t.wall - t.add,
            map.as_secs_f64() / t.wall.as_secs_f64(),
        );
        eprintln!(
            "                CPU {:.2?} (add {:.2?}, commit {:.2?}; calling thread {:.2?}, others {:.2?}); peak RSS {:.2} GiB (by the end of adding {:.2} GiB)",
            t.cpu,
            t.add_cpu,
            t.cpu - t.add_cpu,
            t.main_cpu,
            t.cpu.saturating_sub(t.main_cpu),
            t.rss,
            t.add_rss,
        );
    }
    let find = |n: &str| runs.iter().find(|r| r.0 == n).map(|r| &r.1);
    if let (Some(one), Some(two)) = (find("1 thread"), find("2 threads")) {
        eprintln!(
            "2 threads / 1 thread: wall {:.2}, CPU {:.2}",
            two.wall.as_secs_f64() / one.wall.as_secs_f64(),
            two.cpu.as_secs_f64() / one.cpu.as_secs_f64()
        );
        if let Some(per) = find("add_leg per leg") {
            eprintln!(
                "1 thread / add_leg per leg: wall {:.2}, CPU {:.2}",
                one.wall.as_secs_f64() / per.wall.as_secs_f64(),
                one.cpu.as_secs_f64() / per.cpu.as_secs_f64()
            );
        }
    }
    eprintln!("segments identical: sha256 {}", hex::encode(runs[0].2));
    let bytes = g.bytes();
    eprintln!("disk            {bytes} bytes = {:.2} bytes/edge", bytes as f64 / edges as f64);
    for (name, len) in g.footprint() {
        eprintln!("                  {name:<22} {:>6.2} bytes/edge", len as f64 / edges as f64);
    }
    eprintln!("load average    before {load_before}, after {load_after}");
}
