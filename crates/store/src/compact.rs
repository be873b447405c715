//! Compaction: neighbouring chain segments merged into one, so that the number of segments
//! grows with the logarithm of the chain, not with the number of commit groups (a live ingest
//! commits one group, so one segment, per block).
//!
//! **When.** After every group that writes a segment (and after an unwind), on the store's
//! own thread, [`plan`] looks at the chain's segments in height order and merges the first
//! window it finds, newest heights first, of [`WIDTH`] segments that follow each other
//! without overlapping in height, none of them full ([`FULL_ROWS`]), whose first (lowest)
//! holds no more rows than the others together; then it looks again. When no window
//! qualifies, every window's first segment holds more rows than the other three together, so
//! sizes fall by a factor of at least three every three segments: between two full segments
//! there are at most about `3 × log3(FULL_ROWS)`, about 32, segments, and the full ones hold
//! 131,072 to 524,288 rows each. Each merge rewrites its rows: in a simulation of this rule
//! (same width and limit) a live ingest of 20,000 blocks of 5,000 rows rewrites each row 3.5
//! times on average and ends with 437 segments instead of 20,000, blocks of 1 to 15,000 rows
//! 2.6 times (788 segments); bulk groups are not merged.
//!
//! **How** (crash-safe as a group commit is): in one SQLite transaction (`BEGIN IMMEDIATE`),
//! the merged segment is written under a new id (temporary name, synced, renamed, directory
//! synced), later input resolutions (`utxo_input_fills`) move to its rows, and the merged
//! segments' manifest rows are deleted; after the commit their files are deleted (or, after a
//! crash, by the next writing open's orphan sweep). A crash before the commit leaves the old
//! segments in force and the new file an orphan.

use std::ops::Range;
use std::path::Path;

use floodgate_types::{Chain, Timestamp};
use rusqlite::{params, Connection};

use crate::segment::merge::{merge, Part};
use crate::segment::SegmentView;
use crate::utxo::{self, UtxoCache};
use crate::{Store, StoreError};

/// Segments merged at a time.
pub(crate) const WIDTH: usize = 4;

/// A segment of this many rows (outputs and inputs) or more is full: never merged again. A
/// bulk load's groups (50,000 transactions and blocks, about 230,000 rows) are full as
/// written: merging four of them rewrites some 50 MB (measured on the 2M-transfer world: a
/// quarter of the whole load's CPU) for three segments fewer, which lookups, reading each
/// segment's bytes anyway, barely notice. A merged segment stays below `WIDTH × FULL_ROWS`
/// rows (about 25 MB).
pub(crate) const FULL_ROWS: u64 = 1 << 17;

/// A segment as the plan sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sized {
    pub(crate) id: i64,
    pub(crate) min_height: u64,
    pub(crate) max_height: u64,
    pub(crate) rows: u64,
}

/// The next window of `segments` (in height order) to merge, if any (see the module docs).
pub(crate) fn plan(segments: &[Sized]) -> Option<Range<usize>> {
    (WIDTH..=segments.len()).rev().map(|end| end - WIDTH..end).find(|w| {
        let s = &segments[w.clone()];
        let rest: u64 = s[1..].iter().map(|x| x.rows).sum();
        s.iter().all(|x| x.rows < FULL_ROWS)
            && s.windows(2).all(|p| p[0].max_height < p[1].min_height)
            && s[0].rows <= rest
    })
}

/// What [`Store::compact`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Compaction {
    /// Merges made.
    pub merges: u64,
    /// Rows (outputs and inputs) written again.
    pub rows: u64,
    /// The chain's segments afterwards.
    pub segments: u64,
}

/// A point inside a compaction, for a test that kills the process there
/// ([`Store::set_compact_pause`]).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompactStep {
    /// The merged segment's file is in place, its manifest row not committed.
    Written,
    /// The merge is committed; the merged segments' files are not deleted yet.
    Committed,
}

