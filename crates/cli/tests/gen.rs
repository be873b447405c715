//! End-to-end tests of `floodgate gen`: the real binary writes a world, `floodgate ingest`
//! reads it unchanged, and `floodgate trace` finds the planted laundering flows the ground
//! truth names.

// In tests a panic is the failure report; helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{fails, floodgate, ok};
use floodgate_gen::{GenConfig, LegKind, World};

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

fn gen(data: &Path, out: &Path, transfers: &str, seed: &str) -> serde_json::Value {
    json(&ok(floodgate(data)
        .args(["gen", "--transfers", transfers, "--seed", seed, "--format", "json", "--out"])
        .arg(out)
        .output()
        .unwrap()))
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn same_command_same_bytes_and_a_used_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (a, b, c) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("c"));
    let s = gen(&data, &a, "3000", "9");
    assert!(s["legs"].as_u64().unwrap() >= 3000, "{s}");
    gen(&data, &b, "3000", "9");
    gen(&data, &c, "3000", "10");
    for f in [
        "bitcoin/blk00000.dat",
        "ethereum/usdt-00000.jsonl",
        "tron/usdt-00000.jsonl",
        "ledger/exchange-0.csv",
        "truth/entities.jsonl",
        "truth/flows.jsonl",
        "truth/summary.json",
        "tags.yaml",
        "README.txt",
    ] {
        assert!(read(&a.join(f)) == read(&b.join(f)), "{f} differs between identical runs");
    }
    assert_ne!(read(&a.join("bitcoin/blk00000.dat")), read(&c.join("bitcoin/blk00000.dat")));

    let err = fails(
        floodgate(&data).args(["gen", "--transfers", "3000", "--out"]).arg(&a).output().unwrap(),
    );
    assert!(err.contains("not empty") && err.contains("--force"), "{err}");
    ok(floodgate(&data)
        .args(["gen", "--transfers", "3000", "--force", "--out"])
        .arg(&a)
        .output()
        .unwrap());

    // An output path that cannot be a directory: exit 2 naming it.
    let file = tmp.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let err =
        fails(floodgate(&data).args(["gen", "--force", "--out"]).arg(&file).output().unwrap());
    assert!(err.contains("plain-file"), "{err}");
}

/// The first planted flow of `kind` from a publicly known scam (scam-0 or scam-1 of three).
fn flow(out: &Path, kind: &str) -> serde_json::Value {
    let text = String::from_utf8(read(&out.join("truth/flows.jsonl"))).unwrap();
    text.lines()
        .map(json)
        .find(|f| f["kind"] == kind && f["scam"] != "scam-2")
        .unwrap_or_else(|| panic!("no {kind} flow of a known scam"))
}

fn category<'a>(report: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    report[0]["categories"].as_array().unwrap().iter().find(|c| c["category"] == name)
}

