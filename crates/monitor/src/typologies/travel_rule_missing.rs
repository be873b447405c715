//! A transfer at or above the travel-rule threshold without complete originator and
//! beneficiary data (FATF R.16).

use floodgate_types::Direction;
use serde::Serialize;

use super::{hit, this_tx, this_tx_json, Ctx, Findings, ThisTx, Typology};
use crate::decision::{Evidence, HitKind};
use crate::pack::typology_struct;

typology_struct!(
    /// Transfer at or above the travel-rule threshold without originator and beneficiary data.
    Settings {
        /// Threshold, whole USD.
        min_usd: u64,
    }
);

pub(crate) struct TravelRuleMissing;

impl Typology for TravelRuleMissing {
    type Settings = Settings;

    fn name(&self) -> &'static str {
        "travel_rule_missing"
    }
    fn check(&self, r: &Settings, cx: &Ctx<'_>, _agg: &[u128], out: &mut Findings<'_>) {
        if !cx.has_fiat() {
            return;
        }
        let tr = cx.ev.travel_rule();
        let complete = tr.is_some_and(crate::input::TravelRule::is_complete);
        // Cash paid in or out at a counter carries no travel-rule message (R.16 is about
        // transfers: wire transfers and virtual-asset transfers).
        let external = cx.dir() != Direction::Internal
            && cx.ev.entry.rail != Some(floodgate_types::Rail::Cash);
        if external && !complete && cx.usd() >= u128::from(r.min_usd) * 100 {
            let what = if tr.is_some() { "incomplete" } else { "missing" };
            out.hits.push(hit(
                self.name(),
                HitKind::Typology,
                r.action,
                &r.source,
                r.severity,
                format!(
                    "travel-rule data {what} (originator and beneficiary names) on transfer {} (threshold USD {})",
                    this_tx(cx),
                    r.min_usd
                ),
                Evidence::of(&Ev {
                    amount_usd_cents: cx.usd(),
                    threshold_usd: r.min_usd,
                    transfer: this_tx_json(cx),
                    travel_rule: tr.map(|t| {
                        serde_json::to_value(t).expect("travel-rule fields serialize as JSON")
                    }),
                }),
            ));
        }
    }
}

/// Its evidence (keys in sorted order, see [`Evidence::of`]).
#[derive(Serialize)]
struct Ev<'a> {
    amount_usd_cents: u128,
    threshold_usd: u64,
    transfer: ThisTx<'a>,
    /// As given (a `serde_json::Value`: its keys sorted).
    travel_rule: Option<serde_json::Value>,
}
