//! The order taint models FIFO and LIFO, and TIHO (taint in, highest out). Definitions, worked
//! examples and costs: `docs/taint-models.md`; haircut and poison live in `exposure.rs`.
//!
//! - **FIFO / LIFO** route *coins*: at every node the transfers received form a queue in
//!   order of arrival (time, then storage order); each transfer sent takes a contiguous block
//!   from the front (FIFO) or the back (LIFO) of what had arrived at or before its time, and
//!   value beyond that is untraced. This routing depends only on amounts and times, never on
//!   taint, so a coin has exactly one history and a trace follows it back (`in`) or forward
//!   (`out`) hop by hop: [`NodeFlows`] reads one node's transfers once per query and
//!   simulates its queue only as far as the query asks.
//! - **TIHO** pours the tainted value a node received into its largest outgoing transfers
//!   first, over every walk within the hop limit: a memoized recursion on (node, hops left),
//!   which ends because every cycle passes an address (one hop).
//!
//! All arithmetic is exact on 256-bit integers (a FIFO or LIFO routing on `u128` when all a
//! node received fits in it); per node and category no transfer carries more value than the
//! node received.

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, VecDeque};

use ruint::aliases::U256;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::exposure::{Acc, Ctx, Result3};
use floodgate_graph::{NodeId, NodeKind};
use floodgate_types::RiskCategory;

use crate::Direction;

/// Which end of a node's queue a transfer takes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Oldest value first.
    Fifo,
    /// Newest value first.
    Lifo,
}

/// One transfer as seen from one of its ends.
#[derive(Debug, Clone, Copy)]
struct Flow {
    /// The node at the other end.
    nb: NodeId,
    amount: U256,
    /// Unix seconds; 0 = unknown (sorts first).
    time: u32,
}

/// The transfers on one side of a node (received, or sent), in (time, storage order).
///
/// The two ends of a transfer are matched by `(other end, time, amount)` plus the rank among
/// the transfers sharing that key: transfers alike in all of these are interchangeable, so
/// matching them by rank is consistent at both ends whatever order storage gives them. Alike
/// transfers share a time, so they lie in one run of equal times: a transfer is found by a
/// binary search of its time and a scan of that run, and its rank counted in the run; only a
/// run longer than [`LONG_RUN`] met by a search builds a sorted index of that run (every
/// side reached was sorted whole before: O(d log d) comparisons of 256-bit keys per hub).
struct Side {
    flows: Vec<Flow>,
    /// Per run of equal times longer than [`LONG_RUN`] met by a search (keyed by its first
    /// flow), built on first need: the run's flows sorted by (nb, amount, index), and each
    /// one's rank among the run's flows with the same (nb, amount). Only that run is
    /// sorted: a hub's whole side was (an O(d log d) sort of 256-bit keys, a fifth of the
    /// slowest query at 50M, for one long run of a few hundred transfers).
    runs: RefCell<FxHashMap<u32, KeyIndex>>,
}

/// See [`Side::runs`].
struct KeyIndex {
    /// Indices into the side's flows.
    by_key: Vec<u32>,
    /// By place in the run.
    rank: Vec<u32>,
}

/// A run of equal times longer than this is searched through a [`KeyIndex`].
const LONG_RUN: usize = 32;

/// Identifies one transfer at either end: the other end, time, amount and rank.
#[derive(Debug, Clone, Copy)]
struct EdgeKey {
    nb: NodeId,
    time: u32,
    amount: U256,
    rank: u32,
}

impl Side {
    fn new(ctx: &Ctx<'_>, n: NodeId, incoming: bool) -> Side {
        // Read straight into the side's flows (a hub's side was copied whole once more).
        let mut flows = Vec::with_capacity(ctx.g.side_len_hint(n, incoming));
        ctx.g.for_each_neighbour(n, incoming, ctx.asset, true, |nb, amount, time| {
            if in_window(ctx, time) {
                flows.push(Flow { nb, amount, time });
            }
        });
        Side::from_flows(flows)
    }

    /// The side of these flows, in storage order.
    fn from_flows(mut flows: Vec<Flow>) -> Side {
        // Stable: equal times keep storage order. (Linear when storage order is time order.)
        flows.sort_by_key(|f| f.time);
        Side { flows, runs: RefCell::new(FxHashMap::default()) }
    }

    /// Calls `f` with the index of the run `[a, b)` of equal times, built on first use.
    fn with_run_index<R>(&self, a: usize, b: usize, f: impl FnOnce(&KeyIndex) -> R) -> R {
        let mut runs = self.runs.borrow_mut();
        let ix = runs.entry(a as u32).or_insert_with(|| {
            let flows = &self.flows;
            let mut by_key: Vec<u32> = (a as u32..b as u32).collect();
            // The index ends every key, so no two are equal: an unstable sort gives the same.
            by_key.sort_unstable_by(|&x, &y| {
                let (p, q) = (&flows[x as usize], &flows[y as usize]);
                (p.nb, p.amount, x).cmp(&(q.nb, q.amount, y))
            });
            let mut rank = vec![0u32; b - a];
            for w in 1..by_key.len() {
                let (x, y) = (by_key[w - 1] as usize, by_key[w] as usize);
                let (p, c) = (&flows[x], &flows[y]);
                if (p.nb, p.amount) == (c.nb, c.amount) {
                    rank[y - a] = rank[x - a] + 1;
                }
            }
            KeyIndex { by_key, rank }
        });
        f(ix)
    }

    /// The run `[a, b)` of flows at time `t`.
    fn run(&self, t: u32) -> (usize, usize) {
        let a = self.flows.partition_point(|f| f.time < t);
        let b = a + self.flows[a..].partition_point(|f| f.time <= t);
        (a, b)
    }

    /// Flow `i`'s rank among the flows alike in (nb, time, amount).
    fn rank(&self, i: usize) -> u32 {
        let f = &self.flows[i];
        let mut r = 0u32;
        for (steps, g) in self.flows[..i].iter().rev().enumerate() {
            if g.time != f.time {
                return r;
            }
            if steps >= LONG_RUN {
                return self.rank_indexed(i);
            }
            r += u32::from(g.nb == f.nb && g.amount == f.amount);
        }
        r
    }

