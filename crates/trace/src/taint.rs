//! The order taint models FIFO and LIFO, and TIHO (taint in, highest out). Definitions, worked
//! examples and costs: `docs/taint-models.md`; haircut and poison live in `exposure.rs`.
//!
//! - **FIFO / LIFO** route *coins*: at every node the transfers received form a queue in
//!   order of arrival (time, then storage order); each transfer sent takes a contiguous block
//!   from the front (FIFO) or the back (LIFO) of what had arrived at or before its time, and
//!   value beyond that is untraced. This routing depends only on amounts and times, never on
//!   taint, so a coin has exactly one history and a trace follows it back (`in`) or forward
//!   (`out`) hop by hop: [`NodeFlows`] computes one node's routing once per query in
//!   O(deg log deg).
//! - **TIHO** pours the tainted value a node received into its largest outgoing transfers
//!   first, over every walk within the hop limit: a memoized recursion on (node, hops left),
//!   which ends because every cycle passes an address (one hop).
//!
//! All arithmetic is exact on 256-bit integers; per node and category no transfer carries
//! more value than the node received.

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

/// The transfers on one side of a node (received, or sent), in (time, storage order), with
/// an index that finds a transfer from the other end.
///
/// The two ends of a transfer are matched by `(other end, time, amount)` plus the rank among
/// the transfers sharing that key: transfers alike in all of these are interchangeable, so
/// matching them by rank is consistent at both ends whatever order storage gives them.
struct Side {
    flows: Vec<Flow>,
    /// Indices into `flows`, sorted by (nb, time, amount, index).
    by_key: Vec<u32>,
    /// For each flow, its rank among flows with the same (nb, time, amount).
    rank: Vec<u32>,
}

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
        let mut raw = Vec::new();
        ctx.g.neighbours(n, incoming, ctx.asset, &mut raw);
        let mut flows: Vec<Flow> = raw
            .into_iter()
            .filter(|&(_, _, t)| in_window(ctx, t))
            .map(|(nb, amount, time)| Flow { nb, amount, time })
            .collect();
        // Stable: equal times keep storage order.
        flows.sort_by_key(|f| f.time);
        let mut by_key: Vec<u32> = (0..flows.len() as u32).collect();
        // The index ends every key, so no two are equal: an unstable sort gives the same.
        by_key.sort_unstable_by(|&a, &b| {
            let (x, y) = (&flows[a as usize], &flows[b as usize]);
            (x.nb, x.time, x.amount, a).cmp(&(y.nb, y.time, y.amount, b))
        });
        let mut rank = vec![0u32; flows.len()];
        for w in 1..by_key.len() {
            let (p, c) = (&flows[by_key[w - 1] as usize], &flows[by_key[w] as usize]);
            if (p.nb, p.time, p.amount) == (c.nb, c.time, c.amount) {
                rank[by_key[w] as usize] = rank[by_key[w - 1] as usize] + 1;
            }
        }
        Side { flows, by_key, rank }
    }

    /// The key of flow `i` as the other end sees it (with `me` as its neighbour).
    fn key_from(&self, i: usize, me: NodeId) -> EdgeKey {
        let f = &self.flows[i];
        EdgeKey { nb: me, time: f.time, amount: f.amount, rank: self.rank[i] }
    }

    /// The index of the flow with key `k`, when present.
    fn find(&self, k: &EdgeKey) -> Option<usize> {
        let key = (k.nb, k.time, k.amount);
        let first = self.by_key.partition_point(|&i| {
            let f = &self.flows[i as usize];
            (f.nb, f.time, f.amount) < key
        });
        let i = *self.by_key.get(first + k.rank as usize)? as usize;
        let f = &self.flows[i];
        ((f.nb, f.time, f.amount) == key).then_some(i)
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

/// A block of coins: `len` coins of received transfer `inn` from offset `in_off`, carried by
/// sent transfer `out` from offset `out_off`.
#[derive(Debug, Clone, Copy)]
struct Piece {
    out: u32,
    out_off: U256,
    inn: u32,
    in_off: U256,
    len: U256,
}

/// One node's FIFO or LIFO routing: which coins of which received transfer each sent
/// transfer carries.
struct NodeFlows {
    ins: Side,
    outs: Side,
    /// Sorted by (out, out_off); `out_start[k]..out_start[k + 1]` are transfer k's pieces.
    by_out: Vec<Piece>,
    out_start: Vec<u32>,
    /// Indices into `by_out`, sorted by (inn, in_off); `in_start` as `out_start`.
    by_in: Vec<u32>,
    in_start: Vec<u32>,
}

/// One queue entry: coins `[off, off + len)` of received transfer `inn`.
#[derive(Debug, Clone, Copy)]
struct Item {
    inn: u32,
    off: U256,
    len: U256,
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

    fn new(ctx: &Ctx<'_>, n: NodeId, order: Order) -> NodeFlows {
        let ins = Side::new(ctx, n, true);
        let outs = Side::new(ctx, n, false);
        let is_address = ctx.g.kind(n) == NodeKind::Address;
        let mut queue: VecDeque<Item> = VecDeque::new();
        let mut next_in = 0usize;
        // Each piece ends a transfer sent or empties a queue item (one per received
        // transfer): at most that many pieces.
        let mut by_out: Vec<Piece> = Vec::with_capacity(outs.flows.len() + ins.flows.len());
        let mut out_start = Vec::with_capacity(outs.flows.len() + 1);
        let mut taken: Vec<(u32, U256, U256)> = Vec::new();
        for (k, o) in outs.flows.iter().enumerate() {
            out_start.push(by_out.len() as u32);
            while let Some(f) = ins.flows.get(next_in).filter(|f| f.time <= o.time) {
                queue.push_back(Item { inn: next_in as u32, off: U256::ZERO, len: f.amount });
                next_in += 1;
            }
            // A transfer is never funded by value that arrived at the same time from the
            // node it pays: an address's input into UTXO transaction X never takes X's own
            // outputs (its change), a self-transfer never funds itself, and a same-time
            // return never funds its own cause. (A transaction node's inputs do fund its
            // outputs.)
            let allowed = |it: &Item| {
                let f = &ins.flows[it.inn as usize];
                !(is_address && f.nb == o.nb && f.time == o.time)
            };
            let mut need = o.amount;
            taken.clear();
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
                        taken.push((it.inn, it.off, l));
                        it.off += l;
                        it.len -= l;
                        need -= l;
                        if it.len.is_zero() {
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
                        taken.push((it.inn, it.off + it.len - l, l));
                        it.len -= l;
                        need -= l;
                        if it.len.is_zero() {
                            queue.remove(j);
                        }
                    }
                    // Taken back to front; a transfer carries its block in queue order.
                    taken.reverse();
                }
            }
            let mut off = U256::ZERO;
            for &(inn, in_off, len) in &taken {
                by_out.push(Piece { out: k as u32, out_off: off, inn, in_off, len });
                off += len;
            }
        }
        out_start.push(by_out.len() as u32);
        let (by_in, in_start) = by_received(&by_out, ins.flows.len());
        NodeFlows { ins, outs, by_out, out_start, by_in, in_start }
    }

    /// Coins `[lo, hi)` of sent transfer `k`, back to the received transfers that funded
    /// them: `(received index, lo, hi)`; returns the part no received value funded.
    fn back(&self, k: usize, lo: U256, hi: U256, out: &mut Vec<(usize, U256, U256)>) -> U256 {
        let ps = &self.by_out[self.out_start[k] as usize..self.out_start[k + 1] as usize];
        let first = ps.partition_point(|p| p.out_off + p.len <= lo);
        let mut covered = U256::ZERO;
        for p in &ps[first..] {
            if p.out_off >= hi {
                break;
            }
            let (a, b) = (lo.max(p.out_off), hi.min(p.out_off + p.len));
            out.push((p.inn as usize, p.in_off + (a - p.out_off), p.in_off + (b - p.out_off)));
            covered += b - a;
        }
        (hi - lo) - covered
    }

    /// Coins `[lo, hi)` of received transfer `i`, forward to the sent transfers that carried
    /// them: `(sent index, lo, hi)`; returns the part still held (never sent on).
    fn forward(&self, i: usize, lo: U256, hi: U256, out: &mut Vec<(usize, U256, U256)>) -> U256 {
        let ps = &self.by_in[self.in_start[i] as usize..self.in_start[i + 1] as usize];
        let first = ps.partition_point(|&p| {
            let p = &self.by_out[p as usize];
            p.in_off + p.len <= lo
        });
        let mut covered = U256::ZERO;
        for &p in &ps[first..] {
            let p = &self.by_out[p as usize];
            if p.in_off >= hi {
                break;
            }
            let (a, b) = (lo.max(p.in_off), hi.min(p.in_off + p.len));
            out.push((p.out as usize, p.out_off + (a - p.in_off), p.out_off + (b - p.in_off)));
            covered += b - a;
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
fn by_received(by_out: &[Piece], received: usize) -> (Vec<u32>, Vec<u32>) {
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

/// The routing of `n`, built on first use (O(deg log deg)) and kept for the query.
fn node_flows<'c>(
    cache: &'c mut FxHashMap<NodeId, NodeFlows>,
    ctx: &Ctx<'_>,
    n: NodeId,
    order: Order,
) -> &'c NodeFlows {
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
