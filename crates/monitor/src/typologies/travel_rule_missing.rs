//! A transfer at or above the travel-rule threshold without complete originator and
//! beneficiary data (FATF R.16).

use floodgate_types::Direction;
use serde_json::json;

use super::{hit, usd, Ctx, Findings, Typology};
use crate::decision::HitKind;
use crate::pack::Typologies;

pub(crate) struct TravelRuleMissing;

impl Typology for TravelRuleMissing {
    fn name(&self) -> &'static str {
        "travel_rule_missing"
    }
    fn enabled(&self, t: &Typologies) -> Option<bool> {
        t.travel_rule_missing.as_ref().map(|x| x.enabled)
    }
    fn check(&self, t: &Typologies, cx: &Ctx<'_>, _agg: &[u128], out: &mut Findings<'_>) {
        let Some(r) = t.travel_rule_missing.as_ref().filter(|s| s.enabled && cx.has_fiat()) else {
            return;
        };
        let tr = cx.ev.extras.travel_rule.as_ref();
        let complete = tr.is_some_and(crate::input::TravelRule::is_complete);
        let external = cx.dir() != Direction::Internal;
        if external && !complete && cx.usd() >= u128::from(r.min_usd) * 100 {
            let what = if tr.is_some() { "incomplete" } else { "missing" };
            out.hits.push(hit(
                self.name(),
                HitKind::Typology,
                &r.common(),
                r.severity,
                format!("travel-rule data {what} on a USD {} {}", usd(cx.usd()), cx.dir().as_str()),
                json!({"amount_usd_cents": cx.usd(), "threshold_usd": r.min_usd, "travel_rule": cx.ev.extras.travel_rule}),
            ));
        }
    }
}
