//! The exposure index end to end (issue 15 item 2, issue 14 item 5): `trace build` writes it,
//! `trace exposure` answers from it (and says so), and `monitor --from-store` holds a deposit
//! whose source received sanctioned value two hops back, naming the fact, its value, the
//! threshold and the index; a stale or missing index is named in the decision.

// In tests a panic is the failure report; helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{floodgate, ok};

const S: &str = "0x1111111111111111111111111111111111111111"; // sanctioned
const A: &str = "0x2222222222222222222222222222222222222222"; // S pays A
const C: &str = "0x3333333333333333333333333333333333333333"; // clean
const B: &str = "0x4444444444444444444444444444444444444444"; // deposits; got 10 % from S, 2 hops
const D: &str = "0x5555555555555555555555555555555555555555"; // deposits; clean
const USDT: &str = "0xdac17f958d2ee523a2206206994597c13d831ec7";
const TOPIC: &str = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";

/// One USDT-ERC20 `Transfer` log row (the Ethereum logs format `floodgate ingest` reads).
fn log(block: u64, idx: u32, from: &str, to: &str, amount: u128) -> String {
    let pad = |a: &str| format!("0x000000000000000000000000{}", &a[2..]);
    format!(
        r#"{{"type":"log","log_index":{idx},"transaction_hash":"0x{:064x}","transaction_index":{idx},"address":"{USDT}","data":"0x{amount:064x}","topics":["{TOPIC}","{}","{}"],"block_number":{block},"block_hash":"0x{:064x}","block_timestamp":{}}}"#,
        block * 100 + u64::from(idx),
        pad(from),
        pad(to),
        block + 0xb000,
        1_762_000_000 + block * 12,
    ) + "\n"
}

fn json_lines(s: &str) -> Vec<serde_json::Value> {
    s.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// Writes `rows` (USDT transfer logs) to `file` and ingests them.
fn ingest_usdt(data: &Path, file: &Path, rows: &[String]) {
    std::fs::write(file, rows.concat()).unwrap();
    ok(floodgate(data).args(["ingest", "ethereum"]).arg(file).output().unwrap());
}

/// `trace build --format json`, parsed.
fn build(data: &Path) -> serde_json::Value {
    let out = floodgate(data).args(["trace", "build", "--format", "json"]).output().unwrap();
    serde_json::from_str(&ok(out)).unwrap()
}

fn monitor(data: &Path) -> Vec<serde_json::Value> {
    json_lines(&ok(floodgate(data)
        .args(["monitor", "--from-store", "--no-state", "--format", "jsonl"])
        .output()
        .unwrap()))
}

/// A TagPack in `data/tagpacks` that tags `S` as a sanctioned wallet.
fn sanctions_tagpack(data: &std::path::Path) {
    std::fs::create_dir_all(data.join("tagpacks")).unwrap();
    std::fs::write(
        data.join("tagpacks/sanctions.yaml"),
        format!(
            "title: test sanctions\ncreator: floodgate tests\nsource: test\nis_public: true\n\
             tags:\n  - address: {S}\n    currency: ETH\n    label: sanctioned wallet\n    abuse: sanction\n"
        ),
    )
    .unwrap();
}

fn hit<'a>(d: &'a serde_json::Value, rule: &str) -> Option<&'a serde_json::Value> {
    d["hits"].as_array().unwrap().iter().find(|h| h["rule_id"] == rule)
}

