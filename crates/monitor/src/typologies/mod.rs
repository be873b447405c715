//! The built-in typologies, one file each, and their registration list.
//!
//! **To add a typology:** write `typologies/<name>.rs` with its settings struct (declared
//! with `crate::pack::typology_struct!`, so it has the common keys `enabled`, `severity`,
//! `action`, `source` and refuses unknown keys) and a unit struct implementing [`Typology`]
//! (its rule id and `[typology.<name>]` section, its settings type, the sliding aggregates it
//! needs, and `check`, which turns one event into hits with reasons and evidence), then add
//! `pub mod <name>;` and one line to [`REGISTRY`]. Its section is parsed by its own settings
//! type ([`parse_sections`]); the engine, the rule count, span validation and `rules check`
//! follow from the list. Nothing in `pack.rs` changes.
//!
//! Hits come out in [`REGISTRY`] order, so the order is part of every decision's output.

use std::any::Any;
use std::path::Path;
use std::sync::Arc;

use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::Serialize;
use serde_json::json;

use floodgate_types::{Direction, Timestamp};

use crate::customer::Customer;
use crate::decision::{Evidence, GroupAlert, Hit, HitKind};
use crate::error::MonitorError;
use crate::facts::AddressRisk;
use crate::fiat::FiatValue;
use crate::input::MonitorEvent;
use crate::pack::{line_col, parse_span, Action, Common, DirFilter, Severity};
use crate::state::{Account, Before, Ev, Ids, Member, State};

pub mod dormant_reactivation;
pub mod fan;
pub mod high_risk_geography;
pub mod indirect_exposure;
pub mod listed_counterparty;
pub mod mixer_exposure;
pub mod new_account_large;
pub mod pass_through;
pub mod peel_chain;
pub mod pig_butchering;
pub mod sanctioned_counterparty;
pub mod shared_attribute;
pub mod structuring;
pub mod travel_rule_missing;

/// Every built-in typology, in the order their hits appear in a decision.
pub(crate) static REGISTRY: &[&dyn Registered] = &[
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
    &shared_attribute::SHARED_BANK_ACCOUNT,
    &pig_butchering::PigButchering,
    &high_risk_geography::HighRiskGeography,
    &travel_rule_missing::TravelRuleMissing,
];

/// A typology's settings: its own `[typology.<name>]` section, deserialized by itself.
/// Implemented by `crate::pack::typology_struct!`.
pub trait Settings: DeserializeOwned + std::fmt::Debug + Send + Sync + 'static {
    /// The keys every typology has.
    fn common(&self) -> Common;
    /// Whether it is switched on (`common().enabled`, without copying the rest).
    fn enabled(&self) -> bool;
}

/// One built-in typology.
pub(crate) trait Typology: Sync {
    /// Its settings, parsed from its own section.
    type Settings: Settings;

    /// Its rule id (of its hits) and its section `[typology.<name>]` in the rule pack.
    fn name(&self) -> &'static str;

    /// Its window setting, validated when a pack is compiled (spans like `24h`, at most 35d).
    fn window<'a>(&self, _s: &'a Self::Settings) -> Option<&'a str> {
        None
    }

    /// A further check of its settings: `(text to point at, message)` when they are invalid.
    fn validate(&self, _s: &Self::Settings) -> Option<(&'static str, String)> {
        None
    }

    /// The sliding-window aggregates it needs over the account's recent events (asked only
    /// when it is switched on); `check` receives their values in the same order.
    fn aggregates(&self, _s: &Self::Settings) -> Vec<Spec> {
        Vec::new()
    }

    /// Checks one event (already applied to the state), when it is switched on: pushes hits
    /// with reasons and evidence, and notes on what could not be checked.
    fn check(&self, s: &Self::Settings, cx: &Ctx<'_>, agg: &[u128], out: &mut Findings<'_>);
}

/// Parsed settings behind a type-erased pointer (kept in [`Typologies`]).
pub(crate) trait AnySettings: Any + std::fmt::Debug + Send + Sync {
    fn as_any(&self) -> &dyn Any;
}

