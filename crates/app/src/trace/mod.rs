//! Tracing services: build the graph from the transfer store, then ask it questions — exposure
//! by risk category, fund paths, why two addresses are one entity, an entity's report, the
//! tags of an address. Open a [`Tracer`] once and ask it many questions: the graph is mapped
//! once, and the data directory's own tags and clustering are loaded on first use and shared.

mod entity;
mod kyt;
mod sources;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use floodgate_graph::{Clustering, EntityId, Graph, NodeId};
use floodgate_store::TransferStore;
use floodgate_trace::{
    round_trip_within, update_index, Direction, ExposureIndex, ExposureOptions, ExposureReport,
    FundPath, IndexBuildReport, IndexState, IndexUpdate, PathOptions, Return, TaintModel,
};
use floodgate_types::{Address, Amount, RiskCategory};
use serde::{Deserialize, Serialize};

pub use entity::{
    ChangeLink, ClusterSummary, CoinJoinNote, EntityReport, EntityRequest, MemberTag, NotOneEntity,
    WhyAnswer, WhyRequest, WhyResult, WhyStep,
};
pub use kyt::IndexLookup;
pub use sources::{load_tags, LoadedTags, TagSources};

use crate::{AppError, DataDir, Result};

/// What `build` is asked to do.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BuildRequest {
    /// Build everything anew beside the old graph, then swap (not needed after a
    /// reorganisation: a build unwinds the graph to what the store holds).
    pub rebuild: bool,
    /// Re-check every segment checksum after building.
    pub verify: bool,
    /// TagPacks beyond the data directory's: their `exchange` wallets drive deposit-address
    /// clustering.
    pub tagpacks: Vec<PathBuf>,
}

/// What `build` did: the graph, the clustering and the exposure index.
#[derive(Debug, Serialize)]
pub struct BuildResult {
    /// The graph.
    #[serde(flatten)]
    pub graph: floodgate_graph::BuildReport,
    /// Milliseconds spent reading the store into the graph.
    pub graph_ms: u64,
    /// Where the graph's bytes go: every section of the segment files (summed over
    /// segments, `docs/formats/graph.md#sections`), then the headers and padding; the bytes
    /// add up to `bytes`, the segment files' size.
    pub sections: Vec<SectionSize>,
    /// The clustering (`graph/entities.fge`).
    pub clustering: ClusterSummary,
    /// The exposure index (`graph/exposure.fgx`).
    pub index: IndexSummary,
}

/// One section of the graph's segment files ([`Graph::footprint`]).
#[derive(Debug, Serialize)]
pub struct SectionSize {
    /// Section name, as in `docs/formats/graph.md` (`headers and padding` for the rest).
    pub section: &'static str,
    /// Bytes, summed over the segments.
    pub bytes: u64,
    /// `bytes` divided by the graph's edge count (0 for a graph without edges).
    pub bytes_per_edge: f64,
}

/// The section table of `graph`.
pub fn section_sizes(graph: &Graph) -> Vec<SectionSize> {
    let edges = graph.edge_count();
    graph
        .footprint()
        .into_iter()
        .map(|(section, bytes)| SectionSize {
            section,
            bytes,
            bytes_per_edge: if edges == 0 { 0.0 } else { bytes as f64 / edges as f64 },
        })
        .collect()
}

/// What `build` did to the exposure index.
#[derive(Debug, Serialize)]
pub struct IndexSummary {
    /// `current` (nothing changed), `extended` (the saved pass continued over the segments
    /// appended, or unwound then continued) or `rebuilt` (every transfer replayed; `update`
    /// says why).
    pub status: &'static str,
    /// The file, its size, what it holds and how it was updated (when not current).
    #[serde(flatten)]
    pub built: Option<IndexBuildReport>,
    /// Bytes of the file.
    pub bytes: u64,
    /// Milliseconds spent building it (0 when current).
    pub ms: u64,
}

