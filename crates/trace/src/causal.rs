//! The causal (time-respecting) haircut and poison models. Definitions, worked examples and
//! costs: `docs/taint-models.md`; the models that ignore time (`--ignore-time`) are in
//! `exposure.rs`, FIFO, LIFO and TIHO in `taint.rs`.
//!
//! Every node holds a **balance**: the value it received minus the value it sent, whose
//! parts are labelled by origin and hop count. Transfers are replayed in time order, ties in
//! storage order ([`floodgate_graph::Leg::seq`]; at one node, what it receives in a
//! transaction comes before what it sends in it). A transfer sent takes from the balance the
//! node holds at that moment:
//!
//! - **haircut**: each labelled part `p` of a balance `B` gives `⌊p · a / B⌋` to a transfer
//!   of `a < B` and keeps `⌊p · (B − a) / B⌋`; a transfer of `a ≥ B` takes the whole balance
//!   and the rest of its value is of unknown origin (untraced). A part's fate depends only
//!   on itself, `a` and `B`, never on the other parts, so tracking fewer labels (a lower hop
//!   limit) never changes the value of the labels tracked.
//! - **poison**: a transfer carries every label of the balance it is taken from (a balance
//!   that is emptied loses its labels).
//!
//! A tagged node ends the trace: what it sends is its own (its category, for `in`). The
//! target's own transfers end it too: for `in` a round trip is untraced; for `out` the
//! target's sends are the tracked value.
//!
//! Evaluation is lazy and backward: the parts a transfer carries are those its sender held
//! when sending it, which needs only the sender's transfers before it, and recursively only
//! earlier ones. So a query reads only the part of the hop cone that could have funded the
//! target in time, and each (node, hop budget) is replayed at most once per query.

use std::collections::{BTreeMap, VecDeque};

use floodgate_graph::{Leg, LegCache, NodeId, NodeKind};
use ruint::aliases::U256;
use rustc_hash::FxHashMap;

use crate::exposure::{share, Acc, Ctx, Result3};
use crate::index::{ExposureIndex, FirstArrivals, Place};
use crate::{Direction, TaintModel};
use floodgate_types::RiskCategory;

/// A label: (hops, origin). The origin is a tagged node (`in`) or the index of one of the
/// target's transfers sent (`out`).
pub(crate) type Label = (u32, u32);

/// One transfer in a node's timeline.
#[derive(Debug, Clone, Copy)]
struct Ev {
    nb: NodeId,
    amount: U256,
    time: u32,
    seq: u64,
    receipt: bool,
    /// Rank among the events of this node alike in (receipt, nb, time, seq, amount), in
    /// storage order: the same at the other end of the transfer.
    rank: u32,
    /// A receipt's step cost ([`Causal::edge_cost`] from its sender), once asked
    /// ([`UNKNOWN_COST`] before): a step into a transaction node reads the transaction's
    /// inputs and outputs (is it a peel link?), and each (node, budget) replay asks again.
    cost: u8,
}

/// [`Ev::cost`] not yet asked.
const UNKNOWN_COST: u8 = u8::MAX;

/// A node's transfers in the window (self-transfers left out: they move nothing), in replay
/// order, with an index to find a transfer sent from its receiving end.
struct Timeline {
    evs: Vec<Ev>,
    /// Indices of sends, sorted by (nb, time, seq, amount, rank).
    sends: Vec<u32>,
}

impl Timeline {
    /// Reads `n`'s transfers (`raw` is scratch; `cache` the query's [`LegCache`]).
    fn new(ctx: &Ctx<'_>, n: NodeId, raw: &mut Vec<Leg>, cache: &mut LegCache) -> Timeline {
        let mut evs: Vec<Ev> = Vec::new();
        for receipt in [true, false] {
            raw.clear();
            ctx.g.legs_cached(n, receipt, ctx.asset, raw, cache);
            evs.extend(raw.iter().filter(|l| l.nb != n && ctx.in_window(l.time)).map(|l| Ev {
                nb: l.nb,
                amount: l.amount,
                time: l.time,
                seq: l.seq,
                receipt,
                rank: 0,
                cost: UNKNOWN_COST,
            }));
        }
        // Stable: ties keep receipts first, each side in storage order.
        evs.sort_by_key(|e| (e.time, e.seq, !e.receipt));
        // Ranks, in storage order on each side: events alike share (time, seq, receipt), so
        // they lie in one run of the sorted events, in storage order; most runs are one event.
        let mut at = 0;
        while at < evs.len() {
            let key = |e: &Ev| (e.time, e.seq, e.receipt);
            let end = at + evs[at..].iter().take_while(|e| key(e) == key(&evs[at])).count();
            if end - at > 1 {
                rank_run(&mut evs[at..end]);
            }
            at = end;
        }
        let mut sends: Vec<u32> =
            (0..evs.len() as u32).filter(|&i| !evs[i as usize].receipt).collect();
        sends.sort_by_key(|&i| {
            let e = &evs[i as usize];
            (e.nb, e.time, e.seq, e.amount, e.rank)
        });
        Timeline { evs, sends }
    }

    /// The index of the transfer this node sent to `to` that `to` lists as receipt `e`.
    fn find_send(&self, to: NodeId, e: &Ev) -> Option<usize> {
        let key = (to, e.time, e.seq, e.amount, e.rank);
        let p = self.sends.partition_point(|&i| {
            let s = &self.evs[i as usize];
            (s.nb, s.time, s.seq, s.amount, s.rank) < key
        });
        let i = *self.sends.get(p)? as usize;
        let s = &self.evs[i];
        ((s.nb, s.time, s.seq, s.amount, s.rank) == key).then_some(i)
    }
}

/// Sets the ranks of a run of events alike in (time, seq, receipt), in storage order: each
/// event's rank is the number of events before it in the run alike in (nb, amount).
fn rank_run(run: &mut [Ev]) {
    if run.len() <= 16 {
        for i in 1..run.len() {
            let (before, rest) = run.split_at_mut(i);
            let e = &mut rest[0];
            e.rank = before.iter().filter(|x| x.nb == e.nb && x.amount == e.amount).count() as u32;
        }
        return;
    }
    // A transaction node's inputs or outputs: order by (nb, amount), storage order within.
    let mut order: Vec<u32> = (0..run.len() as u32).collect();
    order.sort_by_key(|&i| (run[i as usize].nb, run[i as usize].amount));
    for w in 1..order.len() {
        let (a, b) = (order[w - 1] as usize, order[w] as usize);
        if run[a].nb == run[b].nb && run[a].amount == run[b].amount {
            run[b].rank = run[a].rank + 1;
        }
    }
}

