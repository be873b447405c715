//! End-to-end tests of attribution sources and `floodgate trace tags` on the real files of
//! `shared/data` (skipped when the test data is absent).

// In tests a panic is the failure report; helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::{blk_0_438, fails, floodgate, ok};

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

fn data(rel: &str) -> Option<PathBuf> {
    floodgate_testdata::file(rel)
}

const TORNADO_ROUTER: &str = "0xd90e2f925da726b50c4ed8d0fb90ad053324f31b";
const BINANCE_14: &str = "0x28c6c06298d514db089934071355e5743bf21d60";

#[test]
fn trace_tags_lists_an_address_tags_from_etherscan_given_or_kept_in_the_data_dir() {
    let Some(labels) = data("attribution/etherscan-labels/combinedAccountLabels.json") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = json(&ok(floodgate(d)
        .args(["trace", "tags", TORNADO_ROUTER, "--format", "json", "--etherscan"])
        .arg(&labels)
        .output()
        .unwrap()));
    // Sanctioned (OFAC, 2022-08-08) ranks above mixer: the address's category.
    assert_eq!(out["category"], "sanctioned", "{out}");
    let tags = out["tags"].as_array().unwrap();
    let mixer = tags.iter().find(|t| t["category"] == "mixer").unwrap();
    assert_eq!(mixer["actor"], "tornado");
    assert_eq!(mixer["label"], "Tornado.Cash: Router");
    assert_eq!(mixer["confidence"], "web_crawl");
    assert!(mixer["source"].as_str().unwrap().starts_with("etherscan-labels"), "{mixer}");

    // Kept under <data dir>/tags/etherscan/, read by every trace command without a flag.
    std::fs::create_dir_all(d.join("tags/etherscan")).unwrap();
    std::fs::copy(&labels, d.join("tags/etherscan/labels.json")).unwrap();
    let table = ok(floodgate(d).args(["trace", "tags", BINANCE_14]).output().unwrap());
    let row = table.lines().find(|l| l.contains("exchange")).unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains("binance") && row.contains("Binance 14"), "{table}");

    // An address with no tag: exit code 1, not an empty success.
    let none = floodgate(d)
        .args(["trace", "tags", "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3"])
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(1));
    // Not an address at all: an error.
    let err = fails(floodgate(d).args(["trace", "tags", "0x1234"]).output().unwrap());
    assert!(err.contains("neither an address nor an entity"), "{err}");
    // A malformed Etherscan file named on the command line: file and position, exit 2.
    let bad = d.join("bad.json");
    std::fs::write(&bad, "{\"0x28c6c06298d514db089934071355e5743bf21d60\": {\"name\": \"x\"}}")
        .unwrap();
    let err = fails(
        floodgate(d).args(["trace", "tags", BINANCE_14, "--etherscan"]).arg(&bad).output().unwrap(),
    );
    assert!(err.contains(&format!("{}:1:", bad.display())), "{err}");
    assert!(err.contains("missing field `labels`"), "{err}");
}

#[test]
fn the_load_summary_reports_every_skipped_cryptoscamdb_entry_with_its_line() {
    let (Some(urls), Some(uris)) =
        (data("attribution/cryptoscamdb/urls.yaml"), data("attribution/cryptoscamdb/uris.yaml"))
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = floodgate(dir.path());
    cmd.args(["trace", "tags", "--format", "json", "--cryptoscamdb"]).arg(&urls);
    cmd.arg("--cryptoscamdb").arg(&uris);
    let s = json(&ok(cmd.output().unwrap()));
    let sources = s["sources"].as_array().unwrap();
    let of = |name: &str| {
        sources.iter().find(|x| x["path"].as_str().unwrap().ends_with(name)).unwrap().clone()
    };
    // Counts from the independent python oracle (crates/attribution/tests/data/oracle_cryptoscamdb.py).
    let u = of("urls.yaml");
    assert_eq!(u["source"], "cryptoscamdb");
    assert_eq!((u["tags"].as_u64(), u["skipped"].as_array().unwrap().len()), (Some(5_381), 27));
    let i = of("uris.yaml");
    assert_eq!(i["skipped"][0]["line"], 35, "{i}");
    // The table shows each skipped entry as file:line with its reason.
    let mut cmd = floodgate(dir.path());
    cmd.args(["trace", "tags", "--cryptoscamdb"]).arg(&uris);
    let table = ok(cmd.output().unwrap());
    assert!(table.contains(&format!("{}:35", uris.display())), "{table}");
    assert!(table.contains("entry starting at line 26 is not a valid entry"), "{table}");
}

