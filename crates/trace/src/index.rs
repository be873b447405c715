//! The exposure index (issue 15): for every node, the value it received by risk category,
//! within 1, 2, 3 and 6 hops, under the causal haircut and poison models, computed in one
//! forward pass over every transfer in time order and stored beside the graph in a
//! memory-mapped, checksummed file. A lookup costs a binary search.
//!
//! The pass (`pass.rs`) replays the same balances as a per-query trace (`causal.rs`:
//! labelled parts taken as `Mix::take` takes them, in 128 bits while they fit, hops added per
//! step as `Ctx::step_cost` charges them), but for every node at once: each transfer carries
//! the parts its sender held, labelled by (hops, tagged origin), and what a node receives is
//! summed per category and hop bucket. Because a part's fate never depends on the other
//! labels (`docs/taint-models.md`, rule 4), a lookup equals the per-query haircut of the same
//! node at hops 1, 2, 3 and 6 — except for value
//! that came back to the node after it sent it (a round trip), which a query leaves untraced
//! and the pass cannot tell apart. Such nodes are flagged ([`IndexedExposure::round_trip`]):
//! their indexed values are at least the query's, and the services answer them per query
//! unless no path leads from the node's transfers back to it within the hops asked
//! ([`crate::round_trip_within`]: then nothing came back and they are exact).
//!
//! Each entry also records when poison labels of each hop count first reached the address
//! (its arrivals: the place in replay order of the transfer that brought them), so that a
//! per-query causal trace can skip a transfer sent before them ([`FirstArrivals`]).
//!
//! The pass's state is saved beside the index, so that [`update_index`] continues it over
//! the segments a `trace build` appends instead of replaying every transfer again (and
//! unwinds it first when the graph was unwound); when it cannot, it replays them all.
//!
//! File format: `docs/formats/graph.md`, section "Exposure index".

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use floodgate_graph::{Graph, GraphError, NodeId};
use floodgate_types::{Amount, RiskCategory};
use memmap2::Mmap;
use ruint::aliases::U256;
use rustc_hash::FxHashMap;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::exposure::{CategoryExposure, ExposureSource};
pub use crate::pass::MAX_CHECKPOINTS;
// The saved pass's LEB128 writer (values that fit 64 bits on a 64-bit path) writes the index's.
use crate::pass::{
    each_origin, put_var128 as put_var, Arrival, NodeState, Nodes, Outcome, PassState, Recv,
    STATE_VERSION,
};
use crate::{Direction, ExposureReport, TaintModel};

/// The index file's name inside the graph directory.
pub const INDEX_FILE: &str = "exposure.fgx";

/// The hop limits the index answers: `BUCKETS[i]` is bucket `i`.
pub const BUCKETS: [u32; 4] = crate::pass::BUCKETS;

const MAGIC: &[u8; 8] = b"FGEXIDX1";
/// The format version this build writes (versions 1 to 4 are still read). Version 4 is
/// version 3 with its body checksum taken over the assets, the records, then the entries (in
/// the order they are written: the records are hashed as they go out, not read back).
/// Version 5 is version 4 with that checksum a CRC-32 instead of a SHA-256, and its records
/// not decoded on open: every process that reads the index opens it (each `floodgate trace
/// exposure`), and at 50M transfers the SHA-256 and the decoding took 2.6 s of every open of
/// the 1.26 GB file, against 0.1 s now (docs/benchmarks.md).
pub const INDEX_VERSION: u32 = 5;
const HEADER_LEN: usize = 144;
/// An entry: node `u32`, asset `u16`, fewest poison hops `u8`, record offset `u40`
/// (version 2: node `u32`, asset `u16`, record offset `u48`).
const ENTRY_LEN: usize = 12;
/// Records of at most 2⁴⁰ bytes (1 TiB) are addressed by a version-3 entry.
const MAX_RECORDS: u64 = 1 << 40;
/// A version-1 entry: node `u32`, asset `u16`, flags `u8`, category count `u8`, record
/// offset `u64`.
const ENTRY_LEN_V1: usize = 16;
/// Stored as the fewest hops of a category that has none under a model (a peel-chain link
/// costs no hop, so 0 is a real value).
const NONE_HOPS: u32 = 255;
/// Sources kept per category as evidence.
const MAX_SOURCES: usize = 3;
/// Version 1's fixed lengths of a source and of a category without its sources.
const SOURCE_LEN_V1: usize = 4 + 1 + 16 * 4;
const CATEGORY_LEN_V1: usize = 4 + 16 * 4 * 2;

/// Entry flag: value the node sent carried labels and it received value afterwards, so some
/// of what it received may be its own value coming back (a round trip). The indexed values
/// are then an upper bound of the per-query values.
const FLAG_ROUND_TRIP: u8 = 1;
/// Entry flag: a value does not fit 128 bits; the entry holds no values (ask per query).
const FLAG_WIDE: u8 = 2;

/// The graph and tags an index was built from: an index answers only while both are
/// unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexState {
    /// Nodes in the graph.
    pub nodes: u32,
    /// Edges in the graph.
    pub edges: u64,
    /// SHA-256 over the graph's segment header checksums, in order.
    #[serde(serialize_with = "hex32")]
    pub graph: [u8; 32],
    /// SHA-256 over the resolved tags (node id, category code), in node order.
    #[serde(serialize_with = "hex32")]
    pub tags: [u8; 32],
}

fn hex32<S: serde::Serializer>(b: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex(b))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl IndexState {
    /// The state of `graph` with `tags`.
    pub fn of(graph: &Graph, tags: &HashMap<NodeId, RiskCategory>) -> IndexState {
        let mut h = Sha256::new();
        for c in graph.segment_checksums() {
            h.update(c);
        }
        let mut t: Vec<(u32, u8)> = tags.iter().map(|(n, c)| (n.0, c.code())).collect();
        t.sort_unstable();
        let mut th = Sha256::new();
        for (n, c) in t {
            th.update(n.to_le_bytes());
            th.update([c]);
        }
        IndexState {
            nodes: graph.node_count(),
            edges: graph.edge_count(),
            graph: h.finalize().into(),
            tags: th.finalize().into(),
        }
    }

    /// Why an index of state `self` does not answer for `now`, or `None` when it does.
    pub fn stale_reason(&self, now: &IndexState) -> Option<String> {
        if self.graph != now.graph || self.nodes != now.nodes || self.edges != now.edges {
            return Some(format!(
                "the index was built from a graph of {} edges; the graph now has {} (run `floodgate trace build`)",
                self.edges, now.edges
            ));
        }
        if self.tags != now.tags {
            return Some(
                "the tags changed since the index was built (run `floodgate trace build`)".into(),
            );
        }
        None
    }
}

/// How [`update_index`] brought the index up to date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "how")]
pub enum IndexUpdate {
    /// The pass saved beside the index covered the first `from_segments` segments of the
    /// graph (after being unwound from `was_segments`, when the graph had been unwound); only
    /// the transfers of the segments after them were replayed.
    Extended {
        /// Segments the saved pass covered, after any unwinding.
        from_segments: usize,
        /// Segments it covered before.
        was_segments: usize,
    },
    /// The pass was replayed over every transfer, for the reason given.
    Rebuilt {
        /// Why (no saved pass, the tags changed, a new transfer older than the index, …).
        reason: String,
    },
}

/// What [`build_index`] or [`update_index`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexBuildReport {
    /// The file.
    pub path: PathBuf,
    /// Bytes written.
    pub bytes: u64,
    /// Bytes of the saved pass beside it (`exposure.fgxs`), which an update continues.
    pub state_bytes: u64,
    /// Transfers replayed in this build (self-transfers left out).
    pub transfers: u64,
    /// (node, asset) entries: nodes that received something.
    pub entries: u64,
    /// Of those, entries with value from at least one category within 6 hops.
    pub exposed: u64,
    /// Of those, entries flagged as possibly holding round-trip value.
    pub round_trips: u64,
    /// Whether the pass was continued or replayed whole.
    pub update: IndexUpdate,
}

