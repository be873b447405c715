//! The persisted clustering: one file, `entities.fge`, in the graph directory, rewritten
//! atomically (temp file, fsync, rename) by `floodgate trace build`. Byte layout:
//! `docs/formats/entities.md`.
//!
//! The file records the header checksums of the graph segments it was computed from, so a
//! stale or foreign file is detected: [`update_clustering`] extends a file whose segments are
//! a prefix of the graph's (only the new segments are processed) and recomputes anything
//! else; [`open_clustering`] returns only a file that matches the graph exactly. Which
//! clustering a query trusts (the stored file, extended in memory, or recomputed with the
//! exchange wallets of the tags) is decided in one place, `floodgate-app`'s
//! `trace/entity.rs`, from these primitives and [`Clustering::load`].

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::cluster::{Clustering, Forward, JoinRule, Link, MergeRec};
use crate::{Graph, GraphError, NodeId};

/// Name of the clustering file inside the graph directory.
pub const ENTITIES_FILE: &str = "entities.fge";

const MAGIC: [u8; 8] = *b"FGENTITY";
const VERSION: u32 = 1;
const HEADER_LEN: usize = 104;
const LINK_LEN: usize = 16;
const MERGE_LEN: usize = 16;
const FORWARD_LEN: usize = 80;
const EXCHANGE_LEN: usize = 16;

/// How [`update_clustering`] obtained the clustering it wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "how")]
pub enum ClusterUpdate {
    /// The file was current: nothing to do.
    Current,
    /// The file covered the first `from_segments` segments; only the rest were processed.
    Extended {
        /// Segments the file covered before.
        from_segments: usize,
    },
    /// The graph was unwound (a reorganisation or a rollback) below what the file covered:
    /// the clustering was unwound to the segments they still share
    /// ([`Clustering::unwind_to`]), then extended over the segments appended since.
    Unwound {
        /// Segments the file covered before.
        from_segments: usize,
        /// Segments the file and the unwound graph still shared.
        kept_segments: usize,
        /// Joins undone.
        joins_undone: usize,
    },
    /// Computed from scratch, for the reason given.
    Rebuilt {
        /// Why (no file, different exchange tags, a graph that is not an extension, damage).
        reason: String,
    },
}

fn pad8(buf: &mut Vec<u8>) {
    while buf.len() % 8 != 0 {
        buf.push(0);
    }
}

fn padded(n: usize) -> usize {
    n.div_ceil(8) * 8
}

impl Clustering {
    fn encode(&self) -> Vec<u8> {
        let n = self.parent.len();
        let mut body = Vec::with_capacity(
            self.segments.len() * 32 + padded(n * 4) + self.links.len() * LINK_LEN,
        );
        for s in &self.segments {
            body.extend_from_slice(s);
        }
        for i in 0..n as u32 {
            body.extend_from_slice(&self.entity_of(NodeId(i)).0.to_le_bytes());
        }
        pad8(&mut body);
        for l in &self.links {
            for v in [l.a, l.b, l.rule, l.ev] {
                body.extend_from_slice(&v.to_le_bytes());
            }
        }
        for m in &self.merges {
            for v in [m.kept, m.alias, m.rule, m.ev] {
                body.extend_from_slice(&v.to_le_bytes());
            }
        }
        for c in &self.coinjoins {
            body.extend_from_slice(&c.to_le_bytes());
        }
        pad8(&mut body);
        for f in &self.forwards {
            body.extend_from_slice(&f.txid);
            body.extend_from_slice(&f.amount);
            body.extend_from_slice(&f.time.to_le_bytes());
            body.extend_from_slice(&f.chain.to_le_bytes());
            body.extend_from_slice(&f.from.to_le_bytes());
            body.extend_from_slice(&f.to.to_le_bytes());
        }
        for &(x, seen) in &self.exchanges {
            body.extend_from_slice(&x.to_le_bytes());
            body.extend_from_slice(&0u32.to_le_bytes());
            body.extend_from_slice(&seen.to_le_bytes());
        }
        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&self.rules.to_le_bytes());
        out.extend_from_slice(&(n as u32).to_le_bytes());
        out.extend_from_slice(&(self.segments.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.edge_count.to_le_bytes());
        for c in [
            self.links.len(),
            self.merges.len(),
            self.coinjoins.len(),
            self.forwards.len(),
            self.exchanges.len(),
        ] {
            out.extend_from_slice(&(c as u64).to_le_bytes());
        }
        out.extend_from_slice(&Sha256::digest(&body));
        debug_assert_eq!(out.len(), HEADER_LEN);
        out.extend_from_slice(&body);
        out
    }

