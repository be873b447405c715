//! Whether value an address sent can have come back to it: the one case where the exposure
//! index and a per-query trace differ (`docs/taint-models.md`, "Except round trips").
//!
//! The index's forward pass lets an address's sends carry its labelled parts, as every other
//! node's do; a query leaves what the target sends untraced, so value that comes back to it
//! is untraced there and labelled in the index. The pass flags an address that received
//! labelled value after it sent some, which is necessary for a round trip but far from
//! sufficient: on the generated worlds every flagged address tried had no path back. When no
//! time-respecting path leads from any of its transfers back to it within the hops its
//! labels have left, nothing it sent can have come back, and because a part's fate depends
//! only on its own value, the transfer and the balance (rule 4), the other parts it received
//! are those a query finds: its indexed values are exact.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use floodgate_graph::{Graph, NodeId, NodeKind};
use floodgate_types::RiskCategory;
use rustc_hash::FxHashMap;

use crate::exposure::Ctx;
use crate::index::{ExposureIndex, FirstArrivals, IndexedExposure};
use crate::pass::with_ctx;

/// What [`returns_within`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Return {
    /// No path from the address's transfers leads back to it within the hops: value it sent
    /// cannot have come back, and its indexed values are exact.
    None,
    /// A path leads back within the hops (value it sent may have come back).
    Found,
    /// The search met more nodes than its limit and stopped: unknown.
    Unknown,
}

/// The most nodes a round-trip search meets before it gives up ([`Return::Unknown`]): a node
/// met costs about 3 µs at 50M transfers, so about half a second, no more than the per-query
/// trace the address then gets. No search of the generated worlds reached it.
pub const ROUND_TRIP_SEARCH: usize = 1 << 17;

/// The most hops a search follows (the index's largest bucket).
const MAX_HOPS: usize = 6;

/// Whether a transfer path of `asset` leads from `target`'s transfers back to `target` that
/// a label can take and still arrive within `hops` hops of its origin, when the labels it can
/// have sent are at least `fewest` hops from theirs. Hops are charged as the exposure index's
/// pass charges them (an address sending 1, a transaction 0, a peel-chain link 0); each step
/// at or after the time the value reached its sender (a transfer of unknown time may be at
/// any time), none before a label first reached the target nor after its last receipt;
/// never through a tagged node (what a tagged node sends is its own). With the
/// `index`, a send is skipped when no label that could still come back in time had reached
/// its sender by then ([`ExposureIndex::first_arrivals`]: the pass's arrivals include the
/// target's own labels). Searches at most `limit` nodes ([`Return::Unknown`] beyond).
///
/// The search meets in the middle: forward from the target's sends over paths of `a` hops,
/// backward from its receipts over `b`, `a + b` the hops to search, a path found where a node
/// reached forward by some time can still send on a backward path at or after it. Each side
/// keeps what lies beyond its depth (the steps of one hop more, and the nodes at its depth
/// none of whose steps is free, unexpanded); the side with fewer transfers waiting is
/// searched one hop deeper until the two cover the hops, so a hub's transfers are read
/// only when the other side's waiting are more.
#[allow(clippy::too_many_arguments)]
pub fn returns_within(
    graph: &Graph,
    tags: &HashMap<NodeId, RiskCategory>,
    index: Option<&ExposureIndex>,
    target: NodeId,
    asset: &str,
    hops: u32,
    fewest: u32,
    limit: usize,
) -> Return {
    let hops = hops.min(MAX_HOPS as u32);
    let Some(budget) = hops.checked_sub(fewest) else { return Return::None };
    let budget = budget as usize;
    with_ctx(graph, tags, asset, |ctx| {
        let mut s = Search {
            graph,
            tags,
            index,
            asset,
            target,
            hops,
            step: Costs { ctx, sources: FxHashMap::default(), last: None },
            arrived: FxHashMap::default(),
            limit,
            edges: Vec::new(),
            window: (0, u32::MAX),
        };
        // A tagged target sends its own label from the start.
        let from = if tags.contains_key(&target) { FirstArrivals::START } else { s.first(target) };
        s.arrived.insert(target, from);
        // Every transfer on a way back comes, in replay order, after a label reached the
        // target and before its last receipt (an unknown time replays as 0): none earlier
        // than the first nor later than the last is followed.
        s.edges.clear();
        graph.neighbours(target, true, asset, &mut s.edges);
        s.window = (from.first_time(), s.edges.iter().map(|e| e.2).max().unwrap_or(0));
        let (mut a, mut b) = (0, 0);
        let (mut ahead, mut back) = (Side::from(target, 0), Side::from(target, !u32::MAX));
        ahead.reached.insert(target, [0; MAX_HOPS + 1]);
        let first = s.forward(&mut ahead, a, false).and_then(|()| s.backward(&mut back, b, false));
        if let Err(r) = first {
            return r;
        }
        while a + b < budget {
            let last = a + b + 1 == budget;
            let r = if ahead.work() <= back.work() {
                a += 1;
                s.forward(&mut ahead, a, last)
            } else {
                b += 1;
                s.backward(&mut back, b, last)
            };
            if let Err(r) = r {
                return r;
            }
        }
        // Met: reached forward by a time at which it can still send on a backward path, at
        // hops that add up to the budget at most.
        let met = back.reached.iter().any(|(n, latest)| {
            ahead.reached.get(n).is_some_and(|earliest| {
                (0..=b).any(|c| {
                    latest[c] != 0 && earliest[..=budget - c].iter().any(|&t| t <= latest[c])
                })
            })
        });
        if met {
            Return::Found
        } else {
            Return::None
        }
    })
}

