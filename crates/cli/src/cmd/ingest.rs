//! `floodgate ingest`: chain data and ledgers into the transfer store.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::ValueEnum;
use floodgate_app::ingest::{self as svc, FileLine, IngestRequest, IngestResult};
use floodgate_app::DataDir;
use floodgate_ingest::READERS;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Context;
use crate::output::{self, Format, Tabular};

/// The sources of the bundled sample (`floodgate demo`), by reader name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The `bitcoin` reader.
    Bitcoin,
    /// The `ethereum` reader.
    Ethereum,
    /// The `tron` reader.
    Tron,
    /// The `ledger` reader.
    Ledger,
}

impl Source {
    /// The reader's registered name.
    fn name(self) -> &'static str {
        match self {
            Source::Bitcoin => "bitcoin",
            Source::Ethereum => "ethereum",
            Source::Tron => "tron",
            Source::Ledger => "ledger",
        }
    }
}

/// The accepted source names: `auto` and every registered reader, with its help line.
fn sources() -> PossibleValuesParser {
    let auto = PossibleValue::new(svc::AUTO)
        .help("Tell each file's reader from its content (the readers below, in order)");
    PossibleValuesParser::new(
        std::iter::once(auto)
            .chain(READERS.iter().map(|r| PossibleValue::new(r.name()).help(r.about()))),
    )
}

/// Network of the input (Bitcoin or Tron; Ethereum inputs name their own chain id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Network {
    /// Bitcoin or Tron mainnet
    Mainnet,
    /// Bitcoin testnet or signet
    Testnet,
    /// Bitcoin regtest
    Regtest,
    /// Tron's Nile testnet
    Nile,
    /// Tron's Shasta testnet
    Shasta,
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
  floodgate ingest tron --network nile nile-rows/
  floodgate ingest ledger deposits.csv --ledger exchange-a
  floodgate ingest bitcoin --rollback-to 800000      undo blocks above a height")]
pub(crate) struct Args {
    /// What the files hold: a reader's name, or auto
    #[arg(value_parser = sources())]
    source: String,
    /// Files or directories to read
    paths: Vec<PathBuf>,
    /// Bitcoin: CSV of spent outputs (txid,vout,height,is_coinbase,value_sats,script_pubkey_hex) to resolve inputs
    #[arg(long, value_name = "FILE")]
    prevouts: Option<PathBuf>,
    /// Bitcoin: height of a single raw block that predates BIP34 (no height in its coinbase)
    #[arg(long, value_name = "HEIGHT")]
    pub(crate) height: Option<u64>,
    /// Bitcoin: network of the addresses. Tron: network of the rows, which do not say it
    /// (checked against its genesis block, known blocks and block times where the input allows).
    /// A world from `floodgate gen` names its own network, floodgate-gen: give no --network
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
    /// input is 64 MiB or more and the store's file at most 8 times as large (the rebuild
    /// sorts every stored row again)
    #[arg(long)]
    bulk: bool,
    /// Summary format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
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

/// The ingest progress bar (bytes).
struct BytesBar(ProgressBar);

impl floodgate_app::Progress for BytesBar {
    fn start(&self, total: u64) {
        if total == 0 {
            self.0.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        self.0.set_length(total);
    }
    fn set_position(&self, done: u64) {
        self.0.set_position(done);
    }
    fn message(&self, what: &str) {
        self.0.set_message(what.to_owned());
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

pub(crate) fn run(args: Args, ctx: &Context, quiet: bool) -> Result<ExitCode> {
    let req = IngestRequest {
        source: args.source,
        paths: args.paths,
        prevouts: args.prevouts,
        height: args.height,
        network: match args.network {
            Network::Mainnet => svc::Network::Mainnet,
            Network::Testnet => svc::Network::Testnet,
            Network::Regtest => svc::Network::Regtest,
            Network::Nile => svc::Network::Nile,
            Network::Shasta => svc::Network::Shasta,
        },
        ledger: args.ledger.unwrap_or_else(|| ctx.ledger.clone()),
        rollback_to: args.rollback_to,
        max_unwind: args.max_unwind.unwrap_or(ctx.max_unwind),
        bulk: args.bulk,
        // Test hook: slows ingestion down per block so the crash test can kill it mid-stream.
        block_delay: std::env::var("FLOODGATE_TEST_BLOCK_DELAY_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map(std::time::Duration::from_millis),
    };
    let progress = BytesBar(if quiet {
        ProgressBar::hidden()
    } else {
        let pb = ProgressBar::new(0);
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta}) {msg}",
            )
            .expect("the template is valid")
            .progress_chars("=> "),
        );
        pb
    });
    let totals = svc::ingest(&DataDir::new(&ctx.data_dir), &ctx.assets, &req, &progress)?;
    report(&totals, args.format, &ctx.data_dir)?;
    Ok(ExitCode::SUCCESS)
}

impl Args {
    /// Arguments for ingesting `paths` with defaults for everything else (used by `demo`).
    pub(crate) fn for_paths(source: Source, paths: Vec<PathBuf>) -> Args {
        Args {
            source: source.name().to_owned(),
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

fn report(t: &IngestResult, format: Format, data_dir: &Path) -> Result<()> {
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
            if t.bulk {
                s.push_str(
                    "bulk load: the store's indexes dropped for the load, rebuilt at its end\n",
                );
            }
            s.push_str(&format!("took {:.2} s\n", t.seconds));
            output::write_text(&s)
        }
        Format::Csv => output::write_rows(Format::Csv, &t.files),
        Format::Json | Format::Jsonl => output::write_json(t),
    }
}
