//! `floodgate lists`: load sanctions, entity and alert lists into the screening database and
//! show what is loaded.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result};
use floodgate_screen::screener::{DeltaHit, ListInfo};
use floodgate_screen::{ListSnapshot, LoadReport};
use serde::Serialize;

use super::screen::{open_screener, UnihanArgs};
use crate::config::Context;
use crate::output::{self, Format, Tabular};

/// Load and show screening lists.
///
/// Lists live in `screening.db` in the data directory. Loading a new version of a list replaces
/// the old one in a single transaction: a file that fails to parse changes nothing, and the
/// previous version stays in force. Customers and addresses registered with
/// `floodgate screen … --subject ID` are re-screened against what the new version added or
/// changed, and the new and removed hits are reported.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  floodgate lists load sanctions/ofac-sdn/sdn_advanced.xml.bz2
  floodgate lists load sanctions/ofac-crypto-addresses/
  floodgate lists load vn-blacklist.csv --list vn-blacklist --version 2025-06-01
  floodgate lists show")]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Load list files (the format is told from the file name and content)
    Load(LoadArgs),
    /// Show every loaded list: name, version, load time, entity count and source file
    Show(ShowArgs),
}

/// Load one or more list files.
///
/// Formats, told from the file name and content: OFAC SDN advanced XML (`sdn_advanced.xml`,
/// also `.bz2`), OFAC legacy CSV (a directory holding `sdn.csv`/`add.csv`/`alt.csv` or
/// `cons_prim.csv`/…, or the `sdn.csv`/`cons_prim.csv` file itself), OFAC per-asset address
/// lists (a directory of `sanctioned_addresses_<ASSET>.txt`, or one such file), UN consolidated
/// XML, US Consolidated Screening List CSV, BIS Denied Persons List (`dpl.txt`), OpenSanctions
/// FollowTheMoney JSON lines, and floodgate's generic CSV for national and alert lists (see
/// docs/screening.md, "Generic CSV").
///
/// Every file is parsed before anything is written, so one bad file among several loads
/// nothing. Each file is its own list (named by its format, e.g. `ofac-sdn`, `un`), unless
/// `--list` is given: then all files are merged into that one list.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Output: one row per list loaded with the previous and new version, the entity
count, how long the load took, and the delta: entities added, removed and changed, and new
and removed hits of registered subjects (listed in full below the table, or in the JSON).
Exit codes: 0 loaded, 2 error (the message names the file and the line or XML element)."
)]
struct LoadArgs {
    /// List files or directories
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Name of the list to load into (replaces that list); all PATHs are merged into it
    #[arg(long, value_name = "NAME")]
    list: Option<String>,
    /// Version to record (the publisher's issue date, say) instead of the one found in the file
    #[arg(long = "version", value_name = "VERSION")]
    list_version: Option<String>,
    #[command(flatten)]
    unihan: UnihanArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Show loaded lists.
#[derive(Debug, clap::Args)]
struct ShowArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// One loaded list in the `lists load` output.
#[derive(Debug, Serialize)]
struct LoadRow {
    #[serde(flatten)]
    report: LoadReport,
    entities: usize,
    loaded_at: String,
    source: String,
    load_seconds: f64,
}

impl Tabular for LoadRow {
    fn headers() -> Vec<&'static str> {
        vec![
            "list",
            "version",
            "previous",
            "entities",
            "loaded_at",
            "seconds",
            "added",
            "removed",
            "changed",
            "new_hits",
            "removed_hits",
        ]
    }
    fn cells(&self) -> Vec<String> {
        let r = &self.report;
        vec![
            r.list.clone(),
            r.version.clone(),
            r.previous_version.clone().unwrap_or_else(|| "-".into()),
            self.entities.to_string(),
            self.loaded_at.clone(),
            format!("{:.2}", self.load_seconds),
            r.added.to_string(),
            r.removed.to_string(),
            r.changed.to_string(),
            r.new_hits.len().to_string(),
            r.removed_hits.len().to_string(),
        ]
    }
}

/// A new or removed hit of a registered subject, for the table below the load summary.
#[derive(Debug, Serialize)]
struct DeltaRow<'a> {
    change: &'static str,
    #[serde(flatten)]
    hit: &'a DeltaHit,
}

impl Tabular for DeltaRow<'_> {
    fn headers() -> Vec<&'static str> {
        vec!["change", "subject", "list", "entity_id", "score"]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.change.to_owned(),
            self.hit.subject.clone(),
            self.hit.list.clone(),
            self.hit.entity_id.clone(),
            format!("{:.3}", self.hit.score),
        ]
    }
}

