//! Segments merged into one (compaction), or one segment cut to its first blocks (an unwind
//! across it), without decoding an address or rebuilding a row: rows are copied with their
//! references moved, the parts' sorted dictionaries merged, and every address's row list
//! concatenated. The result is the segment [`SegmentBuilder`](super::SegmentBuilder) writes
//! for the same rows (tested byte for byte below).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::Write;

use super::{
    header, len_u32, prefix, run_bytes, u32_at, Segment, SegmentCounts, SegmentView, BLOCK, IN,
    NO_ADDR, OUT, TX,
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

/// Segments merged (see [`merge`]): what the manifest records, and the plan to write the
/// merged bytes from the parts (streamed: the merged segment is never held in memory).
pub(crate) struct Merged<'p, 'a> {
    parts: &'p [Part<'a>],
    kept: Vec<(u32, u32, u32)>,
    /// Where each part's blocks, transactions, outputs and inputs start in the merge.
    at: Vec<(u32, u32, u32, u32)>,
    /// Each part's address ids, as merged keys (before addresses no kept row names go).
    raw: Vec<Vec<u32>>,
    /// Each part's address ids in the merged segment.
    ids: Vec<Vec<u32>>,
    /// The merged keys, and which of them stay.
    keys: Vec<&'a [u8]>,
    used: Vec<bool>,
    /// Offsets of each kept address's rows in the postings.
    offsets: Vec<u32>,
    key_bytes: usize,
    pub(crate) counts: SegmentCounts,
    pub(crate) txid_entries: Vec<(u64, u32, u32)>,
    pub(crate) unresolved_entries: Vec<(u64, u32, u32)>,
    /// Per part, the row its first input row becomes (a later resolution of an input,
    /// `utxo_input_fills`, moves with it).
    pub(crate) shifts: Vec<u32>,
}

/// Plans the merge of `parts`, each one's blocks above the previous one's (heights in
/// order), into one segment. Addresses that no kept row names are left out of the
/// dictionary.
pub(crate) fn merge<'p, 'a>(parts: &'p [Part<'a>]) -> Merged<'p, 'a> {
    let kept: Vec<(u32, u32, u32)> = parts.iter().map(Part::kept).collect();
    let mut counts = SegmentCounts::default();
    let mut at = Vec::with_capacity(parts.len());
    for (p, (t, o, i)) in parts.iter().zip(&kept) {
        at.push((counts.blocks, counts.txs, counts.outputs, counts.inputs));
        let nb = p.blocks.min(p.view.n_blocks());
        if nb > 0 {
            let first = p.view.block(0).height;
            debug_assert!(counts.blocks == 0 || counts.max_height < first, "parts in height order");
            if counts.blocks == 0 {
                counts.min_height = first;
            }
            counts.max_height = p.view.block(nb - 1).height;
        }
        counts.blocks += nb;
        counts.txs += t;
        counts.outputs += o;
        counts.inputs += i;
    }

    // The merged dictionary: each part's keys are sorted and distinct, so a k-way merge.
    let mut raw: Vec<Vec<u32>> = parts.iter().map(|p| vec![0; p.view.n_addr() as usize]).collect();
    let mut keys: Vec<&'a [u8]> = Vec::new();
    let mut heap: BinaryHeap<Reverse<(&'a [u8], usize, u32)>> = parts
        .iter()
        .enumerate()
        .filter(|(_, p)| p.view.n_addr() > 0)
        .map(|(i, p)| Reverse((p.view.key(0), i, 0)))
        .collect();
    while let Some(Reverse((key, part, id))) = heap.pop() {
        if keys.last() != Some(&key) {
            keys.push(key);
        }
        raw[part][id as usize] = len_u32(keys.len() - 1);
        if id + 1 < parts[part].view.n_addr() {
            heap.push(Reverse((parts[part].view.key(id + 1), part, id + 1)));
        }
    }
    // Rows kept per merged address; an address only dropped rows named goes.
    let mut per = vec![0u32; keys.len()];
    for (p, part) in parts.iter().enumerate() {
        for a in 0..part.view.n_addr() {
            let n = part.view.rows_of(a).filter(|r| kept_row(part, kept[p], *r)).count();
            per[raw[p][a as usize] as usize] += len_u32(n);
        }
    }
    let used: Vec<bool> = per.iter().map(|n| *n > 0).collect();
    let mut renumber = vec![0u32; keys.len()];
    let mut offsets = vec![0u32];
    let mut key_bytes = 0;
    for (m, n) in per.iter().enumerate() {
        if *n > 0 {
            renumber[m] = len_u32(offsets.len() - 1);
            offsets.push(offsets[offsets.len() - 1] + n);
            key_bytes += keys[m].len();
        }
    }
    let ids = raw.iter().map(|r| r.iter().map(|m| renumber[*m as usize]).collect()).collect();

    // The runs: every kept transaction, and every kept input still unresolved.
    let mut txid_entries = Vec::with_capacity(counts.txs as usize);
    let mut unresolved_entries = Vec::new();
    for (p, part) in parts.iter().enumerate() {
        let v = &part.view;
        let (_, ot, oo, oi) = at[p];
        let (t, _, i) = kept[p];
        for n in 0..t {
            let tx = v.tx(n);
            txid_entries.push((prefix(tx.txid), ot + n, oo + tx.first_out));
        }
        for n in 0..i {
            let input = v.input(n);
            if let (NO_ADDR, Some((txid, vout))) = (input.addr, input.prevout) {
                unresolved_entries.push((prefix(txid), oi + n, vout));
                counts.unresolved += 1;
            }
        }
    }
    // Pushed in row order, so a stable sort by prefix is the order of whole entries.
    let mut scratch = Vec::new();
    super::sort::by_key(&mut txid_entries, &mut scratch, |e| e.0);
    super::sort::by_key(&mut unresolved_entries, &mut scratch, |e| e.0);
    let shifts = at.iter().map(|a| a.3).collect();
    Merged {
        parts,
        kept,
        at,
        raw,
        ids,
        keys,
        used,
        offsets,
        key_bytes,
        txid_entries,
        unresolved_entries,
        counts,
        shifts,
    }
}

/// Whether row ref `r` of `part` (an output below its output count, else an input) is in the
/// kept prefix `(transactions, outputs, inputs)`.
fn kept_row(part: &Part<'_>, (_, o, i): (u32, u32, u32), r: u32) -> bool {
    let n_out = part.view.n_out();
    if r < n_out {
        r < o
    } else {
        r - n_out < i
    }
}

/// Passes bytes on to `inner`, keeping their CRC-32.
struct Crc<'w> {
    inner: &'w mut dyn Write,
    crc: crc32fast::Hasher,
}