/// The file beside the index holding the forward pass's state (`exposure.fgxs`).
pub fn state_path(index: &Path) -> PathBuf {
    index.with_extension("fgxs")
}

/// Builds the exposure index of `graph` with `tags` (the resolved tags a trace counts) from
/// scratch, one pass over every transfer, and writes it to `path` (written beside, then
/// renamed: a failure leaves the old file), with the pass's state beside it
/// ([`state_path`]) for later updates.
///
/// # Errors
/// I/O errors naming the file.
pub fn build_index(
    graph: &Graph,
    tags: &HashMap<NodeId, RiskCategory>,
    path: &Path,
) -> Result<IndexBuildReport, GraphError> {
    let st = PassState::full(graph, tags);
    let transfers = st.assets.values().map(|p| p.transfers).sum();
    let update = IndexUpdate::Rebuilt { reason: "a full build was asked for".into() };
    finish(graph, tags, path, st, transfers, update)
}

/// Brings the exposure index at `path` up to date with `graph` and `tags`: continues the pass
/// saved beside it over the segments appended since (after unwinding it to the segments it
/// still shares with the graph, when the graph was unwound), or replays every transfer when
/// it cannot: no saved pass, or one of another version or damaged; the tags of a node
/// already indexed changed; a new transfer older than the latest one indexed; a new
/// transfer that changes whether an address already indexed is a peel-chain link; a new
/// transfer of a transaction node already replayed (its state is dropped once it made its
/// last transfer); an unwind below the last [`MAX_CHECKPOINTS`] updates. Either way the index written is the
/// one [`build_index`] writes (tested byte for byte).
///
/// # Errors
/// I/O errors naming the file.
pub fn update_index(
    graph: &Graph,
    tags: &HashMap<NodeId, RiskCategory>,
    path: &Path,
) -> Result<IndexBuildReport, GraphError> {
    let sp = state_path(path);
    let tried = match PassState::load(&sp) {
        Ok(mut st) => match st.update(graph, tags) {
            Ok(Outcome { from, was, replayed }) => Ok((st, replayed, from, was)),
            Err(reason) => Err(reason),
        },
        Err(GraphError::NotBuilt { .. }) => Err("no saved pass beside the index".to_owned()),
        Err(GraphError::UnsupportedVersion { found, .. }) if found < STATE_VERSION => Err(format!(
            "the saved pass is of format version {found}, which did not record when labels arrived"
        )),
        Err(e) => Err(format!("the saved pass was not read ({e})")),
    };
    match tried {
        Ok((st, replayed, from, was)) => {
            let update = IndexUpdate::Extended { from_segments: from, was_segments: was };
            finish(graph, tags, path, st, replayed, update)
        }
        Err(reason) => {
            tracing::info!(target: "floodgate::trace::index", %reason, "exposure index built whole");
            let st = PassState::full(graph, tags);
            let transfers = st.assets.values().map(|p| p.transfers).sum();
            finish(graph, tags, path, st, transfers, IndexUpdate::Rebuilt { reason })
        }
    }
}

