//! Bitcoin outputs and inputs in chain segments (ADR 0004): writing a commit group's rows as
//! one segment, resolving inputs against the group and the stored segments, recording later
//! resolutions, unwinding, and moving a version-4 store's rows into segments.
//!
//! A segment is a file under `chain/` named by a row of `utxo_segments`, written inside the
//! SQLite transaction of the group's blocks and journal rows: a group is stored whole or not
//! at all, and a file no committed row names is an orphan the next writing open deletes. Rows
//! are appended without a B-tree descent each; the segment's address lists are sorted in
//! memory by the writer.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use floodgate_types::{Address, BtcAddress, Chain, ChainBlock, Hash32, TxInput};
use rusqlite::{params, Connection};
use rustc_hash::FxBuildHasher;

use crate::segment::addr::{to_btc, AddrKey};
use crate::segment::merge::{merge, Part};
use crate::segment::{
    prefix, read_run, runs_span, Pool, Segment, SegmentBuilder, SegmentView, NO_ADDR,
};
use crate::{ApplyOutcome, StoreError};

/// The directory of the segment files inside the data directory.
pub(crate) const CHAIN_DIR: &str = "chain";

/// A run of one segment: `(prefix, a, b)` entries, sorted.
type Run = (i64, Vec<(u64, u32, u32)>);

/// At most this many bytes of segment blobs are kept in memory for input resolution, the
/// least recently used let go first. Inputs spend outputs of any age, so a group's lookups
/// reach most stored segments: a bound on the count (16 until 2026-12-07) read the same files
/// again for nearly every input once a store held more segments than it, about a minute per
/// group at 50M generated transfers (`docs/benchmarks.md`, "Ingest at 50M").
const BLOB_CACHE_BYTES: usize = 1 << 30;

/// What a store handle keeps in memory about its segments, loaded on first need: the sorted
/// runs of every segment (transaction ids, unresolved inputs) and segment blobs up to
/// [`BLOB_CACHE_BYTES`]. An unwind drops it; a committed group adds its own runs.
#[derive(Default)]
pub(crate) struct UtxoCache {
    txids: Option<Vec<Run>>,
    unresolved: Option<Vec<Run>>,
    /// Segment blobs by id, each with the tick it was last used at.
    blobs: HashMap<i64, (Arc<Vec<u8>>, u64)>,
    /// Bytes of `blobs`.
    blob_bytes: usize,
    /// Counts uses of `blobs`.
    tick: u64,
    /// Segments whose checksum and rows this handle checked: read again after being let go,
    /// only their layout is (a segment file is never written again once named, and segment
    /// ids are never reused).
    checked: std::collections::HashSet<i64, FxBuildHasher>,
    /// Segment files read so far (a test reads it: each is read once while they fit).
    pub(crate) reads_of_files: u64,
    /// Buffers reused by the next segment written.
    pub(crate) pool: Pool,
    /// Buffers the segments a compaction merges are read into.
    pub(crate) reads: Vec<Vec<u8>>,
}

impl UtxoCache {
    /// Forgets everything it knows of the segments (after an unwind or a rollback).
    pub(crate) fn clear(&mut self) {
        let (pool, reads) = (std::mem::take(&mut self.pool), std::mem::take(&mut self.reads));
        *self = UtxoCache { pool, reads, ..UtxoCache::default() };
    }

    /// Replaces the runs of merged segments `old` with those of the segment they became.
    pub(crate) fn replace(&mut self, old: &[i64], s: NewSegment) {
        for runs in [&mut self.txids, &mut self.unresolved].into_iter().flatten() {
            runs.retain(|(id, _)| !old.contains(id));
        }
        self.blobs.retain(|id, _| !old.contains(id));
        self.blob_bytes = self.blobs.values().map(|(b, _)| b.len()).sum();
        self.checked.retain(|id| !old.contains(id));
        self.add(s);
    }

    /// Adds a committed segment's runs to what is loaded.
    pub(crate) fn add(&mut self, s: NewSegment) {
        if let Some(t) = &mut self.txids {
            t.push((s.id, s.txids));
        }
        if let (Some(u), false) = (&mut self.unresolved, s.unresolved.is_empty()) {
            u.push((s.id, s.unresolved));
        }
    }
}

/// A segment written by a group, for the cache once the group commits.
pub(crate) struct NewSegment {
    id: i64,
    txids: Vec<(u64, u32, u32)>,
    unresolved: Vec<(u64, u32, u32)>,
}

/// A block of the group whose rows go into the group's segment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pending {
    /// Index into the group's blocks (and their outcomes).
    pub(crate) index: usize,
    pub(crate) height: u64,
}

pub(crate) fn corrupt(path: &Path, segment: i64, what: &str) -> StoreError {
    StoreError::Corrupt {
        path: path.to_owned(),
        detail: format!("chain segment {segment}: {what}"),
    }
}

fn sats(
    path: &Path,
    value: floodgate_types::Amount,
    what: &'static str,
) -> Result<u64, StoreError> {
    value.to_u128().and_then(|v| i64::try_from(v).ok()).map(|v| v as u64).ok_or_else(|| {
        StoreError::BadValue { path: path.to_owned(), what, value: value.to_string() }
    })
}

