//! `floodgate rules`: check a rules file, show the built-in pack, measure detection quality.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use floodgate_app::rules::{self as svc, CheckRequest, EvalRequest};
use floodgate_monitor::synth::TypologyScore;

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
        /// Output format of a file that compiles (an error is always FILE:LINE:COLUMN: message)
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
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
        let target = self.verdict();
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
        Sub::Check { file, format } => match svc::check(&CheckRequest { file }) {
            Ok(c) if format == Format::Table => {
                output::write_text(&format!(
                    "{}: ok: pack '{}', {} active rules ({} CEL rules, {} windows)\n",
                    c.file.display(),
                    c.pack,
                    c.active_rules,
                    c.cel_rules,
                    c.windows
                ))?;
                Ok(ExitCode::SUCCESS)
            }
            Ok(c) => {
                output::write_json(&c)?;
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                output::write_text(&format!("{e}\n"))?;
                Ok(ExitCode::from(super::EXIT_ERROR))
            }
        },
        Sub::Default => {
            output::write_text(svc::default_pack())?;
            Ok(ExitCode::SUCCESS)
        }
        Sub::Eval { rules, seed, customers, per_typology, format } => {
            let req = EvalRequest { rules, seed, customers, per_typology };
            let result = svc::eval(&ctx.assets, &req)?;
            output::write_rows(format, &result.scores)?;
            let missing = result.not_planted();
            if !missing.is_empty() {
                tracing::error!(
                    target: "floodgate::rules",
                    "not planted, so not measured (recall 0, not 1): {}; the generator has no \
                     pattern for them or --per-typology is 0",
                    missing.join(", ")
                );
            }
            Ok(if result.all_met() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
    }
}
