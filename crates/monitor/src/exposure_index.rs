//! Exposure facts from the tracing exposure index (issue 14 item 5): when a graph was built
//! (`floodgate trace build`), a deposit's source address and a withdrawal's destination get
//! the share of the value they received from each risk category, directly (1 hop) and
//! indirectly (2–3 hops), as rule facts `exposure.<category>.direct`,
//! `exposure.<category>.indirect` and friends (`docs/rules.md`). A stale or missing index is
//! named in the decision's notes, and its facts are not used.
//!
//! The monitor does not read the graph itself: the application plugs an [`ExposureLookup`]
//! in (`floodgate-app` reads `floodgate-trace`'s index), as screening plugs in
//! [`crate::facts::RiskFacts`].

use std::sync::Arc;

use floodgate_types::{Address, RiskCategory};
use serde::Serialize;

use crate::cel_rules::Obj;

/// The hop limits of [`IndexedFacts::haircut`]: 1, 2, 3 and 6.
pub const HOPS: [u32; 4] = [1, 2, 3, 6];

/// What the index holds for one address in one asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexedFacts {
    /// Value the address received in the asset (base units): the base of every share.
    pub total: u128,
    /// Per category with any value within 6 hops: the haircut value received from it within
    /// 1, 2, 3 and 6 hops ([`HOPS`]), and the poison value (transfers that carried any of it)
    /// within 6 hops.
    pub categories: Vec<(RiskCategory, [u128; 4], u128)>,
    /// Some of what the address received may be its own value come back (a round trip):
    /// the values are then an upper bound.
    pub round_trip: bool,
}

impl IndexedFacts {
    /// Haircut value from `category` within hop bucket `b` (an index into [`HOPS`]).
    pub fn value(&self, category: RiskCategory, b: usize) -> u128 {
        self.categories.iter().find(|c| c.0 == category).map_or(0, |c| c.1[b])
    }

    /// `v / total` as a share for rules (0 when nothing was received).
    pub fn share(&self, v: u128) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            v as f64 / self.total as f64
        }
    }
}

/// What the index answers about an address.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "index", rename_all = "snake_case")]
pub enum IndexAnswer {
    /// The index is current and holds the address.
    Found(IndexedFacts),
    /// The index is current and the address received nothing in the asset (or is not in
    /// the graph): no exposure.
    Absent,
    /// The index cannot be used: missing, stale or damaged (why).
    Unavailable(String),
}

/// The exposure index, as the monitor asks it.
pub trait ExposureLookup: Send + Sync {
    /// What the index holds for `addr` in `asset` (a ledger asset id, as the graph's).
    fn lookup(&self, addr: &Address, asset: &str) -> IndexAnswer;
    /// The index's name for decisions: its file and the graph it was built from.
    fn describe(&self) -> String;
}

/// The answer for one transfer, as the engine binds it.
#[derive(Debug, Clone)]
pub(crate) struct Looked {
    pub(crate) answer: IndexAnswer,
    pub(crate) index: String,
}

impl Looked {
    /// The answer as an input line's `exposure` object (shares within 3 hops of its four
    /// categories), when the index answered.
    pub(crate) fn as_input(&self) -> Option<crate::input::Exposure> {
        let f = match &self.answer {
            IndexAnswer::Found(f) => f,
            IndexAnswer::Absent => return Some(crate::input::Exposure::default()),
            IndexAnswer::Unavailable(_) => return None,
        };
        let s = |c| f.share(f.value(c, 2));
        Some(crate::input::Exposure {
            sanctioned: s(RiskCategory::Sanctioned),
            mixer: s(RiskCategory::Mixer),
            scam: s(RiskCategory::Scam),
            darknet: s(RiskCategory::DarknetMarket),
        })
    }
}

