//! End-to-end tests of `floodgate lists` and `floodgate screen`, run as a user would run them,
//! on the real OFAC files in the shared test data.

// In tests a panic is the failure report; helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used)]

mod common;

use common::floodgate;

use std::path::{Path, PathBuf};
use std::process::Output;

/// Lazarus Group's Ethereum address as OFAC lists it (EIP-55), here in lowercase.
const LAZARUS_ETH: &str = "0x08723392ed15743cc38513c4925f5e6be5c17243";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs and checks the exit code; returns stdout.
#[track_caller]
fn code(out: Output, want: i32) -> String {
    assert_eq!(
        out.status.code(),
        Some(want),
        "expected exit {want}\nstdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    if want == 2 {
        text(&out.stderr)
    } else {
        text(&out.stdout)
    }
}

fn addresses_dir() -> Option<PathBuf> {
    floodgate_testdata::dir("sanctions/ofac-crypto-addresses")
}

#[test]
fn screening_without_lists_is_an_error_that_says_what_to_run() {
    let dir = tempfile::tempdir().unwrap();
    let err = code(floodgate(dir.path()).args(["screen", "name", "Anyone"]).output().unwrap(), 2);
    assert!(err.contains("floodgate lists load"), "{err}");
    let err = code(
        floodgate(dir.path())
            .args(["screen", "address", "ethereum", LAZARUS_ETH])
            .output()
            .unwrap(),
        2,
    );
    assert!(err.contains("floodgate lists load"), "{err}");
    assert!(!dir.path().join("screening.db").exists(), "a failed screen creates no database");
}

#[test]
fn address_lists_hit_in_lowercase_miss_clean_addresses_and_survive_a_bad_file() {
    let Some(addrs) = addresses_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = code(floodgate(dir.path()).args(["lists", "load"]).arg(&addrs).output().unwrap(), 0);
    assert!(out.contains("ofac-addresses"), "{out}");

    let hit = code(
        floodgate(dir.path())
            .args(["screen", "address", "ethereum", LAZARUS_ETH])
            .output()
            .unwrap(),
        1,
    );
    assert!(hit.contains("0x08723392Ed15743cc38513C4925f5e6be5c17243"), "{hit}");
    let clean = code(
        floodgate(dir.path())
            .args(["screen", "address", "eth", "0x0000000000000000000000000000000000000001"])
            .output()
            .unwrap(),
        0,
    );
    assert!(clean.contains("no hit"), "{clean}");
    // An invalid address is an error, not "no hit".
    code(
        floodgate(dir.path()).args(["screen", "address", "ethereum", "0x1234"]).output().unwrap(),
        2,
    );

    // A bad version of the same list: the file and line are named, nothing changes.
    let bad_dir = tempfile::tempdir().unwrap();
    let bad = bad_dir.path().join("sanctioned_addresses_ETH.txt");
    std::fs::write(&bad, "0x098B716B8Aaf21512996dC57EB0615e2383E2f96\n0xabc def\n").unwrap();
    let err = code(floodgate(dir.path()).args(["lists", "load"]).arg(&bad).output().unwrap(), 2);
    assert!(err.contains("sanctioned_addresses_ETH.txt") && err.contains("line 2"), "{err}");
    assert!(err.contains("nothing was changed"), "{err}");
    code(
        floodgate(dir.path())
            .args(["screen", "address", "ethereum", LAZARUS_ETH])
            .output()
            .unwrap(),
        1,
    );
    let show = code(floodgate(dir.path()).args(["lists", "show"]).output().unwrap(), 0);
    assert!(show.contains("ofac-addresses") && show.contains(addrs.to_str().unwrap()), "{show}");
}

