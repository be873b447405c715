//! Address clustering by the co-spend (multi-input) heuristic, with CoinJoin transactions
//! detected and excluded, stable entity ids and a merge log that explains every join.
//!
//! - **Co-spend.** The input addresses of one UTXO transaction are controlled by one entity
//!   (Nakamoto 2008, §10; Meiklejohn et al. 2013), except in a CoinJoin, where several
//!   parties sign one transaction on purpose.
//! - **CoinJoin** (heuristic, documented in `docs/taxonomy.md#clustering`): at least two
//!   distinct input addresses and an output value paid to at least three distinct addresses
//!   (the equal-denomination outputs of Wasabi, Whirlpool and JoinMarket).
//! - **Stable ids.** An entity's id is the smallest node id among its addresses. Node ids
//!   never change and transactions are processed in node-id (block) order, so an entity keeps
//!   its id as it grows; when two entities merge, the older (smaller) id survives and the
//!   other is recorded as its alias, with the transaction that joined them.

use std::collections::{HashMap, HashSet, VecDeque};

use floodgate_types::Amount;
use serde::Serialize;

use crate::{Graph, NodeId, NodeKind};

/// A stable public entity id: the smallest node id of its addresses. Shown as `E<id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct EntityId(pub u32);

impl std::fmt::Display for EntityId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "E{}", self.0)
    }
}

/// Two entities became one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Merge {
    /// The id that survives.
    pub kept: EntityId,
    /// The id that is now an alias of `kept`.
    pub alias: EntityId,
    /// The transaction whose inputs joined them.
    pub tx: NodeId,
}

/// One link of an explanation: `a` and `b` were inputs of `tx`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JoinStep {
    /// An address.
    pub a: String,
    /// Another address.
    pub b: String,
    /// The transaction (node key) that spent from both.
    pub tx: String,
}

/// The clustering of a graph.
#[derive(Debug, Clone)]
pub struct Clustering {
    parent: Vec<u32>,
    size: Vec<u32>,
    min_id: Vec<u32>,
    /// Spanning forest of the joins: address → (other address, transaction).
    links: HashMap<u32, Vec<(u32, u32)>>,
    coinjoins: HashSet<u32>,
    merges: Vec<Merge>,
}

impl Clustering {
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

    fn union(&mut self, a: u32, b: u32, tx: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        let (sa, sb) = (self.size[ra as usize], self.size[rb as usize]);
        let (ma, mb) = (self.min_id[ra as usize], self.min_id[rb as usize]);
        // The side with the larger id loses it; when that side was already a multi-address
        // entity its id was public, so it is recorded as an alias of the survivor.
        let (kept, alias, alias_size) = if ma < mb { (ma, mb, sb) } else { (mb, ma, sa) };
        if alias_size >= 2 {
            self.merges.push(Merge {
                kept: EntityId(kept),
                alias: EntityId(alias),
                tx: NodeId(tx),
            });
        }
        let (big, small) = if sa >= sb { (ra, rb) } else { (rb, ra) };
        self.parent[small as usize] = big;
        self.size[big as usize] = sa + sb;
        self.min_id[big as usize] = ma.min(mb);
        self.links.entry(a).or_default().push((b, tx));
        self.links.entry(b).or_default().push((a, tx));
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

    /// Every merge of two multi-address entities, in order.
    pub fn merges(&self) -> &[Merge] {
        &self.merges
    }

    /// Whether transaction node `tx` was detected as a CoinJoin (and so not clustered).
    pub fn is_coinjoin(&self, tx: NodeId) -> bool {
        self.coinjoins.contains(&tx.0)
    }

    /// Number of CoinJoin transactions detected.
    pub fn coinjoin_count(&self) -> usize {
        self.coinjoins.len()
    }

    /// Why `a` and `b` are one entity: the chain of transactions whose co-spent inputs link
    /// them (shortest in the join forest). `None` when they are not in one entity.
    pub fn why(&self, graph: &Graph, a: NodeId, b: NodeId) -> Option<Vec<JoinStep>> {
        if self.entity_of(a) != self.entity_of(b) {
            return None;
        }
        let mut prev: HashMap<u32, (u32, u32)> = HashMap::new();
        let mut q = VecDeque::from([a.0]);
        let mut seen = HashSet::from([a.0]);
        while let Some(x) = q.pop_front() {
            if x == b.0 {
                break;
            }
            for &(y, tx) in self.links.get(&x).into_iter().flatten() {
                if seen.insert(y) {
                    prev.insert(y, (x, tx));
                    q.push_back(y);
                }
            }
        }
        let mut steps = Vec::new();
        let mut at = b.0;
        while at != a.0 {
            let &(p, tx) = prev.get(&at)?;
            steps.push(JoinStep {
                a: graph.key(NodeId(p)).into_owned(),
                b: graph.key(NodeId(at)).into_owned(),
                tx: graph.key(NodeId(tx)).into_owned(),
            });
            at = p;
        }
        steps.reverse();
        Some(steps)
    }
}

/// Whether a transaction with these input addresses and `(address, value)` outputs looks
/// like a CoinJoin: two or more distinct input addresses and one value paid to three or more
/// distinct addresses.
pub fn looks_like_coinjoin(inputs: &[NodeId], outputs: &[(NodeId, Amount)]) -> bool {
    let distinct_inputs: HashSet<NodeId> = inputs.iter().copied().collect();
    if distinct_inputs.len() < 2 {
        return false;
    }
    let mut by_value: HashMap<Amount, HashSet<NodeId>> = HashMap::new();
    for (a, v) in outputs {
        by_value.entry(*v).or_default().insert(*a);
    }
    by_value.values().any(|s| s.len() >= 3)
}

/// Clusters every address of `graph` by co-spending, skipping CoinJoins. Cost is linear in
/// the number of edges (union-find with path halving and union by size).
pub fn cluster(graph: &Graph) -> Clustering {
    let n = graph.node_count();
    let mut c = Clustering {
        parent: (0..n).collect(),
        size: vec![1; n as usize],
        min_id: (0..n).collect(),
        links: HashMap::new(),
        coinjoins: HashSet::new(),
        merges: Vec::new(),
    };
    for t in 0..n {
        let tx = NodeId(t);
        if graph.kind(tx) != NodeKind::Transaction {
            continue;
        }
        let inputs: Vec<NodeId> = graph.in_edges(tx).map(|e| e.src).collect();
        if inputs.len() < 2 {
            continue;
        }
        let outputs: Vec<(NodeId, Amount)> =
            graph.out_edges(tx).map(|e| (e.dst, e.amount)).collect();
        if looks_like_coinjoin(&inputs, &outputs) {
            c.coinjoins.insert(t);
            continue;
        }
        for w in inputs.windows(2) {
            c.union(w[0].0, w[1].0, t);
        }
    }
    c
}