/// Looks up the address of a deposit (its source) or a withdrawal (its destination).
pub(crate) fn look(
    lookup: Option<&Arc<dyn ExposureLookup>>,
    ev: &floodgate_types::LedgerEntry,
    notes: &mut Vec<String>,
) -> Option<Looked> {
    use floodgate_types::Direction;
    let l = lookup?;
    if !matches!(ev.direction, Direction::Deposit | Direction::Withdrawal) {
        return None;
    }
    let addr = ev.counterparty_address.as_ref()?;
    let answer = l.lookup(addr, ev.asset.as_str());
    if let IndexAnswer::Unavailable(why) = &answer {
        notes.push(format!("exposure index not used for {addr}: {why}"));
    }
    Some(Looked { answer, index: l.describe() })
}

/// The `exposure.<category>` map for rules: `direct` (share within 1 hop), `indirect` (share
/// from 2–3 hops), `within_2`, `within_3`, `within_6` (shares within so many hops) and
/// `any` (poison: any of it within 6 hops). Without an index answer, `indirect` is the
/// share an input line's `exposure` object gave (its four categories), the rest zero.
pub(crate) fn category_map(
    c: RiskCategory,
    looked: Option<&Looked>,
    input: Option<&crate::input::Exposure>,
) -> cel::Value {
    let mut o = Obj::with_capacity(6);
    match looked.map(|l| &l.answer) {
        Some(IndexAnswer::Found(f)) => {
            let v = |b| f.value(c, b);
            let poison = f.categories.iter().find(|x| x.0 == c).map_or(0, |x| x.2);
            o.float("direct", f.share(v(0)))
                .float("indirect", f.share(v(2).saturating_sub(v(0))))
                .float("within_2", f.share(v(1)))
                .float("within_3", f.share(v(2)))
                .float("within_6", f.share(v(3)))
                .bool("any", poison > 0);
        }
        _ => {
            let indirect = input.map_or(0.0, |x| match c {
                RiskCategory::Sanctioned => x.sanctioned,
                RiskCategory::Mixer => x.mixer,
                RiskCategory::Scam => x.scam,
                RiskCategory::DarknetMarket => x.darknet,
                _ => 0.0,
            });
            o.float("direct", 0.0)
                .float("indirect", indirect)
                .float("within_2", 0.0)
                .float("within_3", indirect)
                .float("within_6", indirect)
                .bool("any", indirect > 0.0);
        }
    }
    o.build()
}

/// `exposure.index`: `fresh` (the index answered), `stale` or `missing` (named in the
/// decision's notes), or `none` (no graph in the data directory).
pub(crate) fn index_state(looked: Option<&Looked>) -> &'static str {
    match looked.map(|l| &l.answer) {
        None => "none",
        Some(IndexAnswer::Found(_) | IndexAnswer::Absent) => "fresh",
        Some(IndexAnswer::Unavailable(w)) if w.contains("no exposure index") => "missing",
        Some(IndexAnswer::Unavailable(_)) => "stale",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_split_direct_and_indirect_within_three_hops() {
        let f = IndexedFacts {
            total: 1_000,
            categories: vec![(RiskCategory::Sanctioned, [10, 40, 70, 90], 500)],
            round_trip: false,
        };
        let l = Looked { answer: IndexAnswer::Found(f), index: "x".into() };
        let cel::Value::Map(m) = category_map(RiskCategory::Sanctioned, Some(&l), None) else {
            panic!("not a map")
        };
        let get = |k: &str| m.map.get(&cel::objects::Key::String(Arc::new(k.into()))).cloned();
        assert_eq!(get("direct"), Some(cel::Value::Float(0.01)));
        assert_eq!(get("indirect"), Some(cel::Value::Float(0.06)));
        assert_eq!(get("within_6"), Some(cel::Value::Float(0.09)));
        assert_eq!(get("any"), Some(cel::Value::Bool(true)));
        assert_eq!(index_state(Some(&l)), "fresh");
        let stale =
            Looked { answer: IndexAnswer::Unavailable("the graph grew".into()), index: "x".into() };
        assert_eq!(index_state(Some(&stale)), "stale");
        assert_eq!(index_state(None), "none");
    }
}
