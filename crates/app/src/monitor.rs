//! Monitoring services: set up the KYT engine for a data directory, and run a stream of
//! ledger events through it — one decision per transfer, each reaching the caller only after
//! the state that produced it is committed (so a crash and restart never decide a transfer
//! twice, and never show a decision that was not kept). Rules: `docs/rules.md`; input and
//! decisions: `docs/formats/monitor.md`.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use floodgate_monitor::customer::CustomerBook;
use floodgate_monitor::decision::Decision;
use floodgate_monitor::engine::Engine;
use floodgate_monitor::facts::{AddressLists, AddressRisk, RiskCategory, RiskFacts};
use floodgate_monitor::fiat::RateTable;
use floodgate_monitor::input::{
    parse_csv_event, parse_event, CsvLedgerHeader, InputLimits, InputLine, LineReader,
    MonitorEvent, Reject,
};
use floodgate_monitor::monitor::{Monitor, Processed};
use floodgate_monitor::pack::Pack;
use floodgate_store::TransferStore;
use floodgate_types::{AssetRegistry, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{AppError, DataDir, Result};

/// How to set up the monitor.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorSetup {
    /// Rules file (TOML; `docs/rules.md`); the built-in `vn` pack when absent.
    pub rules: Option<PathBuf>,
    /// Customer file (CSV or JSON Lines).
    pub customers: Option<PathBuf>,
    /// VASP directory (CSV `vasp,country,licences`).
    pub vasp_directory: Option<PathBuf>,
    /// Fiat rate table (CSV `date,asset,vnd,usd`); the built-in table when absent.
    pub rates: Option<PathBuf>,
    /// Screening list CSV files (`category,value,label`).
    pub lists: Vec<PathBuf>,
    /// A directory of OFAC `sanctioned_addresses_<ASSET>.txt` files.
    pub ofac_dir: Option<PathBuf>,
    /// Do not consult the lists loaded with `floodgate lists load`.
    pub no_screening_lists: bool,
    /// Keep no state on disk (no `monitor.db`; nothing survives the process).
    pub no_state: bool,
    /// Where `monitor.db` lives (default: the data directory). The HTTP API keeps one per
    /// tenant; the lists loaded for screening are still the data directory's.
    pub state_dir: Option<PathBuf>,
}

/// The monitor's screening facts: the address files of the setup, then the lists loaded with
/// `floodgate lists load` (see [`list_category`]).
struct ScreeningFacts {
    files: AddressLists,
    loaded: Option<floodgate_screen::Matcher>,
}

