//! A long-idle account suddenly moving large value after reactivation.

use floodgate_types::Timestamp;
use serde::Serialize;

use super::{hit, span, txs_text, when, Ctx, Findings, Txs, Typology, DAY};
use crate::decision::{Evidence, HitKind};
use crate::pack::typology_struct;
use crate::state::Ev;

typology_struct!(
    /// A long-idle account suddenly moving large value.
    Settings {
        /// Idle at least this many days before the burst (≥ 30).
        idle_days: u32,
        /// Window after reactivation in which value is summed.
        window: String,
        /// Value moved in the window at least this, whole VND.
        min_vnd: u64,
    }
);

pub(crate) struct DormantReactivation;

impl Typology for DormantReactivation {
    type Settings = Settings;

    fn name(&self) -> &'static str {
        "dormant_reactivation"
    }
    fn window<'a>(&self, s: &'a Settings) -> Option<&'a str> {
        Some(s.window.as_str())
    }
    /// The state remembers only gaps of at least 30 days
    /// ([`crate::state::MIN_RECORDED_GAP_SECS`]).
    fn validate(&self, d: &Settings) -> Option<(&'static str, String)> {
        (d.idle_days < 30).then(|| {
            ("idle_days", "typology.dormant_reactivation.idle_days must be at least 30".into())
        })
    }
    fn check(&self, d: &Settings, cx: &Ctx<'_>, _agg: &[u128], out: &mut Findings<'_>) {
        if !cx.has_fiat() {
            return;
        }
        let idle = i64::from(d.idle_days) * DAY;
        let w = span(&d.window);
        let mut react = cx.acct.gaps.iter().rev().find(|(_, g)| *g >= idle).map(|(t, g)| (*t, *g));
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
        let Some((rt, gap)) = react.filter(|(rt, _)| cx.now - rt < w) else { return };
        let since: Vec<&Ev> = cx.acct.events.iter().filter(|x| x.time >= rt).collect();
        let sum: u128 = since.iter().map(|x| x.vnd).sum();
        if sum >= u128::from(d.min_vnd) {
            out.hits.push(hit(
                self.name(),
                HitKind::Typology,
                d.action,
                &d.source,
                d.severity,
                format!(
                    "VND {sum} moved within {} of reactivation at {} after {} idle days (thresholds: idle at least {} days, at least VND {}): {}",
                    d.window,
                    when(rt),
                    gap / DAY,
                    d.idle_days,
                    d.min_vnd,
                    txs_text(&cx.state.ids, &since)
                ),
                Evidence::of(&DormantEvidence {
                    before_last_activity: cx.before.last_time.map(Timestamp),
                    idle_days: gap / DAY,
                    min_idle_days: d.idle_days,
                    min_vnd: d.min_vnd,
                    reactivated_at: Timestamp(rt),
                    sum_vnd: sum,
                    transfers: Txs(&cx.state.ids, &since),
                    window: &d.window,
                }),
            ));
        }
    }
}

/// Its evidence (keys in sorted order, see [`Evidence::of`]).
#[derive(Serialize)]
struct DormantEvidence<'a> {
    before_last_activity: Option<Timestamp>,
    idle_days: i64,
    min_idle_days: u32,
    min_vnd: u64,
    reactivated_at: Timestamp,
    sum_vnd: u128,
    transfers: Txs<'a>,
    window: &'a str,
}
