//! Fund paths: the shortest chains of transfers from one node to another, with every
//! transaction id, time and amount, as evidence; and their Graphviz rendering.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;

use floodgate_types::{Amount, Chain};
use serde::Serialize;

use floodgate_graph::{Graph, GraphError, NodeId, NodeKind, TxRef};

/// What to search.
#[derive(Debug, Clone)]
pub struct PathOptions {
    /// Hop limit (address-to-address transfers; a UTXO transaction node costs none).
    pub max_hops: u32,
    /// At most this many paths (all of the shortest length).
    pub limit: usize,
}

impl Default for PathOptions {
    fn default() -> Self {
        PathOptions { max_hops: 6, limit: 10 }
    }
}

/// One transfer on a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathStep {
    /// Sender node key.
    pub from: String,
    /// Receiver node key.
    pub to: String,
    /// Whether the sender is a UTXO transaction node.
    pub from_is_tx: bool,
    /// Whether the receiver is a UTXO transaction node.
    pub to_is_tx: bool,
    /// Chain.
    pub chain: Chain,
    /// Transaction id.
    pub txid: String,
    /// Unix seconds, when known.
    pub time: Option<i64>,
    /// Value in base units.
    pub amount: Amount,
    /// Asset id.
    pub asset: String,
}

/// One path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FundPath {
    /// Address-to-address hops.
    pub hops: u32,
    /// Whether every transfer is no earlier than the one before it (funds can only move
    /// forward in time; a path that is not is a structural link, weaker as evidence).
    /// Unknown times count as ordered.
    pub time_ordered: bool,
    /// Transfers in order.
    pub steps: Vec<PathStep>,
}

