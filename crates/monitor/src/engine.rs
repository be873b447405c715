//! The decision engine: built-in typologies, report triggers and CEL rules over one event
//! and the state before it.

use std::ops::Range;
use std::sync::Arc;

use floodgate_types::{AssetRegistry, Direction, Timestamp};
use serde_json::json;

use crate::cel_rules::{Bindings, Eval, Fields, Obj, Root};
use crate::customer::CustomerBook;
use crate::decision::{Decision, Evidence, Hit, HitKind, ReportDue, RuleError};
use crate::facts::{RiskCategory, RiskFacts};
use crate::fiat::{FiatValue, RateTable};
use crate::input::MonitorEvent;
use crate::pack::{Action, Aggregate, Common, Pack};
use crate::state::{Before, Ev, Ids, State};
use crate::typologies::{hit, usd, Ctx, Findings, Kind, Spec, DAY, REGISTRY};

/// Where each aggregate's value is in the spec list.
#[derive(Debug, Default, Clone)]
struct Idx {
    /// Per [`REGISTRY`] entry, its aggregates.
    typologies: Vec<Range<usize>>,
    /// Per declared `[[window]]`.
    windows: Vec<usize>,
}

fn plan(pack: &Pack) -> (Vec<Spec>, Idx) {
    let mut specs = Vec::new();
    let mut idx = Idx::default();
    for (i, t) in REGISTRY.iter().enumerate() {
        let start = specs.len();
        specs.extend(t.aggregates(pack.typologies.slot(i)));
        idx.typologies.push(start..specs.len());
    }
    for w in &pack.windows {
        let kind = match w.def.aggregate {
            Aggregate::Count => Kind::Count,
            Aggregate::SumVnd => Kind::SumVnd,
            Aggregate::SumUsdCents => Kind::SumUsd,
            Aggregate::DistinctCounterparties => Kind::Distinct,
        };
        idx.windows.push(specs.len());
        specs.push(Spec { span: w.span_secs, dir: w.def.direction, kind });
    }
    (specs, idx)
}

/// Computes every spec in one backward pass over the account's events.
fn aggregate(events: &std::collections::VecDeque<Ev>, now: i64, specs: &[Spec]) -> Vec<u128> {
    let mut out = vec![0u128; specs.len()];
    // Per spec, the counterparties counted so far: the lists are made only once a
    // counterparty is seen (they were allocated for every decision).
    let mut distinct: Vec<Vec<u64>> = Vec::new();
    let max = specs.iter().map(|s| s.span).max().unwrap_or(0);
    for ev in events.iter().rev() {
        let age = now - ev.time;
        if age >= max {
            break;
        }
        for (i, s) in specs.iter().enumerate() {
            if age >= s.span || !s.dir.matches(ev.dir) {
                continue;
            }
            match s.kind {
                Kind::Count => out[i] += 1,
                Kind::SumVnd => out[i] = out[i].saturating_add(ev.vnd),
                Kind::SumUsd => out[i] = out[i].saturating_add(ev.usd),
                Kind::Distinct => {
                    if ev.cp != 0 {
                        if distinct.is_empty() {
                            distinct.resize(specs.len(), Vec::new());
                        }
                        if !distinct[i].contains(&ev.cp) {
                            distinct[i].push(ev.cp);
                            out[i] += 1;
                        }
                    }
                }
                Kind::CountUsdIn(lo, hi) => {
                    if ev.usd >= lo && ev.usd < hi {
                        out[i] += 1;
                    }
                }
            }
        }
    }
    out
}

/// The decision engine. Cheap to share between calls; swap the pack with
/// [`Engine::set_pack`] to reload rules between events.
pub struct Engine {
    pack: Arc<Pack>,
    specs: Vec<Spec>,
    idx: Idx,
    uses: u8,
    /// The fields the enabled rules and their reasons name.
    fields: Fields,
    /// The fields the rules' guards read (see [`Engine::cel`]).
    guard_fields: Fields,
    root: Root,
    assets: AssetRegistry,
    rates: RateTable,
    customers: CustomerBook,
    facts: Arc<dyn RiskFacts>,
    vasps: crate::vasp::VaspDirectory,
    exposure: Option<Arc<dyn crate::exposure_index::ExposureLookup>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("pack", &self.pack.meta.id).finish()
    }
}

