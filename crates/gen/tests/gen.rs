//! The generator's promises: same seed, same bytes; the files read back through floodgate's
//! own readers into exactly the legs the library produces; the ground truth matches the data.

// Test helpers panic on purpose: a panic is how a test reports a failure (STYLE.md §3).
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use floodgate_gen::write::{write_world, GenError, WriteOptions};
use floodgate_gen::{GenConfig, LegKind, World};
use floodgate_ingest::bitcoin::BitcoinOptions;
use floodgate_ingest::{ethereum, ledger, tron};
use floodgate_store::export::LegKind as StoreLegKind;
use floodgate_store::Store;
use floodgate_types::{AssetRegistry, Chain, ChainBlock};

fn cfg(transfers: u64, seed: u64) -> GenConfig {
    GenConfig { transfers, seed, ..GenConfig::default() }
}

fn fresh() -> WriteOptions {
    WriteOptions::default()
}

fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().to_owned(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("c"));
    write_world(&World::new(&cfg(5_000, 11)), &a, &fresh(), |_| {}).unwrap();
    write_world(&World::new(&cfg(5_000, 11)), &b, &fresh(), |_| {}).unwrap();
    write_world(&World::new(&cfg(5_000, 12)), &c, &fresh(), |_| {}).unwrap();
    let (fa, fb, fc) = (files(&a), files(&b), files(&c));
    assert!(fa.contains_key(Path::new("bitcoin/blk00000.dat")));
    assert!(fa.contains_key(Path::new("tags.yaml")));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (k, v) in &fa {
        assert!(v == &fb[k], "{} differs between two runs with the same seed", k.display());
    }
    assert_ne!(fa[Path::new("bitcoin/blk00000.dat")], fc[Path::new("bitcoin/blk00000.dat")]);
    assert_ne!(fa[Path::new("truth/flows.jsonl")], fc[Path::new("truth/flows.jsonl")]);
}

#[test]
fn a_non_empty_directory_is_refused_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("keep.txt"), "mine").unwrap();
    let w = World::new(&cfg(500, 1));
    let err = write_world(&w, tmp.path(), &fresh(), |_| {}).unwrap_err();
    assert!(matches!(err, GenError::NotEmpty { .. }));
    assert!(err.to_string().contains("--force"), "{err}");
    assert!(!tmp.path().join("bitcoin").exists(), "nothing written");
    // A bigger world split into many files, then a small one forced over it: no stale tail.
    let force = WriteOptions { force: true, split_bytes: 20_000 };
    write_world(&World::new(&cfg(5_000, 1)), tmp.path(), &force, |_| {}).unwrap();
    assert!(tmp.path().join("bitcoin/blk00003.dat").is_file());
    write_world(&w, tmp.path(), &WriteOptions { force: true, ..fresh() }, |_| {}).unwrap();
    assert!(tmp.path().join("bitcoin/blk00000.dat").is_file());
    assert!(!tmp.path().join("bitcoin/blk00001.dat").exists(), "stale file of the earlier run");
    assert!(!tmp.path().join("tron/usdt-00001.jsonl").exists(), "stale file of the earlier run");
    assert_eq!(std::fs::read_to_string(tmp.path().join("keep.txt")).unwrap(), "mine");
}

/// A leg as text, comparable between the library and the store.
type Row = (String, String, String, String, String, String, i64);

fn library_rows(w: &World) -> Vec<Row> {
    let mut rows = Vec::new();
    w.for_each_leg(|l| {
        let kind = match l.kind {
            LegKind::Input => "input",
            LegKind::Output => "output",
            LegKind::Transfer => "transfer",
        };
        rows.push((
            l.chain.as_str().to_owned(),
            kind.to_owned(),
            l.txid.to_hex(),
            l.from.map(|a| w.address_key(a)).unwrap_or_default(),
            l.to.map(|a| w.address_key(a)).unwrap_or_default(),
            format!("{} {}", l.amount, l.asset),
            l.time,
        ));
    });
    rows.sort();
    rows
}

