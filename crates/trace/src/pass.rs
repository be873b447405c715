//! The exposure index's forward pass and its saved state (issue 15 item 2: "updated
//! incrementally when segments are appended").
//!
//! The pass replays every transfer of an asset in replay order and holds, per node, what the
//! per-query replay holds for it ([`NodeState`]: balance, labelled parts, the poison labels
//! present, in compact forms tested against `causal.rs`'s `Parts` and `Present`) plus what the
//! index reports (value received per origin and hop band). That is
//! everything a later transfer reads, so the pass over a graph of `k + 1` segments equals the
//! pass over its first `k` segments continued over the last one — provided that
//!
//! 1. every transfer of the new segments comes after every transfer already replayed in
//!    replay order (time, then storage order: a new segment's storage order is always later,
//!    so its earliest time must be no earlier than the latest time replayed; block times on
//!    Bitcoin may step back, and then the asset is replayed from the start),
//! 2. no hop a transfer already replayed was charged changes (a peel-chain link is free, and
//!    whether an address is one depends on all of its receipts, later ones included: checked
//!    for every address and transaction the new segments touch), and
//! 3. no node already in the graph gained or lost a tag (a new node may carry one).
//!
//! When any of these fails, or the state is missing or of another version, the index is
//! built whole. The state is saved beside the index (`exposure.fgxs`, checksummed) with the
//! undo records of the last [`MAX_CHECKPOINTS`] updates (each node's state before the update
//! touched it), so that after the graph is unwound (a reorganisation) the pass is unwound to
//! the newest update boundary the graph still shares and extended from there.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

use floodgate_graph::{AssetPlaces, Graph, GraphError, Leg, NodeId, NodeKind, TxTimes};
use floodgate_types::RiskCategory;
use ruint::aliases::U256;
use rustc_hash::{FxHashMap, FxHashSet};
use sha2::{Digest, Sha256};

use crate::causal::{Mix, Parts};
use crate::exposure::share;
use crate::exposure::Ctx;
use crate::{Direction, ExposureOptions};

/// The hop limits the index answers: `BUCKETS[i]` is bucket `i`.
pub(crate) const BUCKETS: [u32; 4] = [1, 2, 3, 6];

/// The deepest bucket: labels beyond it are dropped during the pass.
const MAX_HOPS: u32 = 6;

/// Updates whose undo records are kept: an unwind below the oldest rebuilds the index whole.
pub const MAX_CHECKPOINTS: usize = 8;

const MAGIC: &[u8; 8] = b"FGEXPASS";
/// The state file's format version; another is not read (the index is rebuilt). Version 4
/// adds when each address's labels first arrived, which earlier versions did not record, so
/// they cannot be continued. (Version 3 had version 2's layout and left out the transactions
/// that made their last transfer.)
pub(crate) const STATE_VERSION: u32 = 4;
const HEADER_LEN: usize = 8 + 4 + 4 + 32 + 8;

/// A value of at most 128 bits, in two halves, so that a [`Got`] needs 8-byte alignment
/// (24 bytes, not 32).
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct V128([u64; 2]);

impl V128 {
    pub(crate) fn get(self) -> u128 {
        u128::from(self.0[0]) | u128::from(self.0[1]) << 64
    }
    fn of(x: u128) -> V128 {
        V128([x as u64, (x >> 64) as u64])
    }
}

/// The word a received value is kept in: 64 bits while every value of its list fits them,
/// 128 from the first that does not ([`Gots`]).
pub(crate) trait Word: Copy + Eq + std::fmt::Debug {
    fn get(self) -> u128;
    /// `None` when `x` does not fit.
    fn of(x: u128) -> Option<Self>;
    /// `x`, at most a value of this word (its low bits otherwise).
    fn cut(x: u128) -> Self;
}

impl Word for u64 {
    fn get(self) -> u128 {
        u128::from(self)
    }
    fn of(x: u128) -> Option<u64> {
        u64::try_from(x).ok()
    }
    fn cut(x: u128) -> u64 {
        x as u64
    }
}

impl Word for V128 {
    fn get(self) -> u128 {
        V128::get(self)
    }
    fn of(x: u128) -> Option<V128> {
        Some(V128::of(x))
    }
    fn cut(x: u128) -> V128 {
        V128::of(x)
    }
}

/// Value received from one origin within one hop band: band `b` holds the hops above
/// `BUCKETS[b - 1]` up to `BUCKETS[b]` (band 0: at most 1), so bucket `b` is the sum of
/// bands `0..=b`. 16 bytes in a 64-bit word, 24 in a 128-bit one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Got<W = V128> {
    /// A tagged node (haircut) or a category code (poison).
    pub(crate) origin: u32,
    pub(crate) band: u8,
    /// The fewest hops it came at (within the band).
    pub(crate) min: u8,
    pub(crate) value: W,
}

impl<W: Word> Got<W> {
    fn key(&self) -> (u32, u8) {
        (self.origin, self.band)
    }
    fn wide(self) -> Got {
        Got {
            origin: self.origin,
            band: self.band,
            min: self.min,
            value: V128::of(self.value.get()),
        }
    }
}

/// Received values per (origin, band), sorted: 16 bytes an item while every value fits 64
/// bits (`Narrow`: most of the pass's memory is these lists, and Bitcoin's and the USDT
/// tokens' amounts all fit), 24 from the first that does not (`Wide`). Both hold the same
/// values, kept at `u128::MAX` when a sum does not fit 128 bits.
#[derive(Clone, Debug)]
pub(crate) enum Gots {
    Narrow(Vec<Got<u64>>),
    Wide(Vec<Got>),
}

impl Default for Gots {
    fn default() -> Gots {
        Gots::Narrow(Vec::new())
    }
}

impl Gots {
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub(crate) fn len(&self) -> usize {
        match self {
            Gots::Narrow(v) => v.len(),
            Gots::Wide(v) => v.len(),
        }
    }
    /// Appends `g` after its last item (the caller keeps the order), the list turned wide when
    /// its value does not fit 64 bits.
    fn push(&mut self, g: Got) {
        if let Gots::Narrow(v) = self {
            if let Some(value) = u64::of(g.value.get()) {
                v.push(Got { origin: g.origin, band: g.band, min: g.min, value });
                return;
            }
        }
        let mut wide = self.take_wide();
        wide.push(g);
        *self = Gots::Wide(wide);
    }
    /// The band of its first item, only to bring the list into the cache ahead of its use.
    fn first_band(&self) -> Option<u8> {
        match self {
            Gots::Narrow(v) => v.first().map(|g| g.band),
            Gots::Wide(v) => v.first().map(|g| g.band),
        }
    }
    /// Its items in 128-bit words, taken out (the list left empty): a narrow list's with
    /// exactly its room.
    fn take_wide(&mut self) -> Vec<Got> {
        match std::mem::take(self) {
            Gots::Narrow(v) => v.iter().map(|g| g.wide()).collect(),
            Gots::Wide(v) => v,
        }
    }
    /// Adds `v` from `origin` at `h` hops; false when the sum does not fit 128 bits (it is
    /// then kept at the largest value).
    fn add(&mut self, origin: u32, h: u32, v: U256) -> bool {
        if let Gots::Narrow(list) = self {
            if let Some(fits) = add_got(list, origin, h, v) {
                return fits;
            }
        }
        let mut wide = self.take_wide();
        let fits = add_got(&mut wide, origin, h, v).unwrap_or(false);
        *self = Gots::Wide(wide);
        fits
    }
    /// Adds the haircut parts a transfer carried, as [`Gots::add`] each; false when a sum
    /// does not fit 128 bits.
    fn add_parts(&mut self, parts: PartsRef<'_>) -> bool {
        let mut skip = 0;
        if let Gots::Narrow(list) = self {
            match add_parts(list, parts, 0) {
                Ok(fits) => return fits,
                Err(added) => skip = added,
            }
        }
        // A 128-bit word holds every sum (kept at the largest value when it does not fit).
        let mut wide = self.take_wide();
        let fits = add_parts(&mut wide, parts, skip).unwrap_or(false);
        *self = Gots::Wide(wide);
        fits
    }
}

/// The band of `h` hops (at most [`MAX_HOPS`]).
fn band(h: u32) -> u8 {
    BUCKETS.iter().position(|&lim| h <= lim).unwrap_or(BUCKETS.len() - 1) as u8
}

/// Adds `v` from `origin` at `h` hops to a list sorted by (origin, band): `Some(false)` when
/// the sum does not fit 128 bits (it is then kept at the largest value); `None` (the list
/// unchanged) when it does not fit the list's word.
fn add_got<W: Word>(list: &mut Vec<Got<W>>, origin: u32, h: u32, v: U256) -> Option<bool> {
    let (band, min) = (band(h), h.min(255) as u8);
    let (sum, fits) = match u128::try_from(v) {
        Ok(v) => (v, true),
        Err(_) => (u128::MAX, false),
    };
    match list.binary_search_by(|g| g.key().cmp(&(origin, band))) {
        Ok(i) => {
            let g = &mut list[i];
            let (x, fits) = match g.value.get().checked_add(sum) {
                Some(x) => (x, fits),
                None => (u128::MAX, false),
            };
            g.value = W::of(x)?;
            g.min = g.min.min(min);
            Some(fits)
        }
        Err(i) => {
            let value = W::of(sum)?;
            // Grown by a quarter, not doubled, and from one item, not four (a `Vec`'s first
            // room): most of the pass's memory is these lists, most of them short.
            if list.len() == list.capacity() {
                list.reserve_exact((list.len() / 4).max(1));
            }
            list.insert(i, Got { origin, band, min, value });
            Some(fits)
        }
    }
}

/// Adds the haircut parts a transfer carried, after the first `skip`, to a list sorted by
/// (origin, band), as [`add_got`] each; many parts into a short list are merged in one pass
/// instead (a transfer from a hub carries hundreds). `Ok(false)` when a sum does not fit 128
/// bits; `Err(k)` when a value does not fit the list's word, the first `k` parts added (the
/// rest not).
fn add_parts<W: Word>(
    list: &mut Vec<Got<W>>,
    parts: PartsRef<'_>,
    skip: usize,
) -> Result<bool, usize> {
    let n = parts.len();
    let mut fits = true;
    if n <= 2 || n * 8 <= list.len() || skip > 0 {
        let (mut k, mut stopped) = (0usize, None);
        parts.each(|h, o, v| {
            if k >= skip && stopped.is_none() {
                match add_got(list, o, h, v) {
                    Some(f) => fits &= f,
                    None => stopped = Some(k),
                }
            }
            k += 1;
        });
        return stopped.map_or(Ok(fits), Err);
    }
    let mut new: Vec<Got<W>> = Vec::with_capacity(n);
    let mut narrow = true;
    parts.each(|h, o, v| {
        let v = u128::try_from(v).unwrap_or_else(|_| {
            fits = false;
            u128::MAX
        });
        match W::of(v) {
            Some(value) => new.push(Got { origin: o, band: band(h), min: h.min(255) as u8, value }),
            None => narrow = false,
        }
    });
    if !narrow {
        return Err(0);
    }
    new.sort_unstable_by_key(Got::key);
    let old = std::mem::take(list);
    // Room for the merged list exactly (most of the pass's memory is these lists): the keys
    // of both, counted once.
    let (mut i, mut j, mut merged, mut last) = (0, 0, 0usize, None);
    while i < old.len() || j < new.len() {
        let k = if j < new.len() && (i == old.len() || new[j].key() <= old[i].key()) {
            j += 1;
            new[j - 1].key()
        } else {
            i += 1;
            old[i - 1].key()
        };
        if last != Some(k) {
            merged += 1;
            last = Some(k);
        }
    }
    list.reserve_exact(merged);
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        let g = if j < new.len() && (i == old.len() || new[j].key() <= old[i].key()) {
            j += 1;
            new[j - 1]
        } else {
            i += 1;
            old[i - 1]
        };
        match list.last_mut() {
            Some(l) if l.key() == g.key() => {
                l.min = l.min.min(g.min);
                let sum = l.value.get().checked_add(g.value.get()).unwrap_or_else(|| {
                    fits = false;
                    u128::MAX
                });
                match W::of(sum) {
                    Some(v) => l.value = v,
                    None => {
                        // Nothing added: the list as it was.
                        *list = old;
                        return Err(0);
                    }
                }
            }
            _ => list.push(g),
        }
    }
    Ok(fits)
}

/// Adds what a labelled receipt of `a` carried (haircut `parts`, poison labels `present`)
/// to what an address received, at place (`time`, `seq`) in replay order; false when a sum
/// does not fit 128 bits.
fn receive(
    recv: &mut Recv,
    arrivals: &mut Arrivals,
    parts: PartsRef<'_>,
    present: &[(u8, u8)],
    a: U256,
    time: u32,
    seq: u64,
) -> bool {
    let mut fits = recv.origins.add_parts(parts);
    for &(code, h) in present {
        fits &= recv.poison.add(u32::from(code), u32::from(h), a);
    }
    if let Some(h) = present.iter().map(|l| l.1).min() {
        arrivals.record(time, seq, h);
    }
    fits
}

/// A labelled receipt at an address, as a pipelined replay hands it to the thread that sums
/// what addresses received ([`Receipts`]).
#[derive(Clone, Copy)]
struct Receipt {
    amount: U256,
    seq: u64,
    dst: u32,
    time: u32,
    /// Its haircut parts: this many of the batch's narrow parts, or (with [`MID_PARTS`]) of
    /// its 128-bit parts, or ([`WIDE_PARTS`]) the batch's next wide list.
    parts: u32,
    /// Its poison labels: this many of the batch's.
    present: u32,
}

/// [`Receipt::parts`]: the parts are wide.
const WIDE_PARTS: u32 = u32::MAX;
/// [`Receipt::parts`]: the parts are 128-bit ones, this many (the bit cleared).
const MID_PARTS: u32 = 1 << 31;

/// Receipts handed over at once, in replay order.
#[derive(Default)]
struct Batch {
    receipts: Vec<Receipt>,
    parts: Vec<Part<u64>>,
    mid: Vec<Part>,
    wide: Vec<Parts>,
    present: Vec<(u8, u8)>,
}

/// Receipts a batch holds before it is handed over.
const BATCH_RECEIPTS: usize = 1 << 13;

impl Batch {
    fn clear(&mut self) {
        self.receipts.clear();
        self.parts.clear();
        self.mid.clear();
        self.wide.clear();
        self.present.clear();
    }
}

/// What one address received, summed apart from the replay.
#[derive(Default)]
struct Summed {
    recv: Recv,
    arrivals: Arrivals,
    /// A sum did not fit 128 bits ([`WIDE`]).
    wide: bool,
}

/// What addresses received, summed by a thread of its own while the replay runs (a
/// pipelined replay, [`replay`]): the replay never reads it, so it needs only the receipts,
/// in order.
#[derive(Default)]
struct Receipts {
    /// Per node id, its place in `sums` plus one (0: none yet).
    slot: Vec<u32>,
    sums: Vec<(u32, Summed)>,
}

