//! Entities for `floodgate trace`: the persisted clustering (`graph/entities.fge`) written by
//! `trace build` and read by the queries, alias resolution of `E<n>`, `trace why` and the
//! `trace entity` report. Rules: docs/taxonomy.md#clustering; file: docs/formats/entities.md.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use floodgate_graph::{
    change_evidence, cluster_with, update_clustering, AliasNote, ChangeEvidence, ClusterUpdate,
    Clustering, EntityId, Graph, JoinRule, Merge, NodeId, NodeKind, RiskCategory, TagSet,
    ENTITIES_FILE,
};
use floodgate_types::{Amount, Timestamp};
use serde::Serialize;

use super::{node_of, open_graph, KeyValue};
use crate::config::Context;
use crate::output::{self, Format, Tabular};

/// The exchange wallets among the tagged addresses: the input of deposit clustering. An
/// address with an `exchange` tag counts even when another tag ranks higher (a sanctioned
/// exchange still sweeps its own deposit addresses).
fn exchange_nodes(graph: &Graph, tags: &TagSet) -> BTreeSet<NodeId> {
    tags.resolve(graph)
        .into_keys()
        .filter(|&n| {
            // An owned key: `Graph::key` may return a `Cow` in the next graph format.
            let key = graph.key(n).to_string();
            tags.of(&key).iter().any(|t| t.category == RiskCategory::Exchange)
        })
        .collect()
}

/// What `trace build` did to the clustering.
#[derive(Debug, Serialize)]
pub(super) struct ClusterSummary {
    #[serde(flatten)]
    update: ClusterUpdate,
    file: PathBuf,
    exchange_wallets: usize,
    multi_address_entities: u64,
    largest_entity: u32,
    merges: usize,
    deposit_addresses: usize,
    coinjoins: usize,
}

impl ClusterSummary {
    pub(super) fn rows(&self) -> Vec<KeyValue> {
        let how = match &self.update {
            ClusterUpdate::Current => "current".to_owned(),
            ClusterUpdate::Extended { from_segments } => {
                format!("extended (the file covered {from_segments} segments)")
            }
            ClusterUpdate::Rebuilt { reason } => format!("rebuilt ({reason})"),
        };
        let kv = |k: &str, v: String| KeyValue { key: k.to_owned(), value: v };
        vec![
            kv("clustering", how),
            kv("entities file", self.file.display().to_string()),
            kv("exchange wallets", self.exchange_wallets.to_string()),
            kv("multi-address entities", self.multi_address_entities.to_string()),
            kv("largest entity", self.largest_entity.to_string()),
            kv("entity merges", self.merges.to_string()),
            kv("deposit addresses", self.deposit_addresses.to_string()),
            kv("coinjoins", self.coinjoins.to_string()),
        ]
    }
}

/// After `trace build`: brings `graph/entities.fge` up to date (extending it with the new
/// segments when it can), with the exchange wallets of the tags in `<data dir>/tagpacks` and
/// `tagpacks`.
pub(super) fn cluster_after_build(
    ctx: &Context,
    dir: &Path,
    tagpacks: &[PathBuf],
) -> Result<ClusterSummary> {
    let graph = Graph::open(dir)?;
    // Every tag source of the data directory (TagPacks, Etherscan labels, …): any of them
    // may name an exchange wallet.
    let tags = super::tags::load(ctx, tagpacks, None, &super::tags::SourceArgs::default())?.tags;
    let exchanges = exchange_nodes(&graph, &tags);
    let (c, update) = update_clustering(&graph, &exchanges)
        .with_context(|| format!("writing {}", dir.join(ENTITIES_FILE).display()))?;
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
    ctx: &Context,
    graph: &Graph,
    c: &Clustering,
    id: EntityId,
) -> Result<(EntityId, Option<AliasNote>)> {
    if id.0 >= graph.node_count() || graph.kind(NodeId(id.0)) != NodeKind::Address {
        return Err(floodgate_graph::GraphError::NotInGraph { key: id.to_string() }.into());
    }
    let note = c.alias_note(graph, id).map(|mut n| {
        n.block = block_of(ctx, &n);
        n
    });
    Ok((c.entity_of(NodeId(id.0)), note))
}

/// The block height of an alias note's joining transaction, from the transfer store (the
/// graph holds times only): the store's rows of the note's party address with that txid.
fn block_of(ctx: &Context, note: &AliasNote) -> Option<u64> {
    if !ctx.data_dir.join(floodgate_store::STORE_FILE).exists() {
        return None;
    }
    let address = floodgate_types::Address::parse_any(&note.party).ok()?;
    let want = note.tx.rsplit(':').next()?.trim_start_matches("0x").to_ascii_lowercase();
    let store = floodgate_store::Store::open(&ctx.data_dir).ok()?;
    let filter = floodgate_store::TransferFilter { address: Some(address), ..Default::default() };
    let rows = store.transfers(&filter).ok()?;
    rows.iter()
        .find(|r| r.txid.trim_start_matches("0x").eq_ignore_ascii_case(&want))
        .and_then(|r| r.height)
}