/// Writes the index of a pass and the pass beside it, then hands the pass to a thread of its
/// own to be freed: its millions of small lists take seconds to free one by one at 50M
/// transfers (a tenth of the build's CPU), and nothing waits for that.
fn finish(
    graph: &Graph,
    tags: &HashMap<NodeId, RiskCategory>,
    path: &Path,
    st_owned: PassState,
    transfers: u64,
    update: IndexUpdate,
) -> Result<IndexBuildReport, GraphError> {
    // The index and the saved pass are written from the same pass, one on each core; once
    // the saved pass is written, its thread helps encode the index's records.
    let st = &st_owned;
    let enc = Encoding::new(graph, tags, st, NODE_CHUNK);
    let (rep, state_bytes) = std::thread::scope(|s| {
        let state = s.spawn(|| {
            let t = std::time::Instant::now();
            let saved = st.save(&state_path(path));
            let ms = t.elapsed().as_millis() as u64;
            tracing::debug!(target: "floodgate::trace::index", ms, "pass saved");
            enc.help();
            saved
        });
        let t = std::time::Instant::now();
        let rep = write_index(graph, tags, path, &enc);
        // On an error, the helper takes no more chunks.
        enc.stop();
        let ms = t.elapsed().as_millis() as u64;
        tracing::debug!(target: "floodgate::trace::index", ms, "index written");
        // A panic while saving is a bug: pass it on.
        (rep, state.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
    });
    drop(enc);
    // Should no thread start, the closure (and the pass in it) is dropped here instead.
    let freeing = std::thread::Builder::new().name("floodgate-free-pass".into()).spawn(move || {
        let t = std::time::Instant::now();
        drop(st_owned);
        let ms = t.elapsed().as_millis() as u64;
        tracing::debug!(target: "floodgate::trace::index", ms, "pass freed");
    });
    drop(freeing);
    let mut rep = rep?;
    rep.transfers = transfers;
    rep.update = update;
    rep.state_bytes = state_bytes?;
    Ok(rep)
}

/// Node ids a chunk of the index's records covers ([`Encoding`]).
const NODE_CHUNK: u32 = 1 << 15;

/// One chunk of the index's records, encoded: its entries with record offsets from the
/// chunk's start. Also one asset's records encoded ahead ([`encode_asset`]; asset index 0).
#[derive(Default, Clone, Debug)]
pub(crate) struct Encoded {
    records: Vec<u8>,
    /// (node, asset index, fewest poison hops, record offset).
    entries: Vec<(u32, u16, u8, u64)>,
    exposed: u64,
    round_trips: u64,
}

impl Encoded {
    /// Appends the record of node `n` of asset `ai` in state `s`, when it received
    /// something.
    fn push_node(&mut self, codes: &FxHashMap<u32, u8>, n: u32, ai: u16, s: &NodeState) {
        if !s.received() {
            return;
        }
        let arrivals = s.arrivals();
        // Nothing received from a category: the record is the total alone.
        let recv = s.recv().filter(|r| !r.origins.is_empty() || !r.poison.is_empty());
        if recv.is_some() {
            self.exposed += 1;
        }
        let cats = match recv {
            _ if s.wide() => None,
            None => Some(Vec::new()),
            Some(r) => categories(r, codes),
        };
        let at = self.records.len() as u64;
        let flags =
            encode_record(s.round_trip(), s.total, arrivals, cats.as_deref(), &mut self.records);
        if flags & FLAG_ROUND_TRIP != 0 {
            self.round_trips += 1;
        }
        // The fewest hops of any poison label that arrived: the last arrival's.
        let hops = arrivals.last().map_or(NONE_HOPS as u8, |a| a.hops);
        self.entries.push((n, ai, hops, at));
    }
}

/// Each tagged node's category code, as the index's records ask it.
pub(crate) fn tag_codes(tags: &HashMap<NodeId, RiskCategory>) -> FxHashMap<u32, u8> {
    tags.iter().map(|(n, c)| (n.0, c.code())).collect()
}

/// The index's records of one asset's pass, in node order, encoded ahead of the index (while
/// another asset is still replaying, on the core that would wait): [`Encoding`] copies them
/// in where one thread encoding every record in (node, asset) order would write them.
pub(crate) fn encode_asset(nodes: &Nodes, codes: &FxHashMap<u32, u8>) -> Encoded {
    let mut e = Encoded::default();
    for (n, s) in nodes.iter() {
        e.push_node(codes, n, 0, s);
    }
    e.records.shrink_to_fit();
    e.entries.shrink_to_fit();
    e
}

/// Where an asset's records come from: its pass, or its records encoded ahead.
#[derive(Clone, Copy)]
enum Source<'a> {
    Pass(&'a Nodes),
    Ahead(&'a Encoded),
}

/// Chunks encoded and not yet written, and those a helper took and did not finish.
#[derive(Default)]
struct Done {
    chunks: std::collections::BTreeMap<usize, Encoded>,
    abandoned: Vec<usize>,
}

/// The index's records of a pass, encoded in chunks of node ids ([`NODE_CHUNK`]) by whichever
/// thread is free: the writer ([`write_index`]) and, once the saved pass is written, the
/// thread that wrote it ([`Encoding::help`]). The writer writes them in order, so the bytes
/// are those of one thread encoding every record in (node, asset) order.
struct Encoding<'a> {
    /// Per asset index of the graph, its pass or its records encoded ahead.
    passes: Vec<Option<Source<'a>>>,
    /// Each tagged node's category code, asked once per origin of every record.
    codes: FxHashMap<u32, u8>,
    nodes: u32,
    /// Node ids a chunk covers ([`NODE_CHUNK`]; fewer in tests).
    chunk: u32,
    chunks: usize,
    next: std::sync::atomic::AtomicUsize,
    done: std::sync::Mutex<Done>,
    ready: std::sync::Condvar,
}

/// A chunk a thread is encoding: handed back to the writer when the thread fails.
struct Claim<'e, 'a> {
    enc: &'e Encoding<'a>,
    chunk: usize,
    finished: bool,
}

impl Drop for Claim<'_, '_> {
    fn drop(&mut self) {
        if !self.finished {
            self.enc.lock().abandoned.push(self.chunk);
            self.enc.ready.notify_all();
        }
    }
}

impl<'a> Encoding<'a> {
    fn new(
        graph: &Graph,
        tags: &HashMap<NodeId, RiskCategory>,
        st: &'a PassState,
        chunk: u32,
    ) -> Encoding<'a> {
        let passes = graph
            .assets()
            .iter()
            .map(|a| {
                st.assets.get(a).map(|p| match p.ahead() {
                    Some(e) => Source::Ahead(e),
                    None => Source::Pass(&p.nodes),
                })
            })
            .collect();
        let nodes = graph.node_count();
        Encoding {
            passes,
            codes: tag_codes(tags),
            nodes,
            chunk,
            chunks: nodes.div_ceil(chunk) as usize,
            next: std::sync::atomic::AtomicUsize::new(0),
            done: std::sync::Mutex::new(Done::default()),
            ready: std::sync::Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Done> {
        self.done.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next chunk no thread has taken.
    fn claim(&self) -> Option<usize> {
        let c = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (c < self.chunks).then_some(c)
    }

    /// Leaves every chunk not yet taken untaken.
    fn stop(&self) {
        self.next.store(self.chunks, std::sync::atomic::Ordering::Relaxed);
    }

    /// Encodes chunks until none is left, for the writer to write.
    fn help(&self) {
        while let Some(chunk) = self.claim() {
            let e = self.encode_claimed(chunk);
            self.lock().chunks.insert(chunk, e);
            self.ready.notify_all();
        }
    }

    /// [`Encoding::encode`] of a chunk this thread claimed: handed back to the writer if the
    /// thread fails before it is done ([`Claim`]).
    fn encode_claimed(&self, chunk: usize) -> Encoded {
        let mut claim = Claim { enc: self, chunk, finished: false };
        let e = self.encode(chunk);
        claim.finished = true;
        e
    }

    /// The records of the nodes of chunk `c` that received something, in (node, asset) order.
    /// The records of an asset encoded ahead are copied in (their counts of exposed and
    /// round-trip entries are the writer's to add, once: [`Encoding::ahead_counts`]).
    fn encode(&self, c: usize) -> Encoded {
        let lo = c as u32 * self.chunk;
        let hi = lo.saturating_add(self.chunk).min(self.nodes);
        let mut e = Encoded::default();
        // Per asset encoded ahead, its next entry in this chunk.
        let mut at: Vec<usize> = self
            .passes
            .iter()
            .map(|p| match p {
                Some(Source::Ahead(a)) => a.entries.partition_point(|x| x.0 < lo),
                _ => 0,
            })
            .collect();
        for n in lo..hi {
            for (ai, p) in self.passes.iter().enumerate() {
                match *p {
                    None => {}
                    Some(Source::Pass(p)) => {
                        if let Some(s) = p.get(n) {
                            e.push_node(&self.codes, n, ai as u16, s);
                        }
                    }
                    Some(Source::Ahead(a)) => {
                        let i = at[ai];
                        let Some(&(m, _, hops, from)) = a.entries.get(i) else { continue };
                        if m != n {
                            continue;
                        }
                        let to = a.entries.get(i + 1).map_or(a.records.len() as u64, |x| x.3);
                        e.entries.push((n, ai as u16, hops, e.records.len() as u64));
                        e.records.extend_from_slice(&a.records[from as usize..to as usize]);
                        at[ai] = i + 1;
                    }
                }
            }
        }
        e
    }

    /// The exposed and round-trip entries of the assets encoded ahead.
    fn ahead_counts(&self) -> (u64, u64) {
        self.passes.iter().fold((0, 0), |(x, r), p| match p {
            Some(Source::Ahead(a)) => (x + a.exposed, r + a.round_trips),
            _ => (x, r),
        })
    }

    /// Entries (node, asset) of the index: every node that received in an asset's pass.
    fn entries(&self) -> u64 {
        self.passes
            .iter()
            .flatten()
            .map(|p| match p {
                Source::Pass(p) => p.values().filter(|s| s.received()).count() as u64,
                Source::Ahead(a) => a.entries.len() as u64,
            })
            .sum()
    }

    /// Chunk `c`, once encoded: by this thread when no thread took it yet or one gave it up,
    /// else when the thread that took it hands it over.
    fn take(&self, c: usize) -> Encoded {
        let mut done = self.lock();
        loop {
            if let Some(e) = done.chunks.remove(&c) {
                return e;
            }
            if let Some(i) = done.abandoned.iter().position(|&a| a == c) {
                done.abandoned.swap_remove(i);
                drop(done);
                return self.encode(c);
            }
            done = self.ready.wait(done).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Writes the index of the pass `st` over `graph` to `path`, its records encoded by this
/// thread and by any other that [`Encoding::help`]s `enc` meanwhile.
fn write_index(
    graph: &Graph,
    tags: &HashMap<NodeId, RiskCategory>,
    path: &Path,
    enc: &Encoding<'_>,
) -> Result<IndexBuildReport, GraphError> {
    let state = IndexState::of(graph, tags);
    let assets = graph.assets();
    // (node, asset) entries: every node that received in an asset's pass.
    let entries_count: u64 = enc.entries();
    let (exposed, round_trips) = enc.ahead_counts();
    let mut rep = IndexBuildReport {
        path: path.to_owned(),
        bytes: 0,
        state_bytes: 0,
        transfers: 0,
        entries: entries_count,
        exposed,
        round_trips,
        update: IndexUpdate::Rebuilt { reason: String::new() },
    };
    let mut names: Vec<u8> = Vec::new();
    for a in &assets {
        names.extend_from_slice(&(a.len() as u16).to_le_bytes());
        names.extend_from_slice(a.as_bytes());
    }
    let records_at = HEADER_LEN + names.len() + entries_count as usize * ENTRY_LEN;
    let mut out = Replacing::create(path)?;
    // The records are most of the file: they are encoded in chunks and written at their place
    // as they come, the entries (12 bytes each) held until the records are written. The
    // checksum takes the assets, each chunk of records as it is written, then the entries.
    let mut sum = crc32fast::Hasher::new();
    sum.update(&names);
    out.write(&[0u8; HEADER_LEN])?;
    out.write(&names)?;
    out.seek(records_at as u64)?;
    let mut entries: Vec<u8> = Vec::with_capacity(entries_count as usize * ENTRY_LEN);
    let mut records = 0u64;
    // This thread writes every chunk it can in order, then encodes the next one no thread
    // took; once none is left, it waits for those others took.
    let mut written = 0usize;
    // Chunks this thread encoded before the ones before them were handed over.
    let mut encoded: Vec<(usize, Encoded)> = Vec::new();
    loop {
        while let Some(e) = match encoded.iter().position(|(c, _)| *c == written) {
            Some(i) => Some(encoded.swap_remove(i).1),
            None => enc.lock().chunks.remove(&written),
        } {
            for &(n, ai, hops, at) in &e.entries {
                let at = records + at;
                if at >= MAX_RECORDS {
                    return Err(GraphError::Limit {
                        detail: format!("the exposure index's records exceed {MAX_RECORDS} bytes"),
                    });
                }
                entries.extend_from_slice(&n.to_le_bytes());
                entries.extend_from_slice(&ai.to_le_bytes());
                entries.push(hops);
                entries.extend_from_slice(&at.to_le_bytes()[..5]);
            }
            out.write(&e.records)?;
            sum.update(&e.records);
            records += e.records.len() as u64;
            rep.exposed += e.exposed;
            rep.round_trips += e.round_trips;
            written += 1;
        }
        if written == enc.chunks {
            break;
        }
        match enc.claim() {
            Some(c) => encoded.push((c, enc.encode_claimed(c))),
            None => encoded.push((written, enc.take(written))),
        }
    }
    debug_assert_eq!(entries.len() as u64, entries_count * ENTRY_LEN as u64);
    out.seek((HEADER_LEN + names.len()) as u64)?;
    out.write(&entries)?;
    sum.update(&entries);
    drop(entries);
    let mut head = Vec::with_capacity(HEADER_LEN);
    head.extend_from_slice(MAGIC);
    head.extend_from_slice(&INDEX_VERSION.to_le_bytes());
    head.extend_from_slice(&(assets.len() as u32).to_le_bytes());
    head.extend_from_slice(&rep.entries.to_le_bytes());
    head.extend_from_slice(&state.edges.to_le_bytes());
    head.extend_from_slice(&state.nodes.to_le_bytes());
    head.extend_from_slice(&1u32.to_le_bytes()); // flags: bit 0 = peel chains followed
    head.extend_from_slice(&state.graph);
    head.extend_from_slice(&state.tags);
    head.extend_from_slice(&body_checksum(sum));
    head.extend_from_slice(&records.to_le_bytes());
    debug_assert_eq!(head.len(), HEADER_LEN);
    out.seek(0)?;
    out.write(&head)?;
    rep.bytes = records_at as u64 + records;
    out.finish()?;
    Ok(rep)
}

/// The header's body checksum field of version 5: the CRC-32, then 28 zero bytes.
fn body_checksum(sum: crc32fast::Hasher) -> [u8; 32] {
    let mut field = [0u8; 32];
    field[..4].copy_from_slice(&sum.finalize().to_le_bytes());
    field
}

/// A file written beside its final path (`<path>.tmp`), then synced and renamed over it, so
/// a reader sees the old file or the new one whole, never a torn one. I/O errors name the
/// file.
pub(crate) struct Replacing {
    f: std::fs::File,
    tmp: PathBuf,
    path: PathBuf,
}

impl Replacing {
    pub(crate) fn create(path: &Path) -> Result<Replacing, GraphError> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|source| GraphError::Io { path: tmp.clone(), source })?;
        Ok(Replacing { f, tmp, path: path.to_owned() })
    }
    fn io(&self) -> impl FnOnce(std::io::Error) -> GraphError + '_ {
        |source| GraphError::Io { path: self.tmp.clone(), source }
    }
    pub(crate) fn write(&mut self, b: &[u8]) -> Result<(), GraphError> {
        use std::io::Write;
        self.f.write_all(b).map_err(|source| GraphError::Io { path: self.tmp.clone(), source })
    }
    pub(crate) fn seek(&mut self, at: u64) -> Result<(), GraphError> {
        use std::io::{Seek, SeekFrom};
        self.f.seek(SeekFrom::Start(at)).map(drop).map_err(self.io())
    }
    /// Syncs the file and renames it over the final path.
    pub(crate) fn finish(self) -> Result<(), GraphError> {
        self.f.sync_all().map_err(|source| GraphError::Io { path: self.tmp.clone(), source })?;
        drop(self.f);
        std::fs::rename(&self.tmp, &self.path)
            .map_err(|source| GraphError::Io { path: self.path.clone(), source })
    }
}

/// One category's record while writing.
struct CatRec {
    code: u8,
    haircut: [u128; 4],
    haircut_min: u32,
    poison: [u128; 4],
    poison_min: u32,
    /// (origin, fewest hops, value per bucket), largest within 6 hops first (then by origin):
    /// the first `top` of them.
    sources: [CatSource; MAX_SOURCES],
    top: usize,
}

/// A source of a category: (origin, fewest hops, value per bucket).
type CatSource = (u32, u32, [u128; 4]);

impl CatRec {
    /// A category with nothing received yet.
    fn new(code: u8) -> CatRec {
        CatRec {
            code,
            haircut: [0; 4],
            haircut_min: NONE_HOPS,
            poison: [0; 4],
            poison_min: NONE_HOPS,
            sources: [(0, 0, [0; 4]); MAX_SOURCES],
            top: 0,
        }
    }

    fn sources(&self) -> &[CatSource] {
        &self.sources[..self.top]
    }
    /// Keeps `s` when it is among the [`MAX_SOURCES`] largest within 6 hops (ties: the lower
    /// origin first), as sorting every source so and keeping the first would. Origins are
    /// distinct, so the order is total.
    fn offer(&mut self, s: CatSource) {
        let before =
            |a: &CatSource, b: &CatSource| a.2[3] > b.2[3] || (a.2[3] == b.2[3] && a.0 < b.0);
        let at = self.sources[..self.top].iter().position(|x| before(&s, x)).unwrap_or(self.top);
        if at == MAX_SOURCES {
            return;
        }
        let end = (self.top + 1).min(MAX_SOURCES);
        self.sources.copy_within(at..end - 1, at + 1);
        self.sources[at] = s;
        self.top = end;
    }
}

/// The categories of what a node received, in category order; `None` when a value does not
/// fit 128 bits.
fn categories(r: &Recv, codes: &FxHashMap<u32, u8>) -> Option<Vec<CatRec>> {
    // A few categories a record: found by a look along the list, sorted at the end.
    let mut out: Vec<CatRec> = Vec::new();
    let entry = |out: &mut Vec<CatRec>, code: u8| -> usize {
        match out.iter().position(|c| c.code == code) {
            Some(i) => i,
            None => {
                out.push(CatRec::new(code));
                out.len() - 1
            }
        }
    };
    let mut fits = true;
    each_origin(&r.origins, |o, v, min| {
        let Some(&c) = codes.get(&o) else { return };
        let i = entry(&mut out, c);
        let e = &mut out[i];
        for (x, y) in e.haircut.iter_mut().zip(v) {
            match x.checked_add(y) {
                Some(s) => *x = s,
                None => fits = false,
            }
        }
        e.haircut_min = e.haircut_min.min(min);
        e.offer((o, min, v));
    })?;
    if !fits {
        return None;
    }
    let mut code_fits = true;
    each_origin(&r.poison, |code, v, min| {
        let Ok(code) = u8::try_from(code) else {
            code_fits = false;
            return;
        };
        let i = entry(&mut out, code);
        out[i].poison = v;
        out[i].poison_min = min;
    })?;
    if !code_fits {
        return None;
    }
    out.sort_unstable_by_key(|c| c.code);
    Some(out)
}

/// Appends the arrivals of a record: their count, then each one's hops `u8`, time `u32` and
/// storage place `var`.
fn put_arrivals(out: &mut Vec<u8>, arrivals: &[Arrival]) {
    // At most one per hop count, 0 to 6.
    out.push(arrivals.len() as u8);
    for a in arrivals {
        out.push(a.hops);
        out.extend_from_slice(&a.time.to_le_bytes());
        put_var(out, u128::from(a.seq));
    }
}

/// Appends the record of one entry (format version 3: flags, category count, total, the
/// arrivals, then the categories' varints; the four bucket values of a row as the first and
/// three differences, each bucket holding the one before it); `None` categories (a value
/// wider than 128 bits) leave a wide record, holding no value but the arrivals. Returns the
/// flags written.
fn encode_record(
    round_trip: bool,
    total: u128,
    arrivals: &[Arrival],
    cats: Option<&[CatRec]>,
    out: &mut Vec<u8>,
) -> u8 {
    let at = out.len();
    let flags = if round_trip { FLAG_ROUND_TRIP } else { 0 };
    let fits = cats.and_then(|cats| {
        out.push(flags);
        out.push(cats.len() as u8);
        put_var(out, total);
        put_arrivals(out, arrivals);
        let four = |v: &[u128; 4], out: &mut Vec<u8>| -> Option<()> {
            let mut prev = 0u128;
            for &x in v {
                put_var(out, x.checked_sub(prev)?);
                prev = x;
            }
            Some(())
        };
        for c in cats {
            out.push(c.code);
            out.push(c.haircut_min.min(255) as u8);
            out.push(c.poison_min.min(255) as u8);
            out.push(c.sources().len() as u8);
            four(&c.haircut, out)?;
            four(&c.poison, out)?;
            for (o, min, v) in c.sources() {
                put_var(out, u128::from(*o));
                out.push((*min).min(255) as u8);
                four(v, out)?;
            }
        }
        Some(())
    });
    if fits.is_some() {
        return flags;
    }
    out.truncate(at);
    out.extend_from_slice(&[flags | FLAG_WIDE, 0, 0]);
    put_arrivals(out, arrivals);
    flags | FLAG_WIDE
}

/// A bounds-checked reader of one version-2 or version-3 record.
struct Cur<'a> {
    b: &'a [u8],
    at: usize,
    /// Version 3: the record holds arrivals after its total.
    arrivals: bool,
}

impl Cur<'_> {
    fn u8(&mut self) -> Option<u8> {
        let x = *self.b.get(self.at)?;
        self.at += 1;
        Some(x)
    }
    fn var(&mut self) -> Option<u128> {
        crate::pass::read_var128(self.b, &mut self.at)
    }
    fn four(&mut self) -> Option<[u128; 4]> {
        let mut v = [0u128; 4];
        let mut prev = 0u128;
        for x in &mut v {
            prev = prev.checked_add(self.var()?)?;
            *x = prev;
        }
        Some(v)
    }
    fn u32(&mut self) -> Option<u32> {
        let b = self.b.get(self.at..self.at + 4)?;
        self.at += 4;
        Some(le_u32(b, 0))
    }
    /// Reads a version-3 record's arrivals, checked to be in order (each nearer than the
    /// one before and not earlier), into `out`; the fewest hops (or [`NONE_HOPS`]).
    fn arrivals(&mut self, mut out: impl FnMut(Arrival)) -> Option<u8> {
        let n = self.u8()?;
        let mut last: Option<Arrival> = None;
        for _ in 0..n {
            let hops = self.u8()?;
            let time = self.u32()?;
            let seq = u64::try_from(self.var()?).ok()?;
            let a = Arrival { seq, time, hops };
            let ordered = last.is_none_or(|l| hops < l.hops && (time, seq) >= (l.time, l.seq));
            if !ordered || u32::from(hops) > BUCKETS[3] {
                return None;
            }
            last = Some(a);
            out(a);
        }
        Some(last.map_or(NONE_HOPS as u8, |l| l.hops))
    }
    /// Reads one record: its flags, total and fewest poison hops of its arrivals
    /// ([`NONE_HOPS`] without, and in version 2), and its categories into `out` (only
    /// checked without one).
    fn record(&mut self, mut out: Option<&mut Vec<IndexedCategory>>) -> Option<(u8, u128, u8)> {
        let flags = self.u8()?;
        let ncat = usize::from(self.u8()?);
        let total = self.var()?;
        let near = if self.arrivals { self.arrivals(|_| {})? } else { NONE_HOPS as u8 };
        for _ in 0..ncat {
            let category = RiskCategory::from_code(self.u8()?)?;
            let (hmin, pmin) = (u32::from(self.u8()?), u32::from(self.u8()?));
            let nsrc = usize::from(self.u8()?);
            let haircut = self.four()?;
            let poison = self.four()?;
            let mut sources = Vec::new();
            for _ in 0..nsrc {
                let node = NodeId(u32::try_from(self.var()?).ok()?);
                let hops = u32::from(self.u8()?);
                let value = self.four()?;
                if out.is_some() {
                    sources.push(IndexedSource { node, hops, value });
                }
            }
            if let Some(o) = out.as_deref_mut() {
                o.push(IndexedCategory {
                    category,
                    haircut,
                    haircut_min_hops: hmin,
                    poison,
                    poison_min_hops: pmin,
                    sources,
                });
            }
        }
        Some((flags, total, near))
    }
}

/// The exposure index of a graph, mapped read-only.
#[derive(Debug)]
pub struct ExposureIndex {
    path: PathBuf,
    map: Mmap,
    state: IndexState,
    assets: Vec<String>,
    /// The file's format version (1 or 2).
    version: u32,
    /// Bytes per entry (by version).
    entry_len: usize,
    /// Byte offsets of the entry table and of the records.
    entries_at: usize,
    records_at: usize,
    count: usize,
}

/// One category of an indexed entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexedCategory {
    /// The category.
    pub category: RiskCategory,
    /// Haircut: value received from the category within 1, 2, 3 and 6 hops (base units).
    pub haircut: [u128; 4],
    /// Fewest hops of any haircut value (255 = none).
    pub haircut_min_hops: u32,
    /// Poison: value of the transfers received that carried any of it, within 1, 2, 3, 6 hops.
    pub poison: [u128; 4],
    /// Fewest hops at which any of it arrived (255 = none).
    pub poison_min_hops: u32,
    /// The largest origins within 6 hops (at most 3), as evidence.
    pub sources: Vec<IndexedSource>,
}

