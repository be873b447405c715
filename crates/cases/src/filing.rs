//! Filing: the documents `floodgate report generate` writes from what the case store holds —
//! a goAML STR for a case decided `report`, the HTML case report, the Viet Nam threshold
//! reports of recorded obligations, and IVMS101 travel-rule payloads — plus the inputs they
//! need that the store does not keep: the reporting VASP's identity ([`ReportingEntity`]), its
//! customers' KYC ([`KycBook`]) and the transfers themselves ([`Ledger`], the monitor's input
//! file). Every builder refuses, naming the case, transfer, customer or field, rather than
//! writing an incomplete report.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use chrono::NaiveDate;
use floodgate_monitor::input::{parse_event, MonitorEvent};
use floodgate_report::ivms101::{
    DateAndPlaceOfBirth, LegalPerson, LegalPersonName, LegalPersonNameId, NationalIdentification,
    NaturalPerson, NaturalPersonName, NaturalPersonNameId, Person,
};
use floodgate_report::{
    AlertEntry, CaseReport, CaseSummary, Cents, ClientAccount, ClientPerson, Currency,
    DecisionEntry, EvidenceEntry, ExternalAccount, FundPath, GoamlAddress, GoamlParty, GoamlPhone,
    GoamlReport, GoamlReportCode, GoamlSide, GoamlTransaction, IdentityPayload, PathEdge, PathNode,
    ReportLine, TravelRuleTransfer, VirtualAssetTransfer,
};
use floodgate_types::{AssetRegistry, Direction, Timestamp};
use serde::{Deserialize, Serialize};

use crate::error::{CasesError, Result};
use crate::model::{AlertSource, CaseState, DecisionKind, ReportObligation, UnixTime};
use crate::store::CaseView;