impl Receipts {
    fn add(&mut self, b: &Batch) {
        let (mut p, mut m, mut w, mut q) = (0usize, 0usize, 0usize, 0usize);
        for (k, r) in b.receipts.iter().enumerate() {
            // Touched ahead, as the replay does ([`replay_into`]), each step one load: the slot
            // of the receipt `TOUCH_SLOTS` ahead, the sums of the one `TOUCH_NODES` ahead, the
            // heads of their lists of the one `TOUCH_LABELS` ahead. Reads only.
            if let Some(u) = b.receipts.get(k + TOUCH_SLOTS) {
                std::hint::black_box(self.slot.get(u.dst as usize).copied());
            }
            let summed = |u: &Receipt| {
                let at = self.slot.get(u.dst as usize).map_or(0, |&s| s as usize);
                at.checked_sub(1).and_then(|i| self.sums.get(i))
            };
            if let Some(u) = b.receipts.get(k + TOUCH_NODES) {
                std::hint::black_box(summed(u).map(|s| (s.1.recv.origins.len(), s.1.wide)));
            }
            if let Some(u) = b.receipts.get(k + TOUCH_LABELS) {
                let heads = summed(u).map(|s| {
                    let r = &s.1.recv;
                    let last = s.1.arrivals.0.last().map(|a| a.hops);
                    (r.origins.first_band(), r.poison.first_band(), last)
                });
                std::hint::black_box(heads);
            }
            let parts = if r.parts == WIDE_PARTS {
                w += 1;
                PartsRef::Wide(&b.wide[w - 1])
            } else if r.parts & MID_PARTS != 0 {
                let n = (r.parts & !MID_PARTS) as usize;
                m += n;
                PartsRef::Mid(&b.mid[m - n..m])
            } else {
                p += r.parts as usize;
                PartsRef::Narrow(&b.parts[p - r.parts as usize..p])
            };
            q += r.present as usize;
            let present = &b.present[q - r.present as usize..q];
            let i = r.dst as usize;
            if i >= self.slot.len() {
                self.slot.resize(i + 1, 0);
            }
            let at = match self.slot[i] {
                0 => {
                    self.sums.push((r.dst, Summed::default()));
                    self.slot[i] = self.sums.len() as u32;
                    self.sums.len() - 1
                }
                s => (s - 1) as usize,
            };
            let sm = &mut self.sums[at].1;
            if !receive(&mut sm.recv, &mut sm.arrivals, parts, present, r.amount, r.time, r.seq) {
                sm.wide = true;
            }
        }
    }

    /// Sums the batches `rx` gets until it closes, handing each back emptied to `back`.
    /// `receivers`: at most how many addresses receive (room made once: a list grown by
    /// doubling is copied into fresh pages at each step; room never written to is address
    /// space only).
    fn sum(
        nodes: u32,
        receivers: usize,
        rx: std::sync::mpsc::Receiver<Batch>,
        back: std::sync::mpsc::Sender<Batch>,
    ) -> Receipts {
        let sums = Vec::with_capacity(receivers.min(nodes as usize));
        let mut r = Receipts { slot: vec![0; nodes as usize], sums };
        for mut b in rx {
            r.add(&b);
            b.clear();
            // The replay may have stopped taking them back: then the batch is dropped.
            drop(back.send(b));
        }
        r
    }

    /// Puts what each address received into its state.
    fn merge_into(self, nodes: &mut Nodes) {
        drop(self.slot);
        for (n, sm) in self.sums {
            let s = nodes.get_or_default(n);
            if sm.wide {
                s.flags |= WIDE;
            }
            if !sm.recv.origins.is_empty()
                || !sm.recv.poison.is_empty()
                || !sm.arrivals.0.is_empty()
            {
                let x = s.x.get_or_insert_with(Default::default);
                x.recv = sm.recv;
                x.arrivals = sm.arrivals;
            }
        }
    }
}

/// The replay's end of a pipeline to [`Receipts::sum`].
struct Sink {
    batch: Batch,
    /// Receipts a batch holds before it is handed over.
    cap: usize,
    tx: std::sync::mpsc::SyncSender<Batch>,
    back: std::sync::mpsc::Receiver<Batch>,
}

impl Sink {
    fn push(&mut self, dst: u32, amount: U256, time: u32, seq: u64, carried: &Bal, p: &Pres) {
        let b = &mut self.batch;
        let parts = match carried {
            Bal::Narrow(v) if v.len() < MID_PARTS as usize => {
                b.parts.extend_from_slice(v);
                v.len() as u32
            }
            // Below the count whose bits with `MID_PARTS` would read as `WIDE_PARTS`.
            Bal::Mid(v) if v.len() < (WIDE_PARTS & !MID_PARTS) as usize => {
                b.mid.extend_from_slice(v);
                MID_PARTS | v.len() as u32
            }
            _ => {
                b.wide.push(carried.to_parts());
                WIDE_PARTS
            }
        };
        b.present.extend_from_slice(&p.0);
        let present = p.0.len() as u32;
        b.receipts.push(Receipt { amount, seq, dst, time, parts, present });
        if b.receipts.len() >= self.cap {
            self.flush();
        }
    }
    fn flush(&mut self) {
        if self.batch.receipts.is_empty() {
            return;
        }
        let fresh = self.back.try_recv().unwrap_or_default();
        let full = std::mem::replace(&mut self.batch, fresh);
        // A summing thread that stopped panicked: the panic is passed on when it is joined.
        drop(self.tx.send(full));
    }
}

/// One labelled part of a balance: 16 bytes with a 64-bit value, 24 with a 128-bit one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Part<W = V128> {
    origin: u32,
    hops: u8,
    value: W,
}

impl Part<u64> {
    fn mid(self) -> Part {
        Part { origin: self.origin, hops: self.hops, value: V128::of(self.value.get()) }
    }
}

/// A borrowed list of haircut parts: a [`Bal`]'s, or a transfer's as the thread that sums
/// receipts gets them ([`Receipts`]).
#[derive(Clone, Copy)]
enum PartsRef<'a> {
    Narrow(&'a [Part<u64>]),
    Mid(&'a [Part]),
    Wide(&'a Parts),
}

impl PartsRef<'_> {
    fn len(self) -> usize {
        match self {
            PartsRef::Narrow(v) => v.len(),
            PartsRef::Mid(v) => v.len(),
            PartsRef::Wide(p) => p.0.len(),
        }
    }
    /// Calls `f(hops, origin, value)` for each part, in label order.
    fn each(self, mut f: impl FnMut(u32, u32, U256)) {
        fn each_in<W: Word>(v: &[Part<W>], f: &mut impl FnMut(u32, u32, U256)) {
            v.iter().for_each(|p| f(u32::from(p.hops), p.origin, U256::from(p.value.get())));
        }
        match self {
            PartsRef::Narrow(v) => each_in(v, &mut f),
            PartsRef::Mid(v) => each_in(v, &mut f),
            PartsRef::Wide(p) => p.0.iter().for_each(|&((h, o), v)| f(h, o, v)),
        }
    }
}

/// Haircut parts of a balance or of a transfer, in label (hops, origin) order, under the
/// rules of `causal.rs`'s `Parts` (its `Mix::take` and `add`, with the same `share`): while
/// every value fits 64 bits, 16 bytes a part instead of its 40 (`Narrow`: most of the
/// balances' memory, and Bitcoin's and the USDT tokens' amounts all fit); from the first that
/// does not, 24 (`Mid`, 128 bits); from the first that does not fit 128 bits, its 256-bit list
/// (`Wide`). All hold the same values.
#[derive(Clone, Debug)]
pub(crate) enum Bal {
    Narrow(Vec<Part<u64>>),
    Mid(Vec<Part>),
    Wide(Parts),
}

impl Default for Bal {
    fn default() -> Bal {
        Bal::Narrow(Vec::new())
    }
}

impl Bal {
    fn origin(hops: u32, origin: u32, amount: U256) -> Bal {
        let v = u128::try_from(amount);
        match (v, u8::try_from(hops)) {
            (Ok(0), _) => Bal::default(),
            (Ok(v), Ok(hops)) => match u64::try_from(v) {
                Ok(value) => Bal::Narrow(vec![Part { origin, hops, value }]),
                Err(_) => Bal::Mid(vec![Part { origin, hops, value: V128::of(v) }]),
            },
            _ => Bal::Wide(Parts::origin((hops, origin), amount)),
        }
    }
    /// From `((hops, origin), value)` in label order.
    fn from_parts(parts: Vec<((u32, u32), U256)>) -> Bal {
        fn narrowed<W: Word>(parts: &[((u32, u32), U256)]) -> Option<Vec<Part<W>>> {
            parts
                .iter()
                .map(|&((h, o), v)| {
                    Some(Part {
                        origin: o,
                        hops: u8::try_from(h).ok()?,
                        value: W::of(u128::try_from(v).ok()?)?,
                    })
                })
                .collect()
        }
        if let Some(n) = narrowed(&parts) {
            return Bal::Narrow(n);
        }
        match narrowed(&parts) {
            Some(m) => Bal::Mid(m),
            None => Bal::Wide(Parts(parts)),
        }
    }
    fn to_parts(&self) -> Parts {
        match self {
            Bal::Wide(p) => p.clone(),
            _ => {
                let mut v = Vec::with_capacity(self.len());
                self.each(|h, o, x| v.push(((h, o), x)));
                Parts(v)
            }
        }
    }
    fn len(&self) -> usize {
        self.as_ref().len()
    }
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn as_ref(&self) -> PartsRef<'_> {
        match self {
            Bal::Narrow(v) => PartsRef::Narrow(v),
            Bal::Mid(v) => PartsRef::Mid(v),
            Bal::Wide(p) => PartsRef::Wide(p),
        }
    }
    /// Calls `f(hops, origin, value)` for each part, in label order.
    fn each(&self, f: impl FnMut(u32, u32, U256)) {
        self.as_ref().each(f);
    }
    /// What a transfer of `a` takes from a balance of `b > 0` holding these parts (each part
    /// taken is at most the part it is taken from: it stays in the list's word).
    fn take(&mut self, a: U256, b: U256) -> Bal {
        match self {
            Bal::Narrow(v) => Bal::Narrow(take_parts(v, a, b)),
            Bal::Mid(v) => Bal::Mid(take_parts(v, a, b)),
            Bal::Wide(p) => Bal::Wide(p.take(a, b)),
        }
    }
    /// Adds `h` hops to every part, dropping those beyond the deepest bucket.
    fn shift(&mut self, h: u32) {
        fn shift_in<W>(v: &mut Vec<Part<W>>, h: u32) {
            v.retain_mut(|p| {
                let x = u32::from(p.hops) + h;
                p.hops = x.min(255) as u8;
                x <= MAX_HOPS
            });
        }
        match self {
            Bal::Narrow(v) => shift_in(v, h),
            Bal::Mid(v) => shift_in(v, h),
            Bal::Wide(p) => p.0.retain_mut(|((hops, _), _)| {
                *hops += h;
                *hops <= MAX_HOPS
            }),
        }
    }
    /// Adds a received transfer's parts: in the narrowest word every sum fits (128-bit sums
    /// from the first that does not fit 64, 256-bit from the first that does not fit 128).
    fn add(&mut self, other: &Bal) {
        if other.is_empty() {
            return;
        }
        if let (Bal::Narrow(mine), Bal::Narrow(theirs)) = (&mut *self, other) {
            if add_narrow(mine, theirs) {
                return;
            }
        }
        if !matches!(self, Bal::Wide(_)) && !matches!(other, Bal::Wide(_)) {
            if let Bal::Narrow(v) = self {
                *self = Bal::Mid(v.iter().map(|p| p.mid()).collect());
            }
            if let Bal::Mid(mine) = self {
                let added = match other {
                    Bal::Narrow(t) => {
                        add_narrow(mine, &t.iter().map(|p| p.mid()).collect::<Vec<_>>())
                    }
                    Bal::Mid(t) => add_narrow(mine, t),
                    Bal::Wide(_) => false,
                };
                if added {
                    return;
                }
            }
        }
        let mut p = self.to_parts();
        p.add(&other.to_parts());
        *self = Bal::Wide(p);
    }
    /// [`Bal::add`], taking the received parts: into a balance without parts they move
    /// instead of being copied (a transaction's first input, an address's first receipt).
    fn absorb(&mut self, other: Bal) {
        if !self.is_empty() {
            self.add(&other);
            return;
        }
        // Exactly its room, as a copy would have.
        *self = match other {
            Bal::Narrow(mut v) => {
                v.shrink_to_fit();
                Bal::Narrow(v)
            }
            Bal::Mid(mut v) => {
                v.shrink_to_fit();
                Bal::Mid(v)
            }
            wide => wide,
        };
    }
}

/// [`Bal::take`] of a list of parts in one word: what a transfer of `a` takes from a
/// balance of `b > 0` holding them, the rest kept.
fn take_parts<W: Word>(v: &mut Vec<Part<W>>, a: U256, b: U256) -> Vec<Part<W>> {
    if a >= b {
        return std::mem::take(v);
    }
    let keep = b - a;
    let (a1, b1) = (u128::try_from(a).ok(), u128::try_from(b).ok());
    let mut sent = Vec::with_capacity(v.len());
    v.retain_mut(|p| {
        let x = p.value.get();
        // `share(x, a, b)` and `share(x, keep, b)`, both at most the part's value (they
        // fit). When `x·a` fits 128 bits, from one division: with `x·a = s·b + r`,
        // `x·(b − a) = (x − s)·b − r`, so the part kept is `x − s − (r > 0)`.
        let (s, k) = match (a1, b1, x.checked_mul(a1.unwrap_or(u128::MAX))) {
            (Some(_), Some(b1), Some(m)) => {
                let s = m / b1;
                (s, x - s - u128::from(m % b1 != 0))
            }
            _ => {
                let x = U256::from(x);
                let s = share(x, a, b).saturating_to::<u128>();
                (s, share(x, keep, b).saturating_to::<u128>())
            }
        };
        if s != 0 {
            sent.push(Part { value: W::cut(s), ..*p });
        }
        p.value = W::cut(k);
        k != 0
    });
    // A balance that shrank keeps its list's room otherwise.
    if v.capacity() > 2 * v.len() + 8 {
        v.shrink_to_fit();
    }
    sent
}

