//! Fund tracing over the transaction graph (`floodgate-graph`): exposure by risk category
//! under a taint model (haircut, poison, FIFO, LIFO, TIHO), for one node or a whole entity,
//! and fund paths as evidence (with their Graphviz rendering).
//!
//! The tags a trace counts come in as the category of each tagged node (from
//! `floodgate-attribution`'s `TagSet::resolve`), so this crate knows nothing of tag sources.
//! Definitions, worked examples and costs of the models: `docs/taint-models.md`.
//!
//! ```
//! use std::collections::HashMap;
//! use floodgate_graph::{EdgeInput, Graph, GraphBuilder, NodeKind};
//! use floodgate_trace::{exposure, ExposureOptions};
//! use floodgate_types::{Amount, Chain, Hash32, RiskCategory};
//! let dir = std::env::temp_dir().join(format!("fg-trace-doc-{}", std::process::id()));
//! let empty = Graph::open_or_empty(&dir)?;
//! let mut b = GraphBuilder::new(Some(&empty));
//! let scam = b.node("0x1111111111111111111111111111111111111111", NodeKind::Address)?;
//! let me = b.node("0x2222222222222222222222222222222222222222", NodeKind::Address)?;
//! let e = EdgeInput {
//!     amount: Amount::from(5u64),
//!     time: Some(1_700_000_000),
//!     asset: "ETH",
//!     txid: Hash32([7; 32]),
//!     chain: Chain::Ethereum,
//! };
//! b.add_edge(scam, me, &e)?;
//! b.commit(&empty, Default::default())?;
//! let g = Graph::open(&dir)?;
//! let tags = HashMap::from([(scam, RiskCategory::Scam)]);
//! let report = exposure(&g, &tags, me, &ExposureOptions::default())?.remove(0);
//! assert_eq!(report.categories[0].value, Amount::from(5u64));
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), floodgate_graph::GraphError>(())
//! ```

mod causal;
mod exposure;
mod index;
mod pass;
mod path;
mod returns;
mod taint;

pub use exposure::{
    entity_exposure, exposure, exposure_indexed, CategoryExposure, Direction, ExposureOptions,
    ExposureReport, TaintModel,
};
pub use index::{
    build_index, state_path, update_index, ExposureIndex, IndexBuildReport, IndexState,
    IndexUpdate, IndexedCategory, IndexedExposure, IndexedSource, BUCKETS, INDEX_FILE,
    INDEX_VERSION, MAX_CHECKPOINTS,
};
pub use path::{paths, to_dot, FundPath, PathOptions, PathStep};
pub use returns::{returns_within, round_trip_within, Return, ROUND_TRIP_SEARCH};