/// One origin of a category, as evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexedSource {
    /// The tagged node.
    pub node: NodeId,
    /// Fewest hops its value came at.
    pub hops: u32,
    /// Haircut value from it within 1, 2, 3 and 6 hops.
    pub value: [u128; 4],
}

/// What the index holds for one node in one asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexedExposure {
    /// The asset.
    pub asset: String,
    /// Value received in the asset (self-transfers left out): the base of every share.
    pub total: u128,
    /// The node sent labelled value and received afterwards: some of what it received may
    /// have been its own coming back, which a query leaves untraced; the values here are
    /// then at least the query's.
    pub round_trip: bool,
    /// A value did not fit 128 bits: nothing is indexed (ask per query).
    pub wide: bool,
    /// Categories with any value, in category order.
    pub categories: Vec<IndexedCategory>,
}

/// A place in replay order: (time, storage order), as [`floodgate_graph::Leg`]'s `time` and
/// `seq`.
pub(crate) type Place = (u32, u64);

/// Per hop count 0 to 6, the first place in replay order at which poison labels of at most
/// that many hops reached an address ([`ExposureIndex::first_arrivals`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FirstArrivals([Place; 7]);

impl FirstArrivals {
    /// Never.
    const NEVER: Place = (u32::MAX, u64::MAX);
    /// No label ever arrived.
    pub(crate) const NONE: FirstArrivals = FirstArrivals([Self::NEVER; 7]);
    /// Every label may have been there from the start (the index cannot say).
    pub(crate) const START: FirstArrivals = FirstArrivals([(0, 0); 7]);

