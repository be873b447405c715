//! Today's binary reads a data directory written by an earlier one (issue 10 item 6): every
//! on-disk format has a small frozen file in `tests/fixtures/formats/datadir` (see its
//! README), so a format change is always a conscious migration.

// In tests a panic is the failure report; helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{floodgate, ok};

const SATOSHI: &str = "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S";
const HAL: &str = "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

fn json(data: &Path, args: &[&str]) -> serde_json::Value {
    let out = ok(floodgate(data).args(args).args(["--format", "json"]).output().unwrap());
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

#[test]
fn a_data_directory_of_2026_12_04_is_read_with_the_same_answers() {
    let frozen = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    copy_dir(&frozen.join("datadir"), &data);

    // Transfer store.
    let s = json(&data, &["status"]);
    let btc = &s["chains"][0];
    assert_eq!(
        (&btc["chain"], &btc["blocks"], &btc["max_height"], &btc["outputs"], &btc["inputs"]),
        (&"bitcoin".into(), &439.into(), &438.into(), &451.into(), &446.into()),
        "{s}"
    );
    assert!(s["ledger_entries"].as_u64().unwrap() > 0, "{s}");

    // Graph segments (no rebuild: the frozen graph answers).
    let p = json(&data, &["trace", "path", SATOSHI, HAL]);
    assert_eq!(p[0]["steps"][1]["amount"], "1000000000", "{p}");
    // Clustering file: it opens, but it was computed with clustering rules revision 1 and
    // this build's CoinJoin rule is revision 2 (issue 15), so `trace build` recomputes it
    // and says why (the frozen file itself is never rewritten: this is a copy).
    let pack = frozen.join("tagpack.yaml");
    let b = json(&data, &["trace", "build", "--tagpack", pack.to_str().unwrap()]);
    assert_eq!((&b["new_edges"], &b["clustering"]["how"]), (&0.into(), &"rebuilt".into()), "{b}");
    let reason = b["clustering"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("rules revision 1 (this build uses 2)"), "{b}");
    let again = json(&data, &["trace", "build", "--tagpack", pack.to_str().unwrap()]);
    assert_eq!(again["clustering"]["how"], "current", "{again}");
    let e = json(&data, &["trace", "entity", SATOSHI]);
    assert_eq!(e["addresses"][0], SATOSHI, "{e}");

    // Screening database.
    let h = json(&data, &["lists", "history"]);
    assert_eq!((&h[0]["list"], &h[0]["version"]), (&"frozen-list".into(), &"2026-12-04".into()));
    let out = floodgate(&data)
        .args([
            "screen",
            "address",
            "tron",
            "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a hit: {}", String::from_utf8_lossy(&out.stderr));
    let hit: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(hit.to_string().contains("\"fz-001\""), "{hit}");

    // Monitor state: the frozen run's transfers are already decided.
    let out = floodgate(&data).arg("monitor").arg(frozen.join("events.jsonl")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty(), "nothing decided twice");
    let new = data.join("new.jsonl");
    std::fs::write(
        &new,
        r#"{"id":"f4","time":"2025-11-05T09:00:00Z","customer_id":"c3","direction":"deposit","asset":"BTC","amount":"0.1"}"#,
    )
    .unwrap();
    let out = ok(floodgate(&data).arg("monitor").arg(&new).output().unwrap());
    assert!(out.contains(r#""transfer_id":"f4""#), "a new transfer is decided: {out}");

    // Cases: the alerts and an intact audit chain.
    let alerts = json(&data, &["alerts"]);
    let mut keys: Vec<&str> =
        alerts.as_array().unwrap().iter().map(|a| a["dedup_key"].as_str().unwrap()).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "monitor:f1",
            "monitor:f2",
            "monitor:f3",
            "monitor:f4",
            "screen:frozen-list:fz-001:TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
        ],
        "the frozen run's three, then the address screened and f4: {alerts}"
    );
    let v = ok(floodgate(&data).args(["audit", "verify"]).output().unwrap());
    assert!(v.contains("true"), "{v}");
}

#[test]
fn a_database_from_a_newer_floodgate_is_refused_and_left_unchanged() {
    let frozen = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats");
    for (db, args) in [
        ("transfers.db", vec!["status"]),
        ("screening.db", vec!["lists", "show"]),
        ("monitor.db", vec!["monitor", "-"]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        copy_dir(&frozen.join("datadir"), &data);
        let path = data.join(db);
        let set = |v: i64| {
            let c = rusqlite::Connection::open(&path).unwrap();
            c.pragma_update(None, "user_version", v).unwrap();
        };
        set(99);
        let before = std::fs::read(&path).unwrap();
        let out = floodgate(&data).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{db}: {err}");
        assert!(err.contains(db) && err.contains("upgrade floodgate"), "{db}: {err}");
        assert_eq!(std::fs::read(&path).unwrap(), before, "{db} is left unchanged");
    }
}
