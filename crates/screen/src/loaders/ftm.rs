//! OpenSanctions' FollowTheMoney export (`entities.ftm.json`): one JSON object per line with
//! `id`, `schema`, `properties` (every value a list of strings), and optionally `datasets`,
//! `referents`, `last_change`.
//!
//! Read schemata: `Person`, `Organization`, `Company`, `LegalEntity`, `PublicBody`, `Vessel`,
//! `Airplane`; `CryptoWallet` entities (`publicKey`, `currency`, `holder`) are attached as
//! addresses to their holder, or kept as entities of their own when the holder is absent.
//! Relationship schemata (`Ownership` with its `percentage`, `Directorship`, `Family`,
//! `Associate`, `UnknownLink`) are attached to both parties (see [`crate::relations`]). Other
//! schemata (`Address`, `Sanction`, …) are skipped. Names come from `name`,
//! `alias`, `previousName` and `weakAlias` (the last as weak aliases).
//!
//! Licence note: OpenSanctions data is CC BY-NC 4.0; the loader reads the format, users bring
//! their own licensed export.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{Result, ScreenError};
use crate::model::{
    AliasKind, EntityType, Identifier, ListEntity, ListName, ListSnapshot, ListedAddress,
};

/// Identifier properties and the document kind they are recorded as.
const ID_PROPS: &[(&str, &str)] = &[
    ("idNumber", "ID number"),
    ("passportNumber", "Passport"),
    ("registrationNumber", "Registration Number"),
    ("taxNumber", "Tax ID No."),
    ("innCode", "INN"),
    ("ogrnCode", "OGRN"),
    ("leiCode", "LEI"),
    ("swiftBic", "SWIFT/BIC"),
    ("imoNumber", "IMO"),
];

fn values<'a>(props: &'a Value, key: &str) -> impl Iterator<Item = &'a str> {
    props
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The format in the registry ([`super::FORMATS`]).
#[derive(Debug, Clone, Copy)]
pub struct Ftm;

impl super::ListFormat for Ftm {
    fn name(&self) -> &'static str {
        "ftm"
    }
    fn about(&self) -> &'static str {
        "FollowTheMoney JSON"
    }
    fn detect_content(&self, _head: &str, first: &str) -> bool {
        first.trim_start().starts_with('{') && first.contains("\"schema\"")
    }
    fn load(&self, path: &Path) -> Result<ListSnapshot> {
        load(path)
    }
}

