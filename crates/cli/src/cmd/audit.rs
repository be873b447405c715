//! `floodgate audit verify`: recompute the audit log's hash chain.

use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

use crate::cmd::cases::StoreArgs;
use crate::config::Context;
use crate::output::{self, Format, Tabular};

/// The tamper-evident audit log of alerts, cases and reports.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, clap::Subcommand)]
enum Cmd {
    /// Recompute the tenant's hash chain and name the first altered, inserted or deleted entry
    #[command(
        after_help = "Exit codes: 0 the chain is intact, 1 it is broken (the first problem is named), 2 error.

Example:
  floodgate audit verify --tenant vasp-a --format json"
    )]
    Verify {
        #[command(flatten)]
        store: StoreArgs,
        /// Output format
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Debug, Serialize)]
struct Row {
    tenant: String,
    entries: u64,
    head_seq: i64,
    head_hash: String,
    intact: bool,
    first_problem: Option<floodgate_cases::audit::Tamper>,
    message: String,
}

impl Tabular for Row {
    fn headers() -> Vec<&'static str> {
        vec!["tenant", "entries", "head_seq", "intact", "problem"]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.tenant.clone(),
            self.entries.to_string(),
            self.head_seq.to_string(),
            self.intact.to_string(),
            self.message.clone(),
        ]
    }
}

pub(crate) fn run(args: Args, ctx: &Context) -> Result<ExitCode> {
    let Cmd::Verify { store, format } = args.cmd;
    let mut s = store.open(ctx)?;
    let actor = store.actor(ctx, s.as_mut())?;
    let v = s.verify_audit(&actor)?;
    let row = Row {
        tenant: v.tenant.clone(),
        entries: v.entries,
        head_seq: v.head_seq,
        head_hash: v.head_hash.clone(),
        intact: v.is_intact(),
        message: v.first_problem.as_ref().map(ToString::to_string).unwrap_or_default(),
        first_problem: v.first_problem.clone(),
    };
    match format {
        Format::Json => output::write_json(&row)?,
        f => output::write_rows(f, &[row])?,
    }
    Ok(if v.is_intact() { ExitCode::SUCCESS } else { ExitCode::from(crate::cmd::EXIT_HIT) })
}
