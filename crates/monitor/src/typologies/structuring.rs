//! Structuring (smurfing): several transfers just under a reporting threshold within a window
//! (FATF, "Money laundering and terrorist financing red flag indicators associated with virtual
//! assets", 2020: transactions structured to stay under thresholds).

use floodgate_types::Direction;
use serde::Serialize;

use super::{hit, span, txs_in, txs_text, usd, Ctx, Findings, Kind, Spec, TxIds, Txs, Typology};
use crate::decision::{Evidence, HitKind};
use crate::pack::{typology_struct, DirFilter};

typology_struct!(
    /// Several transfers just under a reporting threshold within a window.
    Settings {
        /// The threshold being avoided, whole USD.
        threshold_usd: u64,
        /// "Just under": within this percentage below the threshold.
        margin_pct: u32,
        /// At least this many such transfers in the window (this one included).
        min_count: u32,
        /// Window length.
        window: String,
    }
);

pub(crate) struct Structuring;

/// The band "just under the threshold", US cents: `[lo, hi)`.
fn band(threshold_usd: u64, margin_pct: u32) -> (u128, u128) {
    let hi = u128::from(threshold_usd) * 100;
    (hi * u128::from(100 - margin_pct.min(100)) / 100, hi)
}

impl Typology for Structuring {
    type Settings = Settings;

    fn name(&self) -> &'static str {
        "structuring"
    }
    fn window<'a>(&self, s: &'a Settings) -> Option<&'a str> {
        Some(s.window.as_str())
    }
    /// Deposits, then withdrawals, in the band within the window.
    fn aggregates(&self, s: &Settings) -> Vec<Spec> {
        let (lo, hi) = band(s.threshold_usd, s.margin_pct);
        let w = span(&s.window);
        [DirFilter::Deposit, DirFilter::Withdrawal]
            .map(|dir| Spec { span: w, dir, kind: Kind::CountUsdIn(lo, hi) })
            .to_vec()
    }
    fn check(&self, s: &Settings, cx: &Ctx<'_>, agg: &[u128], out: &mut Findings<'_>) {
        if !cx.has_fiat() {
            return;
        }
        let n = match cx.dir() {
            Direction::Deposit => agg[0],
            Direction::Withdrawal => agg[1],
            Direction::Internal => return,
        };
        let (lo, hi) = band(s.threshold_usd, s.margin_pct);
        if cx.usd() >= lo && cx.usd() < hi && n >= u128::from(s.min_count) {
            let band =
                txs_in(cx, span(&s.window), |ev| ev.dir == cx.dir() && ev.usd >= lo && ev.usd < hi);
            out.hits.push(hit(
                self.name(),
                HitKind::Typology,
                s.action,
                &s.source,
                s.severity,
                format!(
                    "{n} {}s of USD {}–{} (just under USD {}) within {} (threshold {} transfers): {}",
                    cx.dir().as_str(),
                    usd(lo),
                    usd(hi - 1),
                    s.threshold_usd,
                    s.window,
                    s.min_count,
                    txs_text(&cx.state.ids, &band)
                ),
                Evidence::of(&Ev {
                    band_usd_cents: [lo, hi],
                    count: n,
                    min_count: s.min_count,
                    transfer_ids: TxIds(&cx.state.ids, &band),
                    transfers: Txs(&cx.state.ids, &band),
                    window: &s.window,
                }),
            ));
        }
    }
}

/// Its evidence (keys in sorted order, see [`Evidence::of`]).
#[derive(Serialize)]
struct Ev<'a> {
    band_usd_cents: [u128; 2],
    count: u128,
    min_count: u32,
    transfer_ids: TxIds<'a>,
    transfers: Txs<'a>,
    window: &'a str,
}
