//! `floodgate report due|generate`: the tenant's mandatory reports — due, overdue and filed —
//! and the files that fulfil them (goAML STR, HTML case report, Viet Nam threshold reports,
//! IVMS101 travel-rule payloads).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use floodgate_app::report::{self, DueReport, GenerateRequest};
use floodgate_cases::model::UnixTime;
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
    /// Write a report file and mark its obligation filed (audit-logged; `--draft` only writes)
    #[command(after_help = "Kinds:
  str       goAML 5.0.1 suspicious-transaction report of a case decided `report` (validated with
            xmllint against --xsd before it is written)
  case      the HTML case report (alerts, evidence, decision trail, SVG fund-flow path)
  vn        a Viet Nam large-value / domestic / international transfer report (JSON layout
            floodgate-vn-report/1: the State Bank's layout is not public)
  ivms101   the IVMS101 travel-rule payload of a transfer of USD 1,000 or more

Examples:
  floodgate report generate str --case 12 --entity vasp.toml --kyc kyc.jsonl --ledger transfers.jsonl --xsd goAMLSchema.xsd --out str-12.xml
  floodgate report generate case --case 12 --ledger transfers.jsonl --out case-12.html
  floodgate report generate vn --report 3 --entity vasp.toml --kyc kyc.jsonl --out vn-3.json
  floodgate report generate ivms101 --transfer w-9 --entity vasp.toml --kyc kyc.jsonl --ledger transfers.jsonl

Exit codes: 0 written, 2 error (the case, transfer, customer or field at fault is named; nothing written or filed).")]
    Generate {
        /// str, case, vn or ivms101
        #[arg(value_parser = ["str", "case", "vn", "ivms101"])]
        kind: String,
        /// The case (str, case)
        #[arg(long)]
        case: Option<i64>,
        /// The report obligation (vn)
        #[arg(long)]
        report: Option<i64>,
        /// The transfer (ivms101)
        #[arg(long)]
        transfer: Option<String>,
        /// The reporting VASP (TOML; docs/reports.md)
        #[arg(long, env = "FLOODGATE_REPORTING_ENTITY", value_name = "FILE")]
        entity: Option<PathBuf>,
        /// Customers' KYC records (JSON Lines; docs/reports.md)
        #[arg(long, env = "FLOODGATE_KYC", value_name = "FILE")]
        kyc: Option<PathBuf>,
        /// The transfers: the monitor's input file (JSON Lines)
        #[arg(long, value_name = "FILE")]
        ledger: Option<PathBuf>,
        /// goAML XSD (goAMLSchema.xsd) to validate the STR with xmllint before writing
        #[arg(long, env = "FLOODGATE_GOAML_XSD", value_name = "FILE")]
        xsd: Option<PathBuf>,
        /// Write the STR without the XSD check (the renderer's own schema checks still apply)
        #[arg(long)]
        skip_xsd: bool,
        /// Write here instead of standard output
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Only write the file; do not mark the obligation filed
        #[arg(long)]
        draft: bool,
        #[command(flatten)]
        store: StoreArgs,
        /// Output format of the summary line (with --out)
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

impl Tabular for DueReport {
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
    let (status, store, format) = match args.cmd {
        Cmd::Due { status, store, format } => (status, store, format),
        Cmd::Generate {
            kind,
            case,
            report,
            transfer,
            entity,
            kyc,
            ledger,
            xsd,
            skip_xsd,
            out,
            draft,
            store,
            format,
        } => {
            let req = GenerateRequest {
                kind,
                case,
                report,
                transfer,
                entity,
                kyc,
                ledger,
                xsd,
                skip_xsd,
                draft,
            };
            return generate(&req, out, &store, format, ctx);
        }
    };
    let mut s = store.open(ctx)?;
    let actor = store.actor(ctx, s.as_mut())?;
    let rows = report::due(s.as_mut(), &actor, status.as_deref(), UnixTime::now())?;
    output::write_rows(format, &rows)?;
    Ok(ExitCode::SUCCESS)
}

/// The summary of a written report.
#[derive(Debug, Serialize)]
struct Written {
    kind: String,
    object: String,
    file: String,
    bytes: usize,
    sha256: String,
    report: Option<i64>,
    filed: bool,
}

impl Tabular for Written {
    fn headers() -> Vec<&'static str> {
        vec!["kind", "object", "file", "bytes", "sha256", "report", "filed"]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.kind.clone(),
            self.object.clone(),
            self.file.clone(),
            self.bytes.to_string(),
            self.sha256.clone(),
            self.report.map(|r| r.to_string()).unwrap_or_default(),
            self.filed.to_string(),
        ]
    }
}

/// Builds the document (nothing is written or filed unless it is complete and valid), writes
/// it, then files its obligation.
fn generate(
    req: &GenerateRequest,
    out: Option<PathBuf>,
    store: &StoreArgs,
    format: Format,
    ctx: &Context,
) -> Result<ExitCode> {
    let mut s = store.open(ctx)?;
    let actor = store.actor(ctx, s.as_mut())?;
    let doc = report::build(s.as_mut(), &actor, req, UnixTime::now())?;
    let file = match &out {
        Some(p) => {
            std::fs::write(p, &doc.bytes).with_context(|| format!("writing {}", p.display()))?;
            p.display().to_string()
        }
        None => {
            output::write_text(&String::from_utf8_lossy(&doc.bytes))?;
            "-".into()
        }
    };
    let filed = report::file(s.as_mut(), &actor, &doc)?;
    if out.is_some() {
        let w = Written {
            report: doc.obligation.as_ref().map(|o| o.id.0),
            kind: doc.kind,
            object: doc.object,
            file,
            bytes: doc.bytes.len(),
            sha256: doc.sha256,
            filed,
        };
        output::write_rows(format, &[w])?;
    }
    Ok(ExitCode::SUCCESS)
}
