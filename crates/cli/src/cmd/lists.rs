//! `floodgate lists`: load sanctions, entity and alert lists into the screening database and
//! show what is loaded.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use floodgate_app::lists::{self as svc, HistoryRequest, LoadRequest, LoadRow};
use floodgate_app::DataDir;
use floodgate_screen::loaders::limits::Limits;
use floodgate_screen::screener::{DeltaHit, ListInfo, LoadRecord};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use super::screen::UnihanArgs;
use crate::config::Context;
use crate::output::{self, Format, Tabular};

/// The `[lists]` section of the config file: load guards and input limits (docs/config.md).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListsConfig {
    /// Largest share of a list's entries (percent) a load may drop without `--allow-shrink`.
    pub(crate) max_shrink_percent: Option<u32>,
    /// Longest line of a list file or `screen batch` input, in bytes.
    pub(crate) max_line_bytes: Option<u64>,
    /// Longest field (CSV cell, name, number, address), in bytes.
    pub(crate) max_field_bytes: Option<u64>,
    /// Largest list file, after decompression, in bytes.
    pub(crate) max_file_bytes: Option<u64>,
    /// Largest ratio of decompressed to compressed size.
    pub(crate) max_compression_ratio: Option<u64>,
}

impl ListsConfig {
    /// Applies the `FLOODGATE_MAX_*` environment variables over the file's values.
    pub(crate) fn with_env(mut self) -> Result<ListsConfig> {
        fn env<T: std::str::FromStr>(name: &str, slot: &mut Option<T>) -> Result<()> {
            if let Ok(v) = std::env::var(name) {
                *slot = Some(v.trim().parse().map_err(|_| {
                    anyhow::anyhow!("environment variable {name}={v:?} is not a whole number")
                })?);
            }
            Ok(())
        }
        env("FLOODGATE_MAX_SHRINK_PERCENT", &mut self.max_shrink_percent)?;
        env("FLOODGATE_MAX_LINE_BYTES", &mut self.max_line_bytes)?;
        env("FLOODGATE_MAX_FIELD_BYTES", &mut self.max_field_bytes)?;
        env("FLOODGATE_MAX_FILE_BYTES", &mut self.max_file_bytes)?;
        env("FLOODGATE_MAX_COMPRESSION_RATIO", &mut self.max_compression_ratio)?;
        if self.max_shrink_percent.is_some_and(|p| p > 100) {
            bail!("lists.max_shrink_percent must be 0–100");
        }
        Ok(self)
    }

    /// The input limits in force.
    pub(crate) fn limits(&self) -> Limits {
        let d = Limits::default();
        Limits {
            max_line_bytes: self.max_line_bytes.unwrap_or(d.max_line_bytes),
            max_field_bytes: self.max_field_bytes.unwrap_or(d.max_field_bytes),
            max_file_bytes: self.max_file_bytes.unwrap_or(d.max_file_bytes),
            max_compression_ratio: self.max_compression_ratio.unwrap_or(d.max_compression_ratio),
        }
    }
}

/// Load and show screening lists.
///
/// Lists live in `screening.db` in the data directory. Loading a new version of a list replaces
/// the old one in a single transaction: a file that fails to parse changes nothing, and the
/// previous version stays in force. A sanctions list is never silently emptied: a load that
/// finds no entries is refused, and so is one that drops more than 10 % of a list's entries
/// (`lists.max_shrink_percent`) unless `--allow-shrink` is given. Every load is recorded (who,
/// when, each file's SHA-256, entries before and after): see `floodgate lists history`. Customers and addresses registered with
/// `floodgate screen … --subject ID` are re-screened against what the new version added or
/// changed, and the new and removed hits are reported.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  floodgate lists load sanctions/ofac-sdn/sdn_advanced.xml.bz2
  floodgate lists load sanctions/ofac-crypto-addresses/
  floodgate lists load vn-blacklist.csv --list vn-blacklist --version 2025-06-01
  floodgate lists show
  floodgate lists history --list ofac-sdn")]
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
    /// Show the load history: who loaded which version when, each file's SHA-256, and the
    /// entry counts before and after
    History(HistoryArgs),
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
A load is refused (exit 2, nothing changed) when a list would end up with no entries, or
would lose more than lists.max_shrink_percent (default 10) percent of its entries: the message
shows the counts before and after. Check the file, then load it with --allow-shrink if the
shrink is real. Every load is recorded: `floodgate lists history`.
Exit codes: 0 loaded, 2 error or refused (the message names the file and the line or XML
element, or the list and its counts)."
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
    /// Load even when the new version drops more than the allowed share of a list's entries
    /// (never when it has no entries at all)
    #[arg(long)]
    allow_shrink: bool,
    /// Largest share of a list's entries, in percent, a load may drop [config
    /// lists.max_shrink_percent, env FLOODGATE_MAX_SHRINK_PERCENT; default 10]
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u32).range(0..=100))]
    max_shrink: Option<u32>,
    /// Who loads, for the load history [default: the OS user ($USER)]
    #[arg(long, value_name = "NAME")]
    by: Option<String>,
    #[command(flatten)]
    unihan: UnihanArgs,
    /// The case store the new hits of registered subjects go to, as `screen_delta` alerts
    #[command(flatten)]
    cases: crate::cmd::cases::StoreArgs,
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