    /// Writes the clustering to `<dir>/entities.fge`, atomically: a temporary file, fsync,
    /// rename, fsync of the directory. A crash leaves the old file or the new one.
    ///
    /// # Errors
    /// [`GraphError::Io`] naming the file.
    pub fn save(&self, dir: &Path) -> Result<(), GraphError> {
        let path = dir.join(ENTITIES_FILE);
        let tmp = dir.join(format!("{ENTITIES_FILE}.tmp"));
        let io = |source| GraphError::Io { path: path.clone(), source };
        let bytes = self.encode();
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(&bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(io)?;
        // The rename itself is durable only once the directory is synced (POSIX).
        if let Ok(d) = std::fs::File::open(dir) {
            d.sync_all().ok();
        }
        Ok(())
    }

    /// Reads a clustering file, checking its magic, version, size, checksum and structure.
    ///
    /// # Errors
    /// [`GraphError::Corrupt`] naming the file and the byte offset of the damaged field or
    /// section; [`GraphError::UnsupportedVersion`]; [`GraphError::Io`].
    pub fn load(path: &Path) -> Result<Clustering, GraphError> {
        let data =
            std::fs::read(path).map_err(|source| GraphError::Io { path: path.into(), source })?;
        decode(path, &data)
    }
}

struct Reader<'a> {
    path: &'a Path,
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn corrupt(&self, offset: usize, detail: impl Into<String>) -> GraphError {
        GraphError::Corrupt {
            path: self.path.to_owned(),
            offset: offset as u64,
            detail: detail.into(),
        }
    }
    fn take(&mut self, len: usize, what: &str) -> Result<&'a [u8], GraphError> {
        let end = self.at.checked_add(len).filter(|&e| e <= self.data.len()).ok_or_else(|| {
            self.corrupt(self.at, format!("file ends inside {what} ({len} bytes wanted)"))
        })?;
        let data: &'a [u8] = self.data;
        let s = &data[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u32(&mut self, what: &str) -> Result<u32, GraphError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self, what: &str) -> Result<u64, GraphError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn count(&mut self, what: &str, record: usize) -> Result<usize, GraphError> {
        let at = self.at;
        let c = self.u64(what)?;
        usize::try_from(c)
            .ok()
            .filter(|c| c.checked_mul(record).is_some_and(|b| b <= self.data.len()))
            .ok_or_else(|| self.corrupt(at, format!("{what} {c} does not fit the file")))
    }
    fn pad(&mut self) {
        self.at = padded(self.at);
    }
}

