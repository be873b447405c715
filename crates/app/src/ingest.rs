//! The ingest service: chain data and exchange ledgers into the transfer store, through the
//! reader registry of `floodgate-ingest` ([`floodgate_ingest::READERS`]). Blocks are
//! committed in groups (ADR 0002); re-ingesting the same input adds nothing, and an
//! interrupted ingest is completed by running it again.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use floodgate_ingest::bitcoin::{BitcoinOptions, PrevoutMap};
use floodgate_ingest::readers::{self, ReadOptions, Reader};
use floodgate_ingest::tron::TronNetwork;
use floodgate_ingest::{BlockSink, FileSummary, NetworkId, SinkError};
use floodgate_store::{ApplyOutcome, TransferStore};
use floodgate_types::{AssetRegistry, BtcNetwork, Chain, ChainBlock, LedgerEntry};
use serde::{Deserialize, Serialize};

use crate::{AppError, DataDir, Progress, Result};

/// The source name that tells each file's reader from its content.
pub const AUTO: &str = "auto";

/// The network of the input: Bitcoin's (mainnet, testnet, regtest) or Tron's (mainnet, nile,
/// shasta). Ethereum inputs name their own (the chain id their transactions are signed for).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// Mainnet (Bitcoin or Tron).
    #[default]
    Mainnet,
    /// Bitcoin testnet or signet.
    Testnet,
    /// Bitcoin regtest.
    Regtest,
    /// Tron's Nile testnet.
    Nile,
    /// Tron's Shasta testnet.
    Shasta,
}

impl Network {
    /// The Bitcoin network this names.
    ///
    /// # Errors
    /// [`AppError::Invalid`] for a Tron testnet.
    pub fn bitcoin(self) -> Result<BtcNetwork> {
        match self {
            Network::Mainnet => Ok(BtcNetwork::Mainnet),
            Network::Testnet => Ok(BtcNetwork::Testnet),
            Network::Regtest => Ok(BtcNetwork::Regtest),
            Network::Nile | Network::Shasta => {
                Err(self.wrong("Bitcoin", "mainnet, testnet or regtest"))
            }
        }
    }

    /// The Tron network this names.
    ///
    /// # Errors
    /// [`AppError::Invalid`] for a Bitcoin test network.
    pub fn tron(self) -> Result<TronNetwork> {
        match self {
            Network::Mainnet => Ok(TronNetwork::Mainnet),
            Network::Nile => Ok(TronNetwork::Nile),
            Network::Shasta => Ok(TronNetwork::Shasta),
            Network::Testnet | Network::Regtest => {
                Err(self.wrong("Tron", "mainnet, nile or shasta"))
            }
        }
    }

    fn name(self) -> &'static str {
        match self {
            Network::Mainnet => "mainnet",
            Network::Testnet => "testnet",
            Network::Regtest => "regtest",
            Network::Nile => "nile",
            Network::Shasta => "shasta",
        }
    }

    fn wrong(self, chain: &str, known: &str) -> AppError {
        AppError::Invalid {
            field: "network".to_owned(),
            message: format!(
                "--network {} is not a {chain} network ({chain} networks: {known}); nothing was \
                 ingested",
                self.name()
            ),
        }
    }
}

/// What to ingest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestRequest {
    /// A registered reader's name (`bitcoin`, `ethereum`, `tron`, `ledger`, …) or `auto`.
    pub source: String,
    /// Files or directories (a directory is read file by file in name order).
    #[serde(default)]
    pub paths: Vec<PathBuf>,
    /// Bitcoin: CSV of spent outputs to resolve inputs with.
    #[serde(default)]
    pub prevouts: Option<PathBuf>,
    /// Bitcoin: the height of a single raw block that predates BIP34.
    #[serde(default)]
    pub height: Option<u64>,
    /// Bitcoin: the network of the addresses; Tron: the network the rows are of.
    #[serde(default)]
    pub network: Network,
    /// Ledgers: the name entries are stored under.
    pub ledger: String,
    /// Undo every stored block above this height before ingesting.
    #[serde(default)]
    pub rollback_to: Option<u64>,
    /// The deepest reorganisation a new block may unwind.
    pub max_unwind: u64,
    /// Rebuild the store's indexes at the end (on by itself from 64 MiB of input).
    #[serde(default)]
    pub bulk: bool,
    /// Test hook: a pause after each block, so a crash test can kill the process mid-stream.
    #[serde(skip)]
    pub block_delay: Option<Duration>,
}

