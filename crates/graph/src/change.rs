//! Change-address heuristics, reported **only as evidence**: they never merge entities.
//!
//! When an entity spends (all inputs of a non-CoinJoin UTXO transaction are its addresses)
//! into exactly two outputs outside the entity, one is usually the payment and the other the
//! change returning to the spender (Androulaki et al. 2013; Meiklejohn et al. 2013). An
//! output is reported as likely change when at least one of these holds:
//!
//! - **fresh address**: the output's address first appears in this transaction, and the
//!   other output's address was seen before;
//! - **round payment**: the other output is a round amount (a multiple of [`ROUND_UNITS`]
//!   base units, 0.001 BTC) and this one is not;
//! - **same script type**: the output's address has the script type of the inputs (P2PKH,
//!   P2SH, P2WPKH, P2WSH, P2TR), and the other output's does not.
//!
//! These heuristics are wrong often enough (wallets that pay to fresh addresses, round
//! change) that floodgate never clusters on them; see `docs/taxonomy.md#clustering`.

use floodgate_types::Amount;
use serde::Serialize;

use crate::{Clustering, EntityId, Graph, NodeId, NodeKind};

/// A payment is "round" when it is a multiple of this many base units (0.001 BTC).
pub const ROUND_UNITS: u64 = 100_000;

/// One output that is likely change of an entity, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeEvidence {
    /// The spending transaction (node key).
    pub tx: String,
    /// Position of the output among the transaction's outputs (0-based).
    pub output: usize,
    /// The output's address.
    pub address: String,
    /// The output's value (base units).
    pub amount: Amount,
    /// The entity that spent.
    pub entity: EntityId,
    /// Each heuristic that points at this output, in words.
    pub reasons: Vec<String>,
}

fn script_type(address: &str) -> &'static str {
    let lower = address.to_ascii_lowercase();
    if lower.starts_with("bc1p") {
        "P2TR"
    } else if lower.starts_with("bc1q") && address.len() > 50 {
        "P2WSH"
    } else if lower.starts_with("bc1q") {
        "P2WPKH"
    } else if address.starts_with('1') {
        "P2PKH"
    } else if address.starts_with('3') {
        "P2SH"
    } else {
        "other"
    }
}

fn is_round(a: Amount) -> bool {
    a.to_u128().is_some_and(|v| v > 0 && v % u128::from(ROUND_UNITS) == 0)
}

/// Change evidence for the transactions spent by `entity` (whose member nodes are
/// `members`): outputs that are likely change, by transaction node order.
pub fn change_evidence(
    graph: &Graph,
    clusters: &Clustering,
    entity: EntityId,
    members: &[NodeId],
) -> Vec<ChangeEvidence> {
    let mut txs: Vec<NodeId> = members
        .iter()
        .flat_map(|&m| graph.out_edges(m).map(|e| e.dst))
        .filter(|&t| graph.kind(t) == NodeKind::Transaction && !clusters.is_coinjoin(t))
        .collect();
    txs.sort_unstable();
    txs.dedup();
    let mut out = Vec::new();
    for tx in txs {
        let inputs: Vec<NodeId> = graph.in_edges(tx).map(|e| e.src).collect();
        if inputs.iter().any(|&i| clusters.entity_of(i) != entity) {
            continue;
        }
        let outputs: Vec<(usize, NodeId, Amount)> = graph
            .out_edges(tx)
            .enumerate()
            .filter(|(_, e)| clusters.entity_of(e.dst) != entity)
            .map(|(i, e)| (i, e.dst, e.amount))
            .collect();
        if outputs.len() != 2 || outputs[0].1 == outputs[1].1 {
            continue;
        }
        let input_type = {
            let key = graph.key(inputs[0]).to_string();
            script_type(&key)
        };
        // Fresh: the address node was created by this transaction (node ids grow in block
        // order, and a transaction's node is created before its new output addresses) and
        // nothing reached it before.
        let fresh = |n: NodeId| n > tx && graph.in_edges(n).next().is_some_and(|e| e.src == tx);
        for (k, &(i, n, amount)) in outputs.iter().enumerate() {
            let (_, other, other_amount) = outputs[1 - k];
            let mut reasons = Vec::new();
            if fresh(n) && !fresh(other) {
                reasons.push(
                    "fresh address (first seen in this transaction); the other output's address was seen before"
                        .to_owned(),
                );
            }
            if is_round(other_amount) && !is_round(amount) {
                reasons.push(format!("the other output is a round {other_amount} base units"));
            }
            let key = graph.key(n).to_string();
            let other_key = graph.key(other).to_string();
            if script_type(&key) == input_type && script_type(&other_key) != input_type {
                reasons.push(format!(
                    "same script type as the inputs ({input_type}); the other output is {}",
                    script_type(&other_key)
                ));
            }
            if !reasons.is_empty() {
                out.push(ChangeEvidence {
                    tx: graph.key(tx).to_string(),
                    output: i,
                    address: key,
                    amount,
                    entity,
                    reasons,
                });
            }
        }
    }
    out
}
