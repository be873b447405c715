//! `floodgate trace why` and `floodgate trace entity`: flags and rendering. The clustering a
//! query uses, alias resolution and the reports are `floodgate_app::trace`'s. Rules:
//! docs/taxonomy.md#clustering; file: docs/formats/entities.md.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use floodgate_app::trace::{
    ChangeLink, ClusterSummary, EntityRequest, WhyAnswer, WhyRequest, WhyStep,
};
use floodgate_graph::{AliasNote, ClusterUpdate};
use floodgate_types::Timestamp;

use super::{open_tracer, KeyValue};
use crate::config::Context;
use crate::output::{self, Format, Tabular};

/// The table rows of what `trace build` did to the clustering.
pub(super) fn cluster_rows(s: &ClusterSummary) -> Vec<KeyValue> {
    let how = match &s.update {
        ClusterUpdate::Current => "current".to_owned(),
        ClusterUpdate::Extended { from_segments } => {
            format!("extended (the file covered {from_segments} segments)")
        }
        ClusterUpdate::Unwound { from_segments, kept_segments, joins_undone } => format!(
            "unwound to {kept_segments} of its {from_segments} segments ({joins_undone} joins undone), then extended"
        ),
        ClusterUpdate::Rebuilt { reason } => format!("rebuilt ({reason})"),
    };
    let kv = |k: &str, v: String| KeyValue { key: k.to_owned(), value: v };
    vec![
        kv("clustering", how),
        kv("entities file", s.file.display().to_string()),
        kv("exchange wallets", s.exchange_wallets.to_string()),
        kv("multi-address entities", s.multi_address_entities.to_string()),
        kv("largest entity", s.largest_entity.to_string()),
        kv("entity merges", s.merges.to_string()),
        kv("deposit addresses", s.deposit_addresses.to_string()),
        kv("coinjoins", s.coinjoins.to_string()),
    ]
}

/// Says what an alias resolved to: a line before a table, a warning beside JSON (whose
/// shape does not change).
pub(super) fn say_alias(note: &AliasNote, format: Format) -> Result<()> {
    if matches!(format, Format::Json) {
        tracing::warn!(target: "floodgate::trace", "{note}");
        Ok(())
    } else {
        output::write_text(&format!("note: {note}\n"))
    }
}

#[derive(Debug, clap::Args)]
pub(super) struct WhyArgs {
    /// An address, or an entity id `E<n>` (an alias of a merged entity is resolved)
    a: String,
    /// Another address or entity id
    b: String,
    /// Also report change-address evidence between the two (evidence only: never merges)
    #[arg(long)]
    change_heuristics: bool,
    /// GraphSense TagPack file or directory (repeatable; exchange wallets for deposit
    /// clustering when the stored clustering cannot be used)
    #[arg(long, value_name = "PATH")]
    tagpack: Vec<PathBuf>,
    /// Output format (table or json)
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// A row of `trace why`'s table.
#[derive(serde::Serialize)]
#[serde(transparent)]
struct WhyRow<'a>(&'a WhyStep);

impl Tabular for WhyRow<'_> {
    fn headers() -> Vec<&'static str> {
        vec!["entity", "step", "address", "joined with", "rule", "transaction", "time"]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.0.entity.clone(),
            self.0.step.to_string(),
            self.0.a.clone(),
            self.0.b.clone(),
            self.0.rule.to_string(),
            self.0.tx.clone(),
            self.0.time.map(|t| Timestamp(t).to_string()).unwrap_or_default(),
        ]
    }
}

/// A change-evidence row (evidence only: never merges).
#[derive(serde::Serialize)]
#[serde(transparent)]
struct ChangeRow<'a>(&'a ChangeLink);

impl Tabular for ChangeRow<'_> {
    fn headers() -> Vec<&'static str> {
        vec!["spender", "transaction", "output", "likely change", "amount", "why (evidence only)"]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.0.entity.clone(),
            self.0.tx.clone(),
            self.0.output.to_string(),
            self.0.address.clone(),
            self.0.amount.to_string(),
            self.0.reasons.clone(),
        ]
    }
}

