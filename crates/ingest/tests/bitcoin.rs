//! Real-data tests of the Bitcoin reader (`/work/shared/data/bitcoin`, provenance in
//! `SOURCES.md` section 2). Each test skips loudly when the data is absent.

// Test helpers panic on purpose: a failed unwrap is the test failure, with its message.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bitcoin::hashes::Hash as _;
use floodgate_ingest::bitcoin::{read_path, BitcoinOptions, PrevoutMap};
use floodgate_ingest::{FileSummary, IngestError};
use floodgate_types::{Address, Amount, BtcAddress, Chain, ChainBlock, Hash32, OutPoint};

fn raw_dir() -> Option<PathBuf> {
    floodgate_testdata::dir("bitcoin/raw-blocks")
}

/// Reads a file into a vector of blocks.
#[track_caller]
fn read_all(path: &Path, opts: &BitcoinOptions) -> (Vec<ChainBlock>, FileSummary) {
    let mut blocks = Vec::new();
    let mut sink = |b: ChainBlock, _done: u64| {
        blocks.push(b);
        Ok(())
    };
    let summary = read_path(path, opts, &mut sink).unwrap();
    (blocks, summary)
}

fn try_read(path: &Path, opts: &BitcoinOptions) -> Result<Vec<ChainBlock>, IngestError> {
    let mut blocks = Vec::new();
    let mut sink = |b: ChainBlock, _done: u64| {
        blocks.push(b);
        Ok(())
    };
    read_path(path, opts, &mut sink).map(|_| blocks)
}

fn hint(h: u64) -> BitcoinOptions {
    BitcoinOptions { height_hint: Some(h), ..BitcoinOptions::default() }
}

fn hash(s: &str) -> Hash32 {
    Hash32::from_hex(s).unwrap()
}

fn btc(addr: &str) -> Address {
    Address::parse(Chain::Bitcoin, addr).unwrap()
}

fn height(b: &ChainBlock) -> u64 {
    b.header.as_ref().unwrap().height
}

/// A unique scratch directory under the system temp dir (no `tempfile` dev-dependency).
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "floodgate-btc-{name}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn block_277647_resolves_every_input_and_balances_fees() {
    let Some(dir) = raw_dir() else { return };
    let prevouts = PrevoutMap::load_csv(&dir.join("mainnet_block_277647.prevouts.csv")).unwrap();
    assert_eq!(prevouts.len(), 732);
    let opts = BitcoinOptions { prevouts: Some(prevouts), ..BitcoinOptions::default() };
    let (blocks, summary) = read_all(&dir.join("mainnet_block_277647.blk.dat"), &opts);
    assert_eq!(summary.format, "blk.dat");
    assert_eq!((summary.blocks, summary.transactions), (1, 213));
    let block = &blocks[0];
    let header = block.header.as_ref().unwrap();
    assert_eq!(header.height, 277647);
    assert_eq!(
        header.hash,
        hash("0000000000000000054a714e580b16c583701712ab91060e92dbde6eb1e052a8")
    );

    let mut fees = Amount::ZERO;
    for tx in &block.utxo_txs[1..] {
        for input in &tx.inputs {
            assert!(
                input.address.is_some() && input.value.is_some(),
                "unresolved input in {}",
                tx.txid
            );
        }
        fees = fees.checked_add(tx.fee().unwrap()).unwrap();
    }
    assert_eq!(fees, Amount::from(4_737_355u64));
    let coinbase = &block.utxo_txs[0];
    assert!(coinbase.is_coinbase());
    let subsidy = Amount::from(2_500_000_000u64);
    assert_eq!(coinbase.output_total().unwrap(), Amount::from(2_504_737_355u64));
    assert_eq!(coinbase.output_total().unwrap(), subsidy.checked_add(fees).unwrap());
}

