//! Exposure: how much of the value that reached (or left) a node came from (or went to)
//! nodes of each risk category, directly or through intermediaries, under a taint model.
//! Definitions (and why) in `docs/taint-models.md`; FIFO, LIFO and TIHO are in `taint.rs`.
//!
//! - **Hops.** One hop is one transfer between parties: arriving at an address costs 1,
//!   passing through a UTXO transaction node costs 0 (so on Bitcoin the inputs of the
//!   transaction that paid the target are at hop 1, as on account chains the senders are).
//! - **End points.** Every tagged node ends the trace: value is attributed to its category
//!   and not followed further. So a known service (an exchange) is an end point, not a
//!   pass-through, as the commercial tools define it.
//! - **Haircut** (proportional): a node's traced value is split over its eligible upstream
//!   edges in proportion to their amounts (integer floor division, so the sum of the parts
//!   never exceeds the whole; the remainder is reported as untraced).
//! - **Poison**: all of a first-hop transfer's value is exposed to every category reachable
//!   upstream of it within the hop limit.

use std::collections::{BTreeMap, HashMap, VecDeque};

use floodgate_types::Amount;
use ruint::aliases::{U256, U512};
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::index::{ExposureIndex, IndexState};
use crate::taint::Order;
use floodgate_graph::{Clustering, Edge, EntityId, Graph, GraphError, NodeId, NodeKind};
use floodgate_types::RiskCategory;

/// Which way to trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Where the value received by the node came from (sending exposure of its sources).
    In,
    /// Where the value sent by the node went to.
    Out,
}

/// The taint model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaintModel {
    /// Proportional to value at every node.
    Haircut,
    /// Any contact taints the whole transfer.
    Poison,
    /// First in, first out: value leaves a node in the order it arrived.
    Fifo,
    /// Last in, first out: the newest value leaves a node first.
    Lifo,
    /// Taint in, highest out: tainted value goes to a node's largest transfers first.
    Tiho,
}

/// What to compute.
#[derive(Debug, Clone)]
pub struct ExposureOptions {
    /// Direction.
    pub direction: Direction,
    /// Hop limit (at least 1).
    pub hops: u32,
    /// Model.
    pub model: TaintModel,
    /// Transfers below this amount are not followed.
    pub min_amount: Amount,
    /// Only transfers at or after this time (Unix seconds).
    pub since: Option<i64>,
    /// Only transfers at or before this time (Unix seconds).
    pub until: Option<i64>,
    /// Only this asset; `None` = one report per asset the node moved.
    pub asset: Option<String>,
    /// Follow peel chains without spending the hop budget on each link (see
    /// [`ExposureReport::peel_links`] and `docs/taint-models.md`).
    pub peel_chains: bool,
    /// Haircut, poison and TIHO as they were before they respected time: value may be traced
    /// to a transfer that happened after the one it funds (`--ignore-time`). Off by default;
    /// FIFO and LIFO always respect time and refuse it.
    pub ignore_time: bool,
}

impl Default for ExposureOptions {
    fn default() -> Self {
        ExposureOptions {
            direction: Direction::In,
            hops: 3,
            model: TaintModel::Haircut,
            min_amount: Amount::ZERO,
            since: None,
            until: None,
            asset: None,
            peel_chains: true,
            ignore_time: false,
        }
    }
}

/// A node that contributed to a category (evidence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExposureSource {
    /// Node key (address).
    pub node: String,
    /// Value attributed through it.
    pub value: Amount,
    /// Hops from the target.
    pub hops: u32,
}

/// Exposure to one category.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryExposure {
    /// The category.
    pub category: RiskCategory,
    /// Whether it is a risk category (as opposed to a service).
    pub risk: bool,
    /// Value exposed, in base units.
    pub value: Amount,
    /// `value / total` (for display; the amounts are exact).
    pub share: f64,
    /// Of `value`, found at hop 1.
    pub direct: Amount,
    /// Of `value`, found at hop 2 or more.
    pub indirect: Amount,
    /// The lowest hop at which the category was found.
    pub min_hops: u32,
    /// The largest contributing nodes (at most 5), as evidence.
    pub sources: Vec<ExposureSource>,
}

