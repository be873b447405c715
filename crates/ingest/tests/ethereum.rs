//! Real-data tests of the Ethereum readers against ethereum-etl's recorded outputs
//! (`/work/shared/data/ethereum`, provenance in its `SOURCES.md` §3).

// Test helpers panic on purpose: a panic is how a test reports a failure (STYLE.md §3).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use floodgate_ingest::ethereum::{self, TokenMethod};
use floodgate_ingest::{FileSummary, IngestError};
use floodgate_types::{
    Address, AssetRegistry, Chain, ChainBlock, Transfer, TransferIndex, TransferKind,
};

fn read(paths: &[PathBuf]) -> (Vec<ChainBlock>, FileSummary) {
    let mut blocks = Vec::new();
    let mut sink = |b: ChainBlock, _: u64| {
        blocks.push(b);
        Ok(())
    };
    let summary = ethereum::read_paths(paths, &AssetRegistry::builtin(), &mut sink).unwrap();
    (blocks, summary)
}

fn transfers(paths: &[PathBuf]) -> Vec<Transfer> {
    read(paths).0.into_iter().flat_map(|b| b.transfers).collect()
}

fn lower(a: &Address) -> String {
    a.to_string().to_lowercase()
}

/// The token contract of an asset id, lowercase.
fn contract(asset: &floodgate_types::AssetId) -> String {
    let reg = AssetRegistry::builtin();
    match reg.get(asset).and_then(|a| a.contract.clone()) {
        Some(c) => lower(&c),
        None => {
            asset.as_str().strip_prefix("erc20:").expect("unregistered token id").to_lowercase()
        }
    }
}

/// A token transfer as ethereum-etl prints it.
type EtlRow = (String, String, String, String, String, u32, u64);

fn etl_row(t: &Transfer) -> EtlRow {
    let TransferIndex::Log(i) = t.index else { panic!("token transfer without log index: {t:?}") };
    (
        contract(&t.asset),
        lower(&t.from),
        lower(&t.to),
        t.amount.to_string(),
        t.txid.to_hex_prefixed(),
        i,
        t.height,
    )
}

/// The raw text of a JSON number field, so that 30-digit values keep every digit.
fn raw_field(line: &str, key: &str) -> String {
    let pat = format!("\"{key}\": ");
    let start = line.find(&pat).unwrap_or_else(|| panic!("no {key} in {line}")) + pat.len();
    line[start..]
        .chars()
        .take_while(|c| *c != ',' && *c != '}')
        .collect::<String>()
        .trim_matches('"')
        .to_owned()
}

fn etl_json_rows(path: &Path) -> Vec<EtlRow> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            (
                raw_field(l, "token_address"),
                raw_field(l, "from_address"),
                raw_field(l, "to_address"),
                raw_field(l, "value"),
                raw_field(l, "transaction_hash"),
                raw_field(l, "log_index").parse().unwrap(),
                raw_field(l, "block_number").parse().unwrap(),
            )
        })
        .collect()
}

fn tokens(ts: &[Transfer]) -> Vec<EtlRow> {
    ts.iter().filter(|t| t.kind == TransferKind::Token).map(etl_row).collect()
}

const USDT: &str = "0xdac17f958d2ee523a2206206994597c13d831ec7";

#[test]
fn filter_logs_match_ethereum_etl_token_transfers_csv() {
    let Some(dir) = floodgate_testdata::dir(
        "ethereum/ethereum-etl-fixtures/test_export_token_transfers_job/block_with_transfers",
    ) else {
        return;
    };
    let ts = transfers(&[dir.join("web3_response.eth_getFilterLogs_0x0.json")]);
    let mut expected = Vec::new();
    for r in csv::Reader::from_path(dir.join("expected_token_transfers.csv")).unwrap().records() {
        let r = r.unwrap();
        expected.push((
            r[0].to_owned(),
            r[1].to_owned(),
            r[2].to_owned(),
            r[3].to_owned(),
            r[4].to_owned(),
            r[5].parse().unwrap(),
            r[6].parse().unwrap(),
        ));
    }
    assert_eq!(tokens(&ts), expected);
    assert!(
        ts.iter().all(|t| t.block_hash.is_some() && t.time.is_none()),
        "logs give the hash, not the time"
    );
}

