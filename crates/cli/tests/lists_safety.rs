//! A sanctions list is never silently emptied or shrunk, every load is recorded, and list input
//! cannot exhaust memory (issue 9, items 1 and 8): run through the real `floodgate` binary on
//! the real OFAC files in the shared test data.

// In tests a panic is the failure report; helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used)]

mod common;

use common::{fails, floodgate, ok};

use std::path::{Path, PathBuf};
use std::process::Output;

/// Lazarus Group's Ethereum address as OFAC lists it, in lowercase.
const LAZARUS_ETH: &str = "0x08723392ed15743cc38513c4925f5e6be5c17243";

fn sanctions(sub: &str) -> Option<PathBuf> {
    floodgate_testdata::dir(&format!("sanctions/{sub}"))
}

#[track_caller]
fn exit(out: &Output) -> Option<i32> {
    out.status.code()
}

/// Screens Lazarus Group's ETH address: must hit (exit 1) and name the list version.
#[track_caller]
fn lazarus_address_hits(data: &Path, version: &str) {
    let out =
        floodgate(data).args(["screen", "address", "ethereum", LAZARUS_ETH]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(exit(&out), Some(1), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("0x08723392Ed15743cc38513C4925f5e6be5c17243"), "{stdout}");
    assert!(stdout.contains(&format!("lists screened: ofac-addresses {version}")), "{stdout}");
}

fn history_json(data: &Path) -> Vec<serde_json::Value> {
    let out = ok(floodgate(data).args(["lists", "history", "--format", "json"]).output().unwrap());
    serde_json::from_str(&out).unwrap()
}

#[test]
fn an_empty_folder_or_the_sdn_folder_never_replaces_the_address_list() {
    let Some(addrs) = sanctions("ofac-crypto-addresses") else { return };
    let Some(sdn_dir) = sanctions("ofac-sdn") else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let loaded = ok(floodgate(&data)
        .args(["lists", "load", "--by", "alice", "--format", "json"])
        .arg(&addrs)
        .output()
        .unwrap());
    let loaded: Vec<serde_json::Value> = serde_json::from_str(&loaded).unwrap();
    assert_eq!(loaded[0]["entities"], 758);
    let version = loaded[0]["version"].as_str().unwrap().to_owned();

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for folder in [&empty, &sdn_dir] {
        let err = fails(floodgate(&data).args(["lists", "load"]).arg(folder).output().unwrap());
        assert!(err.contains(&folder.display().to_string()), "{err}");
        assert!(err.contains("no list file floodgate recognises"), "{err}");
        assert!(err.contains("nothing was changed"), "{err}");
        lazarus_address_hits(&data, &version);
    }

    // A file that parses to no address at all is refused, naming the counts.
    let stub = dir.path().join("stub");
    std::fs::create_dir(&stub).unwrap();
    std::fs::write(stub.join("sanctioned_addresses_ETH.txt"), "\n").unwrap();
    let err = fails(floodgate(&data).args(["lists", "load"]).arg(&stub).output().unwrap());
    assert!(err.contains("no entries (before: 758, after: 0)"), "{err}");
    lazarus_address_hits(&data, &version);

    // Only the good load is in the history: who, and each file's SHA-256.
    let history = history_json(&data);
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0]["loaded_by"], "alice");
    assert_eq!(history[0]["entities_before"], 0);
    assert_eq!(history[0]["entities_after"], 758);
    let eth = history[0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("sanctioned_addresses_ETH.txt"))
        .unwrap()
        .clone();
    let bytes = std::fs::read(addrs.join("sanctioned_addresses_ETH.txt")).unwrap();
    assert_eq!(eth["bytes"], bytes.len());
    assert_eq!(eth["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn a_shrink_past_the_limit_is_refused_with_counts_unless_allowed() {
    let Some(addrs) = sanctions("ofac-crypto-addresses") else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(floodgate(&data).args(["lists", "load"]).arg(&addrs).output().unwrap());
    let version = history_json(&data)[0]["version"].as_str().unwrap().to_owned();

    // The real list minus its ETH file: 758 → fewer entries than 90 %.
    let part = dir.path().join("part");
    std::fs::create_dir(&part).unwrap();
    let mut kept = 0;
    for e in std::fs::read_dir(&addrs).unwrap() {
        let p = e.unwrap().path();
        let n = p.file_name().unwrap().to_str().unwrap().to_owned();
        if n.starts_with("sanctioned_addresses_") && n.ends_with(".txt") && !n.contains("ETH") {
            let text = std::fs::read_to_string(&p).unwrap();
            kept += text.lines().filter(|l| !l.trim().is_empty()).count();
            std::fs::write(part.join(&n), text).unwrap();
        }
    }
    assert!(kept * 10 < 758 * 9, "the ETH file holds more than 10 % of the list");
    let out = floodgate(&data).args(["lists", "load"]).arg(&part).output().unwrap();
    let err = fails(out);
    assert!(err.contains(&format!("from 758 to {kept} entries")), "{err}");
    assert!(err.contains("more than the 10% allowed"), "{err}");
    assert!(err.contains("--allow-shrink"), "{err}");
    lazarus_address_hits(&data, &version);

    // A larger allowed share (flag, environment) lets it through, as does --allow-shrink.
    let pct = (758 - kept) * 100 / 758 + 1;
    let err = fails(
        floodgate(&data)
            .args(["lists", "load"])
            .arg(&part)
            .env("FLOODGATE_MAX_SHRINK_PERCENT", (pct - 1).to_string())
            .output()
            .unwrap(),
    );
    assert!(err.contains(&format!("more than the {}% allowed", pct - 1)), "{err}");
    let out = ok(floodgate(&data)
        .args(["lists", "load", "--allow-shrink", "--by", "bob", "--format", "json"])
        .arg(&part)
        .output()
        .unwrap());
    let out: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(out[0]["entities_before"], 758);
    assert_eq!(out[0]["entities_after"], kept);
    let history = history_json(&data);
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["loaded_by"], "bob");
    assert_eq!(history[0]["allow_shrink"], true);
    assert_eq!(history[0]["previous_version"].as_str().unwrap(), version);
    let out =
        floodgate(&data).args(["screen", "address", "ethereum", LAZARUS_ETH]).output().unwrap();
    assert_eq!(exit(&out), Some(0), "the ETH address was delisted by the allowed load");
}