    /// [`Side::rank`] from its run's index.
    fn rank_indexed(&self, i: usize) -> u32 {
        let (a, b) = self.run(self.flows[i].time);
        self.with_run_index(a, b, |ix| ix.rank[i - a])
    }

    /// The key of flow `i` as the other end sees it (with `me` as its neighbour).
    fn key_from(&self, i: usize, me: NodeId) -> EdgeKey {
        let f = &self.flows[i];
        EdgeKey { nb: me, time: f.time, amount: f.amount, rank: self.rank(i) }
    }

    /// The index of the flow with key `k`, when present.
    fn find(&self, k: &EdgeKey) -> Option<usize> {
        let (a, b) = self.run(k.time);
        if b - a > LONG_RUN {
            return self.find_indexed(k);
        }
        let mut r = k.rank;
        for (i, f) in self.flows[a..b].iter().enumerate() {
            if f.nb == k.nb && f.amount == k.amount {
                if r == 0 {
                    return Some(a + i);
                }
                r -= 1;
            }
        }
        None
    }

    /// [`Side::find`] through its run's index.
    fn find_indexed(&self, k: &EdgeKey) -> Option<usize> {
        let (a, b) = self.run(k.time);
        if a == b {
            // No flow at that time (and no run index is keyed by an empty run).
            return None;
        }
        self.with_run_index(a, b, |ix| {
            let key = (k.nb, k.amount);
            let first = ix.by_key.partition_point(|&i| {
                let f = &self.flows[i as usize];
                (f.nb, f.amount) < key
            });
            let i = *ix.by_key.get(first + k.rank as usize)? as usize;
            let f = &self.flows[i];
            ((f.nb, f.amount) == key).then_some(i)
        })
    }
}

/// Whether a transfer at time `t` (0 = unknown) is inside the query's window.
fn in_window(ctx: &Ctx<'_>, t: u32) -> bool {
    let (since, until) = (ctx.opts.since, ctx.opts.until);
    if since.is_none() && until.is_none() {
        return true;
    }
    // Time 0 is "unknown": such a transfer is outside any window (as for haircut).
    let t = i64::from(t);
    t != 0 && since.is_none_or(|s| t >= s) && until.is_none_or(|u| t <= u)
}

/// A count of coins in one node's routing: `u128` when everything the node received fits in
/// it (then so does every offset and length of its routing), 256 bits otherwise.
trait Coins:
    Copy + Ord + std::ops::Add<Output = Self> + std::ops::Sub<Output = Self> + std::ops::AddAssign
{
    const ZERO: Self;
    /// `v`, which the caller knows fits (at most the node's received total).
    fn narrow(v: U256) -> Self;
    fn widen(self) -> U256;
    fn is_zero(self) -> bool {
        self == Self::ZERO
    }
}

impl Coins for u128 {
    const ZERO: u128 = 0;
    fn narrow(v: U256) -> u128 {
        v.saturating_to()
    }
    fn widen(self) -> U256 {
        U256::from(self)
    }
}

impl Coins for U256 {
    const ZERO: U256 = U256::ZERO;
    fn narrow(v: U256) -> U256 {
        v
    }
    fn widen(self) -> U256 {
        self
    }
}

/// A block of coins: `len` coins of received transfer `inn` from offset `in_off`, carried by
/// sent transfer `out` from offset `out_off`.
#[derive(Debug, Clone, Copy)]
struct Piece<C> {
    out: u32,
    out_off: C,
    inn: u32,
    in_off: C,
    len: C,
}

/// One node's FIFO or LIFO routing: which coins of which received transfer each sent
/// transfer carries.
///
/// The routing is simulated lazily, in time order, only as far as the query asks: tracing
/// back from sent transfer `k` needs the queue up to `k`'s turn, not the transfers sent after
/// it (a hub's whole routing was the cost of the slowest queries). Tracing forward needs
/// every piece of a received transfer, so it completes the simulation first. Counts are
/// `u128` when the node's received total fits ([`Coins`]).
struct NodeFlows {
    ins: Side,
    outs: Side,
    order: Order,
    is_address: bool,
    route: Route,
}

/// A routing on the narrowest [`Coins`] that holds it.
enum Route {
    Narrow(Routing<u128>),
    Wide(Routing<U256>),
}

/// The state of one node's routing, simulated as far as asked.
struct Routing<C> {
    /// What the node received (in the window): no piece reaches beyond it.
    total: U256,
    /// Sorted by (out, out_off); `out_start[k]..out_start[k + 1]` are transfer k's pieces,
    /// for the `out_start.len() - 1` sent transfers simulated so far.
    by_out: Vec<Piece<C>>,
    out_start: Vec<u32>,
    /// The simulation's queue after the transfers simulated so far.
    queue: VecDeque<Item<C>>,
    /// The first received transfer not yet queued.
    next_in: usize,
    /// Built once the simulation is complete, on first use (forward): indices into `by_out`,
    /// sorted by (inn, in_off); `in_start` as `out_start`.
    by_in: OnceCell<(Vec<u32>, Vec<u32>)>,
}

/// One queue entry: coins `[off, off + len)` of received transfer `inn`.
#[derive(Debug, Clone, Copy)]
struct Item<C> {
    inn: u32,
    off: C,
    len: C,
}

impl NodeFlows {
    /// The side facing the target: received transfers for `in`, sent ones for `out`.
    fn side(&self, backward: bool) -> &Side {
        if backward {
            &self.ins
        } else {
            &self.outs
        }
    }

    /// The node's two sides, nothing routed yet.
    fn new(ctx: &Ctx<'_>, n: NodeId, order: Order) -> NodeFlows {
        let is_address = ctx.g.kind(n) == NodeKind::Address;
        NodeFlows::from_sides(Side::new(ctx, n, true), Side::new(ctx, n, false), order, is_address)
    }

    /// The routing of a node with these sides, nothing routed yet.
    fn from_sides(ins: Side, outs: Side, order: Order, is_address: bool) -> NodeFlows {
        let total = ins.flows.iter().try_fold(U256::ZERO, |t, f| t.checked_add(f.amount));
        let route = match total {
            Some(t) if t <= U256::from(u128::MAX) => Route::Narrow(Routing::new(t)),
            // The sum is capped where it overflows: no routing reaches it.
            t => Route::Wide(Routing::new(t.unwrap_or(U256::MAX))),
        };
        NodeFlows { ins, outs, order, is_address, route }
    }

