//! `floodgate gen`: write a seeded synthetic world (docs/gen.md).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result};
use floodgate_gen::write::{write_world, GenSummary, WriteOptions};
use floodgate_gen::{GenConfig, World};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::config::Context;
use crate::output::{self, Format, Tabular};

/// Write a synthetic, seeded and deterministic world of transfers: Bitcoin blocks, Ethereum
/// and Tron USDT transfers, exchange customer ledgers, the ground truth of who is who (exchanges,
/// mixers, CoinJoins, scams and their laundering flows) and a TagPack of what is publicly
/// known. `floodgate ingest` reads the files unchanged; DIR/README.txt says how.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  floodgate gen --transfers 20000 --seed 7 --out world/
  floodgate gen --transfers 50000000 --out big/ --format json

Same --transfers, --seed and knobs: byte-identical files (for a given floodgate version).
Exit codes: 0 written; 2 error (such as a non-empty DIR without --force).")]
pub(crate) struct Args {
    /// Number of legs to generate (Bitcoin inputs and outputs, account-chain transfers)
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    transfers: u64,
    /// Seed of the world
    #[arg(long, default_value_t = 1, value_name = "S")]
    seed: u64,
    /// Directory to write into (created; must be empty unless --force)
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Write into a non-empty directory: the data files of an earlier run are replaced, other
    /// files are left alone
    #[arg(long)]
    force: bool,
    /// Exchanges
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1000))]
    exchanges: u32,
    /// Custodial mixers
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=1000))]
    mixers: u32,
    /// Scam operations
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
    scams: u32,
    /// Users [default: transfers / 12, at least 200]
    #[arg(long, value_name = "N")]
    users: Option<u32>,
    /// Exchange customers [default: a tenth of the users, at least 20]
    #[arg(long, value_name = "N")]
    customers: Option<u32>,
    /// Summary format (table or json)
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Debug, Serialize)]
struct Report {
    out: String,
    #[serde(flatten)]
    summary: GenSummary,
    seconds: f64,
}

#[derive(Debug, Serialize)]
struct Line {
    what: &'static str,
    count: String,
}

impl Tabular for Line {
    fn headers() -> Vec<&'static str> {
        vec!["what", "count"]
    }
    fn cells(&self) -> Vec<String> {
        vec![self.what.to_owned(), self.count.clone()]
    }
}

pub(crate) fn run(args: Args, _ctx: &Context, quiet: bool) -> Result<ExitCode> {
    let started = Instant::now();
    let cfg = GenConfig {
        transfers: args.transfers,
        seed: args.seed,
        exchanges: args.exchanges,
        mixers: args.mixers,
        scams: args.scams,
        users: args.users.unwrap_or(0),
        customers: args.customers.unwrap_or(0),
        ..GenConfig::default()
    };
    let world = World::new(&cfg);
    let progress = if quiet {
        ProgressBar::hidden()
    } else {
        let pb = ProgressBar::new(args.transfers);
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} legs ({per_sec}, {eta})",
            )
            .expect("the template is valid")
            .progress_chars("=> "),
        );
        pb
    };
    let opts = WriteOptions { force: args.force, ..WriteOptions::default() };
    let summary = write_world(&world, &args.out, &opts, |legs| progress.set_position(legs))
        .with_context(|| format!("floodgate gen --out {}", args.out.display()))?;
    progress.finish_and_clear();
    tracing::info!(target: "floodgate::cli::gen", out = %args.out.display(), legs = summary.legs, "world written");
    let report = Report {
        out: args.out.display().to_string(),
        summary,
        seconds: started.elapsed().as_secs_f64(),
    };
    match args.format {
        Format::Json | Format::Jsonl => output::write_json(&report)?,
        f => {
            let s = &report.summary;
            let rows = [
                ("legs", s.legs),
                ("bitcoin legs", s.bitcoin_legs),
                ("bitcoin transactions", s.bitcoin_transactions),
                ("bitcoin blocks", s.bitcoin_blocks),
                ("ethereum USDT transfers", s.ethereum_transfers),
                ("tron USDT transfers", s.tron_transfers),
                ("addresses used", s.addresses_used),
                ("planted flows", s.flows),
                ("coinjoins", s.coinjoins),
                ("ledger entries", s.ledger_entries),
                ("entities", s.entities),
                ("tags", s.tags),
            ];
            let lines: Vec<Line> =
                rows.iter().map(|(w, c)| Line { what: w, count: c.to_string() }).collect();
            output::write_rows(f, &lines)?;
            if f == Format::Table {
                output::write_text(&format!(
                    "\nwrote {} in {:.2} s (seed {}); next: see {}/README.txt\n",
                    report.out, report.seconds, s.seed, report.out
                ))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