#[test]
fn ofac_addresses_come_from_the_loaded_sdn_list_with_its_name_and_version() {
    let Some(sdn) = data("sanctions/ofac-sdn/sdn_advanced.xml.bz2") else { return };
    let Some(ofac_dir) = floodgate_testdata::dir("sanctions/ofac-crypto-addresses") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Before any list is loaded, <data dir>/tags/ofac/ (the per-asset OFAC files) is used.
    std::fs::create_dir_all(d.join("tags/ofac")).unwrap();
    for f in std::fs::read_dir(&ofac_dir).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, d.join("tags/ofac").join(f.file_name().unwrap())).unwrap();
    }
    const LAZARUS_ETH: &str = "0x08723392Ed15743cc38513C4925f5e6be5c17243";
    let before = json(&ok(floodgate(d)
        .args(["trace", "tags", LAZARUS_ETH, "--format", "json"])
        .output()
        .unwrap()));
    assert_eq!(before["category"], "sanctioned", "{before}");
    assert!(before["tags"][0]["source"]
        .as_str()
        .unwrap()
        .starts_with("sanctioned_addresses_ETH.txt"));

    ok(floodgate(d).args(["lists", "load"]).arg(&sdn).output().unwrap());
    let after = json(&ok(floodgate(d)
        .args(["trace", "tags", LAZARUS_ETH, "--format", "json"])
        .output()
        .unwrap()));
    let tags = after["tags"].as_array().unwrap();
    assert_eq!(tags.len(), 1, "the list replaces the per-asset files: {after}");
    assert_eq!(tags[0]["category"], "sanctioned");
    assert_eq!(tags[0]["actor"], "Lazarus Group");
    assert_eq!(tags[0]["confidence"], "authority_data");
    let source = tags[0]["source"].as_str().unwrap();
    assert!(source.starts_with("ofac-sdn 2025-11-19 (screening list entry "), "{source}");
    assert!(source.contains("DPRK3"), "{source}");

    // Oracle: derived_crypto_addresses_2025-11-19.csv (extracted from the same SDN issue) has
    // 761 address rows; python3 with hand-written checksum checks (see
    // crates/attribution/tests/data/oracle_cryptoscamdb.py) finds 713 valid on Bitcoin, Ethereum
    // and Tron (XBT, ETH, TRX, USDT, USDC) and 48 on chains floodgate does not ingest.
    let s = json(&ok(floodgate(d).args(["trace", "tags", "--format", "json"]).output().unwrap()));
    let sources: BTreeMap<String, serde_json::Value> = s["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["source"].as_str().unwrap().to_owned(), x.clone()))
        .collect();
    let l = &sources["screening-lists"];
    assert_eq!((l["entries"].as_u64(), l["tags"].as_u64()), (Some(761), Some(713)), "{l}");
    assert_eq!(l["unsupported"], 48);
    assert!(!sources.contains_key("ofac-addresses"), "no fallback once lists are loaded");
}

