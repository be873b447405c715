//! `floodgate ingest`: chain data and ledgers into the transfer store.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use clap::ValueEnum;
use floodgate_ingest::bitcoin::{BitcoinOptions, PrevoutMap};
use floodgate_ingest::{ethereum, ledger, tron, BlockSink, FileSummary, NetworkId, SinkError};
use floodgate_store::{ApplyOutcome, Store};
use floodgate_types::{BtcNetwork, Chain, ChainBlock};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::config::Context;
use crate::output::{self, Format, Tabular};

/// What to ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Source {
    /// Raw blocks, blk*.dat files, or `getblock <hash> 2` JSON
    Bitcoin,
    /// eth_getBlockByNumber, receipts, logs, trace_block, debug_traceBlockByNumber, ETL/GraphSense JSON lines
    Ethereum,
    /// GraphSense JSON lines (transactions, logs, traces, blocks)
    Tron,
    /// Exchange ledger CSV or JSON Lines (docs/formats/ledger.md)
    Ledger,
}

/// Bitcoin network of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Network {
    /// Mainnet
    Mainnet,
    /// Testnet or signet
    Testnet,
    /// Regtest
    Regtest,
}

/// Ingest chain data or exchange ledgers. Formats are detected from content; directories are
/// read file by file in name order. Re-ingesting the same input adds nothing; an interrupted
/// ingest is completed by running the same command again.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  floodgate ingest bitcoin ~/.bitcoin/blocks/blk00000.dat
  floodgate ingest bitcoin block.raw --prevouts prevouts.csv
  floodgate ingest ethereum block.json receipts.json traces.json
  floodgate ingest tron graphsense-block-50000011/
  floodgate ingest ledger deposits.csv --ledger exchange-a
  floodgate ingest bitcoin --rollback-to 800000      undo blocks above a height")]
pub(crate) struct Args {
    /// What the files hold
    source: Source,
    /// Files or directories to read
    paths: Vec<PathBuf>,
    /// Bitcoin: CSV of spent outputs (txid,vout,height,is_coinbase,value_sats,script_pubkey_hex) to resolve inputs
    #[arg(long, value_name = "FILE")]
    prevouts: Option<PathBuf>,
    /// Bitcoin: height of a single raw block that predates BIP34 (no height in its coinbase)
    #[arg(long, value_name = "HEIGHT")]
    pub(crate) height: Option<u64>,
    /// Bitcoin: network of the addresses
    #[arg(long, value_enum, default_value_t = Network::Mainnet)]
    network: Network,
    /// Ledger: name to store entries under (entry ids are unique per ledger) [default: main]
    #[arg(long, value_name = "NAME")]
    ledger: Option<String>,
    /// Undo every stored block above HEIGHT before ingesting (a chain reorganisation)
    #[arg(long, value_name = "HEIGHT")]
    rollback_to: Option<u64>,
    /// Deepest reorganisation a new block may unwind; deeper ones are refused and need
    /// --rollback-to [default: 100, or max_unwind in the config file]
    #[arg(long, value_name = "BLOCKS", env = "FLOODGATE_MAX_UNWIND")]
    max_unwind: Option<u64>,
    /// Drop the store's address and height indexes during the load and rebuild them at the
    /// end (sorted): faster for large loads, slower queries meanwhile. On by itself when the
    /// input is 64 MiB or more
    #[arg(long)]
    bulk: bool,
    /// Summary format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Totals over one ingest run, for the summary.
#[derive(Debug, Default, Serialize)]
struct Totals {
    files: Vec<FileLine>,
    new_transactions: u64,
    new_transfers: u64,
    new_ledger_entries: u64,
    already_stored: u64,
    inputs_resolved_from_store: u64,
    inputs_unresolved: u64,
    reorgs: Vec<String>,
    /// Checks the input did not allow, per check: blocks and the first reason (issue 9 item 2).
    unverified: std::collections::BTreeMap<&'static str, Unverified>,
    seconds: f64,
}

#[derive(Debug, Serialize)]
struct Unverified {
    blocks: u64,
    reason: String,
}

#[derive(Debug, Serialize)]
struct FileLine {
    file: String,
    format: String,
    blocks: u64,
    transactions: u64,
    transfers: u64,
    bytes: u64,
}

impl Tabular for FileLine {
    fn headers() -> Vec<&'static str> {
        vec!["file", "format", "blocks", "transactions", "transfers", "bytes"]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.file.clone(),
            self.format.clone(),
            self.blocks.to_string(),
            self.transactions.to_string(),
            self.transfers.to_string(),
            self.bytes.to_string(),
        ]
    }
}

