//! A share of the counterparty's funds traced indirectly to sanctioned, scam or darknet
//! sources at or above a threshold.

use serde_json::json;

use super::mixer_exposure::note_no_exposure;
use super::{hit, pct, this_tx, this_tx_json, Ctx, Findings, Typology};
use crate::decision::{Evidence, HitKind};
use crate::pack::typology_struct;

typology_struct!(
    /// Indirect exposure to sanctioned, scam or darknet sources.
    Settings {
        /// Share at least this percentage.
        min_indirect_pct: u32,
    }
);

pub(crate) struct IndirectExposure;

impl Typology for IndirectExposure {
    type Settings = Settings;

    fn name(&self) -> &'static str {
        "indirect_exposure"
    }
    fn check(&self, m: &Settings, cx: &Ctx<'_>, _agg: &[u128], out: &mut Findings<'_>) {
        note_no_exposure(cx, out);
        let Some(x) = cx.ev.extras.exposure.as_ref() else { return };
        let (cat, share) = [("sanctioned", x.sanctioned), ("scam", x.scam), ("darknet", x.darknet)]
            .into_iter()
            .fold(("", 0.0f64), |a, b| if b.1 > a.1 { b } else { a });
        if share * 100.0 >= f64::from(m.min_indirect_pct) {
            out.hits.push(hit(
                self.name(),
                HitKind::Typology,
                m.action,
                &m.source,
                m.severity,
                format!("{} of the counterparty's funds come indirectly from {cat} sources (threshold {}%): transfer {}", pct(share), m.min_indirect_pct, this_tx(cx)),
                Evidence::from(json!({"exposure": x, "threshold_pct": m.min_indirect_pct, "transfer": this_tx_json(cx)})),
            ));
        }
    }
}