    /// Simulates the sent transfers up to and including `last` (all when past the end).
    #[cfg(test)]
    fn simulate_through(&mut self, last: usize) {
        let NodeFlows { ins, outs, order, is_address, route } = self;
        match route {
            Route::Narrow(r) => r.simulate_through(ins, outs, *order, *is_address, last),
            Route::Wide(r) => r.simulate_through(ins, outs, *order, *is_address, last),
        }
    }

    /// Coins `[lo, hi)` of sent transfer `k`, back to the received transfers that funded
    /// them: `(received index, lo, hi)`; returns the part no received value funded.
    fn back(&mut self, k: usize, lo: U256, hi: U256, out: &mut Vec<(usize, U256, U256)>) -> U256 {
        let NodeFlows { ins, outs, order, is_address, route } = self;
        match route {
            Route::Narrow(r) => {
                r.simulate_through(ins, outs, *order, *is_address, k);
                r.back(k, lo, hi, out)
            }
            Route::Wide(r) => {
                r.simulate_through(ins, outs, *order, *is_address, k);
                r.back(k, lo, hi, out)
            }
        }
    }

    /// Coins `[lo, hi)` of received transfer `i`, forward to the sent transfers that carried
    /// them: `(sent index, lo, hi)`; returns the part still held (never sent on).
    fn forward(
        &mut self,
        i: usize,
        lo: U256,
        hi: U256,
        out: &mut Vec<(usize, U256, U256)>,
    ) -> U256 {
        let NodeFlows { ins, outs, order, is_address, route } = self;
        match route {
            Route::Narrow(r) => {
                r.simulate_through(ins, outs, *order, *is_address, usize::MAX);
                r.forward(ins.flows.len(), i, lo, hi, out)
            }
            Route::Wide(r) => {
                r.simulate_through(ins, outs, *order, *is_address, usize::MAX);
                r.forward(ins.flows.len(), i, lo, hi, out)
            }
        }
    }
}

impl<C: Coins> Routing<C> {
    fn new(total: U256) -> Routing<C> {
        Routing {
            total,
            by_out: Vec::new(),
            out_start: vec![0],
            queue: VecDeque::new(),
            next_in: 0,
            by_in: OnceCell::new(),
        }
    }

    /// Simulates the sent transfers up to and including `last` (all of them when past the
    /// end), from where the simulation stopped.
    fn simulate_through(
        &mut self,
        ins: &Side,
        outs: &Side,
        order: Order,
        is_address: bool,
        last: usize,
    ) {
        let Routing { total, by_out, out_start, queue, next_in, .. } = self;
        let end = outs.flows.len().min(last.saturating_add(1));
        let start = out_start.len() - 1;
        if end <= start {
            return;
        }
        // Every piece either ends a sent transfer's need or empties a received transfer's
        // queue entry: the pieces made here fit in what is reserved (a hub's list was
        // copied each time it doubled).
        by_out.reserve((end - start) + (ins.flows.len() - *next_in) + queue.len());
        out_start.reserve(end - start);
        for k in start..end {
            let o = &outs.flows[k];
            while let Some(f) = ins.flows.get(*next_in).filter(|f| f.time <= o.time) {
                let len = C::narrow(f.amount);
                queue.push_back(Item { inn: *next_in as u32, off: C::ZERO, len });
                *next_in += 1;
            }
            // A transfer is never funded by value that arrived at the same time from the
            // node it pays: an address's input into UTXO transaction X never takes X's own
            // outputs (its change), a self-transfer never funds itself, and a same-time
            // return never funds its own cause. (A transaction node's inputs do fund its
            // outputs.)
            let allowed = |it: &Item<C>| {
                let f = &ins.flows[it.inn as usize];
                !(is_address && f.nb == o.nb && f.time == o.time)
            };
            // No transfer takes more than the node received.
            let mut need = C::narrow(o.amount.min(*total));
            // The pieces are made straight into `by_out`, their offsets in the sent
            // transfer set once they are in queue order.
            let first = by_out.len();
            let piece =
                |inn, in_off, len| Piece { out: k as u32, out_off: C::ZERO, inn, in_off, len };
            match order {
                Order::Fifo => {
                    let mut j = 0;
                    while !need.is_zero() && j < queue.len() {
                        let it = &mut queue[j];
                        if !allowed(it) {
                            j += 1;
                            continue;
                        }
                        let l = need.min(it.len);
                        by_out.push(piece(it.inn, it.off, l));
                        it.off += l;
                        it.len = it.len - l;
                        need = need - l;
                        if it.len.is_zero() {
                            // At either end, `VecDeque::remove` moves nothing.
                            queue.remove(j);
                        }
                    }
                }
                Order::Lifo => {
                    let mut j = queue.len();
                    while !need.is_zero() && j > 0 {
                        j -= 1;
                        let it = &mut queue[j];
                        if !allowed(it) {
                            continue;
                        }
                        let l = need.min(it.len);
                        // The newest coins are the end of the item.
                        by_out.push(piece(it.inn, it.off + it.len - l, l));
                        it.len = it.len - l;
                        need = need - l;
                        if it.len.is_zero() {
                            // At either end, `VecDeque::remove` moves nothing.
                            queue.remove(j);
                        }
                    }
                    // Taken back to front; a transfer carries its block in queue order.
                    by_out[first..].reverse();
                }
            }
            let mut off = C::ZERO;
            for p in &mut by_out[first..] {
                p.out_off = off;
                off += p.len;
            }
            out_start.push(by_out.len() as u32);
        }
    }

    /// [`NodeFlows::back`], `k` simulated.
    fn back(&self, k: usize, lo: U256, hi: U256, out: &mut Vec<(usize, U256, U256)>) -> U256 {
        let ps = &self.by_out[self.out_start[k] as usize..self.out_start[k + 1] as usize];
        // Every piece lies below the node's received total: coins beyond it are unfunded.
        let (l, h) = (C::narrow(lo.min(self.total)), C::narrow(hi.min(self.total)));
        let first = ps.partition_point(|p| p.out_off + p.len <= l);
        let mut covered = U256::ZERO;
        for p in &ps[first..] {
            if p.out_off >= h {
                break;
            }
            let (a, b) = (l.max(p.out_off), h.min(p.out_off + p.len));
            let (x, y) =
                ((p.in_off + (a - p.out_off)).widen(), (p.in_off + (b - p.out_off)).widen());
            out.push((p.inn as usize, x, y));
            covered += y - x;
        }
        (hi - lo) - covered
    }