/// The exposure of one node in one asset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExposureReport {
    /// The node's key.
    pub target: String,
    /// Direction.
    pub direction: Direction,
    /// Model.
    pub model: TaintModel,
    /// Hop limit.
    pub hops: u32,
    /// Asset.
    pub asset: String,
    /// Value received (or sent) by the node in the window: the base of every share.
    pub total: Amount,
    /// Per category with non-zero exposure, highest value first.
    pub categories: Vec<CategoryExposure>,
    /// Haircut, FIFO, LIFO, TIHO: value not attributed to any category (untagged origins,
    /// beyond the hop limit, below the minimum amount, rounding; FIFO/LIFO/TIHO also value
    /// from outside the graph or window, value still held, and round trips through the
    /// target), so that `Σ category values + untraced = total`. Poison: zero.
    pub untraced: Amount,
    /// Peel-chain links the trace passed without spending a hop: addresses that received the
    /// large output of a peel transaction (one input, a small payment, a large change) and
    /// spent it as the only input of the next one. Zero unless `peel_chains` is on.
    pub peel_links: u32,
    /// The model ignored time (`--ignore-time`): value may have been traced to transfers
    /// made after the ones it funds. Absent from JSON when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ignore_time: bool,
    /// The report was read from the exposure index (`trace build`), not traced per query:
    /// the values are the same (see `ExposureIndex`), the evidence is the largest origins
    /// within 6 hops (at most 3 per category) and `peel_links` is not counted. Absent from
    /// JSON when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub from_index: bool,
}

fn u(a: Amount) -> U256 {
    a.as_u256()
}
fn amt(v: U256) -> Amount {
    Amount::from_be_bytes(v.to_be_bytes::<32>())
}

pub(crate) struct Ctx<'a> {
    pub(crate) g: &'a Graph,
    pub(crate) tags: &'a HashMap<NodeId, RiskCategory>,
    pub(crate) opts: &'a ExposureOptions,
    pub(crate) asset: &'a str,
    /// The target's own nodes: value that comes back to them (a round trip, a change output)
    /// is not followed again, so no coin is counted twice.
    pub(crate) members: &'a rustc_hash::FxHashSet<NodeId>,
    /// The peel-chain links passed without a hop so far.
    pub(crate) peel: std::cell::RefCell<rustc_hash::FxHashSet<NodeId>>,
}

/// A peel transaction pays at most one part in this many to the payment output (20 %).
const PEEL_RATIO: u64 = 5;

/// A peel-chain link has at most this many transfers on the side examined.
const PEEL_MAX_DEGREE: usize = 256;

/// The most peel-chain links a trace that ignores time (`--ignore-time`) follows without
/// spending hops: its walk has no time order to end it, and links may form a cycle. A causal
/// trace follows every link free, as the exposure index's forward pass does, so that the two
/// give the same answer (with this cap on causal traces too, 3 of 200 random addresses of the
/// 2M-transfer generated world got a different answer from each, issue 15).
pub(crate) const PEEL_MAX_LINKS: u32 = 256;

/// The longest run of peel-chain links a causal trace follows along one path: a guard on its
/// recursion against a malformed graph (every step back passes a strictly earlier transfer,
/// so a well-formed one ends anyway). Far above real chains (thousands of links).
pub(crate) const PEEL_MAX_CHAIN: u32 = 1 << 16;

impl<'a> Ctx<'a> {
    /// Upstream edges of `n` that carry the asset inside the time window, as
    /// `(neighbour, amount)`, self-transfers left out.
    pub(crate) fn upstream(&self, n: NodeId) -> Vec<(NodeId, U256)> {
        let mut v = Vec::new();
        let (since, until) = (self.opts.since, self.opts.until);
        let timed = since.is_some() || until.is_some();
        self.g.walk(n, self.opts.direction == Direction::In, self.asset, timed, &mut v);
        if since.is_some() || until.is_some() {
            // Time 0 is "unknown": such an edge is outside any window.
            v.retain(|&(_, _, t)| {
                let t = i64::from(t);
                t != 0 && since.is_none_or(|s| t >= s) && until.is_none_or(|u| t <= u)
            });
        }
        // A transfer from a node to itself moves nothing: it is neither value received nor
        // a source (counting it made haircut and poison count the value twice, issue 15).
        v.into_iter().filter(|&(m, _, _)| m != n).map(|(m, a, _)| (m, a)).collect()
    }
    /// Whether a transfer at time `t` (0 = unknown) is inside the query's window: a transfer
    /// of unknown time is outside any window.
    pub(crate) fn in_window(&self, t: u32) -> bool {
        let (since, until) = (self.opts.since, self.opts.until);
        if since.is_none() && until.is_none() {
            return true;
        }
        let t = i64::from(t);
        t != 0 && since.is_none_or(|s| t >= s) && until.is_none_or(|u| t <= u)
    }