/// Brings the exposure index of the graph in `dir` up to date with the data directory's own
/// tags (those `trace exposure` uses when no tag file is named): the forward pass saved
/// beside it continued over the segments appended (`floodgate_trace::update_index`), or a
/// full pass when it cannot be (the tags of a node already indexed changed, …); nothing
/// when neither the graph nor the tags changed (costs: `docs/benchmarks.md`).
fn index_after_build(dd: &DataDir, dir: &std::path::Path) -> Result<IndexSummary> {
    let graph = Graph::open(dir)?;
    let resolved = load_tags(dd, &TagSources::default())?.tags.resolve(&graph);
    let path = ExposureIndex::path_in(dir);
    let now = IndexState::of(&graph, &resolved);
    if let Ok(old) = ExposureIndex::open(&path) {
        if old.state() == &now {
            return Ok(IndexSummary { status: "current", built: None, bytes: old.bytes(), ms: 0 });
        }
    }
    let t0 = std::time::Instant::now();
    let rep = update_index(&graph, &resolved, &path)?;
    let ms = t0.elapsed().as_millis() as u64;
    let status = match rep.update {
        IndexUpdate::Extended { .. } => "extended",
        _ => "rebuilt",
    };
    Ok(IndexSummary { status, bytes: rep.bytes, built: Some(rep), ms })
}

/// Builds or extends the graph from the transfer store (appending blocks above its tip), then
/// brings the stored clustering up to date. `progress` is called with the transfers read so
/// far. A rebuild is made beside the old graph and swapped in, so a failure leaves the old
/// graph in place.
pub fn build(
    dd: &DataDir,
    req: &BuildRequest,
    progress: &mut dyn FnMut(u64),
) -> Result<BuildResult> {
    build_from(dd, &dd.open_store()?, req, progress)
}

/// As [`build`], reading the transfers from `store` (any [`TransferStore`] backend) into the
/// data directory's graph.
///
/// # Errors
/// As [`build`].
pub fn build_from(
    dd: &DataDir,
    store: &impl TransferStore,
    req: &BuildRequest,
    progress: &mut dyn FnMut(u64),
) -> Result<BuildResult> {
    let dir = dd.graph_dir();
    let t0 = std::time::Instant::now();
    let graph = if req.rebuild {
        let fresh = dd.root().join("graph.rebuild");
        let old = dd.root().join("graph.old");
        for d in [&fresh, &old] {
            if d.exists() {
                std::fs::remove_dir_all(d).map_err(AppError::io("removing", d))?;
            }
        }
        Graph::update_from_store_with(&fresh, store, progress)?;
        if dir.exists() {
            std::fs::rename(&dir, &old).map_err(AppError::io("moving", &dir))?;
        }
        std::fs::rename(&fresh, &dir).map_err(AppError::io("moving", &fresh))?;
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(AppError::io("removing", &old))?;
        }
        let g = Graph::open(&dir)?;
        floodgate_graph::BuildReport {
            new_nodes: u64::from(g.node_count()),
            new_edges: g.edge_count(),
            nodes: u64::from(g.node_count()),
            edges: g.edge_count(),
            segments: g.segment_count(),
            bytes: g.bytes(),
            tips: g.tips().iter().map(|(k, v)| (k.clone(), v.height)).collect(),
            unwound: None,
        }
    } else {
        Graph::update_from_store_with(&dir, store, progress)?
    };
    let graph_ms = t0.elapsed().as_millis() as u64;
    let built = Graph::open(&dir)?;
    if req.verify {
        built.verify()?;
    }
    let sections = section_sizes(&built);
    drop(built);
    let clustering = entity::cluster_after_build(dd, &TagSources::tagpacks(req.tagpacks.clone()))?;
    let index = index_after_build(dd, &dir)?;
    Ok(BuildResult { graph, graph_ms, sections, clustering, index })
}

