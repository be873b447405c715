//! Reading Bitcoin rows back from chain segments: the listing (all rows, or one address's),
//! the legs the graph build reads, counts, and the segments' own integrity check.
//!
//! Segments are visited in height order: each is opened (read and checked) when the merge
//! reaches its lowest height and dropped once read, so a store written in height order holds
//! one segment in memory at a time, and a listing with a limit reads only the first ones.

use std::collections::HashMap;

use floodgate_types::{Amount, Chain, Hash32, LegKind, Timestamp};
use rusqlite::params;
use rustc_hash::FxBuildHasher;

use crate::export::ExportLeg;
use crate::query::{IndexKey, Keyed, TransferRow};
use crate::segment::addr::{render, AddrKey};
use crate::segment::{read_run, SegmentView, NO_ADDR};
use crate::utxo::{load_blob, load_blob_into};
use crate::{Store, StoreError};

/// A row of a segment: an output row, or an input row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum RowRef {
    In(u32),
    Out(u32),
}

/// One open segment in the merge.
struct Cursor {
    id: i64,
    data: Vec<u8>,
    /// Later resolutions of its unresolved inputs: input row → (address, value).
    fills: HashMap<u32, (String, u64)>,
    /// Rendered addresses, by id (base58 and bech32 are rendered once per segment; an
    /// address listing renders one or two of a segment's addresses).
    names: HashMap<u32, String, FxBuildHasher>,
    /// Blocks to visit, with the rows to show (all rows when `None`).
    visits: Vec<(u32, Option<Vec<RowRef>>)>,
    at: usize,
}

impl Cursor {
    fn view(&self) -> Result<SegmentView<'_>, StoreError> {
        SegmentView::layout(&self.data).map_err(|c| StoreError::Corrupt {
            path: std::path::PathBuf::new(),
            detail: format!("chain segment {}: {}", self.id, c.0),
        })
    }

    fn next_height(&self) -> Option<u64> {
        let (b, _) = self.visits.get(self.at)?;
        self.view().ok().map(|v| v.block(*b).height)
    }

    fn name(&mut self, id: u32) -> Option<String> {
        if let Some(n) = self.names.get(&id) {
            return Some(n.clone());
        }
        let n = render(SegmentView::layout(&self.data).ok()?.key(id))?;
        self.names.insert(id, n.clone());
        Some(n)
    }

    /// An input's address and value: from the segment, or from a later resolution.
    fn input_address(&mut self, row: u32) -> Result<Option<(String, u64)>, StoreError> {
        let (addr, value) = {
            let i = self.view()?.input(row);
            (i.addr, i.value)
        };
        if addr == NO_ADDR {
            return Ok(self.fills.get(&row).cloned());
        }
        let name = self.name(addr).ok_or_else(|| self.bad("address key"))?;
        Ok(Some((name, value)))
    }

    fn output_address(&mut self, row: u32) -> Result<(String, u64), StoreError> {
        let o = self.view()?.output(row);
        let name = self.name(o.addr).ok_or_else(|| self.bad("address key"))?;
        Ok((name, o.value))
    }

    fn bad(&self, what: &str) -> StoreError {
        StoreError::Corrupt {
            path: std::path::PathBuf::new(),
            detail: format!("chain segment {}: unreadable {what}", self.id),
        }
    }

    /// The rows of block `b` (all, or `only`), in block order: each transaction's inputs,
    /// then its outputs.
    fn block_rows(
        &self,
        b: u32,
        only: Option<&[RowRef]>,
    ) -> Result<Vec<(u32, RowRef)>, StoreError> {
        let v = self.view()?;
        if let Some(rows) = only {
            return Ok(rows
                .iter()
                .map(|r| match r {
                    RowRef::In(i) => (v.tx_of_input(*i), *r),
                    RowRef::Out(o) => (v.tx_of_output(*o), *r),
                })
                .collect());
        }
        let end = if b + 1 < v.n_blocks() { v.block(b + 1).first_tx } else { v.n_tx() };
        let mut out = Vec::new();
        for t in v.block(b).first_tx..end {
            out.extend(v.tx_inputs(t).map(|r| (t, RowRef::In(r))));
            out.extend(v.tx_outputs(t).map(|r| (t, RowRef::Out(r))));
        }
        Ok(out)
    }
}

/// A segment of the manifest: id and height range.
struct Meta {
    id: i64,
    min_height: u64,
}

