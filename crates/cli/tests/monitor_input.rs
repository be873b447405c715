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
