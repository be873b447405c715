//! OFAC's legacy CSV files: the SDN list (`sdn.csv`, `add.csv`, `alt.csv`, `sdn_comments.csv`)
//! and the consolidated non-SDN list (`cons_prim.csv`, `cons_add.csv`, `cons_alt.csv`,
//! `cons_comments.csv`).
//!
//! Layout as OFAC documents it (`dat_spec.txt`): no header row, `-0-` marks an empty field.
//!
//! | file | columns |
//! |---|---|
//! | `sdn.csv` | ent_num, SDN_Name, SDN_Type, Program, Title, Call_Sign, Vess_type, Tonnage, GRT, Vess_flag, Vess_owner, Remarks |
//! | `add.csv` | ent_num, Add_num, Address, City/State/Province/Postal Code, Country, Add_remarks |
//! | `alt.csv` | ent_num, alt_num, alt_type (aka, fka, nka), alt_name, alt_remarks |
//! | `sdn_comments.csv` | ent_num, the rest of a Remarks field too long for `sdn.csv` |
//!
//! Rows are joined by `ent_num` (the same number as the advanced XML's profile id). Dates of
//! birth, nationalities, identity documents, weak aliases (`a.k.a. 'X'`) and digital-currency
//! addresses ("Digital Currency Address - XBT 1Kuf…") are read from the remarks text.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Result, ScreenError};
use crate::model::{
    AliasKind, EntityType, Identifier, ListEntity, ListName, ListSnapshot, ListedAddress,
};

/// The identity-document labels OFAC uses in remarks ("Passport A123 (Iran)").
const DOCUMENT_KINDS: &[&str] = &[
    "Passport",
    "National ID No.",
    "Tax ID No.",
    "Registration Number",
    "Registration ID",
    "Cedula No.",
    "Identification Number",
    "NIT #",
    "RFC",
    "C.U.R.P.",
    "D.N.I.",
    "Legal Entity Number",
    "SWIFT/BIC",
    "Vessel Registration Identification",
    "Business Registration Document #",
    "Company Number",
    "Personal ID Card",
    "Residency Number",
    "Driver's License No.",
    "SSN",
    "Citizen's Card Number",
    "Travel Document Number",
    "Kenyan ID No.",
    "Aircraft Manufacturer's Serial Number (MSN)",
];

fn field(s: &str) -> Option<&str> {
    let t = s.trim();
    (t != "-0-" && !t.is_empty()).then_some(t)
}

/// Which files make up a list.
struct Files {
    main: PathBuf,
    add: PathBuf,
    alt: PathBuf,
    comments: PathBuf,
    list: &'static str,
    sub_list: &'static str,
}

fn files(path: &Path) -> Result<Files> {
    let (dir, prefix) = if path.is_dir() {
        if path.join("sdn.csv").is_file() {
            (path.to_path_buf(), "")
        } else if path.join("cons_prim.csv").is_file() {
            (path.to_path_buf(), "cons_")
        } else {
            return Err(ScreenError::UnknownFormat {
                path: path.to_path_buf(),
                reason: "directory holds neither sdn.csv nor cons_prim.csv".into(),
            });
        }
    } else {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let dir = path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        (dir, if name.starts_with("cons_") { "cons_" } else { "" })
    };
    let main = if prefix.is_empty() { "sdn.csv" } else { "cons_prim.csv" };
    let comments = if prefix.is_empty() { "sdn_comments.csv" } else { "cons_comments.csv" };
    Ok(Files {
        main: dir.join(main),
        add: dir.join(format!("{prefix}add.csv")),
        alt: dir.join(format!("{prefix}alt.csv")),
        comments: dir.join(comments),
        list: if prefix.is_empty() { "ofac-sdn" } else { "ofac-non-sdn" },
        sub_list: if prefix.is_empty() { "SDN List" } else { "Non-SDN Consolidated List" },
    })
}

