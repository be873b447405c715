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

use crate::index::{ExposureIndex, FirstArrivals, IndexedExposure};
use crate::pass::{with_ctx, Hops};

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
/// costs 10–20 µs to expand at 50M transfers, so about one to three seconds, no more than the
/// per-query trace the address then gets. No search of the generated worlds reached it.
pub const ROUND_TRIP_SEARCH: usize = 1 << 17;

/// The most hops a search follows (the index's largest bucket).
const MAX_HOPS: usize = 6;

/// Whether a transfer path of `asset` leads from `target`'s transfers back to `target` that
/// a label can take and still arrive within `hops` hops of its origin, when the labels it can
/// have sent are at least `fewest` hops from theirs. Hops are charged as the exposure index's
/// pass charges them (an address sending 1, a transaction 0, a peel-chain link 0); each step
/// at or after the time the value reached its sender (a transfer of unknown time may be at
/// any time); never through a tagged node (what a tagged node sends is its own). With the
/// `index`, a send is skipped when no label that could still come back in time had reached
/// its sender by then ([`ExposureIndex::first_arrivals`]: the pass's arrivals include the
/// target's own labels). Searches at most `limit` nodes ([`Return::Unknown`] beyond).
///
/// The search meets in the middle: forward from the target's sends over paths of `a` hops,
/// backward from its receipts over `b`, `a + b` the hops to search, a path found where a node
/// reached forward by some time can still send on a backward path at or after it. The side
/// that met fewer nodes is searched one hop deeper until the two cover the hops, so neither
/// grows into the whole cone of a hub.
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
            step: Hops::new(graph, ctx),
            arrived: FxHashMap::default(),
            limit,
            edges: Vec::new(),
        };
        // A tagged target sends its own label from the start.
        let from = if tags.contains_key(&target) { FirstArrivals::START } else { s.first(target) };
        s.arrived.insert(target, from);
        let (mut a, mut b) = (0, 0);
        let mut ahead = match s.forward(a) {
            Ok(f) => f,
            Err(r) => return r,
        };
        let mut back = match s.backward(b) {
            Ok(f) => f,
            Err(r) => return r,
        };
        while a + b < budget {
            let r = if ahead.len() <= back.len() {
                a += 1;
                s.forward(a).map(|f| ahead = f)
            } else {
                b += 1;
                s.backward(b).map(|f| back = f)
            };
            if let Err(r) = r {
                return r;
            }
        }
        // Met: reached forward by a time at which it can still send on a backward path, at
        // hops that add up to the budget at most.
        let met = back.iter().any(|(n, latest)| {
            ahead.get(n).is_some_and(|earliest| {
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
    step: Hops<'c, 'a>,
    /// When labels first reached each node met.
    arrived: FxHashMap<NodeId, FirstArrivals>,
    limit: usize,
    edges: Vec<(NodeId, ruint::aliases::U256, u32)>,
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

    /// The nodes reached from the target's sends over paths gaining at most `max` hops, each
    /// at the earliest time per hop count; `Err` when the search found the target itself
    /// ([`Return::Found`]) or met more than its limit ([`Return::Unknown`]). Earliest first,
    /// so a node is expanded about once per hop count at which it was reached with fewer
    /// hops than before.
    fn forward(&mut self, max: usize) -> Result<Reached, Return> {
        let mut reached: Reached = FxHashMap::default();
        reached.insert(self.target, [0; MAX_HOPS + 1]);
        let mut expanded: FxHashMap<NodeId, (usize, u32)> = FxHashMap::default();
        let mut queue: BinaryHeap<Reverse<(u32, usize, NodeId)>> = BinaryHeap::new();
        queue.push(Reverse((0, 0, self.target)));
        let mut sent = std::mem::take(&mut self.edges);
        while let Some(Reverse((at, cost, n))) = queue.pop() {
            // Expanded before at no more hops and no later (a transfer of unknown time can
            // make a later visit earlier).
            match expanded.get(&n) {
                Some(&(c, t)) if c <= cost && t <= at => continue,
                _ => {
                    expanded.insert(n, (cost, at));
                }
            }
            let from = self.arrivals(n);
            sent.clear();
            self.graph.neighbours(n, false, self.asset, &mut sent);
            for &(m, _, time) in &sent {
                // A self-transfer moves nothing; a send before the value arrived carries none.
                if m == n || (time != 0 && time < at) {
                    continue;
                }
                let step = self.step.cost(n, m);
                let c = cost + step as usize;
                // No label that could still come back within the hops had reached `n` then.
                if c > max || from.before(self.hops - step, place(time)) {
                    continue;
                }
                if m == self.target {
                    return Err(Return::Found);
                }
                if self.tags.contains_key(&m) {
                    continue;
                }
                let r = reached.entry(m).or_insert([u32::MAX; MAX_HOPS + 1]);
                if r[..=c].iter().any(|&t| t <= time) {
                    continue;
                }
                r[c] = time;
                if reached.len() > self.limit {
                    return Err(Return::Unknown);
                }
                queue.push(Reverse((time, c, m)));
            }
        }
        self.edges = sent;
        Ok(reached)
    }

    /// The nodes from which a path gaining at most `max` hops leads to the target's receipts,
    /// each at the latest time per hop count it can send on it (a transfer of unknown time:
    /// any time). Latest first.
    fn backward(&mut self, max: usize) -> Result<Reached, Return> {
        let mut latest: Reached = FxHashMap::default();
        let mut done: FxHashMap<NodeId, (usize, u32)> = FxHashMap::default();
        let mut queue: BinaryHeap<(u32, Reverse<usize>, NodeId)> = BinaryHeap::new();
        queue.push((u32::MAX, Reverse(0), self.target));
        let mut received = std::mem::take(&mut self.edges);
        while let Some((by, Reverse(cost), n)) = queue.pop() {
            match done.get(&n) {
                Some(&(c, t)) if c <= cost && t >= by => continue,
                _ => {
                    done.insert(n, (cost, by));
                }
            }
            received.clear();
            self.graph.neighbours(n, true, self.asset, &mut received);
            for &(m, _, time) in &received {
                let time = if time == 0 { u32::MAX } else { time };
                // `n` sends on at or before `by`, after it received this.
                if m == n || time > by || self.tags.contains_key(&m) {
                    continue;
                }
                let c = cost + self.step.cost(m, n) as usize;
                if c > max {
                    continue;
                }
                // Met before at no more hops and no earlier (checked first: cheaper than the
                // index's arrivals, read below).
                if latest.get(&m).is_some_and(|l| l[..=c].iter().any(|&t| t >= time)) {
                    continue;
                }
                // What `m` sent then held no label that could still reach the target in time.
                let from = self.arrivals(m);
                if from.before(self.hops - c as u32, place(time)) {
                    continue;
                }
                latest.entry(m).or_insert([0; MAX_HOPS + 1])[c] = time;
                if latest.len() > self.limit {
                    return Err(Return::Unknown);
                }
                queue.push((time, Reverse(c), m));
            }
        }
        self.edges = received;
        Ok(latest)
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