/// Says what an alias resolved to: a line before a table, a warning beside JSON (whose
/// shape does not change).
pub(super) fn say_alias(note: &AliasNote, format: Format) -> Result<()> {
    if matches!(format, Format::Json) {
        tracing::warn!(target: "floodgate::trace", "{note}");
        Ok(())
    } else {
        output::write_text(&format!("note: {note}\n"))
    }
}

#[derive(Debug, clap::Args)]
pub(super) struct WhyArgs {
    /// An address, or an entity id `E<n>` (an alias of a merged entity is resolved)
    a: String,
    /// Another address or entity id
    b: String,
    /// Also report change-address evidence between the two (evidence only: never merges)
    #[arg(long)]
    change_heuristics: bool,
    /// GraphSense TagPack file or directory (repeatable; exchange wallets for deposit
    /// clustering when the stored clustering cannot be used)
    #[arg(long, value_name = "PATH")]
    tagpack: Vec<PathBuf>,
    /// Output format (table or json)
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Serialize)]
struct WhyRow {
    entity: String,
    step: usize,
    a: String,
    b: String,
    rule: JoinRule,
    tx: String,
    time: Option<i64>,
}

impl Tabular for WhyRow {
    fn headers() -> Vec<&'static str> {
        vec!["entity", "step", "address", "joined with", "rule", "transaction", "time"]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.entity.clone(),
            self.step.to_string(),
            self.a.clone(),
            self.b.clone(),
            self.rule.to_string(),
            self.tx.clone(),
            self.time.map(|t| Timestamp(t).to_string()).unwrap_or_default(),
        ]
    }
}

#[derive(Serialize)]
struct ChangeRow {
    entity: String,
    tx: String,
    output: usize,
    address: String,
    amount: Amount,
    reasons: String,
}

impl ChangeRow {
    fn from(e: &ChangeEvidence) -> ChangeRow {
        ChangeRow {
            entity: e.entity.to_string(),
            tx: e.tx.clone(),
            output: e.output,
            address: e.address.clone(),
            amount: e.amount,
            reasons: e.reasons.join("; "),
        }
    }
}

impl Tabular for ChangeRow {
    fn headers() -> Vec<&'static str> {
        vec!["spender", "transaction", "output", "likely change", "amount", "why (evidence only)"]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.entity.clone(),
            self.tx.clone(),
            self.output.to_string(),
            self.address.clone(),
            self.amount.to_string(),
            self.reasons.clone(),
        ]
    }
}

/// An address or `E<n>` as a node of the graph, with the alias note when `E<n>` was merged.
fn node_or_entity(
    ctx: &Context,
    graph: &Graph,
    c: &Clustering,
    s: &str,
) -> Result<(NodeId, Option<AliasNote>)> {
    if graph.lookup(s.trim()).is_none() {
        if let Some(id) = EntityId::parse(s) {
            let (_, note) = resolve_entity(ctx, graph, c, id)?;
            return Ok((NodeId(id.0), note));
        }
    }
    Ok((node_of(graph, s)?, None))
}

pub(super) fn run_why(args: WhyArgs, ctx: &Context) -> Result<ExitCode> {
    let graph = open_graph(ctx)?;
    // Every tag source, as `trace build` used for the stored clustering: the same exchange
    // wallets, so the stored clustering is the one explained.
    let tags =
        super::tags::load(ctx, &args.tagpack, None, &super::tags::SourceArgs::default())?.tags;
    let clusters = clustering(&graph, &tags)?;
    let (a, note_a) = node_or_entity(ctx, &graph, &clusters, &args.a)?;
    let (b, note_b) = node_or_entity(ctx, &graph, &clusters, &args.b)?;
    for note in note_a.iter().chain(&note_b) {
        say_alias(note, args.format)?;
    }
    let (ea, eb) = (clusters.entity_of(a), clusters.entity_of(b));
    let Some(steps) = clusters.why(&graph, a, b) else {
        tracing::warn!(target: "floodgate::trace", "{} ({ea}) and {} ({eb}) are not one entity", args.a, args.b);
        let change: Vec<ChangeRow> = if args.change_heuristics {
            let mut ev = change_evidence(&graph, &clusters, ea, &clusters.members(ea));
            ev.retain(|e| graph.lookup(&e.address).is_some_and(|n| clusters.entity_of(n) == eb));
            let mut back = change_evidence(&graph, &clusters, eb, &clusters.members(eb));
            back.retain(|e| graph.lookup(&e.address).is_some_and(|n| clusters.entity_of(n) == ea));
            ev.iter().chain(&back).map(ChangeRow::from).collect()
        } else {
            Vec::new()
        };
        if matches!(args.format, Format::Json) {
            if args.change_heuristics {
                output::write_json(&serde_json::json!({ "one_entity": false, "change": change }))?;
            } else {
                output::write_json(&serde_json::Value::Null)?;
            }
        } else if !change.is_empty() {
            output::write_text(&format!(
                "{ea} and {eb} are not one entity; change evidence (never merges):\n"
            ))?;
            output::write_rows(Format::Table, &change)?;
        }
        return Ok(ExitCode::from(1));
    };
    let rows: Vec<WhyRow> = steps
        .into_iter()
        .enumerate()
        .map(|(i, s)| WhyRow {
            entity: ea.to_string(),
            step: i + 1,
            a: s.a,
            b: s.b,
            rule: s.rule,
            tx: s.tx,
            time: s.time,
        })
        .collect();
    output::write_rows(args.format, &rows)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub(super) struct EntityArgs {
    /// An entity id `E<n>` (an alias of a merged entity is resolved) or an address
    target: String,
    /// Report change-address evidence for the entity's spends (evidence only: never merges)
    #[arg(long)]
    change_heuristics: bool,
    /// GraphSense TagPack file or directory (repeatable); <data dir>/tagpacks is always read
    #[arg(long, value_name = "PATH")]
    tagpack: Vec<PathBuf>,
    /// Directory of OFAC sanctioned_addresses_<TICKER>.txt files (tagged sanctioned)
    #[arg(long, value_name = "DIR")]
    ofac: Option<PathBuf>,
    /// List at most this many member addresses
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Output format (table or json)
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Debug, Serialize)]
struct MemberTag {
    address: String,
    category: RiskCategory,
    label: String,
    source: String,
}