    /// Labels of at most `hops` hops arrived at `place` (arrivals come in replay order).
    pub(crate) fn arrived(&mut self, hops: u8, place: Place) {
        for p in self.0.iter_mut().skip(usize::from(hops)) {
            *p = (*p).min(place);
        }
    }

    /// The time the first label of any hop count arrived (0: may have been there from the
    /// start; `u32::MAX`: none arrived).
    pub(crate) fn first_time(&self) -> u32 {
        self.0[6].0
    }

    /// Whether no label of at most `hops` hops had arrived before `place`, nor at it. A
    /// transfer a node sends at `place` takes from what it held then, which holds the
    /// transfers it received at an earlier place and at the same one (inside one account
    /// transaction, what a node receives comes before what it sends): only labels that
    /// arrived later are not in it. (`hops` above 6: the index cannot say.)
    pub(crate) fn before(&self, hops: u32, place: Place) -> bool {
        usize::try_from(hops).ok().and_then(|h| self.0.get(h)).is_some_and(|&p| p > place)
    }
}

impl IndexedExposure {
    /// The bucket of a hop limit, when the index has it.
    pub fn bucket(hops: u32) -> Option<usize> {
        BUCKETS.iter().position(|&b| b == hops)
    }

    /// Haircut value from `category` within `hops` (one of [`BUCKETS`]).
    pub fn haircut(&self, category: RiskCategory, hops: u32) -> Option<u128> {
        let b = Self::bucket(hops)?;
        Some(self.categories.iter().find(|c| c.category == category).map_or(0, |c| c.haircut[b]))
    }

