//! The graph: a manifest and a list of immutable segments over one dense node-id space.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use floodgate_store::export::{ExportLeg, LegKind};
use floodgate_store::Store;
use floodgate_types::{Amount, Chain, Hash32};
use serde::{Deserialize, Serialize};

use crate::segment::{self, EdgeRecord, Segment, SegmentData, FLAG_WIDE};
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

impl NodeKind {
    fn to_byte(self) -> u8 {
        match self {
            NodeKind::Address => 0,
            NodeKind::Transaction => 1,
        }
    }
    fn from_byte(b: u8) -> NodeKind {
        if b == 1 {
            NodeKind::Transaction
        } else {
            NodeKind::Address
        }
    }
}

/// The node key of a UTXO transaction node: `tx:<chain>:<txid hex>`.
pub fn tx_key(chain: Chain, txid: &Hash32) -> String {
    format!("tx:{}:{}", chain.as_str(), txid.to_hex())
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
    /// The transaction that moved the value.
    pub txid: Hash32,
    /// The transaction's chain.
    pub chain: Chain,
}

impl Edge<'_> {
    /// The transaction id as the chain's explorers show it (`0x…` on account chains).
    pub fn txid_string(&self) -> String {
        if self.chain.is_account_model() {
            self.txid.to_hex_prefixed()
        } else {
            self.txid.to_hex()
        }
    }
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

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ManifestSegment {
    file: String,
    base_node: u32,
    node_count: u32,
    edge_count: u64,
    header_sha256: String,
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
    segments: Vec<Segment>,
    tips: BTreeMap<String, ChainTip>,
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
        if m.format != "floodgate-graph" || m.version != segment::VERSION {
            return Err(GraphError::UnsupportedVersion {
                path: mpath,
                found: m.version,
                supported: segment::VERSION,
            });
        }
        let mut segments = Vec::with_capacity(m.segments.len());
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
        Ok(Graph { dir: dir.to_owned(), segments, tips: m.tips })
    }

    /// Opens the graph in `dir`, or an empty graph when none was built yet.
    ///
    /// # Errors
    /// As [`Graph::open`].
    pub fn open_or_empty(dir: &Path) -> Result<Graph, GraphError> {
        match Graph::open(dir) {
            Err(GraphError::NotBuilt { .. }) => {
                Ok(Graph { dir: dir.to_owned(), segments: Vec::new(), tips: BTreeMap::new() })
            }
            r => r,
        }
    }

    /// Recomputes every section checksum of every segment.
    ///
    /// # Errors
    /// [`GraphError::Corrupt`] naming the first damaged file and section.
    pub fn verify(&self) -> Result<(), GraphError> {
        self.segments.iter().try_for_each(Segment::verify)
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

    /// Total bytes of the segment files.
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(Segment::file_len).sum()
    }

    /// Per chain, the last block the graph holds.
    pub fn tips(&self) -> &BTreeMap<String, ChainTip> {
        &self.tips
    }

    /// The node for `key` (a canonical address, or [`tx_key`]).
    pub fn lookup(&self, key: &str) -> Option<NodeId> {
        self.segments.iter().find_map(|s| s.lookup(key)).map(NodeId)
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

    /// The key of node `n` (empty for an id outside the graph).
    pub fn key(&self, n: NodeId) -> &str {
        self.owner(n).map_or("", |(s, l)| s.key(l))
    }

    /// The kind of node `n`.
    pub fn kind(&self, n: NodeId) -> NodeKind {
        self.owner(n).map_or(NodeKind::Address, |(s, l)| NodeKind::from_byte(s.kind(l)))
    }

    fn decode<'g>(&'g self, s: &'g Segment, src: u32, e: &EdgeRecord) -> Edge<'g> {
        let amount = if e.flags & FLAG_WIDE != 0 {
            Amount::from_be_bytes(s.wide(e.amount))
        } else {
            Amount::from(e.amount)
        };
        Edge {
            src: NodeId(src),
            dst: NodeId(e.dst),
            amount,
            time: (e.time != 0).then_some(i64::from(e.time)),
            asset: s.assets.get(e.asset as usize).map_or("", String::as_str),
            txid: Hash32(s.txid(e.tx)),
            chain: Chain::ALL[s.tx_chain(e.tx) as usize],
        }
    }

    /// Edges leaving `n`, segment by segment, each in the order they were added.
    pub fn out_edges(&self, n: NodeId) -> impl Iterator<Item = Edge<'_>> + '_ {
        self.segments.iter().filter(move |s| n.0 < s.header.node_count).flat_map(move |s| {
            let r = s.out_range(n.0);
            s.edges()[r].iter().map(move |e| self.decode(s, n.0, e))
        })
    }

    /// Edges entering `n`.
    pub fn in_edges(&self, n: NodeId) -> impl Iterator<Item = Edge<'_>> + '_ {
        self.segments.iter().filter(move |s| n.0 < s.header.node_count).flat_map(move |s| {
            let r = s.in_range(n.0);
            s.in_edges()[r].iter().map(move |&[src, i]| self.decode(s, src, &s.edges()[i as usize]))
        })
    }

    /// Lean traversal for tracing: appends `(neighbour, amount, time)` for each edge of
    /// `asset` entering (`incoming`) or leaving `n`, without decoding transaction ids.
    pub(crate) fn neighbours(
        &self,
        n: NodeId,
        incoming: bool,
        asset: &str,
        out: &mut Vec<(NodeId, ruint::aliases::U256, u32)>,
    ) {
        use ruint::aliases::U256;
        for s in self.segments.iter().filter(|s| n.0 < s.header.node_count) {
            let Some(ai) = s.assets.iter().position(|a| a == asset) else { continue };
            let edges = s.edges();
            let mut push = |nb: u32, e: &EdgeRecord| {
                if e.asset as usize != ai {
                    return;
                }
                let amount = if e.flags & FLAG_WIDE != 0 {
                    U256::from_be_bytes(s.wide(e.amount))
                } else {
                    U256::from(e.amount)
                };
                out.push((NodeId(nb), amount, e.time));
            };
            if incoming {
                for &[src, i] in &s.in_edges()[s.in_range(n.0)] {
                    push(src, &edges[i as usize]);
                }
            } else {
                for e in &edges[s.out_range(n.0)] {
                    push(e.dst, e);
                }
            }
        }
    }

    /// Brings the graph in `dir` up to date with `store`: adds one segment holding every leg
    /// in blocks above the graph's tips (nothing is rewritten). Creates the graph when absent.
    ///
    /// Inputs that were unresolved when their block was added (their funding output arrived
    /// later) are not added afterwards; `rebuild` builds everything anew.
    ///
    /// # Errors
    /// [`GraphError::Reorganised`] when a block at a graph tip is no longer in the store;
    /// store, I/O and limit errors. On error the graph on disk is unchanged.
    pub fn update_from_store(dir: &Path, store: &Store) -> Result<BuildReport, GraphError> {
        std::fs::create_dir_all(dir)
            .map_err(|source| GraphError::Io { path: dir.to_owned(), source })?;
        let base = Graph::open_or_empty(dir)?;
        let mut tips = base.tips.clone();
        let mut b = GraphBuilder::new(Some(&base));
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
            store.for_each_leg(chain, after, |leg: ExportLeg| b.add_leg(&leg))?;
            tips.insert(chain.as_str().to_owned(), ChainTip { height: h, hash: hash.to_hex() });
        }
        let (new_nodes, new_edges) = (b.new_nodes() as u64, b.edge_count() as u64);
        // An empty store still gets a (empty) graph, so that queries say "not in the graph".
        if tips != base.tips || new_edges > 0 || base.segments.is_empty() {
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
        })
    }
}

