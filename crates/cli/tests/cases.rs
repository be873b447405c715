//! Alerts, cases and the audit log through the `floodgate` binary, on SQLite and PostgreSQL.

// In tests a panic is the failure report; helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
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

/// A synthetic exchange's ledger (seed `seed`) written as JSON Lines to `in.jsonl` in `work`:
/// its lines and the file.
fn synth_ledger(seed: u64, work: &Path) -> (Vec<String>, PathBuf) {
    use floodgate_monitor::synth::{generate, to_input_line, SynthConfig};
    let world =
        generate(SynthConfig { seed, background_customers: 300, per_typology: 6, days: 10 });
    let lines: Vec<String> = world.events.iter().map(to_input_line).collect();
    let input = work.join("in.jsonl");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    (lines, input)
}

/// The lines of `p` (0 while it does not exist).
fn count(p: &Path) -> usize {
    std::fs::read_to_string(p).map(|s| s.lines().count()).unwrap_or(0)
}

fn kill_9_then_restart(db: Option<&str>) {
    let work = tempfile::tempdir().unwrap();
    let (lines, input) = synth_ledger(11, work.path());
    let data = tempfile::tempdir().unwrap();
    let out_file = work.path().join("out.jsonl");

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
    each_alert_stored_once(data.path(), db, &out_file, lines.len());
}