    /// As an exposure report for `model` (haircut or poison) at `hops` (one of
    /// [`BUCKETS`]); `None` for another model or hop limit, or a wide entry.
    pub fn report(
        &self,
        graph: &Graph,
        target: &str,
        model: TaintModel,
        hops: u32,
    ) -> Option<ExposureReport> {
        let b = Self::bucket(hops)?;
        if self.wide || !matches!(model, TaintModel::Haircut | TaintModel::Poison) {
            return None;
        }
        let poison = model == TaintModel::Poison;
        let total = U256::from(self.total);
        let mut attributed = 0u128;
        let mut categories: Vec<CategoryExposure> = Vec::new();
        for c in &self.categories {
            let (v, min) = if poison {
                (c.poison, c.poison_min_hops)
            } else {
                (c.haircut, c.haircut_min_hops)
            };
            if v[b] == 0 {
                continue;
            }
            attributed = attributed.saturating_add(v[b]);
            let mut sources: Vec<ExposureSource> = c
                .sources
                .iter()
                .filter(|s| s.value[b] > 0)
                .map(|s| ExposureSource {
                    node: graph.key(s.node).into_owned(),
                    value: Amount::from_base_units(s.value[b]),
                    hops: s.hops,
                })
                .collect();
            sources.sort_by(|x, y| y.value.cmp(&x.value).then(x.node.cmp(&y.node)));
            categories.push(CategoryExposure {
                category: c.category,
                risk: c.category.is_risk(),
                value: Amount::from_base_units(v[b]),
                share: crate::exposure::ratio(U256::from(v[b]), total),
                direct: Amount::from_base_units(v[0]),
                indirect: Amount::from_base_units(v[b] - v[0]),
                min_hops: min,
                sources,
            });
        }
        categories.sort_by(|x, y| y.value.cmp(&x.value).then(x.category.cmp(&y.category)));
        Some(ExposureReport {
            target: target.to_owned(),
            direction: Direction::In,
            model,
            hops,
            asset: self.asset.clone(),
            total: Amount::from_base_units(self.total),
            categories,
            untraced: Amount::from_base_units(if poison {
                0
            } else {
                self.total.saturating_sub(attributed)
            }),
            peel_links: 0,
            ignore_time: false,
            from_index: true,
        })
    }
}

fn corrupt(path: &Path, offset: usize, detail: impl Into<String>) -> GraphError {
    GraphError::Corrupt { path: path.to_owned(), offset: offset as u64, detail: detail.into() }
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(x)
}
fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}
fn le_u128(b: &[u8], at: usize) -> u128 {
    let mut x = [0u8; 16];
    x.copy_from_slice(&b[at..at + 16]);
    u128::from_le_bytes(x)
}

impl ExposureIndex {
    /// The index file of the graph in `graph_dir`.
    pub fn path_in(graph_dir: &Path) -> PathBuf {
        graph_dir.join(INDEX_FILE)
    }

    /// Opens and maps the index at `path`, checking its header, structure and body checksum.
    ///
    /// # Errors
    /// [`GraphError::NotBuilt`] when there is no file; [`GraphError::UnsupportedVersion`];
    /// [`GraphError::Corrupt`] naming the file and offset; I/O errors.
    pub fn open(path: &Path) -> Result<ExposureIndex, GraphError> {
        if !path.exists() {
            return Err(GraphError::NotBuilt { path: path.to_owned() });
        }
        // Written beside and renamed into place, never rewritten: immutable while mapped.
        let map = floodgate_graph::map_immutable(path)?;
        let b = &map[..];
        if b.len() < HEADER_LEN || &b[..8] != MAGIC {
            return Err(corrupt(path, 0, "not an exposure index (bad magic or too short)"));
        }
        let version = le_u32(b, 8);
        if !(1..=INDEX_VERSION).contains(&version) {
            return Err(GraphError::UnsupportedVersion {
                what: "exposure index",
                path: path.to_owned(),
                found: version,
                supported: INDEX_VERSION,
            });
        }
        let asset_count = le_u32(b, 12) as usize;
        let count = usize::try_from(le_u64(b, 16))
            .map_err(|_| corrupt(path, 16, "entry count too large"))?;
        let mut g = [0u8; 32];
        g.copy_from_slice(&b[40..72]);
        let mut t = [0u8; 32];
        t.copy_from_slice(&b[72..104]);
        let state = IndexState { nodes: le_u32(b, 32), edges: le_u64(b, 24), graph: g, tags: t };
        let records_len = usize::try_from(le_u64(b, 136))
            .map_err(|_| corrupt(path, 136, "records length too large"))?;
        let mut at = HEADER_LEN;
        let mut assets = Vec::with_capacity(asset_count);
        for _ in 0..asset_count {
            if at + 2 > b.len() {
                return Err(corrupt(path, at, "asset table runs past the end"));
            }
            let len = usize::from(u16::from_le_bytes([b[at], b[at + 1]]));
            at += 2;
            let s = b
                .get(at..at + len)
                .and_then(|s| std::str::from_utf8(s).ok())
                .ok_or_else(|| corrupt(path, at, "asset name is not UTF-8 inside the file"))?;
            assets.push(s.to_owned());
            at += len;
        }
        let entries_at = at;
        let entry_len = if version == 1 { ENTRY_LEN_V1 } else { ENTRY_LEN };
        let records_at = count
            .checked_mul(entry_len)
            .and_then(|x| x.checked_add(entries_at))
            .ok_or_else(|| corrupt(path, 16, "entry count too large"))?;
        if records_at.checked_add(records_len) != Some(b.len()) {
            return Err(corrupt(
                path,
                entries_at,
                format!(
                    "{count} entries and {records_len} record bytes do not fill the file of {} bytes",
                    b.len()
                ),
            ));
        }
        // Versions 4 and 5 hash the assets, the records, then the entries (as they are
        // written), version 5 with a CRC-32; earlier versions the body in file order.
        let written = [&b[HEADER_LEN..entries_at], &b[records_at..], &b[entries_at..records_at]];
        let sum: [u8; 32] = if version >= 5 {
            let mut h = crc32fast::Hasher::new();
            written.iter().for_each(|part| h.update(part));
            body_checksum(h)
        } else if version == 4 {
            let mut h = Sha256::new();
            written.iter().for_each(|part| h.update(part));
            h.finalize().into()
        } else {
            Sha256::digest(&b[HEADER_LEN..]).into()
        };
        if sum[..] != b[104..136] {
            return Err(corrupt(path, HEADER_LEN, "body checksum does not match the header"));
        }
        let idx = ExposureIndex {
            path: path.to_owned(),
            map,
            state,
            assets,
            version,
            entry_len,
            entries_at,
            records_at,
            count,
        };
        idx.check_entries()?;
        Ok(idx)
    }