impl<S: Settings> AnySettings for S {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The registry's view of a [`Typology`]: the same operations over its type-erased settings
/// (`None` when the pack has no section for it).
pub(crate) trait Registered: Sync {
    fn name(&self) -> &'static str;
    /// Deserializes its section (merged with the base pack's).
    fn parse(&self, section: toml::Value) -> Result<Arc<dyn AnySettings>, toml::de::Error>;
    /// Deserializes its section straight from a file's text, for an error with a position.
    fn parse_text(&self, text: &str) -> Result<(), toml::de::Error>;
    fn enabled(&self, s: Option<&dyn AnySettings>) -> Option<bool>;
    fn window<'a>(&self, s: Option<&'a dyn AnySettings>) -> Option<&'a str>;
    fn validate(&self, s: Option<&dyn AnySettings>) -> Option<(&'static str, String)>;
    fn aggregates(&self, s: Option<&dyn AnySettings>) -> Vec<Spec>;
    fn check(
        &self,
        s: Option<&dyn AnySettings>,
        cx: &Ctx<'_>,
        agg: &[u128],
        out: &mut Findings<'_>,
    );
}

fn downcast<S: Settings>(s: Option<&dyn AnySettings>) -> Option<&S> {
    s.and_then(|s| s.as_any().downcast_ref::<S>())
}

impl<T: Typology> Registered for T {
    fn name(&self) -> &'static str {
        Typology::name(self)
    }
    fn parse(&self, section: toml::Value) -> Result<Arc<dyn AnySettings>, toml::de::Error> {
        Ok(Arc::new(section.try_into::<T::Settings>()?))
    }
    fn parse_text(&self, text: &str) -> Result<(), toml::de::Error> {
        let seed =
            SectionSeed::<T::Settings> { name: Typology::name(self), _s: std::marker::PhantomData };
        seed.deserialize(toml::Deserializer::new(text)).map(|_| ())
    }
    fn enabled(&self, s: Option<&dyn AnySettings>) -> Option<bool> {
        downcast::<T::Settings>(s).map(Settings::enabled)
    }
    fn window<'a>(&self, s: Option<&'a dyn AnySettings>) -> Option<&'a str> {
        Typology::window(self, downcast::<T::Settings>(s)?)
    }
    fn validate(&self, s: Option<&dyn AnySettings>) -> Option<(&'static str, String)> {
        Typology::validate(self, downcast::<T::Settings>(s)?)
    }
    fn aggregates(&self, s: Option<&dyn AnySettings>) -> Vec<Spec> {
        match downcast::<T::Settings>(s).filter(|s| s.enabled()) {
            Some(s) => Typology::aggregates(self, s),
            None => Vec::new(),
        }
    }
    fn check(
        &self,
        s: Option<&dyn AnySettings>,
        cx: &Ctx<'_>,
        agg: &[u128],
        out: &mut Findings<'_>,
    ) {
        if let Some(s) = downcast::<T::Settings>(s).filter(|s| s.enabled()) {
            Typology::check(self, s, cx, agg, out);
        }
    }
}

/// The built-in typologies a pack configures, each with the settings its own section gave
/// (absent ones are off).
#[derive(Clone, Default)]
pub struct Typologies {
    /// Per [`REGISTRY`] entry (empty when none is configured).
    slots: Vec<Option<Arc<dyn AnySettings>>>,
}

impl std::fmt::Debug for Typologies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for (t, s) in REGISTRY.iter().zip(&self.slots) {
            if let Some(s) = s {
                m.entry(&t.name(), s);
            }
        }
        m.finish()
    }
}

impl Typologies {
    /// The settings of the typology `name` (its `[typology.<name>]` section), when the pack
    /// configures it and `S` is its settings type.
    pub fn get<S: Settings>(&self, name: &str) -> Option<&S> {
        let i = REGISTRY.iter().position(|t| t.name() == name)?;
        downcast::<S>(self.slot(i))
    }