impl IngestRequest {
    /// Ingest `paths` as `source` with defaults for everything else.
    pub fn new(source: impl Into<String>, paths: Vec<PathBuf>, ledger: impl Into<String>) -> Self {
        IngestRequest {
            source: source.into(),
            paths,
            prevouts: None,
            height: None,
            network: Network::Mainnet,
            ledger: ledger.into(),
            rollback_to: None,
            max_unwind: floodgate_store::DEFAULT_MAX_UNWIND,
            bulk: false,
            block_delay: None,
        }
    }
}

/// Checks with no input to check, per check: the blocks and the first reason.
#[derive(Debug, Clone, Serialize)]
pub struct Unverified {
    /// Blocks stored without the check.
    pub blocks: u64,
    /// Why (the first block's reason).
    pub reason: String,
}

/// One input (a file, or the files read as one input) in the summary.
#[derive(Debug, Clone, Serialize)]
pub struct FileLine {
    /// The file (`first and N more` for several read as one).
    pub file: String,
    /// The format detected.
    pub format: String,
    /// Blocks read.
    pub blocks: u64,
    /// UTXO transactions read.
    pub transactions: u64,
    /// Account-chain transfers (or ledger entries) read.
    pub transfers: u64,
    /// Bytes read.
    pub bytes: u64,
}

/// What an ingest run did (`floodgate ingest --format json`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestResult {
    /// Each input read.
    pub files: Vec<FileLine>,
    /// Transactions stored that were not stored before.
    pub new_transactions: u64,
    /// Transfers stored that were not stored before.
    pub new_transfers: u64,
    /// Ledger entries stored that were not stored before.
    pub new_ledger_entries: u64,
    /// Records read that were stored already.
    pub already_stored: u64,
    /// Bitcoin inputs resolved from outputs stored earlier.
    pub inputs_resolved_from_store: u64,
    /// Bitcoin inputs whose funding outputs are not in the store.
    pub inputs_unresolved: u64,
    /// Rollbacks and reorganisations: `chain: reason (N blocks removed)`.
    pub reorgs: Vec<String>,
    /// Checks the input did not allow, per check: blocks and the first reason.
    pub unverified: BTreeMap<&'static str, Unverified>,
    /// The store's indexes were dropped for the load and rebuilt at its end (`--bulk`, or
    /// an input of [`BULK_BYTES`] or more into a store at most 8 times as large).
    pub bulk: bool,
    /// Wall-clock time.
    pub seconds: f64,
}

impl IngestResult {
    fn add(&mut self, o: &ApplyOutcome) {
        self.new_transactions += o.new_transactions;
        self.new_transfers += o.new_transfers;
        self.already_stored += o.already_stored;
        self.inputs_resolved_from_store += o.inputs_resolved_from_store;
        if let Some(u) = &o.unwound {
            self.reorgs.push(format!("{}: {} ({} blocks removed)", u.chain, u.reason, u.blocks));
        }
    }
}

/// Expands directories into their files, in name order (leaving out the XOR key read beside
/// `blk*.dat` files, docs and hidden files).
///
/// # Errors
/// [`AppError::Io`] naming a path that cannot be read.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(AppError::io("", p))?;
        if meta.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(AppError::io("", p))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file())
                .filter(|f| {
                    let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    !(name.starts_with('.') || name == "xor.dat" || name.ends_with(".md"))
                })
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// A group of blocks is committed once it holds this many transactions and transfers…
const GROUP_RECORDS: usize = 50_000;
/// …or once it is this old, so a long run shows steady progress and a crash loses little work
/// (which the rerun redoes: the store is idempotent).
const GROUP_AGE: Duration = Duration::from_millis(250);

/// Input size from which ingest loads in bulk without being asked (into a store at most
/// [`BULK_STORE_RATIO`] times as large).
pub const BULK_BYTES: u64 = 64 << 20;

/// Whether a load of `input` bytes into a store of `stored` bytes drops the indexes and
/// rebuilds them at its end: when `asked`, or when the input is [`BULK_BYTES`] or more and the
/// store at most [`BULK_STORE_RATIO`] times the input. The rebuild re-sorts every stored row,
/// so a loop of one command per file of a large export re-sorted the whole store once per
/// file (at 50M generated transfers the 25th Ethereum file of 35 took 5x the first); rows
/// inserted into the indexes as they come cost per row, whatever is stored.
fn bulk_load(asked: bool, input: u64, stored: u64) -> bool {
    asked || (input >= BULK_BYTES && input.saturating_mul(BULK_STORE_RATIO) >= stored)
}

