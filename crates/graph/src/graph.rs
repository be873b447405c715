//! The graph: a manifest and a list of immutable segments over one dense node-id space.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use floodgate_store::export::{ExportLeg, LegKind};
use floodgate_store::TransferStore;
use floodgate_types::{Amount, Chain, Hash32};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::keys;
use crate::segment::{self, Rec, Segment, SegmentData};
use crate::GraphError;

/// Name of the manifest file inside the graph directory.
pub const MANIFEST_FILE: &str = "MANIFEST.json";
/// Name of the graph directory inside the data directory.
pub const GRAPH_DIR: &str = "graph";

/// A dense node id: `0..node_count`, stable across appends (new nodes get new ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NodeId(pub u32);

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// An address (any chain), or any other party that holds value.
    Address,
    /// A UTXO transaction: inputs' addresses point to it, it points to its outputs' addresses.
    Transaction,
}

/// Lists of at least this many bytes are counted before they are read
/// ([`Graph::long_list_records`]).
const LONG_LIST: usize = 512;

/// The node key of a UTXO transaction node: `tx:<chain>:<txid hex>`.
pub fn tx_key(chain: Chain, txid: &Hash32) -> String {
    format!("tx:{}:{}", chain.as_str(), txid.to_hex())
}

/// Which transaction moved an edge's value: its id, where the graph holds it (a UTXO
/// transaction node's key, or an edge added without a store row), or the row of the
/// transfer store that holds it (an account transfer built from the store, graph format 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxRef {
    /// The transaction id itself.
    Id(Hash32),
    /// The `ordinal`-th transaction (from 0, in the store's order: position in the block,
    /// then id) among those with transfers in block `height` of the edge's chain.
    StoreRow {
        /// Block height.
        height: u64,
        /// The transaction's ordinal in the block.
        ordinal: u32,
        /// The block's hash when the graph was built (`None`: not recorded).
        block: Option<Hash32>,
    },
}

/// One edge as read from the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge<'g> {
    /// Sender node.
    pub src: NodeId,
    /// Receiver node.
    pub dst: NodeId,
    /// Value in the asset's base units.
    pub amount: Amount,
    /// Unix seconds, when known.
    pub time: Option<i64>,
    /// Asset id.
    pub asset: &'g str,
    /// The transaction that moved the value ([`Edge::txid`] resolves it).
    pub tx: TxRef,
    /// The transaction's chain.
    pub chain: Chain,
    resolver: &'g TxResolver,
}

/// An edge's two ends, asset and amount alone ([`Graph::in_ends`], [`Graph::out_ends`]): what
/// a reader that needs no time or transaction takes, without reading each UTXO leg's
/// transaction node for them as [`Edge`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeEnds<'g> {
    /// Sender node.
    pub src: NodeId,
    /// Receiver node.
    pub dst: NodeId,
    /// Value in the asset's base units.
    pub amount: Amount,
    /// Asset id.
    pub asset: &'g str,
}

impl Edge<'_> {
    /// The id of the transaction that moved the value: from the graph, or resolved from
    /// the transfer store beside it (`<data dir>/transfers.db`, the graph being
    /// `<data dir>/graph`) for an account transfer built from the store.
    ///
    /// # Errors
    /// [`GraphError::Unresolved`] when the store is absent or no longer holds the row (it
    /// changed since the graph was built: `floodgate trace build` brings the graph up to it).
    pub fn txid(&self) -> Result<Hash32, GraphError> {
        self.resolver.txid(self.chain, &self.tx)
    }

    /// The transaction id as the chain's explorers show it (`0x…` on account chains); empty
    /// when it cannot be resolved ([`Edge::txid`] says why; the failure is logged).
    pub fn txid_string(&self) -> String {
        match self.txid() {
            Ok(id) if self.chain.is_account_model() => id.to_hex_prefixed(),
            Ok(id) => id.to_hex(),
            Err(e) => {
                tracing::error!(target: "floodgate::graph", "{e}");
                String::new()
            }
        }
    }
}

/// Resolves [`TxRef::StoreRow`] references from the transfer store in a data directory,
/// opened on first use; the last blocks' transaction ids are kept.
pub(crate) struct TxResolver {
    data_dir: Option<PathBuf>,
    state: std::sync::Mutex<ResolverState>,
}

#[derive(Default)]
struct ResolverState {
    store: Option<floodgate_store::Store>,
    /// Per (chain, height): the block's transaction ids in store order.
    blocks: HashMap<(Chain, u64), Vec<Hash32>>,
}

/// Blocks whose transaction ids a graph keeps at once (a path or a neighbour listing
/// touches few; the cache is emptied when full).
const RESOLVED_BLOCKS: usize = 1024;

impl std::fmt::Debug for TxResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxResolver").field("data_dir", &self.data_dir).finish()
    }
}

// Every edge of one graph shares its resolver: two edges are equal when their data are.
impl PartialEq for TxResolver {
    fn eq(&self, _: &TxResolver) -> bool {
        true
    }
}
impl Eq for TxResolver {}

impl TxResolver {
    /// The resolver of the graph in `graph_dir`: the store is in its parent directory.
    fn beside(graph_dir: &Path) -> TxResolver {
        TxResolver {
            data_dir: graph_dir.parent().map(Path::to_owned),
            state: std::sync::Mutex::new(ResolverState::default()),
        }
    }

    /// The transaction ids of block `height` of `chain`, in store order (the order
    /// [`TransferStore::for_each_leg`] gives its legs, each transaction once), after
    /// checking the block's hash when `block` is known (on every call: one indexed read).
    fn block_txids(
        &self,
        chain: Chain,
        height: u64,
        block: Option<Hash32>,
    ) -> Result<Vec<Hash32>, GraphError> {
        let unresolved = |detail: String| GraphError::Unresolved {
            chain: chain.as_str().to_owned(),
            height,
            detail,
        };
        let mut st = self.state.lock().map_err(|_| unresolved("resolver poisoned".into()))?;
        if st.store.is_none() {
            let dir = self
                .data_dir
                .as_ref()
                .filter(|d| d.join(floodgate_store::STORE_FILE).exists())
                .ok_or_else(|| unresolved("no transfer store beside the graph".into()))?;
            st.store = Some(floodgate_store::Store::open_read_only(dir)?);
        }
        let store = st.store.as_ref().ok_or_else(|| unresolved("no store".into()))?;
        if let Some(want) = block {
            let now = store.block_hash(chain, height)?;
            if now != Some(want) {
                return Err(unresolved(format!(
                    "the store's block is {}, the graph was built from {}",
                    now.map_or_else(|| "absent".to_owned(), |h| h.to_hex()),
                    want.to_hex()
                )));
            }
        }
        // Kept ids are those of the block whose hash was just checked (the store may have
        // changed since they were read; a block with the same hash has the same ids).
        if let Some(ids) = st.blocks.get(&(chain, height)) {
            return Ok(ids.clone());
        }
        let ids = store.block_txids(chain, height)?;
        if st.blocks.len() >= RESOLVED_BLOCKS {
            st.blocks.clear();
        }
        st.blocks.insert((chain, height), ids.clone());
        Ok(ids)
    }

    fn txid(&self, chain: Chain, tx: &TxRef) -> Result<Hash32, GraphError> {
        match *tx {
            TxRef::Id(id) => Ok(id),
            TxRef::StoreRow { height, ordinal, block } => {
                self.resolve(chain, height, ordinal, block)
            }
        }
    }

    fn resolve(
        &self,
        chain: Chain,
        height: u64,
        ordinal: u32,
        block: Option<Hash32>,
    ) -> Result<Hash32, GraphError> {
        let ids = self.block_txids(chain, height, block)?;
        ids.get(ordinal as usize).copied().ok_or_else(|| GraphError::Unresolved {
            chain: chain.as_str().to_owned(),
            height,
            detail: format!("the store holds {} transactions there, not #{ordinal}", ids.len()),
        })
    }
}

/// What one reader of many neighbouring edge lists found of the graph, kept so that it is
/// found once ([`Graph::legs_cached`]): transaction nodes' times.
#[derive(Debug, Default)]
pub struct LegCache {
    times: FxHashMap<u32, u32>,
}

impl LegCache {
    /// How many transaction nodes' times it holds.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }
}

/// Per segment, the place of each of its assets in [`Graph::assets`] ([`Graph::asset_places`],
/// read by [`Graph::legs_timed_all`]).
#[derive(Debug, Clone, Default)]
pub struct AssetPlaces(Vec<Vec<u32>>);

/// Transaction nodes' times by node id, for one reader of many edge lists across the graph
/// ([`Graph::legs_timed`]): a UTXO leg's time is its transaction node's, decoded from the
/// node's key, which means reading the keys before it in its run of 16; the first time
/// asked of a run decodes the times of the whole run in one walk. Room for every node id,
/// zeroed (pages untouched until a run's times are kept). Use with one graph only.
#[derive(Debug, Default)]
pub struct TxTimes {
    /// Per node id, its time (0: not yet read, or unknown).
    times: Vec<u32>,
}

impl TxTimes {
    /// Room for the nodes of `graph`.
    pub fn new(graph: &Graph) -> TxTimes {
        TxTimes { times: vec![0; graph.node_count() as usize] }
    }
}

/// One edge as the causal taint models read it ([`Graph::legs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leg {
    /// The node at the other end.
    pub nb: NodeId,
    /// Value in the asset's base units.
    pub amount: ruint::aliases::U256,
    /// Unix seconds; 0 = unknown.
    pub time: u32,
    /// The edge's place in storage order among edges of the same time, the same at both of
    /// its ends: segment, then transaction (an account transfer's entry in the txid table,
    /// or for a store row its block's first transaction number plus its ordinal, both of
    /// which grow in the order transfers were added; a UTXO leg's transaction node, whose
    /// id grows likewise), then a UTXO transaction's inputs before its outputs. Transfers of
    /// one account transaction share it.
    pub seq: u64,
}

/// The values needed to add one edge.
#[derive(Debug, Clone)]
pub struct EdgeInput<'a> {
    /// Value in base units.
    pub amount: Amount,
    /// Unix seconds, when known.
    pub time: Option<i64>,
    /// Asset id (no newline).
    pub asset: &'a str,
    /// Transaction id.
    pub txid: Hash32,
    /// Chain.
    pub chain: Chain,
}