/// Adds label-ordered parts to label-ordered parts, as `Parts::add` does; false (and `mine`
/// unchanged) when a sum does not fit the word.
fn add_narrow<W: Word>(mine: &mut Vec<Part<W>>, theirs: &[Part<W>]) -> bool {
    let key = |p: &Part<W>| (p.hops, p.origin);
    let sum = |x: W, y: W| x.get().checked_add(y.get()).and_then(W::of);
    if mine.is_empty() {
        // Exactly its room (extending an empty `Vec` makes room for four).
        *mine = theirs.to_vec();
        return true;
    }
    if theirs.len() * 8 <= mine.len() {
        // A few parts into a long list: in place, after checking that every sum fits.
        let fits = theirs.iter().all(|t| match mine.binary_search_by_key(&key(t), key) {
            Ok(i) => sum(mine[i].value, t.value).is_some(),
            Err(_) => true,
        });
        if !fits {
            return false;
        }
        for t in theirs {
            match mine.binary_search_by_key(&key(t), key) {
                Ok(i) => {
                    if let Some(v) = sum(mine[i].value, t.value) {
                        mine[i].value = v;
                    }
                }
                Err(i) => mine.insert(i, *t),
            }
        }
        return true;
    }
    let mut out: Vec<Part<W>> = Vec::with_capacity(mine.len() + theirs.len());
    let (mut i, mut j) = (0, 0);
    while i < mine.len() || j < theirs.len() {
        if j == theirs.len() || (i < mine.len() && key(&mine[i]) < key(&theirs[j])) {
            out.push(mine[i]);
            i += 1;
        } else if i == mine.len() || key(&theirs[j]) < key(&mine[i]) {
            out.push(theirs[j]);
            j += 1;
        } else {
            let Some(v) = sum(mine[i].value, theirs[j].value) else {
                return false;
            };
            out.push(Part { value: v, ..mine[i] });
            i += 1;
            j += 1;
        }
    }
    *mine = out;
    true
}

/// Per origin of a list sorted by (origin, band), in origin order: `f(origin, the value
/// within each bucket, the fewest hops)`; `None` (and no more calls) when a bucket's value
/// does not fit 128 bits. Nothing is collected: the index's writer asks it for every record.
pub(crate) fn each_origin(list: &Gots, f: impl FnMut(u32, [u128; 4], u32)) -> Option<()> {
    match list {
        Gots::Narrow(v) => each_origin_in(v, f),
        Gots::Wide(v) => each_origin_in(v, f),
    }
}

fn each_origin_in<W: Word>(list: &[Got<W>], mut f: impl FnMut(u32, [u128; 4], u32)) -> Option<()> {
    let mut i = 0;
    while i < list.len() {
        let o = list[i].origin;
        let (mut v, mut bands, mut min) = ([0u128; 4], [0u128; 4], u32::MAX);
        while i < list.len() && list[i].origin == o {
            bands[usize::from(list[i].band)] = list[i].value.get();
            min = min.min(u32::from(list[i].min));
            i += 1;
        }
        let mut acc = 0u128;
        for (x, b) in v.iter_mut().zip(bands) {
            acc = acc.checked_add(b)?;
            *x = acc;
        }
        f(o, v, min);
    }
    Some(())
}

/// Per node and asset, what it received, while the pass runs.
#[derive(Default, Clone, Debug)]
pub(crate) struct Recv {
    /// Haircut value per (origin, band), sorted.
    pub(crate) origins: Gots,
    /// Poison: per (category code, band), the value of the transfers that carried it, sorted.
    pub(crate) poison: Gots,
}

/// Poison labels of a balance or of a transfer: each category code present, with the fewest
/// hops it is present at, in code order. The rules of `causal.rs`'s `Present` (a transfer
/// carries every label of the balance it is taken from; a balance emptied loses them), in two
/// bytes a label instead of a tree node.
#[derive(Default, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pres(Vec<(u8, u8)>);

impl Pres {
    fn origin(code: u8, hops: u32, amount: U256) -> Pres {
        Pres(if amount.is_zero() { Vec::new() } else { vec![(code, hops.min(255) as u8)] })
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// What a transfer of `a` takes from a balance of `b > 0` holding these labels.
    fn take(&mut self, a: U256, b: U256) -> Pres {
        if a >= b {
            std::mem::take(self)
        } else {
            self.clone()
        }
    }
    /// Adds `h` hops to every label, dropping those beyond the deepest bucket.
    fn shift(&mut self, h: u32) {
        self.0.retain_mut(|(_, hops)| {
            let x = u32::from(*hops) + h;
            *hops = x.min(255) as u8;
            x <= MAX_HOPS
        });
    }
    /// [`Pres::add`], taking the received labels: into a balance without labels they move.
    fn absorb(&mut self, other: Pres) {
        if self.0.is_empty() {
            *self = other;
        } else {
            self.add(&other);
        }
    }
    /// Adds a received transfer's labels (the fewest hops of each).
    fn add(&mut self, other: &Pres) {
        for &(c, h) in &other.0 {
            match self.0.binary_search_by_key(&c, |l| l.0) {
                Ok(i) => self.0[i].1 = self.0[i].1.min(h),
                Err(i) => self.0.insert(i, (c, h)),
            }
        }
    }
}

/// When poison labels of at most `hops` hops first reached an address: the place in replay
/// order (time, then storage order, [`Leg::seq`]) of the first transfer it received carrying
/// one. A query prunes with it (`causal.rs`): a transfer the address sent before that place
/// carried no such label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Arrival {
    pub(crate) seq: u64,
    pub(crate) time: u32,
    pub(crate) hops: u8,
}

/// An address's arrivals, in replay order: each one nearer (fewer hops) than the one before,
/// so the first place at which labels of at most `h` hops had arrived is that of the first
/// arrival of at most `h` hops.
#[derive(Default, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Arrivals(pub(crate) Vec<Arrival>);

impl Arrivals {
    /// Labels of at most `hops` hops arrived at (time, seq): recorded when nearer than every
    /// arrival before (the pass replays in order, so the places never go back).
    fn record(&mut self, time: u32, seq: u64, hops: u8) {
        if self.0.last().is_none_or(|l| hops < l.hops) {
            // Exactly its room: most addresses get one or two.
            self.0.reserve_exact(1);
            self.0.push(Arrival { seq, time, hops });
        }
    }
}

/// What a node holds and received that carries labels; most nodes have none, so it is boxed
/// apart from the balance.
#[derive(Default, Clone, Debug)]
pub(crate) struct Labels {
    /// Haircut parts of the balance.
    parts: Bal,
    /// Poison labels of the balance, by category code.
    present: Pres,
    /// What the received value carried.
    pub(crate) recv: Recv,
    /// When its poison labels first arrived (addresses only).
    pub(crate) arrivals: Arrivals,
}

impl Labels {
    fn is_empty(&self) -> bool {
        self.parts.is_empty()
            && self.present.is_empty()
            && self.recv.origins.is_empty()
            && self.recv.poison.is_empty()
            && self.arrivals.0.is_empty()
    }
}

/// [`NodeState::flags`]: it sent labelled value.
const SENT_LABELLED: u8 = 1;
/// It is an address that received something (it gets an index entry).
const RECEIVED: u8 = 2;
/// It received labelled value after it sent labelled value.
const ROUND_TRIP: u8 = 4;
/// A value it received (its total, or a sum of what came from one origin) does not fit 128
/// bits: its index entry holds none.
const WIDE: u8 = 8;

/// One node's place in one asset's pass.
#[derive(Default, Clone, Debug)]
pub(crate) struct NodeState {
    /// Value received minus value sent (never below zero).
    bal: U256,
    /// Value received (self-transfers left out), kept at `u128::MAX` when wider ([`WIDE`]).
    pub(crate) total: u128,
    /// [`SENT_LABELLED`], [`RECEIVED`], [`ROUND_TRIP`], [`WIDE`].
    flags: u8,
    /// Labelled parts and what was received, when any.
    x: Option<Box<Labels>>,
}

impl NodeState {
    /// It is an address that received something.
    pub(crate) fn received(&self) -> bool {
        self.flags & RECEIVED != 0
    }
    /// It received labelled value after it sent labelled value.
    pub(crate) fn round_trip(&self) -> bool {
        self.flags & ROUND_TRIP != 0
    }
    /// A value it received does not fit 128 bits.
    pub(crate) fn wide(&self) -> bool {
        self.flags & WIDE != 0
    }
    /// What its received value carried (`None`: nothing labelled).
    pub(crate) fn recv(&self) -> Option<&Recv> {
        self.x.as_deref().map(|x| &x.recv)
    }
    /// When its poison labels first arrived (empty: none arrived).
    pub(crate) fn arrivals(&self) -> &[Arrival] {
        self.x.as_deref().map_or(&[], |x| &x.arrivals.0)
    }
}

/// One asset's node states by node id: a slot per node the pass touched, in the order it
/// first did, and per node id its slot. Replay order follows time and node ids are given in
/// the order nodes are first met, so the nodes a stretch of the replay touches sit near one
/// another here (a hash map scatters them over its whole table: a cache and TLB miss on
/// almost every transfer at 50M), and a walk in id order is a walk along the slots.
#[derive(Default, Clone, Debug)]
pub(crate) struct Nodes {
    /// Per node id, its slot plus one (0: none yet). Node ids are below `u32::MAX`, so a
    /// slot number plus one always fits.
    slot: Vec<u32>,
    states: Vec<NodeState>,
    /// Per slot, one bit set while its node is removed (the slot, a default state, is kept
    /// for the node's return).
    absent: Vec<u64>,
    len: usize,
}

impl Nodes {
    /// Room for node ids below `ids` and up to `more` new nodes (each id has one slot at
    /// most, so never more than the ids without one).
    fn reserve(&mut self, ids: u32, more: usize) {
        if self.slot.len() < ids as usize {
            self.slot.resize(ids as usize, 0);
        }
        self.states.reserve(more.min((ids as usize).saturating_sub(self.states.len())));
    }
    fn is_absent(&self, i: usize) -> bool {
        self.absent.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1)
    }
    fn set_absent(&mut self, i: usize, absent: bool) {
        if self.absent.len() <= i / 64 {
            self.absent.resize(i / 64 + 1, 0);
        }
        let bit = 1u64 << (i % 64);
        if absent {
            self.absent[i / 64] |= bit;
        } else {
            self.absent[i / 64] &= !bit;
        }
    }
    /// The slot of `n`, when present.
    fn at(&self, n: u32) -> Option<usize> {
        match self.slot.get(n as usize) {
            Some(&s) if s != 0 && !self.is_absent((s - 1) as usize) => Some((s - 1) as usize),
            _ => None,
        }
    }
    pub(crate) fn len(&self) -> usize {
        self.len
    }
    pub(crate) fn get(&self, n: u32) -> Option<&NodeState> {
        self.at(n).map(|i| &self.states[i])
    }
    fn get_mut(&mut self, n: u32) -> Option<&mut NodeState> {
        self.at(n).map(|i| &mut self.states[i])
    }
    /// The state of `n`, a default one added when absent.
    fn get_or_default(&mut self, n: u32) -> &mut NodeState {
        let i = n as usize;
        if i >= self.slot.len() {
            self.slot.resize(i + 1, 0);
        }
        let at = match self.slot[i] {
            0 => {
                self.states.push(NodeState::default());
                self.slot[i] = self.states.len() as u32;
                self.len += 1;
                self.states.len() - 1
            }
            s => {
                let at = (s - 1) as usize;
                if self.is_absent(at) {
                    self.set_absent(at, false);
                    self.len += 1;
                }
                at
            }
        };
        &mut self.states[at]
    }
    pub(crate) fn insert(&mut self, n: u32, state: NodeState) {
        *self.get_or_default(n) = state;
    }
    /// Reads the slot number of `n` (0: none), only to bring it into the cache ahead of the
    /// replay's use ([`replay_into`]'s touches ahead).
    fn touch_slot(&self, n: u32) -> u32 {
        self.slot.get(n as usize).copied().unwrap_or(0)
    }
    /// Reads the state of `n` and the head of its labels, when it has a slot, only to bring
    /// them into the cache ahead of the replay's use ([`replay_into`]'s touches ahead).
    fn touch_state(&self, n: u32) -> usize {
        match self.slot.get(n as usize) {
            Some(&s) if s != 0 => self
                .states
                .get((s - 1) as usize)
                .map_or(0, |st| st.x.as_deref().map_or(usize::from(st.flags), |x| x.parts.len())),
            _ => 0,
        }
    }
    /// Reads the state of `n` alone (its first and last fields), when it has a slot, only to
    /// bring it into the cache ahead of the replay's use ([`replay_into`]'s touches ahead).
    fn touch_node(&self, n: u32) -> usize {
        match self.slot.get(n as usize) {
            Some(&s) if s != 0 => self.states.get((s - 1) as usize).map_or(0, |st| {
                // Combined without arithmetic that can overflow: only the loads matter.
                usize::from(st.flags) ^ usize::from(st.x.is_some()) ^ st.bal.as_limbs()[0] as usize
            }),
            _ => 0,
        }
    }
    /// Reads the first haircut part and poison label of the balance of `n`, when it has
    /// labels, only to bring those lists into the cache ahead of the replay's use (its state
    /// and labels touched before, [`Nodes::touch_state`]): a transfer takes from its sender's
    /// parts and adds to its receiver's, each list a load of its own.
    fn touch_parts(&self, n: u32) -> u32 {
        let x = match self.slot.get(n as usize) {
            Some(&s) if s != 0 => self.states.get((s - 1) as usize).and_then(|st| st.x.as_deref()),
            _ => None,
        };
        let Some(x) = x else { return 0 };
        let part = match &x.parts {
            Bal::Narrow(v) => v.first().map_or(0, |p| u32::from(p.hops)),
            Bal::Mid(v) => v.first().map_or(0, |p| u32::from(p.hops)),
            Bal::Wide(p) => p.0.first().map_or(0, |p| p.0 .0),
        };
        part ^ x.present.0.first().map_or(0, |l| u32::from(l.1))
    }
    pub(crate) fn remove(&mut self, n: u32) -> Option<NodeState> {
        let i = self.at(n)?;
        self.set_absent(i, true);
        self.len -= 1;
        Some(std::mem::take(&mut self.states[i]))
    }
    /// Every node present, in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &NodeState)> + '_ {
        self.slot
            .iter()
            .enumerate()
            .filter(|&(_, &s)| s != 0 && !self.is_absent((s - 1) as usize))
            .map(|(n, &s)| (n as u32, &self.states[(s - 1) as usize]))
    }
    pub(crate) fn values(&self) -> impl Iterator<Item = &NodeState> + '_ {
        self.iter().map(|(_, s)| s)
    }
}

/// One asset's pass.
#[derive(Default, Clone, Debug)]
pub(crate) struct AssetPass {
    pub(crate) nodes: Nodes,
    /// The latest time replayed.
    max_time: Option<u32>,
    /// Transfers replayed.
    pub(crate) transfers: u64,
    /// Its node records encoded ahead ([`AssetPass::encode_ahead`]), its states then freed.
    ahead: Option<Box<Ahead>>,
}