    /// Checks the entry table: sorted, each record inside the file and, before version 5,
    /// well formed (of the length its counts say), so that lookups never read out of bounds.
    /// A version-5 record is not decoded here: at 50M transfers decoding every one took more
    /// than half of the 2.6 s a version-4 open took. Its bytes are those written (the body
    /// checksum), and a lookup reads it with bounds checked, a record that does not decode
    /// reading as wide (the query traced per query).
    fn check_entries(&self) -> Result<(), GraphError> {
        let b = &self.map[..];
        let rec_len = b.len() - self.records_at;
        let mut last: Option<(u32, u16)> = None;
        for i in 0..self.count {
            let at = self.entries_at + i * self.entry_len;
            let key = (le_u32(b, at), u16::from_le_bytes([b[at + 4], b[at + 5]]));
            if last.is_some_and(|l| l >= key) {
                return Err(corrupt(&self.path, at, "entries are not sorted by (node, asset)"));
            }
            if usize::from(key.1) >= self.assets.len() {
                return Err(corrupt(&self.path, at, format!("asset {} out of range", key.1)));
            }
            last = Some(key);
            let ok = if self.version == 1 {
                let off = usize::try_from(le_u64(b, at + 8)).unwrap_or(usize::MAX);
                let ncat = usize::from(b[at + 7]);
                let mut p = off.checked_add(16).filter(|&p| p <= rec_len);
                for _ in 0..ncat {
                    p = p.filter(|&p| p + CATEGORY_LEN_V1 <= rec_len).and_then(|p| {
                        let nsrc = usize::from(b[self.records_at + p + 3]);
                        let end = p + CATEGORY_LEN_V1 + nsrc * SOURCE_LEN_V1;
                        (end <= rec_len).then_some(end)
                    });
                }
                p.is_some()
            } else if self.version >= 5 {
                self.record_offset(i) < rec_len
            } else {
                let mut c = self.cursor(i);
                // Version 3: the entry's fewest hops is its record's arrivals'.
                c.record(None).is_some_and(|(_, _, near)| self.version < 3 || near == b[at + 6])
            };
            if !ok {
                return Err(corrupt(
                    &self.path,
                    at,
                    "entry's record runs past the end or is malformed",
                ));
            }
        }
        Ok(())
    }

    /// Where entry `i`'s record starts inside the records (versions 2 and 3: a `u48`, or a
    /// `u40` after the fewest hops).
    fn record_offset(&self, i: usize) -> usize {
        let (at, len) = match self.version {
            2 => (self.entries_at + i * self.entry_len + 6, 6),
            _ => (self.entries_at + i * self.entry_len + 7, 5),
        };
        let mut x = [0u8; 8];
        x[..len].copy_from_slice(&self.map[at..at + len]);
        usize::try_from(u64::from_le_bytes(x)).unwrap_or(usize::MAX)
    }

    /// A reader of entry `i`'s record (versions 2 and 3).
    fn cursor(&self, i: usize) -> Cur<'_> {
        let at = self.record_offset(i);
        Cur { b: &self.map[self.records_at..], at, arrivals: self.version >= 3 }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The graph and tags it was built from.
    pub fn state(&self) -> &IndexState {
        &self.state
    }

    /// Bytes of the file.
    pub fn bytes(&self) -> u64 {
        self.map.len() as u64
    }

    /// Entries (node, asset) held.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The node of entry `i` (entries are sorted by node, then asset).
    fn entry_node(&self, i: usize) -> u32 {
        le_u32(&self.map, self.entries_at + i * self.entry_len)
    }

