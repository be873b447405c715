//! Persistence, suppressions, delta re-screening and address screening.

use floodgate_screen::score::ScoreConfig;
use floodgate_screen::{ListEntity, ListName, ListSnapshot, NameQuery, Screener, Subject};
use floodgate_types::Chain;

const TORNADO: &str = "0x8589427373D6D84E98730D7795D8f6f8731FDA16";

fn open(dir: &std::path::Path) -> Screener {
    Screener::open(dir, ScoreConfig::default(), None).unwrap()
}

#[test]
fn delisted_tornado_cash_address_is_reported_as_a_removed_hit() {
    let (Some(old), Some(new)) = (
        floodgate_testdata::dir("sanctions/ofac-crypto-addresses-2024-09-27"),
        floodgate_testdata::dir("sanctions/ofac-crypto-addresses"),
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path());
    let r = s.load_path(&old, None).unwrap();
    assert_eq!(r.added, r.unchanged + r.added);
    // Lowercase input matches the checksummed listing: canonical comparison.
    let (_, hits) = s
        .screen_subject(
            "withdrawal-1",
            Subject::Address { chain: Chain::Ethereum, address: TORNADO.to_lowercase() },
        )
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].canonical, TORNADO);
    // A still-listed address, registered too, must not show up in the delta.
    drop(s);
    let mut s = open(tmp.path()); // survives a restart
    let r = s.load_path(&new, None).unwrap();
    assert!(r.removed >= 90, "{r:?}");
    assert_eq!(r.removed_hits.len(), 1, "{:?}", r.removed_hits);
    assert_eq!(r.removed_hits[0].subject, "withdrawal-1");
    assert!(r.removed_hits[0].entity_id.ends_with(TORNADO));
    assert!(r.new_hits.is_empty());
    assert!(s.matcher().screen_address(Chain::Ethereum, TORNADO).unwrap().is_empty());
    let eth_2025 = std::fs::read_to_string(new.join("sanctioned_addresses_ETH.txt")).unwrap();
    let first = eth_2025.lines().next().unwrap();
    assert_eq!(s.matcher().screen_address(Chain::Ethereum, first).unwrap().len(), 1);
}

#[test]
fn tron_hex_matches_base58_listing() {
    let Some(new) = floodgate_testdata::dir("sanctions/ofac-crypto-addresses") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path());
    s.load_path(&new, None).unwrap();
    let trx = std::fs::read_to_string(new.join("sanctioned_addresses_TRX.txt")).unwrap();
    let t = trx.lines().next().unwrap().trim();
    let hex = floodgate_types::address::TronAddress::parse(t).unwrap().to_hex41();
    assert_eq!(s.matcher().screen_address(Chain::Tron, &hex).unwrap().len(), 1, "{t} as {hex}");
    // Unsupported chains are matched as listed text.
    let xmr = std::fs::read_to_string(new.join("sanctioned_addresses_XMR.txt")).unwrap();
    assert_eq!(s.matcher().screen_raw_address("XMR", xmr.lines().next().unwrap()).len(), 1);
}

fn list(version: &str, dob_year: u16) -> ListSnapshot {
    ListSnapshot {
        list: "vn-blacklist".into(),
        version: version.into(),
        source: "test".into(),
        entities: vec![
            ListEntity {
                id: "1".into(),
                entity_type: floodgate_screen::EntityType::Person,
                names: vec![ListName::primary("Nguyễn Văn Đài")],
                dobs: vec![floodgate_screen::PartialDate {
                    year: dob_year,
                    month: None,
                    day: None,
                }],
                ..ListEntity::default()
            },
            ListEntity {
                id: "2".into(),
                entity_type: floodgate_screen::EntityType::Organization,
                names: vec![ListName::primary("Công ty TNHH Huione")],
                ..ListEntity::default()
            },
        ],
    }
}

#[test]
fn suppressions_survive_reloads_and_reappear_when_the_entry_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path());
    s.load(list("v1", 1969)).unwrap();
    let subject = Subject::Name(NameQuery::name("Nguyen Van Dai"));
    let (hits, _) = s.screen_subject("cust-42", subject.clone()).unwrap();
    assert_eq!(hits.len(), 1);
    assert!(!hits[0].suppressed);
    s.suppress("cust-42", "vn-blacklist", "1", "different person: DOB 1990").unwrap();
    // Same content reloaded as a new version (and across a restart): still suppressed.
    drop(s);
    let mut s = open(tmp.path());
    let r = s.load(list("v2", 1969)).unwrap();
    assert_eq!((r.added, r.changed, r.unchanged), (0, 0, 2));
    let (hits, _) = s.screen_subject("cust-42", subject.clone()).unwrap();
    assert!(hits[0].suppressed);
    // The entry changes: the hit comes back for review.
    let r = s.load(list("v3", 1970)).unwrap();
    assert_eq!(r.changed, 1);
    let (hits, _) = s.screen_subject("cust-42", subject).unwrap();
    assert_eq!(hits.len(), 1);
    assert!(!hits[0].suppressed);
    assert_eq!(s.lists().unwrap()[0].version, "v3");
}