    /// [`NodeFlows::forward`], the whole node simulated.
    fn forward(
        &self,
        received: usize,
        i: usize,
        lo: U256,
        hi: U256,
        out: &mut Vec<(usize, U256, U256)>,
    ) -> U256 {
        let by_out = &self.by_out;
        let (by_in, in_start) = self.by_in.get_or_init(|| by_received(by_out, received));
        let ps = &by_in[in_start[i] as usize..in_start[i + 1] as usize];
        // A received transfer's coins lie below the node's received total.
        let (l, h) = (C::narrow(lo.min(self.total)), C::narrow(hi.min(self.total)));
        let first = ps.partition_point(|&p| {
            let p = &by_out[p as usize];
            p.in_off + p.len <= l
        });
        let mut covered = U256::ZERO;
        for &p in &ps[first..] {
            let p = &by_out[p as usize];
            if p.in_off >= h {
                break;
            }
            let (a, b) = (l.max(p.in_off), h.min(p.in_off + p.len));
            let (x, y) =
                ((p.out_off + (a - p.in_off)).widen(), (p.out_off + (b - p.in_off)).widen());
            out.push((p.out as usize, x, y));
            covered += y - x;
        }
        (hi - lo) - covered
    }
}

/// The pieces `by_out` (in the order made) sorted by (received transfer, offset in it), as
/// indices, and where each of the `received` transfers' pieces start (one more entry at the
/// end): a stable sort by that key, made as a counting sort by received transfer, after
/// which a transfer's pieces are usually in offset order already (FIFO takes a received
/// transfer's coins front to back) or in reverse (LIFO, back to front); any other run is
/// sorted. A comparison sort of every piece was a sixth of a busy node's routing.
fn by_received<C: Coins>(by_out: &[Piece<C>], received: usize) -> (Vec<u32>, Vec<u32>) {
    let mut start = vec![0u32; received + 1];
    for p in by_out {
        start[p.inn as usize + 1] += 1;
    }
    for i in 1..start.len() {
        start[i] += start[i - 1];
    }
    let mut at = start.clone();
    let mut by_in = vec![0u32; by_out.len()];
    for (j, p) in by_out.iter().enumerate() {
        let a = &mut at[p.inn as usize];
        by_in[*a as usize] = j as u32;
        *a += 1;
    }
    let off = |p: &u32| by_out[*p as usize].in_off;
    for w in start.windows(2) {
        let run = &mut by_in[w[0] as usize..w[1] as usize];
        if run.len() < 2 || run.windows(2).all(|x| off(&x[0]) <= off(&x[1])) {
            continue;
        }
        if run.windows(2).all(|x| off(&x[0]) > off(&x[1])) {
            // Strictly decreasing: reversed, it is what a stable sort gives.
            run.reverse();
        } else {
            run.sort_by_key(off);
        }
    }
    (by_in, start)
}

/// The transfers through which value reached (`in`) or left (`out`) the target set, as
/// `(member, index on the member's side)`. For an entity, transfers between its members and
/// UTXO transactions that also spend from (or pay to) it are its own and left out.
fn first_flows<'a, F>(ctx: &Ctx<'_>, members: &[NodeId], mut flows_of: F) -> Vec<(NodeId, usize)>
where
    F: FnMut(NodeId) -> &'a Side,
{
    let mut first = Vec::new();
    for &m in members {
        let side = flows_of(m);
        for (i, f) in side.flows.iter().enumerate() {
            if members.len() > 1 && ctx.is_own(f.nb) {
                continue;
            }
            first.push((m, i));
        }
    }
    first
}

/// The hops of the steps a FIFO, LIFO or TIHO (ignoring time) trace takes, as
/// [`Ctx::step_cost`] charges them, each asked of the context once per query.
///
/// [`Ctx::step_cost`] reads a transaction node's inputs and outputs (is it a peel
/// transaction?) on every step into or out of it, decoding each one's time from the
/// transaction's key, and at a link's end the address's other transfers and their
/// transactions too; an order trace takes the same step once per block of coins it follows,
/// TIHO once per (node, hops left). A step can be a free peel link only from a peel
/// transaction's one input (`in`) or to its large output (`out`), so the transaction's peel
/// shape is read once per query here, every other step costs [`Ctx::cost`] without asking,
/// and a step that can be a link is asked once. The answers are [`Ctx::step_cost`]'s, and
/// so are the links it records: a link met again is one already recorded, and under
/// `--ignore-time` one the cap refused stays refused (the set of links only grows).
#[derive(Default)]
struct StepCosts {
    /// Per transaction node asked about: [`Ctx::peel_tx`].
    shapes: FxHashMap<NodeId, Option<(NodeId, NodeId)>>,
    /// Per step (nearer end, farther end) that may be a link: [`Ctx::step_cost`].
    links: FxHashMap<(NodeId, NodeId), u32>,
}

impl StepCosts {
    /// [`Ctx::step_cost`]`(near, far)`.
    fn cost(&mut self, ctx: &Ctx<'_>, near: NodeId, far: NodeId) -> u32 {
        let c = ctx.cost(far);
        if c == 0 || !ctx.opts.peel_chains || ctx.g.kind(near) != NodeKind::Transaction {
            return c;
        }
        let shape = *self.shapes.entry(near).or_insert_with(|| ctx.peel_tx(near));
        let link_end = shape.is_some_and(|(input, large)| match ctx.opts.direction {
            Direction::In => input == far,
            Direction::Out => large == far,
        });
        if !link_end {
            // Not a link: asking costs nothing more (no link is recorded).
            debug_assert_eq!(c, ctx.step_cost(near, far), "a peel link missed");
            return c;
        }
        *self.links.entry((near, far)).or_insert_with(|| ctx.step_cost(near, far))
    }
}

/// One step of an order trace: coins `[lo, hi)` of the transfer `key` (seen from `node`)
/// arrive at `node` after `hops` hops.
struct Step {
    node: NodeId,
    key: EdgeKey,
    lo: U256,
    hi: U256,
    hops: u32,
}