#[test]
fn index_answers_trace_exposure_and_holds_a_deposit_with_indirect_sanctioned_exposure() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    sanctions_tagpack(&data);
    // S pays A 1,000 USDT; C pays B 9,000; A pays B 1,000 (so 10 % of what B received came
    // from S, two hops back); C pays D 500.
    let usdt = 1_000_000u128;
    let rows = [
        log(1, 0, S, A, 1_000 * usdt),
        log(2, 0, C, B, 9_000 * usdt),
        log(3, 0, A, B, 1_000 * usdt),
        log(3, 1, C, D, 500 * usdt),
    ];
    ingest_usdt(&data, &tmp.path().join("usdt.jsonl"), &rows);
    let ledger = tmp.path().join("ledger.jsonl");
    std::fs::write(
        &ledger,
        format!(
            "{{\"id\":\"d1\",\"time\":\"2025-11-03T08:00:00Z\",\"customer_id\":\"c1\",\"direction\":\"deposit\",\"asset\":\"USDT-ERC20\",\"amount\":\"100\",\"counterparty_address\":\"{B}\"}}\n\
             {{\"id\":\"d2\",\"time\":\"2025-11-03T09:00:00Z\",\"customer_id\":\"c2\",\"direction\":\"deposit\",\"asset\":\"USDT-ERC20\",\"amount\":\"100\",\"counterparty_address\":\"{D}\"}}\n"
        ),
    )
    .unwrap();
    ok(floodgate(&data).args(["ingest", "ledger"]).arg(&ledger).output().unwrap());

    // Before any graph: no exposure facts and nothing said of an index.
    let before = monitor(&data);
    assert!(hit(&before[0], "vn.deposit_indirect_exposure").is_none(), "{}", before[0]);
    assert!(!before[0]["notes"].to_string().contains("exposure index"), "{}", before[0]);

    // `trace build` writes the index and says so.
    let built = build(&data);
    assert_eq!(built["index"]["status"], "rebuilt", "{built}");
    assert_eq!(built["index"]["transfers"], 4, "{built}");
    assert!(built["index"]["bytes"].as_u64().unwrap() > 144, "{built}");
    let table = ok(floodgate(&data).args(["trace", "build"]).output().unwrap());
    assert!(table.contains("exposure index") && table.contains("current"), "{table}");

    // `trace exposure` answers from the index, with the per-query values.
    let from_index =
        ok(floodgate(&data).args(["trace", "exposure", B, "--format", "json"]).output().unwrap());
    let per_query = ok(floodgate(&data)
        .args(["trace", "exposure", B, "--format", "json", "--no-index"])
        .output()
        .unwrap());
    let (fi, pq): (serde_json::Value, serde_json::Value) =
        (serde_json::from_str(&from_index).unwrap(), serde_json::from_str(&per_query).unwrap());
    assert_eq!(fi[0]["from_index"], true, "{fi}");
    assert!(pq[0].get("from_index").is_none(), "{pq}");
    for k in ["total", "untraced"] {
        assert_eq!(fi[0][k], pq[0][k], "{k}: {fi} vs {pq}");
    }
    let cat = |r: &serde_json::Value| r[0]["categories"][0].clone();
    assert_eq!(cat(&fi)["category"], "sanctioned");
    for k in ["value", "direct", "indirect", "min_hops"] {
        assert_eq!(cat(&fi)[k], cat(&pq)[k], "{k}");
    }
    assert_eq!(cat(&fi)["indirect"], "1000000000", "{fi}");
    assert_eq!(cat(&fi)["sources"][0]["node"], S, "the evidence names S");
    let table = ok(floodgate(&data).args(["trace", "exposure", B]).output().unwrap());
    assert!(table.contains("from the exposure index"), "{table}");
    // A request the index does not hold is traced per query, silently.
    let four = ok(floodgate(&data).args(["trace", "exposure", B, "--hops", "4"]).output().unwrap());
    assert!(!four.contains("exposure index"), "{four}");

    // The monitor holds B's deposit, naming the fact, its value, the threshold and the index.
    let d = monitor(&data);
    let h = hit(&d[0], "vn.deposit_indirect_exposure")
        .unwrap_or_else(|| panic!("B's deposit was not held: {}", d[0]));
    assert_eq!(d[0]["action"], "hold", "{}", d[0]);
    let reason = h["reason"].as_str().unwrap();
    for want in [
        B,
        "exposure.sanctioned.indirect = 0.100",
        "exposure.special_measure.indirect = 0.000",
        "threshold 0.05",
        "exposure.fgx",
        "graph of 4 edges",
    ] {
        assert!(reason.contains(want), "{want:?} not in {reason:?}");
    }
    assert!(hit(&d[1], "vn.deposit_indirect_exposure").is_none(), "D is clean: {}", d[1]);
    // The index stands in for the trace engine's exposure input: no "no exposure data" note.
    assert!(!d[0]["notes"].to_string().contains("no exposure data"), "{}", d[0]);

    // New tags since the build: the index is stale; decisions and `trace exposure` say so.
    std::fs::write(
        data.join("tagpacks/more.yaml"),
        format!(
            "title: more\ncreator: floodgate tests\nsource: test\nis_public: true\n\
             tags:\n  - address: {C}\n    currency: ETH\n    label: a scam\n    abuse: scam\n"
        ),
    )
    .unwrap();
    let d = monitor(&data);
    let notes = d[0]["notes"].to_string();
    assert!(notes.contains("exposure index not used") && notes.contains("tags changed"), "{notes}");
    assert!(hit(&d[0], "vn.deposit_indirect_exposure").is_none(), "stale facts used: {}", d[0]);
    let table = ok(floodgate(&data).args(["trace", "exposure", B]).output().unwrap());
    assert!(table.contains("traced per query") && table.contains("tags changed"), "{table}");

    // Rebuilt: current again. Removed: the decision names the missing index.
    let built = ok(floodgate(&data).args(["trace", "build"]).output().unwrap());
    assert!(built.contains("rebuilt"), "{built}");
    std::fs::remove_file(data.join("graph/exposure.fgx")).unwrap();
    let d = monitor(&data);
    let notes = d[0]["notes"].to_string();
    assert!(notes.contains("no exposure index"), "{notes}");
}

