//! Tests of the OFAC legacy CSV, US CSL, BIS DPL, FollowTheMoney and generic CSV loaders on
//! the real files in ../shared/data/sanctions (and the synthetic generic-CSV example).

use std::path::{Path, PathBuf};

use floodgate_screen::loaders::{self, bis_dpl, ftm, generic_csv, ofac_csv, us_csl};
use floodgate_screen::{EntityType, Matcher, NameQuery, ScoreConfig};

fn sanctions(rel: &str) -> Option<PathBuf> {
    floodgate_testdata::dir(&format!("sanctions/{rel}"))
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/generic-list-synthetic.csv")
}

#[test]
fn ofac_legacy_sdn_csv_joins_by_ent_num_and_reads_remarks() {
    let Some(dir) = sanctions("ofac-sdn-csv-2021") else { return };
    let snap = ofac_csv::load(&dir).unwrap();
    assert_eq!(snap.list, "ofac-sdn");
    assert_eq!(snap.entities.len(), 8_976);
    // Same result through format detection, from the directory and from sdn.csv.
    assert_eq!(loaders::load_path(&dir).unwrap().entities.len(), 8_976);
    assert_eq!(loaders::load_path(&dir.join("sdn.csv")).unwrap().version, snap.version);

    let bnc = snap.entities.iter().find(|e| e.id == "306").unwrap();
    assert_eq!(bnc.display_name(), "BANCO NACIONAL DE CUBA");
    assert_eq!(bnc.entity_type, EntityType::Organization);
    assert_eq!(bnc.programs, ["CUBA"]);
    // alt.csv joined by ent_num, the weak alias from the remarks, add.csv countries.
    assert!(bnc.names.iter().any(|n| n.full == "NATIONAL BANK OF CUBA" && !n.low_quality));
    assert!(bnc.names.iter().any(|n| n.full == "BNC" && n.low_quality));
    assert!(bnc.countries.contains(&"CH".to_owned()) && bnc.countries.contains(&"JP".to_owned()));

    // 15 entries carry "Digital Currency Address - XBT …" in their remarks.
    let with_addr = snap.entities.iter().filter(|e| !e.addresses.is_empty()).count();
    assert_eq!(with_addr, 15);
    let e = snap
        .entities
        .iter()
        .find(|e| e.addresses.iter().any(|a| a.address == "12QtD5BFwRsdNsAZY76UVE1xyCGNTojH9h"))
        .unwrap();
    assert_eq!(e.addresses[0].asset, "XBT");
    let m = Matcher::new(ScoreConfig::default(), None, &[&snap]);
    let hits = m
        .screen_address(floodgate_types::Chain::Bitcoin, "12QtD5BFwRsdNsAZY76UVE1xyCGNTojH9h")
        .unwrap();
    assert_eq!(hits[0].entity_id, e.id);

    // Remarks give DOBs and documents of individuals.
    let persons = snap.entities.iter().filter(|e| e.entity_type == EntityType::Person);
    let (mut dob, mut docs) = (0, 0);
    for p in persons {
        dob += usize::from(!p.dobs.is_empty());
        docs += usize::from(!p.identifiers.is_empty());
    }
    assert!(dob > 3_000 && docs > 1_000, "dob {dob}, documents {docs}");
}

#[test]
fn ofac_non_sdn_csv_loads_the_consolidated_list() {
    let Some(dir) = sanctions("ofac-non-sdn-csv") else { return };
    let snap = loaders::load_path(&dir).unwrap();
    assert_eq!(snap.list, "ofac-non-sdn");
    assert_eq!(snap.entities.len(), 442);
    let h = snap.entities.iter().find(|e| e.id == "9639").unwrap();
    assert_eq!(h.entity_type, EntityType::Person);
    assert_eq!(h.programs, ["NS-PLC"]);
    assert_eq!(h.dobs[0].year, 1962);
    assert!(h.names.iter().any(|n| n.full == "HANIYYA, Ismaeel"));
}

#[test]
fn truncated_ofac_csv_names_file_and_line() {
    let Some(dir) = sanctions("ofac-sdn-csv-2021") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(dir.join("sdn.csv")).unwrap();
    // Cut in the middle of the 101st row.
    let cut: usize = text.split_inclusive('\n').take(100).map(str::len).sum::<usize>() + 12;
    std::fs::write(tmp.path().join("sdn.csv"), &text.as_bytes()[..cut]).unwrap();
    let err = loaders::load_path(tmp.path()).unwrap_err().to_string();
    assert!(err.contains("sdn.csv") && err.contains("line 101"), "{err}");
}

