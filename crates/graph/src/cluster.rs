//! Address clustering: the co-spend (multi-input) heuristic with CoinJoin transactions
//! detected and excluded, deposit-address clustering on account chains, stable entity ids
//! and a merge log that explains every join. The rules, with their sources, are in
//! `docs/taxonomy.md#clustering`; the persisted form in `docs/formats/entities.md`.
//!
//! - **Co-spend.** The input addresses of one UTXO transaction are controlled by one entity
//!   (Nakamoto 2008, §10; Meiklejohn et al. 2013), except in a CoinJoin, where several
//!   parties sign one transaction on purpose.
//! - **CoinJoin** (heuristic): an output value paid to `k >= 3` distinct addresses (the
//!   equal-denomination outputs of Wasabi, Whirlpool and JoinMarket), at least `k` distinct
//!   input addresses (every participant funds its own output), no output to an input
//!   address, and either no other output or at least `k - 1`, half of them change (an
//!   input's spend less the denomination): see [`looks_like_coinjoin`].
//! - **Deposit address** (account chains; Victor 2020, "Address clustering heuristics for
//!   Ethereum"): an address that sweeps what it just received to a wallet tagged `exchange`
//!   is that exchange's deposit address and joins its entity. See [`deposit_sweep`] for
//!   the exact rule; it only runs when exchange nodes are given ([`cluster_with`]).
//! - **Stable ids.** An entity's id is the smallest node id among its addresses. Node ids
//!   never change and new nodes get larger ids, so an entity keeps its id as it grows; when
//!   two entities merge, the older (smaller) id survives and the other is recorded as its
//!   alias, with the transaction that joined them.
//! - **Incremental.** [`Clustering::extend`] processes only what a graph gained since the
//!   clustering was computed (new transaction nodes, new transfers into exchange wallets) on
//!   top of the stored union-find state; the result equals clustering from scratch.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use floodgate_types::{Amount, Chain, Hash32};
use ruint::aliases::U256;
use serde::Serialize;

use crate::{Edge, Graph, NodeId, NodeKind};

/// A stable public entity id: the smallest node id of its addresses. Shown as `E<id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct EntityId(pub u32);

impl std::fmt::Display for EntityId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "E{}", self.0)
    }
}

impl EntityId {
    /// Parses `E<n>` (as shown by [`EntityId`]'s `Display`); `None` for anything else.
    pub fn parse(s: &str) -> Option<EntityId> {
        s.trim().strip_prefix('E').and_then(|n| n.parse::<u32>().ok()).map(EntityId)
    }
}

/// The heuristic that joined two addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinRule {
    /// Both were inputs of one (non-CoinJoin) UTXO transaction.
    CoSpend,
    /// One swept what it received to the other, an exchange wallet (deposit address).
    DepositSweep,
}

impl JoinRule {
    /// The rule's name as reports show it.
    pub fn as_str(self) -> &'static str {
        match self {
            JoinRule::CoSpend => "co-spend",
            JoinRule::DepositSweep => "deposit sweep",
        }
    }
    pub(crate) fn code(self) -> u32 {
        match self {
            JoinRule::CoSpend => 0,
            JoinRule::DepositSweep => 1,
        }
    }
    pub(crate) fn from_code(c: u32) -> Option<JoinRule> {
        match c {
            0 => Some(JoinRule::CoSpend),
            1 => Some(JoinRule::DepositSweep),
            _ => None,
        }
    }
}

impl std::fmt::Display for JoinRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Two entities became one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Merge {
    /// The id that survives.
    pub kept: EntityId,
    /// The id that is now an alias of `kept`.
    pub alias: EntityId,
    /// The heuristic that joined them.
    pub rule: JoinRule,
    /// The transaction that joined them: the UTXO transaction's node key
    /// (`tx:<chain>:<txid>`) for a co-spend, the sweep's transaction id (`0x…`) for a deposit.
    pub tx: String,
    /// When that transaction was mined (Unix seconds), when known.
    pub time: Option<i64>,
}

/// One link of an explanation: `a` and `b` were joined by `tx`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JoinStep {
    /// An address.
    pub a: String,
    /// Another address.
    pub b: String,
    /// The transaction: the node key of the UTXO transaction that spent from both
    /// (co-spend), or the id of the transfer by which one swept funds to the other
    /// (deposit sweep).
    pub tx: String,
    /// The heuristic.
    pub rule: JoinRule,
    /// When the transaction was mined (Unix seconds), when known.
    pub time: Option<i64>,
}

/// What became of an entity id that is no longer an entity's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AliasNote {
    /// The id asked for.
    pub alias: EntityId,
    /// The entity it joined first.
    pub merged_into: EntityId,
    /// The entity it belongs to now (differs from `merged_into` when that merged later).
    pub entity: EntityId,
    /// The heuristic.
    pub rule: JoinRule,
    /// The joining transaction (as in [`Merge::tx`]).
    pub tx: String,
    /// When it was mined (Unix seconds), when known.
    pub time: Option<i64>,
    /// An address that took part in the joining transaction (a co-spent input, or the
    /// deposit address), to look the transaction up in the transfer store.
    pub party: String,
    /// The block height of the joining transaction: the graph holds times, not heights, so
    /// this is `None` until the caller fills it in from the transfer store.
    pub block: Option<u64>,
}

