//! Entities: the clustering a query uses, alias resolution of `E<n>`, `why` and the entity
//! report. Rules: `docs/taxonomy.md#clustering`; file: `docs/formats/entities.md`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use floodgate_attribution::{RiskCategory, TagSet};
use floodgate_graph::{
    change_evidence, cluster_with, update_clustering, AliasNote, ChangeEvidence, ClusterUpdate,
    Clustering, CoinJoinEvidence, EntityId, Graph, JoinRule, Merge, NodeId, NodeKind,
    ENTITIES_FILE,
};
use floodgate_store::TransferStore;
use floodgate_types::Amount;
use serde::{Deserialize, Serialize};

use super::sources::{load_tags, TagSources};
use crate::{DataDir, Result};

/// The exchange wallets among the tagged addresses: the input of deposit clustering. An
/// address with an `exchange` tag counts even when another tag ranks higher (a sanctioned
/// exchange still sweeps its own deposit addresses).
fn exchange_nodes(graph: &Graph, tags: &TagSet) -> BTreeSet<NodeId> {
    tags.resolve(graph)
        .into_keys()
        .filter(|&n| {
            let key = graph.key(n).to_string();
            tags.of(&key).iter().any(|t| t.category == RiskCategory::Exchange)
        })
        .collect()
}

/// What a graph build did to the clustering.
#[derive(Debug, Serialize)]
pub struct ClusterSummary {
    /// Whether the stored clustering was current, extended or rebuilt (and why).
    #[serde(flatten)]
    pub update: ClusterUpdate,
    /// The clustering file.
    pub file: PathBuf,
    /// Exchange wallets among the tags (deposit clustering's input).
    pub exchange_wallets: usize,
    /// Entities of two or more addresses.
    pub multi_address_entities: u64,
    /// Addresses in the largest entity.
    pub largest_entity: u32,
    /// Merges recorded.
    pub merges: usize,
    /// Deposit addresses joined to their exchange.
    pub deposit_addresses: usize,
    /// CoinJoin transactions (never co-spend evidence).
    pub coinjoins: usize,
}

/// After a build: brings `graph/entities.fge` up to date (extending it with the new segments
/// when it can), with the exchange wallets of every tag source of the data directory (any of
/// them may name an exchange wallet) and `extra`.
pub(super) fn cluster_after_build(dd: &DataDir, extra: &TagSources) -> Result<ClusterSummary> {
    let dir = dd.graph_dir();
    let graph = Graph::open(&dir)?;
    let tags = load_tags(dd, extra)?.tags;
    let exchanges = exchange_nodes(&graph, &tags);
    let (c, update) = update_clustering(&graph, &exchanges)?;
    let (mut multi, mut largest) = (0u64, 1u32);
    for n in 0..graph.node_count() {
        let id = NodeId(n);
        if c.entity_of(id).0 == n && graph.kind(id) == NodeKind::Address {
            let s = c.size_of(id);
            multi += u64::from(s >= 2);
            largest = largest.max(s);
        }
    }
    Ok(ClusterSummary {
        update,
        file: dir.join(ENTITIES_FILE),
        exchange_wallets: exchanges.len(),
        multi_address_entities: multi,
        largest_entity: largest,
        merges: c.merge_count(),
        deposit_addresses: c.deposit_count(),
        coinjoins: c.coinjoin_count(),
    })
}

/// The clustering for a query: the stored file when it matches the graph; a damaged file is
/// an error naming it and the offset; a stale file (the graph grew) is extended in memory and
/// a missing or foreign one recomputed, with a warning to run `trace build`. `tags` gives
/// the exchange wallets when there is no usable stored set.
pub(super) fn clustering(graph: &Graph, tags: &TagSet) -> Result<Clustering> {
    let path = graph.dir().join(ENTITIES_FILE);
    if !path.exists() {
        tracing::warn!(target: "floodgate::trace", "{} is missing: clustering in memory (run `floodgate trace build` to store it)", path.display());
        return Ok(cluster_with(graph, &exchange_nodes(graph, tags)));
    }
    let mut c = Clustering::load(&path)?;
    if c.is_current(graph) {
        return Ok(c);
    }
    tracing::warn!(target: "floodgate::trace", "{} does not match the graph: clustering in memory (run `floodgate trace build` to update it)", path.display());
    if c.is_prefix_of(graph) {
        c.extend(graph);
        return Ok(c);
    }
    Ok(cluster_with(graph, &exchange_nodes(graph, tags)))
}

