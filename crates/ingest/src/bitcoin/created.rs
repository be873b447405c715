//! The outputs a file created so far, for its later inputs to spend (in-file resolution).
//!
//! Outputs are kept in the order they were created, a transaction's one after another, and a
//! table finds a transaction by its id: one entry per transaction, not per output. An input
//! mostly spends an output created long before in a generated world (a wallet's coins), so
//! each lookup misses the cache: the table slot, the transaction's id to confirm it, the
//! output. [`Created::spend_all`] looks a whole block's inputs up in stages, each stage
//! reading what every input needs from memory before the next uses it, so that the misses of
//! many inputs overlap (a lookup at a time, through a hash map, was a third of the reader's
//! time).

use std::hint::black_box;

use floodgate_types::{BtcAddress, Hash32, OutPoint};

/// A slot no transaction holds.
const EMPTY: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Bits of the transaction id other than those that pick the slot.
    tag: u32,
    tx: u32,
}

const FREE: Slot = Slot { tag: 0, tx: EMPTY };

/// An output created earlier in the file.
#[derive(Debug, Clone, Copy)]
struct Output {
    address: BtcAddress,
    sats: u64,
    vout: u32,
    /// Its transaction, in [`Created::txs`].
    tx: u32,
    /// Spent by an input seen already, or never spendable (`OP_RETURN`).
    spent: bool,
}

/// See the module docs.
#[derive(Debug, Default, Clone)]
pub(crate) struct Created {
    outputs: Vec<Output>,
    /// Each transaction's id and its first output.
    txs: Vec<(Hash32, u32)>,
    /// How many of `txs` the table holds; the others are placed before the next lookup, in
    /// one batch.
    placed: usize,
    slots: Vec<Slot>,
    shift: u32,
}

fn home_key(txid: &Hash32) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&txid.0[..8]);
    u64::from_le_bytes(w)
}

fn tag(txid: &Hash32) -> u32 {
    u32::from_le_bytes([txid.0[8], txid.0[9], txid.0[10], txid.0[11]])
}

impl Created {
    /// Outputs kept.
    pub(crate) fn len(&self) -> usize {
        self.outputs.len()
    }

    /// Forgets every output.
    pub(crate) fn clear(&mut self) {
        self.outputs.clear();
        self.txs.clear();
        self.placed = 0;
        self.slots.clear();
    }

    /// Room for this many more transactions and outputs.
    pub(crate) fn reserve(&mut self, txs: usize, outputs: usize) {
        self.outputs.reserve(outputs);
        let want = 2 * (self.txs.len() + txs);
        if want > self.slots.len() {
            self.txs.reserve(txs);
            self.rebuild(want.next_power_of_two().max(64));
        }
    }