#[test]
fn receipts_and_logs_match_ethereum_etl_stream_1755634() {
    let Some(dir) = floodgate_testdata::dir(
        "ethereum/ethereum-etl-fixtures/test_stream/blocks_1755634_1755635",
    ) else {
        return;
    };
    let expected = etl_json_rows(&dir.join("expected_token_transfers.json"));
    assert_eq!(expected.len(), 1);
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.contains("eth_getTransactionReceipt") || n.contains("_true.json")
        })
        .collect();
    inputs.sort();
    let (blocks, summary) = read(&inputs);
    assert_eq!(summary.format, "mixed");
    assert_eq!(
        blocks.iter().map(|b| b.header.as_ref().unwrap().height).collect::<Vec<_>>(),
        [1755634, 1755635]
    );
    let ts: Vec<Transfer> = blocks.into_iter().flat_map(|b| b.transfers).collect();
    assert_eq!(tokens(&ts), expected);
    // The block also gives the header time and the plain ether payment of tx 0x9a54….
    assert!(ts.iter().all(|t| t.time == Some(floodgate_types::Timestamp(1466669562))));
    let native: Vec<_> = ts.iter().filter(|t| t.kind == TransferKind::Native).collect();
    assert_eq!(native.len(), 1);
    assert!(native[0].txid.to_hex().starts_with("9a5437ec"));

    // The same transfer from ethereum-etl's own log export (JSON Lines).
    assert_eq!(tokens(&transfers(&[dir.join("expected_logs.json")])), expected);
}

