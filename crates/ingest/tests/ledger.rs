//! Issue 9 item 5: a ledger cut off mid-row is an error naming the line, never a shortened
//! last entry (which used to be stored, and then made the complete file a conflicting
//! re-ingest). Input: the bundled sample ledger (`crates/cli/sample/ledger`, see its README).

// Test helpers panic on purpose: a panic is how a test reports a failure (STYLE.md §3).
#![allow(clippy::unwrap_used)]

use floodgate_ingest::ledger::read_ledger_str;
use floodgate_types::AssetRegistry;

const SAMPLE: &str = include_str!("../../cli/sample/ledger/exchange-ledger.csv");

#[test]
fn issue_9_a_ledger_cut_off_mid_row_names_the_line() {
    let assets = AssetRegistry::builtin();
    let complete = read_ledger_str("ledger.csv", SAMPLE, &assets).unwrap();
    let lines = SAMPLE.lines().count() as u64;
    assert_eq!(complete.len() as u64, lines - 1);

    // Every cut inside the last row, without its newline: the amount "0.35" cut to "0.3"
    // would otherwise be stored as a different entry.
    let last_row = SAMPLE.trim_end().rfind('\n').unwrap() + 1;
    for cut in last_row + 1..SAMPLE.len() {
        let err = read_ledger_str("ledger.csv", &SAMPLE[..cut], &assets).unwrap_err().to_string();
        assert!(
            err.contains(&format!("ledger.csv: line {lines}:")) && err.contains("truncated"),
            "cut at {cut}: {err}"
        );
    }
    // A row that lost its last fields but kept a newline.
    let second = SAMPLE.lines().nth(2).unwrap();
    let short: String = second.split(',').take(6).collect::<Vec<_>>().join(",");
    let text = SAMPLE.lines().take(2).collect::<Vec<_>>().join("\n") + "\n" + &short + "\n";
    let err = read_ledger_str("ledger.csv", &text, &assets).unwrap_err().to_string();
    assert!(err.contains("line 3") && err.contains("truncated"), "{err}");
}
