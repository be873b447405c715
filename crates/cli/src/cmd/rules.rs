//! `floodgate rules`: check a rules file, show the built-in pack, measure detection quality.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use floodgate_monitor::engine::Engine;
use floodgate_monitor::fiat::RateTable;
use floodgate_monitor::pack::{Pack, VN_PACK};
use floodgate_monitor::synth::{evaluate, generate, SynthConfig, TypologyScore};

use crate::config::Context;
use crate::output::{self, Format, Tabular};

/// Work with monitoring rules files (docs/rules.md).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  floodgate rules check my-rules.toml
  floodgate rules default > my-rules.toml
  floodgate rules eval --seed 7")]
pub(crate) struct Args {
    #[command(subcommand)]
    cmd: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Compile a rules file; on error print FILE:LINE:COLUMN: message and exit 2
    Check {
        /// The rules file (TOML)
        file: PathBuf,
    },
    /// Print the built-in Viet Nam pack (a starting point for your own rules file)
    Default,
    /// Detection quality: recall and precision per typology on a seeded synthetic ledger
    Eval {
        /// Rules file [default: the built-in vn pack]
        #[arg(long, value_name = "FILE")]
        rules: Option<PathBuf>,
        /// Generator seed
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Ordinary customers in the synthetic exchange
        #[arg(long, default_value_t = 400)]
        customers: usize,
        /// Planted customers per typology
        #[arg(long, default_value_t = 20)]
        per_typology: usize,
        /// Output format
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

impl Tabular for TypologyScore {
    fn headers() -> Vec<&'static str> {
        vec![
            "typology",
            "planted",
            "flagged",
            "true_pos",
            "recall",
            "precision",
            "hard_neg",
            "false_alarms",
            "false_alarm_rate",
            "target",
        ]
    }
    fn cells(&self) -> Vec<String> {
        let target = if self.planted == 0 {
            "NOT PLANTED"
        } else if self.meets_target() {
            "met"
        } else {
            "MISSED"
        };
        vec![
            self.typology.clone(),
            self.planted.to_string(),
            self.flagged.to_string(),
            self.true_positives.to_string(),
            format!("{:.3}", self.recall),
            format!("{:.3}", self.precision),
            self.hard_negatives.to_string(),
            self.false_alarms.to_string(),
            format!("{:.3}", self.false_alarm_rate),
            target.to_owned(),
        ]
    }
}

pub(crate) fn run(args: Args, ctx: &Context) -> Result<ExitCode> {
    match args.cmd {
        Sub::Check { file } => match Pack::load(&file) {
            Ok(p) => {
                output::write_text(&format!(
                    "{}: ok: pack '{}', {} active rules ({} CEL rules, {} windows)\n",
                    file.display(),
                    p.meta.id,
                    p.rule_count(),
                    p.rules.len(),
                    p.windows.len()
                ))?;
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                output::write_text(&format!("{e}\n"))?;
                Ok(ExitCode::from(super::EXIT_ERROR))
            }
        },
        Sub::Default => {
            output::write_text(VN_PACK)?;
            Ok(ExitCode::SUCCESS)
        }
        Sub::Eval { rules, seed, customers, per_typology, format } => {
            let pack = match &rules {
                Some(f) => Pack::load(f)?,
                None => Pack::builtin_vn(),
            };
            let cfg = SynthConfig {
                seed,
                background_customers: customers,
                per_typology,
                ..SynthConfig::default()
            };
            let world = generate(cfg);
            let engine = Engine::new(
                pack,
                ctx.assets.clone(),
                RateTable::builtin(),
                world.customers.clone(),
                Arc::new(world.lists.clone()),
            );
            let scores = evaluate(&world, engine);
            output::write_rows(format, &scores)?;
            let all = scores.iter().all(TypologyScore::meets_target);
            Ok(if all { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
    }
}
