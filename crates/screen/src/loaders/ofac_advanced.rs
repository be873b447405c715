//! OFAC SDN "advanced" XML (`sdn_advanced.xml`, optionally `.bz2`), streamed with quick-xml.
//!
//! The file has reference tables first (alias types, party subtypes, scripts, feature types,
//! countries), then `Locations`, `IDRegDocuments`, `DistinctParties` (the profiles with their
//! names and features) and `SanctionsEntries` (the programs). Everything is resolved in one
//! streaming pass: the tables and locations come before the parties that use them, and the
//! programs, which come last, are joined to the profiles at the end.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::country;
use crate::error::{Result, ScreenError};
use crate::model::{
    AliasKind, EntityType, Identifier, ListEntity, ListName, ListSnapshot, ListedAddress,
    PartialDate,
};

#[derive(Default)]
struct Tables {
    alias_types: HashMap<String, String>,
    /// subtype id -> (subtype text, party type id)
    party_subtypes: HashMap<String, (String, String)>,
    party_types: HashMap<String, String>,
    scripts: HashMap<String, String>,
    sanctions_types: HashMap<String, String>,
    feature_types: HashMap<String, String>,
    countries: HashMap<String, String>,
    lists: HashMap<String, String>,
    doc_types: HashMap<String, String>,
    /// location id -> countries (ISO2)
    locations: HashMap<String, Vec<String>>,
    /// identity id -> documents
    documents: HashMap<String, Vec<Identifier>>,
    relation_types: HashMap<String, String>,
}

#[derive(Default)]
struct DateParts {
    year: Option<u16>,
    month: Option<u8>,
    day: Option<u8>,
}

#[derive(Default)]
struct FeatureState {
    type_text: String,
    details: Vec<String>,
    location_ids: Vec<String>,
    start_from: Option<PartialDate>,
    end_to: Option<PartialDate>,
}

#[derive(Default)]
struct State {
    entity: Option<ListEntity>,
    identity_ids: Vec<String>,
    alias: Option<(AliasKind, bool)>,
    name_parts: Vec<String>,
    name_script: Option<String>,
    feature: Option<FeatureState>,
    date: DateParts,
    /// Which date of a DatePeriod is being read: "From" under "Start", "To" under "End".
    date_slot: Option<&'static str>,
    doc: Option<(String, Identifier)>,
    location_id: Option<String>,
    entry: Option<(String, String, Vec<String>)>,
    measure_type: Option<String>,
    ref_id: Option<(String, Vec<(String, String)>)>,
    /// `ProfileRelationship`s: from profile, relation type id, to profile (current ones).
    relations: Vec<(String, String, String)>,
}

fn attr(e: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

fn all_attrs(e: &BytesStart<'_>) -> Vec<(String, String)> {
    e.attributes()
        .flatten()
        .filter_map(|a| {
            let k = String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned();
            a.unescape_value().ok().map(|v| (k, v.into_owned()))
        })
        .collect()
}

/// The format in the registry ([`super::FORMATS`]).
#[derive(Debug, Clone, Copy)]
pub struct OfacAdvanced;

impl super::ListFormat for OfacAdvanced {
    fn name(&self) -> &'static str {
        "ofac-advanced"
    }
    fn about(&self) -> &'static str {
        "OFAC advanced XML"
    }
    fn detect_content(&self, head: &str, _first: &str) -> bool {
        head.contains("<Sanctions")
    }
    fn load(&self, path: &Path) -> Result<ListSnapshot> {
        load(path)
    }
}

/// Reads an SDN advanced XML file; `.bz2` files are decompressed while streaming.
///
/// # Errors
/// [`ScreenError::Io`] or [`ScreenError::Malformed`] naming the element path and byte offset.
pub fn load(path: &Path) -> Result<ListSnapshot> {
    let reader = super::open_maybe_bz2(path)?;
    parse(reader, path)
}

