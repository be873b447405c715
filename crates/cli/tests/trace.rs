//! End-to-end tests of `floodgate trace` on the real Bitcoin blocks 0–438.

// In tests a panic is the failure report; helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used)]

mod common;

use common::{blk_0_438, fails, floodgate, ok};

const SATOSHI: &str = "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S";
const HAL: &str = "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3";
/// Block 170: the first transaction between people (Satoshi → Hal Finney, 10 BTC).
const TX_170: &str = "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16";

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

#[test]
fn build_then_trace_satoshi_to_hal_on_real_blocks() {
    let Some(blk) = blk_0_438() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    ok(floodgate(data).args(["ingest", "bitcoin"]).arg(&blk).output().unwrap());

    // Before a build there is no graph: a clear error, not an empty answer.
    let err = fails(floodgate(data).args(["trace", "path", SATOSHI, HAL]).output().unwrap());
    assert!(err.contains("trace build"), "{err}");

    let r = json(&ok(floodgate(data)
        .args(["trace", "build", "--verify", "--format", "json"])
        .output()
        .unwrap()));
    assert_eq!(r["tips"]["bitcoin"], 438);
    assert_eq!(r["segments"], 1);
    let edges = r["edges"].as_u64().unwrap();
    assert!(edges > 400, "{r}");
    // The section table: every section of the format, then the headers and padding; the
    // bytes add up to the total, which is the segment files' size on disk.
    let sections = r["sections"].as_array().unwrap();
    let names: Vec<&str> = sections.iter().map(|s| s["section"].as_str().unwrap()).collect();
    assert_eq!(names.first(), Some(&"key index"), "{r}");
    assert_eq!(names.last(), Some(&"headers and padding"), "{r}");
    assert!(names.contains(&"edge lists") && names.contains(&"sorted keys"), "{r}");
    let sum: u64 = sections.iter().map(|s| s["bytes"].as_u64().unwrap()).sum();
    assert_eq!(sum, r["bytes"].as_u64().unwrap(), "{r}");
    let on_disk: u64 = std::fs::read_dir(data.join("graph"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".fgs"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert_eq!(sum, on_disk);
    let per_edge: f64 = sections.iter().map(|s| s["bytes_per_edge"].as_f64().unwrap()).sum();
    assert!((per_edge - sum as f64 / edges as f64).abs() < 1e-6, "{r}");
    // The table output shows the same rows.
    let table = ok(floodgate(data).args(["trace", "build"]).output().unwrap());
    assert!(table.contains("bytes per edge: edge lists"), "{table}");
    assert!(table.contains("bytes per edge: headers and padding"), "{table}");
    // Building again appends nothing.
    let again =
        json(&ok(floodgate(data).args(["trace", "build", "--format", "json"]).output().unwrap()));
    assert_eq!(again["new_edges"], 0);
    assert_eq!(again["segments"], 1);

    // The path: Satoshi's address → transaction f4184fc5… → Hal's address, 10 BTC.
    let p = json(&ok(floodgate(data)
        .args(["trace", "path", SATOSHI, HAL, "--format", "json"])
        .output()
        .unwrap()));
    let paths = p.as_array().unwrap();
    assert_eq!(paths.len(), 1, "{p}");
    assert_eq!(paths[0]["hops"], 1);
    assert_eq!(paths[0]["time_ordered"], true);
    let steps = paths[0]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["from"], SATOSHI);
    assert_eq!(steps[0]["txid"], TX_170);
    assert_eq!(steps[0]["amount"], "5000000000", "the 50 BTC coinbase output spent");
    assert_eq!(steps[1]["to"], HAL);
    assert_eq!(steps[1]["txid"], TX_170);
    assert_eq!(steps[1]["amount"], "1000000000", "10 BTC to Hal");
    assert_eq!(steps[1]["time"], 1_231_731_025, "block 170's time");

    let dot = ok(floodgate(data)
        .args(["trace", "path", SATOSHI, HAL, "--format", "dot"])
        .output()
        .unwrap());
    assert!(dot.starts_with("digraph funds {"), "{dot}");
    assert!(dot.contains(&format!("\"{SATOSHI}\" -> \"tx:bitcoin:{TX_170}\"")), "{dot}");
    assert!(dot.contains("10 BTC"), "{dot}");

    let table = ok(floodgate(data).args(["trace", "path", SATOSHI, HAL]).output().unwrap());
    assert!(table.contains(TX_170), "{table}");

    // Exposure of Hal's address with Satoshi's address tagged (a test pack): all of what
    // Hal received in block 170 came directly from it.
    let pack = data.join("test-pack.yaml");
    std::fs::write(
        &pack,
        format!(
            "title: test\ncurrency: BTC\nabuse: scam\nsource: test\ntags:\n- address: {SATOSHI}\n"
        ),
    )
    .unwrap();
    let e = json(&ok(floodgate(data)
        .args(["trace", "exposure", HAL, "--hops", "2", "--format", "json", "--tagpack"])
        .arg(&pack)
        .output()
        .unwrap()));
    let rep = &e[0];
    assert_eq!(rep["asset"], "BTC");
    let scam = rep["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == "scam")
        .unwrap_or_else(|| panic!("{e}"));
    assert_eq!(scam["direct"], "1000000000", "{e}");
    assert_eq!(scam["min_hops"], 1);
    assert_eq!(scam["sources"][0]["node"], SATOSHI);
    let table = ok(floodgate(data)
        .args(["trace", "exposure", HAL, "--tagpack"])
        .arg(&pack)
        .output()
        .unwrap());
    assert!(table.contains("scam"), "{table}");
    assert!(table.contains("(untraced)"), "{table}");

    // Bad input: an address not in the graph, a bad TagPack (file and line named).
    let err = fails(
        floodgate(data)
            .args(["trace", "exposure", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"])
            .output()
            .unwrap(),
    );
    assert!(err.contains("is not in the graph"), "{err}");
    let bad = data.join("bad-pack.yaml");
    std::fs::write(
        &bad,
        format!(
            "title: t\ncurrency: BTC\ntags:\n- address: {SATOSHI}\n  category: casino_royale\n"
        ),
    )
    .unwrap();
    let err = fails(
        floodgate(data).args(["trace", "exposure", HAL, "--tagpack"]).arg(&bad).output().unwrap(),
    );
    assert!(err.contains("bad-pack.yaml:5:"), "{err}");

    // Satoshi and Hal are never co-spent: not one entity (exit 1). No transaction in blocks
    // 0-438 spends from two different addresses, so nothing is clustered.
    let out = floodgate(data).args(["trace", "why", SATOSHI, HAL]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");

    // A damaged segment is refused, naming the file.
    let seg = data.join("graph/seg-000001.fgs");
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[30] ^= 0xff;
    std::fs::write(&seg, &bytes).unwrap();
    let err = fails(floodgate(data).args(["trace", "path", SATOSHI, HAL]).output().unwrap());
    assert!(err.contains("seg-000001.fgs"), "{err}");
    // A rebuild repairs it.
    ok(floodgate(data).args(["trace", "build", "--rebuild"]).output().unwrap());
    ok(floodgate(data).args(["trace", "path", SATOSHI, HAL]).output().unwrap());
}

/// On the bundled real sample (blocks 0–438, 227835, 227836), co-spend clustering joins
/// exactly the inputs that were spent together (checked against a naive union-find over the
/// store's own transaction legs), and leaves CoinJoins apart.
#[test]
fn clustering_on_real_blocks_joins_exactly_the_co_spent_inputs() {
    use std::collections::{BTreeMap, BTreeSet, HashMap};
    if blk_0_438().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    ok(floodgate(data).args(["demo", "--no-serve"]).output().unwrap());
    ok(floodgate(data).args(["trace", "build"]).output().unwrap());
    let store = floodgate_store::Store::open(data).unwrap();
    let filter = floodgate_store::TransferFilter {
        chain: Some(floodgate_types::Chain::Bitcoin),
        ..Default::default()
    };
    let mut ins: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // Per transaction, what each input address spent.
    let mut spent: BTreeMap<String, BTreeMap<String, u128>> = BTreeMap::new();
    let mut outs: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for r in store.transfers(&filter).unwrap() {
        match (r.kind.as_str(), r.from, r.to) {
            ("input", Some(f), _) => {
                let v: u128 = r.amount.map_or(0, |a| a.to_u128().unwrap());
                *spent.entry(r.txid.clone()).or_default().entry(f.clone()).or_default() += v;
                ins.entry(r.txid).or_default().insert(f);
            }
            ("output", _, Some(t)) => outs
                .entry(r.txid)
                .or_default()
                .push((t, r.amount.map(|a| a.to_string()).unwrap_or_default())),
            _ => {}
        }
    }
    // Naive: merge address sets.
    let mut sets: Vec<BTreeSet<String>> = Vec::new();
    let mut multi = 0;
    for (txid, addrs) in &ins {
        let mut by_value: HashMap<&str, BTreeSet<&str>> = HashMap::new();
        for (a, v) in outs.get(txid).into_iter().flatten() {
            by_value.entry(v).or_default().insert(a);
        }
        // The CoinJoin rule (docs/taxonomy.md): k >= 3 addresses paid the most common value
        // (the smallest such value on a tie), at least k input addresses each spending that
        // much, no output to an input address, and no other output or at least k - 1 of
        // which half are change (an input's spend less the value, within 20,000 + 0.5 % of
        // it, each input once; first fit).
        let outs_tx = outs.get(txid).cloned().unwrap_or_default();
        let best = by_value
            .iter()
            .map(|(v, s)| (s.len(), v.parse::<u128>().unwrap()))
            .max_by(|x, y| x.0.cmp(&y.0).then(y.1.cmp(&x.1)));
        let coinjoin = best.is_some_and(|(k, value)| {
            let funders = spent[txid].values().filter(|&&v| v >= value).count();
            let c = outs_tx.iter().filter(|(_, v)| v.parse::<u128>().unwrap() != value).count();
            let reuse = outs_tx.iter().any(|(a, _)| addrs.contains(a));
            let tol = 20_000 + value * 5 / 1000;
            let mut rest: Vec<Option<u128>> =
                spent[txid].values().filter(|&&v| v >= value).map(|&v| Some(v - value)).collect();
            let mut change = 0;
            for (_, o) in &outs_tx {
                let o = o.parse::<u128>().unwrap();
                if o == value {
                    continue;
                }
                if let Some(r) = rest.iter_mut().find(|r| r.is_some_and(|r| r.abs_diff(o) <= tol)) {
                    *r = None;
                    change += 1;
                }
            }
            addrs.len() >= 3
                && k >= 3
                && k <= funders
                && !reuse
                && (c == 0 || (c + 1 >= k && 2 * change >= c))
        });
        if addrs.len() < 2 || coinjoin {
            continue;
        }
        multi += 1;
        let mut merged = addrs.clone();
        sets.retain(|s| {
            if s.is_disjoint(addrs) {
                true
            } else {
                merged.extend(s.iter().cloned());
                false
            }
        });
        sets.push(merged);
    }
    assert!(multi > 0, "the sample has transactions spending from several addresses");
    let g = floodgate_graph::Graph::open(&data.join("graph")).unwrap();
    let c = floodgate_graph::cluster(&g);
    let mut naive_of: HashMap<&str, usize> = HashMap::new();
    for (i, s) in sets.iter().enumerate() {
        for a in s {
            naive_of.insert(a, i);
        }
    }
    // Every address of the graph: same entity exactly when the naive model says so.
    let mut by_entity: HashMap<floodgate_graph::EntityId, BTreeSet<String>> = HashMap::new();
    for n in 0..g.node_count() {
        let id = floodgate_graph::NodeId(n);
        if g.kind(id) == floodgate_graph::NodeKind::Address {
            by_entity.entry(c.entity_of(id)).or_default().insert(g.key(id).into_owned());
        }
    }
    let multi_entities: Vec<&BTreeSet<String>> =
        by_entity.values().filter(|s| s.len() > 1).collect();
    assert_eq!(multi_entities.len(), sets.len());
    for s in multi_entities {
        assert!(sets.contains(s), "graph entity {s:?} is not a naive cluster");
    }
    // And `trace why` explains one of them.
    let big = sets.iter().max_by_key(|s| s.len()).unwrap();
    let mut it = big.iter();
    let (a, b) = (it.next().unwrap(), it.next_back().unwrap());
    let why =
        ok(floodgate(data).args(["trace", "why", a, b, "--format", "json"]).output().unwrap());
    let steps = json(&why);
    assert!(!steps.as_array().unwrap().is_empty(), "{why}");
    assert!(steps[0]["tx"].as_str().unwrap().starts_with("tx:bitcoin:"), "{why}");
    // Exposure of that entity as a whole (`E<n>`), and an unknown entity is "not in the graph".
    let entity = c.entity_of(g.lookup(a).unwrap()).to_string();
    let e = json(&ok(floodgate(data)
        .args(["trace", "exposure", &entity, "--format", "json"])
        .output()
        .unwrap()));
    assert_eq!(e[0]["target"], entity.as_str(), "{e}");
    let err = fails(floodgate(data).args(["trace", "exposure", "E4294967290"]).output().unwrap());
    assert!(err.contains("is not in the graph"), "{err}");
}

/// Issue 15 item 4: after `ingest bitcoin --rollback-to H`, `trace build` unwinds the graph
/// (and its clustering) to the newest segment the store still holds and appends the rest,
/// instead of failing with "rebuild the graph"; the result equals a `--rebuild`.
#[test]
fn trace_build_after_a_rollback_unwinds_instead_of_rebuilding() {
    let Some(blk) = blk_0_438() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let build = |extra: &[&str]| {
        json(&ok(floodgate(data)
            .args(["trace", "build", "--format", "json"])
            .args(extra)
            .output()
            .unwrap()))
    };
    // Two segments: blocks 0..=200, then 201..=438.
    ok(floodgate(data).args(["ingest", "bitcoin"]).arg(&blk).output().unwrap());
    ok(floodgate(data).args(["ingest", "bitcoin", "--rollback-to", "200"]).output().unwrap());
    assert_eq!(build(&[])["tips"]["bitcoin"], 200);
    ok(floodgate(data).args(["ingest", "bitcoin"]).arg(&blk).output().unwrap());
    let full = build(&[]);
    assert_eq!((full["segments"].as_u64(), full["tips"]["bitcoin"].as_u64()), (Some(2), Some(438)));
    assert!(full.get("unwound").is_none(), "{full}");
    // Roll the store back to 300: the second segment goes, blocks 201..=300 come back.
    ok(floodgate(data).args(["ingest", "bitcoin", "--rollback-to", "300"]).output().unwrap());
    let r = build(&[]);
    let u = &r["unwound"];
    assert_eq!(
        (
            u["kept_segments"].as_u64(),
            u["dropped_segments"].as_u64(),
            u["tips"]["bitcoin"].as_u64()
        ),
        (Some(1), Some(1), Some(200)),
        "{r}"
    );
    assert_eq!((r["segments"].as_u64(), r["tips"]["bitcoin"].as_u64()), (Some(2), Some(300)));
    assert_eq!(r["clustering"]["how"], "unwound", "{r}");
    // The same graph and clustering as a rebuild of the rolled-back store.
    let rebuilt = build(&["--rebuild"]);
    for k in ["nodes", "edges"] {
        assert_eq!(r[k], rebuilt[k], "{k}: {r} vs {rebuilt}");
    }
    for k in ["multi_address_entities", "largest_entity", "coinjoins"] {
        assert_eq!(r["clustering"][k], rebuilt["clustering"][k], "{k}: {r} vs {rebuilt}");
    }
    // The table says what was unwound: the rebuilt graph is one segment, so a rollback
    // below its tip unwinds all of it (a build anew, in place).
    ok(floodgate(data).args(["ingest", "bitcoin", "--rollback-to", "250"]).output().unwrap());
    let out = ok(floodgate(data).args(["trace", "build"]).output().unwrap());
    assert!(out.contains("unwound") && out.contains("kept 0 segments"), "{out}");
    assert!(out.contains("bitcoin tip") && out.contains("250"), "{out}");
}