impl std::fmt::Display for AliasNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} was merged into {} by {} tx {}",
            self.alias, self.merged_into, self.rule, self.tx
        )?;
        match (self.block, self.time) {
            (Some(b), Some(t)) => write!(f, " at block {b} ({})", floodgate_types::Timestamp(t))?,
            (Some(b), None) => write!(f, " at block {b}")?,
            (None, Some(t)) => write!(f, " at {}", floodgate_types::Timestamp(t))?,
            (None, None) => {}
        }
        if self.entity != self.merged_into {
            write!(f, "; {} is now part of {}", self.merged_into, self.entity)?;
        }
        Ok(())
    }
}

/// A join recorded in the forest: `a`–`b` by `rule`, with `ev` the transaction node
/// (co-spend) or the index of the sweep in the forward table (deposit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) a: u32,
    pub(crate) b: u32,
    pub(crate) rule: u32,
    pub(crate) ev: u32,
}

/// A merge of two multi-address entities, as stored: `ev` as in [`Link`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MergeRec {
    pub(crate) kept: u32,
    pub(crate) alias: u32,
    pub(crate) rule: u32,
    pub(crate) ev: u32,
}

/// The sweep that made an address a deposit address (account chains have no transaction
/// node to point to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Forward {
    pub(crate) txid: [u8; 32],
    pub(crate) amount: [u8; 32],
    pub(crate) time: u32,
    pub(crate) chain: u32,
    /// The deposit address (sender).
    pub(crate) from: u32,
    /// The exchange wallet (receiver).
    pub(crate) to: u32,
}

/// A deposit sweep must forward at least this share (in percent) of what the address
/// received since its previous outgoing transfer of the asset.
pub const SWEEP_MIN_PERCENT: u32 = 90;
/// A deposit sweep must follow the last receipt it forwards within this many seconds.
pub const SWEEP_MAX_DELAY_SECS: i64 = 86_400;
/// An address with more transfers (in and out, up to the sweep) is a service, not a deposit
/// address.
pub const SWEEP_MAX_TRANSFERS: usize = 10_000;

/// The clustering of a graph.
#[derive(Debug, Clone)]
pub struct Clustering {
    pub(crate) parent: Vec<u32>,
    pub(crate) size: Vec<u32>,
    pub(crate) min_id: Vec<u32>,
    /// Spanning forest of the joins, each link in both directions, stably sorted by `a`
    /// after every [`Clustering::extend`].
    pub(crate) links: Vec<Link>,
    /// CoinJoin transaction nodes, ascending.
    pub(crate) coinjoins: Vec<u32>,
    /// Merges of multi-address entities, sorted by alias after every extend.
    pub(crate) merges: Vec<MergeRec>,
    pub(crate) forwards: Vec<Forward>,
    /// Exchange nodes (ascending) and how many of their incoming edges were examined.
    pub(crate) exchanges: Vec<(u32, u64)>,
    /// Header checksums of the graph segments this clustering covers.
    pub(crate) segments: Vec<[u8; 32]>,
    /// Edges of the graph this clustering covers.
    pub(crate) edge_count: u64,
    /// The revision of the clustering rules it was computed with ([`RULES`]): a file
    /// computed with older rules is recomputed, never extended.
    pub(crate) rules: u32,
}

/// The revision of the clustering rules, stored in the clustering file: 0 (files written
/// before issue 15) flagged a CoinJoin on two distinct inputs; 1 needs as many distinct
/// input addresses as equal outputs and change on all of them but one, or none; 2 also
/// needs no output paying an input address and at least half of the other outputs to be
/// an input's spend less the denomination ([`looks_like_coinjoin`]).
pub(crate) const RULES: u32 = 2;

/// The transaction id a sweep records: resolved from the transfer store for an account
/// transfer of a format-3 graph; all zero when the store does not hold it (logged), the same
/// on write and on the unwind's comparison.
fn forward_txid(e: &Edge<'_>) -> [u8; 32] {
    match e.txid() {
        Ok(id) => id.0,
        Err(err) => {
            tracing::error!(target: "floodgate::graph", "deposit sweep evidence: {err}");
            [0; 32]
        }
    }
}

