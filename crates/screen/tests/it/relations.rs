//! Owners and links: relationships from the OFAC advanced XML and OpenSanctions data, shown on
//! hits, screened with `screen_related`, and OFAC's 50 % rule where a share is given.

use floodgate_screen::loaders::{ftm, ofac_advanced};
use floodgate_screen::relations::screen_related;
use floodgate_screen::{Matcher, NameQuery, ScoreConfig};

#[test]
fn a_real_sdn_ownership_link_is_on_both_entries_and_its_owner_is_screened() {
    let Some(f) = floodgate_testdata::file("sanctions/ofac-sdn/sdn_advanced.xml.bz2") else {
        return;
    };
    let sdn = ofac_advanced::load(&f).unwrap();
    let all: usize = sdn.entities.iter().map(|e| e.relations.len()).sum();
    // 8,194 ProfileRelationships, each on both parties, less the former ones and any naming a
    // profile that is not in the file.
    assert!(all > 2 * 7_000, "{all}");
    let barakzai = sdn.entities.iter().find(|e| e.id == "13124").unwrap();
    let r = barakzai.relations.iter().find(|r| r.other_id == "13128").unwrap();
    assert_eq!((r.kind.as_str(), r.outgoing), ("Owned or Controlled By", true));
    assert_eq!(r.other_name, "NEW AHMADI LTD.");
    let company = sdn.entities.iter().find(|e| e.id == "13128").unwrap();
    let inv = company.relations.iter().find(|r| r.other_id == "13124").unwrap();
    assert!(!inv.outgoing);
    assert_eq!(inv.describe(), format!("owns or controls: {} (13124)", barakzai.display_name()));
    assert_eq!(r.describe(), "owned or controlled by: NEW AHMADI LTD. (13128)");

    let m = Matcher::new(ScoreConfig::default(), None, &[&sdn]);
    let hits = m.screen(NameQuery::name("New Ahmadi Company Ltd"));
    let h = hits.iter().find(|h| h.entity_id == "13128").unwrap();
    assert!(h.relations.iter().any(|r| r.other_id == "13124"));
    assert!(h.fifty_percent_rule.is_none(), "the OFAC XML gives no share, so none is guessed");
    let rel = screen_related(&m, std::slice::from_ref(h));
    let to_barakzai = rel.iter().find(|x| x.relation.other_id == "13124").unwrap();
    assert_eq!(to_barakzai.via, "13128");
    assert_eq!(to_barakzai.hits[0].entity_id, "13124", "the linked entry itself comes first");
}

#[test]
fn an_opensanctions_company_owned_60_percent_by_a_listed_person_is_flagged() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("own.ftm.jsonl");
    let lines = [
        r#"{"id":"p1","schema":"Person","properties":{"name":["Ivan Petrovich Sidorov"],"topics":["sanction"]}}"#,
        r#"{"id":"c1","schema":"Company","properties":{"name":["Baltic Amber Trading LLC"]}}"#,
        r#"{"id":"c2","schema":"Company","properties":{"name":["Northern Timber Export JSC"]}}"#,
        r#"{"id":"o1","schema":"Ownership","properties":{"owner":["p1"],"asset":["c1"],"percentage":["60"]}}"#,
        r#"{"id":"o2","schema":"Ownership","properties":{"owner":["p1"],"asset":["c2"],"percentage":["40"]}}"#,
        r#"{"id":"d1","schema":"Directorship","properties":{"director":["p1"],"organization":["c2"],"role":["General Director"]}}"#,
    ];
    std::fs::write(&path, lines.join("\n")).unwrap();
    let snap = ftm::load(&path).unwrap();
    assert_eq!(snap.entities.len(), 3, "relationship entities are links, not entries");
    let m = Matcher::new(ScoreConfig::default(), None, &[&snap]);

    let hits = m.screen(NameQuery::name("Baltic Amber Trading"));
    assert_eq!(hits[0].entity_id, "c1");
    assert_eq!(
        hits[0].fifty_percent_rule.as_deref(),
        Some("OFAC 50 % rule: owned 60 % by listed party: Ivan Petrovich Sidorov (p1) 60 %")
    );
    let hits = m.screen(NameQuery::name("Northern Timber Export"));
    assert_eq!(hits[0].entity_id, "c2");
    assert_eq!(hits[0].fifty_percent_rule, None, "40 % is under half");
    let kinds: Vec<String> = hits[0].relations.iter().map(|r| r.describe()).collect();
    assert!(kinds.contains(&"owned by, 40 %: Ivan Petrovich Sidorov (p1)".to_owned()), "{kinds:?}");
    assert!(
        kinds
            .iter()
            .any(|k| k.starts_with("directed by (General Director): Ivan") && k.contains("(p1)")),
        "{kinds:?}"
    );
    // The owner's own hit lists what it owns.
    let owner = m.screen(NameQuery::name("Ivan Sidorov"));
    assert_eq!(owner[0].entity_id, "p1");
    assert_eq!(owner[0].relations.len(), 3);
}

