//! floodgate's generic CSV for lists that have no machine-readable format of their own:
//! national lists (Viet Nam's blacklist, warning list, PEP list) and investor-alert lists
//! (Singapore MAS, Malaysia SC). The mapping is documented in `docs/screening.md`, "Generic
//! CSV"; `tests/data/generic-list-synthetic.csv` is an example.
//!
//! ```text
//! # list: vn-warning-list
//! # version: 2025-06-01
//! id,name,aliases,type,dob,country,id_number,wallet,chain,program,source_url
//! w-1,Công ty TNHH Đầu tư Ánh Dương,Anh Duong Investment Co. Ltd,organization,,VN,,,,unlicensed,https://…
//! ```
//!
//! * Optional `# key: value` lines before the header: `list` (the list name), `version` and
//!   `category` (a `floodgate_types::RiskCategory` name such as `special_measure`, given to
//!   every entry; an unknown name is an error); other keys (publisher, licence, …) are allowed
//!   and ignored.
//! * A header row names the columns, case-insensitive, in any order. Multi-valued cells
//!   separate values with `;`. A row needs a `name` or a `wallet`.
//! * Columns other than those in [`COLUMNS`] are an error (a misspelt `aliasses` would
//!   otherwise lose data silently), except extension columns starting with `x_`, which are
//!   ignored.
//! * Without an `id` column, the id is a hash of name, dates of birth and document numbers,
//!   so it stays stable across versions while those do not change.

use std::path::Path;

use floodgate_types::Chain;
use sha2::{Digest, Sha256};

use crate::error::{Result, ScreenError};
use crate::model::{
    EntityType, Identifier, ListEntity, ListName, ListSnapshot, ListedAddress, PartialDate,
};

/// The documented columns.
pub const COLUMNS: &[&str] = &[
    "id",
    "name",
    "aliases",
    "type",
    "dob",
    "country",
    "id_number",
    "id_type",
    "wallet",
    "chain",
    "program",
    "reason",
    "source_url",
];

fn split(s: &str) -> impl Iterator<Item = &str> {
    s.split(';').map(str::trim).filter(|x| !x.is_empty())
}

/// The asset ticker for a chain name or ticker ("ethereum" → ETH, "btc" → XBT, "usdt" → USDT).
fn asset_of(chain: &str) -> String {
    match chain.parse::<Chain>() {
        Ok(Chain::Bitcoin) => "XBT".into(),
        Ok(Chain::Ethereum) => "ETH".into(),
        Ok(Chain::Tron) => "TRX".into(),
        Err(_) => chain.trim().to_ascii_uppercase(),
    }
}

/// Splits the `# key: value` lines off the top of the text. Returns (metadata, rest, lines
/// skipped).
fn metadata(text: &str) -> (Vec<(String, String)>, &str, u64) {
    let mut meta = Vec::new();
    let mut rest = text;
    let mut skipped = 0;
    while let Some(line) = rest.lines().next() {
        let t = line.trim();
        if !(t.starts_with('#') || t.is_empty()) {
            break;
        }
        if let Some((k, v)) = t.trim_start_matches('#').split_once(':') {
            meta.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
        rest = &rest[line.len()..];
        rest = rest.strip_prefix("\r\n").or_else(|| rest.strip_prefix('\n')).unwrap_or(rest);
        skipped += 1;
    }
    (meta, rest, skipped)
}

/// Whether a CSV text looks like the generic format: metadata lines, or a header made of the
/// documented columns (and `x_` extensions) with `name` or `wallet`.
pub fn sniff(text: &str) -> bool {
    let (meta, rest, _) = metadata(text);
    if meta.iter().any(|(k, _)| k == "list") {
        return true;
    }
    let Some(header) = rest.lines().next() else { return false };
    let cols: Vec<String> =
        header.split(',').map(|c| c.trim().trim_matches('"').to_ascii_lowercase()).collect();
    cols.iter().any(|c| c == "name" || c == "wallet")
        && cols.iter().all(|c| COLUMNS.contains(&c.as_str()) || c.starts_with("x_"))
}

/// The format in the registry ([`super::FORMATS`]).
#[derive(Debug, Clone, Copy)]
pub struct GenericCsv;

impl super::ListFormat for GenericCsv {
    fn name(&self) -> &'static str {
        "generic-csv"
    }
    fn about(&self) -> &'static str {
        "generic CSV with a header naming the documented columns"
    }
    fn detect_content(&self, head: &str, _first: &str) -> bool {
        sniff(head)
    }
    fn load(&self, path: &Path) -> Result<ListSnapshot> {
        load(path)
    }
}

