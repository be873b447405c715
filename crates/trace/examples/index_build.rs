//! Times the exposure index build (`build_index`) on a world the `scale` bench kept
//! (`FLOODGATE_BENCH_KEEP=DIR`), without building the world and its graph again:
//!
//! ```text
//! cargo run --release -p floodgate-trace --example index_build -- DIR [RUNS]
//! ```
//!
//! Reads DIR's graph and `tags.txt`, builds the index into DIR/`bench.fgx` RUNS times (one by
//! default), and prints each build's wall and CPU time (all threads) and the index's SHA-256,
//! so two builds of the code can be told apart by speed alone. `RUST_LOG=floodgate::trace=debug`
//! prints the build's phases.
#![allow(clippy::print_stdout)] // a report printed for a human

mod kept;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use floodgate_graph::Graph;
use floodgate_trace::build_index;
use sha2::{Digest, Sha256};

/// As the `floodgate` binary and the scale bench (`floodgate_alloc`).
#[global_allocator]
static ALLOCATOR: floodgate_alloc::MiMalloc = floodgate_alloc::MiMalloc;

/// CPU time of the process, all threads (user and system), from `/proc/self/stat`.
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command's closing parenthesis: the state first, utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |r| r.1);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    let ticks = field(11) + field(12);
    // Linux reports them in clock ticks of 1/100 s.
    Duration::from_millis(ticks * 10)
}

fn main() -> Result<()> {
    floodgate_alloc::tune();
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().context("usage: index_build DIR [RUNS]")?);
    let runs: usize = args.next().map_or(Ok(1), |r| r.parse()).context("RUNS")?;
    let graph = Graph::open(&dir)?;
    let tags = kept::tags(&dir)?;
    let path = dir.join("bench.fgx");
    for run in 1..=runs {
        let (t, c) = (Instant::now(), cpu());
        let rep = build_index(&graph, &tags, &path)?;
        let (wall, used) = (t.elapsed(), cpu() - c);
        let sha = Sha256::digest(std::fs::read(&path)?);
        let hex: String = sha.iter().take(4).map(|b| format!("{b:02x}")).collect();
        println!(
            "run {run}: {} transfers indexed in {wall:.2?} wall, {used:.2?} CPU; index {} bytes, SHA-256 {hex}…",
            rep.transfers, rep.bytes
        );
    }
    Ok(())
}