/// FIFO or LIFO exposure of the target set `members`.
pub(crate) fn order_exposure(ctx: &Ctx<'_>, members: &[NodeId], order: Order) -> Result3 {
    let backward = ctx.opts.direction == Direction::In;
    let set = ctx.members;
    let mut cache: FxHashMap<NodeId, NodeFlows> = FxHashMap::default();
    let mut total = U256::ZERO;
    let mut untraced = U256::ZERO;
    let mut accs: BTreeMap<RiskCategory, Acc> = BTreeMap::new();
    let mut work: Vec<Step> = Vec::new();
    let mut costs = StepCosts::default();
    for &m in members {
        node_flows(&mut cache, ctx, m, order);
    }
    // The first transfers, with the entity filter applied.
    let mut seeds: Vec<(NodeId, EdgeKey, U256)> = Vec::new();
    for (m, i) in first_flows(ctx, members, |m| cache[&m].side(backward)) {
        let side = cache[&m].side(backward);
        let f = side.flows[i];
        seeds.push((f.nb, side.key_from(i, m), f.amount));
    }
    for (nb, key, amount) in seeds {
        total = total.saturating_add(amount);
        work.push(Step { node: nb, key, lo: U256::ZERO, hi: amount, hops: 0 });
    }
    let min = ctx.opts.min_amount.as_u256();
    let mut parts: Vec<(usize, U256, U256)> = Vec::new();
    while let Some(s) = work.pop() {
        let len = s.hi - s.lo;
        if len.is_zero() {
            // A zero-value transfer carries no coins (and must not set a category's hops).
            continue;
        }
        let h = s.hops + costs.cost(ctx, s.key.nb, s.node);
        if s.key.amount < min || h > ctx.opts.hops || set.contains(&s.node) {
            // Not followed: below the minimum, beyond the hop limit, or back at the target
            // (a round trip is counted once, in the transfer that first carried it).
            untraced = untraced.saturating_add(len);
            continue;
        }
        if let Some(&c) = ctx.tags.get(&s.node) {
            accs.entry(c).or_default().add(s.node, len, h);
            continue;
        }
        let nf = node_flows(&mut cache, ctx, s.node, order);
        // The transfer as this node sees it: sent by it (`in`) or received by it (`out`).
        let side = if backward { &nf.outs } else { &nf.ins };
        let Some(k) = side.find(&s.key) else {
            // Both ends list every transfer; a miss would be a graph inconsistency.
            tracing::warn!(target: "floodgate::graph::taint", node = s.node.0, "transfer not found at its other end");
            untraced = untraced.saturating_add(len);
            continue;
        };
        parts.clear();
        let rest = if backward {
            nf.back(k, s.lo, s.hi, &mut parts)
        } else {
            nf.forward(k, s.lo, s.hi, &mut parts)
        };
        untraced = untraced.saturating_add(rest);
        let next = if backward { &nf.ins } else { &nf.outs };
        for &(j, lo, hi) in &parts {
            let f = next.flows[j];
            work.push(Step { node: f.nb, key: next.key_from(j, s.node), lo, hi, hops: h });
        }
    }
    (total, accs, untraced)
}

/// The routing of `n`, made on first use and kept for the query (its sides read, its
/// queue simulated as far as asked).
fn node_flows<'c>(
    cache: &'c mut FxHashMap<NodeId, NodeFlows>,
    ctx: &Ctx<'_>,
    n: NodeId,
    order: Order,
) -> &'c mut NodeFlows {
    cache.entry(n).or_insert_with(|| NodeFlows::new(ctx, n, order))
}

/// A node for TIHO: both sides, and where each sent transfer starts in the node's
/// highest-first order (the sum of the amounts of the transfers ranked before it).
struct TihoNode {
    ins: Side,
    outs: Side,
    pos: Vec<U256>,
}

impl TihoNode {
    /// The side facing the target: received transfers for `in`, sent ones for `out`.
    fn side(&self, backward: bool) -> &Side {
        if backward {
            &self.ins
        } else {
            &self.outs
        }
    }

    fn new(ctx: &Ctx<'_>, n: NodeId) -> TihoNode {
        let ins = Side::new(ctx, n, true);
        let outs = Side::new(ctx, n, false);
        let mut rank: Vec<u32> = (0..outs.flows.len() as u32).collect();
        // Highest first; ties: earlier (time, then storage order) first.
        rank.sort_by(|&a, &b| {
            outs.flows[b as usize].amount.cmp(&outs.flows[a as usize].amount).then(a.cmp(&b))
        });
        let mut pos = vec![U256::ZERO; outs.flows.len()];
        let mut sum = U256::ZERO;
        for k in rank {
            pos[k as usize] = sum;
            sum = sum.saturating_add(outs.flows[k as usize].amount);
        }
        TihoNode { ins, outs, pos }
    }
}

fn tiho_node<'c>(
    cache: &'c mut FxHashMap<NodeId, TihoNode>,
    ctx: &Ctx<'_>,
    n: NodeId,
) -> &'c TihoNode {
    cache.entry(n).or_insert_with(|| TihoNode::new(ctx, n))
}

/// The label of tainted value in a TIHO stream: (hops of its source, category, source).
/// Streams are ordered by it: nearer taint first, so the value found within `k` hops never
/// depends on the hop limit.
type Label = (u32, RiskCategory, NodeId);

/// A node's tainted value, in label order, with running ends.
#[derive(Default)]
struct Stream {
    parts: Vec<(Label, U256)>,
    ends: Vec<U256>,
}

impl Stream {
    fn from_map(m: BTreeMap<Label, U256>) -> Stream {
        let mut s = Stream::default();
        let mut end = U256::ZERO;
        for (l, v) in m {
            end = end.saturating_add(v);
            s.parts.push((l, v));
            s.ends.push(end);
        }
        s
    }

    /// The tainted parts inside positions `[p, p + a)` of the stream.
    fn window(&self, p: U256, a: U256, mut f: impl FnMut(Label, U256)) {
        let hi = p.saturating_add(a);
        let start = self.ends.partition_point(|&e| e <= p);
        for i in start..self.parts.len() {
            let s = if i == 0 { U256::ZERO } else { self.ends[i - 1] };
            if s >= hi {
                break;
            }
            let v = self.ends[i].min(hi) - s.max(p);
            if !v.is_zero() {
                f(self.parts[i].0, v);
            }
        }
    }
}