#[derive(Debug, Serialize)]
struct EntityReport {
    entity: EntityId,
    alias: Option<AliasNote>,
    members: usize,
    addresses: Vec<String>,
    first_seen: Option<i64>,
    last_seen: Option<i64>,
    /// Categories derived from the members' own tags, with how many members hold each.
    categories: BTreeMap<String, usize>,
    tags: Vec<MemberTag>,
    merges: Vec<Merge>,
    change_heuristics: bool,
    change: Vec<ChangeEvidence>,
}

pub(super) fn run_entity(args: EntityArgs, ctx: &Context) -> Result<ExitCode> {
    let graph = open_graph(ctx)?;
    let sources = super::tags::SourceArgs::default();
    let tags = super::tags::load(ctx, &args.tagpack, args.ofac.as_deref(), &sources)?.tags;
    let c = clustering(&graph, &tags)?;
    let (entity, alias) = match EntityId::parse(&args.target) {
        Some(id) if graph.lookup(args.target.trim()).is_none() => {
            resolve_entity(ctx, &graph, &c, id)?
        }
        _ => (c.entity_of(node_of(&graph, &args.target)?), None),
    };
    let members = c.members(entity);
    let (mut first, mut last) = (None::<i64>, None::<i64>);
    for &m in &members {
        for t in graph.out_edges(m).chain(graph.in_edges(m)).filter_map(|e| e.time) {
            first = Some(first.map_or(t, |f| f.min(t)));
            last = Some(last.map_or(t, |l| l.max(t)));
        }
    }
    let own: HashMap<NodeId, RiskCategory> = tags.resolve(&graph);
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
    let report = EntityReport {
        entity,
        alias,
        members: members.len(),
        addresses: members.iter().take(args.limit).map(|&m| graph.key(m).to_string()).collect(),
        first_seen: first,
        last_seen: last,
        categories,
        tags: member_tags,
        merges: c.merges_into(&graph, entity),
        change_heuristics: args.change_heuristics,
        change: if args.change_heuristics {
            change_evidence(&graph, &c, entity, &members)
        } else {
            Vec::new()
        },
    };
    if matches!(args.format, Format::Json) {
        output::write_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(note) = &report.alias {
        say_alias(note, args.format)?;
    }
    let time = |t: Option<i64>| t.map(|t| Timestamp(t).to_string()).unwrap_or_default();
    let kv = |k: &str, v: String| KeyValue { key: k.to_owned(), value: v };
    let mut rows = vec![
        kv("entity", report.entity.to_string()),
        kv("members", report.members.to_string()),
        kv("first seen", time(report.first_seen)),
        kv("last seen", time(report.last_seen)),
    ];
    for (cat, n) in &report.categories {
        rows.push(kv("category", format!("{cat} ({n} member(s) tagged)")));
    }
    for t in &report.tags {
        rows.push(kv("tag", format!("{}: {} {:?} ({})", t.address, t.category, t.label, t.source)));
    }
    for a in &report.addresses {
        rows.push(kv("address", a.clone()));
    }
    if report.members > report.addresses.len() {
        rows.push(kv("address", format!("… {} more", report.members - report.addresses.len())));
    }
    for m in &report.merges {
        rows.push(kv(
            "merged",
            format!("{} into {} by {} tx {} at {}", m.alias, m.kept, m.rule, m.tx, time(m.time)),
        ));
    }
    output::write_rows(args.format, &rows)?;
    if args.change_heuristics {
        let change: Vec<ChangeRow> = report.change.iter().map(ChangeRow::from).collect();
        if change.is_empty() {
            output::write_text("no change evidence\n")?;
        } else {
            output::write_text("change evidence (never merges):\n")?;
            output::write_rows(args.format, &change)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
