//! Attribution tag sources: the one place that decides which tag files every trace operation
//! reads, and in what order (layout documented in `docs/taxonomy.md`):
//!
//! 1. TagPacks: `<data dir>/tagpacks/`, `<data dir>/tags/tagpacks/`, and the request's
//!    TagPacks (a file named in the request must load whole).
//! 2. Etherscan labels: `<data dir>/tags/etherscan/*.json`, and the request's files (each
//!    must load whole).
//! 3. CryptoScamDB: `<data dir>/tags/cryptoscamdb/*.yaml`, and the request's files (entry by
//!    entry).
//! 4. OFAC addresses: the lists loaded with `floodgate lists load` (`screening.db`) when they
//!    list any address; otherwise `<data dir>/tags/ofac/`; the request's OFAC directory always.

use std::path::{Path, PathBuf};

use floodgate_attribution::{RiskCategory, SkippedEntry, SourceLoad, Tag, TagSet};
use floodgate_types::Address;
use serde::{Deserialize, Serialize};

use crate::{AppError, DataDir, Result};

/// Confidence of a tag from a sanctions list loaded for screening (GraphSense's level for
/// data published by an authority).
const AUTHORITY_CONFIDENCE: &str = "authority_data";

/// Tag files a request adds to those of the data directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TagSources {
    /// GraphSense TagPack files or directories.
    pub tagpacks: Vec<PathBuf>,
    /// A directory of OFAC `sanctioned_addresses_<TICKER>.txt` files (tagged sanctioned).
    pub ofac: Option<PathBuf>,
    /// Etherscan label files (`combinedAccountLabels.json`).
    pub etherscan: Vec<PathBuf>,
    /// CryptoScamDB blacklist files (`urls.yaml`, `uris.yaml`).
    pub cryptoscamdb: Vec<PathBuf>,
}

impl TagSources {
    /// Only TagPacks.
    pub fn tagpacks(tagpacks: Vec<PathBuf>) -> TagSources {
        TagSources { tagpacks, ..TagSources::default() }
    }

    /// Whether the request adds nothing to the data directory's own sources.
    pub fn is_empty(&self) -> bool {
        *self == TagSources::default()
    }
}

/// Every tag loaded, and what each source gave.
#[derive(Debug)]
pub struct LoadedTags {
    /// The tags.
    pub tags: TagSet,
    /// One summary per source file (or list database).
    pub sources: Vec<SourceLoad>,
}

fn tag_count(tags: &TagSet) -> usize {
    tags.iter().map(|(_, t)| t.len()).sum()
}

/// Files in `dir` with extension `ext`, sorted (none when `dir` does not exist).
fn files_in(dir: &Path, ext: &str) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(AppError::io("listing", dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == ext))
        .collect();
    out.sort();
    Ok(out)
}