    /// Whether `u` belongs to the target itself: one of its members, or a UTXO transaction
    /// that also spends from (or pays to) a member (its own spend, whose outputs back to it
    /// are change). Transfers with such nodes are internal to an entity.
    pub(crate) fn is_own(&self, u: NodeId) -> bool {
        self.members.contains(&u)
            || (self.g.kind(u) == NodeKind::Transaction
                && self.upstream(u).iter().any(|(x, _)| self.members.contains(x)))
    }

    pub(crate) fn cost(&self, n: NodeId) -> u32 {
        match self.g.kind(n) {
            NodeKind::Address => 1,
            NodeKind::Transaction => 0,
        }
    }

    /// The hops a trace spends moving from `near` (the end nearer the target) to `far`: as
    /// [`Ctx::cost`], except that a peel-chain link costs none when `peel_chains` is on. A
    /// link is an address that is the large output of a peel transaction and the only input
    /// of another: the step from the later one back to it (`in`) or from the earlier one on
    /// to it (`out`).
    pub(crate) fn step_cost(&self, near: NodeId, far: NodeId) -> u32 {
        let c = self.cost(far);
        if c == 0 || !self.opts.peel_chains || self.g.kind(near) != NodeKind::Transaction {
            return c;
        }
        // A link is free only on the step the definition names (from the peel transaction it
        // spent into, or the one that paid it), whatever was found before in this trace: so
        // the cost of a step does not depend on the order a trace met it, and the exposure
        // index's one forward pass charges every step as a query does.
        let link = match self.opts.direction {
            Direction::In => self.peel_link_in(near, far, |t| self.peel_tx(t)),
            Direction::Out => {
                self.peel_tx(near).is_some_and(|(_, large)| large == far)
                    && self.spent_into_peel(far, near)
            }
        };
        if !link {
            return c;
        }
        let mut seen = self.peel.borrow_mut();
        if self.opts.ignore_time && !seen.contains(&far) && seen.len() as u32 >= PEEL_MAX_LINKS {
            return c;
        }
        seen.insert(far);
        0
    }

    /// Tracing `in`: whether address `far`, spending into transaction `near`, is a peel-chain
    /// link there: `near` is a peel transaction whose only input is `far`, and `far` received
    /// the large output of another peel transaction. `peel_tx` answers [`Ctx::peel_tx`] (the
    /// exposure index passes a cached one).
    pub(crate) fn peel_link_in(
        &self,
        near: NodeId,
        far: NodeId,
        peel_tx: impl Fn(NodeId) -> Option<(NodeId, NodeId)>,
    ) -> bool {
        peel_tx(near).is_some_and(|(input, _)| input == far) && self.received_peel_change(far, near)
    }

    /// When `tx` is a peel transaction in the asset (one input; two outputs to two other
    /// addresses, the smaller at most a fifth of the total): `(its input, its large output)`.
    ///
    /// Reads at most two of its inputs and three of its outputs: one with more is no peel
    /// transaction, and a trace may ask about an exchange's consolidation of thousands of
    /// inputs once for every input it follows into it.
    pub(crate) fn peel_tx(&self, tx: NodeId) -> Option<(NodeId, NodeId)> {
        if self.g.kind(tx) != NodeKind::Transaction {
            return None;
        }
        // The outputs first: a transaction's own list, cheaper to read than its inputs (kept
        // apart), and on the generated world nine transactions in ten fail here.
        let mut outs = self
            .g
            .out_ends(tx)
            .filter(|e| e.asset == self.asset)
            .map(|e| (e.dst, e.amount.as_u256()));
        let (Some((a, x)), Some((b, y)), None) = (outs.next(), outs.next(), outs.next()) else {
            return None;
        };
        let (large, small, big) = if x >= y { (a, y, x) } else { (b, x, y) };
        let total = small.saturating_add(big);
        if small.saturating_mul(U256::from(PEEL_RATIO)) > total || a == b {
            return None;
        }
        let mut ins = self.g.in_ends(tx).filter(|e| e.asset == self.asset);
        let (Some(only), None) = (ins.next(), ins.next()) else { return None };
        let input = only.src;
        // Change back to the spending address is a payment with change, not a chain moving on.
        (large != input).then_some((input, large))
    }

