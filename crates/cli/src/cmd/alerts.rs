//! `floodgate alerts`: the alert queue.

use std::process::ExitCode;

use anyhow::Result;
use floodgate_cases::model::{Alert, CaseId, CaseState};
use floodgate_cases::ListFilter;
use serde::Serialize;

use crate::cmd::cases::StoreArgs;
use crate::config::Context;
use crate::output::{self, Format, Tabular};

/// List alerts, newest first, with their case, rule or list, severity and reasons.
///
/// Every non-allow `floodgate monitor` decision and every unsuppressed `floodgate screen` hit
/// becomes an alert by itself, exactly once, and joins its subject's open case.
///
/// `floodgate alerts list` is the same as `floodgate alerts` (as `cases list` lists cases); one
/// alert's case, with its notes, evidence and audit trail, is `floodgate cases show CASE`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  floodgate alerts --state open
  floodgate alerts list --subject cust-17 --format json
  floodgate alerts --case 12 --format csv

Exit codes: 0 done, 2 error (unknown state, unreadable store).")]
pub(crate) struct Args {
    /// `list` (the default: the only action)
    #[arg(value_enum)]
    action: Option<Action>,
    /// Only alerts of cases in this state
    #[arg(long)]
    state: Option<String>,
    /// Only alerts about this customer or entity
    #[arg(long)]
    subject: Option<String>,
    /// Only alerts of this case
    #[arg(long)]
    case: Option<i64>,
    /// At most this many
    #[arg(long, default_value_t = 1000)]
    limit: u32,
    #[command(flatten)]
    store: StoreArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// What `floodgate alerts` does: list (the word may be given, as with `cases list`).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Action {
    /// List alerts
    List,
}

#[derive(Debug, Serialize)]
#[serde(transparent)]
struct Row(Alert);

impl Tabular for Row {
    fn headers() -> Vec<&'static str> {
        vec!["alert", "case", "created", "source", "rule", "severity", "subject", "reasons"]
    }
    fn cells(&self) -> Vec<String> {
        let a = &self.0;
        vec![
            a.id.0.to_string(),
            a.case.0.to_string(),
            a.created.to_rfc3339(),
            a.alert.source.to_string(),
            a.alert.rule.clone(),
            a.alert.severity.to_string(),
            a.alert.subject.clone(),
            a.alert.reasons.join("; "),
        ]
    }
}

pub(crate) fn run(args: Args, ctx: &Context) -> Result<ExitCode> {
    let mut store = args.store.open(ctx)?;
    let actor = args.store.actor(ctx, store.as_mut())?;
    let filter = ListFilter {
        state: args.state.as_deref().map(CaseState::parse).transpose()?,
        subject: args.subject,
        case: args.case.map(CaseId),
        limit: Some(args.limit),
    };
    let rows: Vec<Row> = store.alerts(&actor, &filter)?.into_iter().map(Row).collect();
    output::write_rows(args.format, &rows)?;
    Ok(ExitCode::SUCCESS)
}
