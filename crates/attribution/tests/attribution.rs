//! Attribution sources on the real files of `shared/data/attribution` (skipped when the test
//! data is absent): Etherscan labels and CryptoScamDB, their counts against independent
//! oracles, and the file-and-line errors of bad input; TagPacks and OFAC address lists
//! (synthetic and real), validated whole with file and line; entity tags spread over a
//! clustering.

// In tests a panic is the failure report; helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use floodgate_attribution::{RiskCategory, Tag, TagError, TagSet};

#[path = "../../graph/tests/fixtures/mod.rs"]
mod fixtures;

use fixtures::{build_utxo, RawTx};

fn etherscan() -> Option<PathBuf> {
    floodgate_testdata::file("attribution/etherscan-labels/combinedAccountLabels.json")
}

fn cryptoscamdb(name: &str) -> Option<PathBuf> {
    floodgate_testdata::file(&format!("attribution/cryptoscamdb/{name}"))
}

fn canonical(a: &str) -> String {
    floodgate_types::Address::parse_any(a).unwrap().to_canonical()
}

const TORNADO_ROUTER: &str = "0xd90e2f925da726b50c4ed8d0fb90ad053324f31b";
const BINANCE_14: &str = "0x28c6c06298d514db089934071355e5743bf21d60";

#[test]
fn the_real_etherscan_labels_load_with_the_documented_mapping() {
    let Some(path) = etherscan() else { return };
    let mut tags = TagSet::new();
    let load = tags.load_etherscan(&path).unwrap();
    // Oracle (python3, once): for each of the 23,288 addresses of combinedAccountLabels.json,
    // the set of categories its labels map to in docs/taxonomy.md's Etherscan table; summed:
    // 12,522 tags (defi 11,005, exchange 591, blocklisted 483, miner 135, mixer 86,
    // wallet_service 84, sanctioned 72, gambling 62, scam 4), and 10,872 addresses with no
    // mapped label; minus the null address (blocked, no tag): 12,521 and 10,873.
    // Cross-checked with jq on the raw labels:
    //   jq '[to_entries[] | select(.value.labels | index("ofac-sanctions-lists"))] | length' → 72
    //   jq '[… index("tornado-cash") or index("ethereum-mixer") or index("typhoon-cash")] | length' → 86
    //   jq '[… index("blocked")] | length' → 483 (482 without the null address)
    assert_eq!(load.entries, 23_288);
    assert_eq!(load.tags, 12_521);
    assert_eq!(load.uncategorized, 10_873);
    assert_eq!(load.by_category[&RiskCategory::Sanctioned], 72);
    assert_eq!(load.by_category[&RiskCategory::Mixer], 86);
    assert_eq!(load.by_category[&RiskCategory::Blocklisted], 482);
    assert!(tags.of(&canonical("0x0000000000000000000000000000000000000000")).is_empty());
    assert_eq!(load.by_category[&RiskCategory::Exchange], 591);
    assert!(load.skipped.is_empty());

    // The Tornado Cash router: a mixer (actor tornado) and OFAC-sanctioned since 2022-08-08.
    let t = tags.of(&canonical(TORNADO_ROUTER));
    let mixer = t.iter().find(|t| t.category == RiskCategory::Mixer).unwrap();
    assert_eq!(mixer.actor.as_deref(), Some("tornado"));
    assert_eq!(mixer.label, "Tornado.Cash: Router");
    assert!(mixer.source.starts_with("etherscan-labels (combinedAccountLabels.json: tornado-cash"));
    assert_eq!(mixer.confidence.as_deref(), Some("web_crawl"));
    assert!(t.iter().any(|t| t.category == RiskCategory::Sanctioned), "{t:?}");

    // Binance 14, one of Binance's best-known hot wallets.
    let b = tags.of(&canonical(BINANCE_14));
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(b[0].category, RiskCategory::Exchange);
    assert_eq!(b[0].actor.as_deref(), Some("binance"));
    assert_eq!(b[0].label, "Binance 14");
}

