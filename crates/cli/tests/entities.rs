//! End-to-end tests of the persisted clustering (`graph/entities.fge`) through `floodgate
//! trace`: appended builds on the real blocks, alias resolution, the entity report, damage.

// In tests a panic is the failure report; helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{blk_0_438, fails, floodgate, ok};
use floodgate_graph::{
    cluster_with, update_clustering, Clustering, EdgeInput, Graph, GraphBuilder, NodeKind,
    ENTITIES_FILE,
};
use floodgate_types::{Amount, Chain, Hash32};

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

fn file_bytes(c: &Clustering) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    c.save(dir.path()).unwrap();
    std::fs::read(dir.path().join(ENTITIES_FILE)).unwrap()
}

/// Blocks 0–438 first, then the rest of the bundled chain sample (blocks 227835–227836 with
/// their multi-input transactions, Ethereum, Tron) appended: the stored clustering was extended
/// with the new segment only, and equals byte for byte a clustering of the whole graph. (Not
/// through `demo`, which also loads TagPacks: new exchange tags rightly rebuild the clustering.)
#[test]
fn clustering_appended_on_real_blocks_equals_clustering_from_scratch() {
    let Some(blk) = blk_0_438() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    ok(floodgate(data).args(["ingest", "bitcoin"]).arg(&blk).output().unwrap());
    let first =
        json(&ok(floodgate(data).args(["trace", "build", "--format", "json"]).output().unwrap()));
    assert_eq!(first["clustering"]["how"], "rebuilt", "{first}");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample");
    let ingest = |args: &[&str], files: &[&str]| {
        let mut c = floodgate(data);
        c.arg("ingest").args(args);
        for f in files {
            c.arg(sample.join(f));
        }
        ok(c.output().unwrap());
    };
    ingest(&["bitcoin", "--height", "227835"], &["bitcoin/mainnet_block_227835.raw"]);
    ingest(&["bitcoin"], &["bitcoin/mainnet_block_227836.raw"]);
    for chain in ["ethereum", "tron"] {
        let files =
            ["blocks", "transactions", "logs", "traces"].map(|f| format!("{chain}/{f}.jsonl"));
        ingest(&[chain], &files.each_ref().map(String::as_str));
    }
    let second =
        json(&ok(floodgate(data).args(["trace", "build", "--format", "json"]).output().unwrap()));
    assert_eq!(second["segments"], 2, "{second}");
    assert_eq!(second["clustering"]["how"], "extended", "{second}");
    assert_eq!(second["clustering"]["from_segments"], 1, "{second}");
    assert!(second["clustering"]["multi_address_entities"].as_u64().unwrap() > 0, "{second}");

    let g = Graph::open(&data.join("graph")).unwrap();
    let path = data.join("graph").join(ENTITIES_FILE);
    let stored = Clustering::load(&path).unwrap();
    assert!(stored.is_current(&g));
    let scratch = cluster_with(&g, &BTreeSet::new());
    assert_eq!(file_bytes(&stored), file_bytes(&scratch), "appended == from scratch");
    assert_eq!(std::fs::read(&path).unwrap(), file_bytes(&scratch), "persisted == recomputed");
    // And the co-spend clustering still joins exactly what plain co-spend clustering joins.
    let plain = floodgate_graph::cluster(&g);
    for n in 0..g.node_count() {
        let n = floodgate_graph::NodeId(n);
        assert_eq!(stored.entity_of(n), plain.entity_of(n));
    }
    let third =
        json(&ok(floodgate(data).args(["trace", "build", "--format", "json"]).output().unwrap()));
    assert_eq!(third["clustering"]["how"], "current", "{third}");

    // Two addresses of the largest entity, for `trace why`.
    let (a, b) = {
        let mut by: BTreeMap<u32, Vec<String>> = BTreeMap::new();
        for n in 0..g.node_count() {
            let id = floodgate_graph::NodeId(n);
            if g.kind(id) == NodeKind::Address {
                by.entry(stored.entity_of(id).0).or_default().push(g.key(id).to_string());
            }
        }
        let big = by.into_values().max_by_key(Vec::len).unwrap();
        (big[0].clone(), big[big.len() - 1].clone())
    };
    ok(floodgate(data).args(["trace", "why", &a, &b]).output().unwrap());
    // The id of an address that joined an entity resolves to it, naming the joining
    // transaction and its block (looked up in the transfer store: the multi-input
    // transactions of the sample are in blocks 227835 and 227836).
    let member = [&a, &b]
        .into_iter()
        .map(|k| g.lookup(k).unwrap())
        .find(|&n| stored.entity_of(n).0 != n.0)
        .unwrap();
    let alias = format!("E{}", member.0);
    let entity = stored.entity_of(member).to_string();
    let report = json(&ok(floodgate(data)
        .args(["trace", "entity", &alias, "--format", "json"])
        .output()
        .unwrap()));
    assert_eq!(report["entity"], stored.entity_of(member).0, "{report}");
    let block = report["alias"]["block"].as_u64().unwrap();
    assert!(block == 227_835 || block == 227_836, "{report}");
    let table = ok(floodgate(data).args(["trace", "entity", &alias]).output().unwrap());
    let note = format!("note: {alias} was merged into {entity} by co-spend tx tx:bitcoin:");
    assert!(table.starts_with(&note), "{table}");
    assert!(table.lines().next().unwrap().contains(&format!(" at block {block} (")), "{table}");
    // A damaged file: queries name it and the offset; a build repairs it, with a warning.
    let good = std::fs::read(&path).unwrap();
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x40;
    std::fs::write(&path, &bad).unwrap();
    let err = fails(floodgate(data).args(["trace", "why", &a, &b]).output().unwrap());
    assert!(err.contains(ENTITIES_FILE) && err.contains("byte offset"), "{err}");
    let repaired =
        json(&ok(floodgate(data).args(["trace", "build", "--format", "json"]).output().unwrap()));
    assert_eq!(repaired["clustering"]["how"], "rebuilt", "{repaired}");
    assert!(repaired["clustering"]["reason"].as_str().unwrap().contains("unreadable"));
    assert_eq!(std::fs::read(&path).unwrap(), good);
    ok(floodgate(data).args(["trace", "why", &a, &b]).output().unwrap());
}