impl Totals {
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

/// Expands directories into their files, in name order.
pub(crate) fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).with_context(|| format!("{}", p.display()))?;
        if meta.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("{}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file())
                .filter(|f| {
                    let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    // Not data: the XOR key (read beside blk files), docs and hidden files.
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
const GROUP_AGE: std::time::Duration = std::time::Duration::from_millis(250);

/// Feeds blocks to the store in groups, one transaction per group (ADR 0002), counting and
/// moving the progress bar as each group is committed.
struct StoreSink<'a> {
    store: &'a mut Store,
    totals: &'a mut Totals,
    progress: &'a ProgressBar,
    base: u64,
    delay: Option<std::time::Duration>,
    group: Vec<ChainBlock>,
    records: usize,
    started: Instant,
    bytes_done: u64,
}

impl StoreSink<'_> {
    /// Commits the blocks held so far.
    fn flush(&mut self) -> Result<(), SinkError> {
        if self.group.is_empty() {
            return Ok(());
        }
        let outcomes = self.store.apply_blocks(&self.group)?;
        for o in &outcomes {
            self.totals.add(o);
        }
        self.group.clear();
        self.records = 0;
        self.progress.set_position(self.base + self.bytes_done);
        Ok(())
    }
}

impl BlockSink for StoreSink<'_> {
    fn block(&mut self, block: ChainBlock, bytes_done: u64) -> Result<(), SinkError> {
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

    fn network(&mut self, id: &NetworkId) -> Result<(), SinkError> {
        self.flush()?;
        self.store.bind_network(id.chain, &id.name, id.genesis)?;
        Ok(())
    }
}

pub(crate) fn run(args: Args, ctx: &Context, quiet: bool) -> Result<ExitCode> {
    let started = Instant::now();
    let mut store = Store::open(&ctx.data_dir)?;
    store.set_max_unwind(args.max_unwind.unwrap_or(ctx.max_unwind));
    let mut totals = Totals::default();
    if let Some(h) = args.rollback_to {
        let chain =
            chain_of(args.source).context("--rollback-to applies to a chain, not a ledger")?;
        let u = store.rollback_to(chain, h)?;
        totals.reorgs.push(format!("{}: {} ({} blocks removed)", u.chain, u.reason, u.blocks));
    } else if args.paths.is_empty() {
        bail!("nothing to ingest: give one or more files or directories (or --rollback-to HEIGHT)");
    }
    let files = expand(&args.paths)?;
    let total_bytes: u64 =
        files.iter().map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0)).sum();
    let bulk = args.source != Source::Ledger && (args.bulk || total_bytes >= BULK_BYTES);
    if bulk {
        tracing::info!(target: "floodgate::cli::ingest", total_bytes, "bulk load: indexes rebuilt at the end");
        store.suspend_indexes()?;
    }
    let result = ingest_files(&args, ctx, &mut store, &mut totals, &files, total_bytes, quiet);
    if bulk {
        // Also after a failure: the blocks stored so far must be findable by address.
        store.restore_indexes()?;
    }
    result?;
    if args.source == Source::Bitcoin {
        totals.inputs_unresolved = store.unresolved_inputs(Chain::Bitcoin)?;
    }
    totals.seconds = started.elapsed().as_secs_f64();
    report(&totals, args.format, &ctx.data_dir)?;
    Ok(ExitCode::SUCCESS)
}

/// Input size from which `ingest` loads in bulk without being asked (`--bulk`).
const BULK_BYTES: u64 = 64 << 20;