#[test]
fn sdn_names_and_addresses_end_to_end() {
    let Some(sdn_dir) = floodgate_testdata::dir("sanctions/ofac-sdn") else { return };
    let Some(addrs) = addresses_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sdn = sdn_dir.join("sdn_advanced.xml.bz2");
    let out = code(
        floodgate(dir.path())
            .args(["lists", "load", "--format", "json"])
            .arg(&addrs)
            .arg(&sdn)
            .output()
            .unwrap(),
        0,
    );
    let loaded: serde_json::Value = serde_json::from_str(&out).unwrap();
    let sdn_row = loaded.as_array().unwrap().iter().find(|r| r["list"] == "ofac-sdn").unwrap();
    assert_eq!(sdn_row["version"], "2025-11-19");
    assert_eq!(sdn_row["entities"], 18_367);
    assert_eq!(sdn_row["added"], 18_367);

    // No fixture lists ZTE, so the organization case uses an SDN entity.
    let hit = code(
        floodgate(dir.path())
            .args(["screen", "name", "Lazarus Group", "--type", "organization"])
            .output()
            .unwrap(),
        1,
    );
    assert!(hit.contains("27307") && hit.contains("DPRK3"), "{hit}");

    // The address hit names the SDN entity, found from the lowercase form.
    let hit = code(
        floodgate(dir.path())
            .args(["screen", "address", "ethereum", LAZARUS_ETH])
            .output()
            .unwrap(),
        1,
    );
    assert!(hit.contains("Lazarus Group"), "{hit}");

    // JSON carries the per-feature explanation.
    let json = code(
        floodgate(dir.path())
            .args(["screen", "name", "Lazarus Group", "--country", "KP", "--format", "json"])
            .output()
            .unwrap(),
        1,
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let first = &v["hits"][0];
    assert_eq!(first["entity_id"], "27307");
    assert_eq!(first["features"][0]["feature"], "name");
    assert!(first["features"][0]["evidence"].as_str().unwrap().contains("lazarus"));
    assert!(v["notes"][0].as_str().unwrap().contains("Unihan"), "{json}");

    // A person of no listed name: exit 0.
    let none = code(
        floodgate(dir.path())
            .args(["screen", "name", "Margarethe Oosterhuis-Lindqvist", "--type", "person"])
            .output()
            .unwrap(),
        0,
    );
    assert!(none.contains("no hit"), "{none}");

    // Batch: names and an address; hits as CSV; exit 1.
    let input = dir.path().join("customers.csv");
    std::fs::write(
        &input,
        format!(
            "id,name,type,dob,country,chain,address\n\
             c-1,Lazarus Group,organization,,,,\n\
             c-2,Margarethe Oosterhuis-Lindqvist,person,1971,NL,,\n\
             w-1,,,,,ethereum,{LAZARUS_ETH}\n"
        ),
    )
    .unwrap();
    let csv_out = code(
        floodgate(dir.path())
            .args(["screen", "batch", "--format", "csv"])
            .arg(&input)
            .output()
            .unwrap(),
        1,
    );
    let mut r = csv::Reader::from_reader(csv_out.as_bytes());
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert!(rows.iter().any(|x| &x[1] == "c-1" && &x[5] == "27307"), "{csv_out}");
    assert!(rows.iter().any(|x| &x[1] == "w-1" && &x[5] == "27307"), "{csv_out}");
    assert!(!rows.iter().any(|x| &x[1] == "c-2"), "{csv_out}");

    // The same customers as a spreadsheet writes them (CRLF): the hit names line 3, the
    // line of c-1, not line 2 (c-2's).
    let crlf = dir.path().join("customers-crlf.csv");
    std::fs::write(
        &crlf,
        "id,name,type,dob,country,chain,address\r\n\
         c-2,Margarethe Oosterhuis-Lindqvist,person,1971,NL,,\r\n\
         c-1,Lazarus Group,organization,,,,\r\n",
    )
    .unwrap();
    let csv_out = code(
        floodgate(dir.path())
            .args(["screen", "batch", "--format", "csv"])
            .arg(&crlf)
            .output()
            .unwrap(),
        1,
    );
    let mut r = csv::Reader::from_reader(csv_out.as_bytes());
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert!(rows.iter().any(|x| &x[0] == "3" && &x[1] == "c-1"), "{csv_out}");
    assert!(rows.iter().all(|x| &x[0] == "3"), "{csv_out}");

    // Reloading the address list with a delisted address reports the registered subject's
    // removed hit (w-1 was registered by the batch through its id column).
    let older = dir.path().join("older");
    std::fs::create_dir(&older).unwrap();
    std::fs::write(
        older.join("sanctioned_addresses_XBT.txt"),
        "12QtD5BFwRsdNsAZY76UVE1xyCGNTojH9h\n",
    )
    .unwrap();
    let out = code(
        floodgate(dir.path())
            .args(["lists", "load", "--allow-shrink", "--format", "json"])
            .arg(&older)
            .output()
            .unwrap(),
        0,
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let removed = v[0]["removed_hits"].as_array().unwrap();
    assert!(removed.iter().any(|h| h["subject"] == "w-1"), "{out}");
    assert!(removed.iter().all(|h| h["list_version"] == v[0]["version"]), "{out}");
}

#[test]
fn pairs_print_scores_and_explanations() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pairs.csv");
    std::fs::write(
        &input,
        "name1,name2,type\n\
         Nguyễn Văn Đài,Nguyen Van Dai,person\n\
         Nguyen Van Thang,Nguyễn Văn Thành,person\n\
         ZTE Corp.,ZTE Corporation,organization\n",
    )
    .unwrap();
    let out = code(
        floodgate(dir.path())
            .args(["screen", "pairs", "--format", "json"])
            .arg(&input)
            .output()
            .unwrap(),
        1,
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["hit"], true, "{out}");
    assert_eq!(rows[1]["hit"], false, "{out}");
    assert_eq!(rows[2]["hit"], true, "{out}");
    assert!(rows[2]["explanation"].as_str().unwrap().contains("legal form"), "{out}");
    assert!(!rows[0]["explanation"].as_str().unwrap().contains("unavailable"), "{out}");

    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "first,second\na,b\n").unwrap();
    let err = code(floodgate(dir.path()).args(["screen", "pairs"]).arg(&bad).output().unwrap(), 2);
    assert!(err.contains("bad.csv") && err.contains("name1"), "{err}");
}