/// Show the load history.
#[derive(Debug, clap::Args)]
struct HistoryArgs {
    /// Only this list's loads
    #[arg(long, value_name = "NAME")]
    list: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

impl Tabular for LoadRow {
    fn headers() -> Vec<&'static str> {
        vec![
            "list",
            "version",
            "previous",
            "load_id",
            "before",
            "entities",
            "loaded_at",
            "seconds",
            "added",
            "removed",
            "changed",
            "new_hits",
            "removed_hits",
            "dropped_dates",
        ]
    }
    fn cells(&self) -> Vec<String> {
        let r = &self.report;
        vec![
            r.list.clone(),
            r.version.clone(),
            r.previous_version.clone().unwrap_or_else(|| "-".into()),
            r.load_id.to_string(),
            r.entities_before.to_string(),
            self.entities.to_string(),
            self.loaded_at.clone(),
            format!("{:.2}", self.load_seconds),
            r.added.to_string(),
            r.removed.to_string(),
            r.changed.to_string(),
            r.new_hits.len().to_string(),
            r.removed_hits.len().to_string(),
            self.dropped_dates.to_string(),
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
        vec!["list", "version", "load_id", "loaded_at", "entities", "source"]
    }
    fn cells(&self) -> Vec<String> {
        let l = &self.0;
        vec![
            l.list.clone(),
            l.version.clone(),
            l.load_id.map_or_else(|| "-".into(), |i| i.to_string()),
            l.loaded_at.clone(),
            l.entities.to_string(),
            l.source.clone(),
        ]
    }
}

/// One recorded load in the `lists history` output.
struct HistoryRow(LoadRecord);

impl Serialize for HistoryRow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl Tabular for HistoryRow {
    fn headers() -> Vec<&'static str> {
        vec![
            "load_id",
            "list",
            "version",
            "previous",
            "loaded_at",
            "loaded_by",
            "before",
            "after",
            "added",
            "removed",
            "changed",
            "allow_shrink",
            "files_sha256",
        ]
    }
    fn cells(&self) -> Vec<String> {
        let l = &self.0;
        vec![
            l.load_id.to_string(),
            l.list.clone(),
            l.version.clone(),
            l.previous_version.clone().unwrap_or_else(|| "-".into()),
            l.loaded_at.clone(),
            l.loaded_by.clone(),
            l.entities_before.to_string(),
            l.entities_after.to_string(),
            l.added.to_string(),
            l.removed.to_string(),
            l.changed.to_string(),
            if l.allow_shrink { "yes" } else { "" }.to_owned(),
            l.files
                .iter()
                .map(|f| format!("{} {}", f.path, f.sha256))
                .collect::<Vec<_>>()
                .join("; "),
        ]
    }
}

pub(crate) fn run(args: Args, ctx: &Context, quiet: bool) -> Result<ExitCode> {
    match args.command {
        Sub::Load(a) => load(a, ctx, quiet),
        Sub::Show(a) => show(a, ctx),
        Sub::History(a) => history(a, ctx),
    }
}

/// Who runs the command, for the load history: `$USER`, else `$LOGNAME`, else "unknown".
pub(crate) fn os_user() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.trim().is_empty()))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The list-load progress bar (files).
struct FilesBar(ProgressBar);

impl floodgate_app::Progress for FilesBar {
    fn start(&self, total: u64) {
        self.0.set_length(total);
    }
    fn inc(&self, n: u64) {
        self.0.inc(n);
    }
    fn message(&self, what: &str) {
        self.0.set_message(what.to_owned());
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

fn load(args: LoadArgs, ctx: &Context, quiet: bool) -> Result<ExitCode> {
    let req = LoadRequest {
        paths: args.paths,
        list: args.list,
        version: args.list_version,
        allow_shrink: args.allow_shrink,
        max_shrink_percent: args.max_shrink.or(ctx.lists.max_shrink_percent),
        loaded_by: args.by.unwrap_or_else(os_user),
        unihan: args.unihan.unihan,
    };
    let progress = FilesBar(if quiet {
        ProgressBar::hidden()
    } else {
        let pb = ProgressBar::new(0);
        pb.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {pos}/{len} files {msg}")
                .expect("the template is valid"),
        );
        pb.enable_steady_tick(std::time::Duration::from_millis(200));
        pb
    });
    let result = svc::load(&DataDir::new(&ctx.data_dir), &req, &ctx.lists.limits(), &progress)?;
    let rows = &result.rows;
    // New hits of registered subjects become alerts, then every stored hit (an alert a
    // crash lost is raised now): floodgate_app::lists::LoadResult.
    let feed = || crate::cmd::cases::screen_feed(&args.cases, ctx);
    floodgate_app::alerts::record(&result.delta_alerts(), feed)?;
    floodgate_app::alerts::record(&result.stored_alerts(), feed)?;
    match args.format {
        Format::Table | Format::Csv => {
            output::write_rows(args.format, rows)?;
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
        Format::Json | Format::Jsonl => output::write_rows(args.format, rows)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn show(args: ShowArgs, ctx: &Context) -> Result<ExitCode> {
    let rows: Vec<ShowRow> =
        svc::show(&DataDir::new(&ctx.data_dir))?.into_iter().map(ShowRow).collect();
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

fn history(args: HistoryArgs, ctx: &Context) -> Result<ExitCode> {
    let req = HistoryRequest { list: args.list.clone() };
    let rows: Vec<HistoryRow> =
        svc::history(&DataDir::new(&ctx.data_dir), &req)?.into_iter().map(HistoryRow).collect();
    if rows.is_empty() && args.format == Format::Table {
        output::write_text(&format!(
            "no list loads recorded in {}{}\n",
            ctx.data_dir.display(),
            args.list.as_deref().map(|l| format!(" for list {l}")).unwrap_or_default()
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    output::write_rows(args.format, &rows)?;
    Ok(ExitCode::SUCCESS)
}