/// Calls `f(neighbour, amount, time, rank)` for every transfer of the asset in the window
/// into (`incoming`) or out of `n` whose neighbour passes `keep`, in storage order, without
/// sorting: `rank` counts the earlier transfers alike in (neighbour, time, amount), as
/// [`Side`] ranks them, so the transfer can be found at its other end.
fn each_raw(
    ctx: &Ctx<'_>,
    n: NodeId,
    incoming: bool,
    keep: impl Fn(NodeId) -> bool,
    mut f: impl FnMut(NodeId, U256, u32, u32),
) {
    let mut raw = Vec::new();
    ctx.g.neighbours(n, incoming, ctx.asset, &mut raw);
    let mut seen: FxHashMap<(NodeId, u32, U256), u32> = FxHashMap::default();
    for (nb, a, t) in raw {
        if !in_window(ctx, t) || !keep(nb) {
            continue;
        }
        let r = seen.entry((nb, t, a)).or_insert(0);
        f(nb, a, t, *r);
        *r += 1;
    }
}

/// TIHO exposure of the target set `members`, over every walk within the hop limit.
///
/// Only nodes that carry traced value are sorted ([`TihoNode`]); the nodes that receive
/// nothing traced read their transfers unsorted.
pub(crate) fn tiho_exposure(ctx: &Ctx<'_>, members: &[NodeId]) -> Result3 {
    let backward = ctx.opts.direction == Direction::In;
    let limit = ctx.opts.hops;
    let mut t = Tiho {
        ctx,
        cache: FxHashMap::default(),
        streams: Vec::new(),
        memo: FxHashMap::default(),
        costs: StepCosts::default(),
    };
    for &m in members {
        tiho_node(&mut t.cache, ctx, m);
    }
    let mut total = U256::ZERO;
    // (neighbour, the transfer's key at the neighbour, amount)
    let mut seeds: Vec<(NodeId, EdgeKey, U256)> = Vec::new();
    for (m, i) in first_flows(ctx, members, |m| t.cache[&m].side(backward)) {
        let side = t.cache[&m].side(backward);
        let f = side.flows[i];
        total = total.saturating_add(f.amount);
        seeds.push((f.nb, side.key_from(i, m), f.amount));
    }
    let min = ctx.opts.min_amount.as_u256();
    let mut accs: BTreeMap<RiskCategory, Acc> = BTreeMap::new();
    let mut attributed = U256::ZERO;
    if backward {
        for (u, key, a) in seeds {
            let cu = ctx.cost(u);
            if a < min || cu > limit || ctx.members.contains(&u) {
                continue;
            }
            if let Some(&c) = ctx.tags.get(&u) {
                if !a.is_zero() {
                    accs.entry(c).or_default().add(u, a, cu);
                    attributed = attributed.saturating_add(a);
                }
                continue;
            }
            let idx = t.stream(u, limit - cu, 0);
            if t.streams[idx].parts.is_empty() {
                continue;
            }
            let tu = tiho_node(&mut t.cache, ctx, u);
            let Some(k) = tu.outs.find(&key) else { continue };
            t.streams[idx].window(tu.pos[k], a, |(l, c, src), v| {
                accs.entry(c).or_default().add(src, v, l + cu);
                attributed = attributed.saturating_add(v);
            });
        }
    } else {
        // The seeds as their receivers see them (receiver, sender, time, amount, rank):
        // value on these counts in full.
        let seed_in: FxHashSet<(NodeId, NodeId, u32, U256, u32)> =
            seeds.iter().map(|&(v, k, _)| (v, k.nb, k.time, k.amount, k.rank)).collect();
        // The tagged nodes within the limit: a 0-1 BFS away from the target over transfers
        // of at least the minimum; tagged nodes and the target end the search.
        let mut dist: FxHashMap<NodeId, u32> = FxHashMap::default();
        let mut queue: VecDeque<(NodeId, u32)> = VecDeque::new();
        let relax = |n: NodeId,
                     h: u32,
                     dist: &mut FxHashMap<NodeId, u32>,
                     q: &mut VecDeque<(NodeId, u32)>| {
            if h > limit || ctx.members.contains(&n) || dist.get(&n).is_some_and(|&d| d <= h) {
                return;
            }
            dist.insert(n, h);
            if ctx.cost(n) == 0 {
                q.push_front((n, h));
            } else {
                q.push_back((n, h));
            }
        };
        for &(nb, _, amount) in &seeds {
            if amount >= min {
                relax(nb, ctx.cost(nb), &mut dist, &mut queue);
            }
        }
        let mut next: Vec<NodeId> = Vec::new();
        while let Some((n, h)) = queue.pop_front() {
            if dist.get(&n).is_some_and(|&d| d < h) || ctx.tags.contains_key(&n) {
                continue;
            }
            next.clear();
            each_raw(
                ctx,
                n,
                false,
                |_| true,
                |m, a, _, _| {
                    if a >= min {
                        next.push(m);
                    }
                },
            );
            for &m in &next {
                relax(m, h + t.costs.cost(ctx, n, m), &mut dist, &mut queue);
            }
        }
        let mut tagged: Vec<(NodeId, u32)> =
            dist.iter().filter(|(n, _)| ctx.tags.contains_key(n)).map(|(&n, &d)| (n, d)).collect();
        tagged.sort_by_key(|&(n, d)| (d, n));
        let mut tracked: FxHashMap<(NodeId, u32), U256> = FxHashMap::default();
        for (v, dv) in tagged {
            let Some(&c) = ctx.tags.get(&v) else { continue };
            // What arrived within h hops, for each h: the growth at h is found at hop h.
            let mut prev = U256::ZERO;
            for h in dv..=limit {
                let x = t.tracked(v, h, &seed_in, &mut tracked, 0);
                if x > prev {
                    accs.entry(c).or_default().add(v, x - prev, h);
                    attributed = attributed.saturating_add(x - prev);
                    prev = x;
                }
            }
        }
    }
    (total, accs, total.saturating_sub(attributed))
}