/// The labelled parts of a balance or of a transfer, under one model.
pub(crate) trait Mix: Default {
    /// A transfer from an origin: all of its `amount` carries `label`.
    fn origin(label: Label, amount: U256) -> Self;
    /// Adds a received transfer's parts.
    fn add(&mut self, other: &Self);
    /// As [`Mix::add`], taking the parts: an empty balance takes them as they are, without
    /// a copy (most receipts arrive at a balance holding no labels).
    fn absorb(&mut self, other: Self) {
        self.add(&other);
    }
    /// What a transfer of `a` takes from a balance of `b > 0` holding these parts; the
    /// parts left stay.
    fn take(&mut self, a: U256, b: U256) -> Self;
    /// The parts with `c` hops added.
    fn shifted(&self, c: u32) -> Self;
    /// Whether it holds nothing.
    fn is_empty(&self) -> bool;
    /// The parts with at most `budget` hops.
    fn within(&self, budget: u32) -> Self;
}

/// Haircut parts: value per label, in label order.
#[derive(Default, Clone, Debug)]
pub(crate) struct Parts(pub(crate) Vec<(Label, U256)>);

impl Mix for Parts {
    fn origin(label: Label, amount: U256) -> Self {
        Parts(if amount.is_zero() { Vec::new() } else { vec![(label, amount)] })
    }
    fn absorb(&mut self, other: Self) {
        if self.0.is_empty() {
            *self = other;
        } else {
            self.add(&other);
        }
    }
    fn add(&mut self, other: &Self) {
        if other.0.is_empty() {
            return;
        }
        if self.0.is_empty() {
            self.0.clone_from(&other.0);
            return;
        }
        // A few parts into a long list (a hub receiving a transfer): add each in place, as a
        // merge would, instead of merging into a new list, which copied the hub's whole list
        // on every receipt (the exposure index's pass spent most of its time there).
        if other.0.len() * 8 <= self.0.len() {
            for &(l, v) in &other.0 {
                match self.0.binary_search_by(|p| p.0.cmp(&l)) {
                    Ok(i) => self.0[i].1 = self.0[i].1.saturating_add(v),
                    Err(i) => self.0.insert(i, (l, v)),
                }
            }
            return;
        }
        // Merge two label-ordered lists.
        let mine = std::mem::take(&mut self.0);
        let theirs = &other.0;
        self.0.reserve(mine.len() + theirs.len());
        let (mut i, mut j) = (0, 0);
        while i < mine.len() || j < theirs.len() {
            if j == theirs.len() || (i < mine.len() && mine[i].0 < theirs[j].0) {
                self.0.push(mine[i]);
                i += 1;
            } else if i == mine.len() || theirs[j].0 < mine[i].0 {
                self.0.push(theirs[j]);
                j += 1;
            } else {
                self.0.push((mine[i].0, mine[i].1.saturating_add(theirs[j].1)));
                i += 1;
                j += 1;
            }
        }
    }
    fn take(&mut self, a: U256, b: U256) -> Self {
        if a >= b {
            return std::mem::take(self);
        }
        let mut sent = Vec::new();
        let keep = b - a;
        self.0.retain_mut(|(l, p)| {
            let s = share(*p, a, b);
            if !s.is_zero() {
                sent.push((*l, s));
            }
            *p = share(*p, keep, b);
            !p.is_zero()
        });
        Parts(sent)
    }
    fn shifted(&self, c: u32) -> Self {
        Parts(self.0.iter().map(|&((h, o), v)| ((h + c, o), v)).collect())
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    fn within(&self, budget: u32) -> Self {
        Parts(self.0.iter().copied().filter(|((h, _), _)| *h <= budget).collect())
    }
}

/// A map from `u32` kept as a list sorted by key: the few origins a balance holds, copied
/// and dropped often, cost a fraction of a `BTreeMap`'s allocations and frees that way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SortedMap<V>(Vec<(u32, V)>);

impl<V> Default for SortedMap<V> {
    fn default() -> Self {
        SortedMap(Vec::new())
    }
}

impl<V> SortedMap<V> {
    fn get(&self, k: u32) -> Option<&V> {
        self.0.binary_search_by_key(&k, |e| e.0).ok().map(|i| &self.0[i].1)
    }
    fn contains_key(&self, k: u32) -> bool {
        self.0.binary_search_by_key(&k, |e| e.0).is_ok()
    }
    /// The value at `k`, `make()` inserted first when absent.
    fn entry_or(&mut self, k: u32, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.0.binary_search_by_key(&k, |e| e.0) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, (k, make()));
                i
            }
        };
        &mut self.0[i].1
    }
    fn insert(&mut self, k: u32, v: V) {
        match self.0.binary_search_by_key(&k, |e| e.0) {
            Ok(i) => self.0[i].1 = v,
            Err(i) => self.0.insert(i, (k, v)),
        }
    }
    fn remove(&mut self, k: u32) {
        if let Ok(i) = self.0.binary_search_by_key(&k, |e| e.0) {
            self.0.remove(i);
        }
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The entries in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &V)> {
        self.0.iter().map(|(k, v)| (*k, v))
    }
}

/// Poison parts: every origin present, with the fewest hops it is present at.
#[derive(Default, Clone, Debug)]
pub(crate) struct Present(pub(crate) SortedMap<u32>);