    /// The names of the configured typologies, in [`REGISTRY`] order.
    pub fn configured(&self) -> Vec<&'static str> {
        REGISTRY
            .iter()
            .zip(&self.slots)
            .filter(|(_, s)| s.is_some())
            .map(|(t, _)| t.name())
            .collect()
    }

    /// Every built-in typology with whether this pack switches it on, in [`REGISTRY`] order.
    pub fn switched_on(&self) -> Vec<(&'static str, bool)> {
        REGISTRY
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name(), t.enabled(self.slot(i)) == Some(true)))
            .collect()
    }

    /// The settings of [`REGISTRY`] entry `i`.
    pub(crate) fn slot(&self, i: usize) -> Option<&dyn AnySettings> {
        self.slots.get(i).and_then(|s| s.as_deref())
    }
}

/// Deserializes only `[typology.<name>]` of a whole rules file, so that a bad key or value
/// is reported at its line and column.
struct SectionSeed<'n, S> {
    name: &'n str,
    _s: std::marker::PhantomData<S>,
}

impl<'de, S: Settings> DeserializeSeed<'de> for SectionSeed<'_, S> {
    type Value = Option<S>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<S>, D::Error> {
        d.deserialize_map(SectionVisitor::<S> { path: &["typology"], name: self.name, _s: self._s })
    }
}

struct SectionVisitor<'n, S> {
    /// Tables still to descend into before the section.
    path: &'static [&'static str],
    name: &'n str,
    _s: std::marker::PhantomData<S>,
}

impl<'de, S: Settings> Visitor<'de> for SectionVisitor<'_, S> {
    type Value = Option<S>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a table")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<S>, A::Error> {
        let mut out = None;
        while let Some(k) = map.next_key::<String>()? {
            match self.path.split_first() {
                Some((first, rest)) if k == *first => {
                    let inner = SectionVisitor::<S> { path: rest, name: self.name, _s: self._s };
                    out = map.next_value_seed(MapSeed(inner))?;
                }
                None if k == self.name => out = Some(map.next_value::<S>()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

struct MapSeed<V>(V);

impl<'de, V: Visitor<'de>> DeserializeSeed<'de> for MapSeed<V> {
    type Value = V::Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        d.deserialize_map(self.0)
    }
}

/// Builds [`Typologies`] from a pack's `typology` table (the base pack's merged with the
/// file's): each `[typology.<name>]` section is handed to that typology's own settings type.
/// `text` is the file as written, for positions.
///
/// # Errors
/// [`MonitorError::Rules`] naming the file, line and column, the section and the key: an
/// unknown typology, an unknown or missing key, a value of the wrong type.
pub(crate) fn parse_sections(
    path: &Path,
    text: &str,
    section: Option<toml::Value>,
) -> Result<Typologies, MonitorError> {
    let err = |off: usize, message: String| {
        let (line, column) = line_col(text, off);
        MonitorError::Rules { path: path.to_owned(), line, column, message }
    };
    let at = |needle: &str| text.find(needle).unwrap_or(0);
    let table = match section {
        None => return Ok(Typologies::default()),
        Some(toml::Value::Table(t)) => t,
        Some(_) => {
            return Err(err(
                at("typology"),
                "'typology' must be a table of [typology.<name>] sections".into(),
            ))
        }
    };
    let mut slots: Vec<Option<Arc<dyn AnySettings>>> = vec![None; REGISTRY.len()];
    for (name, value) in table {
        let header = format!("typology.{name}");
        let Some(i) = REGISTRY.iter().position(|t| t.name() == name) else {
            let known: Vec<&str> = REGISTRY.iter().map(|t| t.name()).collect();
            let off = text.find(&header).map_or_else(|| at(&name), |o| o + "typology.".len());
            return Err(err(
                off,
                format!("unknown typology [typology.{name}] (known: {})", known.join(", ")),
            ));
        };
        if !value.is_table() {
            return Err(err(at(&name), format!("[typology.{name}] must be a table")));
        }
        let t = REGISTRY[i];
        let parsed = t.parse(value).map_err(|e| {
            // The merged table has no positions: read the file's own section for one. With
            // `extends`, the file's section alone may lack keys the base pack gives, so its
            // error counts only when it is the same one.
            match t.parse_text(text) {
                Err(e2) if e2.message() == e.message() => {
                    let off = e2.span().map_or_else(|| at(&header), |s| s.start);
                    err(off, format!("[typology.{name}]: {}", e2.message()))
                }
                _ => err(at(&header), format!("[typology.{name}]: {}", e.message())),
            }
        })?;
        slots[i] = Some(parsed);
    }
    Ok(Typologies { slots })
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
    /// Counterparty country: from the transfer, else from the bank's BIC, else from the VASP
    /// directory, with how it was found for reasons (`""` when the transfer gave it, else
    /// `" (counterparty country from …)"`).
    pub(crate) cp_country: Option<(&'a str, &'static str)>,
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
    action: Action,
    source: &str,
    severity: Severity,
    reason: String,
    evidence: Evidence,
) -> Hit {
    Hit {
        rule_id: id.to_owned(),
        kind,
        severity,
        action,
        score: severity.points(),
        reason,
        evidence,
        source: source.to_owned(),
    }
}

pub(crate) fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// US cents as `123.45`, written straight into the text it is formatted into.
pub(crate) fn usd(cents: u128) -> Usd {
    Usd(cents)
}

/// See [`usd`].
pub(crate) struct Usd(u128);

impl std::fmt::Display for Usd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

pub(crate) fn bump(s: Severity) -> Severity {
    match s {
        Severity::Low => Severity::Medium,
        Severity::Medium => Severity::High,
        _ => Severity::Critical,
    }
}

/// Evidence of a list hit on the counterparty: who it is and which list entry matched.
pub(crate) fn list_evidence(cx: &Ctx<'_>, r: &AddressRisk) -> Evidence {
    let e = &cx.ev.entry;
    Evidence::from(
        json!({"counterparty_address": e.counterparty_address, "counterparty_vasp": e.counterparty_vasp, "list": r, "transfer": this_tx_json(cx)}),
    )
}

/// `2025-09-02T10:00:00Z`.
pub(crate) fn when(t: i64) -> When {
    When(t)
}

/// A time as [`Timestamp::to_rfc3339`] writes it, written straight into the text it is
/// formatted into (reasons name many times; chrono's formatter and a `String` per time cost
/// more than the rest of a typical reason).
pub(crate) struct When(i64);

impl std::fmt::Display for When {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match Timestamp(self.0).rfc3339_bytes() {
            Some(b) => f.write_str(std::str::from_utf8(&b).map_err(|_| std::fmt::Error)?),
            None => f.write_str(&Timestamp(self.0).to_rfc3339()),
        }
    }
}

