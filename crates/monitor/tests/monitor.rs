//! Integration tests of floodgate-monitor: detection quality, crash safety (`kill -9`),
//! batch replay vs streaming, hot reload, rules-file errors.
// Tests unwrap freely: a failure should stop the test with the value shown.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use floodgate_monitor::decision::Decision;
use floodgate_monitor::engine::Engine;
use floodgate_monitor::error::MonitorError;
use floodgate_monitor::fiat::RateTable;
use floodgate_monitor::input::{parse_event, MonitorEvent};
use floodgate_monitor::monitor::{Monitor, Processed};
use floodgate_monitor::pack::Pack;
use floodgate_monitor::sink::{jsonl, DecisionFile};
use floodgate_monitor::synth::{evaluate, generate, to_input_line, SynthConfig, SynthWorld};
use floodgate_types::{AssetRegistry, TenantId};
use proptest::prelude::*;

fn engine(w: &SynthWorld) -> Engine {
    Engine::new(
        Pack::builtin_vn(),
        AssetRegistry::builtin(),
        RateTable::builtin(),
        w.customers.clone(),
        w.facts(),
    )
}

fn small_world(seed: u64) -> SynthWorld {
    generate(SynthConfig { seed, background_customers: 40, per_typology: 2, days: 12 })
}

fn decide_all(m: &mut Monitor, evs: &[MonitorEvent]) -> Vec<Decision> {
    let mut out = Vec::new();
    for e in evs {
        if let Processed::Decided(d) = m.process(e).unwrap() {
            out.push(*d);
        }
    }
    m.commit().unwrap();
    out
}

#[test]
fn builtin_pack_has_at_least_20_rules_with_windows() {
    let p = Pack::builtin_vn();
    assert!(p.rule_count() >= 20, "{}", p.rule_count());
    assert!(!p.windows.is_empty());
}

#[test]
fn detection_quality_on_synthetic_world() {
    let w = generate(SynthConfig::default());
    let scores = evaluate(&w, engine(&w));
    let off: Vec<&str> =
        scores.iter().filter(|s| !s.enabled).map(|s| s.typology.as_str()).collect();
    assert_eq!(off, ["shared_ip"], "planted, but off in vn: reported, not judged");
    assert!(scores.iter().any(|s| s.typology == "shared_bank_account" && s.enabled));
    for s in scores.iter().filter(|s| s.enabled) {
        assert!(s.meets_target(), "{s:?}");
        // Every typology is measured against look-alikes too (issue 14 item 7).
        assert!(s.hard_negatives >= 20, "{s:?}");
    }
}

/// Issue 14 items 2 and 7: a typology a rules file switches on is measured (`shared_ip`,
/// off in vn, planted as IP farms), its carrier-grade-NAT look-alikes raise no alarm, and a
/// switched-on typology the generator did not plant fails as `NOT PLANTED`.
#[test]
fn issue14_eval_measures_what_the_rules_switch_on() {
    let w = small_world(5);
    let on = "extends = \"vn\"\n[typology.shared_ip]\nenabled = true\n";
    let mut e = engine(&w);
    e.set_pack(Pack::parse(Path::new("ip.toml"), on).unwrap());
    let scores = evaluate(&w, e);
    let ip = scores.iter().find(|s| s.typology == "shared_ip").unwrap();
    assert!(ip.enabled && ip.planted >= 60, "{ip:?}");
    assert!(ip.meets_target(), "{ip:?}");
    assert_eq!((ip.hard_negatives, ip.false_alarms), (20, 0), "{ip:?}");
    let mut w = small_world(5);
    w.planted.remove("shared_bank_account");
    let scores = evaluate(&w, engine(&w));
    let s = scores.iter().find(|s| s.typology == "shared_bank_account").unwrap();
    assert_eq!((s.verdict(), s.planted, s.recall), ("NOT PLANTED", 0, 0.0));
}

#[test]
fn issue14_eval_fails_a_typology_that_was_not_planted() {
    let mut w = small_world(4);
    w.planted.remove("fan_in");
    let scores = evaluate(&w, engine(&w));
    let s = scores.iter().find(|s| s.typology == "fan_in").unwrap();
    assert_eq!((s.planted, s.recall), (0, 0.0));
    assert!(!s.meets_target(), "nothing planted must not score as met: {s:?}");
    assert_eq!(s.verdict(), "NOT PLANTED");
    assert!(scores.iter().filter(|s| s.typology != "fan_in").all(|s| s.planted > 0));
}