/// Every decision of `out_file` (`n` of them) is there once, every non-allow decision has
/// exactly one alert, keyed by its transfer, and every other member a group typology names
/// has exactly one too; each alert sits in its subject's one open case; the audit chain is
/// intact.
fn each_alert_stored_once(data: &Path, db: Option<&str>, out_file: &Path, n: usize) {
    let decisions: Vec<serde_json::Value> = std::fs::read_to_string(out_file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(decisions.len(), n);
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
        fg(data, db).args(["alerts", "--format", "json", "--limit", "1000000"]).output().unwrap(),
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
        json_out(fg(data, db).args(["cases", "list", "--format", "json"]).output().unwrap());
    let subjects: BTreeSet<&str> =
        alerts.as_array().unwrap().iter().map(|a| a["subject"].as_str().unwrap()).collect();
    assert_eq!(cases.as_array().unwrap().len(), subjects.len());
    let v = json_out(fg(data, db).args(["audit", "verify", "--format", "json"]).output().unwrap());
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

/// The alert feed runs behind the emission, on its own connection: when the case store fails
/// under it (its PostgreSQL connection terminated mid-stream) the command fails with the case
/// store's error, having emitted only committed decisions, and the next run stores every
/// alert the failure left out, once.
#[test]
fn monitor_fails_with_the_case_store_error_and_the_next_run_catches_up_postgres() {
    let Some(pg) = Pg::new() else { return };
    let work = tempfile::tempdir().unwrap();
    let (lines, input) = synth_ledger(12, work.path());
    let data = tempfile::tempdir().unwrap();
    let out_file = work.path().join("out.jsonl");

    let mut child = fg(data.path(), Some(&pg.url))
        .args(["monitor", "--batch", "7", "--out"])
        .arg(&out_file)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let third = lines.len() / 3;
    stdin.write_all((lines[..third].join("\n") + "\n").as_bytes()).unwrap();
    stdin.flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    while count(&out_file) < third {
        assert!(Instant::now() < deadline, "the monitor made no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    // The case store goes away under the running feed.
    let mut admin = postgres::Client::connect(&pg.admin, postgres::NoTls).unwrap();
    let killed = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            &[&pg.name],
        )
        .unwrap();
    assert!(!killed.is_empty(), "the monitor's case-store connection was found");
    let rest = lines[third..].join("\n") + "\n";
    let writer = std::thread::spawn(move || {
        // The pipe breaks when the monitor stops on the error; that is expected.
        let _ = stdin.write_all(rest.as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    drop(writer.join());
    let err = stderr(&out);
    assert_ne!(out.status.code(), Some(0), "the feed's failure fails the command: {err}");
    assert!(err.contains("writing monitor alerts to the case store"), "{err}");
    let emitted = count(&out_file);
    assert!(emitted >= third && emitted < lines.len(), "{emitted} of {} emitted", lines.len());

    let out = fg(data.path(), Some(&pg.url))
        .args(["monitor", "--out"])
        .arg(&out_file)
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    each_alert_stored_once(data.path(), Some(&pg.url), &out_file, lines.len());
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

/// Two `floodgate cases approve` processes race on each of several pending decisions: for
/// each, exactly one approval is stored and the other process fails with a clear error.
fn approvals_race_across_processes(db: Option<&str>) {
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| fg(data.path(), db).args(args).output().unwrap();
    for round in 0..6 {
        let c = json_out(run(&[
            "cases",
            "open",
            &format!("cust-{round}"),
            "--reason",
            "tip",
            "--format",
            "json",
            "--as",
            "lan",
        ]));
        let id = c[0]["id"].as_i64().unwrap().to_string();
        common::ok(run(&["cases", "decide", &id, "freeze", "--reason", "fraud", "--as", "lan"]));
        let spawn = |who: &str| {
            fg(data.path(), db)
                .args(["cases", "approve", &id, "--as", who, "--role", "approver"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn("minh"), spawn("tuan"));
        let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
        let won: Vec<&Output> = outs.iter().filter(|o| o.status.success()).collect();
        let lost: Vec<&Output> = outs.iter().filter(|o| !o.status.success()).collect();
        assert_eq!((won.len(), lost.len()), (1, 1), "round {round}: {outs:?}");
        assert_eq!(lost[0].status.code(), Some(2));
        let e = stderr(lost[0]);
        assert!(
            e.contains("was changed by another action at the same time")
                || e.contains("cannot approve a case that is closed"),
            "round {round}: {e}"
        );
        let show = json_out(run(&["cases", "show", &id, "--format", "json"]));
        let approvals = show["trail"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "case.approve")
            .count();
        assert_eq!(approvals, 1, "round {round}: one decision is stored");
        assert_eq!(show["case"]["state"], "closed");
    }
    let v = run(&["audit", "verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
}

#[test]
fn approvals_race_across_processes_sqlite() {
    approvals_race_across_processes(None);
}

#[test]
fn approvals_race_across_processes_postgres() {
    if let Some(pg) = Pg::new() {
        approvals_race_across_processes(Some(&pg.url));
    }
}

/// Users and roles from the registry; a snoozed case wakes by itself.
fn users_and_snooze(db: Option<&str>) {
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| fg(data.path(), db).args(args).output().unwrap();
    // Single-user mode: --role is trusted until someone is registered.
    let c = json_out(run(&[
        "cases", "open", "cust-1", "--reason", "tip", "--format", "json", "--as", "lan",
    ]));
    let id = c[0]["id"].as_i64().unwrap().to_string();
    let o = run(&["users", "add", "lan", "analyst", "--as", "lan"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("the first user of a tenant must be an admin"), "{}", stderr(&o));
    common::ok(run(&["users", "add", "hoa", "admin", "--as", "hoa"]));
    common::ok(run(&["users", "add", "lan", "analyst", "--as", "hoa"]));
    common::ok(run(&["users", "add", "minh", "approver", "--as", "hoa"]));
    let o = run(&["users", "add", "x", "admin", "--as", "lan"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("user 'lan' with role analyst may not add users"),
        "{}",
        stderr(&o)
    );
    // Claiming another role, or acting unregistered, is refused and changes nothing.
    let o = run(&["cases", "reopen", &id, "--reason", "x", "--as", "lan", "--role", "admin"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("has role analyst in the registry, not admin"), "{}", stderr(&o));
    let o = run(&["cases", "note", &id, "hello", "--as", "mallory"]);
    assert!(stderr(&o).contains("user 'mallory' is not registered"), "{}", stderr(&o));
    // The registry's role applies without --role.
    common::ok(run(&["cases", "decide", &id, "freeze", "--reason", "fraud", "--as", "lan"]));
    let a = json_out(run(&["cases", "approve", &id, "--as", "minh", "--format", "json"]));
    assert_eq!(a[0]["approved_by"], "minh");
    common::ok(run(&["users", "disable", "minh", "--as", "hoa"]));
    let o = run(&["alerts", "--as", "minh"]);
    assert!(stderr(&o).contains("user 'minh' is disabled"), "{}", stderr(&o));
    let users = common::ok(run(&["users", "list", "--format", "csv", "--as", "lan"]));
    assert!(
        users.starts_with("user,role,disabled") && users.contains("minh,approver,true"),
        "{users}"
    );

    // Snooze two seconds ahead: the next command after that finds the case open again.
    let c = json_out(run(&[
        "cases", "open", "cust-2", "--reason", "tip", "--format", "json", "--as", "lan",
    ]));
    let id2 = c[0]["id"].as_i64().unwrap().to_string();
    let until = chrono_like_rfc3339(2);
    let s = json_out(run(&[
        "cases", "snooze", &id2, "--until", &until, "--format", "json", "--as", "lan",
    ]));
    assert_eq!(s[0]["state"], "snoozed");
    std::thread::sleep(Duration::from_millis(3100));
    let list =
        json_out(run(&["cases", "list", "--subject", "cust-2", "--format", "json", "--as", "lan"]));
    assert_eq!(list[0]["state"], "open", "{list}");
    let show = common::ok(run(&["cases", "show", &id2, "--as", "lan"]));
    assert!(show.contains("case.wake") && show.contains("system:snooze"), "{show}");
    let v = run(&["audit", "verify", "--as", "lan"]);
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
}

/// Now plus `secs`, as RFC 3339 UTC.
fn chrono_like_rfc3339(secs: u64) -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
        + secs;
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let (days, rem) = ((t / 86_400) as i64, t % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem / 60 % 60, rem % 60)
}

#[test]
fn users_and_snooze_sqlite() {
    users_and_snooze(None);
}

#[test]
fn users_and_snooze_postgres() {
    if let Some(pg) = Pg::new() {
        users_and_snooze(Some(&pg.url));
    }
}

/// Issue 11 item 1: a list load's delta re-screen turns new hits of registered subjects into
/// alerts, exactly once.
#[test]
fn delta_rescreen_hits_become_alerts_exactly_once() {
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| fg(data.path(), None).args(args).output().unwrap();
    let lists = tempfile::tempdir().unwrap();
    let v1 = lists.path().join("v1");
    std::fs::create_dir(&v1).unwrap();
    std::fs::write(v1.join("sanctioned_addresses_XBT.txt"), "12QtD5BFwRsdNsAZY76UVE1xyCGNTojH9h\n")
        .unwrap();
    common::ok(run(&["lists", "load", v1.to_str().unwrap()]));
    // A customer's withdrawal address is registered: not on the list yet.
    let o = run(&[
        "screen",
        "address",
        "bitcoin",
        "1BoatSLRHtKNngkdXEeobR76b53LETtpyT",
        "--subject",
        "cust-9",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json_out(run(&["alerts", "--format", "json"])), serde_json::json!([]));
    // The next version lists it: the delta re-screen finds it, and an alert is raised.
    let v2 = lists.path().join("v2");
    std::fs::create_dir(&v2).unwrap();
    std::fs::write(
        v2.join("sanctioned_addresses_XBT.txt"),
        "12QtD5BFwRsdNsAZY76UVE1xyCGNTojH9h\n1BoatSLRHtKNngkdXEeobR76b53LETtpyT\n",
    )
    .unwrap();
    common::ok(run(&["lists", "load", v2.to_str().unwrap()]));
    let alerts = json_out(run(&["alerts", "--format", "json"]));
    let a = alerts.as_array().unwrap();
    assert_eq!(a.len(), 1, "{alerts}");
    assert_eq!(
        (a[0]["source"].as_str(), a[0]["subject"].as_str()),
        (Some("screen_delta"), Some("cust-9"))
    );
    assert!(a[0]["reasons"][0].as_str().unwrap().contains("found when version"), "{alerts}");
    // Loading again (same entries, and again with one more) raises nothing new.
    common::ok(run(&["lists", "load", v2.to_str().unwrap()]));
    let v3 = lists.path().join("v3");
    std::fs::create_dir(&v3).unwrap();
    std::fs::write(
        v3.join("sanctioned_addresses_XBT.txt"),
        "12QtD5BFwRsdNsAZY76UVE1xyCGNTojH9h\n1BoatSLRHtKNngkdXEeobR76b53LETtpyT\n1FfmbHfnpaZjKFvyi1okTjJJusN455paPH\n",
    )
    .unwrap();
    common::ok(run(&["lists", "load", v3.to_str().unwrap()]));
    assert_eq!(json_out(run(&["alerts", "--format", "json"])).as_array().unwrap().len(), 1);
    // `alerts list` is `alerts`, as `cases list` lists cases; another word is refused by name.
    assert_eq!(
        json_out(run(&["alerts", "list", "--format", "json"])),
        json_out(run(&["alerts", "--format", "json"]))
    );
    let o = run(&["alerts", "show"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("list"), "{}", stderr(&o));
}

const VASP_TOML: &str = r#"name = "Example Exchange JSC"
rentity_id = 1234
branch = "Head office"
institution_code = "VASP-0001"
reporting_user_code = "CO-01"
address = "1 Example Street"
city = "Ha Noi"
country = "VN"
"#;

const KYC: &str = r#"{"customer_id":"c-1","first_name":"Van A","last_name":"Nguyen","birth_date":"1990-04-02","national_id":"001090000001","nationality":"VN","residence":"VN","phone_prefix":"84","phone":"912345678","address":"12 Hang Bac","city":"Ha Noi","occupation":"trader","opened":"2024-05-01"}
"#;

/// Issue 11 items 6 and 7: `report generate` end to end — a monitor alert, a case decided
/// `report` and approved by registered users, the goAML STR checked against the UNODC XSD,
/// filed so `report due` shows it; the HTML case report; the Viet Nam international-transfer
/// report; the IVMS101 payload; and refusals that name the customer or field and file nothing.
fn report_generate(db: Option<&str>) {
    let Some(xsd) = floodgate_testdata::file("reporting/goaml/unodc-5.0.1/goAMLSchema.xsd") else {
        return;
    };
    let xmllint = Command::new("xmllint").arg("--version").output().is_ok();
    if !xmllint {
        let required = std::env::var("FLOODGATE_REQUIRE_TEST_DATA").is_ok_and(|v| v == "1");
        assert!(!required, "xmllint (libxml2-utils) is required");
        let _ = writeln!(std::io::stderr(), "\n*** SKIPPING report generate: no xmllint ***\n");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = |name: &str, text: &str| {
        let p = work.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let run = |args: &[&str]| fg(data.path(), db).args(args).output().unwrap();
    let ledger = w(
        "transfers.jsonl",
        r#"{"id":"w-1","time":"2026-03-10T10:00:00+07:00","customer_id":"c-1","direction":"withdrawal","asset":"USDT-TRC20","amount":"1500","counterparty_address":"TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM","counterparty_vasp":"Tan Exchange Pte Ltd","counterparty_country":"SG","txid":"9f2c6a0e7c1b4d3a8e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d","ip":"203.0.113.7","travel_rule":{"originator_name":"Nguyen Van A","beneficiary_name":"Tan B","beneficiary_account":"TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM"},"exposure":{"mixer":0.4}}
"#,
    );
    let entity = w("vasp.toml", VASP_TOML);
    let kyc = w("kyc.jsonl", KYC);
    let o = fg(data.path(), db).args(["monitor", "--out", "/dev/null", &ledger]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let alerts = json_out(run(&["alerts", "--format", "json"]));
    assert_eq!(alerts.as_array().unwrap().len(), 1, "{alerts}");
    let case = alerts[0]["case"].as_i64().unwrap().to_string();
    common::ok(run(&["users", "add", "hoa", "admin", "--as", "hoa"]));
    common::ok(run(&["users", "add", "lan", "analyst", "--as", "hoa"]));
    common::ok(run(&["users", "add", "minh", "approver", "--as", "hoa"]));
    let gen = |extra: &[&str]| {
        let mut a = vec!["report", "generate"];
        a.extend_from_slice(extra);
        a.extend_from_slice(&["--as", "lan"]);
        run(&a)
    };
    let out = work.path().join("str.xml");
    let str_args = |kyc: &str| {
        vec![
            "str".to_owned(),
            "--case".into(),
            case.clone(),
            "--entity".into(),
            entity.clone(),
            "--kyc".into(),
            kyc.to_owned(),
            "--ledger".into(),
            ledger.clone(),
            "--xsd".into(),
            xsd.to_str().unwrap().to_owned(),
            "--out".into(),
            out.to_str().unwrap().to_owned(),
            "--format".into(),
            "json".into(),
        ]
    };
    // Not decided yet: refused, naming the case.
    let o = gen(&strs(&str_args(&kyc)));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("only a case decided 'report'"), "{}", stderr(&o));
    common::ok(run(&[
        "cases",
        "decide",
        &case,
        "report",
        "--reason",
        "mixer-exposed withdrawal to a foreign VASP",
        "--as",
        "lan",
    ]));
    common::ok(run(&["cases", "approve", &case, "--as", "minh"]));
    // A customer without KYC, and a phone number goAML refuses: clear errors, nothing written
    // or filed.
    let o = gen(&strs(&str_args(&w("empty.jsonl", ""))));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("invalid customer 'c-1': has no KYC record"), "{}", stderr(&o));
    let long_phone = KYC.replace("912345678", &"9".repeat(60));
    let o = gen(&strs(&str_args(&w("bad-kyc.jsonl", &long_phone))));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("tph_number"), "{}", stderr(&o));
    assert!(!out.exists(), "nothing is written when refused");
    let due = json_out(run(&["report", "due", "--format", "json", "--as", "lan"]));
    assert!(due.as_array().unwrap().iter().all(|r| r["status"] != "filed"), "{due}");
    // The CLI prints the report service's result (issue 10): the same list, from the store.
    {
        use floodgate_cases::model::{TenantId, UnixTime, UserId};
        let loc = floodgate_cases::Location::resolve(db, data.path());
        let mut s = floodgate_cases::open(&loc).unwrap();
        let actor = s
            .authenticate(&TenantId::new("default").unwrap(), &UserId::new("lan").unwrap(), None)
            .unwrap();
        let svc = floodgate_app::report::due(s.as_mut(), &actor, None, UnixTime::now()).unwrap();
        assert_eq!(serde_json::to_value(&svc).unwrap(), due);
    }
    // The approved `report` decision put the suspicious-transaction report on the list at once.
    let str_due: Vec<&serde_json::Value> =
        due.as_array().unwrap().iter().filter(|r| r["kind"] == "suspicious").collect();
    assert_eq!(str_due.len(), 1, "{due}");
    let str_id = str_due[0]["id"].clone();
    // The STR: written, valid against the XSD (checked again here), filed.
    let row = json_out(gen(&strs(&str_args(&kyc))));
    assert_eq!(
        (row[0]["kind"].as_str(), row[0]["filed"].as_bool()),
        (Some("str"), Some(true)),
        "{row}"
    );
    let xml = std::fs::read_to_string(&out).unwrap();
    for want in [
        "<report_code>STR</report_code>",
        "TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM",
        "USDT-TRC20",
        "<first_name>Van A</first_name>",
        "<ipv4>203.0.113.7</ipv4>",
    ] {
        assert!(xml.contains(want), "{want} missing:\n{xml}");
    }
    let v =
        Command::new("xmllint").args(["--noout", "--schema"]).arg(&xsd).arg(&out).output().unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    let due = json_out(run(&["report", "due", "--format", "json", "--as", "lan"]));
    let filed = due
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "suspicious")
        .unwrap_or_else(|| panic!("{due}"));
    assert_eq!(
        (filed["status"].as_str(), filed["document_sha256"].as_str()),
        (Some("filed"), row[0]["sha256"].as_str())
    );
    assert_eq!(filed["id"], str_id, "the obligation listed since the approval is the one filed");
    assert_eq!(row[0]["report"], str_id);
    // The Viet Nam international-transfer report of the same withdrawal.
    let intl = due
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "international_transfer")
        .unwrap_or_else(|| panic!("{due}"));
    let rid = intl["id"].as_i64().unwrap().to_string();
    let vn_out = work.path().join("vn.json");
    let row = json_out(gen(&[
        "vn",
        "--report",
        &rid,
        "--entity",
        &entity,
        "--kyc",
        &kyc,
        "--ledger",
        &ledger,
        "--out",
        vn_out.to_str().unwrap(),
        "--format",
        "json",
    ]));
    assert_eq!(row[0]["filed"], true);
    let vn: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&vn_out).unwrap()).unwrap();
    assert_eq!(
        (vn["format"].as_str(), vn["kind"].as_str()),
        (Some("floodgate-vn-report/1"), Some("international_transfer"))
    );
    let csv =
        common::ok(run(&["report", "due", "--status", "filed", "--format", "csv", "--as", "lan"]));
    assert_eq!(csv.lines().count(), 3, "header, suspicious, international:\n{csv}");
    // The HTML case report: self-contained, with the SVG path and the decision trail.
    let html_out = work.path().join("case.html");
    common::ok(gen(&[
        "case",
        "--case",
        &case,
        "--ledger",
        &ledger,
        "--out",
        html_out.to_str().unwrap(),
    ]));
    let html = std::fs::read_to_string(&html_out).unwrap();
    for want in ["<svg", "default-src 'none'", "decide_four_eyes", "minh", "mixer"] {
        assert!(html.contains(want), "{want} missing from the case report");
    }
    assert!(!html.contains("<script") && !html.contains("src=\"http"), "no fetch, no script");
    // IVMS101 for the USD 1,500 withdrawal.
    let p = json_out(gen(&[
        "ivms101",
        "--transfer",
        "w-1",
        "--entity",
        &entity,
        "--kyc",
        &kyc,
        "--ledger",
        &ledger,
    ]));
    assert_eq!(
        p["beneficiaryVASP"]["beneficiaryVASP"]["legalPerson"]["name"]["nameIdentifier"][0]
            ["legalPersonName"],
        "Tan Exchange Pte Ltd",
        "{p}"
    );
    let v = run(&["audit", "verify", "--as", "lan"]);
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
}

#[test]
fn report_generate_end_to_end_sqlite() {
    report_generate(None);
}

#[test]
fn report_generate_end_to_end_postgres() {
    if let Some(pg) = Pg::new() {
        report_generate(Some(&pg.url));
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A screening hit whose alert was lost (the screening database committed, the case store
/// did not) is raised by the next list load, once.
#[test]
fn a_lost_screening_alert_is_raised_by_the_next_list_load() {
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| fg(data.path(), None).args(args).output().unwrap();
    let lists = tempfile::tempdir().unwrap();
    let v1 = lists.path().join("v1");
    std::fs::create_dir(&v1).unwrap();
    std::fs::write(v1.join("sanctioned_addresses_XBT.txt"), "1BoatSLRHtKNngkdXEeobR76b53LETtpyT\n")
        .unwrap();
    common::ok(run(&["lists", "load", v1.to_str().unwrap()]));
    // The hit is stored in screening.db, but its alert goes to a case store that is then lost
    // (as when the process dies between the two commits).
    let lost = data.path().join("lost-cases.db");
    let o = run(&[
        "screen",
        "address",
        "bitcoin",
        "1BoatSLRHtKNngkdXEeobR76b53LETtpyT",
        "--subject",
        "cust-7",
        "--db",
        lost.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "a hit: {}", stderr(&o));
    std::fs::remove_file(&lost).unwrap();
    assert_eq!(json_out(run(&["alerts", "--format", "json"])), serde_json::json!([]));
    // The next load of the (unchanged) list reconciles: the alert appears, once.
    for _ in 0..2 {
        common::ok(run(&["lists", "load", v1.to_str().unwrap()]));
        let alerts = json_out(run(&["alerts", "--format", "json"]));
        let a = alerts.as_array().unwrap();
        assert_eq!(a.len(), 1, "{alerts}");
        assert_eq!(a[0]["subject"], "cust-7", "{alerts}");
        let key = a[0]["dedup_key"].as_str().unwrap();
        assert!(key.starts_with("screen:") && key.ends_with(":cust-7"), "{alerts}");
    }
}
