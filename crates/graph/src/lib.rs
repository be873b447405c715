//! The transaction graph: every address (and every UTXO transaction) as a dense `u32`
//! [`NodeId`], and every transfer as an edge, in immutable memory-mapped segments (per-node varint edge lists) built
//! from the transfer store and appended to without a rebuild, and the clustering of addresses
//! into entities (co-spend, deposit sweeps; change evidence) persisted beside it. Attribution
//! tags live in `floodgate-attribution`, fund tracing (exposure by risk category under a taint
//! model, paths as evidence) in `floodgate-trace`; both read this crate's [`Graph`].
//!
//! - Bitcoin keeps the address → transaction → address structure: an input is an edge from
//!   the spent output's address to the transaction node, an output an edge from the
//!   transaction node to the paid address (`n + m` edges per transaction, not `n × m`).
//! - Account chains keep their transfers: one edge from sender to receiver.
//! - Amounts are exact integers in base units (u64 inline, wider values in a side table);
//!   never floats.
//!
//! File formats: `docs/formats/graph.md`, `docs/formats/entities.md`. Clustering rules:
//! `docs/taxonomy.md`.
//!
//! ```
//! use floodgate_graph::{EdgeInput, Graph, GraphBuilder, NodeKind};
//! use floodgate_types::{Amount, Chain, Hash32};
//! let dir = std::env::temp_dir().join(format!("fg-graph-doc-{}", std::process::id()));
//! let empty = Graph::open_or_empty(&dir)?;
//! let mut b = GraphBuilder::new(Some(&empty));
//! let a = b.node("0x1111111111111111111111111111111111111111", NodeKind::Address)?;
//! let c = b.node("0x2222222222222222222222222222222222222222", NodeKind::Address)?;
//! let e = EdgeInput {
//!     amount: Amount::from(5u64),
//!     time: Some(1_700_000_000),
//!     asset: "ETH",
//!     txid: Hash32([7; 32]),
//!     chain: Chain::Ethereum,
//! };
//! b.add_edge(a, c, &e)?;
//! b.commit(&empty, Default::default())?;
//! let g = Graph::open(&dir)?;
//! assert_eq!(g.out_edges(a).next().map(|e| e.dst), Some(c));
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), floodgate_graph::GraphError>(())
//! ```

mod change;
mod cluster;
mod entities;
mod error;
mod graph;
mod keys;
mod segment;

pub use change::{change_evidence, ChangeEvidence, ROUND_UNITS};
pub use cluster::{
    cluster, cluster_with, coinjoin_evidence, deposit_sweep, looks_like_coinjoin, AliasNote,
    Clustering, CoinJoinEvidence, EntityId, JoinRule, JoinStep, Merge, COINJOIN_FEE_PERMILLE,
    COINJOIN_FEE_SATS, SWEEP_MAX_DELAY_SECS, SWEEP_MAX_TRANSFERS, SWEEP_MIN_PERCENT,
};
pub use entities::{open_clustering, update_clustering, ClusterUpdate, ENTITIES_FILE};
pub use error::GraphError;
pub use graph::{
    tx_key, AssetPlaces, BuildReport, ChainTip, Edge, EdgeEnds, EdgeInput, Graph, GraphBuilder,
    Leg, LegCache, NodeId, NodeKind, TxRef, TxTimes, Unwind, GRAPH_DIR, MANIFEST_FILE,
};
pub use segment::map_immutable;
