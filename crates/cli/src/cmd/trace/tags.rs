//! Attribution tag sources for every `floodgate trace` command, and `floodgate trace tags`:
//! the tags of an address, the tags an entity derives from its addresses, or the load summary
//! of every source (with each skipped third-party entry and its line).
//!
//! Sources, in load order (layout documented in `docs/taxonomy.md`):
//! 1. TagPacks: `<data dir>/tagpacks/`, `<data dir>/tags/tagpacks/`, `--tagpack` (strict).
//! 2. Etherscan labels: `<data dir>/tags/etherscan/*.json`, `--etherscan` (strict per file).
//! 3. CryptoScamDB: `<data dir>/tags/cryptoscamdb/*.yaml`, `--cryptoscamdb` (entry by entry).
//! 4. OFAC addresses: the lists loaded with `floodgate lists load` (`screening.db`) when they
//!    list any address; otherwise `<data dir>/tags/ofac/`; `--ofac DIR` always.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use floodgate_graph::{EntityId, RiskCategory, SkippedEntry, SourceLoad, Tag, TagSet};
use floodgate_types::Address;
use serde::Serialize;

use crate::config::Context;
use crate::output::{self, Format, Tabular};

/// Where persistent tag files live inside the data directory.
const TAGS_DIR: &str = "tags";

/// Confidence of a tag from a sanctions list loaded for screening (GraphSense's level for
/// data published by an authority).
const AUTHORITY_CONFIDENCE: &str = "authority_data";

/// Tag sources beyond TagPacks and OFAC files, shared by the trace commands.
#[derive(Debug, Default, clap::Args)]
pub(super) struct SourceArgs {
    /// Etherscan label file (combinedAccountLabels.json; repeatable);
    /// <data dir>/tags/etherscan/*.json is always read
    #[arg(long, value_name = "FILE")]
    etherscan: Vec<PathBuf>,
    /// CryptoScamDB blacklist file (urls.yaml, uris.yaml; repeatable);
    /// <data dir>/tags/cryptoscamdb/*.yaml is always read
    #[arg(long, value_name = "FILE")]
    cryptoscamdb: Vec<PathBuf>,
}

/// `floodgate trace tags`.
#[derive(Debug, clap::Args)]
pub(super) struct TagsArgs {
    /// Address (any accepted form) or entity `E<n>`; without it, the load summary of every
    /// source, with each skipped entry and its line
    target: Option<String>,
    /// GraphSense TagPack file or directory (repeatable); <data dir>/tagpacks and
    /// <data dir>/tags/tagpacks are always read
    #[arg(long, value_name = "PATH")]
    tagpack: Vec<PathBuf>,
    /// Directory of OFAC sanctioned_addresses_<TICKER>.txt files (tagged sanctioned)
    #[arg(long, value_name = "DIR")]
    ofac: Option<PathBuf>,
    #[command(flatten)]
    sources: SourceArgs,
    /// Output format (table or json)
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Every tag loaded, and what each source gave.
pub(super) struct Loaded {
    /// The tags.
    pub(super) tags: TagSet,
    /// One summary per source file (or list database).
    pub(super) sources: Vec<SourceLoad>,
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
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == ext))
        .collect();
    out.sort();
    Ok(out)
}

/// Loads every tag source (see the module docs). A file named on the command line, an
/// Etherscan file or a TagPack must load whole, or this fails naming its file and line;
/// CryptoScamDB entries that cannot be used are skipped and reported in the summary.
pub(super) fn load(
    ctx: &Context,
    tagpacks: &[PathBuf],
    ofac: Option<&Path>,
    args: &SourceArgs,
) -> Result<Loaded> {
    let root = ctx.data_dir.join(TAGS_DIR);
    let (mut tags, mut rejected) = super::load_tags(ctx, tagpacks)?;
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
    let legacy = ctx.data_dir.join("tagpacks");
    let first = [&legacy, &persistent].into_iter().find(|d| d.is_dir()).or(tagpacks.first());
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
    etherscan.extend(args.etherscan.iter().cloned());
    for f in &etherscan {
        sources.push(tags.load_etherscan(f)?);
    }
    let mut scamdb = files_in(&root.join("cryptoscamdb"), "yaml")?;
    scamdb.extend(args.cryptoscamdb.iter().cloned());
    for f in &scamdb {
        sources.push(tags.load_cryptoscamdb(f)?);
    }

    let from_lists = load_screening_lists(ctx, &mut tags)?;
    let lists_have_addresses = from_lists.as_ref().is_some_and(|l| l.entries > 0);
    if let Some(l) = from_lists.filter(|_| lists_have_addresses) {
        sources.push(l);
    }
    let mut ofac_dirs: Vec<PathBuf> = Vec::new();
    if !lists_have_addresses && root.join("ofac").is_dir() {
        ofac_dirs.push(root.join("ofac"));
    }
    ofac_dirs.extend(ofac.map(Path::to_path_buf));
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
    Ok(Loaded { tags, sources })
}

/// Tags every digital-currency address of the lists in `screening.db` as sanctioned, with
/// the list's name and version as source and the listed entry as actor. `None` when there is
/// no screening database.
fn load_screening_lists(ctx: &Context, tags: &mut TagSet) -> Result<Option<SourceLoad>> {
    let Some(listed) = floodgate_screen::listed_addresses(&ctx.data_dir)? else {
        return Ok(None);
    };
    let db = ctx.data_dir.join(floodgate_screen::screener::DB_FILE);
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

#[derive(Serialize)]
struct TagRow {
    address: String,
    category: RiskCategory,
    risk: bool,
    confidence: String,
    actor: String,
    label: String,
    source: String,
}

impl TagRow {
    fn of(t: &Tag) -> TagRow {
        TagRow {
            address: t.address.clone(),
            category: t.category,
            risk: t.category.is_risk(),
            confidence: t.confidence.clone().unwrap_or_default(),
            actor: t.actor.clone().unwrap_or_default(),
            label: t.label.clone(),
            source: t.source.clone(),
        }
    }
}

impl Tabular for TagRow {
    fn headers() -> Vec<&'static str> {
        vec!["address", "category", "risk", "confidence", "actor", "label", "source"]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.address.clone(),
            self.category.to_string(),
            if self.risk { "yes".into() } else { String::new() },
            self.confidence.clone(),
            self.actor.clone(),
            self.label.clone(),
            self.source.clone(),
        ]
    }
}