    /// The first entry of `node`, or where it would be (binary search of the entry table).
    fn first_entry(&self, node: NodeId) -> usize {
        let (mut lo, mut hi) = (0usize, self.count);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.entry_node(mid) < node.0 {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// What the index holds for `node`: one entry per asset it received (empty when it
    /// received nothing).
    pub fn lookup(&self, node: NodeId) -> Vec<IndexedExposure> {
        let mut out = Vec::new();
        let mut i = self.first_entry(node);
        while i < self.count && self.entry_node(i) == node.0 {
            out.push(self.decode(i));
            i += 1;
        }
        out
    }

    /// The entry of `node` in `asset`, when it received in the asset.
    fn entry(&self, node: NodeId, asset: &str) -> Option<usize> {
        let b = &self.map[..];
        let mut i = self.first_entry(node);
        while i < self.count && self.entry_node(i) == node.0 {
            let at = self.entries_at + i * self.entry_len;
            let ai = usize::from(u16::from_le_bytes([b[at + 4], b[at + 5]]));
            if self.assets.get(ai).is_some_and(|a| a == asset) {
                return Some(i);
            }
            i += 1;
        }
        None
    }

    /// When poison labels first reached `node` in `asset`, per hop count: where
    /// [`FirstArrivals::before`] says a transfer it sent carried none of at most so many hops.
    /// A causal query prunes its cone with it (`causal.rs`).
    ///
    /// The place of an arrival is that of the transfer that brought it, in replay order
    /// (time, then storage order: [`floodgate_graph::Leg::seq`]). An index of version 1 or 2
    /// holds no places: only the fewest hops, as if the labels were there from the start;
    /// and an entry of those versions that does not fit 128 bits, nothing (as if every label
    /// were there from the start).
    pub(crate) fn first_arrivals(&self, node: NodeId, asset: &str) -> FirstArrivals {
        let Some(i) = self.entry(node, asset) else {
            // It received nothing in the asset.
            return FirstArrivals::NONE;
        };
        let b = &self.map[..];
        let at = self.entries_at + i * self.entry_len;
        if self.version >= 3 {
            if u32::from(b[at + 6]) == NONE_HOPS {
                return FirstArrivals::NONE;
            }
            let mut c = self.cursor(i);
            let mut first = FirstArrivals::NONE;
            // Well formed: checked on open before version 5 (a record that is not bounds nothing).
            let read = (|| {
                c.u8()?;
                c.u8()?;
                c.var()?;
                c.arrivals(|a| first.arrived(a.hops, (a.time, a.seq)))
            })();
            return if read.is_some() { first } else { FirstArrivals::START };
        }
        let min = if self.version == 1 {
            let e = self.decode(i);
            if e.wide {
                return FirstArrivals::START;
            }
            e.categories.iter().map(|c| c.poison_min_hops).min().unwrap_or(NONE_HOPS)
        } else {
            let mut c = self.cursor(i);
            let mut min = NONE_HOPS;
            let mut cats = Vec::new();
            match c.record(Some(&mut cats)) {
                Some((flags, _, _)) if flags & FLAG_WIDE == 0 => {
                    cats.iter().for_each(|c| min = min.min(c.poison_min_hops));
                }
                _ => return FirstArrivals::START,
            }
            min
        };
        let mut first = FirstArrivals::NONE;
        if let Ok(h) = u8::try_from(min) {
            first.arrived(h, (0, 0));
        }
        first
    }

    /// What the index holds for `node` in `asset`.
    pub fn lookup_asset(&self, node: NodeId, asset: &str) -> Option<IndexedExposure> {
        self.lookup(node).into_iter().find(|e| e.asset == asset)
    }

    fn decode(&self, i: usize) -> IndexedExposure {
        let b = &self.map[..];
        let at = self.entries_at + i * self.entry_len;
        let ai = usize::from(u16::from_le_bytes([b[at + 4], b[at + 5]]));
        let asset = self.assets.get(ai).cloned().unwrap_or_default();
        if self.version == 1 {
            return self.decode_v1(i, asset);
        }
        let mut categories = Vec::new();
        let mut c = self.cursor(i);
        // Well formed: checked on open before version 5 (a record that is not reads as wide:
        // ask per query).
        let (flags, total) = match c.record(Some(&mut categories)) {
            Some((flags, total, _)) => (flags, total),
            None => {
                categories.clear();
                (FLAG_WIDE, 0)
            }
        };
        IndexedExposure {
            asset,
            total,
            round_trip: flags & FLAG_ROUND_TRIP != 0,
            wide: flags & FLAG_WIDE != 0,
            categories,
        }
    }

    /// An entry of a version-1 file (fixed `u128` values).
    fn decode_v1(&self, i: usize, asset: String) -> IndexedExposure {
        let b = &self.map[..];
        let at = self.entries_at + i * self.entry_len;
        let flags = b[at + 6];
        let ncat = usize::from(b[at + 7]);
        // In range: checked on open.
        let mut p = self.records_at + usize::try_from(le_u64(b, at + 8)).unwrap_or(0);
        let total = le_u128(b, p);
        p += 16;
        let mut categories = Vec::with_capacity(ncat);
        for _ in 0..ncat {
            let category = RiskCategory::from_code(b[p]).unwrap_or(RiskCategory::Service);
            let (hmin, pmin, nsrc) =
                (u32::from(b[p + 1]), u32::from(b[p + 2]), usize::from(b[p + 3]));
            p += 4;
            let four = |p: &mut usize| {
                let mut v = [0u128; 4];
                for x in &mut v {
                    *x = le_u128(b, *p);
                    *p += 16;
                }
                v
            };
            let haircut = four(&mut p);
            let poison = four(&mut p);
            let mut sources = Vec::with_capacity(nsrc);
            for _ in 0..nsrc {
                let node = NodeId(le_u32(b, p));
                let hops = u32::from(b[p + 4]);
                p += 5;
                sources.push(IndexedSource { node, hops, value: four(&mut p) });
            }
            categories.push(IndexedCategory {
                category,
                haircut,
                haircut_min_hops: hmin,
                poison,
                poison_min_hops: pmin,
                sources,
            });
        }
        IndexedExposure {
            asset,
            total,
            round_trip: flags & FLAG_ROUND_TRIP != 0,
            wide: flags & FLAG_WIDE != 0,
            categories,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A category's largest sources kept as they are offered give the first of all of them
    /// sorted (largest within 6 hops first, then by origin), ties and all; and the varints of
    /// 64-bit values written on their own path are those of the 128-bit loop.
    #[test]
    fn sources_kept_as_offered_are_the_first_sorted() {
        let mut next = crate::pass::tests::below(0x9e37_79b9_7f4a_7c15u64);
        for round in 0..2000u64 {
            let n = next(12) as usize;
            let mut all: Vec<CatSource> = Vec::new();
            let mut c = CatRec::new(0);
            for o in 0..n as u32 {
                // Few distinct values, so that ties are common; origins distinct, in any order.
                let v = u128::from(next(4)) << (64 * next(2));
                let s = ((o * 7 + round as u32) % 97, next(7) as u32, [v / 2, v / 2, v, v]);
                if all.iter().any(|a| a.0 == s.0) {
                    continue;
                }
                all.push(s);
                c.offer(s);
            }
            all.sort_by(|a, b| b.2[3].cmp(&a.2[3]).then(a.0.cmp(&b.0)));
            all.truncate(MAX_SOURCES);
            assert_eq!(c.sources(), &all[..], "round {round}");
        }
        for x in
            [0u128, 1, 127, 128, 300, u128::from(u64::MAX), u128::from(u64::MAX) + 1, u128::MAX]
        {
            let mut fast = Vec::new();
            put_var(&mut fast, x);
            let (mut slow, mut y) = (Vec::new(), x);
            while y >= 0x80 {
                slow.push((y as u8) | 0x80);
                y >>= 7;
            }
            slow.push(y as u8);
            assert_eq!(fast, slow, "{x}");
            let mut pass = Vec::new();
            crate::pass::put_var128(&mut pass, x);
            assert_eq!(pass, slow, "{x}");
        }
    }

    /// The index's records encoded by one thread, and by two in chunks of a few node ids
    /// (the second starting late, as the saved pass's thread does), give the same file.
    #[test]
    fn two_encoders_give_the_bytes_one_gives() {
        let mut next = crate::pass::tests::below(0x3c6e_f372_fe94_f82bu64);
        for round in 0..12u8 {
            let (dir, g, tags) = crate::pass::tests::world(round, &mut next);
            let st = PassState::full(&g, &tags);
            let one = dir.path().join("one.fgx");
            let enc = Encoding::new(&g, &tags, &st, NODE_CHUNK);
            write_index(&g, &tags, &one, &enc).unwrap();
            let one = std::fs::read(&one).unwrap();
            for chunk in [1, 2, 1 + next(20) as u32] {
                let two = dir.path().join("two.fgx");
                let enc = Encoding::new(&g, &tags, &st, chunk);
                let wait = next(3);
                let rep = std::thread::scope(|s| {
                    s.spawn(|| {
                        std::thread::sleep(std::time::Duration::from_micros(wait * 200));
                        enc.help();
                    });
                    write_index(&g, &tags, &two, &enc).unwrap()
                });
                assert_eq!(rep.bytes, one.len() as u64);
                assert_eq!(std::fs::read(&two).unwrap(), one, "round {round}, chunk {chunk}");
            }
        }
    }

    /// An index written with some assets' records encoded ahead (copied in) is the one
    /// written from the pass alone, with the same counts, whether one thread or two encode
    /// and in chunks of any size; so is the saved pass beside it.
    #[test]
    fn records_encoded_ahead_give_the_same_files() {
        let mut next = crate::pass::tests::below(0x5be0_cd19_137e_2179u64);
        for round in 0..12u8 {
            let (dir, g, tags) = crate::pass::tests::world(round, &mut next);
            let st = PassState::full_on(&g, &tags, 1);
            let one = dir.path().join("one.fgx");
            let want =
                write_index(&g, &tags, &one, &Encoding::new(&g, &tags, &st, NODE_CHUNK)).unwrap();
            let one = std::fs::read(&one).unwrap();
            let state_one = dir.path().join("one.fgxs");
            st.save(&state_one).unwrap();
            let codes = tag_codes(&tags);
            let pick = 1 + next(3);
            let mut ahead = st.clone();
            for (k, p) in ahead.assets.values_mut().enumerate() {
                if pick >> k & 1 == 1 {
                    p.encode_ahead(&codes);
                }
            }
            assert!(ahead.assets.values().any(|p| p.ahead().is_some()));
            for (chunk, helped) in [(1, true), (2, false), (1 + next(20) as u32, true)] {
                let two = dir.path().join("two.fgx");
                let enc = Encoding::new(&g, &tags, &ahead, chunk);
                let rep = std::thread::scope(|s| {
                    if helped {
                        s.spawn(|| enc.help());
                    }
                    write_index(&g, &tags, &two, &enc).unwrap()
                });
                assert_eq!(std::fs::read(&two).unwrap(), one, "round {round}, chunk {chunk}");
                assert_eq!(
                    (rep.bytes, rep.entries, rep.exposed, rep.round_trips),
                    (want.bytes, want.entries, want.exposed, want.round_trips)
                );
            }
            let state_two = dir.path().join("two.fgxs");
            ahead.save(&state_two).unwrap();
            assert_eq!(std::fs::read(&state_two).unwrap(), std::fs::read(&state_one).unwrap());
        }
    }

    /// A chunk the helper took and gave up (it failed) is encoded by the writer.
    #[test]
    fn a_chunk_given_up_is_encoded_by_the_writer() {
        let mut next = crate::pass::tests::below(0xa54f_f53a_5f1d_36f1u64);
        let (dir, g, tags) = crate::pass::tests::world(3, &mut next);
        let st = PassState::full(&g, &tags);
        let one = dir.path().join("one.fgx");
        write_index(&g, &tags, &one, &Encoding::new(&g, &tags, &st, NODE_CHUNK)).unwrap();
        let enc = Encoding::new(&g, &tags, &st, 4);
        assert!(enc.chunks > 2);
        // Taken, then dropped unfinished.
        drop(Claim { enc: &enc, chunk: enc.claim().unwrap(), finished: false });
        let two = dir.path().join("two.fgx");
        write_index(&g, &tags, &two, &enc).unwrap();
        assert_eq!(std::fs::read(&two).unwrap(), std::fs::read(&one).unwrap());
    }
}