/// Loads every tag source (see the module docs). A file named in the request, an Etherscan
/// file or a TagPack must load whole, or this fails naming its file and line; CryptoScamDB
/// entries that cannot be used are skipped and reported in the summary; a TagPack in a
/// directory that cannot be used is rejected whole and reported.
pub fn load_tags(dd: &DataDir, extra: &TagSources) -> Result<LoadedTags> {
    let root = dd.tags_dir();
    let mut tags = TagSet::new();
    let mut rejected = Vec::new();
    let legacy = dd.legacy_tagpacks_dir();
    let mut dirs: Vec<&Path> = Vec::new();
    if legacy.is_dir() {
        dirs.push(&legacy);
    }
    for p in &extra.tagpacks {
        if p.is_file() {
            // A pack named in the request must load, whole.
            tags.load_tagpack(p)?;
        } else {
            dirs.push(p);
        }
    }
    for d in dirs {
        rejected.extend(tags.load_dir(d)?.1);
    }
    let persistent = root.join("tagpacks");
    if persistent.is_dir() {
        rejected.extend(tags.load_dir(&persistent)?.1);
    }
    for e in &rejected {
        tracing::warn!(target: "floodgate::trace", "tag pack rejected: {e}");
    }
    let mut sources = Vec::new();
    // One summary row for all TagPacks (each rejected pack is reported on its own above),
    // named after the first place they came from.
    let first = [&legacy, &persistent].into_iter().find(|d| d.is_dir()).or(extra.tagpacks.first());
    let mut packs = SourceLoad::new("tagpacks", first.map_or(legacy.as_path(), |p| p.as_path()));
    packs.tags = tag_count(&tags);
    for (_, ts) in tags.iter() {
        for t in ts {
            *packs.by_category.entry(t.category).or_default() += 1;
        }
    }
    packs.unsupported = tags.skipped_unsupported();
    packs.uncategorized = tags.skipped_uncategorized();
    packs.entries = packs.tags + packs.unsupported + packs.uncategorized;
    packs.rejected = rejected.iter().map(ToString::to_string).collect();
    if first.is_some() {
        sources.push(packs);
    }

    let mut etherscan = files_in(&root.join("etherscan"), "json")?;
    etherscan.extend(extra.etherscan.iter().cloned());
    for f in &etherscan {
        sources.push(tags.load_etherscan(f)?);
    }
    let mut scamdb = files_in(&root.join("cryptoscamdb"), "yaml")?;
    scamdb.extend(extra.cryptoscamdb.iter().cloned());
    for f in &scamdb {
        sources.push(tags.load_cryptoscamdb(f)?);
    }

    let from_lists = load_screening_lists(dd, &mut tags)?;
    let lists_have_addresses = from_lists.as_ref().is_some_and(|l| l.entries > 0);
    if let Some(l) = from_lists.filter(|_| lists_have_addresses) {
        sources.push(l);
    }
    let mut ofac_dirs: Vec<PathBuf> = Vec::new();
    if !lists_have_addresses && root.join("ofac").is_dir() {
        ofac_dirs.push(root.join("ofac"));
    }
    ofac_dirs.extend(extra.ofac.clone());
    for dir in ofac_dirs {
        let before = tags.skipped_unsupported();
        let n = tags.load_ofac_dir(&dir)?;
        let mut l = SourceLoad::new("ofac-addresses", &dir);
        l.tags = n;
        l.entries = n;
        l.unsupported = tags.skipped_unsupported() - before;
        if n > 0 {
            l.by_category.insert(RiskCategory::Sanctioned, n);
        }
        sources.push(l);
    }
    for s in &sources {
        for k in &s.skipped {
            tracing::warn!(target: "floodgate::trace", "{} entry skipped: {k}", s.source);
        }
        tracing::info!(
            target: "floodgate::trace",
            source = %s.source,
            path = %s.path.display(),
            tags = s.tags,
            skipped = s.skipped.len(),
            "tags loaded"
        );
    }
    Ok(LoadedTags { tags, sources })
}

/// Tags every digital-currency address of the lists in `screening.db` as sanctioned, with
/// the list's name and version as source and the listed entry as actor. `None` when there is
/// no screening database.
fn load_screening_lists(dd: &DataDir, tags: &mut TagSet) -> Result<Option<SourceLoad>> {
    let Some(listed) = floodgate_screen::listed_addresses(dd.root())? else {
        return Ok(None);
    };
    let db = dd.root().join(floodgate_screen::screener::DB_FILE);
    let mut load = SourceLoad::new("screening-lists", &db);
    let mut staged = Vec::new();
    for l in &listed {
        load.entries += 1;
        match Address::parse_listed(&l.address.asset, l.address.address.trim()) {
            Ok(a) => {
                let programs = if l.programs.is_empty() {
                    String::new()
                } else {
                    format!("; programs {}", l.programs.join(", "))
                };
                staged.push(Tag {
                    address: a.to_canonical(),
                    category: RiskCategory::Sanctioned,
                    label: format!("{} ({} {})", l.entity_name, l.list, l.address.asset),
                    source: format!(
                        "{} {} (screening list entry {}{programs})",
                        l.list, l.version, l.entity_id
                    ),
                    confidence: Some(AUTHORITY_CONFIDENCE.to_owned()),
                    actor: Some(l.entity_name.clone()),
                });
            }
            Err(e) if e.is_unsupported() => load.unsupported += 1,
            Err(e) => load.skipped.push(SkippedEntry {
                path: db.clone(),
                line: 0,
                reason: format!("list {} entry {}: {e}", l.list, l.entity_id),
            }),
        }
    }
    for t in staged {
        load.count(t.category);
        tags.add(t);
    }
    Ok(Some(load))
}