    /// Whether address `a` received the large output of a peel transaction other than `not`.
    /// An address with more than [`PEEL_MAX_DEGREE`] transfers received is a service, not a
    /// peel hop (and reading a hub's whole list on every step would be slow).
    fn received_peel_change(&self, a: NodeId, not: NodeId) -> bool {
        self.peel_change_sources(a).is_some_and(|v| v.iter().any(|&x| x != not))
    }

    /// The peel transactions whose large output address `a` received (in storage order), or
    /// `None` when it received too many transfers to be a peel hop (see
    /// [`Ctx::received_peel_change`]). Whether a hop from `a` is free depends on nothing else
    /// about `a`: the exposure index's update compares it before and after an append.
    pub(crate) fn peel_change_sources(&self, a: NodeId) -> Option<Vec<NodeId>> {
        let ins: Vec<NodeId> = self
            .g
            .in_ends(a)
            .take(PEEL_MAX_DEGREE + 1)
            .filter(|e| e.asset == self.asset)
            .map(|e| e.src)
            .collect();
        (ins.len() <= PEEL_MAX_DEGREE).then(|| {
            ins.into_iter().filter(|&x| self.peel_tx(x).is_some_and(|(_, l)| l == a)).collect()
        })
    }

    /// Whether address `a` spent into a peel transaction other than `not` as its only input
    /// (at most [`PEEL_MAX_DEGREE`] transfers sent, as above).
    fn spent_into_peel(&self, a: NodeId, not: NodeId) -> bool {
        let outs: Vec<NodeId> = self
            .g
            .out_ends(a)
            .take(PEEL_MAX_DEGREE + 1)
            .filter(|e| e.asset == self.asset)
            .map(|e| e.dst)
            .collect();
        outs.len() <= PEEL_MAX_DEGREE
            && outs.iter().any(|&y| y != not && self.peel_tx(y).is_some_and(|(i, _)| i == a))
    }
}

#[derive(Default)]
pub(crate) struct Acc {
    value: U256,
    direct: U256,
    min_hops: u32,
    sources: HashMap<NodeId, (U256, u32)>,
}

impl Acc {
    pub(crate) fn add(&mut self, node: NodeId, v: U256, hops: u32) {
        if self.value.is_zero() && self.sources.is_empty() {
            self.min_hops = hops;
        }
        self.min_hops = self.min_hops.min(hops);
        self.value = self.value.saturating_add(v);
        if hops <= 1 {
            self.direct = self.direct.saturating_add(v);
        }
        let s = self.sources.entry(node).or_insert((U256::ZERO, hops));
        s.0 = s.0.saturating_add(v);
        s.1 = s.1.min(hops);
    }
}

/// `f * a / d`, floored, exact (512-bit intermediate).
pub(crate) fn share(f: U256, a: U256, d: U256) -> U256 {
    if d.is_zero() {
        return U256::ZERO;
    }
    // Fast path: everything fits in u128 and so does the product.
    if let (Ok(f1), Ok(a1), Ok(d1)) = (u128::try_from(f), u128::try_from(a), u128::try_from(d)) {
        if let Some(p) = f1.checked_mul(a1) {
            return U256::from(p / d1);
        }
    }
    let p = U512::from(f) * U512::from(a) / U512::from(d);
    // p <= f whenever a <= d, which holds for a part of d.
    p.saturating_to::<U256>().min(f)
}

