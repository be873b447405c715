//! Direct exposure: the counterparty address or VASP is on a sanctions list (FATF R.6/R.7:
//! targeted financial sanctions).

use super::{counterparty_text, hit, list_evidence, this_tx, Ctx, Findings, Typology};
use crate::decision::HitKind;
use crate::facts::RiskCategory;
use crate::pack::typology_struct;

/// The note when no list could be consulted (shared with [`super::listed_counterparty`]).
pub(super) const NO_LISTS: &str = "no screening lists loaded: the counterparty was not checked against sanctions, mixer or alert lists";

/// Emits [`NO_LISTS`] when the counterparty could not be checked.
pub(super) fn note_no_lists(cx: &Ctx<'_>, out: &mut Findings<'_>) {
    let e = &cx.ev.entry;
    if !cx.screening && (e.counterparty_address.is_some() || e.counterparty_vasp.is_some()) {
        out.note(NO_LISTS);
    }
}

typology_struct!(
    /// A counterparty address on a list of the given category (direct exposure).
    Settings {}
);

pub(crate) struct SanctionedCounterparty;

impl Typology for SanctionedCounterparty {
    type Settings = Settings;

    fn name(&self) -> &'static str {
        "sanctioned_counterparty"
    }
    fn check(&self, s: &Settings, cx: &Ctx<'_>, _agg: &[u128], out: &mut Findings<'_>) {
        note_no_lists(cx, out);
        if let Some(r) = cx.risks().into_iter().find(|r| r.category == RiskCategory::Sanctioned) {
            out.hits.push(hit(
                self.name(),
                HitKind::Typology,
                s.action,
                &s.source,
                s.severity,
                format!(
                    "counterparty {} is on {} (any amount): transfer {}",
                    counterparty_text(cx),
                    r.source,
                    this_tx(cx)
                ),
                list_evidence(cx, r),
            ));
        }
    }
}