#[test]
fn modern_logs_match_ethereum_etl_17173049_except_erc721() {
    let Some(dir) = floodgate_testdata::dir(
        "ethereum/ethereum-etl-fixtures/test_stream/blocks_17173049_17173050",
    ) else {
        return;
    };
    let (blocks, summary) = read(&[dir.join("expected_logs.json")]);
    assert_eq!(summary.format, "eth-jsonl");
    assert_eq!(blocks.len(), 2);
    let ours = tokens(&blocks.into_iter().flat_map(|b| b.transfers).collect::<Vec<_>>());
    let expected = etl_json_rows(&dir.join("expected_token_transfers.json"));
    assert_eq!(expected.len(), 291);
    // ethereum-etl also lists ERC-721 transfers (4 topics, token id as value); floodgate does
    // not, because a token id is not an amount. Everything else must agree field by field.
    let erc721: BTreeSet<(String, u32)> = std::fs::read_to_string(dir.join("expected_logs.json"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| {
            let topics = l["topics"].as_array().unwrap();
            topics.len() == 4 && topics[0] == ethereum::TRANSFER_TOPIC
        })
        .map(|l| {
            (
                l["transaction_hash"].as_str().unwrap().to_owned(),
                l["log_index"].as_u64().unwrap() as u32,
            )
        })
        .collect();
    assert_eq!(erc721.len(), 9);
    let (nft, fungible): (Vec<EtlRow>, Vec<EtlRow>) =
        expected.into_iter().partition(|r| erc721.contains(&(r.4.clone(), r.5)));
    assert_eq!(nft.len(), 9);
    assert_eq!(ours, fungible);
    assert_eq!(ours.len(), 282);
    assert_eq!(ours.iter().filter(|r| r.0 == USDT).count(), 41);
    // The raw transactions file and its receipt_status: every transfer of a failed tx is gone.
    let all = transfers(&[dir.join("expected_transactions.json"), dir.join("expected_logs.json")]);
    assert_eq!(tokens(&all).len(), 282);
    assert!(all.iter().any(|t| t.kind == TransferKind::Native));
}

#[test]
fn usdt_transfer_calls_in_block_19932148() {
    let Some(path) = floodgate_testdata::file(
        "ethereum/pevm-mainnet-blocks/eth_getBlockByNumber_19932148_full.json",
    ) else {
        return;
    };
    let usdt = Address::parse(Chain::Ethereum, USDT).unwrap();
    let calls: Vec<_> = ethereum::token_transfer_calls(&path)
        .unwrap()
        .into_iter()
        .filter(|c| c.contract == usdt)
        .collect();
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    // SOURCES.md counts 43 direct calls to USDT: 31 transfer, 11 transferFrom and 1 approve.
    let direct = doc["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["to"].as_str().is_some_and(|to| to.eq_ignore_ascii_case(USDT)))
        .count();
    assert_eq!(direct, 43);
    assert_eq!(calls.len(), 42);
    assert_eq!(calls.iter().filter(|c| c.method == TokenMethod::Transfer).count(), 31);
    assert_eq!(calls.iter().filter(|c| c.method == TokenMethod::TransferFrom).count(), 11);
    // Spot-check the first against the calldata, sliced independently of the decoder.
    let tx = &doc["transactions"][calls[0].tx_position as usize];
    assert_eq!(tx["hash"].as_str().unwrap(), calls[0].txid.to_hex_prefixed());
    let input = tx["input"].as_str().unwrap();
    assert_eq!(calls[0].method, TokenMethod::Transfer);
    assert_eq!(&input[..10], "0xa9059cbb");
    assert_eq!(lower(&calls[0].to), format!("0x{}", &input[34..74]));
    assert_eq!(
        calls[0].amount.to_u128().unwrap(),
        u128::from_str_radix(&input[74..138], 16).unwrap()
    );
    assert_eq!(lower(&calls[0].from), tx["from"].as_str().unwrap().to_lowercase());
    // Calls are evidence only: the block alone yields native transfers, never token ones.
    let ts = transfers(&[path]);
    assert!(ts.iter().all(|t| t.kind == TransferKind::Native && t.index == TransferIndex::Tx));
}

#[test]
fn every_pevm_block_parses_with_native_transfers() {
    let Some(dir) = floodgate_testdata::dir("ethereum/pevm-mainnet-blocks") else { return };
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        let (blocks, summary) = read(std::slice::from_ref(&path));
        assert_eq!(summary.format, "eth-block-json", "{}", path.display());
        let h = blocks[0].header.as_ref().unwrap();
        assert!(h.parent.is_some() && h.time.is_some());
        assert!(!blocks[0].transfers.is_empty(), "{}", path.display());
    }
}

/// Internal transfers ethereum-etl's `expected_traces.csv` implies: value > 0, not failed,
/// non-root, and a value-moving type (`call` with call_type `call`, `create`, `suicide`).
fn csv_internal(path: &Path) -> Vec<(String, String, Vec<u32>, String, String, String)> {
    let mut out = Vec::new();
    for r in csv::Reader::from_path(path)
        .unwrap()
        .deserialize::<std::collections::HashMap<String, String>>()
    {
        let r = r.unwrap();
        let moves = match r["trace_type"].as_str() {
            "call" => r["call_type"] == "call",
            "create" | "suicide" => true,
            _ => false,
        };
        let ok = r["status"] == "1" || (r["status"].is_empty() && r["error"].is_empty());
        if !moves
            || !ok
            || r["trace_address"].is_empty()
            || r["value"].is_empty()
            || r["value"] == "0"
        {
            continue;
        }
        let addr = r["trace_address"].split(',').map(|p| p.parse().unwrap()).collect();
        out.push((
            r["transaction_hash"].clone(),
            r["transaction_index"].clone(),
            addr,
            r["from_address"].clone(),
            r["to_address"].clone(),
            r["value"].clone(),
        ));
    }
    out
}

const TRACE_BLOCKS: [&str; 5] = [
    "block_with_create",
    "block_with_error",
    "block_with_subtraces",
    "block_with_suicide",
    "block_without_transactions",
];

#[test]
fn parity_traces_match_ethereum_etl_expected_traces() {
    let Some(root) =
        floodgate_testdata::dir("ethereum/ethereum-etl-fixtures/test_export_traces_job")
    else {
        return;
    };
    let mut total = 0;
    for b in TRACE_BLOCKS {
        let dir = root.join(b);
        let file = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().contains("trace_block"))
            .unwrap();
        let ts = transfers(&[file]);
        assert!(
            ts.iter().all(|t| t.kind == TransferKind::Internal),
            "{b}: a trace file yields only internal transfers"
        );
        let ours: Vec<_> = ts
            .iter()
            .map(|t| {
                let TransferIndex::Trace(a) = &t.index else { panic!("{t:?}") };
                (
                    t.txid.to_hex_prefixed(),
                    t.tx_position.unwrap().to_string(),
                    a.clone(),
                    lower(&t.from),
                    lower(&t.to),
                    t.amount.to_string(),
                )
            })
            .collect();
        assert_eq!(ours, csv_internal(&dir.join("expected_traces.csv")), "{b}");
        total += ours.len();
    }
    // Only the self-destruct moves value internally here (the callcode in block_with_subtraces
    // is a self-transfer and moves nothing).
    assert_eq!(total, 1);
}