/// The risk category of a hit on a loaded list: the category the list stores for the entry
/// (`# category: special_measure` of a generic CSV list), else by the list's name: a name with
/// `alert` or `warning` in it (`sg-mas-alert`, `vn-warning-list`) is an investor-alert list, a
/// name with `pep` is a PEP list (no counterparty risk by itself: `None`), and every other list
/// (OFAC, UN, national blacklists) is a sanctions list. Documented in docs/rules.md.
pub fn list_category(list: &str, stored: Option<RiskCategory>) -> Option<RiskCategory> {
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

/// The rules of a setup: its file, or the built-in `vn` pack.
pub fn load_pack(rules: Option<&Path>) -> Result<Pack> {
    Ok(match rules {
        Some(f) => Pack::load(f)?,
        None => Pack::builtin_vn(),
    })
}

/// Sets up the KYT engine and its state (`monitor.db` in the data directory, unless
/// `no_state`): rules, customers, fiat rates, VASP directory, address lists, and the lists
/// loaded for screening.
pub fn open(dd: &DataDir, assets: &AssetRegistry, setup: &MonitorSetup) -> Result<Monitor> {
    let pack = load_pack(setup.rules.as_deref())?;
    let customers = match &setup.customers {
        Some(f) => CustomerBook::load(f)?,
        None => CustomerBook::default(),
    };
    let rates = match &setup.rates {
        Some(f) => {
            RateTable::parse_csv(f, &std::fs::read_to_string(f).map_err(AppError::io("", f))?)?
        }
        None => RateTable::builtin(),
    };
    let mut lists = AddressLists::default();
    if let Some(d) = &setup.ofac_dir {
        lists.load_ofac_dir(d)?;
    }
    for f in &setup.lists {
        lists.load_csv(f)?;
    }
    let facts = ScreeningFacts::new(lists, dd.root(), setup.no_screening_lists)?;
    let mut engine = Engine::new(pack, assets.clone(), rates, customers, Arc::new(facts));
    if let Some(f) = &setup.vasp_directory {
        engine = engine.with_vasp_directory(floodgate_monitor::vasp::VaspDirectory::load(f)?);
    }
    // Exposure facts from the tracing exposure index, when a graph was built (issue 14).
    match crate::trace::IndexLookup::open(dd) {
        Ok(Some(ix)) => engine = engine.with_exposure_index(Arc::new(ix)),
        Ok(None) => {}
        Err(e) => tracing::warn!(target: "floodgate::monitor", error = %e,
            "the graph could not be opened: no exposure facts from the exposure index"),
    }
    Ok(if setup.no_state {
        Monitor::in_memory(engine)
    } else {
        Monitor::open(engine, setup.state_dir.as_deref().unwrap_or(dd.root()))?
    })
}

/// Where a stream's events come from.
pub enum Input {
    /// JSON Lines (`docs/formats/monitor.md`) from a reader; `label` names it in errors and
    /// rejects (a path, or `-`).
    Lines {
        /// The bytes.
        reader: Box<dyn Read + Send>,
        /// What to call it.
        label: PathBuf,
        /// Line and field limits.
        limits: InputLimits,
    },
    /// The ledger entries of the transfer store (of one ledger, or all).
    Store {
        /// Only this ledger.
        ledger: Option<String>,
    },
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Input::Lines { label, limits, .. } => {
                f.debug_struct("Lines").field("label", label).field("limits", limits).finish()
            }
            Input::Store { ledger } => f.debug_struct("Store").field("ledger", ledger).finish(),
        }
    }
}

impl Input {
    /// A file, or stdin for `-`.
    pub fn open(path: &Path, limits: InputLimits) -> Result<(Input, Option<u64>)> {
        if path.as_os_str() == "-" {
            let reader: Box<dyn Read + Send> = Box::new(std::io::stdin());
            return Ok((Input::Lines { reader, label: path.to_path_buf(), limits }, None));
        }
        let f = File::open(path).map_err(AppError::io("", path))?;
        let size = f.metadata().ok().filter(|m| m.is_file()).map(|m| m.len());
        Ok((Input::Lines { reader: Box::new(f), label: path.to_path_buf(), limits }, size))
    }
}

/// What the caller does with a stream's results.
pub trait DecisionSink {
    /// The caller's error type (a service error converts into it).
    type Error: From<AppError>;

    /// Called after every group commit with the decisions it made durable (possibly none:
    /// a commit on an idle timer), in input order; `monitor` is the committed state. The
    /// decisions are the sink's: it may write them out and hand them on (the CLI's alert
    /// feed, on its own thread) without a copy.
    fn committed(&mut self, monitor: &Monitor, decisions: Vec<Decision>)
        -> Result<(), Self::Error>;

    /// A line that could not be used (too long, not UTF-8, not a valid event): the stream
    /// goes on.
    fn rejected(&mut self, reject: &Reject) -> Result<(), Self::Error>;
}

/// Decisions per group commit by default: one `monitor.db` and one `cases.db` transaction per
/// 4,096 decisions (512 before: each commit rewrites the b-tree pages it touched, so larger
/// groups write fewer pages per decision; `docs/benchmarks.md`, ADR 0005), bounded in time by
/// [`StreamOptions::max_group_wait`].
pub const DEFAULT_BATCH: usize = 4096;

/// Decisions handed to the sink at once by a monitor without a store (`--no-state`): nothing
/// is committed, so a large group only holds decisions in memory longer (measured: 4,096 cost
/// `--no-state` about a tenth more CPU than 512).
const NO_STATE_BATCH: usize = 512;

