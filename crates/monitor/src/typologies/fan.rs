//! Fan-in and fan-out: many distinct counterparties on one side within a window (collection
//! from, or dispersal to, many addresses). One logic, two typologies.

use floodgate_types::Direction;
use serde_json::json;

use super::{hit, span, txs_in, txs_json, txs_text, usd, Ctx, Findings, Kind, Spec, Typology};
use crate::decision::HitKind;
use crate::pack::{DirFilter, Fan, Typologies};

/// Fan-in (deposits from many sources) or fan-out (withdrawals to many destinations).
pub(crate) struct FanTypology {
    name: &'static str,
    dir: Direction,
    settings: fn(&Typologies) -> Option<&Fan>,
}

pub(crate) static FAN_IN: FanTypology =
    FanTypology { name: "fan_in", dir: Direction::Deposit, settings: |t| t.fan_in.as_ref() };
pub(crate) static FAN_OUT: FanTypology =
    FanTypology { name: "fan_out", dir: Direction::Withdrawal, settings: |t| t.fan_out.as_ref() };

impl Typology for FanTypology {
    fn name(&self) -> &'static str {
        self.name
    }
    fn enabled(&self, t: &Typologies) -> Option<bool> {
        (self.settings)(t).map(|x| x.enabled)
    }
    fn window<'a>(&self, t: &'a Typologies) -> Option<&'a str> {
        (self.settings)(t).map(|x| x.window.as_str())
    }
    /// Distinct counterparties, then USD, on this side within the window.
    fn aggregates(&self, t: &Typologies) -> Vec<Spec> {
        let Some(f) = (self.settings)(t).filter(|s| s.enabled) else { return Vec::new() };
        let w = span(&f.window);
        let dir =
            if self.dir == Direction::Deposit { DirFilter::Deposit } else { DirFilter::Withdrawal };
        vec![Spec { span: w, dir, kind: Kind::Distinct }, Spec { span: w, dir, kind: Kind::SumUsd }]
    }
    fn check(&self, t: &Typologies, cx: &Ctx<'_>, agg: &[u128], out: &mut Findings<'_>) {
        let Some(f) = (self.settings)(t).filter(|f| f.enabled) else { return };
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
                &f.common(),
                f.severity,
                format!(
                    "{n} distinct {side} within {} (threshold {}), USD {} in total (threshold USD {}): {}",
                    f.window,
                    f.min_distinct,
                    usd(sum),
                    f.min_total_usd,
                    txs_text(&txs)
                ),
                json!({"distinct_counterparties": n, "min_distinct": f.min_distinct, "sum_usd_cents": sum, "min_total_usd": f.min_total_usd, "window": f.window, "transfers": txs_json(&txs)}),
            ));
        }
    }
}