/// Parses an SDN advanced XML stream; `path` is only used in messages.
///
/// # Errors
/// [`ScreenError::Malformed`] naming the element path and byte offset.
pub fn parse<R: BufRead>(input: R, path: &Path) -> Result<ListSnapshot> {
    let mut reader = Reader::from_reader(input);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::with_capacity(4096);
    let mut stack: Vec<String> = Vec::with_capacity(16);
    let mut text = String::new();
    let mut t = Tables::default();
    let mut s = State::default();
    let mut entities: Vec<ListEntity> = Vec::with_capacity(20_000);
    let mut identity_to_entity: HashMap<String, usize> = HashMap::new();
    let mut profile_to_entity: HashMap<String, usize> = HashMap::new();
    let mut entries: Vec<(String, String, Vec<String>)> = Vec::new();
    let mut issue: DateParts = DateParts::default();
    let mut saw_root = false;
    loop {
        let pos = reader.buffer_position();
        let ev = reader.read_event_into(&mut buf).map_err(|e| {
            ScreenError::malformed(
                path,
                format!("/{} (byte {pos})", stack.join("/")),
                e.to_string(),
            )
        })?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if stack.is_empty() {
                    if name != "Sanctions" {
                        return Err(ScreenError::malformed(
                            path,
                            format!("/{name} (byte {pos})"),
                            "root element is not <Sanctions>: not an OFAC advanced XML file",
                        ));
                    }
                    saw_root = true;
                }
                start(&name, e, &stack, &mut s, &t);
                text.clear();
                if empty {
                    end(
                        &name,
                        &stack,
                        &mut s,
                        &mut t,
                        &mut text,
                        &mut entities,
                        &mut identity_to_entity,
                        &mut profile_to_entity,
                        &mut entries,
                        &mut issue,
                    );
                } else {
                    stack.push(name);
                }
            }
            Event::Text(e) => {
                let v = e.unescape().map_err(|err| {
                    ScreenError::malformed(
                        path,
                        format!("/{} (byte {pos})", stack.join("/")),
                        err.to_string(),
                    )
                })?;
                text.push_str(&v);
            }
            Event::CData(e) => text.push_str(&String::from_utf8_lossy(&e)),
            Event::End(_) => {
                let Some(name) = stack.pop() else {
                    return Err(ScreenError::malformed(
                        path,
                        format!("byte {pos}"),
                        "unbalanced end tag",
                    ));
                };
                end(
                    &name,
                    &stack,
                    &mut s,
                    &mut t,
                    &mut text,
                    &mut entities,
                    &mut identity_to_entity,
                    &mut profile_to_entity,
                    &mut entries,
                    &mut issue,
                );
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !stack.is_empty() || !saw_root {
        return Err(ScreenError::malformed(
            path,
            format!("/{} (end of file)", stack.join("/")),
            "file ends inside an element (truncated?)",
        ));
    }
    for (profile, list_id, programs) in entries {
        if let Some(&i) = profile_to_entity.get(&profile) {
            let ent = &mut entities[i];
            if let Some(l) = t.lists.get(&list_id) {
                let mut all: Vec<&str> =
                    ent.sub_list.as_deref().map(|x| x.split(';').collect()).unwrap_or_default();
                if !all.contains(&l.as_str()) {
                    all.push(l);
                }
                all.sort_unstable();
                ent.sub_list = Some(all.join(";"));
            }
            for p in programs {
                if !ent.programs.contains(&p) {
                    ent.programs.push(p);
                }
            }
        }
    }
    // Identity documents are keyed by identity; attach them to their profile.
    for (identity, docs) in t.documents.drain() {
        if let Some(&i) = identity_to_entity.get(&identity) {
            entities[i].identifiers.extend(docs);
        }
    }
    let edges = std::mem::take(&mut s.relations)
        .into_iter()
        .map(|(from, k, to)| crate::relations::Edge {
            from,
            kind: t.relation_types.get(&k).cloned().unwrap_or_else(|| format!("relation {k}")),
            to,
            share_percent: None,
        })
        .collect();
    crate::relations::attach(&mut entities, edges);
    let version = match (issue.year, issue.month, issue.day) {
        (Some(y), Some(m), Some(d)) => format!("{y:04}-{m:02}-{d:02}"),
        _ => "unknown".to_owned(),
    };
    Ok(ListSnapshot {
        list: "ofac-sdn".to_owned(),
        version,
        source: path.display().to_string(),
        entities,
    })
}

fn start(name: &str, e: &BytesStart<'_>, stack: &[String], s: &mut State, t: &Tables) {
    let parent = stack.last().map(String::as_str).unwrap_or("");
    match name {
        "Profile" => {
            let subtype = attr(e, b"PartySubTypeID").unwrap_or_default();
            let (sub, party) = t.party_subtypes.get(&subtype).cloned().unwrap_or_default();
            let party_text = t.party_types.get(&party).cloned().unwrap_or_default();
            let kind = if sub == "Unknown" || sub.is_empty() { party_text } else { sub };
            let entity_type = match kind.as_str() {
                "Individual" => EntityType::Person,
                "Entity" => EntityType::Organization,
                "Vessel" => EntityType::Vessel,
                "Aircraft" => EntityType::Aircraft,
                _ => EntityType::Unknown,
            };
            s.entity = Some(ListEntity {
                id: attr(e, b"ID").unwrap_or_default(),
                entity_type,
                ..ListEntity::default()
            });
            s.identity_ids.clear();
        }
        "Identity" if s.entity.is_some() => {
            if let Some(id) = attr(e, b"ID") {
                s.identity_ids.push(id);
            }
        }
        "Alias" if s.entity.is_some() => {
            let kind = match attr(e, b"AliasTypeID").and_then(|id| t.alias_types.get(&id).cloned())
            {
                Some(k) if k == "A.K.A." => AliasKind::Aka,
                Some(k) if k == "F.K.A." => AliasKind::Fka,
                Some(k) if k == "N.K.A." => AliasKind::Nka,
                _ => AliasKind::Primary,
            };
            let low = attr(e, b"LowQuality").is_some_and(|v| v == "true");
            s.alias = Some((kind, low));
        }
        "DocumentedName" if s.alias.is_some() => {
            s.name_parts.clear();
            s.name_script = None;
        }
        "NamePartValue" if s.alias.is_some() && s.name_script.is_none() => {
            s.name_script = attr(e, b"ScriptID").and_then(|id| t.scripts.get(&id).cloned());
        }
        "Feature" if s.entity.is_some() => {
            let ty = attr(e, b"FeatureTypeID")
                .and_then(|id| t.feature_types.get(&id).cloned())
                .unwrap_or_default();
            s.feature = Some(FeatureState { type_text: ty, ..FeatureState::default() });
        }
        "VersionLocation" => {
            if let (Some(f), Some(id)) = (s.feature.as_mut(), attr(e, b"LocationID")) {
                f.location_ids.push(id);
            }
        }
        "From" if parent == "Start" => {
            s.date = DateParts::default();
            s.date_slot = Some("start");
        }
        "To" if parent == "End" => {
            s.date = DateParts::default();
            s.date_slot = Some("end");
        }
        "Location" if parent == "Locations" => s.location_id = attr(e, b"ID"),
        "LocationCountry" => {
            if let (Some(_), Some(c)) = (s.location_id.as_ref(), attr(e, b"CountryID")) {
                s.ref_id.get_or_insert_with(|| (String::new(), Vec::new())).1.push(("c".into(), c));
            }
        }
        "IDRegDocument" => {
            let kind = attr(e, b"IDRegDocTypeID")
                .and_then(|id| t.doc_types.get(&id).cloned())
                .unwrap_or_default();
            let country =
                attr(e, b"IssuedBy-CountryID").and_then(|id| t.countries.get(&id).cloned());
            let identity = attr(e, b"IdentityID").unwrap_or_default();
            s.doc = Some((identity, Identifier { kind, value: String::new(), country }));
        }
        "SanctionsEntry" => {
            s.entry = Some((
                attr(e, b"ProfileID").unwrap_or_default(),
                attr(e, b"ListID").unwrap_or_default(),
                Vec::new(),
            ));
        }
        "SanctionsMeasure" => s.measure_type = attr(e, b"SanctionsTypeID"),
        "ProfileRelationship" if attr(e, b"Former").as_deref() != Some("true") => {
            if let (Some(f), Some(k), Some(to)) =
                (attr(e, b"From-ProfileID"), attr(e, b"RelationTypeID"), attr(e, b"To-ProfileID"))
            {
                s.relations.push((f, k, to));
            }
        }
        _ if stack.len() >= 3 && stack[1] == "ReferenceValueSets" => {
            s.ref_id = Some((name.to_owned(), all_attrs(e)));
        }
        _ => {}
    }
}

#[allow(clippy::too_many_arguments)] // one streaming state machine; splitting it hides the flow
fn end(
    name: &str,
    stack: &[String],
    s: &mut State,
    t: &mut Tables,
    text: &mut str,
    entities: &mut Vec<ListEntity>,
    identity_to_entity: &mut HashMap<String, usize>,
    profile_to_entity: &mut HashMap<String, usize>,
    entries: &mut Vec<(String, String, Vec<String>)>,
    issue: &mut DateParts,
) {
    let parent = stack.last().map(String::as_str).unwrap_or("");
    let txt = text.trim();
    // Reference tables: <AliasType ID="1400">A.K.A.</AliasType> etc.
    if stack.len() >= 2 && stack[1] == "ReferenceValueSets" {
        if let Some((el, attrs)) = s.ref_id.take() {
            let get = |k: &str| attrs.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
            let id = get("ID").unwrap_or_default();
            let v = txt.to_owned();
            match el.as_str() {
                "AliasType" => drop(t.alias_types.insert(id, v)),
                "PartySubType" => {
                    drop(t.party_subtypes.insert(id, (v, get("PartyTypeID").unwrap_or_default())))
                }
                "PartyType" => drop(t.party_types.insert(id, v)),
                "Script" => drop(t.scripts.insert(id, get("ScriptCode").unwrap_or(v))),
                "SanctionsType" => drop(t.sanctions_types.insert(id, v)),
                "FeatureType" => drop(t.feature_types.insert(id, v)),
                "Country" => {
                    drop(t.countries.insert(id, get("ISO2").filter(|x| !x.is_empty()).unwrap_or(v)))
                }
                "List" => drop(t.lists.insert(id, v)),
                "IDRegDocType" => drop(t.doc_types.insert(id, v)),
                "RelationType" => drop(t.relation_types.insert(id, v)),
                _ => {}
            }
        }
        return;
    }
    match name {
        "Year" | "Month" | "Day" if stack.len() == 2 && parent == "DateOfIssue" => {
            let n: Option<u16> = txt.parse().ok();
            match name {
                "Year" => issue.year = n,
                "Month" => issue.month = n.map(|m| m as u8),
                _ => issue.day = n.map(|d| d as u8),
            }
        }
        "Year" | "Month" | "Day" if s.date_slot.is_some() => {
            let n: Option<u16> = txt.parse().ok();
            match name {
                "Year" => s.date.year = n,
                "Month" => s.date.month = n.map(|m| m as u8),
                _ => s.date.day = n.map(|d| d as u8),
            }
        }
        "From" | "To" if s.date_slot.is_some() => {
            let d =
                s.date.year.map(|year| PartialDate { year, month: s.date.month, day: s.date.day });
            if let Some(f) = s.feature.as_mut() {
                if s.date_slot == Some("start") && name == "From" {
                    f.start_from = d;
                } else if s.date_slot == Some("end") && name == "To" {
                    f.end_to = d;
                }
            }
            s.date_slot = None;
        }
        "NamePartValue" if s.alias.is_some() => s.name_parts.push(txt.to_owned()),
        "DocumentedName" => {
            if let (Some((alias, low)), Some(ent)) = (s.alias, s.entity.as_mut()) {
                ent.names.push(ListName {
                    full: s.name_parts.join(" "),
                    alias,
                    low_quality: low,
                    script: s.name_script.take(),
                });
            }
            s.name_parts.clear();
        }
        "Alias" => s.alias = None,
        "VersionDetail" => {
            if let Some(f) = s.feature.as_mut() {
                if !txt.is_empty() {
                    f.details.push(txt.to_owned());
                }
            }
        }
        "Feature" => {
            if let (Some(f), Some(ent)) = (s.feature.take(), s.entity.as_mut()) {
                apply_feature(f, ent, t);
            }
        }
        "Profile" => {
            if let Some(ent) = s.entity.take() {
                let i = entities.len();
                for id in s.identity_ids.drain(..) {
                    identity_to_entity.insert(id, i);
                }
                profile_to_entity.insert(ent.id.clone(), i);
                entities.push(ent);
            }
        }
        "Location" if parent == "Locations" => {
            if let Some(id) = s.location_id.take() {
                let cs = s
                    .ref_id
                    .take()
                    .map(|(_, v)| {
                        let mut cs: Vec<String> = Vec::new();
                        for (k, c) in v {
                            let iso = if k == "c" { t.countries.get(&c).cloned() } else { Some(c) };
                            if let Some(iso) = iso.filter(|x| !cs.contains(x)) {
                                cs.push(iso);
                            }
                        }
                        cs
                    })
                    .unwrap_or_default();
                t.locations.insert(id, cs);
            }
        }
        "Value" if s.location_id.is_some() => {
            if let Some(iso) = country::to_iso2(txt).filter(|_| txt.len() > 2) {
                s.ref_id
                    .get_or_insert_with(|| (String::new(), Vec::new()))
                    .1
                    .push(("v".into(), iso));
            }
        }
        "IDRegistrationNo" => {
            if let Some((_, d)) = s.doc.as_mut() {
                d.value = txt.to_owned();
            }
        }
        "IDRegDocument" => {
            if let Some((identity, d)) = s.doc.take() {
                if !d.value.is_empty() {
                    t.documents.entry(identity).or_default().push(d);
                }
            }
        }
        "Comment" if parent == "SanctionsMeasure" => {
            let is_program = s
                .measure_type
                .as_ref()
                .and_then(|id| t.sanctions_types.get(id))
                .is_some_and(|v| v == "Program");
            if let (true, false, Some(entry)) = (is_program, txt.is_empty(), s.entry.as_mut()) {
                entry.2.push(txt.to_owned());
            }
        }
        "SanctionsEntry" => {
            if let Some(entry) = s.entry.take() {
                entries.push(entry);
            }
        }
        _ => {}
    }
}

fn apply_feature(f: FeatureState, ent: &mut ListEntity, t: &Tables) {
    let ty = f.type_text.as_str();
    if let Some(asset) = ty.strip_prefix("Digital Currency Address - ") {
        for d in f.details {
            ent.addresses.push(ListedAddress { asset: asset.trim().to_owned(), address: d });
        }
        return;
    }
    match ty {
        "Birthdate" => {
            let (Some(a), b) = (f.start_from, f.end_to) else { return };
            let b = b.unwrap_or(a);
            if a == b {
                ent.dobs.push(a);
            } else if a.year == b.year {
                ent.dobs.push(PartialDate { year: a.year, month: None, day: None });
            } else if b.year > a.year && b.year - a.year <= 10 {
                for y in a.year..=b.year {
                    ent.dobs.push(PartialDate { year: y, month: None, day: None });
                }
            }
        }
        "Nationality Country"
        | "Citizenship Country"
        | "Location"
        | "Nationality of Registration"
        | "Registration Country" => {
            for id in &f.location_ids {
                for c in t.locations.get(id).into_iter().flatten() {
                    let c = country::canonical(c);
                    if !ent.countries.contains(&c) {
                        ent.countries.push(c);
                    }
                }
            }
        }
        "SWIFT/BIC"
        | "D-U-N-S Number"
        | "ISIN"
        | "Vessel Call Sign"
        | "Aircraft Tail Number"
        | "Email Address" => {
            for d in f.details {
                ent.identifiers.push(Identifier { kind: ty.to_owned(), value: d, country: None });
            }
        }
        _ => {}
    }
}