#[test]
fn a_malformed_etherscan_file_names_its_position_and_loads_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let good = "{\"0x3f5ce5fbfe3e9af3971dd833d26ba9b5c936f0be\": {\"name\": \"Binance\", \"labels\": [\"binance\"]},\n";
    // Line 2: the JSON breaks (a missing colon).
    let bad = dir.path().join("labels.json");
    std::fs::write(&bad, format!("{good} \"0x28c6c06298d514db089934071355e5743bf21d60\" {{\"name\": \"x\", \"labels\": []}}}}\n")).unwrap();
    let mut tags = TagSet::new();
    let err = tags.load_etherscan(&bad).unwrap_err();
    assert!(matches!(err, TagError::Malformed { line: 2, .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.starts_with(&format!("{}:2:", bad.display())), "{msg}");
    assert!(msg.contains("nothing of this file was loaded"), "{msg}");
    assert!(tags.is_empty(), "nothing half-loaded");

    // Line 2: a key that is not an address (41 hex digits).
    let bad = dir.path().join("labels2.json");
    std::fs::write(&bad, format!("{good} \"0x28c6c06298d514db089934071355e5743bf21d600\": {{\"name\": \"x\", \"labels\": [\"binance\"]}}}}\n")).unwrap();
    let err = tags.load_etherscan(&bad).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with(&format!("{}:2:2:", bad.display())), "{msg}");
    assert!(msg.contains("not an Ethereum address"), "{msg}");
    assert!(tags.is_empty(), "nothing half-loaded");
}

#[test]
fn the_real_cryptoscamdb_loads_its_valid_entries_and_reports_every_skipped_one() {
    let (Some(urls), Some(uris)) = (cryptoscamdb("urls.yaml"), cryptoscamdb("uris.yaml")) else {
        return;
    };
    let mut tags = TagSet::new();
    let u = tags.load_cryptoscamdb(&urls).unwrap();
    let i = tags.load_cryptoscamdb(&uris).unwrap();
    // Oracle: an independent re-implementation in python3 (PyYAML per top-level entry; EIP-55
    // with a hand-written Keccak-256, Base58Check and Bech32/Bech32m written from their
    // specs), kept in tests/data/oracle_cryptoscamdb.py (`python3 … urls.yaml`):
    //   urls.yaml: 9,889 entries, 5,381 valid addresses, 27 invalid, 433 on unsupported chains
    //   uris.yaml: 16 entries, 13 valid addresses, 1 entry that is not valid YAML
    assert_eq!((u.entries, u.tags, u.unsupported), (9_889, 5_381, 433));
    assert_eq!(u.skipped.len(), 27, "{:#?}", u.skipped);
    assert_eq!((i.entries, i.tags, i.unsupported), (16, 13, 0));
    assert_eq!(i.skipped.len(), 1, "{:#?}", i.skipped);
    // uris.yaml line 26 starts an entry whose line 35 is mis-indented ("  - name: …").
    let s = &i.skipped[0];
    assert_eq!(s.line, 35, "{s}");
    assert!(s.reason.contains("entry starting at line 26 is not a valid entry"), "{s}");
    assert!(s.to_string().starts_with(&format!("{}:35: ", uris.display())), "{s}");
    // Every skipped address names its line, and that line holds the address.
    let text = std::fs::read_to_string(&urls).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for s in &u.skipped {
        let quoted = s.reason.split('\'').nth(1).unwrap_or_default();
        assert!(s.reason.contains("address skipped"), "{s}");
        assert!(
            lines[s.line - 1].contains(quoted.trim_end_matches("...")),
            "{s} / line {}: {}",
            s.line,
            lines[s.line - 1]
        );
    }
    // A phishing entry: the first in urls.yaml with an address (line 14).
    let t = tags.of(&canonical("0xD0cC2B24980CBCCA47EF755Da88B220a82291407"));
    let p = t.iter().find(|t| t.actor.as_deref() == Some("myelherwallel.com")).unwrap();
    assert_eq!(p.category, RiskCategory::Phishing);
    assert_eq!(p.label, "Phishing / MyEtherWallet");
    assert_eq!(p.source, "cryptoscamdb (urls.yaml:14, http://myelherwallel.com)");
}

