//! The persistent, memory-mapped candidate index: a reopened screener answers from the file
//! exactly as the in-memory matcher did, and a stale or damaged file is rebuilt, never used.

use floodgate_screen::index::INDEX_FILE;
use floodgate_screen::score::ScoreConfig;
use floodgate_screen::{Hit, ListEntity, ListName, ListSnapshot, NameQuery, Screener};
use floodgate_types::Chain;

fn open(dir: &std::path::Path) -> Screener {
    Screener::open(dir, ScoreConfig::default(), None).unwrap()
}

fn summary(hits: &[Hit]) -> Vec<(String, String, String, u64, String)> {
    hits.iter()
        .map(|h| {
            let why: Vec<String> = h.features.iter().map(|f| format!("{f:?}")).collect();
            (
                h.list.clone(),
                h.entity_id.clone(),
                h.matched_name.clone(),
                h.score.to_bits(),
                format!("{} {} {:?}", h.entity_hash, why.join("|"), h.programs),
            )
        })
        .collect()
}

fn snap(list: &str, version: &str, names: &[(&str, &str)]) -> ListSnapshot {
    ListSnapshot {
        list: list.into(),
        version: version.into(),
        entities: names
            .iter()
            .map(|(id, name)| ListEntity {
                id: (*id).into(),
                entity_type: floodgate_screen::EntityType::Person,
                names: vec![ListName::primary(*name)],
                ..ListEntity::default()
            })
            .collect(),
        ..ListSnapshot::default()
    }
}

const QUERIES: &[&str] = &[
    "Eric Badege",
    "Erik Badeje",
    "Al-Qaida",
    "Abu Bakr al Baghdadi",
    "Kim Jong Un",
    "Islamic State in Iraq and the Levant",
    "Nobody In Particular",
    "Ahmad Karimi",
];

#[test]
fn reopened_un_and_ofac_addresses_answer_from_the_mapped_index_with_the_same_hits() {
    let (Some(un), Some(addrs)) = (
        floodgate_testdata::dir("sanctions/un-consolidated"),
        floodgate_testdata::dir("sanctions/ofac-crypto-addresses"),
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path());
    s.load_path(&un.join("UN_consolidated.xml"), None).unwrap();
    s.load_path(&addrs, None).unwrap();
    assert!(!s.matcher().is_mapped());
    let built: Vec<_> =
        QUERIES.iter().map(|q| summary(&s.matcher().screen(NameQuery::name(*q)))).collect();
    assert!(!built[0].is_empty() && !built[2].is_empty(), "{built:?}");
    let eth = "0x8589427373D6D84E98730D7795D8f6f8731FDA16".to_lowercase();
    let addr_built = s.matcher().screen_address(Chain::Ethereum, &eth).unwrap().len();
    let sizes = s.matcher().len();
    drop(s);
    assert!(tmp.path().join(INDEX_FILE).is_file());

    let s = open(tmp.path());
    assert!(s.matcher().is_mapped(), "the reopened screener should map the index");
    assert_eq!(s.matcher().len(), sizes);
    for (q, want) in QUERIES.iter().zip(&built) {
        assert_eq!(&summary(&s.matcher().screen(NameQuery::name(*q))), want, "{q}");
    }
    assert_eq!(s.matcher().screen_address(Chain::Ethereum, &eth).unwrap().len(), addr_built);
    // The brute-force scan over the mapped names finds what the index finds.
    for q in QUERIES {
        let pq = s.matcher().prepare(NameQuery::name(*q));
        let idx: Vec<String> =
            s.matcher().screen_prepared(&pq).into_iter().map(|h| h.entity_id).collect();
        let all: Vec<String> =
            s.matcher().screen_brute_force(&pq).into_iter().map(|h| h.entity_id).collect();
        for id in &idx {
            assert!(all.contains(id), "{q}: {id} from the index, not from the scan");
        }
    }
}

#[test]
fn a_corrupt_or_truncated_index_is_rebuilt_not_trusted() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path());
    s.load(snap("t", "v1", &[("1", "Sergei Lavrov"), ("2", "Ali Hassan Karimi")])).unwrap();
    drop(s);
    let path = tmp.path().join(INDEX_FILE);
    let good = std::fs::read(&path).unwrap();

    // One flipped bit in the postings or names.
    let mut bad = good.clone();
    let at = bad.len() * 2 / 3;
    bad[at] ^= 0x01;
    std::fs::write(&path, &bad).unwrap();
    let s = open(tmp.path());
    assert!(!s.matcher().is_mapped(), "a damaged index must not be mapped");
    assert_eq!(s.matcher().screen(NameQuery::name("Sergie Lavrov"))[0].entity_id, "1");
    drop(s);
    // The rebuild rewrote it, so the next process maps it again.
    assert_eq!(std::fs::read(&path).unwrap(), good);
    assert!(open(tmp.path()).matcher().is_mapped());

    // Cut short.
    std::fs::write(&path, &good[..good.len() - 9]).unwrap();
    let s = open(tmp.path());
    assert!(!s.matcher().is_mapped());
    assert_eq!(s.matcher().screen(NameQuery::name("Ali Karimi"))[0].entity_id, "2");
    drop(s);

    // Not an index at all.
    std::fs::write(&path, b"hello").unwrap();
    assert!(!open(tmp.path()).matcher().is_mapped());
    assert!(open(tmp.path()).matcher().is_mapped());
}

#[test]
fn an_index_built_from_other_list_versions_is_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path());
    s.load(snap("t", "v1", &[("1", "Sergei Lavrov")])).unwrap();
    drop(s);
    let path = tmp.path().join(INDEX_FILE);
    let v1 = std::fs::read(&path).unwrap();
    let mut s = open(tmp.path());
    assert!(s.matcher().is_mapped());
    s.load(snap("t", "v2", &[("1", "Sergei Lavrov"), ("9", "Viktor Bout")])).unwrap();
    assert!(!s.matcher().is_mapped(), "a load rebuilds in memory");
    drop(s);

    // Put the v1 index back, as a crash between the database commit and the index write
    // would leave it: the versions it names are not the stored ones, so it is not used.
    std::fs::write(&path, &v1).unwrap();
    let s = open(tmp.path());
    assert!(!s.matcher().is_mapped());
    let hits = s.matcher().screen(NameQuery::name("Viktor Bout"));
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].entity_id, "9");
    drop(s);
    let s = open(tmp.path());
    assert!(s.matcher().is_mapped());
    assert_eq!(s.matcher().screen(NameQuery::name("Viktor Bout"))[0].entity_id, "9");
}
