//! Pig-butchering victim: a new account, escalating deposits, and withdrawals to one newly
//! used address (FinCEN Alert FIN-2023-Alert005). Hold and call the customer.

use floodgate_types::{Direction, Timestamp};
use serde_json::json;

use super::{bump, counterparty_text, hit, span, txs_text, Ctx, Findings, Txs, Typology, DAY};
use crate::decision::{Evidence, HitKind};
use crate::pack::typology_struct;
use crate::state::Ev;

typology_struct!(
    /// Pig-butchering victim: new account, escalating deposits, withdrawals to one new address.
    Settings {
        /// Account younger than this many days.
        max_account_age_days: u32,
        /// Window over which deposits and withdrawals are looked at.
        window: String,
        /// At least this many deposits, each at least the one before.
        min_deposits: u32,
        /// Last deposit at least this multiple (percent) of the first.
        min_escalation_pct: u32,
        /// The destination first used within this many days.
        new_address_days: u32,
        /// At least this many withdrawals to that address in the window (this one included).
        min_withdrawals_to_address: u32,
        /// Customers at least this old get severity raised one step (often older victims).
        older_customer_age: u32,
    }
);

pub(crate) struct PigButchering;

impl Typology for PigButchering {
    type Settings = Settings;

    fn name(&self) -> &'static str {
        "pig_butchering"
    }
    fn window<'a>(&self, s: &'a Settings) -> Option<&'a str> {
        Some(s.window.as_str())
    }
    fn check(&self, p: &Settings, cx: &Ctx<'_>, _agg: &[u128], out: &mut Findings<'_>) {
        if !cx.has_fiat() {
            return;
        }
        if cx.dir() != Direction::Withdrawal || cx.ev.entry.counterparty_address.is_none() {
            return;
        }
        let w = span(&p.window);
        let cp = crate::state::counterparty_key(cx.ev);
        let opened = cx.account_opened();
        let addr_first = cx.before.addr_first.unwrap_or(cx.now);
        // Events are in time order (`crate::state`): the window's are the last ones.
        let events = &cx.acct.events;
        let n_recent = events.iter().rev().take_while(|x| cx.now - x.time < w).count();
        let recent: Vec<&Ev> = events.iter().skip(events.len() - n_recent).collect();
        let dep_txs: Vec<&Ev> =
            recent.iter().copied().filter(|x| x.dir == Direction::Deposit).collect();
        let deps: Vec<u128> = dep_txs.iter().map(|x| x.usd).collect();
        let wd_txs: Vec<&Ev> = recent
            .iter()
            .copied()
            .filter(|x| x.dir == Direction::Withdrawal && x.cp == cp)
            .collect();
        let to_addr = wd_txs.len();
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
            let (first, last) =
                (deps.first().copied().unwrap_or(0), deps.last().copied().unwrap_or(0));
            let escalation = (last * 100).checked_div(first).unwrap_or(0);
            out.hits.push(hit(
                self.name(),
                HitKind::Typology,
                p.action,
                &p.source,
                sev,
                format!(
                    "possible pig-butchering victim: account opened {} days ago (threshold under {} days); {} deposits within {}, each at least the one before, the last {escalation}% of the first (thresholds: at least {} deposits, at least {}%): {}; withdrawal #{to_addr} to address {} first used {} days ago (thresholds: at least {} withdrawals to an address first used under {} days ago): {}{}; hold and call the customer",
                    (cx.now - opened) / DAY,
                    p.max_account_age_days,
                    deps.len(),
                    p.window,
                    p.min_deposits,
                    p.min_escalation_pct,
                    txs_text(&cx.state.ids, &dep_txs),
                    counterparty_text(cx),
                    (cx.now - addr_first) / DAY,
                    p.min_withdrawals_to_address,
                    p.new_address_days,
                    txs_text(&cx.state.ids, &wd_txs),
                    age.map(|a| format!("; customer aged {a} (severity raised at {} or older)", p.older_customer_age))
                        .filter(|_| older)
                        .or_else(|| age.map(|a| format!("; customer aged {a}")))
                        .unwrap_or_default()
                ),
                Evidence::from(json!({"deposits_usd_cents": deps, "withdrawals_to_address": to_addr, "account_age_days": (cx.now - opened) / DAY, "customer_age": age, "call_customer": true,
                       "window": p.window, "escalation_pct": escalation, "deposits": Txs(&cx.state.ids, &dep_txs), "withdrawals": Txs(&cx.state.ids, &wd_txs)})),
            ));
        }
    }
}