/// Computes the exposure of `target`: one report per asset (or only `opts.asset`).
/// `tags` is the category of every tagged node (see `floodgate_attribution::TagSet::resolve`).
///
/// # Errors
/// [`GraphError::NotInGraph`] when `target` is not a node of `graph`.
pub fn exposure(
    graph: &Graph,
    tags: &HashMap<NodeId, RiskCategory>,
    target: NodeId,
    opts: &ExposureOptions,
) -> Result<Vec<ExposureReport>, GraphError> {
    if target.0 >= graph.node_count() {
        return Err(GraphError::NotInGraph { key: format!("node #{}", target.0) });
    }
    let r = exposure_internal(graph, tags, &[target], &graph.key(target), opts, None)?;
    graph.damage()?;
    Ok(r)
}

/// As [`exposure`], with the exposure index of the graph (`trace build`) to prune the causal
/// haircut and poison traces `in`: a node the index shows never received value of any
/// category within the hops a trace has left at it sent none, so its transfers are not read
/// (`docs/taint-models.md`, *Cost*). The reports are the same as [`exposure`]'s. The index
/// is used only when it is current for `graph` and `tags` ([`IndexState::stale_reason`]);
/// otherwise, and for the other models and `out`, the trace runs as [`exposure`]'s.
/// Returns whether the index pruned the trace beside the reports.
///
/// # Errors
/// As [`exposure`].
pub fn exposure_indexed(
    graph: &Graph,
    tags: &HashMap<NodeId, RiskCategory>,
    index: &ExposureIndex,
    target: NodeId,
    opts: &ExposureOptions,
) -> Result<(Vec<ExposureReport>, bool), GraphError> {
    if target.0 >= graph.node_count() {
        return Err(GraphError::NotInGraph { key: format!("node #{}", target.0) });
    }
    let current = index.state().stale_reason(&IndexState::of(graph, tags)).is_none();
    let used = current
        && !opts.ignore_time
        && opts.direction == Direction::In
        && matches!(opts.model, TaintModel::Haircut | TaintModel::Poison);
    let index = used.then_some(index);
    let r = exposure_internal(graph, tags, &[target], &graph.key(target), opts, index)?;
    graph.damage()?;
    Ok((r, used))
}

/// The exposure of a whole entity: the value its addresses received from (or sent to)
/// outside the entity. Transfers between its own addresses, and UTXO transactions that
/// spend from one of its addresses (its own spends, whose outputs back to it are change),
/// are internal and left out.
///
/// # Errors
/// [`GraphError::NotInGraph`] when no address of the graph belongs to `entity`.
pub fn entity_exposure(
    graph: &Graph,
    tags: &HashMap<NodeId, RiskCategory>,
    clusters: &Clustering,
    entity: EntityId,
    opts: &ExposureOptions,
) -> Result<Vec<ExposureReport>, GraphError> {
    let members: Vec<NodeId> = (0..graph.node_count())
        .map(NodeId)
        .filter(|&n| graph.kind(n) == NodeKind::Address && clusters.entity_of(n) == entity)
        .collect();
    if members.is_empty() {
        return Err(GraphError::NotInGraph { key: entity.to_string() });
    }
    let r = exposure_internal(graph, tags, &members, &entity.to_string(), opts, None)?;
    graph.damage()?;
    Ok(r)
}

