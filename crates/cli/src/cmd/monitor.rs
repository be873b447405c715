//! `floodgate monitor`: a KYT decision per transfer, as JSON Lines or a table.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, Result};
use floodgate_monitor::customer::CustomerBook;
use floodgate_monitor::decision::Decision;
use floodgate_monitor::engine::Engine;
use floodgate_monitor::facts::{AddressLists, AddressRisk, RiskCategory, RiskFacts};
use floodgate_monitor::fiat::RateTable;
use floodgate_monitor::input::{
    parse_event, InputLimits, InputLine, LineReader, MonitorEvent, Reject,
};
use floodgate_monitor::monitor::{Monitor, Processed};
use floodgate_monitor::pack::Pack;
use floodgate_monitor::sink::DecisionFile;
use floodgate_types::Timestamp;

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
/// docs/formats/monitor.md) from a file, stdin, or the transfer store, and writes one decision
/// per transfer. Window state and the decided transfer ids live in DATA_DIR/monitor.db: a
/// transfer id already decided is skipped, and a restart after a crash continues where the
/// committed state ends. Rejected lines go to --rejects (default: stderr) and the stream
/// goes on. The rules file is re-read when it changes; a bad one is refused with its line and
/// column and the running rules stay in force.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  floodgate monitor ledger.jsonl --customers customers.csv
  tail -f ledger.jsonl | floodgate monitor --rules my-rules.toml --ofac-dir data/sanctions/ofac-crypto-addresses -
  floodgate monitor --from-store --format table")]
pub(crate) struct Args {
    /// Input JSON Lines file, or - for stdin
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
    /// Keep no state on disk (no monitor.db; nothing survives the process)
    #[arg(long)]
    no_state: bool,
    /// Decisions per group commit
    #[arg(long, default_value_t = 512, value_name = "N")]
    batch: usize,
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

/// The monitor's screening facts: the address files given on the command line, then the
/// lists loaded with `floodgate lists load` (see [`list_category`]).
struct ScreeningFacts {
    files: AddressLists,
    loaded: Option<floodgate_screen::Matcher>,
}

/// The risk category of a hit on a loaded list: the category the list stores for the entry
/// (`# category: special_measure` of a generic CSV list), else by the list's name: a name with
/// `alert` or `warning` in it (`sg-mas-alert`, `vn-warning-list`) is an investor-alert list, a
/// name with `pep` is a PEP list (no counterparty risk by itself: `None`), and every other list
/// (OFAC, UN, national blacklists) is a sanctions list. Documented in docs/rules.md.
fn list_category(list: &str, stored: Option<RiskCategory>) -> Option<RiskCategory> {
    if stored.is_some() {
        return stored;
    }
    let l = list.to_ascii_lowercase();
    if l.contains("pep") {
        None
    } else if l.contains("alert") || l.contains("warning") {
        Some(RiskCategory::InvestorAlert)
    } else {
        Some(RiskCategory::Sanctioned)
    }
}

impl ScreeningFacts {
    fn new(files: AddressLists, data_dir: &Path, skip_loaded: bool) -> Result<Self> {
        let db = data_dir.join(floodgate_screen::screener::DB_FILE);
        let loaded = if skip_loaded || !db.is_file() {
            None
        } else {
            let s = floodgate_screen::Screener::open(
                data_dir,
                floodgate_screen::score::ScoreConfig::default(),
                None,
            )?;
            let m = s.into_matcher();
            (!m.is_empty()).then_some(m)
        };
        Ok(ScreeningFacts { files, loaded })
    }
}

impl RiskFacts for ScreeningFacts {
    fn address_risk(&self, addr: &floodgate_types::Address) -> Option<AddressRisk> {
        self.files.address_risk(addr).or_else(|| {
            let m = self.loaded.as_ref()?;
            let hit = m.screen_address(addr.chain(), &addr.to_string()).ok()?.into_iter().next()?;
            let category = list_category(&hit.list, hit.category)?;
            Some(AddressRisk {
                category,
                source: if hit.programs.is_empty() {
                    format!("list '{}': {}", hit.list, hit.entity_name)
                } else {
                    format!(
                        "list '{}': {} ({})",
                        hit.list,
                        hit.entity_name,
                        hit.programs.join(", ")
                    )
                },
                label: Some(hit.entity_id),
            })
        })
    }

    fn vasp_risk(&self, vasp: &str) -> Option<AddressRisk> {
        self.files.vasp_risk(vasp)
    }