impl Write for Crc<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Copies `rows` (whole rows of `size` bytes) to `w` a chunk at a time, each row changed by
/// `edit` on the way.
fn copy_rows(
    w: &mut impl Write,
    buf: &mut Vec<u8>,
    rows: &[u8],
    size: usize,
    mut edit: impl FnMut(&mut [u8]),
) -> std::io::Result<()> {
    for chunk in rows.chunks(size * 4096) {
        buf.clear();
        buf.extend_from_slice(chunk);
        buf.chunks_exact_mut(size).for_each(&mut edit);
        w.write_all(buf)?;
    }
    Ok(())
}

/// One row section of a segment.
type Section = for<'v> fn(&SegmentView<'v>) -> &'v [u8];

fn add(row: &mut [u8], at: usize, by: u32) {
    let v = u32_at(row, at).wrapping_add(by);
    row[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn set(row: &mut [u8], at: usize, v: u32) {
    row[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

impl Merged<'_, '_> {
    fn write_body(&self, w: &mut impl Write) -> std::io::Result<()> {
        let n_addr = self.offsets.len() - 1;
        let n_post = self.offsets[n_addr] as usize;
        w.write_all(&header(&self.counts, n_addr, self.key_bytes, n_post))?;
        let mut buf = Vec::with_capacity(IN * 4096);
        let sections: [(usize, Section); 4] =
            [(BLOCK, |v| v.blocks), (TX, |v| v.txs), (OUT, |v| v.outs), (IN, |v| v.ins)];
        for (section, (size, bytes)) in sections.into_iter().enumerate() {
            for (p, part) in self.parts.iter().enumerate() {
                let (ob, ot, oo, oi) = self.at[p];
                let (t, o, i) = self.kept[p];
                let n = [part.blocks.min(part.view.n_blocks()), t, o, i][section] as usize;
                let ids = &self.ids[p];
                let rows = &bytes(&part.view)[..n * size];
                copy_rows(w, &mut buf, rows, size, |row| match section {
                    0 => add(row, 16, ot),
                    1 => {
                        add(row, 32, ob);
                        add(row, 40, oo);
                        add(row, 44, oi);
                    }
                    2 => set(row, 4, ids[u32_at(row, 4) as usize]),
                    _ => {
                        let a = u32_at(row, 40);
                        if a != NO_ADDR {
                            set(row, 40, ids[a as usize]);
                        }
                    }
                })?;
            }
        }
        // The dictionary: key offsets, keys, row-list offsets.
        let mut end = 0u32;
        w.write_all(&0u32.to_le_bytes())?;
        for k in self.kept_keys() {
            end += len_u32(k.len());
            w.write_all(&end.to_le_bytes())?;
        }
        for k in self.kept_keys() {
            w.write_all(k)?;
        }
        for o in &self.offsets {
            w.write_all(&o.to_le_bytes())?;
        }
        // Each address's rows: its outputs in every part, then its inputs in every part. A
        // part holds a key once, and its ids are in key order: one cursor per part.
        let mut cursor = vec![0u32; self.parts.len()];
        let mut here: Vec<(usize, u32)> = Vec::with_capacity(self.parts.len());
        for m in 0..self.keys.len() {
            here.clear();
            for (p, part) in self.parts.iter().enumerate() {
                let c = cursor[p];
                if c < part.view.n_addr() && self.raw[p][c as usize] as usize == m {
                    here.push((p, c));
                    cursor[p] += 1;
                }
            }
            if !self.used[m] {
                continue;
            }
            for outputs in [true, false] {
                for &(p, a) in &here {
                    let part = &self.parts[p];
                    let n_out = part.view.n_out();
                    let (_, _, oo, oi) = self.at[p];
                    for r in part.view.rows_of(a).filter(|r| kept_row(part, self.kept[p], *r)) {
                        let to = match (outputs, r < n_out) {
                            (true, true) => oo + r,
                            (false, false) => self.counts.outputs + oi + (r - n_out),
                            _ => continue,
                        };
                        w.write_all(&to.to_le_bytes())?;
                    }
                }
            }
        }
        w.write_all(&run_bytes(&self.txid_entries))?;
        w.write_all(&run_bytes(&self.unresolved_entries))
    }

    fn kept_keys(&self) -> impl Iterator<Item = &[u8]> {
        self.keys.iter().zip(&self.used).filter(|(_, u)| **u).map(|(k, _)| *k)
    }
}

impl Segment for Merged<'_, '_> {
    fn counts(&self) -> &SegmentCounts {
        &self.counts
    }
    fn write_to(&self, w: &mut dyn Write) -> std::io::Result<()> {
        let mut crc = Crc { inner: w, crc: crc32fast::Hasher::new() };
        {
            let mut out = std::io::BufWriter::with_capacity(1 << 18, &mut crc);
            self.write_body(&mut out)?;
            out.flush()?;
        }
        let sum = crc.crc.finalize();
        crc.inner.write_all(&sum.to_le_bytes())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use floodgate_types::{BtcAddress, BtcNetwork};

    use super::super::{Finished, SegmentBuilder};
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
        s.finish(&mut super::super::Pool::default())
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
            let merged = merge(&parts);
            assert_eq!(merged.data(), whole.data(), "seed {seed}: merged bytes");
            assert_eq!(merged.txid_entries, whole.txid_entries, "seed {seed}");
            assert_eq!(merged.unresolved_entries, whole.unresolved_entries, "seed {seed}");
            assert_eq!(merged.counts, whole.counts, "seed {seed}");
            let mut input = 0;
            for (p, s) in pieces.iter().zip(&merged.shifts) {
                assert_eq!(*s, input);
                input += p.counts.inputs;
            }

            let keep = rng.below(blocks.len() as u64 + 1) as usize;
            let whole_data = whole.data();
            let view = SegmentView::parse(&whole_data).unwrap();
            let cut_parts = [Part { view, blocks: keep as u32 }];
            let cut = merge(&cut_parts);
            let expected = build(&blocks[..keep]);
            assert_eq!(cut.data(), expected.data(), "seed {seed}: cut to {keep} blocks");
            assert_eq!(cut.txid_entries, expected.txid_entries, "seed {seed}");
            assert_eq!(cut.unresolved_entries, expected.unresolved_entries, "seed {seed}");
            assert_eq!(cut.counts, expected.counts, "seed {seed}");
        }
    }
}
