//! Segments merged into one (compaction), or one segment cut to its first blocks (an unwind
//! across it), without decoding an address or rebuilding a row: rows are copied with their
//! references moved, the parts' sorted dictionaries merged, and every address's row list
//! concatenated. The result is the segment [`SegmentBuilder`](super::SegmentBuilder) writes
//! for the same rows (tested byte for byte below).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::{
    assemble, len_u32, prefix, u32_at, Finished, SegmentCounts, SegmentView, BLOCK, IN, NO_ADDR,
    OUT, TX,
};

/// A part of a merge: a checked segment and how many of its first blocks go in (all of them
/// when segments are merged; those below the fork point when an unwind cuts one).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Part<'a> {
    pub(crate) view: SegmentView<'a>,
    pub(crate) blocks: u32,
}

impl<'a> Part<'a> {
    /// All of `view`'s blocks.
    pub(crate) fn whole(view: SegmentView<'a>) -> Self {
        Part { blocks: view.n_blocks(), view }
    }

    /// `(transactions, outputs, inputs)` kept: the rows of the first `blocks` blocks, a prefix
    /// of each row array (rows are in height order).
    fn kept(&self) -> (u32, u32, u32) {
        let v = &self.view;
        if self.blocks >= v.n_blocks() {
            return (v.n_tx(), v.n_out(), v.n_in());
        }
        let t = v.block(self.blocks).first_tx;
        if t >= v.n_tx() {
            return (t, v.n_out(), v.n_in());
        }
        let tx = v.tx(t);
        (t, tx.first_out, tx.first_in)
    }
}

