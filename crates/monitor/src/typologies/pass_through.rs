//! Pass-through: most of the deposits of a window withdrawn again within it (the account used
//! as a transit point).

use floodgate_types::Direction;
use serde::Serialize;

use super::{hit, span, txs_in, txs_text, usd, Ctx, Findings, Kind, Spec, Txs, Typology};
use crate::decision::{Evidence, HitKind};
use crate::pack::{typology_struct, DirFilter};

typology_struct!(
    /// Most of the deposits withdrawn again quickly.
    Settings {
        /// Window length.
        window: String,
        /// Deposits in the window at least this, whole USD.
        min_deposit_usd: u64,
        /// Withdrawals in the window at least this percentage of the deposits.
        min_ratio_pct: u32,
    }
);

pub(crate) struct PassThrough;

impl Typology for PassThrough {
    type Settings = Settings;

    fn name(&self) -> &'static str {
        "pass_through"
    }
    fn window<'a>(&self, s: &'a Settings) -> Option<&'a str> {
        Some(s.window.as_str())
    }
    /// USD deposited, then withdrawn, within the window.
    fn aggregates(&self, p: &Settings) -> Vec<Spec> {
        let w = span(&p.window);
        [DirFilter::Deposit, DirFilter::Withdrawal]
            .map(|dir| Spec { span: w, dir, kind: Kind::SumUsd })
            .to_vec()
    }
    fn check(&self, p: &Settings, cx: &Ctx<'_>, agg: &[u128], out: &mut Findings<'_>) {
        if !cx.has_fiat() {
            return;
        }
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
                p.action,
                &p.source,
                p.severity,
                format!(
                    "USD {} withdrawn ({}% of) USD {} deposited within {} (thresholds: deposits at least USD {}, withdrawn at least {}%); deposits: {}; withdrawals: {}",
                    usd(wd),
                    wd * 100 / dep.max(1),
                    usd(dep),
                    p.window,
                    p.min_deposit_usd,
                    p.min_ratio_pct,
                    txs_text(&cx.state.ids, &deps),
                    txs_text(&cx.state.ids, &wds)
                ),
                Evidence::of(&Ev {
                    deposits: Txs(&cx.state.ids, &deps),
                    deposits_usd_cents: dep,
                    min_deposit_usd: p.min_deposit_usd,
                    min_ratio_pct: p.min_ratio_pct,
                    window: &p.window,
                    withdrawals: Txs(&cx.state.ids, &wds),
                    withdrawals_usd_cents: wd,
                }),
            ));
        }
    }
}

/// Its evidence (keys in sorted order, see [`Evidence::of`]).
#[derive(Serialize)]
struct Ev<'a> {
    deposits: Txs<'a>,
    deposits_usd_cents: u128,
    min_deposit_usd: u64,
    min_ratio_pct: u32,
    window: &'a str,
    withdrawals: Txs<'a>,
    withdrawals_usd_cents: u128,
}
