//! The transfer listing streams: `limit` reads only the first blocks, a consumer's error stops
//! the query, and the streamed order is the documented one (issue 9, item 10).

// In tests a panic is the failure report; helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use floodgate_store::{Store, StoreError, TransferFilter, TransferRow};
use floodgate_types::{
    Address, Amount, AssetId, Chain, ChainBlock, Hash32, Timestamp, Transfer, TransferIndex,
    TransferKind,
};

fn eth(n: u64) -> Address {
    Address::parse(Chain::Ethereum, &format!("0x{n:040x}")).unwrap()
}

fn hash(block: u64, tx: u64) -> Hash32 {
    let mut b = [0u8; 32];
    b[..8].copy_from_slice(&block.to_be_bytes());
    b[8..16].copy_from_slice(&tx.to_be_bytes());
    Hash32(b)
}

/// `blocks` Ethereum blocks of `per_block` token transfers each, written in descending height
/// order (so storage order is not listing order), positions and log indexes shuffled.
fn store_with(blocks: u64, per_block: u64) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    for height in (1..=blocks).rev() {
        let transfers = (0..per_block)
            .map(|i| {
                let tx = (i * 7919) % per_block;
                Transfer {
                    chain: Chain::Ethereum,
                    height,
                    block_hash: Some(hash(height, u64::MAX)),
                    time: Some(Timestamp(1_700_000_000 + height as i64 * 12)),
                    txid: hash(height, tx),
                    tx_position: Some(tx as u32),
                    index: TransferIndex::Log((per_block - i) as u32),
                    kind: TransferKind::Token,
                    from: eth(i + 1),
                    to: eth(i + 2),
                    asset: AssetId("USDT-ERC20".to_owned()),
                    amount: Amount::from(i + 1),
                }
            })
            .collect();
        s.apply_block(&ChainBlock { header: None, utxo_txs: vec![], transfers }).unwrap();
    }
    (dir, s)
}

fn key(r: &TransferRow) -> (u64, String) {
    (r.height.unwrap(), r.txid.clone())
}

#[test]
fn the_streamed_listing_is_in_height_then_position_order_and_limits_are_prefixes() {
    let (_dir, s) = store_with(30, 40);
    let all = s.transfers(&TransferFilter::default()).unwrap();
    assert_eq!(all.len(), 30 * 40);
    // Height ascending; within a block, tx position (= txid order here) ascending.
    assert!(all.windows(2).all(|w| key(&w[0]) <= key(&w[1])), "not in listing order");
    for n in [1, 5, 39, 40, 41, 1199, 1200, 5000] {
        let some = s.transfers(&TransferFilter { limit: Some(n), ..Default::default() }).unwrap();
        assert_eq!(some[..], all[..n.min(all.len())], "limit {n}");
    }
    // The address path (indexes, sorted in memory) agrees with the streamed path.
    let a = eth(5);
    let by_addr =
        s.transfers(&TransferFilter { address: Some(a.clone()), ..Default::default() }).unwrap();
    let a = a.to_string();
    let want: Vec<_> = all
        .iter()
        .filter(|r| r.from.as_deref() == Some(&*a) || r.to.as_deref() == Some(&*a))
        .cloned()
        .collect();
    assert_eq!(by_addr.len(), 60);
    assert_eq!(by_addr, want);
}

#[test]
fn a_consumer_error_stops_the_listing_at_once() {
    let (_dir, s) = store_with(5, 10);
    let mut seen = 0;
    let res = s.for_each_transfer(&TransferFilter::default(), |_| {
        seen += 1;
        if seen == 3 {
            Err(StoreError::Corrupt { path: "stdout".into(), detail: "reader went away".into() })
        } else {
            Ok(())
        }
    });
    assert!(res.is_err());
    assert_eq!(seen, 3, "no row is read after the consumer failed");
}

fn fastest(mut f: impl FnMut()) -> Duration {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap()
}

/// Before streaming, `--limit 5` read and sorted the whole store, so it took as long as the
/// full listing (11.6 s and 1.76 GiB at 2M transfers). Now it reads the first block only.
#[test]
fn limit_five_reads_only_the_first_block_of_a_large_store() {
    let (_dir, s) = store_with(300, 100);
    let full = fastest(|| {
        let mut n = 0u64;
        s.for_each_transfer(&TransferFilter::default(), |_| {
            n += 1;
            Ok::<(), StoreError>(())
        })
        .unwrap();
        assert_eq!(n, 30_000);
    });
    let five = fastest(|| {
        let rows = s.transfers(&TransferFilter { limit: Some(5), ..Default::default() }).unwrap();
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[0].height, Some(1));
    });
    assert!(
        five * 20 < full,
        "limit 5 took {five:?}, the full 30,000-row listing {full:?}: limit must not read the store"
    );
}