/// Reads a headerless OFAC CSV, checking the field count of every row. Returns the fields of each row.
fn read_rows(path: &Path, fields: usize, hasher: &mut Sha256) -> Result<Vec<Vec<String>>> {
    let bytes = super::limits::read_limited(path)?;
    hasher.update(&bytes);
    let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(&bytes[..]);
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| super::csv_error(path, &bytes, &e))?;
        super::limits::check_record(path, &bytes, &rec)?;
        let line = || super::line_of(&bytes, rec.position());
        // A stray end-of-file marker (some OFAC files end with a SUB character).
        if rec.len() == 1
            && rec[0].trim_matches(|c: char| c.is_whitespace() || c == '\u{1a}').is_empty()
        {
            continue;
        }
        if rec.len() != fields {
            return Err(ScreenError::malformed(
                path,
                format!("line {}", line()),
                format!("expected {fields} fields, found {} (truncated file?)", rec.len()),
            ));
        }
        if rec[0].trim().parse::<u64>().is_err() {
            return Err(ScreenError::malformed(
                path,
                format!("line {}", line()),
                format!("ent_num '{}' is not a number", rec[0].trim()),
            ));
        }
        out.push(rec.iter().map(str::to_owned).collect());
    }
    Ok(out)
}

/// The format in the registry ([`super::FORMATS`]).
#[derive(Debug, Clone, Copy)]
pub struct OfacCsv;

impl super::ListFormat for OfacCsv {
    fn name(&self) -> &'static str {
        "ofac-csv"
    }
    fn about(&self) -> &'static str {
        "OFAC legacy CSV"
    }
    fn detect_name(&self, path: &Path, name: &str) -> bool {
        if path.is_dir() {
            return path.join("sdn.csv").is_file() || path.join("cons_prim.csv").is_file();
        }
        name == "sdn.csv" || name == "cons_prim.csv"
    }
    fn load(&self, path: &Path) -> Result<ListSnapshot> {
        load(path)
    }
    fn files(&self, path: &Path) -> Result<Vec<std::path::PathBuf>> {
        let dir = if path.is_dir() {
            path.to_path_buf()
        } else {
            path.parent().map_or_else(|| std::path::PathBuf::from("."), Path::to_path_buf)
        };
        let names: &[&str] = if dir.join("sdn.csv").is_file() {
            &["sdn.csv", "add.csv", "alt.csv", "sdn_comments.csv"]
        } else {
            &["cons_prim.csv", "cons_add.csv", "cons_alt.csv", "cons_comments.csv"]
        };
        Ok(names.iter().map(|n| dir.join(n)).filter(|p| p.is_file()).collect())
    }
}

