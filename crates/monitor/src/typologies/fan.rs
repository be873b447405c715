//! Fan-in and fan-out: many distinct counterparties on one side within a window (collection
//! from, or dispersal to, many addresses). One logic, two typologies.

use floodgate_types::Direction;
use serde::Serialize;

use super::{hit, span, txs_in, txs_text, usd, Ctx, Findings, Kind, Spec, Txs, Typology};
use crate::decision::{Evidence, HitKind};
use crate::pack::{typology_struct, DirFilter};

typology_struct!(
    /// Many distinct counterparties on one side within a window.
    Settings {
        /// Window length.
        window: String,
        /// At least this many distinct counterparties.
        min_distinct: u32,
        /// And at least this much value in the window, whole USD.
        min_total_usd: u64,
    }
);

/// Fan-in (deposits from many sources) or fan-out (withdrawals to many destinations).
pub(crate) struct FanTypology {
    name: &'static str,
    dir: Direction,
}

pub(crate) static FAN_IN: FanTypology = FanTypology { name: "fan_in", dir: Direction::Deposit };
pub(crate) static FAN_OUT: FanTypology =
    FanTypology { name: "fan_out", dir: Direction::Withdrawal };

impl Typology for FanTypology {
    type Settings = Settings;

    fn name(&self) -> &'static str {
        self.name
    }
    fn window<'a>(&self, f: &'a Settings) -> Option<&'a str> {
        Some(f.window.as_str())
    }
    /// Distinct counterparties, then USD, on this side within the window.
    fn aggregates(&self, f: &Settings) -> Vec<Spec> {
        let w = span(&f.window);
        let dir =
            if self.dir == Direction::Deposit { DirFilter::Deposit } else { DirFilter::Withdrawal };
        vec![Spec { span: w, dir, kind: Kind::Distinct }, Spec { span: w, dir, kind: Kind::SumUsd }]
    }
    fn check(&self, f: &Settings, cx: &Ctx<'_>, agg: &[u128], out: &mut Findings<'_>) {
        let want = self.dir;
        if cx.dir() != want {
            return;
        }
        let (n, sum) = (agg[0], agg[1]);
        if n >= u128::from(f.min_distinct) && sum >= u128::from(f.min_total_usd) * 100 {
            let side = if want == Direction::Deposit { "sources" } else { "destinations" };
            let txs = txs_in(cx, span(&f.window), |x| x.dir == want);
            out.hits.push(hit(
                self.name,
                HitKind::Typology,
                f.action,
                &f.source,
                f.severity,
                format!(
                    "{n} distinct {side} within {} (threshold {}), USD {} in total (threshold USD {}): {}",
                    f.window,
                    f.min_distinct,
                    usd(sum),
                    f.min_total_usd,
                    txs_text(&cx.state.ids, &txs)
                ),
                Evidence::of(&Ev {
                    distinct_counterparties: n,
                    min_distinct: f.min_distinct,
                    min_total_usd: f.min_total_usd,
                    sum_usd_cents: sum,
                    transfers: Txs(&cx.state.ids, &txs),
                    window: &f.window,
                }),
            ));
        }
    }
}

/// Its evidence (keys in sorted order, see [`Evidence::of`]).
#[derive(Serialize)]
struct Ev<'a> {
    distinct_counterparties: u128,
    min_distinct: u32,
    min_total_usd: u64,
    sum_usd_cents: u128,
    transfers: Txs<'a>,
    window: &'a str,
}
