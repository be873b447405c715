//! Loader tests on real files, with oracles where the data set provides one.

use std::collections::{BTreeMap, BTreeSet};

use floodgate_screen::{AliasKind, EntityType};

use crate::common::sdn;

/// (alias type, primary, low quality, script, name) per profile.
type NamesByProfile = BTreeMap<String, Vec<(String, bool, bool, String, String)>>;

fn csv_rows(path: &std::path::Path) -> Vec<csv::StringRecord> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.records().map(|r| r.unwrap()).collect()
}

#[test]
fn sdn_advanced_names_equal_the_derived_oracle() {
    let Some(sdn) = sdn() else { return };
    let dir = floodgate_testdata::dir("sanctions/ofac-sdn").unwrap();
    assert_eq!(sdn.entities.len(), 18_367);
    assert_eq!(sdn.version, "2025-11-19");
    // profile -> multiset of (alias type, primary, low quality, script, name)
    let mut want: NamesByProfile = BTreeMap::new();
    let mut want_meta: BTreeMap<String, (String, String, BTreeSet<String>)> = BTreeMap::new();
    for r in csv_rows(&dir.join("derived_names_2025-11-19.csv")) {
        want.entry(r[0].to_owned()).or_default().push((
            r[4].to_owned(),
            &r[5] == "true",
            &r[6] == "true",
            r[7].to_owned(),
            r[8].to_owned(),
        ));
        let programs = r[3].split(';').filter(|p| !p.is_empty()).map(str::to_owned).collect();
        want_meta.insert(r[0].to_owned(), (r[1].to_owned(), r[2].to_owned(), programs));
    }
    let mut got: NamesByProfile = BTreeMap::new();
    for e in &sdn.entities {
        let v = got.entry(e.id.clone()).or_default();
        for n in &e.names {
            v.push((
                n.alias.ofac_label().to_owned(),
                n.alias == AliasKind::Primary,
                n.low_quality,
                n.script.clone().unwrap_or_default(),
                n.full.clone(),
            ));
        }
        let (party, list, programs) = &want_meta[&e.id];
        let party_ok = match e.entity_type {
            EntityType::Person => party == "Individual",
            EntityType::Organization => party == "Entity",
            EntityType::Vessel => party == "Vessel",
            EntityType::Aircraft => party == "Aircraft",
            EntityType::Unknown => false,
        };
        assert!(party_ok, "profile {}: type {:?} vs {party}", e.id, e.entity_type);
        assert_eq!(e.sub_list.as_deref(), Some(list.as_str()), "profile {}", e.id);
        let got_programs: BTreeSet<String> = e.programs.iter().cloned().collect();
        assert_eq!(&got_programs, programs, "profile {}", e.id);
    }
    for v in want.values_mut().chain(got.values_mut()) {
        v.sort();
    }
    assert_eq!(got.len(), want.len());
    for (id, names) in &want {
        assert_eq!(got.get(id), Some(names), "names of profile {id}");
    }
    let total: usize = got.values().map(Vec::len).sum();
    assert_eq!(total, 48_482);
}

#[test]
fn sdn_advanced_addresses_equal_the_derived_oracle() {
    let Some(sdn) = sdn() else { return };
    let dir = floodgate_testdata::dir("sanctions/ofac-sdn").unwrap();
    let want: BTreeSet<(String, String, String)> =
        csv_rows(&dir.join("derived_crypto_addresses_2025-11-19.csv"))
            .iter()
            .map(|r| (r[0].to_owned(), r[5].to_owned(), r[6].to_owned()))
            .collect();
    let mut got = BTreeSet::new();
    let mut rows = 0;
    for e in &sdn.entities {
        for a in &e.addresses {
            rows += 1;
            got.insert((e.id.clone(), a.asset.clone(), a.address.clone()));
        }
    }
    assert_eq!(rows, 761);
    assert_eq!(got, want);
    // Spot check a labelled entity a compliance officer knows: Lazarus Group, DPRK3.
    let lazarus = sdn.entities.iter().find(|e| e.id == "27307").unwrap();
    assert!(lazarus.programs.iter().any(|p| p == "DPRK3"));
    assert!(!lazarus.addresses.is_empty());
}

#[test]
fn sdn_advanced_has_dobs_countries_and_documents() {
    let Some(sdn) = sdn() else { return };
    let sim = sdn.entities.iter().find(|e| e.id == "42498").unwrap();
    assert_eq!(sim.dobs[0].to_string(), "1983-11-25");
    assert!(sim.countries.contains(&"KP".to_owned()), "{:?}", sim.countries);
    let with_docs =
        sdn.entities.iter().filter(|e| e.identifiers.iter().any(|i| i.kind == "Passport")).count();
    assert!(with_docs > 1000, "{with_docs} profiles with passports");
    let persons_with_dob = sdn
        .entities
        .iter()
        .filter(|e| e.entity_type == EntityType::Person && !e.dobs.is_empty())
        .count();
    assert!(persons_with_dob > 5000, "{persons_with_dob}");
}

#[test]
fn truncated_sdn_xml_names_the_element() {
    let Some(dir) = floodgate_testdata::dir("sanctions/ofac-sdn") else { return };
    use std::io::Read;
    let mut r =
        bzip2::read::BzDecoder::new(std::fs::File::open(dir.join("sdn_advanced.xml.bz2")).unwrap());
    let mut head = vec![0u8; 3_000_000];
    r.read_exact(&mut head).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("sdn_truncated.xml");
    std::fs::write(&p, &head).unwrap();
    let err = floodgate_screen::loaders::ofac_advanced::load(&p).unwrap_err().to_string();
    assert!(err.contains("sdn_truncated.xml"), "{err}");
    assert!(err.contains("/Sanctions/"), "{err}");
}