/// An asset's node records in the saved pass and in the index, encoded while another asset
/// was still replaying (on the core that would otherwise wait for it), so that only the
/// last asset's are left to encode once every asset is replayed. The bytes are those the
/// saved pass and the index would encode from the nodes. The states are freed once encoded
/// (on that core too, and the build's peak memory is lower): such a pass is written, not
/// continued ([`PassState::update`] declines it).
#[derive(Clone, Debug)]
struct Ahead {
    /// The saved pass's nodes of the asset: each node id then its state, in id order, in
    /// pieces of about [`AHEAD_PIECE`] bytes.
    state: Vec<Vec<u8>>,
    /// The index's records of the asset.
    index: crate::index::Encoded,
    /// Nodes the pass held.
    nodes: usize,
}

/// Bytes of a piece of an asset's saved-pass nodes encoded ahead ([`Ahead::state`]).
const AHEAD_PIECE: usize = 1 << 20;

impl AssetPass {
    /// Encodes its node records for the saved pass and the index ahead of them (`codes`: each
    /// tagged node's category code), then frees its states.
    pub(crate) fn encode_ahead(&mut self, codes: &FxHashMap<u32, u8>) {
        // In pieces, each made once with its room: one list grown by doubling to hundreds of
        // megabytes would be copied at each step into fresh pages the kernel clears.
        let mut state = Vec::new();
        let mut piece = Vec::with_capacity(AHEAD_PIECE + 4096);
        for (n, s) in self.nodes.iter() {
            put_var(&mut piece, u64::from(n));
            put_node(&mut piece, s);
            if piece.len() >= AHEAD_PIECE {
                state.push(std::mem::replace(&mut piece, Vec::with_capacity(AHEAD_PIECE + 4096)));
            }
        }
        piece.shrink_to_fit();
        state.push(piece);
        let index = crate::index::encode_asset(&self.nodes, codes);
        let nodes = self.nodes.len();
        drop(std::mem::take(&mut self.nodes));
        self.ahead = Some(Box::new(Ahead { state, index, nodes }));
    }

    /// Its index records encoded ahead, when they were.
    pub(crate) fn ahead(&self) -> Option<&crate::index::Encoded> {
        self.ahead.as_deref().map(|a| &a.index)
    }
}

/// What an update changed in one asset, to undo it.
#[derive(Default, Clone, Debug)]
struct AssetUndo {
    /// The asset had a pass before the update.
    existed: bool,
    max_time: Option<u32>,
    transfers: u64,
    /// Each node the update touched, as it was before (`None`: absent).
    nodes: Vec<(u32, Option<NodeState>)>,
}

/// The state before one update.
#[derive(Default, Clone, Debug)]
struct Checkpoint {
    segments: u32,
    nodes: u32,
    assets: BTreeMap<String, AssetUndo>,
}

/// The pass over a graph: what the index is written from, and what an update continues.
#[derive(Default, Clone, Debug)]
pub(crate) struct PassState {
    /// Nodes of the graph replayed.
    nodes: u32,
    /// Header checksums of the segments replayed.
    checksums: Vec<[u8; 32]>,
    /// The tags the pass counted, `(node, category code)` sorted by node.
    tags: Vec<(u32, u8)>,
    pub(crate) assets: BTreeMap<String, AssetPass>,
    checkpoints: Vec<Checkpoint>,
}

/// How an update went: the segments the pass covered after unwinding to what it shares
/// with the graph (`from`), and before (`was`); the transfers replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) from: usize,
    pub(crate) was: usize,
    pub(crate) replayed: u64,
}

/// One transfer of the pass, in 32 bytes.
#[derive(Clone, Copy)]
struct T {
    seq: u64,
    /// The amount when below 2⁶³; else [`WIDE_AMOUNT`] and its place in [`Order::wide`].
    amount: u64,
    src: u32,
    dst: u32,
    time: u32,
    /// While the order is built, the leg's place among its sender's legs (so that each
    /// sender's transfers keep their storage order); then [`LAST_SEND`] or 0.
    aux: u32,
}

/// [`T::amount`]: the amount is in [`Order::wide`].
const WIDE_AMOUNT: u64 = 1 << 63;
/// [`T::aux`]: no later transfer of the order has the same sender.
const LAST_SEND: u32 = 1;

/// Transfers of one asset in replay order, with the amounts of 63 bits or more apart.
#[derive(Default)]
struct Order {
    list: Vec<T>,
    wide: Vec<U256>,
}

impl Order {
    /// Adds leg `l`, the `i`-th of those node `n` sent.
    fn push(&mut self, n: u32, i: u32, l: &Leg) {
        let amount = match u64::try_from(l.amount) {
            Ok(a) if a & WIDE_AMOUNT == 0 => a,
            _ => {
                self.wide.push(l.amount);
                WIDE_AMOUNT | (self.wide.len() - 1) as u64
            }
        };
        self.list.push(T { seq: l.seq, amount, src: n, dst: l.nb.0, time: l.time, aux: i });
    }
    /// The amount of `t`, a transfer of the order whose wide amounts are `wide`.
    fn amount_in(wide: &[U256], t: &T) -> U256 {
        if t.amount & WIDE_AMOUNT == 0 {
            U256::from(t.amount)
        } else {
            // Pushed with the transfer: in range.
            wide.get((t.amount & !WIDE_AMOUNT) as usize).copied().unwrap_or_default()
        }
    }
}

fn sorted_tags(tags: &HashMap<NodeId, RiskCategory>) -> Vec<(u32, u8)> {
    let mut t: Vec<(u32, u8)> = tags.iter().map(|(n, c)| (n.0, c.code())).collect();
    t.sort_unstable();
    t
}

impl PassState {
    /// The pass over the whole of `graph`.
    pub(crate) fn full(graph: &Graph, tags: &HashMap<NodeId, RiskCategory>) -> PassState {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(2);
        PassState::full_on(graph, tags, threads)
    }

    /// The pass over the whole of `graph` on `threads` threads (one or two). Assets are
    /// independent: each is replayed whole by one thread. With two, each asset's transfers
    /// are listed in two halves (the senders below and above where the two listers met,
    /// one taking ids from the bottom and one from the top), taken in asset order by
    /// whichever thread is free; the thread that lists an asset's second half merges the two
    /// and replays the asset. So the largest asset's listing, which its replay waits for, takes both cores
    /// (on the generated world Bitcoin's replay is the build's longest step, and the other
    /// assets' replays fit beside it).
    pub(crate) fn full_on(
        graph: &Graph,
        tags: &HashMap<NodeId, RiskCategory>,
        threads: usize,
    ) -> PassState {
        PassState::full_with(graph, tags, threads, LIST_CHUNK)
    }

    /// [`PassState::full_on`], the halves listed `list_chunk` node ids at a time.
    fn full_with(
        graph: &Graph,
        tags: &HashMap<NodeId, RiskCategory>,
        threads: usize,
        list_chunk: u32,
    ) -> PassState {
        use std::sync::Mutex;
        let mut st = PassState { tags: sorted_tags(tags), ..PassState::default() };
        let assets = graph.assets();
        let replayed = |i: usize, order: Order| {
            let t = std::time::Instant::now();
            let mut pass = AssetPass::default();
            // An asset of a third of the transfers or more: its replay is the build's
            // longest step, with the other core free once the other assets are replayed.
            let pipelined = threads >= 2 && order.list.len() as u64 * 3 >= graph.edge_count();
            let pipeline = pipelined.then_some(BATCH_RECEIPTS);
            replay_with(graph, tags, &assets[i], &mut pass, order, None, pipeline);
            tracing::debug!(
                target: "floodgate::trace::index",
                asset = %assets[i],
                transfers = pass.transfers,
                ms = t.elapsed().as_millis() as u64,
                "asset replayed"
            );
            pass
        };
        if threads < 2 {
            for (i, asset) in assets.iter().enumerate() {
                let pass = replayed(i, replay_order(graph, None, asset));
                st.assets.insert(asset.clone(), pass);
            }
        } else {
            let nodes = graph.node_count();
            let places = graph.asset_places();
            // The node ids not yet listed: the first half's lister takes chunks from the
            // bottom, the second's from the top, until they meet. So the halves split the
            // legs, not the ids, evenly (on the generated world the lower ids send about twice
            // as many of Bitcoin's transfers), and a half whose lister comes late is taken by
            // the one that is there. Each lister lists every asset in one walk of the lists
            // (a walk per asset decoded every record once per asset).
            let left = Mutex::new((0, nodes));
            // The two halves, each a listing per asset, until replayed.
            let halves: Mutex<[Vec<Order>; 2]> = Mutex::new([Vec::new(), Vec::new()]);
            // Halves stored (or whose lister panicked: the other then does not wait forever).
            let stored = AtomicUsize::new(0);
            // Once both halves are listed: the assets to replay, most transfers first (the
            // longest replay starts at once, the others beside it), and the next one to take.
            let queue: std::sync::OnceLock<Vec<usize>> = std::sync::OnceLock::new();
            let next = AtomicUsize::new(0);
            let done: Mutex<Vec<(usize, AssetPass)>> = Mutex::new(Vec::new());
            // Assets replayed, and the index's category codes for their records encoded ahead.
            let replayed_count = AtomicUsize::new(0);
            let codes = crate::index::tag_codes(tags);
            // While an asset is still replaying, the thread with nothing left to list or
            // replay encodes the records of those replayed, one at a time (taken out of
            // `done`, so the other thread never waits for it).
            let ahead = || {
                while replayed_count.load(Ordering::Acquire) < assets.len() {
                    let taken = {
                        let mut d = lock(&done);
                        let i = d.iter().position(|(_, p)| p.ahead.is_none());
                        i.map(|i| d.swap_remove(i))
                    };
                    let Some((i, mut pass)) = taken else { break };
                    let t = std::time::Instant::now();
                    pass.encode_ahead(&codes);
                    tracing::debug!(
                        target: "floodgate::trace::index",
                        asset = %assets[i],
                        ms = t.elapsed().as_millis() as u64,
                        "asset's records encoded ahead"
                    );
                    lock(&done).push((i, pass));
                }
            };
            // Room for every transfer of the graph in each asset's listing, made once: a list
            // grown by doubling is copied at each step into fresh pages the kernel clears, and
            // the first half gets the second merged into it ([`merged`]). Room not written to
            // is address space only: no page of it is touched. With many assets (tokens), the
            // lists grow as they fill instead.
            let room = if assets.len() <= ROOMY_ASSETS {
                usize::try_from(graph.edge_count()).unwrap_or(0)
            } else {
                0
            };
            let work = |second: bool| {
                let arrived = Arrived(&stored);
                let t = std::time::Instant::now();
                let mut half: Vec<Order> = (0..assets.len())
                    .map(|_| Order { list: Vec::with_capacity(room), wide: Vec::new() })
                    .collect();
                // Transaction nodes' times, each run of keys decoded once for this half.
                let mut times = TxTimes::new(graph);
                loop {
                    let range = {
                        let mut l = lock(&left);
                        let (lo, hi) = *l;
                        if lo >= hi {
                            break;
                        }
                        if second {
                            l.1 = hi - (hi - lo).min(list_chunk);
                            l.1..hi
                        } else {
                            l.0 = lo + (hi - lo).min(list_chunk);
                            lo..l.0
                        }
                    };
                    list_all_into(graph, &places, range, &mut half, &mut times);
                }
                drop(times);
                // The ids each half took are one range: sorted, the listing of that range.
                for o in &mut half {
                    sort_listed(&mut o.list);
                }
                tracing::debug!(
                    target: "floodgate::trace::index",
                    second,
                    transfers = half.iter().map(|o| o.list.len()).sum::<usize>(),
                    ms = t.elapsed().as_millis() as u64,
                    "half listed"
                );
                lock(&halves)[usize::from(second)] = half;
                drop(arrived);
                // The other lister is at most a chunk behind (they share the chunks).
                while stored.load(Ordering::Acquire) < 2 {
                    std::thread::yield_now();
                }
                let queue = queue.get_or_init(|| {
                    let h = lock(&halves);
                    let len = |i: usize| h.iter().map(|o| o[i].list.len()).sum::<usize>();
                    let mut q: Vec<usize> = (0..assets.len()).collect();
                    q.sort_by_key(|&i| std::cmp::Reverse(len(i)));
                    q
                });
                loop {
                    let Some(&i) = queue.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        ahead();
                        break;
                    };
                    let (first, other) = {
                        let mut h = lock(&halves);
                        let [a, b] = &mut *h;
                        (std::mem::take(&mut a[i]), std::mem::take(&mut b[i]))
                    };
                    let mut order = merged(first, other);
                    arrange(graph, &mut order.list);
                    let pass = replayed(i, order);
                    lock(&done).push((i, pass));
                    replayed_count.fetch_add(1, Ordering::Release);
                }
            };
            std::thread::scope(|s| {
                s.spawn(|| work(true));
                work(false);
            });
            for (i, pass) in done.into_inner().unwrap_or_else(|e| e.into_inner()) {
                st.assets.insert(assets[i].clone(), pass);
            }
        }
        st.nodes = graph.node_count();
        st.checksums = graph.segment_checksums();
        st
    }

    /// Brings a saved pass up to date with `graph` and `tags`: unwinds it to the segments it
    /// shares with the graph, then continues it over the rest. `Err(reason)` when it cannot
    /// (the caller builds whole).
    pub(crate) fn update(
        &mut self,
        graph: &Graph,
        tags: &HashMap<NodeId, RiskCategory>,
    ) -> Result<Outcome, String> {
        if self.assets.values().any(|p| p.ahead.is_some()) {
            return Err("the pass's states were freed once written".into());
        }
        let was = self.checksums.len();
        let shared = graph.shared_prefix(&self.checksums);
        if shared < was {
            // The graph was unwound below what the pass covers: undo whole updates.
            while self.checksums.len() > shared {
                let Some(cp) = self.checkpoints.pop() else {
                    return Err(format!(
                        "the graph was unwound to {shared} segments, below the {} the index can undo to",
                        self.checksums.len()
                    ));
                };
                self.undo(cp);
            }
        }
        let from = self.checksums.len();
        let now = sorted_tags(tags);
        let old_nodes = self.nodes;
        if now.iter().filter(|(n, _)| *n < old_nodes).ne(self.tags.iter()) {
            return Err("the tags changed".into());
        }
        if from == graph.segment_count() {
            self.tags = now;
            return Ok(Outcome { from, was, replayed: 0 });
        }
        let prefix = graph.prefix(from).map_err(|e| format!("the graph could not be read: {e}"))?;
        let orders: Vec<(String, Order)> = graph
            .assets()
            .into_iter()
            .map(|a| {
                let o = replay_order(graph, Some(&prefix), &a);
                (a, o)
            })
            .collect();
        // 1. Replay order: the new transfers come after those replayed.
        for (asset, order) in &orders {
            let last = self.assets.get(asset).and_then(|p| p.max_time);
            if let (Some(first), Some(last)) = (order.list.first(), last) {
                if first.time < last {
                    return Err(format!(
                        "a new {asset} transfer (time {}) is older than the latest one indexed ({last})",
                        first.time
                    ));
                }
            }
        }
        // 2. No hop already charged changes.
        let touched: FxHashSet<u32> =
            orders.iter().flat_map(|(_, o)| o.list.iter().flat_map(|t| [t.src, t.dst])).collect();
        // The state of a transaction is dropped once it made its last transfer (a UTXO
        // transaction receives and sends within one block): one that already did may not
        // get more.
        if let Some(n) = touched
            .iter()
            .find(|&&n| n < prefix.node_count() && prefix.kind(NodeId(n)) == NodeKind::Transaction)
        {
            return Err(format!("a new transfer of transaction node {n}, already indexed"));
        }
        for (asset, order) in &orders {
            if !order.list.is_empty() && !peel_costs_unchanged(&prefix, graph, asset, &touched) {
                return Err(format!(
                    "a new {asset} transfer changes whether an address already indexed is a peel-chain link"
                ));
            }
        }
        // 3 was checked above. Continue, recording what to undo.
        let mut cp =
            Checkpoint { segments: from as u32, nodes: old_nodes, ..Checkpoint::default() };
        let replayed = orders.iter().map(|(_, o)| o.list.len() as u64).sum();
        for (asset, order) in orders {
            if order.list.is_empty() {
                continue;
            }
            let existed = self.assets.contains_key(&asset);
            let pass = self.assets.entry(asset.clone()).or_default();
            let mut undo = AssetUndo {
                existed,
                max_time: pass.max_time,
                transfers: pass.transfers,
                nodes: Vec::new(),
            };
            replay(graph, tags, &asset, pass, order, Some(&mut undo));
            cp.assets.insert(asset, undo);
        }
        self.checkpoints.push(cp);
        if self.checkpoints.len() > MAX_CHECKPOINTS {
            self.checkpoints.remove(0);
        }
        self.nodes = graph.node_count();
        self.checksums = graph.segment_checksums();
        self.tags = now;
        Ok(Outcome { from, was, replayed })
    }

    fn undo(&mut self, cp: Checkpoint) {
        for (asset, u) in cp.assets {
            if !u.existed {
                self.assets.remove(&asset);
                continue;
            }
            let pass = self.assets.entry(asset).or_default();
            pass.max_time = u.max_time;
            pass.transfers = u.transfers;
            for (n, s) in u.nodes {
                match s {
                    Some(s) => pass.nodes.insert(n, s),
                    None => drop(pass.nodes.remove(n)),
                }
            }
        }
        self.checksums.truncate(cp.segments as usize);
        self.nodes = cp.nodes;
        self.tags.retain(|(n, _)| *n < cp.nodes);
    }
}

