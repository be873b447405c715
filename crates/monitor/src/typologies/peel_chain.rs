//! Peel chain: a run of decreasing withdrawals to distinct addresses within a window.

use floodgate_types::Direction;
use serde_json::json;

use super::{hit, span, txs_json, txs_text, usd, Ctx, Findings, Typology};
use crate::decision::HitKind;
use crate::pack::Typologies;
use crate::state::Ev;

pub(crate) struct PeelChain;

impl Typology for PeelChain {
    fn name(&self) -> &'static str {
        "peel_chain"
    }
    fn enabled(&self, t: &Typologies) -> Option<bool> {
        t.peel_chain.as_ref().map(|x| x.enabled)
    }
    fn window<'a>(&self, t: &'a Typologies) -> Option<&'a str> {
        t.peel_chain.as_ref().map(|x| x.window.as_str())
    }
    fn check(&self, t: &Typologies, cx: &Ctx<'_>, _agg: &[u128], out: &mut Findings<'_>) {
        let Some(p) = t.peel_chain.as_ref().filter(|s| s.enabled && cx.has_fiat()) else {
            return;
        };
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
            let ids: Vec<&str> = chain.iter().rev().map(|x| &*x.id).collect();
            let amounts: Vec<u128> = chain.iter().rev().map(|x| x.usd).collect();
            out.hits.push(hit(
                self.name(),
                HitKind::Typology,
                &p.common(),
                p.severity,
                format!(
                    "{} decreasing withdrawals to distinct addresses within {}, from USD {} (thresholds: at least {} withdrawals, each at most {}% of the one before, the first at least USD {}): {}",
                    chain.len(),
                    p.window,
                    usd(first),
                    p.min_hops,
                    p.max_step_pct,
                    p.min_first_usd,
                    txs_text(&chain.iter().rev().copied().collect::<Vec<_>>())
                ),
                json!({"transfer_ids": ids, "amounts_usd_cents": amounts, "window": p.window, "transfers": txs_json(&chain.iter().rev().copied().collect::<Vec<_>>())}),
            ));
        }
    }
}
