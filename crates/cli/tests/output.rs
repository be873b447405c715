//! Output safety (issue 9, items 9 and 10): hostile text from a ledger, a list and a TagPack
//! reaches the terminal escaped, CSV cells cannot run as spreadsheet formulas, JSON stays
//! exact, and a reader that goes away early (`| head`) ends the command quietly with exit 0.

// In tests a panic is the failure report; helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used)]

mod common;

use common::{floodgate, ok};

use std::io::Read;
use std::path::Path;
use std::process::Stdio;

const ESC_ID: &str = "dep-\x1b[2J\x1b]0;owned\x07-\u{202e}gpj.exe";
const FORMULA_ID: &str = "=HYPERLINK(\"http://evil.invalid\",\"click\")";
const MINUS_ID: &str = "-2+3+cmd|' /C calc'!A0";
const AT_ID: &str = "@SUM(1+1)*cmd|' /C calc'!A0";

/// Bytes a terminal must never receive raw from data: ESC, BEL, CSI and the RTL override.
fn assert_terminal_safe(out: &str) {
    for bad in ['\x1b', '\x07', '\u{9b}', '\u{202e}'] {
        assert!(!out.contains(bad), "raw {bad:?} reached the terminal:\n{out}");
    }
}

fn hostile_ledger(dir: &Path) {
    let file = dir.join("ledger.csv");
    let mut csv = csv::Writer::from_path(&file).unwrap();
    csv.write_record(["id", "time", "customer_id", "direction", "asset", "amount"]).unwrap();
    for (i, id) in [ESC_ID, FORMULA_ID, MINUS_ID, AT_ID].into_iter().enumerate() {
        let time = format!("2025-11-03T08:1{i}:00Z");
        csv.write_record([id, &time, "cust\x1b[31m-1", "deposit", "USDT-TRC20", "2500"]).unwrap();
    }
    csv.flush().unwrap();
    ok(floodgate(&dir.join("data")).args(["ingest", "ledger"]).arg(&file).output().unwrap());
}

#[test]
fn ledger_text_is_escaped_in_tables_neutralised_in_csv_and_exact_in_json() {
    let dir = tempfile::tempdir().unwrap();
    hostile_ledger(dir.path());
    let data = dir.path().join("data");
    let run = |format: &str| {
        ok(floodgate(&data)
            .args(["transfers", "--chain", "ledger", "--format", format])
            .output()
            .unwrap())
    };

    let table = run("table");
    assert_terminal_safe(&table);
    assert!(table.contains(r"dep-\x1b[2J\x1b]0;owned\x07-\u{202e}gpj.exe"), "{table}");
    assert!(table.contains(r"customer:cust\x1b[31m-1"), "{table}");
    assert_eq!(table.lines().count(), 5, "one line per row: nothing split a row\n{table}");

    let csv_text = run("csv");
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let txid = r.headers().unwrap().iter().position(|h| h == "txid").unwrap();
    let amount = r.headers().unwrap().iter().position(|h| h == "amount").unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let ids: Vec<&str> = rows.iter().map(|r| &r[txid]).collect();
    assert_eq!(
        ids,
        [ESC_ID.to_string(), format!("'{FORMULA_ID}"), format!("'{MINUS_ID}"), format!("'{AT_ID}")]
    );
    for row in &rows {
        assert_eq!(&row[amount], "2500000000", "numbers are kept as numbers");
        for cell in row {
            assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "formula cell {cell:?}");
        }
    }

    for format in ["json", "jsonl"] {
        let text = run(format);
        assert_terminal_safe(&text);
        let values: Vec<serde_json::Value> = if format == "json" {
            serde_json::from_str::<Vec<serde_json::Value>>(&text).unwrap()
        } else {
            text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
        };
        let ids: Vec<&str> = values.iter().map(|v| v["txid"].as_str().unwrap()).collect();
        assert_eq!(ids, [ESC_ID, FORMULA_ID, MINUS_ID, AT_ID], "JSON keeps values exact");
        assert_eq!(values[0]["to"], "cust\x1b[31m-1".replace("cust", "customer:cust"));
    }
}

#[test]
fn a_hostile_list_entry_is_escaped_when_screened() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let list = dir.path().join("evil-list.csv");
    std::fs::write(
        &list,
        "# list: evil-list\n# version: 1\nid,name,aliases,type,program\n\
         evil-1,\"Evil Corp\x1b\u{202e}\",=HYPERLINK(\"\"http://evil.invalid\"\"),organization,@cmd\n",
    )
    .unwrap();
    ok(floodgate(&data).args(["lists", "load"]).arg(&list).output().unwrap());
    let screen = |format: &str| {
        let out = floodgate(&data)
            .args(["screen", "name", "Evil Corp", "--format", format])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "a hit exits 1: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let table = screen("table");
    assert_terminal_safe(&table);
    assert!(table.contains(r"Evil Corp\x1b\u{202e}"), "{table}");
    let csv_text = screen("csv");
    assert!(csv_text.contains("Evil Corp\x1b\u{202e}"), "CSV is exact apart from formulas");
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert!(!rows.is_empty());
    for cell in rows.iter().flatten() {
        assert!(!cell.starts_with(['=', '+', '-', '@']) || cell.parse::<f64>().is_ok(), "{cell:?}");
    }
    let json = screen("json");
    assert_terminal_safe(&json);
    assert!(json.contains(r"Evil Corp\u001b\u202e"), "{json}");
}

#[test]
fn a_hostile_tagpack_label_is_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pack = dir.path().join("evil.yaml");
    let addr = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa";
    std::fs::write(
        &pack,
        format!(
            "title: evil\ncurrency: BTC\ncategory: exchange\nsource: \"\\e]8;;http://evil.invalid\\a\"\n\
             label: \"Safe\\e[8m Exchange\\u202E\"\ntags:\n- address: {addr}\n"
        ),
    )
    .unwrap();
    let out = ok(floodgate(&data)
        .args(["trace", "tags", addr, "--tagpack"])
        .arg(&pack)
        .output()
        .unwrap());
    assert_terminal_safe(&out);
    assert!(out.contains(r"Safe\x1b[8m Exchange\u{202e}"), "{out}");
}

/// `floodgate transfers | head -1`: the reader closes the pipe after one line; the command
/// stops at the next write and exits 0 without a word on stderr (it exited 2 with "error:
/// Broken pipe" before).
#[test]
fn a_reader_that_goes_away_early_ends_the_listing_quietly() {
    let dir = tempfile::tempdir().unwrap();
    ok(floodgate(dir.path()).args(["demo", "--no-serve"]).output().unwrap());
    for format in ["table", "json", "jsonl", "csv"] {
        let mut child = floodgate(dir.path())
            .args(["transfers", "--format", format])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 64];
        stdout.read_exact(&mut first).unwrap();
        drop(stdout);
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{format}: stderr {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stderr.is_empty(), "{format}: {}", String::from_utf8_lossy(&out.stderr));
    }
}