/// A time in evidence: serialized as a [`Timestamp`] is (its RFC 3339 text), written in
/// place as [`When`] writes it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Time(pub(crate) i64);

impl Serialize for Time {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&When(self.0))
    }
}

/// A group member and its transfers, for a reason: `c1 (tx-1 at …, USD 300.00)`.
pub(crate) fn member_text(ids: &Ids, m: &Member) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(16 + 48 * m.transfers.len());
    s.push_str(&m.customer);
    s.push_str(" (");
    for (i, (id, t, usd_c)) in m.transfers.iter().enumerate() {
        if i > 0 {
            s.push_str("; ");
        }
        let _ = write!(s, "{} at {}, USD {}", ids.get(*id), when(*t), usd(*usd_c));
    }
    s.push(')');
    s
}

pub(crate) fn member_json(ids: &Ids, m: &Member) -> serde_json::Value {
    json!({
        "customer_id": m.customer,
        "last_used": Timestamp(m.last),
        "transfers": m.transfers.iter().map(|(id, t, c)| json!({"id": ids.get(*id), "time": Timestamp(*t), "amount_usd_cents": c})).collect::<Vec<_>>(),
    })
}

/// This transfer for a reason: `w-9 (withdrawal) at 2025-09-02T10:00:00Z, USD 300.00`,
/// written straight into the reason it is formatted into.
pub(crate) fn this_tx<'a>(cx: &Ctx<'a>) -> ThisTxText<'a> {
    ThisTxText { e: &cx.ev.entry, now: cx.now, fiat: cx.fiat }
}

/// See [`this_tx`].
pub(crate) struct ThisTxText<'a> {
    e: &'a floodgate_types::LedgerEntry,
    now: i64,
    fiat: Option<crate::fiat::FiatValue>,
}