#[test]
fn blocks_227835_and_227836_link_across_files() {
    let Some(dir) = raw_dir() else { return };
    // 227835 is a version-1 block (no BIP34 height) read on its own, so it needs the hint;
    // 227836 carries its height in the coinbase.
    let mut blocks = Vec::new();
    let mut sink = |b: ChainBlock, _done: u64| {
        blocks.push(b);
        Ok(())
    };
    read_path(&dir.join("mainnet_block_227835.raw"), &hint(227835), &mut sink).unwrap();
    read_path(&dir.join("mainnet_block_227836.raw"), &BitcoinOptions::default(), &mut sink)
        .unwrap();
    let [first, second] = &blocks[..] else { panic!("expected two blocks") };
    assert_eq!((height(first), height(second)), (227835, 227836));
    assert_eq!(second.header.as_ref().unwrap().parent, Some(first.header.as_ref().unwrap().hash));
    assert_eq!(first.utxo_txs.len(), 122);
    assert_eq!(second.utxo_txs.len(), 100);

    // A tiny resolver: the outputs of the earlier block, keyed by outpoint.
    let mut created: HashMap<OutPoint, (Address, Amount)> = HashMap::new();
    for tx in &first.utxo_txs {
        for o in &tx.outputs {
            created.insert(OutPoint { txid: tx.txid, vout: o.vout }, (o.address.clone(), o.value));
        }
    }
    let first_txids: std::collections::HashSet<Hash32> =
        first.utxo_txs.iter().map(|t| t.txid).collect();
    let mut spends = 0;
    for tx in &second.utxo_txs {
        for input in &tx.inputs {
            let Some(op) = input.prevout else { continue };
            if !first_txids.contains(&op.txid) {
                continue;
            }
            spends += 1;
            // The in-file map does not cross files: unresolved after reading.
            assert_eq!(input.address, None);
            let (address, value) = created.get(&op).expect("spent outpoint exists in 227835");
            assert!(value > &Amount::ZERO);
            assert!(matches!(address, Address::Bitcoin(a) if a.is_standard()));
        }
    }
    assert_eq!(spends, 16);

    // The same resolution through the reader's own path: give 227835's outputs as prevouts.
    let mut prevouts = PrevoutMap::new();
    let raw = std::fs::read(dir.join("mainnet_block_227835.raw")).unwrap();
    let decoded: bitcoin::Block = bitcoin::consensus::deserialize(&raw).unwrap();
    for tx in &decoded.txdata {
        let txid = Hash32::from_wire_order(tx.compute_txid().to_byte_array());
        for (vout, out) in tx.output.iter().enumerate() {
            let op = OutPoint { txid, vout: vout as u32 };
            prevouts.insert(op, out.value.to_sat(), out.script_pubkey.as_bytes());
        }
    }
    let opts = BitcoinOptions { prevouts: Some(prevouts), ..BitcoinOptions::default() };
    let (again, _) = read_all(&dir.join("mainnet_block_227836.raw"), &opts);
    let mut resolved = 0;
    for tx in &again[0].utxo_txs {
        for input in &tx.inputs {
            if let Some((address, value)) = input.prevout.and_then(|op| created.get(&op)) {
                assert_eq!(input.address.as_ref(), Some(address));
                assert_eq!(input.value, Some(*value));
                resolved += 1;
            }
        }
    }
    assert_eq!(resolved, 16);
}