#[test]
fn us_csl_reads_both_layouts() {
    let Some(dir) = sanctions("us-csl") else { return };
    let old = loaders::load_path(&dir.join("csl-2019-sample.csv")).unwrap();
    assert_eq!(old.list, "us-csl");
    assert_eq!(old.entities.len(), 115);
    let psa = old.entities.iter().find(|e| e.display_name() == "200G PSA HOLDINGS LLC").unwrap();
    assert_eq!(psa.entity_type, EntityType::Organization);
    assert_eq!(psa.programs, ["SDNTK"]);
    assert_eq!(psa.identifiers[0].value, "80-0890696");
    assert_eq!(psa.identifiers[0].kind, "Tax ID No.");
    assert!(psa.countries.contains(&"US".to_owned()));
    let dpl = old.entities.iter().find(|e| e.display_name() == "ADRIAN MANUEL HERNANDEZ").unwrap();
    assert!(dpl.sub_list.as_deref().unwrap().starts_with("Denied Persons List"));
    // "…; and Shijiazhuang Communication…": the joining "and" is not part of the alias.
    let cetc = old.entities.iter().find(|e| e.display_name() == "54th Research Institute of China");
    let aliases: Vec<&str> = cetc.unwrap().names.iter().map(|n| n.full.as_str()).collect();
    assert!(
        aliases.iter().any(|a| a.starts_with("Shijiazhuang Communication Observation")),
        "{aliases:?}"
    );
    assert!(!aliases.iter().any(|a| a.to_ascii_lowercase().starts_with("and ")), "{aliases:?}");

    let new = loaders::load_path(&dir.join("consolidated-sample.csv")).unwrap();
    assert!(!new.entities.is_empty());
    // Ids are the API's `_id` (a hash, or the entity number for some sources).
    let first_id = "233a4d725770c81fb561ffe3842c14010c2201971d6be62eca1e613b";
    assert!(new.entities.iter().any(|e| e.id == first_id));
    let atlas = new.entities.iter().find(|e| e.display_name() == "Atlas Sanatgaran").unwrap();
    assert_eq!(atlas.countries, ["AM"]);
    let direct = us_csl::load(&dir.join("consolidated-sample.csv")).unwrap();
    assert_eq!(direct.entities.len(), new.entities.len());
}

#[test]
fn bis_dpl_groups_rows_of_one_party() {
    let Some(dir) = sanctions("us-bis-dpl") else { return };
    let snap = loaders::load_path(&dir.join("dpl.txt")).unwrap();
    assert_eq!(snap.list, "us-bis-dpl");
    let rows = std::fs::read_to_string(dir.join("dpl.txt")).unwrap().lines().count() - 1;
    assert_eq!(rows, 581);
    assert!(snap.entities.len() < rows, "parties with several addresses are one entity");
    let nasser = snap.entities.iter().find(|e| e.id == "ABDULAH AL NASSER").unwrap();
    assert_eq!(nasser.countries, ["US"]);
    assert_eq!(snap.version.len(), 10, "the latest Last_Update date: {}", snap.version);
    assert_eq!(bis_dpl::load(&dir.join("dpl.txt")).unwrap().entities.len(), snap.entities.len());
}

#[test]
fn followthemoney_json_lines() {
    let Some(dir) = sanctions("opensanctions-samples") else { return };
    let snap = loaders::load_path(&dir.join("yente_t1_entities.ftm.jsonl")).unwrap();
    assert_eq!(snap.list, "opensanctions");
    assert_eq!(snap.entities.len(), 6, "the Address entity is skipped");
    let org = snap.entities.iter().find(|e| e.id == "NK-2GdmHtZTeNXjNVrBGEXZNj").unwrap();
    assert_eq!(org.entity_type, EntityType::Organization);
    assert_eq!(org.countries, ["BY"]);
    assert!(org.names.len() > 5);
    assert_eq!(org.identifiers[0].value, "808000714");
    // A Cyrillic name of it matches through transliteration.
    let m = Matcher::new(ScoreConfig::default(), None, &[&snap]);
    let hits = m.screen(NameQuery::name("Inter Tobacco LLC"));
    assert_eq!(hits[0].entity_id, org.id);
    assert_eq!(ftm::load(&dir.join("yente_t1_entities.ftm.jsonl")).unwrap().version, snap.version);

    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.ftm.jsonl");
    std::fs::write(
        &bad,
        "{\"id\":\"a\",\"schema\":\"Person\",\"properties\":{\"name\":[\"A B\"]}}\n{\"id\":",
    )
    .unwrap();
    let err = loaders::load_path(&bad).unwrap_err().to_string();
    assert!(err.contains("bad.ftm.jsonl") && err.contains("line 2"), "{err}");
}

