//! Pass-through: most of the deposits of a window withdrawn again within it (the account used
//! as a transit point).

use floodgate_types::Direction;
use serde_json::json;

use super::{hit, span, txs_in, txs_json, txs_text, usd, Ctx, Findings, Kind, Spec, Typology};
use crate::decision::HitKind;
use crate::pack::{DirFilter, Typologies};

pub(crate) struct PassThrough;

impl Typology for PassThrough {
    fn name(&self) -> &'static str {
        "pass_through"
    }
    fn enabled(&self, t: &Typologies) -> Option<bool> {
        t.pass_through.as_ref().map(|x| x.enabled)
    }
    fn window<'a>(&self, t: &'a Typologies) -> Option<&'a str> {
        t.pass_through.as_ref().map(|x| x.window.as_str())
    }
    /// USD deposited, then withdrawn, within the window.
    fn aggregates(&self, t: &Typologies) -> Vec<Spec> {
        let Some(p) = t.pass_through.as_ref().filter(|s| s.enabled) else { return Vec::new() };
        let w = span(&p.window);
        [DirFilter::Deposit, DirFilter::Withdrawal]
            .map(|dir| Spec { span: w, dir, kind: Kind::SumUsd })
            .to_vec()
    }
    fn check(&self, t: &Typologies, cx: &Ctx<'_>, agg: &[u128], out: &mut Findings<'_>) {
        let Some(p) = t.pass_through.as_ref().filter(|s| s.enabled && cx.has_fiat()) else {
            return;
        };
        if cx.dir() != Direction::Withdrawal {
            return;
        }
        let (dep, wd) = (agg[0], agg[1]);
        if dep >= u128::from(p.min_deposit_usd) * 100
            && wd * 100 >= dep * u128::from(p.min_ratio_pct)
        {
            let w = span(&p.window);
            let deps = txs_in(cx, w, |x| x.dir == Direction::Deposit);
            let wds = txs_in(cx, w, |x| x.dir == Direction::Withdrawal);
            out.hits.push(hit(
                self.name(),
                HitKind::Typology,
                &p.common(),
                p.severity,
                format!(
                    "USD {} withdrawn ({}% of) USD {} deposited within {} (thresholds: deposits at least USD {}, withdrawn at least {}%); deposits: {}; withdrawals: {}",
                    usd(wd),
                    wd * 100 / dep.max(1),
                    usd(dep),
                    p.window,
                    p.min_deposit_usd,
                    p.min_ratio_pct,
                    txs_text(&deps),
                    txs_text(&wds)
                ),
                json!({"deposits_usd_cents": dep, "withdrawals_usd_cents": wd, "window": p.window, "min_deposit_usd": p.min_deposit_usd, "min_ratio_pct": p.min_ratio_pct, "deposits": txs_json(&deps), "withdrawals": txs_json(&wds)}),
            ));
        }
    }
}