    fn home(&self, txid: &Hash32) -> usize {
        (home_key(txid).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    fn rebuild(&mut self, size: usize) {
        self.slots.clear();
        self.slots.resize(size, FREE);
        self.shift = 64 - size.trailing_zeros();
        for tx in 0..self.placed {
            let txid = self.txs[tx].0;
            // Counts of one file's transactions fit u32 (the index is cleared far below).
            self.place(&txid, u32::try_from(tx).unwrap_or(EMPTY - 1));
        }
    }

    /// Points `txid`'s slot at transaction `tx` (replacing an earlier one with that id).
    fn place(&mut self, txid: &Hash32, tx: u32) {
        let mask = self.slots.len() - 1;
        let mut p = self.home(txid);
        loop {
            let s = self.slots[p];
            if s.tx == EMPTY || (s.tag == tag(txid) && self.txs[s.tx as usize].0 == *txid) {
                self.slots[p] = Slot { tag: tag(txid), tx };
                return;
            }
            p = (p + 1) & mask;
        }
    }

    /// Starts a transaction's outputs (a later transaction with an id already seen, BIP 30's
    /// duplicate coinbases, replaces the earlier one).
    pub(crate) fn start(&mut self, txid: Hash32) {
        self.reserve(1, 0);
        let first = u32::try_from(self.outputs.len()).unwrap_or(EMPTY);
        self.txs.push((txid, first));
    }

    /// Puts the transactions started since the last lookup in the table: their slots read
    /// first, together, then filled in order.
    pub(crate) fn place_started(&mut self) {
        let mut touch = 0u32;
        for (txid, _) in &self.txs[self.placed..] {
            touch ^= self.slots[self.home(txid)].tag;
        }
        black_box(touch);
        for tx in self.placed..self.txs.len() {
            let txid = self.txs[tx].0;
            // Counts of one file's transactions fit u32 (the caller clears far below).
            self.place(&txid, u32::try_from(tx).unwrap_or(EMPTY - 1));
        }
        self.placed = self.txs.len();
    }

    /// Records the next output of the transaction started last; `spendable` is false for an
    /// output no input can spend.
    pub(crate) fn push(&mut self, vout: u32, address: BtcAddress, sats: u64, spendable: bool) {
        let tx = u32::try_from(self.txs.len().saturating_sub(1)).unwrap_or(EMPTY - 1);
        self.outputs.push(Output { address, sats, vout, tx, spent: !spendable });
    }

    /// Spends each of `outpoints`, in order: its address and value in `out` (cleared first)
    /// if this file created it and no input spent it yet (an outpoint two inputs spend is
    /// found for the first only), else `None`. Looked up together (see the module docs), and
    /// each output marked spent as it is read, so it is not read from memory twice.
    pub(crate) fn spend_all(
        &mut self,
        outpoints: &[OutPoint],
        out: &mut Vec<Option<(BtcAddress, u64)>>,
    ) {
        self.place_started();
        out.clear();
        if self.slots.is_empty() {
            out.resize(outpoints.len(), None);
            return;
        }
        let mask = self.slots.len() - 1;
        // The slots.
        let mut touch = 0u32;
        for o in outpoints {
            touch ^= self.slots[self.home(&o.txid)].tag;
        }
        black_box(touch);
        // The transaction each slot names (`None` for an id not seen).
        let mut txs: Vec<Option<u32>> = outpoints
            .iter()
            .map(|o| {
                let mut p = self.home(&o.txid);
                loop {
                    let s = self.slots[p];
                    if s.tx == EMPTY {
                        return None;
                    }
                    if s.tag == tag(&o.txid) {
                        return Some(s.tx);
                    }
                    p = (p + 1) & mask;
                }
            })
            .collect();
        // Their ids, to confirm the match.
        let mut touch = 0u8;
        for tx in txs.iter().flatten() {
            touch ^= self.txs[*tx as usize].0 .0[31];
        }
        black_box(touch);
        for (o, tx) in outpoints.iter().zip(txs.iter_mut()) {
            if tx.is_some_and(|t| self.txs[t as usize].0 != o.txid) {
                *tx = self.find_tx(&o.txid); // another id with these bits: probe on exactly
            }
        }
        // The outputs.
        let mut touch = 0u32;
        for (o, tx) in outpoints.iter().zip(&txs) {
            if let Some(at) = tx.and_then(|t| self.direct(t, o.vout)) {
                touch ^= self.outputs[at].vout;
            }
        }
        black_box(touch);
        for (o, tx) in outpoints.iter().zip(&txs) {
            let at = tx.and_then(|t| self.output_of(t, o.vout));
            out.push(at.and_then(|at| self.spend(at)));
        }
    }

    /// Where `outpoint` is, if this file created it and no input spent it yet.
    pub(crate) fn find(&mut self, outpoint: &OutPoint) -> Option<u32> {
        self.place_started();
        self.output_of(self.find_tx(&outpoint.txid)?, outpoint.vout)
    }

    fn find_tx(&self, txid: &Hash32) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut p = self.home(txid);
        loop {
            let s = self.slots[p];
            if s.tx == EMPTY {
                return None;
            }
            if s.tag == tag(txid) && self.txs[s.tx as usize].0 == *txid {
                return Some(s.tx);
            }
            p = (p + 1) & mask;
        }
    }

    /// Where output `vout` of transaction `tx` is when outputs are numbered in order.
    fn direct(&self, tx: u32, vout: u32) -> Option<usize> {
        let at = (self.txs[tx as usize].1 as usize).checked_add(vout as usize)?;
        (at < self.outputs.len()).then_some(at)
    }

    fn output_of(&self, tx: u32, vout: u32) -> Option<u32> {
        let mine = |i: &usize| self.outputs.get(*i).is_some_and(|c| c.tx == tx);
        let at = match self.direct(tx, vout) {
            Some(at) if mine(&at) && self.outputs[at].vout == vout => at,
            // A JSON input may number its outputs otherwise.
            _ => (self.txs[tx as usize].1 as usize..)
                .take_while(mine)
                .find(|i| self.outputs[*i].vout == vout)?,
        };
        (!self.outputs[at].spent).then(|| u32::try_from(at).unwrap_or(EMPTY))
    }

    /// The address and value of the output at `at` if it is still unspent; marks it spent.
    pub(crate) fn spend(&mut self, at: u32) -> Option<(BtcAddress, u64)> {
        let o = self.outputs.get_mut(at as usize).filter(|o| !o.spent)?;
        o.spent = true;
        Some((o.address, o.sats))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashMap;

    use floodgate_types::BtcNetwork;

    use super::*;

    fn address(n: u8) -> BtcAddress {
        let script = [&[0x00, 0x14][..], &[n; 20]].concat();
        BtcAddress::from_script(&script, BtcNetwork::Mainnet).address
    }

    /// Against a map of unspent outpoints: ids sharing their slot bits and tags, duplicate
    /// ids (the later wins), outputs spent once, unspendable outputs, vouts out of order.
    #[test]
    fn finds_what_a_map_of_unspent_outputs_finds() {
        let mut c = Created::default();
        let mut model: HashMap<OutPoint, (BtcAddress, u64)> = HashMap::new();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let id = |n: u64| {
            // Few distinct slot bits and tags: many clashes.
            let mut b = [0u8; 32];
            b[..8].copy_from_slice(&(n % 5).to_le_bytes());
            b[8..12].copy_from_slice(&((n / 5 % 3) as u32).to_le_bytes());
            b[12..20].copy_from_slice(&n.to_le_bytes());
            Hash32(b)
        };
        let mut created = Vec::new();
        for round in 0..300u64 {
            let t = next() % 60;
            let txid = id(t);
            model.retain(|o, _| o.txid != txid);
            c.start(txid);
            for k in 0..1 + next() % 4 {
                let vout = if round % 7 == 0 { (3 - k) as u32 } else { k as u32 };
                let spendable = next() % 9 != 0;
                let a = address((next() % 200) as u8);
                c.push(vout, a, round, spendable);
                if spendable {
                    model.insert(OutPoint { txid, vout }, (a, round));
                }
                created.push(OutPoint { txid, vout });
            }
            let spends: Vec<OutPoint> = (0..next() % 6)
                .map(|_| {
                    let mut o = created[(next() % created.len() as u64) as usize];
                    if next() % 5 == 0 {
                        o.vout += 7;
                    }
                    o
                })
                .collect();
            let mut apart = c.clone();
            let mut spent = Vec::new();
            c.spend_all(&spends, &mut spent);
            let one_by_one: Vec<Option<(BtcAddress, u64)>> =
                spends.iter().map(|o| apart.find(o).and_then(|a| apart.spend(a))).collect();
            assert_eq!(spent, one_by_one);
            for (o, got) in spends.iter().zip(spent) {
                // Two spends of one output: the second finds it spent.
                assert_eq!(got, model.remove(o), "round {round} {o:?}");
            }
        }
    }
}