/// A bulk load is chosen while the store is at most this many times its input's bytes. At
/// 50M generated transfers (3.9 GB store, 134 MB Ethereum files of 214,000 transfers) the
/// rebuild cost about 7 µs per stored row and inserting into the indexes as rows come about
/// 120 µs per new row, about 17 times as much: 8 keeps the bulk load where it is the faster.
const BULK_STORE_RATIO: u64 = 8;

/// What a store job gives back to the sink.
enum Reply {
    /// A group's outcomes, how far into the file its last block was, and the group itself,
    /// handed back to be freed on the reader's thread: glibc frees another thread's
    /// allocations more slowly (into that thread's arena, under its lock), and the reader
    /// allocates from the memory it gets back.
    Blocks(Vec<ApplyOutcome>, u64, Vec<ChainBlock>),
    /// A ledger input's outcome, and the file's size.
    Ledger(floodgate_store::LedgerOutcome, u64),
    /// A network bound.
    Bound,
}

/// Feeds blocks to the store in groups, one transaction per group (ADR 0002), counting and
/// reporting progress as each group is committed. Groups are applied on the store's own
/// thread ([`floodgate_store::pipelined`]) while the reader decodes the next one; binding a
/// network and a ledger input wait for the store, so their errors stop the reader at once.
struct StoreSink<'a, 'p, S: TransferStore> {
    pipe: &'a mut floodgate_store::Pipeline<'p, S, Reply>,
    totals: &'a mut IngestResult,
    progress: &'a dyn Progress,
    base: u64,
    delay: Option<Duration>,
    group: Vec<ChainBlock>,
    records: usize,
    started: Instant,
    bytes_done: u64,
}

impl<S: TransferStore> StoreSink<'_, '_, S> {
    /// Hands the blocks held so far to the store thread.
    fn flush(&mut self) -> std::result::Result<(), SinkError> {
        if self.group.is_empty() {
            return Ok(());
        }
        let group = std::mem::take(&mut self.group);
        let done = self.bytes_done;
        self.records = 0;
        let sent = self.pipe.submit(move |s: &mut S| {
            let outs = s.apply_blocks(&group)?;
            Ok(Reply::Blocks(outs, done, group))
        });
        self.take_replies();
        Ok(sent?)
    }

    /// Waits for every job given so far.
    fn wait(&mut self) -> std::result::Result<(), floodgate_store::StoreError> {
        let r = self.pipe.wait();
        self.take_replies();
        r
    }

    /// Counts the replies of the jobs done.
    fn take_replies(&mut self) {
        for r in self.pipe.replies() {
            match r {
                Reply::Blocks(outs, done, mut spent) => {
                    for o in &outs {
                        self.totals.add(o);
                    }
                    self.progress.set_position(self.base + done);
                    // The blocks are freed here; the group's vector is kept for the next.
                    spent.clear();
                    if self.group.is_empty() && spent.capacity() > self.group.capacity() {
                        self.group = spent;
                    }
                }
                Reply::Ledger(out, bytes) => {
                    self.totals.new_ledger_entries += out.inserted;
                    self.totals.already_stored += out.already_stored;
                    self.progress.set_position(self.base + bytes);
                }
                Reply::Bound => {}
            }
        }
    }
}

impl<S: TransferStore> BlockSink for StoreSink<'_, '_, S> {
    fn block(&mut self, block: ChainBlock, bytes_done: u64) -> std::result::Result<(), SinkError> {
        if self.group.is_empty() {
            self.started = Instant::now();
        }
        self.records += block.utxo_txs.len() + block.transfers.len() + 1;
        self.group.push(block);
        self.bytes_done = bytes_done;
        if self.records >= GROUP_RECORDS || self.started.elapsed() >= GROUP_AGE {
            self.flush()?;
        }
        if let Some(d) = self.delay {
            std::thread::sleep(d);
        }
        Ok(())
    }

    fn network(&mut self, id: &NetworkId) -> std::result::Result<(), SinkError> {
        self.flush()?;
        let (chain, name, genesis) = (id.chain, id.name.clone(), id.genesis);
        self.pipe.submit(move |s: &mut S| {
            s.bind_network(chain, &name, genesis)?;
            Ok(Reply::Bound)
        })?;
        Ok(self.wait()?)
    }

    fn ledger(
        &mut self,
        ledger: &str,
        entries: Vec<LedgerEntry>,
        bytes: u64,
    ) -> std::result::Result<(), SinkError> {
        self.flush()?;
        let ledger = ledger.to_owned();
        self.pipe.submit(move |s: &mut S| {
            let out = s.apply_ledger(&ledger, &entries)?;
            Ok(Reply::Ledger(out, bytes))
        })?;
        Ok(self.wait()?)
    }
}