#[test]
fn entity_tags_derive_from_address_tags_and_name_the_address() {
    if blk_0_438().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The bundled real sample: blocks 0–438, 227835 and 227836 (which has co-spends).
    ok(floodgate(d).args(["demo", "--no-serve"]).output().unwrap());
    ok(floodgate(d).args(["trace", "build"]).output().unwrap());
    // The largest co-spend entity of the sample, and two of its addresses.
    let g = floodgate_graph::Graph::open(&d.join("graph")).unwrap();
    let c = floodgate_graph::cluster(&g);
    let mut members: BTreeMap<floodgate_graph::EntityId, Vec<String>> = BTreeMap::new();
    for n in 0..g.node_count() {
        let id = floodgate_graph::NodeId(n);
        if g.kind(id) == floodgate_graph::NodeKind::Address {
            members.entry(c.entity_of(id)).or_default().push(g.key(id).to_string());
        }
    }
    let (entity, addrs) = members.iter().max_by_key(|(_, v)| v.len()).unwrap();
    assert!(addrs.len() >= 2, "the sample has a co-spend entity");
    let (tagged, other) = (addrs.last().unwrap().clone(), addrs[0].clone());
    let pack = d.join("pack.yaml");
    std::fs::write(
        &pack,
        format!(
            "title: test\ncurrency: BTC\nabuse: ransomware\nactor: testactor\nsource: test\nlabel: test label\ntags:\n- address: {tagged}\n"
        ),
    )
    .unwrap();

    let e = json(&ok(floodgate(d)
        .args(["trace", "tags", &entity.to_string(), "--format", "json", "--tagpack"])
        .arg(&pack)
        .output()
        .unwrap()));
    assert_eq!(e["entity"], entity.to_string());
    assert_eq!(e["category"], "ransomware");
    let tags = e["tags"].as_array().unwrap();
    assert_eq!(tags.len(), 1, "{e}");
    assert_eq!(tags[0]["address"], tagged.as_str(), "the evidence: which address carries it");
    assert_eq!(tags[0]["tag"]["actor"], "testactor");
    let table = ok(floodgate(d)
        .args(["trace", "tags", &entity.to_string(), "--tagpack"])
        .arg(&pack)
        .output()
        .unwrap());
    assert!(table.contains(&tagged) && table.contains("ransomware"), "{table}");

    // The other address carries no tag of its own; its entity does.
    let own =
        floodgate(d).args(["trace", "tags", &other, "--tagpack"]).arg(&pack).output().unwrap();
    assert_eq!(own.status.code(), Some(1));
    // An entity id beyond the graph is "not in the graph".
    let err = fails(floodgate(d).args(["trace", "tags", "E4294967290"]).output().unwrap());
    assert!(err.contains("is not in the graph"), "{err}");
}

#[test]
fn exposure_uses_etherscan_tags_on_the_real_ethereum_block() {
    let Some(labels) = data("attribution/etherscan-labels/combinedAccountLabels.json") else {
        return;
    };
    if blk_0_438().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The bundled sample includes Ethereum block 18000011, where Binance 14 paid
    // 0.06904 ETH to 0x65fD…Db8c (tx 0xc8bf3d56…).
    ok(floodgate(d).args(["demo", "--no-serve"]).output().unwrap());
    ok(floodgate(d).args(["trace", "build"]).output().unwrap());
    let r = json(&ok(floodgate(d)
        .args([
            "trace",
            "exposure",
            "0x65fD05467C3cbD3d8c115Aa2c5Fa048b4Ce8Db8c",
            "--asset",
            "ETH",
            "--hops",
            "1",
            "--format",
            "json",
            "--etherscan",
        ])
        .arg(&labels)
        .output()
        .unwrap()));
    let cats = r[0]["categories"].as_array().unwrap();
    let ex = cats.iter().find(|c| c["category"] == "exchange").unwrap_or_else(|| panic!("{r}"));
    assert_eq!(ex["value"], "69040000000000000", "{ex}");
    assert_eq!(ex["direct"], "69040000000000000", "{ex}");
    assert_eq!(ex["sources"][0]["node"], "0x28C6c06298d514Db089934071355E5743bf21d60", "{ex}");
}

/// Issue 9 item 14: the load summary counts rejected TagPacks (a pack is all or nothing), with
/// the error naming the file, instead of only logging them.
#[test]
fn the_load_summary_counts_rejected_tagpacks() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let packs = d.join("tags").join("tagpacks");
    std::fs::create_dir_all(&packs).unwrap();
    // Satoshi's address of block 9 (the genesis-era payment to Hal Finney), a valid pack.
    std::fs::write(
        packs.join("good.yaml"),
        "title: test\ncurrency: BTC\nabuse: scam\nsource: test\ntags:\n- address: 12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S\n",
    )
    .unwrap();
    std::fs::write(
        packs.join("bad.yaml"),
        "title: test\ncurrency: BTC\nabuse: scam\nsource: test\ntags:\n- address: not-an-address\n",
    )
    .unwrap();
    let out = json(&ok(floodgate(d).args(["trace", "tags", "--format", "json"]).output().unwrap()));
    let src = out["sources"].as_array().unwrap();
    let tp = src.iter().find(|s| s["source"] == "tagpacks").unwrap_or_else(|| panic!("{out}"));
    assert_eq!(tp["tags"], 1, "{out}");
    let rejected = tp["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1, "{out}");
    assert!(rejected[0].as_str().unwrap().contains("bad.yaml"), "{out}");
    let table = ok(floodgate(d).args(["trace", "tags"]).output().unwrap());
    assert!(table.contains("rejected") && table.contains("(whole file rejected)"), "{table}");
    assert!(table.contains("bad.yaml"), "{table}");
}