/// Per node met, the time it was reached at each hop count (forward: the earliest; backward:
/// the latest it can send and still reach the target; `u32::MAX` and 0 for none).
type Reached = FxHashMap<NodeId, [u32; MAX_HOPS + 1]>;

/// One round-trip search's graph, target and the arrivals read so far.
struct Search<'s, 'c, 'a> {
    graph: &'s Graph,
    tags: &'s HashMap<NodeId, RiskCategory>,
    index: Option<&'s ExposureIndex>,
    asset: &'s str,
    target: NodeId,
    hops: u32,
    step: Costs<'c, 'a>,
    /// When labels first reached each node met.
    arrived: FxHashMap<NodeId, FirstArrivals>,
    limit: usize,
    edges: Vec<(NodeId, ruint::aliases::U256, u32)>,
    /// The first and last time a transfer on a way back can have (known times).
    window: (u32, u32),
}

impl Search<'_, '_, '_> {
    fn first(&self, n: NodeId) -> FirstArrivals {
        match self.index {
            Some(idx) if self.graph.kind(n) == NodeKind::Address => {
                idx.first_arrivals(n, self.asset)
            }
            _ => FirstArrivals::START,
        }
    }

    fn arrivals(&mut self, n: NodeId) -> FirstArrivals {
        if let Some(&a) = self.arrived.get(&n) {
            return a;
        }
        let a = self.first(n);
        self.arrived.insert(n, a);
        a
    }

    /// Deepens the search from the target's sends (`side`) to paths gaining at most `max`
    /// hops: each node reached at the earliest time per hop count. `Err` when it found the
    /// target itself ([`Return::Found`]) or met more than its limit ([`Return::Unknown`]).
    /// Earliest first, so a node is expanded about once per hop count at which it was
    /// reached with fewer hops than before; what lies beyond the hops waits for a deeper
    /// call: steps, and nodes at the depth allowed none of whose steps can be free. `last`:
    /// no deeper call follows, and nodes at the depth allowed are not expanded.
    fn forward(&mut self, side: &mut Side, max: usize, last: bool) -> Result<(), Return> {
        for (time, c, m) in side.within(max) {
            self.reach_forward(side, m, c, time)?;
        }
        for (at, cost, n) in side.take_waiting() {
            self.expand_forward(side, n, at, cost, max)?;
        }
        while let Some(Reverse((at, cost, n))) = side.queue.pop() {
            // Expanded before at no more hops and no later (a transfer of unknown time can
            // make a later visit earlier).
            match side.done.get(&n) {
                Some(&(c, t)) if c <= cost && t <= at => continue,
                _ => {
                    side.done.insert(n, (cost, at));
                }
            }
            // From a node at the depth allowed only free steps stay within the hops (a
            // transaction's outputs, a peel-chain link). A node they lead to that the other
            // side met, that side (complete to its depth) met through the same free steps at
            // this node too, no later and with no more hops: the meeting is found here.
            if cost == max && last {
                continue;
            }
            // Only a transaction's outputs and a peel-chain link (from an address that
            // received a peel transaction's change) are free steps.
            if cost == max
                && self.graph.kind(n) == NodeKind::Address
                && !self.step.received_any_peel_change(n)
            {
                side.wait((at, cost, n), self.graph.side_len_hint(n, false));
                continue;
            }
            self.expand_forward(side, n, at, cost, max)?;
        }
        Ok(())
    }

    /// Follows the sends of `n`, reached forward at `at` over `cost` hops.
    fn expand_forward(
        &mut self,
        side: &mut Side,
        n: NodeId,
        at: u32,
        cost: usize,
        max: usize,
    ) -> Result<(), Return> {
        let from = self.arrivals(n);
        let mut sent = std::mem::take(&mut self.edges);
        sent.clear();
        self.graph.neighbours(n, false, self.asset, &mut sent);
        // An address with many sends: whether it received a peel transaction's change
        // first (once), not whether each transaction it spent into is one.
        let many = sent.len() > MANY_SENDS;
        let mut r = Ok(());
        for &(m, _, time) in &sent {
            // A self-transfer moves nothing; a send before the value arrived carries none;
            // one after the target's last receipt cannot come back.
            if m == n || (time != 0 && (time < at || time > self.window.1)) {
                continue;
            }
            let step = self.step.cost(n, m, many);
            // No label that could still come back within the hops had reached `n` then.
            if from.before(self.hops - step, place(time)) {
                continue;
            }
            let c = cost + step as usize;
            if c > max {
                side.beyond.push((time, c, m));
            } else {
                r = self.reach_forward(side, m, c, time);
                if r.is_err() {
                    break;
                }
            }
        }
        self.edges = sent;
        r
    }

    /// `m` reached forward at `time` over `c` hops.
    fn reach_forward(&self, side: &mut Side, m: NodeId, c: usize, time: u32) -> Result<(), Return> {
        if m == self.target {
            return Err(Return::Found);
        }
        if self.tags.contains_key(&m) {
            return Ok(());
        }
        let r = side.reached.entry(m).or_insert([u32::MAX; MAX_HOPS + 1]);
        if r[..=c].iter().any(|&t| t <= time) {
            return Ok(());
        }
        r[c] = time;
        if side.reached.len() > self.limit {
            return Err(Return::Unknown);
        }
        side.queue.push(Reverse((time, c, m)));
        Ok(())
    }

    /// Deepens the search back from the target's receipts (`side`) to paths gaining at most
    /// `max` hops: each node from which one leads to the target, at the latest time per hop
    /// count it can send on it (a transfer of unknown time: any time). Latest first (the
    /// queue holds times inverted); what lies beyond the hops waits, and `last` is, as
    /// forward.
    fn backward(&mut self, side: &mut Side, max: usize, last: bool) -> Result<(), Return> {
        for (time, c, m) in side.within(max) {
            self.reach_backward(side, m, c, time)?;
        }
        for (by, cost, n) in side.take_waiting() {
            self.expand_backward(side, n, by, cost, max)?;
        }
        while let Some(Reverse((key, cost, n))) = side.queue.pop() {
            let by = !key;
            match side.done.get(&n) {
                Some(&(c, t)) if c <= cost && t >= by => continue,
                _ => {
                    side.done.insert(n, (cost, by));
                }
            }
            if cost == max && last {
                continue;
            }
            // Only the transactions that paid an address and a peel-chain link (into a peel
            // transaction) are free steps back.
            if cost == max
                && self.graph.kind(n) == NodeKind::Transaction
                && self.step.shape(n).is_none()
            {
                side.wait((by, cost, n), self.graph.side_len_hint(n, true));
                continue;
            }
            self.expand_backward(side, n, by, cost, max)?;
        }
        Ok(())
    }

    /// Follows the receipts of `n`, which can send at `by` on a path of `cost` hops back.
    fn expand_backward(
        &mut self,
        side: &mut Side,
        n: NodeId,
        by: u32,
        cost: usize,
        max: usize,
    ) -> Result<(), Return> {
        let mut received = std::mem::take(&mut self.edges);
        received.clear();
        self.graph.neighbours(n, true, self.asset, &mut received);
        let mut r = Ok(());
        for &(m, _, time) in &received {
            // Before a label reached the target: not on a way back.
            if time != 0 && time < self.window.0 {
                continue;
            }
            let time = if time == 0 { u32::MAX } else { time };
            // `n` sends on at or before `by`, after it received this (a tagged node sends
            // its own label, the target included, which ends the path found below).
            if m == n || time > by || (m != self.target && self.tags.contains_key(&m)) {
                continue;
            }
            let c = cost + self.step.cost(m, n, false) as usize;
            if c > max {
                side.beyond.push((time, c, m));
            } else {
                r = self.reach_backward(side, m, c, time);
                if r.is_err() {
                    break;
                }
            }
        }
        self.edges = received;
        r
    }

    /// `m` can send at `time` on a path of `c` hops back to the target.
    fn reach_backward(
        &mut self,
        side: &mut Side,
        m: NodeId,
        c: usize,
        time: u32,
    ) -> Result<(), Return> {
        // Met before at no more hops and no earlier (checked first: cheaper than the
        // index's arrivals, read below).
        if side.reached.get(&m).is_some_and(|l| l[..=c].iter().any(|&t| t >= time)) {
            return Ok(());
        }
        // What `m` sent then held no label that could still reach the target in time.
        if self.arrivals(m).before(self.hops - c as u32, place(time)) {
            return Ok(());
        }
        // The target itself, sending then: a way back found on this side alone.
        if m == self.target {
            return Err(Return::Found);
        }
        side.reached.entry(m).or_insert([0; MAX_HOPS + 1])[c] = time;
        if side.reached.len() > self.limit {
            return Err(Return::Unknown);
        }
        side.queue.push(Reverse((!time, c, m)));
        Ok(())
    }
}