#[test]
fn first_439_blocks_chain_from_genesis_and_block_170_spends_block_9() {
    let Some(dir) = raw_dir() else { return };
    let (blocks, summary) =
        read_all(&dir.join("mainnet_blocks_0-438.blk.dat"), &BitcoinOptions::default());
    assert_eq!(summary.blocks, 439);
    assert_eq!(blocks.len(), 439);
    let genesis = blocks[0].header.as_ref().unwrap();
    assert_eq!(
        genesis.hash,
        hash("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f")
    );
    assert_eq!(genesis.parent, None);
    for (i, pair) in blocks.windows(2).enumerate() {
        let (a, b) = (pair[0].header.as_ref().unwrap(), pair[1].header.as_ref().unwrap());
        assert_eq!(a.height, i as u64);
        assert_eq!(b.height, i as u64 + 1);
        assert_eq!(b.parent, Some(a.hash));
    }
    assert_eq!(
        blocks[0].utxo_txs[0].outputs[0].address,
        btc("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
        "genesis pays to its pubkey, shown as P2PKH"
    );

    let tx = blocks[170]
        .utxo_txs
        .iter()
        .find(|t| {
            t.txid == hash("f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16")
        })
        .expect("block 170 holds the first person-to-person payment");
    let coinbase_9 = &blocks[9].utxo_txs[0];
    let input = &tx.inputs[0];
    assert_eq!(input.prevout, Some(OutPoint { txid: coinbase_9.txid, vout: 0 }));
    assert_eq!(input.address, Some(btc("12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S")));
    assert_eq!(input.value, Some(Amount::from(5_000_000_000u64)));
    let to_hal =
        tx.outputs.iter().find(|o| o.address == btc("1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3")).unwrap();
    assert_eq!(to_hal.value, Amount::from(1_000_000_000u64));
}

#[test]
fn xor_obfuscated_blk_file_reads_like_the_plain_one() {
    let Some(dir) = raw_dir() else { return };
    let plain = std::fs::read(dir.join("mainnet_blocks_0-438.blk.dat")).unwrap();
    let key = [0x3a, 0x91, 0x07, 0xee, 0x10, 0x55, 0xc2, 0x7f];
    let mut obfuscated = plain.clone();
    for (i, b) in obfuscated.iter_mut().enumerate() {
        *b ^= key[i % 8];
    }
    // Core preallocates files: a zero tail after the last block must end the file cleanly.
    let mut with_tail = plain.clone();
    with_tail.extend_from_slice(&[0u8; 4096]);
    let tmp = scratch("xor");
    std::fs::write(tmp.join("xor.dat"), key).unwrap();
    std::fs::write(tmp.join("blk00000.dat"), &obfuscated).unwrap();
    std::fs::write(tmp.join("tail.dat"), &with_tail).unwrap();
    let (expected, _) =
        read_all(&dir.join("mainnet_blocks_0-438.blk.dat"), &BitcoinOptions::default());
    let (xored, _) = read_all(&tmp.join("blk00000.dat"), &BitcoinOptions::default());
    let (tailed, summary) = read_all(&tmp.join("tail.dat"), &BitcoinOptions::default());
    assert_eq!(xored, expected);
    assert_eq!(tailed, expected);
    assert_eq!(summary.blocks, 439);
    std::fs::remove_dir_all(tmp).unwrap();
}

/// Txids and heights of a getblock JSON file, read independently of the reader.
fn json_blocks(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let v = v.get("result").cloned().unwrap_or(v);
    match v {
        serde_json::Value::Array(items) => items,
        other => vec![other],
    }
}

#[test]
fn getblock_json_fixtures_match_their_json() {
    let Some(dir) = floodgate_testdata::dir("bitcoin/bitcoin-etl-getblock-json") else { return };
    let mut files: Vec<PathBuf> =
        ["block_0", "block_without_transactions", "block_with_transactions"]
            .iter()
            .flat_map(|d| std::fs::read_dir(dir.join(d)).unwrap())
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name().unwrap().to_str().unwrap().starts_with("rpc_response_getblock_0")
            })
            .collect();
    files.sort();
    assert_eq!(files.len(), 4, "{files:?}");
    let mut addresses_checked = 0;
    let mut heights = Vec::new();
    for file in &files {
        let (blocks, summary) = read_all(file, &BitcoinOptions::default());
        assert_eq!(summary.format, "getblock-json");
        let expected = json_blocks(file);
        assert_eq!(blocks.len(), expected.len());
        for (block, json) in blocks.iter().zip(&expected) {
            let header = block.header.as_ref().unwrap();
            assert_eq!(header.height, json["height"].as_u64().unwrap());
            assert_eq!(header.hash, hash(json["hash"].as_str().unwrap()));
            heights.push(header.height);
            let txs = json["tx"].as_array().unwrap();
            assert_eq!(block.utxo_txs.len(), txs.len());
            for (tx, jtx) in block.utxo_txs.iter().zip(txs) {
                assert_eq!(tx.txid, hash(jtx["txid"].as_str().unwrap()));
                for (out, jout) in tx.outputs.iter().zip(jtx["vout"].as_array().unwrap()) {
                    let spk = &jout["scriptPubKey"];
                    let listed = spk["address"].as_str().or_else(|| {
                        spk["addresses"].as_array().filter(|a| a.len() == 1)?[0].as_str()
                    });
                    if let Some(a) = listed {
                        assert_eq!(out.address, btc(a), "{}", file.display());
                        addresses_checked += 1;
                    }
                }
            }
        }
    }
    heights.sort();
    assert_eq!(heights, [0, 50000, 50001, 50002]);
    assert_eq!(addresses_checked, 6, "outputs with a listed address in the fixtures");
}

