//! UN Security Council Consolidated List XML (`consolidated.xml`).

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::country;
use crate::error::{Result, ScreenError};
use crate::model::{AliasKind, EntityType, Identifier, ListEntity, ListName, ListSnapshot};

/// The format in the registry ([`super::FORMATS`]).
#[derive(Debug, Clone, Copy)]
pub struct UnXml;

impl super::ListFormat for UnXml {
    fn name(&self) -> &'static str {
        "un-xml"
    }
    fn about(&self) -> &'static str {
        "UN XML"
    }
    fn detect_content(&self, head: &str, _first: &str) -> bool {
        head.contains("<CONSOLIDATED_LIST")
    }
    fn load(&self, path: &Path) -> Result<ListSnapshot> {
        load(path)
    }
}

/// Reads the UN consolidated list.
///
/// # Errors
/// [`ScreenError::Io`], or [`ScreenError::Malformed`] naming the element and line.
pub fn load(path: &Path) -> Result<ListSnapshot> {
    parse(super::open_maybe_bz2(path)?, path)
}

/// Parses the UN consolidated list from a reader; `path` is used in messages.
///
/// # Errors
/// [`ScreenError::Malformed`] naming the element and line.
pub fn parse<R: BufRead>(input: R, path: &Path) -> Result<ListSnapshot> {
    let mut reader = Reader::from_reader(input);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut version = "unknown".to_owned();
    let mut entities = Vec::new();
    // Fields of the current record and of its current sub-record (alias, address, dob, document).
    let mut rec: Option<(EntityType, HashMap<String, Vec<String>>)> = None;
    let mut sub: HashMap<String, String> = HashMap::new();
    loop {
        let pos = reader.buffer_position();
        let line = format!("byte {pos}");
        let ev = reader.read_event_into(&mut buf).map_err(|e| {
            ScreenError::malformed(path, format!("/{} ({line})", stack.join("/")), e.to_string())
        })?;
        match ev {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if stack.is_empty() {
                    if name != "CONSOLIDATED_LIST" {
                        return Err(ScreenError::malformed(
                            path,
                            format!("/{name} ({line})"),
                            "root is not <CONSOLIDATED_LIST>",
                        ));
                    }
                    if let Some(d) =
                        e.attributes().flatten().find(|a| a.key.as_ref() == b"dateGenerated")
                    {
                        version = String::from_utf8_lossy(&d.value).chars().take(10).collect();
                    }
                }
                match name.as_str() {
                    "INDIVIDUAL" => rec = Some((EntityType::Person, HashMap::new())),
                    "ENTITY" => rec = Some((EntityType::Organization, HashMap::new())),
                    _ => {}
                }
                if name.ends_with("_ALIAS")
                    || name.ends_with("_DATE_OF_BIRTH")
                    || name.ends_with("_DOCUMENT")
                    || name.ends_with("_ADDRESS")
                {
                    sub.clear();
                }
                stack.push(name);
                text.clear();
            }
            Event::Text(t) => {
                let v = t.unescape().map_err(|e| {
                    ScreenError::malformed(
                        path,
                        format!("/{} ({line})", stack.join("/")),
                        e.to_string(),
                    )
                })?;
                text.push_str(&v);
            }
            Event::End(_) => {
                let Some(name) = stack.pop() else {
                    return Err(ScreenError::malformed(path, line.clone(), "unbalanced end tag"));
                };
                let parent = stack.last().cloned().unwrap_or_default();
                let v = text.trim().to_owned();
                text.clear();
                let Some((kind, fields)) = rec.as_mut() else { continue };
                let in_sub = parent.ends_with("_ALIAS")
                    || parent.ends_with("_DATE_OF_BIRTH")
                    || parent.ends_with("_DOCUMENT")
                    || parent.ends_with("_ADDRESS");
                if in_sub {
                    sub.insert(name.clone(), v);
                    continue;
                }
                if name.ends_with("_ALIAS") {
                    if let Some(a) = sub.get("ALIAS_NAME").filter(|a| !a.is_empty()) {
                        let q = sub.get("QUALITY").map(String::as_str).unwrap_or("");
                        fields.entry(format!("alias:{q}")).or_default().push(a.clone());
                    }
                } else if name.ends_with("_DATE_OF_BIRTH") {
                    let d = sub
                        .get("DATE")
                        .and_then(|d| super::listed_date(d))
                        .or_else(|| sub.get("YEAR").and_then(|y| super::listed_date(y)));
                    if let Some(d) = d {
                        fields.entry("dob".into()).or_default().push(d.to_string());
                    } else if let (Some(a), Some(b)) = (sub.get("FROM_YEAR"), sub.get("TO_YEAR")) {
                        if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
                            for y in a..=b.min(a + 10) {
                                fields.entry("dob".into()).or_default().push(y.to_string());
                            }
                        }
                    }
                } else if name.ends_with("_DOCUMENT") {
                    if let Some(n) = sub.get("NUMBER").filter(|n| !n.is_empty()) {
                        let t = sub.get("TYPE_OF_DOCUMENT").cloned().unwrap_or_default();
                        let c = sub
                            .get("ISSUING_COUNTRY")
                            .or(sub.get("COUNTRY_OF_ISSUE"))
                            .cloned()
                            .unwrap_or_default();
                        fields
                            .entry("doc".into())
                            .or_default()
                            .push(format!("{t}\u{1f}{n}\u{1f}{c}"));
                    }
                } else if name.ends_with("_ADDRESS") {
                    if let Some(c) = sub.get("COUNTRY").filter(|c| !c.is_empty()) {
                        fields.entry("country".into()).or_default().push(c.clone());
                    }
                } else if name == "VALUE" && parent == "NATIONALITY" {
                    fields.entry("country".into()).or_default().push(v);
                } else if name == "INDIVIDUAL" || name == "ENTITY" {
                    let (kind, fields) = (*kind, std::mem::take(fields));
                    rec = None;
                    entities.push(build(kind, fields));
                } else if !v.is_empty() {
                    fields.entry(name).or_default().push(v);
                }
            }
            Event::Empty(_) => {}
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !stack.is_empty() {
        return Err(ScreenError::malformed(
            path,
            format!("/{} (end of file)", stack.join("/")),
            "file ends inside an element (truncated?)",
        ));
    }
    Ok(ListSnapshot { list: "un".into(), version, source: path.display().to_string(), entities })
}

