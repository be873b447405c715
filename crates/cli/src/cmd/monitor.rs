//! `floodgate monitor`: a KYT decision per transfer, as JSON Lines or a table.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use floodgate_app::monitor::{self as service, DecisionSink, Input, MonitorSetup, StreamOptions};
use floodgate_monitor::decision::Decision;
use floodgate_monitor::input::{InputLimits, Reject};
use floodgate_monitor::monitor::Monitor;
use floodgate_monitor::sink::{push_lines, DecisionFile};

use crate::config::Context;
use crate::output;

/// How decisions are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Fmt {
    /// One JSON decision per line (docs/formats/monitor.md).
    Jsonl,
    /// One aligned line per decision, for people.
    Table,
}

/// Decide on every transfer: allow, review, hold or block, with a score and the reasons.
///
/// Reads the exchange ledger as JSON Lines (docs/formats/ledger.md plus the monitor keys in
/// docs/formats/monitor.md) or as a CSV ledger with its header row, from a file, stdin, or the
/// transfer store, and writes one decision
/// per transfer, once it is durable. The decided transfers live in DATA_DIR/monitor.db (their
/// ids) and DATA_DIR/monitor.log (their events and decisions): a transfer id already decided
/// is skipped, and a restart after a crash continues where the committed state ends. The
/// alerts of the decisions go to the case store right behind them, on a thread of their own;
/// every one is stored before the command ends. Rejected lines go to --rejects (default:
/// stderr) and the stream goes on. The rules file is re-read when it changes; a bad one is
/// refused with its line and column and the running rules stay in force.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  floodgate monitor ledger.jsonl --customers customers.csv
  floodgate monitor export.csv --format table            # a CSV ledger, as `ingest ledger` reads it
  tail -f ledger.jsonl | floodgate monitor --rules my-rules.toml --ofac-dir data/sanctions/ofac-crypto-addresses -
  floodgate monitor --from-store --format table")]
pub(crate) struct Args {
    /// Input ledger: JSON Lines, or a CSV ledger with its header row (told from the first
    /// line); - for stdin
    #[arg(value_name = "INPUT", default_value = "-")]
    input: PathBuf,
    /// Rules file (TOML; docs/rules.md) [default: the built-in vn pack]
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
    /// Customer file (CSV or JSON Lines; docs/formats/monitor.md)
    #[arg(long, value_name = "FILE")]
    customers: Option<PathBuf>,
    /// VASP directory (CSV vasp,country,licences): counterparty country of transfers that
    /// name a counterparty VASP but no counterparty_country (docs/formats/monitor.md)
    #[arg(long, value_name = "FILE")]
    vasp_directory: Option<PathBuf>,
    /// Fiat rate table (CSV date,asset,vnd,usd) [default: the built-in table]
    #[arg(long, value_name = "FILE")]
    rates: Option<PathBuf>,
    /// Screening list CSV (category,value,label); may be repeated
    #[arg(long, value_name = "FILE")]
    lists: Vec<PathBuf>,
    /// Directory of OFAC sanctioned_addresses_<ASSET>.txt files
    #[arg(long, value_name = "DIR")]
    ofac_dir: Option<PathBuf>,
    /// Do not consult the lists loaded with `floodgate lists load` (screening.db in the data
    /// directory); by default a counterparty address on any of them is a list hit
    #[arg(long)]
    no_screening_lists: bool,
    /// Read ledger entries from the transfer store instead of INPUT
    #[arg(long)]
    from_store: bool,
    /// With --from-store: only this ledger
    #[arg(long, value_name = "NAME")]
    ledger: Option<String>,
    /// Append decisions to this file instead of stdout; after a crash the file is brought
    /// up to date from monitor.db first, so it holds every decision exactly once
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Write rejected lines here as JSON Lines (line, reason) [default: stderr]
    #[arg(long, value_name = "FILE")]
    rejects: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Fmt::Jsonl)]
    format: Fmt,
    /// Keep no state on disk (no monitor.db or monitor.log, no alerts; nothing survives the
    /// process)
    #[arg(long)]
    no_state: bool,
    /// Decisions per group commit, at most (a group is also committed once its first decision
    /// waited 1 s, and whenever the input is idle)
    #[arg(long, default_value_t = service::DEFAULT_BATCH, value_name = "N")]
    batch: usize,
    /// Write a snapshot of the window state every N committed decisions (and at the end), so
    /// a restart replays at most N stored decisions; 0: only at the end
    #[arg(long, default_value_t = floodgate_monitor::monitor::DEFAULT_SNAPSHOT_EVERY, value_name = "N")]
    snapshot_every: u64,
    /// Longest input line in bytes; a longer line is rejected (file and line named) and
    /// skipped without being held in memory
    #[arg(long, default_value_t = InputLimits::default().max_line_bytes, value_name = "BYTES")]
    max_line_bytes: usize,
    /// Longest JSON string (key or value) in an input line, in bytes; a line with a longer
    /// one is rejected naming the field
    #[arg(long, default_value_t = InputLimits::default().max_field_bytes, value_name = "BYTES")]
    max_field_bytes: usize,
    /// Case store for the alerts of non-allow decisions (docs/cases.md)
    #[command(flatten)]
    cases: crate::cmd::cases::StoreArgs,
}