fn fields_of(pack: &Pack) -> (Fields, Fields) {
    let texts: Vec<&str> = pack
        .rules
        .iter()
        .filter(|r| r.def.enabled)
        .flat_map(|r| [r.def.when.get_ref().as_str(), r.def.reason.as_str()])
        .collect();
    let named = crate::cel_rules::named_fields(&texts);
    let guards: Vec<String> = pack
        .rules
        .iter()
        .filter(|r| r.def.enabled)
        .flat_map(|r| r.predicate.guard_fields())
        .collect();
    (Fields::new(named.iter().map(String::as_str)), Fields::new(guards.iter().map(String::as_str)))
}

fn uses_of(pack: &Pack) -> u8 {
    let mut u = 0u8;
    for r in pack.rules.iter().filter(|r| r.def.enabled) {
        u |= r.predicate.uses;
        for (i, v) in crate::cel_rules::VARIABLES.iter().enumerate() {
            if r.def.reason.contains(&format!("{{{v}.")) {
                u |= 1 << i;
            }
        }
    }
    u
}

/// The start of `t`'s local day (UTC seconds) and that day's date, written only where a
/// report names it (most transfers trigger none).
fn local_day(t: i64, offset_hours: i32) -> (i64, LocalDate) {
    let off = i64::from(offset_hours) * 3600;
    let day = (t + off).div_euclid(DAY);
    (day * DAY - off, LocalDate(day * DAY))
}

/// A local day's date, `2025-09-02`: the date part of the RFC 3339 text of its midnight.
#[derive(Clone, Copy)]
struct LocalDate(i64);

impl std::fmt::Display for LocalDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match Timestamp(self.0).rfc3339_bytes() {
            Some(b) => f.write_str(std::str::from_utf8(&b[..10]).map_err(|_| std::fmt::Error)?),
            None => {
                let date = Timestamp(self.0).to_rfc3339();
                f.write_str(date.get(..10).unwrap_or(&date))
            }
        }
    }
}

impl Engine {
    /// An engine for `pack`.
    pub fn new(
        pack: Pack,
        assets: AssetRegistry,
        rates: RateTable,
        customers: CustomerBook,
        facts: Arc<dyn RiskFacts>,
    ) -> Engine {
        let (specs, idx) = plan(&pack);
        let uses = uses_of(&pack);
        let (fields, guard_fields) = fields_of(&pack);
        Engine {
            fields,
            guard_fields,
            pack: Arc::new(pack),
            specs,
            idx,
            uses,
            root: Root::default(),
            assets,
            rates,
            customers,
            facts,
            vasps: crate::vasp::VaspDirectory::default(),
            exposure: None,
        }
    }

    /// Takes exposure facts (`exposure.<category>.direct`, `.indirect`, …) for a deposit's
    /// source address and a withdrawal's destination from the tracing exposure index; a
    /// stale or missing index is named in each such decision.
    pub fn with_exposure_index(
        mut self,
        index: Arc<dyn crate::exposure_index::ExposureLookup>,
    ) -> Engine {
        self.exposure = Some(index);
        self
    }

    /// Takes counterparty countries from `vasps` for transfers that name a counterparty VASP
    /// but no `counterparty_country`.
    pub fn with_vasp_directory(mut self, vasps: crate::vasp::VaspDirectory) -> Engine {
        self.vasps = vasps;
        self
    }

    /// Replaces the rules between two events (hot reload). The window state does not depend
    /// on the rules, so nothing is rebuilt and no event is lost.
    pub fn set_pack(&mut self, pack: Pack) {
        let (specs, idx) = plan(&pack);
        self.uses = uses_of(&pack);
        (self.fields, self.guard_fields) = fields_of(&pack);
        self.specs = specs;
        self.idx = idx;
        self.pack = Arc::new(pack);
    }

    /// The running pack.
    pub fn pack(&self) -> &Pack {
        &self.pack
    }

    /// The asset registry.
    pub fn assets(&self) -> &AssetRegistry {
        &self.assets
    }

    /// The fiat value of an event's amount.
    pub fn fiat(&self, ev: &MonitorEvent) -> Option<FiatValue> {
        self.rates.convert(&ev.entry.asset, ev.entry.amount, ev.entry.time, &self.assets)
    }