#[test]
fn parity_and_geth_traces_agree() {
    let Some(root) = floodgate_testdata::dir("ethereum/ethereum-etl-fixtures") else { return };
    for b in TRACE_BLOCKS {
        let find = |job: &str, needle: &str| {
            std::fs::read_dir(root.join(job).join(b))
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.file_name().unwrap().to_string_lossy().contains(needle))
                .unwrap()
        };
        let key = |t: &ethereum::InternalTransfer| {
            (t.tx_position, t.trace_address.clone(), t.from.clone(), t.to.clone(), t.amount, t.call)
        };
        let parity: Vec<_> =
            ethereum::internal_transfers(&find("test_export_traces_job", "trace_block"))
                .unwrap()
                .iter()
                .map(key)
                .collect();
        let geth_rpc: Vec<_> =
            ethereum::internal_transfers(&find("test_extract_geth_traces_job", "debug_trace"))
                .unwrap()
                .iter()
                .map(key)
                .collect();
        let geth_etl =
            ethereum::internal_transfers(&find("test_extract_geth_traces_job", "geth_traces.json"))
                .unwrap();
        assert!(geth_etl.iter().all(|t| t.height.is_some() && t.txid.is_none()));
        let geth_etl: Vec<_> = geth_etl.iter().map(key).collect();
        assert_eq!(geth_rpc, geth_etl, "{b}: raw geth and ethereum-etl's copy");
        if b == "block_with_suicide" {
            // This geth version reports SELFDESTRUCT without address, beneficiary or value.
            assert_eq!(parity.len(), 1);
            assert!(geth_rpc.is_empty());
        } else {
            assert_eq!(parity, geth_rpc, "{b}");
        }
    }
}