/// Resolves `E<n>`: an entity id, or an alias of one (the note says which merge retired it,
/// with the joining transaction's block when the transfer store has it).
///
/// # Errors
/// "not in the graph" when `n` is not an address of the graph.
pub(super) fn resolve_entity(
    dd: &DataDir,
    graph: &Graph,
    c: &Clustering,
    id: EntityId,
) -> Result<(EntityId, Option<AliasNote>)> {
    if id.0 >= graph.node_count() || graph.kind(NodeId(id.0)) != NodeKind::Address {
        return Err(floodgate_graph::GraphError::NotInGraph { key: id.to_string() }.into());
    }
    let note = c.alias_note(graph, id).map(|mut n| {
        n.block = block_of(dd, &n);
        n
    });
    Ok((c.entity_of(NodeId(id.0)), note))
}

/// The block height of an alias note's joining transaction, from the transfer store (the
/// graph holds times only): the store's rows of the note's party address with that txid.
fn block_of(dd: &DataDir, note: &AliasNote) -> Option<u64> {
    let store = dd.open_store().ok()?;
    let address = floodgate_types::Address::parse_any(&note.party).ok()?;
    let want = note.tx.rsplit(':').next()?.trim_start_matches("0x").to_ascii_lowercase();
    let filter = floodgate_store::TransferFilter { address: Some(address), ..Default::default() };
    let rows = store.transfers(&filter).ok()?;
    rows.iter()
        .find(|r| r.txid.trim_start_matches("0x").eq_ignore_ascii_case(&want))
        .and_then(|r| r.height)
}

/// An address or `E<n>` as a node of the graph, with the alias note when `E<n>` was merged.
fn node_or_entity(
    dd: &DataDir,
    graph: &Graph,
    c: &Clustering,
    s: &str,
) -> Result<(NodeId, Option<AliasNote>)> {
    if graph.lookup(s.trim()).is_none() {
        if let Some(id) = EntityId::parse(s) {
            let (_, note) = resolve_entity(dd, graph, c, id)?;
            return Ok((NodeId(id.0), note));
        }
    }
    Ok((node_of(graph, s)?, None))
}

/// Resolves an address (any accepted form) or a node key to a node.
pub(super) fn node_of(graph: &Graph, s: &str) -> Result<NodeId> {
    let s = s.trim();
    if let Some(n) = graph.lookup(s) {
        return Ok(n);
    }
    let canonical = floodgate_types::Address::parse_any(s).map(|a| a.to_canonical()).ok();
    match canonical.and_then(|k| graph.lookup(&k)) {
        Some(n) => Ok(n),
        None => Err(floodgate_graph::GraphError::NotInGraph { key: s.to_owned() }.into()),
    }
}

/// Why two addresses are one entity.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhyRequest {
    /// An address, or an entity id `E<n>` (an alias of a merged entity is resolved).
    pub a: String,
    /// Another address or entity id.
    pub b: String,
    /// Also report change-address evidence between the two (evidence only: never merges).
    #[serde(default)]
    pub change_heuristics: bool,
    /// TagPacks beyond the data directory's (exchange wallets for deposit clustering when the
    /// stored clustering cannot be used).
    #[serde(default)]
    pub tagpacks: Vec<PathBuf>,
}

/// One transaction joining two addresses of an entity.
#[derive(Debug, Serialize)]
pub struct WhyStep {
    /// The entity.
    pub entity: String,
    /// 1-based.
    pub step: usize,
    /// One address.
    pub a: String,
    /// The address it was joined with.
    pub b: String,
    /// The clustering rule.
    pub rule: JoinRule,
    /// The joining transaction.
    pub tx: String,
    /// Its time.
    pub time: Option<i64>,
}

/// Change evidence between two entities that are not one (evidence only: never merges).
#[derive(Debug, Serialize)]
pub struct ChangeLink {
    /// The spender.
    pub entity: String,
    /// The spending transaction.
    pub tx: String,
    /// The output's position.
    pub output: usize,
    /// The likely change address.
    pub address: String,
    /// Its amount.
    pub amount: Amount,
    /// Why, `; `-separated.
    pub reasons: String,
}

