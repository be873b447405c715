//! What the `bitcoin` bench and the `bitcoin_cpu` example both measure: bare decode, the
//! blocks of a `blk*.dat` file, and a bulk load in commit groups on the store thread, as
//! `floodgate ingest --bulk` does (`crates/app/src/ingest.rs`). Included by each with `mod`
//! (a directory under `benches/` without `main.rs` is not a bench target of its own).

use std::hint::black_box;
use std::path::Path;

use bitcoin::consensus::deserialize;
use floodgate_ingest::bitcoin::{read_slice, BitcoinOptions};
use floodgate_store::Store;
use floodgate_types::ChainBlock;

/// Records per commit group, as `floodgate ingest` (`crates/app/src/ingest.rs`).
pub(crate) const GROUP_RECORDS: usize = 50_000;

/// The blocks of a `blk*.dat` file: magic, length, block, repeated.
pub(crate) fn blk_blocks(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let head = bytes.get(at..at + 8)?;
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let block = bytes.get(at + 8..at + 8 + len)?;
        at += 8 + len;
        Some(block)
    })
}

/// Bare decode of one raw block: rust-bitcoin's `deserialize::<Block>` and every txid.
pub(crate) fn bare_decode(raw: &[u8]) {
    let block: bitcoin::Block = deserialize(raw).expect("benchmark block decodes");
    for tx in &block.txdata {
        black_box(tx.compute_txid());
    }
    black_box(&block);
}

/// Reads `inputs` into `store`, each group of [`GROUP_RECORDS`] applied on the store thread
/// while the reader decodes the next (Bitcoin input: no SQLite index is suspended, as
/// `floodgate ingest` suspends none for it), and handed back to be freed on the reader's
/// thread, as `floodgate ingest` does.
pub(crate) fn load_pipelined<P: AsRef<Path>>(
    store: &mut Store,
    inputs: &[(P, Vec<u8>)],
    opts: &BitcoinOptions,
) {
    floodgate_store::pipelined(store, |pipe| {
        let mut blocks: Vec<ChainBlock> = Vec::new();
        let mut records = 0usize;
        for (name, bytes) in inputs {
            let mut sink = |block: ChainBlock, _done: u64| {
                records += block.utxo_txs.len() + 1;
                blocks.push(block);
                if records >= GROUP_RECORDS {
                    let group = std::mem::take(&mut blocks);
                    pipe.submit(move |s: &mut Store| s.apply_blocks(&group).map(|_| group))?;
                    pipe.replies().for_each(drop);
                    records = 0;
                }
                Ok(())
            };
            read_slice(name.as_ref(), bytes, opts, &mut sink).expect("blocks ingest");
        }
        pipe.submit(move |s: &mut Store| s.apply_blocks(&blocks).map(|_| blocks))
            .expect("blocks apply");
        pipe.finish().expect("blocks apply");
    });
}