/// How a stream runs.
#[derive(Debug, Clone)]
pub struct StreamOptions {
    /// Decisions per group commit, at most.
    pub batch: usize,
    /// Commit at least this often while the input is idle (a tail -f stream).
    pub idle_commit: Duration,
    /// Commit a group once its first decision has waited this long, full or not, so a busy
    /// stream's decisions are not held back by a large `batch`.
    pub max_group_wait: Duration,
    /// Re-read this rules file when it changes (checked at most once a second, always between
    /// two events); a bad file is logged and the running rules stay in force.
    pub reload_rules: Option<PathBuf>,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            batch: DEFAULT_BATCH,
            idle_commit: Duration::from_millis(20),
            max_group_wait: Duration::from_secs(1),
            reload_rules: None,
        }
    }
}

/// What a stream did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StreamSummary {
    /// Transfers decided in this run.
    pub decided: u64,
    /// Transfers skipped because their id was already decided.
    pub duplicates_skipped: u64,
    /// Lines rejected.
    pub rejected: u64,
    /// Transfers decided in the state, all runs together.
    pub total_decided_in_state: u64,
}

enum Item {
    Line(u64, String),
    /// A row of a CSV ledger, with the header it is read under.
    CsvLine(u64, String, Arc<CsvLedgerHeader>),
    Rejected(Reject),
    Event(Box<MonitorEvent>),
}

/// Input items per message from the reading thread.
const READ_BATCH: usize = 256;

/// The reading thread's side of the channel: items gathered into batches of up to
/// [`READ_BATCH`].
struct Batcher {
    tx: mpsc::SyncSender<Vec<Result<Item, String>>>,
    batch: Vec<Result<Item, String>>,
}

impl Batcher {
    fn new(tx: mpsc::SyncSender<Vec<Result<Item, String>>>) -> Batcher {
        Batcher { tx, batch: Vec::with_capacity(READ_BATCH) }
    }

    /// Adds `item`; sends the batch when it is full or `send_now` says so. False when the
    /// receiving side is gone.
    fn push(&mut self, item: Result<Item, String>, send_now: bool) -> bool {
        self.batch.push(item);
        if !send_now && self.batch.len() < READ_BATCH {
            return true;
        }
        let full = std::mem::replace(&mut self.batch, Vec::with_capacity(READ_BATCH));
        self.tx.send(full).is_ok()
    }

    /// Sends what is left.
    fn finish(self) {
        if !self.batch.is_empty() {
            let _ = self.tx.send(self.batch);
        }
    }
}

/// What the input's lines are, told by its first line with text.
enum LineFormat {
    Unknown,
    Json,
    Csv(Arc<CsvLedgerHeader>),
}

