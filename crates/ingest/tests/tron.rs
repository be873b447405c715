//! Real-data tests of the Tron reader on GraphSense's block 50 000 011
//! (`/work/shared/data/tron`, provenance in its `SOURCES.md` §4).

// Test helpers panic on purpose: a panic is how a test reports a failure (STYLE.md §3).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use floodgate_ingest::{tron, IngestError};
use floodgate_types::{AssetRegistry, ChainBlock, Transfer, TransferIndex, TransferKind};

fn read(path: &Path) -> Vec<ChainBlock> {
    let mut blocks = Vec::new();
    let mut sink = |b: ChainBlock, _: u64| {
        blocks.push(b);
        Ok(())
    };
    tron::read_path(path, &AssetRegistry::builtin(), &mut sink).unwrap();
    blocks
}

fn transfers(path: &Path) -> Vec<Transfer> {
    read(path).into_iter().flat_map(|b| b.transfers).collect()
}

#[test]
fn usdt_trc20_logs_of_block_50000011() {
    let Some(dir) = floodgate_testdata::dir("tron/graphsense-block-50000011") else { return };
    let ts = transfers(&dir.join("logs.jsonl"));
    let usdt: Vec<_> = ts.iter().filter(|t| t.asset.as_str() == "USDT-TRC20").collect();
    assert_eq!(usdt.len(), 73);
    assert_eq!(ts.len(), 75, "plus 2 transfers of another TRC-20 token");
    assert!(ts.iter().all(|t| t.kind == TransferKind::Token && t.height == 50000011));
    let first = usdt[0];
    assert_eq!(first.index, TransferIndex::Log(0));
    assert_eq!(first.amount.to_string(), "100000000", "100 USDT");
    assert_eq!(first.amount.to_decimal_string(6), "100");
    assert_eq!(
        first.txid.to_hex(),
        "2b24564fa78ed4a6e555c9cd26f4d3e791b1efc9f2654c31d4feb97d8853e03f"
    );
    // a4875b63… and 804087a7… with the 0x41 prefix, in base58check.
    assert_eq!(
        floodgate_types::Address::parse(
            floodgate_types::Chain::Tron,
            "41a4875b63aa1f3c28acea607143bec09b57ed470f"
        )
        .unwrap(),
        first.from
    );
    assert_eq!(
        floodgate_types::Address::parse(
            floodgate_types::Chain::Tron,
            "41804087a70980dbe2fb54bc3e4e2b79f995b8bfcd"
        )
        .unwrap(),
        first.to
    );
    assert!(ts
        .iter()
        .all(|t| t.from.to_string().starts_with('T') && t.to.to_string().starts_with('T')));
    let other = ts.iter().find(|t| t.asset.as_str() != "USDT-TRC20").unwrap();
    assert!(other.asset.as_str().starts_with("trc20:T"), "{}", other.asset);
}

#[test]
fn native_trx_and_internal_transfers_of_block_50000011() {
    let Some(dir) = floodgate_testdata::dir("tron/graphsense-block-50000011") else { return };
    let blocks = read(&dir.join("transactions.jsonl"));
    assert_eq!(blocks.len(), 1);
    let h = blocks[0].header.as_ref().unwrap();
    assert_eq!((h.height, h.time.unwrap().0, h.parent), (50000011, 1680612831, None));
    let ts = &blocks[0].transfers;
    // 194 TransferContract payments; TRC-10 (type 2), reward withdrawals (type 13) and
    // zero-value contract calls move no TRX.
    assert_eq!(ts.len(), 194);
    assert!(ts.iter().all(|t| t.kind == TransferKind::Native
        && t.asset.as_str() == "TRX"
        && !t.amount.is_zero()));
    assert!(ts.iter().all(|t| t.tx_position.is_some() && t.to.to_string().starts_with('T')));

    let internal = transfers(&dir.join("traces.jsonl"));
    assert_eq!(internal.len(), 1, "the zero-value internal call moves nothing");
    assert_eq!(internal[0].kind, TransferKind::Internal);
    assert_eq!(internal[0].index, TransferIndex::Trace(vec![1]));
    assert_eq!(internal[0].amount.to_string(), "76107578");

    let header = read(&dir.join("blocks.jsonl"));
    let h = header[0].header.as_ref().unwrap();
    assert!(h.parent.is_some() && header[0].transfers.is_empty());
}

#[test]
fn tron_bad_address_names_file_and_line() {
    let p: PathBuf =
        std::env::temp_dir().join(format!("floodgate-tron-{}-badaddr.jsonl", std::process::id()));
    let row = r#"{"tx_hash": "0x2b24564fa78ed4a6e555c9cd26f4d3e791b1efc9f2654c31d4feb97d8853e03f", "transaction_index": 0, "from_address": "0xa4875b63aa1f3c28acea607143bec09b57ed470f", "to_address": "0xa4875b63aa1f3c28acea607143bec09b57ed47", "value": 5, "transaction_type": 1, "receipt_status": 1, "block_id": 7}"#;
    std::fs::write(&p, format!("{row}\n{row}\n")).unwrap();
    let mut sink = |_: ChainBlock, _: u64| Ok(());
    let err = tron::read_path(&p, &AssetRegistry::builtin(), &mut sink).unwrap_err();
    let _ = std::fs::remove_file(&p);
    assert!(matches!(err, IngestError::Invalid { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains(&p.display().to_string()) && msg.contains("line 1, field 'to_address'"),
        "{msg}"
    );
}
