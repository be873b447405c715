//! The customer or the counterparty in a high-risk jurisdiction (FATF R.19).

use serde_json::json;

use super::{hit, Ctx, Findings, Typology};
use crate::decision::HitKind;
use crate::pack::Typologies;

pub(crate) struct HighRiskGeography;

impl Typology for HighRiskGeography {
    fn name(&self) -> &'static str {
        "high_risk_geography"
    }
    fn enabled(&self, t: &Typologies) -> Option<bool> {
        t.high_risk_geography.as_ref().map(|x| x.enabled)
    }
    fn check(&self, t: &Typologies, cx: &Ctx<'_>, _agg: &[u128], out: &mut Findings<'_>) {
        let Some(g) = t.high_risk_geography.as_ref().filter(|s| s.enabled) else { return };
        let cust_country = cx
            .ev
            .extras
            .customer_country
            .as_deref()
            .or(cx.customer.and_then(|c| c.country.as_deref()));
        for (who, c) in [("customer", cust_country), ("counterparty", cx.cp_country.map(|c| c.0))] {
            if let Some(c) = c.filter(|c| g.countries.iter().any(|x| x.eq_ignore_ascii_case(c))) {
                out.hits.push(hit(
                    self.name(),
                    HitKind::Typology,
                    &g.common(),
                    g.severity,
                    format!("{who} country {c} is a high-risk jurisdiction"),
                    json!({"party": who, "country": c}),
                ));
                break;
            }
        }
    }
}