    /// Decides on `ev`, which must already have been applied to `state` (so windows include
    /// it); `before` and `now` are what [`State::apply`] returned.
    pub fn decide(
        &self,
        state: &State,
        ev: &MonitorEvent,
        fiat: Option<FiatValue>,
        before: Before,
        now: i64,
    ) -> Decision {
        let mut notes = Vec::new();
        let looked = crate::exposure_index::look(self.exposure.as_ref(), &ev.entry, &mut notes);
        // An index answer stands in for a missing input `exposure` object, so the built-in
        // typologies that read it (indirect_exposure, mixer_exposure) use the index too.
        let filled;
        let ev = match looked.as_ref().and_then(crate::exposure_index::Looked::as_input) {
            Some(x) if ev.extras.exposure.is_none() => {
                let mut f = ev.clone();
                f.extras.exposure = Some(x);
                filled = f;
                &filled
            }
            _ => ev,
        };
        let e = &ev.entry;
        let acct = state
            .accounts
            .get(e.customer_id.as_str())
            .expect("decide() is called after apply(), which creates the account");
        let agg = aggregate(&acct.events, now, &self.specs);
        let (addr_risk, vasp_risk) = (
            e.counterparty_address.as_ref().and_then(|a| self.facts.address_risk(a)),
            e.counterparty_vasp.as_deref().and_then(|v| self.facts.vasp_risk(v)),
        );
        let cx = Ctx {
            ev,
            acct,
            state,
            now,
            before,
            fiat,
            customer: self.customers.get(&e.customer_id),
            agg,
            addr_risk,
            vasp_risk,
            screening: self.facts.screening_available(),
            cp_country: ev
                .counterparty_country()
                .map(|c| (c, ""))
                .or_else(|| {
                    e.counterparty_bank_country()
                        .map(|c| (c, " (counterparty country from the bank's BIC)"))
                })
                .or_else(|| {
                    e.counterparty_vasp.as_deref().and_then(|v| self.vasps.get(v)).map(|v| {
                        (v.country.as_str(), " (counterparty country from the VASP directory)")
                    })
                }),
        };
        let mut hits = Vec::new();
        let mut reports = Vec::new();
        if fiat.is_none() {
            notes.push(format!(
                "no fiat rate for {}: fiat thresholds were not evaluated for this transfer",
                e.asset
            ));
        }
        let mut group_alerts = Vec::new();
        let mut out =
            Findings { hits: &mut hits, notes: &mut notes, group_alerts: &mut group_alerts };
        for (i, (t, aggs)) in REGISTRY.iter().zip(&self.idx.typologies).enumerate() {
            t.check(self.pack.typologies.slot(i), &cx, &cx.agg[aggs.clone()], &mut out);
        }
        self.reports(&cx, &mut hits, &mut reports, &mut notes);
        let mut errors = Vec::new();
        self.cel(&cx, looked.as_ref(), &mut hits, &mut errors);
        let action = hits.iter().map(|h| h.action).max().unwrap_or(Action::Allow);
        let score = hits.iter().map(|h| h.score).sum::<u32>().min(100);
        Decision {
            transfer_id: e.id.clone(),
            customer_id: e.customer_id.clone(),
            time: e.time,
            direction: e.direction,
            asset: e.asset.0.clone(),
            rail: e.rail,
            amount: e.amount.to_string(),
            amount_vnd: fiat.map(|f| u64::try_from(f.vnd).unwrap_or(u64::MAX)),
            amount_usd_cents: fiat.map(|f| u64::try_from(f.usd_cents).unwrap_or(u64::MAX)),
            action,
            score,
            hits,
            reports_due: reports,
            notes,
            rule_errors: errors,
            group_alerts,
            pack: self.pack.meta.id.clone(),
        }
    }