impl Clustering {
    /// An empty clustering that will use `exchanges` (nodes tagged `exchange`) for
    /// deposit-address clustering.
    pub(crate) fn empty(exchanges: &BTreeSet<NodeId>) -> Clustering {
        Clustering {
            parent: Vec::new(),
            size: Vec::new(),
            min_id: Vec::new(),
            links: Vec::new(),
            coinjoins: Vec::new(),
            merges: Vec::new(),
            forwards: Vec::new(),
            exchanges: exchanges.iter().map(|n| (n.0, 0)).collect(),
            segments: Vec::new(),
            edge_count: 0,
            rules: RULES,
        }
    }

    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = p;
        }
        x
    }

    fn find_ro(&self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            x = self.parent[x as usize];
        }
        x
    }

    /// Joins the entities of `a` and `b`; false when they already were one.
    fn union(&mut self, a: u32, b: u32, rule: JoinRule, ev: u32) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        let (sa, sb) = (self.size[ra as usize], self.size[rb as usize]);
        let (ma, mb) = (self.min_id[ra as usize], self.min_id[rb as usize]);
        // The side with the larger id loses it; when that side was already a multi-address
        // entity its id was public, so it is recorded as an alias of the survivor.
        let (kept, alias, alias_size) = if ma < mb { (ma, mb, sb) } else { (mb, ma, sa) };
        if alias_size >= 2 {
            self.merges.push(MergeRec { kept, alias, rule: rule.code(), ev });
        }
        let (big, small) = if sa >= sb { (ra, rb) } else { (rb, ra) };
        self.parent[small as usize] = big;
        self.size[big as usize] = sa + sb;
        self.min_id[big as usize] = ma.min(mb);
        self.links.push(Link { a, b, rule: rule.code(), ev });
        self.links.push(Link { a: b, b: a, rule: rule.code(), ev });
        true
    }

    /// Number of nodes this clustering covers.
    pub fn node_count(&self) -> u32 {
        self.parent.len() as u32
    }

    /// The exchange nodes used for deposit-address clustering.
    pub fn exchange_nodes(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.exchanges.iter().map(|&(n, _)| NodeId(n))
    }

    /// Whether this clustering was computed from exactly `graph` (same segments, same size).
    pub fn is_current(&self, graph: &Graph) -> bool {
        self.rules == RULES
            && self.segments == graph.segment_checksums()
            && self.node_count() == graph.node_count()
            && self.edge_count == graph.edge_count()
    }

    /// Whether `graph` is this clustering's graph with segments appended (or the same).
    pub fn is_prefix_of(&self, graph: &Graph) -> bool {
        let sums = graph.segment_checksums();
        self.rules == RULES
            && sums.len() >= self.segments.len()
            && sums[..self.segments.len()] == self.segments[..]
            && graph.node_count() >= self.node_count()
            && graph.edge_count() >= self.edge_count
    }

    /// Brings the clustering up to date with `graph`, which must be the graph it was
    /// computed from with segments appended ([`Clustering::is_prefix_of`]): clusters the
    /// new transaction nodes' inputs and examines the new transfers into exchange wallets.
    pub fn extend(&mut self, graph: &Graph) {
        let old = self.node_count();
        let n = graph.node_count();
        self.parent.extend(old..n);
        self.size.resize(n as usize, 1);
        self.min_id.extend(old..n);
        for t in old..n {
            let tx = NodeId(t);
            if graph.kind(tx) != NodeKind::Transaction {
                continue;
            }
            let inputs: Vec<(NodeId, Amount)> =
                graph.in_edges(tx).map(|e| (e.src, e.amount)).collect();
            if inputs.len() < 2 {
                continue;
            }
            let outputs: Vec<(NodeId, Amount)> =
                graph.out_edges(tx).map(|e| (e.dst, e.amount)).collect();
            if looks_like_coinjoin(&inputs, &outputs) {
                self.coinjoins.push(t);
                continue;
            }
            for w in inputs.windows(2) {
                self.union(w[0].0 .0, w[1].0 .0, JoinRule::CoSpend, t);
            }
        }
        self.extend_deposits(graph);
        // Canonical order, so that an appended clustering equals one computed at once.
        self.links.sort_by_key(|l| l.a);
        self.merges.sort_by_key(|m| m.alias);
        self.segments = graph.segment_checksums();
        self.edge_count = graph.edge_count();
    }

    /// Unwinds the clustering to `prefix`, the graph it was computed from (or extended over)
    /// cut to its first segments ([`Graph::prefix`], after [`Graph::unwind_to_store`]): the
    /// joins, merges, CoinJoins and deposit sweeps found in the dropped segments are undone,
    /// and the result equals clustering `prefix` from scratch (same entities, same ids).
    /// Then [`Clustering::extend`] takes it over the segments appended since.
    ///
    /// How: transaction nodes of the dropped segments have ids `>= prefix.node_count()`, so
    /// their co-spend links and CoinJoin marks go; a sweep goes when its transfer is not in
    /// `prefix`. The union-find is rebuilt from the kept links (a spanning forest of the kept
    /// joins). A sweep skipped because its two ends were already one entity through a join
    /// now undone is found again: when any join was undone, the kept transfers into exchange
    /// wallets are examined again, as a build from scratch would. Cost: linear in the kept
    /// links plus, when needed, the deposit rule over the exchanges' kept transfers.
    ///
    /// Returns the number of joins undone.
    pub fn unwind_to(&mut self, prefix: &Graph) -> usize {
        let n = prefix.node_count().min(self.node_count());
        let deposit = JoinRule::DepositSweep.code();
        // Which sweeps stay, and their new numbers.
        let mut renumber: Vec<Option<u32>> = Vec::with_capacity(self.forwards.len());
        let mut forwards = Vec::with_capacity(self.forwards.len());
        for f in &self.forwards {
            let kept = f.from < n
                && f.to < n
                && prefix.out_edges(NodeId(f.from)).any(|e| {
                    e.dst.0 == f.to
                        && e.amount.to_be_bytes() == f.amount
                        && forward_txid(&e) == f.txid
                });
            renumber.push(kept.then_some(forwards.len() as u32));
            if kept {
                forwards.push(*f);
            }
        }
        let keep = |rule: u32, ev: u32| -> Option<u32> {
            if rule == deposit {
                renumber.get(ev as usize).copied().flatten()
            } else {
                (ev < n).then_some(ev)
            }
        };
        let before = self.links.len();
        let links: Vec<Link> = self
            .links
            .iter()
            .filter(|l| l.a < n && l.b < n)
            .filter_map(|l| keep(l.rule, l.ev).map(|ev| Link { ev, ..*l }))
            .collect();
        let undone = (before - links.len()) / 2;
        let merges: Vec<MergeRec> = self
            .merges
            .iter()
            .filter(|m| m.kept < n && m.alias < n)
            .filter_map(|m| keep(m.rule, m.ev).map(|ev| MergeRec { ev, ..*m }))
            .collect();
        self.coinjoins.retain(|&t| t < n);
        self.forwards = forwards;
        self.merges = merges;
        // The union-find of the kept links (each is stored in both directions).
        self.parent = (0..n).collect();
        self.size = vec![1; n as usize];
        self.min_id = (0..n).collect();
        self.links = Vec::with_capacity(links.len());
        let merges_kept = std::mem::take(&mut self.merges);
        for l in links.iter().filter(|l| l.a < l.b) {
            self.union(l.a, l.b, JoinRule::from_code(l.rule).unwrap_or(JoinRule::CoSpend), l.ev);
        }
        // `union` recorded the merges anew in an order that is not the original's: keep the
        // original records of the kept joins.
        self.merges = merges_kept;
        for (_, seen) in &mut self.exchanges {
            *seen = 0;
        }
        if undone > 0 {
            // Examine every kept transfer into an exchange wallet again; the sweeps kept are
            // already joined and skipped.
            self.extend_deposits(prefix);
        } else {
            for (h, seen) in &mut self.exchanges {
                *seen = if *h < n { prefix.in_edges(NodeId(*h)).count() as u64 } else { 0 };
            }
        }
        self.links.sort_by_key(|l| l.a);
        self.merges.sort_by_key(|m| m.alias);
        self.segments = prefix.segment_checksums();
        self.edge_count = prefix.edge_count();
        undone
    }

    fn extend_deposits(&mut self, graph: &Graph) {
        if self.exchanges.is_empty() {
            return;
        }
        let is_exchange: HashSet<u32> = self.exchanges.iter().map(|&(n, _)| n).collect();
        // Candidates: the new transfers into exchange wallets, processed in time order
        // (then wallet, then arrival) so that appending equals building at once.
        let mut candidates: Vec<(u32, u32, usize, Edge<'_>)> = Vec::new();
        for (h, seen) in &mut self.exchanges {
            if *h >= graph.node_count() {
                continue;
            }
            let mut count = 0u64;
            for (i, e) in graph.in_edges(NodeId(*h)).enumerate() {
                count += 1;
                if (i as u64) < *seen {
                    continue;
                }
                if let Some(t) = e.time.and_then(|t| u32::try_from(t).ok()) {
                    candidates.push((t, *h, i, e));
                }
            }
            *seen = count;
        }
        candidates.sort_by_key(|c| (c.0, c.1, c.2));
        for (time, _, _, e) in candidates {
            if is_exchange.contains(&e.src.0) || graph.kind(e.src) != NodeKind::Address {
                continue;
            }
            if self.find(e.src.0) == self.find(e.dst.0) {
                continue;
            }
            if !deposit_sweep(graph, &e, &|n| is_exchange.contains(&n.0)) {
                continue;
            }
            let ev = self.forwards.len() as u32;
            let chain = Chain::ALL.iter().position(|&c| c == e.chain).unwrap_or(0) as u32;
            self.forwards.push(Forward {
                txid: forward_txid(&e),
                amount: e.amount.to_be_bytes(),
                time,
                chain,
                from: e.src.0,
                to: e.dst.0,
            });
            self.union(e.src.0, e.dst.0, JoinRule::DepositSweep, ev);
        }
    }

    /// The entity of node `n` (its own id for an unclustered address).
    pub fn entity_of(&self, n: NodeId) -> EntityId {
        if n.0 as usize >= self.parent.len() {
            return EntityId(n.0);
        }
        EntityId(self.min_id[self.find_ro(n.0) as usize])
    }

    /// Number of addresses in `n`'s entity.
    pub fn size_of(&self, n: NodeId) -> u32 {
        if n.0 as usize >= self.parent.len() {
            return 1;
        }
        self.size[self.find_ro(n.0) as usize]
    }

    /// The member nodes of `entity`, ascending (empty for an id that is not an entity's).
    pub fn members(&self, entity: EntityId) -> Vec<NodeId> {
        if entity.0 as usize >= self.parent.len() || self.entity_of(NodeId(entity.0)) != entity {
            return Vec::new();
        }
        let root = self.find_ro(entity.0);
        (entity.0..self.node_count()).filter(|&n| self.find_ro(n) == root).map(NodeId).collect()
    }

    /// Number of merges of two multi-address entities.
    pub fn merge_count(&self) -> usize {
        self.merges.len()
    }

    fn evidence(&self, graph: &Graph, rule: u32, ev: u32) -> (JoinRule, String, Option<i64>) {
        match JoinRule::from_code(rule) {
            Some(JoinRule::DepositSweep) => {
                let Some(f) = self.forwards.get(ev as usize) else {
                    return (JoinRule::DepositSweep, String::new(), None);
                };
                let chain = Chain::ALL.get(f.chain as usize).copied().unwrap_or(Chain::Ethereum);
                let txid = Hash32(f.txid);
                let tx =
                    if chain.is_account_model() { txid.to_hex_prefixed() } else { txid.to_hex() };
                (JoinRule::DepositSweep, tx, (f.time != 0).then_some(i64::from(f.time)))
            }
            _ => {
                let tx = NodeId(ev);
                let time = graph.in_edges(tx).find_map(|e| e.time);
                (JoinRule::CoSpend, graph.key(tx).to_string(), time)
            }
        }
    }

    /// An address that took part in the joining transaction.
    fn party(&self, graph: &Graph, rule: u32, ev: u32) -> String {
        let node = match JoinRule::from_code(rule) {
            Some(JoinRule::DepositSweep) => self.forwards.get(ev as usize).map(|f| NodeId(f.from)),
            _ => graph.in_edges(NodeId(ev)).next().map(|e| e.src),
        };
        node.map(|n| graph.key(n).to_string()).unwrap_or_default()
    }

    fn merge_of(&self, graph: &Graph, m: &MergeRec) -> Merge {
        let (rule, tx, time) = self.evidence(graph, m.rule, m.ev);
        Merge { kept: EntityId(m.kept), alias: EntityId(m.alias), rule, tx, time }
    }

    /// Every merge of two multi-address entities (the merge log), by alias id.
    pub fn merges(&self, graph: &Graph) -> Vec<Merge> {
        self.merges.iter().map(|m| self.merge_of(graph, m)).collect()
    }

    /// The merges into `entity`'s current members' ids: its merge history, by alias id.
    pub fn merges_into(&self, graph: &Graph, entity: EntityId) -> Vec<Merge> {
        self.merges
            .iter()
            .filter(|m| self.entity_of(NodeId(m.kept)) == entity)
            .map(|m| self.merge_of(graph, m))
            .collect()
    }

    /// What became of `id` when it is no longer an entity's id: the merge that retired it
    /// (or, for a single address, the join that took it into an entity). `None` when `id`
    /// is a current entity id or outside the clustering.
    pub fn alias_note(&self, graph: &Graph, id: EntityId) -> Option<AliasNote> {
        if id.0 >= self.node_count() {
            return None;
        }
        let entity = self.entity_of(NodeId(id.0));
        if entity == id {
            return None;
        }
        if let Ok(i) = self.merges.binary_search_by_key(&id.0, |m| m.alias) {
            let m = self.merges[i];
            let (rule, tx, time) = self.evidence(graph, m.rule, m.ev);
            return Some(AliasNote {
                alias: id,
                merged_into: EntityId(m.kept),
                entity,
                rule,
                tx,
                time,
                party: self.party(graph, m.rule, m.ev),
                block: None,
            });
        }
        // A single address: its first join took it into the entity it belongs to now
        // (or into one that merged into it later; the current entity is named).
        let l = *self.links_of(id.0).first()?;
        let (rule, tx, time) = self.evidence(graph, l.rule, l.ev);
        Some(AliasNote {
            alias: id,
            merged_into: entity,
            entity,
            rule,
            tx,
            time,
            party: self.party(graph, l.rule, l.ev),
            block: None,
        })
    }

    fn links_of(&self, x: u32) -> &[Link] {
        let lo = self.links.partition_point(|l| l.a < x);
        let hi = self.links.partition_point(|l| l.a <= x);
        &self.links[lo..hi]
    }

    /// Whether transaction node `tx` was detected as a CoinJoin (and so not clustered).
    pub fn is_coinjoin(&self, tx: NodeId) -> bool {
        self.coinjoins.binary_search(&tx.0).is_ok()
    }

    /// Why transaction node `tx` was treated as a CoinJoin (recomputed from its edges);
    /// `None` when it was not.
    pub fn coinjoin_evidence(&self, graph: &Graph, tx: NodeId) -> Option<CoinJoinEvidence> {
        if !self.is_coinjoin(tx) {
            return None;
        }
        let inputs: Vec<(NodeId, Amount)> = graph.in_edges(tx).map(|e| (e.src, e.amount)).collect();
        let outputs: Vec<(NodeId, Amount)> =
            graph.out_edges(tx).map(|e| (e.dst, e.amount)).collect();
        coinjoin_evidence(&inputs, &outputs)
    }

    /// The CoinJoins that `a` and `b` both spent in: transactions whose inputs would have
    /// joined them had they not been treated as CoinJoins, with why they were (the reason
    /// a `why` that finds them apart gives). By transaction node order.
    pub fn coinjoins_between(
        &self,
        graph: &Graph,
        a: NodeId,
        b: NodeId,
    ) -> Vec<(String, CoinJoinEvidence)> {
        let mut txs: Vec<NodeId> =
            graph.out_edges(a).map(|e| e.dst).filter(|&t| self.is_coinjoin(t)).collect();
        txs.sort_unstable();
        txs.dedup();
        txs.into_iter()
            .filter(|&t| graph.in_edges(t).any(|e| e.src == b))
            .filter_map(|t| Some((graph.key(t).into_owned(), self.coinjoin_evidence(graph, t)?)))
            .collect()
    }

    /// Number of CoinJoin transactions detected.
    pub fn coinjoin_count(&self) -> usize {
        self.coinjoins.len()
    }

    /// Number of addresses that joined an exchange's entity as its deposit address.
    pub fn deposit_count(&self) -> usize {
        self.forwards.len()
    }

    /// Why `a` and `b` are one entity: the chain of joins (co-spends, deposit sweeps) that
    /// link them (shortest in the join forest), one step per joining transaction. `None` when
    /// they are not in one entity.
    pub fn why(&self, graph: &Graph, a: NodeId, b: NodeId) -> Option<Vec<JoinStep>> {
        if self.entity_of(a) != self.entity_of(b) {
            return None;
        }
        let mut prev: HashMap<u32, (u32, Link)> = HashMap::new();
        let mut q = VecDeque::from([a.0]);
        let mut seen = HashSet::from([a.0]);
        while let Some(x) = q.pop_front() {
            if x == b.0 {
                break;
            }
            for l in self.links_of(x) {
                if seen.insert(l.b) {
                    prev.insert(l.b, (x, *l));
                    q.push_back(l.b);
                }
            }
        }
        // The path as links from `a` to `b`: `(from, to, rule, ev)`.
        let mut path: Vec<(u32, u32, u32, u32)> = Vec::new();
        let mut at = b.0;
        while at != a.0 {
            let &(p, l) = prev.get(&at)?;
            path.push((p, at, l.rule, l.ev));
            at = p;
        }
        path.reverse();
        // One step per joining transaction. A co-spend's links join its inputs (each end of
        // each of its links is one of its inputs), but the forest path may leave a
        // transaction and come back to it (inputs p and q were joined earlier by another
        // transaction, so the path runs a -tx1- p -tx0- q -tx1- b): the first and last
        // addresses at which a transaction appears were both its inputs, so the steps
        // between are cut and that transaction joins them directly. A deposit sweep is one
        // link, so it never repeats.
        let mut merged: Vec<(u32, u32, u32, u32)> = Vec::new();
        for (from, to, rule, ev) in path {
            match merged.iter().position(|m| (m.2, m.3) == (rule, ev)) {
                Some(i) => {
                    merged.truncate(i + 1);
                    merged[i].1 = to;
                }
                None => merged.push((from, to, rule, ev)),
            }
        }
        let steps = merged
            .into_iter()
            .map(|(from, to, rule, ev)| {
                let (rule, tx, time) = self.evidence(graph, rule, ev);
                JoinStep {
                    a: graph.key(NodeId(from)).to_string(),
                    b: graph.key(NodeId(to)).to_string(),
                    tx,
                    rule,
                    time,
                }
            })
            .collect();
        Some(steps)
    }
}