#[test]
fn real_sdn_ownership_chains_are_shown_and_never_flagged_without_a_share() {
    let Some(sdn) = crate::common::sdn() else { return };
    let by_id: std::collections::HashMap<&str, &floodgate_screen::ListEntity> =
        sdn.entities.iter().map(|e| (e.id.as_str(), e)).collect();
    let owner_of = |e: &floodgate_screen::ListEntity| -> Vec<String> {
        e.relations
            .iter()
            .filter(|r| r.is_owned_by_other() && r.other_id != e.id)
            .map(|r| r.other_id.clone())
            .collect()
    };
    // Chains C -> B -> A of "Owned or Controlled By" (and the inverse "Owns, controls, or
    // operates") in the real file.
    let mut chains = Vec::new();
    for c in &sdn.entities {
        for b in owner_of(c) {
            let Some(be) = by_id.get(b.as_str()) else { continue };
            for a in owner_of(be) {
                if a != c.id {
                    chains.push((c.id.clone(), b.clone(), a));
                }
            }
        }
    }
    assert!(chains.len() > 50, "ownership chains in the SDN: {}", chains.len());
    // The OFAC XML states no share on any relationship, so the 50 % rule never fires on it,
    // however long the chain: every entry is listed in its own right anyway.
    assert!(sdn.entities.iter().flat_map(|e| &e.relations).all(|r| r.share_percent.is_none()));
    let m = Matcher::new(ScoreConfig::default(), None, &[sdn]);
    for (c, b, _) in chains.iter().take(20) {
        let ce = by_id[c.as_str()];
        let hits = m.screen(NameQuery::name(ce.display_name()));
        let h = hits.iter().find(|h| h.entity_id == *c).unwrap();
        assert!(h.relations.iter().any(|r| r.other_id == *b && r.is_owned_by_other()));
        assert_eq!(h.fifty_percent_rule, None, "{}", ce.display_name());
    }
}

#[test]
fn an_opensanctions_ownership_chain_blocks_the_company_at_its_end() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("chain.ftm.jsonl");
    // Shape of OpenSanctions' export: the sanctioned person is a target with topic
    // "sanction"; the companies are in the data only as links (target false, no topics).
    let lines = [
        r#"{"id":"p1","schema":"Person","properties":{"name":["Ivan Petrovich Sidorov"],"topics":["sanction"]},"target":true}"#,
        r#"{"id":"b1","schema":"Company","properties":{"name":["Baltic Amber Holding LLC"]},"target":false}"#,
        r#"{"id":"c1","schema":"Company","properties":{"name":["Kaliningrad Amber Export JSC"]},"target":false}"#,
        r#"{"id":"x1","schema":"Company","properties":{"name":["Pomeranian Glass Works LLC"]},"target":false}"#,
        r#"{"id":"o1","schema":"Ownership","properties":{"owner":["p1"],"asset":["b1"],"percentage":["60"]}}"#,
        r#"{"id":"o2","schema":"Ownership","properties":{"owner":["b1"],"asset":["c1"],"percentage":["60"]}}"#,
        r#"{"id":"o3","schema":"Ownership","properties":{"owner":["c1"],"asset":["x1"],"percentage":["30"]}}"#,
    ];
    std::fs::write(&path, lines.join("\n")).unwrap();
    let snap = ftm::load(&path).unwrap();
    let m = Matcher::new(ScoreConfig::default(), None, &[&snap]);
    let rule = |q: &str, id: &str| {
        let hits = m.screen(NameQuery::name(q));
        hits.into_iter().find(|h| h.entity_id == id).unwrap().fifty_percent_rule
    };
    assert_eq!(
        rule("Baltic Amber Holding", "b1").as_deref(),
        Some("OFAC 50 % rule: owned 60 % by listed party: Ivan Petrovich Sidorov (p1) 60 %")
    );
    assert_eq!(
        rule("Kaliningrad Amber Export", "c1").as_deref(),
        Some(
            "OFAC 50 % rule: owned 60 % by blocked party: Baltic Amber Holding LLC (b1) 60 % \
             [itself blocked: owned 60 % by listed party: Ivan Petrovich Sidorov (p1) 60 %]"
        )
    );
    assert_eq!(rule("Pomeranian Glass Works", "x1"), None, "30 % of a blocked owner is under half");
}
