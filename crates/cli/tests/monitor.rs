//! `floodgate monitor` and `floodgate rules`, run as a user would run them.

// In tests a panic is the failure report; helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used)]

mod common;

use common::floodgate;

use std::path::Path;
use std::process::{Command, Output};

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

/// Decision lines (JSON objects with a `transfer_id`) of a monitor run's stdout.
fn decisions(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("transfer_id").is_some())
        .collect()
}

const INPUT: &str = r#"{"id":"t1","time":"2025-11-03T08:15:00Z","customer_id":"c1","direction":"deposit","asset":"USDT-TRC20","amount":"2500","counterparty_address":"TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM"}
{"id":"t2","time":"2025-11-03T09:00:00Z","customer_id":"c2","direction":"deposit","asset":"USDT-TRC20","amount":"10","counterparty_address":"TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"}
this is not json
{"id":"t3","time":"2025-11-03T10:00:00Z","customer_id":"c2","direction":"withdrawal","asset":"BTC","amount":"-1"}
{"id":"t4","time":"2025-11-03T11:00:00Z","customer_id":"c2","direction":"withdrawal","asset":"DOGE","amount":"1"}
"#;

#[test]
fn monitor_decides_rejects_bad_lines_and_never_decides_twice() {
    let Some(ofac) = floodgate_testdata::dir("sanctions/ofac-crypto-addresses") else { return };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, INPUT).unwrap();
    let rejects = dir.path().join("rejects.txt");
    let run = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_floodgate"));
        c.env_remove("FLOODGATE_DATA").env_remove("FLOODGATE_CONFIG").env("FLOODGATE_LOG", "error");
        c.arg("--data-dir")
            .arg(dir.path())
            .arg("monitor")
            .arg("--ofac-dir")
            .arg(&ofac)
            .arg("--rejects")
            .arg(&rejects)
            .arg(&input)
            .output()
            .unwrap()
    };
    let out = run();
    assert_eq!(code(&out), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let d = decisions(&out);
    let ids: Vec<&str> = d.iter().map(|v| v["transfer_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["t1", "t2"], "bad lines are skipped, the stream goes on");
    assert_eq!(d[0]["action"], "block", "deposit from an OFAC-listed Tron address: {}", d[0]);
    let reason = d[0]["hits"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM"), "{reason}");
    assert_ne!(d[1]["action"], "block");
    let rej = std::fs::read_to_string(&rejects).unwrap();
    for (line, what) in [(3, "JSON"), (4, "amount"), (5, "asset")] {
        assert!(
            rej.lines().any(|l| l.contains(&format!("line {line}")) && l.contains(what)),
            "line {line} ({what}) missing from rejects:\n{rej}"
        );
    }
    // The summary goes to stderr, apart from the decision stream on stdout.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("\"decided\":2") && stderr.contains("\"rejected\":3"), "{stderr}");

    // The same input again: every transfer was already decided, nothing is decided twice.
    let again = run();
    assert_eq!(code(&again), Some(0));
    assert!(decisions(&again).is_empty(), "{}", String::from_utf8_lossy(&again.stdout));
}

#[test]
fn rules_check_names_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "extends = \"vn\"\n[[rule]]\nid = \"x\"\nseverity = \"low\"\naction = \"review\"\nwhen = \"transfer.amount_vnd >>> 3\"\nreason = \"r\"\n",
    )
    .unwrap();
    let out = floodgate(dir.path()).args(["rules", "check"]).arg(&bad).output().unwrap();
    assert_eq!(code(&out), Some(2));
    let err = String::from_utf8_lossy(&out.stderr) + String::from_utf8_lossy(&out.stdout);
    assert!(err.contains("bad.toml:6:"), "{err}");
    let good = floodgate(dir.path()).args(["rules", "default"]).output().unwrap();
    assert_eq!(code(&good), Some(0));
    let pack = dir.path().join("vn.toml");
    std::fs::write(&pack, &good.stdout).unwrap();
    let out = floodgate(dir.path()).args(["rules", "check"]).arg(&pack).output().unwrap();
    assert_eq!(
        code(&out),
        Some(0),
        "the built-in pack checks clean: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn monitor_uses_the_lists_loaded_for_screening() {
    let Some(ofac) = floodgate_testdata::dir("sanctions/ofac-crypto-addresses") else { return };
    let dir = tempfile::tempdir().unwrap();
    let load = floodgate(dir.path()).args(["lists", "load"]).arg(&ofac).output().unwrap();
    assert_eq!(code(&load), Some(0), "{}", String::from_utf8_lossy(&load.stderr));
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, INPUT.lines().next().unwrap()).unwrap();
    let out = floodgate(dir.path()).arg("monitor").arg(&input).output().unwrap();
    assert_eq!(code(&out), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let d = decisions(&out);
    assert_eq!(d[0]["action"], "block", "{}", d[0]);
    let source = d[0]["hits"][0]["evidence"]["list"]["source"].as_str().unwrap();
    assert!(source.starts_with("list '"), "the loaded list is named: {source}");
    // Opting out leaves the decision without list data, and it says so.
    let dir2 = tempfile::tempdir().unwrap();
    let load = floodgate(dir2.path()).args(["lists", "load"]).arg(&ofac).output().unwrap();
    assert_eq!(code(&load), Some(0));
    let out = floodgate(dir2.path())
        .args(["monitor", "--no-screening-lists"])
        .arg(&input)
        .output()
        .unwrap();
    let d = decisions(&out);
    assert_ne!(d[0]["action"], "block", "{}", d[0]);
}

/// What the case store of `data` holds after a monitor run, as a user reads it: the alerts,
/// the cases and the report obligations, with the keys the wall clock sets (`created`,
/// `updated`, a report's `status` against today) taken out, and a case's `version` (one per
/// transaction that changed it: a run whose groups were cut elsewhere — a kill, an idle
/// input — counts differently); `audit verify` must find the chain intact.
fn case_store(data: &Path) -> serde_json::Value {
    fn untimed(mut v: serde_json::Value) -> serde_json::Value {
        match &mut v {
            serde_json::Value::Object(m) => {
                for k in ["created", "updated", "status", "version"] {
                    m.remove(k);
                }
                for x in m.values_mut() {
                    *x = untimed(x.take());
                }
            }
            serde_json::Value::Array(a) => {
                for x in a.iter_mut() {
                    *x = untimed(x.take());
                }
            }
            _ => {}
        }
        v
    }
    let json = |args: &[&str]| -> serde_json::Value {
        let out = floodgate(data).args(args).output().unwrap();
        assert_eq!(code(&out), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let v = json(&["audit", "verify", "--format", "json"]);
    assert_eq!(v["intact"], true, "{v}");
    untimed(serde_json::json!({
        "alerts": json(&["alerts", "--format", "json", "--limit", "1000000"]),
        "cases": json(&["cases", "list", "--format", "json", "--limit", "1000000"]),
        "reports": json(&["report", "due", "--format", "json"]),
    }))
}

#[test]
fn kill_9_mid_stream_then_restart_gives_the_uninterrupted_decisions() {
    use std::io::Write;
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    use floodgate_monitor::synth::{generate, to_input_line, SynthConfig};

    let world =
        generate(SynthConfig { seed: 7, background_customers: 300, per_typology: 5, days: 10 });
    let lines: Vec<String> = world.events.iter().map(to_input_line).collect();
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("in.jsonl");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let lines_in = |p: &Path| std::fs::read_to_string(p).map(|s| s.lines().count()).unwrap_or(0);

    // The uninterrupted run.
    let reference = tempfile::tempdir().unwrap();
    let expected_file = work.path().join("expected.jsonl");
    let out = floodgate(reference.path())
        .args(["monitor", "--out"])
        .arg(&expected_file)
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(code(&out), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = std::fs::read_to_string(&expected_file).unwrap();
    assert_eq!(expected.lines().count(), lines.len());

    // Half the stream through stdin, then SIGKILL while the monitor waits for more.
    let data = tempfile::tempdir().unwrap();
    let out_file = work.path().join("out.jsonl");
    let mut child = floodgate(data.path())
        .args(["monitor", "--out"])
        .arg(&out_file)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let half = lines[..lines.len() / 2].join("\n") + "\n";
    let writer = std::thread::spawn(move || {
        // The pipe breaks when the monitor is killed; that is expected.
        let _ = stdin.write_all(half.as_bytes());
        let _ = stdin.flush();
        stdin
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    while lines_in(&out_file) < lines.len() / 4 {
        assert!(Instant::now() < deadline, "the monitor made no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    drop(writer.join());
    let decided_before_kill = lines_in(&out_file);
    assert!(decided_before_kill < lines.len(), "killed mid-stream");

    // Restart on the whole input: nothing missing, nothing doubled, the same decisions.
    let out = floodgate(data.path())
        .args(["monitor", "--out"])
        .arg(&out_file)
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(code(&out), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), expected);
    // The alerts (stored behind the emission, on the feed's thread) are the uninterrupted
    // run's: none lost at the kill, none stored twice by the catch-up.
    let want = case_store(reference.path());
    assert!(want["alerts"].as_array().is_some_and(|a| a.len() > 10), "{want}");
    assert_eq!(case_store(data.path()), want);
}

/// Issue 14 item 4: the counterparty country and the travel-rule data of a ledger survive
/// `ingest ledger` → store → `monitor --from-store`, and decide there as they do when the
/// same lines are streamed; without a country the decision says the check could not run.
#[test]
fn issue14_travel_rule_and_country_survive_ingest_store_monitor() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("tr.jsonl");
    std::fs::write(
        &ledger,
        concat!(
            r#"{"id":"t1","time":"2025-11-03T02:00:00Z","customer_id":"c1","direction":"withdrawal","asset":"USDT-TRC20","amount":"5000","counterparty_address":"TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM","counterparty_vasp":"Tan Exchange Pte Ltd","counterparty_country":"SG","travel_rule":{"originator_name":"Nguyen Van A","beneficiary_name":"Tan B","beneficiary_vasp":"Tan Exchange Pte Ltd"}}"#,
            "\n",
            r#"{"id":"t2","time":"2025-11-03T03:00:00Z","customer_id":"c1","direction":"withdrawal","asset":"USDT-TRC20","amount":"5000","counterparty_address":"TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM"}"#,
            "\n"
        ),
    )
    .unwrap();
    let out = floodgate(dir.path()).args(["ingest", "ledger"]).arg(&ledger).output().unwrap();
    assert_eq!(code(&out), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let from_store = floodgate(dir.path())
        .args(["monitor", "--from-store", "--no-state", "--format", "jsonl"])
        .output()
        .unwrap();
    assert_eq!(code(&from_store), Some(0), "{}", String::from_utf8_lossy(&from_store.stderr));
    let streamed = floodgate(dir.path())
        .args(["monitor", "--no-state", "--format", "jsonl"])
        .arg(&ledger)
        .output()
        .unwrap();
    let (d, s) = (decisions(&from_store), decisions(&streamed));
    assert_eq!(d.len(), 2);
    assert_eq!(d, s, "the store path decides as the stream does");
    let rules = |v: &serde_json::Value| -> Vec<String> {
        v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["rule_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(rules(&d[0]), ["report.international_transfer"], "{}", d[0]);
    assert_eq!(d[0]["action"], "allow", "complete travel-rule data: no hold: {}", d[0]);
    assert_eq!(rules(&d[1]), ["travel_rule_missing"], "{}", d[1]);
    let notes = d[1]["notes"].to_string();
    assert!(
        notes.contains("international-transfer check not possible: counterparty country unknown"),
        "{notes}"
    );
    assert!(!d[0]["notes"].to_string().contains("check not possible"), "{}", d[0]);

    // A malformed country or travel-rule payload is refused naming the line and field, and
    // nothing of the file is stored.
    let bad = dir.path().join("bad.jsonl");
    let line = std::fs::read_to_string(&ledger).unwrap().lines().next().unwrap().to_owned();
    for (broken, field) in [
        (line.replace("\"SG\"", "\"Singapore\"").replace("t1", "b1"), "counterparty_country"),
        (
            line.replace(r#"{"originator_name":"Nguyen Van A","beneficiary_name":"Tan B","beneficiary_vasp":"Tan Exchange Pte Ltd"}"#, "\"yes\"").replace("t1", "b2"),
            "travel_rule",
        ),
    ] {
        std::fs::write(&bad, broken + "\n").unwrap();
        let out = floodgate(dir.path()).args(["ingest", "ledger"]).arg(&bad).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code(&out), Some(2), "{err}");
        assert!(err.contains("bad.jsonl") && err.contains(field), "{err}");
    }
    let again = floodgate(dir.path())
        .args(["monitor", "--from-store", "--no-state", "--format", "jsonl"])
        .output()
        .unwrap();
    assert_eq!(decisions(&again).len(), 2, "nothing of a refused file is stored");
}

/// Issue 14 item 1: a CSV ledger with VND and USD bank and cash entries goes `ingest ledger` →
/// store → `monitor --from-store`, and Viet Nam's large-cash and domestic-transfer reports fall
/// due on the right rails; a fiat row with a chain address is refused naming line and field.
#[test]
fn issue14_fiat_bank_and_cash_from_ledger_file_to_report() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("fiat.csv");
    std::fs::write(
        &ledger,
        "id,time,customer_id,direction,asset,amount,rail,counterparty_bank,counterparty_account\n\
         k-1,2025-11-03T02:00:00Z,c1,deposit,VND,250000000,cash,,\n\
         b-1,2025-11-03T03:00:00Z,c1,deposit,VND,600000000,bank,BFTVVNVX,0071000123456\n\
         k-2,2025-11-03T04:00:00Z,c1,withdrawal,USD,6000.00,cash,,\n",
    )
    .unwrap();
    let out = floodgate(dir.path()).args(["ingest", "ledger"]).arg(&ledger).output().unwrap();
    assert_eq!(code(&out), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let run = floodgate(dir.path())
        .args(["monitor", "--from-store", "--no-state", "--format", "jsonl"])
        .output()
        .unwrap();
    assert_eq!(code(&run), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let d = decisions(&run);
    let reports = |v: &serde_json::Value| -> Vec<String> {
        v["reports_due"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["report"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(d.len(), 3);
    assert_eq!(
        (d[0]["rail"].as_str(), d[0]["amount_vnd"].as_u64()),
        (Some("cash"), Some(250_000_000))
    );
    assert!(reports(&d[0]).is_empty(), "{}", d[0]);
    assert_eq!(reports(&d[1]), ["domestic_transfer"], "an EFT from a VN bank: {}", d[1]);
    assert_eq!(reports(&d[2]), ["large_value"], "{}", d[2]);
    assert_eq!(d[2]["reports_due"][0]["amount_vnd"], 407_800_000, "cash only: {}", d[2]);
    assert_eq!(d[2]["reports_due"][0]["transfer_ids"], serde_json::json!(["k-1", "k-2"]));

    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "id,time,customer_id,direction,asset,amount,rail,counterparty_address\n\
         x-1,2025-11-03T02:00:00Z,c1,deposit,VND,1000,bank,TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM\n",
    )
    .unwrap();
    let out = floodgate(dir.path()).args(["ingest", "ledger"]).arg(&bad).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), Some(2), "{err}");
    assert!(
        err.contains("bad.csv: line 2, field 'counterparty_address': VND is a fiat currency"),
        "{err}"
    );
}

/// Issue 14 item 6: `floodgate monitor` with state, killed (`kill -9`) at several seeded
/// random points — some while it decides, some while it commits or writes a snapshot (one is
/// written every 40 decisions), some while it waits for input — and restarted on the input
/// from its first line each time: at the end the output file holds exactly the decisions of
/// an uninterrupted run, in order, none lost and none decided twice, and the last restart
/// resumed from a snapshot rather than replaying every stored decision. Untimed: each kill
/// waits for the output to reach its point, however slow the machine.
#[test]
fn issue14_kill_9_at_random_points_loses_nothing_and_decides_nothing_twice() {
    use std::io::Write;
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    use floodgate_monitor::synth::{generate, to_input_line, SynthConfig};

    let world =
        generate(SynthConfig { seed: 14, background_customers: 200, per_typology: 4, days: 10 });
    let lines: Vec<String> = world.events.iter().map(to_input_line).collect();
    let n = lines.len();
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("in.jsonl");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let lines_in = |p: &Path| std::fs::read_to_string(p).map(|s| s.lines().count()).unwrap_or(0);
    let monitor = |data: &Path, out: &Path| {
        let mut c = floodgate(data);
        c.args(["monitor", "--batch", "16", "--snapshot-every", "40", "--out"]).arg(out);
        c
    };

    // The uninterrupted run.
    let reference = tempfile::tempdir().unwrap();
    let expected_file = work.path().join("expected.jsonl");
    let out = monitor(reference.path(), &expected_file).arg(&input).output().unwrap();
    assert_eq!(code(&out), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = std::fs::read_to_string(&expected_file).unwrap();
    assert_eq!(expected.lines().count(), n);

    // Seeded kill points (xorshift64), increasing: each run is fed from the first line up to
    // a little past its point, and killed once the output reaches the point.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |bound: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % bound as u64) as usize
    };
    let mut points: Vec<usize> = (0..5).map(|_| n / 10 + next(n * 8 / 10)).collect();
    points.sort_unstable();
    let data = tempfile::tempdir().unwrap();
    let out_file = work.path().join("out.jsonl");
    for (k, &point) in points.iter().enumerate() {
        let mut child = monitor(data.path(), &out_file)
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // Up to 60 lines past the point: some kills land mid-group, some while idle.
        let fed = (point + next(60)).min(n - 1);
        let text = lines[..fed].join("\n") + "\n";
        let writer = std::thread::spawn(move || {
            // The pipe breaks when the monitor is killed; that is expected.
            let _ = stdin.write_all(text.as_bytes());
            let _ = stdin.flush();
            stdin
        });
        let deadline = Instant::now() + Duration::from_secs(300);
        while lines_in(&out_file) < point {
            assert!(Instant::now() < deadline, "kill {k}: no progress to {point}");
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        drop(writer.join());
        let have = lines_in(&out_file);
        assert!(have >= point && have < n, "kill {k} at {point}: {have} of {n} decided");
    }

    // The last restart on the whole input.
    let out = monitor(data.path(), &out_file)
        .env("FLOODGATE_LOG", "floodgate::monitor=debug")
        .arg(&input)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), Some(0), "{stderr}");
    let got = std::fs::read_to_string(&out_file).unwrap();
    let ids: std::collections::HashSet<&str> =
        got.lines().map(|l| &l[..l.find(",\"customer_id\"").unwrap()]).collect();
    assert_eq!(ids.len(), got.lines().count(), "no transfer decided twice");
    assert_eq!(got, expected, "the decisions of the uninterrupted run, none lost");
    let want = case_store(reference.path());
    assert!(want["alerts"].as_array().is_some_and(|a| a.len() > 10), "{want}");
    assert_eq!(
        case_store(data.path()),
        want,
        "the case store of the uninterrupted run: no alert lost or stored twice"
    );
    // The log's colour codes out: `\x1b[…m`.
    let mut plain = String::new();
    let mut it = stderr.chars();
    while let Some(c) = it.next() {
        if c == '\u{1b}' {
            it.by_ref().find(|c| *c == 'm');
        } else {
            plain.push(c);
        }
    }
    let resumed = plain.lines().find(|l| l.contains("monitor state resumed")).unwrap_or("");
    assert!(
        resumed.contains("from_snapshot=") && !resumed.contains("from_snapshot=0 "),
        "the restart loaded a snapshot: {plain}"
    );
}