fn invalid(field: impl Into<String>, value: impl ToString, reason: impl ToString) -> CasesError {
    CasesError::Invalid {
        field: field.into(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

fn dash() -> String {
    "-".into()
}
fn vnd() -> String {
    "VND".into()
}
fn indicators() -> Vec<String> {
    vec!["-".into()]
}

/// The reporting VASP as its FIU knows it (a TOML file, `docs/reports.md`). The goAML code
/// fields default to `-` (the UNODC generic schema's "not specified"); set the codes your FIU
/// publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportingEntity {
    /// Legal name.
    pub name: String,
    /// The VASP's id at the FIU (goAML `rentity_id`).
    pub rentity_id: u32,
    /// Reporting branch.
    pub branch: String,
    /// Institution code (goAML `institution_code`; the licence number).
    pub institution_code: String,
    /// The reporting officer's user code at the FIU (4–50 characters).
    pub reporting_user_code: String,
    /// Street address.
    pub address: String,
    /// City.
    pub city: String,
    /// ISO 3166-1 alpha-2 country.
    pub country: String,
    /// LEI (ISO 17442), for IVMS101.
    #[serde(default)]
    pub lei: Option<String>,
    /// goAML `contact_type` of the address.
    #[serde(default = "dash")]
    pub address_type: String,
    /// Local currency (ISO 4217, whole units: VND).
    #[serde(default = "vnd")]
    pub currency: String,
    /// goAML `funds_type`.
    #[serde(default = "dash")]
    pub funds_code: String,
    /// goAML `conduction_type`.
    #[serde(default = "dash")]
    pub transmode_code: String,
    /// goAML `account_type` of customer accounts.
    #[serde(default = "dash")]
    pub account_type: String,
    /// goAML `account_status_type` of customer accounts.
    #[serde(default = "dash")]
    pub account_status: String,
    /// goAML `account_person_role_type` of the account holder.
    #[serde(default = "dash")]
    pub holder_role: String,
    /// goAML `report_indicator_type` codes.
    #[serde(default = "indicators")]
    pub indicators: Vec<String>,
}

/// What the VASP knows about a customer from onboarding (one JSON object per line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KycRecord {
    /// The customer id used in the ledger.
    pub customer_id: String,
    /// Given names.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Date of birth.
    pub birth_date: NaiveDate,
    /// National identity number.
    pub national_id: String,
    /// ISO 3166-1 alpha-2 nationality.
    pub nationality: String,
    /// ISO 3166-1 alpha-2 country of residence.
    pub residence: String,
    /// Phone country prefix (`84`).
    pub phone_prefix: String,
    /// Phone number.
    pub phone: String,
    /// Street address.
    pub address: String,
    /// City.
    pub city: String,
    /// Occupation.
    pub occupation: String,
    /// When the account was opened.
    pub opened: NaiveDate,
    /// `F`, `M` or `-`.
    #[serde(default)]
    pub gender: Option<String>,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Place of birth (IVMS101).
    #[serde(default)]
    pub place_of_birth: Option<String>,
}

impl KycRecord {
    fn full_name(&self) -> String {
        format!("{} {}", self.last_name, self.first_name)
    }
}

/// Customers' KYC records by customer id.
#[derive(Debug, Clone, Default)]
pub struct KycBook {
    label: String,
    by_id: HashMap<String, KycRecord>,
}

impl KycBook {
    /// Parses JSON Lines text; `path` labels errors.
    ///
    /// # Errors
    /// [`CasesError::Invalid`] naming the file, line and field.
    pub fn parse(path: &Path, text: &str) -> Result<KycBook> {
        let label = path.display().to_string();
        let mut by_id = HashMap::new();
        for (i, l) in text.lines().enumerate() {
            if l.trim().is_empty() {
                continue;
            }
            let r: KycRecord = serde_json::from_str(l)
                .map_err(|e| invalid(format!("{label}: line {}", i + 1), "KYC record", e))?;
            if by_id.insert(r.customer_id.clone(), r).is_some() {
                return Err(invalid(
                    format!("{label}: line {}: customer_id", i + 1),
                    l.chars().take(60).collect::<String>(),
                    "a second record for this customer",
                ));
            }
        }
        Ok(KycBook { label, by_id })
    }

    fn get(&self, customer: &str, why: &str) -> Result<&KycRecord> {
        self.by_id.get(customer).ok_or_else(|| {
            invalid(
                "customer",
                customer,
                format!("has no KYC record in {} ({why} needs it)", self.label),
            )
        })
    }
}

/// The transfers the alerts name, read from the monitor's input file (JSON Lines, the same
/// lines `floodgate monitor` read).
#[derive(Debug, Clone)]
pub struct Ledger {
    label: String,
    by_id: HashMap<String, MonitorEvent>,
    assets: AssetRegistry,
}

impl Ledger {
    /// Parses the monitor input; `path` labels errors.
    ///
    /// # Errors
    /// [`CasesError::Invalid`] naming the file, line and field.
    pub fn parse(path: &Path, text: &str, assets: AssetRegistry) -> Result<Ledger> {
        let label = path.display().to_string();
        let mut by_id = HashMap::new();
        for (i, l) in text.lines().enumerate() {
            if l.trim().is_empty() {
                continue;
            }
            let ev = parse_event(path, i as u64 + 1, l, &assets, None).map_err(|r| {
                invalid(format!("{label}: line {}", r.line), "ledger entry", r.reason)
            })?;
            by_id.insert(ev.entry.id.clone(), ev);
        }
        Ok(Ledger { label, by_id, assets })
    }

    /// One transfer.
    ///
    /// # Errors
    /// [`CasesError::Invalid`] naming the transfer and the file.
    pub fn get(&self, id: &str) -> Result<&MonitorEvent> {
        self.by_id.get(id).ok_or_else(|| {
            invalid(
                "transfer",
                id,
                format!("is not in {}; pass the monitor input that holds it", self.label),
            )
        })
    }

    fn decimals(&self, ev: &MonitorEvent) -> u8 {
        self.assets.decimals(&ev.entry.asset).unwrap_or(0)
    }

    fn chain(&self, ev: &MonitorEvent) -> String {
        self.assets
            .get(&ev.entry.asset)
            .map(|a| a.chain.map_or_else(|| "fiat".into(), |c| c.to_string()))
            .unwrap_or_else(|| "unknown".into())
    }
}

/// The transfers of a case's monitor alerts, in alert order, each with its VND value.
fn case_transfers(view: &CaseView) -> Vec<(String, Option<u64>)> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for a in &view.alerts {
        if a.alert.source != AlertSource::Monitor {
            continue;
        }
        let Some(t) = a.alert.evidence.get("transfer_id").and_then(|v| v.as_str()) else {
            continue;
        };
        if seen.insert(t.to_owned()) {
            out.push((t.to_owned(), a.alert.evidence.get("amount_vnd").and_then(|v| v.as_u64())));
        }
    }
    out
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

fn ts(t: UnixTime) -> Timestamp {
    Timestamp(t.0)
}

fn midnight(d: NaiveDate) -> Timestamp {
    Timestamp(d.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp()))
}