/// Found by the `tagpack` fuzz target: a pack whose tag address also stands earlier on the line
/// the line finder was on made it slice backwards and panic. Loading it must answer, not panic.
#[test]
fn fuzz_tagpack_85df8797_does_not_panic() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz-tagpack-85df8797.yaml");
    let r = TagSet::new().load_tagpack(&path);
    // The pack has an empty address and a misspelt field: whatever the verdict, it is a
    // result naming the file, never a panic.
    if let Err(e) = r {
        assert!(e.to_string().contains("fuzz-tagpack-85df8797.yaml"), "{e}");
    }
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn tagpacks_are_validated_whole_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        dir.path(),
        "good.yaml",
        "title: t\ncategory: exchange\ncurrency: BTC\nsource: s\ntags:\n- address: 12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S\n  label: x\n- address: '0x722122dF12D4e14e13Ac3b6895a86e84145b6967'\n  currency: ETH\n  abuse: sanction\n- address: LTC-address-skipped\n  currency: LTC\n",
    );
    let mut tags = TagSet::new();
    assert_eq!(tags.load_tagpack(&good).unwrap(), 2);
    assert_eq!(tags.skipped_unsupported(), 1);
    assert_eq!(tags.of("12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S")[0].category, RiskCategory::Exchange);
    let eth = tags.of("0x722122dF12D4e14e13Ac3b6895a86e84145b6967");
    assert_eq!(eth[0].category, RiskCategory::Sanctioned, "abuse wins over category");

    let bad_cat = write(
        dir.path(),
        "badcat.yaml",
        "title: t\ncategory: exchange\ncurrency: BTC\ntags:\n- address: 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2\n- address: 12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S\n  category: casino_royale\n",
    );
    let mut t2 = TagSet::new();
    let err = t2.load_tagpack(&bad_cat).unwrap_err().to_string();
    assert!(err.contains("badcat.yaml:7:"), "{err}");
    assert!(err.contains("casino_royale"), "{err}");
    assert!(t2.is_empty(), "nothing of the pack is half-loaded");

    let bad_addr = write(
        dir.path(),
        "badaddr.yaml",
        "title: t\ncategory: exchange\ncurrency: BTC\ntags:\n- address: 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2\n- address: 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3\n",
    );
    let err = t2.load_tagpack(&bad_addr).unwrap_err().to_string();
    assert!(err.contains("badaddr.yaml:6:"), "{err}");
    assert!(t2.is_empty());

    let broken = write(dir.path(), "broken.yaml", "title: t\ntags: [\n  - : :\n");
    let err = t2.load_tagpack(&broken).unwrap_err().to_string();
    assert!(err.contains("broken.yaml:"), "{err}");
}

#[test]
fn the_real_graphsense_tagpacks_load() {
    let Some(dir) = floodgate_testdata::dir("attribution/graphsense-tagpacks/packs") else {
        return;
    };
    let mut tags = TagSet::new();
    let (n, rejected) = tags.load_dir(&dir).unwrap();
    assert!(n > 1000, "{n} tags");
    let tc = tags.of("0x8589427373D6D84E98730D7795D8f6f8731FDA16");
    assert_eq!(tc.first().map(|t| t.category), Some(RiskCategory::Mixer), "Tornado Cash");
    // The real EtherScamDB pack lists a Bitcoin address with a bad checksum: the whole pack
    // is rejected, naming the file and line, and none of its tags is loaded.
    let msgs: Vec<String> = rejected.iter().map(ToString::to_string).collect();
    assert!(
        msgs.iter().any(|m| m.contains("etherscamdb_tagpack.yaml:15521:")
            && m.contains("1Mn386ue8o3mW9866octLNP8HFqcYsphJCV")),
        "{msgs:#?}"
    );
    assert!(rejected.len() <= 3, "{msgs:#?}");
}

#[test]
fn the_real_ofac_address_lists_load_as_sanctioned() {
    let Some(dir) = floodgate_testdata::dir("sanctions/ofac-crypto-addresses") else { return };
    let mut tags = TagSet::new();
    let n = tags.load_ofac_dir(&dir).unwrap();
    assert!(n > 100, "{n}");
    let t = tags.of("123WBUDmSJv4GctdVEz6Qq6z8nXSKrJ4KX");
    assert_eq!(t.first().map(|t| t.category), Some(RiskCategory::Sanctioned));
    assert!(tags.skipped_unsupported() > 0, "XMR, LTC … are skipped");
}

#[test]
fn a_bad_ofac_address_rejects_its_file_with_the_line() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "sanctioned_addresses_XBT.txt",
        "123WBUDmSJv4GctdVEz6Qq6z8nXSKrJ4KX\n1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3\n",
    );
    let mut tags = TagSet::new();
    let err = tags.load_ofac_dir(dir.path()).unwrap_err().to_string();
    assert!(err.contains("sanctioned_addresses_XBT.txt:2:"), "{err}");
    assert!(tags.is_empty());
}

#[test]
fn entity_tags_spread_to_every_co_spent_address() {
    let dir = tempfile::tempdir().unwrap();
    let txs: Vec<RawTx> = vec![(vec![0, 1], vec![(9, 50)]), (vec![1, 2], vec![(8, 50)])];
    let g = build_utxo(dir.path(), &txs);
    let c = floodgate_graph::cluster(&g);
    let mut tags = TagSet::new();
    tags.add(Tag {
        address: "1addr2".into(),
        category: RiskCategory::Ransomware,
        label: "x".into(),
        source: "test".into(),
        confidence: None,
        actor: None,
    });
    let own = tags.resolve(&g);
    assert_eq!(own.len(), 1);
    let spread = tags.resolve_entities(&g, &c);
    for a in [0, 1, 2] {
        assert_eq!(
            spread.get(&g.lookup(&format!("1addr{a}")).unwrap()),
            Some(&RiskCategory::Ransomware)
        );
    }
    assert_eq!(spread.get(&g.lookup("1addr9").unwrap()), None);
}