/// The state of one TIHO query.
struct Tiho<'a, 'c> {
    ctx: &'a Ctx<'c>,
    cache: FxHashMap<NodeId, TihoNode>,
    /// Streams, indexed by `memo`.
    streams: Vec<Stream>,
    /// `(node, budget)` → its stream in `streams`.
    memo: FxHashMap<(NodeId, u32), usize>,
    costs: StepCosts,
}

impl Tiho<'_, '_> {
    /// `in`: the tainted value untagged node `u` received over walks of at most `budget`
    /// hops from tagged nodes, labelled (hops from the source to `u`, category, source), in
    /// label order (nearer taint first). It is the part with labels up to `budget` of `u`'s
    /// whole stream, and a window of a stream's prefix is the prefix of its window, so the
    /// taint found within `k` hops never depends on the hop limit.
    fn stream(&mut self, u: NodeId, budget: u32, depth: u32) -> usize {
        if let Some(&i) = self.memo.get(&(u, budget)) {
            return i;
        }
        let ctx = self.ctx;
        let min = ctx.opts.min_amount.as_u256();
        let mut ups: Vec<(NodeId, U256, u32, u32)> = Vec::new();
        each_raw(
            ctx,
            u,
            true,
            |w| !ctx.members.contains(&w) && w != u,
            |w, a, t, r| {
                if a >= min {
                    ups.push((w, a, t, r));
                }
            },
        );
        let mut acc: BTreeMap<Label, U256> = BTreeMap::new();
        // Every cycle passes an address (cost 1), so the budget bounds the depth; the depth
        // bound only guards against a malformed graph.
        if depth <= 2 * (ctx.opts.hops + crate::exposure::PEEL_MAX_LINKS) + 2 {
            for (w, a, time, rank) in ups {
                let cw = self.costs.cost(ctx, u, w);
                if cw > budget {
                    continue;
                }
                if let Some(&c) = ctx.tags.get(&w) {
                    let e = acc.entry((cw, c, w)).or_insert(U256::ZERO);
                    *e = e.saturating_add(a);
                    continue;
                }
                let i = self.stream(w, budget - cw, depth + 1);
                if self.streams[i].parts.is_empty() {
                    continue;
                }
                let tw = tiho_node(&mut self.cache, ctx, w);
                let Some(k) = tw.outs.find(&EdgeKey { nb: u, time, amount: a, rank }) else {
                    continue;
                };
                self.streams[i].window(tw.pos[k], a, |(l, c, s), v| {
                    let e = acc.entry((l + cw, c, s)).or_insert(U256::ZERO);
                    *e = e.saturating_add(v);
                });
            }
        }
        self.streams.push(Stream::from_map(acc));
        let i = self.streams.len() - 1;
        self.memo.insert((u, budget), i);
        i
    }