/// One side of a round-trip search, kept from one depth to the next: the nodes it reached
/// (forward: the earliest time per hop count; backward: the latest), those it expanded and
/// when, those waiting to be, and the steps it found beyond the hops it was allowed.
struct Side {
    reached: Reached,
    done: FxHashMap<NodeId, (usize, u32)>,
    /// Earliest first: forward, by time; backward, by time inverted (latest first).
    queue: BinaryHeap<Reverse<(u32, usize, NodeId)>>,
    /// Steps of more hops than allowed so far: time, hops, node.
    beyond: Vec<(u32, usize, NodeId)>,
    /// Nodes at the depth allowed so far none of whose steps is free, to expand deeper:
    /// time (forward: reached; backward: by), hops, node.
    waiting: Vec<(u32, usize, NodeId)>,
    /// About how many transfers the waiting nodes have ([`Side::wait`]).
    waiting_transfers: usize,
}

impl Side {
    /// A side that starts at `target`, queued with `key`.
    fn from(target: NodeId, key: u32) -> Side {
        let mut queue = BinaryHeap::new();
        queue.push(Reverse((key, 0, target)));
        Side {
            reached: Reached::default(),
            done: FxHashMap::default(),
            queue,
            beyond: Vec::new(),
            waiting: Vec::new(),
            waiting_transfers: 0,
        }
    }