fn build(kind: EntityType, f: HashMap<String, Vec<String>>) -> ListEntity {
    let get = |k: &str| f.get(k).and_then(|v| v.first()).cloned().unwrap_or_default();
    let primary = ["FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME"]
        .iter()
        .map(|k| get(k))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let mut names = vec![ListName::primary(primary)];
    for (k, v) in &f {
        if let Some(q) = k.strip_prefix("alias:") {
            for a in v {
                names.push(ListName {
                    full: a.clone(),
                    alias: AliasKind::Aka,
                    low_quality: q.eq_ignore_ascii_case("low"),
                    script: None,
                });
            }
        }
    }
    names[1..].sort_by(|a, b| a.full.cmp(&b.full));
    if let Some(o) = f.get("NAME_ORIGINAL_SCRIPT") {
        for n in o {
            names.push(ListName {
                full: n.clone(),
                alias: AliasKind::Aka,
                low_quality: false,
                script: None,
            });
        }
    }
    let mut countries: Vec<String> = Vec::new();
    for c in f.get("country").into_iter().flatten() {
        let c = country::canonical(c);
        if !countries.contains(&c) {
            countries.push(c);
        }
    }
    ListEntity {
        id: get("REFERENCE_NUMBER"),
        entity_type: kind,
        names,
        dobs: f.get("dob").into_iter().flatten().filter_map(|d| super::listed_date(d)).collect(),
        countries,
        identifiers: f
            .get("doc")
            .into_iter()
            .flatten()
            .map(|d| {
                let p: Vec<&str> = d.split('\u{1f}').collect();
                Identifier {
                    kind: p[0].to_owned(),
                    value: p.get(1).copied().unwrap_or("").to_owned(),
                    country: p.get(2).filter(|c| !c.is_empty()).map(|c| country::canonical(c)),
                }
            })
            .collect(),
        programs: f.get("UN_LIST_TYPE").cloned().unwrap_or_default(),
        addresses: Vec::new(),
        sub_list: Some("UN List".into()),
        source_url: None,
        category: None,
        relations: Vec::new(),
    }
}