#[test]
fn every_hit_carries_rule_id_reason_and_source() {
    let w = small_world(3);
    let mut m = Monitor::in_memory(engine(&w));
    let ds = decide_all(&mut m, &w.events);
    assert_eq!(ds.len(), w.events.len());
    assert!(ds.iter().any(|d| !d.hits.is_empty()));
    for d in &ds {
        for h in &d.hits {
            assert!(!h.rule_id.is_empty() && !h.reason.is_empty() && !h.source.is_empty(), "{h:?}");
        }
        assert!(d.rule_errors.is_empty(), "{:?}", d.rule_errors);
    }
}

#[test]
fn rules_errors_name_line_and_column_and_running_rules_stay() {
    let text = "extends = \"vn\"\n\n[[rule]]\nid = \"x\"\nseverity = \"low\"\naction = \"review\"\nwhen = \"transfer.amount_vnd >= (1\"\nreason = \"r\"\n";
    match Pack::parse(Path::new("r.toml"), text) {
        Err(MonitorError::Rules { line, column, .. }) => {
            assert_eq!(line, 7);
            assert!(column > 8, "{column}");
        }
        other => panic!("{other:?}"),
    }
    match Pack::parse(Path::new("r.toml"), "[pack]\nid = 3\n") {
        Err(MonitorError::Rules { line, .. }) => assert_eq!(line, 2),
        other => panic!("{other:?}"),
    }
    // Hot reload between events: a good pack replaces the rules, state and events are kept.
    let w = small_world(5);
    let mut a = Monitor::in_memory(engine(&w));
    let mut b = Monitor::in_memory(engine(&w));
    let half = w.events.len() / 2;
    let mut da = decide_all(&mut a, &w.events[..half]);
    let mut db = decide_all(&mut b, &w.events[..half]);
    let stricter = "extends = \"vn\"\n[typology.travel_rule_missing]\nmin_usd = 1\n";
    b.engine_mut().set_pack(Pack::parse(Path::new("s.toml"), stricter).unwrap());
    da.extend(decide_all(&mut a, &w.events[half..]));
    db.extend(decide_all(&mut b, &w.events[half..]));
    assert_eq!(da.len(), w.events.len());
    assert_eq!(db.len(), w.events.len(), "no event lost across a reload");
    let count = |ds: &[Decision]| ds.iter().filter(|d| d.has("travel_rule_missing")).count();
    assert!(count(&db[half..]) > count(&da[half..]));
    assert_eq!(da[..half], db[..half]);
}

#[test]
fn idempotent_on_transfer_id_across_restart() {
    let w = small_world(9);
    let dir = tempfile::tempdir().unwrap();
    let mut m = Monitor::open(engine(&w), dir.path()).unwrap();
    let first = decide_all(&mut m, &w.events);
    drop(m);
    let mut m = Monitor::open(engine(&w), dir.path()).unwrap();
    assert!(decide_all(&mut m, &w.events).is_empty());
    assert_eq!(m.decisions_after(0).unwrap(), first);
}

/// With a store, memory keeps only a filter of the decided ids (issue 12's load test saw the
/// full set grow without bound); a repeated transfer is still refused whether its decision is
/// pending, committed or from before a restart, and every other transfer is decided once.
#[test]
fn a_repeat_is_refused_pending_committed_and_after_restart() {
    let w = small_world(9);
    let dir = tempfile::tempdir().unwrap();
    let mut m = Monitor::open(engine(&w), dir.path()).unwrap();
    let (first, rest) = w.events.split_first().unwrap();
    assert!(matches!(m.process(first).unwrap(), Processed::Decided(_)));
    assert_eq!(m.process(first).unwrap(), Processed::Duplicate, "pending in this group");
    m.commit().unwrap();
    assert_eq!(m.process(first).unwrap(), Processed::Duplicate, "committed");
    let mut decided = 1;
    for e in rest {
        if let Processed::Decided(_) = m.process(e).unwrap() {
            decided += 1;
        }
        assert_eq!(m.process(e).unwrap(), Processed::Duplicate, "{}", e.entry.id);
    }
    m.commit().unwrap();
    assert_eq!(decided, w.events.len(), "no new transfer taken for a repeat");
    drop(m);
    let mut m = Monitor::open(engine(&w), dir.path()).unwrap();
    for e in &w.events {
        assert_eq!(m.process(e).unwrap(), Processed::Duplicate, "{}", e.entry.id);
    }
}

