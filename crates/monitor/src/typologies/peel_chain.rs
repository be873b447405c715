//! Peel chain: a run of decreasing withdrawals to distinct addresses within a window.

use floodgate_types::Direction;
use serde::Serialize;

use super::{hit, span, txs_text, usd, Ctx, Findings, TxIds, Txs, Typology};
use crate::decision::{Evidence, HitKind};
use crate::pack::typology_struct;
use crate::state::Ev;

typology_struct!(
    /// A chain of decreasing withdrawals to distinct addresses.
    Settings {
        /// Window length.
        window: String,
        /// At least this many withdrawals in the chain.
        min_hops: u32,
        /// Each withdrawal at most this percentage of the one before.
        max_step_pct: u32,
        /// The first withdrawal at least this, whole USD.
        min_first_usd: u64,
    }
);

pub(crate) struct PeelChain;

impl Typology for PeelChain {
    type Settings = Settings;

    fn name(&self) -> &'static str {
        "peel_chain"
    }
    fn window<'a>(&self, s: &'a Settings) -> Option<&'a str> {
        Some(s.window.as_str())
    }
    fn check(&self, p: &Settings, cx: &Ctx<'_>, _agg: &[u128], out: &mut Findings<'_>) {
        if !cx.has_fiat() {
            return;
        }
        if cx.dir() != Direction::Withdrawal {
            return;
        }
        let w = span(&p.window);
        let wds: Vec<&Ev> = cx
            .acct
            .events
            .iter()
            .rev()
            .take_while(|x| cx.now - x.time < w)
            .filter(|x| x.dir == Direction::Withdrawal)
            .collect();
        let mut chain: Vec<&Ev> = Vec::new();
        for x in wds {
            if x.cp == 0 || chain.iter().any(|c| c.cp == x.cp) {
                break;
            }
            if let Some(next) = chain.last() {
                // `x` is earlier; the later one must be at most max_step_pct of it.
                if next.usd * 100 > x.usd * u128::from(p.max_step_pct) {
                    break;
                }
            }
            chain.push(x);
        }
        let first = chain.last().map_or(0, |x| x.usd);
        if chain.len() >= p.min_hops as usize && first >= u128::from(p.min_first_usd) * 100 {
            let oldest_first: Vec<&Ev> = chain.iter().rev().copied().collect();
            let amounts: Vec<u128> = oldest_first.iter().map(|x| x.usd).collect();
            out.hits.push(hit(
                self.name(),
                HitKind::Typology,
                p.action,
                &p.source,
                p.severity,
                format!(
                    "{} decreasing withdrawals to distinct addresses within {}, from USD {} (thresholds: at least {} withdrawals, each at most {}% of the one before, the first at least USD {}): {}",
                    chain.len(),
                    p.window,
                    usd(first),
                    p.min_hops,
                    p.max_step_pct,
                    p.min_first_usd,
                    txs_text(&cx.state.ids, &oldest_first)
                ),
                Evidence::of(&PeelEvidence {
                    amounts_usd_cents: &amounts,
                    transfer_ids: TxIds(&cx.state.ids, &oldest_first),
                    transfers: Txs(&cx.state.ids, &oldest_first),
                    window: &p.window,
                }),
            ));
        }
    }
}

/// Its evidence (keys in sorted order, see [`Evidence::of`]).
#[derive(Serialize)]
struct PeelEvidence<'a> {
    amounts_usd_cents: &'a [u128],
    transfer_ids: TxIds<'a>,
    transfers: Txs<'a>,
    window: &'a str,
}
