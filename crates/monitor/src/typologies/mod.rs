//! The built-in typologies, one file each, and their registration list.
//!
//! **To add a typology:** write `typologies/<name>.rs` with a unit struct implementing
//! [`Typology`] (its rule id and `[typology.<name>]` section, the sliding aggregates it needs,
//! and `check`, which turns one event into hits with reasons and evidence), add its settings
//! struct and field to [`Typologies`] in `pack.rs`, and add one line to [`REGISTRY`]. The
//! engine, the rule count, span validation and `rules check` follow from the list.
//!
//! Hits come out in [`REGISTRY`] order, so the order is part of every decision's output.

use serde_json::json;

use floodgate_types::{Direction, Timestamp};

use crate::customer::Customer;
use crate::decision::{GroupAlert, Hit, HitKind};
use crate::facts::AddressRisk;
use crate::fiat::FiatValue;
use crate::input::MonitorEvent;
use crate::pack::{parse_span, Common, DirFilter, Severity, Typologies};
use crate::state::{Account, Before, Ev, Member, State};

mod dormant_reactivation;
mod fan;
mod high_risk_geography;
mod indirect_exposure;
mod listed_counterparty;
mod mixer_exposure;
mod new_account_large;
mod pass_through;
mod peel_chain;
mod pig_butchering;
mod sanctioned_counterparty;
mod shared_attribute;
mod structuring;
mod travel_rule_missing;

/// Every built-in typology, in the order their hits appear in a decision.
pub(crate) static REGISTRY: &[&dyn Typology] = &[
    &sanctioned_counterparty::SanctionedCounterparty,
    &listed_counterparty::ListedCounterparty,
    &mixer_exposure::MixerExposure,
    &indirect_exposure::IndirectExposure,
    &structuring::Structuring,
    &pass_through::PassThrough,
    &new_account_large::NewAccountLarge,
    &dormant_reactivation::DormantReactivation,
    &fan::FAN_IN,
    &fan::FAN_OUT,
    &peel_chain::PeelChain,
    &shared_attribute::SHARED_DEVICE,
    &shared_attribute::SHARED_IP,
    &shared_attribute::SHARED_WITHDRAWAL_ADDRESS,
    &pig_butchering::PigButchering,
    &high_risk_geography::HighRiskGeography,
    &travel_rule_missing::TravelRuleMissing,
];

/// One built-in typology.
pub(crate) trait Typology: Sync {
    /// Its rule id (of its hits) and its section `[typology.<name>]` in the rule pack.
    fn name(&self) -> &'static str;

    /// Whether the running pack configures it (`Some`) and switches it on (`Some(true)`).
    fn enabled(&self, t: &Typologies) -> Option<bool>;

    /// Its window setting, validated when a pack is compiled (spans like `24h`, at most 35d).
    fn window<'a>(&self, _t: &'a Typologies) -> Option<&'a str> {
        None
    }

    /// A further check of its settings: `(text to point at, message)` when they are invalid.
    fn validate(&self, _t: &Typologies) -> Option<(&'static str, String)> {
        None
    }

    /// The sliding-window aggregates it needs over the account's recent events; `check`
    /// receives their values in the same order.
    fn aggregates(&self, _t: &Typologies) -> Vec<Spec> {
        Vec::new()
    }

    /// Checks one event (already applied to the state): pushes hits with reasons and
    /// evidence, and notes on what could not be checked.
    fn check(&self, t: &Typologies, cx: &Ctx<'_>, agg: &[u128], out: &mut Findings<'_>);
}

/// What a sliding aggregate computes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// Number of events.
    Count,
    /// Sum of whole VND.
    SumVnd,
    /// Sum of US cents.
    SumUsd,
    /// Distinct counterparties.
    Distinct,
    /// Events with a US-cent value in `[lo, hi)`.
    CountUsdIn(u128, u128),
}

/// One sliding aggregate: over the events of the last `span` seconds in direction `dir`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec {
    /// Window length, seconds.
    pub(crate) span: i64,
    /// Which events count.
    pub(crate) dir: DirFilter,
    /// What is computed.
    pub(crate) kind: Kind,
}

/// Everything a typology looks at for one event.
pub(crate) struct Ctx<'a> {
    pub(crate) ev: &'a MonitorEvent,
    pub(crate) acct: &'a Account,
    pub(crate) state: &'a State,
    pub(crate) now: i64,
    pub(crate) before: Before,
    pub(crate) fiat: Option<FiatValue>,
    pub(crate) customer: Option<&'a Customer>,
    pub(crate) addr_risk: Option<AddressRisk>,
    pub(crate) vasp_risk: Option<AddressRisk>,
    /// Every aggregate's value (each typology gets its own slice as `agg`).
    pub(crate) agg: Vec<u128>,
    /// Whether any screening list is loaded.
    pub(crate) screening: bool,
    /// Counterparty country: from the transfer, else from the VASP directory (then `true`).
    pub(crate) cp_country: Option<(&'a str, bool)>,
}