pub(super) fn run_why(args: WhyArgs, ctx: &Context) -> Result<ExitCode> {
    let req = WhyRequest {
        a: args.a,
        b: args.b,
        change_heuristics: args.change_heuristics,
        tagpacks: args.tagpack,
    };
    let result = open_tracer(ctx)?.why(&req)?;
    for note in &result.aliases {
        say_alias(note, args.format)?;
    }
    let code = if result.is_one_entity() { ExitCode::SUCCESS } else { ExitCode::from(1) };
    if matches!(args.format, Format::Json) {
        for note in &result.coinjoins {
            tracing::warn!(target: "floodgate::trace", "{note}");
        }
        output::write_json(&result)?;
        return Ok(code);
    }
    for note in &result.coinjoins {
        output::write_text(&format!("note: {note}\n"))?;
    }
    match &result.answer {
        WhyAnswer::OneEntity(steps) => {
            let rows: Vec<WhyRow<'_>> = steps.iter().map(WhyRow).collect();
            output::write_rows(args.format, &rows)?;
        }
        WhyAnswer::NotOne(Some(n)) if !n.change.is_empty() => {
            let (ea, eb) = result.entities;
            output::write_text(&format!(
                "{ea} and {eb} are not one entity; change evidence (never merges):\n"
            ))?;
            let rows: Vec<ChangeRow<'_>> = n.change.iter().map(ChangeRow).collect();
            output::write_rows(Format::Table, &rows)?;
        }
        WhyAnswer::NotOne(_) => {}
    }
    Ok(code)
}

#[derive(Debug, clap::Args)]
pub(super) struct EntityArgs {
    /// An entity id `E<n>` (an alias of a merged entity is resolved) or an address
    target: String,
    /// Report change-address evidence for the entity's spends (evidence only: never merges)
    #[arg(long)]
    change_heuristics: bool,
    /// GraphSense TagPack file or directory (repeatable); <data dir>/tagpacks is always read
    #[arg(long, value_name = "PATH")]
    tagpack: Vec<PathBuf>,
    /// Directory of OFAC sanctioned_addresses_<TICKER>.txt files (tagged sanctioned)
    #[arg(long, value_name = "DIR")]
    ofac: Option<PathBuf>,
    /// List at most this many member addresses
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Output format (table or json)
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

pub(super) fn run_entity(args: EntityArgs, ctx: &Context) -> Result<ExitCode> {
    let req = EntityRequest {
        target: args.target,
        change_heuristics: args.change_heuristics,
        tagpacks: args.tagpack,
        ofac: args.ofac,
        limit: args.limit,
    };
    let report = open_tracer(ctx)?.entity(&req)?;
    if matches!(args.format, Format::Json) {
        output::write_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(note) = &report.alias {
        say_alias(note, args.format)?;
    }
    let time = |t: Option<i64>| t.map(|t| Timestamp(t).to_string()).unwrap_or_default();
    let kv = |k: &str, v: String| KeyValue { key: k.to_owned(), value: v };
    let mut rows = vec![
        kv("entity", report.entity.to_string()),
        kv("members", report.members.to_string()),
        kv("first seen", time(report.first_seen)),
        kv("last seen", time(report.last_seen)),
    ];
    for (cat, n) in &report.categories {
        rows.push(kv("category", format!("{cat} ({n} member(s) tagged)")));
    }
    for t in &report.tags {
        rows.push(kv("tag", format!("{}: {} {:?} ({})", t.address, t.category, t.label, t.source)));
    }
    for a in &report.addresses {
        rows.push(kv("address", a.clone()));
    }
    if report.members > report.addresses.len() {
        rows.push(kv("address", format!("… {} more", report.members - report.addresses.len())));
    }
    for m in &report.merges {
        rows.push(kv(
            "merged",
            format!("{} into {} by {} tx {} at {}", m.alias, m.kept, m.rule, m.tx, time(m.time)),
        ));
    }
    output::write_rows(args.format, &rows)?;
    if args.change_heuristics {
        let links: Vec<ChangeLink> = report.change.iter().map(ChangeLink::from_evidence).collect();
        let change: Vec<ChangeRow<'_>> = links.iter().map(ChangeRow).collect();
        if change.is_empty() {
            output::write_text("no change evidence\n")?;
        } else {
            output::write_text("change evidence (never merges):\n")?;
            output::write_rows(args.format, &change)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