enum Sink {
    Stdout,
    File(DecisionFile),
}

fn render(d: &Decision, fmt: Fmt, out: &mut String) {
    match fmt {
        Fmt::Jsonl => floodgate_monitor::sink::jsonl(d, out),
        Fmt::Table => {
            let mut rules: Vec<String> = d.hits.iter().map(|h| h.rule_id.clone()).collect();
            // Group alerts for other members: `shared_device>alice`.
            rules.extend(d.group_alerts.iter().map(|a| format!("{}>{}", a.rule_id, a.customer_id)));
            let usd = d
                .amount_usd_cents
                .map(|c| format!("{}.{:02}", c / 100, c % 100))
                .unwrap_or_else(|| "?".into());
            out.push_str(&format!(
                "{:<20} {:<14} {:<10} {:>14} {:<6} {:>3}  {}\n",
                d.transfer_id,
                d.customer_id,
                d.direction.as_str(),
                usd,
                d.action.as_str(),
                d.score,
                rules.join(",")
            ));
        }
    }
}

/// The command line's side of a stream: decisions to stdout or a file, then handed to the
/// alert feed (on its own thread: the alerts follow the emission, ADR 0009), rejected lines
/// to a file or the log.
struct CliSink {
    out: Sink,
    fmt: Fmt,
    alerts: Option<floodgate_app::alerts::AlertFeed>,
    rejects: Option<File>,
    /// A group's text for stdout, kept from group to group: a fresh string of a group's
    /// decisions (about 10 MB at 4,096) was given back to the system after each group and
    /// faulted in again for the next, a tenth of a `--no-state` run's CPU.
    buf: String,
}

impl CliSink {
    /// Writes out a group the last commit made durable.
    fn emit(&mut self, mon: &Monitor, held: &[Decision]) -> Result<()> {
        let fmt = self.fmt;
        // JSON Lines: the decisions as the commit stored them, not serialized again.
        let stored = mon.committed_json();
        if fmt == Fmt::Jsonl && stored.len() == held.len() {
            match &mut self.out {
                Sink::Stdout => {
                    self.buf.clear();
                    push_lines(stored, &mut self.buf);
                    output::write_json_text(&self.buf)?;
                }
                Sink::File(f) => f.append_lines(stored)?,
            }
            return Ok(());
        }
        match &mut self.out {
            Sink::Stdout => {
                let s = &mut self.buf;
                s.clear();
                for d in held {
                    render(d, fmt, s);
                }
                match fmt {
                    Fmt::Jsonl => output::write_json_text(s)?,
                    Fmt::Table => output::write_text(s)?,
                }
            }
            Sink::File(f) => f.append(held, |d, s| render(d, fmt, s))?,
        }
        Ok(())
    }
}

impl DecisionSink for CliSink {
    type Error = anyhow::Error;

    fn committed(&mut self, mon: &Monitor, held: Vec<Decision>) -> Result<()> {
        if held.is_empty() {
            return Ok(());
        }
        // Durable in monitor.db: written out now, the alerts stored behind.
        self.emit(mon, &held)?;
        if let Some(a) = &mut self.alerts {
            a.send(mon, held)?;
        }
        Ok(())
    }