/// An exposure question: how much of what reached (or left) a target came from (or went to)
/// each risk category, by the chosen taint model. Definitions: `docs/taint-models.md`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExposureRequest {
    /// An address (any accepted form), an entity `E<n>`, or a graph node key such as
    /// `tx:bitcoin:<txid>`.
    pub target: String,
    /// `in`: where the target's value came from; `out`: where it went.
    #[serde(default = "default_direction")]
    pub direction: Direction,
    /// Hop limit (1–64).
    #[serde(default = "default_hops")]
    pub hops: u32,
    /// Taint model.
    #[serde(default = "default_model")]
    pub model: TaintModel,
    /// Transfers below this amount (base units) are not followed.
    #[serde(default)]
    pub min_amount: Amount,
    /// Only transfers at or after this time (Unix seconds).
    #[serde(default)]
    pub since: Option<i64>,
    /// Only transfers at or before this time (Unix seconds).
    #[serde(default)]
    pub until: Option<i64>,
    /// Only this asset (default: one report per asset the target moved).
    #[serde(default)]
    pub asset: Option<String>,
    /// Follow peel chains without spending hops.
    #[serde(default = "yes")]
    pub peel_chains: bool,
    /// Haircut, poison and TIHO as before they respected time (`--ignore-time`): value may
    /// be traced to transfers made after the ones it funds. Not for FIFO and LIFO.
    #[serde(default)]
    pub ignore_time: bool,
    /// Spread tags to co-spend entities.
    #[serde(default)]
    pub cluster: bool,
    /// Tag files beyond the data directory's.
    #[serde(default)]
    pub sources: TagSources,
    /// Trace per query even when the exposure index could answer, and without the index's
    /// pruning (`--no-index`).
    #[serde(default)]
    pub no_index: bool,
}

fn default_direction() -> Direction {
    Direction::In
}
fn default_hops() -> u32 {
    3
}
fn default_model() -> TaintModel {
    TaintModel::Haircut
}
fn yes() -> bool {
    true
}

impl ExposureRequest {
    /// A request with the defaults of `floodgate trace exposure TARGET`.
    pub fn new(target: impl Into<String>) -> ExposureRequest {
        ExposureRequest {
            target: target.into(),
            direction: default_direction(),
            hops: default_hops(),
            model: default_model(),
            min_amount: Amount::ZERO,
            since: None,
            until: None,
            asset: None,
            peel_chains: true,
            ignore_time: false,
            cluster: false,
            sources: TagSources::default(),
            no_index: false,
        }
    }

    /// Whether the exposure index can prune this request's per-query trace
    /// ([`floodgate_trace::exposure_indexed`]): causal haircut or poison, `in`, the data
    /// directory's own tags (any hop limit, window, minimum).
    fn index_can_prune(&self) -> bool {
        !self.no_index
            && self.direction == Direction::In
            && matches!(self.model, TaintModel::Haircut | TaintModel::Poison)
            && !self.ignore_time
            && !self.cluster
            && self.sources.is_empty()
    }

    /// Whether the exposure index can answer this request: haircut or poison, `in`, a hop
    /// limit it holds (1, 2, 3, 6), no minimum, no window, peel chains followed, time
    /// respected, the data directory's own tags, not spread to entities.
    fn index_can_answer(&self) -> bool {
        !self.no_index
            && self.direction == Direction::In
            && matches!(self.model, TaintModel::Haircut | TaintModel::Poison)
            && floodgate_trace::BUCKETS.contains(&self.hops)
            && self.min_amount.is_zero()
            && self.since.is_none()
            && self.until.is_none()
            && self.peel_chains
            && !self.ignore_time
            && !self.cluster
            && self.sources.is_empty()
    }

    fn options(&self) -> Result<ExposureOptions> {
        if !(1..=64).contains(&self.hops) {
            return Err(AppError::Invalid {
                field: "hops".into(),
                message: format!("hops: {} is not in 1..=64", self.hops),
            });
        }
        if self.ignore_time && matches!(self.model, TaintModel::Fifo | TaintModel::Lifo) {
            return Err(AppError::Invalid {
                field: "ignore_time".into(),
                message: "ignore_time: FIFO and LIFO always respect time; it applies to \
                          haircut, poison and tiho"
                    .into(),
            });
        }
        Ok(ExposureOptions {
            direction: self.direction,
            hops: self.hops,
            model: self.model,
            min_amount: self.min_amount,
            since: self.since,
            until: self.until,
            asset: self.asset.clone(),
            peel_chains: self.peel_chains,
            ignore_time: self.ignore_time,
        })
    }
}