/// Loads an OFAC legacy CSV list from its directory or from its main file (`sdn.csv` or
/// `cons_prim.csv`); the companion files are optional.
///
/// # Errors
/// [`ScreenError::Io`]; [`ScreenError::Malformed`] naming the file and line of a row with the
/// wrong number of fields or a non-numeric `ent_num`.
pub fn load(path: &Path) -> Result<ListSnapshot> {
    let f = files(path)?;
    let mut hasher = Sha256::new();
    let mut entities: BTreeMap<u64, ListEntity> = BTreeMap::new();
    let mut remarks: BTreeMap<u64, String> = BTreeMap::new();
    let mut order = Vec::new();
    for r in read_rows(&f.main, 12, &mut hasher)? {
        let ent: u64 = r[0].trim().parse().expect("checked by read_rows");
        let entity_type = match field(&r[2]).map(str::to_ascii_lowercase).as_deref() {
            Some("individual") => EntityType::Person,
            Some("vessel") => EntityType::Vessel,
            Some("aircraft") => EntityType::Aircraft,
            _ => EntityType::Organization,
        };
        let programs = field(&r[3])
            .map(|p| {
                p.split("] [")
                    .map(|x| x.trim_matches(['[', ']', ' ']).to_owned())
                    .filter(|x| !x.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let mut e = ListEntity {
            id: ent.to_string(),
            entity_type,
            programs,
            sub_list: Some(f.sub_list.to_owned()),
            ..ListEntity::default()
        };
        if let Some(n) = field(&r[1]) {
            e.names.push(ListName::primary(n));
        }
        if let Some(flag) = field(&r[9]) {
            e.countries.push(crate::country::canonical(flag));
        }
        if let Some(rm) = field(&r[11]) {
            remarks.insert(ent, rm.to_owned());
        }
        order.push(ent);
        entities.insert(ent, e);
    }
    if entities.is_empty() {
        return Err(ScreenError::malformed(&f.main, "line 1", "no entries"));
    }
    let mut dangling = 0usize;
    if f.alt.is_file() {
        for r in read_rows(&f.alt, 5, &mut hasher)? {
            let ent: u64 = r[0].trim().parse().expect("checked by read_rows");
            let Some(e) = entities.get_mut(&ent) else {
                dangling += 1;
                continue;
            };
            if let Some(n) = field(&r[3]) {
                let alias = match field(&r[2]).map(str::to_ascii_lowercase).as_deref() {
                    Some("fka") => AliasKind::Fka,
                    Some("nka") => AliasKind::Nka,
                    _ => AliasKind::Aka,
                };
                let low_quality = field(&r[4]).is_some_and(|x| x.contains("weak"));
                e.names.push(ListName { full: n.to_owned(), alias, low_quality, script: None });
            }
        }
    }
    if f.add.is_file() {
        for r in read_rows(&f.add, 6, &mut hasher)? {
            let ent: u64 = r[0].trim().parse().expect("checked by read_rows");
            let Some(e) = entities.get_mut(&ent) else {
                dangling += 1;
                continue;
            };
            if let Some(c) = field(&r[4]) {
                let c = crate::country::canonical(c);
                if !e.countries.contains(&c) {
                    e.countries.push(c);
                }
            }
        }
    }
    if f.comments.is_file() {
        for r in read_rows(&f.comments, 2, &mut hasher)? {
            let ent: u64 = r[0].trim().parse().expect("checked by read_rows");
            if let Some(more) = field(&r[1]) {
                // The comments file holds the continuation of a remark cut off in sdn.csv.
                remarks.entry(ent).or_default().push_str(more);
            }
        }
    }
    for (ent, text) in &remarks {
        if let Some(e) = entities.get_mut(ent) {
            apply_remarks(e, text);
        }
    }
    if dangling > 0 {
        tracing::debug!(
            target: "floodgate::screen::ofac_csv",
            dangling,
            "alias/address rows whose ent_num is not in the main file were skipped"
        );
    }
    Ok(ListSnapshot {
        list: f.list.to_owned(),
        version: hex::encode(&hasher.finalize()[..8]),
        source: f.main.display().to_string(),
        entities: order.into_iter().filter_map(|id| entities.remove(&id)).collect(),
    })
}

/// Reads what the remarks text states: `DOB …`, `nationality …`, `citizen …`, identity
/// documents, `a.k.a. 'X'` (weak aliases) and `Digital Currency Address - ASSET addr`.
pub(crate) fn apply_remarks(e: &mut ListEntity, text: &str) {
    for item in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let item = item.trim_end_matches('.');
        let plain = item.strip_prefix("alt. ").unwrap_or(item);
        if let Some(rest) = plain.strip_prefix("Digital Currency Address - ") {
            let mut it = rest.split_whitespace();
            if let (Some(asset), Some(addr)) = (it.next(), it.next()) {
                let a = ListedAddress { asset: asset.to_owned(), address: addr.to_owned() };
                if !e.addresses.contains(&a) {
                    e.addresses.push(a);
                }
            }
        } else if let Some(d) = plain.strip_prefix("DOB ") {
            if let Some(d) = super::listed_date(d) {
                if !e.dobs.contains(&d) {
                    e.dobs.push(d);
                }
            }
        } else if let Some(c) =
            plain.strip_prefix("nationality ").or_else(|| plain.strip_prefix("citizen "))
        {
            let c = crate::country::canonical(c);
            if !e.countries.contains(&c) {
                e.countries.push(c);
            }
        } else if plain.starts_with("a.k.a.") || plain.starts_with("f.k.a.") {
            // a.k.a. 'BNC'; a.k.a. 'X', 'Y' — OFAC's weak aliases.
            for (i, part) in plain.split('\'').enumerate() {
                let part = part.trim();
                if i % 2 == 1 && !part.is_empty() {
                    e.names.push(ListName {
                        full: part.to_owned(),
                        alias: AliasKind::Aka,
                        low_quality: true,
                        script: None,
                    });
                }
            }
        } else if let Some(kind) = DOCUMENT_KINDS.iter().find(|k| plain.starts_with(*k)) {
            let rest = plain[kind.len()..].trim();
            let (value, country) = match rest.find(" (") {
                Some(i) => (rest[..i].trim(), Some(rest[i + 2..].trim_end_matches(')'))),
                None => (rest, None),
            };
            if !value.is_empty() {
                e.identifiers.push(Identifier {
                    kind: (*kind).to_owned(),
                    value: value.to_owned(),
                    country: country.map(crate::country::canonical),
                });
            }
        }
    }
}