/// Merges `parts`, each one's blocks above the previous one's (heights in order), into one
/// segment; returns it and, per part, the row its first input row becomes (a later
/// resolution of an input, `utxo_input_fills`, moves with it). Addresses that no kept row
/// names are left out of the dictionary.
pub(crate) fn merge(parts: &[Part<'_>]) -> (Finished, Vec<u32>) {
    let kept: Vec<(u32, u32, u32)> = parts.iter().map(Part::kept).collect();
    let mut counts = SegmentCounts::default();
    // Offsets of each part's blocks, transactions, outputs and inputs in the merged segment.
    let mut at = Vec::with_capacity(parts.len());
    for (p, (t, o, i)) in parts.iter().zip(&kept) {
        at.push((counts.blocks, counts.txs, counts.outputs, counts.inputs));
        if p.blocks > 0 {
            let first = p.view.block(0).height;
            let last = p.view.block(p.blocks.min(p.view.n_blocks()) - 1).height;
            debug_assert!(counts.blocks == 0 || counts.max_height < first, "parts in height order");
            if counts.blocks == 0 {
                counts.min_height = first;
            }
            counts.max_height = last;
        }
        counts.blocks += p.blocks.min(p.view.n_blocks());
        counts.txs += t;
        counts.outputs += o;
        counts.inputs += i;
    }

    // The merged dictionary: each part's keys are sorted and distinct, so a k-way merge.
    let mut map: Vec<Vec<u32>> = parts.iter().map(|p| vec![0; p.view.n_addr() as usize]).collect();
    let mut keys: Vec<&[u8]> = Vec::new();
    let mut heap: BinaryHeap<Reverse<(&[u8], usize, u32)>> = parts
        .iter()
        .enumerate()
        .filter(|(_, p)| p.view.n_addr() > 0)
        .map(|(i, p)| Reverse((p.view.key(0), i, 0)))
        .collect();
    while let Some(Reverse((key, part, id))) = heap.pop() {
        if keys.last() != Some(&key) {
            keys.push(key);
        }
        map[part][id as usize] = len_u32(keys.len() - 1);
        if id + 1 < parts[part].view.n_addr() {
            heap.push(Reverse((parts[part].view.key(id + 1), part, id + 1)));
        }
    }
    // Rows kept per merged address; an address only dropped rows named goes.
    let kept_row = |p: usize, r: u32| {
        let (_, o, i) = kept[p];
        let n_out = parts[p].view.n_out();
        if r < n_out {
            r < o
        } else {
            r - n_out < i
        }
    };
    let mut per = vec![0u32; keys.len() + 1];
    for (p, part) in parts.iter().enumerate() {
        for a in 0..part.view.n_addr() {
            let n = part.view.rows_of(a).filter(|r| kept_row(p, *r)).count();
            per[map[p][a as usize] as usize + 1] += len_u32(n);
        }
    }
    let mut renumber = vec![0u32; keys.len()];
    let mut used: Vec<&[u8]> = Vec::with_capacity(keys.len());
    let mut offsets = vec![0u32];
    for (m, key) in keys.iter().enumerate() {
        if per[m + 1] > 0 {
            renumber[m] = len_u32(used.len());
            used.push(key);
            offsets.push(offsets[offsets.len() - 1] + per[m + 1]);
        }
    }
    for ids in &mut map {
        for id in ids.iter_mut() {
            *id = renumber[*id as usize];
        }
    }

    // Rows, with their references moved.
    let mut blocks = Vec::with_capacity(counts.blocks as usize * BLOCK);
    let mut txs = Vec::with_capacity(counts.txs as usize * TX);
    let mut outs = Vec::with_capacity(counts.outputs as usize * OUT);
    let mut ins = Vec::with_capacity(counts.inputs as usize * IN);
    let mut txid_run = Vec::with_capacity(counts.txs as usize);
    let mut unresolved_run = Vec::new();
    let add = |bytes: &mut [u8], at: usize, by: u32| {
        let v = u32_at(bytes, at) + by;
        bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
    };
    let set =
        |bytes: &mut [u8], at: usize, v: u32| bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
    for (p, part) in parts.iter().enumerate() {
        let v = &part.view;
        let (ob, ot, oo, oi) = at[p];
        let (t, o, i) = kept[p];
        let nb = part.blocks.min(v.n_blocks()) as usize;
        let from = blocks.len();
        blocks.extend_from_slice(&v.blocks[..nb * BLOCK]);
        for row in blocks[from..].chunks_exact_mut(BLOCK) {
            add(row, 16, ot);
        }
        let from = txs.len();
        txs.extend_from_slice(&v.txs[..t as usize * TX]);
        for (n, row) in txs[from..].chunks_exact_mut(TX).enumerate() {
            add(row, 32, ob);
            add(row, 40, oo);
            add(row, 44, oi);
            let mut id = [0u8; 32];
            id.copy_from_slice(&row[..32]);
            txid_run.push((prefix(&id), ot + len_u32(n), u32_at(row, 40)));
        }
        let from = outs.len();
        outs.extend_from_slice(&v.outs[..o as usize * OUT]);
        for row in outs[from..].chunks_exact_mut(OUT) {
            let a = u32_at(row, 4);
            set(row, 4, map[p][a as usize]);
        }
        let from = ins.len();
        ins.extend_from_slice(&v.ins[..i as usize * IN]);
        for (n, row) in ins[from..].chunks_exact_mut(IN).enumerate() {
            let a = u32_at(row, 40);
            if a != NO_ADDR {
                set(row, 40, map[p][a as usize]);
            } else if u32_at(row, 44) & 1 == 1 {
                let mut id = [0u8; 32];
                id.copy_from_slice(&row[..32]);
                unresolved_run.push((prefix(&id), oi + len_u32(n), u32_at(row, 32)));
                counts.unresolved += 1;
            }
        }
    }

    // Each address's rows: its outputs in every part, then its inputs in every part.
    let mut postings = vec![0u32; offsets[offsets.len() - 1] as usize];
    let mut fill = offsets.clone();
    for outputs in [true, false] {
        for (p, part) in parts.iter().enumerate() {
            let v = &part.view;
            let (_, _, oo, oi) = at[p];
            for a in 0..v.n_addr() {
                let f = &mut fill[map[p][a as usize] as usize];
                for r in v.rows_of(a).filter(|r| kept_row(p, *r)) {
                    let to = match (outputs, r < v.n_out()) {
                        (true, true) => oo + r,
                        (false, false) => counts.outputs + oi + (r - v.n_out()),
                        _ => continue,
                    };
                    postings[*f as usize] = to;
                    *f += 1;
                }
            }
        }
    }
    txid_run.sort_unstable();
    unresolved_run.sort_unstable();
    let shifts = at.iter().map(|a| a.3).collect();
    let finished = assemble(
        counts,
        [blocks, txs, outs, ins],
        &used,
        &offsets,
        &postings,
        txid_run,
        unresolved_run,
    );
    (finished, shifts)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use floodgate_types::{BtcAddress, BtcNetwork};

    use super::super::SegmentBuilder;
    use super::*;

    /// A deterministic stream of numbers (xorshift), so a failure names its seed.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn address(n: u64) -> BtcAddress {
        let mut h = [0u8; 20];
        h[..8].copy_from_slice(&n.to_le_bytes());
        let script = match n % 3 {
            0 => [&[0x76, 0xa9, 0x14][..], &h, &[0x88, 0xac]].concat(),
            1 => [&[0x00, 0x14][..], &h].concat(),
            _ => [&[0x6a, 0x08][..], &h[..8]].concat(),
        };
        BtcAddress::from_script(&script, BtcNetwork::Mainnet).address
    }

    /// Blocks of random transactions: `(height, [(txid, [(prevout, resolved)], [address])])`.
    type Tx = ([u8; 32], Vec<(Option<([u8; 32], u32)>, Option<(u64, u64)>)>, Vec<(u64, u64)>);

    fn random_blocks(rng: &mut Rng, n: u64) -> Vec<(u64, Vec<Tx>)> {
        (0..n)
            .map(|b| {
                let txs = (0..1 + rng.below(4))
                    .map(|t| {
                        let mut id = [0u8; 32];
                        id[..8].copy_from_slice(&rng.next().to_be_bytes());
                        let ins = if t == 0 {
                            vec![(None, None)]
                        } else {
                            (0..1 + rng.below(3))
                                .map(|_| {
                                    let mut prev = [0u8; 32];
                                    prev[..8].copy_from_slice(&rng.next().to_be_bytes());
                                    let resolved = (rng.below(4) > 0)
                                        .then(|| (rng.below(12), rng.below(1_000)));
                                    (Some((prev, rng.below(5) as u32)), resolved)
                                })
                                .collect()
                        };
                        let outs = (0..1 + rng.below(3))
                            .map(|_| (rng.below(12), rng.below(1_000)))
                            .collect();
                        (id, ins, outs)
                    })
                    .collect();
                (10 + 2 * b, txs)
            })
            .collect()
    }

    fn build(blocks: &[(u64, Vec<Tx>)]) -> Finished {
        let mut s = SegmentBuilder::default();
        for (height, txs) in blocks {
            s.block(*height, (height % 2 == 0).then_some(*height as i64 * 600));
            for (pos, (id, ins, outs)) in txs.iter().enumerate() {
                s.tx(id, pos as u32);
                for (vin, (prev, resolved)) in ins.iter().enumerate() {
                    let r = resolved.map(|(a, v)| (address(a), v));
                    s.input(
                        vin as u32,
                        prev.as_ref().map(|(t, n)| (t, *n)),
                        r.as_ref().map(|(a, v)| (a, *v)),
                    );
                }
                for (vout, (a, v)) in outs.iter().enumerate() {
                    s.output(vout as u32, &address(*a), *v);
                }
            }
        }
        s.finish()
    }

    /// Segments of consecutive blocks merged equal, byte for byte and run for run, the one
    /// segment built from all of them; a segment cut to its first blocks equals the segment
    /// built from those blocks. Random blocks, many seeds and splits.
    #[test]
    fn a_merge_or_a_cut_equals_building_the_same_blocks() {
        for seed in 1..60u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let n = 1 + rng.below(12);
            let blocks = random_blocks(&mut rng, n);
            let whole = build(&blocks);
            // Split into up to four runs of blocks (some empty).
            let mut cuts: Vec<usize> =
                (0..3).map(|_| rng.below(blocks.len() as u64 + 1) as usize).collect();
            cuts.sort_unstable();
            let bounds = [&[0][..], &cuts, &[blocks.len()]].concat();
            let pieces: Vec<Finished> = bounds
                .windows(2)
                .filter(|w| w[0] < w[1])
                .map(|w| build(&blocks[w[0]..w[1]]))
                .collect();
            let data: Vec<Vec<u8>> = pieces.iter().map(Finished::data).collect();
            let parts: Vec<Part<'_>> =
                data.iter().map(|d| Part::whole(SegmentView::parse(d).unwrap())).collect();
            let (merged, shifts) = merge(&parts);
            assert_eq!(merged.data(), whole.data(), "seed {seed}: merged bytes");
            assert_eq!(merged.txid_run, whole.txid_run, "seed {seed}");
            assert_eq!(merged.unresolved_run, whole.unresolved_run, "seed {seed}");
            assert_eq!(merged.counts, whole.counts, "seed {seed}");
            let mut input = 0;
            for (p, s) in pieces.iter().zip(&shifts) {
                assert_eq!(*s, input);
                input += p.counts.inputs;
            }

            let keep = rng.below(blocks.len() as u64 + 1) as usize;
            let whole_data = whole.data();
            let view = SegmentView::parse(&whole_data).unwrap();
            let (cut, _) = merge(&[Part { view, blocks: keep as u32 }]);
            let expected = build(&blocks[..keep]);
            assert_eq!(cut.data(), expected.data(), "seed {seed}: cut to {keep} blocks");
            assert_eq!(cut.txid_run, expected.txid_run, "seed {seed}");
            assert_eq!(cut.unresolved_run, expected.unresolved_run, "seed {seed}");
            assert_eq!(cut.counts, expected.counts, "seed {seed}");
        }
    }
}