/// A Bitcoin transaction: input address numbers, (output address number, value).
type RawTx = (Vec<u32>, Vec<(u32, u64)>);

/// Appends one segment of Bitcoin transactions (input address numbers, outputs) to
/// `<data>/graph` and updates the stored clustering, as `trace build` does.
fn append(data: &Path, tx_base: u8, txs: &[RawTx]) -> Graph {
    let g = append_graph_only(data, tx_base, txs);
    update_clustering(&g, &BTreeSet::new()).unwrap();
    g
}

/// As [`append`], without updating the stored clustering (which is then stale).
fn append_graph_only(data: &Path, tx_base: u8, txs: &[RawTx]) -> Graph {
    let dir = data.join("graph");
    let base = Graph::open_or_empty(&dir).unwrap();
    let mut b = GraphBuilder::new(Some(&base));
    for (i, (ins, outs)) in txs.iter().enumerate() {
        let txid = Hash32([tx_base + i as u8; 32]);
        let t =
            b.node(&floodgate_graph::tx_key(Chain::Bitcoin, &txid), NodeKind::Transaction).unwrap();
        let e = |v: u64| EdgeInput {
            amount: Amount::from(v),
            time: Some(1_300_000_000 + i64::from(tx_base) * 1000 + i as i64),
            asset: "BTC",
            txid,
            chain: Chain::Bitcoin,
        };
        for &a in ins {
            let a = b.node(&format!("1addr{a}"), NodeKind::Address).unwrap();
            b.add_edge(a, t, &e(100_000_000)).unwrap();
        }
        for &(a, v) in outs {
            let a = b.node(&format!("1addr{a}"), NodeKind::Address).unwrap();
            b.add_edge(t, a, &e(v)).unwrap();
        }
    }
    b.commit(&base, BTreeMap::new()).unwrap();
    Graph::open(&dir).unwrap()
}