/// The shortest paths (fewest edges) from `from` to `to` following the direction of value,
/// at most `opts.limit` of them, within `opts.max_hops`. Empty when there is none.
///
/// # Errors
/// [`GraphError::NotInGraph`] for an id outside the graph; [`GraphError::Unresolved`] when a
/// transaction id on a path cannot be resolved from the transfer store.
pub fn paths(
    graph: &Graph,
    from: NodeId,
    to: NodeId,
    opts: &PathOptions,
) -> Result<Vec<FundPath>, GraphError> {
    for n in [from, to] {
        if n.0 >= graph.node_count() {
            return Err(GraphError::NotInGraph { key: format!("node #{}", n.0) });
        }
    }
    let cost = |n: NodeId| u32::from(graph.kind(n) == NodeKind::Address);
    // BFS by edges; each node remembers its distance, hops and every parent edge on a
    // shortest route.
    let mut dist: HashMap<NodeId, (usize, u32)> = HashMap::new();
    // Each step's transaction is kept as the graph refers to it and resolved (from the
    // transfer store, for an account transfer) only for the steps of the paths returned.
    let mut parents: HashMap<NodeId, Vec<(PathStep, TxRef)>> = HashMap::new();
    dist.insert(from, (0, 0));
    let mut queue = VecDeque::from([from]);
    let mut found_at: Option<usize> = None;
    while let Some(n) = queue.pop_front() {
        let (d, h) = dist[&n];
        if found_at.is_some_and(|f| d >= f) {
            break;
        }
        for e in graph.out_edges(n) {
            let hm = h + cost(e.dst);
            if hm > opts.max_hops {
                continue;
            }
            let step = PathStep {
                from: graph.key(n).into_owned(),
                to: graph.key(e.dst).into_owned(),
                from_is_tx: graph.kind(n) == NodeKind::Transaction,
                to_is_tx: graph.kind(e.dst) == NodeKind::Transaction,
                chain: e.chain,
                txid: String::new(),
                time: e.time,
                amount: e.amount,
                asset: e.asset.to_owned(),
            };
            match dist.get(&e.dst) {
                None => {
                    dist.insert(e.dst, (d + 1, hm));
                    parents.entry(e.dst).or_default().push((step, e.tx));
                    if e.dst == to {
                        found_at = Some(d + 1);
                    } else {
                        queue.push_back(e.dst);
                    }
                }
                Some(&(dd, _)) if dd == d + 1 => {
                    parents.entry(e.dst).or_default().push((step, e.tx));
                }
                Some(_) => {}
            }
        }
    }
    if from == to || found_at.is_none() {
        return Ok(Vec::new());
    }
    // Walk the parent lists back from `to`, depth first, up to `limit` paths.
    let mut out = Vec::new();
    let mut stack: Vec<(String, Vec<PathStep>)> = vec![(graph.key(to).into_owned(), Vec::new())];
    let from_key = graph.key(from).into_owned();
    let by_key: HashMap<String, NodeId> =
        dist.keys().map(|&n| (graph.key(n).into_owned(), n)).collect();
    while let Some((at, suffix)) = stack.pop() {
        if out.len() >= opts.limit {
            break;
        }
        if at == from_key {
            let mut steps = suffix;
            steps.reverse();
            let hops = steps.iter().filter(|s| !s.to_is_tx).count() as u32;
            let times: Vec<i64> = steps.iter().filter_map(|s| s.time).collect();
            let time_ordered = times.windows(2).all(|w| w[0] <= w[1]);
            out.push(FundPath { hops, time_ordered, steps });
            continue;
        }
        let Some(n) = by_key.get(&at) else { continue };
        for (p, tx) in parents.get(n).into_iter().flatten().rev() {
            let mut s = suffix.clone();
            let id = graph.txid(p.chain, tx)?;
            let txid = if p.chain.is_account_model() { id.to_hex_prefixed() } else { id.to_hex() };
            s.push(PathStep { txid, ..p.clone() });
            stack.push((p.from.clone(), s));
        }
    }
    graph.damage()?;
    Ok(out)
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Renders paths as a Graphviz `dot` digraph: addresses as ellipses, UTXO transactions as
/// boxes, each edge labelled with amount, asset and time. `decimals` gives an asset's
/// decimals for a human amount (base units are shown when it returns `None`).
pub fn to_dot(paths: &[FundPath], decimals: &dyn Fn(&str) -> Option<u8>) -> String {
    let mut s = String::from("digraph funds {\n  rankdir=LR;\n  node [fontname=\"monospace\"];\n");
    let mut nodes: Vec<(String, bool)> = Vec::new();
    let mut edges: Vec<String> = Vec::new();
    for p in paths {
        for st in &p.steps {
            for (k, tx) in [(&st.from, st.from_is_tx), (&st.to, st.to_is_tx)] {
                if !nodes.iter().any(|(n, _)| n == k) {
                    nodes.push((k.clone(), tx));
                }
            }
            let amount = match decimals(&st.asset) {
                Some(d) => st.amount.to_decimal_string(d),
                None => st.amount.to_string(),
            };
            let time =
                st.time.map(|t| floodgate_types::Timestamp(t).to_string()).unwrap_or_default();
            let line = format!(
                "  \"{}\" -> \"{}\" [label=\"{} {}\\n{}\\ntx {}\"];\n",
                dot_escape(&st.from),
                dot_escape(&st.to),
                amount,
                dot_escape(&st.asset),
                time,
                &st.txid.chars().take(18).collect::<String>()
            );
            if !edges.contains(&line) {
                edges.push(line);
            }
        }
    }
    for (k, tx) in &nodes {
        if *tx {
            let short: String = k.rsplit(':').next().unwrap_or(k).chars().take(16).collect();
            let _ = writeln!(s, "  \"{}\" [shape=box, label=\"tx {}…\"];", dot_escape(k), short);
        } else {
            let _ = writeln!(s, "  \"{}\" [shape=ellipse];", dot_escape(k));
        }
    }
    for e in edges {
        s.push_str(&e);
    }
    s.push_str("}\n");
    s
}
