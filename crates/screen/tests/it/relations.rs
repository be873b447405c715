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
