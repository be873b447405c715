//! CPU time (user + system, from `/proc/self/stat`, so Linux only) of the three stages of
//! `benches/bitcoin.rs` — bare decode, the reader, and the reader into a fresh store (opened,
//! blocks applied in groups of 50,000 records on a store thread as `floodgate ingest --bulk`
//! does, closed) —
//! for a machine too busy for wall-clock ratios, and last the store stage with every group
//! applied on the reader's thread (`store serial`, as before the store thread), for an A/B in
//! the same run. Deleting the store afterwards is not counted.
//!
//! ```text
//! cargo run --release -p floodgate-ingest --example bitcoin_cpu           # the bench's 3 real blocks, 60 runs
//! WORLD=DIR/bitcoin/blk00000.dat N=3 cargo run --release -p floodgate-ingest --example bitcoin_cpu
//! ```
//!
//! `STAGES=serial` (a comma-separated subset of `baseline,ingest,store,serial`) runs only
//! those, for a profile of one stage; a ratio needs `baseline`.

// An example prints its figures and fails loudly; unwrap is its error report.
#![allow(clippy::unwrap_used, clippy::print_stdout)]
use floodgate_ingest::bitcoin::{read_slice, BitcoinOptions};
use floodgate_types::ChainBlock;
use std::path::Path;
use std::time::Instant;

#[path = "../benches/support/mod.rs"]
mod support;

/// CPU seconds this process used so far (clock ticks of 1/100 s: average over many runs).
fn cpu() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap();
    let f: Vec<&str> = s.rsplit(')').next().unwrap().split_whitespace().collect();
    let ut: f64 = f[11].parse().unwrap();
    let st: f64 = f[12].parse().unwrap();
    (ut + st) / 100.0
}

fn main() {
    // The bench's blocks need FLOODGATE_TEST_DATA's directory, as the bench does.
    let world = std::env::var("WORLD").ok();
    let inputs: Vec<(String, Vec<u8>)> = match &world {
        Some(w) => vec![(w.clone(), std::fs::read(w).unwrap())],
        None => {
            let Some(dir) = floodgate_testdata::dir("bitcoin/raw-blocks") else { return };
            ["mainnet_block_481815.raw", "mainnet_block_481829.raw", "mainnet_block_702861.raw"]
                .iter()
                .map(|n| (n.to_string(), std::fs::read(dir.join(n)).unwrap()))
                .collect()
        }
    };
    let opts = BitcoinOptions::default();
    let n: usize = std::env::var("N").ok().and_then(|v| v.parse().ok()).unwrap_or(60);
    let stages = std::env::var("STAGES").unwrap_or_else(|_| "baseline,ingest,store,serial".into());
    let runs = |stage: &str| if stages.split(',').any(|s| s == stage) { n } else { 0 };
    let (wb, cb) = (Instant::now(), cpu());
    for _ in 0..runs("baseline") {
        for (_, bytes) in &inputs {
            if world.is_some() {
                support::blk_blocks(bytes).for_each(support::bare_decode);
            } else {
                support::bare_decode(bytes);
            }
        }
    }
    let (bw, bc) = ((Instant::now() - wb).as_secs_f64() / n as f64, (cpu() - cb) / n as f64);
    let (wr, cr) = (Instant::now(), cpu());
    for _ in 0..runs("ingest") {
        for (name, bytes) in &inputs {
            let mut sink = |b: ChainBlock, _d: u64| {
                std::hint::black_box(&b);
                Ok(())
            };
            read_slice(Path::new(name), bytes, &opts, &mut sink).unwrap();
        }
    }
    let (rw, rc) = ((Instant::now() - wr).as_secs_f64() / n as f64, (cpu() - cr) / n as f64);
    let (mut excl, mut excl_cpu) = (0f64, 0f64);
    let (ws, cs) = (Instant::now(), cpu());
    for _ in 0..runs("store") {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = floodgate_store::Store::open(tmp.path()).unwrap();
        support::load_pipelined(&mut store, &inputs, &opts);
        drop(store);
        let (w, c) = (Instant::now(), cpu());
        drop(tmp);
        excl += (Instant::now() - w).as_secs_f64();
        excl_cpu += cpu() - c;
    }
    let (sw, sc) = ((Instant::now() - ws).as_secs_f64() - excl, cpu() - cs - excl_cpu);
    let (sw, sc) = (sw / n as f64, sc / n as f64);
    let (mut excl2, mut excl2_cpu) = (0f64, 0f64);
    let (ws2, cs2) = (Instant::now(), cpu());
    for _ in 0..runs("serial") {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = floodgate_store::Store::open(tmp.path()).unwrap();
        let mut blocks = Vec::new();
        let mut records = 0usize;
        for (name, bytes) in &inputs {
            let mut sink = |b: ChainBlock, _d: u64| {
                records += b.utxo_txs.len() + 1;
                blocks.push(b);
                if records >= support::GROUP_RECORDS {
                    store.apply_blocks(&blocks)?;
                    blocks.clear();
                    records = 0;
                }
                Ok(())
            };
            read_slice(Path::new(name), bytes, &opts, &mut sink).unwrap();
        }
        store.apply_blocks(&blocks).unwrap();
        drop(store);
        let (w, c) = (Instant::now(), cpu());
        drop(tmp);
        excl2 += (Instant::now() - w).as_secs_f64();
        excl2_cpu += cpu() - c;
    }
    let (sw2, sc2) = ((Instant::now() - ws2).as_secs_f64() - excl2, cpu() - cs2 - excl2_cpu);
    let (sw2, sc2) = (sw2 / n as f64, sc2 / n as f64);
    println!("baseline      wall {:8.2} ms cpu {:8.2} ms", bw * 1e3, bc * 1e3);
    println!(
        "ingest        wall {:8.2} ms cpu {:8.2} ms  ratio wall {:.3} cpu {:.3}",
        rw * 1e3,
        rc * 1e3,
        bw / rw,
        bc / rc
    );
    println!(
        "ingest+store  wall {:8.2} ms cpu {:8.2} ms  ratio wall {:.3} cpu {:.3}",
        sw * 1e3,
        sc * 1e3,
        bw / sw,
        bc / sc
    );
    println!(
        "store serial  wall {:8.2} ms cpu {:8.2} ms  ratio wall {:.3} cpu {:.3}",
        sw2 * 1e3,
        sc2 * 1e3,
        bw / sw2,
        bc / sc2
    );
}