    /// About how many steps a deeper call starts from: those kept beyond the hops and
    /// those of the nodes waiting.
    fn work(&self) -> usize {
        self.beyond.len() + self.waiting_transfers
    }

    /// `node` waits for a deeper call; `transfers`: how many it has on the side followed, at
    /// least (0 for a short list, counted as [`SHORT_LIST`]).
    fn wait(&mut self, node: (u32, usize, NodeId), transfers: usize) {
        self.waiting.push(node);
        self.waiting_transfers += transfers.max(SHORT_LIST);
    }

    fn take_waiting(&mut self) -> Vec<(u32, usize, NodeId)> {
        self.waiting_transfers = 0;
        std::mem::take(&mut self.waiting)
    }

    /// Takes out the steps kept beyond the hops that are within `max` now.
    fn within(&mut self, max: usize) -> Vec<(u32, usize, NodeId)> {
        let (now, later) = std::mem::take(&mut self.beyond).into_iter().partition(|b| b.1 <= max);
        self.beyond = later;
        now
    }
}

/// The transfers a node's side is counted as having when its list is short (the graph
/// counts only long ones): about a Bitcoin transaction's inputs or an address's receipts.
const SHORT_LIST: usize = 4;

/// Sends beyond which a forward step reads whether its sender received a peel change before
/// whether the transaction it spent into is a peel transaction (the two orders agree).
const MANY_SENDS: usize = 8;