/// The reader a source name registers.
///
/// # Errors
/// [`AppError::Invalid`] for a name no reader registers.
pub fn reader(source: &str) -> Result<&'static dyn Reader> {
    readers::reader(source).ok_or_else(|| AppError::Invalid {
        field: "source".into(),
        message: format!(
            "unknown source '{source}' (expected {AUTO}, {})",
            readers::names().join(", ")
        ),
    })
}

/// The inputs of a run: each reader with the files it reads together.
fn plan(source: &str, files: &[PathBuf]) -> Result<Vec<(&'static dyn Reader, Vec<PathBuf>)>> {
    let mut by_reader: Vec<(&'static dyn Reader, Vec<PathBuf>)> = Vec::new();
    for f in files {
        let r = if source == AUTO { readers::sniff_file(f)? } else { reader(source)? };
        match by_reader.iter_mut().find(|(x, _)| x.name() == r.name()) {
            Some((_, fs)) => fs.push(f.clone()),
            None => by_reader.push((r, vec![f.clone()])),
        }
    }
    // Ethereum blocks, receipts and traces are read as one input, so that a receipt with
    // status 0 or a reverted root call removes the value its block claims the transaction
    // moved; Tron's GraphSense logs carry no time and are read with the transactions.
    Ok(by_reader
        .into_iter()
        .flat_map(|(r, fs)| {
            if r.one_input() {
                vec![(r, fs)]
            } else {
                fs.into_iter().map(|f| (r, vec![f])).collect()
            }
        })
        .collect())
}

/// Ingests files into the data directory's transfer store (created on the first ingest).
///
/// # Errors
/// [`AppError::Invalid`] for an unknown source, nothing to ingest, or a rollback on a ledger;
/// a reader's error naming the file and location (the blocks before it are stored); the store
/// refused a block (another network, a reorganisation deeper than `max_unwind`).
pub fn ingest(
    dir: &DataDir,
    assets: &AssetRegistry,
    req: &IngestRequest,
    progress: &dyn Progress,
) -> Result<IngestResult> {
    if req.source != AUTO {
        reader(&req.source)?;
    }
    let mut store = dir.create_store()?;
    ingest_into(&mut store, assets, req, progress)
}

/// Ingests files into `store` (any [`TransferStore`] backend), as [`ingest`] does for the
/// data directory's store.
///
/// # Errors
/// As [`ingest`].
pub fn ingest_into(
    store: &mut (impl TransferStore + Send),
    assets: &AssetRegistry,
    req: &IngestRequest,
    progress: &dyn Progress,
) -> Result<IngestResult> {
    let started = Instant::now();
    store.set_max_unwind(req.max_unwind);
    let mut totals = IngestResult::default();
    if let Some(h) = req.rollback_to {
        let chain = if req.source == AUTO { None } else { reader(&req.source)?.chain() };
        let Some(chain) = chain else {
            return Err(AppError::Invalid {
                field: "rollback_to".into(),
                message: "--rollback-to applies to a chain, not a ledger".into(),
            });
        };
        let u = store.rollback_to(chain, h)?;
        totals.reorgs.push(format!("{}: {} ({} blocks removed)", u.chain, u.reason, u.blocks));
    } else if req.paths.is_empty() {
        return Err(AppError::Invalid {
            field: "paths".into(),
            message: "nothing to ingest: give one or more files or directories (or \
                      --rollback-to HEIGHT)"
                .into(),
        });
    }
    let files = expand(&req.paths)?;
    let total_bytes: u64 =
        files.iter().map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0)).sum();
    let plan = plan(&req.source, &files)?;
    let chains = plan.iter().all(|(r, _)| r.chain().is_some());
    // The indexes a bulk load drops are on SQLite's transfer tables, which Bitcoin rows (in
    // chain segments) never touch: dropping and rebuilding them for Bitcoin input only cost
    // time (re-sorting every account-chain transfer already stored).
    let segments_only = plan.iter().all(|(r, _)| r.chain() == Some(Chain::Bitcoin));
    let bulk = chains && !segments_only && bulk_load(req.bulk, total_bytes, store.stored_bytes()?);
    totals.bulk = bulk;
    if bulk {
        tracing::info!(target: "floodgate::app::ingest", total_bytes, "bulk load: indexes rebuilt at the end");
        store.suspend_indexes()?;
    }
    let result = ingest_files(req, assets, store, &mut totals, &plan, total_bytes, progress);
    if bulk {
        // Also after a failure: the blocks stored so far must be findable by address.
        store.restore_indexes()?;
    }
    result?;
    // Bitcoin inputs whose funding outputs are still missing, for the readers involved.
    let involved: Vec<&'static dyn Reader> = if req.source == AUTO {
        plan.iter().map(|(r, _)| *r).collect()
    } else {
        vec![reader(&req.source)?]
    };
    let mut counted = Vec::new();
    for r in involved {
        if let (true, Some(c)) = (r.resolves_inputs(), r.chain()) {
            if !counted.contains(&c) {
                counted.push(c);
                totals.inputs_unresolved += store.unresolved_inputs(c)?;
            }
        }
    }
    totals.seconds = started.elapsed().as_secs_f64();
    Ok(totals)
}

