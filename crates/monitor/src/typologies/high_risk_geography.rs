//! The customer or the counterparty in a high-risk jurisdiction (FATF R.19).

use serde_json::json;

use super::{hit, this_tx, this_tx_json, Ctx, Findings, Typology};
use crate::decision::{Evidence, HitKind};
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
        let cp = cx.cp_country.map(|c| c.0);
        let cp_from = cx.cp_country.map_or("", |c| c.1);
        for (who, c, from) in [("customer", cust_country, ""), ("counterparty", cp, cp_from)] {
            if let Some(c) = c.filter(|c| g.countries.iter().any(|x| x.eq_ignore_ascii_case(c))) {
                out.hits.push(hit(
                    self.name(),
                    HitKind::Typology,
                    g.action,
                    &g.source,
                    g.severity,
                    format!(
                        "{who} country {c}{from} is a high-risk jurisdiction (list: {}): transfer {}",
                        g.countries.join(", "),
                        this_tx(cx)
                    ),
                    Evidence::from(json!({"party": who, "country": c, "countries": g.countries, "transfer": this_tx_json(cx)})),
                ));
                break;
            }
        }
    }
}