#[test]
fn generic_csv_example_loads_with_metadata() {
    let snap = loaders::load_path(&example()).unwrap();
    assert_eq!(snap.list, "vn-warning-list-example");
    assert_eq!(snap.version, "2025-06-01");
    assert_eq!(snap.entities.len(), 4);
    let adx = &snap.entities[0];
    assert_eq!(adx.id, "vnw-001");
    assert_eq!(adx.entity_type, EntityType::Organization);
    assert_eq!(adx.names.len(), 3);
    assert_eq!(adx.addresses[0].asset, "ETH");
    assert_eq!(adx.identifiers[0].kind, "Enterprise code");
    assert_eq!(adx.source_url.as_deref(), Some("https://example.invalid/warnings/vnw-001"));
    assert_eq!(snap.entities[2].countries, ["VN", "KH"]);
    assert_eq!(snap.entities[2].addresses[0].asset, "TRX");

    let m = Matcher::new(ScoreConfig::default(), None, &[&snap]);
    let hits = m.screen(NameQuery {
        name: "Tran Thi Minh Khue".into(),
        dob: floodgate_screen::PartialDate::parse("1987-03-14"),
        ..NameQuery::default()
    });
    assert_eq!(hits[0].entity_id, "vnw-002");
    let a = m
        .screen_address(floodgate_types::Chain::Tron, "TD5gsCwxykWsLN9aPrq2TAfNjByuZKYp4E")
        .unwrap();
    assert_eq!(a[0].entity_id, "vnw-003");
}

#[test]
fn generic_csv_errors_name_file_line_or_column() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("alerts.csv");
    std::fs::write(&p, "name,type,dob\nA Company,organization,\nB Person,person,1990-13-45\n")
        .unwrap();
    let err = generic_csv::load(&p).unwrap_err().to_string();
    assert!(err.contains("alerts.csv") && err.contains("line 3") && err.contains("dob"), "{err}");

    std::fs::write(&p, "# list: x\nname,aliasses\nA,B\n").unwrap();
    let err = loaders::load_path(&p).unwrap_err().to_string();
    assert!(err.contains("aliasses"), "{err}");

    // No metadata: the list is named after the file and versioned by content.
    std::fs::write(
        &p,
        "name,wallet,chain\nA Company,0x1111111111111111111111111111111111111111,eth\n",
    )
    .unwrap();
    let snap = loaders::load_path(&p).unwrap();
    assert_eq!(snap.list, "alerts");
    assert_eq!(snap.version.len(), 16);
}

#[test]
fn special_measure_list_is_its_own_category() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../lists/us-special-measures.csv");
    let snap = loaders::load_path(&path).unwrap();
    assert_eq!(snap.list, "us-special-measures");
    assert!(snap
        .entities
        .iter()
        .all(|e| e.category == Some(floodgate_types::RiskCategory::SpecialMeasure)));
    let m = Matcher::new(ScoreConfig::default(), None, &[&snap]);
    // The brand alone, as a buyer would type it, and the full name with a legal form.
    for q in ["Huione Group", "Bitzlato Ltd"] {
        let hits = m.screen(NameQuery::name(q));
        let h = hits.first().unwrap_or_else(|| panic!("{q}: no hit"));
        assert_eq!(h.category, Some(floodgate_types::RiskCategory::SpecialMeasure), "{q}");
        assert!(h.programs.iter().any(|p| p.starts_with("FinCEN-")), "{q}: {:?}", h.programs);
    }
    // A sanctions list stores no category.
    let example = loaders::load_path(&example()).unwrap();
    assert!(example.entities.iter().all(|e| e.category.is_none()));

    // An unknown category is an error naming the file and the key.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "# list: x\n# category: sanctionz\nid,name\n1,Foo\n").unwrap();
    let err = loaders::load_path(&bad).unwrap_err().to_string();
    assert!(err.contains("bad.csv") && err.contains("sanctionz"), "{err}");
}