#[test]
fn generated_world_ingests_and_trace_finds_the_planted_flows() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = tmp.path().join("world");
    let summary = gen(&data, &out, "20000", "7");

    // Ingest exactly as README.txt says.
    let readme = String::from_utf8(read(&out.join("README.txt"))).unwrap();
    assert!(readme.contains("floodgate ingest bitcoin bitcoin/"), "{readme}");
    ok(floodgate(&data).args(["ingest", "bitcoin"]).arg(out.join("bitcoin")).output().unwrap());
    for e in std::fs::read_dir(out.join("ethereum")).unwrap() {
        ok(floodgate(&data).args(["ingest", "ethereum"]).arg(e.unwrap().path()).output().unwrap());
    }
    ok(floodgate(&data).args(["ingest", "tron"]).arg(out.join("tron")).output().unwrap());
    for e in 0..4 {
        let f = out.join(format!("ledger/exchange-{e}.csv"));
        ok(floodgate(&data)
            .args(["ingest", "ledger", "--ledger", &format!("exchange-{e}")])
            .arg(f)
            .output()
            .unwrap());
    }
    let built =
        json(&ok(floodgate(&data).args(["trace", "build", "--format", "json"]).output().unwrap()));
    // Every leg is an edge: Bitcoin inputs and outputs, USDT transfers.
    assert_eq!(built["edges"], summary["legs"], "{built}");
    let tags = out.join("tags.yaml");

    // A peel chain: the mule's deposit address shows the scam, indirectly, several hops back.
    let peel = flow(&out, "peel_chain");
    let sink = peel["sink"].as_str().unwrap();
    let source = peel["source"].as_str().unwrap();
    let report = json(&ok(floodgate(&data)
        .args(["trace", "exposure", sink, "--hops", "16", "--format", "json", "--tagpack"])
        .arg(&tags)
        .output()
        .unwrap()));
    let scam = category(&report, "scam").unwrap_or_else(|| panic!("no scam exposure: {report}"));
    assert_eq!(scam["direct"], "0", "the scam never pays the deposit address itself");
    assert!(scam["min_hops"].as_u64().unwrap() >= 2, "{scam}");
    assert!(scam["sources"].as_array().unwrap().iter().any(|s| s["node"] == source), "{scam}");

    // The path from the scam to the deposit address is the planted one, txid by txid.
    let paths = json(&ok(floodgate(&data)
        .args(["trace", "path", source, sink, "--max-hops", "16", "--format", "json"])
        .output()
        .unwrap()));
    let want: Vec<&str> =
        peel["hops"].as_array().unwrap().iter().map(|h| h["txid"].as_str().unwrap()).collect();
    let found = paths.as_array().unwrap().iter().any(|p| {
        let mut txids: Vec<&str> =
            p["steps"].as_array().unwrap().iter().map(|s| s["txid"].as_str().unwrap()).collect();
        txids.dedup();
        txids == want
    });
    assert!(found, "planted path {want:?} not among {paths}");

    // Through a mixer: the deposit address shows both the mixer and the scam behind it.
    let mixed = flow(&out, "mixer");
    let report = json(&ok(floodgate(&data)
        .args(["trace", "exposure", mixed["sink"].as_str().unwrap(), "--hops", "16"])
        .args(["--format", "json", "--tagpack"])
        .arg(&tags)
        .output()
        .unwrap()));
    assert!(category(&report, "mixer").is_some(), "no mixer exposure: {report}");

    // USDT fan-out to mules and fan-in to one deposit address: two hops, one path per mule.
    let fan = flow(&out, "fan_out_fan_in");
    let (fsource, fsink) = (fan["source"].as_str().unwrap(), fan["sink"].as_str().unwrap());
    let report = json(&ok(floodgate(&data)
        .args(["trace", "exposure", fsink, "--hops", "4", "--format", "json", "--tagpack"])
        .arg(&tags)
        .output()
        .unwrap()));
    let scam = category(&report, "scam").unwrap_or_else(|| panic!("no scam exposure: {report}"));
    assert_eq!(scam["min_hops"], 2, "{scam}");
    let paths = json(&ok(floodgate(&data)
        .args(["trace", "path", fsource, fsink, "--max-hops", "2", "--limit", "100"])
        .args(["--format", "json"])
        .output()
        .unwrap()));
    // Every planted hop (fan-out and fan-in) is on one of the two-hop paths.
    let on_paths: Vec<String> = paths
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["steps"].as_array().unwrap().iter())
        .map(|s| s["txid"].as_str().unwrap().trim_start_matches("0x").to_owned())
        .collect();
    for h in fan["hops"].as_array().unwrap() {
        let txid = h["txid"].as_str().unwrap();
        assert!(on_paths.iter().any(|t| t == txid), "planted hop {txid} not on a path: {paths}");
    }

    // Monitoring runs on a generated exchange ledger: every entry gets one explained
    // decision, none rejected.
    let ledger = String::from_utf8(read(&out.join("ledger/exchange-1.csv"))).unwrap();
    let entries = ledger.lines().count() - 1;
    let decisions = ok(floodgate(&data)
        .args(["monitor", "--from-store", "--ledger", "exchange-1", "--format", "jsonl"])
        .output()
        .unwrap());
    let decisions: Vec<serde_json::Value> = decisions.lines().map(json).collect();
    assert_eq!(decisions.len(), entries, "one decision per ledger entry");
    assert!(decisions.iter().all(|d| d["action"].is_string() && d["hits"].is_array()));
    assert!(decisions.iter().any(|d| !d["hits"].as_array().unwrap().is_empty()), "no rule fired");

    // Clustering against the truth: the scam's consolidation co-spends its collection
    // addresses (one entity, explained by that transaction); a CoinJoin's participants stay
    // apart. Input addresses come from the library, which plays the same world.
    let world = World::new(&GenConfig { transfers: 20_000, seed: 7, ..GenConfig::default() });
    let inputs_of = |txid: &str| {
        let mut v = Vec::new();
        world.for_each_leg(|l| {
            if l.kind == LegKind::Input && l.txid.to_hex() == txid {
                v.push(world.address_key(l.from.unwrap()));
            }
        });
        v.sort();
        v.dedup();
        v
    };
    let flows = String::from_utf8(read(&out.join("truth/flows.jsonl"))).unwrap();
    let (consolidation, collected) = flows
        .lines()
        .map(json)
        .filter(|f| f["chain"] == "bitcoin")
        .map(|f| {
            let txid = f["hops"][0]["txid"].as_str().unwrap().to_owned();
            let inputs = inputs_of(&txid);
            (txid, inputs)
        })
        .find(|(_, inputs)| inputs.len() >= 2)
        .expect("a consolidation of two or more collection addresses");
    let why = ok(floodgate(&data)
        .args(["trace", "why", &collected[0], &collected[1], "--format", "json"])
        .output()
        .unwrap());
    assert!(why.contains(&consolidation), "{why}");
    let cj = String::from_utf8(read(&out.join("truth/coinjoins.jsonl"))).unwrap();
    let first = json(cj.lines().next().unwrap());
    let parts = inputs_of(first["txid"].as_str().unwrap());
    assert!(parts.len() >= 3, "{parts:?}");
    let apart = floodgate(&data).args(["trace", "why", &parts[0], &parts[1]]).output().unwrap();
    assert_eq!(apart.status.code(), Some(1), "CoinJoin participants were clustered together");
    // The answer names why they were not joined: the CoinJoin they both spent in.
    let said = String::from_utf8_lossy(&apart.stdout);
    assert!(
        said.contains("treated as a CoinJoin") && said.contains(first["txid"].as_str().unwrap()),
        "{said}"
    );
}
