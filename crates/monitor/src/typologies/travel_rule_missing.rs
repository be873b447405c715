//! A transfer at or above the travel-rule threshold without complete originator and
//! beneficiary data (FATF R.16).

use floodgate_types::Direction;
use serde_json::json;

use super::{hit, this_tx, this_tx_json, Ctx, Findings, Typology};
use crate::decision::HitKind;
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
                &r.common(),
                r.severity,
                format!(
                    "travel-rule data {what} (originator and beneficiary names) on transfer {} (threshold USD {})",
                    this_tx(cx),
                    r.min_usd
                ),
                json!({"amount_usd_cents": cx.usd(), "threshold_usd": r.min_usd, "travel_rule": tr, "transfer": this_tx_json(cx)}),
            ));
        }
    }
}