/// A mutex's contents (a poisoned one too: a panic in the other thread is passed on when
/// the scope ends).
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Transfers of `asset` (self-transfers left out), in replay order: by (time, storage
/// order), and inside one (time, storage order) a node's receipts before its sends, as a
/// node's own timeline orders them (`causal.rs`), each node's sends in storage order. With
/// `after`, only those beyond that prefix of the graph (a node's legs list the prefix's
/// first, [`Graph::legs`]).
fn replay_order(graph: &Graph, after: Option<&Graph>, asset: &str) -> Order {
    let mut order = listed(graph, after, asset, 0..graph.node_count());
    arrange(graph, &mut order.list);
    order
}

/// The transfers of `asset` sent by the nodes `nodes` (beyond `after`, as [`replay_order`]),
/// sorted by (time, storage order, sender, place among its legs): the first step of
/// [`replay_order`], which a listing of other nodes can be merged with ([`merged`]) before
/// the rest ([`arrange`]).
fn listed(graph: &Graph, after: Option<&Graph>, asset: &str, nodes: std::ops::Range<u32>) -> Order {
    let mut order = Order::default();
    list_into(graph, after, asset, nodes, &mut order, &mut TxTimes::new(graph));
    sort_listed(&mut order.list);
    order
}

/// Counts a lister's half as stored when dropped: when stored, or when the lister panicked.
struct Arrived<'a>(&'a AtomicUsize);

impl Drop for Arrived<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

/// Node ids a lister of half the transfers takes at a time ([`PassState::full_on`]).
const LIST_CHUNK: u32 = 1 << 14;

/// At most this many assets, a full build's listing makes room for every transfer of the
/// graph in each asset's list at once (address space only, [`PassState::full_with`]).
const ROOMY_ASSETS: usize = 8;

/// Appends the transfers of `asset` sent by the nodes `nodes` (beyond `after`) to `order`,
/// unsorted ([`listed`]'s first step); `times`: transaction nodes' times read so far.
fn list_into(
    graph: &Graph,
    after: Option<&Graph>,
    asset: &str,
    nodes: std::ops::Range<u32>,
    order: &mut Order,
    times: &mut TxTimes,
) {
    let mut legs: Vec<Leg> = Vec::new();
    let mut old: Vec<Leg> = Vec::new();
    for n in nodes {
        legs.clear();
        graph.legs_timed(NodeId(n), false, asset, &mut legs, times);
        let skip = match after {
            Some(p) if n < p.node_count() => {
                old.clear();
                p.legs(NodeId(n), false, asset, &mut old);
                old.len()
            }
            _ => 0,
        };
        for (i, l) in legs.iter().enumerate().skip(skip).filter(|(_, l)| l.nb.0 != n) {
            order.push(n, i as u32, l);
        }
    }
}

/// [`list_into`] for every asset at once, in one walk of the lists of `nodes` (each walk
/// decodes every record, whatever its asset): `orders` by place in [`Graph::assets`]
/// (`places`, the graph's [`Graph::asset_places`]). A full build's listing.
fn list_all_into(
    graph: &Graph,
    places: &AssetPlaces,
    nodes: std::ops::Range<u32>,
    orders: &mut [Order],
    times: &mut TxTimes,
) {
    let mut legs: Vec<(u32, Leg)> = Vec::new();
    // Per asset, the legs of the node met so far (each leg's place in its asset's list).
    let mut count: Vec<u32> = vec![0; orders.len()];
    for n in nodes {
        legs.clear();
        graph.legs_timed_all(NodeId(n), false, places, &mut legs, times);
        for (a, l) in &legs {
            let Some(c) = count.get_mut(*a as usize) else { continue };
            *c += 1;
            if l.nb.0 != n {
                orders[*a as usize].push(n, *c - 1, l);
            }
        }
        for (a, _) in &legs {
            if let Some(c) = count.get_mut(*a as usize) {
                *c = 0;
            }
        }
    }
}

/// By (time, seq), and among equal ones as listed (by sender, each sender's in storage
/// order): what a stable sort by (time, seq) of a listing in id order gives, without its
/// buffer (and whatever order the senders were listed in: the key is unique).
fn sort_listed(all: &mut [T]) {
    all.sort_unstable_by_key(listing_key);
}

/// The order of a listing ([`sort_listed`], [`merged`]): unique, since a sender's legs each
/// have their own place.
fn listing_key(t: &T) -> (u32, u64, u32, u32) {
    (t.time, t.seq, t.src, t.aux)
}

/// Two listings of disjoint senders ([`listed`]) as one: the sort key is unique (a sender's
/// place among its legs), so this is the listing of both at once. Merged from the back into
/// `a`'s list, so that a list made with room for both ([`PassState::full_with`]'s listers) is
/// neither copied nor moved: a new list of both would be fresh pages for the kernel to clear
/// while both halves are still held.
fn merged(a: Order, b: Order) -> Order {
    // `b`'s wide amounts go after `a`'s.
    let shift = a.wide.len() as u64;
    let Order { mut list, mut wide } = a;
    let (mut i, mut j) = (list.len(), b.list.len());
    let blank = T { seq: 0, amount: 0, src: 0, dst: 0, time: 0, aux: 0 };
    list.resize(i + j, blank);
    // Filled from the back: place `k` is at or after every item of `a` not yet moved, so no
    // item is overwritten before it is moved. Once `b` is used up, `a`'s rest is in place.
    while j > 0 {
        let mut t = b.list[j - 1];
        if i > 0 && listing_key(&list[i - 1]) > listing_key(&t) {
            list[i + j - 1] = list[i - 1];
            i -= 1;
        } else {
            if t.amount & WIDE_AMOUNT != 0 {
                t.amount += shift;
            }
            list[i + j - 1] = t;
            j -= 1;
        }
    }
    drop(b.list);
    wide.extend(b.wide);
    Order { list, wide }
}

/// The rest of [`replay_order`] over a sorted listing of every sender: each group of one
/// (time, storage order) arranged so a sender's receipts come first, and each sender's last
/// transfer marked.
fn arrange(graph: &Graph, all: &mut [T]) {
    // Inside a group of one (time, seq), a transfer whose sender also receives in the group
    // goes after those receipts (an account transaction with several transfers: A pays B,
    // B pays C). UTXO groups (a transaction's inputs; its outputs) never chain.
    let mut i = 0;
    while i < all.len() {
        let key = (all[i].time, all[i].seq);
        let mut j = i + 1;
        while j < all.len() && (all[j].time, all[j].seq) == key {
            j += 1;
        }
        if j - i > 1 {
            order_group(&mut all[i..j]);
        }
        i = j;
    }
    // Each sender's last transfer.
    let mut seen = vec![0u64; (graph.node_count() as usize).div_ceil(64)];
    for t in all.iter_mut().rev() {
        let (w, bit) = ((t.src / 64) as usize, 1u64 << (t.src % 64));
        t.aux = if seen[w] & bit == 0 { LAST_SEND } else { 0 };
        seen[w] |= bit;
    }
}

/// Orders one group so that each sender's receipts in it come first (a cycle is broken in
/// storage order).
fn order_group(g: &mut [T]) {
    let dsts: FxHashSet<u32> = g.iter().map(|t| t.dst).collect();
    if !g.iter().any(|t| dsts.contains(&t.src)) {
        return;
    }
    let mut left: Vec<T> = g.to_vec();
    let mut out: Vec<T> = Vec::with_capacity(g.len());
    while !left.is_empty() {
        let pending: FxHashMap<u32, usize> = left.iter().fold(FxHashMap::default(), |mut m, t| {
            *m.entry(t.dst).or_default() += 1;
            m
        });
        let before = out.len();
        let mut rest = Vec::new();
        // Keep each sender's storage order: once one of its sends waits, all later ones wait.
        let mut waiting: FxHashSet<u32> = FxHashSet::default();
        for t in left {
            if pending.contains_key(&t.src) || waiting.contains(&t.src) {
                waiting.insert(t.src);
                rest.push(t);
            } else {
                out.push(t);
            }
        }
        if out.len() == before {
            // A cycle inside one transaction: take the first in storage order.
            out.push(rest.remove(0));
        }
        left = rest;
    }
    g.copy_from_slice(&out);
}