fn client_side(
    e: &ReportingEntity,
    k: &KycRecord,
    ip: Option<&str>,
    what: &str,
) -> Result<GoamlSide> {
    let ip_address = match ip {
        Some(s) => {
            Some(s.parse().map_err(|_| invalid(format!("{what} ip"), s, "not an IP address"))?)
        }
        None => None,
    };
    Ok(GoamlSide {
        funds_code: e.funds_code.clone(),
        funds_comment: None,
        country: e.country.clone(),
        ip_address,
        party: GoamlParty::Client(Box::new(ClientAccount {
            institution_name: e.name.clone(),
            institution_code: e.institution_code.clone(),
            branch: e.branch.clone(),
            account: k.customer_id.clone(),
            currency_code: e.currency.clone(),
            account_name: k.full_name(),
            client_number: k.customer_id.clone(),
            account_type: e.account_type.clone(),
            opened: midnight(k.opened),
            status_code: e.account_status.clone(),
            holder: ClientPerson {
                gender: k.gender.clone(),
                first_name: k.first_name.clone(),
                last_name: k.last_name.clone(),
                birthdate: k.birth_date,
                national_id: k.national_id.clone(),
                nationality: k.nationality.clone(),
                residence: k.residence.clone(),
                phones: vec![GoamlPhone {
                    contact_type: e.address_type.clone(),
                    communication_type: "-".into(),
                    country_prefix: k.phone_prefix.clone(),
                    number: k.phone.clone(),
                }],
                addresses: vec![GoamlAddress {
                    address_type: e.address_type.clone(),
                    address: k.address.clone(),
                    city: k.city.clone(),
                    country_code: k.residence.clone(),
                }],
                email: k.email.clone(),
                occupation: k.occupation.clone(),
            },
            holder_role: e.holder_role.clone(),
        })),
    })
}