impl Ctx<'_> {
    pub(crate) fn usd(&self) -> u128 {
        self.fiat.map_or(0, |f| f.usd_cents)
    }
    pub(crate) fn account_opened(&self) -> i64 {
        self.customer
            .and_then(|c| c.onboarded)
            .map(|t| t.0)
            .or(self.acct.first_time)
            .unwrap_or(self.now)
    }
    pub(crate) fn dir(&self) -> Direction {
        self.ev.entry.direction
    }
    pub(crate) fn has_fiat(&self) -> bool {
        self.fiat.is_some()
    }
    /// Direct list findings on the counterparty address and VASP.
    pub(crate) fn risks(&self) -> Vec<&AddressRisk> {
        [self.addr_risk.as_ref(), self.vasp_risk.as_ref()].into_iter().flatten().collect()
    }
}

/// Where a typology's findings go.
pub(crate) struct Findings<'a> {
    pub(crate) hits: &'a mut Vec<Hit>,
    pub(crate) notes: &'a mut Vec<String>,
    pub(crate) group_alerts: &'a mut Vec<GroupAlert>,
}

impl Findings<'_> {
    /// A note on what could not be checked, once per decision.
    pub(crate) fn note(&mut self, n: &str) {
        if !self.notes.iter().any(|x| x == n) {
            self.notes.push(n.to_owned());
        }
    }
}

pub(crate) const DAY: i64 = 86_400;

pub(crate) fn span(s: &str) -> i64 {
    parse_span(s).expect("spans are validated when the pack is compiled")
}

pub(crate) fn hit(
    id: &str,
    kind: HitKind,
    c: &Common,
    severity: Severity,
    reason: String,
    evidence: serde_json::Value,
) -> Hit {
    Hit {
        rule_id: id.to_owned(),
        kind,
        severity,
        action: c.action,
        score: severity.points(),
        reason,
        evidence,
        source: c.source.clone(),
    }
}

pub(crate) fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

pub(crate) fn usd(cents: u128) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

pub(crate) fn bump(s: Severity) -> Severity {
    match s {
        Severity::Low => Severity::Medium,
        Severity::Medium => Severity::High,
        _ => Severity::Critical,
    }
}

/// Evidence of a list hit on the counterparty: who it is and which list entry matched.
pub(crate) fn list_evidence(cx: &Ctx<'_>, r: &AddressRisk) -> serde_json::Value {
    let e = &cx.ev.entry;
    json!({"counterparty_address": e.counterparty_address, "counterparty_vasp": e.counterparty_vasp, "list": r})
}

/// `2025-09-02T10:00:00Z`.
pub(crate) fn when(t: i64) -> String {
    Timestamp(t).to_rfc3339()
}

/// A group member and its transfers, for a reason: `c1 (tx-1 at …, USD 300.00)`.
pub(crate) fn member_text(m: &Member) -> String {
    let txs: Vec<String> = m
        .transfers
        .iter()
        .map(|(id, t, usd_c)| format!("{id} at {}, USD {}", when(*t), usd(*usd_c)))
        .collect();
    format!("{} ({})", m.customer, txs.join("; "))
}

pub(crate) fn member_json(m: &Member) -> serde_json::Value {
    json!({
        "customer_id": m.customer,
        "last_used": Timestamp(m.last),
        "transfers": m.transfers.iter().map(|(id, t, c)| json!({"id": id, "time": Timestamp(*t), "amount_usd_cents": c})).collect::<Vec<_>>(),
    })
}

pub(crate) fn counterparty_text(cx: &Ctx<'_>) -> String {
    let e = &cx.ev.entry;
    e.counterparty_address
        .as_ref()
        .map(ToString::to_string)
        .or_else(|| e.counterparty_vasp.clone())
        .or_else(|| e.counterparty_customer.clone())
        .unwrap_or_else(|| "(unknown)".into())
}

/// The account's transfers within `w` before now that match `f`, oldest first.
pub(crate) fn txs_in<'a>(cx: &Ctx<'a>, w: i64, f: impl Fn(&Ev) -> bool) -> Vec<&'a Ev> {
    let mut v: Vec<&Ev> =
        cx.acct.events.iter().rev().take_while(|x| cx.now - x.time < w).filter(|x| f(x)).collect();
    v.reverse();
    v
}

/// Transfers for a reason: `tx-1 at 2025-09-02T10:00:00Z, USD 300.00; …` (the first 10, then
/// how many more; the evidence lists them all).
pub(crate) fn txs_text(txs: &[&Ev]) -> String {
    const SHOWN: usize = 10;
    let mut v: Vec<String> = txs
        .iter()
        .take(SHOWN)
        .map(|x| format!("{} at {}, USD {}", x.id, when(x.time), usd(x.usd)))
        .collect();
    if txs.len() > SHOWN {
        v.push(format!("and {} more", txs.len() - SHOWN));
    }
    v.join("; ")
}

pub(crate) fn txs_json(txs: &[&Ev]) -> serde_json::Value {
    txs.iter()
        .map(|x| json!({"id": x.id, "time": Timestamp(x.time), "direction": x.dir.as_str(), "amount_usd_cents": x.usd, "amount_vnd": x.vnd}))
        .collect()
}
