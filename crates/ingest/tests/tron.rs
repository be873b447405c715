//! Real-data tests of the Tron reader on GraphSense's block 50 000 011
//! (`/work/shared/data/tron`, provenance in its `SOURCES.md` §4).

// Test helpers panic on purpose: a panic is how a test reports a failure (STYLE.md §3).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use floodgate_ingest::{tron, IngestError};
use floodgate_types::{AssetRegistry, ChainBlock, Transfer, TransferIndex, TransferKind};

/// Reads one table of the block together with its `blocks.jsonl` (which gives the time that
/// logs and traces lack).
fn read(path: &Path) -> Vec<ChainBlock> {
    let mut blocks = Vec::new();
    let mut sink = |b: ChainBlock, _: u64| {
        blocks.push(b);
        Ok(())
    };
    let mut paths = vec![path.to_owned()];
    let header = path.with_file_name("blocks.jsonl");
    if header != path {
        paths.insert(0, header);
    }
    tron::read_paths(&paths, &AssetRegistry::builtin(), &mut sink).unwrap();
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
    // The parent comes from blocks.jsonl, read alongside; it begins with height 50000010.
    assert_eq!(
        (h.height, h.time.unwrap().0, h.parent.unwrap().to_hex()),
        (
            50000011,
            1680612831,
            "0000000002faf08aab1b16b5139a906909f6448947ed8e5145a142d66e5c0e4b".to_owned()
        )
    );
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

/// Issue 9 item 6: GraphSense logs carry no time; alone they are refused (they used to be stored
/// with no time, so time-windowed exposure dropped them), and with the block's transactions
/// every transfer gets the block's time.
#[test]
fn issue_9_tron_transfers_get_the_block_time_or_are_refused() {
    let Some(dir) = floodgate_testdata::dir("tron/graphsense-block-50000011") else { return };
    let mut sink = |_b: ChainBlock, _: u64| Ok(());
    let err = tron::read_path(&dir.join("logs.jsonl"), &AssetRegistry::builtin(), &mut sink)
        .unwrap_err()
        .to_string();
    assert!(err.contains("logs.jsonl") && err.contains("no row gives the time"), "{err}");

    let mut blocks = Vec::new();
    let mut sink = |b: ChainBlock, _: u64| {
        blocks.push(b);
        Ok(())
    };
    let paths = [dir.join("logs.jsonl"), dir.join("transactions.jsonl")];
    tron::read_paths(&paths, &AssetRegistry::builtin(), &mut sink).unwrap();
    let usdt: Vec<_> = blocks
        .iter()
        .flat_map(|b| &b.transfers)
        .filter(|t| t.asset.as_str() == "USDT-TRC20")
        .collect();
    assert_eq!(usdt.len(), 73);
    // 2023-04-04T12:53:51Z, the block_timestamp of block 50000011's transactions.
    assert!(usdt.iter().all(|t| t.time == Some(floodgate_types::Timestamp(1_680_612_831))));
}

/// Issue 9 item 4: Ethereum data given to the Tron reader is refused (it used to be stored as
/// 2,961 Tron transfers): a Tron block id begins with its height, an Ethereum hash does not.
#[test]
fn issue_9_ethereum_data_is_not_tron() {
    let Some(eth) = floodgate_testdata::dir("ethereum/graphsense-block-18000011") else { return };
    for table in ["blocks.jsonl", "transactions.jsonl", "logs.jsonl"] {
        let mut stored = 0;
        let mut sink = |b: ChainBlock, _: u64| {
            stored += b.transfers.len();
            Ok(())
        };
        let err = tron::read_paths(&[eth.join(table)], &AssetRegistry::builtin(), &mut sink)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(table) && err.contains("line 1") && err.contains("not Tron data"),
            "{err}"
        );
        assert_eq!(stored, 0);
    }
}