#[test]
fn a_bad_file_leaves_the_previous_version_in_force() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = open(tmp.path());
    s.load(list("v1", 1969)).unwrap();
    let bad = tmp.path().join("UN_consolidated.xml");
    std::fs::write(&bad, "<?xml version=\"1.0\"?>\n<CONSOLIDATED_LIST dateGenerated=\"2026-01-01\">\n<INDIVIDUALS><INDIVIDUAL><FIRST_NAME>X</FIRST_NAME>").unwrap();
    let err = s.load_path(&bad, Some("vn-blacklist")).unwrap_err().to_string();
    assert!(err.contains("UN_consolidated.xml") && err.contains("INDIVIDUAL"), "{err}");
    assert_eq!(s.lists().unwrap()[0].version, "v1");
    assert_eq!(s.matcher().screen(NameQuery::name("Huione")).len(), 1);
}

#[test]
fn un_list_loads_with_aliases_dobs_and_documents() {
    let Some(dir) = floodgate_testdata::dir("sanctions/un-consolidated") else { return };
    let un = floodgate_screen::loaders::un_xml::load(&dir.join("UN_consolidated.xml")).unwrap();
    assert_eq!(un.version, "2026-02-27");
    let persons = un
        .entities
        .iter()
        .filter(|e| e.entity_type == floodgate_screen::EntityType::Person)
        .count();
    assert_eq!((persons, un.entities.len() - persons), (730, 273));
    let badege = un.entities.iter().find(|e| e.id == "CDi.001").unwrap();
    assert_eq!(badege.display_name(), "ERIC BADEGE");
    assert_eq!(badege.dobs[0].year, 1971);
    assert!(badege.countries.contains(&"CD".to_owned()), "{:?}", badege.countries);
    assert!(un.entities.iter().filter(|e| !e.identifiers.is_empty()).count() > 100);
}

/// One entry `fz-1` listing `address` on Tron.
fn one_entry_list(version: &str, name: &str, address: &str) -> ListSnapshot {
    ListSnapshot {
        list: "vasp-list".to_owned(),
        version: version.to_owned(),
        source: "test".to_owned(),
        entities: vec![ListEntity {
            id: "fz-1".to_owned(),
            names: vec![ListName::primary(name)],
            addresses: vec![floodgate_screen::ListedAddress {
                asset: "TRX".to_owned(),
                address: address.to_owned(),
            }],
            ..Default::default()
        }],
    }
}

#[test]
fn issue_10_two_tenants_with_the_same_list_entry_and_subject_ids_never_meet() {
    use floodgate_types::TenantId;
    const T1: &str = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t";
    const T2: &str = "TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM";
    let tmp = tempfile::tempdir().unwrap();
    let open_t = |t: &str| {
        Screener::open_tenant(tmp.path(), TenantId::new(t).unwrap(), ScoreConfig::default(), None)
            .unwrap()
    };
    let (mut a, mut b) = (open_t("vasp-a"), open_t("vasp-b"));
    // The same list name and entry id, different versions and contents.
    a.load(one_entry_list("2026-01", "Alpha Trading", T1)).unwrap();
    let rb = b.load(one_entry_list("2026-02", "Beta Holdings", T2)).unwrap();
    assert_eq!((rb.previous_version, rb.added), (None, 1), "vasp-a's load is not vasp-b's");
    // The same subject id, registered by both.
    let subject = |address: &str| Subject::Address { chain: Chain::Tron, address: address.into() };
    let (_, ha) = a.screen_subject("customer-1", subject(T1)).unwrap();
    let (_, hb) = b.screen_subject("customer-1", subject(T1)).unwrap();
    assert_eq!((ha.len(), hb.len()), (1, 0), "vasp-b's list does not list T1");
    a.suppress_by("customer-1", "vasp-list", "fz-1", "known customer", "lan").unwrap();
    drop((a, b));

    let (a, b) = (open_t("vasp-a"), open_t("vasp-b"));
    let versions =
        |s: &Screener| s.lists().unwrap().iter().map(|l| l.version.clone()).collect::<Vec<_>>();
    assert_eq!(
        (versions(&a), versions(&b)),
        (vec!["2026-01".to_owned()], vec!["2026-02".to_owned()])
    );
    assert_eq!(a.history(None).unwrap().len(), 1);
    assert_eq!(b.history(None).unwrap().len(), 1);
    assert_eq!(a.matcher().screen_address(Chain::Tron, T2).unwrap().len(), 0);
    assert_eq!(b.matcher().screen_address(Chain::Tron, T2).unwrap().len(), 1);
    let hits =
        |s: &Screener| s.stored_hits().unwrap().iter().map(|h| h.suppressed).collect::<Vec<_>>();
    assert_eq!((hits(&a), hits(&b)), (vec![true], vec![]));
    assert_eq!((a.suppressions().unwrap().len(), b.suppressions().unwrap().len()), (1, 0));
    let listed_a = floodgate_screen::listed::listed_addresses_of(tmp.path(), a.tenant()).unwrap();
    assert_eq!(listed_a.unwrap()[0].address.address, T1);
    // And the default tenant (the CLI's) sees neither.
    let d = open(tmp.path());
    assert!(d.lists().unwrap().is_empty() && d.stored_hits().unwrap().is_empty());
}
