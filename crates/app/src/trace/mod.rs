//! Tracing services: build the graph from the transfer store, then ask it questions — exposure
//! by risk category, fund paths, why two addresses are one entity, an entity's report, the
//! tags of an address. Open a [`Tracer`] once and ask it many questions: the graph is mapped
//! once, and the data directory's own tags and clustering are loaded on first use and shared.

mod entity;
mod sources;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use floodgate_graph::{Clustering, EntityId, Graph, NodeId};
use floodgate_store::TransferStore;
use floodgate_trace::{
    Direction, ExposureOptions, ExposureReport, FundPath, PathOptions, TaintModel,
};
use floodgate_types::{Address, Amount};
use serde::{Deserialize, Serialize};

pub use entity::{
    ChangeLink, ClusterSummary, CoinJoinNote, EntityReport, EntityRequest, MemberTag, NotOneEntity,
    WhyAnswer, WhyRequest, WhyResult, WhyStep,
};
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

/// What `build` did: the graph and the clustering.
#[derive(Debug, Serialize)]
pub struct BuildResult {
    /// The graph.
    #[serde(flatten)]
    pub graph: floodgate_graph::BuildReport,
    /// The clustering (`graph/entities.fge`).
    pub clustering: ClusterSummary,
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
    if req.verify {
        Graph::open(&dir)?.verify()?;
    }
    let clustering = entity::cluster_after_build(dd, &TagSources::tagpacks(req.tagpacks.clone()))?;
    Ok(BuildResult { graph, clustering })
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
        }
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
}

/// A graph opened for questions.
pub struct Tracer {
    dd: DataDir,
    graph: Graph,
    own: OnceLock<Arc<Attribution>>,
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
        Ok(Tracer { dd: dd.clone(), graph, own: OnceLock::new() })
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
            return Ok(Arc::new(Attribution {
                loaded: load_tags(&self.dd, extra)?,
                clustering: OnceLock::new(),
            }));
        }
        if let Some(a) = self.own.get() {
            return Ok(Arc::clone(a));
        }
        let a = Arc::new(Attribution {
            loaded: load_tags(&self.dd, extra)?,
            clustering: OnceLock::new(),
        });
        Ok(Arc::clone(self.own.get_or_init(|| a)))
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
        let tags = &a.loaded.tags;
        let clusters =
            if req.cluster || entity.is_some() { Some(self.clustering(&a)?) } else { None };
        let resolved = match (clusters, req.cluster) {
            (Some(c), true) => tags.resolve_entities(&self.graph, c),
            _ => tags.resolve(&self.graph),
        };
        let (reports, alias) = match (target, entity, clusters) {
            (Some(t), _, _) => (floodgate_trace::exposure(&self.graph, &resolved, t, &opts)?, None),
            (None, Some(e), Some(c)) => {
                // An alias (the id of an entity that merged into another) resolves, and says so.
                let (e, note) = entity::resolve_entity(&self.dd, &self.graph, c, e)?;
                (floodgate_trace::entity_exposure(&self.graph, &resolved, c, e, &opts)?, note)
            }
            _ => {
                return Err(AppError::Invalid {
                    field: "target".into(),
                    message: format!("'{}' is neither a node nor an entity", req.target),
                })
            }
        };
        Ok(ExposureResult { reports, alias })
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
