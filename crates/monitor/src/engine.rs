//! The decision engine: built-in typologies, report triggers and CEL rules over one event
//! and the state before it.

use std::sync::Arc;

use floodgate_types::{AssetRegistry, Direction, Timestamp};
use serde_json::json;

use crate::cel_rules::{Bindings, Eval, Obj, Root};
use crate::customer::{Customer, CustomerBook};
use crate::decision::{Decision, GroupAlert, Hit, HitKind, ReportDue, RuleError};
use crate::facts::{AddressRisk, RiskCategory, RiskFacts};
use crate::fiat::{FiatValue, RateTable};
use crate::input::MonitorEvent;
use crate::pack::{parse_span, Action, Aggregate, Common, DirFilter, Pack, Severity};
use crate::state::{key, Account, Before, Ev, Link, Member, State};

const DAY: i64 = 86_400;

#[derive(Debug, Clone, Copy)]
enum Kind {
    Count,
    SumVnd,
    SumUsd,
    Distinct,
    CountUsdIn(u128, u128),
}

#[derive(Debug, Clone, Copy)]
struct Spec {
    span: i64,
    dir: DirFilter,
    kind: Kind,
}

/// Indexes of the built-in aggregates in the spec list.
#[derive(Debug, Default, Clone)]
struct Idx {
    struct_dep: Option<usize>,
    struct_wd: Option<usize>,
    pt_dep: Option<usize>,
    pt_wd: Option<usize>,
    fin_distinct: Option<usize>,
    fin_sum: Option<usize>,
    fout_distinct: Option<usize>,
    fout_sum: Option<usize>,
    windows: Vec<usize>,
}

fn span(s: &str) -> i64 {
    parse_span(s).expect("spans are validated when the pack is compiled")
}

fn plan(pack: &Pack) -> (Vec<Spec>, Idx) {
    let mut specs = Vec::new();
    let mut add = |s: Spec| {
        specs.push(s);
        Some(specs.len() - 1)
    };
    let mut idx = Idx::default();
    let t = &pack.typologies;
    if let Some(s) = t.structuring.as_ref().filter(|s| s.enabled) {
        let hi = u128::from(s.threshold_usd) * 100;
        let lo = hi * u128::from(100 - s.margin_pct.min(100)) / 100;
        let w = span(&s.window);
        idx.struct_dep =
            add(Spec { span: w, dir: DirFilter::Deposit, kind: Kind::CountUsdIn(lo, hi) });
        idx.struct_wd =
            add(Spec { span: w, dir: DirFilter::Withdrawal, kind: Kind::CountUsdIn(lo, hi) });
    }
    if let Some(p) = t.pass_through.as_ref().filter(|s| s.enabled) {
        let w = span(&p.window);
        idx.pt_dep = add(Spec { span: w, dir: DirFilter::Deposit, kind: Kind::SumUsd });
        idx.pt_wd = add(Spec { span: w, dir: DirFilter::Withdrawal, kind: Kind::SumUsd });
    }
    if let Some(f) = t.fan_in.as_ref().filter(|s| s.enabled) {
        let w = span(&f.window);
        idx.fin_distinct = add(Spec { span: w, dir: DirFilter::Deposit, kind: Kind::Distinct });
        idx.fin_sum = add(Spec { span: w, dir: DirFilter::Deposit, kind: Kind::SumUsd });
    }
    if let Some(f) = t.fan_out.as_ref().filter(|s| s.enabled) {
        let w = span(&f.window);
        idx.fout_distinct = add(Spec { span: w, dir: DirFilter::Withdrawal, kind: Kind::Distinct });
        idx.fout_sum = add(Spec { span: w, dir: DirFilter::Withdrawal, kind: Kind::SumUsd });
    }
    for w in &pack.windows {
        let kind = match w.def.aggregate {
            Aggregate::Count => Kind::Count,
            Aggregate::SumVnd => Kind::SumVnd,
            Aggregate::SumUsdCents => Kind::SumUsd,
            Aggregate::DistinctCounterparties => Kind::Distinct,
        };
        let i = add(Spec { span: w.span_secs, dir: w.def.direction, kind });
        idx.windows.push(i.expect("just added"));
    }
    (specs, idx)
}

/// Computes every spec in one backward pass over the account's events.
fn aggregate(events: &std::collections::VecDeque<Ev>, now: i64, specs: &[Spec]) -> Vec<u128> {
    let mut out = vec![0u128; specs.len()];
    let mut distinct: Vec<Vec<u64>> = vec![Vec::new(); specs.len()];
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
                    if ev.cp != 0 && !distinct[i].contains(&ev.cp) {
                        distinct[i].push(ev.cp);
                        out[i] += 1;
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
    fields: std::collections::HashSet<String>,
    root: Root,
    assets: AssetRegistry,
    rates: RateTable,
    customers: CustomerBook,
    facts: Arc<dyn RiskFacts>,
    vasps: crate::vasp::VaspDirectory,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("pack", &self.pack.meta.id).finish()
    }
}

