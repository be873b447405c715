//! Monitor input bounds (issue 9, items 7 and 8): an invalid UTF-8 byte, an over-long line and
//! an over-long field are rejects naming the file and line, and the stream goes on.

// In tests a panic is the failure report; helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used)]

mod common;

use common::{floodgate, ok};

fn entry(id: &str, customer: &str) -> String {
    format!(
        r#"{{"id":"{id}","time":"2025-11-03T08:15:00Z","customer_id":"{customer}","direction":"deposit","asset":"USDT-TRC20","amount":"25"}}"#
    )
}

#[test]
fn bad_bytes_long_lines_and_long_fields_are_rejected_and_the_stream_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("ledger.jsonl");
    let rejects = dir.path().join("rejects.jsonl");
    let mut bytes = Vec::new();
    bytes.extend_from_slice(entry("ok-1", "c1").as_bytes());
    bytes.push(b'\n');
    // Line 2: one invalid UTF-8 byte (stopped monitor with exit 2 before).
    bytes.extend_from_slice(entry("bad-utf8", "caf\u{e9}").replace('\u{e9}', "\u{1}").as_bytes());
    let at = bytes.iter().rposition(|&b| b == 1).unwrap();
    bytes[at] = 0xe9;
    bytes.push(b'\n');
    // Line 3: a valid entry 2 MiB long (was accepted and held whole in memory).
    bytes.extend_from_slice(entry("long-line", &"x".repeat(2 << 20)).as_bytes());
    bytes.push(b'\n');
    // Line 4: a 100 KB customer id in a line under the line limit.
    bytes.extend_from_slice(entry("long-field", &"y".repeat(100_000)).as_bytes());
    bytes.push(b'\n');
    bytes.extend_from_slice(entry("ok-2", "c2").as_bytes());
    bytes.push(b'\n');
    std::fs::write(&input, &bytes).unwrap();

    let out = ok(floodgate(&dir.path().join("data"))
        .args(["monitor", "--no-state", "--rejects"])
        .arg(&rejects)
        .arg(&input)
        .output()
        .unwrap());
    let decided: Vec<serde_json::Value> =
        out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let ids: Vec<&str> = decided.iter().map(|d| d["transfer_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["ok-1", "ok-2"]);
    let rej: Vec<serde_json::Value> = std::fs::read_to_string(&rejects)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let lines: Vec<u64> = rej.iter().map(|r| r["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [2, 3, 4]);
    let reason = |i: usize| rej[i]["reason"].as_str().unwrap().to_owned();
    let file = input.display().to_string();
    assert!(reason(0).contains(&format!("{file}: line 2: not UTF-8")), "{}", reason(0));
    assert!(reason(1).contains("line 3: longer than the limit of 1048576 bytes"), "{}", reason(1));
    assert!(reason(2).contains("line 4, field 'customer_id': 100000 bytes"), "{}", reason(2));
}

/// A CSV ledger (`docs/formats/ledger.md`, as `ingest ledger` reads it) is decided as the same
/// entries given as JSON Lines are; a bad row is a reject naming its line and field, and the
/// rows after it are decided.
#[test]
fn a_csv_ledger_is_decided_as_its_json_lines_are() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("ledger.csv");
    std::fs::write(
        &csv,
        "\u{feff}id,time,customer_id,direction,asset,amount,counterparty_address,counterparty_country,travel_rule.originator_name,travel_rule.beneficiary_name,device\n\
         d-1,2025-11-03T08:15:00Z,c1,deposit,USDT-TRC20,2500,TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM,SG,\"Tan, B\",Nguyen Van A,dev-1\n\
         \n\
         d-2,2025-11-03T09:00:00Z,c2,deposit,BTC,0.35,,,,,dev-1\n\
         d-3,2025-11-03T09:30:00Z,c2,deposit,BTC,-1,,,,,dev-1\n\
         w-4,2025-11-03T10:00:00Z,c2,withdrawal,BTC,0.3,12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S,VN,,,dev-2\n",
    )
    .unwrap();
    let jsonl = dir.path().join("ledger.jsonl");
    std::fs::write(
        &jsonl,
        [
            r#"{"id":"d-1","time":"2025-11-03T08:15:00Z","customer_id":"c1","direction":"deposit","asset":"USDT-TRC20","amount":"2500","counterparty_address":"TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM","counterparty_country":"SG","travel_rule":{"originator_name":"Tan, B","beneficiary_name":"Nguyen Van A"},"device":"dev-1"}"#,
            r#"{"id":"d-2","time":"2025-11-03T09:00:00Z","customer_id":"c2","direction":"deposit","asset":"BTC","amount":"0.35","device":"dev-1"}"#,
            r#"{"id":"w-4","time":"2025-11-03T10:00:00Z","customer_id":"c2","direction":"withdrawal","asset":"BTC","amount":"0.3","counterparty_address":"12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S","counterparty_country":"VN","device":"dev-2"}"#,
            "",
        ]
        .join("\n"),
    )
    .unwrap();
    let rejects = dir.path().join("rejects.jsonl");
    let from_csv = ok(floodgate(&dir.path().join("a"))
        .args(["monitor", "--no-state", "--rejects"])
        .arg(&rejects)
        .arg(&csv)
        .output()
        .unwrap());
    let from_jsonl = ok(floodgate(&dir.path().join("b"))
        .args(["monitor", "--no-state"])
        .arg(&jsonl)
        .output()
        .unwrap());
    assert_eq!(from_csv.lines().count(), 3, "{from_csv}");
    assert_eq!(from_csv, from_jsonl);
    let d1: serde_json::Value = serde_json::from_str(from_csv.lines().next().unwrap()).unwrap();
    assert!(!d1.to_string().contains("travel_rule_missing"), "travel-rule columns read: {d1}");
    let rej = std::fs::read_to_string(&rejects).unwrap();
    let rej: serde_json::Value = serde_json::from_str(rej.trim()).unwrap();
    assert_eq!(rej["line"], 5);
    let reason = rej["reason"].as_str().unwrap();
    assert!(reason.contains(&format!("{}: line 5, field 'amount'", csv.display())), "{reason}");
}