#[test]
fn generic_csv_list_with_name_and_version_flags() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../screen/tests/data/generic-list-synthetic.csv");
    let dir = tempfile::tempdir().unwrap();
    code(
        floodgate(dir.path())
            .args(["lists", "load", "--list", "vn-warning", "--version", "2025-07-01"])
            .arg(&example)
            .output()
            .unwrap(),
        0,
    );
    let show = code(
        floodgate(dir.path()).args(["lists", "show", "--format", "json"]).output().unwrap(),
        0,
    );
    let v: serde_json::Value = serde_json::from_str(&show).unwrap();
    assert_eq!(v[0]["list"], "vn-warning");
    assert_eq!(v[0]["version"], "2025-07-01");
    assert_eq!(v[0]["entities"], 4);
    assert!(v[0]["loaded_at"].as_str().unwrap().len() >= 20);
    // Without diacritics and with the year of birth.
    let out = code(
        floodgate(dir.path())
            .args(["screen", "name", "Tran Thi Minh Khue", "--dob", "1987", "--format", "csv"])
            .output()
            .unwrap(),
        1,
    );
    assert!(out.contains("vnw-002") && out.contains("year of birth 1987"), "{out}");
    // A wallet of the list, given in Tron hex form.
    code(
        floodgate(dir.path())
            .args(["screen", "address", "tron", "412222222222222222222222222222222222222222"])
            .output()
            .unwrap(),
        1,
    );
}

#[test]
fn sino_vietnamese_matching_works_out_of_the_box() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("pairs.csv");
    std::fs::write(
        &input,
        "name1,name2,type\nVương Kỳ Sơn,Wang Qishan,person\nVương Kỳ Sơn,王岐山,person\n",
    )
    .unwrap();
    // No --unihan, no FLOODGATE_UNIHAN: the built-in extract.
    let out = code(
        floodgate(dir.path())
            .args(["screen", "pairs", "--format", "json"])
            .arg(&input)
            .env_remove("FLOODGATE_UNIHAN")
            .output()
            .unwrap(),
        1,
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for row in v.as_array().unwrap() {
        assert_eq!(row["hit"], true, "{out}");
        let ev = row["explanation"].as_str().unwrap();
        assert!(ev.contains("Vương->wang") || ev.contains("Vương=王(wang)"), "{out}");
    }

    // A list that writes the name only in Chinese characters.
    let list = dir.path().join("han-only.csv");
    std::fs::write(
        &list,
        "# list: han-only\n# version: 2026-01-01\nid,name,type\nh-1,王岐山,person\n",
    )
    .unwrap();
    code(floodgate(dir.path()).args(["lists", "load"]).arg(&list).output().unwrap(), 0);
    let out = code(
        floodgate(dir.path())
            .args(["screen", "name", "Vương Kỳ Sơn", "--format", "json"])
            .env_remove("FLOODGATE_UNIHAN")
            .output()
            .unwrap(),
        1,
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["hits"][0]["entity_id"], "h-1", "{out}");
    assert!(v["hits"][0]["score"].as_f64().unwrap() >= 0.8, "{out}");
    assert!(v["notes"][0].as_str().unwrap().contains("built-in"), "{out}");

    // --unihan overrides with a full table.
    let Some(unicode) = floodgate_testdata::dir("unicode") else { return };
    let out = code(
        floodgate(dir.path())
            .args(["screen", "pairs", "--format", "json"])
            .arg(&input)
            .env("FLOODGATE_UNIHAN", unicode.join("Unihan_Readings.txt.bz2"))
            .output()
            .unwrap(),
        1,
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["hit"], true, "{out}");
    assert!(v[0]["explanation"].as_str().unwrap().contains("Sino-Vietnamese"), "{out}");
}