fn exposure_internal(
    graph: &Graph,
    tags: &HashMap<NodeId, RiskCategory>,
    members: &[NodeId],
    label: &str,
    opts: &ExposureOptions,
    index: Option<&ExposureIndex>,
) -> Result<Vec<ExposureReport>, GraphError> {
    let assets: Vec<String> = match &opts.asset {
        Some(a) => vec![a.clone()],
        None => {
            let mut v: Vec<String> = Vec::new();
            for &m in members {
                let edges: Vec<Edge<'_>> = match opts.direction {
                    Direction::In => graph.in_edges(m).collect(),
                    Direction::Out => graph.out_edges(m).collect(),
                };
                v.extend(edges.iter().map(|e| e.asset.to_owned()));
            }
            v.sort();
            v.dedup();
            v
        }
    };
    let mut out = Vec::new();
    let member_set: rustc_hash::FxHashSet<NodeId> = members.iter().copied().collect();
    for asset in &assets {
        let ctx = Ctx {
            g: graph,
            tags,
            opts,
            asset,
            members: &member_set,
            peel: std::cell::RefCell::new(rustc_hash::FxHashSet::default()),
        };
        let (total, accs, untraced) = match opts.model {
            TaintModel::Haircut | TaintModel::Poison | TaintModel::Tiho if !opts.ignore_time => {
                crate::causal::causal_exposure(&ctx, members, index)
            }
            TaintModel::Haircut => haircut(&ctx, first_edges(&ctx, members)),
            TaintModel::Poison => poison(&ctx, first_edges(&ctx, members)),
            TaintModel::Fifo => crate::taint::order_exposure(&ctx, members, Order::Fifo),
            TaintModel::Lifo => crate::taint::order_exposure(&ctx, members, Order::Lifo),
            TaintModel::Tiho => crate::taint::tiho_exposure(&ctx, members),
        };
        let mut categories: Vec<CategoryExposure> = accs
            .into_iter()
            .filter(|(_, a)| !a.value.is_zero())
            .map(|(category, a)| {
                let mut sources: Vec<ExposureSource> = a
                    .sources
                    .iter()
                    .map(|(n, (v, h))| ExposureSource {
                        node: graph.key(*n).into_owned(),
                        value: amt(*v),
                        hops: *h,
                    })
                    .collect();
                sources.sort_by(|x, y| y.value.cmp(&x.value).then(x.node.cmp(&y.node)));
                sources.truncate(5);
                CategoryExposure {
                    category,
                    risk: category.is_risk(),
                    value: amt(a.value),
                    share: ratio(a.value, total),
                    direct: amt(a.direct),
                    indirect: amt(a.value.saturating_sub(a.direct)),
                    min_hops: a.min_hops,
                    sources,
                }
            })
            .collect();
        categories.sort_by(|x, y| y.value.cmp(&x.value).then(x.category.cmp(&y.category)));
        out.push(ExposureReport {
            target: label.to_owned(),
            direction: opts.direction,
            model: opts.model,
            hops: opts.hops,
            asset: asset.clone(),
            total: amt(total),
            categories,
            untraced: amt(untraced),
            peel_links: ctx.peel.borrow().len() as u32,
            ignore_time: opts.ignore_time
                && matches!(
                    opts.model,
                    TaintModel::Haircut | TaintModel::Poison | TaintModel::Tiho
                ),
            from_index: false,
        });
    }
    Ok(out)
}

/// `a / b` as a float for display (scores may be floats; money never is).
pub(crate) fn ratio(a: U256, b: U256) -> f64 {
    if b.is_zero() {
        return 0.0;
    }
    // Scale both to at most 2^52 so the division is exact enough for a percentage.
    let shift = b.bit_len().saturating_sub(52);
    let (a, b) = (a >> shift, b >> shift);
    let to_f = |x: U256| x.saturating_to::<u64>() as f64;
    if b.is_zero() {
        return 0.0;
    }
    to_f(a) / to_f(b)
}

pub(crate) type Result3 = (U256, BTreeMap<RiskCategory, Acc>, U256);

/// The transfers through which value reached (or left) the target set: `(neighbour, amount)`.
fn first_edges(ctx: &Ctx<'_>, members: &[NodeId]) -> Vec<(NodeId, U256)> {
    if let [one] = members {
        return ctx.upstream(*one);
    }
    let mut first = Vec::new();
    for &m in members {
        first.extend(ctx.upstream(m).into_iter().filter(|&(u, _)| !ctx.is_own(u)));
    }
    first
}

