//! Subcommands. Each module has an `Args` struct (clap derive) and a `run(args, &Context)`.

pub(crate) mod alerts;
pub(crate) mod audit;
pub(crate) mod cases;
pub(crate) mod demo;
pub(crate) mod gen;
pub(crate) mod ingest;
pub(crate) mod lists;
pub(crate) mod monitor;
pub(crate) mod report;
pub(crate) mod rules;
pub(crate) mod screen;
pub(crate) mod serve;
pub(crate) mod status;
pub(crate) mod trace;
pub(crate) mod transfers;
pub(crate) mod users;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::config::{Access, Context};

/// Exit code for any error: bad input, bad flags, store failure.
pub(crate) const EXIT_ERROR: u8 = 2;
/// Exit code of `floodgate screen` when something hit a list (as grep/rg exit 0/1/2).
pub(crate) const EXIT_HIT: u8 = 1;

const AFTER_HELP: &str = "\
Exit codes:
  0  success; for `floodgate screen`: no hit; for `floodgate audit verify`: chain intact
  1  a negative answer, like grep's: `screen` found at least one hit; `audit verify`: the
     chain is broken; `rules eval`: a typology missed its target or was not planted;
     `trace path`: no path within the hops; `trace tags ADDRESS`: no tag;
     `trace why`: the addresses are not one entity
  2  error (bad input, bad flags, store failure); the message names the file and line or field

Configuration, lowest to highest precedence: built-in defaults, the config file
(--config, $FLOODGATE_CONFIG, or ./floodgate.toml), FLOODGATE_* environment variables, flags.
See docs/config.md.

Quick start:
  floodgate demo                                   ingest the real sample, serve the workbench
  floodgate ingest bitcoin blk00000.dat            ingest Bitcoin Core block files
  floodgate transfers --address 12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S
  floodgate screen name \"Korea Mining Development Trading Corporation\"
  floodgate monitor ledger.csv --format table      decide on an exchange ledger's transfers
  floodgate trace build && floodgate trace exposure ADDRESS
  floodgate cases list";

/// floodgate: an anti-money-laundering engine for virtual-asset markets.
///
/// Screens names, companies and wallet addresses against sanctions and alert lists, traces
/// funds through Bitcoin, Ethereum and Tron, monitors an exchange's deposits and withdrawals,
/// and turns alerts into cases and reports, every result explained. Chain data and exchange
/// ledgers are kept in one local data directory.
#[derive(Debug, Parser)]
#[command(name = "floodgate", version, about, long_about, after_help = AFTER_HELP)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Flags every subcommand takes.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// Data directory holding the transfer store [default: ./floodgate-data]
    #[arg(long, global = true, env = "FLOODGATE_DATA", value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Config file [default: ./floodgate.toml when present]
    #[arg(long, global = true, env = "FLOODGATE_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Extra assets to register (TOML with [[asset]] entries; see docs/config.md)
    #[arg(long, global = true, env = "FLOODGATE_ASSETS", value_name = "FILE")]
    pub(crate) assets: Option<PathBuf>,
    /// More log output on stderr (-v info, -vv debug); FLOODGATE_LOG overrides
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Only errors on stderr; no progress bars
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Ingest chain data or exchange ledgers into the transfer store
    Ingest(ingest::Args),
    /// List stored transfers
    Transfers(transfers::Args),
    /// Show what the store holds, per chain
    Status(status::Args),
    /// Ingest the small real sample bundled with floodgate, then show what it holds
    Demo(demo::Args),
    /// Load and show sanctions, entity and alert lists for screening
    Lists(lists::Args),
    /// Screen names, companies and wallet addresses against the loaded lists, explained
    Screen(screen::Args),
    /// Decide on every transfer (KYT): allow, review, hold or block, with reasons
    Monitor(monitor::Args),
    /// Check monitoring rules files, show the built-in pack, measure detection quality
    Rules(rules::Args),
    /// Trace funds over the transaction graph: build it, exposure by risk category, paths
    Trace(trace::Args),
    /// Write a seeded synthetic world: chain data, ledgers, ground truth and a TagPack
    Gen(gen::Args),
    /// The alert queue: monitor decisions and screening hits, grouped into cases
    Alerts(alerts::Args),
    /// Work cases: assign, note, attach evidence, escalate, decide, approve, snooze, reopen
    Cases(cases::Args),
    /// Verify the hash-chained audit log
    Audit(audit::Args),
    /// Mandatory reports: due, overdue and filed; generate goAML, HTML, VN and IVMS101 files
    Report(report::Args),
    /// The tenant's users and their roles (who may act on cases)
    Users(users::Args),
    /// Serve the HTTP API (screening, KYT, cases, reports; OpenAPI at /openapi.json)
    Serve(serve::Args),
}

/// How the command in `m` uses the data directory: writers alone, readers together
/// (docs/config.md, "Data directory lock").
pub(crate) fn access(m: &clap::ArgMatches) -> Access {
    let Some((cmd, sub)) = m.subcommand() else { return Access::None };
    let leaf = sub.subcommand_name().unwrap_or("");
    match (cmd, leaf) {
        ("ingest" | "demo", _) => Access::Exclusive,
        ("lists", "load") => Access::Exclusive,
        // `screen address` and `screen batch` may register subjects in screening.db.
        ("screen", "address" | "batch") => Access::Exclusive,
        ("screen", "pairs") | ("rules" | "gen", _) => Access::None,
        ("monitor", _) if sub.get_flag("no_state") => Access::Shared,
        ("monitor", _) => Access::Exclusive,
        ("trace", "build") => Access::Exclusive,
        _ => Access::Shared,
    }
}

/// Runs the parsed command line, holding the data directory lock that `access` asks for.
pub(crate) fn run(cli: Cli, access: Access) -> Result<ExitCode> {
    let ctx = Context::load(&cli.global)?;
    let _lock = crate::config::lock_data_dir(&ctx.data_dir, access)?;
    let quiet = cli.global.quiet;
    match cli.command {
        Command::Ingest(a) => ingest::run(a, &ctx, quiet),
        Command::Transfers(a) => transfers::run(a, &ctx),
        Command::Status(a) => status::run(a, &ctx),
        Command::Demo(a) => demo::run(a, &ctx, quiet, _lock),
        Command::Lists(a) => lists::run(a, &ctx, quiet),
        Command::Screen(a) => screen::run(a, &ctx, quiet),
        Command::Monitor(a) => monitor::run(a, &ctx, quiet),
        Command::Rules(a) => rules::run(a, &ctx),
        Command::Trace(a) => trace::run(a, &ctx, quiet),
        Command::Gen(a) => gen::run(a, &ctx, quiet),
        Command::Alerts(a) => alerts::run(a, &ctx),
        Command::Cases(a) => cases::run(a, &ctx),
        Command::Audit(a) => audit::run(a, &ctx),
        Command::Report(a) => report::run(a, &ctx),
        Command::Users(a) => users::run(a, &ctx),
        Command::Serve(a) => serve::run(a, &ctx),
    }
}