#[test]
fn getblock_json_lines_and_envelopes_stream_with_in_file_resolution() {
    let Some(dir) = floodgate_testdata::dir("bitcoin/bitcoin-etl-getblock-json/stream_50001_50002")
    else {
        return;
    };
    let a = std::fs::read_to_string(dir.join(
        "rpc_response_getblock_000000001c920d495e1eeef2452b6d1c6c229a919b28196c103ecffebabee141_2.json",
    ))
    .unwrap();
    let b = std::fs::read_to_string(dir.join(
        "rpc_response_getblock_000000002066d7f9b134c30b5005b7bf5fbfa52f279883f1fde793dcdc964266_2.json",
    ))
    .unwrap();
    let compact = |s: &str| {
        serde_json::to_string(&serde_json::from_str::<serde_json::Value>(s).unwrap()).unwrap()
    };
    let tmp = scratch("jsonl");
    let lines = tmp.join("blocks.jsonl");
    std::fs::write(
        &lines,
        format!("{}\n{{\"result\":{},\"error\":null,\"id\":1}}\n", compact(&a), compact(&b)),
    )
    .unwrap();
    let array = tmp.join("blocks.json");
    std::fs::write(&array, format!("[{a},{b}]")).unwrap();
    let (from_lines, s1) = read_all(&lines, &BitcoinOptions::default());
    let (from_array, s2) = read_all(&array, &BitcoinOptions::default());
    assert_eq!((s1.blocks, s2.blocks), (2, 2));
    assert_eq!(from_lines, from_array);
    assert_eq!(from_lines.iter().map(height).collect::<Vec<_>>(), [50001, 50002]);
    std::fs::remove_dir_all(tmp).unwrap();
}

#[test]
fn every_raw_block_matches_rust_bitcoin_txids() {
    let Some(dir) = raw_dir() else { return };
    let hints: HashMap<&str, u64> =
        [("mainnet_block_169482.raw", 169482), ("mainnet_block_227835.raw", 227835)].into();
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if !name.starts_with("mainnet_block_") || !name.ends_with(".raw") {
            continue;
        }
        let expected_height: u64 = name["mainnet_block_".len()..name.len() - 4].parse().unwrap();
        let opts = hint(hints.get(name.as_str()).copied().unwrap_or(u64::MAX));
        let (blocks, summary) = read_all(&path, &opts);
        assert_eq!(summary.format, "raw-block");
        assert_eq!(height(&blocks[0]), expected_height, "{name}");
        let decoded: bitcoin::Block =
            bitcoin::consensus::deserialize(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(blocks[0].utxo_txs.len(), decoded.txdata.len());
        for (ours, theirs) in blocks[0].utxo_txs.iter().zip(&decoded.txdata) {
            assert_eq!(ours.txid, Hash32::from_wire_order(theirs.compute_txid().to_byte_array()));
            assert_eq!(ours.outputs.len(), theirs.output.len());
            assert_eq!(ours.inputs.len(), theirs.input.len());
        }
        seen += 1;
    }
    assert_eq!(seen, 10);
}

#[test]
fn segwit_block_702861_has_bech32_outputs() {
    let Some(dir) = raw_dir() else { return };
    let (blocks, _) = read_all(&dir.join("mainnet_block_702861.raw"), &BitcoinOptions::default());
    let b = &blocks[0];
    assert_eq!(height(b), 702861);
    assert_eq!(b.utxo_txs.len(), 2500);
    let bech32 = b
        .utxo_txs
        .iter()
        .flat_map(|t| &t.outputs)
        .filter(|o| o.address.to_string().starts_with("bc1"))
        .count();
    assert!(bech32 > 100, "{bech32}");
}

#[test]
fn megatx_is_not_a_block() {
    let Some(dir) = raw_dir() else { return };
    let name = "mainnet_tx_bb41a757f405890fb0f5856228e23b715702d714d59bf2b1feb70d8b2b4e3e08.bin";
    let err = try_read(&dir.join(name), &BitcoinOptions::default()).unwrap_err().to_string();
    assert!(err.contains(name), "{err}");
    assert!(err.contains("not a block") && err.contains("raw transaction"), "{err}");
    assert!(
        err.contains("bb41a757f405890fb0f5856228e23b715702d714d59bf2b1feb70d8b2b4e3e08"),
        "{err}"
    );
}