fn haircut(ctx: &Ctx<'_>, first: Vec<(NodeId, U256)>) -> Result3 {
    let total = first.iter().fold(U256::ZERO, |s, (_, a)| s.saturating_add(*a));
    let mut accs: BTreeMap<RiskCategory, Acc> = BTreeMap::new();
    let mut untraced = U256::ZERO;
    // Frontier keyed by (node, hops used); values are traced amounts. The first step gives
    // each first transfer its own amount (the target's share of itself is exact).
    let mut frontier: FxHashMap<(NodeId, u32), U256> = FxHashMap::default();
    for (m, a) in first {
        let h = ctx.cost(m);
        if h > ctx.opts.hops || a < u(ctx.opts.min_amount) {
            untraced = untraced.saturating_add(a);
            continue;
        }
        let slot = frontier.entry((m, h)).or_insert(U256::ZERO);
        *slot = slot.saturating_add(a);
    }
    let max_steps = 2 * (ctx.opts.hops + crate::exposure::PEEL_MAX_LINKS) as usize + 2;
    for step in 1..=max_steps {
        if frontier.is_empty() {
            break;
        }
        let mut next: FxHashMap<(NodeId, u32), U256> = FxHashMap::default();
        // Order does not matter: every part is floored on its own and sums commute.
        for (&(n, hops), &f) in &frontier {
            if let Some(&c) = ctx.tags.get(&n) {
                accs.entry(c).or_default().add(n, f, hops);
                continue;
            }
            let ups = if step == max_steps { Vec::new() } else { ctx.upstream(n) };
            let d = ups.iter().fold(U256::ZERO, |s, (_, a)| s.saturating_add(*a));
            let mut passed = U256::ZERO;
            for (m, a) in ups {
                let h = hops + ctx.step_cost(n, m);
                // Value back at the target is untraced (counted in `f - passed`).
                if h > ctx.opts.hops || a < u(ctx.opts.min_amount) || ctx.members.contains(&m) {
                    continue;
                }
                let part = share(f, a, d);
                if part.is_zero() {
                    continue;
                }
                passed += part;
                let slot = next.entry((m, h)).or_insert(U256::ZERO);
                *slot = slot.saturating_add(part);
            }
            untraced = untraced.saturating_add(f - passed.min(f));
        }
        frontier = next;
    }
    for f in frontier.values() {
        untraced = untraced.saturating_add(*f);
    }
    (total, accs, untraced)
}

fn poison(ctx: &Ctx<'_>, first: Vec<(NodeId, U256)>) -> Result3 {
    let total = first.iter().fold(U256::ZERO, |s, (_, a)| s.saturating_add(*a));
    let mut accs: BTreeMap<RiskCategory, Acc> = BTreeMap::new();
    let mut cache: HashMap<NodeId, Vec<(RiskCategory, NodeId, u32)>> = HashMap::new();
    for (m, a) in first {
        let h0 = ctx.cost(m);
        if h0 > ctx.opts.hops || a < u(ctx.opts.min_amount) {
            continue;
        }
        let found = cache.entry(m).or_insert_with(|| reach(ctx, m, h0));
        for &(c, node, h) in found.iter() {
            accs.entry(c).or_default().add(node, a, h);
        }
    }
    (total, accs, U256::ZERO)
}

/// Categories reachable upstream from `start` (at `h0` hops) within the limit: the nearest
/// node of each category, tagged nodes ending the search.
fn reach(ctx: &Ctx<'_>, start: NodeId, h0: u32) -> Vec<(RiskCategory, NodeId, u32)> {
    let mut best: BTreeMap<RiskCategory, (u32, NodeId)> = BTreeMap::new();
    let mut dist: FxHashMap<NodeId, u32> = FxHashMap::default();
    let mut queue: VecDeque<(NodeId, u32)> = VecDeque::new();
    dist.insert(start, h0);
    queue.push_back((start, h0));
    // 0-1 BFS: zero-cost moves (into transaction nodes) go to the front, so every node is
    // settled at its fewest hops.
    while let Some((n, h)) = queue.pop_front() {
        if dist.get(&n).is_some_and(|&d| d < h) {
            continue;
        }
        if let Some(&c) = ctx.tags.get(&n) {
            let e = best.entry(c).or_insert((h, n));
            if (h, n) < *e {
                *e = (h, n);
            }
            continue;
        }
        for (m, a) in ctx.upstream(n) {
            if ctx.members.contains(&m) {
                continue;
            }
            let cost = ctx.step_cost(n, m);
            let hm = h + cost;
            if hm > ctx.opts.hops || a < u(ctx.opts.min_amount) {
                continue;
            }
            if dist.get(&m).is_some_and(|&d| d <= hm) {
                continue;
            }
            dist.insert(m, hm);
            if cost == 0 {
                queue.push_front((m, hm));
            } else {
                queue.push_back((m, hm));
            }
        }
    }
    best.into_iter().map(|(c, (h, n))| (c, n, h)).collect()
}