#[test]
fn a_merged_entity_id_resolves_in_exposure_why_and_the_entity_report() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    // Build 1: E(1addr0) = {0, 1}, E(1addr2) = {2, 3}.
    let g1 = append(data, 0, &[(vec![0, 1], vec![(9, 50)]), (vec![2, 3], vec![(9, 40)])]);
    let id = |g: &Graph, a: u32| g.lookup(&format!("1addr{a}")).unwrap().0;
    let (e0, e2) = (format!("E{}", id(&g1, 0)), format!("E{}", id(&g1, 2)));
    // Build 2: a transaction spends from 1 and 3 (merging E2 into E0), then the entity pays
    // a round 0.5 BTC to the old address 9 with change to the fresh address 7.
    let join = format!("tx:bitcoin:{}", Hash32([100; 32]).to_hex());
    append(
        data,
        100,
        &[(vec![1, 3], vec![(4, 10)]), (vec![0], vec![(9, 50_000_000), (7, 1_234_567)])],
    );

    let note = format!("note: {e2} was merged into {e0} by co-spend tx {join} at ");
    let out = ok(floodgate(data).args(["trace", "exposure", &e2]).output().unwrap());
    assert!(out.starts_with(&note), "{out}");
    let exp = json(&ok(floodgate(data)
        .args(["trace", "exposure", &e2, "--direction", "out", "--format", "json"])
        .output()
        .unwrap()));
    assert_eq!(exp[0]["target"], e0.as_str(), "{exp}");

    let why = ok(floodgate(data).args(["trace", "why", &e2, "1addr0"]).output().unwrap());
    assert!(why.starts_with(&note), "{why}");
    assert!(why.contains(&join), "{why}");
    let steps = json(&ok(floodgate(data)
        .args(["trace", "why", "1addr2", "1addr0", "--format", "json"])
        .output()
        .unwrap()));
    let txs: Vec<&str> =
        steps.as_array().unwrap().iter().map(|s| s["tx"].as_str().unwrap()).collect();
    assert!(txs.contains(&join.as_str()), "{steps}");
    assert!(steps.as_array().unwrap().iter().all(|s| s["rule"] == "co_spend"), "{steps}");

    let report = json(&ok(floodgate(data)
        .args(["trace", "entity", &e2, "--change-heuristics", "--format", "json"])
        .output()
        .unwrap()));
    assert_eq!(report["entity"], id(&g1, 0), "{report}");
    assert_eq!(report["alias"]["merged_into"], id(&g1, 0), "{report}");
    assert_eq!(report["members"], 4, "{report}");
    assert_eq!(report["merges"][0]["alias"], id(&g1, 2), "{report}");
    assert_eq!(report["merges"][0]["tx"], join.as_str(), "{report}");
    assert_eq!(report["change"][0]["address"], "1addr7", "{report}");
    let table = ok(floodgate(data)
        .args(["trace", "entity", "1addr3", "--change-heuristics"])
        .output()
        .unwrap());
    assert!(table.contains("round 50000000"), "{table}");
    // Off by default.
    let plain = json(&ok(floodgate(data)
        .args(["trace", "entity", &e0, "--format", "json"])
        .output()
        .unwrap()));
    assert_eq!(plain["change"].as_array().unwrap().len(), 0, "{plain}");
    assert_eq!(plain["alias"], serde_json::Value::Null, "{plain}");

    // Change evidence never merges: `why` says "not one entity" (exit 1) and shows it.
    let out = floodgate(data)
        .args(["trace", "why", "1addr0", "1addr7", "--change-heuristics"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("never merges") && text.contains("1addr7"), "{text}");
    assert!(text.contains("fresh address"), "{text}");

    let err = fails(floodgate(data).args(["trace", "entity", "E4000000"]).output().unwrap());
    assert!(err.contains("'E4000000' is not in the graph"), "{err}");

    // Blocks appended without `trace build` updating the clustering: the stored file is stale,
    // so a query does not use it as is: it extends it in memory (the new co-spend of 4 and 0
    // is known) and leaves the file alone.
    let file = data.join("graph").join(ENTITIES_FILE);
    let before = std::fs::read(&file).unwrap();
    append_graph_only(data, 200, &[(vec![4, 0], vec![(9, 1)])]);
    let steps = json(&ok(floodgate(data)
        .args(["trace", "why", "1addr4", "1addr0", "--format", "json"])
        .output()
        .unwrap()));
    assert_eq!(steps[0]["tx"], format!("tx:bitcoin:{}", Hash32([200; 32]).to_hex()), "{steps}");
    assert_eq!(std::fs::read(&file).unwrap(), before, "queries do not write the file");
}