fn btc_of<'a>(path: &Path, a: &'a Address) -> Result<&'a BtcAddress, StoreError> {
    match a {
        Address::Bitcoin(b) => Ok(b),
        _ => Err(StoreError::BadValue {
            path: path.to_owned(),
            what: "Bitcoin address",
            value: a.to_string(),
        }),
    }
}

/// A resolved input: the spent output's address and value, and the funding height.
type Found = (BtcAddress, u64, u64);

impl UtxoCache {
    fn txid_runs(
        &mut self,
        conn: &Connection,
        path: &Path,
        chain: Chain,
    ) -> Result<&[Run], StoreError> {
        if self.txids.is_none() {
            self.txids = Some(load_runs(conn, path, chain, "txid_run", "1")?);
        }
        Ok(self.txids.as_deref().unwrap_or_default())
    }

    fn unresolved_runs(
        &mut self,
        conn: &Connection,
        path: &Path,
        chain: Chain,
    ) -> Result<&[Run], StoreError> {
        if self.unresolved.is_none() {
            self.unresolved =
                Some(load_runs(conn, path, chain, "unresolved_run", "unresolved > 0")?);
        }
        Ok(self.unresolved.as_deref().unwrap_or_default())
    }

    /// A checked segment blob (kept for the next lookups).
    fn blob(
        &mut self,
        conn: &Connection,
        path: &Path,
        id: i64,
    ) -> Result<Arc<Vec<u8>>, StoreError> {
        self.tick += 1;
        if let Some((b, used)) = self.blobs.get_mut(&id) {
            *used = self.tick;
            return Ok(Arc::clone(b));
        }
        let mut data = Vec::new();
        if self.checked.contains(&id) {
            read_blob_into(conn, path, id, &mut data)?;
        } else {
            load_blob_into(conn, path, id, &mut data)?;
            self.checked.insert(id);
        }
        self.reads_of_files += 1;
        while self.blob_bytes + data.len() > BLOB_CACHE_BYTES {
            let Some(oldest) = self.blobs.iter().min_by_key(|(_, (_, u))| *u).map(|(id, _)| *id)
            else {
                break;
            };
            if let Some((b, _)) = self.blobs.remove(&oldest) {
                self.blob_bytes -= b.len();
            }
        }
        let data = Arc::new(data);
        self.blob_bytes += data.len();
        self.blobs.insert(id, (Arc::clone(&data), self.tick));
        Ok(data)
    }

    /// The stored outputs `wanted` spends (`txid:vout` each), each the first found looking
    /// newest segment first; each segment read once for all of them (sorted by segment).
    fn lookup_many(
        &mut self,
        conn: &Connection,
        path: &Path,
        chain: Chain,
        wanted: &[(Hash32, u32)],
    ) -> Result<Vec<Option<Found>>, StoreError> {
        // (segment, transaction, which output wanted, rank among its candidates: newest
        // segment first).
        let mut cands: Vec<(i64, u32, usize, usize)> = Vec::new();
        let runs = self.txid_runs(conn, path, chain)?;
        for (w, (txid, _)) in wanted.iter().enumerate() {
            let p = prefix(&txid.0);
            let mut rank = 0;
            for (seg, run) in runs.iter().rev() {
                let from = run.partition_point(|e| e.0 < p);
                for e in run[from..].iter().take_while(|e| e.0 == p) {
                    cands.push((*seg, e.1, w, rank));
                    rank += 1;
                }
            }
        }
        cands.sort_unstable_by_key(|c| (c.0, c.1));
        let mut out: Vec<Option<(usize, Found)>> = vec![None; wanted.len()];
        for group in cands.chunk_by(|a, b| a.0 == b.0) {
            let seg = group[0].0;
            let data = self.blob(conn, path, seg)?;
            let v = SegmentView::layout(&data).map_err(|c| corrupt(path, seg, &c.0))?;
            for &(_, tx, w, rank) in group {
                if out[w].as_ref().is_some_and(|(r, _)| *r < rank) {
                    continue;
                }
                let (txid, vout) = &wanted[w];
                if tx >= v.n_tx() || v.tx(tx).txid != &txid.0 {
                    continue;
                }
                let height = v.block(v.tx(tx).block).height;
                let Some(o) = v.tx_outputs(tx).map(|row| v.output(row)).find(|o| o.vout == *vout)
                else {
                    continue;
                };
                let key = to_btc(v.key(o.addr))
                    .ok_or_else(|| corrupt(path, seg, "unreadable address key"))?;
                out[w] = Some((rank, (key, o.value, height)));
            }
        }
        Ok(out.into_iter().map(|o| o.map(|(_, f)| f)).collect())
    }
}