/// The input's first line with text: a JSON object starts JSON Lines; anything else is read as
/// a CSV ledger's header when it names the ledger's required columns (`docs/formats/ledger.md`),
/// else as a JSON line (rejected, with the reason it is not a CSV header logged).
fn first_line(label: &Path, n: u64, line: &str) -> LineFormat {
    let text = line.trim_start_matches('\u{feff}').trim_start();
    if text.starts_with('{') {
        return LineFormat::Json;
    }
    match CsvLedgerHeader::parse(label, n, line) {
        Ok(h) => LineFormat::Csv(Arc::new(h)),
        Err(e) => {
            tracing::warn!(target: "floodgate::monitor",
                "the first line is neither a JSON object nor a CSV ledger header ({e}): reading JSON Lines");
            LineFormat::Json
        }
    }
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// Runs `input` through the monitor: one decision per new transfer id, handed to `sink` only
/// after its group commit. Input is read on its own thread so that commits happen on a timer
/// while the input is idle.
pub fn stream<S: DecisionSink>(
    dd: &DataDir,
    mon: &mut Monitor,
    input: Input,
    sink: &mut S,
    opts: &StreamOptions,
) -> Result<StreamSummary, S::Error> {
    // Items travel in batches: a message per line cost a wake-up of this thread per transfer
    // (a tenth of the pass-through run's time). The reader sends what it has as soon as its
    // input has nothing more buffered, so a tail -f stream is not held back.
    let (tx, rx) = mpsc::sync_channel::<Vec<Result<Item, String>>>(64);
    let label: PathBuf = match &input {
        Input::Store { .. } => PathBuf::from("<transfer store>"),
        Input::Lines { label, .. } => label.clone(),
    };
    match input {
        Input::Store { ledger } => {
            let store = dd.open_store()?;
            let entries = store.ledger_entries(ledger.as_deref()).map_err(AppError::from)?;
            std::thread::spawn(move || {
                let mut out = Batcher::new(tx);
                for e in entries {
                    if !out.push(Ok(Item::Event(Box::new(MonitorEvent::from_entry(e)))), false) {
                        return;
                    }
                }
                out.finish();
            });
        }
        Input::Lines { reader, label, limits } => {
            std::thread::spawn(move || {
                let mut r =
                    LineReader::new(BufReader::with_capacity(1 << 16, reader), &label, limits);
                let mut out = Batcher::new(tx);
                let mut format = LineFormat::Unknown;
                loop {
                    let item = match r.next_line() {
                        Ok(None) => break,
                        Ok(Some(InputLine::Text(n, line))) => {
                            if matches!(format, LineFormat::Unknown) && !line.trim().is_empty() {
                                format = first_line(&label, n, &line);
                                if matches!(format, LineFormat::Csv(_)) {
                                    continue; // the header
                                }
                            }
                            match &format {
                                LineFormat::Csv(h) => Ok(Item::CsvLine(n, line, Arc::clone(h))),
                                _ => Ok(Item::Line(n, line)),
                            }
                        }
                        Ok(Some(InputLine::Rejected(rej))) => Ok(Item::Rejected(rej)),
                        Err(e) => Err(format!("{e}")),
                    };
                    let stop = item.is_err();
                    // Sent before a read that may wait for more input (no whole line
                    // buffered): the lines read so far are decided meanwhile.
                    if !out.push(item, stop || !r.has_buffered_line()) || stop {
                        return;
                    }
                }
                out.finish();
            });
        }
    }

    let batch = if mon.is_durable() { opts.batch } else { opts.batch.min(NO_STATE_BATCH) };
    let mut summary = StreamSummary::default();
    let mut held: Vec<Decision> = Vec::new();
    // When the group's first decision was made (None: the group is empty).
    let mut group_started: Option<Instant> = None;
    let mut rules_mtime = opts.reload_rules.as_deref().and_then(mtime);
    let mut last_check = Instant::now();
    // Decisions reach the sink only once their state is committed.
    let flush = |mon: &mut Monitor, held: &mut Vec<Decision>, sink: &mut S| {
        mon.commit().map_err(AppError::from)?;
        let group = std::mem::replace(held, Vec::with_capacity(held.len()));
        sink.committed(mon, group)?;
        Ok::<(), S::Error>(())
    };
    loop {
        let msgs = match rx.recv_timeout(opts.idle_commit) {
            Ok(m) => m,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                flush(mon, &mut held, sink)?;
                group_started = None;
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        for msg in msgs {
            if let Some(rf) = &opts.reload_rules {
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
            let item = msg.map_err(|message| AppError::Input { input: label.clone(), message })?;
            let parsed = match item {
                Item::Event(e) => Ok(*e),
                // Too long, a field too long, or not UTF-8: rejected like any bad line.
                Item::Rejected(r) => Err(r),
                Item::Line(n, text) => {
                    if text.trim().is_empty() {
                        continue;
                    }
                    parse_event(&label, n, &text, mon.engine().assets(), Some(Timestamp::now()))
                }
                Item::CsvLine(n, text, header) => {
                    if text.trim().is_empty() {
                        continue;
                    }
                    let assets = mon.engine().assets();
                    parse_csv_event(&label, n, &text, &header, assets, Some(Timestamp::now()))
                }
            };
            let ev = match parsed {
                Ok(e) => e,
                Err(r) => {
                    summary.rejected += 1;
                    sink.rejected(&r)?;
                    continue;
                }
            };
            match mon.process(&ev).map_err(AppError::from)? {
                Processed::Decided(d) => {
                    summary.decided += 1;
                    held.push(*d);
                    group_started.get_or_insert_with(Instant::now);
                }
                Processed::Duplicate => summary.duplicates_skipped += 1,
            }
            if held.len() >= batch {
                flush(mon, &mut held, sink)?;
                group_started = None;
            }
        }
        // Checked per message (up to 256 input lines), not per line.
        if group_started.is_some_and(|t| t.elapsed() >= opts.max_group_wait) {
            flush(mon, &mut held, sink)?;
            group_started = None;
        }
    }
    flush(mon, &mut held, sink)?;
    summary.total_decided_in_state = mon.committed();
    Ok(summary)
}
