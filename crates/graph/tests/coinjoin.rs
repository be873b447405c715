//! The CoinJoin detector against the world generator's ground truth (`truth/coinjoins.jsonl`
//! is written from the same [`Sink::coinjoin`] calls): every false flag wrongly stops a
//! co-spend merge, every miss wrongly merges the participants of a CoinJoin.

use std::collections::HashSet;

use floodgate_gen::{GenConfig, Leg, LegKind, Sink, World};
use floodgate_graph::{looks_like_coinjoin, NodeId};
use floodgate_types::{Amount, Hash32};

/// Collects each Bitcoin transaction's input addresses and outputs, and the true CoinJoins.
#[derive(Default)]
struct Txs {
    current: Option<Hash32>,
    inputs: Vec<(NodeId, Amount)>,
    outputs: Vec<(NodeId, Amount)>,
    flagged: HashSet<Hash32>,
    multi_input: usize,
    truth: HashSet<Hash32>,
    /// Exchange batch withdrawals paying three or more customers one same amount: one
    /// spender's transactions shaped like CoinJoins (hard negatives).
    hard: HashSet<Hash32>,
}

impl Txs {
    fn close(&mut self) {
        if let Some(t) = self.current.take() {
            if self.inputs.len() >= 2 {
                self.multi_input += 1;
            }
            if looks_like_coinjoin(&self.inputs, &self.outputs) {
                self.flagged.insert(t);
            }
        }
        self.inputs.clear();
        self.outputs.clear();
    }
}

impl Sink for Txs {
    fn leg(&mut self, leg: &Leg) {
        if leg.kind == LegKind::Transfer {
            return;
        }
        if self.current != Some(leg.txid) {
            self.close();
            self.current = Some(leg.txid);
        }
        match leg.kind {
            LegKind::Input => {
                if let Some(from) = leg.from {
                    self.inputs.push((NodeId(from), Amount::from(leg.amount)));
                }
            }
            LegKind::Output => {
                if let Some(to) = leg.to {
                    self.outputs.push((NodeId(to), Amount::from(leg.amount)));
                }
            }
            LegKind::Transfer => {}
        }
    }
    fn coinjoin(&mut self, txid: &Hash32, _participants: u32, _denomination: u64) {
        self.truth.insert(*txid);
    }
    fn equal_withdrawals(&mut self, txid: &Hash32, payees: u32, _amount: u64) {
        if payees >= 3 {
            self.hard.insert(*txid);
        }
    }
}

/// The detector's counts over the worlds of `seeds`.
#[derive(Debug, Default)]
struct Score {
    tp: usize,
    fp: usize,
    missed: usize,
    multi_input: usize,
    hard: usize,
    hard_flagged: usize,
}

impl Score {
    fn of(seeds: &[u64]) -> Score {
        let mut s = Score::default();
        for &seed in seeds {
            let world = World::new(&GenConfig { transfers: 400_000, seed, ..GenConfig::default() });
            let mut txs = Txs::default();
            world.generate(&mut txs);
            txs.close();
            assert!(!txs.truth.is_empty(), "seed {seed}: the world has no CoinJoin");
            s.tp += txs.flagged.intersection(&txs.truth).count();
            s.fp += txs.flagged.difference(&txs.truth).count();
            s.missed += txs.truth.difference(&txs.flagged).count();
            s.multi_input += txs.multi_input;
            s.hard += txs.hard.len();
            s.hard_flagged += txs.flagged.intersection(&txs.hard).count();
        }
        s
    }

    /// Precision ≥ 95 % and recall ≥ 99 %, in integers; at most 5 % of the hard negatives
    /// flagged.
    fn check(&self, what: &str) {
        let (flagged, truth) = (self.tp + self.fp, self.tp + self.missed);
        assert!(truth >= 50, "{what}: too few CoinJoins to measure: {truth}");
        assert!(self.hard >= 20, "{what}: too few hard negatives to measure: {}", self.hard);
        assert!(
            self.tp * 100 >= flagged * 95,
            "{what}: precision {}/{flagged} below 95 % ({} false flags among {} multi-input txs): {self:?}",
            self.tp,
            self.fp,
            self.multi_input
        );
        assert!(
            self.tp * 100 >= truth * 99,
            "{what}: recall {}/{truth} below 99 % ({} CoinJoins missed): {self:?}",
            self.tp,
            self.missed
        );
        assert!(
            self.hard_flagged * 100 <= self.hard * 5,
            "{what}: {} of {} equal-amount batch withdrawals flagged as CoinJoins: {self:?}",
            self.hard_flagged,
            self.hard
        );
    }
}

/// Issue 15: the detector flagged 400 transactions of which only 168 were CoinJoins (42 %
/// precision). It must reach at least 95 % precision at 99 % recall on generated worlds, and
/// leave the generator's equal-amount batch withdrawals (hard negatives) alone. These seeds
/// were used while choosing the rule.
#[test]
fn coinjoin_detector_precision_and_recall_on_generated_worlds() {
    Score::of(&[1, 2, 3, 42]).check("tuned seeds 1, 2, 3, 42");
}

/// The same on seeds never looked at while choosing the rule (held out): the figures in
/// docs/taxonomy.md come from here.
#[test]
fn coinjoin_detector_on_held_out_seeds() {
    Score::of(&[7, 1_000, 31_337, 2_026]).check("held-out seeds 7, 1000, 31337, 2026");
}