/// Builds the goAML STR of a case decided `report` (and approved where four-eyes applies):
/// one transaction per transfer its monitor alerts name, the customer with full KYC on the
/// VASP's side, the counterparty wallet (or the other customer) on the other, the virtual-asset
/// details, the decision's reason and every alert's reasons.
///
/// # Errors
/// [`CasesError::Invalid`] naming the case (not decided `report`, no transfers), the transfer
/// (not in the ledger, no VND value), or the customer (no KYC record).
pub fn build_str(
    view: &CaseView,
    entity: &ReportingEntity,
    kyc: &KycBook,
    ledger: &Ledger,
    now: UnixTime,
) -> Result<GoamlReport> {
    let c = &view.case;
    if c.state != CaseState::Closed || c.decision != Some(DecisionKind::Report) {
        return Err(invalid(
            "case",
            c.id.0,
            format!(
                "is {} with decision {}; only a case decided 'report' (and approved) is filed as an STR",
                c.state,
                c.decision.map_or("none", DecisionKind::as_str)
            ),
        ));
    }
    let transfers = case_transfers(view);
    if transfers.is_empty() {
        return Err(invalid(
            "case",
            c.id.0,
            "has no monitor alert with a transfer; an STR reports transactions",
        ));
    }
    let mut txs = Vec::new();
    for (id, vnd) in &transfers {
        let ev = ledger.get(id)?;
        let en = &ev.entry;
        let vnd = vnd.ok_or_else(|| {
            invalid("transfer", id, "has no VND value in its decision (no rate for the asset)")
        })?;
        let k = kyc.get(&en.customer_id, &format!("transfer {id}"))?;
        let me = client_side(entity, k, en.ip.as_deref(), &format!("transfer {id}"))?;
        let other = match (&en.counterparty_customer, &en.counterparty_address) {
            (Some(cust), _) => client_side(
                entity,
                kyc.get(cust, &format!("transfer {id}'s counterparty"))?,
                None,
                &format!("transfer {id}"),
            )?,
            (None, Some(addr)) => GoamlSide {
                funds_code: entity.funds_code.clone(),
                funds_comment: Some(cut(&format!("{} on {}", en.asset, ledger.chain(ev)), 255)),
                country: ev.counterparty_country().map(str::to_owned).unwrap_or_else(|| "-".into()),
                ip_address: None,
                party: GoamlParty::External(ExternalAccount {
                    institution_name: en
                        .counterparty_vasp
                        .clone()
                        .unwrap_or_else(|| "Unhosted wallet".into()),
                    institution_code: ledger.chain(ev),
                    account: addr.to_string(),
                    account_name: None,
                    comments: ev.extras.exposure.as_ref().map(|x| {
                        format!(
                            "exposure: sanctioned {:.3}, mixer {:.3}, scam {:.3}, darknet {:.3}",
                            x.sanctioned, x.mixer, x.scam, x.darknet
                        )
                    }),
                }),
            },
            (None, None) => {
                return Err(invalid(
                    "transfer",
                    id,
                    "has neither a counterparty address nor a counterparty customer",
                ))
            }
        };
        let (from, to) = match en.direction {
            Direction::Deposit => (other, me),
            Direction::Withdrawal | Direction::Internal => (me, other),
        };
        let reasons: Vec<String> = view
            .alerts
            .iter()
            .filter(|a| a.alert.evidence.get("transfer_id").and_then(|v| v.as_str()) == Some(id))
            .flat_map(|a| a.alert.reasons.iter().cloned())
            .collect();
        txs.push(GoamlTransaction {
            number: en.id.clone(),
            location: entity.city.clone(),
            description: format!(
                "{} of {} by customer {}",
                en.direction.as_str(),
                en.asset,
                en.customer_id
            ),
            time: en.time,
            transmode_code: entity.transmode_code.clone(),
            amount_local: floodgate_types::Amount::from_base_units(u128::from(vnd)),
            virtual_asset: Some(VirtualAssetTransfer {
                asset: en.asset.to_string(),
                chain: ledger.chain(ev),
                amount: en.amount,
                decimals: ledger.decimals(ev),
                tx_hash: en.txid.clone(),
                block_number: None,
            }),
            from,
            to,
            comments: (!reasons.is_empty()).then(|| cut(&reasons.join("\n"), 8000)),
        });
    }
    let mut reason = format!(
        "{}\n\nAlerts of case {} ({}):",
        c.decision_reason.as_deref().unwrap_or(""),
        c.id.0,
        c.subject
    );
    for a in &view.alerts {
        reason.push_str(&format!(
            "\n- [{} {}] {}",
            a.alert.source,
            a.alert.rule,
            a.alert.reasons.join("; ")
        ));
    }
    let action = format!(
        "Case {} decided 'report' by {}{}; filed by floodgate.",
        c.id.0,
        c.decided_by.as_ref().map_or("?", |u| u.as_str()),
        c.approved_by.as_ref().map(|u| format!(", approved by {u}")).unwrap_or_default()
    );
    Ok(GoamlReport {
        rentity_id: entity.rentity_id,
        rentity_branch: entity.branch.clone(),
        report_code: GoamlReportCode::Str,
        entity_reference: Some(cut(&format!("floodgate {} case {}", c.tenant, c.id.0), 255)),
        report_date: ts(now),
        currency_code_local: entity.currency.clone(),
        currency_decimals: 0,
        reporting_user_code: entity.reporting_user_code.clone(),
        location: GoamlAddress {
            address_type: entity.address_type.clone(),
            address: entity.address.clone(),
            city: entity.city.clone(),
            country_code: entity.country.clone(),
        },
        reason: cut(reason.trim(), 8000),
        action,
        transactions: txs,
        indicators: entity.indicators.clone(),
    })
}