fn sized(conn: &Connection, path: &Path, chain: Chain) -> Result<Vec<Sized>, StoreError> {
    let sq = |e| StoreError::sqlite(path, e);
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, min_height, max_height, outputs + inputs FROM utxo_segments \
             WHERE chain = ?1 ORDER BY min_height, id",
        )
        .map_err(sq)?;
    let rows = stmt
        .query_map([chain.as_str()], |r| {
            Ok(Sized {
                id: r.get(0)?,
                min_height: r.get::<_, i64>(1)? as u64,
                max_height: r.get::<_, i64>(2)? as u64,
                rows: r.get::<_, i64>(3)? as u64,
            })
        })
        .map_err(sq)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sq)?;
    Ok(rows)
}

/// Merges windows of `chain`'s segments until [`plan`] finds none; each merge is one
/// transaction. `pause` is called at each [`CompactStep`].
pub(crate) fn compact_chain(
    conn: &mut Connection,
    cache: &mut UtxoCache,
    path: &Path,
    chain: Chain,
    pause: &mut dyn FnMut(CompactStep),
) -> Result<Compaction, StoreError> {
    let sq = |e| StoreError::sqlite(path, e);
    let mut done = Compaction::default();
    loop {
        let tx =
            conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sq)?;
        let segments = sized(&tx, path, chain)?;
        let Some(window) = plan(&segments) else {
            done.segments = segments.len() as u64;
            break;
        };
        let window = &segments[window];
        let mut reads = std::mem::take(&mut cache.reads);
        let merged = merge_window(&tx, &mut reads, path, chain, window);
        cache.reads = reads;
        let (id, rows, new) = merged?;
        pause(CompactStep::Written);
        for (s, shift) in window.iter().zip(&new.1) {
            tx.execute(
                "UPDATE utxo_input_fills SET segment = ?2, row = row + ?3 WHERE segment = ?1",
                params![s.id, id, shift],
            )
            .map_err(sq)?;
            tx.execute("DELETE FROM utxo_segments WHERE id = ?1", [s.id]).map_err(sq)?;
        }
        tx.commit().map_err(sq)?;
        let old: Vec<i64> = window.iter().map(|s| s.id).collect();
        tracing::debug!(target: "floodgate::store", ?old, new = id, rows, "merged chain segments");
        cache.replace(&old, new.0);
        done.merges += 1;
        done.rows += rows;
        pause(CompactStep::Committed);
    }
    if done.merges > 0 {
        utxo::sweep_quietly(conn, path);
        tracing::info!(target: "floodgate::store", chain = chain.as_str(), merges = done.merges, rows = done.rows, segments = done.segments, "compacted chain segments");
    }
    Ok(done)
}

/// A merge written: its id, its rows, its runs for the cache and where each part's inputs
/// start.
type Written = (i64, u64, (utxo::NewSegment, Vec<u32>));

/// Writes the merge of `window`'s segments (read into `reads`) under a new manifest row,
/// inside the caller's transaction.
fn merge_window(
    tx: &Connection,
    reads: &mut Vec<Vec<u8>>,
    path: &Path,
    chain: Chain,
    window: &[Sized],
) -> Result<Written, StoreError> {
    if reads.len() < window.len() {
        reads.resize_with(window.len(), Vec::new);
    }
    for (buf, s) in reads.iter_mut().zip(window) {
        utxo::load_blob_into(tx, path, s.id, buf)?;
    }
    let mut parts = Vec::with_capacity(window.len());
    for (d, s) in reads.iter().zip(window) {
        let view = SegmentView::layout(d).map_err(|c| utxo::corrupt(path, s.id, &c.0))?;
        parts.push(Part::whole(view));
    }
    let merged = merge(&parts);
    let rows = u64::from(merged.counts.outputs) + u64::from(merged.counts.inputs);
    let id = utxo::insert_segment(tx, path, chain.as_str(), &merged, Timestamp::now().0)?;
    let new = utxo::new_segment(id, merged.txid_entries, merged.unresolved_entries);
    Ok((id, rows, (new, merged.shifts)))
}