/// Collects nodes and edges for one new segment, then writes it with a two-pass counting
/// sort (count per source, prefix-sum, scatter; the same for the reverse index).
#[derive(Debug)]
pub struct GraphBuilder<'g> {
    base: Option<&'g Graph>,
    base_nodes: u32,
    keys: Vec<String>,
    kinds: Vec<u8>,
    index: HashMap<String, u32>,
    srcs: Vec<u32>,
    edges: Vec<EdgeRecord>,
    txs: HashMap<([u8; 32], u8), u32>,
    txids: Vec<[u8; 32]>,
    tx_chains: Vec<u8>,
    assets: HashMap<String, u16>,
    asset_list: Vec<String>,
    wide: Vec<[u8; 32]>,
}

impl<'g> GraphBuilder<'g> {
    /// A builder for a segment appended to `base` (or the first segment).
    pub fn new(base: Option<&'g Graph>) -> GraphBuilder<'g> {
        GraphBuilder {
            base,
            base_nodes: base.map_or(0, Graph::node_count),
            keys: Vec::new(),
            kinds: Vec::new(),
            index: HashMap::new(),
            srcs: Vec::new(),
            edges: Vec::new(),
            txs: HashMap::new(),
            txids: Vec::new(),
            tx_chains: Vec::new(),
            assets: HashMap::new(),
            asset_list: Vec::new(),
            wide: Vec::new(),
        }
    }

    /// Nodes this builder adds.
    pub fn new_nodes(&self) -> usize {
        self.keys.len()
    }

    /// Edges this builder adds.
    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// The id of `key`, adding the node when it is new.
    ///
    /// # Errors
    /// [`GraphError::Limit`] past 2³² − 1 nodes.
    pub fn node(&mut self, key: &str, kind: NodeKind) -> Result<NodeId, GraphError> {
        if let Some(n) = self.base.and_then(|g| g.lookup(key)) {
            return Ok(n);
        }
        if let Some(&n) = self.index.get(key) {
            return Ok(NodeId(n));
        }
        let id = self
            .base_nodes
            .checked_add(self.keys.len() as u32)
            .filter(|&i| i < u32::MAX)
            .ok_or_else(|| GraphError::Limit { detail: "more than 2^32-1 nodes".into() })?;
        self.keys.push(key.to_owned());
        self.kinds.push(kind.to_byte());
        self.index.insert(key.to_owned(), id);
        Ok(NodeId(id))
    }

    /// Adds an edge `src → dst`.
    ///
    /// # Errors
    /// [`GraphError::Limit`] for a time outside `0..2³²` seconds, an asset id with a newline,
    /// more than 65,535 assets or 2³² − 1 transactions or edges in one segment.
    pub fn add_edge(
        &mut self,
        src: NodeId,
        dst: NodeId,
        e: &EdgeInput<'_>,
    ) -> Result<(), GraphError> {
        let limit = |detail: String| GraphError::Limit { detail };
        let time = match e.time {
            None => 0,
            Some(t) => u32::try_from(t)
                .map_err(|_| limit(format!("time {t} is outside 1970..2106 (u32 seconds)")))?,
        };
        let asset = match self.assets.get(e.asset) {
            Some(&a) => a,
            None => {
                if e.asset.contains('\n') || e.asset.is_empty() {
                    return Err(limit(format!("asset id {:?} is empty or has a newline", e.asset)));
                }
                let a = u16::try_from(self.asset_list.len())
                    .map_err(|_| limit("more than 65,536 assets in one segment".into()))?;
                self.assets.insert(e.asset.to_owned(), a);
                self.asset_list.push(e.asset.to_owned());
                a
            }
        };
        let chain = Chain::ALL.iter().position(|&c| c == e.chain).unwrap_or(0) as u8;
        let tx = match self.txs.get(&(e.txid.0, chain)) {
            Some(&t) => t,
            None => {
                let t = u32::try_from(self.txids.len())
                    .map_err(|_| limit("more than 2^32 transactions in one segment".into()))?;
                self.txs.insert((e.txid.0, chain), t);
                self.txids.push(e.txid.0);
                self.tx_chains.push(chain);
                t
            }
        };
        let (amount, flags) = match e.amount.to_u128().and_then(|v| u64::try_from(v).ok()) {
            Some(v) => (v, 0),
            None => {
                self.wide.push(e.amount.to_be_bytes());
                ((self.wide.len() - 1) as u64, FLAG_WIDE)
            }
        };
        if self.edges.len() >= u32::MAX as usize {
            return Err(limit("more than 2^32-1 edges in one segment".into()));
        }
        self.srcs.push(src.0);
        self.edges.push(EdgeRecord { dst: dst.0, tx, time, asset, flags, amount });
        Ok(())
    }

    /// Adds one stored leg: a Bitcoin input becomes `address → tx node`, an output
    /// `tx node → address`, an account transfer `from → to`.
    ///
    /// # Errors
    /// As [`GraphBuilder::add_edge`].
    pub fn add_leg(&mut self, leg: &ExportLeg) -> Result<(), GraphError> {
        let input = EdgeInput {
            amount: leg.amount,
            time: leg.time,
            asset: &leg.asset,
            txid: leg.txid,
            chain: leg.chain,
        };
        let (src, dst) = match (leg.kind, &leg.from, &leg.to) {
            (LegKind::Input, Some(from), _) => {
                let a = self.node(from, NodeKind::Address)?;
                (a, self.node(&tx_key(leg.chain, &leg.txid), NodeKind::Transaction)?)
            }
            (LegKind::Output, _, Some(to)) => {
                let t = self.node(&tx_key(leg.chain, &leg.txid), NodeKind::Transaction)?;
                (t, self.node(to, NodeKind::Address)?)
            }
            (LegKind::Transfer, Some(from), Some(to)) => {
                (self.node(from, NodeKind::Address)?, self.node(to, NodeKind::Address)?)
            }
            _ => return Ok(()),
        };
        self.add_edge(src, dst, &input)
    }

    /// The segment's content: CSR arrays built with a two-pass counting sort.
    fn finish(self) -> SegmentData {
        let n = self.base_nodes as usize + self.keys.len();
        // Pass 1: out-degree per source, then prefix sums.
        let mut out_offsets = vec![0u64; n + 1];
        for &s in &self.srcs {
            out_offsets[s as usize + 1] += 1;
        }
        for i in 0..n {
            out_offsets[i + 1] += out_offsets[i];
        }
        // Pass 2: scatter, stable (edges of a node keep the order they were added in).
        let mut cursor = out_offsets.clone();
        let mut out_edges = vec![EdgeRecord::default_zero(); self.edges.len()];
        for (&s, e) in self.srcs.iter().zip(&self.edges) {
            let c = &mut cursor[s as usize];
            out_edges[*c as usize] = *e;
            *c += 1;
        }
        // The reverse index: the same two passes keyed on the target, holding edge indices.
        let mut in_offsets = vec![0u64; n + 1];
        for e in &out_edges {
            in_offsets[e.dst as usize + 1] += 1;
        }
        for i in 0..n {
            in_offsets[i + 1] += in_offsets[i];
        }
        let mut cursor = in_offsets.clone();
        let mut in_edges = vec![[0u32; 2]; out_edges.len()];
        let mut src = 0usize;
        for (i, e) in out_edges.iter().enumerate() {
            while out_offsets[src + 1] as usize <= i {
                src += 1;
            }
            let c = &mut cursor[e.dst as usize];
            in_edges[*c as usize] = [src as u32, i as u32];
            *c += 1;
        }
        SegmentData {
            base_node: self.base_nodes,
            node_count: n as u32,
            keys: self.keys,
            kinds: self.kinds,
            out_offsets,
            out_edges,
            in_offsets,
            in_edges,
            txids: self.txids,
            tx_chains: self.tx_chains,
            assets: self.asset_list,
            wide: self.wide,
        }
    }

    /// Writes the segment into `base`'s directory and records it, with `tips`, in the
    /// manifest (written last, atomically: a crash before it leaves the graph as it was).
    ///
    /// # Errors
    /// I/O errors.
    pub fn commit(self, base: &Graph, tips: BTreeMap<String, ChainTip>) -> Result<(), GraphError> {
        let dir = base.dir.clone();
        std::fs::create_dir_all(&dir)
            .map_err(|source| GraphError::Io { path: dir.clone(), source })?;
        let file = format!("seg-{:06}.fgs", base.segments.len() + 1);
        let data = self.finish();
        let sum = segment::write(&dir.join(&file), &data)?;
        let mut segments: Vec<ManifestSegment> = base
            .segments
            .iter()
            .map(|s| ManifestSegment {
                file: s
                    .path
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                base_node: s.header.base_node,
                node_count: s.header.node_count,
                edge_count: s.header.edge_count,
                header_sha256: s.header.header_sha256.iter().map(|b| format!("{b:02x}")).collect(),
            })
            .collect();
        segments.push(ManifestSegment {
            file,
            base_node: data.base_node,
            node_count: data.node_count,
            edge_count: data.out_edges.len() as u64,
            header_sha256: sum.iter().map(|b| format!("{b:02x}")).collect(),
        });
        let m = Manifest {
            format: "floodgate-graph".into(),
            version: segment::VERSION,
            segments,
            tips,
        };
        let path = dir.join(MANIFEST_FILE);
        let tmp = dir.join("MANIFEST.json.tmp");
        let text = serde_json::to_string_pretty(&m).expect("a manifest always serializes");
        let io = |source| GraphError::Io { path: path.clone(), source };
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        Ok(())
    }
}

impl EdgeRecord {
    fn default_zero() -> EdgeRecord {
        bytemuck::Zeroable::zeroed()
    }
}