impl<'a> EdgeInput<'a> {
    /// The edge a stored leg adds (its amount, time, asset and transaction).
    fn of(leg: &'a ExportLeg) -> EdgeInput<'a> {
        EdgeInput {
            amount: leg.amount,
            time: leg.time,
            asset: &leg.asset,
            txid: leg.txid,
            chain: leg.chain,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ManifestSegment {
    file: String,
    base_node: u32,
    node_count: u32,
    edge_count: u64,
    header_sha256: String,
    /// Per chain, the last block in the graph once this segment is added: where an unwind
    /// may cut. Absent in manifests written before issue 15 (only the last segment's is
    /// then known: the manifest's `tips`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tips: Option<BTreeMap<String, ChainTip>>,
}

/// A chain's last block in the graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainTip {
    /// Height.
    pub height: u64,
    /// Block hash (hex).
    pub hash: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Manifest {
    format: String,
    version: u32,
    segments: Vec<ManifestSegment>,
    tips: BTreeMap<String, ChainTip>,
}

/// An open graph: every segment mapped read-only.
#[derive(Debug)]
pub struct Graph {
    dir: PathBuf,
    resolver: TxResolver,
    segments: Vec<Segment>,
    tips: BTreeMap<String, ChainTip>,
    /// Per segment, the tips once it was added (`None`: not recorded).
    seg_tips: Vec<Option<BTreeMap<String, ChainTip>>>,
}

/// What [`Graph::update_from_store`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BuildReport {
    /// Nodes added.
    pub new_nodes: u64,
    /// Edges added.
    pub new_edges: u64,
    /// Nodes in the graph now.
    pub nodes: u64,
    /// Edges in the graph now.
    pub edges: u64,
    /// Segments now.
    pub segments: usize,
    /// Bytes of all segment files.
    pub bytes: u64,
    /// Per chain, the tip height now in the graph.
    pub tips: BTreeMap<String, u64>,
    /// The unwind done first, when the store no longer held the graph's tip blocks (a
    /// reorganisation or a rollback): the segments above the newest block still in the
    /// store were dropped, then the store's blocks above it were appended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unwound: Option<Unwind>,
}

/// What an unwind of the graph dropped ([`Graph::unwind_to_store`], [`Graph::unwind_to`]).
///
/// Segments are cut whole: each records the chain tips it ends at, and the graph keeps the
/// longest run of segments whose tips are all still valid, so the graph after an unwind is
/// exactly the graph that was built up to those tips (the blocks above them are appended
/// again by the next build).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Unwind {
    /// Segments kept.
    pub kept_segments: usize,
    /// Segments dropped.
    pub dropped_segments: usize,
    /// Nodes kept: ids `0..kept_nodes` are unchanged; larger ids were dropped (and may be
    /// given to other keys by the next build).
    pub kept_nodes: u32,
    /// Nodes dropped.
    pub dropped_nodes: u64,
    /// Edges dropped.
    pub dropped_edges: u64,
    /// Per chain, the tip height the graph holds after the unwind.
    pub tips: BTreeMap<String, u64>,
}

impl Graph {
    /// Opens the graph in `dir` (usually `<data dir>/graph`), mapping and validating every
    /// segment's header and structure. Cost is linear in the graph's size but only touches
    /// offsets and ids; content checksums are checked by [`Graph::verify`].
    ///
    /// # Errors
    /// [`GraphError::NotBuilt`] when `dir` has no manifest; [`GraphError::Corrupt`] naming the
    /// file and offset of damage; I/O errors.
    pub fn open(dir: &Path) -> Result<Graph, GraphError> {
        let mpath = dir.join(MANIFEST_FILE);
        if !mpath.exists() {
            return Err(GraphError::NotBuilt { path: dir.to_owned() });
        }
        let text = std::fs::read_to_string(&mpath)
            .map_err(|source| GraphError::Io { path: mpath.clone(), source })?;
        let m: Manifest = serde_json::from_str(&text).map_err(|e| GraphError::Corrupt {
            path: mpath.clone(),
            offset: 0,
            detail: format!("manifest: {e}"),
        })?;
        // Version 2 is read too (its segments hold no block table); the next manifest
        // written says 3.
        if m.format != "floodgate-graph" || !(2..=segment::VERSION).contains(&m.version) {
            return Err(GraphError::UnsupportedVersion {
                what: "graph",
                path: mpath,
                found: m.version,
                supported: segment::VERSION,
            });
        }
        let mut segments = Vec::with_capacity(m.segments.len());
        let mut seg_tips: Vec<Option<BTreeMap<String, ChainTip>>> =
            m.segments.iter().map(|s| s.tips.clone()).collect();
        // Before issue 15 only the manifest's tips were recorded: they are the last segment's.
        if let Some(last @ None) = seg_tips.last_mut() {
            *last = Some(m.tips.clone());
        }
        let mut expect_base = 0u32;
        for ms in &m.segments {
            // A segment is a plain file name inside the graph directory, never a path.
            if ms.file.is_empty() || ms.file.contains(['/', '\\']) || ms.file.starts_with('.') {
                return Err(GraphError::Corrupt {
                    path: mpath.clone(),
                    offset: 0,
                    detail: format!("segment file name '{}' is not a plain file name", ms.file),
                });
            }
            let seg = Segment::open(&dir.join(&ms.file))?;
            let h = &seg.header;
            let sum: String = h.header_sha256.iter().map(|b| format!("{b:02x}")).collect();
            if h.base_node != expect_base
                || h.node_count != ms.node_count
                || h.edge_count != ms.edge_count
                || sum != ms.header_sha256
            {
                return Err(GraphError::Corrupt {
                    path: seg.path.clone(),
                    offset: 0,
                    detail: format!(
                        "segment does not match the manifest (base {} node count {} edges {}, manifest says base {expect_base} node count {} edges {})",
                        h.base_node, h.node_count, h.edge_count, ms.node_count, ms.edge_count
                    ),
                });
            }
            expect_base = h.node_count;
            segments.push(seg);
        }
        Ok(Graph {
            dir: dir.to_owned(),
            resolver: TxResolver::beside(dir),
            segments,
            tips: m.tips,
            seg_tips,
        })
    }

    /// Opens the graph in `dir`, or an empty graph when none was built yet.
    ///
    /// # Errors
    /// As [`Graph::open`].
    pub fn open_or_empty(dir: &Path) -> Result<Graph, GraphError> {
        match Graph::open(dir) {
            Err(GraphError::NotBuilt { .. }) => Ok(Graph {
                dir: dir.to_owned(),
                resolver: TxResolver::beside(dir),
                segments: Vec::new(),
                tips: BTreeMap::new(),
                seg_tips: Vec::new(),
            }),
            r => r,
        }
    }

    /// Recomputes every section checksum of every segment, decodes every key and list, and
    /// checks the graph against the transfer store beside it ([`Graph::verify_store_rows`]).
    ///
    /// # Errors
    /// [`GraphError::Corrupt`] naming the first damaged file and section;
    /// [`GraphError::Unresolved`] naming a block the store does not hold as the graph says.
    pub fn verify(&self) -> Result<(), GraphError> {
        self.verify_segments()?;
        self.verify_store_rows()
    }

    /// The checks of [`Graph::verify`] on the segment files alone (checksums, structure),
    /// without the transfer store: for a graph built from legs that no store beside it holds.
    ///
    /// # Errors
    /// [`GraphError::Corrupt`] naming the first damaged file and section.
    pub fn verify_segments(&self) -> Result<(), GraphError> {
        self.segments.iter().try_for_each(Segment::verify)?;
        self.verify_list_times()
    }

    /// Checks that the times stored beside big nodes' lists (format 6) are those of the
    /// transaction nodes whose keys hold them, record by record.
    fn verify_list_times(&self) -> Result<(), GraphError> {
        for s in &self.segments {
            for (node, side) in s.timed_lists() {
                if side == segment::SIDE_IN_COLUMN {
                    self.verify_column_times(s, node)?;
                    continue;
                }
                let incoming = side == 1;
                let Some(mut times) = s.list_times(node, incoming) else { continue };
                let records = s.side_records(node, incoming);
                for r in records.filter(|r| segment::time_elsewhere(r.mode, incoming)) {
                    let stored = times.next();
                    let tx = r.node;
                    let keyed = self.tx_node(tx).2;
                    if stored != Some(keyed) {
                        return Err(GraphError::Corrupt {
                            path: s.path.clone(),
                            offset: s.header.sections[segment::S_LIST_TIMES].offset,
                            detail: format!(
                                "list times: node {node}: {stored:?} stored for a transfer of \
                                 node {tx}, whose key says {keyed}"
                            ),
                        });
                    }
                }
            }
        }
        self.damage()
    }

    /// Checks that the times of `node`'s in-record column in `s` (format 7) whose records are
    /// UTXO legs are their transaction nodes' (the column's other values are checked by the
    /// segment's own verify).
    fn verify_column_times(&self, s: &Segment, node: u32) -> Result<(), GraphError> {
        let Some(column) = s.in_column(node) else { return Ok(()) };
        for (r, c) in s.in_records(node).zip(column) {
            let tx = match r.mode {
                segment::MODE_TX_SRC => r.node,
                segment::MODE_TX_DST => node,
                _ => continue,
            };
            let keyed = self.tx_node(tx).2;
            if c.time != keyed {
                return Err(GraphError::Corrupt {
                    path: s.path.clone(),
                    offset: s.header.sections[segment::S_LIST_TIMES].offset,
                    detail: format!(
                        "column of node {node}: time {} stored for a transfer of node {}, \
                         whose transaction node {tx}'s key says {keyed}",
                        c.time, r.node
                    ),
                });
            }
        }
        Ok(())
    }

    /// Checks the graph against the transfer store beside it: every block the account
    /// transfers refer to is in the store with the hash recorded, and holds at least as many
    /// transactions as the records' ordinals need. Nothing is checked (and no store is
    /// needed) when no record refers to the store.
    ///
    /// # Errors
    /// [`GraphError::Unresolved`] naming the first block that does not match.
    pub fn verify_store_rows(&self) -> Result<(), GraphError> {
        for s in &self.segments {
            for i in 0..s.block_count() {
                let Some(b) = s.block(i) else { continue };
                let chain = keys::chain_of(b.chain);
                let hash = (b.hash != [0; 32]).then_some(Hash32(b.hash));
                let ids = self.resolver.block_txids(chain, b.height, hash)?;
                if (ids.len() as u64) < u64::from(b.txs) {
                    return Err(GraphError::Unresolved {
                        chain: chain.as_str().to_owned(),
                        height: b.height,
                        detail: format!(
                            "{}: the graph refers to {} transactions, the store holds {}",
                            s.path.display(),
                            b.txs,
                            ids.len()
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// The graph directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of nodes (ids are `0..node_count`).
    pub fn node_count(&self) -> u32 {
        self.segments.last().map_or(0, |s| s.header.node_count)
    }

    /// Number of edges over all segments.
    pub fn edge_count(&self) -> u64 {
        self.segments.iter().map(|s| s.header.edge_count).sum()
    }

    /// Number of segments.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Each segment's header SHA-256, in manifest order: what a derived file (such as the
    /// persisted clustering) records to prove it was computed from this graph.
    pub fn segment_checksums(&self) -> Vec<[u8; 32]> {
        self.segments.iter().map(|s| s.header.header_sha256).collect()
    }

    /// Every asset id any segment holds an edge of, sorted, each once.
    pub fn assets(&self) -> Vec<String> {
        let mut v: Vec<String> =
            self.segments.iter().flat_map(|s| s.assets.iter().cloned()).collect();
        v.sort();
        v.dedup();
        v
    }

    /// Makes now each segment's table of block starts, which the first read of a long in list
    /// (a hub's received transfers) would otherwise make: one pass over every segment's edge
    /// lists (at 50M transfers about 60 ms and 4 bytes a node). For a reader that will trace
    /// and wants that cost at its start rather than in its first query that reaches a hub.
    pub fn prepare_reads(&self) {
        for s in &self.segments {
            s.starts();
        }
    }

    /// Total bytes of the segment files.
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(Segment::file_len).sum()
    }

    /// Bytes on disk by section (summed over segments), with the header and padding as
    /// `"headers and padding"`: where the graph's size goes.
    pub fn footprint(&self) -> Vec<(&'static str, u64)> {
        let mut by: Vec<(&'static str, u64)> = Vec::new();
        for s in &self.segments {
            for (name, len) in s.section_sizes() {
                match by.iter_mut().find(|(n, _)| *n == name) {
                    Some(e) => e.1 += len,
                    None => by.push((name, len)),
                }
            }
        }
        let sections: u64 = by.iter().map(|e| e.1).sum();
        by.push(("headers and padding", self.bytes() - sections));
        by
    }

    /// Per chain, the last block the graph holds.
    pub fn tips(&self) -> &BTreeMap<String, ChainTip> {
        &self.tips
    }

    /// The node for `key` (a canonical address, or [`tx_key`]).
    pub fn lookup(&self, key: &str) -> Option<NodeId> {
        let mut enc = Vec::with_capacity(40);
        keys::encode(key, &mut enc);
        self.lookup_encoded(&enc)
    }

    fn lookup_encoded(&self, enc: &[u8]) -> Option<NodeId> {
        self.segments.iter().find_map(|s| s.lookup(enc)).map(NodeId)
    }

    /// The node for `key`, or [`GraphError::NotInGraph`].
    ///
    /// # Errors
    /// [`GraphError::NotInGraph`].
    pub fn require(&self, key: &str) -> Result<NodeId, GraphError> {
        self.lookup(key).ok_or_else(|| GraphError::NotInGraph { key: key.to_owned() })
    }

    fn owner(&self, n: NodeId) -> Option<(&Segment, usize)> {
        let i = self.segments.partition_point(|s| s.header.node_count <= n.0);
        let s = self.segments.get(i)?;
        Some((s, (n.0 - s.header.base_node) as usize))
    }

    /// The encoded key of node `n` ([`keys::encode`]'s form; empty outside the graph).
    fn key_bytes(&self, n: NodeId) -> Cow<'_, [u8]> {
        self.owner(n).and_then(|(s, l)| s.key_bytes(l)).unwrap_or(Cow::Borrowed(&[]))
    }

    /// The identity of node `n`'s key ([`keys::identity`]), read in place.
    fn key_identity(&self, n: NodeId) -> &[u8] {
        self.owner(n).and_then(|(s, l)| s.key_identity(l)).unwrap_or(&[])
    }

    /// The key of node `n`: its canonical address text, or [`tx_key`] for a transaction
    /// (empty for an id outside the graph).
    pub fn key(&self, n: NodeId) -> Cow<'_, str> {
        match self.key_bytes(n) {
            Cow::Borrowed(k) => keys::decode(k),
            Cow::Owned(k) => Cow::Owned(keys::decode(&k).into_owned()),
        }
    }

    /// The kind of node `n`.
    pub fn kind(&self, n: NodeId) -> NodeKind {
        if self.owner(n).is_some_and(|(s, l)| s.is_tx_local(l)) {
            NodeKind::Transaction
        } else {
            NodeKind::Address
        }
    }

    /// The id of transaction `tx` of `chain` (an [`Edge::tx`] kept apart from its edge), as
    /// [`Edge::txid`] resolves it.
    ///
    /// # Errors
    /// As [`Edge::txid`].
    pub fn txid(&self, chain: Chain, tx: &TxRef) -> Result<Hash32, GraphError> {
        self.resolver.txid(chain, tx)
    }

    /// The first damage met while reading the graph (a record or key that does not decode),
    /// so that a query over a damaged file fails instead of answering from part of it.
    ///
    /// # Errors
    /// [`GraphError::Corrupt`] naming the file and section.
    pub fn damage(&self) -> Result<(), GraphError> {
        self.segments.iter().try_for_each(Segment::damage)
    }

    /// The txid, chain and time of a transaction node.
    fn tx_node(&self, n: u32) -> ([u8; 32], Chain, u32) {
        match self.owner(NodeId(n)).and_then(|(s, l)| s.tx_parts(l)) {
            Some((chain, id, t)) => {
                let mut txid = [0u8; 32];
                txid.copy_from_slice(id);
                (txid, keys::chain_of(chain), t)
            }
            None => ([0; 32], Chain::Bitcoin, 0),
        }
    }

    fn decode<'g>(&'g self, s: &'g Segment, src: u32, dst: u32, r: &Rec) -> Edge<'g> {
        let EdgeEnds { amount, asset, .. } = self.ends(s, src, dst, r);
        let (tx, chain, time) = match r.mode {
            segment::MODE_TX_SRC | segment::MODE_TX_DST => {
                let (id, chain, time) =
                    self.tx_node(if r.mode == segment::MODE_TX_SRC { src } else { dst });
                (TxRef::Id(Hash32(id)), chain, time)
            }
            segment::MODE_STORE => {
                // The record was checked against the block table when read.
                let b = s.block(r.tx).unwrap_or_else(bytemuck::Zeroable::zeroed);
                let row = TxRef::StoreRow {
                    height: b.height,
                    ordinal: r.ord,
                    block: (b.hash != [0; 32]).then_some(Hash32(b.hash)),
                };
                (row, keys::chain_of(b.chain), b.time)
            }
            _ => (TxRef::Id(Hash32(s.txid(r.tx))), keys::chain_of(s.tx_chain(r.tx)), r.time),
        };
        Edge {
            src: NodeId(src),
            dst: NodeId(dst),
            amount,
            time: (time != 0).then_some(i64::from(time)),
            asset,
            tx,
            chain,
            resolver: &self.resolver,
        }
    }

    fn ends<'g>(&'g self, s: &'g Segment, src: u32, dst: u32, r: &Rec) -> EdgeEnds<'g> {
        let amount =
            if r.wide { Amount::from_be_bytes(s.wide(r.amount)) } else { Amount::from(r.amount) };
        EdgeEnds {
            src: NodeId(src),
            dst: NodeId(dst),
            amount,
            asset: s.assets.get(r.asset as usize).map_or("", String::as_str),
        }
    }

    /// [`Graph::out_edges`] without times or transactions: each edge's ends, asset and amount.
    pub fn out_ends(&self, n: NodeId) -> impl Iterator<Item = EdgeEnds<'_>> + '_ {
        self.segments
            .iter()
            .filter(move |s| n.0 < s.header.node_count)
            .flat_map(move |s| s.out_records(n.0).map(move |r| self.ends(s, n.0, r.node, &r)))
    }

    /// [`Graph::in_edges`] without times or transactions: each edge's ends, asset and amount.
    pub fn in_ends(&self, n: NodeId) -> impl Iterator<Item = EdgeEnds<'_>> + '_ {
        self.segments
            .iter()
            .filter(move |s| n.0 < s.header.node_count)
            .flat_map(move |s| s.in_records(n.0).map(move |r| self.ends(s, r.node, n.0, &r)))
    }

    /// Edges leaving `n`, segment by segment, each in the order they were added.
    pub fn out_edges(&self, n: NodeId) -> impl Iterator<Item = Edge<'_>> + '_ {
        self.segments
            .iter()
            .filter(move |s| n.0 < s.header.node_count)
            .flat_map(move |s| s.out_records(n.0).map(move |r| self.decode(s, n.0, r.node, &r)))
    }

    /// Edges entering `n`, segment by segment, each in the order they were added.
    pub fn in_edges(&self, n: NodeId) -> impl Iterator<Item = Edge<'_>> + '_ {
        self.segments
            .iter()
            .filter(move |s| n.0 < s.header.node_count)
            .flat_map(move |s| s.in_records(n.0).map(move |r| self.decode(s, r.node, n.0, &r)))
    }

    /// Lean traversal for tracing: appends `(neighbour, amount, time)` for each edge of
    /// `asset` entering (`incoming`) or leaving `n`, without decoding transaction ids (the
    /// inner loop of `floodgate-trace`).
    pub fn neighbours(
        &self,
        n: NodeId,
        incoming: bool,
        asset: &str,
        out: &mut Vec<(NodeId, ruint::aliases::U256, u32)>,
    ) {
        self.walk(n, incoming, asset, true, out);
    }

    /// As [`Graph::neighbours`]; with `timed` false every time is reported as 0 (unknown),
    /// which saves reading the transaction node of each UTXO leg.
    pub fn walk(
        &self,
        n: NodeId,
        incoming: bool,
        asset: &str,
        timed: bool,
        out: &mut Vec<(NodeId, ruint::aliases::U256, u32)>,
    ) {
        out.reserve(self.long_list_records(n, incoming));
        self.for_each_neighbour(n, incoming, asset, timed, |nb, amount, time| {
            out.push((nb, amount, time));
        });
    }

    /// As [`Graph::walk`], calling `f(neighbour, amount, time)` for each edge instead of
    /// appending it: a reader that keeps a different shape of edge (or keeps only some)
    /// makes it without a copy of the whole side first. [`Graph::side_len_hint`] sizes its
    /// vector.
    pub fn for_each_neighbour(
        &self,
        n: NodeId,
        incoming: bool,
        asset: &str,
        timed: bool,
        mut f: impl FnMut(NodeId, ruint::aliases::U256, u32),
    ) {
        use ruint::aliases::U256;
        // When `n` is itself a transaction node, its time is every UTXO leg's: read it once.
        let own = std::cell::OnceCell::new();
        for (si, s) in self.segments.iter().enumerate() {
            if n.0 >= s.header.node_count {
                continue;
            }
            // A big received side with its column (format 7): the sources from the in
            // records, the rest from the column, in order; no sender's block is read. (A list
            // of fewer bytes than the fewest records a column has is not searched for one.)
            let column = if incoming && s.in_sources(n.0).list_bytes() >= segment::LIST_TIMES_MIN {
                s.in_column(n.0)
            } else {
                None
            };
            let Some(column) = column else {
                let mut edge = |s: &Segment, _, nb, src, dst, amount, r: &Rec, known| {
                    let time =
                        if timed { self.edge_time(s, n, &own, src, dst, r, known).0 } else { 0 };
                    f(NodeId(nb), amount, time);
                };
                self.segment_edges(si, s, n, incoming, Some(asset), timed, &mut edge);
                continue;
            };
            let Some(ai) = s.assets.iter().position(|a| a == asset) else { continue };
            let ai = ai as u16;
            let (mut sources, mut column) = (s.in_sources(n.0), column);
            loop {
                let (src, c) = match (sources.next(), column.next()) {
                    (Some(src), Some(c)) => (src, c),
                    (None, None) => break,
                    _ => {
                        s.note_damage(
                            segment::S_LIST_TIMES,
                            format!("column of node {}: not one entry per in record", n.0),
                        );
                        break;
                    }
                };
                if c.asset == ai {
                    let amount = if c.wide {
                        U256::from_be_bytes(s.wide(c.amount))
                    } else {
                        U256::from(c.amount)
                    };
                    f(NodeId(src), amount, if timed { c.time } else { 0 });
                }
            }
        }
    }

    /// At least the number of edges of `n` entering (`incoming`) or leaving it on its long
    /// lists (any asset; 0 when it has none): what [`Graph::walk`] reserves before reading a
    /// side.
    pub fn side_len_hint(&self, n: NodeId, incoming: bool) -> usize {
        self.long_list_records(n, incoming)
    }

    /// At least the number of records of `n`'s lists entering (`incoming`) or leaving it
    /// that are [`LONG_LIST`] bytes or longer, any asset (0 when none is): a hub's side is
    /// read into a vector sized once, not grown by doubling (a copy of everything read so
    /// far each time). Short lists are not counted.
    fn long_list_records(&self, n: NodeId, incoming: bool) -> usize {
        let mut records = 0;
        for s in self.segments.iter().filter(|s| n.0 < s.header.node_count) {
            records += if incoming {
                let ins = s.in_records(n.0);
                if ins.list_bytes() >= LONG_LIST {
                    ins.records_at_most()
                } else {
                    0
                }
            } else {
                let outs = s.out_records(n.0);
                if outs.list_bytes() >= LONG_LIST {
                    outs.records_at_most()
                } else {
                    0
                }
            };
        }
        records
    }

    /// The edges of `n` in `asset` entering (`incoming`) or leaving it, each with its place
    /// in storage order, for the causal taint models of `floodgate-trace`: appends one
    /// [`Leg`] per edge, segment by segment, each side in the order added.
    pub fn legs(&self, n: NodeId, incoming: bool, asset: &str, out: &mut Vec<Leg>) {
        let own = std::cell::OnceCell::new();
        self.each_edge(n, incoming, Some(asset), true, |s, si, nb, src, dst, amount, r, known| {
            let (time, tx, output) = self.edge_time(s, n, &own, src, dst, r, known);
            let seq = (si as u64) << 33 | u64::from(tx) << 1 | output;
            out.push(Leg { nb: NodeId(nb), amount, time, seq });
        });
    }

    /// As [`Graph::legs`], with the times of the transaction nodes met kept in `cache` and
    /// read from it: a UTXO leg's time is its transaction node's, decoded from the node's
    /// key, which from format 5 means reading the keys before it in its run of 16
    /// (`docs/formats/graph.md`); a reader of many lists of one neighbourhood (a causal trace
    /// reads a transaction node's list and those of its inputs and outputs) decodes each
    /// time once. (A big address's list has its times stored beside it from format 6: those
    /// are read there, neither decoded nor cached.) `cache` must be used with this graph
    /// only.
    pub fn legs_cached(
        &self,
        n: NodeId,
        incoming: bool,
        asset: &str,
        out: &mut Vec<Leg>,
        cache: &mut LegCache,
    ) {
        let times = &mut cache.times;
        self.legs_with(
            n,
            incoming,
            Some(asset),
            |_, l| out.push(l),
            |tx| *times.entry(tx).or_insert_with(|| self.tx_node(tx).2),
        );
    }

    /// As [`Graph::legs`], with transaction nodes' times taken from `times`, each run of keys
    /// decoded once ([`TxTimes`]).
    pub fn legs_timed(
        &self,
        n: NodeId,
        incoming: bool,
        asset: &str,
        out: &mut Vec<Leg>,
        times: &mut TxTimes,
    ) {
        self.legs_with(n, incoming, Some(asset), |_, l| out.push(l), |tx| self.tx_time(tx, times));
    }

    /// As [`Graph::legs_timed`] for every asset at once, in one walk of the lists: `out` gets
    /// each leg with its asset's place in [`Graph::assets`] (`places`, this graph's
    /// [`Graph::asset_places`]), each asset's legs in the order `legs_timed` gives them.
    pub fn legs_timed_all(
        &self,
        n: NodeId,
        incoming: bool,
        places: &AssetPlaces,
        out: &mut Vec<(u32, Leg)>,
        times: &mut TxTimes,
    ) {
        self.legs_with(
            n,
            incoming,
            None,
            |(si, a), l| {
                // `u32::MAX` only for places of another graph.
                let place = places.0.get(si).and_then(|p| p.get(usize::from(a)));
                out.push((place.copied().unwrap_or(u32::MAX), l));
            },
            |tx| self.tx_time(tx, times),
        );
    }

    /// Per segment, the place of each of its assets in [`Graph::assets`].
    pub fn asset_places(&self) -> AssetPlaces {
        let all = self.assets();
        AssetPlaces(
            self.segments
                .iter()
                .map(|s| {
                    let place = |a: &String| all.binary_search(a).map_or(u32::MAX, |i| i as u32);
                    s.assets.iter().map(place).collect()
                })
                .collect(),
        )
    }

    /// As [`Graph::legs`], a UTXO leg's time not stored beside its list taken from
    /// `tx_time(its transaction node)` ([`Graph::legs_cached`], [`Graph::legs_timed`]).
    /// `asset: None`: every asset's; `push((segment, its asset), leg)`.
    fn legs_with(
        &self,
        n: NodeId,
        incoming: bool,
        asset: Option<&str>,
        mut push: impl FnMut((usize, u16), Leg),
        mut tx_time: impl FnMut(u32) -> u32,
    ) {
        self.each_edge(n, incoming, asset, true, |s, si, nb, src, dst, amount, r, known| {
            let mut time_of = |tx: u32| known.unwrap_or_else(|| tx_time(tx));
            let (time, tx, output) = match r.mode {
                segment::MODE_TX_SRC => (time_of(src), src, 1),
                segment::MODE_TX_DST => (time_of(dst), dst, 0),
                _ => self.edge_time(s, n, &std::cell::OnceCell::new(), src, dst, r, None),
            };
            let seq = (si as u64) << 33 | u64::from(tx) << 1 | output;
            push((si, r.asset), Leg { nb: NodeId(nb), amount, time, seq });
        });
    }

    /// The time of transaction node `tx` ([`Graph::tx_node`]'s), from `times`, its run of keys
    /// decoded into it when not there yet. A time of 0 (unknown, or a key that does not
    /// decode) is read from the key each time, as `tx_node` reads it.
    fn tx_time(&self, tx: u32, times: &mut TxTimes) -> u32 {
        match times.times.get(tx as usize) {
            Some(&t) if t != 0 => return t,
            Some(_) => {}
            None => return self.tx_node(tx).2,
        }
        if let Some((s, local)) = self.owner(NodeId(tx)) {
            let base = (tx as usize) - local;
            let kept = &mut times.times;
            s.run_times(local / segment::KEY_STRIDE, |l, t| {
                if let Some(x) = kept.get_mut(base + l) {
                    *x = t;
                }
            });
        }
        match times.times.get(tx as usize) {
            Some(&t) if t != 0 => t,
            _ => self.tx_node(tx).2,
        }
    }

    /// Calls `f(segment, its index, neighbour, source, destination, amount, record, time)`
    /// for each edge of `asset` entering (`incoming`) or leaving `n`, segment by segment,
    /// each side in the order added. With `timed`, `time` is the record's time when the
    /// segment stores it beside the list (format 6, a big address's UTXO legs), else `None`.
    #[allow(clippy::type_complexity)]
    fn each_edge(
        &self,
        n: NodeId,
        incoming: bool,
        asset: Option<&str>,
        timed: bool,
        mut f: impl FnMut(&Segment, usize, u32, u32, u32, ruint::aliases::U256, &Rec, Option<u32>),
    ) {
        for (si, s) in self.segments.iter().enumerate() {
            if n.0 < s.header.node_count {
                self.segment_edges(si, s, n, incoming, asset, timed, &mut f);
            }
        }
    }

    /// [`Graph::each_edge`] in segment `s` (index `si`).
    #[allow(clippy::type_complexity, clippy::too_many_arguments)]
    fn segment_edges(
        &self,
        si: usize,
        s: &Segment,
        n: NodeId,
        incoming: bool,
        asset: Option<&str>,
        timed: bool,
        f: &mut impl FnMut(&Segment, usize, u32, u32, u32, ruint::aliases::U256, &Rec, Option<u32>),
    ) {
        use ruint::aliases::U256;
        {
            // `None`: every asset (no record's asset is this).
            let ai = match asset {
                Some(asset) => match s.assets.iter().position(|a| a == asset) {
                    Some(ai) => Some(ai as u16),
                    None => return,
                },
                None => None,
            };
            let amount = |r: &Rec| {
                if r.wide {
                    U256::from_be_bytes(s.wide(r.amount))
                } else {
                    U256::from(r.amount)
                }
            };
            let (ins, outs) = if incoming {
                (Some(s.in_records(n.0)), None)
            } else {
                (None, Some(s.out_records(n.0)))
            };
            // The stored times, one per record whose time is another node's, asset or not. A
            // list of fewer bytes than the fewest records stored has none: the index is not
            // searched for the many small lists.
            let bytes = ins.as_ref().map_or(0, |i| i.list_bytes())
                + outs.as_ref().map_or(0, |o| o.list_bytes());
            // A big in side's column (format 7) holds every record's time instead (one search
            // finds either).
            let (mut times, mut column) =
                match (timed && bytes >= segment::LIST_TIMES_MIN, incoming) {
                    (false, _) => (None, None),
                    (true, false) => (s.list_times(n.0, false), None),
                    (true, true) => match s.in_stored(n.0) {
                        Some(segment::InStored::Times(t)) => (Some(t), None),
                        Some(segment::InStored::Column(c)) => (None, Some(c)),
                        None => (None, None),
                    },
                };
            let mut known = |r: &Rec| {
                if let Some(c) = column.as_mut() {
                    return c.next().map(|c| c.time);
                }
                let t = times.as_mut()?;
                if segment::time_elsewhere(r.mode, incoming) {
                    t.next()
                } else {
                    None
                }
            };
            if let Some(ins) = ins {
                for r in ins {
                    let t = known(&r);
                    if ai.is_none_or(|ai| r.asset == ai) {
                        f(s, si, r.node, r.node, n.0, amount(&r), &r, t);
                    }
                }
            } else if let Some(outs) = outs {
                for r in outs {
                    let t = known(&r);
                    if ai.is_none_or(|ai| r.asset == ai) {
                        f(s, si, r.node, n.0, r.node, amount(&r), &r, t);
                    }
                }
            }
        }
    }

    /// An edge's time, the transaction it belongs to and whether it is that transaction's
    /// output (1) or not (0): a UTXO leg takes its transaction node's time (`own` caches
    /// `n`'s, when `n` is the transaction node), an account transfer its own (or its
    /// block's, from the block table of `s`, for a store row; its transaction number is
    /// then the block's first plus its ordinal, in the order the transfers were added).
    /// `known`: the UTXO leg's time as stored beside the list (format 6), when it is.
    #[allow(clippy::too_many_arguments)]
    fn edge_time(
        &self,
        s: &Segment,
        n: NodeId,
        own: &std::cell::OnceCell<u32>,
        src: u32,
        dst: u32,
        r: &Rec,
        known: Option<u32>,
    ) -> (u32, u32, u64) {
        let time_of = |tx: u32| {
            if let Some(t) = known {
                t
            } else if tx == n.0 {
                *own.get_or_init(|| self.tx_node(n.0).2)
            } else {
                self.tx_node(tx).2
            }
        };
        match r.mode {
            segment::MODE_TX_SRC => (time_of(src), src, 1),
            segment::MODE_TX_DST => (time_of(dst), dst, 0),
            segment::MODE_STORE => {
                // Two fields of the block's entry, not a copy of it (as if zeroed when absent).
                let time = s.block_u32(r.tx, segment::BLOCK_TIME).unwrap_or(0);
                let first = s.block_u32(r.tx, segment::BLOCK_FIRST_TX).unwrap_or(0);
                (time, first.saturating_add(r.ord), 0)
            }
            _ => (r.time, r.tx, 0),
        }
    }

    /// Brings the graph in `dir` up to date with `store`: adds one segment holding every leg
    /// in blocks above the graph's tips (nothing is rewritten). Creates the graph when absent.
    /// When the store no longer holds a graph tip (it unwound a reorganisation, or was rolled
    /// back), the graph is first unwound to its newest segment whose tips the store still
    /// holds ([`Graph::unwind_to_store`], reported in [`BuildReport::unwound`]), instead of
    /// being rebuilt.
    ///
    /// Inputs that were unresolved when their block was added (their funding output arrived
    /// later) are not added afterwards; `rebuild` builds everything anew.
    ///
    /// # Errors
    /// Store, I/O and limit errors ([`GraphError::Reorganised`] only if the store changes
    /// while the graph is being built). On error the graph on disk is the graph before, or
    /// that graph unwound.
    pub fn update_from_store(
        dir: &Path,
        store: &impl TransferStore,
    ) -> Result<BuildReport, GraphError> {
        Graph::update_from_store_with(dir, store, &mut |_| {})
    }

    /// As [`Graph::update_from_store`], calling `progress(legs read so far)` every 65,536
    /// legs (for a progress bar on a big store).
    ///
    /// # Errors
    /// As [`Graph::update_from_store`].
    pub fn update_from_store_with(
        dir: &Path,
        store: &impl TransferStore,
        progress: &mut dyn FnMut(u64),
    ) -> Result<BuildReport, GraphError> {
        std::fs::create_dir_all(dir)
            .map_err(|source| GraphError::Io { path: dir.to_owned(), source })?;
        let unwound = Graph::unwind_to_store(dir, store)?;
        let base = Graph::open_or_empty(dir)?;
        let mut tips = base.tips.clone();
        let mut b = GraphBuilder::new(Some(&base));
        // Two threads where the machine has them: this one reads the store and decodes each
        // run of legs' node keys, the other interns them and adds the edges, in order.
        with_worker(&mut b, true, |hand_on| {
            let mut read = 0u64;
            let mut batch: Vec<ExportLeg> = Vec::with_capacity(LEG_BATCH);
            for chain in Chain::ALL {
                let after = match base.tips.get(chain.as_str()) {
                    Some(t) => {
                        let now = store.block_hash(chain, t.height)?;
                        if now.map(|h| h.to_hex()) != Some(t.hash.clone()) {
                            return Err(GraphError::Reorganised {
                                chain: chain.as_str().to_owned(),
                                height: t.height,
                            });
                        }
                        Some(t.height)
                    }
                    None => None,
                };
                let Some((h, hash)) = store.chain_tip(chain)? else { continue };
                if after.is_some_and(|a| h <= a) {
                    continue;
                }
                store.for_each_leg(chain, after, |leg: ExportLeg| {
                    read += 1;
                    if read % 65_536 == 0 {
                        progress(read);
                    }
                    batch.push(leg);
                    if batch.len() == LEG_BATCH {
                        let run = std::mem::replace(&mut batch, Vec::with_capacity(LEG_BATCH));
                        hand_on(Legs::Owned(run))?;
                    }
                    Ok::<(), GraphError>(())
                })?;
                tips.insert(chain.as_str().to_owned(), ChainTip { height: h, hash: hash.to_hex() });
            }
            hand_on(Legs::Owned(batch))
        })?;
        let (new_nodes, new_edges) = (b.new_nodes() as u64, b.edge_count() as u64);
        // An empty store still gets a (empty) graph, so that queries say "not in the graph".
        if tips != base.tips || new_edges > 0 || base.segments.is_empty() {
            // Each block the account transfers refer to records its hash, so that the ids
            // are never resolved from another block at that height (a reorganisation the
            // graph has not followed yet).
            for e in &mut b.blocks {
                if let Some(h) = store.block_hash(keys::chain_of(e.chain), e.height)? {
                    e.hash = h.0;
                }
            }
            b.commit(&base, tips)?;
        }
        let g = Graph::open(dir)?;
        Ok(BuildReport {
            new_nodes,
            new_edges,
            nodes: u64::from(g.node_count()),
            edges: g.edge_count(),
            segments: g.segment_count(),
            bytes: g.bytes(),
            tips: g.tips.iter().map(|(k, v)| (k.clone(), v.height)).collect(),
            unwound,
        })
    }

    /// The graph made of this graph's first `k` segments (all of them when `k` is larger):
    /// what the graph was before the later segments were appended. Derived indexes (the
    /// clustering, an exposure index) use it to unwind themselves after the graph was
    /// unwound: find the segments they share with the graph ([`Graph::shared_prefix`]), undo
    /// what they took from the rest, then extend over the new segments.
    ///
    /// # Errors
    /// As [`Graph::open`], for the segment files.
    pub fn prefix(&self, k: usize) -> Result<Graph, GraphError> {
        let k = k.min(self.segments.len());
        let segments = self.segments[..k]
            .iter()
            .map(|s| Segment::open(&s.path))
            .collect::<Result<Vec<_>, _>>()?;
        let tips =
            if k == 0 { BTreeMap::new() } else { self.seg_tips[k - 1].clone().unwrap_or_default() };
        Ok(Graph {
            dir: self.dir.clone(),
            resolver: TxResolver::beside(&self.dir),
            segments,
            tips,
            seg_tips: self.seg_tips[..k].to_vec(),
        })
    }

    /// How many leading segments of this graph have exactly these header checksums (as a
    /// derived file records them, [`Graph::segment_checksums`]).
    pub fn shared_prefix(&self, checksums: &[[u8; 32]]) -> usize {
        self.segments
            .iter()
            .zip(checksums)
            .take_while(|(s, c)| &s.header.header_sha256 == *c)
            .count()
    }

    /// Unwinds the graph in `dir` to what `store` still holds: when a chain tip of the graph
    /// is no longer a block of the store (the store unwound a reorganisation, or was rolled
    /// back with `floodgate ingest CHAIN --rollback-to H`), drops the newest segments down
    /// to the newest one whose recorded tips are all blocks of the store. Nothing is
    /// rewritten: the manifest is replaced (atomically) and the dropped segment files are
    /// removed. `Ok(None)` when there is no graph or nothing to unwind. The next
    /// [`Graph::update_from_store`] (which calls this first) appends the store's blocks
    /// above the kept tips.
    ///
    /// A graph written before issue 15 records the tips of its last segment only; a
    /// reorganisation below it unwinds the whole graph (a rebuild in place).
    ///
    /// # Errors
    /// Store and I/O errors; as [`Graph::open`].
    pub fn unwind_to_store(
        dir: &Path,
        store: &impl TransferStore,
    ) -> Result<Option<Unwind>, GraphError> {
        let g = match Graph::open(dir) {
            Err(GraphError::NotBuilt { .. }) => return Ok(None),
            r => r?,
        };
        if tips_in_store(&g.tips, store)? {
            return Ok(None);
        }
        let mut k = g.segments.len();
        while k > 0 {
            match &g.seg_tips[k - 1] {
                Some(t) if tips_in_store(t, store)? => break,
                _ => k -= 1,
            }
        }
        g.truncate(k).map(Some)
    }

    /// Unwinds the graph in `dir` so that it holds no block of `chain` above `height`:
    /// drops the newest segments down to the newest one whose tip of `chain` is at most
    /// `height` (segments are cut whole, so the graph may end below `height`; the next
    /// [`Graph::update_from_store`] appends what the store holds above it). `Ok(None)` when
    /// there is no graph or it holds nothing of `chain` above `height`.
    ///
    /// # Errors
    /// I/O errors; as [`Graph::open`].
    pub fn unwind_to(dir: &Path, chain: Chain, height: u64) -> Result<Option<Unwind>, GraphError> {
        let g = match Graph::open(dir) {
            Err(GraphError::NotBuilt { .. }) => return Ok(None),
            r => r?,
        };
        let below = |t: &BTreeMap<String, ChainTip>| {
            t.get(chain.as_str()).is_none_or(|tip| tip.height <= height)
        };
        if below(&g.tips) {
            return Ok(None);
        }
        let mut k = g.segments.len();
        while k > 0 {
            match &g.seg_tips[k - 1] {
                Some(t) if below(t) => break,
                _ => k -= 1,
            }
        }
        g.truncate(k).map(Some)
    }

    /// Keeps the first `k` segments: writes the manifest of the prefix, then removes the
    /// other segment files (a crash between leaves orphans, overwritten by later builds).
    fn truncate(self, k: usize) -> Result<Unwind, GraphError> {
        let kept = self.prefix(k)?;
        let report = Unwind {
            kept_segments: k,
            dropped_segments: self.segments.len() - k,
            kept_nodes: kept.node_count(),
            dropped_nodes: u64::from(self.node_count() - kept.node_count()),
            dropped_edges: self.edge_count() - kept.edge_count(),
            tips: kept.tips.iter().map(|(c, t)| (c.clone(), t.height)).collect(),
        };
        write_manifest(&self.dir, kept.manifest_segments(), kept.tips.clone())?;
        let dropped: Vec<PathBuf> = self.segments[k..].iter().map(|s| s.path.clone()).collect();
        drop(kept);
        drop(self);
        for p in dropped {
            if let Err(e) = std::fs::remove_file(&p) {
                tracing::warn!(target: "floodgate::graph", path = %p.display(), "could not remove an unwound segment: {e}");
            }
        }
        tracing::info!(
            target: "floodgate::graph",
            kept = report.kept_segments,
            dropped = report.dropped_segments,
            dropped_edges = report.dropped_edges,
            "graph unwound"
        );
        Ok(report)
    }

    /// The manifest entries of this graph's segments.
    fn manifest_segments(&self) -> Vec<ManifestSegment> {
        self.segments
            .iter()
            .zip(&self.seg_tips)
            .map(|(s, tips)| ManifestSegment {
                file: s
                    .path
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                base_node: s.header.base_node,
                node_count: s.header.node_count,
                edge_count: s.header.edge_count,
                header_sha256: s.header.header_sha256.iter().map(|b| format!("{b:02x}")).collect(),
                tips: tips.clone(),
            })
            .collect()
    }
}

/// Whether every tip in `tips` is still a block of `store` (same height, same hash).
fn tips_in_store(
    tips: &BTreeMap<String, ChainTip>,
    store: &impl TransferStore,
) -> Result<bool, GraphError> {
    for (name, tip) in tips {
        let Some(chain) = Chain::ALL.iter().copied().find(|c| c.as_str() == name) else {
            return Ok(false);
        };
        if store.block_hash(chain, tip.height)?.map(|h| h.to_hex()).as_ref() != Some(&tip.hash) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Writes the manifest: a temporary file, synced, renamed over `MANIFEST.json`.
fn write_manifest(
    dir: &Path,
    segments: Vec<ManifestSegment>,
    tips: BTreeMap<String, ChainTip>,
) -> Result<(), GraphError> {
    let m =
        Manifest { format: "floodgate-graph".into(), version: segment::VERSION, segments, tips };
    let path = dir.join(MANIFEST_FILE);
    let tmp = dir.join("MANIFEST.json.tmp");
    let text = serde_json::to_string_pretty(&m)
        .map_err(|e| GraphError::Limit { detail: format!("manifest: {e}") })?;
    let io = |source| GraphError::Io { path: path.clone(), source };
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    // The rename itself is durable only once the directory is synced (POSIX).
    if let Ok(d) = std::fs::File::open(dir) {
        d.sync_all().ok();
    }
    Ok(())
}

/// One edge as the builder holds it until the segment is written.
#[derive(Debug, Clone, Copy)]
struct BuildEdge {
    src: u32,
    dst: u32,
    amount: u64,
    /// Txid-table index, or block-table index ([`segment::MODE_STORE`]).
    tx: u32,
    /// Ordinal in the block ([`segment::MODE_STORE`]).
    ord: u32,
    time: u32,
    asset: u16,
    mode: u8,
    wide: bool,
}

/// Collects nodes and edges for one new segment, then writes it: a counting sort by source
/// (and by target for the reverse index) and one pass of varint encoding each.
#[derive(Debug)]
pub struct GraphBuilder<'g> {
    base: Option<&'g Graph>,
    base_nodes: u32,
    /// Encoded keys of the new nodes, concatenated, and where each starts.
    key_bytes: Vec<u8>,
    key_starts: Vec<u64>,
    /// Hash of a key's identity bytes → node, each candidate's key compared (a
    /// [`TagTable`], so that the worker loads a run of new keys' slots before it looks).
    index: TagTable,
    scratch: Vec<u8>,
    /// Bit `i`: new node `i` is a transaction node.
    tx_bits: Vec<u64>,
    edges: Vec<BuildEdge>,
    txids: Vec<[u8; 32]>,
    tx_chains: Vec<u8>,
    assets: HashMap<String, u16>,
    asset_list: Vec<String>,
    last_asset: Option<(String, u16)>,
    wide: Vec<[u8; 32]>,
    /// The block table (store rows of account transfers) and the block being added.
    blocks: Vec<segment::BlockEntry>,
    /// Per chain (bitcoin, ethereum, tron): the block its legs were last added from.
    cur_block: [Option<CurBlock>; 3],
    /// Transactions numbered in the block table so far.
    block_txs: u32,
    /// Threads [`GraphBuilder::add_legs`] and the encoding at commit use (1 or 2).
    threads: usize,
    /// The fewest in records of a node for which its column is written
    /// ([`segment::COLUMN_MIN`]; lower in tests).
    pub(crate) column_min: usize,
    /// The address texts of the legs added so far, numbered ([`TextIds`]), and per number
    /// its node.
    texts: TextIds,
    text_nodes: Vec<u32>,
    /// The transaction node last looked up: a UTXO transaction's legs come together.
    last_tx: Option<(Chain, Hash32, u32)>,
}

/// The block an account leg was last added from, and its transaction.
#[derive(Debug, Clone, Copy)]
struct CurBlock {
    chain: u8,
    height: u64,
    entry: u32,
    ord: u32,
    txid: [u8; 32],
}

/// Global id `next` for a new node, or the node-count limit.
fn new_id(next: usize) -> Result<u32, GraphError> {
    u32::try_from(next)
        .ok()
        .filter(|&i| i < u32::MAX)
        .ok_or_else(|| GraphError::Limit { detail: "more than 2^32-1 nodes".into() })
}

fn hash_bytes(b: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut h = rustc_hash::FxHasher::default();
    h.write(b);
    h.finish()
}

/// The hash of the identity of transaction `txid`'s key ([`keys::encode_tx`]), as
/// [`GraphBuilder::intern`] computes it; `buf` is scratch.
fn tx_hash(chain: Chain, txid: &Hash32, buf: &mut Vec<u8>) -> u64 {
    buf.clear();
    keys::encode_tx(chain, &txid.0, 0, buf);
    hash_bytes(keys::identity(buf))
}

/// Legs handed between the build's threads at a time.
const LEG_BATCH: usize = 16_384;

/// Legs whose look-ups are issued together, before any of their results is used (so that
/// their cache misses overlap): few enough that what they touch stays in the core's cache.
const LOOK_AHEAD: usize = 256;

/// An index from 64-bit hashes to `u32` values (a node, or where a text is kept) that
/// compares nothing itself: a look-up yields the values stored with the same 32-bit tag as
/// the hash, and the caller tells by its own key which, if any, is the one sought. Open
/// addressing with linear probing over 8-byte slots, rather than a `HashMap`, so that a run
/// of look-ups can first load each one's slot (a short loop of loads independent of one
/// another, which the processor keeps in flight together: [`TagTable::home_slot`]) and find
/// it in the cache when it looks.
#[derive(Debug, Default)]
struct TagTable {
    /// A power of two long (or empty), at most three quarters full: per slot 0 (free), or a
    /// hash's tag (its high 32 bits) and 1 + the value. A look-up starts at the slot the
    /// tag's low bits give, so that the table grows without the hashes.
    slots: Vec<u64>,
    len: usize,
}

impl TagTable {
    fn tag(h: u64) -> u64 {
        h >> 32
    }

    /// What is in the slot where the look-up of `h` starts (0 when the table is empty).
    fn home_slot(&self, h: u64) -> u64 {
        let mask = self.slots.len().wrapping_sub(1);
        self.slots.get(TagTable::tag(h) as usize & mask).copied().unwrap_or(0)
    }

    /// The first value stored with `h`'s tag for which `is` holds, trying them in the order
    /// of the probe.
    fn find(&self, h: u64, mut is: impl FnMut(u32) -> bool) -> Option<u32> {
        let mask = self.slots.len().checked_sub(1)?;
        let tag = TagTable::tag(h);
        let mut i = tag as usize & mask;
        loop {
            let s = self.slots[i];
            if s == 0 {
                return None;
            }
            let v = (s as u32).wrapping_sub(1);
            if s >> 32 == tag && is(v) {
                return Some(v);
            }
            i = (i + 1) & mask;
        }
    }

    /// Stores `v` (below `u32::MAX`) with `h`'s tag, doubling the table first when it
    /// would be more than three quarters full.
    fn insert(&mut self, h: u64, v: u32) {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.reserve(1);
        }
        self.place(TagTable::tag(h) << 32 | (u64::from(v) + 1));
        self.len += 1;
    }

    /// Makes room for `n` more values without growing.
    fn reserve(&mut self, n: usize) {
        let mut len = self.slots.len().max(1024);
        while (self.len + n) * 4 > len * 3 {
            len *= 2;
        }
        if len > self.slots.len() {
            let old = std::mem::replace(&mut self.slots, vec![0; len]);
            for s in old.into_iter().filter(|&s| s != 0) {
                self.place(s);
            }
        }
    }

    fn place(&mut self, s: u64) {
        let mask = self.slots.len() - 1;
        let mut i = (s >> 32) as usize & mask;
        while self.slots[i] != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = s;
    }
}

/// The address texts a build has met, numbered in the order first met. A text met again
/// (most legs' addresses) is then neither decoded nor looked up by key again: its number
/// indexes the node ids of [`GraphBuilder::text_nodes`]. Every look-up compares the text
/// kept, so two texts with the same hash keep their own numbers.
#[derive(Debug, Default)]
struct TextIds {
    /// Hash of a text → where it is kept in `bytes` (in units of 8 bytes), so that a text
    /// met again costs one probe and one read; a [`TagTable`], so that [`EncodedKeys::of`]
    /// loads a run of texts' slots, then their candidates' kept texts, before it looks.
    index: TagTable,
    /// The texts in the order numbered, each as its length and its number (`u32` LE each)
    /// and its bytes, padded to 8 bytes.
    bytes: Vec<u8>,
    /// Texts numbered so far.
    count: u32,
}

impl TextIds {
    /// The number of `text`, and whether it was met now for the first time.
    #[cfg(test)]
    fn id(&mut self, text: &str) -> Result<(u32, bool), GraphError> {
        self.id_hashed(text, hash_bytes(text.as_bytes()))
    }

    /// Where the first text kept with `h`'s tag is (in units of 8 bytes of `bytes`): most
    /// often `h`'s text itself, which [`TextIds::kept_id`] tells; `None` when no text has
    /// the tag (a text not met before).
    fn candidate(&self, h: u64) -> Option<u32> {
        self.index.find(h, |_| true)
    }

    /// The first and the last byte `text` kept at `at` would occupy (0 past the end):
    /// loaded ahead of [`TextIds::kept_id`].
    fn kept_ends(&self, at: u32, text: &[u8]) -> u8 {
        let at = at as usize * 8;
        self.bytes.get(at).copied().unwrap_or(0)
            ^ self.bytes.get(at + 7 + text.len()).copied().unwrap_or(0)
    }

    /// The number of the text kept at `at` (in units of 8 bytes of `bytes`), if it is `text`.
    fn kept_id(&self, at: u32, text: &[u8]) -> Option<u32> {
        let at = at as usize * 8;
        let head = self.bytes.get(at..at + 8)?;
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let id = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        (len as usize == text.len() && self.bytes.get(at + 8..at + 8 + text.len()) == Some(text))
            .then_some(id)
    }

    /// [`TextIds::id`] with the text's hash ([`hash_bytes`]) computed beforehand.
    fn id_hashed(&mut self, text: &str, h: u64) -> Result<(u32, bool), GraphError> {
        let limit = |detail: &str| GraphError::Limit { detail: detail.to_owned() };
        let text = text.as_bytes();
        let mut id = None;
        self.index.find(h, |at| {
            id = self.kept_id(at, text);
            id.is_some()
        });
        if let Some(id) = id {
            return Ok((id, false));
        }
        let next = self.count;
        if next == NO_TEXT {
            return Err(limit("more than 2^32-1 addresses"));
        }
        let at = u32::try_from(self.bytes.len() / 8)
            .ok()
            .filter(|&at| at < u32::MAX)
            .ok_or_else(|| limit("more than 32 GiB of address text in one build"))?;
        let len = u32::try_from(text.len()).map_err(|_| limit("an address of 4 GiB"))?;
        self.bytes.extend_from_slice(&len.to_le_bytes());
        self.bytes.extend_from_slice(&next.to_le_bytes());
        self.bytes.extend_from_slice(text);
        self.bytes.resize(self.bytes.len().div_ceil(8) * 8, 0);
        self.count += 1;
        self.index.insert(h, at);
        Ok((next, true))
    }
}

/// The text number of a leg's missing sender or receiver.
const NO_TEXT: u32 = u32::MAX;

/// The node keys of a batch of legs, numbered by text and (those met for the first time)
/// encoded and hashed ahead of interning, on another thread than the one that interns them.
#[derive(Debug, Default)]
struct EncodedKeys {
    /// Per leg, its sender's text number then its receiver's ([`NO_TEXT`] when it has none).
    ids: Vec<u32>,
    /// The keys of the texts met for the first time, in the order met, concatenated.
    bytes: Vec<u8>,
    /// Per new key, where it ends in `bytes`.
    ends: Vec<usize>,
    /// Per new key, the hash of its identity ([`hash_bytes`]).
    hashes: Vec<u64>,
}

impl EncodedKeys {
    /// Numbers the texts of `legs` in `texts` and encodes the new ones; `stored`: the text
    /// is the transfer store's, whose checksums are not verified again
    /// ([`keys::encode_stored`]).
    fn of(
        legs: &[ExportLeg],
        texts: &mut TextIds,
        stored: bool,
    ) -> Result<EncodedKeys, GraphError> {
        let mut k = EncodedKeys { ids: Vec::with_capacity(legs.len() * 2), ..Default::default() };
        let mut texts_of: Vec<Option<&str>> = Vec::with_capacity(LOOK_AHEAD * 2);
        let mut hashes: Vec<u64> = Vec::with_capacity(LOOK_AHEAD * 2);
        let mut found: Vec<Option<u32>> = Vec::with_capacity(LOOK_AHEAD * 2);
        // Passes over each run of legs, so that the cache misses of one text's look-up are
        // not waited for before the next text's: each text's hash; a load of the slot where
        // its look-up starts (a short loop of loads that do not depend on one another, so
        // the processor has many in flight at once); the look-up of the first candidate for
        // it in the table (now in the cache), and a load of where that candidate's text is
        // kept; then, in order, the number of each text whose candidate is itself, or the
        // full look-up for the rest (a text new here, or met twice in this run, or whose
        // hash's high bits another text shares), which numbers and encodes the new texts.
        for run in legs.chunks(LOOK_AHEAD) {
            texts_of.clear();
            for leg in run {
                // Only the texts `add_encoded` reads (those `add_leg` would intern).
                let (from, to) = match (leg.kind, &leg.from, &leg.to) {
                    (LegKind::Input, Some(from), _) => (Some(from.as_str()), None),
                    (LegKind::Output, _, Some(to)) => (None, Some(to.as_str())),
                    (LegKind::Transfer, Some(from), Some(to)) => {
                        (Some(from.as_str()), Some(to.as_str()))
                    }
                    _ => (None, None),
                };
                texts_of.extend([from, to]);
            }
            // The texts (each leg's own allocation) loaded together before they are hashed.
            std::hint::black_box(texts_of.iter().fold(0, |x, t| {
                let t = t.map_or(&[][..], str::as_bytes);
                x ^ t.first().copied().unwrap_or(0) ^ t.last().copied().unwrap_or(0)
            }));
            hashes.clear();
            hashes.extend(texts_of.iter().map(|t| t.map_or(0, |t| hash_bytes(t.as_bytes()))));
            std::hint::black_box(hashes.iter().fold(0, |x, &h| x ^ texts.index.home_slot(h)));
            found.clear();
            found.extend(
                hashes.iter().zip(&texts_of).map(|(&h, t)| t.and_then(|_| texts.candidate(h))),
            );
            std::hint::black_box(found.iter().zip(&texts_of).fold(0, |x, (&at, t)| {
                match (at, t) {
                    (Some(at), Some(t)) => x ^ texts.kept_ends(at, t.as_bytes()),
                    _ => x,
                }
            }));
            for ((&h, &f), &key) in hashes.iter().zip(&found).zip(&texts_of) {
                let Some(key) = key else {
                    k.ids.push(NO_TEXT);
                    continue;
                };
                if let Some(id) = f.and_then(|at| texts.kept_id(at, key.as_bytes())) {
                    k.ids.push(id);
                    continue;
                }
                let (id, new) = texts.id_hashed(key, h)?;
                k.ids.push(id);
                if new {
                    let start = k.bytes.len();
                    if stored {
                        keys::encode_stored(key, &mut k.bytes);
                    } else {
                        keys::encode(key, &mut k.bytes);
                    }
                    k.hashes.push(hash_bytes(keys::identity(&k.bytes[start..])));
                    k.ends.push(k.bytes.len());
                }
            }
        }
        Ok(k)
    }

    /// New key `j` (the `j`-th text met for the first time) and its hash.
    fn new_key(&self, j: usize) -> Option<(&[u8], u64)> {
        let start = if j == 0 { 0 } else { *self.ends.get(j - 1)? };
        Some((self.bytes.get(start..*self.ends.get(j)?)?, *self.hashes.get(j)?))
    }
}

/// A run of legs handed to the build's worker thread: borrowed from the caller
/// ([`GraphBuilder::add_legs`]) or read from the store.
enum Legs<'a> {
    Borrowed(&'a [ExportLeg]),
    Owned(Vec<ExportLeg>),
}

impl Legs<'_> {
    fn as_slice(&self) -> &[ExportLeg] {
        match self {
            Legs::Borrowed(l) => l,
            Legs::Owned(l) => l,
        }
    }
}

/// Runs `feed` on this thread; each run of legs it hands on has its node keys numbered and
/// decoded here ([`EncodedKeys::of`]; `stored`: legs read from the transfer store) and is
/// added to `b`, in order, by one worker thread that lives as long as the build (or here,
/// when `b` has one thread). The worker's error comes first: `feed` then sees its runs
/// refused.
fn with_worker<'a>(
    b: &mut GraphBuilder<'_>,
    stored: bool,
    feed: impl FnOnce(&mut dyn FnMut(Legs<'a>) -> Result<(), GraphError>) -> Result<(), GraphError>,
) -> Result<(), GraphError> {
    let mut texts = std::mem::take(&mut b.texts);
    let done = if b.threads < 2 {
        feed(&mut |legs| {
            let keys = EncodedKeys::of(legs.as_slice(), &mut texts, stored)?;
            b.add_encoded(legs.as_slice(), &keys)
        })
    } else {
        let (send, recv) = std::sync::mpsc::sync_channel::<(Legs<'a>, EncodedKeys)>(2);
        let b = &mut *b;
        let texts = &mut texts;
        std::thread::scope(|s| {
            let worker = s.spawn(move || -> Result<(), GraphError> {
                for (legs, keys) in recv {
                    b.add_encoded(legs.as_slice(), &keys)?;
                }
                Ok(())
            });
            let fed = feed(&mut |legs| {
                let keys = EncodedKeys::of(legs.as_slice(), texts, stored)?;
                send.send((legs, keys)).map_err(|_| GraphError::Limit {
                    detail: "the graph build's worker stopped".into(),
                })
            });
            drop(send);
            match worker.join() {
                Ok(added) => added.and(fed),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    };
    if done.is_ok() {
        b.texts = texts;
    } else {
        // Texts numbered for legs that were not added: the numbers are only a shortcut past
        // interning by key, so forget them all.
        b.text_nodes.clear();
    }
    done
}

/// Threads a build uses by default: the machine's, at most two (the work is split in two).
fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(2))
}

/// Runs `a` and `b`, on two threads when `parallel` (a panic in either is passed on).
pub(crate) fn join<A: Send, B: Send>(
    parallel: bool,
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    if !parallel {
        return (a(), b());
    }
    std::thread::scope(|s| {
        let hb = s.spawn(b);
        let ra = a();
        match hb.join() {
            Ok(rb) => (ra, rb),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Edge indices ordered by `key` (a node id below `n`): a counting sort, stable, so a
/// node's edges keep the order they were added in.
fn order_by(edges: &[BuildEdge], n: usize, key: impl Fn(&BuildEdge) -> u32) -> Vec<u32> {
    let mut start = vec![0u32; n + 1];
    for e in edges {
        start[key(e) as usize + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut order = vec![0u32; edges.len()];
    for (i, e) in edges.iter().enumerate() {
        let c = &mut start[key(e) as usize];
        order[*c as usize] = i as u32;
        *c += 1;
    }
    order
}

/// Edges copied a run ahead, in the order of an ordering of them ([`order_by`]).
const GATHER: usize = 64;

/// The edges of an ordering, read through a small buffer refilled [`GATHER`] at a time: the
/// encoders visit the edges by source or by target, so each edge (and its `at_in_list`
/// entry) is a cache miss into arrays of gigabytes; copied in a tight loop of independent
/// loads, a run's misses overlap instead of each waiting on the record before it.
struct Gathered<'a> {
    edges: &'a [BuildEdge],
    order: &'a [u32],
    at_in_list: &'a [AtomicU32],
    /// `order[start..start + buf.len()]`'s edges, with their `at_in_list` entries.
    start: usize,
    buf: Vec<(BuildEdge, u32)>,
}

impl<'a> Gathered<'a> {
    fn new(edges: &'a [BuildEdge], order: &'a [u32], at_in_list: &'a [AtomicU32]) -> Self {
        Gathered { edges, order, at_in_list, start: 0, buf: Vec::with_capacity(GATHER) }
    }

    /// Edge `order[k]`: its index, the edge, and its `at_in_list` entry as loaded when its
    /// run was copied (`None` past the end).
    #[inline]
    fn get(&mut self, k: usize) -> Option<(u32, &BuildEdge, u32)> {
        if k.wrapping_sub(self.start) >= self.buf.len() {
            let run = self.order.get(k..)?;
            let run = run.get(..GATHER).unwrap_or(run);
            self.start = k;
            self.buf.clear();
            let (edges, at) = (self.edges, self.at_in_list);
            self.buf.extend(run.iter().map(|&i| {
                let a = at.get(i as usize).map_or(0, |a| a.load(Ordering::Relaxed));
                (edges[i as usize], a)
            }));
        }
        let j = k - self.start;
        let i = *self.order.get(k)?;
        self.buf.get(j).map(|(e, a)| (i, e, *a))
    }
}

/// The times section 11 stores for one side of some nodes: per node with at least
/// [`segment::LIST_TIMES_MIN`] records on that side whose time is another node's, those
/// times coded ([`segment::put_list_times`]).
/// Each entry is `(node, side, bytes)`, `side` as the index entry's (0 out records, 1 in
/// records, [`segment::SIDE_IN_COLUMN`] an in-record column).
type SideTimes = Vec<(u32, u32, Vec<u8>)>;

/// A transaction node's time as its key holds it (0 for another node).
type TxTime<'a> = &'a (dyn Fn(u32) -> u32 + Sync);

/// Adds the times of one node's side to `out` when there are enough to be stored: `txs`,
/// the transaction nodes its records take their times from, in record order (the times
/// are read from their keys, which is what a reader would decode).
fn keep_list_times(
    out: &mut SideTimes,
    node: u32,
    side: u32,
    txs: &[u32],
    tx_time: TxTime<'_>,
    base: u32,
) {
    if txs.len() >= segment::LIST_TIMES_MIN {
        let times: Vec<u32> = txs.iter().map(|&tx| tx_time(tx)).collect();
        let mut coded = Vec::with_capacity(times.len() * 2);
        segment::put_list_times(&mut coded, &times, base);
        out.push((node, side, coded));
    }
}

/// A build edge's time as a reader finds it: its transaction node's (a UTXO leg), its own
/// (an explicit time) or its block's (a store row).
type EdgeTime<'a> = &'a (dyn Fn(&BuildEdge) -> u32 + Sync);

/// Section 11 from the stored times of the out sides (`outs`) and the in sides (`ins`),
/// each in node order: the index in `(node, side)` order, then the times. Returns the
/// section and its index's entry count.
fn list_times_section(outs: Vec<SideTimes>, ins: Vec<SideTimes>) -> (Vec<u8>, u32) {
    let mut lists: Vec<(u32, u32, Vec<u8>)> =
        outs.into_iter().flatten().chain(ins.into_iter().flatten()).collect();
    lists.sort_unstable_by_key(|l| (l.0, l.1));
    let mut index = Vec::with_capacity(lists.len());
    let mut start = 0u64;
    for (node, side, t) in &lists {
        index.push(segment::TimedList { node: *node, side: *side, start });
        start += t.len() as u64;
    }
    let mut bytes: Vec<u8> = bytemuck::cast_slice(&index).to_vec();
    bytes.reserve(start as usize);
    for (_, _, t) in &lists {
        bytes.extend_from_slice(t);
    }
    (bytes, index.len() as u32)
}

/// The out records of the nodes in `nodes` (`by_src`: edge indices ordered by source), and
/// in `at_in_list[i]` each of their edges' byte offset inside its source's records (what
/// the reverse index points at); and the times section 11 stores of their out sides (coded
/// from `key_time_base`). Each node's records are a function of its own edges, so two runs
/// of nodes can be encoded at once.
fn encode_out(
    edges: &[BuildEdge],
    by_src: &[u32],
    nodes: std::ops::Range<usize>,
    (time_base, key_time_base): (u32, u32),
    at_in_list: &[AtomicU32],
    tx_time: TxTime<'_>,
) -> Result<(segment::InPart, SideTimes), GraphError> {
    let mut k = by_src.partition_point(|&i| (edges[i as usize].src as usize) < nodes.start);
    let mut out = Vec::with_capacity(by_src.len().saturating_sub(k) * 8);
    // The entries of `at_in_list` are loaded with their edges only so that their cache
    // lines are there when stored to.
    let mut ahead = Gathered::new(edges, by_src, at_in_list);
    let mut offsets: Vec<usize> = Vec::with_capacity(nodes.len() + 1);
    let (mut kept, mut times) = (SideTimes::new(), Vec::new());
    for node in nodes.start as u32..nodes.end as u32 {
        let list_start = out.len();
        offsets.push(list_start);
        times.clear();
        // Each target coded from the previous record's (format 5), the first from `node`.
        let mut from = node;
        while let Some((i, e, _)) = ahead.get(k) {
            if e.src != node {
                break;
            }
            let at = u32::try_from(out.len() - list_start).map_err(|_| GraphError::Limit {
                detail: format!("node {node} has over 4 GiB of out records"),
            })?;
            at_in_list[i as usize].store(at, Ordering::Relaxed);
            let r = Rec {
                node: e.dst,
                mode: e.mode,
                asset: e.asset,
                amount: e.amount,
                wide: e.wide,
                tx: e.tx,
                ord: e.ord,
                time: e.time,
            };
            segment::put_record(&mut out, from, &r, time_base);
            if segment::time_elsewhere(e.mode, false) {
                times.push(e.dst);
            }
            from = e.dst;
            k += 1;
        }
        keep_list_times(&mut kept, node, 0, &times, tx_time, key_time_base);
    }
    offsets.push(out.len());
    Ok((segment::InPart { first: nodes.start, bytes: out, offsets }, kept))
}

/// The in records of the nodes in `nodes` (`by_dst`: edge indices ordered by target), and
/// what section 11 stores of their in sides (coded from `key_time_base`): a column of
/// every record's amount and time for a node of at least [`segment::COLUMN_MIN`] in
/// records, else the times of its UTXO legs when it has enough of them.
fn encode_in(
    edges: &[BuildEdge],
    by_dst: &[u32],
    at_in_list: &[AtomicU32],
    nodes: std::ops::Range<usize>,
    (key_time_base, column_min): (u32, usize),
    (tx_time, edge_time): (TxTime<'_>, EdgeTime<'_>),
) -> (segment::InPart, SideTimes) {
    let mut k = by_dst.partition_point(|&i| (edges[i as usize].dst as usize) < nodes.start);
    let mut bytes = Vec::with_capacity(by_dst.len());
    let mut ahead = Gathered::new(edges, by_dst, at_in_list);
    let mut offsets = Vec::with_capacity(nodes.len() + 1);
    let (mut kept, mut times) = (SideTimes::new(), Vec::new());
    for node in nodes.clone() {
        offsets.push(bytes.len());
        times.clear();
        let first = k;
        let mut prev = node as u32;
        while let Some((_, e, at)) = ahead.get(k) {
            if e.dst as usize != node {
                break;
            }
            segment::put_in_record(&mut bytes, e.src, prev, at);
            if segment::time_elsewhere(e.mode, true) {
                times.push(e.src);
            }
            prev = e.src;
            k += 1;
        }
        if k - first >= column_min.max(segment::LIST_TIMES_MIN) {
            let mut column = Vec::with_capacity((k - first) * 6);
            let mut prev = key_time_base;
            for &i in &by_dst[first..k] {
                let e = &edges[i as usize];
                let r = Rec { asset: e.asset, wide: e.wide, amount: e.amount, ..Rec::default() };
                segment::put_column_record(&mut column, &mut prev, &r, edge_time(e));
            }
            kept.push((node as u32, segment::SIDE_IN_COLUMN, column));
        } else {
            keep_list_times(&mut kept, node as u32, 1, &times, tx_time, key_time_base);
        }
    }
    offsets.push(bytes.len());
    (segment::InPart { first: nodes.start, bytes, offsets }, kept)
}

/// The node where the edges ordered by `order` (by `key`) are split in two halves: the key
/// of the middle edge (`n` when there is no edge).
fn middle(edges: &[BuildEdge], order: &[u32], n: usize, key: impl Fn(&BuildEdge) -> u32) -> usize {
    order.get(order.len() / 2).map_or(n, |&i| key(&edges[i as usize]) as usize)
}

impl<'g> GraphBuilder<'g> {
    /// A builder for a segment appended to `base` (or the first segment).
    pub fn new(base: Option<&'g Graph>) -> GraphBuilder<'g> {
        GraphBuilder {
            base,
            base_nodes: base.map_or(0, Graph::node_count),
            key_bytes: Vec::new(),
            key_starts: vec![0],
            index: TagTable::default(),
            scratch: Vec::with_capacity(64),
            tx_bits: Vec::new(),
            edges: Vec::new(),
            txids: Vec::new(),
            tx_chains: Vec::new(),
            assets: HashMap::new(),
            asset_list: Vec::new(),
            last_asset: None,
            wide: Vec::new(),
            blocks: Vec::new(),
            cur_block: [None; 3],
            block_txs: 0,
            threads: workers(),
            column_min: segment::COLUMN_MIN,
            texts: TextIds::default(),
            text_nodes: Vec::new(),
            last_tx: None,
        }
    }

    /// Uses at most `threads` threads (at least 1; more than 2 gain nothing: the work is
    /// split in two) for [`GraphBuilder::add_legs`] and the encoding at commit. The default
    /// is the machine's parallelism, at most 2. The segment written is the same either way.
    pub fn with_threads(mut self, threads: usize) -> GraphBuilder<'g> {
        self.threads = threads.clamp(1, 2);
        self
    }

    /// Nodes this builder adds.
    pub fn new_nodes(&self) -> usize {
        self.key_starts.len() - 1
    }

    /// Edges this builder adds.
    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// Reserves room for `nodes` more nodes and `edges` more edges.
    pub fn reserve(&mut self, nodes: usize, edges: usize) {
        self.key_starts.reserve(nodes);
        self.key_bytes.reserve(nodes * 24);
        self.index.reserve(nodes);
        self.edges.reserve(edges);
    }

    fn new_key(&self, local: usize) -> &[u8] {
        &self.key_bytes[self.key_starts[local] as usize..self.key_starts[local + 1] as usize]
    }

    fn new_key_mut(&mut self, local: usize) -> &mut [u8] {
        let (a, b) = (self.key_starts[local] as usize, self.key_starts[local + 1] as usize);
        &mut self.key_bytes[a..b]
    }

    /// The encoded key of any node (new or in the base graph).
    fn key_of(&self, n: u32) -> Cow<'_, [u8]> {
        if n >= self.base_nodes {
            Cow::Borrowed(self.new_key((n - self.base_nodes) as usize))
        } else {
            self.base.map_or(Cow::Borrowed(&[]), |g| g.key_bytes(NodeId(n)))
        }
    }

    /// The id of the node whose encoded key is in `self.scratch`, adding it when new.
    fn intern(&mut self) -> Result<NodeId, GraphError> {
        let h = hash_bytes(keys::identity(&self.scratch));
        self.intern_hashed(h)
    }

    /// As [`GraphBuilder::intern`], with the hash of the key's identity already computed.
    fn intern_hashed(&mut self, h: u64) -> Result<NodeId, GraphError> {
        let (base, base_nodes) = (self.base, self.base_nodes);
        let (key_bytes, key_starts, scratch) = (&self.key_bytes, &self.key_starts, &self.scratch);
        // Every node stored with the hash's tag is compared, so that a key whose hash
        // another key has is still found (kept correct rather than assumed away).
        let found = self.index.find(h, |n| {
            let known = if n >= base_nodes {
                let l = (n - base_nodes) as usize;
                &key_bytes[key_starts[l] as usize..key_starts[l + 1] as usize]
            } else {
                base.map_or(&[][..], |g| g.key_identity(NodeId(n)))
            };
            keys::same(known, scratch)
        });
        if let Some(n) = found {
            return Ok(NodeId(n));
        }
        if let Some(n) = base.and_then(|g| g.lookup_encoded(&self.scratch)) {
            self.index.insert(h, n.0);
            return Ok(n);
        }
        let next = self.base_nodes as usize + self.new_nodes();
        let id = new_id(next)?;
        self.push_new(next);
        self.index.insert(h, id);
        Ok(NodeId(id))
    }

    /// Appends the key in `scratch` as new node `next` (its global id, checked by [`new_id`]).
    fn push_new(&mut self, next: usize) {
        let local = next - self.base_nodes as usize;
        if local % 64 == 0 {
            self.tx_bits.push(0);
        }
        if keys::is_tx(&self.scratch) {
            self.tx_bits[local / 64] |= 1 << (local % 64);
        }
        self.key_bytes.extend_from_slice(&self.scratch);
        self.key_starts.push(self.key_bytes.len() as u64);
    }

    /// The id of `key`, adding the node when it is new. `kind` is implied by the key (a
    /// [`tx_key`] is a transaction) and only checked.
    ///
    /// # Errors
    /// [`GraphError::Limit`] past 2³² − 1 nodes, or a key whose form contradicts `kind`.
    pub fn node(&mut self, key: &str, kind: NodeKind) -> Result<NodeId, GraphError> {
        self.scratch.clear();
        keys::encode(key, &mut self.scratch);
        if keys::is_tx(&self.scratch) != (kind == NodeKind::Transaction) {
            return Err(GraphError::Limit {
                detail: format!("node '{key}' is given as {kind:?}; transaction nodes are keyed tx:<chain>:<txid> and nothing else is"),
            });
        }
        self.intern()
    }

    /// [`GraphBuilder::node`] for an address key encoded (and hashed) beforehand by
    /// [`EncodedKeys::of`].
    fn address_encoded(&mut self, enc: &[u8], h: u64) -> Result<NodeId, GraphError> {
        if keys::is_tx(enc) {
            return Err(GraphError::Limit {
                detail: format!("node '{}' is given as Address; transaction nodes are keyed tx:<chain>:<txid> and nothing else is", keys::decode(enc)),
            });
        }
        self.scratch.clear();
        self.scratch.extend_from_slice(enc);
        self.intern_hashed(h)
    }

    /// The id of the UTXO transaction node for `txid` (the node of [`tx_key`]), adding it
    /// when new; faster than [`GraphBuilder::node`] as no text is parsed.
    ///
    /// # Errors
    /// [`GraphError::Limit`] past 2³² − 1 nodes.
    pub fn tx_node(&mut self, chain: Chain, txid: &Hash32) -> Result<NodeId, GraphError> {
        self.tx_node_hashed(chain, txid, None)
    }

    /// [`GraphBuilder::tx_node`] with the hash of its key's identity, when computed
    /// beforehand ([`tx_hash`]).
    fn tx_node_hashed(
        &mut self,
        chain: Chain,
        txid: &Hash32,
        h: Option<u64>,
    ) -> Result<NodeId, GraphError> {
        if let Some((c, t, n)) = self.last_tx {
            if c == chain && t == *txid {
                return Ok(NodeId(n));
            }
        }
        self.scratch.clear();
        keys::encode_tx(chain, &txid.0, 0, &mut self.scratch);
        let n = match h {
            Some(h) => self.intern_hashed(h)?,
            None => self.intern()?,
        };
        self.last_tx = Some((chain, *txid, n.0));
        Ok(n)
    }

    /// The segment's index of `asset`, adding it when new.
    fn asset_index(&mut self, asset: &str) -> Result<u16, GraphError> {
        let limit = |detail: String| GraphError::Limit { detail };
        let a = match self.assets.get(asset) {
            Some(&a) => a,
            None => {
                if asset.contains('\n') || asset.is_empty() {
                    return Err(limit(format!("asset id {asset:?} is empty or has a newline")));
                }
                let a = u16::try_from(self.asset_list.len())
                    .map_err(|_| limit("more than 65,536 assets in one segment".into()))?;
                self.assets.insert(asset.to_owned(), a);
                self.asset_list.push(asset.to_owned());
                a
            }
        };
        self.last_asset = Some((asset.to_owned(), a));
        Ok(a)
    }

    /// How a transfer in transaction `(txid, chain)` at `time` between `src` and `dst` is
    /// recorded: through a transaction node at one end, when one is its transaction.
    fn mode_for(&mut self, src: u32, dst: u32, txid: &[u8; 32], chain: u8, time: u32) -> u8 {
        for (node, mode) in [(src, segment::MODE_TX_SRC), (dst, segment::MODE_TX_DST)] {
            // Most ends are addresses: a bit says so without reading the key.
            let is_tx = if node >= self.base_nodes {
                let local = (node - self.base_nodes) as usize;
                self.tx_bits.get(local / 64).is_some_and(|w| w >> (local % 64) & 1 == 1)
            } else {
                self.base.is_some_and(|g| g.kind(NodeId(node)) == NodeKind::Transaction)
            };
            if !is_tx {
                continue;
            }
            let k = self.key_of(node);
            let Some((c, id, t)) = keys::tx_parts(&k) else { continue };
            if id != txid || c != chain {
                continue;
            }
            if t == time {
                return mode;
            }
            // A new transaction node takes the time of its first transfer.
            if t == 0 && node >= self.base_nodes {
                let local = (node - self.base_nodes) as usize;
                let key = self.new_key_mut(local);
                if let Some(at) = keys::tx_time_at(key) {
                    key[at..at + 4].copy_from_slice(&time.to_le_bytes());
                }
                return mode;
            }
        }
        segment::MODE_EXPLICIT
    }

    /// Adds an edge `src → dst`.
    ///
    /// # Errors
    /// [`GraphError::Limit`] for a time outside `0..2³²` seconds, an asset id with a newline,
    /// more than 65,535 assets or 2³² − 1 transactions or edges in one segment, or a node id
    /// that this builder did not give.
    pub fn add_edge(
        &mut self,
        src: NodeId,
        dst: NodeId,
        e: &EdgeInput<'_>,
    ) -> Result<(), GraphError> {
        self.add_edge_internal(src, dst, e, None)
    }

    /// Adds an edge `src → dst` that is a transfer of block `height` of the transfer store,
    /// as a build from the store adds it: an account transfer is recorded by its store row
    /// (the block and its transaction's ordinal there), not by its id, which is resolved
    /// from the store when shown ([`Edge::txid`]). Edges must come in the store's order
    /// ([`TransferStore::for_each_leg`]: by height, then position in the block, a
    /// transaction's transfers together), or the ordinals name other transactions.
    ///
    /// # Errors
    /// As [`GraphBuilder::add_edge`].
    pub fn add_store_edge(
        &mut self,
        src: NodeId,
        dst: NodeId,
        e: &EdgeInput<'_>,
        height: u64,
    ) -> Result<(), GraphError> {
        self.add_edge_internal(src, dst, e, Some(height))
    }

    /// [`GraphBuilder::add_edge`]; with `height`, an account transfer is recorded as a row
    /// of the transfer store (its block and its transaction's ordinal there) instead of by
    /// its id: the legs come in the store's order ([`TransferStore::for_each_leg`]).
    fn add_edge_internal(
        &mut self,
        src: NodeId,
        dst: NodeId,
        e: &EdgeInput<'_>,
        height: Option<u64>,
    ) -> Result<(), GraphError> {
        let limit = |detail: String| GraphError::Limit { detail };
        let total = self.base_nodes as usize + self.new_nodes();
        if src.0 as usize >= total || dst.0 as usize >= total {
            return Err(limit(format!("node id {} or {} is not in the graph", src.0, dst.0)));
        }
        let time = match e.time {
            None => 0,
            Some(t) => u32::try_from(t)
                .map_err(|_| limit(format!("time {t} is outside 1970..2106 (u32 seconds)")))?,
        };
        let asset = match self.last_asset.as_ref().filter(|(name, _)| name == e.asset) {
            Some(&(_, a)) => a,
            None => self.asset_index(e.asset)?,
        };
        let chain = keys::chain_byte(e.chain);
        let mut mode = self.mode_for(src.0, dst.0, &e.txid.0, chain, time);
        let mut ord = 0;
        // Only account transfers are named by store row: a UTXO leg that is not recorded
        // through its transaction node (its time differs from the node's) keeps its id.
        let row = height.filter(|_| e.chain.is_account_model());
        let tx = if let (segment::MODE_EXPLICIT, Some(h)) = (mode, row) {
            mode = segment::MODE_STORE;
            let (blk, o) = self.block_ref(chain, h, time, &e.txid.0)?;
            ord = o;
            blk
        } else if mode == segment::MODE_EXPLICIT {
            // Transfers of one transaction arrive together: its id is stored once per run.
            match self.txids.last() {
                Some(last) if *last == e.txid.0 && self.tx_chains.last() == Some(&chain) => {
                    (self.txids.len() - 1) as u32
                }
                _ => {
                    let t = u32::try_from(self.txids.len())
                        .map_err(|_| limit("more than 2^32 transactions in one segment".into()))?;
                    self.txids.push(e.txid.0);
                    self.tx_chains.push(chain);
                    t
                }
            }
        } else {
            0
        };
        let (amount, wide) = match e.amount.to_u128().and_then(|v| u64::try_from(v).ok()) {
            Some(v) => (v, false),
            None => {
                self.wide.push(e.amount.to_be_bytes());
                ((self.wide.len() - 1) as u64, true)
            }
        };
        if self.edges.len() >= u32::MAX as usize {
            return Err(limit("more than 2^32-1 edges in one segment".into()));
        }
        self.edges.push(BuildEdge {
            src: src.0,
            dst: dst.0,
            amount,
            tx,
            ord,
            time,
            asset,
            mode,
            wide,
        });
        Ok(())
    }

    /// The block-table entry and ordinal of a transfer of transaction `txid` in block
    /// `height` of `chain` at `time`: a new block starts at ordinal 0, each new transaction
    /// of the block takes the next (legs come in the store's order, a transaction's
    /// together). A block whose legs disagree on its time gets one entry per time.
    fn block_ref(
        &mut self,
        chain: u8,
        height: u64,
        time: u32,
        txid: &[u8; 32],
    ) -> Result<(u32, u32), GraphError> {
        let limit = |detail: &str| GraphError::Limit { detail: detail.to_owned() };
        let entries = u32::try_from(self.blocks.len())
            .map_err(|_| limit("more than 2^32 blocks in one segment"))?;
        let slot = &mut self.cur_block[usize::from(chain.min(2))];
        match slot {
            Some(c) if c.chain == chain && c.height == height => {
                if c.txid != *txid {
                    c.txid = *txid;
                    c.ord += 1;
                    self.block_txs = self
                        .block_txs
                        .checked_add(1)
                        .ok_or_else(|| limit("more than 2^32 transactions in one segment"))?;
                }
                let e = &mut self.blocks[c.entry as usize];
                if e.time != time {
                    let first_tx = e.first_tx;
                    c.entry = entries;
                    self.blocks.push(segment::BlockEntry::new(chain, height, time, first_tx, 0));
                }
                let e = &mut self.blocks[c.entry as usize];
                e.txs = e.txs.max(c.ord + 1);
                Ok((c.entry, c.ord))
            }
            _ => {
                let first_tx = self.block_txs;
                self.block_txs = self
                    .block_txs
                    .checked_add(1)
                    .ok_or_else(|| limit("more than 2^32 transactions in one segment"))?;
                *slot = Some(CurBlock { chain, height, entry: entries, ord: 0, txid: *txid });
                self.blocks.push(segment::BlockEntry::new(chain, height, time, first_tx, 1));
                Ok((entries, 0))
            }
        }
    }

    /// Adds one stored leg: a Bitcoin input becomes `address → tx node`, an output
    /// `tx node → address`, an account transfer `from → to`.
    ///
    /// # Errors
    /// As [`GraphBuilder::add_edge`].
    pub fn add_leg(&mut self, leg: &ExportLeg) -> Result<(), GraphError> {
        let input = EdgeInput::of(leg);
        let (src, dst) = match (leg.kind, &leg.from, &leg.to) {
            (LegKind::Input, Some(from), _) => {
                let a = self.node(from, NodeKind::Address)?;
                (a, self.tx_node(leg.chain, &leg.txid)?)
            }
            (LegKind::Output, _, Some(to)) => {
                let t = self.tx_node(leg.chain, &leg.txid)?;
                (t, self.node(to, NodeKind::Address)?)
            }
            (LegKind::Transfer, Some(from), Some(to)) => {
                (self.node(from, NodeKind::Address)?, self.node(to, NodeKind::Address)?)
            }
            _ => return Ok(()),
        };
        self.add_edge_internal(src, dst, &input, Some(leg.height))
    }

    /// Adds a batch of legs, as [`GraphBuilder::add_leg`] one by one would (the same node
    /// ids, the same segment bytes), on two threads where the machine has them: this one
    /// numbers the legs' address texts and decodes those met for the first time (base58check,
    /// bech32, EIP-55, checksums verified) while a second interns the previous run's and adds
    /// its edges.
    ///
    /// # Errors
    /// As [`GraphBuilder::add_edge`]; the legs before the failing one are added.
    pub fn add_legs(&mut self, legs: &[ExportLeg]) -> Result<(), GraphError> {
        with_worker(self, false, |hand_on| {
            legs.chunks(LEG_BATCH).try_for_each(|run| hand_on(Legs::Borrowed(run)))
        })
    }

    /// As [`GraphBuilder::add_legs`], for legs read from the transfer store: ingest verified
    /// every address's checksum and stored its canonical text, so the checksums are not
    /// computed again (for such text the segment is byte for byte the same; a wrong checksum
    /// is not noticed here). Legs from anywhere else go through [`GraphBuilder::add_legs`].
    ///
    /// # Errors
    /// As [`GraphBuilder::add_legs`].
    pub fn add_stored_legs(&mut self, legs: &[ExportLeg]) -> Result<(), GraphError> {
        with_worker(self, true, |hand_on| {
            legs.chunks(LEG_BATCH).try_for_each(|run| hand_on(Legs::Borrowed(run)))
        })
    }

    /// The node of text number `id` of `keys` ([`EncodedKeys::of`]): known, or the next of
    /// the new keys (`next_new`), interned now.
    fn text_node(
        &mut self,
        id: u32,
        keys: &EncodedKeys,
        next_new: &mut usize,
    ) -> Result<NodeId, GraphError> {
        if let Some(&n) = self.text_nodes.get(id as usize) {
            return Ok(NodeId(n));
        }
        let out_of_step = || GraphError::Limit {
            detail: format!("address text {id} out of step with the build's numbering"),
        };
        if id as usize != self.text_nodes.len() {
            return Err(out_of_step());
        }
        let (enc, h) = keys.new_key(*next_new).ok_or_else(out_of_step)?;
        *next_new += 1;
        let n = self.address_encoded(enc, h)?;
        self.text_nodes.push(n.0);
        Ok(n)
    }

    /// Adds `legs` whose node keys `keys` holds ([`EncodedKeys::of`] of the same legs).
    fn add_encoded(&mut self, legs: &[ExportLeg], keys: &EncodedKeys) -> Result<(), GraphError> {
        let mut next_new = 0;
        let (mut tx_hashes, mut buf) = (Vec::with_capacity(LOOK_AHEAD), Vec::new());
        for (i, leg) in legs.iter().enumerate() {
            if i % LOOK_AHEAD == 0 {
                // Loaded together before the next run of legs uses them (short loops of
                // loads that do not depend on one another): the nodes of its texts known
                // already, the index slots of its new texts' keys and those of its UTXO
                // transactions' keys (whose hashes are kept for their look-ups).
                let ids = keys.ids.get(2 * i..).unwrap_or_default();
                let ids = ids.get(..2 * LOOK_AHEAD).unwrap_or(ids);
                let known = self.text_nodes.len();
                let (x, last) =
                    ids.iter().filter(|&&id| id != NO_TEXT).fold((0, known), |(x, last), &id| {
                        let node = self.text_nodes.get(id as usize).copied().unwrap_or(0);
                        (x ^ node, last.max(id as usize + 1))
                    });
                let new = keys.hashes.get(next_new..next_new + (last - known)).unwrap_or_default();
                let x = new.iter().fold(u64::from(x), |x, &h| x ^ self.index.home_slot(h));
                tx_hashes.clear();
                let mut prev = self.last_tx.map(|(c, t, _)| (c, t));
                let run = legs.get(i..).unwrap_or_default();
                let run = run.get(..LOOK_AHEAD).unwrap_or(run);
                // And the legs' asset names (each leg's own allocation), which
                // `add_edge_internal` compares with the asset before.
                let x = run.iter().fold(x, |x, leg| {
                    x ^ u64::from(leg.asset.as_bytes().first().copied().unwrap_or(0))
                });
                for leg in run {
                    let utxo = matches!(leg.kind, LegKind::Input | LegKind::Output);
                    let h = (utxo && prev != Some((leg.chain, leg.txid))).then(|| {
                        prev = Some((leg.chain, leg.txid));
                        tx_hash(leg.chain, &leg.txid, &mut buf)
                    });
                    tx_hashes.push(h);
                }
                std::hint::black_box(
                    tx_hashes.iter().flatten().fold(x, |x, &h| x ^ self.index.home_slot(h)),
                );
            }
            let tx_h = tx_hashes.get(i % LOOK_AHEAD).copied().flatten();
            let input = EdgeInput::of(leg);
            let (from, to) = (keys.ids[2 * i], keys.ids[2 * i + 1]);
            // Interned in the order `add_leg` interns them, so that ids are the same.
            let (src, dst) = match (leg.kind, from, to) {
                (LegKind::Input, from, _) if from != NO_TEXT => {
                    let a = self.text_node(from, keys, &mut next_new)?;
                    (a, self.tx_node_hashed(leg.chain, &leg.txid, tx_h)?)
                }
                (LegKind::Output, _, to) if to != NO_TEXT => {
                    let t = self.tx_node_hashed(leg.chain, &leg.txid, tx_h)?;
                    (t, self.text_node(to, keys, &mut next_new)?)
                }
                (LegKind::Transfer, from, to) if from != NO_TEXT && to != NO_TEXT => {
                    let a = self.text_node(from, keys, &mut next_new)?;
                    (a, self.text_node(to, keys, &mut next_new)?)
                }
                _ => continue,
            };
            self.add_edge_internal(src, dst, &input, Some(leg.height))?;
        }
        Ok(())
    }

    /// The segment's content, encoded on two threads where the machine has them, in three
    /// steps that each split the work in two: the edges ordered by source here while
    /// another thread orders them by target and sorts the keys; the out records of two
    /// halves of the node range at once; then their in records. The bytes are those of a
    /// one-thread encoding (each part is a function of its input alone).
    fn finish(mut self) -> Result<SegmentData, GraphError> {
        // What found nodes while legs were added (the numbered texts, the two hash tables)
        // is not needed to encode them: freed before the encoders allocate, so that it is
        // not part of the commit's peak memory.
        drop((
            std::mem::take(&mut self.texts),
            std::mem::take(&mut self.text_nodes),
            std::mem::take(&mut self.index),
        ));
        let limit = |detail: String| GraphError::Limit { detail };
        let n = self.base_nodes as usize + self.new_nodes();
        let edges = &self.edges;
        let parallel = self.threads > 1;
        // Section 1 holds the keys in their stored form (a transaction key's time as a code
        // from the one before): where every 16th starts.
        let key_index = || -> Result<(u32, Vec<u32>), GraphError> {
            let key_time_base = (0..self.new_nodes())
                .filter_map(|l| keys::tx_parts(self.new_key(l)).map(|(_, _, t)| t))
                .filter(|&t| t != 0)
                .min()
                .unwrap_or(0);
            let mut key_index =
                Vec::with_capacity(self.new_nodes().div_ceil(segment::KEY_STRIDE) + 1);
            let (mut at, mut i) = (0u64, 0usize);
            segment::for_each_stored_key(&self.key_bytes, key_time_base, |k| {
                if i % segment::KEY_STRIDE == 0 {
                    key_index.push(at);
                }
                at += k.len() as u64;
                i += 1;
            });
            key_index.push(at);
            let key_index = key_index.into_iter().map(u32::try_from).collect::<Result<_, _>>();
            let key_index = key_index.map_err(|_| {
                limit("a segment's keys exceed 4 GiB; build in smaller steps".into())
            })?;
            Ok((key_time_base, key_index))
        };
        let ((by_src, time_base, keys), (by_dst, sorted)) = join(
            parallel,
            || {
                let time_base = edges
                    .iter()
                    .filter(|e| e.mode == segment::MODE_EXPLICIT && e.time != 0)
                    .map(|e| e.time)
                    .min()
                    .unwrap_or(0);
                (order_by(edges, n, |e| e.src), time_base, key_index())
            },
            || (order_by(edges, n, |e| e.dst), self.sorted_keys()),
        );
        let (key_time_base, key_index) = keys?;
        // Out records: two runs of nodes with about half the edges each. Each edge's offset
        // in its source's records is stored by whichever run encodes it (each edge once).
        let at_in_list: Vec<AtomicU32> = (0..edges.len()).map(|_| AtomicU32::new(0)).collect();
        let mid = middle(edges, &by_src, n, |e| e.src);
        let bases = (time_base, key_time_base);
        let tx_time = |tx: u32| keys::tx_parts(&self.key_of(tx)).map_or(0, |(_, _, t)| t);
        let (a, b) = join(
            parallel,
            || encode_out(edges, &by_src, 0..mid, bases, &at_in_list, &tx_time),
            || encode_out(edges, &by_src, mid..n, bases, &at_in_list, &tx_time),
        );
        drop(by_src);
        let ((a, a_times), (b, b_times)) = (a?, b?);
        let outs = vec![a, b];
        // In records: likewise.
        let mid = middle(edges, &by_dst, n, |e| e.dst);
        let blocks = &self.blocks;
        let edge_time = |e: &BuildEdge| match e.mode {
            segment::MODE_TX_SRC => tx_time(e.src),
            segment::MODE_TX_DST => tx_time(e.dst),
            segment::MODE_STORE => blocks.get(e.tx as usize).map_or(0, |b| b.time),
            _ => e.time,
        };
        let times = (&tx_time as TxTime<'_>, &edge_time as EdgeTime<'_>);
        let bases = (key_time_base, self.column_min);
        let (a, b) = join(
            parallel,
            || encode_in(edges, &by_dst, &at_in_list, 0..mid, bases, times),
            || encode_in(edges, &by_dst, &at_in_list, mid..n, bases, times),
        );
        drop((by_dst, at_in_list));
        let ((a, c_times), (b, d_times)) = (a, b);
        let (list_times, timed_lists) =
            list_times_section(vec![a_times, b_times], vec![c_times, d_times]);
        let lists = segment::EdgeLists { outs, ins: vec![a, b] };
        // Node index: where every 16th node's block starts. A block is its length, then (for
        // a node with edges) the length of its out records, its out and its in records
        // (section 5 is streamed from `lists` by `segment::write`).
        let too_big =
            || limit("a segment's edge lists exceed 4 GiB; build in smaller steps".into());
        let mut node_offsets = Vec::with_capacity(n.div_ceil(segment::NODE_STRIDE) + 1);
        let (mut at, mut i) = (0u32, 0usize);
        lists.try_for_each_node(n, |o, ins| {
            if i % segment::NODE_STRIDE == 0 {
                node_offsets.push(at);
            }
            i += 1;
            let len =
                u32::try_from(segment::EdgeLists::block_len(o, ins)).map_err(|_| too_big())?;
            at = at.checked_add(len).ok_or_else(too_big)?;
            Ok::<(), GraphError>(())
        })?;
        node_offsets.push(at);
        let tx_bits = self.tx_bits;
        Ok(SegmentData {
            base_node: self.base_nodes,
            node_count: n as u32,
            key_index,
            key_bytes: self.key_bytes,
            key_time_base,
            sorted,
            node_offsets,
            lists,
            edge_count: self.edges.len() as u64,
            txids: self.txids,
            tx_chains: self.tx_chains,
            assets: self.asset_list,
            wide: self.wide,
            blocks: self.blocks,
            time_base,
            tx_bits,
            list_times,
            timed_lists,
        })
    }

    /// The new nodes' local indices ordered by key identity: by an 8-byte prefix first
    /// (cheap), then in full where prefixes tie.
    fn sorted_keys(&self) -> Vec<u32> {
        let key = |i: u32| keys::identity(self.new_key(i as usize));
        let prefix = |i: u32| {
            let k = key(i);
            let mut p = [0u8; 8];
            let m = k.len().min(8);
            p[..m].copy_from_slice(&k[..m]);
            u64::from_be_bytes(p)
        };
        let mut pairs: Vec<(u64, u32)> =
            (0..self.new_nodes() as u32).map(|i| (prefix(i), i)).collect();
        pairs.sort_unstable();
        let mut i = 0;
        while i < pairs.len() {
            let mut j = i + 1;
            while j < pairs.len() && pairs[j].0 == pairs[i].0 {
                j += 1;
            }
            if j - i > 1 {
                pairs[i..j].sort_unstable_by(|a, b| key(a.1).cmp(key(b.1)));
            }
            i = j;
        }
        pairs.into_iter().map(|p| p.1).collect()
    }

    /// Writes the segment into `base`'s directory and records it, with `tips`, in the
    /// manifest (written last, atomically: a crash before it leaves the graph as it was).
    ///
    /// # Errors
    /// I/O errors; [`GraphError::Limit`] for a segment past the format's 4 GiB sections.
    pub fn commit(self, base: &Graph, tips: BTreeMap<String, ChainTip>) -> Result<(), GraphError> {
        let dir = base.dir.clone();
        std::fs::create_dir_all(&dir)
            .map_err(|source| GraphError::Io { path: dir.clone(), source })?;
        let file = format!("seg-{:06}.fgs", base.segments.len() + 1);
        let t = std::time::Instant::now();
        let threads = self.threads;
        let data = self.finish()?;
        let t_finish = t.elapsed();
        let sum = segment::write_on(&dir.join(&file), &data, threads)?;
        tracing::debug!(encode = ?t_finish, write = ?(t.elapsed() - t_finish), %file, "graph segment written");
        let mut segments = base.manifest_segments();
        segments.push(ManifestSegment {
            file,
            base_node: data.base_node,
            node_count: data.node_count,
            edge_count: data.edge_count,
            header_sha256: sum.iter().map(|b| format!("{b:02x}")).collect(),
            tips: Some(tips.clone()),
        });
        write_manifest(&dir, segments, tips)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(16))]

        /// Every node's out records and in records (with their offsets) read the same
        /// whether its blocks are found from the starts made on open or run by run, and
        /// whether a long in list (from 512 bytes) is resolved in batches or record by
        /// record; the starts made on open are where the runs say.
        #[test]
        fn block_starts_and_batches_read_as_runs_and_records(
            nodes in 20u32..300,
            hubs in 1u32..4,
            per in 1u32..6,
            seed in proptest::prelude::any::<u64>(),
        ) {
            let mut r = seed | 1;
            let mut next = move |m: u64| {
                r ^= r << 13;
                r ^= r >> 7;
                r ^= r << 17;
                r % m
            };
            let dir = tempfile::tempdir().unwrap();
            let base = Graph::open_or_empty(dir.path()).unwrap();
            let mut b = GraphBuilder::new(Some(&base)).with_threads(1);
            let ids: Vec<NodeId> = (0..nodes)
                .map(|i| b.node(&format!("0x{i:040x}"), NodeKind::Address).unwrap())
                .collect();
            for k in 0..nodes * per {
                // Most edges into a hub (long in lists), the others anywhere.
                let src = next(u64::from(nodes)) as usize;
                let dst = if next(4) == 0 { next(u64::from(nodes)) } else { next(u64::from(hubs)) };
                let amount = if next(3) == 0 { next(u64::MAX) } else { next(1_000) };
                let e = EdgeInput {
                    amount: Amount::from(amount),
                    time: (next(5) != 0).then(|| 1_700_000_000 + next(1_000_000) as i64),
                    asset: if next(4) == 0 { "USDT" } else { "ETH" },
                    txid: Hash32([(k % 251) as u8; 32]),
                    chain: Chain::Ethereum,
                };
                b.add_edge(ids[src], ids[dst as usize], &e).unwrap();
            }
            let data = b.finish().unwrap();
            let file = dir.path().join("seg.fgs");
            segment::write(&file, &data).unwrap();
            let seg = Segment::open(&file).unwrap();
            proptest::prop_assert!(seg.block_starts_agree());
            let runs = Segment::open(&file).unwrap().without_block_starts();
            let read = |s: &Segment, n: u32| {
                let mut it = s.in_records(n);
                let mut v = Vec::new();
                while let Some(r) = it.next() {
                    v.push((r, it.offset()));
                }
                assert!(it.clean_end(), "node {n}");
                (v, s.out_records(n).collect::<Vec<_>>())
            };
            let (mut long, mut most_in) = (0, 0);
            for n in 0..seg.header.node_count {
                let (ins, outs) = read(&seg, n);
                proptest::prop_assert_eq!(&read(&runs, n), &(ins.clone(), outs));
                proptest::prop_assert_eq!(&seg.in_records_alone(n), &ins);
                proptest::prop_assert_eq!(&runs.in_records_alone(n), &ins);
                long += usize::from(seg.in_records(n).list_bytes() >= 512);
                most_in = most_in.max(ins.len());
            }
            // A node with 512 in records (a byte each at least) has a list read in batches.
            // (Before: "800 edges give one", which 801 edges over three hubs did not.)
            proptest::prop_assert!(most_in < 512 || long > 0);
        }
    }

    /// From format 5 an in record reads its edge's target from its own list, not from the
    /// out record it names (which is coded from the record before it): two in records
    /// whose offsets were swapped read as wrong amounts, and `verify` finds them.
    #[test]
    fn verify_finds_in_records_that_name_another_edge() {
        let dir = tempfile::tempdir().unwrap();
        let base = Graph::open_or_empty(dir.path()).unwrap();
        let mut b = GraphBuilder::new(Some(&base)).with_threads(1);
        let ids: Vec<NodeId> =
            (1..=4).map(|i| b.node(&format!("0x{i:040x}"), NodeKind::Address).unwrap()).collect();
        for (to, amount) in [(1, 5u64), (2, 7), (3, 9)] {
            let e = EdgeInput {
                amount: Amount::from(amount),
                time: Some(1_700_000_000),
                asset: "ETH",
                txid: Hash32([to as u8; 32]),
                chain: Chain::Ethereum,
            };
            b.add_edge(ids[0], ids[to], &e).unwrap();
        }
        let mut data = b.finish().unwrap();
        let good = dir.path().join("good.fgs");
        segment::write(&good, &data).unwrap();
        let seg = Segment::open(&good).unwrap();
        seg.verify().unwrap();
        let amounts =
            |seg: &Segment, n: u32| seg.in_records(n).map(|r| r.amount).collect::<Vec<_>>();
        assert_eq!((amounts(&seg, 2), amounts(&seg, 3)), (vec![7], vec![9]));
        // Nodes 2 and 3 each have one in record: the source's delta, then a one-byte
        // offset into node 0's out records. Swap the offsets.
        let byte = |n: usize, ins: &[segment::InPart]| {
            let p = ins.iter().rposition(|p| p.first <= n).unwrap();
            (p, ins[p].offsets[n - ins[p].first] + 1)
        };
        let ((p2, x), (p3, y)) = (byte(2, &data.lists.ins), byte(3, &data.lists.ins));
        let (a, c) = (data.lists.ins[p2].bytes[x], data.lists.ins[p3].bytes[y]);
        assert!(a != c && a != 0 && c != 0, "two different offsets");
        data.lists.ins[p2].bytes[x] = c;
        data.lists.ins[p3].bytes[y] = a;
        let bad = dir.path().join("bad.fgs");
        segment::write(&bad, &data).unwrap();
        let seg = Segment::open(&bad).unwrap();
        assert_eq!((amounts(&seg, 2), amounts(&seg, 3)), (vec![9], vec![7]));
        let err = seg.verify().unwrap_err().to_string();
        assert!(err.contains("do not name the out records"), "{err}");
    }

    /// Format 6 stores the times of a big address's UTXO legs beside its lists: they read
    /// as the transaction nodes' keys say (also where a transaction's first leg had no time
    /// and its key took a later leg's), `verify` checks them, and the same segment written
    /// without them reads the same legs.
    #[test]
    fn a_big_address_reads_its_legs_times_from_beside_its_lists() {
        let dir = tempfile::tempdir().unwrap();
        let base = Graph::open_or_empty(dir.path()).unwrap();
        let mut b = GraphBuilder::new(Some(&base)).with_threads(2);
        let hub = b.node("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", NodeKind::Address).unwrap();
        let other = b.node("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", NodeKind::Address).unwrap();
        let leg = |txid: Hash32, time: Option<i64>, amount: u64| EdgeInput {
            amount: Amount::from(amount),
            time,
            asset: "BTC",
            txid,
            chain: Chain::Bitcoin,
        };
        let n = segment::LIST_TIMES_MIN as u32 + 30;
        for i in 0..n {
            // Paid by transaction i (its output), then spending into transaction n + i.
            let (mut pay, mut spend) = ([0u8; 32], [1u8; 32]);
            (pay[31], spend[31]) = (i as u8, i as u8);
            let (pay, spend) = (Hash32(pay), Hash32(spend));
            let pay_tx = b.tx_node(Chain::Bitcoin, &pay).unwrap();
            let spend_tx = b.tx_node(Chain::Bitcoin, &spend).unwrap();
            let t = 1_700_000_000 + i64::from(i) * 600 - i64::from(i % 7) * 5_000;
            // Every fifth payment first without a time: its key takes the next leg's.
            let first = if i % 5 == 0 { None } else { Some(t) };
            b.add_edge(pay_tx, hub, &leg(pay, first, 9)).unwrap();
            b.add_edge(other, pay_tx, &leg(pay, Some(t), 10)).unwrap();
            b.add_edge(pay_tx, other, &leg(pay, Some(t), 1)).unwrap();
            b.add_edge(hub, spend_tx, &leg(spend, Some(t + 60), 8)).unwrap();
        }
        let data = b.finish().unwrap();
        assert_eq!(data.timed_lists, 4, "both sides of both addresses");
        let (with, without) = written_with_and_without_section_11(dir.path(), data);
        let mut read = Vec::new();
        for (file, timed) in [(&with, 4), (&without, 0)] {
            let g = Graph::open_or_empty(dir.path()).unwrap();
            let mut g = Graph { segments: vec![Segment::open(file).unwrap()], ..g };
            assert_eq!(g.segments[0].timed_lists().count(), timed);
            g.verify_segments().unwrap();
            let mut legs = Vec::new();
            for node in [hub, other] {
                for incoming in [true, false] {
                    g.legs(node, incoming, "BTC", &mut legs);
                    let mut cached = Vec::new();
                    g.legs_cached(node, incoming, "BTC", &mut cached, &mut LegCache::default());
                    assert_eq!(cached, legs[legs.len() - cached.len()..]);
                    let mut nb = Vec::new();
                    g.neighbours(node, incoming, "BTC", &mut nb);
                    let edges: Vec<_> = if incoming {
                        g.in_edges(node).collect()
                    } else {
                        g.out_edges(node).collect()
                    };
                    let keyed: Vec<u32> =
                        edges.iter().map(|e| e.time.unwrap_or(0) as u32).collect();
                    assert_eq!(nb.iter().map(|x| x.2).collect::<Vec<_>>(), keyed);
                }
            }
            g.segments.clear();
            read.push(legs);
        }
        assert_eq!(read[0], read[1]);
        assert!(read[0].iter().all(|l| l.time != 0));
    }

    /// A stored time that is not its transaction key's (the file's checksums right) is found
    /// by `verify`, naming the file, the node and both times.
    /// `data` written to `with.fgs` in `dir` as it is, and to `without.fgs` with no section
    /// 11 (no list times, no columns): the two files' paths.
    fn written_with_and_without_section_11(
        dir: &Path,
        mut data: SegmentData,
    ) -> (PathBuf, PathBuf) {
        let with = dir.join("with.fgs");
        segment::write(&with, &data).unwrap();
        data.list_times.clear();
        data.timed_lists = 0;
        let without = dir.join("without.fgs");
        segment::write(&without, &data).unwrap();
        (with, without)
    }

    /// An address paid 5 BTC by each of `n` transactions, one a second from 1,700,000,000
    /// (each leg's time its transaction's).
    fn hub_paid_by_txs(b: &mut GraphBuilder, n: u8) -> NodeId {
        let hub = b.node("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", NodeKind::Address).unwrap();
        for i in 0..n {
            let txid = Hash32([i; 32]);
            let tx = b.tx_node(Chain::Bitcoin, &txid).unwrap();
            let e = EdgeInput {
                amount: Amount::from(5u64),
                time: Some(1_700_000_000 + i64::from(i)),
                asset: "BTC",
                txid,
                chain: Chain::Bitcoin,
            };
            b.add_edge(tx, hub, &e).unwrap();
        }
        hub
    }

    #[test]
    fn verify_finds_a_stored_time_that_is_not_the_keys() {
        let dir = tempfile::tempdir().unwrap();
        let base = Graph::open_or_empty(dir.path()).unwrap();
        let mut b = GraphBuilder::new(Some(&base)).with_threads(1);
        hub_paid_by_txs(&mut b, segment::LIST_TIMES_MIN as u8);
        let mut data = b.finish().unwrap();
        assert_eq!(data.timed_lists, 1);
        // The last time is a delta of +1 from the one before (one byte, 2): make it +2.
        let last = data.list_times.len() - 1;
        assert_eq!(data.list_times[last], 2);
        data.list_times[last] = 4;
        let file = dir.path().join("bad.fgs");
        segment::write(&file, &data).unwrap();
        let g = Graph::open_or_empty(dir.path()).unwrap();
        let g = Graph { segments: vec![Segment::open(&file).unwrap()], ..g };
        g.segments[0].verify().unwrap();
        let err = g.verify_segments().unwrap_err().to_string();
        assert!(err.contains("bad.fgs") && err.contains("list times"), "{err}");
        assert!(err.contains("1700000064") && err.contains("1700000063"), "{err}");
    }

    /// A hub's in records of every kind (UTXO outputs paid to it, some first without a
    /// time; account transfers of two blocks of the store; edges with their own time; two
    /// assets; an amount over 64 bits) with its column (format 7), written with a lower
    /// threshold: `verify` passes, and its side reads the same through the column
    /// (`neighbours`, `walk` without times, `legs`, `legs_cached`) as the same segment
    /// written without it (every record read through its sender's block and keys).
    #[test]
    fn a_hub_reads_its_received_side_from_its_column_as_from_its_records() {
        let dir = tempfile::tempdir().unwrap();
        let base = Graph::open_or_empty(dir.path()).unwrap();
        let mut b = GraphBuilder::new(Some(&base)).with_threads(2);
        b.column_min = 64;
        let hub = b.node("0x52908400098527886e0f7030069857d2e4169ee7", NodeKind::Address).unwrap();
        let payer =
            b.node("0x8617e340b3d01fa5f11f306f4090fd50e238070d", NodeKind::Address).unwrap();
        let wide = Amount::from_be_bytes({
            let mut w = [0u8; 32];
            w[20] = 7;
            w
        });
        for i in 0..100u32 {
            let t = 1_700_000_000 + i64::from(i) * 90 - i64::from(i % 4) * 400;
            let mut id = [9u8; 32];
            id[30..].copy_from_slice(&(i as u16).to_le_bytes());
            let (asset, chain) =
                if i % 3 == 0 { ("USDT", Chain::Ethereum) } else { ("ETH", Chain::Ethereum) };
            let e = EdgeInput {
                amount: if i == 17 { wide } else { Amount::from(1_000 + u64::from(i) * 77_777) },
                time: Some(t),
                asset,
                txid: Hash32(id),
                chain,
            };
            match i % 4 {
                0 | 1 => b.add_store_edge(payer, hub, &e, 800 + u64::from(i / 30)).unwrap(),
                2 => b.add_edge(payer, hub, &e).unwrap(),
                _ => {
                    // A UTXO payment to the hub, its transaction's time from its key.
                    let e = EdgeInput {
                        asset: "BTC",
                        chain: Chain::Bitcoin,
                        time: if i % 8 == 3 { None } else { Some(t) },
                        ..e
                    };
                    let tx = b.tx_node(Chain::Bitcoin, &e.txid).unwrap();
                    b.add_edge(tx, hub, &e).unwrap();
                    b.add_edge(tx, payer, &EdgeInput { time: Some(t), ..e }).unwrap();
                }
            }
        }
        let data = b.finish().unwrap();
        let column = segment::TimedList { node: hub.0, side: segment::SIDE_IN_COLUMN, start: 0 };
        let index: &[segment::TimedList] = bytemuck::cast_slice(&data.list_times[..16]);
        assert_eq!(index, [column], "the hub's column, and no other entry");
        let (with, without) = written_with_and_without_section_11(dir.path(), data);
        let mut read = Vec::new();
        for file in [&with, &without] {
            let g = Graph::open_or_empty(dir.path()).unwrap();
            let g = Graph { segments: vec![Segment::open(file).unwrap()], ..g };
            g.verify_segments().unwrap();
            let mut got = Vec::new();
            for asset in ["ETH", "USDT", "BTC", "none"] {
                let (mut nb, mut untimed, mut legs, mut cached) =
                    (Vec::new(), Vec::new(), Vec::new(), Vec::new());
                g.neighbours(hub, true, asset, &mut nb);
                g.walk(hub, true, asset, false, &mut untimed);
                g.legs(hub, true, asset, &mut legs);
                g.legs_cached(hub, true, asset, &mut cached, &mut LegCache::default());
                assert_eq!(legs, cached);
                assert!(untimed.iter().all(|x| x.2 == 0));
                assert_eq!(untimed.len(), nb.len());
                got.push((nb, legs));
            }
            g.damage().unwrap();
            read.push(got);
        }
        assert_eq!(read[0], read[1]);
        let all: Vec<_> = read[0].iter().flat_map(|(nb, _)| nb).collect();
        assert_eq!(all.len(), 100);
        assert!(all.iter().any(|x| x.1 > ruint::aliases::U256::from(u64::MAX)));
        assert!(all.iter().all(|x| x.2 != 0));
    }

    /// A column entry whose amount is not its record's (the file's checksums right) is
    /// named by `verify`: the file, the section and the node.
    #[test]
    fn verify_finds_a_column_amount_that_is_not_the_records() {
        let dir = tempfile::tempdir().unwrap();
        let base = Graph::open_or_empty(dir.path()).unwrap();
        let mut b = GraphBuilder::new(Some(&base)).with_threads(1);
        b.column_min = 64;
        let hub = hub_paid_by_txs(&mut b, 64);
        let mut data = b.finish().unwrap();
        assert_eq!(data.timed_lists, 1);
        // The last entry: a time delta of +1 (one byte, 4), then the amount 5.
        let last = data.list_times.len() - 1;
        assert_eq!(data.list_times[last - 1..], [4, 5]);
        let file = dir.path().join("bad.fgs");
        segment::write(&file, &data).unwrap();
        let g = Graph::open_or_empty(dir.path()).unwrap();
        let g = Graph { segments: vec![Segment::open(&file).unwrap()], ..g };
        g.verify_segments().unwrap();
        data.list_times[last] = 6;
        segment::write(&file, &data).unwrap();
        let g = Graph { segments: vec![Segment::open(&file).unwrap()], ..g };
        let err = g.verify_segments().unwrap_err().to_string();
        assert!(err.contains("bad.fgs") && err.contains("list times"), "{err}");
        assert!(err.contains(&format!("column of node {}", hub.0)), "{err}");
        // A time that is not its transaction key's (+1 made −2) is named too.
        data.list_times[last] = 5;
        data.list_times[last - 1] = 6;
        segment::write(&file, &data).unwrap();
        let g = Graph { segments: vec![Segment::open(&file).unwrap()], ..g };
        let err = g.verify_segments().unwrap_err().to_string();
        assert!(err.contains("1700000060") && err.contains("1700000063"), "{err}");
    }

    /// Two texts with the same hash get two numbers, each found again by its own text.
    #[test]
    fn texts_with_one_hash_keep_their_own_numbers() {
        let mut t = TextIds::default();
        let a = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa";
        let b = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";
        let h = hash_bytes(a.as_bytes());
        assert_eq!(t.id_hashed(a, h).unwrap(), (0, true));
        // The second text given the first's hash, as a collision would.
        assert_eq!(t.id_hashed(b, h).unwrap(), (1, true));
        assert_eq!(t.id_hashed(b, h).unwrap(), (1, false));
        assert_eq!(t.id_hashed(a, h).unwrap(), (0, false));
        // Only the high 32 bits the same: a candidate that is another text.
        let h2 = (h & 0xffff_ffff_0000_0000) | 0x1234;
        assert_eq!(t.id_hashed("c", h2).unwrap(), (2, true));
        assert_eq!(t.id_hashed("c", h2).unwrap(), (2, false));
        assert_eq!(t.id_hashed(b, h).unwrap(), (1, false));
        // A text that is a prefix of a kept one is another text.
        assert_eq!(t.id("1A1zP1eP5QGefi2DMPTfTL5SLmv7Divf").unwrap(), (3, true));
        assert_eq!(t.id("").unwrap(), (4, true));
        assert_eq!(t.id("").unwrap(), (4, false));
        assert_eq!(t.id(a).unwrap(), (0, false));
    }

    /// Texts keep their numbers as the table grows (placed again at each doubling), and
    /// the look-up `EncodedKeys::of` makes for a run of legs (slots and candidates loaded
    /// ahead) numbers the legs' texts as one plain look-up per text does.
    #[test]
    fn batched_text_numbers_are_the_plain_ones() {
        // Enough texts to double the table several times; each leg's texts drawn from a
        // growing pool, so that runs meet new texts, texts met before and texts met twice.
        let text = |i: u64| format!("0x{:040x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 8);
        let legs: Vec<ExportLeg> = (0..20_000u64)
            .map(|i| ExportLeg {
                chain: Chain::Ethereum,
                height: i / 50,
                time: Some(1_700_000_000),
                txid: Hash32([(i % 251) as u8; 32]),
                kind: if i % 7 == 0 { LegKind::Output } else { LegKind::Transfer },
                from: Some(text((i * 31) % (i / 3 + 1))),
                to: Some(text((i * 17 + 5) % (i + 2))),
                asset: "ETH".into(),
                amount: Amount::from(1u64),
            })
            .collect();
        let mut batched = TextIds::default();
        let mut ids = Vec::new();
        for run in legs.chunks(1000) {
            ids.extend(EncodedKeys::of(run, &mut batched, true).unwrap().ids);
        }
        let mut plain = TextIds::default();
        let expected: Vec<u32> = legs
            .iter()
            .flat_map(|l| {
                let (from, to) = match l.kind {
                    LegKind::Output => (None, l.to.as_deref()),
                    _ => (l.from.as_deref(), l.to.as_deref()),
                };
                [from, to]
            })
            .map(|t| t.map_or(NO_TEXT, |t| plain.id(t).unwrap().0))
            .collect();
        assert_eq!(ids, expected);
        assert!(batched.count > 5_000 && batched.index.slots.len() >= 8_192, "{}", batched.count);
        for i in 0..20_000 {
            let t = text(i);
            assert_eq!(batched.id(&t).unwrap(), plain.id(&t).unwrap(), "{t}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// The gathered reader gives every position of an ordering the edge and
        /// `at_in_list` entry a direct read gives, read in order (as the encoders do), from
        /// any start, with jumps back and past the end.
        #[test]
        fn gathered_edges_are_the_direct_reads(
            n in 0usize..300,
            seed in proptest::prelude::any::<u64>(),
            visits in proptest::collection::vec(0usize..320, 0..40),
        ) {
            let mut x = seed | 1;
            let mut next = || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            };
            let edges: Vec<BuildEdge> = (0..n)
                .map(|_| BuildEdge {
                    src: next() as u32 % 50,
                    dst: next() as u32 % 50,
                    amount: next(),
                    tx: next() as u32,
                    ord: next() as u32,
                    time: next() as u32,
                    asset: next() as u16,
                    mode: next() as u8 % 4,
                    wide: next() % 2 == 0,
                })
                .collect();
            let at: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(next() as u32)).collect();
            let order = order_by(&edges, 50, |e| e.dst);
            let mut g = Gathered::new(&edges, &order, &at);
            let direct = |k: usize| {
                order.get(k).map(|&i| {
                    let e = edges[i as usize];
                    (i, (e.src, e.dst, e.amount, e.tx, e.ord, e.time, e.asset, e.mode, e.wide),
                        at[i as usize].load(Ordering::Relaxed))
                })
            };
            for &start in &visits {
                for k in start..start + 70 {
                    let got = g.get(k).map(|(i, e, a)| {
                        (i, (e.src, e.dst, e.amount, e.tx, e.ord, e.time, e.asset, e.mode, e.wide), a)
                    });
                    proptest::prop_assert_eq!(got, direct(k), "position {}", k);
                }
            }
        }
    }
}