impl std::fmt::Display for ThisTxText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let e = self.e;
        write!(f, "{} ({}) at {}, ", e.id, e.direction.as_str(), when(self.now))?;
        match self.fiat {
            Some(v) => write!(f, "USD {}", usd(v.usd_cents)),
            None => write!(f, "{} {} (no fiat rate)", e.amount, e.asset),
        }
    }
}

/// This transfer for evidence (keys in sorted order, see [`Evidence::of`]).
#[derive(Serialize)]
pub(crate) struct ThisTx<'a> {
    amount_usd_cents: Option<u128>,
    amount_vnd: Option<u128>,
    direction: &'static str,
    id: &'a str,
    time: Time,
}

/// This transfer for evidence.
pub(crate) fn this_tx_json<'a>(cx: &Ctx<'a>) -> ThisTx<'a> {
    let e = &cx.ev.entry;
    ThisTx {
        amount_usd_cents: cx.fiat.map(|f| f.usd_cents),
        amount_vnd: cx.fiat.map(|f| f.vnd),
        direction: e.direction.as_str(),
        id: &e.id,
        time: Time(cx.now),
    }
}

pub(crate) fn counterparty_text(cx: &Ctx<'_>) -> String {
    let e = &cx.ev.entry;
    e.counterparty_address
        .as_ref()
        .map(ToString::to_string)
        .or_else(|| e.bank_account().map(|b| format!("bank account {b}")))
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
pub(crate) fn txs_text(ids: &Ids, txs: &[&Ev]) -> String {
    use std::fmt::Write;
    const SHOWN: usize = 10;
    let mut s = String::with_capacity(56 * txs.len().min(SHOWN + 1));
    for (i, x) in txs.iter().take(SHOWN).enumerate() {
        if i > 0 {
            s.push_str("; ");
        }
        let _ = write!(s, "{} at {}, USD {}", ids.get(x.id), when(x.time), usd(x.usd));
    }
    if txs.len() > SHOWN {
        let _ = write!(s, "; and {} more", txs.len() - SHOWN);
    }
    s
}

/// A remembered transfer for evidence (keys in sorted order, see [`Evidence::of`]).
#[derive(Serialize)]
struct TxJson<'a> {
    amount_usd_cents: u128,
    amount_vnd: u128,
    direction: &'static str,
    id: &'a str,
    time: Time,
}

/// Transfers for evidence: `[{"amount_usd_cents", "amount_vnd", "direction", "id", "time"}]`.
pub(crate) struct Txs<'a>(pub(crate) &'a Ids, pub(crate) &'a [&'a Ev]);

impl Serialize for Txs<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.1.iter().map(|x| TxJson {
            amount_usd_cents: x.usd,
            amount_vnd: x.vnd,
            direction: x.dir.as_str(),
            id: self.0.get(x.id),
            time: Time(x.time),
        }))
    }
}

/// The ids of transfers for evidence: `["tx-1", …]`.
pub(crate) struct TxIds<'a>(pub(crate) &'a Ids, pub(crate) &'a [&'a Ev]);

impl Serialize for TxIds<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.1.iter().map(|x| self.0.get(x.id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast time text is chrono's, across the years reasons meet and beyond them.
    #[test]
    fn when_writes_what_timestamp_writes() {
        let mut t: i64 = -62_167_219_200 - 86_400 * 400; // before year 0
        while t < 253_402_300_800 + 86_400 * 400 {
            // after 9999
            for x in [t, t + 1, t + 86_399, t + 43_261] {
                assert_eq!(when(x).to_string(), Timestamp(x).to_rfc3339(), "{x}");
            }
            t += 86_400 * 13 + 3_607;
        }
        for x in [i64::MIN, i64::MIN + 1, i64::MAX, -1, 0, 951_782_400, 4_107_542_400] {
            assert_eq!(when(x).to_string(), Timestamp(x).to_rfc3339(), "{x}");
        }
        for x in [0, 951_782_400, i64::MAX] {
            assert_eq!(
                serde_json::to_string(&Time(x)).unwrap(),
                serde_json::to_string(&Timestamp(x)).unwrap()
            );
            assert_eq!(serde_json::to_value(Time(x)).unwrap(), json!(Timestamp(x)));
        }
        assert_eq!(usd(123_405).to_string(), "1234.05");
        assert_eq!(usd(7).to_string(), "0.07");
    }
}