    fn reports(
        &self,
        cx: &Ctx<'_>,
        hits: &mut Vec<Hit>,
        reports: &mut Vec<ReportDue>,
        notes: &mut Vec<String>,
    ) {
        let Some(fiat) = cx.fiat else { return };
        let e = &cx.ev.entry;
        let meta = &self.pack.meta;
        let r = &self.pack.reports;
        let (day_start, day) = local_day(cx.now, meta.utc_offset_hours);
        let mut due = |id: &str,
                       c: Common,
                       reason: String,
                       vnd: u128,
                       threshold: String,
                       ids: Vec<String>| {
            let date = day.to_string();
            let evidence = Evidence::of(&ReportEvidence {
                amount_vnd: vnd,
                local_day: &date,
                threshold: &threshold,
                transfer_ids: &ids,
            });
            hits.push(hit(
                &format!("report.{id}"),
                HitKind::Report,
                c.action,
                &c.source,
                c.severity,
                reason,
                evidence,
            ));
            reports.push(ReportDue {
                report: id.to_owned(),
                jurisdiction: meta.id.clone(),
                customer_id: e.customer_id.clone(),
                transfer_id: e.id.clone(),
                local_day: date,
                amount_vnd: u64::try_from(vnd).unwrap_or(u64::MAX),
                threshold,
                transfer_ids: ids,
                source: c.source,
            });
        };
        let counts =
            |l: &crate::pack::DailyTrigger, rail: Option<floodgate_types::Rail>, dir: Direction| {
                l.direction.matches(dir) && l.rails.iter().any(|r| r.matches(rail, dir))
            };
        if let Some(l) =
            r.large_value.as_ref().filter(|x| x.enabled && counts(x, e.rail, e.direction))
        {
            // An account's events are in time order (`crate::state`): today's are the last
            // ones, found without walking the whole window.
            let events = &cx.acct.events;
            let n_today = events.iter().rev().take_while(|x| x.time >= day_start).count();
            let today: Vec<&Ev> = events
                .iter()
                .skip(events.len() - n_today)
                .filter(|x| counts(l, x.rail, x.dir))
                .collect();
            let after: u128 = today.iter().map(|x| x.vnd).sum();
            let before = after - fiat.vnd.min(after);
            let thr = u128::from(l.threshold_vnd);
            if before < thr && after >= thr {
                let ids = today.iter().map(|x| cx.state.id(x.id).to_owned()).collect();
                let rails: Vec<&str> = l
                    .rails
                    .iter()
                    .map(|r| match r {
                        crate::pack::RailFilter::Chain => "on-chain",
                        crate::pack::RailFilter::Bank => "bank",
                        crate::pack::RailFilter::Cash => "cash",
                    })
                    .collect();
                due(
                    "large_value",
                    l.common(),
                    format!(
                        "customer's {} total on {day} (UTC{:+}) reached VND {after} (threshold VND {thr} per day): {}",
                        rails.join(" and "),
                        meta.utc_offset_hours,
                        vnd_txs_text(&cx.state.ids, &today)
                    ),
                    after,
                    format!("VND {thr} per day"),
                    ids,
                );
            }
        }
        // Cash paid in or out at a counter is no funds transfer: the transfer triggers and the
        // international-transfer note are for bank and on-chain transfers.
        let transfer = e.rail != Some(floodgate_types::Rail::Cash);
        let cp_country = cx.cp_country.map(|c| c.0);
        let from_dir = cx.cp_country.map_or("", |c| c.1);
        // Named only by the reason of a trigger that fired.
        let this = || format!("{} at {}", e.id, crate::typologies::when(cx.now));
        if let Some(d) = r.domestic_transfer.as_ref().filter(|x| x.enabled && transfer) {
            let domestic = e.direction == Direction::Internal
                || cp_country.is_some_and(|c| c.eq_ignore_ascii_case(&meta.country));
            if domestic && fiat.vnd >= u128::from(d.threshold_vnd) {
                due(
                    "domestic_transfer",
                    d.common(),
                    format!(
                        "domestic {}transfer {} of VND {} (threshold VND {}){from_dir}",
                        rail_word(e.rail),
                        this(),
                        fiat.vnd,
                        d.threshold_vnd
                    ),
                    fiat.vnd,
                    format!("VND {}", d.threshold_vnd),
                    vec![e.id.clone()],
                );
            }
        }
        if let Some(i) = r.international_transfer.as_ref().filter(|x| x.enabled && transfer) {
            // A deposit or withdrawal at or over the threshold whose other side's country is
            // unknown may be international: say so rather than pass it silently.
            if e.direction != Direction::Internal
                && cp_country.is_none()
                && fiat.usd_cents >= u128::from(i.threshold_usd) * 100
            {
                let hint = if e.rail == Some(floodgate_types::Rail::Bank) {
                    "the bank's SWIFT BIC as counterparty_bank"
                } else {
                    "the counterparty VASP and a VASP directory"
                };
                notes.push(format!(
                    "international-transfer check not possible: counterparty country unknown ({} {}of USD {}, threshold USD {}; give counterparty_country, or {hint})",
                    e.direction.as_str(),
                    if e.rail.is_some() { format!("by {} ", rail_word(e.rail).trim_end()) } else { String::new() },
                    usd(fiat.usd_cents),
                    i.threshold_usd
                ));
            }
            let intl = e.direction != Direction::Internal
                && cp_country.is_some_and(|c| !c.eq_ignore_ascii_case(&meta.country));
            if intl && fiat.usd_cents >= u128::from(i.threshold_usd) * 100 {
                due(
                    "international_transfer",
                    i.common(),
                    format!(
                        "international {}transfer {} of USD {} (threshold USD {}){from_dir}",
                        rail_word(e.rail),
                        this(),
                        usd(fiat.usd_cents),
                        i.threshold_usd
                    ),
                    fiat.vnd,
                    format!("USD {}", i.threshold_usd),
                    vec![e.id.clone()],
                );
            }
        }
    }