fn load_runs(
    conn: &Connection,
    path: &Path,
    chain: Chain,
    column: &str,
    cond: &str,
) -> Result<Vec<Run>, StoreError> {
    let sq = |e| StoreError::sqlite(path, e);
    let mut stmt = conn
        .prepare(&format!(
            "SELECT id, {column}, file FROM utxo_segments WHERE chain = ?1 AND {cond} ORDER BY id"
        ))
        .map_err(sq)?;
    let mut rows = stmt.query([chain.as_str()]).map_err(sq)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(sq)? {
        let id: i64 = r.get(0).map_err(sq)?;
        let bytes: Vec<u8> = r.get(1).map_err(sq)?;
        let bytes = if bytes.is_empty() {
            // Layout 2: the run is in the segment file.
            let file: String = r.get(2).map_err(sq)?;
            let (txids, unresolved) = read_runs_of_file(path, id, &file)?;
            if column == "txid_run" {
                txids
            } else {
                unresolved
            }
        } else {
            bytes
        };
        out.push((id, read_run(&bytes).map_err(|c| corrupt(path, id, &c.0))?));
    }
    Ok(out)
}

/// The two runs (as stored) of a layout-2 segment file, read without the rest of the file.
fn read_runs_of_file(path: &Path, id: i64, file: &str) -> Result<(Vec<u8>, Vec<u8>), StoreError> {
    use std::io::{Read, Seek, SeekFrom};
    let at = chain_dir(path).join(file);
    let io = |source| StoreError::Io { path: at.clone(), source };
    let mut f = std::fs::File::open(&at).map_err(io)?;
    let mut head = [0u8; 48];
    f.read_exact(&mut head).map_err(io)?;
    let span = runs_span(&head).map_err(|c| corrupt(path, id, &format!("{file}: {}", c.0)))?;
    let Some((from, txid_len, unresolved_len)) = span else {
        return Err(corrupt(
            path,
            id,
            &format!("{file}: its runs are neither in the manifest nor in the file"),
        ));
    };
    let len = |n: u64| usize::try_from(n).map_err(|_| corrupt(path, id, "run length"));
    let mut txids = vec![0u8; len(txid_len)?];
    let mut unresolved = vec![0u8; len(unresolved_len)?];
    f.seek(SeekFrom::Start(from)).map_err(io)?;
    f.read_exact(&mut txids).map_err(io)?;
    f.read_exact(&mut unresolved).map_err(io)?;
    Ok((txids, unresolved))
}

/// The directory of the chain segments, beside `transfers.db`.
pub(crate) fn chain_dir(db: &Path) -> PathBuf {
    db.parent().unwrap_or(Path::new(".")).join(CHAIN_DIR)
}

/// A segment's bytes, read from its file and checked.
pub(crate) fn load_blob(conn: &Connection, path: &Path, id: i64) -> Result<Vec<u8>, StoreError> {
    let mut data = Vec::new();
    load_blob_into(conn, path, id, &mut data)?;
    Ok(data)
}

/// [`load_blob`] into `data` (emptied first; a buffer reused from one segment to the next
/// does not fault its pages in again).
pub(crate) fn load_blob_into(
    conn: &Connection,
    path: &Path,
    id: i64,
    data: &mut Vec<u8>,
) -> Result<(), StoreError> {
    let file = read_blob_into(conn, path, id, data)?;
    SegmentView::parse(data).map_err(|c| corrupt(path, id, &format!("{file}: {}", c.0)))?;
    Ok(())
}

/// A segment's bytes read into `data` (emptied first), unchecked ([`load_blob_into`] checks
/// them); its file name.
fn read_blob_into(
    conn: &Connection,
    path: &Path,
    id: i64,
    data: &mut Vec<u8>,
) -> Result<String, StoreError> {
    use std::io::Read;
    let file: String = conn
        .query_row("SELECT file FROM utxo_segments WHERE id = ?1", [id], |r| r.get(0))
        .map_err(|e| StoreError::sqlite(path, e))?;
    let at = chain_dir(path).join(&file);
    let io = |source| StoreError::Io { path: at.clone(), source };
    let mut f = std::fs::File::open(&at).map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    data.clear();
    data.reserve(usize::try_from(len).unwrap_or(0));
    f.read_to_end(data).map_err(io)?;
    Ok(file)
}

/// The file name of segment `id`.
fn file_name(id: i64) -> String {
    format!("seg-{id:010}.fgcs")
}

/// Records a finished segment in the manifest (inside the caller's transaction) and writes
/// its file: to a temporary name, synced, renamed, the directory synced. Until the
/// transaction commits the file is an orphan, which the next writing open deletes.
pub(crate) fn insert_segment(
    conn: &Connection,
    path: &Path,
    chain: &str,
    f: &dyn Segment,
    now: i64,
) -> Result<i64, StoreError> {
    let sq = |e| StoreError::sqlite(path, e);
    let c = f.counts();
    conn.execute(
        "INSERT INTO utxo_segments (chain, min_height, max_height, blocks, txs, outputs, inputs, \
         unresolved, created_at, txid_run, unresolved_run, file) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, '')",
        params![
            chain,
            c.min_height as i64,
            c.max_height as i64,
            c.blocks,
            c.txs,
            c.outputs,
            c.inputs,
            c.unresolved,
            now,
            // Layout 2: the runs are in the file.
            &[] as &[u8],
            &[] as &[u8]
        ],
    )
    .map_err(sq)?;
    let id = conn.last_insert_rowid();
    let name = file_name(id);
    write_durably(&chain_dir(path), &name, f)?;
    conn.execute("UPDATE utxo_segments SET file = ?2 WHERE id = ?1", params![id, name])
        .map_err(sq)?;
    Ok(id)
}