fn ingest(dir: &Path, data: &Path) -> Store {
    let mut store = Store::open(data).unwrap();
    let assets = AssetRegistry::builtin();
    let mut sink = |b: ChainBlock, _: u64| {
        store.apply_block(&b)?;
        Ok(())
    };
    for sub in ["bitcoin", "ethereum", "tron"] {
        let mut paths: Vec<_> =
            std::fs::read_dir(dir.join(sub)).unwrap().map(|e| e.unwrap().path()).collect();
        paths.sort();
        for p in paths {
            match sub {
                "bitcoin" => {
                    floodgate_ingest::bitcoin::read_path(&p, &BitcoinOptions::default(), &mut sink)
                        .unwrap();
                }
                "ethereum" => {
                    ethereum::read_path(&p, &assets, &mut sink).unwrap();
                }
                _ => {
                    tron::read_path(&p, &assets, &mut sink).unwrap();
                }
            }
        }
    }
    for e in 0..4 {
        let p = dir.join(format!("ledger/exchange-{e}.csv"));
        let entries = ledger::read_ledger_path(&p, &assets).unwrap();
        assert!(!entries.is_empty(), "{}", p.display());
        store.apply_ledger(&format!("exchange-{e}"), &entries).unwrap();
    }
    store
}

/// Small split size: many files per chain, so Bitcoin heights come from BIP34 and inputs are
/// resolved by the store across files, as in a big world.
#[test]
fn ingested_files_hold_exactly_the_library_legs() {
    let tmp = tempfile::tempdir().unwrap();
    let world = World::new(&cfg(4_000, 3));
    let out = tmp.path().join("world");
    let opts = WriteOptions { split_bytes: 50_000, ..fresh() };
    let summary = write_world(&world, &out, &opts, |_| {}).unwrap();
    for sub in ["bitcoin", "ethereum", "tron"] {
        assert!(std::fs::read_dir(out.join(sub)).unwrap().count() > 2, "{sub}: one file only");
    }
    let store = ingest(&out, &tmp.path().join("data"));
    let mut stored: Vec<Row> = Vec::new();
    for chain in [Chain::Bitcoin, Chain::Ethereum, Chain::Tron] {
        store
            .for_each_leg::<floodgate_store::StoreError>(chain, None, |l| {
                let kind = match l.kind {
                    StoreLegKind::Input => "input",
                    StoreLegKind::Output => "output",
                    StoreLegKind::Transfer => "transfer",
                };
                stored.push((
                    chain.as_str().to_owned(),
                    kind.to_owned(),
                    l.txid.to_hex(),
                    l.from.unwrap_or_default(),
                    l.to.unwrap_or_default(),
                    format!("{} {}", l.amount, l.asset),
                    l.time.unwrap(),
                ));
                Ok(())
            })
            .unwrap();
    }
    stored.sort();
    let lib = library_rows(&world);
    assert_eq!(lib.len() as u64, summary.legs);
    assert_eq!(
        store.unresolved_inputs(Chain::Bitcoin).unwrap(),
        0,
        "every input spends a stored output"
    );
    assert_eq!(stored.len(), lib.len());
    for (a, b) in lib.iter().zip(&stored) {
        assert_eq!(a, b);
    }
}