/// A change output of a CoinJoin participant differs from what that participant's input
/// address spent minus the denomination by at most this many base units plus
/// [`COINJOIN_FEE_PERMILLE`] ‰ of the denomination: its share of the mining fee (a few
/// thousand satoshis), a coordinator's fee (Wasabi 1: 0.003 % per participant, about 0.3 %
/// of the denomination), or a JoinMarket maker's earned fee (the change is then larger).
pub const COINJOIN_FEE_SATS: u64 = 20_000;
/// See [`COINJOIN_FEE_SATS`].
pub const COINJOIN_FEE_PERMILLE: u64 = 5;

/// Why a transaction was treated as a CoinJoin: the numbers [`looks_like_coinjoin`] tested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoinJoinEvidence {
    /// The equal output value (the denomination).
    pub denomination: Amount,
    /// `k`: distinct addresses paid the denomination (the participants).
    pub participants: usize,
    /// Distinct input addresses that each spent at least the denomination.
    pub funders: usize,
    /// `c`: the other outputs.
    pub other_outputs: usize,
    /// Other outputs that are one input address's spend minus the denomination, within the
    /// fee tolerance (each input address explains at most one): participants' change.
    pub change_outputs: usize,
}

impl std::fmt::Display for CoinJoinEvidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} distinct addresses paid one same {} base units, funded by {} input addresses that each spent at least that",
            self.participants, self.denomination, self.funders
        )?;
        if self.other_outputs == 0 {
            f.write_str(", and no other output (a Whirlpool shape)")
        } else {
            write!(
                f,
                ", and {} other outputs of which {} are an input's spend less the denomination (participants' change)",
                self.other_outputs, self.change_outputs
            )
        }
    }
}