fn ingest_files(
    args: &Args,
    ctx: &Context,
    store: &mut Store,
    totals: &mut Totals,
    files: &[PathBuf],
    total_bytes: u64,
    quiet: bool,
) -> Result<()> {
    let progress = if quiet || files.is_empty() {
        ProgressBar::hidden()
    } else {
        let pb = ProgressBar::new(total_bytes);
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta}) {msg}",
            )
            .expect("the template is valid")
            .progress_chars("=> "),
        );
        pb
    };
    let btc_opts = if args.source == Source::Bitcoin {
        let prevouts = match &args.prevouts {
            Some(p) => Some(PrevoutMap::load_csv(p)?),
            None => None,
        };
        BitcoinOptions {
            network: match args.network {
                Network::Mainnet => BtcNetwork::Mainnet,
                Network::Testnet => BtcNetwork::Testnet,
                Network::Regtest => BtcNetwork::Regtest,
            },
            prevouts,
            height_hint: args.height,
        }
    } else {
        BitcoinOptions::default()
    };
    // Test hook: slows ingestion down per block so the crash test can kill it mid-stream.
    let delay = std::env::var("FLOODGATE_TEST_BLOCK_DELAY_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(std::time::Duration::from_millis);
    let ledger_name = args.ledger.clone().unwrap_or_else(|| ctx.ledger.clone());

    // Ethereum blocks, receipts and traces are read as one input, so that a receipt with
    // status 0 or a reverted root call removes the value its block claims the transaction moved.
    // Tron's GraphSense logs carry no time: they are read with the transactions beside them.
    let groups: Vec<Vec<PathBuf>> =
        if matches!(args.source, Source::Ethereum | Source::Tron) && !files.is_empty() {
            vec![files.to_vec()]
        } else {
            files.iter().map(|f| vec![f.clone()]).collect()
        };
    for group in &groups {
        let file = &group[0];
        progress.set_message(
            file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        );
        let base = progress.position();
        let summary: FileSummary = match args.source {
            Source::Ledger => {
                let entries = ledger::read_ledger_path(file, &ctx.assets)?;
                let out = store.apply_ledger(&ledger_name, &entries)?;
                totals.new_ledger_entries += out.inserted;
                totals.already_stored += out.already_stored;
                let bytes = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
                progress.set_position(base + bytes);
                FileSummary {
                    format: "ledger",
                    transfers: entries.len() as u64,
                    bytes,
                    ..Default::default()
                }
            }
            chain_source => {
                let mut sink = StoreSink {
                    store: &mut *store,
                    totals: &mut *totals,
                    progress: &progress,
                    base,
                    delay,
                    group: Vec::new(),
                    records: 0,
                    started: Instant::now(),
                    bytes_done: 0,
                };
                let read = match chain_source {
                    Source::Bitcoin => {
                        floodgate_ingest::bitcoin::read_path(file, &btc_opts, &mut sink)
                    }
                    Source::Ethereum => ethereum::read_paths(group, &ctx.assets, &mut sink),
                    _ => tron::read_paths(group, &ctx.assets, &mut sink),
                };
                // The blocks before a bad one are good: they are stored, as they were when
                // each block was its own transaction.
                let flushed = sink.flush();
                let summary = read?;
                flushed.map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                summary
            }
        };
        tracing::info!(target: "floodgate::cli::ingest", file = %file.display(), format = summary.format, blocks = summary.blocks, "file done");
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
    progress.finish_and_clear();
    Ok(())
}

impl Args {
    /// Arguments for ingesting `paths` with defaults for everything else (used by `demo`).
    pub(crate) fn for_paths(source: Source, paths: Vec<PathBuf>) -> Args {
        Args {
            source,
            paths,
            prevouts: None,
            height: None,
            network: Network::Mainnet,
            ledger: None,
            rollback_to: None,
            max_unwind: None,
            bulk: false,
            format: Format::Table,
        }
    }
}

fn chain_of(s: Source) -> Option<Chain> {
    match s {
        Source::Bitcoin => Some(Chain::Bitcoin),
        Source::Ethereum => Some(Chain::Ethereum),
        Source::Tron => Some(Chain::Tron),
        Source::Ledger => None,
    }
}

fn report(t: &Totals, format: Format, data_dir: &Path) -> Result<()> {
    match format {
        Format::Table => {
            if !t.files.is_empty() {
                output::write_rows(Format::Table, &t.files)?;
            }
            let mut s = format!(
                "\nstored in {}: {} new transactions, {} new transfers, {} new ledger entries; {} records were already stored\n",
                data_dir.display(),
                t.new_transactions,
                t.new_transfers,
                t.new_ledger_entries,
                t.already_stored
            );
            if t.inputs_resolved_from_store > 0 || t.inputs_unresolved > 0 {
                s.push_str(&format!(
                    "bitcoin inputs: {} resolved from stored outputs, {} still unresolved (their funding blocks are not in the store)\n",
                    t.inputs_resolved_from_store, t.inputs_unresolved
                ));
            }
            for r in &t.reorgs {
                s.push_str(&format!("rollback: {r}\n"));
            }
            for (check, u) in &t.unverified {
                let blocks = if u.blocks == 1 { "block" } else { "blocks" };
                s.push_str(&format!(
                    "unverified: {} {blocks} without the {check} check ({}); stored all the same\n",
                    u.blocks, u.reason
                ));
            }
            s.push_str(&format!("took {:.2} s\n", t.seconds));
            output::write_text(&s)
        }
        Format::Csv => output::write_rows(Format::Csv, &t.files),
        Format::Json | Format::Jsonl => output::write_json(t),
    }
}
