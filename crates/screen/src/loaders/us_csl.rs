//! The US Consolidated Screening List (CSL) of the Departments of Commerce, State and the
//! Treasury, as CSV with a header row. Both published layouts are read: the 2019 layout
//! (`source,entity_number,type,programs,name,…`) and the current API layout, which adds a
//! leading `_id` column. Columns are found by name, so their order does not matter.
//!
//! Multi-valued cells (`alt_names`, `programs`, `addresses`, `dates_of_birth`,
//! `nationalities`, `citizenships`, `ids`) separate values with `;`. An `ids` value is
//! `country, number, kind` ("US, 80-0890696, Tax ID No."); kinds of the form
//! "Digital Currency Address - XBT" become listed addresses.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Result, ScreenError};
use crate::model::{EntityType, Identifier, ListEntity, ListName, ListSnapshot, ListedAddress};

/// Splits a `;`-separated cell. The CSL joins some aliases and addresses with "; and "
/// ("…Institute 54; and Shijiazhuang Communication…"): the leading "and" is not part of the
/// value.
fn split(s: &str) -> impl Iterator<Item = &str> {
    s.split(';').map(|x| strip_and(x.trim())).filter(|x| !x.is_empty())
}

fn strip_and(s: &str) -> &str {
    match s.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("and ") => s[4..].trim_start(),
        _ => s,
    }
}

/// The format in the registry ([`super::FORMATS`]).
#[derive(Debug, Clone, Copy)]
pub struct UsCsl;

impl super::ListFormat for UsCsl {
    fn name(&self) -> &'static str {
        "us-csl"
    }
    fn about(&self) -> &'static str {
        "US CSL"
    }
    fn detect_content(&self, _head: &str, first: &str) -> bool {
        ["source", "name", "alt_names"]
            .iter()
            .all(|c| first.split(',').any(|h| h.trim().trim_matches('"') == *c))
    }
    fn load(&self, path: &Path) -> Result<ListSnapshot> {
        load(path)
    }
}

/// Loads a CSL CSV file.
///
/// # Errors
/// [`ScreenError::Io`]; [`ScreenError::Mapping`] when the header lacks `name` or `source`;
/// [`ScreenError::Malformed`] naming the line of a row that cannot be read or has no name.
pub fn load(path: &Path) -> Result<ListSnapshot> {
    let bytes = super::limits::read_limited(path)?;
    let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(&bytes[..]);
    let header =
        r.headers().map_err(|e| ScreenError::malformed(path, "line 1", e.to_string()))?.clone();
    let col = |n: &str| header.iter().position(|h| h.trim() == n);
    let (Some(c_name), Some(c_source)) = (col("name"), col("source")) else {
        return Err(ScreenError::Mapping {
            path: path.to_path_buf(),
            reason: "a CSL file needs `name` and `source` columns".into(),
        });
    };
    let c = |n: &str| col(n);
    let (c_id, c_num, c_type, c_programs, c_alt, c_addr, c_dob, c_nat, c_cit, c_ids) = (
        c("_id"),
        c("entity_number"),
        c("type"),
        c("programs"),
        c("alt_names"),
        c("addresses"),
        c("dates_of_birth"),
        c("nationalities"),
        c("citizenships"),
        c("ids"),
    );
    let mut entities: Vec<ListEntity> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| super::csv_error(path, &bytes, &e))?;
        super::limits::check_record(path, &bytes, &rec)?;
        let line = || super::line_of(&bytes, rec.position());
        let get = |i: Option<usize>| i.and_then(|i| rec.get(i)).map_or("", str::trim);
        if rec.len() != header.len() {
            return Err(ScreenError::malformed(
                path,
                format!("line {}", line()),
                format!("expected {} fields, found {} (truncated file?)", header.len(), rec.len()),
            ));
        }
        let name = get(Some(c_name));
        if name.is_empty() {
            return Err(ScreenError::malformed(path, format!("line {}", line()), "empty name"));
        }
        let source = get(Some(c_source));
        // A stable id: the API's `_id`, else the source's entity number, else a hash of
        // source and name.
        let mut id = match (get(c_id), get(c_num)) {
            (i, _) if !i.is_empty() => i.to_owned(),
            (_, n) if !n.is_empty() => format!("{}:{n}", source_code(source)),
            _ => {
                let h = Sha256::digest(format!("{source}\u{1f}{name}").as_bytes());
                format!("{}:{}", source_code(source), hex::encode(&h[..6]))
            }
        };
        if !seen.insert(id.clone()) {
            id = format!("{id}#{}", line());
            seen.insert(id.clone());
        }
        let mut e = ListEntity {
            id,
            entity_type: EntityType::parse(get(c_type)),
            programs: split(get(c_programs)).map(str::to_owned).collect(),
            sub_list: (!source.is_empty()).then(|| source.to_owned()),
            ..ListEntity::default()
        };
        e.names.push(ListName::primary(name));
        for a in split(get(c_alt)) {
            e.names.push(ListName::aka(a));
        }
        for d in split(get(c_dob)) {
            if let Some(d) = super::listed_date(d) {
                e.dobs.push(d);
            }
        }
        let mut add_country = |c: &str| {
            let c = crate::country::canonical(c);
            if !c.is_empty() && !e.countries.contains(&c) {
                e.countries.push(c);
            }
        };
        for c in split(get(c_nat)).chain(split(get(c_cit))) {
            add_country(c);
        }
        for a in split(get(c_addr)) {
            // "street, city, postal code, CC": the country code is the last part.
            if let Some(cc) = a.rsplit(',').next().map(str::trim) {
                if cc.len() == 2 && cc.chars().all(|c| c.is_ascii_uppercase()) {
                    add_country(cc);
                }
            }
        }
        for v in split(get(c_ids)) {
            let parts: Vec<&str> = v.splitn(3, ',').map(str::trim).collect();
            let (country, value, kind) = match parts.as_slice() {
                [c, v, k] => (Some(*c), *v, *k),
                [v, k] => (None, *v, *k),
                _ => continue,
            };
            if let Some(asset) = kind.strip_prefix("Digital Currency Address - ") {
                e.addresses.push(ListedAddress {
                    asset: asset.trim().to_owned(),
                    address: value.to_owned(),
                });
            } else if !value.is_empty() {
                e.identifiers.push(Identifier {
                    kind: kind.to_owned(),
                    value: value.to_owned(),
                    country: country.filter(|c| !c.is_empty()).map(crate::country::canonical),
                });
            }
        }
        entities.push(e);
    }
    if entities.is_empty() {
        return Err(ScreenError::malformed(path, "line 2", "no entries"));
    }
    Ok(ListSnapshot {
        list: "us-csl".into(),
        version: hex::encode(&Sha256::digest(&bytes)[..8]),
        source: path.display().to_string(),
        entities,
    })
}

/// The abbreviation in a CSL source name ("Denied Persons List (DPL) - Bureau …" → "DPL").
fn source_code(source: &str) -> &str {
    source
        .find('(')
        .and_then(|i| source[i + 1..].find(')').map(|j| &source[i + 1..i + 1 + j]))
        .unwrap_or(source)
}