/// Writes `dir/name` whole or not at all: a temporary file, synced, renamed over the name,
/// and the directory synced so the rename survives a crash.
fn write_durably(dir: &Path, name: &str, data: &dyn Segment) -> Result<(), StoreError> {
    let io = |at: &Path| {
        let at = at.to_owned();
        move |source| StoreError::Io { path: at, source }
    };
    if !dir.is_dir() {
        // The directory's own entry must survive a crash too, before a file in it is named.
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        if let Some(parent) = dir.parent() {
            std::fs::File::open(parent).and_then(|d| d.sync_all()).map_err(io(parent))?;
        }
    }
    let tmp = dir.join(format!("{name}.tmp"));
    let mut file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    data.write_to(&mut file).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    let to = dir.join(name);
    std::fs::rename(&tmp, &to).map_err(io(&to))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
    Ok(())
}

/// [`sweep_orphans`] after a commit or a failed group: the data is safe either way, so a
/// failure to delete is logged, not returned.
pub(crate) fn sweep_quietly(conn: &mut Connection, path: &Path) {
    if let Err(e) = sweep_orphans(conn, path) {
        tracing::warn!(target: "floodgate::store", error = %e, "could not delete unused chain segment files");
    }
}

/// Deletes the files under `chain/` that no manifest row names: segments of a group whose
/// transaction never committed (a crash, a refused block), temporary files, and segments an
/// unwind removed. Returns how many went.
///
/// A writer creates its group's file while it holds SQLite's write lock, and names it in the
/// manifest before it lets go; so candidates are checked again under the write lock (which
/// waits for a group being written to commit) and only files no committed row names go.
pub(crate) fn sweep_orphans(conn: &mut Connection, path: &Path) -> Result<u64, StoreError> {
    if unnamed_files(conn, path)?.is_empty() {
        return Ok(0);
    }
    let sq = |e| StoreError::sqlite(path, e);
    let tx =
        conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sq)?;
    let orphans = unnamed_files(&tx, path)?;
    for f in &orphans {
        std::fs::remove_file(f).map_err(|source| StoreError::Io { path: f.clone(), source })?;
    }
    tx.commit().map_err(sq)?;
    if !orphans.is_empty() {
        tracing::info!(target: "floodgate::store", removed = orphans.len(), "deleted chain segment files no manifest row names");
    }
    Ok(orphans.len() as u64)
}

/// The segment files (and temporary files) under `chain/` no manifest row names.
fn unnamed_files(conn: &Connection, path: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let dir = chain_dir(path);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(StoreError::Io { path: dir, source }),
    };
    let sq = |e| StoreError::sqlite(path, e);
    let mut stmt = conn.prepare_cached("SELECT file FROM utxo_segments").map_err(sq)?;
    let known: std::collections::HashSet<String> =
        stmt.query_map([], |r| r.get(0)).map_err(sq)?.collect::<Result<_, _>>().map_err(sq)?;
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(|source| StoreError::Io { path: dir.clone(), source })?;
        let name = e.file_name().to_string_lossy().into_owned();
        let ours = name.starts_with("seg-") && (name.ends_with(".fgcs") || name.ends_with(".tmp"));
        if ours && !known.contains(&name) {
            out.push(e.path());
        }
    }
    Ok(out)
}