impl Store {
    /// Merges neighbouring chain segments (see the module docs of `compact.rs` and
    /// `docs/formats/chain-segment.md`, "Compaction"). Ingest does this after every group it
    /// commits; calling it again finds nothing to do.
    ///
    /// # Errors
    /// [`StoreError`] on a SQLite or file failure, or a damaged segment; a merge that fails
    /// leaves the segments it would have merged in force.
    pub fn compact(&mut self) -> Result<Compaction, StoreError> {
        let mut cache = std::mem::take(&mut self.utxo);
        let mut pause = self.compact_pause.take();
        let mut no_pause = |_: CompactStep| {};
        let hook: &mut dyn FnMut(CompactStep) = match &mut pause {
            Some(p) => p.as_mut(),
            None => &mut no_pause,
        };
        let res = compact_chain(&mut self.conn, &mut cache, &self.path, Chain::Bitcoin, hook);
        self.compact_pause = pause;
        self.utxo = cache;
        if res.is_err() {
            // A failed merge rolled back; its file, if written, is an orphan.
            self.utxo.clear();
            utxo::sweep_quietly(&mut self.conn, &self.path);
        }
        res
    }

    /// Calls `pause` at each [`CompactStep`] of every compaction from now on (a test kills
    /// the process there).
    #[doc(hidden)]
    pub fn set_compact_pause(&mut self, pause: impl FnMut(CompactStep) + Send + 'static) {
        self.compact_pause = Some(Box::new(pause));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(id: i64, lo: u64, hi: u64, rows: u64) -> Sized {
        Sized { id, min_height: lo, max_height: hi, rows }
    }

    /// Live ingest: one small segment per block. Merging whatever the plan finds after each
    /// one keeps the count logarithmic, and no row is rewritten more than log2 times.
    #[test]
    fn one_segment_per_block_stays_logarithmic() {
        let mut segs: Vec<Sized> = Vec::new();
        let mut rewritten = 0u64;
        let mut most = 0;
        for h in 0..20_000u64 {
            segs.push(seg(h as i64, h, h, 1 + h % 7));
            while let Some(w) = plan(&segs) {
                let m = &segs[w.clone()];
                let merged = seg(
                    -1,
                    m[0].min_height,
                    m[WIDTH - 1].max_height,
                    m.iter().map(|s| s.rows).sum(),
                );
                rewritten += merged.rows;
                segs.splice(w, [merged]);
            }
            most = most.max(segs.len());
        }
        let rows: u64 = segs.iter().map(|s| s.rows).sum();
        // 80,000 rows: log3 of it is about 10.3.
        assert!(most <= 40, "{most} segments at most");
        assert!(rewritten <= rows * 10, "rows rewritten {rewritten} for {rows}");
        for w in segs.windows(WIDTH) {
            let rest: u64 = w[1..].iter().map(|s| s.rows).sum();
            assert!(w[0].rows > rest || w.iter().any(|s| s.rows >= FULL_ROWS));
        }
    }

    /// Full segments and segments whose heights overlap are never in a window.
    #[test]
    fn full_or_overlapping_segments_are_left_alone() {
        let small = |id, h| seg(id, h, h, 1);
        assert_eq!(plan(&[small(1, 1), small(2, 2), small(3, 3), small(4, 4)]), Some(0..4));
        assert_eq!(plan(&[small(1, 1), small(2, 2), small(3, 3)]), None);
        let full = seg(5, 0, 0, FULL_ROWS);
        assert_eq!(plan(&[full, small(1, 1), small(2, 2), small(3, 3)]), None);
        let wide = seg(6, 1, 9, 1);
        assert_eq!(plan(&[wide, small(2, 2), small(3, 10), small(4, 11)]), None);
        // The newest window that qualifies is taken.
        let v = [small(1, 1), small(2, 2), small(3, 3), small(4, 4), small(5, 5)];
        assert_eq!(plan(&v), Some(1..5));
        // A first segment bigger than the rest together stays.
        assert_eq!(plan(&[seg(1, 1, 1, 4), small(2, 2), small(3, 3), small(4, 4)]), None);
    }
}
