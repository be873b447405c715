//! `floodgate report due|generate`: the tenant's mandatory reports — due, overdue and filed —
//! and the files that fulfil them (goAML STR, HTML case report, Viet Nam threshold reports,
//! IVMS101 travel-rule payloads).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use floodgate_cases::filing::{self, KycBook, Ledger, ReportingEntity};
use floodgate_cases::model::{
    CaseId, ReportId, ReportKind, ReportObligation, ReportStatus, UnixTime,
};
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
            let g = Gen { case, report, transfer, entity, kyc, ledger, xsd, skip_xsd, out, draft };
            return generate(&kind, &g, &store, format, ctx);
        }
    };
    let mut s = store.open(ctx)?;
    let actor = store.actor(ctx, s.as_mut())?;
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

struct Gen {
    case: Option<i64>,
    report: Option<i64>,
    transfer: Option<String>,
    entity: Option<PathBuf>,
    kyc: Option<PathBuf>,
    ledger: Option<PathBuf>,
    xsd: Option<PathBuf>,
    skip_xsd: bool,
    out: Option<PathBuf>,
    draft: bool,
}

fn need<'a, T>(v: &'a Option<T>, flag: &str, kind: &str) -> Result<&'a T> {
    v.as_ref().with_context(|| format!("report generate {kind} needs {flag}"))
}

fn read(p: &Path) -> Result<String> {
    std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
}

fn entity(g: &Gen, kind: &str) -> Result<ReportingEntity> {
    let p = need(&g.entity, "--entity FILE (the reporting VASP, docs/reports.md)", kind)?;
    toml::from_str(&read(p)?)
        .with_context(|| format!("{}: not a reporting-entity file", p.display()))
}

fn kyc(g: &Gen, kind: &str) -> Result<KycBook> {
    let p = need(&g.kyc, "--kyc FILE (customers' KYC, docs/reports.md)", kind)?;
    Ok(KycBook::parse(p, &read(p)?)?)
}

fn ledger(p: &Path) -> Result<Ledger> {
    Ok(Ledger::parse(p, &read(p)?, floodgate_types::AssetRegistry::builtin())?)
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

fn generate(
    kind: &str,
    g: &Gen,
    store: &StoreArgs,
    format: Format,
    ctx: &Context,
) -> Result<ExitCode> {
    let mut s = store.open(ctx)?;
    let actor = store.actor(ctx, s.as_mut())?;
    let now = UnixTime::now();
    // Build the document first; nothing is written or filed unless it is complete and valid.
    let (doc, object, obligation): (Vec<u8>, String, Option<ReportObligation>) = match kind {
        "str" => {
            let case = CaseId(*need(&g.case, "--case N", kind)?);
            let view = s.case(&actor, case)?;
            let e = entity(g, kind)?;
            let k = kyc(g, kind)?;
            let l = ledger(need(&g.ledger, "--ledger FILE (the monitor input)", kind)?)?;
            let report = filing::build_str(&view, &e, &k, &l, now)?;
            let xml = filing::render_goaml(&report)?;
            match (&g.xsd, g.skip_xsd) {
                (Some(xsd), false) => filing::xmllint_validate(&xml, xsd)?,
                (None, false) => bail!(
                    "report generate str validates the goAML XML with xmllint before writing: give --xsd goAMLSchema.xsd (or FLOODGATE_GOAML_XSD), or --skip-xsd"
                ),
                (_, true) => tracing::warn!(target: "floodgate::report", "--skip-xsd: the STR was not checked with xmllint"),
            }
            let ob = if g.draft {
                None
            } else {
                let nr = filing::str_obligation(&view, now);
                s.add_reports(&actor, std::slice::from_ref(&nr))?;
                s.reports(&actor)?
                    .into_iter()
                    .filter(|r| r.kind == ReportKind::Suspicious && r.subject_ids == nr.subject_ids)
                    .max_by_key(|r| r.id)
            };
            (xml.into_bytes(), format!("case:{}", case.0), ob)
        }
        "case" => {
            let case = CaseId(*need(&g.case, "--case N", kind)?);
            let view = s.case(&actor, case)?;
            let l = g.ledger.as_deref().map(ledger).transpose()?;
            let reports: Vec<ReportObligation> = s
                .reports(&actor)?
                .into_iter()
                .filter(|r| r.subject_ids.first() == Some(&view.case.subject))
                .collect();
            let cr =
                filing::case_report(&view, l.as_ref(), &reports, now, &actor.user.to_string())?;
            let html = filing::render_case_html(&cr)?;
            (html.into_bytes(), format!("case:{}", case.0), None)
        }
        "vn" => {
            let id = *need(&g.report, "--report N", kind)?;
            let ob = s.reports(&actor)?.into_iter().find(|r| r.id == ReportId(id)).with_context(
                || {
                    format!(
                        "unknown report {id} for tenant '{}' (floodgate report due)",
                        actor.tenant
                    )
                },
            )?;
            let e = entity(g, kind)?;
            let k = kyc(g, kind)?;
            let l = g.ledger.as_deref().map(ledger).transpose()?;
            let v = filing::vn_report(&ob, &e, &k, l.as_ref(), now)?;
            let mut text = serde_json::to_string_pretty(&v)?;
            text.push('\n');
            (text.into_bytes(), format!("report:{id}"), (!g.draft).then_some(ob))
        }
        "ivms101" => {
            let t = need(&g.transfer, "--transfer ID", kind)?;
            let l = ledger(need(&g.ledger, "--ledger FILE (the monitor input)", kind)?)?;
            let ev = l.get(t)?;
            let registry = floodgate_types::AssetRegistry::builtin();
            let usd = floodgate_monitor::fiat::RateTable::builtin()
                .convert(&ev.entry.asset, ev.entry.amount, ev.entry.time, &registry)
                .with_context(|| format!("transfer {t}: no USD rate for {}", ev.entry.asset))?
                .usd_cents;
            let e = entity(g, kind)?;
            let k = kyc(g, kind)?;
            let today = chrono::Utc::now().date_naive();
            let p = filing::travel_rule(ev, u64::try_from(usd).unwrap_or(u64::MAX), &e, &k, today)?;
            let mut text = serde_json::to_string_pretty(&p)?;
            text.push('\n');
            (text.into_bytes(), format!("transfer:{t}"), None)
        }
        other => bail!("unknown report kind '{other}'"),
    };
    let sha = filing::sha256_hex(&doc);
    let file = match &g.out {
        Some(p) => {
            std::fs::write(p, &doc).with_context(|| format!("writing {}", p.display()))?;
            p.display().to_string()
        }
        None => {
            output::write_text(&String::from_utf8_lossy(&doc))?;
            "-".into()
        }
    };
    let mut filed = false;
    let report = obligation.as_ref().map(|o| o.id.0);
    if let Some(o) = &obligation {
        if o.filed_time.is_none() {
            s.file_report(&actor, o.id, &sha)?;
            filed = true;
        } else {
            tracing::warn!(target: "floodgate::report", report = o.id.0, "already filed; the new file is not recorded");
        }
    }
    if g.out.is_some() {
        let w = Written {
            kind: kind.to_owned(),
            object,
            file,
            bytes: doc.len(),
            sha256: sha,
            report,
            filed,
        };
        output::write_rows(format, &[w])?;
    }
    Ok(ExitCode::SUCCESS)
}