/// The context a pass charges hops with: `in`, peel chains followed, no target.
pub(crate) fn with_ctx<R>(
    graph: &Graph,
    tags: &HashMap<NodeId, RiskCategory>,
    asset: &str,
    f: impl FnOnce(&Ctx<'_>) -> R,
) -> R {
    let opts = ExposureOptions { direction: Direction::In, ..ExposureOptions::default() };
    let members = FxHashSet::default();
    let ctx = Ctx {
        g: graph,
        tags,
        opts: &opts,
        asset,
        members: &members,
        peel: std::cell::RefCell::new(FxHashSet::default()),
    };
    f(&ctx)
}

/// Whether every hop already charged to a transfer of `asset` in `prefix` is charged the
/// same in `graph`, which appends segments touching the nodes `touched`. A hop from an
/// address into a transaction is free when it is a peel-chain link, which depends on the
/// transaction's own transfers and on the address's receipts (and the transactions they
/// came from): only those of touched nodes can change.
fn peel_costs_unchanged(
    prefix: &Graph,
    graph: &Graph,
    asset: &str,
    touched: &FxHashSet<u32>,
) -> bool {
    let none = HashMap::new();
    with_ctx(prefix, &none, asset, |old| {
        with_ctx(graph, &none, asset, |new| {
            let mut addrs: FxHashSet<u32> = FxHashSet::default();
            let mut v = Vec::new();
            for &n in touched {
                // A new node has no transfer already replayed; its neighbours are touched.
                if n >= prefix.node_count() {
                    continue;
                }
                let id = NodeId(n);
                match prefix.kind(id) {
                    NodeKind::Address => {
                        addrs.insert(n);
                    }
                    NodeKind::Transaction => {
                        v.clear();
                        prefix.neighbours(id, true, asset, &mut v);
                        if !v.is_empty() && old.peel_tx(id) != new.peel_tx(id) {
                            return false;
                        }
                        // The addresses it paid may now see another peel transaction.
                        v.clear();
                        prefix.neighbours(id, false, asset, &mut v);
                        addrs.extend(v.iter().map(|(a, _, _)| a.0));
                    }
                }
            }
            for a in addrs {
                let id = NodeId(a);
                if prefix.kind(id) != NodeKind::Address {
                    continue;
                }
                // Only a hop it already took into a transaction could change (checked first:
                // it is cheap, and on account chains there is none).
                v.clear();
                prefix.neighbours(id, false, asset, &mut v);
                if v.iter().any(|(t, _, _)| prefix.kind(*t) == NodeKind::Transaction)
                    && old.peel_change_sources(id) != new.peel_change_sources(id)
                {
                    return false;
                }
            }
            true
        })
    })
}

/// Tagged nodes as bits over the node ids (asked twice a transfer).
struct Tagged(Vec<u64>);

impl Tagged {
    fn of(graph: &Graph, tags: &HashMap<NodeId, RiskCategory>) -> Tagged {
        let mut bits = vec![0u64; (graph.node_count() as usize).div_ceil(64)];
        for n in tags.keys().filter(|n| n.0 < graph.node_count()) {
            bits[(n.0 / 64) as usize] |= 1 << (n.0 % 64);
        }
        Tagged(bits)
    }
    fn has(&self, n: u32) -> bool {
        self.0.get((n / 64) as usize).is_some_and(|w| w & (1 << (n % 64)) != 0)
    }
}

/// A transaction's peel shape ([`Ctx::peel_tx`]): its input and its large output, when it is
/// a peel transaction.
type PeelShape = Option<(NodeId, NodeId)>;

/// The hops a label gains moving from `src` to `dst`, as a query tracing `in` charges them
/// (a peel-chain link is free).
pub(crate) struct Hops<'c, 'a> {
    graph: &'c Graph,
    ctx: &'c Ctx<'a>,
    /// The peel shape of the last transaction asked: a transaction's inputs come one after
    /// another in replay order (a map of every transaction's held them all to the end).
    last: std::cell::Cell<Option<(NodeId, PeelShape)>>,
}

impl<'c, 'a> Hops<'c, 'a> {
    pub(crate) fn new(graph: &'c Graph, ctx: &'c Ctx<'a>) -> Hops<'c, 'a> {
        Hops { graph, ctx, last: std::cell::Cell::new(None) }
    }
    fn peel_tx(&self, t: NodeId) -> PeelShape {
        match self.last.get() {
            Some((n, p)) if n == t => p,
            _ => {
                let p = self.ctx.peel_tx(t);
                self.last.set(Some((t, p)));
                p
            }
        }
    }
    pub(crate) fn cost(&self, src: NodeId, dst: NodeId) -> u32 {
        match self.graph.kind(src) {
            NodeKind::Transaction => 0,
            NodeKind::Address => {
                let link = self.graph.kind(dst) == NodeKind::Transaction
                    && self.ctx.peel_link_in(dst, src, |t| {
                        if t == dst {
                            self.peel_tx(t)
                        } else {
                            self.ctx.peel_tx(t)
                        }
                    });
                u32::from(!link)
            }
        }
    }
}

/// Transfers a thread finding costs ahead of a pipelined replay skips past the replay's
/// place when it falls behind.
const COSTS_LEAD: usize = 1 << 12;

/// Finds the hop cost of each transfer `pairs` lists (sender, receiver) from an address,
/// ahead of the replay (stored plus one; 0: not found), until `stop`: a pure function of the
/// graph, so the replay takes it when found and finds it itself when not. Skips ahead when
/// the replay (its place `at`) passed it.
fn costs_ahead(
    graph: &Graph,
    tags: &HashMap<NodeId, RiskCategory>,
    asset: &str,
    pairs: &[(u32, u32)],
    costs: &[AtomicU8],
    at: &AtomicUsize,
    stop: &AtomicBool,
) {
    with_ctx(graph, tags, asset, |ctx| {
        let hops = Hops::new(graph, ctx);
        let mut i = 0;
        while i < pairs.len() {
            if i % 256 == 0 {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let r = at.load(Ordering::Relaxed);
                if i < r {
                    i = r + COSTS_LEAD;
                    continue;
                }
            }
            let (s, d) = pairs[i];
            if graph.kind(NodeId(s)) == NodeKind::Address {
                let c = hops.cost(NodeId(s), NodeId(d));
                costs[i].store(c as u8 + 1, Ordering::Relaxed);
            }
            i += 1;
        }
    });
}

/// How far ahead in replay order [`replay_into`] touches the slots of a transfer's nodes.
const TOUCH_SLOTS: usize = 4;
/// How far ahead [`replay_into`] touches their states alone (their slots touched before):
/// each step a load of its own, so that a step's loads of the transfers ahead do not wait for
/// one another.
const TOUCH_NODES: usize = 3;
/// How far ahead [`replay_into`] touches their labels (their states touched before).
const TOUCH_LABELS: usize = 2;
/// How far ahead it touches their balances' parts and poison labels (their labels touched
/// before).
const TOUCH_PARTS: usize = 1;

/// Replays `order` (transfers of `asset` after those `pass` holds) into `pass`; with `undo`,
/// records each node's state before it first changes.
fn replay(
    graph: &Graph,
    tags: &HashMap<NodeId, RiskCategory>,
    asset: &str,
    pass: &mut AssetPass,
    order: Order,
    undo: Option<&mut AssetUndo>,
) {
    replay_with(graph, tags, asset, pass, order, undo, None);
}

/// [`replay`]; `pipeline: Some(n)`, what addresses received is summed by a thread of its own
/// ([`Receipts`], handed `n` receipts at a time) while this one replays, and put into their
/// states at the end: a pass
/// started from nothing (`pass` empty, no `undo`) only, since the replay reads none of it
/// but undo records hold it. The states are those of [`replay`] (tested).
fn replay_with(
    graph: &Graph,
    tags: &HashMap<NodeId, RiskCategory>,
    asset: &str,
    pass: &mut AssetPass,
    order: Order,
    undo: Option<&mut AssetUndo>,
    pipeline: Option<usize>,
) {
    let Some(cap) = pipeline.filter(|_| undo.is_none() && pass.nodes.len() == 0) else {
        replay_into(graph, tags, asset, pass, order, undo, None);
        return;
    };
    // Found ahead by a third thread: the hop costs of transfers from addresses.
    let pairs: Vec<(u32, u32)> = order.list.iter().map(|t| (t.src, t.dst)).collect();
    let costs: Vec<AtomicU8> = (0..pairs.len()).map(|_| AtomicU8::new(0)).collect();
    let (at, stop) = (AtomicUsize::new(0), AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(16);
    let (back_tx, back) = std::sync::mpsc::channel::<Batch>();
    let nodes = graph.node_count();
    // Each transfer has one receiver.
    let receivers = order.list.len();
    let summed = std::thread::scope(|s| {
        let summing = s.spawn(move || Receipts::sum(nodes, receivers, rx, back_tx));
        s.spawn(|| costs_ahead(graph, tags, asset, &pairs, &costs, &at, &stop));
        let mut sink = Sink { batch: Batch::default(), cap: cap.max(1), tx, back };
        let pipe = Pipe { sink: &mut sink, costs: &costs, at: &at };
        replay_into(graph, tags, asset, pass, order, None, Some(pipe));
        stop.store(true, Ordering::Relaxed);
        sink.flush();
        drop(sink);
        // A panic while summing is a bug: pass it on.
        summing.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
    });
    summed.merge_into(&mut pass.nodes);
}

/// A pipelined replay's other threads ([`replay_with`]).
struct Pipe<'p> {
    /// What addresses received goes here instead of into their states.
    sink: &'p mut Sink,
    /// Hop costs found ahead, by place in the order ([`costs_ahead`]).
    costs: &'p [AtomicU8],
    /// The replay's place, for the thread finding them.
    at: &'p AtomicUsize,
}

/// [`replay_with`]: with `pipe`, what addresses received goes to its sink instead of their
/// states, and hop costs found ahead are taken.
fn replay_into(
    graph: &Graph,
    tags: &HashMap<NodeId, RiskCategory>,
    asset: &str,
    pass: &mut AssetPass,
    order: Order,
    mut undo: Option<&mut AssetUndo>,
    pipe: Option<Pipe<'_>>,
) {
    let (mut sink, ahead) = match pipe {
        Some(p) => (Some(p.sink), Some((p.costs, p.at))),
        None => (None, None),
    };
    let Order { list: mut order, wide } = order;
    // Records encoded ahead no longer hold.
    pass.ahead = None;
    let tagged = Tagged::of(graph, tags);
    with_ctx(graph, tags, asset, |ctx| {
        let hops = Hops::new(graph, ctx);
        // Costs found ahead by another thread, by place in the order (pipelined).
        let (ahead_costs, at) = match ahead {
            Some((c, at)) => (c, Some(at)),
            None => (&[][..], None),
        };
        let mut place = 0usize;
        let cost = |place: usize, src: NodeId, dst: NodeId| -> u32 {
            match ahead_costs.get(place).map(|c| c.load(std::sync::atomic::Ordering::Relaxed)) {
                Some(c) if c != 0 => u32::from(c - 1),
                _ => hops.cost(src, dst),
            }
        };
        let mut saved: FxHashSet<u32> = FxHashSet::default();
        let nodes = &mut pass.nodes;
        let mut save = |n: u32, nodes: &Nodes| {
            if let Some(u) = undo.as_deref_mut() {
                if saved.insert(n) {
                    u.nodes.push((n, nodes.get(n).cloned()));
                }
            }
        };
        // At most two new nodes a transfer.
        nodes.reserve(graph.node_count(), 2 * order.len());
        pass.transfers += order.len() as u64;
        if let Some(last) = order.last() {
            pass.max_time = Some(pass.max_time.map_or(last.time, |m| m.max(last.time)));
        }
        // Taken from the back, the list returning its room as it empties while the balances
        // grow (it is 32 bytes a transfer): each time an eighth of what it held is left, that
        // eighth is copied into a list of its own room. Not each time half is left: every
        // copy goes to fresh pages the kernel clears, and halving copied as much as the list
        // (an eighth of the kernel's page clearing in the build at 50M), while the pass is
        // largest at its end, when little of the list is left either way. Counted from the
        // transfers listed, not from the room: a listing made with room for every transfer
        // of the graph ([`PassState::full_with`]) holds pages only for those.
        order.reverse();
        let mut held = order.len();
        while let Some(t) = order.pop() {
            if held > 1 << 16 && order.len() < held / 8 {
                order.shrink_to_fit();
                held = order.len();
            }
            // Touched ahead, so that the cache misses of later transfers overlap instead of
            // each waiting for the one before: the replay is bound by them (a transfer's node
            // slot, then its state, then its labels, then their lists). The slots of the
            // transfer `TOUCH_SLOTS` ahead (and its receiver's kind), the states of the one
            // `TOUCH_NODES` ahead, whose slots were touched before, the labels of the one
            // `TOUCH_LABELS` ahead, whose states were, the parts and poison labels of the one
            // `TOUCH_PARTS` ahead, whose labels were: none of these loads waits for another.
            // Reads only.
            let left = order.len();
            if let Some(u) = left.checked_sub(TOUCH_SLOTS).map(|i| &order[i]) {
                let k = graph.kind(NodeId(u.dst)) == NodeKind::Address;
                std::hint::black_box((nodes.touch_slot(u.src), nodes.touch_slot(u.dst), k));
            }
            if let Some(u) = left.checked_sub(TOUCH_NODES).map(|i| &order[i]) {
                std::hint::black_box((nodes.touch_node(u.src), nodes.touch_node(u.dst)));
            }
            if let Some(u) = left.checked_sub(TOUCH_LABELS).map(|i| &order[i]) {
                std::hint::black_box((nodes.touch_state(u.src), nodes.touch_state(u.dst)));
            }
            if let Some(u) = left.checked_sub(TOUCH_PARTS).map(|i| &order[i]) {
                std::hint::black_box((nodes.touch_parts(u.src), nodes.touch_parts(u.dst)));
            }
            place += 1;
            if let Some(at) = at.filter(|_| place % 1024 == 0) {
                at.store(place, std::sync::atomic::Ordering::Relaxed);
            }
            let (src, dst) = (NodeId(t.src), NodeId(t.dst));
            let a = Order::amount_in(&wide, &t);
            save(t.src, &*nodes);
            save(t.dst, &*nodes);
            // What the transfer carries, hops counted at `dst`.
            let tag = if tagged.has(t.src) { tags.get(&src) } else { None };
            let (carried, carried_p) = if let Some(c) = tag {
                let h = cost(place - 1, src, dst);
                (Bal::origin(h, t.src, a), Pres::origin(c.code(), h, a))
            } else {
                let mut took = Bal::default();
                let mut took_p = Pres::default();
                if let Some(s) = nodes.get_mut(t.src).filter(|s| !s.bal.is_zero()) {
                    let b = s.bal;
                    if let Some(x) = s.x.as_deref_mut() {
                        if !x.parts.is_empty() {
                            took = x.parts.take(a, b);
                        }
                        if !x.present.is_empty() {
                            took_p = x.present.take(a, b);
                        }
                        if x.is_empty() {
                            s.x = None;
                        }
                    }
                    s.bal = b - a.min(b);
                }
                if !took.is_empty() || !took_p.is_empty() {
                    // Shifted by the step's hop and cut at the deepest bucket, in place.
                    let h = cost(place - 1, src, dst);
                    took.shift(h);
                    took_p.shift(h);
                }
                (took, took_p)
            };
            let labelled = !carried.is_empty() || !carried_p.is_empty();
            if t.aux & LAST_SEND != 0 && graph.kind(src) == NodeKind::Transaction {
                // A transaction that made its last transfer is read no more (what it keeps
                // is its fee); only an address's flags are read.
                nodes.remove(t.src);
            } else if labelled {
                nodes.get_or_default(t.src).flags |= SENT_LABELLED;
            }
            let d = nodes.get_or_default(t.dst);
            // Received at `dst` (only addresses are indexed: a query asks about an address).
            if graph.kind(dst) == NodeKind::Address {
                d.flags |= RECEIVED;
                match u128::try_from(a).ok().and_then(|a| d.total.checked_add(a)) {
                    Some(x) => d.total = x,
                    None => {
                        d.total = u128::MAX;
                        d.flags |= WIDE;
                    }
                }
                if d.flags & SENT_LABELLED != 0 && labelled {
                    d.flags |= ROUND_TRIP;
                }
                if labelled {
                    if let Some(sink) = sink.as_mut() {
                        sink.push(t.dst, a, t.time, t.seq, &carried, &carried_p);
                    } else {
                        let x = d.x.get_or_insert_with(Default::default);
                        let (r, arr) = (&mut x.recv, &mut x.arrivals);
                        if !receive(r, arr, carried.as_ref(), &carried_p.0, a, t.time, t.seq) {
                            d.flags |= WIDE;
                        }
                    }
                }
                // A tagged node's balance is never read: what it sends is its own.
                if tagged.has(t.dst) {
                    continue;
                }
            }
            d.bal = d.bal.saturating_add(a);
            if labelled {
                let x = d.x.get_or_insert_with(Default::default);
                if !carried.is_empty() {
                    x.parts.absorb(carried);
                }
                if !carried_p.is_empty() {
                    x.present.absorb(carried_p);
                }
            }
        }
    });
}

// ---------------------------------------------------------------------------------------
// The state file (`exposure.fgxs`). Little-endian; after the header, LEB128 varints, and
// 256-bit values as a byte count then that many little-endian bytes. Layout in
// `docs/formats/graph.md`.

fn put_var(out: &mut Vec<u8>, mut x: u64) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

fn put_u256(out: &mut Vec<u8>, v: U256) {
    // Most values fit 128 bits: the same bytes without the 256-bit conversion.
    if let Ok(x) = u128::try_from(v) {
        return put_u256_narrow(out, x);
    }
    let n = v.bit_len().div_ceil(8);
    out.push(n as u8);
    out.extend_from_slice(&v.to_le_bytes::<32>()[..n]);
}

/// [`put_u256`] of a value that fits 128 bits.
fn put_u256_narrow(out: &mut Vec<u8>, x: u128) {
    let n = (128 - x.leading_zeros()).div_ceil(8) as usize;
    out.push(n as u8);
    out.extend_from_slice(&x.to_le_bytes()[..n]);
}

pub(crate) fn put_var128(out: &mut Vec<u8>, mut x: u128) {
    // Most values fit 64 bits: shifted as such.
    if let Ok(x) = u64::try_from(x) {
        return put_var(out, x);
    }
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

fn put_gots(out: &mut Vec<u8>, list: &Gots) {
    match list {
        Gots::Narrow(v) => put_gots_in(out, v),
        Gots::Wide(v) => put_gots_in(out, v),
    }
}

fn put_gots_in<W: Word>(out: &mut Vec<u8>, list: &[Got<W>]) {
    put_var(out, list.len() as u64);
    for g in list {
        put_var(out, u64::from(g.origin));
        out.push(g.band);
        out.push(g.min);
        put_var128(out, g.value.get());
    }
}

fn put_node(out: &mut Vec<u8>, s: &NodeState) {
    out.push(s.flags);
    put_u256(out, s.bal);
    put_var128(out, s.total);
    let none = Labels::default();
    let x = s.x.as_deref().unwrap_or(&none);
    put_var(out, x.parts.len() as u64);
    fn put_parts<W: Word>(out: &mut Vec<u8>, v: &[Part<W>]) {
        for p in v {
            put_var(out, u64::from(p.hops));
            put_var(out, u64::from(p.origin));
            put_u256_narrow(out, p.value.get());
        }
    }
    match &x.parts {
        Bal::Narrow(v) => put_parts(out, v),
        Bal::Mid(v) => put_parts(out, v),
        Bal::Wide(_) => x.parts.each(|h, o, v| {
            put_var(out, u64::from(h));
            put_var(out, u64::from(o));
            put_u256(out, v);
        }),
    }
    put_var(out, x.present.0.len() as u64);
    for &(o, h) in &x.present.0 {
        put_var(out, u64::from(o));
        put_var(out, u64::from(h));
    }
    put_gots(out, &x.recv.origins);
    put_gots(out, &x.recv.poison);
    put_var(out, x.arrivals.0.len() as u64);
    for a in &x.arrivals.0 {
        out.push(a.hops);
        put_var(out, u64::from(a.time));
        put_var(out, a.seq);
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_var(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn put_opt_time(out: &mut Vec<u8>, t: Option<u32>) {
    put_var(out, t.map_or(0, |t| u64::from(t) + 1));
}

impl PassState {
    /// Encodes the body in chunks of about 1 MiB, each handed to `flush` (which empties it),
    /// so the state is never whole in memory.
    fn encode(
        &self,
        flush: &mut dyn FnMut(&mut Vec<u8>) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        const CHUNK: usize = 1 << 20;
        let mut b = Vec::with_capacity(CHUNK + 4096);
        put_var(&mut b, u64::from(self.nodes));
        put_var(&mut b, self.checksums.len() as u64);
        for c in &self.checksums {
            b.extend_from_slice(c);
        }
        put_var(&mut b, self.tags.len() as u64);
        for &(n, c) in &self.tags {
            put_var(&mut b, u64::from(n));
            b.push(c);
        }
        put_var(&mut b, self.assets.len() as u64);
        for (name, p) in &self.assets {
            put_str(&mut b, name);
            put_opt_time(&mut b, p.max_time);
            put_var(&mut b, p.transfers);
            put_var(&mut b, p.ahead.as_deref().map_or(p.nodes.len(), |a| a.nodes) as u64);
            if let Some(a) = p.ahead.as_deref() {
                for piece in a.state.iter().flat_map(|p| p.chunks(CHUNK)) {
                    b.extend_from_slice(piece);
                    if b.len() >= CHUNK {
                        flush(&mut b)?;
                    }
                }
                continue;
            }
            for (n, s) in p.nodes.iter() {
                put_var(&mut b, u64::from(n));
                put_node(&mut b, s);
                if b.len() >= CHUNK {
                    flush(&mut b)?;
                }
            }
        }
        put_var(&mut b, self.checkpoints.len() as u64);
        for cp in &self.checkpoints {
            put_var(&mut b, u64::from(cp.segments));
            put_var(&mut b, u64::from(cp.nodes));
            put_var(&mut b, cp.assets.len() as u64);
            for (name, u) in &cp.assets {
                put_str(&mut b, name);
                b.push(u8::from(u.existed));
                put_opt_time(&mut b, u.max_time);
                put_var(&mut b, u.transfers);
                put_var(&mut b, u.nodes.len() as u64);
                for (n, s) in &u.nodes {
                    put_var(&mut b, u64::from(*n));
                    match s {
                        Some(s) => {
                            b.push(1);
                            put_node(&mut b, s);
                        }
                        None => b.push(0),
                    }
                    if b.len() >= CHUNK {
                        flush(&mut b)?;
                    }
                }
            }
        }
        flush(&mut b)
    }

    /// Writes the state to `path` (beside, then renamed); returns the bytes written.
    /// The body is streamed to `<path>.tmp` behind a blank header, hashed as it goes, then
    /// the header is written, the file synced and renamed over `path` (a reader sees the old
    /// file or the new one whole).
    pub(crate) fn save(&self, path: &Path) -> Result<u64, GraphError> {
        use std::io::{Seek, SeekFrom, Write};
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        let io = |p: &Path| {
            let p = p.to_owned();
            move |source| GraphError::Io { path: p, source }
        };
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(&[0u8; HEADER_LEN]).map_err(io(&tmp))?;
        let mut sum = Sha256::new();
        let mut len = 0u64;
        self.encode(&mut |b: &mut Vec<u8>| {
            sum.update(&b[..]);
            len += b.len() as u64;
            let written = f.write_all(b);
            b.clear();
            written
        })
        .map_err(io(&tmp))?;
        let mut head = Vec::with_capacity(HEADER_LEN);
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&STATE_VERSION.to_le_bytes());
        head.extend_from_slice(&0u32.to_le_bytes());
        head.extend_from_slice(&sum.finalize());
        head.extend_from_slice(&len.to_le_bytes());
        f.seek(SeekFrom::Start(0)).map_err(io(&tmp))?;
        f.write_all(&head).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(io(path))?;
        Ok(HEADER_LEN as u64 + len)
    }

    /// Reads the state at `path`, checking its magic, version, checksum and structure.
    ///
    /// # Errors
    /// [`GraphError::NotBuilt`] when there is no file, [`GraphError::UnsupportedVersion`],
    /// [`GraphError::Corrupt`] naming the file and offset, I/O errors.
    pub(crate) fn load(path: &Path) -> Result<PassState, GraphError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(GraphError::NotBuilt { path: path.to_owned() })
            }
            Err(source) => return Err(GraphError::Io { path: path.to_owned(), source }),
        };
        let corrupt = |at: usize, d: &str| GraphError::Corrupt {
            path: path.to_owned(),
            offset: at as u64,
            detail: d.to_owned(),
        };
        if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
            return Err(corrupt(0, "not an exposure pass state (bad magic or too short)"));
        }
        let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if version != STATE_VERSION {
            return Err(GraphError::UnsupportedVersion {
                what: "saved index pass",
                path: path.to_owned(),
                found: version,
                supported: STATE_VERSION,
            });
        }
        let body = &bytes[HEADER_LEN..];
        let mut len = [0u8; 8];
        len.copy_from_slice(&bytes[48..56]);
        if u64::from_le_bytes(len) != body.len() as u64 {
            return Err(corrupt(48, "body length does not match the file"));
        }
        if Sha256::digest(body)[..] != bytes[16..48] {
            return Err(corrupt(HEADER_LEN, "body checksum does not match the header"));
        }
        let mut r = Reader { b: body, at: 0 };
        PassState::decode(&mut r)
            .ok_or_else(|| corrupt(HEADER_LEN + r.at, "the state does not decode"))
    }

    fn decode(r: &mut Reader<'_>) -> Option<PassState> {
        let nodes = r.u32()?;
        let nseg = r.len()?;
        let mut checksums: Vec<[u8; 32]> = Vec::with_capacity(nseg);
        for _ in 0..nseg {
            checksums.push(r.bytes(32)?.try_into().ok()?);
        }
        let ntags = r.len()?;
        let mut tags = Vec::with_capacity(ntags);
        for _ in 0..ntags {
            tags.push((r.u32()?, r.u8()?));
        }
        let nassets = r.len()?;
        let mut assets = BTreeMap::new();
        for _ in 0..nassets {
            let name = r.str()?;
            let max_time = r.opt_time()?;
            let transfers = r.var()?;
            let n = r.len()?;
            let mut map = Nodes::default();
            map.reserve(nodes, n);
            let mut last = None;
            for _ in 0..n {
                let id = r.u32()?;
                // Written in id order, each once, below the node count.
                if id >= nodes || last.is_some_and(|l| id <= l) {
                    return None;
                }
                last = Some(id);
                map.insert(id, r.node()?);
            }
            assets.insert(name, AssetPass { nodes: map, max_time, transfers, ahead: None });
        }
        let ncp = r.len()?;
        let mut checkpoints = Vec::with_capacity(ncp);
        for _ in 0..ncp {
            let segments = r.u32()?;
            let cnodes = r.u32()?;
            let na = r.len()?;
            let mut cas = BTreeMap::new();
            for _ in 0..na {
                let name = r.str()?;
                let existed = r.u8()? != 0;
                let max_time = r.opt_time()?;
                let transfers = r.var()?;
                let n = r.len()?;
                let mut list = Vec::with_capacity(n);
                for _ in 0..n {
                    let id = r.u32()?;
                    let s = match r.u8()? {
                        0 => None,
                        1 => Some(r.node()?),
                        _ => return None,
                    };
                    list.push((id, s));
                }
                cas.insert(name, AssetUndo { existed, max_time, transfers, nodes: list });
            }
            checkpoints.push(Checkpoint { segments, nodes: cnodes, assets: cas });
        }
        (r.at == r.b.len()).then_some(PassState { nodes, checksums, tags, assets, checkpoints })
    }
}