impl Mix for Present {
    fn origin((h, o): Label, amount: U256) -> Self {
        Present(SortedMap(if amount.is_zero() { Vec::new() } else { vec![(o, h)] }))
    }
    fn add(&mut self, other: &Self) {
        if self.0.is_empty() {
            self.0.clone_from(&other.0);
            return;
        }
        for &(o, h) in &other.0 .0 {
            let e = self.0.entry_or(o, || h);
            *e = (*e).min(h);
        }
    }
    fn absorb(&mut self, other: Self) {
        if self.0.is_empty() {
            *self = other;
        } else {
            self.add(&other);
        }
    }
    fn take(&mut self, a: U256, b: U256) -> Self {
        if a >= b {
            std::mem::take(self)
        } else {
            self.clone()
        }
    }
    fn shifted(&self, c: u32) -> Self {
        Present(SortedMap(self.0 .0.iter().map(|&(o, h)| (o, h + c)).collect()))
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    fn within(&self, budget: u32) -> Self {
        Present(SortedMap(self.0 .0.iter().copied().filter(|&(_, h)| h <= budget).collect()))
    }
}

/// The peel-chain links some of a label's value passed on its way, as sorted node ids;
/// shared, as every part taken from a balance carries its label's links on.
type Links = std::rc::Rc<[u32]>;

/// Adds the links `b` to `a` (both sorted, without repeats).
fn union(a: &mut Links, b: &[u32]) {
    if b.iter().all(|x| a.binary_search(x).is_ok()) {
        return;
    }
    let mut v = a.to_vec();
    for &x in b {
        if let Err(i) = v.binary_search(&x) {
            v.insert(i, x);
        }
    }
    *a = v.into();
}

/// Labelled parts that also know which peel-chain links each label's value passed
/// ([`crate::ExposureReport::peel_links`] counts those of the value that reached the target
/// or the tagged nodes): a property of the value, so it does not depend on which part of the
/// cone a query reads (pruned or not, wider replays reused or not).
pub(crate) trait Linked: Mix {
    /// Every label's value passed link `n` (an address).
    fn mark(&mut self, n: u32);
    /// Adds the links any label's value passed to `out`.
    fn links_into(&self, out: &mut Vec<u32>);
}

/// Haircut parts ([`Parts`]) with, beside them, the links of the labels that passed any.
#[derive(Default, Clone, Debug)]
pub(crate) struct Traced {
    parts: Parts,
    /// By label, in label order; only labels of `parts` that passed a link.
    links: Vec<(Label, Links)>,
}

impl Traced {
    /// One part of `x` (non-zero) with the links `links` passed.
    fn piece(label: Label, x: U256, links: Option<&Links>) -> Traced {
        Traced {
            parts: Parts(vec![(label, x)]),
            links: links.map(|l| vec![(label, l.clone())]).unwrap_or_default(),
        }
    }
}

/// Whether label-ordered parts hold a part of label `l`.
fn holds(p: &Parts, l: &Label) -> bool {
    p.0.binary_search_by(|x| x.0.cmp(l)).is_ok()
}

impl Mix for Traced {
    fn origin(label: Label, amount: U256) -> Self {
        Traced { parts: Parts::origin(label, amount), links: Vec::new() }
    }
    fn absorb(&mut self, other: Self) {
        if self.parts.is_empty() && self.links.is_empty() {
            *self = other;
        } else {
            self.add(&other);
        }
    }
    fn add(&mut self, other: &Self) {
        self.parts.add(&other.parts);
        for (l, ls) in &other.links {
            match self.links.binary_search_by(|x| x.0.cmp(l)) {
                Ok(i) => union(&mut self.links[i].1, ls),
                Err(i) => self.links.insert(i, (*l, ls.clone())),
            }
        }
    }
    fn take(&mut self, a: U256, b: U256) -> Self {
        if a >= b {
            return std::mem::take(self);
        }
        let parts = self.parts.take(a, b);
        if self.links.is_empty() {
            return Traced { parts, links: Vec::new() };
        }
        let links = self.links.iter().filter(|(l, _)| holds(&parts, l)).cloned().collect();
        let kept = &self.parts;
        self.links.retain(|(l, _)| holds(kept, l));
        Traced { parts, links }
    }
    fn shifted(&self, c: u32) -> Self {
        Traced {
            parts: self.parts.shifted(c),
            links: self.links.iter().map(|&((h, o), ref ls)| ((h + c, o), ls.clone())).collect(),
        }
    }
    fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }
    fn within(&self, budget: u32) -> Self {
        Traced {
            parts: self.parts.within(budget),
            links: self.links.iter().filter(|((h, _), _)| *h <= budget).cloned().collect(),
        }
    }
}

impl Linked for Traced {
    fn mark(&mut self, n: u32) {
        let mut links = Vec::with_capacity(self.parts.0.len());
        let mut old = std::mem::take(&mut self.links).into_iter().peekable();
        for &(l, _) in &self.parts.0 {
            let mut ls = match old.peek() {
                Some((x, _)) if *x == l => old.next().map(|(_, ls)| ls).unwrap_or_default(),
                _ => Links::default(),
            };
            union(&mut ls, &[n]);
            links.push((l, ls));
        }
        self.links = links;
    }
    fn links_into(&self, out: &mut Vec<u32>) {
        self.links.iter().for_each(|(_, ls)| out.extend_from_slice(ls));
    }
}

/// Poison labels ([`Present`]) with, per origin, the links its nearest value passed (the
/// value at the fewest hops the origin is present at, which every hop limit that tracks the
/// origin tracks).
#[derive(Default, Clone, Debug)]
pub(crate) struct Seen {
    present: Present,
    /// By origin; only origins of `present` whose nearest value passed a link.
    links: SortedMap<Links>,
}

impl Mix for Seen {
    fn origin(label: Label, amount: U256) -> Self {
        Seen { present: Present::origin(label, amount), links: SortedMap::default() }
    }
    fn add(&mut self, other: &Self) {
        if !other.links.is_empty() || !self.links.is_empty() {
            for (o, &h) in other.present.0.iter() {
                let theirs = other.links.get(o);
                match self.present.0.get(o) {
                    Some(&mine) if mine < h => {}
                    Some(&mine) if mine == h => {
                        if let Some(t) = theirs {
                            union(self.links.entry_or(o, Links::default), t);
                        }
                    }
                    _ => match theirs {
                        Some(t) => self.links.insert(o, t.clone()),
                        None => self.links.remove(o),
                    },
                }
            }
        }
        self.present.add(&other.present);
    }
    fn absorb(&mut self, other: Self) {
        if self.present.is_empty() && self.links.is_empty() {
            *self = other;
        } else {
            self.add(&other);
        }
    }
    fn take(&mut self, a: U256, b: U256) -> Self {
        if a >= b {
            std::mem::take(self)
        } else {
            self.clone()
        }
    }
    fn shifted(&self, c: u32) -> Self {
        Seen { present: self.present.shifted(c), links: self.links.clone() }
    }
    fn is_empty(&self) -> bool {
        self.present.is_empty()
    }
    fn within(&self, budget: u32) -> Self {
        let present = self.present.within(budget);
        let links = SortedMap(
            self.links
                .iter()
                .filter(|&(o, _)| present.0.contains_key(o))
                .map(|(o, l)| (o, l.clone()))
                .collect(),
        );
        Seen { present, links }
    }
}

impl Linked for Seen {
    fn mark(&mut self, n: u32) {
        for (o, _) in self.present.0.iter() {
            union(self.links.entry_or(o, Links::default), &[n]);
        }
    }
    fn links_into(&self, out: &mut Vec<u32>) {
        self.links.iter().for_each(|(_, ls)| out.extend_from_slice(ls));
    }
}

/// How one node turns what it received into what it sends, replayed event by event.
trait Rule {
    /// What a transfer carries.
    type M: Linked;
    /// Whether a label's value never depends on which other labels are tracked.
    const LABELS_INDEPENDENT: bool;
    /// Whether a node can send labelled value only while its balance holds a label it
    /// received (a balance emptied loses its labels), so that a node the exposure index
    /// shows never received any within the hops left sends none ([`Causal::holds_nothing`]).
    const BALANCE_BOUND: bool;
    /// A fresh replay of the node with this timeline.
    fn new(tl: &Timeline) -> Self;
    /// Event `i`, `e`, a transfer received carrying `p` (nothing when it is not followed).
    fn receive(&mut self, i: usize, e: &Ev, p: Self::M);
    /// Event `i`, `e`, a transfer sent: what it carries.
    fn send(&mut self, i: usize, e: &Ev) -> Self::M;
}

/// Haircut and poison: a balance of labelled parts; each transfer sent takes from it.
struct Balance<M> {
    /// Value received minus value sent (never below zero).
    bal: U256,
    parts: M,
}

impl<M: Linked> Rule for Balance<M> {
    type M = M;
    const LABELS_INDEPENDENT: bool = true;
    const BALANCE_BOUND: bool = true;
    fn new(_: &Timeline) -> Self {
        Balance { bal: U256::ZERO, parts: M::default() }
    }
    fn receive(&mut self, _: usize, e: &Ev, p: M) {
        self.bal = self.bal.saturating_add(e.amount);
        self.parts.absorb(p);
    }
    fn send(&mut self, _: usize, e: &Ev) -> M {
        if self.bal.is_zero() {
            return M::default();
        }
        let a = e.amount;
        let p = self.parts.take(a, self.bal);
        self.bal -= a.min(self.bal);
        p
    }
}