/// Writes the pending blocks of a group as one segment (inside the group's transaction):
/// resolves their inputs from the group's own outputs, then from stored segments; resolves
/// earlier unresolved inputs this group funds; counts both in the blocks' outcomes.
pub(crate) fn write_group(
    conn: &Connection,
    cache: &mut UtxoCache,
    path: &Path,
    blocks: &[ChainBlock],
    pending: &[Pending],
    outs: &mut [ApplyOutcome],
    now: i64,
) -> Result<Option<NewSegment>, StoreError> {
    let mut order: Vec<Pending> = pending.to_vec();
    order.sort_by_key(|p| p.height);
    let Some(first) = order.first() else { return Ok(None) };
    let chain = blocks[first.index].header.as_ref().map_or(Chain::Bitcoin, |h| h.chain);

    // Inputs the reader could not resolve: first from this group's outputs, then from the
    // stored segments.
    let mut found: HashMap<(usize, usize, usize), Found, FxBuildHasher> = HashMap::default();
    let open = |i: &TxInput| i.address.is_none() && i.prevout.is_some();
    let any_open =
        order.iter().any(|p| blocks[p.index].utxo_txs.iter().any(|t| t.inputs.iter().any(open)));
    if any_open {
        let mut own: HashMap<&Hash32, (usize, usize), FxBuildHasher> = HashMap::default();
        for p in &order {
            for (t, tx) in blocks[p.index].utxo_txs.iter().enumerate() {
                own.insert(&tx.txid, (p.index, t));
            }
        }
        // Outputs of earlier groups, looked up together so that each segment is read once.
        let mut wanted_at: Vec<(usize, usize, usize)> = Vec::new();
        let mut spent: Vec<(Hash32, u32)> = Vec::new();
        for p in &order {
            for (t, tx) in blocks[p.index].utxo_txs.iter().enumerate() {
                for (i, input) in tx.inputs.iter().enumerate() {
                    let Some(prev) = input.prevout.filter(|_| open(input)) else { continue };
                    let mut hit = None;
                    if let Some((b, ft)) = own.get(&prev.txid) {
                        let funding = &blocks[*b];
                        if let Some(o) =
                            funding.utxo_txs[*ft].outputs.iter().find(|o| o.vout == prev.vout)
                        {
                            let h = funding.header.as_ref().map_or(0, |h| h.height);
                            hit = Some((
                                *btc_of(path, &o.address)?,
                                sats(path, o.value, "output value")?,
                                h,
                            ));
                        }
                    }
                    match hit {
                        Some(h) => {
                            found.insert((p.index, t, i), h);
                            outs[p.index].inputs_resolved_from_store += 1;
                        }
                        None => {
                            wanted_at.push((p.index, t, i));
                            spent.push((prev.txid, prev.vout));
                        }
                    }
                }
            }
        }
        let hits = cache.lookup_many(conn, path, chain, &spent)?;
        for (at, hit) in wanted_at.into_iter().zip(hits) {
            if let Some(h) = hit {
                found.insert(at, h);
                outs[at.0].inputs_resolved_from_store += 1;
            } else {
                outs[at.0].inputs_unresolved += 1;
            }
        }
    }

    let count = |f: fn(&floodgate_types::UtxoTx) -> usize| -> usize {
        order.iter().flat_map(|p| blocks[p.index].utxo_txs.iter()).map(f).sum()
    };
    let mut b = SegmentBuilder::with_capacity(
        &mut cache.pool,
        order.len(),
        count(|_| 1),
        count(|t| t.outputs.len()),
        count(|t| t.inputs.len()),
    );
    for p in &order {
        let block = &blocks[p.index];
        let time = block.header.as_ref().and_then(|h| h.time).map(|t| t.0);
        b.block(p.height, time);
        let mut txs: Vec<(usize, &floodgate_types::UtxoTx)> =
            block.utxo_txs.iter().enumerate().collect();
        txs.sort_by_key(|(_, t)| t.position);
        for (t, tx) in txs {
            b.tx(&tx.txid.0, tx.position);
            for (i, input) in tx.inputs.iter().enumerate() {
                let vin = u32::try_from(i).unwrap_or(u32::MAX);
                let prev = input.prevout.as_ref().map(|o| (&o.txid.0, o.vout));
                match (&input.address, found.get(&(p.index, t, i))) {
                    (Some(a), _) => {
                        let value = input.value.unwrap_or_default();
                        let k = btc_of(path, a)?;
                        b.input(vin, prev, Some((k, sats(path, value, "input value")?)));
                    }
                    (None, Some((k, v, _))) => b.input(vin, prev, Some((k, *v))),
                    (None, None) => b.input(vin, prev, None),
                }
            }
            for o in &tx.outputs {
                let k = btc_of(path, &o.address)?;
                b.output(o.vout, k, sats(path, o.value, "output value")?);
            }
        }
    }
    let mut finished = b.finish(&mut cache.pool);

    // Earlier inputs this group's outputs fund (blocks ingested out of order).
    let mut fills = Vec::new();
    let candidates: Vec<(i64, u32, u32, usize, usize)> = {
        let runs = cache.unresolved_runs(conn, path, chain)?;
        let mut c = Vec::new();
        if !runs.is_empty() {
            for p in &order {
                for (t, tx) in blocks[p.index].utxo_txs.iter().enumerate() {
                    let px = prefix(&tx.txid.0);
                    for (seg, run) in runs {
                        let from = run.partition_point(|e| e.0 < px);
                        for e in run[from..].iter().take_while(|e| e.0 == px) {
                            c.push((*seg, e.1, e.2, p.index, t));
                        }
                    }
                }
            }
        }
        // By segment, so that each is read once (stable: fills keep their order within one).
        c.sort_by_key(|c| c.0);
        c
    };
    for (seg, row, vout, bi, t) in candidates {
        let tx = &blocks[bi].utxo_txs[t];
        let Some(o) = tx.outputs.iter().find(|o| o.vout == vout) else { continue };
        let data = cache.blob(conn, path, seg)?;
        let v = SegmentView::layout(&data).map_err(|c| corrupt(path, seg, &c.0))?;
        if row >= v.n_in() {
            continue;
        }
        let input = v.input(row);
        if input.addr != NO_ADDR || input.prevout != Some((&tx.txid.0, vout)) {
            continue;
        }
        let h = blocks[bi].header.as_ref().map_or(0, |h| h.height);
        let key = AddrKey::of_btc(btc_of(path, &o.address)?);
        fills.push((seg, row, key, sats(path, o.value, "output value")?, h, bi));
    }

    let sq = |e| StoreError::sqlite(path, e);
    let id = insert_segment(conn, path, chain.as_str(), &finished, now)?;
    cache.pool.recycle(&mut finished);
    if !fills.is_empty() {
        let mut ins = conn
            .prepare_cached(
                "INSERT OR IGNORE INTO utxo_input_fills \
                 (segment, row, chain, address, value, funding_height) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(sq)?;
        for (seg, row, k, value, h, bi) in fills {
            let n = ins
                .execute(params![seg, row, chain.as_str(), k.as_bytes(), value as i64, h as i64])
                .map_err(sq)?;
            outs[bi].inputs_resolved_from_store += n as u64;
        }
    }
    Ok(Some(new_segment(id, finished.txid_entries, finished.unresolved_entries)))
}

pub(crate) fn new_segment(
    id: i64,
    txids: Vec<(u64, u32, u32)>,
    unresolved: Vec<(u64, u32, u32)>,
) -> NewSegment {
    NewSegment { id, txids, unresolved }
}

/// Removes `chain`'s segment rows at heights ≥ `from` (inside the unwind's transaction):
/// segments wholly above go, a segment across `from` is rewritten with its blocks below
/// (its kept rows are a prefix, so their row numbers stay), and resolutions of dropped
/// inputs, or made by dropped outputs, are forgotten.
pub(crate) fn unwind_segments(
    conn: &Connection,
    path: &Path,
    chain: Chain,
    from: u64,
) -> Result<(), StoreError> {
    let sq = |e| StoreError::sqlite(path, e);
    let from_i = i64::try_from(from).unwrap_or(i64::MAX);
    let across: Vec<i64> = {
        let mut stmt = conn
            .prepare(
                "SELECT id FROM utxo_segments WHERE chain = ?1 AND min_height < ?2 AND max_height >= ?2",
            )
            .map_err(sq)?;
        let ids = stmt
            .query_map(params![chain.as_str(), from_i], |r| r.get(0))
            .map_err(sq)?
            .collect::<Result<Vec<i64>, _>>()
            .map_err(sq)?;
        ids
    };
    conn.execute(
        "DELETE FROM utxo_input_fills WHERE segment IN \
         (SELECT id FROM utxo_segments WHERE chain = ?1 AND min_height >= ?2)",
        params![chain.as_str(), from_i],
    )
    .map_err(sq)?;
    conn.execute(
        "DELETE FROM utxo_segments WHERE chain = ?1 AND min_height >= ?2",
        params![chain.as_str(), from_i],
    )
    .map_err(sq)?;
    conn.execute(
        "DELETE FROM utxo_input_fills WHERE chain = ?1 AND funding_height >= ?2",
        params![chain.as_str(), from_i],
    )
    .map_err(sq)?;
    for id in across {
        let data = load_blob(conn, path, id)?;
        let view = SegmentView::layout(&data).map_err(|c| corrupt(path, id, &c.0))?;
        // Blocks are in height order: those below `from` are a prefix.
        let keep = (0..view.n_blocks()).take_while(|b| view.block(*b).height < from).count();
        let parts = [Part { view, blocks: u32::try_from(keep).unwrap_or(u32::MAX) }];
        let f = merge(&parts);
        // The cut segment is a new one (ids are never reused, so a reader holding the old
        // manifest never reads other rows under the old id); its kept rows keep their numbers.
        let chain_s: String = conn
            .query_row("SELECT chain FROM utxo_segments WHERE id = ?1", [id], |r| r.get(0))
            .map_err(sq)?;
        let created: i64 = conn
            .query_row("SELECT created_at FROM utxo_segments WHERE id = ?1", [id], |r| r.get(0))
            .map_err(sq)?;
        let new_id = insert_segment(conn, path, &chain_s, &f, created)?;
        conn.execute(
            "DELETE FROM utxo_input_fills WHERE segment = ?1 AND row >= ?2",
            params![id, f.counts.inputs],
        )
        .map_err(sq)?;
        conn.execute(
            "UPDATE utxo_input_fills SET segment = ?2 WHERE segment = ?1",
            params![id, new_id],
        )
        .map_err(sq)?;
        conn.execute("DELETE FROM utxo_segments WHERE id = ?1", [id]).map_err(sq)?;
    }
    Ok(())
}

/// Rows of the version-4 tables moved into one segment at a time.
const MIGRATE_ROWS: usize = 200_000;

/// Moves the Bitcoin rows a version-4 store kept in `utxo_outputs` / `utxo_inputs` into
/// segments, in one transaction (a crash leaves them where they were, and the next writing
/// open moves them). A no-op when the tables are empty.
pub(crate) fn migrate_legacy_rows(conn: &mut Connection, path: &Path) -> Result<u64, StoreError> {
    let sq = |e| StoreError::sqlite(path, e);
    if !has_legacy_rows(conn, path)? {
        return Ok(0);
    }
    let tx =
        conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sq)?;
    if !has_legacy_rows(&tx, path)? {
        return Ok(0); // another process moved them meanwhile
    }
    let now = floodgate_types::Timestamp::now().0;
    let mut moved = 0u64;
    let chains: Vec<String> = {
        let mut stmt = tx
            .prepare("SELECT chain FROM utxo_outputs UNION SELECT chain FROM utxo_inputs")
            .map_err(sq)?;
        let c =
            stmt.query_map([], |r| r.get(0)).map_err(sq)?.collect::<Result<_, _>>().map_err(sq)?;
        c
    };
    for chain in chains {
        moved += migrate_chain(&tx, path, &chain, now)?;
    }
    tx.execute_batch("DELETE FROM utxo_outputs; DELETE FROM utxo_inputs;").map_err(sq)?;
    tx.commit().map_err(sq)?;
    tracing::info!(target: "floodgate::store", rows = moved, "moved version-4 Bitcoin rows into chain segments");
    Ok(moved)
}