/// Validates goAML XML against the XSD with `xmllint --schema` (Debian `libxml2-utils`).
///
/// # Errors
/// [`CasesError::Invalid`] with xmllint's first complaint (it names the element), or when
/// xmllint cannot be run.
pub fn xmllint_validate(xml: &str, xsd: &Path) -> Result<()> {
    use std::io::Write as _;
    let mut child = std::process::Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(xsd)
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| {
            invalid(
                "xmllint",
                xsd.display(),
                format!("cannot run xmllint ({e}); install libxml2-utils"),
            )
        })?;
    if let Some(mut i) = child.stdin.take() {
        i.write_all(xml.as_bytes())
            .map_err(|e| invalid("xmllint", xsd.display(), format!("writing to xmllint: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| invalid("xmllint", xsd.display(), format!("xmllint failed: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let first = err.lines().find(|l| l.contains("error")).unwrap_or(err.trim());
    Err(invalid("goAML XML", first.trim(), format!("does not validate against {}", xsd.display())))
}

fn facts(v: &serde_json::Value) -> Vec<(String, String)> {
    match v {
        serde_json::Value::Object(m) => m
            .iter()
            .map(|(k, v)| {
                let s = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), cut(&s, 400))
            })
            .collect(),
        serde_json::Value::String(s) => vec![("note".into(), s.clone())],
        other => vec![("value".into(), cut(&other.to_string(), 400))],
    }
}

/// Builds the HTML case report's content: the case, its alerts, notes and evidence, the
/// decision trail from the audit log, the fund-flow path of its transfers (when the ledger is
/// given) and the case's report obligations.
///
/// # Errors
/// None today beyond the ledger's; kept fallible for the path.
pub fn case_report(
    view: &CaseView,
    ledger: Option<&Ledger>,
    reports: &[ReportObligation],
    now: UnixTime,
    by: &str,
) -> Result<CaseReport> {
    let c = &view.case;
    let alerts = view
        .alerts
        .iter()
        .map(|a| AlertEntry {
            id: a.id.0.to_string(),
            time: ts(a.alert.event_time),
            severity: a.alert.severity.to_string(),
            source: format!("{} {}", a.alert.source, a.alert.rule),
            subject: a.alert.subject.clone(),
            reasons: a.alert.reasons.clone(),
        })
        .collect();
    let evidence = view
        .items
        .iter()
        .map(|it| EvidenceEntry {
            id: it.n.to_string(),
            kind: it.kind.clone(),
            title: if it.label.is_empty() { it.kind.clone() } else { it.label.clone() },
            added_by: it.user.to_string(),
            added_at: ts(it.time),
            facts: facts(&it.body),
        })
        .collect();
    let decisions = view
        .trail
        .iter()
        .filter(|e| e.action.starts_with("case."))
        .map(|e| {
            let before: serde_json::Value = serde_json::from_str(&e.before).unwrap_or_default();
            let after: serde_json::Value = serde_json::from_str(&e.after).unwrap_or_default();
            let (actor, role) = e.actor.split_once(':').unwrap_or((e.actor.as_str(), ""));
            let detail = &after["detail"];
            let note = ["reason", "decision", "assignee", "until", "label"]
                .iter()
                .filter_map(|k| {
                    detail.get(*k).map(|v| {
                        format!("{k}: {}", v.as_str().map_or(v.to_string(), str::to_owned))
                    })
                })
                .collect::<Vec<_>>()
                .join("; ");
            DecisionEntry {
                time: Timestamp(e.time),
                actor: actor.to_owned(),
                role: role.to_owned(),
                action: e.action.trim_start_matches("case.").to_owned(),
                from_state: before["state"].as_str().unwrap_or("—").to_owned(),
                to_state: after["case"]["state"].as_str().unwrap_or("").to_owned(),
                note: (!note.is_empty()).then_some(note),
            }
        })
        .collect();
    let mut path = FundPath::default();
    if let Some(l) = ledger {
        let mut nodes: BTreeMap<String, PathNode> = BTreeMap::new();
        for (id, _) in case_transfers(view) {
            let ev = l.get(&id)?;
            let en = &ev.entry;
            let me = format!("customer:{}", en.customer_id);
            nodes.entry(me.clone()).or_insert_with(|| PathNode {
                id: me.clone(),
                label: en.customer_id.clone(),
                name: Some(format!("customer {}", en.customer_id)),
                category: "customer".into(),
            });
            let (oid, label, cat) = match (&en.counterparty_customer, &en.counterparty_address) {
                (Some(cc), _) => (format!("customer:{cc}"), cc.clone(), "customer"),
                (None, Some(a)) => (format!("address:{a}"), a.to_string(), "unknown"),
                (None, None) => (format!("unknown:{id}"), "unknown".into(), "unknown"),
            };
            nodes.entry(oid.clone()).or_insert_with(|| PathNode {
                id: oid.clone(),
                label,
                name: en.counterparty_vasp.clone(),
                category: cat.into(),
            });
            let (from, to) = match en.direction {
                Direction::Deposit => (oid, me),
                _ => (me, oid),
            };
            path.edges.push(PathEdge {
                from,
                to,
                amount: en.amount,
                decimals: l.decimals(ev),
                asset: en.asset.to_string(),
                time: en.time,
                tx: en.txid.clone().or_else(|| Some(en.id.clone())),
            });
        }
        path.nodes = nodes.into_values().collect();
    }
    let reports = reports
        .iter()
        .filter_map(|r| {
            let ob: floodgate_report::ReportObligation =
                serde_json::from_value(r.reason.clone()).ok()?;
            Some(ReportLine { obligation: ob, filed_at: r.filed_time.map(ts) })
        })
        .collect();
    Ok(CaseReport {
        case: CaseSummary {
            id: c.id.0.to_string(),
            tenant: c.tenant.to_string(),
            title: format!("Case {} — {}", c.id.0, c.subject),
            subject: c.subject.clone(),
            state: c.state.to_string(),
            severity: c.severity.to_string(),
            opened_at: ts(c.created),
            assignee: c.assignee.as_ref().map(ToString::to_string),
            summary: match c.decision {
                Some(d) => format!(
                    "Decided {d} by {}{}: {}",
                    c.decided_by.as_ref().map_or("?", |u| u.as_str()),
                    c.approved_by
                        .as_ref()
                        .map(|u| format!(", approved by {u}"))
                        .unwrap_or_default(),
                    c.decision_reason.as_deref().unwrap_or("")
                ),
                None => format!("{} alert(s), not decided yet", c.alert_count),
            },
        },
        alerts,
        evidence,
        decisions,
        path,
        reports,
        generated_at: ts(now),
        generated_by: by.to_owned(),
    })
}

/// The Viet Nam threshold report (large-value, domestic or international transfer) of one
/// obligation, as floodgate's own JSON layout (`floodgate-vn-report/1`): the State Bank's
/// electronic layout is not public (`docs/reports.md`), so this carries every field the
/// report needs — the VASP, the customer with KYC, the transfers, the amount, the threshold,
/// the legal source and the deadline — for an adapter to map.
///
/// # Errors
/// [`CasesError::Invalid`] for a suspicious/urgent/hold obligation (goAML or the case's own
/// report) or a customer without KYC.
pub fn vn_report(
    ob: &ReportObligation,
    entity: &ReportingEntity,
    kyc: &KycBook,
    ledger: Option<&Ledger>,
    now: UnixTime,
) -> Result<serde_json::Value> {
    use crate::model::ReportKind as K;
    if !matches!(ob.kind, K::LargeValue | K::DomesticTransfer | K::InternationalTransfer) {
        return Err(invalid(
            "report",
            ob.id.0,
            format!("is a {} report; file it as goAML (report generate str)", ob.kind),
        ));
    }
    let customer = ob.subject_ids.first().map(String::as_str).unwrap_or("");
    let k = kyc.get(customer, &format!("report {}", ob.id.0))?;
    let transfers: Vec<serde_json::Value> = ob
        .subject_ids
        .iter()
        .skip(1)
        .map(|id| match ledger.and_then(|l| l.by_id.get(id)) {
            Some(ev) => serde_json::json!({"id": id, "entry": ev.entry, "extras": ev.extras}),
            None => serde_json::json!({"id": id}),
        })
        .collect();
    Ok(serde_json::json!({
        "format": "floodgate-vn-report/1",
        "kind": ob.kind,
        "report_id": ob.id.0,
        "tenant": ob.tenant,
        "reporting_entity": entity,
        "customer": k,
        "transfers": transfers,
        "event_time": ob.event_time.to_rfc3339(),
        "due_time": ob.due_time.to_rfc3339(),
        "generated": now.to_rfc3339(),
        "obligation": ob.reason,
    }))
}

fn natural(name: &str, k: Option<&KycRecord>, account: &str) -> Person {
    let (primary, secondary) = match k {
        Some(k) => (k.last_name.clone(), Some(k.first_name.clone())),
        None => (name.to_owned(), None),
    };
    Person {
        natural_person: Some(NaturalPerson {
            name: NaturalPersonName {
                name_identifier: vec![NaturalPersonNameId {
                    primary_identifier: primary,
                    secondary_identifier: secondary,
                    name_identifier_type: "LEGL".into(),
                }],
                ..Default::default()
            },
            national_identification: k.map(|k| NationalIdentification {
                national_identifier: k.national_id.clone(),
                national_identifier_type: "IDCD".into(), // identity card number (IVMS101 code list)
                country_of_issue: Some(k.nationality.clone()),
                registration_authority: None,
            }),
            customer_identification: k.map(|_| account.to_owned()),
            date_and_place_of_birth: k.map(|k| DateAndPlaceOfBirth {
                date_of_birth: k.birth_date.to_string(),
                place_of_birth: k.place_of_birth.clone().unwrap_or_else(|| k.city.clone()),
            }),
            country_of_residence: k.map(|k| k.residence.clone()),
            ..Default::default()
        }),
        legal_person: None,
    }
}

fn vasp(name: &str, lei: Option<&str>, country: Option<&str>) -> Person {
    Person {
        natural_person: None,
        legal_person: Some(LegalPerson {
            name: LegalPersonName {
                name_identifier: vec![LegalPersonNameId {
                    legal_person_name: name.to_owned(),
                    legal_person_name_identifier_type: "LEGL".into(),
                }],
                ..Default::default()
            },
            national_identification: lei.map(|l| NationalIdentification {
                national_identifier: l.to_owned(),
                national_identifier_type: "LEIX".into(),
                country_of_issue: None,
                registration_authority: None,
            }),
            country_of_registration: country.map(str::to_owned),
            ..Default::default()
        }),
    }
}

/// The IVMS101 payload of a VASP-to-VASP transfer of USD 1,000 or more: the VASP's customer
/// from KYC, the other party from the transfer's travel-rule fields, both VASPs.
///
/// # Errors
/// [`CasesError::Invalid`] naming the transfer (no counterparty VASP or address, no
/// travel-rule name for the other party, no USD value), the customer (no KYC), or the
/// IVMS101 field; [`CasesError::Report`] under the threshold.
pub fn travel_rule(
    ev: &MonitorEvent,
    usd_cents: u64,
    entity: &ReportingEntity,
    kyc: &KycBook,
    today: NaiveDate,
) -> Result<IdentityPayload> {
    let en = &ev.entry;
    let id = &en.id;
    let other_vasp = en.counterparty_vasp.as_deref().ok_or_else(|| {
        invalid(
            "transfer",
            id,
            "has no counterparty_vasp: an unhosted wallet gets no VASP-to-VASP payload",
        )
    })?;
    let addr = en
        .counterparty_address
        .as_ref()
        .map(ToString::to_string)
        .ok_or_else(|| invalid("transfer", id, "has no counterparty_address"))?;
    let k = kyc.get(&en.customer_id, &format!("transfer {id}"))?;
    let tr = ev.travel_rule().cloned().unwrap_or_default();
    let me = natural("", Some(k), &en.customer_id);
    let mine = vasp(&entity.name, entity.lei.as_deref(), Some(&entity.country));
    let theirs = vasp(other_vasp, None, ev.counterparty_country());
    let t = match en.direction {
        Direction::Deposit => {
            let name = tr.originator_name.ok_or_else(|| {
                invalid(
                    format!("transfer {id}: travel_rule.originator_name"),
                    "",
                    "is required for a deposit's payload",
                )
            })?;
            TravelRuleTransfer {
                value: Cents(usd_cents),
                currency: Currency::Usd,
                originator: natural(&name, None, ""),
                originator_account: tr.originator_account.unwrap_or(addr),
                beneficiary: me,
                beneficiary_account: en.customer_id.clone(),
                originating_vasp: theirs,
                beneficiary_vasp: mine,
            }
        }
        _ => {
            let name = tr.beneficiary_name.ok_or_else(|| {
                invalid(
                    format!("transfer {id}: travel_rule.beneficiary_name"),
                    "",
                    "is required for a withdrawal's payload",
                )
            })?;
            TravelRuleTransfer {
                value: Cents(usd_cents),
                currency: Currency::Usd,
                originator: me,
                originator_account: en.customer_id.clone(),
                beneficiary: natural(&name, None, ""),
                beneficiary_account: tr.beneficiary_account.unwrap_or(addr),
                originating_vasp: mine,
                beneficiary_vasp: theirs,
            }
        }
    };
    Ok(floodgate_report::travel_rule_payload(&t, today)?)
}

/// The suspicious-transaction obligation of a case decided `report`, due on the Viet Nam
/// working-day calendar (the earlier of 3 working days from the first transaction and 1 from
/// detection, the case's opening). Dedup key `report:suspicious:case:<id>`, so filing twice
/// finds the same obligation. When the calendar cannot date it (a year without a calendar
/// file) the deadline is the filing time and the reason says why.
pub fn str_obligation(view: &CaseView, now: UnixTime) -> crate::model::NewReport {
    let c = &view.case;
    let transfers: Vec<(String, Option<u64>)> = case_transfers(view);
    let first = view.alerts.iter().map(|a| a.alert.event_time).min().unwrap_or(c.created);
    let input = floodgate_report::ObligationInput {
        kind: floodgate_report::ReportKind::Suspicious,
        jurisdiction: "vn".into(),
        customer_id: c.subject.clone(),
        transfer_ids: if transfers.is_empty() {
            vec![format!("case:{}", c.id.0)]
        } else {
            transfers.iter().map(|t| t.0.clone()).collect()
        },
        amount_vnd: floodgate_report::Vnd(transfers.iter().filter_map(|t| t.1).sum()),
        transaction_time: ts(first),
        detected_time: ts(c.created),
        reasons: vec![c.decision_reason.clone().unwrap_or_default()],
        source: "Law on AML 14/2022/QH15 art. 26".into(),
    };
    let (due, reason) = match floodgate_report::ReportObligation::new(
        floodgate_report::WorkingCalendar::vn(),
        input,
    ) {
        Ok(ob) => (
            UnixTime(ob.deadline.due.0),
            serde_json::to_value(&ob).unwrap_or(serde_json::Value::Null),
        ),
        Err(e) => (
            now.max(first),
            serde_json::json!({"case": c.id.0, "note": format!("deadline not computed: {e}")}),
        ),
    };
    let mut subject_ids = vec![c.subject.clone()];
    subject_ids.extend(transfers.into_iter().map(|t| t.0));
    crate::model::NewReport {
        kind: crate::model::ReportKind::Suspicious,
        subject_ids,
        event_time: first,
        detected_time: c.created,
        due_time: due,
        reason,
        dedup_key: format!("report:suspicious:case:{}", c.id.0),
    }
}

/// Renders a goAML report (see [`floodgate_report::goaml::render`]).
///
/// # Errors
/// [`CasesError::Report`] naming the element path the schema would reject.
pub fn render_goaml(r: &GoamlReport) -> Result<String> {
    Ok(floodgate_report::goaml::render(r)?)
}

/// Renders the HTML case report (see [`floodgate_report::render_html`]).
///
/// # Errors
/// [`CasesError::Report`] naming the field.
pub fn render_case_html(r: &CaseReport) -> Result<String> {
    Ok(floodgate_report::render_html(r)?)
}

/// SHA-256 of a document, lowercase hex (what [`crate::CaseStore::file_report`] records).
pub fn sha256_hex(doc: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(doc))
}
