//! Mandatory reports: the tenant's obligations by status, and the documents that fulfil them —
//! a goAML STR, the HTML case report, a Viet Nam threshold report, an IVMS101 travel-rule
//! payload — built complete and checked before anything is written or filed (docs/reports.md).

use std::path::{Path, PathBuf};

use floodgate_cases::filing::{self, KycBook, Ledger, ReportingEntity};
use floodgate_cases::model::{
    Actor, CaseId, ReportId, ReportKind, ReportObligation, ReportStatus, UnixTime,
};
use floodgate_cases::CaseStore;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// One obligation with its status at the time asked.
#[derive(Debug, Clone, Serialize)]
pub struct DueReport {
    /// The obligation.
    #[serde(flatten)]
    pub report: ReportObligation,
    /// Due, overdue or filed.
    pub status: ReportStatus,
}

/// The tenant's report obligations, each with its status at `now`; only those of `status`
/// (`due`, `overdue`, `filed`) when given.
///
/// # Errors
/// [`AppError::Cases`].
pub fn due(
    store: &mut dyn CaseStore,
    actor: &Actor,
    status: Option<&str>,
    now: UnixTime,
) -> Result<Vec<DueReport>, AppError> {
    Ok(store
        .reports(actor)?
        .into_iter()
        .map(|r| DueReport { status: r.status(now), report: r })
        .filter(|r| {
            status.is_none_or(|want| {
                serde_json::to_value(r.status).ok().and_then(|v| v.as_str().map(|s| s == want))
                    == Some(true)
            })
        })
        .collect())
}

/// What to generate. Which fields a kind needs is in docs/reports.md; a missing one is an
/// [`AppError::Invalid`] naming it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateRequest {
    /// `str`, `case`, `vn` or `ivms101`.
    pub kind: String,
    /// The case (str, case).
    pub case: Option<i64>,
    /// The report obligation (vn).
    pub report: Option<i64>,
    /// The transfer (ivms101).
    pub transfer: Option<String>,
    /// The reporting VASP (TOML).
    pub entity: Option<PathBuf>,
    /// Customers' KYC records (JSON Lines).
    pub kyc: Option<PathBuf>,
    /// The transfers: the monitor's input file (JSON Lines).
    pub ledger: Option<PathBuf>,
    /// goAML XSD to validate an STR with xmllint.
    pub xsd: Option<PathBuf>,
    /// Build the STR without the XSD check.
    #[serde(default)]
    pub skip_xsd: bool,
    /// Do not file the obligation the document fulfils.
    #[serde(default)]
    pub draft: bool,
}

/// A built document, not yet written nor filed.
#[derive(Debug, Clone)]
pub struct Document {
    /// The request's kind.
    pub kind: String,
    /// What it is about: `case:N`, `report:N` or `transfer:ID`.
    pub object: String,
    /// The bytes to write.
    pub bytes: Vec<u8>,
    /// SHA-256 of the bytes, hex (recorded with the filing).
    pub sha256: String,
    /// The obligation it fulfils, unless a draft or a kind with none.
    pub obligation: Option<ReportObligation>,
}