fn le32(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn decode(path: &Path, data: &[u8]) -> Result<Clustering, GraphError> {
    let mut r = Reader { path, data, at: 0 };
    if r.take(8, "the magic")? != MAGIC {
        return Err(r.corrupt(0, "not a floodgate entities file (bad magic)"));
    }
    let version = r.u32("the version")?;
    if version != VERSION {
        return Err(GraphError::UnsupportedVersion {
            what: "clustering",
            path: path.to_owned(),
            found: version,
            supported: VERSION,
        });
    }
    let rules = r.u32("the rules revision")?;
    let n = r.u32("the node count")? as usize;
    let segs = r.u32("the segment count")? as usize;
    let edge_count = r.u64("the edge count")?;
    let links = r.count("the link count", LINK_LEN)?;
    let merges = r.count("the merge count", MERGE_LEN)?;
    let coinjoins = r.count("the CoinJoin count", 4)?;
    let forwards = r.count("the forward count", FORWARD_LEN)?;
    let exchanges = r.count("the exchange count", EXCHANGE_LEN)?;
    let sum: [u8; 32] = r.take(32, "the body checksum")?.try_into().unwrap_or([0; 32]);
    let body_len = segs * 32
        + padded(n * 4)
        + links * LINK_LEN
        + merges * MERGE_LEN
        + padded(coinjoins * 4)
        + forwards * FORWARD_LEN
        + exchanges * EXCHANGE_LEN;
    if data.len() != HEADER_LEN + body_len {
        return Err(r.corrupt(
            HEADER_LEN,
            format!(
                "file is {} bytes, the header's counts say {}",
                data.len(),
                HEADER_LEN + body_len
            ),
        ));
    }
    if Sha256::digest(&data[HEADER_LEN..])[..] != sum[..] {
        return Err(r.corrupt(72, "body checksum mismatch (the file is damaged)"));
    }
    let segments: Vec<[u8; 32]> = r
        .take(segs * 32, "segment checksums")?
        .chunks_exact(32)
        .map(|c| c.try_into().unwrap_or([0; 32]))
        .collect();
    let at = r.at;
    let entity_bytes = r.take(n * 4, "the entity array")?;
    let mut parent: Vec<u32> = Vec::with_capacity(n);
    let mut size = vec![0u32; n];
    for i in 0..n {
        let e = le32(entity_bytes, i * 4);
        // An entity id is its smallest member, and that member is its own entity.
        let root_ok =
            (e as usize) < n && (e as usize == i || le32(entity_bytes, e as usize * 4) == e);
        if e as usize > i || !root_ok {
            return Err(r.corrupt(at + i * 4, format!("node {i} has entity {e}, not a valid id")));
        }
        parent.push(e);
        size[e as usize] += 1;
    }
    r.pad();
    let n32 = n as u32;
    let check_rec = |r: &Reader<'_>, off: usize, rule: u32, ev: u32| -> Result<(), GraphError> {
        match JoinRule::from_code(rule) {
            Some(JoinRule::CoSpend) if ev < n32 => Ok(()),
            Some(JoinRule::DepositSweep) if (ev as usize) < forwards => Ok(()),
            _ => Err(r.corrupt(off, format!("bad rule {rule} or evidence {ev}"))),
        }
    };
    let mut link_vec = Vec::with_capacity(links);
    let at = r.at;
    let bytes = r.take(links * LINK_LEN, "links")?;
    for (i, c) in bytes.chunks_exact(LINK_LEN).enumerate() {
        let l = Link { a: le32(c, 0), b: le32(c, 4), rule: le32(c, 8), ev: le32(c, 12) };
        let off = at + i * LINK_LEN;
        if l.a >= n32 || l.b >= n32 || link_vec.last().is_some_and(|p: &Link| p.a > l.a) {
            return Err(r.corrupt(off, "link outside the graph or out of order"));
        }
        check_rec(&r, off, l.rule, l.ev)?;
        link_vec.push(l);
    }
    let mut merge_vec = Vec::with_capacity(merges);
    let at = r.at;
    let bytes = r.take(merges * MERGE_LEN, "merges")?;
    for (i, c) in bytes.chunks_exact(MERGE_LEN).enumerate() {
        let m = MergeRec { kept: le32(c, 0), alias: le32(c, 4), rule: le32(c, 8), ev: le32(c, 12) };
        let off = at + i * MERGE_LEN;
        if m.kept >= m.alias
            || m.alias >= n32
            || merge_vec.last().is_some_and(|p: &MergeRec| p.alias >= m.alias)
        {
            return Err(r.corrupt(off, "merge outside the graph or out of order"));
        }
        check_rec(&r, off, m.rule, m.ev)?;
        merge_vec.push(m);
    }
    let at = r.at;
    let bytes = r.take(coinjoins * 4, "CoinJoins")?;
    let coinjoin_vec: Vec<u32> = (0..coinjoins).map(|i| le32(bytes, i * 4)).collect();
    if let Some(i) = (0..coinjoins)
        .find(|&i| coinjoin_vec[i] >= n32 || (i > 0 && coinjoin_vec[i - 1] >= coinjoin_vec[i]))
    {
        return Err(r.corrupt(at + i * 4, "CoinJoin outside the graph or out of order"));
    }
    r.pad();
    let at = r.at;
    let bytes = r.take(forwards * FORWARD_LEN, "forwards")?;
    let forward_vec: Vec<Forward> = bytes
        .chunks_exact(FORWARD_LEN)
        .map(|c| Forward {
            txid: c[0..32].try_into().unwrap_or([0; 32]),
            amount: c[32..64].try_into().unwrap_or([0; 32]),
            time: le32(c, 64),
            chain: le32(c, 68),
            from: le32(c, 72),
            to: le32(c, 76),
        })
        .collect();
    if let Some(i) = forward_vec.iter().position(|f| {
        f.from >= n32 || f.to >= n32 || f.chain as usize >= floodgate_types::Chain::ALL.len()
    }) {
        return Err(
            r.corrupt(at + i * FORWARD_LEN, "forward outside the graph or on an unknown chain")
        );
    }
    let at = r.at;
    let bytes = r.take(exchanges * EXCHANGE_LEN, "exchanges")?;
    let mut exchange_vec = Vec::with_capacity(exchanges);
    for (i, c) in bytes.chunks_exact(EXCHANGE_LEN).enumerate() {
        let x = le32(c, 0);
        let mut seen = [0u8; 8];
        seen.copy_from_slice(&c[8..16]);
        if exchange_vec.last().is_some_and(|&(p, _)| p >= x) {
            return Err(r.corrupt(at + i * EXCHANGE_LEN, "exchange nodes out of order"));
        }
        exchange_vec.push((x, u64::from_le_bytes(seen)));
    }
    // Every root is its entity's smallest member (checked above), so the entity array is a
    // valid union-find forest: parent = entity, size counted, min id = the root itself.
    let min_id: Vec<u32> = (0..n as u32).collect();
    Ok(Clustering {
        parent,
        size,
        min_id,
        links: link_vec,
        coinjoins: coinjoin_vec,
        merges: merge_vec,
        forwards: forward_vec,
        exchanges: exchange_vec,
        segments,
        edge_count,
        rules,
    })
}