#[test]
fn pre_bip34_block_without_hint_is_an_error_naming_the_file() {
    let Some(dir) = raw_dir() else { return };
    let err = try_read(&dir.join("mainnet_block_169482.raw"), &BitcoinOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("mainnet_block_169482.raw") && err.contains("height"), "{err}");
}

#[test]
fn truncated_blk_file_names_file_frame_offset_and_missing_bytes() {
    let Some(dir) = raw_dir() else { return };
    let bytes = std::fs::read(dir.join("mainnet_blocks_0-438.blk.dat")).unwrap();
    // Find the frame that straddles the midpoint, so the cut lands inside a block.
    let cut = bytes.len() / 2;
    let mut frame = 0usize;
    loop {
        let len = u32::from_le_bytes(bytes[frame + 4..frame + 8].try_into().unwrap()) as usize;
        if frame + 8 + len > cut {
            let missing = frame + 8 + len - cut;
            let tmp = scratch("trunc");
            let path = tmp.join("blk00000.dat");
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let err = try_read(&path, &BitcoinOptions::default()).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(&path.display().to_string()), "{msg}");
            assert!(msg.contains(&format!("byte offset {frame}")), "{msg}");
            assert!(
                msg.contains("truncated") && msg.contains(&format!("{missing} missing")),
                "{msg}"
            );
            std::fs::remove_dir_all(tmp).unwrap();
            return;
        }
        frame += 8 + len;
    }
}

#[test]
fn wrong_magic_names_file_offset_and_bytes_seen() {
    let Some(dir) = raw_dir() else { return };
    let mut bytes = std::fs::read(dir.join("mainnet_blocks_0-438.blk.dat")).unwrap();
    let second = 8 + u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    bytes[second..second + 4].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    let tmp = scratch("magic");
    let path = tmp.join("bad-magic.dat");
    std::fs::write(&path, &bytes).unwrap();
    let msg = try_read(&path, &BitcoinOptions::default()).unwrap_err().to_string();
    assert!(msg.contains("bad-magic.dat"), "{msg}");
    assert!(msg.contains(&format!("byte offset {second}")), "{msg}");
    assert!(msg.contains("deadbeef") && msg.contains("f9beb4d9"), "{msg}");
    std::fs::remove_dir_all(tmp).unwrap();
}

#[test]
fn malformed_json_names_file_and_line() {
    let tmp = scratch("badjson");
    let path = tmp.join("getblock.json");
    std::fs::write(&path, "{\n  \"hash\": \"00\",\n  \"tx\": [\n}\n").unwrap();
    let msg = try_read(&path, &BitcoinOptions::default()).unwrap_err().to_string();
    assert!(
        msg.contains("getblock.json") && msg.contains("line 4") && msg.contains("malformed json"),
        "{msg}"
    );

    // Well-formed JSON with a bad field names the field.
    std::fs::write(
        &path,
        r#"{"hash":"000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f","height":0,
            "tx":[{"txid":"4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b",
            "vin":[{"coinbase":"00"}],"vout":[{"n":0,"value":50.0,"scriptPubKey":{"hex":"zz"}}]}]}"#,
    )
    .unwrap();
    let msg = try_read(&path, &BitcoinOptions::default()).unwrap_err().to_string();
    assert!(
        msg.contains("getblock.json") && msg.contains("tx[0].vout[0].scriptPubKey.hex"),
        "{msg}"
    );
    assert!(msg.contains("not hex"), "{msg}");
    std::fs::remove_dir_all(tmp).unwrap();
}

#[test]
fn empty_and_garbage_files_are_clear_errors() {
    let tmp = scratch("garbage");
    let empty = tmp.join("empty.dat");
    std::fs::write(&empty, b"").unwrap();
    let msg = try_read(&empty, &BitcoinOptions::default()).unwrap_err().to_string();
    assert!(msg.contains("empty.dat") && msg.contains("empty file"), "{msg}");
    let garbage = tmp.join("garbage.bin");
    std::fs::write(&garbage, [0x01, 0x00, 0x00, 0x00, 0xff, 0xfe]).unwrap();
    let msg = try_read(&garbage, &BitcoinOptions::default()).unwrap_err().to_string();
    assert!(msg.contains("garbage.bin") && msg.contains("byte offset"), "{msg}");
    std::fs::remove_dir_all(tmp).unwrap();
}