#[derive(Serialize)]
struct SourceRow {
    source: String,
    path: String,
    entries: usize,
    tags: usize,
    uncategorized: usize,
    unsupported: usize,
    skipped: usize,
    /// Whole files rejected (TagPacks are all or nothing).
    rejected: usize,
}

impl Tabular for SourceRow {
    fn headers() -> Vec<&'static str> {
        vec![
            "source",
            "file",
            "entries",
            "tags",
            "uncategorized",
            "unsupported",
            "skipped",
            "rejected",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.source.clone(),
            self.path.clone(),
            self.entries.to_string(),
            self.tags.to_string(),
            self.uncategorized.to_string(),
            self.unsupported.to_string(),
            self.skipped.to_string(),
            self.rejected.to_string(),
        ]
    }
}

#[derive(Serialize)]
struct SkippedRow {
    skipped: String,
    reason: String,
}

impl Tabular for SkippedRow {
    fn headers() -> Vec<&'static str> {
        vec!["skipped at", "reason"]
    }
    fn cells(&self) -> Vec<String> {
        vec![self.skipped.clone(), self.reason.clone()]
    }
}

#[derive(Serialize)]
struct AddressTags<'a> {
    address: String,
    category: Option<RiskCategory>,
    tags: &'a [Tag],
}

#[derive(Serialize)]
struct EntityTags {
    entity: String,
    category: Option<RiskCategory>,
    tags: Vec<floodgate_graph::EntityTag>,
}

/// `floodgate trace tags [ADDRESS|E<n>]`. Exit code 1 when the address or entity has no tag.
pub(super) fn run(args: TagsArgs, ctx: &Context) -> Result<ExitCode> {
    let loaded = load(ctx, &args.tagpack, args.ofac.as_deref(), &args.sources)?;
    let Some(target) = args.target.as_deref().map(str::trim) else {
        return summary(&loaded.sources, args.format);
    };
    let entity = target.strip_prefix('E').and_then(|n| n.parse::<u32>().ok());
    if let Some(n) = entity {
        let graph = super::open_graph(ctx)?;
        if n >= graph.node_count() {
            return Err(floodgate_graph::GraphError::NotInGraph { key: target.to_owned() }.into());
        }
        let clusters = super::trace_entity::clustering(&graph, &loaded.tags)?;
        // An alias (a merged entity's old id) resolves to the entity it joined, and says so.
        let (id, note) = super::trace_entity::resolve_entity(ctx, &graph, &clusters, EntityId(n))?;
        if let Some(note) = note {
            super::trace_entity::say_alias(&note, args.format)?;
        }
        let tags = loaded.tags.entity_tags(&graph, &clusters, id);
        let found = !tags.is_empty();
        if args.format == Format::Json {
            let category = tags.first().map(|t| t.tag.category);
            output::write_json(&EntityTags { entity: id.to_string(), category, tags })?;
        } else {
            let rows: Vec<TagRow> = tags.iter().map(|t| TagRow::of(&t.tag)).collect();
            output::write_rows(args.format, &rows)?;
        }
        if !found {
            tracing::warn!(target: "floodgate::trace", "no address of {id} carries a tag");
            return Ok(ExitCode::from(1));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let address = Address::parse_any(target)
        .with_context(|| format!("'{target}' is neither an address nor an entity E<n>"))?
        .to_canonical();
    let tags = loaded.tags.of(&address);
    if args.format == Format::Json {
        let category = tags.iter().map(|t| t.category).min();
        output::write_json(&AddressTags { address: address.clone(), category, tags })?;
    } else {
        let mut rows: Vec<TagRow> = tags.iter().map(TagRow::of).collect();
        rows.sort_by(|a, b| (a.category, &a.source).cmp(&(b.category, &b.source)));
        output::write_rows(args.format, &rows)?;
    }
    if tags.is_empty() {
        tracing::warn!(target: "floodgate::trace", "no tag for {address}");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn summary(sources: &[SourceLoad], format: Format) -> Result<ExitCode> {
    if format == Format::Json {
        output::write_json(&serde_json::json!({ "sources": sources }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<SourceRow> = sources
        .iter()
        .map(|s| SourceRow {
            source: s.source.clone(),
            path: s.path.display().to_string(),
            entries: s.entries,
            tags: s.tags,
            uncategorized: s.uncategorized,
            unsupported: s.unsupported,
            skipped: s.skipped.len(),
            rejected: s.rejected.len(),
        })
        .collect();
    output::write_rows(format, &rows)?;
    let skipped: Vec<SkippedRow> = sources
        .iter()
        .flat_map(|s| &s.skipped)
        .map(|k| SkippedRow {
            skipped: format!("{}:{}", k.path.display(), k.line),
            reason: k.reason.clone(),
        })
        .chain(
            sources
                .iter()
                .flat_map(|s| &s.rejected)
                .map(|e| SkippedRow { skipped: "(whole file rejected)".into(), reason: e.clone() }),
        )
        .collect();
    if !skipped.is_empty() {
        output::write_text("\n")?;
        output::write_rows(format, &skipped)?;
    }
    Ok(ExitCode::SUCCESS)
}