/// Loads a generic CSV list. The list name is the `# list:` metadata, else the file name
/// without extension; the version is the `# version:` metadata, else a content hash.
///
/// # Errors
/// [`ScreenError::Io`]; [`ScreenError::Mapping`] for an unknown column or a header without
/// `name` and `wallet`; [`ScreenError::Malformed`] naming the line of a row with a bad type,
/// date, a wallet without chain, a duplicate id, or neither name nor wallet.
pub fn load(path: &Path) -> Result<ListSnapshot> {
    let bytes = super::limits::read_limited(path)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| ScreenError::malformed(path, "file", format!("not UTF-8: {e}")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (meta, body, skipped) = metadata(text);
    let category = match meta.iter().position(|(k, _)| k == "category") {
        None => None,
        Some(i) => {
            let v = &meta[i].1;
            Some(
                floodgate_types::RiskCategory::ALL
                    .into_iter()
                    .find(|c| c.as_str() == v.as_str())
                    .ok_or_else(|| {
                    ScreenError::malformed(
                        path,
                        "# category",
                        format!("unknown category '{v}' (see docs/taxonomy.md)"),
                    )
                })?,
            )
        }
    };
    let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(body.as_bytes());
    let header: Vec<String> = r
        .headers()
        .map_err(|e| ScreenError::malformed(path, format!("line {}", skipped + 1), e.to_string()))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    for h in &header {
        if !COLUMNS.contains(&h.as_str()) && !h.starts_with("x_") {
            return Err(ScreenError::Mapping {
                path: path.to_path_buf(),
                reason: format!(
                    "unknown column '{h}' (documented: {}; extension columns start with x_)",
                    COLUMNS.join(", ")
                ),
            });
        }
    }
    let col = |n: &str| header.iter().position(|h| h == n);
    if col("name").is_none() && col("wallet").is_none() {
        return Err(ScreenError::Mapping {
            path: path.to_path_buf(),
            reason: "the header needs a `name` or a `wallet` column".into(),
        });
    }
    let mut entities = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| {
            let line = super::line_of(body.as_bytes(), e.position()) + skipped;
            ScreenError::malformed(path, format!("line {line}"), e.to_string())
        })?;
        let bad = |reason: String| {
            let line = super::line_of(body.as_bytes(), rec.position()) + skipped;
            ScreenError::malformed(path, format!("line {line}"), reason)
        };
        let max_field = super::limits::current().max_field_bytes;
        if let Some((i, f)) = rec.iter().enumerate().find(|(_, f)| f.len() as u64 > max_field) {
            return Err(bad(format!(
                "column {} has {} bytes, more than {max_field} (limit lists.max_field_bytes)",
                header.get(i).map_or("?", String::as_str),
                f.len()
            )));
        }
        if rec.len() != header.len() {
            return Err(bad(format!(
                "expected {} fields, found {} (truncated file?)",
                header.len(),
                rec.len()
            )));
        }
        let get = |n: &str| col(n).and_then(|i| rec.get(i)).map_or("", str::trim);
        let name = get("name");
        let mut e = ListEntity::default();
        if !name.is_empty() {
            e.names.push(ListName::primary(name));
        }
        e.names.extend(split(get("aliases")).map(ListName::aka));
        let kind = get("type");
        e.entity_type = EntityType::parse(kind);
        if e.entity_type == EntityType::Unknown && !kind.is_empty() && kind != "unknown" {
            return Err(bad(format!(
                "type '{kind}' is not person, organization, vessel or aircraft"
            )));
        }
        for d in split(get("dob")) {
            e.dobs.push(
                PartialDate::parse(d)
                    .ok_or_else(|| bad(format!("dob '{d}' is not YYYY, YYYY-MM or YYYY-MM-DD")))?,
            );
        }
        e.countries = split(get("country")).map(crate::country::canonical).collect();
        let id_kind = match get("id_type") {
            "" => "ID",
            k => k,
        };
        e.identifiers = split(get("id_number"))
            .map(|v| Identifier { kind: id_kind.to_owned(), value: v.to_owned(), country: None })
            .collect();
        let chain = get("chain");
        for w in split(get("wallet")) {
            // "ETH:0xabc…" names its asset; otherwise the row's chain applies.
            let (asset, address) = match w.split_once(':') {
                Some((a, addr)) if !a.is_empty() && a.len() <= 10 && !a.contains(' ') => {
                    (asset_of(a), addr.trim())
                }
                _ if !chain.is_empty() => (asset_of(chain), w),
                _ => {
                    return Err(bad(format!(
                        "wallet '{w}' needs a chain column or a CHAIN: prefix"
                    )))
                }
            };
            e.addresses.push(ListedAddress { asset, address: address.to_owned() });
        }
        if e.names.is_empty() && e.addresses.is_empty() {
            return Err(bad("a row needs a name or a wallet".into()));
        }
        e.programs = split(get("program")).chain(split(get("reason"))).map(str::to_owned).collect();
        let url = get("source_url");
        e.source_url = (!url.is_empty()).then(|| url.to_owned());
        e.id = match get("id") {
            "" => {
                let key = format!(
                    "{name}\u{1f}{}\u{1f}{}\u{1f}{}",
                    get("dob"),
                    get("id_number"),
                    get("wallet")
                );
                hex::encode(&Sha256::digest(key.as_bytes())[..6])
            }
            id => id.to_owned(),
        };
        e.category = category;
        if !seen.insert(e.id.clone()) {
            return Err(bad(format!("duplicate id '{}'", e.id)));
        }
        entities.push(e);
    }
    if entities.is_empty() {
        return Err(ScreenError::malformed(path, format!("line {}", skipped + 2), "no entries"));
    }
    let meta_get = |k: &str| meta.iter().find(|(mk, _)| mk == k).map(|(_, v)| v.clone());
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("list").to_owned();
    Ok(ListSnapshot {
        list: meta_get("list").filter(|l| !l.is_empty()).unwrap_or(stem),
        version: meta_get("version")
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| hex::encode(&Sha256::digest(&bytes)[..8])),
        source: path.display().to_string(),
        entities,
    })
}