/// Whether the version-4 tables still hold rows (a store not yet moved).
pub(crate) fn has_legacy_rows(conn: &Connection, path: &Path) -> Result<bool, StoreError> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM utxo_outputs) OR EXISTS (SELECT 1 FROM utxo_inputs)",
        [],
        |r| r.get(0),
    )
    .map_err(|e| StoreError::sqlite(path, e))
}

/// One legacy row: `(height, position, txid, n, time, address, value, prevout)`.
type LegacyRow =
    (i64, i64, Vec<u8>, i64, Option<i64>, Option<String>, Option<i64>, Option<(Vec<u8>, i64)>);

fn migrate_chain(conn: &Connection, path: &Path, chain: &str, now: i64) -> Result<u64, StoreError> {
    let sq = |e| StoreError::sqlite(path, e);
    let read = |sql: &str, input: bool| -> Result<Vec<LegacyRow>, StoreError> {
        let mut stmt = conn.prepare(sql).map_err(sq)?;
        let rows = stmt
            .query_map([chain], |r| {
                let prev: Option<Vec<u8>> = if input { r.get(7)? } else { None };
                let pv: Option<i64> = if input { r.get(8)? } else { None };
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    prev.map(|p| (p, pv.unwrap_or(0))),
                ))
            })
            .map_err(sq)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sq)?;
        Ok(rows)
    };
    let outs = read(
        "SELECT height, tx_position, txid, vout, time, address, value FROM utxo_outputs \
         WHERE chain = ?1 ORDER BY height, tx_position, txid, vout",
        false,
    )?;
    let ins = read(
        "SELECT height, tx_position, txid, vin, time, address, value, prev_txid, prev_vout \
         FROM utxo_inputs WHERE chain = ?1 ORDER BY height, tx_position, txid, vin",
        true,
    )?;
    let bad = |what: &'static str, value: String| StoreError::BadValue {
        path: path.to_owned(),
        what,
        value,
    };
    let c = chain.parse::<Chain>().map_err(|_| bad("chain", chain.to_owned()))?;
    let key = |text: &str| -> Result<BtcAddress, StoreError> {
        let a = Address::parse(c, text).map_err(|_| bad("address", text.to_owned()))?;
        Ok(*btc_of(path, &a)?)
    };
    let hash = |b: &[u8]| -> Result<[u8; 32], StoreError> {
        b.try_into().map_err(|_| bad("transaction id", format!("{} bytes", b.len())))
    };
    let tx_key = |r: &LegacyRow| (r.0, r.1, r.2.clone());
    let (mut oi, mut ii) = (0usize, 0usize);
    let mut b = SegmentBuilder::default();
    let mut rows_in_segment = 0usize;
    let mut height: Option<i64> = None;
    let flush = |b: &mut SegmentBuilder| -> Result<(), StoreError> {
        let done = std::mem::take(b);
        if done.is_empty() {
            return Ok(());
        }
        let f = done.finish(&mut Pool::default());
        insert_segment(conn, path, chain, &f, now)?;
        Ok(())
    };
    while oi < outs.len() || ii < ins.len() {
        // The next transaction in (height, position, txid) order, from either table.
        let next = match (outs.get(oi), ins.get(ii)) {
            (Some(o), Some(i)) => tx_key(o).min(tx_key(i)),
            (Some(o), None) => tx_key(o),
            (None, Some(i)) => tx_key(i),
            (None, None) => break,
        };
        if height != Some(next.0) {
            if rows_in_segment >= MIGRATE_ROWS {
                flush(&mut b)?;
                rows_in_segment = 0;
            }
            let time = outs
                .get(oi)
                .filter(|o| o.0 == next.0)
                .or(ins.get(ii).filter(|i| i.0 == next.0))
                .and_then(|r| r.4);
            b.block(next.0 as u64, time);
            height = Some(next.0);
        }
        b.tx(&hash(&next.2)?, u32::try_from(next.1).unwrap_or(u32::MAX));
        while let Some(i) = ins.get(ii).filter(|i| tx_key(i) == next) {
            let prev = match &i.7 {
                Some((p, v)) => Some((hash(p)?, u32::try_from(*v).unwrap_or(u32::MAX))),
                None => None,
            };
            let resolved = match (&i.5, i.6) {
                (Some(a), Some(v)) => Some((key(a)?, v as u64)),
                _ => None,
            };
            b.input(
                u32::try_from(i.3).unwrap_or(u32::MAX),
                prev.as_ref().map(|(t, v)| (t, *v)),
                resolved.as_ref().map(|(k, v)| (k, *v)),
            );
            ii += 1;
            rows_in_segment += 1;
        }
        while let Some(o) = outs.get(oi).filter(|o| tx_key(o) == next) {
            let a = o.5.as_deref().unwrap_or_default();
            b.output(u32::try_from(o.3).unwrap_or(u32::MAX), &key(a)?, o.6.unwrap_or(0) as u64);
            oi += 1;
            rows_in_segment += 1;
        }
    }
    flush(&mut b)?;
    Ok((outs.len() + ins.len()) as u64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Inputs spend outputs of any age. Until 2026-12-07 a handle kept 16 segment blobs and
    /// let all of them go when it needed a 17th: once a store held more segments than that,
    /// nearly every input read a segment file again (about a minute per group at 50M generated
    /// transfers). A group spending from each of 17 segments, twice around, reads each once.
    #[test]
    fn a_group_spending_from_every_stored_segment_reads_each_segment_once() {
        use floodgate_types::{
            Amount, BlockHeader, ChainBlock, OutPoint, Timestamp, TxOutput, UtxoTx,
        };
        const SEGMENTS: usize = 17;
        let dir = tempfile::tempdir().unwrap();
        let mut store = crate::Store::open(dir.path()).unwrap();
        let a = Address::parse(Chain::Bitcoin, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa").unwrap();
        let hash = |n: usize, k: u8| {
            let mut b = [k; 32];
            b[..8].copy_from_slice(&(n as u64).to_be_bytes());
            Hash32(b)
        };
        let block = |height: usize, txs: Vec<UtxoTx>| ChainBlock {
            header: Some(BlockHeader {
                chain: Chain::Bitcoin,
                height: height as u64,
                hash: hash(height, 1),
                parent: Some(hash(height.wrapping_sub(1), 1)),
                time: Some(Timestamp(1_231_006_505 + height as i64)),
            }),
            utxo_txs: txs,
            transfers: vec![],
        };
        let coin = |n: u32| TxOutput { vout: n, address: a.clone(), value: Amount::from(1_000) };
        // Outputs per segment such that each holds more rows than the next three together:
        // compaction merges four neighbours only when the first holds no more than the rest
        // (a row per output and one for the coinbase input).
        let mut outputs = vec![2u32, 3, 6];
        while outputs.len() < SEGMENTS {
            let n = outputs.len();
            outputs.push(outputs[n - 1] + outputs[n - 2] + outputs[n - 3] + 4);
        }
        outputs.reverse();
        for (height, &n) in outputs.iter().enumerate() {
            let coinbase = UtxoTx {
                txid: hash(height, 2),
                position: 0,
                inputs: vec![TxInput { prevout: None, address: None, value: None }],
                outputs: (0..n).map(coin).collect(),
            };
            store.apply_block(&block(height, vec![coinbase])).unwrap();
        }
        let segments: i64 =
            store.conn.query_row("SELECT count(*) FROM utxo_segments", [], |r| r.get(0)).unwrap();
        assert_eq!(segments, SEGMENTS as i64, "the test needs one segment per block");
        let before = store.utxo.reads_of_files;
        // Output 0 of every segment's coinbase, then output 1 of each.
        let inputs: Vec<TxInput> = (0..2)
            .flat_map(|vout| (0..SEGMENTS).map(move |h| (h, vout)))
            .map(|(h, vout)| TxInput {
                prevout: Some(OutPoint { txid: hash(h, 2), vout }),
                address: None,
                value: None,
            })
            .collect();
        let spend = UtxoTx { txid: hash(SEGMENTS, 3), position: 0, inputs, outputs: vec![coin(0)] };
        let out = store.apply_block(&block(SEGMENTS, vec![spend])).unwrap();
        assert_eq!(out.inputs_resolved_from_store, 2 * SEGMENTS as u64);
        assert_eq!(out.inputs_unresolved, 0);
        assert_eq!(store.utxo.reads_of_files - before, SEGMENTS as u64, "each segment read once");
    }

    /// Issue 9 item 13: a sweep beside another process writing a group (its file on disk, its
    /// manifest row not committed yet) must not take that file for an orphan: it waits for
    /// the write lock before deleting anything.
    #[test]
    fn a_sweep_beside_a_group_being_written_keeps_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join(crate::STORE_FILE);
        drop(crate::Store::open(dir.path()).unwrap());
        let file = chain_dir(&db).join(file_name(7));
        let mut writer = Connection::open(&db).unwrap();
        let tx =
            writer.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).unwrap();
        std::fs::create_dir_all(chain_dir(&db)).unwrap();
        std::fs::write(&file, b"a group's segment").unwrap();
        tx.execute(
            "INSERT INTO utxo_segments (id, chain, min_height, max_height, blocks, txs, outputs, \
             inputs, unresolved, created_at, txid_run, unresolved_run, file) \
             VALUES (7, 'bitcoin', 0, 0, 0, 0, 0, 0, 0, 0, x'', x'', ?1)",
            [file_name(7)],
        )
        .unwrap();
        let sweeper = {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut c = Connection::open(&db).unwrap();
                c.busy_timeout(std::time::Duration::from_secs(30)).unwrap();
                sweep_orphans(&mut c, &db).unwrap()
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(300));
        tx.commit().unwrap();
        assert_eq!(sweeper.join().unwrap(), 0);
        assert!(file.exists(), "the committed group's file was deleted as an orphan");
        // A file no row names does go.
        let orphan = chain_dir(&db).join(file_name(8));
        std::fs::write(&orphan, b"torn").unwrap();
        assert_eq!(sweep_orphans(&mut writer, &db).unwrap(), 1);
        assert!(!orphan.exists() && file.exists());
    }
}