#[test]
fn an_empty_sdn_xml_never_replaces_the_sdn() {
    let Some(sdn_dir) = sanctions("ofac-sdn") else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = ok(floodgate(&data)
        .args(["lists", "load", "--format", "json"])
        .arg(sdn_dir.join("sdn_advanced.xml.bz2"))
        .output()
        .unwrap());
    assert!(out.contains("\"entities\": 18367"), "{out}");
    let stub = dir.path().join("sdn_advanced.xml");
    std::fs::write(
        &stub,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Sanctions xmlns=\"https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/ADVANCED_XML\"></Sanctions>\n",
    )
    .unwrap();
    let err = fails(floodgate(&data).args(["lists", "load"]).arg(&stub).output().unwrap());
    assert!(err.contains("list ofac-sdn"), "{err}");
    assert!(err.contains("no entries (before: 18367, after: 0)"), "{err}");

    let out = floodgate(&data)
        .args(["screen", "name", "Lazarus Group", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(exit(&out), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hits = report["hits"].as_array().unwrap();
    assert!(hits.iter().any(|h| h["entity_name"] == "Lazarus Group"), "{report}");
    assert_eq!(report["lists"][0]["list"], "ofac-sdn");
    assert_eq!(report["lists"][0]["version"], "2025-11-19");
    assert_eq!(report["lists"][0]["entities"], 18367);

    // The SDN lists the ETH address too.
    let out = floodgate(&data)
        .args(["screen", "address", "ethereum", LAZARUS_ETH, "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(exit(&out), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["lists"][0]["version"], "2025-11-19");
    assert_eq!(history_json(&data).len(), 1);
}

/// Virtual memory allowed to a `floodgate` run in the bomb tests, in KiB: far below what the
/// bombs cost without limits (6 GB and more), far above a normal run of the debug binary.
const MEMORY_LIMIT_KIB: u64 = 1_500_000;

/// `floodgate --data-dir DATA --quiet` under a virtual-memory limit (`ulimit -v`): a run that
/// tries to hold a bomb in memory fails to allocate and aborts instead of exiting 2.
fn floodgate_limited(data: &Path) -> std::process::Command {
    let mut c = std::process::Command::new("sh");
    c.arg("-c")
        .arg(format!("ulimit -v {MEMORY_LIMIT_KIB} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_floodgate"))
        .arg("--data-dir")
        .arg(data)
        .arg("--quiet");
    for var in ["FLOODGATE_DATA", "FLOODGATE_CONFIG", "FLOODGATE_UNIHAN"] {
        c.env_remove(var);
    }
    c
}

/// Writes `head`, then `n` bytes of `fill`, then `tail`.
fn write_big(path: &Path, head: &str, fill: u8, n: usize, tail: &str) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    f.write_all(head.as_bytes()).unwrap();
    let chunk = vec![fill; 1 << 20];
    let mut left = n;
    while left > 0 {
        let k = left.min(chunk.len());
        f.write_all(&chunk[..k]).unwrap();
        left -= k;
    }
    f.write_all(tail.as_bytes()).unwrap();
}

#[test]
fn a_bzip2_bomb_is_refused_after_a_few_megabytes_naming_the_file() {
    // 1,578 bytes of bzip2 that decompress to 2 GB of empty lines inside <Sanctions> (made with
    // bzip2 -9, see crates/screen/tests/data/README.md).
    let bomb = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../screen/tests/data/bomb/sdn_advanced.xml.bz2");
    let dir = tempfile::tempdir().unwrap();
    let out = floodgate_limited(dir.path()).args(["lists", "load"]).arg(&bomb).output().unwrap();
    let err = fails(out);
    assert!(err.contains("sdn_advanced.xml.bz2"), "{err}");
    assert!(err.contains("lists.max_compression_ratio"), "{err}");
    assert!(err.contains("nothing was changed"), "{err}");

    // A lower absolute limit trips first, and names its own key.
    let out = floodgate_limited(dir.path())
        .args(["lists", "load"])
        .arg(&bomb)
        .env("FLOODGATE_MAX_FILE_BYTES", "1000000")
        .output()
        .unwrap();
    let err = fails(out);
    assert!(err.contains("more than 1000000 bytes after decompression"), "{err}");
    assert!(err.contains("lists.max_file_bytes"), "{err}");

    // 1,585 bytes that decompress to 2 GB of one XML text node: before the limits this run
    // aborted out of memory under the limit; now the line limit stops it after 1 MiB.
    let text_bomb = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../screen/tests/data/bomb-text/sdn_advanced.xml.bz2");
    let out =
        floodgate_limited(dir.path()).args(["lists", "load"]).arg(&text_bomb).output().unwrap();
    let err = fails(out);
    assert!(err.contains("bomb-text/sdn_advanced.xml.bz2"), "{err}");
    assert!(err.contains("line 3 is longer than 1048576 bytes"), "{err}");
}

#[test]
fn a_giant_line_or_field_in_a_list_is_refused_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // One 300 MB name in a generic CSV list, on line 2.
    let giant = dir.path().join("giant-line.csv");
    write_big(&giant, "id,name\nx-1,", b'A', 300 << 20, "\n");
    let err = fails(floodgate_limited(&data).args(["lists", "load"]).arg(&giant).output().unwrap());
    assert!(err.contains("giant-line.csv"), "{err}");
    assert!(err.contains("line 2 is longer than 1048576 bytes"), "{err}");
    assert!(err.contains("lists.max_line_bytes"), "{err}");

    // A 100 KB name: within the line limit, over the field limit.
    let field = dir.path().join("giant-field.csv");
    write_big(&field, "id,name\nx-1,Lazarus Group\nx-2,", b'B', 100 << 10, "\n");
    let err = fails(floodgate_limited(&data).args(["lists", "load"]).arg(&field).output().unwrap());
    assert!(err.contains("giant-field.csv"), "{err}");
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("column name has 102400 bytes"), "{err}");
    assert!(err.contains("lists.max_field_bytes"), "{err}");
    assert!(!data.join("screening.db").exists() || history_json(&data).is_empty());
}

#[test]
fn a_giant_name_in_screen_batch_input_is_an_error_naming_file_and_line() {
    let Some(addrs) = sanctions("ofac-crypto-addresses") else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(floodgate(&data).args(["lists", "load"]).arg(&addrs).output().unwrap());

    let giant = dir.path().join("customers.csv");
    write_big(&giant, "id,name\nc-1,Lazarus Group\nc-2,", b'N', 300 << 20, "\n");
    let out = floodgate_limited(&data).args(["screen", "batch"]).arg(&giant).output().unwrap();
    let err = fails(out);
    assert!(err.contains("customers.csv"), "{err}");
    assert!(err.contains("line 3 is longer than 1048576 bytes"), "{err}");

    let field = dir.path().join("fields.csv");
    write_big(&field, "id,name\nc-1,Lazarus Group\nc-2,", b'N', 100 << 10, "\n");
    let err =
        fails(floodgate_limited(&data).args(["screen", "batch"]).arg(&field).output().unwrap());
    assert!(err.contains("fields.csv line 3: field 2 has 102400 bytes"), "{err}");
    assert!(err.contains("lists.max_field_bytes"), "{err}");

    // A configured smaller field limit applies too (config file key).
    let cfg = dir.path().join("floodgate.toml");
    std::fs::write(&cfg, "[lists]\nmax_field_bytes = 8\n").unwrap();
    let err = fails(
        floodgate_limited(&data)
            .arg("--config")
            .arg(&cfg)
            .args(["screen", "batch"])
            .arg(&field)
            .output()
            .unwrap(),
    );
    assert!(err.contains("fields.csv line 2: field 2 has 13 bytes, more than 8"), "{err}");
}

#[test]
fn an_impossible_date_of_birth_is_dropped_from_a_list_and_refused_in_input() {
    let Some(cons) = sanctions("ofac-non-sdn-csv") else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let real: Vec<serde_json::Value> = serde_json::from_str(&ok(floodgate(&data)
        .args(["lists", "load", "--format", "json"])
        .arg(&cons)
        .output()
        .unwrap()))
    .unwrap();
    assert_eq!(real[0]["dropped_dates"], 0);

    // The real non-SDN list with one date of birth made impossible: it still loads, whole,
    // without that date, and the summary counts it.
    let bad = dir.path().join("cons");
    std::fs::create_dir(&bad).unwrap();
    for e in std::fs::read_dir(&cons).unwrap() {
        let p = e.unwrap().path();
        let mut bytes = std::fs::read(&p).unwrap();
        if p.ends_with("cons_prim.csv") {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            assert!(text.contains("DOB 12 Feb 1961"));
            bytes = text.replacen("DOB 12 Feb 1961", "DOB 31 Feb 1961", 1).into_bytes();
        }
        std::fs::write(bad.join(p.file_name().unwrap()), bytes).unwrap();
    }
    let out: Vec<serde_json::Value> = serde_json::from_str(&ok(floodgate(&data)
        .args(["lists", "load", "--format", "json"])
        .arg(&bad)
        .output()
        .unwrap()))
    .unwrap();
    assert_eq!(out[0]["dropped_dates"], 1, "{out:?}");
    assert_eq!(out[0]["entities"], real[0]["entities"]);
    assert_eq!(out[0]["changed"], 1);

    // In screening input it is an error naming the flag, or the file, line and column.
    let err = fails(
        floodgate(&data)
            .args(["screen", "name", "Anyone", "--dob", "1961-02-31"])
            .output()
            .unwrap(),
    );
    assert!(err.contains("--dob") && err.contains("'1961-02-31' is not a calendar date"), "{err}");
    let input = dir.path().join("in.csv");
    std::fs::write(&input, "name,dob\nSomeone,2001-02-29\n").unwrap();
    let err = fails(floodgate(&data).args(["screen", "batch"]).arg(&input).output().unwrap());
    assert!(err.contains("in.csv line 2, column dob"), "{err}");
    assert!(err.contains("'2001-02-29' is not a calendar date"), "{err}");
}

#[test]
fn an_analyst_suppresses_lists_and_undoes_a_hit_with_who_and_why() {
    let Some(addrs) = sanctions("ofac-crypto-addresses") else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(floodgate(&data).args(["lists", "load"]).arg(&addrs).output().unwrap());
    let entity = "ETH:0x08723392Ed15743cc38513C4925f5e6be5c17243";
    let screen = || {
        floodgate(&data)
            .args(["screen", "address", "ethereum", LAZARUS_ETH, "--subject", "w-1"])
            .output()
            .unwrap()
    };
    assert_eq!(exit(&screen()), Some(1));

    let err = fails(
        floodgate(&data)
            .args(["screen", "suppress", "w-1", "ofac-addresses", "ETH:0xnot-listed"])
            .args(["--reason", "x"])
            .output()
            .unwrap(),
    );
    assert!(err.contains("not found: entity ETH:0xnot-listed of list ofac-addresses"), "{err}");
    let err = fails(
        floodgate(&data)
            .args(["screen", "suppress", "w-1", "ofac-addresses", entity, "--reason", " "])
            .output()
            .unwrap(),
    );
    assert!(err.contains("needs a reason"), "{err}");

    ok(floodgate(&data)
        .args(["screen", "suppress", "w-1", "ofac-addresses", entity])
        .args(["--reason", "our own test wallet", "--by", "alice"])
        .output()
        .unwrap());
    let out = screen();
    assert_eq!(exit(&out), Some(0), "a suppressed hit does not count");
    assert!(String::from_utf8_lossy(&out.stdout).contains("yes"));
    let list: Vec<serde_json::Value> = serde_json::from_str(&ok(floodgate(&data)
        .args(["screen", "suppressions", "--format", "json"])
        .output()
        .unwrap()))
    .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["created_by"], "alice");
    assert_eq!(list[0]["reason"], "our own test wallet");
    assert_eq!(list[0]["in_force"], true);
    assert_eq!(list[0]["entity_id"], entity);

    ok(floodgate(&data)
        .args(["screen", "unsuppress", "w-1", "ofac-addresses", entity, "--by", "bob"])
        .output()
        .unwrap());
    assert_eq!(exit(&screen()), Some(1), "the hit counts again");
    let err = fails(
        floodgate(&data)
            .args(["screen", "unsuppress", "w-1", "ofac-addresses", entity])
            .output()
            .unwrap(),
    );
    assert!(err.contains("not found: suppression"), "{err}");
}