impl Store {
    /// Runs `f` inside one read transaction (unless the connection is in one already), so
    /// that what it reads is one snapshot of the store: a merge or an unwind that another
    /// handle commits meanwhile, moving later resolutions to other segments, is not half seen
    /// (a segment file it then deletes is an error naming the segment; a rerun reads the new
    /// state).
    pub(crate) fn snapshot<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        if !self.conn.is_autocommit() {
            return f();
        }
        let sq = |e| StoreError::sqlite(&self.path, e);
        self.conn.execute_batch("BEGIN").map_err(sq)?;
        let r = f();
        // A read transaction: there is nothing to keep or undo, only the snapshot to let go.
        let end = self.conn.execute_batch("COMMIT").map_err(sq);
        let v = r?;
        end?;
        Ok(v)
    }

    fn corrupt_segment(&self, id: i64, what: &str) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            detail: format!("chain segment {id}: {what}"),
        }
    }

    /// Opens segment `id` for the merge: its blocks above `after`, or, with `key`, the
    /// blocks holding that address's rows.
    /// `data` is a buffer to read the segment into (one a closed cursor held: a segment of
    /// tens of MB read into fresh memory faults every page in).
    fn open_cursor(
        &self,
        id: i64,
        after: Option<u64>,
        key: Option<&AddrKey>,
        mut data: Vec<u8>,
    ) -> Result<Cursor, StoreError> {
        let sq = |e| StoreError::sqlite(&self.path, e);
        load_blob_into(&self.conn, &self.path, id, &mut data)?;
        let v = SegmentView::layout(&data).map_err(|c| self.corrupt_segment(id, &c.0))?;
        let mut fills = HashMap::new();
        {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT row, address, value FROM utxo_input_fills WHERE segment = ?1",
                )
                .map_err(sq)?;
            let mut rows = stmt.query([id]).map_err(sq)?;
            while let Some(r) = rows.next().map_err(sq)? {
                let row: u32 = r.get(0).map_err(sq)?;
                let key: Vec<u8> = r.get(1).map_err(sq)?;
                let value: i64 = r.get(2).map_err(sq)?;
                let name = render(&key)
                    .ok_or_else(|| self.corrupt_segment(id, "unreadable resolved address"))?;
                fills.insert(row, (name, value as u64));
            }
        }
        let visits = match key {
            None => (0..v.n_blocks())
                .filter(|b| after.is_none_or(|a| v.block(*b).height > a))
                .map(|b| (b, None))
                .collect(),
            Some(k) => {
                let mut rows: Vec<(u32, RowRef)> = Vec::new();
                if let Some(a) = v.find(k.as_bytes()) {
                    for r in v.rows_of(a) {
                        if r < v.n_out() {
                            rows.push((v.tx(v.tx_of_output(r)).block, RowRef::Out(r)));
                        } else {
                            let i = r - v.n_out();
                            rows.push((v.tx(v.tx_of_input(i)).block, RowRef::In(i)));
                        }
                    }
                }
                let filled: Vec<u32> = {
                    let mut stmt = self
                        .conn
                        .prepare_cached(
                            "SELECT row FROM utxo_input_fills WHERE segment = ?1 AND address = ?2",
                        )
                        .map_err(sq)?;
                    let r = stmt
                        .query_map(params![id, k.as_bytes()], |r| r.get(0))
                        .map_err(sq)?
                        .collect::<Result<Vec<u32>, _>>()
                        .map_err(sq)?;
                    r
                };
                for i in filled.into_iter().filter(|i| *i < v.n_in()) {
                    rows.push((v.tx(v.tx_of_input(i)).block, RowRef::In(i)));
                }
                rows.sort();
                let mut visits: Vec<(u32, Option<Vec<RowRef>>)> = Vec::new();
                for (b, r) in rows {
                    match visits.last_mut() {
                        Some((lb, Some(list))) if *lb == b => list.push(r),
                        _ => visits.push((b, Some(vec![r]))),
                    }
                }
                visits
            }
        };
        Ok(Cursor { id, data, fills, names: HashMap::default(), visits, at: 0 })
    }

    /// Visits the blocks of `chain`'s segments above `after` in height order (with `key`, only
    /// the blocks holding that address's rows), calling `f` with each block's rows; stops
    /// when `f` returns false (and returns false).
    fn merge_blocks<E: From<StoreError>>(
        &self,
        chain: Chain,
        after: Option<u64>,
        key: Option<&AddrKey>,
        mut f: impl FnMut(&mut Cursor, u32, Vec<(u32, RowRef)>) -> Result<bool, E>,
    ) -> Result<bool, E> {
        let sq = |e| StoreError::sqlite(&self.path, e);
        let metas: Vec<Meta> = {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT id, min_height FROM utxo_segments WHERE chain = ?1 AND max_height > ?2 \
                     ORDER BY min_height, id",
                )
                .map_err(sq)?;
            let after_i = after.map_or(-1, |a| i64::try_from(a).unwrap_or(i64::MAX));
            let m = stmt
                .query_map(params![chain.as_str(), after_i], |r| {
                    Ok(Meta { id: r.get(0)?, min_height: r.get::<_, i64>(1)? as u64 })
                })
                .map_err(sq)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(sq)?;
            m
        };
        let mut active: Vec<Cursor> = Vec::new();
        // Buffers of closed cursors, for the next segments.
        let mut spare: Vec<Vec<u8>> = Vec::new();
        let mut next = 0usize;
        loop {
            let best = active
                .iter()
                .enumerate()
                .filter_map(|(i, c)| c.next_height().map(|h| (h, i)))
                .min();
            if let Some(m) = metas.get(next) {
                if best.is_none_or(|(h, _)| m.min_height <= h) {
                    let c = self.open_cursor(m.id, after, key, spare.pop().unwrap_or_default())?;
                    if c.visits.is_empty() {
                        spare.push(c.data);
                    } else {
                        active.push(c);
                    }
                    next += 1;
                    continue;
                }
            }
            let Some((_, i)) = best else { break };
            let c = &mut active[i];
            let (b, only) = c.visits[c.at].clone();
            c.at += 1;
            let rows = c.block_rows(b, only.as_deref())?;
            if !f(c, b, rows)? {
                return Ok(false);
            }
            if c.at >= c.visits.len() {
                spare.push(active.swap_remove(i).data);
            }
        }
        Ok(true)
    }

    /// Streams `chain`'s Bitcoin rows (of one address when `key` is given) grouped by block
    /// height, each row with its listing sort key; false once `emit` asks to stop.
    pub(crate) fn utxo_listing<E: From<StoreError>>(
        &self,
        chain: Chain,
        key: Option<&AddrKey>,
        mut emit: impl FnMut(u64, Vec<Keyed>) -> Result<bool, E>,
    ) -> Result<bool, E> {
        self.merge_blocks(chain, None, key, |c, b, rows| {
            let v = c.view()?;
            let blk = v.block(b);
            let mut out = Vec::with_capacity(rows.len());
            for (t, r) in rows {
                let (txid, position) = {
                    let tx = c.view()?.tx(t);
                    (Hash32(*tx.txid).to_hex(), tx.position)
                };
                let (is_input, n, address, value) = match r {
                    RowRef::In(i) => {
                        let vin = c.view()?.input(i).vin;
                        let a = c.input_address(i)?;
                        (true, vin, a.as_ref().map(|x| x.0.clone()), a.map(|x| x.1))
                    }
                    RowRef::Out(o) => {
                        let vout = c.view()?.output(o).vout;
                        let (a, val) = c.output_address(o)?;
                        (false, vout, Some(a), Some(val))
                    }
                };
                let row = TransferRow {
                    chain: chain.as_str().to_owned(),
                    height: Some(blk.height),
                    time: blk.time.map(Timestamp),
                    txid: txid.clone(),
                    index: format!("{}:{n}", if is_input { "in" } else { "out" }),
                    kind: if is_input { "input" } else { "output" }.to_owned(),
                    from: if is_input { address.clone() } else { None },
                    to: if is_input { None } else { address },
                    asset: "BTC".to_owned(),
                    amount: value.map(Amount::from),
                };
                out.push((
                    0,
                    blk.height as i64,
                    i64::from(position),
                    txid,
                    IndexKey(u8::from(!is_input), vec![n]),
                    row,
                ));
            }
            emit(blk.height, out)
        })
    }

    /// Every leg of `chain`'s segments above `after`: all resolved inputs in height order,
    /// then all outputs (as the SQLite store's two ordered queries gave them).
    pub(crate) fn utxo_legs<E: From<StoreError>>(
        &self,
        chain: Chain,
        after: Option<u64>,
        mut f: impl FnMut(ExportLeg) -> Result<(), E>,
    ) -> Result<(), E> {
        for inputs in [true, false] {
            self.merge_blocks(chain, after, None, |c, b, rows| {
                let blk = c.view()?.block(b);
                for (t, r) in rows {
                    let txid = Hash32(*c.view()?.tx(t).txid);
                    let (kind, from, to, value) = match r {
                        RowRef::In(i) if inputs => match c.input_address(i)? {
                            Some((a, v)) => (LegKind::Input, Some(a), None, v),
                            None => continue,
                        },
                        RowRef::Out(o) if !inputs => {
                            let (a, v) = c.output_address(o)?;
                            (LegKind::Output, None, Some(a), v)
                        }
                        _ => continue,
                    };
                    f(ExportLeg {
                        chain,
                        height: blk.height,
                        time: blk.time,
                        txid,
                        kind,
                        from,
                        to,
                        asset: chain.native_asset().to_owned(),
                        amount: Amount::from(value),
                    })?;
                }
                Ok::<bool, E>(true)
            })?;
        }
        Ok(())
    }

    /// `(outputs, inputs, unresolved inputs)` of `chain`'s segments.
    pub(crate) fn utxo_counts(&self, chain: Chain) -> Result<(u64, u64, u64), StoreError> {
        let sq = |e| StoreError::sqlite(&self.path, e);
        let (outs, ins, unresolved): (i64, i64, i64) = self
            .conn
            .query_row(
                "SELECT COALESCE(SUM(outputs), 0), COALESCE(SUM(inputs), 0), \
                 COALESCE(SUM(unresolved), 0) FROM utxo_segments WHERE chain = ?1",
                [chain.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(sq)?;
        let filled: i64 = self
            .conn
            .query_row(
                "SELECT COUNT(*) FROM utxo_input_fills WHERE chain = ?1",
                [chain.as_str()],
                |r| r.get(0),
            )
            .map_err(sq)?;
        Ok((outs as u64, ins as u64, unresolved.saturating_sub(filled) as u64))
    }

    /// Checks every segment: checksums, the references inside, the runs, and the counts the
    /// manifest records.
    pub(crate) fn check_segments(&self) -> Result<(), StoreError> {
        let sq = |e| StoreError::sqlite(&self.path, e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, blocks, txs, outputs, inputs, unresolved, txid_run, unresolved_run \
                 FROM utxo_segments ORDER BY id",
            )
            .map_err(sq)?;
        let mut rows = stmt.query([]).map_err(sq)?;
        while let Some(r) = rows.next().map_err(sq)? {
            let id: i64 = r.get(0).map_err(sq)?;
            let counts: [i64; 5] = [
                r.get(1).map_err(sq)?,
                r.get(2).map_err(sq)?,
                r.get(3).map_err(sq)?,
                r.get(4).map_err(sq)?,
                r.get(5).map_err(sq)?,
            ];
            let (txids, unresolved): (Vec<u8>, Vec<u8>) =
                (r.get(6).map_err(sq)?, r.get(7).map_err(sq)?);
            let data = load_blob(&self.conn, &self.path, id)?;
            let v = SegmentView::layout(&data).map_err(|c| self.corrupt_segment(id, &c.0))?;
            // Layout 1 keeps the runs in the manifest, layout 2 in the file (checked against
            // its rows when the file was read), never both.
            let (txids, unresolved) = match (v.runs(), txids.is_empty() && unresolved.is_empty()) {
                (Some((t, u)), true) => (t.to_vec(), u.to_vec()),
                (None, false) => (txids, unresolved),
                _ => {
                    return Err(self.corrupt_segment(
                        id,
                        "its runs are in both the manifest and the file, or in neither",
                    ))
                }
            };
            let txids = read_run(&txids).map_err(|c| self.corrupt_segment(id, &c.0))?;
            let unresolved = read_run(&unresolved).map_err(|c| self.corrupt_segment(id, &c.0))?;
            let open = (0..v.n_in())
                .filter(|i| {
                    let x = v.input(*i);
                    x.addr == NO_ADDR && x.prevout.is_some()
                })
                .count();
            let found = [
                i64::from(v.n_blocks()),
                i64::from(v.n_tx()),
                i64::from(v.n_out()),
                i64::from(v.n_in()),
                open as i64,
            ];
            if found != counts || txids.len() != v.n_tx() as usize || unresolved.len() != open {
                return Err(self.corrupt_segment(
                    id,
                    &format!("the manifest records {counts:?} (blocks, transactions, outputs, inputs, unresolved), the segment holds {found:?}"),
                ));
            }
        }
        Ok(())
    }
}