    fn bindings(
        &self,
        cx: &Ctx<'_>,
        looked: Option<&crate::exposure_index::Looked>,
        hits: &[Hit],
        fields: &Fields,
    ) -> Bindings {
        let mut b = Bindings::default();
        let e = &cx.ev.entry;
        let u = self.uses;
        if u & 1 != 0 {
            let mut o = Obj::filtered(fields, "transfer");
            o.str("id", &e.id)
                .str("direction", e.direction.as_str())
                .str("asset", e.asset.as_str());
            if o.wants("amount") {
                o.str("amount", &e.amount.to_string());
            }
            if let Some(f) = cx.fiat {
                o.int("amount_vnd", f.vnd as i128).int("amount_usd_cents", f.usd_cents as i128);
            }
            if let Some(a) =
                e.counterparty_address.as_ref().filter(|_| o.wants("counterparty_address"))
            {
                o.str("counterparty_address", &a.to_string());
            }
            o.opt_str("rail", e.rail.map(floodgate_types::Rail::as_str))
                .opt_str("counterparty_bank", e.counterparty_bank.as_deref())
                .opt_str("counterparty_vasp", e.counterparty_vasp.as_deref())
                .opt_str("counterparty_customer", e.counterparty_customer.as_deref())
                .opt_str("counterparty_country", cx.cp_country.map(|c| c.0))
                .opt_str("customer_country", cx.ev.extras.customer_country.as_deref())
                .opt_str("ip", e.ip.as_deref())
                .opt_str("device", e.device.as_deref())
                .bool(
                    "has_travel_rule",
                    cx.ev.travel_rule().is_some_and(crate::input::TravelRule::is_complete),
                )
                .int("time", i128::from(e.time.0))
                .int(
                    "hour_local",
                    i128::from(
                        (cx.now + i64::from(self.pack.meta.utc_offset_hours) * 3600)
                            .rem_euclid(DAY)
                            / 3600,
                    ),
                );
            b.set(0, o.build());
        }
        if u & 2 != 0 {
            let mut o = Obj::filtered(fields, "customer");
            o.str("id", &e.customer_id)
                .bool("known", cx.customer.is_some())
                .int("account_age_days", i128::from((cx.now - cx.account_opened()) / DAY));
            if let Some(c) = cx.customer {
                if let Some(a) = c.age_at(Timestamp(cx.now)) {
                    o.int("age", i128::from(a));
                }
                o.opt_str("country", c.country.as_deref())
                    .opt_str("risk_class", c.risk_class.as_deref());
                if let Some(v) = c.expected_monthly_vnd {
                    o.int("expected_monthly_vnd", v as i128);
                }
            }
            b.set(1, o.build());
        }
        if u & 4 != 0 {
            let mut o = Obj::filtered(fields, "window");
            for (w, i) in self.pack.windows.iter().zip(&self.idx.windows) {
                o.int(&w.def.name, cx.agg[*i] as i128);
            }
            b.set(2, o.build());
        }
        if u & 8 != 0 {
            let mut o = Obj::filtered(fields, "screening");
            let cats: Vec<RiskCategory> = [cx.addr_risk.as_ref(), cx.vasp_risk.as_ref()]
                .into_iter()
                .flatten()
                .map(|r| r.category)
                .collect();
            o.bool("available", self.facts.screening_available())
                .bool("sanctioned", cats.contains(&RiskCategory::Sanctioned))
                .bool("mixer", cats.contains(&RiskCategory::Mixer))
                .bool(
                    "listed",
                    cats.iter().any(|c| {
                        matches!(
                            c,
                            RiskCategory::InvestorAlert
                                | RiskCategory::UnlicensedVasp
                                | RiskCategory::Scam
                        )
                    }),
                );
            b.set(3, o.build());
        }
        if u & 16 != 0 {
            use crate::exposure_index::{category_map, index_state, IndexAnswer};
            let mut o = Obj::filtered(fields, "exposure");
            let input = cx.ev.extras.exposure.as_ref();
            let found = looked
                .is_some_and(|l| matches!(l.answer, IndexAnswer::Found(_) | IndexAnswer::Absent));
            o.bool("available", input.is_some() || found)
                .str("index", index_state(looked))
                .str("index_file", &looked.map_or_else(String::new, |l| l.index.clone()));
            if let Some(IndexAnswer::Found(f)) = looked.map(|l| &l.answer) {
                o.bool("round_trip", f.round_trip);
            }
            for c in RiskCategory::ALL {
                if o.wants(c.as_str()) {
                    let m = category_map(c, looked.filter(|_| found), input);
                    o.value(c.as_str(), m);
                }
            }
            // Before issue 14 an input line's shares were bound flat; `darknet` keeps its
            // old name (`exposure.darknet_market.indirect` is the new one).
            if let Some(x) = input {
                o.float("darknet", x.darknet);
            }
            b.set(4, o.build());
        }
        if u & 32 != 0 {
            b.set(
                5,
                cel::Value::List(Arc::new(
                    hits.iter().map(|h| cel::Value::String(Arc::new(h.rule_id.clone()))).collect(),
                )),
            );
        }
        b
    }