#[test]
fn raw_block_as_hex_text_reads_like_binary() {
    let Some(dir) = raw_dir() else { return };
    let raw = std::fs::read(dir.join("mainnet_block_227836.raw")).unwrap();
    let tmp = scratch("hex");
    let path = tmp.join("block.hex");
    std::fs::write(&path, format!("{}\n", hex::encode(&raw))).unwrap();
    let (from_hex, summary) = read_all(&path, &BitcoinOptions::default());
    let (from_raw, _) = read_all(&dir.join("mainnet_block_227836.raw"), &BitcoinOptions::default());
    assert_eq!(summary.format, "raw-block-hex");
    assert_eq!(from_hex, from_raw);
    // And as a JSON-RPC `getblock <hash> 0` response.
    std::fs::write(
        &path,
        format!("{{\"result\":\"{}\",\"error\":null,\"id\":\"x\"}}", hex::encode(&raw)),
    )
    .unwrap();
    let (from_rpc, _) = read_all(&path, &BitcoinOptions::default());
    assert_eq!(from_rpc, from_raw);
    std::fs::remove_dir_all(tmp).unwrap();
}

#[test]
fn nonstandard_outputs_still_get_an_address() {
    let Some(dir) = raw_dir() else { return };
    // Every output of every block maps to some address (P2PK, bare multisig, OP_RETURN too).
    let (blocks, _) = read_all(&dir.join("mainnet_block_383616.raw"), &BitcoinOptions::default());
    let nonstandard = blocks[0]
        .utxo_txs
        .iter()
        .flat_map(|t| &t.outputs)
        .filter(|o| matches!(&o.address, Address::Bitcoin(a) if !a.is_standard()))
        .count();
    let total: usize = blocks[0].utxo_txs.iter().map(|t| t.outputs.len()).sum();
    assert!(total > 0 && nonstandard < total);
    let _ = BtcAddress::parse; // the canonical form re-parses (checked in types' tests)
}

#[test]
fn corrupted_inputs_error_and_never_panic() {
    let Some(dir) = raw_dir() else { return };
    let blk = std::fs::read(dir.join("mainnet_blocks_0-438.blk.dat")).unwrap();
    let raw = std::fs::read(dir.join("mainnet_block_227836.raw")).unwrap();
    let json = std::fs::read(dir.parent().unwrap().join(
        "bitcoin-etl-getblock-json/block_with_transactions/rpc_response_getblock_000000001c920d495e1eeef2452b6d1c6c229a919b28196c103ecffebabee141_2.json",
    ))
    .unwrap();
    // A fixed LCG keeps the corruptions deterministic without a rand dependency.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: usize| {
        state =
            state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize % n
    };
    let opts = BitcoinOptions { height_hint: Some(1), ..BitcoinOptions::default() };
    let mut errors = 0;
    for round in 0..300 {
        let base = match round % 3 {
            0 => &blk,
            1 => &raw,
            _ => &json,
        };
        let mut bytes = base.clone();
        match next(3) {
            0 => bytes.truncate(next(bytes.len())),
            1 => {
                for _ in 0..1 + next(8) {
                    let i = next(bytes.len());
                    bytes[i] ^= 1 << next(8);
                }
            }
            _ => {
                let i = next(bytes.len());
                let n = next(64).min(bytes.len() - i);
                bytes.drain(i..i + n);
            }
        }
        let mut sink = |_b: ChainBlock, _done: u64| Ok(());
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            floodgate_ingest::bitcoin::read_slice(
                Path::new("mutated.dat"),
                &bytes,
                &opts,
                &mut sink,
            )
        }));
        match result {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                assert!(e.to_string().contains("mutated.dat"), "{e}");
                errors += 1;
            }
            Err(_) => panic!("round {round}: the reader panicked on corrupted input"),
        }
    }
    assert!(errors > 100, "only {errors} of 300 corruptions were reported");
}