#[test]
fn graphsense_block_18000011() {
    let Some(dir) = floodgate_testdata::dir("ethereum/graphsense-block-18000011") else { return };
    let files: Vec<PathBuf> = ["blocks.jsonl", "transactions.jsonl", "logs.jsonl", "traces.jsonl"]
        .iter()
        .map(|f| dir.join(f))
        .collect();
    let (blocks, _) = read(&files);
    assert_eq!(blocks.len(), 1);
    let h = blocks[0].header.as_ref().unwrap();
    assert_eq!((h.height, h.time.unwrap().0), (18000011, 1693067027));
    assert!(h.parent.is_some());
    let ts = &blocks[0].transfers;
    let count = |k| ts.iter().filter(|t| t.kind == k).count();
    assert_eq!(count(TransferKind::Native), 53, "6 more txs with value failed");
    assert_eq!(count(TransferKind::Token), 127);
    assert_eq!(ts.iter().filter(|t| t.asset.as_str() == "USDT-ERC20").count(), 13);
    assert_eq!(count(TransferKind::Internal), 63);
    let failed: BTreeSet<String> = std::fs::read_to_string(dir.join("transactions.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|t| t["receipt_status"] == 0)
        .map(|t| t["tx_hash"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(failed.len(), 7);
    assert!(
        ts.iter().all(|t| !failed.contains(&t.txid.to_hex_prefixed())),
        "failed txs move nothing"
    );
    assert!(ts.iter().all(|t| t.time.is_some() && t.tx_position.is_some()));
    // One file at a time gives the same transfers, since GraphSense marks failures per row.
    let one_by_one: usize = files.iter().map(|f| transfers(std::slice::from_ref(f)).len()).sum();
    assert_eq!(one_by_one, ts.len());
}

/// Issue 15: `floodgate transfers` (and the graph build, which reads the store's export)
/// listed a transaction's internal calls by a number that mixed depths (`trace:6` before
/// `trace:0.1.6`, `trace:1` tied with `trace:0.1`) — neither execution nor storage order.
/// They come in execution order now: the call tree in pre-order, which is trace addresses
/// compared element by element. Real data: mainnet block 18000011 (GraphSense), whose
/// transaction 0x6f456c16… makes value-moving calls at 0.1.5.0, 0.1.6, 0.2, 5.0 and 6.
#[test]
fn internal_calls_are_listed_and_exported_in_execution_order() {
    use floodgate_store::{Store, TransferFilter};
    let Some(dir) = floodgate_testdata::dir("ethereum/graphsense-block-18000011") else { return };
    let files: Vec<PathBuf> = ["blocks.jsonl", "transactions.jsonl", "logs.jsonl", "traces.jsonl"]
        .iter()
        .map(|f| dir.join(f))
        .collect();
    let (blocks, _) = read(&files);
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(tmp.path()).unwrap();
    store.apply_blocks(&blocks).unwrap();
    let rows = store
        .transfers(&TransferFilter { chain: Some(Chain::Ethereum), ..TransferFilter::default() })
        .unwrap();
    let tx = "0x6f456c16e98b351e7d484e924311235d997a79da1a89f7fefc93e9c2fb970131";
    let internal: Vec<&str> = rows
        .iter()
        .filter(|r| r.txid == tx && r.index.starts_with("trace:"))
        .map(|r| r.index.as_str())
        .collect();
    assert_eq!(
        internal,
        ["trace:0.1.5.0", "trace:0.1.6", "trace:0.2", "trace:5.0", "trace:6"],
        "execution (pre-)order of the call tree"
    );
    // Every transaction of the block: its value, then its logs by index, then its calls in
    // execution order.
    let path = |i: &str| -> (u8, Vec<u32>) {
        match TransferIndex::parse(i).unwrap() {
            TransferIndex::Tx => (0, vec![]),
            TransferIndex::Log(n) => (1, vec![n]),
            TransferIndex::Trace(p) => (2, p),
        }
    };
    let mut calls = 0;
    for w in rows.windows(2) {
        if w[0].txid == w[1].txid {
            assert!(path(&w[0].index) < path(&w[1].index), "{} then {}", w[0].index, w[1].index);
            calls += usize::from(w[1].index.starts_with("trace:"));
        }
    }
    assert!(calls > 20, "the block's internal calls were compared ({calls})");
    // The graph reads the store's export: the same transfers, in the same order.
    let mut exported = Vec::new();
    store
        .for_each_leg(Chain::Ethereum, None, |l| {
            exported.push((l.txid.to_hex_prefixed(), l.from, l.to, l.amount));
            Ok::<(), floodgate_store::StoreError>(())
        })
        .unwrap();
    let listed: Vec<_> = rows
        .iter()
        .map(|r| (r.txid.clone(), r.from.clone(), r.to.clone(), r.amount.unwrap()))
        .collect();
    assert_eq!(exported, listed);
}

/// A unique temp file; removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, content: &str) -> Self {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p =
            std::env::temp_dir().join(format!("floodgate-eth-{}-{n}-{name}", std::process::id()));
        std::fs::write(&p, content).unwrap();
        TempFile(p)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

const BLOCK: &str = r#"{"number":"0x10","hash":"0x1111111111111111111111111111111111111111111111111111111111111111",
 "parentHash":"0x2222222222222222222222222222222222222222222222222222222222222222","timestamp":"0x64",
 "transactions":[
  {"hash":"0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","from":"0x1b63142628311395ceafeea5667e7c9026c862ca","to":"0xac4df82fe37ea2187bc8c011a23d743b4f39019a","value":"0x5","transactionIndex":"0x0","input":"0x"},
  {"hash":"0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","from":"0x1b63142628311395ceafeea5667e7c9026c862ca","to":"0xac4df82fe37ea2187bc8c011a23d743b4f39019a","value":"0x7","transactionIndex":"0x1","input":"0x"},
  {"hash":"0xcccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc","from":"0x1b63142628311395ceafeea5667e7c9026c862ca","to":null,"value":"0x9","transactionIndex":"0x2","input":"0x60"}]}"#;

#[test]
fn receipts_and_root_trace_errors_fail_the_block_transactions() {
    let block = TempFile::new("block.json", BLOCK);
    let only_block = transfers(std::slice::from_ref(&block.0));
    // A block alone cannot tell failures; the creation has no known contract address.
    assert_eq!(only_block.iter().map(|t| t.amount.to_string()).collect::<Vec<_>>(), ["5", "7"]);
    let receipts = TempFile::new(
        "receipts.json",
        r#"{"jsonrpc":"2.0","id":1,"result":[
          {"transactionHash":"0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","transactionIndex":"0x0","blockNumber":"0x10","status":"0x0","logs":[]},
          {"transactionHash":"0xcccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc","transactionIndex":"0x2","blockNumber":"0x10","status":"0x1","contractAddress":"0x66f183060253cfbe45beff1e6e7ebbe318c81e56","logs":[]}]}"#,
    );
    let ts = transfers(&[block.0.clone(), receipts.0.clone()]);
    assert_eq!(ts.iter().map(|t| t.amount.to_string()).collect::<Vec<_>>(), ["7", "9"]);
    assert_eq!(lower(&ts[1].to), "0x66f183060253cfbe45beff1e6e7ebbe318c81e56");
    // geth traces name no tx: bound by position to the block; the errored root fails tx 1 and
    // its subcall, even though the subcall itself succeeded.
    let geth = TempFile::new(
        "geth.json",
        r#"[{"result":{"type":"CALL","from":"0x1b63142628311395ceafeea5667e7c9026c862ca","to":"0xac4df82fe37ea2187bc8c011a23d743b4f39019a","value":"0x5"}},
            {"result":{"type":"CALL","from":"0x1b63142628311395ceafeea5667e7c9026c862ca","to":"0xac4df82fe37ea2187bc8c011a23d743b4f39019a","value":"0x7","error":"execution reverted",
              "calls":[{"type":"CALL","from":"0xac4df82fe37ea2187bc8c011a23d743b4f39019a","to":"0x66f183060253cfbe45beff1e6e7ebbe318c81e56","value":"0x3"}]}},
            {"result":{"type":"CREATE","from":"0x1b63142628311395ceafeea5667e7c9026c862ca","to":"0x66f183060253cfbe45beff1e6e7ebbe318c81e56","value":"0x9",
              "calls":[{"type":"CALL","from":"0x66f183060253cfbe45beff1e6e7ebbe318c81e56","to":"0xac4df82fe37ea2187bc8c011a23d743b4f39019a","value":"0x2"},
                       {"type":"DELEGATECALL","from":"0x66f183060253cfbe45beff1e6e7ebbe318c81e56","to":"0xac4df82fe37ea2187bc8c011a23d743b4f39019a","value":"0x2"}]}}]"#,
    );
    let ts = transfers(&[block.0.clone(), geth.0.clone()]);
    let got: Vec<_> = ts.iter().map(|t| (t.index.to_string(), t.amount.to_string())).collect();
    assert_eq!(
        got,
        [("tx".into(), "5".into()), ("tx".into(), "9".into()), ("trace:0".into(), "2".into())]
    );
    assert_eq!(ts[2].txid.to_hex(), "c".repeat(64));
    // Without the block, geth output cannot be bound.
    let mut sink = |_: ChainBlock, _: u64| Ok(());
    let err = ethereum::read_path(&geth.0, &AssetRegistry::builtin(), &mut sink).unwrap_err();
    assert!(err.to_string().contains("pass it together with"), "{err}");
}