    fn cel(
        &self,
        cx: &Ctx<'_>,
        looked: Option<&crate::exposure_index::Looked>,
        hits: &mut Vec<Hit>,
        errors: &mut Vec<RuleError>,
    ) {
        let rules: Vec<_> = self.pack.rules.iter().filter(|r| r.def.enabled).collect();
        if rules.is_empty() {
            return;
        }
        // Most rules open with a guard (`transfer.direction == 'withdrawal' && …`) that is
        // false for most transfers. Bind only what the guards read first: when every rule is
        // refuted, none fires and nothing else needs binding (building a binding allocates,
        // and some fields cost more, such as an address's text). The guards read the same
        // values from either binding, so the outcome is the same.
        let guards = self.bindings(cx, looked, hits, &self.guard_fields);
        if rules.iter().all(|r| r.predicate.refuted(&guards)) {
            return;
        }
        let b = self.bindings(cx, looked, hits, &self.fields);
        let preds: Vec<_> = rules.iter().map(|r| &r.predicate).collect();
        let results = self.root.eval_all(&b, &preds);
        for (r, res) in rules.iter().zip(results) {
            match res {
                Eval::True => {
                    let reason = fill(&r.def.reason, &b);
                    let c = Common {
                        enabled: true,
                        severity: r.def.severity,
                        action: r.def.action,
                        source: r
                            .def
                            .source
                            .clone()
                            .unwrap_or_else(|| self.pack.origin.display().to_string()),
                    };
                    hits.push(hit(
                        &r.def.id,
                        HitKind::Rule,
                        c.action,
                        &c.source,
                        r.def.severity,
                        reason,
                        Evidence::from(json!({"when": r.def.when.get_ref()})),
                    ));
                }
                Eval::False => {}
                Eval::Error(message) => {
                    // A missing optional fact (no customer record, no rate) is not an error
                    // worth reporting on every transfer.
                    if !message.contains("No such key") && !message.contains("no such key") {
                        errors.push(RuleError { rule_id: r.def.id.clone(), message });
                    }
                }
            }
        }
    }
}