/// Builds the document `req` asks for. An STR that is not a draft first records its
/// obligation (so it can be filed once the file is written).
///
/// # Errors
/// [`AppError::Invalid`] for a missing field or unknown kind or report, [`AppError::Io`] /
/// [`AppError::Input`] for an unreadable or malformed input file, [`AppError::Cases`] for
/// what the case store or the report builders refuse (each names the case, customer or
/// field at fault). Nothing is written or filed then.
pub fn build(
    store: &mut dyn CaseStore,
    actor: &Actor,
    req: &GenerateRequest,
    now: UnixTime,
) -> Result<Document, AppError> {
    let kind = req.kind.as_str();
    let (bytes, object, obligation) = match kind {
        "str" => {
            let case = CaseId(*need(&req.case, "case", "--case N", kind)?);
            let view = store.case(actor, case)?;
            let e = entity(req)?;
            let k = kyc(req)?;
            let l = ledger(need(&req.ledger, "ledger", LEDGER, kind)?)?;
            let report = filing::build_str(&view, &e, &k, &l, now)?;
            let xml = filing::render_goaml(&report)?;
            match (&req.xsd, req.skip_xsd) {
                (Some(xsd), false) => filing::xmllint_validate(&xml, xsd)?,
                (None, false) => return Err(invalid(
                    "xsd",
                    "report generate str validates the goAML XML with xmllint before writing: give --xsd goAMLSchema.xsd (or FLOODGATE_GOAML_XSD), or --skip-xsd",
                )),
                (_, true) => tracing::warn!(target: "floodgate::report", "--skip-xsd: the STR was not checked with xmllint"),
            }
            let ob = if req.draft {
                None
            } else {
                let nr = filing::str_obligation(&view, now);
                store.add_reports(actor, std::slice::from_ref(&nr))?;
                store
                    .reports(actor)?
                    .into_iter()
                    .filter(|r| r.kind == ReportKind::Suspicious && r.subject_ids == nr.subject_ids)
                    .max_by_key(|r| r.id)
            };
            (xml.into_bytes(), format!("case:{}", case.0), ob)
        }
        "case" => {
            let case = CaseId(*need(&req.case, "case", "--case N", kind)?);
            let view = store.case(actor, case)?;
            let l = req.ledger.as_deref().map(ledger).transpose()?;
            let reports: Vec<ReportObligation> = store
                .reports(actor)?
                .into_iter()
                .filter(|r| r.subject_ids.first() == Some(&view.case.subject))
                .collect();
            let cr =
                filing::case_report(&view, l.as_ref(), &reports, now, &actor.user.to_string())?;
            let html = filing::render_case_html(&cr)?;
            (html.into_bytes(), format!("case:{}", case.0), None)
        }
        "vn" => {
            let id = *need(&req.report, "report", "--report N", kind)?;
            let ob = store.reports(actor)?.into_iter().find(|r| r.id == ReportId(id)).ok_or_else(
                || {
                    invalid(
                        "report",
                        format!(
                            "unknown report {id} for tenant '{}' (floodgate report due)",
                            actor.tenant
                        ),
                    )
                },
            )?;
            let e = entity(req)?;
            let k = kyc(req)?;
            let l = req.ledger.as_deref().map(ledger).transpose()?;
            let v = filing::vn_report(&ob, &e, &k, l.as_ref(), now)?;
            (pretty(&v)?, format!("report:{id}"), (!req.draft).then_some(ob))
        }
        "ivms101" => {
            let t = need(&req.transfer, "transfer", "--transfer ID", kind)?;
            let l = ledger(need(&req.ledger, "ledger", LEDGER, kind)?)?;
            let ev = l.get(t)?;
            let registry = floodgate_types::AssetRegistry::builtin();
            let usd = floodgate_monitor::fiat::RateTable::builtin()
                .convert(&ev.entry.asset, ev.entry.amount, ev.entry.time, &registry)
                .ok_or_else(|| {
                    invalid("transfer", format!("transfer {t}: no USD rate for {}", ev.entry.asset))
                })?
                .usd_cents;
            let e = entity(req)?;
            let k = kyc(req)?;
            let today = chrono::DateTime::from_timestamp(now.0, 0).unwrap_or_default().date_naive();
            let p = filing::travel_rule(ev, u64::try_from(usd).unwrap_or(u64::MAX), &e, &k, today)?;
            (pretty(&p)?, format!("transfer:{t}"), None)
        }
        other => return Err(invalid("kind", format!("unknown report kind '{other}'"))),
    };
    let sha256 = filing::sha256_hex(&bytes);
    Ok(Document { kind: req.kind.clone(), object, bytes, sha256, obligation })
}

/// Marks the obligation `doc` fulfils filed, with the document's SHA-256 (audit-logged), once
/// the document is written. Returns whether it was filed now; an obligation filed before is
/// left as it is (logged).
///
/// # Errors
/// [`AppError::Cases`].
pub fn file(store: &mut dyn CaseStore, actor: &Actor, doc: &Document) -> Result<bool, AppError> {
    let Some(o) = &doc.obligation else { return Ok(false) };
    if o.filed_time.is_some() {
        tracing::warn!(target: "floodgate::report", report = o.id.0, "already filed; the new file is not recorded");
        return Ok(false);
    }
    store.file_report(actor, o.id, &doc.sha256)?;
    Ok(true)
}

const LEDGER: &str = "--ledger FILE (the monitor input)";

fn invalid(field: &str, message: impl Into<String>) -> AppError {
    AppError::Invalid { field: field.to_owned(), message: message.into() }
}

/// A field `kind` needs; the message names the CLI flag (`flag`) that gives it.
fn need<'a, T>(v: &'a Option<T>, field: &str, flag: &str, kind: &str) -> Result<&'a T, AppError> {
    v.as_ref().ok_or_else(|| invalid(field, format!("report generate {kind} needs {flag}")))
}

fn read(p: &Path) -> Result<String, AppError> {
    std::fs::read_to_string(p)
        .map_err(|source| AppError::Io { context: format!("reading {}", p.display()), source })
}

fn entity(req: &GenerateRequest) -> Result<ReportingEntity, AppError> {
    let p = need(
        &req.entity,
        "entity",
        "--entity FILE (the reporting VASP, docs/reports.md)",
        &req.kind,
    )?;
    toml::from_str(&read(p)?).map_err(|e| AppError::Parse {
        context: format!("{}: not a reporting-entity file", p.display()),
        source: Box::new(e),
    })
}

fn kyc(req: &GenerateRequest) -> Result<KycBook, AppError> {
    let p = need(&req.kyc, "kyc", "--kyc FILE (customers' KYC, docs/reports.md)", &req.kind)?;
    Ok(KycBook::parse(p, &read(p)?)?)
}

fn ledger(p: &Path) -> Result<Ledger, AppError> {
    Ok(Ledger::parse(p, &read(p)?, floodgate_types::AssetRegistry::builtin())?)
}

/// Pretty JSON with a final newline.
fn pretty<T: Serialize>(v: &T) -> Result<Vec<u8>, AppError> {
    let mut text = serde_json::to_string_pretty(v).map_err(|e| AppError::Parse {
        context: "serializing the report".to_owned(),
        source: Box::new(e),
    })?;
    text.push('\n');
    Ok(text.into_bytes())
}