#[test]
fn issue_10_two_tenants_decide_the_same_transfer_ids_apart() {
    let w = small_world(9);
    let dir = tempfile::tempdir().unwrap();
    let t = |s: &str| TenantId::new(s).unwrap();
    let mut a = Monitor::open_tenant(engine(&w), dir.path(), t("vasp-a")).unwrap();
    let first = decide_all(&mut a, &w.events);
    drop(a);
    let mut b = Monitor::open_tenant(engine(&w), dir.path(), t("vasp-b")).unwrap();
    assert_eq!(b.committed(), 0, "vasp-a's decisions are not vasp-b's");
    let second = decide_all(&mut b, &w.events);
    assert_eq!(second, first, "vasp-b's windows hold its own transfers only");
    drop(b);
    let mut a = Monitor::open_tenant(engine(&w), dir.path(), t("vasp-a")).unwrap();
    assert_eq!(a.committed(), first.len() as u64);
    assert!(decide_all(&mut a, &w.events).is_empty(), "still decided once for vasp-a");
    assert_eq!(a.decisions_after(0).unwrap(), first);
    assert_eq!(Monitor::open(engine(&w), dir.path()).unwrap().committed(), 0, "nor the default's");
}

/// A catch-up reads stored decisions a page at a time (an output file or the alert feed far
/// behind a long run's store is not read into memory at once): the pages of one tenant, its
/// rows interleaved with another tenant's in the store, are its decisions after the skip, in
/// order, each page full but the last.
#[test]
fn stored_decisions_are_read_in_pages_of_one_tenant() {
    let w = small_world(9);
    let dir = tempfile::tempdir().unwrap();
    let t = |s: &str| TenantId::new(s).unwrap();
    let half = w.events.len() / 2;
    let mut a = Monitor::open_tenant(engine(&w), dir.path(), t("vasp-a")).unwrap();
    let mut want = decide_all(&mut a, &w.events[..half]);
    drop(a);
    let mut b = Monitor::open_tenant(engine(&w), dir.path(), t("vasp-b")).unwrap();
    decide_all(&mut b, &w.events);
    drop(b);
    let mut a = Monitor::open_tenant(engine(&w), dir.path(), t("vasp-a")).unwrap();
    want.extend(decide_all(&mut a, &w.events[half..]));
    assert!(want.len() > 10, "{}", want.len());
    for (skip, page) in [(0, 1), (2, 3), (5, 4), (0, 10_000)] {
        let pages: Vec<Vec<Decision>> =
            a.decision_pages(skip as u64, page).map(Result::unwrap).collect();
        let rest = want.len() - skip;
        assert_eq!(pages.len(), rest.div_ceil(page), "skip {skip}, page {page}");
        assert!(pages.iter().rev().skip(1).all(|p| p.len() == page), "skip {skip}, page {page}");
        assert_eq!(pages.concat(), want[skip..], "skip {skip}, page {page}");
    }
    assert_eq!(a.decision_pages(want.len() as u64, 4).count(), 0, "nothing after the end");
    assert_eq!(a.decisions_after(3).unwrap(), want[3..]);
}

// Batch replay of a day's transfers and streaming them one by one (with commits, restarts
// and a rebuilt state in between) give identical decisions.
proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    #[test]
    fn batch_replay_equals_streaming(seed in 0u64..1000, cuts in proptest::collection::vec(0usize..400, 0..4)) {
        let w = small_world(seed);
        let mut batch = Monitor::in_memory(engine(&w));
        let want = decide_all(&mut batch, &w.events);
        let dir = tempfile::tempdir().unwrap();
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % w.events.len()).collect();
        cuts.sort_unstable();
        let mut got = Vec::new();
        let mut m = Monitor::open(engine(&w), dir.path()).unwrap();
        for (i, e) in w.events.iter().enumerate() {
            if cuts.contains(&i) {
                m.commit().unwrap();
                drop(m);
                m = Monitor::open(engine(&w), dir.path()).unwrap();
            }
            if let Processed::Decided(d) = m.process(e).unwrap() {
                got.push(*d);
            }
            m.commit().unwrap();
        }
        prop_assert_eq!(&want, &got);
        prop_assert_eq!(m.decisions_after(0).unwrap(), want);
    }
}