fn fields_of(pack: &Pack) -> std::collections::HashSet<String> {
    let texts: Vec<&str> = pack
        .rules
        .iter()
        .filter(|r| r.def.enabled)
        .flat_map(|r| [r.def.when.get_ref().as_str(), r.def.reason.as_str()])
        .collect();
    crate::cel_rules::named_fields(&texts)
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

fn local_day(t: i64, offset_hours: i32) -> (i64, String) {
    let off = i64::from(offset_hours) * 3600;
    let day = (t + off).div_euclid(DAY);
    let start = day * DAY - off;
    let date = Timestamp(day * DAY).to_rfc3339();
    (start, date.get(..10).unwrap_or(&date).to_owned())
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn usd(cents: u128) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

struct Ctx<'a> {
    ev: &'a MonitorEvent,
    acct: &'a Account,
    now: i64,
    before: Before,
    fiat: Option<FiatValue>,
    customer: Option<&'a Customer>,
    agg: Vec<u128>,
    addr_risk: Option<AddressRisk>,
    vasp_risk: Option<AddressRisk>,
    /// Counterparty country: from the transfer, else from the VASP directory (then `true`).
    cp_country: Option<(&'a str, bool)>,
}

impl Ctx<'_> {
    fn usd(&self) -> u128 {
        self.fiat.map_or(0, |f| f.usd_cents)
    }
    fn account_opened(&self) -> i64 {
        self.customer
            .and_then(|c| c.onboarded)
            .map(|t| t.0)
            .or(self.acct.first_time)
            .unwrap_or(self.now)
    }
    fn dir(&self) -> Direction {
        self.ev.entry.direction
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
        let fields = fields_of(&pack);
        Engine {
            fields,
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
        }
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
        self.fields = fields_of(&pack);
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
            now,
            before,
            fiat,
            customer: self.customers.get(&e.customer_id),
            agg,
            addr_risk,
            vasp_risk,
            cp_country: ev.extras.counterparty_country.as_deref().map(|c| (c, false)).or_else(
                || {
                    e.counterparty_vasp
                        .as_deref()
                        .and_then(|v| self.vasps.get(v))
                        .map(|v| (v.country.as_str(), true))
                },
            ),
        };
        let mut hits = Vec::new();
        let mut notes = Vec::new();
        let mut reports = Vec::new();
        if fiat.is_none() {
            notes.push(format!(
                "no fiat rate for {}: fiat thresholds were not evaluated for this transfer",
                e.asset
            ));
        }
        let mut group_alerts = Vec::new();
        self.typologies(&cx, state, &mut hits, &mut notes, &mut group_alerts);
        self.reports(&cx, &mut hits, &mut reports, &mut notes);
        let mut errors = Vec::new();
        self.cel(&cx, &mut hits, &mut errors);
        let action = hits.iter().map(|h| h.action).max().unwrap_or(Action::Allow);
        let score = hits.iter().map(|h| h.score).sum::<u32>().min(100);
        Decision {
            transfer_id: e.id.clone(),
            customer_id: e.customer_id.clone(),
            time: e.time,
            direction: e.direction,
            asset: e.asset.0.clone(),
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

    fn hit(
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

    fn typologies(
        &self,
        cx: &Ctx<'_>,
        state: &State,
        hits: &mut Vec<Hit>,
        notes: &mut Vec<String>,
        group_alerts: &mut Vec<GroupAlert>,
    ) {
        let t = &self.pack.typologies;
        let e = &cx.ev.entry;
        let ty = HitKind::Typology;
        let external = cx.dir() != Direction::Internal;
        let has_fiat = cx.fiat.is_some();
        // Direct list exposure.
        let screening = self.facts.screening_available();
        let any_list_typology = t.sanctioned_counterparty.as_ref().is_some_and(|x| x.enabled)
            || t.listed_counterparty.as_ref().is_some_and(|x| x.enabled);
        if !screening
            && any_list_typology
            && (e.counterparty_address.is_some() || e.counterparty_vasp.is_some())
        {
            notes.push("no screening lists loaded: the counterparty was not checked against sanctions, mixer or alert lists".into());
        }
        let risks: Vec<&AddressRisk> =
            [cx.addr_risk.as_ref(), cx.vasp_risk.as_ref()].into_iter().flatten().collect();
        if let Some(s) = t.sanctioned_counterparty.as_ref().filter(|s| s.enabled) {
            if let Some(r) = risks.iter().find(|r| r.category == RiskCategory::Sanctioned) {
                hits.push(Self::hit(
                    "sanctioned_counterparty",
                    ty,
                    &s.common(),
                    s.severity,
                    format!("counterparty {} is on {}", counterparty_text(cx), r.source),
                    list_evidence(cx, r),
                ));
            }
        }
        if let Some(s) = t.listed_counterparty.as_ref().filter(|s| s.enabled) {
            if let Some(r) = risks.iter().find(|r| {
                matches!(
                    r.category,
                    RiskCategory::InvestorAlert | RiskCategory::UnlicensedVasp | RiskCategory::Scam
                )
            }) {
                let what = match r.category {
                    RiskCategory::InvestorAlert => "an investor-alert list",
                    RiskCategory::UnlicensedVasp => "the list of platforms unlicensed here",
                    _ => "a scam list",
                };
                hits.push(Self::hit(
                    "listed_counterparty",
                    ty,
                    &s.common(),
                    s.severity,
                    format!("counterparty {} is on {what} ({})", counterparty_text(cx), r.source),
                    list_evidence(cx, r),
                ));
            }
        }
        let exposure = cx.ev.extras.exposure.as_ref();
        let exposure_typology = t.mixer_exposure.as_ref().is_some_and(|x| x.enabled)
            || t.indirect_exposure.as_ref().is_some_and(|x| x.enabled);
        if exposure.is_none() && exposure_typology && external && e.counterparty_address.is_some() {
            notes.push(
                "no exposure data from the trace engine: indirect exposure was not assessed".into(),
            );
        }
        if let Some(m) = t.mixer_exposure.as_ref().filter(|s| s.enabled) {
            let direct = risks.iter().find(|r| r.category == RiskCategory::Mixer);
            let share = exposure.map_or(0.0, |x| x.mixer);
            if direct.is_some() || share * 100.0 >= f64::from(m.min_indirect_pct) {
                let reason = match direct {
                    Some(r) => {
                        format!("counterparty {} is a mixer ({})", counterparty_text(cx), r.source)
                    }
                    None => format!(
                        "{} of the counterparty's funds come from mixers (threshold {}%)",
                        pct(share),
                        m.min_indirect_pct
                    ),
                };
                hits.push(Self::hit(
                    "mixer_exposure",
                    ty,
                    &m.common(),
                    m.severity,
                    reason,
                    json!({"direct": direct, "indirect_mixer_share": share}),
                ));
            }
        }
        if let (Some(m), Some(x)) = (t.indirect_exposure.as_ref().filter(|s| s.enabled), exposure) {
            let (cat, share) =
                [("sanctioned", x.sanctioned), ("scam", x.scam), ("darknet", x.darknet)]
                    .into_iter()
                    .fold(("", 0.0f64), |a, b| if b.1 > a.1 { b } else { a });
            if share * 100.0 >= f64::from(m.min_indirect_pct) {
                hits.push(Self::hit(
                    "indirect_exposure",
                    ty,
                    &m.common(),
                    m.severity,
                    format!("{} of the counterparty's funds come indirectly from {cat} sources (threshold {}%)", pct(share), m.min_indirect_pct),
                    json!({"exposure": x}),
                ));
            }
        }
        if let Some(s) = t.structuring.as_ref().filter(|s| s.enabled && has_fiat) {
            let i = match cx.dir() {
                Direction::Deposit => self.idx.struct_dep,
                Direction::Withdrawal => self.idx.struct_wd,
                Direction::Internal => None,
            };
            let hi = u128::from(s.threshold_usd) * 100;
            let lo = hi * u128::from(100 - s.margin_pct.min(100)) / 100;
            if let Some(i) = i {
                let n = cx.agg[i];
                if cx.usd() >= lo && cx.usd() < hi && n >= u128::from(s.min_count) {
                    let band = txs_in(cx, span(&s.window), |ev| {
                        ev.dir == cx.dir() && ev.usd >= lo && ev.usd < hi
                    });
                    hits.push(Self::hit(
                        "structuring",
                        ty,
                        &s.common(),
                        s.severity,
                        format!(
                            "{n} {}s of USD {}–{} (just under USD {}) within {} (threshold {} transfers): {}",
                            cx.dir().as_str(),
                            usd(lo),
                            usd(hi - 1),
                            s.threshold_usd,
                            s.window,
                            s.min_count,
                            txs_text(&band)
                        ),
                        json!({"count": n, "min_count": s.min_count, "band_usd_cents": [lo, hi], "window": s.window, "transfer_ids": band.iter().map(|x| &*x.id).collect::<Vec<_>>(), "transfers": txs_json(&band)}),
                    ));
                }
            }
        }
        if let (Some(p), Direction::Withdrawal) =
            (t.pass_through.as_ref().filter(|s| s.enabled && has_fiat), cx.dir())
        {
            if let (Some(d), Some(w)) = (self.idx.pt_dep, self.idx.pt_wd) {
                let (dep, wd) = (cx.agg[d], cx.agg[w]);
                if dep >= u128::from(p.min_deposit_usd) * 100
                    && wd * 100 >= dep * u128::from(p.min_ratio_pct)
                {
                    let w = span(&p.window);
                    let deps = txs_in(cx, w, |x| x.dir == Direction::Deposit);
                    let wds = txs_in(cx, w, |x| x.dir == Direction::Withdrawal);
                    hits.push(Self::hit(
                        "pass_through",
                        ty,
                        &p.common(),
                        p.severity,
                        format!(
                            "USD {} withdrawn ({}% of) USD {} deposited within {} (thresholds: deposits at least USD {}, withdrawn at least {}%); deposits: {}; withdrawals: {}",
                            usd(wd),
                            wd * 100 / dep.max(1),
                            usd(dep),
                            p.window,
                            p.min_deposit_usd,
                            p.min_ratio_pct,
                            txs_text(&deps),
                            txs_text(&wds)
                        ),
                        json!({"deposits_usd_cents": dep, "withdrawals_usd_cents": wd, "window": p.window, "min_deposit_usd": p.min_deposit_usd, "min_ratio_pct": p.min_ratio_pct, "deposits": txs_json(&deps), "withdrawals": txs_json(&wds)}),
                    ));
                }
            }
        }
        if let Some(n) = t.new_account_large.as_ref().filter(|s| s.enabled && has_fiat) {
            let age = cx.now - cx.account_opened();
            if age < i64::from(n.max_account_age_days) * DAY
                && cx.usd() >= u128::from(n.min_usd) * 100
            {
                hits.push(Self::hit(
                    "new_account_large",
                    ty,
                    &n.common(),
                    n.severity,
                    format!(
                        "{} of USD {} at {} on an account opened {} days ago (thresholds: account younger than {} days, at least USD {})",
                        e.id,
                        usd(cx.usd()),
                        when(cx.now),
                        age / DAY,
                        n.max_account_age_days,
                        n.min_usd
                    ),
                    json!({"account_age_days": age / DAY, "max_account_age_days": n.max_account_age_days, "min_usd": n.min_usd, "amount_usd_cents": cx.usd(), "onboarded_from_customer_file": cx.customer.and_then(|c| c.onboarded).is_some(), "transfers": [{"id": e.id, "time": Timestamp(cx.now), "amount_usd_cents": cx.usd()}]}),
                ));
            }
        }
        if let Some(d) = t.dormant_reactivation.as_ref().filter(|s| s.enabled && has_fiat) {
            let idle = i64::from(d.idle_days) * DAY;
            let w = span(&d.window);
            let mut react =
                cx.acct.gaps.iter().rev().find(|(_, g)| *g >= idle).map(|(t, g)| (*t, *g));
            if react.is_none() {
                // First activity after a known earlier activity from the customer file.
                if let (Some(first), Some(last)) =
                    (cx.acct.first_time, cx.customer.and_then(|c| c.last_activity))
                {
                    if first - last.0 >= idle {
                        react = Some((first, first - last.0));
                    }
                }
            }
            if let Some((rt, gap)) = react.filter(|(rt, _)| cx.now - rt < w) {
                let since: Vec<&Ev> = cx.acct.events.iter().filter(|x| x.time >= rt).collect();
                let sum: u128 = since.iter().map(|x| x.vnd).sum();
                if sum >= u128::from(d.min_vnd) {
                    hits.push(Self::hit(
                        "dormant_reactivation",
                        ty,
                        &d.common(),
                        d.severity,
                        format!(
                            "VND {sum} moved within {} of reactivation at {} after {} idle days (thresholds: idle at least {} days, at least VND {}): {}",
                            d.window,
                            when(rt),
                            gap / DAY,
                            d.idle_days,
                            d.min_vnd,
                            txs_text(&since)
                        ),
                        json!({"idle_days": gap / DAY, "min_idle_days": d.idle_days, "min_vnd": d.min_vnd, "window": d.window, "reactivated_at": Timestamp(rt), "sum_vnd": sum, "before_last_activity": cx.before.last_time.map(Timestamp), "transfers": txs_json(&since)}),
                    ));
                }
            }
        }
        for (id, f, di, si, want) in [
            (
                "fan_in",
                t.fan_in.as_ref(),
                self.idx.fin_distinct,
                self.idx.fin_sum,
                Direction::Deposit,
            ),
            (
                "fan_out",
                t.fan_out.as_ref(),
                self.idx.fout_distinct,
                self.idx.fout_sum,
                Direction::Withdrawal,
            ),
        ] {
            let (Some(f), Some(di), Some(si)) = (f.filter(|f| f.enabled), di, si) else { continue };
            if cx.dir() != want {
                continue;
            }
            let (n, sum) = (cx.agg[di], cx.agg[si]);
            if n >= u128::from(f.min_distinct) && sum >= u128::from(f.min_total_usd) * 100 {
                let side = if want == Direction::Deposit { "sources" } else { "destinations" };
                let txs = txs_in(cx, span(&f.window), |x| x.dir == want);
                hits.push(Self::hit(
                    id,
                    ty,
                    &f.common(),
                    f.severity,
                    format!(
                        "{n} distinct {side} within {} (threshold {}), USD {} in total (threshold USD {}): {}",
                        f.window,
                        f.min_distinct,
                        usd(sum),
                        f.min_total_usd,
                        txs_text(&txs)
                    ),
                    json!({"distinct_counterparties": n, "min_distinct": f.min_distinct, "sum_usd_cents": sum, "min_total_usd": f.min_total_usd, "window": f.window, "transfers": txs_json(&txs)}),
                ));
            }
        }
        if let (Some(p), Direction::Withdrawal) =
            (t.peel_chain.as_ref().filter(|s| s.enabled && has_fiat), cx.dir())
        {
            let w = span(&p.window);
            let wds: Vec<&Ev> = cx
                .acct
                .events
                .iter()
                .rev()
                .take_while(|x| cx.now - x.time < w)
                .filter(|x| x.dir == Direction::Withdrawal)
                .collect();
            let mut chain: Vec<&Ev> = Vec::new();
            for x in wds {
                if x.cp == 0 || chain.iter().any(|c| c.cp == x.cp) {
                    break;
                }
                if let Some(next) = chain.last() {
                    // `x` is earlier; the later one must be at most max_step_pct of it.
                    if next.usd * 100 > x.usd * u128::from(p.max_step_pct) {
                        break;
                    }
                }
                chain.push(x);
            }
            let first = chain.last().map_or(0, |x| x.usd);
            if chain.len() >= p.min_hops as usize && first >= u128::from(p.min_first_usd) * 100 {
                let ids: Vec<&str> = chain.iter().rev().map(|x| &*x.id).collect();
                let amounts: Vec<u128> = chain.iter().rev().map(|x| x.usd).collect();
                hits.push(Self::hit(
                    "peel_chain",
                    ty,
                    &p.common(),
                    p.severity,
                    format!(
                        "{} decreasing withdrawals to distinct addresses within {}, from USD {} (thresholds: at least {} withdrawals, each at most {}% of the one before, the first at least USD {}): {}",
                        chain.len(),
                        p.window,
                        usd(first),
                        p.min_hops,
                        p.max_step_pct,
                        p.min_first_usd,
                        txs_text(&chain.iter().rev().copied().collect::<Vec<_>>())
                    ),
                    json!({"transfer_ids": ids, "amounts_usd_cents": amounts, "window": p.window, "transfers": txs_json(&chain.iter().rev().copied().collect::<Vec<_>>())}),
                ));
            }
        }
        self.groups(cx, state, hits, group_alerts);
        if let (Some(p), Direction::Withdrawal, Some(_)) = (
            t.pig_butchering.as_ref().filter(|s| s.enabled && has_fiat),
            cx.dir(),
            e.counterparty_address.as_ref(),
        ) {
            let w = span(&p.window);
            let cp = crate::state::counterparty_key(cx.ev);
            let opened = cx.account_opened();
            let addr_first = cx.before.addr_first.unwrap_or(cx.now);
            let recent: Vec<&Ev> = cx.acct.events.iter().filter(|x| cx.now - x.time < w).collect();
            let deps: Vec<u128> =
                recent.iter().filter(|x| x.dir == Direction::Deposit).map(|x| x.usd).collect();
            let to_addr =
                recent.iter().filter(|x| x.dir == Direction::Withdrawal && x.cp == cp).count();
            let escalating = deps.len() >= p.min_deposits as usize
                && deps.windows(2).all(|d| d[1] >= d[0])
                && deps.first().is_some_and(|f| {
                    deps.last().is_some_and(|l| l * 100 >= f * u128::from(p.min_escalation_pct))
                });
            if cx.now - opened < i64::from(p.max_account_age_days) * DAY
                && cx.now - addr_first < i64::from(p.new_address_days) * DAY
                && to_addr >= p.min_withdrawals_to_address as usize
                && escalating
            {
                let age = cx.customer.and_then(|c| c.age_at(Timestamp(cx.now)));
                let older = age.is_some_and(|a| a >= i64::from(p.older_customer_age));
                let sev = if older { bump(p.severity) } else { p.severity };
                hits.push(Self::hit(
                    "pig_butchering",
                    ty,
                    &p.common(),
                    sev,
                    format!(
                        "possible pig-butchering victim: {} escalating deposits (USD {} to {}), withdrawal #{to_addr} to address {} first used {} days ago{}; hold and call the customer",
                        deps.len(),
                        usd(deps.first().copied().unwrap_or(0)),
                        usd(deps.last().copied().unwrap_or(0)),
                        counterparty_text(cx),
                        (cx.now - addr_first) / DAY,
                        age.map(|a| format!(", customer aged {a}")).unwrap_or_default()
                    ),
                    json!({"deposits_usd_cents": deps, "withdrawals_to_address": to_addr, "account_age_days": (cx.now - opened) / DAY, "customer_age": age, "call_customer": true}),
                ));
            }
        }
        if let Some(g) = t.high_risk_geography.as_ref().filter(|s| s.enabled) {
            let cust_country = cx
                .ev
                .extras
                .customer_country
                .as_deref()
                .or(cx.customer.and_then(|c| c.country.as_deref()));
            for (who, c) in
                [("customer", cust_country), ("counterparty", cx.cp_country.map(|c| c.0))]
            {
                if let Some(c) = c.filter(|c| g.countries.iter().any(|x| x.eq_ignore_ascii_case(c)))
                {
                    hits.push(Self::hit(
                        "high_risk_geography",
                        ty,
                        &g.common(),
                        g.severity,
                        format!("{who} country {c} is a high-risk jurisdiction"),
                        json!({"party": who, "country": c}),
                    ));
                    break;
                }
            }
        }
        if let Some(r) = t.travel_rule_missing.as_ref().filter(|s| s.enabled && has_fiat) {
            let complete = cx
                .ev
                .extras
                .travel_rule
                .as_ref()
                .is_some_and(crate::input::TravelRule::is_complete);
            if external && !complete && cx.usd() >= u128::from(r.min_usd) * 100 {
                let what =
                    if cx.ev.extras.travel_rule.is_some() { "incomplete" } else { "missing" };
                hits.push(Self::hit(
                    "travel_rule_missing",
                    ty,
                    &r.common(),
                    r.severity,
                    format!("travel-rule data {what} on a USD {} {}", usd(cx.usd()), cx.dir().as_str()),
                    json!({"amount_usd_cents": cx.usd(), "threshold_usd": r.min_usd, "travel_rule": cx.ev.extras.travel_rule}),
                ));
            }
        }
    }

    /// The group typologies: customers linked by a shared device, IP address or withdrawal
    /// address. The transfer's customer gets a hit while the group is at or over the threshold;
    /// when this transfer brings a new member into such a group (it crosses the threshold, or
    /// grows past it), every other member gets a [`GroupAlert`] too, so members whose
    /// transfers came earlier are not missed.
    fn groups(
        &self,
        cx: &Ctx<'_>,
        state: &State,
        hits: &mut Vec<Hit>,
        group_alerts: &mut Vec<GroupAlert>,
    ) {
        let t = &self.pack.typologies;
        let e = &cx.ev.entry;
        let wd_addr = e
            .counterparty_address
            .as_ref()
            .filter(|_| cx.dir() == Direction::Withdrawal)
            .map(|a| (a.to_string(), key(1, a)));
        let candidates = [
            (
                "shared_device",
                t.shared_device.as_ref(),
                Link::Device,
                "device",
                e.device.as_deref().map(|d| (d.to_owned(), key(5, d))),
            ),
            (
                "shared_ip",
                t.shared_ip.as_ref(),
                Link::Ip,
                "IP address",
                e.ip.as_deref().map(|d| (d.to_owned(), key(4, d))),
            ),
            (
                "shared_withdrawal_address",
                t.shared_withdrawal_address.as_ref(),
                Link::WithdrawalAddress,
                "withdrawal address",
                wd_addr,
            ),
        ];
        for (id, rule, link, what, value) in candidates {
            let (Some(s), Some((val, k))) = (rule.filter(|s| s.enabled), value) else { continue };
            let w = span(&s.window);
            let members: Vec<&Member> =
                state.group(link, k).iter().filter(|m| cx.now - m.last < w).collect();
            let min = s.min_customers as usize;
            if members.len() < min {
                continue;
            }
            let joined = cx.before.group_prev[link as usize].is_none_or(|p| cx.now - p >= w);
            let evidence = json!({
                "attribute": what,
                "value": val,
                "customers": members.len(),
                "min_customers": s.min_customers,
                "window": s.window,
                "raised_by_transfer": e.id,
                "members": members.iter().map(|m| member_json(m)).collect::<Vec<_>>(),
            });
            let names = |but: &str| -> String {
                members
                    .iter()
                    .filter(|m| &*m.customer != but)
                    .map(|m| member_text(m))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let c = s.common();
            hits.push(Self::hit(
                id,
                HitKind::Typology,
                &c,
                s.severity,
                format!(
                    "{what} {val} used by {} customers within {} (threshold {}); the others: {}",
                    members.len(),
                    s.window,
                    s.min_customers,
                    names(&e.customer_id)
                ),
                evidence.clone(),
            ));
            if !joined {
                continue;
            }
            for m in members.iter().filter(|m| *m.customer != *e.customer_id) {
                group_alerts.push(GroupAlert {
                    customer_id: m.customer.to_string(),
                    rule_id: id.to_owned(),
                    severity: s.severity,
                    action: s.action,
                    score: s.severity.points(),
                    reason: format!(
                        "{what} {val} of this customer ({}) is shared by {} customers within {} (threshold {}), the group completed by transfer {} of {}; the others: {}",
                        member_text(m),
                        members.len(),
                        s.window,
                        s.min_customers,
                        e.id,
                        e.customer_id,
                        names(&m.customer)
                    ),
                    evidence: evidence.clone(),
                    source: s.source.clone(),
                });
            }
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
            reports.push(ReportDue {
                report: id.to_owned(),
                jurisdiction: meta.id.clone(),
                customer_id: e.customer_id.clone(),
                transfer_id: e.id.clone(),
                local_day: day.clone(),
                amount_vnd: u64::try_from(vnd).unwrap_or(u64::MAX),
                threshold: threshold.clone(),
                transfer_ids: ids.clone(),
                source: c.source.clone(),
            });
            hits.push(Self::hit(
                &format!("report.{id}"),
                HitKind::Report,
                &c,
                c.severity,
                reason,
                json!({"amount_vnd": vnd, "threshold": threshold, "local_day": day, "transfer_ids": ids}),
            ));
        };
        if let Some(l) =
            r.large_value.as_ref().filter(|x| x.enabled && x.direction.matches(e.direction))
        {
            let today: Vec<&Ev> = cx
                .acct
                .events
                .iter()
                .filter(|x| x.time >= day_start && l.direction.matches(x.dir))
                .collect();
            let after: u128 = today.iter().map(|x| x.vnd).sum();
            let before = after - fiat.vnd.min(after);
            let thr = u128::from(l.threshold_vnd);
            if before < thr && after >= thr {
                let ids = today.iter().map(|x| x.id.to_string()).collect();
                due(
                    "large_value",
                    l.common(),
                    format!("customer's total on {day} reached VND {after} (threshold VND {thr})"),
                    after,
                    format!("VND {thr} per day"),
                    ids,
                );
            }
        }
        let cp_country = cx.cp_country.map(|c| c.0);
        let from_dir = if cx.cp_country.is_some_and(|c| c.1) {
            " (counterparty country from the VASP directory)"
        } else {
            ""
        };
        if let Some(d) = r.domestic_transfer.as_ref().filter(|x| x.enabled) {
            let domestic = e.direction == Direction::Internal
                || cp_country.is_some_and(|c| c.eq_ignore_ascii_case(&meta.country));
            if domestic && fiat.vnd >= u128::from(d.threshold_vnd) {
                due(
                    "domestic_transfer",
                    d.common(),
                    format!(
                        "domestic transfer of VND {} (threshold VND {}){from_dir}",
                        fiat.vnd, d.threshold_vnd
                    ),
                    fiat.vnd,
                    format!("VND {}", d.threshold_vnd),
                    vec![e.id.clone()],
                );
            }
        }
        if let Some(i) = r.international_transfer.as_ref().filter(|x| x.enabled) {
            // A deposit or withdrawal at or over the threshold whose other side's country is
            // unknown may be international: say so rather than pass it silently.
            if e.direction != Direction::Internal
                && cp_country.is_none()
                && fiat.usd_cents >= u128::from(i.threshold_usd) * 100
            {
                notes.push(format!(
                    "international-transfer check not possible: counterparty country unknown ({} of USD {}, threshold USD {}; give counterparty_country, or the counterparty VASP and a VASP directory)",
                    e.direction.as_str(),
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
                        "international transfer of USD {} (threshold USD {}){from_dir}",
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

    fn bindings(&self, cx: &Ctx<'_>, hits: &[Hit]) -> Bindings {
        let mut b = Bindings::default();
        let e = &cx.ev.entry;
        let u = self.uses;
        if u & 1 != 0 {
            let mut o = Obj::filtered(&self.fields, "transfer");
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
            o.opt_str("counterparty_vasp", e.counterparty_vasp.as_deref())
                .opt_str("counterparty_customer", e.counterparty_customer.as_deref())
                .opt_str("counterparty_country", cx.cp_country.map(|c| c.0))
                .opt_str("customer_country", cx.ev.extras.customer_country.as_deref())
                .opt_str("ip", e.ip.as_deref())
                .opt_str("device", e.device.as_deref())
                .bool(
                    "has_travel_rule",
                    cx.ev
                        .extras
                        .travel_rule
                        .as_ref()
                        .is_some_and(crate::input::TravelRule::is_complete),
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
            let mut o = Obj::filtered(&self.fields, "customer");
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
            let mut o = Obj::filtered(&self.fields, "window");
            for (w, i) in self.pack.windows.iter().zip(&self.idx.windows) {
                o.int(&w.def.name, cx.agg[*i] as i128);
            }
            b.set(2, o.build());
        }
        if u & 8 != 0 {
            let mut o = Obj::filtered(&self.fields, "screening");
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
            let mut o = Obj::filtered(&self.fields, "exposure");
            let x = cx.ev.extras.exposure.clone().unwrap_or_default();
            o.bool("available", cx.ev.extras.exposure.is_some())
                .float("sanctioned", x.sanctioned)
                .float("mixer", x.mixer)
                .float("scam", x.scam)
                .float("darknet", x.darknet);
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

    fn cel(&self, cx: &Ctx<'_>, hits: &mut Vec<Hit>, errors: &mut Vec<RuleError>) {
        let rules: Vec<_> = self.pack.rules.iter().filter(|r| r.def.enabled).collect();
        if rules.is_empty() {
            return;
        }
        let b = self.bindings(cx, hits);
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
                    hits.push(Self::hit(
                        &r.def.id,
                        HitKind::Rule,
                        &c,
                        r.def.severity,
                        reason,
                        json!({"when": r.def.when.get_ref()}),
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

fn bump(s: Severity) -> Severity {
    match s {
        Severity::Low => Severity::Medium,
        Severity::Medium => Severity::High,
        _ => Severity::Critical,
    }
}

/// Evidence of a list hit on the counterparty: who it is and which list entry matched.
fn list_evidence(cx: &Ctx<'_>, r: &AddressRisk) -> serde_json::Value {
    let e = &cx.ev.entry;
    json!({"counterparty_address": e.counterparty_address, "counterparty_vasp": e.counterparty_vasp, "list": r})
}

/// `2025-09-02T10:00:00Z`.
fn when(t: i64) -> String {
    Timestamp(t).to_rfc3339()
}

/// A group member and its transfers, for a reason: `c1 (tx-1 at …, USD 300.00)`.
fn member_text(m: &Member) -> String {
    let txs: Vec<String> = m
        .transfers
        .iter()
        .map(|(id, t, usd_c)| format!("{id} at {}, USD {}", when(*t), usd(*usd_c)))
        .collect();
    format!("{} ({})", m.customer, txs.join("; "))
}

fn member_json(m: &Member) -> serde_json::Value {
    json!({
        "customer_id": m.customer,
        "last_used": Timestamp(m.last),
        "transfers": m.transfers.iter().map(|(id, t, c)| json!({"id": id, "time": Timestamp(*t), "amount_usd_cents": c})).collect::<Vec<_>>(),
    })
}

fn counterparty_text(cx: &Ctx<'_>) -> String {
    let e = &cx.ev.entry;
    e.counterparty_address
        .as_ref()
        .map(ToString::to_string)
        .or_else(|| e.counterparty_vasp.clone())
        .or_else(|| e.counterparty_customer.clone())
        .unwrap_or_else(|| "(unknown)".into())
}

/// The account's transfers within `w` before now that match `f`, oldest first.
fn txs_in<'a>(cx: &Ctx<'a>, w: i64, f: impl Fn(&Ev) -> bool) -> Vec<&'a Ev> {
    let mut v: Vec<&Ev> =
        cx.acct.events.iter().rev().take_while(|x| cx.now - x.time < w).filter(|x| f(x)).collect();
    v.reverse();
    v
}

/// Transfers for a reason: `tx-1 at 2025-09-02T10:00:00Z, USD 300.00; …` (the first 10, then
/// how many more; the evidence lists them all).
fn txs_text(txs: &[&Ev]) -> String {
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

fn txs_json(txs: &[&Ev]) -> serde_json::Value {
    txs.iter()
        .map(|x| json!({"id": x.id, "time": Timestamp(x.time), "direction": x.dir.as_str(), "amount_usd_cents": x.usd, "amount_vnd": x.vnd}))
        .collect()
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