    /// `out`: the target's value that reached `v` over walks of at most `h` hops (the target
    /// excluded, `v` included); untagged nodes pass what they received to their highest
    /// transfers sent first.
    fn tracked(
        &mut self,
        v: NodeId,
        h: u32,
        seed_in: &FxHashSet<(NodeId, NodeId, u32, U256, u32)>,
        memo: &mut FxHashMap<(NodeId, u32), U256>,
        depth: u32,
    ) -> U256 {
        if let Some(&x) = memo.get(&(v, h)) {
            return x;
        }
        let ctx = self.ctx;
        let mut sum = U256::ZERO;
        if depth <= 2 * (ctx.opts.hops + crate::exposure::PEEL_MAX_LINKS) + 2 {
            let min = ctx.opts.min_amount.as_u256();
            let mut ups: Vec<(NodeId, U256, u32, u32)> = Vec::new();
            each_raw(
                ctx,
                v,
                true,
                |u| u != v && (ctx.members.contains(&u) || !ctx.tags.contains_key(&u)),
                |u, a, t, r| {
                    if a >= min {
                        ups.push((u, a, t, r));
                    }
                },
            );
            for (u, a, time, rank) in ups {
                let cv = self.costs.cost(ctx, u, v);
                if cv > h {
                    continue;
                }
                if ctx.members.contains(&u) {
                    if seed_in.contains(&(v, u, time, a, rank)) {
                        sum = sum.saturating_add(a);
                    }
                    continue;
                }
                let f = self.tracked(u, h - cv, seed_in, memo, depth + 1);
                if f.is_zero() {
                    continue;
                }
                let tu = tiho_node(&mut self.cache, ctx, u);
                let Some(k) = tu.outs.find(&EdgeKey { nb: v, time, amount: a, rank }) else {
                    continue;
                };
                // The tracked value fills u's highest transfers first: [0, f) of its order.
                let p = tu.pos[k];
                let hi = p.saturating_add(a).min(f);
                if hi > p {
                    sum = sum.saturating_add(hi - p);
                }
            }
        }
        memo.insert((v, h), sum);
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pass::tests::below as rng;

    /// Random flows over few times, neighbours and amounts, so that many are alike (same
    /// neighbour, time and amount), runs of equal times are long (past [`LONG_RUN`]) or
    /// short, and a neighbour is often the node itself (a self-transfer) or pays back at the
    /// same time (a round trip).
    fn flows(next: &mut impl FnMut(u64) -> u64, n: u64, times: u64) -> Vec<Flow> {
        (0..n)
            .map(|_| Flow {
                nb: NodeId(next(4) as u32),
                amount: U256::from(next(5)),
                time: next(times) as u32,
            })
            .collect()
    }

    /// A side's search and ranks without a run's sorted index (short runs scanned) equal
    /// those through it (every run indexed), and every flow is found from its own key.
    #[test]
    fn a_side_finds_the_same_flows_with_and_without_its_index() {
        let mut next = rng(0x2545_f491_4f6c_dd1d);
        for case in 0..300 {
            let n = next(120);
            let times = 1 + next(if case % 2 == 0 { 3 } else { 40 });
            let fl = flows(&mut next, n, times);
            let (scan, indexed) = (Side::from_flows(fl.clone()), Side::from_flows(fl));
            for i in 0..scan.flows.len() {
                let k = scan.key_from(i, NodeId(9));
                assert_eq!(k.rank, indexed.rank_indexed(i), "case {case}, flow {i}");
                let k = EdgeKey { nb: scan.flows[i].nb, ..k };
                assert_eq!(scan.find(&k), Some(i), "case {case}, flow {i}");
                assert_eq!(indexed.find_indexed(&k), Some(i), "case {case}, flow {i}");
            }
            for _ in 0..20 {
                let k = EdgeKey {
                    nb: NodeId(next(5) as u32),
                    time: next(times + 1) as u32,
                    amount: U256::from(next(6)),
                    rank: next(4) as u32,
                };
                let (fresh, want) =
                    (Side::from_flows(scan.flows.clone()), indexed.find_indexed(&k));
                assert_eq!(fresh.find(&k), want, "case {case}, {k:?}");
            }
        }
    }

    /// The same routing on 256-bit counts, with every amount scaled by `2^shift`.
    fn wide(
        ins: &[Flow],
        outs: &[Flow],
        order: Order,
        is_address: bool,
        shift: usize,
    ) -> NodeFlows {
        let scale = |f: &[Flow]| -> Vec<Flow> {
            f.iter().map(|&x| Flow { amount: x.amount << shift, ..x }).collect()
        };
        let mut nf = NodeFlows::from_sides(
            Side::from_flows(scale(ins)),
            Side::from_flows(scale(outs)),
            order,
            is_address,
        );
        if let Route::Narrow(r) = &nf.route {
            nf.route = Route::Wide(Routing::new(r.total));
        }
        nf
    }

    /// Routing as far as asked, in any order of asks, gives each sent transfer the pieces
    /// (and each received transfer the forward pieces) of the whole node's routing made at
    /// once, under FIFO and LIFO, for addresses (same-time returns and self-transfers
    /// excluded) and transaction nodes; and the routing on 256-bit counts is the one on
    /// `u128`, also with every amount scaled beyond `u128` (whose received total, past
    /// 2^256, overflows).
    #[test]
    fn routing_as_far_as_asked_equals_the_whole_routing() {
        let mut next = rng(0x9e37_79b9_7f4a_7c15);
        for case in 0..400 {
            let times = 1 + next(if case % 2 == 0 { 3 } else { 30 });
            let (n_in, n_out) = (next(60), next(60));
            let (ins, outs) = (flows(&mut next, n_in, times), flows(&mut next, n_out, times));
            let order = if case % 4 < 2 { Order::Fifo } else { Order::Lifo };
            let is_address = case % 3 != 0;
            let make = || {
                NodeFlows::from_sides(
                    Side::from_flows(ins.clone()),
                    Side::from_flows(outs.clone()),
                    order,
                    is_address,
                )
            };
            let mut whole = make();
            whole.simulate_through(usize::MAX);
            let mut lazy = make();
            let mut asks: Vec<usize> = (0..outs.len()).collect();
            for i in (1..asks.len()).rev() {
                asks.swap(i, next(i as u64 + 1) as usize);
            }
            let (mut got, mut want) = (Vec::new(), Vec::new());
            for &k in &asks {
                let amount = lazy.outs.flows[k].amount;
                let lo = U256::from(next(3)).min(amount);
                let (g, w) = (&mut got, &mut want);
                g.clear();
                w.clear();
                let rest = lazy.back(k, lo, amount, g);
                assert_eq!(rest, whole.back(k, lo, amount, w), "case {case}, sent {k}");
                assert_eq!(got, want, "case {case}, sent {k}");
            }
            let mut fresh = make();
            for i in 0..ins.len() {
                let amount = fresh.ins.flows[i].amount;
                let (g, w) = (&mut got, &mut want);
                g.clear();
                w.clear();
                let rest = fresh.forward(i, U256::ZERO, amount, g);
                assert_eq!(rest, whole.forward(i, U256::ZERO, amount, w), "case {case}, in {i}");
                assert_eq!(got, want, "case {case}, received {i}");
            }
            assert!(matches!(whole.route, Route::Narrow(_)));
            for shift in [0, 130, 253] {
                let mut wide = wide(&ins, &outs, order, is_address, shift);
                assert!(matches!(wide.route, Route::Wide(_)));
                let up = |v: &[(usize, U256, U256)]| -> Vec<(usize, U256, U256)> {
                    v.iter().map(|&(j, a, b)| (j, a << shift, b << shift)).collect()
                };
                for k in 0..outs.len() {
                    let amount = whole.outs.flows[k].amount;
                    let (g, w) = (&mut got, &mut want);
                    g.clear();
                    w.clear();
                    let rest = wide.back(k, U256::ZERO, amount << shift, g);
                    assert_eq!(rest, whole.back(k, U256::ZERO, amount, w) << shift, "case {case}");
                    assert_eq!(got, up(&want), "case {case}, shift {shift}, sent {k}");
                }
                for i in 0..ins.len() {
                    let amount = whole.ins.flows[i].amount;
                    let (g, w) = (&mut got, &mut want);
                    g.clear();
                    w.clear();
                    let rest = wide.forward(i, U256::ZERO, amount << shift, g);
                    assert_eq!(rest, whole.forward(i, U256::ZERO, amount, w) << shift);
                    assert_eq!(got, up(&want), "case {case}, shift {shift}, received {i}");
                }
            }
        }
    }

    /// `by_received` is the stable sort of the pieces by (received transfer, offset) it
    /// stands for: runs in order, reversed (strictly or with ties) and shuffled.
    #[test]
    fn pieces_by_received_transfer_are_a_stable_sort() {
        let mut r = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |m: u64| {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            r % m
        };
        for case in 0..500 {
            let received = 1 + next(6) as usize;
            let mut by_out = Vec::new();
            for k in 0..next(40) as u32 {
                let inn = next(received as u64) as u32;
                let in_off = match case % 3 {
                    0 => U256::from(k),
                    1 => U256::from(100 - k),
                    _ => U256::from(next(8)),
                };
                let len = U256::from(next(3));
                by_out.push(Piece { out: k, out_off: U256::ZERO, inn, in_off, len });
            }
            let mut want: Vec<u32> = (0..by_out.len() as u32).collect();
            want.sort_by_key(|&p| (by_out[p as usize].inn, by_out[p as usize].in_off));
            let (got, start) = by_received(&by_out, received);
            assert_eq!(got, want, "case {case}");
            for i in 0..received {
                let run = &got[start[i] as usize..start[i + 1] as usize];
                assert!(run.iter().all(|&p| by_out[p as usize].inn == i as u32));
            }
            assert_eq!(start[received] as usize, by_out.len());
        }
    }
}