#[test]
fn truth_addresses_occur_and_planted_flows_exist() {
    let tmp = tempfile::tempdir().unwrap();
    let world = World::new(&cfg(20_000, 5));
    let out = tmp.path().join("world");
    let summary = write_world(&world, &out, &fresh(), |_| {}).unwrap();
    // Every leg by (txid, from, to) and every address that occurs.
    let mut used = HashSet::new();
    let mut edges = HashSet::new();
    let mut inputs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut outputs: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
    world.for_each_leg(|l| {
        let from = l.from.map(|a| world.address_key(a));
        let to = l.to.map(|a| world.address_key(a));
        used.extend(from.clone());
        used.extend(to.clone());
        let txid = l.txid.to_hex();
        match l.kind {
            LegKind::Input => inputs.entry(txid).or_default().push(from.unwrap()),
            LegKind::Output => outputs.entry(txid).or_default().push((to.unwrap(), l.amount)),
            LegKind::Transfer => {
                edges.insert((txid, from.unwrap(), to.unwrap(), l.amount));
            }
        }
    });
    let text = std::fs::read_to_string(out.join("truth/entities.jsonl")).unwrap();
    let mut categories = HashSet::new();
    let mut n = 0;
    for line in text.lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        categories.insert(e["category"].as_str().unwrap().to_owned());
        for a in e["addresses"].as_array().unwrap() {
            let addr = a["address"].as_str().unwrap();
            assert!(used.contains(addr), "{} address {addr} never occurs", e["id"]);
            n += 1;
        }
    }
    assert!(n > 50, "{n} planted addresses");
    for c in ["exchange", "mixer", "scam", "miner", "user"] {
        assert!(categories.contains(c), "no {c} entity");
    }
    let flows = std::fs::read_to_string(out.join("truth/flows.jsonl")).unwrap();
    let mut kinds = HashSet::new();
    for line in flows.lines() {
        let f: serde_json::Value = serde_json::from_str(line).unwrap();
        kinds.insert(f["kind"].as_str().unwrap().to_owned());
        let hops = f["hops"].as_array().unwrap();
        assert_eq!(hops[0]["from"], f["source"]);
        assert_eq!(hops.last().unwrap()["to"], f["sink"]);
        for h in hops {
            let txid = h["txid"].as_str().unwrap().to_owned();
            let from = h["from"].as_str().unwrap().to_owned();
            let to = h["to"].as_str().unwrap().to_owned();
            let amount = h["amount"].as_u64().unwrap();
            if f["chain"] == "bitcoin" {
                assert!(
                    inputs[&txid].contains(&from),
                    "flow {} hop {txid}: {from} is not an input",
                    f["id"]
                );
                assert!(
                    outputs[&txid].contains(&(to.clone(), amount)),
                    "flow {} hop {txid}: no output {amount} to {to}",
                    f["id"]
                );
            } else {
                assert!(
                    edges.contains(&(txid.clone(), from, to, amount)),
                    "flow {} hop {txid} missing",
                    f["id"]
                );
            }
        }
    }
    assert_eq!(summary.flows as usize, flows.lines().count());
    for k in ["peel_chain", "mixer", "fan_out_fan_in"] {
        assert!(kinds.contains(k), "no {k} flow among {kinds:?}");
    }
    // CoinJoins: equal-value outputs, one per participant at least.
    let cj = std::fs::read_to_string(out.join("truth/coinjoins.jsonl")).unwrap();
    assert!(cj.lines().count() > 0);
    for line in cj.lines() {
        let c: serde_json::Value = serde_json::from_str(line).unwrap();
        let denom = c["denomination"].as_u64().unwrap();
        let equal =
            outputs[c["txid"].as_str().unwrap()].iter().filter(|(_, v)| *v == denom).count();
        assert!(equal >= c["participants"].as_u64().unwrap() as usize);
    }
}

#[test]
fn extreme_knobs_still_make_a_consistent_world() {
    let cases = [
        GenConfig { transfers: 1, ..cfg(1, 1) },
        GenConfig { exchanges: 1, mixers: 1, scams: 1, ..cfg(3_000, 2) },
        GenConfig { exchanges: 50, users: 1, customers: 1, ..cfg(3_000, 3) },
        GenConfig { exchanges: 3, users: 100_000, customers: 99_999, ..cfg(3_000, 4) },
    ];
    for c in cases {
        let w = World::new(&c);
        let (mut legs, mut max_id) = (0u64, 0u32);
        w.for_each_leg(|l| {
            legs += 1;
            for a in [l.from, l.to].into_iter().flatten() {
                max_id = max_id.max(a);
                assert_eq!(w.address_chain(a), l.chain, "{c:?}: address {a} on the wrong chain");
            }
        });
        assert!(legs >= c.transfers, "{c:?}: {legs} legs");
        assert!(max_id < w.address_count(), "{c:?}");
        let mut entities = 0;
        w.for_each_entity(|_| entities += 1);
        assert!(entities >= 3, "{c:?}");
    }
}