/// The evidence of a report trigger's hit (keys in sorted order, see [`Evidence::of`]).
#[derive(serde::Serialize)]
struct ReportEvidence<'a> {
    amount_vnd: u128,
    local_day: &'a str,
    threshold: &'a str,
    transfer_ids: &'a [String],
}

/// `bank ` for a bank transfer, else nothing (on-chain and internal transfers read as before).
fn rail_word(rail: Option<floodgate_types::Rail>) -> &'static str {
    match rail {
        Some(floodgate_types::Rail::Bank) => "bank ",
        _ => "",
    }
}

/// A day's transfers for a report reason: `id at time, VND amount; …` (the first 10, then how
/// many more; the evidence's `transfer_ids` lists them all).
fn vnd_txs_text(ids: &Ids, txs: &[&Ev]) -> String {
    use std::fmt::Write;
    const SHOWN: usize = 10;
    let mut s = String::with_capacity(56 * txs.len().min(SHOWN + 1));
    for (i, x) in txs.iter().take(SHOWN).enumerate() {
        if i > 0 {
            s.push_str("; ");
        }
        let _ =
            write!(s, "{} at {}, VND {}", ids.get(x.id), crate::typologies::when(x.time), x.vnd);
    }
    if txs.len() > SHOWN {
        let _ = write!(s, "; and {} more", txs.len() - SHOWN);
    }
    s
}

/// Fills `{var.path}` placeholders from the bindings; unknown ones stay as written.
fn fill(template: &str, b: &Bindings) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.find('}') {
            Some(j) => {
                let path = &after[..j];
                match b.lookup(path) {
                    Some(v) => out.push_str(&v),
                    None => {
                        out.push('{');
                        out.push_str(path);
                        out.push('}');
                    }
                }
                rest = &after[j + 1..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::Path;

    use super::*;
    use crate::monitor::{Monitor, Processed};

    /// CEL rules are bound in two steps (the fields their guards read, then all they name):
    /// a reason naming a field no guard reads is still filled when the rule fires, and a
    /// transfer its guard refutes gets no hit.
    #[test]
    fn reason_fields_beyond_the_guards_are_filled() {
        let text = "extends = \"vn\"\n[[rule]]\nid = \"t.deposit\"\nseverity = \"low\"\n\
                    action = \"review\"\nwhen = \"transfer.direction == 'deposit' && transfer.amount_vnd >= 1\"\n\
                    reason = \"deposit from {transfer.counterparty_address} of VND {transfer.amount_vnd}\"\n\
                    source = \"test\"\n";
        let pack = Pack::parse(Path::new("u.toml"), text).unwrap();
        let engine = Engine::new(
            pack,
            AssetRegistry::builtin(),
            RateTable::builtin(),
            CustomerBook::default(),
            Arc::new(crate::facts::AddressLists::default()),
        );
        let mut m = Monitor::in_memory(engine);
        let mut decide = |n: u64, dir: &str| {
            let line = format!(
                r#"{{"id":"t-{n}","time":"2025-09-02T10:00:0{n}Z","customer_id":"c1","direction":"{dir}","asset":"USDT-ERC20","amount":"100","counterparty_address":"0x00000000000000000000000000000000000000aa"}}"#
            );
            let ev = crate::input::parse_event(
                Path::new("t"),
                n,
                &line,
                &AssetRegistry::builtin(),
                None,
            )
            .unwrap();
            let Processed::Decided(d) = m.process(&ev).unwrap() else { panic!("duplicate") };
            (ev, d)
        };
        let (ev, d) = decide(1, "deposit");
        let h = d.hits.iter().find(|h| h.rule_id == "t.deposit").unwrap();
        let addr = ev.entry.counterparty_address.as_ref().unwrap().to_string();
        assert_eq!(h.reason, format!("deposit from {addr} of VND {}", d.amount_vnd.unwrap()));
        let (_, d) = decide(2, "withdrawal");
        assert!(!d.has("t.deposit"), "{d:?}");
        assert!(d.rule_errors.is_empty(), "{d:?}");
    }
}
