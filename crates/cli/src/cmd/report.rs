//! `floodgate report due`: the tenant's mandatory reports — due, overdue and filed.

use std::process::ExitCode;

use anyhow::Result;
use floodgate_cases::model::{ReportObligation, ReportStatus, UnixTime};
use serde::Serialize;

use crate::cmd::cases::StoreArgs;
use crate::config::Context;
use crate::output::{self, Format, Tabular};

/// Mandatory reports: what is due, overdue and filed.
///
/// Report obligations come from `floodgate monitor` (the decisions' reports due: large-value,
/// domestic and international transfers), with deadlines on the Viet Nam working-day calendar,
/// and are kept in the case store (docs/cases.md).
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, clap::Subcommand)]
enum Cmd {
    /// List report obligations by deadline with their status (due, overdue, filed)
    #[command(after_help = "Example:
  floodgate report due --status overdue --format csv")]
    Due {
        /// Only this status: due, overdue or filed
        #[arg(long, value_parser = ["due", "overdue", "filed"])]
        status: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
        /// Output format
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Debug, Serialize)]
struct Row {
    #[serde(flatten)]
    report: ReportObligation,
    status: ReportStatus,
}

impl Tabular for Row {
    fn headers() -> Vec<&'static str> {
        vec!["report", "kind", "status", "due", "event", "subjects", "filed", "sha256"]
    }
    fn cells(&self) -> Vec<String> {
        let r = &self.report;
        vec![
            r.id.0.to_string(),
            r.kind.to_string(),
            serde_json::to_value(self.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            r.due_time.to_rfc3339(),
            r.event_time.to_rfc3339(),
            r.subject_ids.join(" "),
            r.filed_time.map(UnixTime::to_rfc3339).unwrap_or_default(),
            r.document_sha256.clone().unwrap_or_default(),
        ]
    }
}

pub(crate) fn run(args: Args, ctx: &Context) -> Result<ExitCode> {
    let Cmd::Due { status, store, format } = args.cmd;
    let mut s = store.open(ctx)?;
    let actor = store.actor(ctx)?;
    let now = UnixTime::now();
    let rows: Vec<Row> = s
        .reports(&actor)?
        .into_iter()
        .map(|r| Row { status: r.status(now), report: r })
        .filter(|r| {
            status.as_deref().is_none_or(|want| {
                serde_json::to_value(r.status).ok().and_then(|v| v.as_str().map(|s| s == want))
                    == Some(true)
            })
        })
        .collect();
    output::write_rows(format, &rows)?;
    Ok(ExitCode::SUCCESS)
}