/// TIHO: the tainted value received goes to the highest-value transfers sent after it
/// arrived, each filled up to its amount; value received together (in one transaction) goes
/// nearer taint first. What no later transfer has room for stays at the node.
struct Tiho {
    /// Indices of the transfers sent, highest first (ties in replay order).
    order: Vec<u32>,
    /// Per event: the room left in a transfer sent.
    room: Vec<U256>,
    /// Taint received in the current transaction, not yet placed, and its (time, seq).
    pending: Traced,
    key: Option<(u32, u64)>,
    /// What each transfer sent carries so far.
    placed: FxHashMap<u32, Traced>,
}

impl Tiho {
    /// Places the pending taint in the transfers sent from event `i` on, highest first.
    fn pour(&mut self, i: usize) {
        self.key = None;
        if self.pending.is_empty() {
            return;
        }
        let Traced { parts, links } = std::mem::take(&mut self.pending);
        let links_of = |l: &Label| links.binary_search_by(|x| x.0.cmp(l)).ok().map(|i| &links[i].1);
        let mut parts = parts.0.into_iter();
        let Some(mut cur) = parts.next() else { return };
        for &k in &self.order {
            if (k as usize) < i || self.room[k as usize].is_zero() {
                continue;
            }
            let room = &mut self.room[k as usize];
            let got = self.placed.entry(k).or_default();
            while !room.is_zero() {
                let x = cur.1.min(*room);
                // Added in the order placed, as the transfer's parts are summed.
                got.add(&Traced::piece(cur.0, x, links_of(&cur.0)));
                *room -= x;
                cur.1 -= x;
                if cur.1.is_zero() {
                    match parts.next() {
                        Some(n) => cur = n,
                        None => return,
                    }
                }
            }
        }
    }
}

impl Rule for Tiho {
    type M = Traced;
    // Earlier taint may take the room nearer taint would have had.
    const LABELS_INDEPENDENT: bool = false;
    // Taint that arrived goes to the highest transfers sent after it, even after the balance
    // was emptied: the index's poison presence does not bound it.
    const BALANCE_BOUND: bool = false;
    fn new(tl: &Timeline) -> Self {
        let mut order: Vec<u32> =
            (0..tl.evs.len() as u32).filter(|&i| !tl.evs[i as usize].receipt).collect();
        order.sort_by(|&a, &b| {
            tl.evs[b as usize].amount.cmp(&tl.evs[a as usize].amount).then(a.cmp(&b))
        });
        let room = tl.evs.iter().map(|e| if e.receipt { U256::ZERO } else { e.amount }).collect();
        Tiho { order, room, pending: Traced::default(), key: None, placed: FxHashMap::default() }
    }
    fn receive(&mut self, i: usize, e: &Ev, p: Traced) {
        if self.key.is_some_and(|k| k != (e.time, e.seq)) {
            self.pour(i);
        }
        self.key = Some((e.time, e.seq));
        self.pending.absorb(p);
    }
    fn send(&mut self, i: usize, _: &Ev) -> Traced {
        self.pour(i);
        self.placed.remove(&(i as u32)).unwrap_or_default()
    }
}

/// One node's replay with labels of at most `budget` hops, advanced lazily.
struct State<R: Rule> {
    /// The next event to replay.
    cursor: usize,
    rule: R,
    /// The parts each transfer sent so far carried (only those with any), by event index:
    /// pushed in replay order, so sorted.
    sent: Vec<(u32, R::M)>,
}

impl<R: Rule> State<R> {
    fn new(tl: &Timeline) -> Self {
        State { cursor: 0, rule: R::new(tl), sent: Vec::new() }
    }

    /// What transfer `k` sent carried, when it carried anything.
    fn sent(&self, k: usize) -> Option<&R::M> {
        let k = k as u32;
        self.sent.binary_search_by_key(&k, |x| x.0).ok().map(|i| &self.sent[i].1)
    }
}

/// Where the trace ends at a node ([`Causal::at_end`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// It goes on through the node.
    No,
    /// One of the target's own nodes.
    Member,
    /// A tagged node: an origin.
    Tagged,
}

/// What one query learned of a node, asked once: a query meets a node again on every
/// transfer it replays with it, and asking the graph, the tags and the index each time (a
/// hash lookup or a key read each) was most of the cost of an event replayed.
struct Node {
    id: NodeId,
    /// Whether it is a transaction node.
    tx: bool,
    end: End,
    /// Its transfers, once read.
    tl: Option<Timeline>,
    /// When labels first reached it ([`Causal::holds_nothing`]), once asked.
    first: Option<FirstArrivals>,
    /// Its replays: (budget, index into [`Causal::states`]).
    replays: Vec<(u32, u32)>,
}

/// The state of one causal query.
struct Causal<'a, 'c, R: Rule> {
    ctx: &'a Ctx<'c>,
    /// Per node met: its index in `nodes`.
    slots: FxHashMap<NodeId, u32>,
    nodes: Vec<Node>,
    /// Timelines read (for the log and the tests).
    read: usize,
    /// Transaction nodes' times and where edge lists lie, found once per query
    /// ([`Graph::legs_cached`]).
    ///
    /// [`Graph::legs_cached`]: floodgate_graph::Graph::legs_cached
    legs: LegCache,
    /// Scratch for reading a node's transfers.
    raw: Vec<Leg>,
    /// Per transaction node asked about: [`Ctx::peel_tx`].
    peel_txs: FxHashMap<NodeId, Option<(NodeId, NodeId)>>,
    /// Every replay, (node, budget) → index kept in [`Node::replays`]; `None` while it is
    /// being advanced.
    states: Vec<Option<State<R>>>,
    /// `out`: the target's transfers sent that are tracked: (member, event index) → origin.
    seeds: FxHashMap<(NodeId, u32), u32>,
    backward: bool,
    min: U256,
    /// The exposure index, current for this graph and these tags (`in`, haircut and poison
    /// only).
    bound: Option<&'a ExposureIndex>,
    /// Steps answered by the index without reading their sender ([`Causal::holds_nothing`]).
    pruned: u64,
}

/// A bound on the recursion (every step back in it passes a transfer strictly earlier in
/// replay order, and all but transaction nodes and peel links cost a hop; this only guards
/// against a malformed graph).
fn max_depth(ctx: &Ctx<'_>) -> u32 {
    2 * (ctx.opts.hops + crate::exposure::PEEL_MAX_CHAIN) + 2
}

/// Stack kept free before a step of the recursion, and the stack added when less is left:
/// a peel chain is followed link by link, so the recursion is as deep as the chain is long.
const STACK_RED_ZONE: usize = 128 * 1024;
const STACK_GROWTH: usize = 4 * 1024 * 1024;