/// Whether a transaction with these input addresses and `(address, value)` outputs looks
/// like a CoinJoin ([`coinjoin_evidence`] says why). With `k` the largest number of
/// distinct addresses paid one same value `D` (the participants' equal-denomination
/// outputs) and `c` the number of other outputs:
///
/// - `k >= 3`;
/// - at least `k` distinct input addresses that each spend at least `D`: each participant
///   funds its own equal output from its own inputs, so a payout that splits a few inputs
///   into many equal parts (a mining pool, equal withdrawals, a payment to three payees) is
///   one spender's transaction;
/// - no output pays an input address: CoinJoin wallets (Wasabi, Whirlpool, JoinMarket) pay
///   only to fresh addresses, while a spender's change often returns to one of its inputs;
/// - `c == 0` (Whirlpool: equal outputs only), or `c >= k - 1` (Wasabi, JoinMarket: each
///   participant, but perhaps one, takes change) **and** at least half of the other outputs
///   are change: the spend of one input address minus `D`, within [`COINJOIN_FEE_SATS`] plus
///   [`COINJOIN_FEE_PERMILLE`] ‰ of `D` (each input address explains at most one output).
///   An exchange's batch withdrawal that pays several customers one same amount among
///   others, from many deposit addresses, has equal outputs and funders, but its other
///   outputs are other customers' withdrawals and one change, not the inputs less `D`.
///
/// This follows BlockSci's CoinJoin heuristic (Kalodner et al. 2017: as many inputs as
/// participants, each with at most one change output), relaxed so that Whirlpool's and
/// Wasabi 2's shapes still count, with the change-matching test of CoinJoin analyses
/// (each participant's change is its input less the denomination and fees; Maurer et al.
/// 2017, "Anonymous CoinJoin Transactions with Arbitrary Values"). With only "two inputs and
/// three equal outputs" the detector flagged 400 transactions of generated worlds of which
/// only 168 were CoinJoins (issue 15); `tests/coinjoin.rs` measures it on the generator's
/// truth, on seeds never tuned on, and on its equal-amount batch withdrawals.
pub fn looks_like_coinjoin(inputs: &[(NodeId, Amount)], outputs: &[(NodeId, Amount)]) -> bool {
    coinjoin_evidence(inputs, outputs).is_some()
}

