//! A mixer as counterparty, or a share of the counterparty's funds traced to mixers by the
//! trace engine at or above a threshold.

use serde_json::json;

use super::{counterparty_text, hit, pct, this_tx, this_tx_json, Ctx, Findings, Typology};
use crate::decision::{Evidence, HitKind};
use crate::facts::RiskCategory;
use crate::pack::typology_struct;

/// The note when the trace engine sent no exposure (shared with
/// [`super::indirect_exposure`]).
pub(super) fn note_no_exposure(cx: &Ctx<'_>, out: &mut Findings<'_>) {
    let e = &cx.ev.entry;
    let external = cx.dir() != floodgate_types::Direction::Internal;
    if cx.ev.extras.exposure.is_none() && external && e.counterparty_address.is_some() {
        out.note("no exposure data from the trace engine: indirect exposure was not assessed");
    }
}

typology_struct!(
    /// Mixer counterparty, or indirect mixer exposure from the trace engine.
    Settings {
        /// Indirect mixer share at least this percentage.
        min_indirect_pct: u32,
    }
);

pub(crate) struct MixerExposure;

impl Typology for MixerExposure {
    type Settings = Settings;

    fn name(&self) -> &'static str {
        "mixer_exposure"
    }
    fn check(&self, m: &Settings, cx: &Ctx<'_>, _agg: &[u128], out: &mut Findings<'_>) {
        note_no_exposure(cx, out);
        let direct = cx.risks().into_iter().find(|r| r.category == RiskCategory::Mixer);
        let share = cx.ev.extras.exposure.as_ref().map_or(0.0, |x| x.mixer);
        if direct.is_some() || share * 100.0 >= f64::from(m.min_indirect_pct) {
            let reason = match direct {
                Some(r) => {
                    format!(
                        "counterparty {} is a mixer ({}; any amount): transfer {}",
                        counterparty_text(cx),
                        r.source,
                        this_tx(cx)
                    )
                }
                None => format!(
                    "{} of the counterparty's funds come from mixers (threshold {}%): transfer {}",
                    pct(share),
                    m.min_indirect_pct,
                    this_tx(cx)
                ),
            };
            out.hits.push(hit(
                self.name(),
                HitKind::Typology,
                m.action,
                &m.source,
                m.severity,
                reason,
                Evidence::from(json!({"direct": direct, "indirect_mixer_share": share, "threshold_pct": m.min_indirect_pct, "transfer": this_tx_json(cx)})),
            ));
        }
    }
}
