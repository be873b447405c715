//! Bitcoin ingest throughput on real ~1 MB mainnet blocks (481815, 481829, 702861).
//!
//! - `baseline`: rust-bitcoin's bare `deserialize::<Block>` plus each txid, the floor any
//!   reader built on rust-bitcoin pays.
//! - `ingest`: floodgate's full path from the same bytes to `ChainBlock`s (format detection,
//!   header, txids, an address for every output, in-file input resolution).
//! - `ingest+store`: the same, then each block applied to a fresh transfer store (one SQLite
//!   transaction per block: outputs, inputs, resolution from stored outputs, journal), as
//!   `floodgate ingest bitcoin` did before ADR 0002.
//! - `ingest+store-bulk`: what `floodgate ingest bitcoin --bulk` does: the blocks applied in one
//!   group (`Store::apply_blocks`: one chain segment and one SQLite transaction, ADR 0004),
//!   into a fresh store each time (opening and closing it are timed too; no SQLite index is
//!   suspended, as `floodgate ingest` suspends none for Bitcoin input).
//!
//! With `FLOODGATE_BENCH_BTC_WORLD` naming a generated world's `bitcoin/` directory (or one
//! `blk*.dat` file; `floodgate gen --transfers 2000000 --seed 1 --out DIR`), the group
//! `bitcoin-world` measures the same on its blocks: `baseline` (the `blk*.dat` framing split
//! and every block decoded with its txids), `ingest`, and `ingest+store-bulk` committed in
//! groups of 50,000 records as `floodgate ingest` does: each group applied on a store thread
//! (`floodgate_store::pipelined`) while the reader decodes the next.
//!
//! Run with `cargo bench -p floodgate-ingest --bench bitcoin`.

// `criterion_group!` expands to an undocumented `pub fn`; there is no API to document here.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use floodgate_ingest::bitcoin::{read_slice, BitcoinOptions};
use floodgate_types::ChainBlock;

mod support;

const BLOCKS: [&str; 3] =
    ["mainnet_block_481815.raw", "mainnet_block_481829.raw", "mainnet_block_702861.raw"];

fn bitcoin_ingest(c: &mut Criterion) {
    // `dir` prints a loud notice when the data is absent; then there is nothing to measure.
    let Some(dir) = floodgate_testdata::dir("bitcoin/raw-blocks") else { return };
    let inputs: Vec<(String, Vec<u8>)> = BLOCKS
        .iter()
        .map(|name| {
            let bytes = std::fs::read(dir.join(name)).expect("benchmark block is readable");
            ((*name).to_owned(), bytes)
        })
        .collect();
    let total: u64 = inputs.iter().map(|(_, b)| b.len() as u64).sum();

    let mut group = c.benchmark_group("bitcoin");
    group.throughput(Throughput::Bytes(total));
    group.bench_function("baseline", |b| {
        b.iter(|| {
            for (_, bytes) in &inputs {
                support::bare_decode(bytes);
            }
        })
    });
    let opts = BitcoinOptions::default();
    group.bench_function("ingest", |b| {
        b.iter(|| {
            for (name, bytes) in &inputs {
                let mut sink = |block: ChainBlock, _done: u64| {
                    black_box(&block);
                    Ok(())
                };
                read_slice(Path::new(name), bytes, &opts, &mut sink)
                    .expect("benchmark block ingests");
            }
        })
    });
    group.sample_size(10);
    group.bench_function("ingest+store", |b| {
        b.iter_batched(
            || tempfile::tempdir().expect("temporary directory"),
            |dir| {
                let mut store = floodgate_store::Store::open(dir.path()).expect("store opens");
                for (name, bytes) in &inputs {
                    let mut sink = |block: ChainBlock, _done: u64| {
                        store.apply_block(&block)?;
                        Ok(())
                    };
                    read_slice(Path::new(name), bytes, &opts, &mut sink)
                        .expect("benchmark block ingests");
                }
                dir
            },
            criterion::BatchSize::PerIteration,
        )
    });
    group.bench_function("ingest+store-bulk", |b| {
        b.iter_batched(
            || tempfile::tempdir().expect("temporary directory"),
            |dir| {
                let mut store = floodgate_store::Store::open(dir.path()).expect("store opens");
                let mut blocks = Vec::new();
                for (name, bytes) in &inputs {
                    let mut sink = |block: ChainBlock, _done: u64| {
                        blocks.push(block);
                        Ok(())
                    };
                    read_slice(Path::new(name), bytes, &opts, &mut sink)
                        .expect("benchmark block ingests");
                }
                store.apply_blocks(&blocks).expect("blocks apply");
                dir
            },
            criterion::BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn bitcoin_world(c: &mut Criterion) {
    let Some(world) = std::env::var_os("FLOODGATE_BENCH_BTC_WORLD") else { return };
    let world = std::path::PathBuf::from(world);
    let files: Vec<std::path::PathBuf> = if world.is_dir() {
        let mut f: Vec<_> = std::fs::read_dir(&world)
            .expect("world directory is readable")
            .map(|e| e.expect("directory entry").path())
            .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("blk")))
            .collect();
        f.sort();
        f
    } else {
        vec![world]
    };
    let inputs: Vec<(std::path::PathBuf, Vec<u8>)> = files
        .into_iter()
        .map(|p| {
            let b = std::fs::read(&p).expect("world file is readable");
            (p, b)
        })
        .collect();
    let total: u64 = inputs.iter().map(|(_, b)| b.len() as u64).sum();
    let mut group = c.benchmark_group("bitcoin-world");
    group.throughput(Throughput::Bytes(total));
    group.sample_size(10);
    group.bench_function("baseline", |b| {
        b.iter(|| {
            for (_, bytes) in &inputs {
                support::blk_blocks(bytes).for_each(support::bare_decode);
            }
        })
    });
    let opts = BitcoinOptions::default();
    group.bench_function("ingest", |b| {
        b.iter(|| {
            for (name, bytes) in &inputs {
                let mut sink = |block: ChainBlock, _done: u64| {
                    black_box(&block);
                    Ok(())
                };
                read_slice(name, bytes, &opts, &mut sink).expect("world ingests");
            }
        })
    });
    group.bench_function("ingest+store-bulk", |b| {
        b.iter_batched(
            || tempfile::tempdir().expect("temporary directory"),
            |dir| {
                let mut store = floodgate_store::Store::open(dir.path()).expect("store opens");
                support::load_pipelined(&mut store, &inputs, &opts);
                dir
            },
            criterion::BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bitcoin_ingest, bitcoin_world);
criterion_main!(benches);