impl<R: Rule> Causal<'_, '_, R> {
    /// The index of node `n` in `nodes`, added when first met.
    fn slot(&mut self, n: NodeId) -> usize {
        let ctx = self.ctx;
        let nodes = &mut self.nodes;
        *self.slots.entry(n).or_insert_with(|| {
            let end = if ctx.members.contains(&n) {
                End::Member
            } else if ctx.tags.contains_key(&n) {
                End::Tagged
            } else {
                End::No
            };
            let tx = ctx.g.kind(n) == NodeKind::Transaction;
            nodes.push(Node { id: n, tx, end, tl: None, first: None, replays: Vec::new() });
            (nodes.len() - 1) as u32
        }) as usize
    }

    /// The timeline of the node at slot `x`, read when first asked.
    fn tl(&mut self, x: usize) -> &Timeline {
        let ctx = self.ctx;
        let node = &mut self.nodes[x];
        if node.tl.is_none() {
            self.read += 1;
        }
        let (raw, cache) = (&mut self.raw, &mut self.legs);
        node.tl.get_or_insert_with(|| Timeline::new(ctx, node.id, raw, cache))
    }

    fn timeline(&mut self, n: NodeId) -> &Timeline {
        let x = self.slot(n);
        self.tl(x)
    }

    /// The index in `states` of the replay of slot `x` at `budget`, when there is one.
    fn replay(&self, x: usize, budget: u32) -> Option<usize> {
        self.nodes[x].replays.iter().find(|r| r.0 == budget).map(|r| r.1 as usize)
    }

    /// Hops spent when value moves from `from` to `to`: the sender's cost tracing back
    /// (`in`), the receiver's tracing forward (`out`), peel links free.
    ///
    /// [`Ctx::step_cost`] reads a transaction's inputs and outputs to see whether it is a
    /// peel transaction, on every step into or out of it: a transaction node with `d` inputs
    /// cost `O(d²)` that way. A step can be a free peel link only from a peel transaction's
    /// one input (`in`) or to its large output (`out`), so the transaction's peel shape is
    /// read once per query here and every other step costs [`Ctx::cost`] without asking.
    fn edge_cost(&mut self, from: NodeId, to: NodeId) -> u32 {
        let (near, far) = if self.backward { (to, from) } else { (from, to) };
        let ctx = self.ctx;
        if ctx.opts.peel_chains && ctx.g.kind(near) == NodeKind::Transaction {
            let shape = *self.peel_txs.entry(near).or_insert_with(|| ctx.peel_tx(near));
            let link_end =
                shape.is_some_and(
                    |(input, large)| {
                        if self.backward {
                            input == far
                        } else {
                            large == far
                        }
                    },
                );
            if !link_end {
                let c = ctx.cost(far);
                // Not a link: asking costs nothing more (no link is recorded).
                debug_assert_eq!(c, ctx.step_cost(near, far), "a peel link missed");
                return c;
            }
        }
        ctx.step_cost(near, far)
    }

    /// The step cost of receipt `i` of slot `w` ([`Causal::edge_cost`] from its sender),
    /// asked of the context once per query.
    fn receipt_cost(&mut self, w: usize, i: usize) -> u32 {
        let ev = self.tl(w).evs[i];
        if ev.cost != UNKNOWN_COST {
            return u32::from(ev.cost);
        }
        let c = self.edge_cost(ev.nb, self.nodes[w].id);
        if let (Some(tl), Ok(k)) = (self.nodes[w].tl.as_mut(), u8::try_from(c)) {
            if k != UNKNOWN_COST {
                tl.evs[i].cost = k;
            }
        }
        c
    }

    /// The parts transfer `k` sent by slot `w` carried, hops counted to its receiver, of at
    /// most `budget` hops; `c` is the step's cost.
    fn carried(&mut self, w: usize, k: usize, c: u32, budget: u32, depth: u32) -> R::M {
        let ev = self.tl(w).evs[k];
        if c > budget || ev.amount < self.min || depth > max_depth(self.ctx) {
            return R::M::default();
        }
        if let Some(p) = self.at_end(w, Some(k), c, ev.amount) {
            return p;
        }
        let b = budget - c;
        // Under a balance rule a label's value does not depend on the other labels tracked,
        // so a replay with a larger budget that already passed `k` answers too: the
        // smallest such budget, as the replays at larger budgets were looked for in order.
        if R::LABELS_INDEPENDENT {
            let hops = self.ctx.opts.hops;
            let wider = self.nodes[w]
                .replays
                .iter()
                .filter(|&&(wb, si)| {
                    wb > b
                        && wb <= hops
                        && self.states[si as usize].as_ref().is_some_and(|s| s.cursor > k)
                })
                .min_by_key(|r| r.0)
                .map(|r| r.1 as usize);
            if let Some(si) = wider {
                return self.states[si]
                    .as_ref()
                    .and_then(|st| st.sent(k))
                    .map_or_else(R::M::default, |p| p.within(b).shifted(c));
            }
        }
        stacker::maybe_grow(STACK_RED_ZONE, STACK_GROWTH, || self.advance(w, b, k, depth));
        self.replay(w, b)
            .and_then(|si| self.states[si].as_ref())
            .and_then(|s| s.sent(k))
            .map_or_else(R::M::default, |p| p.shifted(c))
    }

    /// When slot `w` ends the trace (a member of the target, a tagged node): what its
    /// transfer of `amount` at event `k` carried, `c` hops counted to its receiver. `None`
    /// when the trace goes on through `w`, or when the answer needs `k` and it is not given.
    fn at_end(&self, w: usize, k: Option<usize>, c: u32, amount: U256) -> Option<R::M> {
        let node = &self.nodes[w];
        match node.end {
            End::No => None,
            // `in`: a round trip; `out`: the tracked value, if this transfer is tracked.
            End::Member if self.backward => Some(R::M::default()),
            End::Member => {
                let k = k?;
                Some(match self.seeds.get(&(node.id, k as u32)) {
                    Some(&o) => R::M::origin((c, o), amount),
                    None => R::M::default(),
                })
            }
            End::Tagged => Some(if self.backward {
                R::M::origin((c, node.id.0), amount)
            } else {
                R::M::default()
            }),
        }
    }