/// The exposure of a target: one report per asset.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct ExposureResult {
    /// One report per asset.
    pub reports: Vec<ExposureReport>,
    /// When the target was an alias of a merged entity: which entity it resolved to.
    #[serde(skip)]
    pub alias: Option<floodgate_graph::AliasNote>,
    /// Whether the exposure index answered (each report then says `from_index`), or why it
    /// did not when it could have (stale, missing, a round trip); `None` when the request
    /// is not one the index holds.
    #[serde(skip)]
    pub index: Option<String>,
}

/// A fund-path question.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathRequest {
    /// Source address.
    pub from: String,
    /// Destination address.
    pub to: String,
    /// Hop limit.
    #[serde(default = "default_max_hops")]
    pub max_hops: u32,
    /// At most this many paths (all of the shortest length).
    #[serde(default = "default_path_limit")]
    pub limit: usize,
}

fn default_max_hops() -> u32 {
    6
}
fn default_path_limit() -> usize {
    10
}

/// The shortest fund paths found (none when the target cannot be reached).
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct PathResult {
    /// The paths, shortest first.
    pub paths: Vec<FundPath>,
}

/// What `tags` is asked: the tags of an address or an entity, or (no target) the load
/// summary of every source.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TagsRequest {
    /// An address (any accepted form) or an entity `E<n>`.
    pub target: Option<String>,
    /// Tag files beyond the data directory's.
    pub sources: TagSources,
}

/// Tags, or the load summary of the tag sources.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum TagsResult {
    /// What every source loaded and skipped.
    Summary {
        /// One summary per source.
        sources: Vec<floodgate_attribution::SourceLoad>,
    },
    /// The tags of an address.
    Address {
        /// The address, canonical.
        address: String,
        /// Its highest-ranked category.
        category: Option<floodgate_attribution::RiskCategory>,
        /// Its tags.
        tags: Vec<floodgate_attribution::Tag>,
    },
    /// The tags an entity derives from its addresses.
    Entity {
        /// The entity (after alias resolution).
        entity: String,
        /// Its category.
        category: Option<floodgate_attribution::RiskCategory>,
        /// Its addresses' tags.
        tags: Vec<floodgate_attribution::EntityTag>,
        /// When the id asked for was an alias: which entity it resolved to.
        #[serde(skip)]
        alias: Option<floodgate_graph::AliasNote>,
    },
}

impl TagsResult {
    /// Whether the target has no tag (`false` for a summary).
    pub fn is_untagged(&self) -> bool {
        match self {
            TagsResult::Summary { .. } => false,
            TagsResult::Address { tags, .. } => tags.is_empty(),
            TagsResult::Entity { tags, .. } => tags.is_empty(),
        }
    }
}

/// The data directory's own tags and the clustering derived with them, loaded once.
struct Attribution {
    loaded: LoadedTags,
    clustering: OnceLock<Clustering>,
    /// These tags resolved to the graph's nodes, once (every exposure request reads them).
    resolved: OnceLock<HashMap<NodeId, RiskCategory>>,
    /// The graph and these tags, as the exposure index records what it was built from.
    index_state: OnceLock<IndexState>,
}

impl Attribution {
    /// `loaded`, with nothing derived from it yet.
    fn new(loaded: LoadedTags) -> Attribution {
        Attribution {
            loaded,
            clustering: OnceLock::new(),
            resolved: OnceLock::new(),
            index_state: OnceLock::new(),
        }
    }
}

/// A graph opened for questions.
pub struct Tracer {
    dd: DataDir,
    graph: Graph,
    own: OnceLock<Arc<Attribution>>,
    /// The exposure index beside the graph, opened on first use (or why it could not be).
    index: OnceLock<std::result::Result<ExposureIndex, String>>,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer").field("dd", &self.dd).finish_non_exhaustive()
    }
}

