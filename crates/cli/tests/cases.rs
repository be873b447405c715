//! Alerts, cases and the audit log through the `floodgate` binary, on SQLite and PostgreSQL.

// In tests a panic is the failure report; helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `floodgate` on a data directory with the case store at `db` (None: DATA/cases.db).
fn fg(data: &Path, db: Option<&str>) -> Command {
    let mut c = common::floodgate(data);
    for v in ["FLOODGATE_DATABASE_URL", "FLOODGATE_TENANT", "FLOODGATE_USER", "FLOODGATE_ROLE"] {
        c.env_remove(v);
    }
    if let Some(u) = db {
        c.env("FLOODGATE_DATABASE_URL", u);
    }
    c
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh PostgreSQL database (dropped by the guard), or None with a loud skip message; CI
/// (`FLOODGATE_REQUIRE_TEST_DATA=1`) fails instead.
struct Pg {
    admin: String,
    name: String,
    url: String,
}

impl Pg {
    fn new() -> Option<Pg> {
        let admin = std::env::var("FLOODGATE_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let mut c = match postgres::Client::connect(&admin, postgres::NoTls) {
            Ok(c) => c,
            Err(e) => {
                if std::env::var("FLOODGATE_REQUIRE_TEST_DATA").is_ok_and(|v| v == "1") {
                    panic!("PostgreSQL at {admin} does not answer ({e}); CI requires it");
                }
                let _ = writeln!(
                    std::io::stderr(),
                    "\n*** SKIPPING PostgreSQL run: {admin}: {e} ***\n"
                );
                return None;
            }
        };
        let name = format!("floodgate_cli_cases_{}_{}", std::process::id(), rand_suffix());
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
        Some(Pg { admin, name, url })
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

impl Drop for Pg {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

fn json_out(o: Output) -> serde_json::Value {
    let s = common::ok(o);
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

fn kill_9_then_restart(db: Option<&str>) {
    use floodgate_monitor::synth::{generate, to_input_line, SynthConfig};
    let world =
        generate(SynthConfig { seed: 11, background_customers: 300, per_typology: 6, days: 10 });
    let lines: Vec<String> = world.events.iter().map(to_input_line).collect();
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("in.jsonl");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let data = tempfile::tempdir().unwrap();
    let out_file = work.path().join("out.jsonl");
    let count = |p: &Path| std::fs::read_to_string(p).map(|s| s.lines().count()).unwrap_or(0);

    // The whole stream through stdin in small group commits, killed with SIGKILL while it
    // decides (commits and alert writes interleave, so the kill can land between the two).
    let mut child = fg(data.path(), db)
        .args(["monitor", "--batch", "7", "--out"])
        .arg(&out_file)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let all = lines.join("\n") + "\n";
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(all.as_bytes());
        stdin
    });
    let deadline = Instant::now() + Duration::from_secs(180);
    while count(&out_file) < lines.len() / 3 {
        assert!(Instant::now() < deadline, "the monitor made no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    drop(writer.join());
    assert!(count(&out_file) < lines.len(), "killed mid-stream");

    let out =
        fg(data.path(), db).args(["monitor", "--out"]).arg(&out_file).arg(&input).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // Every non-allow decision has exactly one alert, keyed by its transfer, and every other
    // member a group typology names has exactly one too.
    let decisions: Vec<serde_json::Value> = std::fs::read_to_string(&out_file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(decisions.len(), lines.len());
    let mut want: BTreeSet<String> = decisions
        .iter()
        .filter(|d| d["action"] != "allow")
        .map(|d| format!("monitor:{}", d["transfer_id"].as_str().unwrap()))
        .collect();
    assert!(want.len() > 10, "the synthetic world must raise alerts ({})", want.len());
    let mut members = 0;
    for d in &decisions {
        for g in d["group_alerts"].as_array().into_iter().flatten() {
            if g["action"] != "allow" {
                members += 1;
                want.insert(format!(
                    "monitor:{}:{}:{}",
                    d["transfer_id"].as_str().unwrap(),
                    g["rule_id"].as_str().unwrap(),
                    g["customer_id"].as_str().unwrap()
                ));
            }
        }
    }
    assert!(members > 0, "the synthetic world plants a shared-device group");
    let alerts = json_out(
        fg(data.path(), db)
            .args(["alerts", "--format", "json", "--limit", "1000000"])
            .output()
            .unwrap(),
    );
    let got: Vec<String> = alerts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["dedup_key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        got.len(),
        want.len(),
        "one alert per non-allow decision and group member, none doubled"
    );
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want);
    // Each alert explains itself and sits in its customer's one open case.
    let a0 = &alerts[0];
    assert!(!a0["reasons"].as_array().unwrap().is_empty());
    assert!(a0["evidence"]["hits"].as_array().is_some_and(|h| !h.is_empty()));
    let cases =
        json_out(fg(data.path(), db).args(["cases", "list", "--format", "json"]).output().unwrap());
    let subjects: BTreeSet<&str> =
        alerts.as_array().unwrap().iter().map(|a| a["subject"].as_str().unwrap()).collect();
    assert_eq!(cases.as_array().unwrap().len(), subjects.len());
    let v = json_out(
        fg(data.path(), db).args(["audit", "verify", "--format", "json"]).output().unwrap(),
    );
    assert_eq!(v["intact"], true, "{v}");
}

#[test]
fn monitor_killed_mid_stream_raises_each_alert_exactly_once_sqlite() {
    kill_9_then_restart(None);
}

#[test]
fn monitor_killed_mid_stream_raises_each_alert_exactly_once_postgres() {
    if let Some(pg) = Pg::new() {
        kill_9_then_restart(Some(&pg.url));
    }
}

fn case_work(db: Option<&str>) {
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| fg(data.path(), db).args(args).output().unwrap();
    let c = json_out(run(&[
        "cases",
        "open",
        "cust-7",
        "--reason",
        "tip from support",
        "--format",
        "json",
        "--as",
        "lan",
    ]));
    let id = c[0]["id"].as_i64().unwrap().to_string();
    let evidence = data.path().join("hit.json");
    std::fs::write(&evidence, r#"{"list":"ofac-sdn","entity_id":"OFAC-1","score":0.97}"#).unwrap();
    common::ok(run(&[
        "cases",
        "attach",
        &id,
        "--label",
        "screening_hit",
        evidence.to_str().unwrap(),
        "--as",
        "lan",
    ]));
    let d = json_out(run(&[
        "cases",
        "decide",
        &id,
        "report",
        "--reason",
        "structuring",
        "--as",
        "lan",
        "--format",
        "json",
    ]));
    assert_eq!(d[0]["state"], "pending_approval");
    // The decider cannot approve: exit 2, a clear message, nothing changed.
    let o = run(&["cases", "approve", &id, "--as", "lan", "--role", "approver"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("'lan' decided this case and may not approve it too"),
        "{}",
        stderr(&o)
    );
    let o = run(&["cases", "approve", "999", "--as", "minh", "--role", "approver"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown case 999 for tenant 'default'"), "{}", stderr(&o));
    let o = run(&["cases", "decide", &id, "maybe", "--reason", "x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("invalid DecisionKind 'maybe'"), "{}", stderr(&o));
    let a = json_out(run(&[
        "cases", "approve", &id, "--as", "minh", "--role", "approver", "--format", "json",
    ]));
    assert_eq!(
        (a[0]["state"].as_str(), a[0]["approved_by"].as_str()),
        (Some("closed"), Some("minh"))
    );
    let show = common::ok(run(&["cases", "show", &id]));
    assert!(show.contains("case.decide_four_eyes") && show.contains("minh:approver"), "{show}");
    let csv = common::ok(run(&["cases", "list", "--format", "csv"]));
    assert!(csv.starts_with("case,subject,state"), "{csv}");
    // Another tenant sees nothing.
    let other = json_out(run(&["cases", "list", "--tenant", "vasp-b", "--format", "json"]));
    assert_eq!(other, serde_json::json!([]));
    let v = run(&["audit", "verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    let due = common::ok(run(&["report", "due", "--format", "csv"]));
    assert!(due.starts_with("report,kind,status"), "{due}");
}

#[test]
fn case_work_through_the_cli_sqlite() {
    case_work(None);
}

#[test]
fn case_work_through_the_cli_postgres() {
    if let Some(pg) = Pg::new() {
        case_work(Some(&pg.url));
    }
}