/// The numbers behind [`looks_like_coinjoin`]: `Some` when the transaction is treated as a
/// CoinJoin.
pub fn coinjoin_evidence(
    inputs: &[(NodeId, Amount)],
    outputs: &[(NodeId, Amount)],
) -> Option<CoinJoinEvidence> {
    let mut spent: HashMap<NodeId, U256> = HashMap::new();
    for (a, v) in inputs {
        let e = spent.entry(*a).or_insert(U256::ZERO);
        *e = e.saturating_add(v.as_u256());
    }
    if spent.len() < 3 {
        return None;
    }
    let mut by_value: HashMap<Amount, HashSet<NodeId>> = HashMap::new();
    for (a, v) in outputs {
        by_value.entry(*v).or_default().insert(*a);
    }
    let (value, k) = by_value
        .iter()
        .map(|(v, s)| (*v, s.len()))
        .max_by(|x, y| x.1.cmp(&y.1).then(y.0.cmp(&x.0)))?;
    let d = value.as_u256();
    let funders = spent.values().filter(|&&v| v >= d).count();
    let equal = outputs.iter().filter(|(_, v)| *v == value).count();
    let c = outputs.len() - equal;
    if k < 3 || k > funders || (c != 0 && c + 1 < k) {
        return None;
    }
    if outputs.iter().any(|(a, _)| spent.contains_key(a)) {
        return None;
    }
    // Change matching: each other output against the input spends less D, nearest first.
    let tol = U256::from(COINJOIN_FEE_SATS)
        .saturating_add(d.saturating_mul(U256::from(COINJOIN_FEE_PERMILLE)) / U256::from(1000u32));
    let mut rest: Vec<U256> = spent.values().filter(|&&v| v >= d).map(|&v| v - d).collect();
    rest.sort_unstable();
    let mut used = vec![false; rest.len()];
    let mut change = 0usize;
    for (_, o) in outputs.iter().filter(|(_, v)| *v != value) {
        let o = o.as_u256();
        let lo = o.saturating_sub(tol);
        let hi = o.saturating_add(tol);
        let from = rest.partition_point(|&r| r < lo);
        let best = (from..rest.len())
            .take_while(|&i| rest[i] <= hi)
            .filter(|&i| !used[i])
            .min_by_key(|&i| if rest[i] >= o { rest[i] - o } else { o - rest[i] });
        if let Some(i) = best {
            used[i] = true;
            change += 1;
        }
    }
    if c != 0 && change * 2 < c {
        return None;
    }
    Some(CoinJoinEvidence {
        denomination: value,
        participants: k,
        funders,
        other_outputs: c,
        change_outputs: change,
    })
}