    /// What transfer `i` received by slot `w` carried, hops counted to `w`, of at most
    /// `budget` hops: [`Causal::carried`] at its sender, which it answers without reading the
    /// sender's transfers (to find which one it was) when the answer does not depend on them:
    /// a step that costs more than the budget, a round trip (`in`), a tagged sender. Most
    /// receipts of the nodes at the hop limit are such steps, and their senders' timelines
    /// were most of a query's work.
    fn received(&mut self, w: usize, i: usize, budget: u32, depth: u32) -> R::M {
        let ev = self.tl(w).evs[i];
        let place = (ev.time, ev.seq);
        // No label of at most `budget` hops reached `w` by then: this transfer brought none.
        if self.holds_nothing(w, budget, place) {
            return R::M::default();
        }
        // The checks of `carried`, in its order; `ev.amount` is the transfer's amount at
        // both ends.
        let c = self.receipt_cost(w, i);
        if c > budget || depth > max_depth(self.ctx) {
            return R::M::default();
        }
        let s = self.slot(ev.nb);
        let mut p = if let Some(p) = self.at_end(s, None, c, ev.amount) {
            p
        } else if self.holds_nothing(s, budget - c, place) {
            return R::M::default();
        } else {
            let to = self.nodes[w].id;
            match self.tl(s).find_send(to, &ev) {
                Some(j) => self.carried(s, j, c, budget, depth),
                None => {
                    tracing::warn!(target: "floodgate::trace::causal", node = to.0, "transfer not found at its other end");
                    R::M::default()
                }
            }
        };
        // A step into an address that costs no hop is a peel-chain link (the address is the
        // sender tracing `in`, the receiver tracing `out`): the value it carried passed it.
        let far = &self.nodes[if self.backward { s } else { w }];
        if c == 0 && !p.is_empty() && !far.tx {
            p.mark(far.id.0);
        }
        p
    }

    /// What transfer `i` received by `w` carried ([`Causal::received`]).
    fn received_by(&mut self, w: NodeId, i: usize, budget: u32) -> R::M {
        let x = self.slot(w);
        self.received(x, i, budget, 0)
    }

    /// Whether the exposure index shows that no label of at most `budget` hops had reached
    /// address slot `s` by `place` (time, then storage order), so that what `s` sent at
    /// `place` carried none (its transfers need not be read), and what it received there
    /// brought none.
    ///
    /// The index's pass replays every transfer of the asset in replay order with the same
    /// balances, hops and labels as this query, but for every tagged origin at once, and
    /// records at each address when poison labels of each hop count (up to 6) first arrived:
    /// the place of the transfer that brought them. This query's labels are the pass's
    /// minus some, or with more hops, transfer by transfer: its origins are the same tagged
    /// nodes (the index is current for these tags), and what differs only removes labels or
    /// adds hops — the target's own transfers carry none (round trips), transfers below the
    /// minimum are not followed, peel links cost a hop with `--no-peel-chains`, and a window
    /// removes the transfers before it (the balances in the window are then never above the
    /// pass's, so a send that empties the pass's balance empties the query's too) and after
    /// it (which nothing before them reads); a haircut part is non-zero only while the poison
    /// label of its origin is present. So by induction in replay order, a transfer that
    /// carries a label of `h` hops in this query carries its category's label of at most
    /// `h` hops in the pass, and when the pass's first arrival of labels of at most `budget`
    /// hops at `s` comes after `place`, nothing `s` held at `place` — what it received at
    /// earlier places and at `place` itself, which comes first at a node — holds one.
    /// Ties matter: a transfer `s` received at the same place as it sends one (two
    /// transfers of one account transaction) is not pruned.
    fn holds_nothing(&mut self, s: usize, budget: u32, place: Place) -> bool {
        if !R::BALANCE_BOUND {
            return false;
        }
        let asset = self.ctx.asset;
        let Some(idx) = self.bound else { return false };
        let node = &mut self.nodes[s];
        if node.tx {
            return false;
        }
        let id = node.id;
        let first = node.first.get_or_insert_with(|| idx.first_arrivals(id, asset));
        let none = first.before(budget, place);
        self.pruned += u64::from(none);
        none
    }

    /// Replays slot `w` with labels of at most `budget` hops up to and including event `k`.
    fn advance(&mut self, w: usize, budget: u32, k: usize, depth: u32) {
        let si = match self.replay(w, budget) {
            Some(si) => si,
            None => {
                self.states.push(None);
                let si = self.states.len() - 1;
                self.nodes[w].replays.push((budget, si as u32));
                si
            }
        };
        // Taken out while it advances (a replay met again deeper in the recursion starts
        // afresh and is then replaced by this one, as a map entry removed meanwhile would).
        let mut st = match self.states[si].take() {
            Some(st) => st,
            None => State::new(self.tl(w)),
        };
        while st.cursor <= k {
            let i = st.cursor;
            let ev = self.tl(w).evs[i];
            st.cursor += 1;
            if ev.receipt {
                let mut p = R::M::default();
                if ev.amount >= self.min && !ev.amount.is_zero() {
                    p = self.received(w, i, budget, depth + 1);
                }
                st.rule.receive(i, &ev, p);
            } else {
                let p = st.rule.send(i, &ev);
                if !p.is_empty() {
                    st.sent.push((i as u32, p));
                }
            }
        }
        self.states[si] = Some(st);
    }
}

/// Causal haircut, poison or TIHO exposure of the target set `members`.
///
/// `index`, when given, must be current for this graph and `ctx.tags` ([`IndexState`]): it
/// prunes the cone of `in` haircut and poison to the nodes that can hold a label
/// ([`Causal::holds_nothing`]); the result is the same.
///
/// [`IndexState`]: crate::IndexState
pub(crate) fn causal_exposure(
    ctx: &Ctx<'_>,
    members: &[NodeId],
    index: Option<&ExposureIndex>,
) -> Result3 {
    match ctx.opts.model {
        TaintModel::Poison => run::<Balance<Seen>>(ctx, members, true, index),
        TaintModel::Tiho => run::<Tiho>(ctx, members, false, None),
        _ => run::<Balance<Traced>>(ctx, members, false, index),
    }
}

fn run<R: Rule>(
    ctx: &Ctx<'_>,
    members: &[NodeId],
    poison: bool,
    index: Option<&ExposureIndex>,
) -> Result3
where
    R::M: Into<Carried>,
{
    let backward = ctx.opts.direction == Direction::In;
    let mut q: Causal<'_, '_, R> = Causal {
        ctx,
        slots: FxHashMap::default(),
        nodes: Vec::new(),
        read: 0,
        legs: LegCache::default(),
        raw: Vec::new(),
        peel_txs: FxHashMap::default(),
        states: Vec::new(),
        seeds: FxHashMap::default(),
        backward,
        min: ctx.opts.min_amount.as_u256(),
        bound: index.filter(|_| backward),
        pruned: 0,
    };
    let r = evaluate(&mut q, members, poison);
    let (timelines, replays, pruned) = (q.read, q.states.len(), q.pruned);
    tracing::debug!(target: "floodgate::trace::causal", timelines, replays, pruned, "causal query");
    #[cfg(test)]
    READ.with(|r| r.set((timelines, pruned)));
    r
}

#[cfg(test)]
thread_local! {
    /// The last query's node timelines read and steps pruned, for the tests.
    static READ: std::cell::Cell<(usize, u64)> = const { std::cell::Cell::new((0, 0)) };
}