fn ingest_files(
    req: &IngestRequest,
    assets: &AssetRegistry,
    store: &mut (impl TransferStore + Send),
    totals: &mut IngestResult,
    plan: &[(&'static dyn Reader, Vec<PathBuf>)],
    total_bytes: u64,
    progress: &dyn Progress,
) -> Result<()> {
    progress.start(if plan.is_empty() { 0 } else { total_bytes });
    let bitcoin = if plan.iter().any(|(r, _)| r.resolves_inputs()) {
        let prevouts = match &req.prevouts {
            Some(p) => Some(PrevoutMap::load_csv(p)?),
            None => None,
        };
        BitcoinOptions { network: req.network.bitcoin()?, prevouts, height_hint: req.height }
    } else {
        BitcoinOptions::default()
    };
    let tron = if plan.iter().any(|(r, _)| r.chain() == Some(Chain::Tron)) {
        req.network.tron()?
    } else {
        TronNetwork::default()
    };
    let opts = ReadOptions { assets, bitcoin: &bitcoin, ledger: &req.ledger, tron };
    let mut position = 0u64;
    for (reader, group) in plan {
        let Some(file) = group.first() else { continue };
        progress.message(
            &file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        );
        let (read, flushed) = floodgate_store::pipelined(&mut *store, |pipe| {
            let mut sink = StoreSink {
                pipe,
                totals: &mut *totals,
                progress,
                base: position,
                delay: req.block_delay,
                group: Vec::new(),
                records: 0,
                started: Instant::now(),
                bytes_done: 0,
            };
            let read = reader.read(group, &opts, &mut sink);
            // The blocks before a bad one are good: they are stored, as they were when each
            // block was its own transaction. After a store error the reader stopped, and
            // nothing after the failed group is stored.
            let flushed = sink.flush().map_err(|e| e.to_string()).and_then(|()| {
                sink.wait().map_err(|e| e.to_string())?;
                sink.pipe.finish().map(drop).map_err(|e| e.to_string())
            });
            (read, flushed)
        });
        let summary: FileSummary = read?;
        flushed.map_err(|message| AppError::Input { input: file.clone(), message })?;
        position += summary.bytes;
        tracing::info!(target: "floodgate::app::ingest", file = %file.display(), format = summary.format, blocks = summary.blocks, "file done");
        for u in &summary.unverified {
            totals
                .unverified
                .entry(u.check)
                .or_insert_with(|| Unverified { blocks: 0, reason: u.reason.clone() })
                .blocks += 1;
        }
        let name = match group.len() {
            1 => file.display().to_string(),
            n => format!("{} and {} more", file.display(), n - 1),
        };
        totals.files.push(FileLine {
            file: name,
            format: summary.format.to_owned(),
            blocks: summary.blocks,
            transactions: summary.transactions,
            transfers: summary.transfers,
            bytes: summary.bytes,
        });
    }
    progress.finish();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{bulk_load, BULK_BYTES};

    /// A large file into an empty store or one up to 8 times its size loads in bulk; the same
    /// file into a larger store does not (one command per file of a large export re-sorted
    /// the whole store each time); `--bulk` always does, a small input never by itself.
    #[test]
    fn a_bulk_load_is_chosen_while_the_store_is_at_most_8_times_the_input() {
        let file = 128 << 20;
        assert!(bulk_load(false, file, 0));
        assert!(bulk_load(false, file, 8 * file));
        assert!(!bulk_load(false, file, 8 * file + 1));
        assert!(!bulk_load(false, file, 30 * file));
        assert!(bulk_load(true, file, 10 * file));
        assert!(!bulk_load(false, BULK_BYTES - 1, 0));
        assert!(bulk_load(true, 1, 0));
    }
}