#[test]
fn getblock_verbosity_3_prevouts_resolve_inputs() {
    let Some(dir) = floodgate_testdata::dir("bitcoin/bitcoin-etl-getblock-json/stream_50001_50002")
    else {
        return;
    };
    // Turn block 50001 into a verbosity-3 response: each input carries its spent output,
    // taken from the real `getrawtransaction` responses of the funding transactions.
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
    };
    let mut block = read(
        "rpc_response_getblock_000000001c920d495e1eeef2452b6d1c6c229a919b28196c103ecffebabee141_2.json",
    );
    let mut expected = Vec::new();
    for tx in block["tx"].as_array_mut().unwrap() {
        for vin in tx["vin"].as_array_mut().unwrap() {
            let Some(txid) = vin["txid"].as_str().map(str::to_owned) else { continue };
            let funding = read(&format!("rpc_response_getrawtransaction_{txid}.json"));
            let out = funding["vout"][vin["vout"].as_u64().unwrap() as usize].clone();
            expected.push((
                out["scriptPubKey"]["addresses"][0].as_str().unwrap().to_owned(),
                out["value"].clone(),
            ));
            vin["prevout"] = serde_json::json!({
                "generated": true, "height": 0, "value": out["value"], "scriptPubKey": out["scriptPubKey"],
            });
        }
    }
    assert_eq!(expected.len(), 3);
    let tmp = scratch("v3");
    let path = tmp.join("getblock3.json");
    std::fs::write(&path, serde_json::to_string_pretty(&block).unwrap()).unwrap();
    let (blocks, _) = read_all(&path, &BitcoinOptions::default());
    let resolved: Vec<_> =
        blocks[0].utxo_txs.iter().flat_map(|t| &t.inputs).filter(|i| i.prevout.is_some()).collect();
    assert_eq!(resolved.len(), 3);
    for (input, (address, value)) in resolved.iter().zip(&expected) {
        assert_eq!(input.address, Some(btc(address)));
        // Test-side only: the fixture values are whole coins, exact in f64.
        let sats = (value.as_f64().unwrap() * 1e8).round() as u64;
        assert_eq!(input.value, Some(Amount::from(sats)));
    }
    std::fs::remove_dir_all(tmp).unwrap();
}

/// The frames of a blk file, as byte ranges.
fn frames(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        out.push(at..at + 8 + len);
        at += 8 + len;
    }
    out
}

#[test]
fn out_of_order_blk_frames_are_emitted_parent_first() {
    let Some(dir) = raw_dir() else { return };
    let bytes = std::fs::read(dir.join("mainnet_blocks_0-438.blk.dat")).unwrap();
    let f = frames(&bytes);
    assert_eq!(f.len(), 439);
    // Blocks 100..110 arrive after 110..=200, as Core's parallel download can store them.
    let order: Vec<usize> = (0..100).chain(110..=200).chain(100..110).chain(201..439).collect();
    let mut shuffled = Vec::new();
    for i in &order {
        shuffled.extend_from_slice(&bytes[f[*i].clone()]);
    }
    let tmp = scratch("order");
    std::fs::write(tmp.join("blk00001.dat"), &shuffled).unwrap();
    let (blocks, summary) = read_all(&tmp.join("blk00001.dat"), &BitcoinOptions::default());
    assert_eq!(summary.blocks, 439);
    let mut seen = std::collections::HashSet::new();
    for b in &blocks {
        let h = b.header.as_ref().unwrap();
        if let Some(p) = h.parent {
            assert!(seen.contains(&p), "block {} came before its parent", h.height);
        }
        seen.insert(h.hash);
    }
    let (in_order, _) =
        read_all(&dir.join("mainnet_blocks_0-438.blk.dat"), &BitcoinOptions::default());
    let key = |v: &[ChainBlock]| {
        let mut k: Vec<(u64, Hash32)> =
            v.iter().map(|b| (height(b), b.header.as_ref().unwrap().hash)).collect();
        k.sort();
        k
    };
    assert_eq!(key(&blocks), key(&in_order));

    // Without block 5, blocks 6.. have neither a parent nor a BIP34 height.
    let mut gap = Vec::new();
    for (i, r) in f.iter().enumerate() {
        if i != 5 {
            gap.extend_from_slice(&bytes[r.clone()]);
        }
    }
    std::fs::write(tmp.join("gap.dat"), &gap).unwrap();
    let msg = try_read(&tmp.join("gap.dat"), &BitcoinOptions::default()).unwrap_err().to_string();
    let block6_at = f[6].start - f[5].len();
    assert!(msg.contains("gap.dat") && msg.contains(&format!("byte offset {block6_at}")), "{msg}");
    assert!(msg.contains("height"), "{msg}");
    std::fs::remove_dir_all(tmp).unwrap();
}