fn evaluate<R: Rule>(q: &mut Causal<'_, '_, R>, members: &[NodeId], poison: bool) -> Result3
where
    R::M: Into<Carried>,
{
    let ctx = q.ctx;
    let backward = q.backward;
    let limit = ctx.opts.hops;
    let mut total = U256::ZERO;
    let mut accs: BTreeMap<RiskCategory, Acc> = BTreeMap::new();
    let mut attributed = U256::ZERO;
    // The peel-chain links the value found passed.
    let mut links: Vec<u32> = Vec::new();
    // The first transfers: (member, event index), the entity's own left out.
    let mut first: Vec<(NodeId, usize)> = Vec::new();
    for &m in members {
        let evs = &q.timeline(m).evs;
        for (i, e) in evs.iter().enumerate() {
            if e.receipt == backward && !(members.len() > 1 && ctx.is_own(e.nb)) {
                first.push((m, i));
            }
        }
    }
    if backward {
        for (m, i) in first {
            let ev = q.timeline(m).evs[i];
            total = total.saturating_add(ev.amount);
            if ev.amount < q.min || ev.amount.is_zero() {
                continue;
            }
            let p: Carried = q.received_by(m, i, limit).into();
            p.links_into(&mut links);
            attributed = attributed.saturating_add(attribute(&p, ev.amount, &mut accs, |o| {
                let n = NodeId(o);
                ctx.tags.get(&n).map(|&c| (c, n))
            }));
        }
        set_peel_links(ctx, links);
        let untraced = if poison { U256::ZERO } else { total.saturating_sub(attributed) };
        return (total, accs, untraced);
    }
    // `out`: the target's transfers sent are tracked; find the tagged nodes they can reach in
    // time within the limit, and what each of their receipts carried.
    let mut amounts: Vec<U256> = Vec::new();
    for (m, i) in &first {
        let ev = q.timeline(*m).evs[*i];
        total = total.saturating_add(ev.amount);
        q.seeds.insert((*m, *i as u32), amounts.len() as u32);
        amounts.push(ev.amount);
    }
    let reach = forward_reach(q, &first);
    let mut tagged: Vec<NodeId> =
        reach.keys().copied().filter(|n| ctx.tags.contains_key(n)).collect();
    tagged.sort();
    // Poison: per (category, tracked transfer), the nearest (hops, node) reached.
    let mut exposed: BTreeMap<(RiskCategory, u32), (u32, NodeId)> = BTreeMap::new();
    for v in tagged {
        let Some(&cat) = ctx.tags.get(&v) else { continue };
        let evs: Vec<(usize, Ev)> =
            q.timeline(v).evs.iter().copied().enumerate().filter(|(_, e)| e.receipt).collect();
        for (i, ev) in evs {
            let w = ev.nb;
            if ev.amount < q.min || ev.amount.is_zero() {
                continue;
            }
            // Only senders the tracked value can have reached before this transfer.
            let reached = ctx.members.contains(&w)
                || reach
                    .get(&w)
                    .is_some_and(|&(d, t, s)| d <= limit && (ev.time, ev.seq) >= (t, s));
            if !reached {
                continue;
            }
            let p: Carried = q.received_by(v, i, limit).into();
            p.links_into(&mut links);
            match p {
                Carried::Parts(ps) => {
                    for ((h, _), x) in ps.parts.0 {
                        accs.entry(cat).or_default().add(v, x, h);
                        attributed = attributed.saturating_add(x);
                    }
                }
                Carried::Present(ps) => {
                    for (o, &h) in ps.present.0.iter() {
                        let e = exposed.entry((cat, o)).or_insert((h, v));
                        *e = (*e).min((h, v));
                    }
                }
            }
        }
    }
    set_peel_links(ctx, links);
    if poison {
        for ((cat, o), (h, v)) in exposed {
            accs.entry(cat).or_default().add(v, amounts[o as usize], h);
        }
        return (total, accs, U256::ZERO);
    }
    (total, accs, total.saturating_sub(attributed))
}

/// Records the peel-chain links the value found passed as the report's
/// ([`crate::ExposureReport::peel_links`]), not the links the trace met on its way (which
/// depend on how much of the cone it read).
fn set_peel_links(ctx: &Ctx<'_>, links: Vec<u32>) {
    let mut peel = ctx.peel.borrow_mut();
    peel.clear();
    peel.extend(links.into_iter().map(NodeId));
}

/// What a transfer carried, under either model.
enum Carried {
    Parts(Traced),
    Present(Seen),
}

impl From<Traced> for Carried {
    fn from(p: Traced) -> Self {
        Carried::Parts(p)
    }
}

impl From<Seen> for Carried {
    fn from(p: Seen) -> Self {
        Carried::Present(p)
    }
}

impl Carried {
    fn links_into(&self, out: &mut Vec<u32>) {
        match self {
            Carried::Parts(p) => p.links_into(out),
            Carried::Present(p) => p.links_into(out),
        }
    }
}

/// Adds what one first transfer of `amount` carried (`in`) to the categories; returns the
/// value attributed. Haircut: each part to its origin's category. Poison: the whole
/// transfer to each category present, once, at its nearest origin.
fn attribute(
    p: &Carried,
    amount: U256,
    accs: &mut BTreeMap<RiskCategory, Acc>,
    origin: impl Fn(u32) -> Option<(RiskCategory, NodeId)>,
) -> U256 {
    let mut sum = U256::ZERO;
    match p {
        Carried::Parts(ps) => {
            for &((h, o), v) in &ps.parts.0 {
                let Some((c, n)) = origin(o) else { continue };
                accs.entry(c).or_default().add(n, v, h);
                sum = sum.saturating_add(v);
            }
        }
        Carried::Present(ps) => {
            let mut best: BTreeMap<RiskCategory, (u32, NodeId)> = BTreeMap::new();
            for (o, &h) in ps.present.0.iter() {
                let Some((c, n)) = origin(o) else { continue };
                let e = best.entry(c).or_insert((h, n));
                *e = (*e).min((h, n));
            }
            for (c, (h, n)) in best {
                accs.entry(c).or_default().add(n, amount, h);
            }
        }
    }
    sum
}

