//! Attribution tag sources for every `floodgate trace` command, and `floodgate trace tags`:
//! the tags of an address, the tags an entity derives from its addresses, or the load summary
//! of every source (with each skipped third-party entry and its line).
//!
//! Which sources load, and in what order, is decided in one place:
//! `floodgate_app::trace::load_tags` (documented in `docs/taxonomy.md`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use floodgate_app::trace::{TagSources, TagsRequest, TagsResult};
use floodgate_attribution::{RiskCategory, SourceLoad, Tag};
use serde::Serialize;

use crate::config::Context;
use crate::output::{self, Format, Tabular};

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

impl SourceArgs {
    /// The request's tag sources: these, the TagPacks and the OFAC directory.
    pub(super) fn with(self, tagpacks: Vec<PathBuf>, ofac: Option<PathBuf>) -> TagSources {
        TagSources { tagpacks, ofac, etherscan: self.etherscan, cryptoscamdb: self.cryptoscamdb }
    }
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

/// `floodgate trace tags [ADDRESS|E<n>]`. Exit code 1 when the address or entity has no tag.
pub(super) fn run(args: TagsArgs, ctx: &Context) -> Result<ExitCode> {
    let req = TagsRequest {
        target: args.target.clone(),
        sources: args.sources.with(args.tagpack, args.ofac),
    };
    let result = floodgate_app::trace::tags(&ctx.dir(), &req)?;
    match &result {
        TagsResult::Summary { sources } => return summary(sources, args.format),
        TagsResult::Entity { entity, tags, alias, .. } => {
            if let Some(note) = alias {
                super::trace_entity::say_alias(note, args.format)?;
            }
            if args.format == Format::Json {
                output::write_json(&result)?;
            } else {
                let rows: Vec<TagRow> = tags.iter().map(|t| TagRow::of(&t.tag)).collect();
                output::write_rows(args.format, &rows)?;
            }
            if result.is_untagged() {
                tracing::warn!(target: "floodgate::trace", "no address of {entity} carries a tag");
            }
        }
        TagsResult::Address { address, tags, .. } => {
            if args.format == Format::Json {
                output::write_json(&result)?;
            } else {
                let mut rows: Vec<TagRow> = tags.iter().map(TagRow::of).collect();
                rows.sort_by(|a, b| (a.category, &a.source).cmp(&(b.category, &b.source)));
                output::write_rows(args.format, &rows)?;
            }
            if result.is_untagged() {
                tracing::warn!(target: "floodgate::trace", "no tag for {address}");
            }
        }
    }
    Ok(if result.is_untagged() { ExitCode::from(1) } else { ExitCode::SUCCESS })
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