struct ShowRow(ListInfo);

impl Serialize for ShowRow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl Tabular for ShowRow {
    fn headers() -> Vec<&'static str> {
        vec!["list", "version", "loaded_at", "entities", "source"]
    }
    fn cells(&self) -> Vec<String> {
        let l = &self.0;
        vec![
            l.list.clone(),
            l.version.clone(),
            l.loaded_at.clone(),
            l.entities.to_string(),
            l.source.clone(),
        ]
    }
}

pub(crate) fn run(args: Args, ctx: &Context) -> Result<ExitCode> {
    match args.command {
        Sub::Load(a) => load(a, ctx),
        Sub::Show(a) => show(a, ctx),
    }
}

/// Merges several snapshots into one list. Entity ids are prefixed with the list each file
/// would have had on its own, so that ids from different files cannot collide.
fn merge(name: &str, snaps: Vec<ListSnapshot>) -> ListSnapshot {
    if snaps.len() == 1 {
        let mut s = snaps.into_iter().next().expect("one snapshot");
        s.list = name.to_owned();
        return s;
    }
    let mut out = ListSnapshot { list: name.to_owned(), ..ListSnapshot::default() };
    let (mut versions, mut sources) = (Vec::new(), Vec::new());
    for s in snaps {
        versions.push(s.version);
        sources.push(s.source);
        out.entities.extend(s.entities.into_iter().map(|mut e| {
            e.id = format!("{}:{}", s.list, e.id);
            e
        }));
    }
    out.version = versions.join("+");
    out.source = sources.join("; ");
    out
}

fn load(args: LoadArgs, ctx: &Context) -> Result<ExitCode> {
    // Parse everything first: a bad file among several must change nothing.
    let mut parsed = Vec::new();
    for p in &args.paths {
        let started = Instant::now();
        let snap = floodgate_screen::loaders::load_path(p)
            .with_context(|| format!("loading {} (nothing was changed)", p.display()))?;
        parsed.push((snap, started.elapsed().as_secs_f64()));
    }
    let mut batches: Vec<(ListSnapshot, f64)> = match &args.list {
        Some(name) => {
            let secs = parsed.iter().map(|p| p.1).sum();
            vec![(merge(name, parsed.into_iter().map(|p| p.0).collect()), secs)]
        }
        None => parsed,
    };
    if let Some(v) = &args.list_version {
        for (s, _) in &mut batches {
            s.version.clone_from(v);
        }
    }
    let mut screener = open_screener(ctx, Default::default(), &args.unihan)?;
    let mut rows = Vec::new();
    for (snap, parse_secs) in batches {
        let started = Instant::now();
        let source = snap.source.clone();
        let report = screener
            .load(snap)
            .with_context(|| format!("storing the list from {source} in the screening database"))?;
        let info = screener.lists()?.into_iter().find(|l| l.list == report.list);
        rows.push(LoadRow {
            entities: info.as_ref().map_or(0, |i| i.entities),
            loaded_at: info.as_ref().map(|i| i.loaded_at.clone()).unwrap_or_default(),
            source,
            load_seconds: parse_secs + started.elapsed().as_secs_f64(),
            report,
        });
    }
    match args.format {
        Format::Table | Format::Csv => {
            output::write_rows(args.format, &rows)?;
            let deltas: Vec<DeltaRow<'_>> = rows
                .iter()
                .flat_map(|r| {
                    let new = r.report.new_hits.iter().map(|hit| DeltaRow { change: "new", hit });
                    let gone =
                        r.report.removed_hits.iter().map(|hit| DeltaRow { change: "removed", hit });
                    new.chain(gone)
                })
                .collect();
            if !deltas.is_empty() {
                output::write_text("\nHits of registered subjects that changed:\n")?;
                output::write_rows(args.format, &deltas)?;
            }
        }
        Format::Json | Format::Jsonl => output::write_rows(args.format, &rows)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn show(args: ShowArgs, ctx: &Context) -> Result<ExitCode> {
    let db = ctx.data_dir.join(floodgate_screen::screener::DB_FILE);
    let rows: Vec<ShowRow> = if db.exists() {
        let screener = open_screener(ctx, Default::default(), &UnihanArgs::default())?;
        screener.lists()?.into_iter().map(ShowRow).collect()
    } else {
        Vec::new()
    };
    if rows.is_empty() && args.format == Format::Table {
        output::write_text(&format!(
            "no lists loaded in {} (run `floodgate lists load PATH…`)\n",
            ctx.data_dir.display()
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    output::write_rows(args.format, &rows)?;
    Ok(ExitCode::SUCCESS)
}