/// The hop a step costs, as the pass charges it ([`crate::pass::Hops::cost`]): an address
/// sending 1, a transaction 0, a peel-chain link 0 (an address that received a peel
/// transaction's large output spending alone into another). Which peel transactions paid an
/// address its change is read once per search, as its steps all ask it.
struct Costs<'c, 'a> {
    ctx: &'c Ctx<'a>,
    /// Per address asked: the peel transactions whose large output it received (`None`: too
    /// many receipts to be a link).
    sources: FxHashMap<NodeId, Option<Vec<NodeId>>>,
    /// The last transaction asked and its peel shape (a backward step asks one for each of
    /// its inputs).
    last: Option<(NodeId, Option<(NodeId, NodeId)>)>,
}

impl Costs<'_, '_> {
    /// The hops from `src` to `dst`; `sources_first`: read whether `src` received a peel
    /// change before whether `dst` is a peel transaction it spent alone into.
    fn cost(&mut self, src: NodeId, dst: NodeId, sources_first: bool) -> u32 {
        let g = self.ctx.g;
        if g.kind(src) == NodeKind::Transaction {
            return 0;
        }
        if g.kind(dst) != NodeKind::Transaction {
            return 1;
        }
        // Read once, the sources answer again from their cache.
        if sources_first && !self.received_peel_change(src, dst) {
            return 1;
        }
        let link = self.spent_alone(src, dst) && self.received_peel_change(src, dst);
        u32::from(!link)
    }

    /// When `tx` is a peel transaction: its input and its large output.
    fn shape(&mut self, tx: NodeId) -> Option<(NodeId, NodeId)> {
        match self.last {
            Some((t, p)) if t == tx => p,
            _ => {
                let p = self.ctx.peel_tx(tx);
                self.last = Some((tx, p));
                p
            }
        }
    }

    /// Whether `tx` is a peel transaction whose only input is `a`.
    fn spent_alone(&mut self, a: NodeId, tx: NodeId) -> bool {
        self.shape(tx).is_some_and(|(input, _)| input == a)
    }

    /// The peel transactions whose large output `a` received (`None`: too many receipts to
    /// be a link), read once.
    fn peel_sources(&mut self, a: NodeId) -> Option<&[NodeId]> {
        let ctx = self.ctx;
        self.sources.entry(a).or_insert_with(|| ctx.peel_change_sources(a)).as_deref()
    }

    /// Whether `a` received the large output of a peel transaction other than `not`.
    fn received_peel_change(&mut self, a: NodeId, not: NodeId) -> bool {
        self.peel_sources(a).is_some_and(|v| v.iter().any(|&x| x != not))
    }

    /// Whether `a` received the large output of any peel transaction (else no step from it
    /// is a link).
    fn received_any_peel_change(&mut self, a: NodeId) -> bool {
        self.peel_sources(a).is_some_and(|v| !v.is_empty())
    }
}

/// The place in replay order of a transfer at `time`, at its latest (0: unknown, any time).
fn place(time: u32) -> (u32, u64) {
    if time == 0 {
        (u32::MAX, u64::MAX)
    } else {
        (time, u64::MAX)
    }
}