    fn rejected(&mut self, r: &Reject) -> Result<()> {
        match &mut self.rejects {
            Some(f) => writeln!(f, "{}", serde_json::json!({"line": r.line, "reason": r.reason}))?,
            None => {
                tracing::warn!(target: "floodgate::monitor", line = r.line, "rejected: {}", r.reason)
            }
        }
        Ok(())
    }
}

pub(crate) fn run(args: Args, ctx: &Context, quiet: bool) -> Result<ExitCode> {
    let setup = MonitorSetup {
        rules: args.rules.clone(),
        customers: args.customers,
        vasp_directory: args.vasp_directory,
        rates: args.rates,
        lists: args.lists,
        ofac_dir: args.ofac_dir,
        no_screening_lists: args.no_screening_lists,
        no_state: args.no_state,
        state_dir: None,
    };
    let dd = ctx.dir();
    let mut mon = service::open(&dd, &ctx.assets, &setup)?;
    mon.set_snapshot_every(args.snapshot_every);
    let alerts = floodgate_app::alerts::MonitorAlerts::open(!args.no_state, &mon, || {
        Ok::<_, anyhow::Error>((args.cases.open(ctx)?, args.cases.feed_actor(ctx, "monitor")?))
    })?
    .map(|a| a.spawn(&mon))
    .transpose()?;
    let out = match &args.out {
        Some(p) => Sink::File(DecisionFile::open(p, &mon, |d, s| render(d, args.format, s))?),
        None => Sink::Stdout,
    };
    if args.format == Fmt::Table && matches!(out, Sink::Stdout) {
        output::write_text(&format!(
            "{:<20} {:<14} {:<10} {:>14} {:<6} {:>3}  {}\n",
            "TRANSFER", "CUSTOMER", "DIRECTION", "USD", "ACTION", "SCORE", "RULES"
        ))?;
    }
    let rejects: Option<File> = match &args.rejects {
        Some(p) => Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| p.display().to_string())?,
        ),
        None => None,
    };
    let input = if args.from_store {
        Input::Store { ledger: args.ledger.clone() }
    } else {
        let limits = InputLimits {
            max_line_bytes: args.max_line_bytes,
            max_field_bytes: args.max_field_bytes,
        };
        let (input, size) = Input::open(&args.input, limits)?;
        // Progress by bytes when reading a file (indicatif draws only on a terminal).
        match (input, size) {
            (Input::Lines { reader, label, limits }, Some(total)) if !quiet => {
                let pb = indicatif::ProgressBar::new(total);
                pb.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
                    )
                    .expect("the template is valid")
                    .progress_chars("=> "),
                );
                Input::Lines { reader: Box::new(Finish(pb.wrap_read(reader))), label, limits }
            }
            (input, _) => input,
        }
    };
    let mut sink = CliSink { out, fmt: args.format, alerts, rejects, buf: String::new() };
    let opts =
        StreamOptions { batch: args.batch, reload_rules: args.rules, ..StreamOptions::default() };
    let summary = service::stream(&dd, &mut mon, input, &mut sink, &opts)?;
    // A clean end: the next start loads this snapshot and replays nothing; the window state
    // is left to the OS at exit rather than freed piece by piece (Monitor::close_at_exit).
    // Written while the alert feed stores what it has left.
    mon.close_at_exit()?;
    if let Some(f) = &mut sink.rejects {
        f.flush()?;
    }
    // Every alert stored before the command ends.
    let feed = sink.alerts.take().map(|a| a.finish()).transpose()?;
    if !quiet {
        let summary = match feed {
            Some(feed) => serde_json::json!({ "summary": summary, "alert_feed": feed }),
            None => serde_json::json!({ "summary": summary }),
        };
        let mut err = std::io::stderr().lock();
        writeln!(err, "{summary}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A progress-counting reader that clears its bar when the input ends.
struct Finish<R: Read>(indicatif::ProgressBarIter<R>);

impl<R: Read> Read for Finish<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.0.progress.finish_and_clear();
        }
        Ok(n)
    }
}