    fn screening_available(&self) -> bool {
        self.files.screening_available() || self.loaded.is_some()
    }
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

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// What a KYT engine is built from: `floodgate monitor`'s flags, also `floodgate serve`'s.
#[derive(Debug, Default)]
pub(crate) struct EngineInputs<'a> {
    pub(crate) rules: Option<&'a Path>,
    pub(crate) customers: Option<&'a Path>,
    pub(crate) vasp_directory: Option<&'a Path>,
    pub(crate) rates: Option<&'a Path>,
    pub(crate) lists: &'a [PathBuf],
    pub(crate) ofac_dir: Option<&'a Path>,
    pub(crate) no_screening_lists: bool,
}

/// Builds the engine: rules pack, customers, rates, the screening facts (address files and
/// the lists loaded with `floodgate lists load`) and the VASP directory.
pub(crate) fn engine(
    i: &EngineInputs<'_>,
    data_dir: &Path,
    assets: floodgate_types::AssetRegistry,
) -> Result<Engine> {
    let pack = match i.rules {
        Some(f) => Pack::load(f)?,
        None => Pack::builtin_vn(),
    };
    let customers = match i.customers {
        Some(f) => CustomerBook::load(f)?,
        None => CustomerBook::default(),
    };
    let rates = match i.rates {
        Some(f) => RateTable::parse_csv(
            f,
            &std::fs::read_to_string(f).with_context(|| f.display().to_string())?,
        )?,
        None => RateTable::builtin(),
    };
    let mut lists = AddressLists::default();
    if let Some(d) = i.ofac_dir {
        lists.load_ofac_dir(d)?;
    }
    for f in i.lists {
        lists.load_csv(f)?;
    }
    let facts = ScreeningFacts::new(lists, data_dir, i.no_screening_lists)?;
    let mut engine = Engine::new(pack, assets, rates, customers, Arc::new(facts));
    if let Some(f) = i.vasp_directory {
        engine = engine.with_vasp_directory(floodgate_monitor::vasp::VaspDirectory::load(f)?);
    }
    Ok(engine)
}

pub(crate) fn run(args: Args, ctx: &Context, quiet: bool) -> Result<ExitCode> {
    let engine = engine(
        &EngineInputs {
            rules: args.rules.as_deref(),
            customers: args.customers.as_deref(),
            vasp_directory: args.vasp_directory.as_deref(),
            rates: args.rates.as_deref(),
            lists: &args.lists,
            ofac_dir: args.ofac_dir.as_deref(),
            no_screening_lists: args.no_screening_lists,
        },
        &ctx.data_dir,
        ctx.assets.clone(),
    )?;
    let mut mon = if args.no_state {
        Monitor::in_memory(engine)
    } else {
        Monitor::open(engine, &ctx.data_dir)?
    };

    let mut alerts =
        crate::cmd::cases::MonitorAlerts::open(&args.cases, ctx, &mon, !args.no_state)?;
    let mut sink = match &args.out {
        Some(p) => Sink::File(DecisionFile::open(p, &mon, |d, s| render(d, args.format, s))?),
        None => Sink::Stdout,
    };
    if args.format == Fmt::Table && matches!(sink, Sink::Stdout) {
        output::write_text(&format!(
            "{:<20} {:<14} {:<10} {:>14} {:<6} {:>3}  {}\n",
            "TRANSFER", "CUSTOMER", "DIRECTION", "USD", "ACTION", "SCORE", "RULES"
        ))?;
    }
    let mut rejects: Option<File> = match &args.rejects {
        Some(p) => Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| p.display().to_string())?,
        ),
        None => None,
    };

    // Input: a reader thread, so group commits happen on a timer while the stream is idle.
    let (tx, rx) = mpsc::sync_channel::<Result<Item, String>>(8192);
    enum Item {
        Line(u64, String),
        Rejected(Reject),
        Event(Box<MonitorEvent>),
    }
    let label: PathBuf =
        if args.from_store { PathBuf::from("<transfer store>") } else { args.input.clone() };
    if args.from_store {
        let store = floodgate_store::Store::open(&ctx.data_dir)?;
        let entries = store.ledger_entries(args.ledger.as_deref())?;
        std::thread::spawn(move || {
            for e in entries {
                if tx.send(Ok(Item::Event(Box::new(MonitorEvent::from_entry(e))))).is_err() {
                    break;
                }
            }
        });
    } else {
        let (reader, size): (Box<dyn Read + Send>, Option<u64>) = if args.input.as_os_str() == "-" {
            (Box::new(std::io::stdin()), None)
        } else {
            let f = File::open(&args.input).with_context(|| args.input.display().to_string())?;
            let size = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
            (Box::new(f), size)
        };
        // Progress by bytes when reading a file (indicatif draws only on a terminal).
        let progress = match size {
            Some(total) if !quiet => {
                let pb = indicatif::ProgressBar::new(total);
                pb.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
                    )
                    .expect("the template is valid")
                    .progress_chars("=> "),
                );
                pb
            }
            _ => indicatif::ProgressBar::hidden(),
        };
        let limits = InputLimits {
            max_line_bytes: args.max_line_bytes,
            max_field_bytes: args.max_field_bytes,
        };
        let path = args.input.clone();
        std::thread::spawn(move || {
            let counted = progress.wrap_read(reader);
            let mut r = LineReader::new(BufReader::with_capacity(1 << 16, counted), &path, limits);
            loop {
                let item = match r.next_line() {
                    Ok(None) => break,
                    Ok(Some(InputLine::Text(n, line))) => Ok(Item::Line(n, line)),
                    Ok(Some(InputLine::Rejected(rej))) => Ok(Item::Rejected(rej)),
                    Err(e) => Err(format!("{e}")),
                };
                let stop = item.is_err();
                if tx.send(item).is_err() || stop {
                    break;
                }
            }
            progress.finish_and_clear();
        });
    }

    let (mut decided, mut duplicates, mut rejected) = (0u64, 0u64, 0u64);
    let mut held: Vec<Decision> = Vec::new();
    let mut rules_mtime = args.rules.as_deref().and_then(mtime);
    let mut last_check = Instant::now();
    let fmt = args.format;
    let mut flush = |mon: &mut Monitor, held: &mut Vec<Decision>, sink: &mut Sink| -> Result<()> {
        // Decisions reach the output only once their state is committed.
        mon.commit()?;
        if let Some(a) = &mut alerts {
            a.after_commit(mon)?;
        }
        if !held.is_empty() {
            match sink {
                Sink::Stdout => {
                    let mut s = String::new();
                    for d in held.iter() {
                        render(d, fmt, &mut s);
                    }
                    match fmt {
                        Fmt::Jsonl => output::write_json_text(&s)?,
                        Fmt::Table => output::write_text(&s)?,
                    }
                }
                Sink::File(f) => f.append(held, |d, s| render(d, fmt, s))?,
            }
            held.clear();
        }
        Ok(())
    };
    loop {
        let msg = match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(m) => m,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                flush(&mut mon, &mut held, &mut sink)?;
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        // Hot reload, checked at most once a second, always between two events.
        if let Some(rf) = &args.rules {
            if last_check.elapsed() >= Duration::from_secs(1) {
                last_check = Instant::now();
                let m = mtime(rf);
                if m != rules_mtime {
                    rules_mtime = m;
                    match Pack::load(rf) {
                        Ok(p) => {
                            tracing::info!(target: "floodgate::monitor", rules = %rf.display(), active = p.rule_count(), "rules reloaded");
                            mon.engine_mut().set_pack(p);
                        }
                        Err(e) => {
                            tracing::error!(target: "floodgate::monitor", "rules not reloaded, the running rules stay in force: {e}")
                        }
                    }
                }
            }
        }
        let parsed =
            match msg.map_err(anyhow::Error::msg).with_context(|| label.display().to_string())? {
                Item::Event(e) => Ok(*e),
                // Too long, a field too long, or not UTF-8: rejected like any bad line.
                Item::Rejected(r) => Err(r),
                Item::Line(n, text) => {
                    if text.trim().is_empty() {
                        continue;
                    }
                    parse_event(&label, n, &text, mon.engine().assets(), Some(Timestamp::now()))
                }
            };
        let ev = match parsed {
            Ok(e) => e,
            Err(Reject { line, reason }) => {
                rejected += 1;
                match &mut rejects {
                    Some(f) => {
                        writeln!(f, "{}", serde_json::json!({"line": line, "reason": reason}))?
                    }
                    None => {
                        tracing::warn!(target: "floodgate::monitor", line, "rejected: {reason}")
                    }
                }
                continue;
            }
        };
        match mon.process(&ev)? {
            Processed::Decided(d) => {
                decided += 1;
                held.push(*d);
            }
            Processed::Duplicate => duplicates += 1,
        }
        if held.len() >= args.batch {
            flush(&mut mon, &mut held, &mut sink)?;
        }
    }
    flush(&mut mon, &mut held, &mut sink)?;
    if let Some(f) = &mut rejects {
        f.flush()?;
    }
    if !quiet {
        let summary = serde_json::json!({"summary": {"decided": decided, "duplicates_skipped": duplicates, "rejected": rejected, "total_decided_in_state": mon.committed()}});
        let mut err = std::io::stderr().lock();
        writeln!(err, "{summary}")?;
    }
    Ok(ExitCode::SUCCESS)
}