impl ChangeLink {
    /// From the graph's evidence.
    pub fn from_evidence(e: &ChangeEvidence) -> ChangeLink {
        ChangeLink {
            entity: e.entity.to_string(),
            tx: e.tx.clone(),
            output: e.output,
            address: e.address.clone(),
            amount: e.amount,
            reasons: e.reasons.join("; "),
        }
    }
}

/// The two are not one entity.
#[derive(Debug, Serialize)]
pub struct NotOneEntity {
    /// Change evidence between them.
    pub change: Vec<ChangeLink>,
    /// Always `false`.
    pub one_entity: bool,
}

/// The answer to `why`, with the aliases its targets resolved through.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct WhyResult {
    /// The answer.
    pub answer: WhyAnswer,
    /// Entity ids asked for that were aliases of merged entities.
    #[serde(skip)]
    pub aliases: Vec<AliasNote>,
    /// The entities of the two targets.
    #[serde(skip)]
    pub entities: (EntityId, EntityId),
    /// When they are not one entity: the CoinJoins both spent in, which would have joined
    /// them as a co-spend (why they did not).
    #[serde(skip)]
    pub coinjoins: Vec<CoinJoinNote>,
}

/// A transaction both targets spent in that was treated as a CoinJoin, so not as a
/// co-spend: why two addresses that signed one transaction are not one entity.
#[derive(Debug, Clone, Serialize)]
pub struct CoinJoinNote {
    /// One target.
    pub a: String,
    /// The other.
    pub b: String,
    /// The transaction (node key).
    pub tx: String,
    /// The numbers that made it a CoinJoin.
    pub evidence: CoinJoinEvidence,
}

impl std::fmt::Display for CoinJoinNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} and {} were both inputs of {}, which is treated as a CoinJoin and so does not join them: {}",
            self.a, self.b, self.tx, self.evidence
        )
    }
}

/// Whether two targets are one entity, and why.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum WhyAnswer {
    /// One entity: the chain of joining transactions from `a` to `b`.
    OneEntity(Vec<WhyStep>),
    /// Not one entity: `null`, or the change evidence when it was asked for.
    NotOne(Option<NotOneEntity>),
}

impl WhyResult {
    /// Whether the two are one entity.
    pub fn is_one_entity(&self) -> bool {
        matches!(self.answer, WhyAnswer::OneEntity(_))
    }
}

pub(super) fn why(
    dd: &DataDir,
    graph: &Graph,
    clusters: &Clustering,
    req: &WhyRequest,
) -> Result<WhyResult> {
    let (a, note_a) = node_or_entity(dd, graph, clusters, &req.a)?;
    let (b, note_b) = node_or_entity(dd, graph, clusters, &req.b)?;
    let aliases: Vec<AliasNote> = note_a.into_iter().chain(note_b).collect();
    let (ea, eb) = (clusters.entity_of(a), clusters.entity_of(b));
    let Some(steps) = clusters.why(graph, a, b) else {
        tracing::warn!(target: "floodgate::trace", "{} ({ea}) and {} ({eb}) are not one entity", req.a, req.b);
        let coinjoins: Vec<CoinJoinNote> = clusters
            .coinjoins_between(graph, a, b)
            .into_iter()
            .map(|(tx, evidence)| CoinJoinNote {
                a: graph.key(a).into_owned(),
                b: graph.key(b).into_owned(),
                tx,
                evidence,
            })
            .collect();
        if !req.change_heuristics {
            let answer = WhyAnswer::NotOne(None);
            return Ok(WhyResult { answer, aliases, entities: (ea, eb), coinjoins });
        }
        let mut ev = change_evidence(graph, clusters, ea, &clusters.members(ea));
        ev.retain(|e| graph.lookup(&e.address).is_some_and(|n| clusters.entity_of(n) == eb));
        let mut back = change_evidence(graph, clusters, eb, &clusters.members(eb));
        back.retain(|e| graph.lookup(&e.address).is_some_and(|n| clusters.entity_of(n) == ea));
        let change = ev.iter().chain(&back).map(ChangeLink::from_evidence).collect();
        let answer = WhyAnswer::NotOne(Some(NotOneEntity { change, one_entity: false }));
        return Ok(WhyResult { answer, aliases, entities: (ea, eb), coinjoins });
    };
    let answer = WhyAnswer::OneEntity(
        steps
            .into_iter()
            .enumerate()
            .map(|(i, s)| WhyStep {
                entity: ea.to_string(),
                step: i + 1,
                a: s.a,
                b: s.b,
                rule: s.rule,
                tx: s.tx,
                time: s.time,
            })
            .collect(),
    );
    Ok(WhyResult { answer, aliases, entities: (ea, eb), coinjoins: Vec::new() })
}