fn read_err(name: &str, content: &str) -> (String, IngestError) {
    let f = TempFile::new(name, content);
    let mut sink = |_: ChainBlock, _: u64| Ok(());
    let err = ethereum::read_path(&f.0, &AssetRegistry::builtin(), &mut sink).unwrap_err();
    (f.0.display().to_string(), err)
}

#[test]
fn malformed_json_names_file_and_line() {
    let (path, err) =
        read_err("bad.json", "{\"jsonrpc\": \"2.0\",\n \"result\": [\n {\"address\": }\n]}");
    let msg = err.to_string();
    assert!(msg.starts_with(&path), "{msg}");
    assert!(msg.contains("line 3") && msg.contains("malformed json"), "{msg}");
}

const LOG: &str = r#"{"address":"ADDR","topics":["0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef",
  "0x0000000000000000000000001b63142628311395ceafeea5667e7c9026c862ca","0x000000000000000000000000ac4df82fe37ea2187bc8c011a23d743b4f39019a"],
  "data":"DATA","blockNumber":"0x10","transactionHash":"0x04cbcb236043d8fb7839e07bbc7f5eed692fb2ca55d897f1101eac3e3ad4fab8","logIndex":"0x0"}"#;

#[test]
fn invalid_log_address_names_file_and_field() {
    let doc = format!(
        "[{}, {}]",
        LOG.replace("ADDR", USDT).replace("DATA", &format!("0x{}", "0".repeat(64))),
        LOG.replace("ADDR", "0x12345").replace("DATA", &format!("0x{}", "0".repeat(64)))
    );
    let (path, err) = read_err("badaddr.json", &doc);
    let msg = err.to_string();
    assert!(msg.starts_with(&path), "{msg}");
    assert!(msg.contains("field '[1].address'") && msg.contains("invalid address"), "{msg}");
}

