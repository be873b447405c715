//! The customer or the counterparty in a high-risk jurisdiction (FATF R.19).

use serde_json::json;

use super::{hit, Ctx, Findings, Typology};
use crate::decision::HitKind;
use crate::pack::typology_struct;

typology_struct!(
    /// Customer or counterparty in a high-risk jurisdiction.
    Settings {
        /// ISO alpha-2 codes.
        countries: Vec<String>,
    }
);

pub(crate) struct HighRiskGeography;

impl Typology for HighRiskGeography {
    type Settings = Settings;

    fn name(&self) -> &'static str {
        "high_risk_geography"
    }
    fn check(&self, g: &Settings, cx: &Ctx<'_>, _agg: &[u128], out: &mut Findings<'_>) {
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