/// Whether value `node` sent can have come back to it within `hops` of its origins, for its
/// index entry `entry` in `index` ([`Return::None`] when the entry is not flagged as a
/// possible round trip: the pass found no labelled value received after labelled value
/// sent): the entry's values at `hops` equal a per-query trace's unless this is
/// [`Return::Found`] or [`Return::Unknown`]. Labels it sent are at least as many hops from
/// their origins as the fewest at which any reached it (a tagged node sends its own label,
/// from no hops on).
pub fn round_trip_within(
    graph: &Graph,
    tags: &HashMap<NodeId, RiskCategory>,
    index: &ExposureIndex,
    node: NodeId,
    entry: &IndexedExposure,
    hops: u32,
    limit: usize,
) -> Return {
    if !entry.round_trip {
        return Return::None;
    }
    // What a tagged node sends is its own label, whatever it received.
    let fewest = if tags.contains_key(&node) {
        0
    } else {
        match entry.categories.iter().map(|c| c.poison_min_hops).min() {
            Some(m) => m,
            None => return Return::None,
        }
    };
    returns_within(graph, tags, Some(index), node, &entry.asset, hops, fewest, limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pass::tests::{below, world};
    use crate::pass::Hops;

    /// A tagged target's own value coming back is found whichever side of the search meets
    /// the way back (here the backward side alone, the forward one having the more waiting),
    /// and a payment back made before it paid out is no way back.
    #[test]
    fn a_tagged_target_paid_back_is_a_round_trip() {
        use floodgate_graph::{EdgeInput, GraphBuilder};
        use floodgate_types::{Amount, Chain, Hash32};
        for (out_at, back_at, want) in [(1040, 1080, Return::Found), (1080, 1040, Return::None)] {
            let dir = tempfile::tempdir().unwrap();
            let empty = Graph::open_or_empty(dir.path()).unwrap();
            let mut b = GraphBuilder::new(Some(&empty));
            let t = b.node("0xt", NodeKind::Address).unwrap();
            let x = b.node("0xx", NodeKind::Address).unwrap();
            let pay = |b: &mut GraphBuilder<'_>, from, to, at: i64, i: u8| {
                let e = EdgeInput {
                    amount: Amount::from(100u64),
                    time: Some(at),
                    asset: "ETH",
                    txid: Hash32([i; 32]),
                    chain: Chain::Ethereum,
                };
                b.add_edge(from, to, &e).unwrap();
            };
            pay(&mut b, t, x, out_at, 1);
            pay(&mut b, x, t, back_at, 2);
            b.commit(&empty, Default::default()).unwrap();
            let g = Graph::open(dir.path()).unwrap();
            let tags = HashMap::from([(t, RiskCategory::Sanctioned)]);
            for hops in 2..=6 {
                assert_eq!(returns_within(&g, &tags, None, t, "ETH", hops, 0, 1 << 10), want);
            }
            assert_eq!(returns_within(&g, &tags, None, t, "ETH", 1, 0, 1 << 10), Return::None);
        }
    }

    /// A search charges every step what the pass charges it, reading either way round and
    /// from caches filled in any order, on random worlds, some of whose steps from an
    /// address are peel-chain links (free).
    #[test]
    fn a_search_charges_steps_as_the_pass_does() {
        let mut next = below(0x510e_527f_ade6_82d1u64);
        let mut links = 0;
        for round in 0..40u8 {
            let (_dir, g, tags) = world(round, &mut next);
            for asset in g.assets() {
                with_ctx(&g, &tags, &asset, |ctx| {
                    let hops = Hops::new(&g, ctx);
                    let mut costs = Costs { ctx, sources: FxHashMap::default(), last: None };
                    for n in (0..g.node_count()).rev().map(NodeId) {
                        for e in g.out_ends(n).filter(|e| e.asset == asset) {
                            let want = hops.cost(e.src, e.dst);
                            let first = next(2) == 0;
                            assert_eq!(costs.cost(e.src, e.dst, first), want, "{e:?}");
                            assert_eq!(costs.cost(e.src, e.dst, !first), want, "{e:?}");
                            if want == 0 && g.kind(e.src) == NodeKind::Address {
                                links += 1;
                            }
                        }
                    }
                });
            }
        }
        assert!(links > 0, "no peel-chain link in the worlds: the test would prove nothing");
    }
}
