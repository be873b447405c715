//! `floodgate screen name … --related` end to end: the relationships a real OFAC SDN file
//! publishes, the linked parties screened in turn, and OFAC's 50 % rule along an ownership
//! chain of an OpenSanctions (FollowTheMoney) file.

// In tests a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod common;

use common::floodgate;

fn run(dir: &std::path::Path, args: &[&str], want: i32) -> String {
    let out = floodgate(dir).args(args).output().unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(want), "{args:?}\nstdout: {stdout}\nstderr: {stderr}");
    stdout.into_owned()
}

#[test]
fn related_screens_the_parties_a_real_sdn_entry_is_linked_to() {
    let Some(sdn) = floodgate_testdata::file("sanctions/ofac-sdn/sdn_advanced.xml.bz2") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(d, &["lists", "load", sdn.to_str().unwrap()], 0);

    // Without --related: the hit's relationships are shown, nothing more is screened.
    let plain = run(d, &["screen", "name", "New Ahmadi Company Ltd"], 1);
    assert!(plain.contains("relationships of ofac-sdn 13128 (NEW AHMADI LTD.):"), "{plain}");
    assert!(plain.contains("owns or controls: "), "{plain}");
    assert!(plain.contains("(13124)"), "{plain}");
    assert!(!plain.lines().any(|l| l.trim_start().starts_with("screened:")), "{plain}");

    // With --related: the owner is screened, its own entry first, with its score.
    let rel = run(d, &["screen", "name", "New Ahmadi Company Ltd", "--related"], 1);
    let lines: Vec<&str> = rel.lines().collect();
    let at = lines.iter().position(|l| l.contains("owns or controls: ") && l.contains("(13124)"));
    let at = at.unwrap_or_else(|| panic!("{rel}"));
    let screened = lines[at + 1].trim();
    assert!(screened.starts_with("screened: ofac-sdn 13124 "), "{rel}");
    assert!(screened.contains("BARAKZAI"), "{rel}");
    assert!(screened.contains("score 1.000") || screened.contains("score 0.9"), "{rel}");

    // JSON: `related` names the hit it came through, the relation and the linked entry first.
    let json =
        run(d, &["screen", "name", "New Ahmadi Company Ltd", "--related", "--format", "json"], 1);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let related = v["related"].as_array().unwrap();
    let to_owner = related
        .iter()
        .find(|r| r["via"] == "13128" && r["relation"]["other_id"] == "13124")
        .unwrap_or_else(|| panic!("{json}"));
    assert_eq!(to_owner["list"], "ofac-sdn");
    assert_eq!(to_owner["hits"][0]["entity_id"], "13124");
    assert!(to_owner["hits"][0].get("fifty_percent_rule").is_none(), "the XML states no share");
    let plain_json = run(d, &["screen", "name", "New Ahmadi Company Ltd", "--format", "json"], 1);
    let v: serde_json::Value = serde_json::from_str(&plain_json).unwrap();
    assert!(
        v.get("related").is_none_or(|r| r.as_array().is_some_and(Vec::is_empty)),
        "{plain_json}"
    );
}

#[test]
fn related_shows_the_fifty_percent_rule_along_an_ownership_chain() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let list = d.join("entities.ftm.json");
    let lines = [
        r#"{"id":"p1","schema":"Person","properties":{"name":["Ivan Petrovich Sidorov"],"topics":["sanction"]},"target":true}"#,
        r#"{"id":"b1","schema":"Company","properties":{"name":["Baltic Amber Holding LLC"]},"target":false}"#,
        r#"{"id":"c1","schema":"Company","properties":{"name":["Kaliningrad Amber Export JSC"]},"target":false}"#,
        r#"{"id":"o1","schema":"Ownership","properties":{"owner":["p1"],"asset":["b1"],"percentage":["60"]}}"#,
        r#"{"id":"o2","schema":"Ownership","properties":{"owner":["b1"],"asset":["c1"],"percentage":["60"]}}"#,
    ];
    std::fs::write(&list, lines.join("\n")).unwrap();
    run(d, &["lists", "load", list.to_str().unwrap()], 0);
    let out = run(d, &["screen", "name", "Kaliningrad Amber Export", "--related"], 1);
    assert!(
        out.contains(
            "c1: OFAC 50 % rule: owned 60 % by blocked party: Baltic Amber Holding LLC (b1) 60 % \
             [itself blocked: owned 60 % by listed party: Ivan Petrovich Sidorov (p1) 60 %]"
        ),
        "{out}"
    );
    // The owner, screened in turn, carries its own flag.
    assert!(
        out.lines().any(|l| l
            .trim()
            .starts_with("screened: opensanctions b1 Baltic Amber Holding LLC")
            && l.contains(
                "OFAC 50 % rule: owned 60 % by listed party: Ivan Petrovich Sidorov (p1) 60 %"
            )),
        "{out}"
    );
}