/// A LEB128 varint of at most 128 bits at `b[*at..]`, moving `at` past it; `None` when the
/// bytes end first or it does not fit (the last of 19 bytes may carry only the top 2 bits).
/// The index file and the saved pass both write their values so.
pub(crate) fn read_var128(b: &[u8], at: &mut usize) -> Option<u128> {
    let mut x = 0u128;
    for shift in (0..128).step_by(7) {
        let byte = *b.get(*at)?;
        *at += 1;
        let bits = u128::from(byte & 0x7f);
        if shift == 126 && bits > 3 {
            return None;
        }
        x |= bits << shift;
        if byte & 0x80 == 0 {
            return Some(x);
        }
    }
    None
}

/// A bounds-checked reader of the state body.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Option<u8> {
        let x = *self.b.get(self.at)?;
        self.at += 1;
        Some(x)
    }
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn var(&mut self) -> Option<u64> {
        let mut x = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            x |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(x);
            }
        }
        None
    }
    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.var()?).ok()
    }
    /// A count, bounded by the bytes left (every item takes at least one), so a damaged
    /// count cannot ask for a huge allocation.
    fn len(&mut self) -> Option<usize> {
        usize::try_from(self.var()?).ok().filter(|&n| n <= self.b.len() - self.at)
    }
    fn str(&mut self) -> Option<String> {
        let n = self.len()?;
        String::from_utf8(self.bytes(n)?.to_vec()).ok()
    }
    fn opt_time(&mut self) -> Option<Option<u32>> {
        match self.var()? {
            0 => Some(None),
            t => u32::try_from(t - 1).ok().map(Some),
        }
    }
    fn u256(&mut self) -> Option<U256> {
        let n = usize::from(self.u8()?);
        if n > 32 {
            return None;
        }
        U256::try_from_le_slice(self.bytes(n)?)
    }
    fn var128(&mut self) -> Option<u128> {
        read_var128(self.b, &mut self.at)
    }
    /// A list of [`Got`], checked to be sorted and in range.
    fn gots(&mut self) -> Option<Gots> {
        let n = self.len()?;
        let mut list = Gots::Narrow(Vec::with_capacity(n));
        let mut last = None;
        for _ in 0..n {
            let g = Got {
                origin: self.u32()?,
                band: self.u8()?,
                min: self.u8()?,
                value: V128::of(self.var128()?),
            };
            if last.is_some_and(|l| l >= g.key()) || usize::from(g.band) >= BUCKETS.len() {
                return None;
            }
            last = Some(g.key());
            list.push(g);
        }
        Some(list)
    }
    fn node(&mut self) -> Option<NodeState> {
        let flags = self.u8()?;
        let bal = self.u256()?;
        let total = self.var128()?;
        let np = self.len()?;
        let mut parts = Vec::with_capacity(np);
        for _ in 0..np {
            let h = self.u32()?;
            let o = self.u32()?;
            parts.push(((h, o), self.u256()?));
        }
        let npr = self.len()?;
        let mut present = Vec::with_capacity(npr);
        for _ in 0..npr {
            let o = u8::try_from(self.u32()?).ok()?;
            let h = u8::try_from(self.u32()?).ok()?;
            if present.last().is_some_and(|&(l, _)| l >= o) {
                return None;
            }
            present.push((o, h));
        }
        let recv = Recv { origins: self.gots()?, poison: self.gots()? };
        let n = self.len()?;
        let mut arrivals = Arrivals(Vec::with_capacity(n));
        for _ in 0..n {
            let hops = self.u8()?;
            let time = self.u32()?;
            let seq = self.var()?;
            let a = Arrival { seq, time, hops };
            // Each nearer than the one before, never earlier in replay order.
            let ordered = arrivals
                .0
                .last()
                .is_none_or(|l| a.hops < l.hops && (a.time, a.seq) >= (l.time, l.seq));
            if !ordered || u32::from(hops) > MAX_HOPS {
                return None;
            }
            arrivals.0.push(a);
        }
        let x = Labels { parts: Bal::from_parts(parts), present: Pres(present), recv, arrivals };
        Some(NodeState { bal, total, flags, x: (!x.is_empty()).then(|| Box::new(x)) })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A seeded xorshift generator: each call gives a number below its argument.
    pub(crate) fn below(mut r: u64) -> impl FnMut(u64) -> u64 {
        move |m| {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            r % m
        }
    }

    /// The encoded state of a pass.
    fn encoded(st: &PassState) -> Vec<u8> {
        let mut out = Vec::new();
        st.encode(&mut |b: &mut Vec<u8>| {
            out.extend_from_slice(b);
            b.clear();
            Ok(())
        })
        .unwrap();
        out
    }

    /// A random world of 30 addresses: Bitcoin transactions and Ethereum transfers (a few
    /// hubs get most), some amounts over 64 bits, a few tagged addresses.
    pub(crate) fn world(
        round: u8,
        next: &mut dyn FnMut(u64) -> u64,
    ) -> (tempfile::TempDir, Graph, HashMap<NodeId, RiskCategory>) {
        use floodgate_graph::{EdgeInput, GraphBuilder};
        use floodgate_types::{Amount, Chain, Hash32};
        let cats = [RiskCategory::Scam, RiskCategory::Mixer, RiskCategory::Sanctioned];
        let value = |next: &mut dyn FnMut(u64) -> u64| {
            if next(30) == 0 {
                Amount::from_base_units(u128::from(u64::MAX) + u128::from(next(1000)))
            } else {
                Amount::from(next(1_000_000) + 1)
            }
        };
        let dir = tempfile::tempdir().unwrap();
        let empty = Graph::open_or_empty(dir.path()).unwrap();
        let mut b = GraphBuilder::new(Some(&empty));
        let addrs: Vec<NodeId> =
            (0..30).map(|i| b.node(&format!("0x{i:040x}"), NodeKind::Address).unwrap()).collect();
        let mut time = 1_700_000_000i64;
        for tx in 0..300 + next(300) as u32 {
            time += next(2) as i64;
            let mut id = [round; 32];
            id[..4].copy_from_slice(&tx.to_le_bytes());
            let txid = Hash32(id);
            // A few hubs get most transfers.
            let addr =
                |next: &mut dyn FnMut(u64) -> u64| addrs[(next(30) * next(30) / 30) as usize];
            let edge = |b: &mut GraphBuilder<'_>, from, to, asset, chain, amount| {
                let e = EdgeInput { amount, time: Some(time), asset, txid, chain };
                b.add_edge(from, to, &e).unwrap();
            };
            if next(3) == 0 {
                for _ in 0..1 + next(2) {
                    let (from, to) = (addr(next), addr(next));
                    if from != to {
                        let v = value(next);
                        edge(&mut b, from, to, "ETH", Chain::Ethereum, v);
                    }
                }
            } else {
                let t = b.tx_node(Chain::Bitcoin, &txid).unwrap();
                for _ in 0..1 + next(2) {
                    let (a, v) = (addr(next), value(next));
                    edge(&mut b, a, t, "BTC", Chain::Bitcoin, v);
                }
                for _ in 0..1 + next(3) {
                    let (a, v) = (addr(next), value(next));
                    edge(&mut b, t, a, "BTC", Chain::Bitcoin, v);
                }
            }
        }
        b.commit(&empty, Default::default()).unwrap();
        let g = Graph::open(dir.path()).unwrap();
        let tags: HashMap<NodeId, RiskCategory> =
            (0..2 + next(6)).map(|_| (addrs[next(30) as usize], cats[next(3) as usize])).collect();
        (dir, g, tags)
    }

    /// The node states by id hold what a hash map holds, through adds, changes, removals
    /// and returns, and walk in id order.
    #[test]
    fn nodes_equal_a_map() {
        let mut next = below(0xbb67_ae85_84ca_a73bu64);
        for round in 0..50 {
            let mut nodes = Nodes::default();
            if round % 2 == 0 {
                nodes.reserve(next(80) as u32, next(40) as usize);
            }
            let mut model: HashMap<u32, u128> = HashMap::new();
            for step in 0..500u128 {
                let n = next(64) as u32;
                match next(4) {
                    0 => {
                        nodes.get_or_default(n).total += step;
                        *model.entry(n).or_default() += step;
                    }
                    1 => {
                        nodes.insert(n, NodeState { total: step, ..NodeState::default() });
                        model.insert(n, step);
                    }
                    2 => {
                        let got = nodes.remove(n).map(|s| s.total);
                        assert_eq!(got, model.remove(&n), "round {round} step {step}");
                    }
                    _ => {
                        if let Some(s) = nodes.get_mut(n) {
                            s.total += 1;
                        }
                        if let Some(v) = model.get_mut(&n) {
                            *v += 1;
                        }
                    }
                }
                assert_eq!(nodes.get(n).map(|s| s.total), model.get(&n).copied());
                assert_eq!(nodes.len(), model.len());
            }
            let mut want: Vec<(u32, u128)> = model.into_iter().collect();
            want.sort_unstable();
            let got: Vec<(u32, u128)> = nodes.iter().map(|(n, s)| (n, s.total)).collect();
            assert_eq!(got, want, "round {round}");
        }
    }

    /// The pass on two threads (each asset listed in two halves, merged) gives the state one
    /// thread gives, byte for byte, on random worlds of UTXO transactions and account
    /// transfers of two assets, many in one block time (so groups of one time and place
    /// span both halves), with tags of several categories and some amounts of 63 bits or
    /// more (listed apart).
    #[test]
    fn two_threads_give_the_state_one_gives() {
        let mut next = below(0x6a09_e667_f3bc_c909u64);
        for round in 0..30u8 {
            let (_dir, g, tags) = world(round, &mut next);
            let one = PassState::full_on(&g, &tags, 1);
            let two = PassState::full_on(&g, &tags, 2);
            assert!(one.assets.values().any(|p| p.nodes.values().any(|s| s.recv().is_some())));
            assert_eq!(encoded(&one), encoded(&two), "round {round}");
            // The halves listed a few ids at a time, the two listers meeting anywhere.
            let chunked = PassState::full_with(&g, &tags, 2, 1 + next(40) as u32);
            assert_eq!(encoded(&one), encoded(&chunked), "round {round}, listed in chunks");
        }
    }

    /// Merging in place from the back gives what sorting both listings together gives, with
    /// the second's wide amounts after the first's, whatever the halves' sizes (either
    /// empty included) and room.
    #[test]
    fn a_listing_merged_in_place_equals_both_sorted() {
        let mut next = below(0x3c6e_f372_fe94_f82bu64);
        for round in 0..300 {
            // Disjoint senders: even ones in the first half, odd ones in the second.
            let half = |parity: u32, next: &mut dyn FnMut(u64) -> u64| {
                let mut o = Order::default();
                if next(4) == 0 {
                    o.list.reserve(next(50) as usize);
                }
                let most = if next(6) == 0 { 1 } else { 40 };
                for aux in 0..next(most) as u32 {
                    let amount = if next(5) == 0 {
                        o.wide.push(U256::from(next(1000)) << 70);
                        WIDE_AMOUNT | (o.wide.len() - 1) as u64
                    } else {
                        next(1000)
                    };
                    let src = 2 * next(8) as u32 + parity;
                    let (time, seq) = (next(4) as u32, next(6));
                    o.list.push(T { seq, amount, src, dst: next(20) as u32, time, aux });
                }
                sort_listed(&mut o.list);
                o
            };
            let a = half(0, &mut next);
            let b = half(1, &mut next);
            let mut want: Vec<(u32, u64, u32, u32, U256)> = Vec::new();
            for o in [&a, &b] {
                for t in &o.list {
                    want.push((t.time, t.seq, t.src, t.aux, Order::amount_in(&o.wide, t)));
                }
            }
            want.sort_unstable_by_key(|w| (w.0, w.1, w.2, w.3));
            let m = merged(a, b);
            let got: Vec<(u32, u64, u32, u32, U256)> = m
                .list
                .iter()
                .map(|t| (t.time, t.seq, t.src, t.aux, Order::amount_in(&m.wide, t)))
                .collect();
            assert_eq!(got, want, "round {round}");
        }
    }

    /// Records encoded ahead give the saved pass the nodes give, byte for byte, for any of
    /// the assets, their states freed; such a pass is not continued.
    #[test]
    fn records_encoded_ahead_give_the_same_state() {
        let mut next = below(0x1f83_d9ab_fb41_bd6bu64);
        for round in 0..20u8 {
            let (_dir, g, tags) = world(round, &mut next);
            let one = PassState::full_on(&g, &tags, 1);
            assert!(one.assets.values().all(|p| p.ahead.is_none()));
            let codes = crate::index::tag_codes(&tags);
            let pick = next(4);
            let mut ahead = one.clone();
            for (k, p) in ahead.assets.values_mut().enumerate() {
                if pick >> k & 1 == 1 {
                    p.encode_ahead(&codes);
                }
            }
            assert_eq!(encoded(&one), encoded(&ahead), "round {round}, assets {pick:b}");
            assert!(ahead.assets.values().all(|p| p.ahead.is_none() || p.nodes.len() == 0));
            if pick != 0 {
                assert!(ahead.update(&g, &tags).is_err());
            }
        }
    }

    /// A pipelined replay (what addresses received summed by a thread of its own, handed
    /// over in batches of any size) gives the states of a replay alone, byte for byte; a
    /// pass not started from nothing is replayed alone.
    #[test]
    fn a_pipelined_replay_gives_the_states_of_one_alone() {
        let mut next = below(0x510e_527f_ade6_82d1u64);
        for round in 0..30u8 {
            let (_dir, g, tags) = world(round, &mut next);
            let one = PassState::full_on(&g, &tags, 1);
            let mut piped = PassState { assets: BTreeMap::new(), ..one.clone() };
            for name in one.assets.keys() {
                let mut pass = AssetPass::default();
                let cap = [1, 2, 1 + next(50) as usize, BATCH_RECEIPTS][next(4) as usize];
                let order = replay_order(&g, None, name);
                replay_with(&g, &tags, name, &mut pass, order, None, Some(cap));
                piped.assets.insert(name.clone(), pass);
            }
            assert_eq!(encoded(&one), encoded(&piped), "round {round}");
            // Continued: alone (the pass holds states already).
            let mut again = one.clone();
            for (name, p) in &mut again.assets {
                replay_with(&g, &tags, name, p, Order::default(), None, Some(1));
            }
            assert_eq!(encoded(&one), encoded(&again), "round {round}, continued");
        }
    }

    /// Hop costs found ahead are the replay's own, for every transfer from an address (none
    /// for one from a transaction: its cost is 0 at no charge); none past a replay that is
    /// ahead, none once stopped.
    #[test]
    fn costs_found_ahead_are_the_replays() {
        let mut next = below(0x9b05_688c_2b3e_6c1fu64);
        for round in 0..20u8 {
            let (_dir, g, tags) = world(round, &mut next);
            for asset in g.assets() {
                let order = replay_order(&g, None, &asset);
                let pairs: Vec<(u32, u32)> = order.list.iter().map(|t| (t.src, t.dst)).collect();
                let costs: Vec<AtomicU8> = pairs.iter().map(|_| AtomicU8::new(0)).collect();
                let (at, stop) = (AtomicUsize::new(0), AtomicBool::new(false));
                costs_ahead(&g, &tags, &asset, &pairs, &costs, &at, &stop);
                with_ctx(&g, &tags, &asset, |ctx| {
                    let hops = Hops::new(&g, ctx);
                    for (&(s, d), c) in pairs.iter().zip(&costs) {
                        let c = c.load(Ordering::Relaxed);
                        if g.kind(NodeId(s)) == NodeKind::Address {
                            assert_eq!(u32::from(c), hops.cost(NodeId(s), NodeId(d)) + 1);
                        } else {
                            assert_eq!(c, 0);
                            assert_eq!(hops.cost(NodeId(s), NodeId(d)), 0);
                        }
                    }
                });
                // The replay already past every transfer: none found.
                let none: Vec<AtomicU8> = pairs.iter().map(|_| AtomicU8::new(0)).collect();
                at.store(pairs.len(), Ordering::Relaxed);
                costs_ahead(&g, &tags, &asset, &pairs, &none, &at, &stop);
                assert!(none.iter().all(|c| c.load(Ordering::Relaxed) == 0));
                at.store(0, Ordering::Relaxed);
                stop.store(true, Ordering::Relaxed);
                costs_ahead(&g, &tags, &asset, &pairs, &none, &at, &stop);
                assert!(none.iter().all(|c| c.load(Ordering::Relaxed) == 0));
            }
        }
    }

    /// Merging a transfer's parts in one pass gives the list that adding them one by one
    /// gives, on random lists and parts (values near 2⁶⁴, so lists turn wide, and near 2¹²⁸,
    /// so sums overflow too), and the list turns wide exactly when a value does not fit 64
    /// bits.
    #[test]
    fn add_parts_equals_adding_each() {
        let mut next = below(0x9e37_79b9_7f4a_7c15u64);
        let (mut widened, mut overflowed) = (0, 0);
        for _ in 0..2000 {
            let mut list = Gots::default();
            let mut each = Gots::default();
            for _ in 0..next(6) {
                let n = next(40) as usize;
                let parts: Vec<((u32, u32), U256)> = (0..n)
                    .map(|_| {
                        let v = match next(40) {
                            0 => U256::from(u128::MAX - u128::from(next(3))),
                            1 | 2 => U256::from(u64::MAX - next(3)),
                            _ => U256::from(next(1000)),
                        };
                        ((next(7) as u32, next(12) as u32), v)
                    })
                    .collect();
                let a = list.add_parts(Bal::from_parts(parts.clone()).as_ref());
                let b = parts.iter().fold(true, |ok, &((h, o), v)| each.add(o, h, v) & ok);
                assert_eq!(a, b, "{parts:?}");
                let (wide, each_wide) = (list.clone().take_wide(), each.clone().take_wide());
                assert_eq!(wide, each_wide, "{parts:?}");
                overflowed += usize::from(!a);
                let big = wide.iter().any(|g| g.value.get() > u128::from(u64::MAX));
                assert_eq!(matches!(list, Gots::Wide(_)), big, "{parts:?}");
                assert_eq!(matches!(each, Gots::Wide(_)), big, "{parts:?}");
                widened += usize::from(big);
            }
        }
        // Both paths taken often enough to mean something.
        assert!(widened > 100 && overflowed > 100, "{widened} widened, {overflowed} overflowed");
    }

    /// The balance's 128-bit parts follow `causal.rs`'s `Parts` exactly: random receipts and
    /// sends (values near and above 2¹²⁸ included, so the list turns wide) leave the same
    /// parts in both, and each send carries the same parts.
    #[test]
    fn balance_parts_equal_causal_parts() {
        let mut next = below(0x2545_f491_4f6c_dd1du64);
        // Values that fit 64 bits, sums that do not (a balance turned `Mid`), values near and
        // beyond 128 bits (`Wide`).
        let value = |next: &mut dyn FnMut(u64) -> u64| match next(30) {
            0 => U256::from(u128::MAX - u128::from(next(5))),
            1 => U256::from(u128::MAX) + U256::from(next(1000) + 1),
            2..=4 => U256::from(u64::MAX - next(1000)),
            5 => U256::from(u128::from(u64::MAX) + u128::from(next(1000) + 1)),
            _ => U256::from(next(1_000_000) + 1),
        };
        // Steps ending in each of the balance's words: every one is exercised.
        let mut seen = [0u32; 3];
        for _ in 0..500 {
            let (mut bal, mut want) = (Bal::default(), Parts::default());
            let mut b = U256::ZERO;
            for _ in 0..40 {
                if next(3) == 0 && !b.is_zero() {
                    let a = if next(4) == 0 { b } else { U256::from(next(1000) + 1).min(b) };
                    let (mut got, mut sent) = (bal.take(a, b), want.take(a, b));
                    let h = next(3) as u32;
                    got.shift(h);
                    sent.0.retain_mut(|((hops, _), _)| {
                        *hops += h;
                        *hops <= MAX_HOPS
                    });
                    assert_eq!(got.to_parts().0, sent.0);
                    b -= a;
                } else {
                    let n = next(5) + 1;
                    let mut parts = Vec::new();
                    for _ in 0..n {
                        parts.push(((next(7) as u32, next(6) as u32), value(&mut next)));
                    }
                    parts.sort_by_key(|p| p.0);
                    parts.dedup_by_key(|p| p.0);
                    let sum = parts.iter().fold(U256::ZERO, |s, p| s.saturating_add(p.1));
                    b = b.saturating_add(sum);
                    bal.add(&Bal::from_parts(parts.clone()));
                    want.add(&Parts(parts));
                }
                assert_eq!(bal.to_parts().0, want.0);
                seen[match bal {
                    Bal::Narrow(_) => 0,
                    Bal::Mid(_) => 1,
                    Bal::Wide(_) => 2,
                }] += 1;
            }
        }
        assert!(seen.iter().all(|&n| n >= 100), "steps in each word: {seen:?}");
    }
}