/// An entity's report.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntityRequest {
    /// An entity id `E<n>` (an alias of a merged entity is resolved) or an address.
    pub target: String,
    /// Report change-address evidence for the entity's spends (evidence only).
    #[serde(default)]
    pub change_heuristics: bool,
    /// TagPacks beyond the data directory's.
    #[serde(default)]
    pub tagpacks: Vec<PathBuf>,
    /// A directory of OFAC address files (tagged sanctioned).
    #[serde(default)]
    pub ofac: Option<PathBuf>,
    /// List at most this many member addresses.
    #[serde(default = "default_member_limit")]
    pub limit: usize,
}

fn default_member_limit() -> usize {
    20
}

/// A member's tag.
#[derive(Debug, Serialize)]
pub struct MemberTag {
    /// The member address.
    pub address: String,
    /// The tag's category.
    pub category: RiskCategory,
    /// Its label.
    pub label: String,
    /// Its source.
    pub source: String,
}

/// An entity: members, first and last seen, tags, merges, change evidence.
#[derive(Debug, Serialize)]
pub struct EntityReport {
    /// The entity (after alias resolution).
    pub entity: EntityId,
    /// When the id asked for was an alias: the merge that retired it.
    pub alias: Option<AliasNote>,
    /// Its number of addresses.
    pub members: usize,
    /// Up to the request's limit of them.
    pub addresses: Vec<String>,
    /// Earliest transfer time of a member.
    pub first_seen: Option<i64>,
    /// Latest transfer time of a member.
    pub last_seen: Option<i64>,
    /// Categories derived from the members' own tags, with how many members hold each.
    pub categories: BTreeMap<String, usize>,
    /// The members' tags.
    pub tags: Vec<MemberTag>,
    /// Merges into this entity.
    pub merges: Vec<Merge>,
    /// Whether change evidence was asked for.
    pub change_heuristics: bool,
    /// The change evidence.
    pub change: Vec<ChangeEvidence>,
}

pub(super) fn entity(
    dd: &DataDir,
    graph: &Graph,
    c: &Clustering,
    tags: &TagSet,
    req: &EntityRequest,
) -> Result<EntityReport> {
    let (entity, alias) = match EntityId::parse(&req.target) {
        Some(id) if graph.lookup(req.target.trim()).is_none() => resolve_entity(dd, graph, c, id)?,
        _ => (c.entity_of(node_of(graph, &req.target)?), None),
    };
    let members = c.members(entity);
    let (mut first, mut last) = (None::<i64>, None::<i64>);
    for &m in &members {
        for t in graph.out_edges(m).chain(graph.in_edges(m)).filter_map(|e| e.time) {
            first = Some(first.map_or(t, |f| f.min(t)));
            last = Some(last.map_or(t, |l| l.max(t)));
        }
    }
    let own: HashMap<NodeId, RiskCategory> = tags.resolve(graph);
    let mut categories: BTreeMap<String, usize> = BTreeMap::new();
    let mut member_tags = Vec::new();
    for &m in &members {
        if let Some(cat) = own.get(&m) {
            *categories.entry(cat.to_string()).or_default() += 1;
            let key = graph.key(m).to_string();
            for t in tags.of(&key) {
                member_tags.push(MemberTag {
                    address: key.clone(),
                    category: t.category,
                    label: t.label.clone(),
                    source: t.source.clone(),
                });
            }
        }
    }
    Ok(EntityReport {
        entity,
        alias,
        members: members.len(),
        addresses: members.iter().take(req.limit).map(|&m| graph.key(m).to_string()).collect(),
        first_seen: first,
        last_seen: last,
        categories,
        tags: member_tags,
        merges: c.merges_into(graph, entity),
        change_heuristics: req.change_heuristics,
        change: if req.change_heuristics {
            change_evidence(graph, c, entity, &members)
        } else {
            Vec::new()
        },
    })
}