/// The deposit-address rule (after Victor 2020): the account-chain transfer `e` from `D` to
/// an exchange wallet `H` is a **sweep**, making `D` a deposit address of `H`'s exchange,
/// when all of these hold:
///
/// 1. `e` is on an account chain and has a time `t`; `D` is not itself an exchange wallet;
/// 2. `D` made and received at most [`SWEEP_MAX_TRANSFERS`] transfers (any asset) up to
///    `t`: a busier wallet is a service, not one customer's deposit address;
/// 3. `D`'s receipts of `e`'s asset since its previous outgoing transfer of that asset
///    (times in `(previous, t]`; receipts without a time are ignored) add up to `R > 0`, and
///    at least one of them came from an address that is not an exchange wallet (a customer);
/// 4. `e` forwards at least [`SWEEP_MIN_PERCENT`] % of `R` (exact integer arithmetic);
/// 5. the last of those receipts is at most [`SWEEP_MAX_DELAY_SECS`] before `e`.
///
/// It reads only `D`'s edges up to `t` (edges are stored in block order), so it gives the
/// same answer whenever it is evaluated, as long as each chain's block times increase (they
/// do on Ethereum and Tron), and its cost is bounded by [`SWEEP_MAX_TRANSFERS`].
pub fn deposit_sweep(graph: &Graph, e: &Edge<'_>, is_exchange: &dyn Fn(NodeId) -> bool) -> bool {
    let Some(t) = e.time else { return false };
    if !e.chain.is_account_model() || is_exchange(e.src) || e.src == e.dst {
        return false;
    }
    let d = e.src;
    let upto = |x: &Edge<'_>| x.time.is_none_or(|xt| xt <= t);
    let outs: Vec<Edge<'_>> =
        graph.out_edges(d).take_while(upto).take(SWEEP_MAX_TRANSFERS + 1).collect();
    let ins: Vec<Edge<'_>> =
        graph.in_edges(d).take_while(upto).take(SWEEP_MAX_TRANSFERS + 1).collect();
    if outs.len() + ins.len() > SWEEP_MAX_TRANSFERS {
        return false;
    }
    let previous = outs
        .iter()
        .filter(|o| o.asset == e.asset)
        .filter_map(|o| o.time)
        .filter(|&ot| ot < t)
        .max();
    let mut received = U256::ZERO;
    let mut last: Option<i64> = None;
    let mut customer = false;
    for i in &ins {
        let Some(it) = i.time else { continue };
        if i.asset != e.asset || previous.is_some_and(|p| it <= p) {
            continue;
        }
        received = received.saturating_add(i.amount.as_u256());
        last = Some(last.map_or(it, |l| l.max(it)));
        customer |= !is_exchange(i.src);
    }
    let Some(last) = last else { return false };
    if received.is_zero() || !customer || t - last > SWEEP_MAX_DELAY_SECS {
        return false;
    }
    let sent = e.amount.as_u256().saturating_mul(U256::from(100u32));
    sent >= received.saturating_mul(U256::from(SWEEP_MIN_PERCENT))
}

/// Clusters every address of `graph` by co-spending, skipping CoinJoins (no deposit
/// clustering: see [`cluster_with`]). Cost is linear in the number of edges (union-find with
/// path halving and union by size).
pub fn cluster(graph: &Graph) -> Clustering {
    cluster_with(graph, &BTreeSet::new())
}

/// Clusters every address of `graph` by co-spending (skipping CoinJoins) and, when
/// `exchanges` (the nodes tagged `exchange`) is not empty, joins each deposit address to
/// its exchange's entity ([`deposit_sweep`]).
pub fn cluster_with(graph: &Graph, exchanges: &BTreeSet<NodeId>) -> Clustering {
    let mut c = Clustering::empty(exchanges);
    c.extend(graph);
    c
}
