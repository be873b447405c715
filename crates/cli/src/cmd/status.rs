//! `floodgate status`: what the store holds.

use std::process::ExitCode;

use anyhow::Result;
use floodgate_store::{ChainStats, TransferStore};

use crate::config::Context;
use crate::output::{self, Format, Tabular};

/// Show per-chain counts (blocks, height range, transactions, transfers, unresolved inputs)
/// and the number of ledger entries.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

impl Args {
    /// Table output (used by `demo`).
    pub(crate) fn table() -> Args {
        Args { format: Format::Table }
    }
}

impl Tabular for ChainStats {
    fn headers() -> Vec<&'static str> {
        vec!["chain", "blocks", "heights", "outputs", "inputs", "unresolved_inputs", "transfers"]
    }
    fn cells(&self) -> Vec<String> {
        let heights = match (self.min_height, self.max_height) {
            (Some(a), Some(b)) => format!("{a}-{b}"),
            _ => String::new(),
        };
        vec![
            self.chain.clone(),
            self.blocks.to_string(),
            heights,
            self.outputs.to_string(),
            self.inputs.to_string(),
            self.unresolved_inputs.to_string(),
            self.transfers.to_string(),
        ]
    }
}

pub(crate) fn run(args: Args, ctx: &Context) -> Result<ExitCode> {
    let dd = ctx.dir();
    let stats = dd.create_store()?.stats()?;
    match args.format {
        Format::Json | Format::Jsonl => output::write_json(&stats)?,
        f => {
            output::write_rows(f, &stats.chains)?;
            if f == Format::Table {
                output::write_text(&format!(
                    "\nledger entries: {}\njournal entries: {}\nstore: {}\n",
                    stats.ledger_entries,
                    stats.journal_entries,
                    dd.store_path().display()
                ))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