const WORKER_DIR: &str = "FLOODGATE_KILL9_DIR";

/// The child process of `kill_9_mid_stream_then_restart`: streams `input.jsonl` through a
/// persistent monitor into `out.jsonl`, slowly, until killed. Ignored in normal runs.
#[test]
#[ignore = "child process of kill_9_mid_stream_then_restart"]
fn kill9_worker() {
    let Ok(dir) = std::env::var(WORKER_DIR) else { return };
    let dir = Path::new(&dir);
    let w = small_world(11);
    let mut m = Monitor::open(engine(&w), &dir.join("data")).unwrap();
    let mut out = DecisionFile::open(&dir.join("out.jsonl"), &m, jsonl).unwrap();
    let text = std::fs::read_to_string(dir.join("input.jsonl")).unwrap();
    let slow = std::env::var("FLOODGATE_KILL9_SLOW").is_ok();
    let mut held = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let ev = parse_event(
            Path::new("input.jsonl"),
            i as u64 + 1,
            line,
            &AssetRegistry::builtin(),
            None,
        )
        .unwrap();
        if let Processed::Decided(d) = m.process(&ev).unwrap() {
            held.push(*d);
        }
        if held.len() >= 7 {
            m.commit().unwrap();
            out.append(&held, jsonl).unwrap();
            held.clear();
            if slow {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
    m.commit().unwrap();
    out.append(&held, jsonl).unwrap();
}

#[test]
fn kill_9_mid_stream_then_restart() {
    let w = small_world(11);
    let tmp = tempfile::tempdir().unwrap();
    let input: String = w.events.iter().map(|e| to_input_line(e) + "\n").collect();
    std::fs::write(tmp.path().join("input.jsonl"), &input).unwrap();
    // Uninterrupted reference run, in memory.
    let mut r = Monitor::in_memory(engine(&w));
    let want: Vec<String> = decide_all(&mut r, &w.events)
        .iter()
        .map(|d| {
            let mut s = String::new();
            jsonl(d, &mut s);
            s
        })
        .collect();
    let exe = std::env::current_exe().unwrap();
    let run = |slow: bool| {
        let mut c = Command::new(&exe);
        c.args(["--exact", "kill9_worker", "--ignored", "--test-threads", "1"])
            .env(WORKER_DIR, tmp.path());
        if slow {
            c.env("FLOODGATE_KILL9_SLOW", "1");
        }
        let err = std::fs::File::create(tmp.path().join(if slow {
            "worker1.err"
        } else {
            "worker2.err"
        }))
        .unwrap();
        c.stdout(std::process::Stdio::null()).stderr(err);
        c
    };
    let out = tmp.path().join("out.jsonl");
    let lines = || std::fs::read_to_string(&out).map(|s| s.lines().count()).unwrap_or(0);
    let mut child = run(true).spawn().unwrap();
    let t0 = Instant::now();
    while lines() < want.len() / 3 && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL on Unix: kill -9
    child.wait().unwrap();
    let at_kill = lines();
    assert!(
        at_kill > 0 && at_kill < want.len(),
        "killed mid-stream ({at_kill} of {}): {}",
        want.len(),
        std::fs::read_to_string(tmp.path().join("worker1.err")).unwrap_or_default()
    );
    let status = run(false).status().unwrap();
    assert!(status.success());
    let got: Vec<String> =
        std::fs::read_to_string(&out).unwrap().lines().map(|l| format!("{l}\n")).collect();
    assert_eq!(got.len(), want.len(), "none missing, none doubled");
    assert_eq!(got, want);
}

#[path = "monitor/fiat.rs"]
mod fiat;
#[path = "monitor/groups.rs"]
mod groups;
#[path = "monitor/reasons.rs"]
mod reasons;
#[path = "monitor/record_file.rs"]
mod record_file;
#[path = "monitor/snapshots.rs"]
mod snapshots;