/// Everything a user can read back from a store, as text: every transfer row and the counts.
fn store_snapshot(store: &floodgate_store::Store) -> String {
    let rows = store.transfers(&floodgate_store::TransferFilter::default()).unwrap();
    format!("{rows:?}\n{:?}", store.stats().unwrap())
}

/// Issue 9 item 2: a single flipped bit anywhere in a real block (header or transactions,
/// witnesses included) is refused, naming the block and the failed check, and the store is
/// left exactly as it was; the good block then ingests normally (no phantom transaction).
#[test]
fn issue_9_every_flipped_bit_in_a_real_block_is_refused_and_the_store_is_unchanged() {
    let Some(dir) = raw_dir() else { return };
    let scratch_dir = scratch("bitflip");
    let mut store = floodgate_store::Store::open(&scratch_dir.join("data")).unwrap();
    let ingest = |store: &mut floodgate_store::Store, path: &Path, opts: &BitcoinOptions| {
        let mut sink = |b: ChainBlock, _done: u64| {
            store.apply_block(&b)?;
            Ok(())
        };
        read_path(path, opts, &mut sink)
    };
    ingest(&mut store, &dir.join("mainnet_block_227835.raw"), &hint(227_835)).unwrap();
    let before = store_snapshot(&store);

    let mut refused = 0;
    // A legacy block and a segwit one (whose witnesses only the witness commitment covers).
    for name in ["mainnet_block_227836.raw", "mainnet_block_702861.raw"] {
        let good = std::fs::read(dir.join(name)).unwrap();
        // Six header fields, then bytes spread evenly over the transactions.
        let mut spots: Vec<(usize, u8)> =
            vec![(1, 0), (10, 3), (40, 5), (70, 1), (74, 2), (78, 7), (72, 6)];
        let body = good.len() - 81;
        spots.extend((0..8).map(|k| (81 + body * (2 * k + 1) / 16, (k % 8) as u8)));
        for (at, bit) in spots {
            let mut bad = good.clone();
            bad[at] ^= 1 << bit;
            let path = scratch_dir.join(format!("flip-{at}-{bit}-{name}"));
            std::fs::write(&path, &bad).unwrap();
            let err = ingest(&mut store, &path, &BitcoinOptions::default())
                .expect_err(&format!("{name}: bit {bit} of byte {at} flipped was accepted"));
            let msg = err.to_string();
            assert!(msg.contains(&path.display().to_string()), "{msg}");
            // Either the bytes no longer decode, or a named check fails on a named block.
            assert!(
                msg.contains("fails the") && msg.contains("block ")
                    || msg.contains("not a valid serialized block")
                    || msg.contains("trailing bytes"),
                "{msg}"
            );
            assert_eq!(
                store_snapshot(&store),
                before,
                "{name} flip at {at}.{bit} changed the store"
            );
            refused += 1;
        }
    }
    assert!(refused >= 20, "{refused}");

    // The good block still ingests, and spends 16 outputs of block 227835.
    let mut resolved = 0;
    let mut sink = |b: ChainBlock, _done: u64| {
        resolved += store.apply_block(&b)?.inputs_resolved_from_store;
        Ok(())
    };
    read_path(&dir.join("mainnet_block_227836.raw"), &BitcoinOptions::default(), &mut sink)
        .unwrap();
    assert_eq!(resolved, 16);
    let _ = std::fs::remove_dir_all(&scratch_dir);
}

/// The checks a flip can hit, each named in the message.
#[test]
fn issue_9_failed_checks_are_named() {
    let Some(dir) = raw_dir() else { return };
    let good = std::fs::read(dir.join("mainnet_block_702861.raw")).unwrap();
    let check = |at: usize, bit: u8| {
        let mut bad = good.clone();
        bad[at] ^= 1 << bit;
        let mut sink = |_b: ChainBlock, _done: u64| Ok(());
        floodgate_ingest::bitcoin::read_slice(
            Path::new("flipped.raw"),
            &bad,
            &BitcoinOptions::default(),
            &mut sink,
        )
        .unwrap_err()
        .to_string()
    };
    // The nonce: the header no longer meets its target.
    assert!(check(78, 0).contains("fails the proof-of-work check"), "{}", check(78, 0));
    // nBits' exponent 0x17 made 0x1f: an easier target than mainnet allows.
    let e = check(75, 3);
    assert!(e.contains("fails the nBits check") && e.contains("mainnet"), "{e}");
}
