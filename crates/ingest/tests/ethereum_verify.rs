//! Issue 9, item 2: Ethereum blocks are verified as far as the input allows (block hash from
//! the header, transaction hashes and root, receipts root, parent links), on real mainnet
//! blocks (`/work/shared/data/ethereum`, provenance in its `SOURCES.md` §3), and every
//! single-field flip is refused with the block and the check named.

// In tests a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use floodgate_ingest::ethereum;
use floodgate_ingest::{BlockSink, FileSummary, IngestError, NetworkId, SinkError};
use floodgate_types::{AssetRegistry, ChainBlock};
use serde_json::Value;

#[derive(Default)]
struct Sink {
    blocks: Vec<ChainBlock>,
    networks: Vec<NetworkId>,
}

impl BlockSink for Sink {
    fn block(&mut self, block: ChainBlock, _: u64) -> Result<(), SinkError> {
        self.blocks.push(block);
        Ok(())
    }
    fn network(&mut self, id: &NetworkId) -> Result<(), SinkError> {
        self.networks.push(id.clone());
        Ok(())
    }
}

fn read(paths: &[PathBuf]) -> (Result<FileSummary, IngestError>, Sink) {
    let mut sink = Sink::default();
    let r = ethereum::read_paths(paths, &AssetRegistry::builtin(), &mut sink);
    (r, sink)
}

fn checks(s: &FileSummary, check: &str) -> usize {
    s.unverified.iter().filter(|u| u.check == check).count()
}