/// Loads a FollowTheMoney JSON-lines file (also `.bz2`).
///
/// # Errors
/// [`ScreenError::Io`]; [`ScreenError::Malformed`] naming the line that is not a JSON object
/// with `id`, `schema` and `properties`.
pub fn load(path: &Path) -> Result<ListSnapshot> {
    let r = super::open_maybe_bz2(path)?;
    let mut hasher = Sha256::new();
    let mut entities: Vec<ListEntity> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut wallets: Vec<(String, ListedAddress, Option<String>)> = Vec::new();
    let mut version = String::new();
    let mut edges: Vec<crate::relations::Edge> = Vec::new();
    for (i, line) in r.lines().enumerate() {
        let line = line.map_err(|e| ScreenError::io(path, e))?;
        let at = || format!("line {}", i + 1);
        if line.trim().is_empty() {
            continue;
        }
        hasher.update(line.as_bytes());
        let v: Value = serde_json::from_str(&line)
            .map_err(|e| ScreenError::malformed(path, at(), format!("not JSON: {e}")))?;
        let (Some(id), Some(schema), Some(props)) = (
            v.get("id").and_then(Value::as_str),
            v.get("schema").and_then(Value::as_str),
            v.get("properties"),
        ) else {
            return Err(ScreenError::malformed(
                path,
                at(),
                "expected an object with id, schema and properties",
            ));
        };
        if let Some(c) = v.get("last_change").and_then(Value::as_str) {
            if c > version.as_str() {
                c.clone_into(&mut version);
            }
        }
        let entity_type = match schema {
            "Person" => EntityType::Person,
            "Organization" | "Company" | "LegalEntity" | "PublicBody" => EntityType::Organization,
            "Vessel" => EntityType::Vessel,
            "Airplane" => EntityType::Aircraft,
            "Ownership" | "Directorship" | "Family" | "Associate" | "UnknownLink" => {
                // (subject, object) properties of each relationship schema.
                let (from, to) = match schema {
                    "Ownership" => ("owner", "asset"),
                    "Directorship" => ("director", "organization"),
                    "Family" => ("person", "relative"),
                    "Associate" => ("person", "associate"),
                    _ => ("subject", "object"),
                };
                if let (Some(f), Some(t)) = (values(props, from).next(), values(props, to).next()) {
                    let share = values(props, "percentage")
                        .next()
                        .and_then(|p| p.trim_end_matches('%').trim().parse::<f64>().ok())
                        .filter(|p| (0.0..=100.0).contains(p));
                    let role =
                        values(props, "relationship").next().or(values(props, "role").next());
                    edges.push(crate::relations::Edge {
                        from: f.to_owned(),
                        kind: match role {
                            Some(r) => format!("{} ({r})", schema.to_ascii_lowercase()),
                            None => schema.to_ascii_lowercase(),
                        },
                        to: t.to_owned(),
                        share_percent: share,
                    });
                }
                continue;
            }
            "CryptoWallet" => {
                if let Some(key) = values(props, "publicKey").next() {
                    let asset = values(props, "currency").next().unwrap_or("").to_uppercase();
                    let a = ListedAddress { asset, address: key.to_owned() };
                    let holder = values(props, "holder").next().map(str::to_owned);
                    wallets.push((id.to_owned(), a, holder));
                }
                continue;
            }
            _ => continue,
        };
        let mut e = ListEntity { id: id.to_owned(), entity_type, ..ListEntity::default() };
        for (key, alias, weak) in [
            ("name", AliasKind::Primary, false),
            ("alias", AliasKind::Aka, false),
            ("previousName", AliasKind::Fka, false),
            ("weakAlias", AliasKind::Aka, true),
        ] {
            for n in values(props, key) {
                // Only the first `name` is the primary name; translations are a.k.a.s.
                let alias = if alias == AliasKind::Primary && !e.names.is_empty() {
                    AliasKind::Aka
                } else {
                    alias
                };
                e.names.push(ListName {
                    full: n.to_owned(),
                    alias,
                    low_quality: weak,
                    script: None,
                });
            }
        }
        if e.names.is_empty() {
            return Err(ScreenError::malformed(path, at(), format!("{schema} {id} has no name")));
        }
        e.dobs = values(props, "birthDate").filter_map(super::listed_date).collect();
        for key in ["nationality", "citizenship", "country", "jurisdiction"] {
            for c in values(props, key) {
                let c = crate::country::canonical(c);
                if !e.countries.contains(&c) {
                    e.countries.push(c);
                }
            }
        }
        for (key, kind) in ID_PROPS {
            for v in values(props, key) {
                let d = Identifier { kind: (*kind).to_owned(), value: v.to_owned(), country: None };
                if !e.identifiers.contains(&d) {
                    e.identifiers.push(d);
                }
            }
        }
        e.programs = values(props, "programId").map(str::to_owned).collect();
        if e.programs.is_empty() {
            e.programs = values(props, "topics").map(str::to_owned).collect();
        }
        e.sub_list = v
            .get("datasets")
            .and_then(Value::as_array)
            .map(|d| d.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))
            .filter(|s| !s.is_empty());
        index.insert(e.id.clone(), entities.len());
        entities.push(e);
    }
    for (id, a, holder) in wallets {
        match holder.and_then(|h| index.get(&h).copied()) {
            Some(i) => entities[i].addresses.push(a),
            None => entities.push(ListEntity {
                id,
                names: Vec::new(),
                addresses: vec![a],
                ..ListEntity::default()
            }),
        }
    }
    crate::relations::attach(&mut entities, edges);
    if entities.is_empty() {
        return Err(ScreenError::malformed(path, "line 1", "no person, organization or wallet"));
    }
    let hash = hex::encode(&hasher.finalize()[..8]);
    Ok(ListSnapshot {
        list: "opensanctions".into(),
        version: if version.is_empty() { hash } else { version },
        source: path.display().to_string(),
        entities,
    })
}