impl Tracer {
    /// Opens the graph of the data directory (built with [`build`]).
    pub fn open(dd: &DataDir) -> Result<Tracer> {
        let graph = Graph::open(&dd.graph_dir())?;
        Ok(Tracer { dd: dd.clone(), graph, own: OnceLock::new(), index: OnceLock::new() })
    }

    /// The graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The data directory.
    pub fn data_dir(&self) -> &DataDir {
        &self.dd
    }

    /// The tags for a request: the data directory's own (loaded once) when the request adds
    /// no source, else loaded anew with the request's.
    fn attribution(&self, extra: &TagSources) -> Result<Arc<Attribution>> {
        if !extra.is_empty() {
            return Ok(Arc::new(Attribution::new(load_tags(&self.dd, extra)?)));
        }
        if let Some(a) = self.own.get() {
            return Ok(Arc::clone(a));
        }
        let a = Arc::new(Attribution::new(load_tags(&self.dd, extra)?));
        Ok(Arc::clone(self.own.get_or_init(|| a)))
    }

    /// The tags of `a` resolved to this graph's nodes, once per [`Attribution`].
    fn resolved<'a>(&self, a: &'a Attribution) -> &'a HashMap<NodeId, RiskCategory> {
        a.resolved.get_or_init(|| a.loaded.tags.resolve(&self.graph))
    }

    fn clustering<'a>(&self, a: &'a Attribution) -> Result<&'a Clustering> {
        if let Some(c) = a.clustering.get() {
            return Ok(c);
        }
        let c = entity::clustering(&self.graph, &a.loaded.tags)?;
        Ok(a.clustering.get_or_init(|| c))
    }

    /// Resolves an address (any accepted form) or a node key to a node.
    ///
    /// # Errors
    /// [`floodgate_graph::GraphError::NotInGraph`] naming what was asked.
    pub fn node(&self, s: &str) -> Result<NodeId> {
        entity::node_of(&self.graph, s)
    }

    /// Exposure of an address, a node or an entity, by risk category.
    pub fn exposure(&self, req: &ExposureRequest) -> Result<ExposureResult> {
        let opts = req.options()?;
        // `E<n>`: a co-spend entity (see `why`); anything else: an address or node key.
        let entity = self
            .graph
            .lookup(req.target.trim())
            .is_none()
            .then(|| EntityId::parse(&req.target))
            .flatten();
        let target = match entity {
            Some(_) => None,
            None => Some(self.node(&req.target)?),
        };
        let a = self.attribution(&req.sources)?;
        let mut index_note = None;
        if let (Some(t), true) = (target, req.index_can_answer()) {
            match self.index_answer(&a, t, req) {
                Ok((reports, searched)) => {
                    let mut note = format!(
                        "from the exposure index ({}, built from the graph of {} edges)",
                        self.graph.dir().join(floodgate_trace::INDEX_FILE).display(),
                        self.graph.edge_count()
                    );
                    if searched {
                        note.push_str(&format!(
                            "; value it sent and value it received afterwards were both labelled, but no path leads from its transfers back to it within {} hops, so none of it came back: exact",
                            req.hops
                        ));
                    }
                    return Ok(ExposureResult { reports, alias: None, index: Some(note) });
                }
                Err(why) => index_note = why.map(|w| format!("traced per query: {w}")),
            }
        }
        let tags = &a.loaded.tags;
        let clusters =
            if req.cluster || entity.is_some() { Some(self.clustering(&a)?) } else { None };
        let spread;
        let resolved = match (clusters, req.cluster) {
            (Some(c), true) => {
                spread = tags.resolve_entities(&self.graph, c);
                &spread
            }
            _ => self.resolved(&a),
        };
        let (reports, alias) = match (target, entity, clusters) {
            // The index, when current for these tags, also prunes a causal haircut or poison
            // trace `in` (the same answer, fewer nodes read); `no_index` leaves it out.
            (Some(t), _, _) => match self.exposure_index().ok().filter(|_| req.index_can_prune()) {
                Some(idx) => (
                    floodgate_trace::exposure_indexed(&self.graph, resolved, idx, t, &opts)?.0,
                    None,
                ),
                _ => (floodgate_trace::exposure(&self.graph, resolved, t, &opts)?, None),
            },
            (None, Some(e), Some(c)) => {
                // An alias (the id of an entity that merged into another) resolves, and says so.
                let (e, note) = entity::resolve_entity(&self.dd, &self.graph, c, e)?;
                (floodgate_trace::entity_exposure(&self.graph, resolved, c, e, &opts)?, note)
            }
            _ => {
                return Err(AppError::Invalid {
                    field: "target".into(),
                    message: format!("'{}' is neither a node nor an entity", req.target),
                })
            }
        };
        Ok(ExposureResult { reports, alias, index: index_note })
    }

    /// The exposure index, opened once.
    pub fn exposure_index(&self) -> std::result::Result<&ExposureIndex, &str> {
        self.index
            .get_or_init(|| {
                ExposureIndex::open(&ExposureIndex::path_in(self.graph.dir())).map_err(|e| match e {
                    floodgate_graph::GraphError::NotBuilt { .. } => {
                        "there is no exposure index (run `floodgate trace build`)".to_owned()
                    }
                    e => {
                        tracing::warn!(target: "floodgate::trace", error = %e, "exposure index unusable");
                        format!("the exposure index is unusable: {e}")
                    }
                })
            })
            .as_ref()
            .map_err(String::as_str)
    }

    /// Why the exposure index cannot answer for the data directory's own tags now, or `None`
    /// when it can.
    pub fn index_stale_reason(&self) -> Result<Option<String>> {
        let idx = match self.exposure_index() {
            Ok(i) => i,
            Err(why) => return Ok(Some(why.to_owned())),
        };
        let a = self.attribution(&TagSources::default())?;
        Ok(idx.state().stale_reason(self.index_state(&a)))
    }

    fn index_state<'a>(&self, a: &'a Attribution) -> &'a IndexState {
        a.index_state.get_or_init(|| IndexState::of(&self.graph, self.resolved(a)))
    }

    /// The reports of `target` from the exposure index, and whether a round-trip search
    /// proved a flagged entry exact (`floodgate_trace::round_trip_within`); `Err(Some(why))`
    /// when it cannot answer a request it would hold (stale, missing, a possible round trip),
    /// `Err(None)` when the node is simply not in it for the asset asked (a query is as
    /// cheap).
    fn index_answer(
        &self,
        a: &Attribution,
        target: NodeId,
        req: &ExposureRequest,
    ) -> std::result::Result<(Vec<ExposureReport>, bool), Option<String>> {
        if self.graph.kind(target) != floodgate_graph::NodeKind::Address {
            return Err(None);
        }
        let idx = self.exposure_index().map_err(|w| Some(w.to_owned()))?;
        if let Some(why) = idx.state().stale_reason(self.index_state(a)) {
            return Err(Some(why));
        }
        let mut entries = idx.lookup(target);
        if let Some(asset) = &req.asset {
            entries.retain(|e| &e.asset == asset);
            if entries.is_empty() {
                return Err(None);
            }
        }
        // Flagged as a possible round trip (labelled value received after labelled value
        // sent): exact unless a path leads from its transfers back to it within the hops.
        let mut searched = false;
        if entries.iter().any(|e| e.round_trip) {
            let tags = self.resolved(a);
            for e in entries.iter().filter(|e| e.round_trip) {
                let limit = floodgate_trace::ROUND_TRIP_SEARCH;
                match round_trip_within(&self.graph, tags, idx, target, e, req.hops, limit) {
                    Return::None => searched = true,
                    Return::Found => {
                        return Err(Some(format!(
                            "value this address sent can have come back to it within {} hops (a path of its {} transfers leads back to it), which a query leaves untraced and the index cannot tell apart",
                            req.hops, e.asset
                        )))
                    }
                    Return::Unknown => {
                        return Err(Some(format!(
                            "value this address sent may have come back to it (the search for a path back met more than {limit} nodes), which a query leaves untraced and the index cannot tell apart"
                        )))
                    }
                }
            }
        }
        let key = self.graph.key(target);
        let reports = entries
            .iter()
            .map(|e| e.report(&self.graph, &key, req.model, req.hops))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Some("a value does not fit 128 bits".into()))?;
        Ok((reports, searched))
    }

    /// The shortest fund paths from one address to another.
    pub fn paths(&self, req: &PathRequest) -> Result<PathResult> {
        let from = self.node(&req.from)?;
        let to = self.node(&req.to)?;
        let paths = floodgate_trace::paths(
            &self.graph,
            from,
            to,
            &PathOptions { max_hops: req.max_hops, limit: req.limit },
        )?;
        Ok(PathResult { paths })
    }

    /// Why two addresses (or entities) are one entity: the transactions that join them, or
    /// (when they are not) the change evidence between them if asked.
    pub fn why(&self, req: &WhyRequest) -> Result<WhyResult> {
        let a = self.attribution(&TagSources::tagpacks(req.tagpacks.clone()))?;
        let c = self.clustering(&a)?;
        entity::why(&self.dd, &self.graph, c, req)
    }

    /// An entity's report: members, first and last seen, tags, merges, change evidence.
    pub fn entity(&self, req: &EntityRequest) -> Result<EntityReport> {
        let sources = TagSources {
            tagpacks: req.tagpacks.clone(),
            ofac: req.ofac.clone(),
            ..TagSources::default()
        };
        let a = self.attribution(&sources)?;
        let c = self.clustering(&a)?;
        entity::entity(&self.dd, &self.graph, c, &a.loaded.tags, req)
    }

    /// The tags of an address or an entity `E<n>`.
    pub fn tags(&self, target: &str, sources: &TagSources) -> Result<TagsResult> {
        let a = self.attribution(sources)?;
        let target = target.trim();
        if let Some(n) = target.strip_prefix('E').and_then(|n| n.parse::<u32>().ok()) {
            if n >= self.graph.node_count() {
                return Err(
                    floodgate_graph::GraphError::NotInGraph { key: target.to_owned() }.into()
                );
            }
            let c = self.clustering(&a)?;
            // An alias (a merged entity's old id) resolves to the entity it joined.
            let (id, alias) = entity::resolve_entity(&self.dd, &self.graph, c, EntityId(n))?;
            let tags = a.loaded.tags.entity_tags(&self.graph, c, id);
            let category = tags.first().map(|t| t.tag.category);
            return Ok(TagsResult::Entity { entity: id.to_string(), category, tags, alias });
        }
        address_tags(&a.loaded, target)
    }
}

fn address_tags(loaded: &LoadedTags, target: &str) -> Result<TagsResult> {
    let address = Address::parse_any(target)
        .map_err(|e| AppError::Invalid {
            field: "target".into(),
            message: format!("'{target}' is neither an address nor an entity E<n>: {e}"),
        })?
        .to_canonical();
    let tags = loaded.tags.of(&address).to_vec();
    let category = tags.iter().map(|t| t.category).min();
    Ok(TagsResult::Address { address, category, tags })
}

/// The tags of an address, or the load summary of every source — without a graph (an
/// entity target needs one: use [`Tracer::tags`]).
pub fn tags(dd: &DataDir, req: &TagsRequest) -> Result<TagsResult> {
    match req.target.as_deref().map(str::trim) {
        Some(t) if t.strip_prefix('E').is_some_and(|n| n.parse::<u32>().is_ok()) => {
            Tracer::open(dd)?.tags(t, &req.sources)
        }
        Some(t) => address_tags(&load_tags(dd, &req.sources)?, t),
        None => Ok(TagsResult::Summary { sources: load_tags(dd, &req.sources)?.sources }),
    }
}