/// `out`: the nodes the tracked value can reach within the hop limit, each with the fewest
/// hops and the earliest (time, seq) at which it can arrive there (bounds taken over all
/// walks, so a superset of what it reaches; tagged nodes and the target end the walk).
fn forward_reach<R: Rule>(
    q: &mut Causal<'_, '_, R>,
    first: &[(NodeId, usize)],
) -> FxHashMap<NodeId, (u32, u32, u64)> {
    let ctx = q.ctx;
    let limit = ctx.opts.hops;
    let mut best: FxHashMap<NodeId, (u32, u32, u64)> = FxHashMap::default();
    let mut queue: VecDeque<NodeId> = VecDeque::new();
    type Best = FxHashMap<NodeId, (u32, u32, u64)>;
    let relax =
        |n: NodeId, d: u32, t: (u32, u64), best: &mut Best, queue: &mut VecDeque<NodeId>| {
            if d > limit || ctx.members.contains(&n) {
                return;
            }
            match best.get_mut(&n) {
                Some(b) => {
                    if d < b.0 || t < (b.1, b.2) {
                        b.0 = b.0.min(d);
                        if t < (b.1, b.2) {
                            (b.1, b.2) = t;
                        }
                        queue.push_back(n);
                    }
                }
                None => {
                    best.insert(n, (d, t.0, t.1));
                    queue.push_back(n);
                }
            }
        };
    for &(m, i) in first {
        let ev = q.timeline(m).evs[i];
        if ev.amount >= q.min && !ev.amount.is_zero() {
            let d = q.edge_cost(m, ev.nb);
            relax(ev.nb, d, (ev.time, ev.seq), &mut best, &mut queue);
        }
    }
    let mut legs: Vec<Leg> = Vec::new();
    while let Some(u) = queue.pop_front() {
        if ctx.tags.contains_key(&u) {
            continue;
        }
        let Some(&(d, t, s)) = best.get(&u) else { continue };
        legs.clear();
        ctx.g.legs(u, false, ctx.asset, &mut legs);
        for l in &legs {
            if l.nb == u || l.amount < q.min || l.amount.is_zero() || !ctx.in_window(l.time) {
                continue;
            }
            if (l.time, l.seq) < (t, s) {
                continue;
            }
            let c = q.edge_cost(u, l.nb);
            relax(l.nb, d + c, (l.time, l.seq), &mut best, &mut queue);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use floodgate_graph::{EdgeInput, Graph, GraphBuilder};
    use floodgate_types::{Amount, Chain, Hash32};

    use super::*;
    use crate::{build_index, exposure, exposure_indexed, ExposureOptions};

    /// Scam S pays A, A pays the target T; 20 clean addresses (each paid by a clean funder)
    /// pay T too. With the index, the trace into T does not read the clean senders' transfers
    /// (it answers them from the index) and gives the same report.
    #[test]
    fn the_index_prunes_the_clean_part_of_the_cone() {
        let dir = tempfile::tempdir().unwrap();
        let empty = Graph::open_or_empty(dir.path()).unwrap();
        let mut b = GraphBuilder::new(Some(&empty));
        let node = |b: &mut GraphBuilder<'_>, i: u32| {
            b.node(&format!("0x{i:040x}"), NodeKind::Address).unwrap()
        };
        let (s, a, t) = (node(&mut b, 1), node(&mut b, 2), node(&mut b, 3));
        let mut time = 1_700_000_000;
        let mut pay = |b: &mut GraphBuilder<'_>, from: NodeId, to: NodeId, v: u64| {
            time += 10;
            let e = EdgeInput {
                amount: Amount::from(v),
                time: Some(time),
                asset: "ETH",
                txid: Hash32([(time % 251) as u8; 32]),
                chain: Chain::Ethereum,
            };
            b.add_edge(from, to, &e).unwrap();
        };
        pay(&mut b, s, a, 10);
        pay(&mut b, a, t, 10);
        for i in 0..20 {
            let (funder, c) = (node(&mut b, 100 + i), node(&mut b, 200 + i));
            pay(&mut b, funder, c, 7);
            pay(&mut b, c, t, 5);
        }
        b.commit(&empty, Default::default()).unwrap();
        let g = Graph::open(dir.path()).unwrap();
        let (tags, idx) = scam_index(dir.path(), &g, s);
        // Unpruned: T, A, the 20 clean senders and their funders (S, tagged, is not read).
        assert_pruned_same(&g, &tags, &idx, t, 10, 42, (2, 20));
    }

    /// The target T received 5 from scam S, then 5 from B; B sent it before the scam's value
    /// reached B (S pays A, A pays B, later). The fewest hops alone does not prune B (its
    /// scam value is 2 hops away, within the 2 hops left there); when it arrived does: the
    /// trace reads T alone, and gives the unpruned report.
    #[test]
    fn the_index_prunes_a_send_made_before_the_value_arrived() {
        let dir = tempfile::tempdir().unwrap();
        let empty = Graph::open_or_empty(dir.path()).unwrap();
        let mut b = GraphBuilder::new(Some(&empty));
        let mut nodes = Vec::new();
        for i in 0..6u32 {
            nodes.push(b.node(&format!("0x{i:040x}"), NodeKind::Address).unwrap());
        }
        let [s, t, f, bb, a, x] = nodes[..] else { unreachable!() };
        let transfers = [(s, t, 5), (f, bb, 7), (bb, t, 5), (s, a, 10), (a, bb, 10), (bb, x, 12)];
        for (i, &(from, to, v)) in transfers.iter().enumerate() {
            let e = EdgeInput {
                amount: Amount::from(v as u64),
                time: Some(1_700_000_000 + 10 * i as i64),
                asset: "ETH",
                txid: Hash32([i as u8; 32]),
                chain: Chain::Ethereum,
            };
            b.add_edge(from, to, &e).unwrap();
        }
        b.commit(&empty, Default::default()).unwrap();
        let g = Graph::open(dir.path()).unwrap();
        let (tags, idx) = scam_index(dir.path(), &g, s);
        assert_eq!(idx.first_arrivals(bb, "ETH"), {
            let mut f = FirstArrivals::NONE;
            f.arrived(2, (1_700_000_040, idx_seq(&g, a, bb)));
            f
        });
        // Unpruned: T, B and F (S is tagged).
        assert_pruned_same(&g, &tags, &idx, t, 5, 3, (1, 1));
    }

    /// `s` tagged scam, and the exposure index of `g` for that tag, built in `dir`.
    fn scam_index(
        dir: &std::path::Path,
        g: &Graph,
        s: NodeId,
    ) -> (HashMap<NodeId, RiskCategory>, ExposureIndex) {
        let tags = HashMap::from([(s, RiskCategory::Scam)]);
        let path = dir.join(crate::INDEX_FILE);
        build_index(g, &tags, &path).unwrap();
        (tags, ExposureIndex::open(&path).unwrap())
    }

    /// For haircut and poison, 3 hops into `t`: the pruned trace gives the unpruned report,
    /// whose first category holds `value`; the unpruned trace read `full` timelines, the
    /// pruned one `read` and pruned `pruned` senders.
    fn assert_pruned_same(
        g: &Graph,
        tags: &HashMap<NodeId, RiskCategory>,
        idx: &ExposureIndex,
        t: NodeId,
        value: u64,
        full: usize,
        (read, pruned): (usize, u64),
    ) {
        for model in [TaintModel::Haircut, TaintModel::Poison] {
            let opts = ExposureOptions { hops: 3, model, ..ExposureOptions::default() };
            let want = exposure(g, tags, t, &opts).unwrap();
            let (full_read, _) = READ.with(std::cell::Cell::get);
            let (got, used) = exposure_indexed(g, tags, idx, t, &opts).unwrap();
            let got_read = READ.with(std::cell::Cell::get);
            assert!(used);
            assert_eq!(got, want, "{model:?}");
            assert_eq!(want[0].categories[0].value, Amount::from(value), "{want:?}");
            assert_eq!(full_read, full, "{model:?}");
            assert_eq!(got_read, (read, pruned), "{model:?}");
        }
    }

    /// The storage place of the transfer `from` → `to` (the only one).
    fn idx_seq(g: &Graph, from: NodeId, to: NodeId) -> u64 {
        let mut legs = Vec::new();
        g.legs(from, false, "ETH", &mut legs);
        legs.iter().find(|l| l.nb == to).map(|l| l.seq).unwrap()
    }
}
