//! Times the round-trip search (`round_trip_within`) of every flagged target of a world the
//! `scale` bench kept (`FLOODGATE_BENCH_KEEP=DIR`), without building it again:
//!
//! ```text
//! cargo run --release -p floodgate-trace --example round_trips -- DIR [NODE_ID...]
//! ```
//!
//! Reads DIR's graph, its pruning index (`prune.fgx`), `tags.txt` and `targets.txt` (or the
//! node ids given), and prints each flagged target's search: what it found and how long it took.
#![allow(clippy::print_stdout)] // a report printed for a human

mod kept;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use floodgate_graph::{Graph, NodeId};
use floodgate_trace::{round_trip_within, ExposureIndex, ROUND_TRIP_SEARCH};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().context("usage: round_trips DIR [NODE_ID...]")?);
    let graph = Graph::open(&dir)?;
    // As the bench: the block-start table a first search reaching a hub would make, made here.
    graph.prepare_reads();
    let index = ExposureIndex::open(&dir.join("prune.fgx"))?;
    let tags = kept::tags(&dir)?;
    let given: Vec<String> = args.collect();
    let targets: Vec<u32> = if given.is_empty() {
        kept::read(&dir, "targets.txt")?.lines().map(str::parse).collect::<Result<_, _>>()?
    } else {
        given.iter().map(|s| s.parse()).collect::<Result<_, _>>()?
    };
    let mut times: Vec<(Duration, u32)> = Vec::new();
    for &t in &targets {
        let n = NodeId(t);
        let Some(asset) = graph.in_edges(n).next().map(|e| e.asset.to_owned()) else { continue };
        let Some(entry) = index.lookup_asset(n, &asset) else { continue };
        if !entry.round_trip {
            continue;
        }
        let s = Instant::now();
        let r = round_trip_within(&graph, &tags, &index, n, &entry, 6, ROUND_TRIP_SEARCH);
        let d = s.elapsed();
        println!("node {t} ({asset}): {r:?} in {d:.2?}");
        times.push((d, t));
    }
    times.sort_unstable();
    let total: Duration = times.iter().map(|t| t.0).sum();
    println!(
        "{} flagged of {} targets searched in {total:.2?}; slowest: {:?}",
        times.len(),
        targets.len(),
        times.iter().rev().take(5).map(|(d, t)| format!("{t} {d:.2?}")).collect::<Vec<_>>()
    );
    Ok(())
}