#[test]
fn non_hex_value_names_file_line_and_field() {
    let good = r#"{"type": "transaction", "hash": "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "transaction_index": 0, "from_address": "0x1b63142628311395ceafeea5667e7c9026c862ca", "to_address": "0xac4df82fe37ea2187bc8c011a23d743b4f39019a", "value": "0x10", "block_number": 5}"#;
    let bad = good.replace("\"0x10\"", "\"0xzz\"");
    let (path, err) = read_err("badvalue.jsonl", &format!("{good}\n{bad}\n"));
    let msg = err.to_string();
    assert!(msg.starts_with(&path), "{msg}");
    assert!(msg.contains("line 2, field 'value'") && msg.contains("0xzz"), "{msg}");
    // And in a log's data word.
    let log = LOG.replace("ADDR", USDT).replace("DATA", "0xnothex");
    let (_, err) = read_err("baddata.json", &format!("[{log}]"));
    assert!(
        err.to_string().contains("field '[0].data'") && err.to_string().contains("not hex"),
        "{err}"
    );
}

#[test]
fn json_rpc_errors_and_unknown_json_are_reported() {
    let (_, err) = read_err(
        "rpcerr.json",
        r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"header not found"}}"#,
    );
    assert!(err.to_string().contains("header not found"), "{err}");
    let (_, err) = read_err("other.json", r#"{"hello": "world"}"#);
    assert!(matches!(err, IngestError::UnknownFormat { .. }), "{err}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Arbitrary bytes, and mutilated real rows, give an error or blocks: never a panic.
    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512), cut in 0usize..400) {
        let f = TempFile::new("garbage.bin", "");
        std::fs::write(&f.0, &bytes).unwrap();
        let mut sink = |_: ChainBlock, _: u64| Ok(());
        let _ = ethereum::read_path(&f.0, &AssetRegistry::builtin(), &mut sink);
        let _ = floodgate_ingest::tron::read_path(&f.0, &AssetRegistry::builtin(), &mut sink);
        let row = LOG.replace("ADDR", USDT).replace("DATA", &format!("0x{}", "0".repeat(64)));
        let cut = cut.min(row.len());
        if row.is_char_boundary(cut) {
            std::fs::write(&f.0, format!("[{}]", &row[..cut])).unwrap();
            let _ = ethereum::read_path(&f.0, &AssetRegistry::builtin(), &mut sink);
        }
    }
}