/// Deposit-address clustering end to end: `trace build` takes the exchange wallets from a
/// TagPack, the deposit address that swept to the tagged hot wallet joins its entity, and
/// `trace why` names the sweep.
#[test]
fn trace_build_joins_a_deposit_address_to_its_tagged_exchange() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    // An (empty) transfer store, and a constructed Ethereum graph beside it.
    floodgate_store::Store::open(data).unwrap();
    let addr = |i: u32| format!("0x{:040x}", 0xabc000 + i);
    let (hot, deposit, partial) = (addr(1), addr(2), addr(3));
    let t = 1_700_000_000i64;
    let transfers = [
        (addr(10), deposit.clone(), 1_000_000u64, t, 1u8), // customer → deposit address
        (deposit.clone(), hot.clone(), 990_000, t + 300, 2), // sweep: 99 %, 5 minutes later
        (addr(11), partial.clone(), 1_000_000, t, 3),      // customer → another address
        (partial.clone(), hot.clone(), 100_000, t + 300, 4), // forwards only 10 %
    ];
    let gdir = data.join("graph");
    let base = Graph::open_or_empty(&gdir).unwrap();
    let mut b = GraphBuilder::new(Some(&base));
    for (from, to, v, time, tx) in &transfers {
        let f = b.node(from, NodeKind::Address).unwrap();
        let d = b.node(to, NodeKind::Address).unwrap();
        let e = EdgeInput {
            amount: Amount::from(*v),
            time: Some(*time),
            asset: "ETH",
            txid: Hash32([*tx; 32]),
            chain: Chain::Ethereum,
        };
        b.add_edge(f, d, &e).unwrap();
    }
    b.commit(&base, BTreeMap::new()).unwrap();
    let pack = data.join("exchange.yaml");
    std::fs::write(
        &pack,
        format!("title: test\ncurrency: ETH\ncategory: exchange\nsource: test\ntags:\n- address: {hot}\n"),
    )
    .unwrap();
    // Without exchange tags: no deposit clustering.
    let plain =
        json(&ok(floodgate(data).args(["trace", "build", "--format", "json"]).output().unwrap()));
    assert_eq!(plain["clustering"]["deposit_addresses"], 0, "{plain}");
    let out = floodgate(data).args(["trace", "why", &deposit, &hot]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // With them: the tags changed, so the clustering is recomputed, and the deposit joins.
    let built = json(&ok(floodgate(data)
        .args(["trace", "build", "--format", "json", "--tagpack"])
        .arg(&pack)
        .output()
        .unwrap()));
    assert_eq!(built["clustering"]["how"], "rebuilt", "{built}");
    assert_eq!(built["clustering"]["exchange_wallets"], 1, "{built}");
    assert_eq!(built["clustering"]["deposit_addresses"], 1, "{built}");
    let steps = json(&ok(floodgate(data)
        .args(["trace", "why", &deposit, &hot, "--format", "json"])
        .output()
        .unwrap()));
    assert_eq!(steps[0]["rule"], "deposit_sweep", "{steps}");
    assert_eq!(steps[0]["tx"], Hash32([2; 32]).to_hex_prefixed(), "{steps}");
    assert_eq!(steps[0]["time"], t + 300, "{steps}");
    let out = floodgate(data).args(["trace", "why", &partial, &hot]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "a 10 % forward is not a sweep: {out:?}");
}