fn same_exchanges(c: &Clustering, exchanges: &BTreeSet<NodeId>) -> bool {
    c.exchanges.len() == exchanges.len()
        && c.exchanges.iter().zip(exchanges).all(|(&(a, _), b)| a == b.0)
}

/// Brings `<graph dir>/entities.fge` up to date with `graph` and returns the clustering:
/// extends a file computed from a prefix of the graph's segments with the same exchange
/// nodes (only the new segments are processed); unwinds a file that shares only its first
/// segments with the graph (the graph was unwound after a reorganisation) to those, then
/// extends it; otherwise computes it from scratch. A
/// damaged file is rebuilt, with a warning. Then writes the file.
///
/// # Errors
/// I/O errors writing the file.
pub fn update_clustering(
    graph: &Graph,
    exchanges: &BTreeSet<NodeId>,
) -> Result<(Clustering, ClusterUpdate), GraphError> {
    let path = graph.dir().join(ENTITIES_FILE);
    let stored = if path.exists() {
        match Clustering::load(&path) {
            Ok(c) => Ok(c),
            Err(e) => {
                tracing::warn!(target: "floodgate::graph::cluster", "{e}; recomputing the clustering");
                Err(format!("the file was unreadable: {e}"))
            }
        }
    } else {
        Err("no clustering file yet".to_owned())
    };
    let (c, how) = match stored {
        Ok(c) if c.rules != crate::cluster::RULES => (
            crate::cluster_with(graph, exchanges),
            ClusterUpdate::Rebuilt {
                reason: format!(
                    "it was computed with clustering rules revision {} (this build uses {})",
                    c.rules,
                    crate::cluster::RULES
                ),
            },
        ),
        Ok(c) if !same_exchanges(&c, exchanges) => (
            crate::cluster_with(graph, exchanges),
            ClusterUpdate::Rebuilt { reason: "the exchange tags changed".into() },
        ),
        Ok(c) if c.is_current(graph) => return Ok((c, ClusterUpdate::Current)),
        Ok(mut c) if c.is_prefix_of(graph) => {
            let from_segments = c.segments.len();
            c.extend(graph);
            (c, ClusterUpdate::Extended { from_segments })
        }
        Ok(mut c) if graph.shared_prefix(&c.segments) > 0 => {
            let from_segments = c.segments.len();
            let kept_segments = graph.shared_prefix(&c.segments);
            let joins_undone = c.unwind_to(&graph.prefix(kept_segments)?);
            c.extend(graph);
            (c, ClusterUpdate::Unwound { from_segments, kept_segments, joins_undone })
        }
        Ok(_) => (
            crate::cluster_with(graph, exchanges),
            ClusterUpdate::Rebuilt { reason: "the file was computed from another graph".into() },
        ),
        Err(reason) => (crate::cluster_with(graph, exchanges), ClusterUpdate::Rebuilt { reason }),
    };
    c.save(graph.dir())?;
    Ok((c, how))
}

/// The clustering stored with `graph` when it matches the graph exactly: `Ok(None)` when
/// there is no file or it is stale or foreign (the caller recomputes it, and
/// `floodgate trace build` rewrites it).
///
/// # Errors
/// [`GraphError::Corrupt`] naming the file and offset when the file is damaged (queries do
/// not repair it; `floodgate trace build` does).
pub fn open_clustering(graph: &Graph) -> Result<Option<Clustering>, GraphError> {
    let path: PathBuf = graph.dir().join(ENTITIES_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let c = Clustering::load(&path)?;
    Ok(c.is_current(graph).then_some(c))
}
