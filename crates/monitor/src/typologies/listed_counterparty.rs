//! Direct exposure: the counterparty is on an investor-alert list, a list of platforms
//! unlicensed in the customer's jurisdiction, or a scam list.

use super::sanctioned_counterparty::note_no_lists;
use super::{counterparty_text, hit, list_evidence, this_tx, Ctx, Findings, Typology};
use crate::decision::HitKind;
use crate::facts::RiskCategory;
use crate::pack::typology_struct;

typology_struct!(
    /// Counterparty on an investor-alert list or unlicensed in the customer's jurisdiction.
    Settings {}
);

pub(crate) struct ListedCounterparty;

impl Typology for ListedCounterparty {
    type Settings = Settings;

    fn name(&self) -> &'static str {
        "listed_counterparty"
    }
    fn check(&self, s: &Settings, cx: &Ctx<'_>, _agg: &[u128], out: &mut Findings<'_>) {
        note_no_lists(cx, out);
        let Some(r) = cx.risks().into_iter().find(|r| {
            matches!(
                r.category,
                RiskCategory::InvestorAlert | RiskCategory::UnlicensedVasp | RiskCategory::Scam
            )
        }) else {
            return;
        };
        let what = match r.category {
            RiskCategory::InvestorAlert => "an investor-alert list",
            RiskCategory::UnlicensedVasp => "the list of platforms unlicensed here",
            _ => "a scam list",
        };
        out.hits.push(hit(
            self.name(),
            HitKind::Typology,
            s.action,
            &s.source,
            s.severity,
            format!(
                "counterparty {} is on {what} ({}; any amount): transfer {}",
                counterparty_text(cx),
                r.source,
                this_tx(cx)
            ),
            list_evidence(cx, r),
        ));
    }
}