fn pevm(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

#[test]
fn real_full_blocks_pass_every_check_and_bind_chain_id_1() {
    let Some(dir) = floodgate_testdata::dir("ethereum/pevm-mainnet-blocks") else { return };
    for file in pevm(&dir) {
        let (r, sink) = read(std::slice::from_ref(&file));
        let s = r.unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        // Legacy, EIP-2930, EIP-1559 and EIP-4844-era blocks: hash and transactions root
        // recomputed from the file.
        assert_eq!(checks(&s, "block-hash"), 0, "{}: {:?}", file.display(), s.unverified);
        assert_eq!(checks(&s, "transactions-root"), 0, "{}: {:?}", file.display(), s.unverified);
        // Every transaction's signature recovers the sender it names.
        assert_eq!(checks(&s, "transaction-sender"), 0, "{}: {:?}", file.display(), s.unverified);
        // No receipts in these files: noted, not refused.
        assert_eq!(checks(&s, "receipts-root"), 1);
        assert_eq!(sink.blocks.len(), 1);
        assert_eq!(sink.networks.len(), 1, "{}", file.display());
        assert_eq!(sink.networks[0].name, "chain id 1");
        assert_eq!(
            sink.networks[0].genesis.unwrap().to_hex(),
            "d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3"
        );
    }
}

#[test]
fn consecutive_real_blocks_link_and_a_broken_link_is_refused() {
    let Some(dir) = floodgate_testdata::dir("ethereum/pevm-mainnet-blocks") else { return };
    let f = |n: u64| dir.join(format!("eth_getBlockByNumber_{n}_full.json"));
    for (a, b) in [(12964999, 12965000), (17034869, 17034870), (19426586, 19426587)] {
        let (r, sink) = read(&[f(a), f(b)]);
        r.unwrap();
        assert_eq!(sink.blocks.len(), 2);
        assert_eq!(sink.networks.len(), 1);
    }
    // ethereum-etl block rows carry no full header, so their hash cannot be recomputed; the
    // link between two blocks of one input is still checked.
    let Some(etl) = floodgate_testdata::dir(
        "ethereum/ethereum-etl-fixtures/test_stream/blocks_17173049_17173050",
    ) else {
        return;
    };
    let blocks = std::fs::read_to_string(etl.join("expected_blocks.json")).unwrap();
    let broken = blocks.replacen(
        "\"parent_hash\": \"0xaa5ab9bb22d8020d438496a7edb4eff508b1c5128b0dc01fdecf57f96aac1bb3\"",
        "\"parent_hash\": \"0xaa5ab9bb22d8020d438496a7edb4eff508b1c5128b0dc01fdecf57f96aac1bb4\"",
        1,
    );
    assert_ne!(broken, blocks);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("blocks.json");
    std::fs::write(&file, broken).unwrap();
    let (r, sink) = read(&[file]);
    let e = r.unwrap_err().to_string();
    assert!(e.contains("parent-link") && e.contains("block 17173050"), "{e}");
    assert!(sink.blocks.is_empty());
}

#[test]
fn real_etl_rows_give_the_receipts_root_and_note_what_they_lack() {
    let Some(dir) = floodgate_testdata::dir(
        "ethereum/ethereum-etl-fixtures/test_stream/blocks_17173049_17173050",
    ) else {
        return;
    };
    let files: Vec<PathBuf> =
        ["expected_blocks.json", "expected_transactions.json", "expected_logs.json"]
            .iter()
            .map(|n| dir.join(n))
            .collect();
    let (r, sink) = read(&files);
    let s = r.unwrap();
    assert_eq!(sink.blocks.len(), 2);
    assert_eq!(checks(&s, "receipts-root"), 0, "{:?}", s.unverified);
    // ethereum-etl rows carry no signatures and no full header: both noted per block.
    assert_eq!(checks(&s, "transactions-root"), 2);
    assert_eq!(checks(&s, "block-hash"), 2);

    // One flipped field in any receipt or log is refused, naming the block and the check.
    let logs = std::fs::read_to_string(&files[2]).unwrap();
    let txs = std::fs::read_to_string(&files[1]).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let flips: Vec<(usize, String, String)> = vec![
        (
            2,
            "\"log_index\": 0,".into(),
            logs.replacen("\"data\": \"0x0000", "\"data\": \"0x0001", 1),
        ),
        (2, "topics".into(), logs.replacen("0xddf252ad", "0xddf252ae", 1)),
        (
            1,
            "receipt_status".into(),
            txs.replacen("\"receipt_status\": 1", "\"receipt_status\": 0", 1),
        ),
        (
            1,
            "receipt_cumulative_gas_used".into(),
            txs.replacen(
                "\"receipt_cumulative_gas_used\": 85143",
                "\"receipt_cumulative_gas_used\": 85144",
                1,
            ),
        ),
    ];
    for (which, what, text) in flips {
        assert_ne!(&text, if which == 1 { &txs } else { &logs }, "{what}: the flip must apply");
        let mut flipped = files.clone();
        flipped[which] = tmp.path().join(format!("flipped-{which}.json"));
        std::fs::write(&flipped[which], text).unwrap();
        let (r, sink) = read(&flipped);
        let e = r.expect_err(&what).to_string();
        assert!(e.contains("receipts-root") && e.contains("block 17173049"), "{what}: {e}");
        assert!(sink.blocks.is_empty(), "{what}: nothing may be handed on");
    }
}

/// Every single-field flip of a real block is refused: header fields by the block hash,
/// transaction fields by the transaction hash, a transaction hash by its encoding, the
/// root by the transactions.
#[test]
fn single_field_flips_of_a_real_block_are_refused() {
    let Some(dir) = floodgate_testdata::dir("ethereum/pevm-mainnet-blocks") else { return };
    let tmp = tempfile::tempdir().unwrap();
    for n in [12965000u64, 19426587] {
        let path = dir.join(format!("eth_getBlockByNumber_{n}_full.json"));
        let block: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut cases: Vec<(String, Value)> = Vec::new();
        for key in ["parentHash", "timestamp", "transactionsRoot", "receiptsRoot", "miner", "hash"]
        {
            let mut b = block.clone();
            b[key] = Value::String(flip(b[key].as_str().unwrap()));
            cases.push((key.to_owned(), b));
        }
        let txs = block["transactions"].as_array().unwrap().len();
        for i in [0, txs / 2, txs - 1] {
            for key in ["value", "to", "input", "nonce", "hash", "r", "gas"] {
                let mut b = block.clone();
                let v = &mut b["transactions"][i][key];
                let Some(s) = v.as_str() else { continue };
                *v = Value::String(flip(s));
                cases.push((format!("transactions[{i}].{key}"), b));
            }
        }
        // A transaction moved to another position.
        let mut b = block.clone();
        b["transactions"].as_array_mut().unwrap().swap(0, 1);
        cases.push(("swapped transactions".into(), b));
        // A transaction dropped.
        let mut b = block.clone();
        b["transactions"].as_array_mut().unwrap().pop();
        cases.push(("dropped transaction".into(), b));
        for (what, b) in cases {
            let file = tmp.path().join("flipped.json");
            std::fs::write(&file, serde_json::to_string(&b).unwrap()).unwrap();
            let (r, sink) = read(&[file]);
            let e = match r {
                Ok(_) => panic!("block {n}, {what}: accepted"),
                Err(e) => e.to_string(),
            };
            assert!(e.contains(&format!("block {n}")) && e.contains("check"), "{what}: {e}");
            assert!(sink.blocks.is_empty(), "{what}: nothing may be handed on");
        }
    }
}

/// `from` is not part of a transaction's hash: a block whose transaction names another sender
/// than the one who signed it is refused by signature recovery, on legacy (EIP-155) and typed
/// (EIP-1559, EIP-4844-era) transactions, naming the block, the field and the real signer.
#[test]
fn a_transaction_naming_another_sender_is_refused() {
    let Some(dir) = floodgate_testdata::dir("ethereum/pevm-mainnet-blocks") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    for n in [12965000u64, 17034870, 19426587] {
        let path = dir.join(format!("eth_getBlockByNumber_{n}_full.json"));
        let block: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let txs = block["transactions"].as_array().unwrap();
        for i in [0, txs.len() / 2, txs.len() - 1] {
            let real = txs[i]["from"].as_str().unwrap().to_owned();
            kinds.insert(txs[i]["type"].as_str().unwrap_or("0x0").to_owned());
            // Another real sender of the same block: a plausible lie, not a malformed field.
            let other = txs
                .iter()
                .map(|t| t["from"].as_str().unwrap())
                .find(|f| !f.eq_ignore_ascii_case(&real))
                .unwrap()
                .to_owned();
            let mut b = block.clone();
            b["transactions"][i]["from"] = Value::String(other.clone());
            let file = tmp.path().join("other-sender.json");
            std::fs::write(&file, serde_json::to_string(&b).unwrap()).unwrap();
            let (r, sink) = read(&[file]);
            let e = r.expect_err("a wrong sender must be refused").to_string();
            assert!(e.contains(&format!("block {n}")), "{e}");
            assert!(
                e.contains("transaction-sender") && e.contains(&format!("transactions[{i}].from")),
                "{e}"
            );
            assert!(e.to_lowercase().contains(&real.to_lowercase()), "names the real signer: {e}");
            assert!(sink.blocks.is_empty());
        }
    }
    assert!(kinds.len() >= 2, "legacy and typed transactions both tried: {kinds:?}");
}

/// Flips the last hex digit (keeps the string valid hex of the same length).
fn flip(s: &str) -> String {
    let mut c: Vec<char> = s.chars().collect();
    let last = c.len() - 1;
    c[last] = if c[last] == '0' { '1' } else { '0' };
    c.into_iter().collect()
}

#[test]
fn a_block_with_transaction_hashes_only_is_stored_with_a_note() {
    let Some(dir) = floodgate_testdata::dir(
        "ethereum/ethereum-etl-fixtures/test_stream/blocks_2112234_2112234",
    ) else {
        return;
    };
    let (r, _) = read(&[dir.join("web3_response.eth_getBlockByNumber_0x203aea_false.json")]);
    let s = r.unwrap();
    let notes: Vec<_> = s.unverified.iter().filter(|u| u.check == "transactions-root").collect();
    assert_eq!(notes.len(), 1, "{:?}", s.unverified);
    assert!(notes[0].reason.contains("hashes only"), "{:?}", notes[0]);
    assert_eq!(checks(&s, "block-hash"), 0, "the header alone gives the hash: {:?}", s.unverified);
}

/// Issue 9 item 3 for Ethereum: the chain id the transactions are signed for binds the data
/// directory; a store bound to another chain id refuses the input before anything is stored.
#[test]
fn a_store_bound_to_another_chain_id_refuses_mainnet_blocks() {
    use floodgate_store::Store;
    use floodgate_types::Chain;
    let Some(dir) = floodgate_testdata::dir("ethereum/pevm-mainnet-blocks") else { return };
    let file = dir.join("eth_getBlockByNumber_19426587_full.json");

    struct StoreSink<'a>(&'a mut Store);
    impl BlockSink for StoreSink<'_> {
        fn block(&mut self, block: ChainBlock, _: u64) -> Result<(), SinkError> {
            self.0.apply_block(&block)?;
            Ok(())
        }
        fn network(&mut self, id: &NetworkId) -> Result<(), SinkError> {
            self.0.bind_network(id.chain, &id.name, id.genesis)?;
            Ok(())
        }
    }

    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    // As if a Sepolia input had been ingested first.
    store.bind_network(Chain::Ethereum, "chain id 11155111", None).unwrap();
    let e = ethereum::read_paths(
        std::slice::from_ref(&file),
        &AssetRegistry::builtin(),
        &mut StoreSink(&mut store),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("chain id 11155111") && e.contains("chain id 1"), "{e}");
    assert_eq!(store.stats().unwrap().chains.len(), 0, "nothing stored");

    // A fresh store binds to chain id 1 and takes the block.
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    ethereum::read_paths(&[file], &AssetRegistry::builtin(), &mut StoreSink(&mut store)).unwrap();
    assert_eq!(store.network(Chain::Ethereum).unwrap().as_deref(), Some("chain id 1"));
}