/// `trace build` after new blocks were ingested extends the index over the appended segment
/// instead of replaying every transfer (issue 15 item 2), and the extended index answers as
/// a query does.
#[test]
fn trace_build_extends_the_index_over_new_blocks() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    sanctions_tagpack(&data);
    let usdt = 1_000_000u128;
    let ingest = |name: &str, rows: &[String]| ingest_usdt(&data, &tmp.path().join(name), rows);
    ingest("a.jsonl", &[log(1, 0, S, A, 1_000 * usdt), log(2, 0, C, B, 9_000 * usdt)]);
    let first = build(&data);
    assert_eq!(first["index"]["status"], "rebuilt", "{first}");
    ingest("b.jsonl", &[log(3, 0, A, B, 1_000 * usdt), log(3, 1, C, D, 500 * usdt)]);
    let second = build(&data);
    assert_eq!(second["index"]["status"], "extended", "{second}");
    assert_eq!(second["index"]["update"]["how"], "extended", "{second}");
    assert_eq!(second["index"]["update"]["from_segments"], 1, "{second}");
    assert_eq!(second["index"]["transfers"], 2, "only the new block's transfers: {second}");
    let table = ok(floodgate(&data).args(["trace", "build"]).output().unwrap());
    assert!(table.contains("exposure index") && table.contains("current"), "{table}");
    let q = |extra: &[&str]| -> serde_json::Value {
        let out = ok(floodgate(&data)
            .args(["trace", "exposure", B, "--format", "json"])
            .args(extra)
            .output()
            .unwrap());
        serde_json::from_str(&out).unwrap()
    };
    let (fi, pq) = (q(&[]), q(&["--no-index"]));
    assert_eq!(fi[0]["from_index"], true, "{fi}");
    for k in ["total", "untraced", "categories"] {
        assert_eq!(fi[0][k], pq[0][k], "{k}: {fi} vs {pq}");
    }
}

/// An address that received labelled value after it sent some is flagged as a possible round
/// trip (issue 15). `trace exposure` answers it from the index when no path leads from its
/// transfers back to it within the hops asked (saying so, with the per-query values), and per
/// query when one does.
#[test]
fn a_flagged_address_is_answered_from_the_index_unless_a_path_leads_back() {
    const A2: &str = "0x6666666666666666666666666666666666666666"; // flagged, nothing came back
    const X: &str = "0x7777777777777777777777777777777777777777"; // keeps what A2 sent
    const R: &str = "0x8888888888888888888888888888888888888888"; // flagged, a round trip
    const Y: &str = "0x9999999999999999999999999999999999999999"; // pays R back
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    sanctions_tagpack(&data);
    let usdt = 1_000_000u128;
    let rows = [
        log(1, 0, S, A2, 1_000 * usdt),
        log(1, 1, S, R, 1_000 * usdt),
        log(2, 0, A2, X, 500 * usdt),
        log(2, 1, R, Y, 600 * usdt),
        log(3, 0, S, A2, 200 * usdt),
        log(3, 1, Y, R, 600 * usdt),
    ];
    ingest_usdt(&data, &tmp.path().join("usdt.jsonl"), &rows);
    let built = build(&data);
    assert_eq!(built["index"]["round_trips"], 2, "A2 and R are flagged: {built}");
    let exposure = |addr: &str, more: &[&str]| -> (serde_json::Value, String) {
        let args = [&["trace", "exposure", addr][..], more].concat();
        let json = ok(floodgate(&data).args(&args).args(["--format", "json"]).output().unwrap());
        let table = ok(floodgate(&data).args(&args).output().unwrap());
        (serde_json::from_str(&json).unwrap(), table)
    };
    // A2: nothing it sent came back: from the index, equal to the per-query trace.
    let (fi, table) = exposure(A2, &[]);
    let (pq, _) = exposure(A2, &["--no-index"]);
    assert_eq!(fi[0]["from_index"], true, "{fi}");
    assert!(table.contains("no path leads from its transfers back to it within 3 hops"), "{table}");
    for k in ["total", "untraced"] {
        assert_eq!(fi[0][k], pq[0][k], "{k}: {fi} vs {pq}");
    }
    assert_eq!(fi[0]["categories"][0]["value"], pq[0]["categories"][0]["value"], "{fi} vs {pq}");
    // R: its 600 came back through Y, two hops: traced per query within 3 hops, saying why;
    // within 1 hop nothing can have come back, so the index answers.
    let (r3, table) = exposure(R, &[]);
    assert!(r3[0].get("from_index").is_none(), "{r3}");
    assert!(table.contains("traced per query") && table.contains("can have come back"), "{table}");
    assert_eq!(r3[0]["categories"][0]["value"], (1_000 * usdt).to_string(), "{r3}");
    let (r1, _) = exposure(R, &["--hops", "1"]);
    let (q1, _) = exposure(R, &["--hops", "1", "--no-index"]);
    assert_eq!(r1[0]["from_index"], true, "{r1}");
    assert_eq!(r1[0]["categories"][0]["value"], q1[0]["categories"][0]["value"]);
}
