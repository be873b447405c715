//! Reading the store back: the transfer listing and statistics.

use floodgate_types::{Address, Amount, Chain, Hash32, Timestamp, TransferIndex};
use serde::Serialize;

use crate::segment::addr::AddrKey;
use crate::write::amount_from_blob;
use crate::{Store, StoreError};

/// Which transfers to list. Empty filter = everything.
#[derive(Debug, Clone, Default)]
pub struct TransferFilter {
    /// Only this chain.
    pub chain: Option<Chain>,
    /// Only ledger entries (`--chain ledger`).
    pub ledger_only: bool,
    /// Only rows where this address sends or receives.
    pub address: Option<Address>,
    /// At most this many rows (after ordering).
    pub limit: Option<usize>,
}

/// One row of the unified transfer listing.
///
/// - Bitcoin rows are transaction legs: `input` (from = the spent output's address) and
///   `output` (to = the address paid), so that a transaction keeps its inputs and outputs.
/// - Ethereum and Tron rows are `native`, `token` or `internal` transfers, from → to.
/// - Ledger rows (chain `ledger`) are `deposit`, `withdrawal` or `internal`, between an
///   on-chain address and `customer:<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransferRow {
    /// `bitcoin`, `ethereum`, `tron` or `ledger`.
    pub chain: String,
    /// Block height (none for ledger rows).
    pub height: Option<u64>,
    /// Time, when known.
    pub time: Option<Timestamp>,
    /// Transaction hash, or the ledger entry id.
    pub txid: String,
    /// Position within the transaction: `in:N`, `out:N`, `tx`, `log:N`, `trace:…`, or the ledger name.
    pub index: String,
    /// Row kind (see above).
    pub kind: String,
    /// Sender, when the row has one (an unresolved Bitcoin input has none).
    pub from: Option<String>,
    /// Receiver, when the row has one.
    pub to: Option<String>,
    /// Asset id.
    pub asset: String,
    /// Amount in base units (none for an unresolved Bitcoin input).
    pub amount: Option<Amount>,
}

/// Per-chain counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChainStats {
    /// The chain.
    pub chain: String,
    /// Blocks stored.
    pub blocks: u64,
    /// Lowest stored height.
    pub min_height: Option<u64>,
    /// Highest stored height (the tip).
    pub max_height: Option<u64>,
    /// Bitcoin outputs.
    pub outputs: u64,
    /// Bitcoin inputs.
    pub inputs: u64,
    /// Bitcoin inputs whose funding output is not (yet) known.
    pub unresolved_inputs: u64,
    /// Account-chain transfers.
    pub transfers: u64,
}

/// Whole-store counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    /// Per chain, for chains with data.
    pub chains: Vec<ChainStats>,
    /// Ledger entries of the store's tenant.
    pub ledger_entries: u64,
    /// Journal rows (applies, unwinds, and the tenant's ledger loads).
    pub journal_entries: u64,
}

fn chain_sort_key(c: &str) -> u8 {
    match c {
        "bitcoin" => 0,
        "ethereum" => 1,
        "tron" => 2,
        _ => 3,
    }
}

/// A row with its sort key: chain order, height (time for ledger rows), position in the
/// block, transaction id, index order.
pub(crate) type Keyed = (u8, i64, i64, String, IndexKey, TransferRow);

fn sort_keyed(rows: &mut [Keyed]) {
    rows.sort_by(|a, b| (a.0, a.1, a.2, &a.3, &a.4).cmp(&(b.0, b.1, b.2, &b.3, &b.4)));
}

impl Store {
    /// Lists transfers matching `filter`, ordered by chain, height, transaction position and
    /// index (ledger entries last, by time and id). Collects [`Store::for_each_transfer`].
    ///
    /// # Errors
    /// [`StoreError`] on SQLite failure or unreadable stored values.
    pub fn transfers(&self, filter: &TransferFilter) -> Result<Vec<TransferRow>, StoreError> {
        let mut out = Vec::new();
        self.for_each_transfer(filter, |r| {
            out.push(r);
            Ok::<(), StoreError>(())
        })?;
        Ok(out)
    }

    /// Calls `f` with each transfer matching `filter`, in [`Store::transfers`] order, and
    /// stops after `filter.limit` rows or at the first error `f` returns.
    ///
    /// Everything is read in one snapshot of the store (one SQLite read transaction).
    ///
    /// The listing streams, with or without an address: each table is read by one query in
    /// height order (through the `(chain, height)` index, or the address index and SQLite's
    /// sorter) and rows are sorted in memory one block height at a time, so memory is
    /// bounded by the largest block and `limit` rows read only the first blocks. (Until
    /// 2026-12 the listing issued one query per block height, and the address listing
    /// collected every row first.)
    ///
    /// # Errors
    /// [`StoreError`] on SQLite failure or unreadable stored values, or `f`'s error.
    pub fn for_each_transfer<E: From<StoreError>>(
        &self,
        filter: &TransferFilter,
        f: impl FnMut(TransferRow) -> Result<(), E>,
    ) -> Result<(), E> {
        self.snapshot(|| self.for_each_transfer_internal(filter, f))
    }

    fn for_each_transfer_internal<E: From<StoreError>>(
        &self,
        filter: &TransferFilter,
        mut f: impl FnMut(TransferRow) -> Result<(), E>,
    ) -> Result<(), E> {
        let left = std::cell::Cell::new(filter.limit.unwrap_or(usize::MAX));
        if left.get() == 0 {
            return Ok(());
        }
        // Emits one row; false once the limit is reached.
        let mut emit = |row: TransferRow| -> Result<bool, E> {
            f(row)?;
            left.set(left.get() - 1);
            Ok(left.get() > 0)
        };
        let want_chain = |c: Chain| !filter.ledger_only && filter.chain.is_none_or(|f| f == c);
        let want_ledger = filter.chain.is_none() || filter.ledger_only;

        let addr = filter.address.as_ref().map(Address::to_string);
        let key = filter.address.as_ref().map(AddrKey::of);
        let mut chains: Vec<Chain> = Chain::ALL.into_iter().filter(|c| want_chain(*c)).collect();
        chains.sort_by_key(|c| chain_sort_key(c.as_str()));
        for chain in chains {
            if !self.chain_stream(chain, addr.as_deref(), key, &mut emit)? {
                return Ok(());
            }
        }
        if want_ledger {
            self.ledger_stream(addr.as_deref(), left.get(), &mut emit)?;
        }
        Ok(())
    }

    /// Streams the rows of `chain` (of one address when given) in listing order: one query
    /// per table in height order (the `(chain, height)` index, or the address index and
    /// SQLite's sorter, which spills to disk), rows grouped by height and each group sorted
    /// in memory. Memory is bounded by the largest block; the caller's limit stops the
    /// queries early. False once `emit` asks to stop.
    fn chain_stream<E: From<StoreError>>(
        &self,
        chain: Chain,
        addr: Option<&str>,
        key: Option<Option<AddrKey>>,
        emit: &mut impl FnMut(TransferRow) -> Result<bool, E>,
    ) -> Result<bool, E> {
        let sq = |e| StoreError::sqlite(&self.path, e);
        let mut group: Vec<Keyed> = Vec::new();
        let mut flush = |group: &mut Vec<Keyed>| -> Result<bool, E> {
            sort_keyed(group);
            for r in group.drain(..) {
                if !emit(r.5)? {
                    return Ok(false);
                }
            }
            Ok(true)
        };
        if chain.is_account_model() {
            let cols = "chain, height, time, txid, tx_position, idx, kind, from_addr, to_addr, asset, amount";
            let sql = match addr {
                None => format!("SELECT {cols} FROM transfers WHERE tenant = '' AND chain = ?1 ORDER BY height"),
                Some(_) => format!(
                    "SELECT {cols} FROM transfers WHERE tenant = '' AND chain = ?1 AND from_addr = ?2 \
                     UNION ALL SELECT {cols} FROM transfers \
                     WHERE tenant = '' AND chain = ?1 AND to_addr = ?2 AND from_addr <> ?2 \
                     ORDER BY height"
                ),
            };
            let mut stmt = self.conn.prepare_cached(&sql).map_err(sq)?;
            let mut it = match addr {
                None => stmt.query(rusqlite::params![chain.as_str()]),
                Some(a) => stmt.query(rusqlite::params![chain.as_str(), a]),
            }
            .map_err(sq)?;
            while let Some(r) = it.next().map_err(sq)? {
                let row = self.account_row(r)?;
                if group.last().is_some_and(|g| g.1 != row.1) && !flush(&mut group)? {
                    return Ok(false);
                }
                group.push(row);
            }
            return flush(&mut group);
        }
        // Bitcoin: rows come from the chain segments, block by block in height order (an
        // address that is no Bitcoin address has no Bitcoin rows).
        let key = match key {
            None => None,
            Some(None) => return Ok(true),
            Some(Some(k)) => Some(k),
        };
        let mut last: Option<u64> = None;
        let more = self.utxo_listing(chain, key.as_ref(), |height, rows| {
            if last.is_some_and(|l| l != height) && !flush(&mut group)? {
                return Ok(false);
            }
            last = Some(height);
            group.extend(rows);
            Ok::<bool, E>(true)
        })?;
        if !more {
            return Ok(false);
        }
        flush(&mut group)
    }

    /// An account-chain transfer row with its sort key.
    fn account_row(&self, r: &rusqlite::Row<'_>) -> Result<Keyed, StoreError> {
        let sq = |e| StoreError::sqlite(&self.path, e);
        let chain: String = r.get(0).map_err(sq)?;
        let height: i64 = r.get(1).map_err(sq)?;
        let time: Option<i64> = r.get(2).map_err(sq)?;
        let txid = self.hash_of(&r.get::<_, Vec<u8>>(3).map_err(sq)?)?;
        let pos: Option<i64> = r.get(4).map_err(sq)?;
        let idx: String = r.get(5).map_err(sq)?;
        let amount: Vec<u8> = r.get(10).map_err(sq)?;
        let order = IndexKey::of(&idx);
        Ok((
            chain_sort_key(&chain),
            height,
            pos.unwrap_or(i64::MAX),
            txid.to_hex(),
            order,
            TransferRow {
                chain,
                height: Some(height as u64),
                time: time.map(Timestamp),
                txid: txid.to_hex_prefixed(),
                index: idx,
                kind: r.get(6).map_err(sq)?,
                from: Some(r.get(7).map_err(sq)?),
                to: Some(r.get(8).map_err(sq)?),
                asset: r.get(9).map_err(sq)?,
                amount: Some(amount_from_blob(&amount)),
            },
        ))
    }

    /// Streams the ledger rows (whose counterparty is `addr`, when given) in listing order
    /// (time, id, ledger), at most `limit`.
    fn ledger_stream<E: From<StoreError>>(
        &self,
        addr: Option<&str>,
        limit: usize,
        emit: &mut impl FnMut(TransferRow) -> Result<bool, E>,
    ) -> Result<(), E> {
        let sq = |e| StoreError::sqlite(&self.path, e);
        let cond = if addr.is_some() { "AND counterparty_address = ?3" } else { "" };
        let sql = format!(
            "SELECT {LEDGER_COLS} FROM ledger_entries WHERE tenant = ?2 {cond} \
             ORDER BY time, id, ledger LIMIT ?1"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(sq)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut it = match addr {
            Some(a) => stmt.query(rusqlite::params![limit, self.tenant.as_str(), a]),
            None => stmt.query(rusqlite::params![limit, self.tenant.as_str()]),
        }
        .map_err(sq)?;
        while let Some(r) = it.next().map_err(sq)? {
            if !emit(ledger_row(r).map_err(sq)?)? {
                break;
            }
        }
        Ok(())
    }

    fn hash_of(&self, b: &[u8]) -> Result<Hash32, StoreError> {
        let arr: [u8; 32] = b.try_into().map_err(|_| StoreError::BadValue {
            path: self.path.clone(),
            what: "transaction id",
            value: format!("{} bytes", b.len()),
        })?;
        Ok(Hash32(arr))
    }

    /// Inputs on `chain` whose funding output is not in the store (cheap: the segment
    /// manifest counts the inputs each segment stored unresolved, less those resolved later).
    ///
    /// # Errors
    /// [`StoreError`] on SQLite failure.
    pub fn unresolved_inputs(&self, chain: Chain) -> Result<u64, StoreError> {
        Ok(self.utxo_counts(chain)?.2)
    }

    /// Counts per chain, ledger and journal.
    ///
    /// # Errors
    /// [`StoreError`] on SQLite failure.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        self.snapshot(|| self.stats_internal())
    }

    fn stats_internal(&self) -> Result<StoreStats, StoreError> {
        let sq = |e| StoreError::sqlite(&self.path, e);
        let count = |sql: &str, chain: &str| -> Result<u64, StoreError> {
            self.conn.query_row(sql, [chain], |r| r.get::<_, i64>(0)).map(|v| v as u64).map_err(sq)
        };
        let mut stats = StoreStats::default();
        for chain in Chain::ALL {
            let c = chain.as_str();
            let (blocks, min, max): (i64, Option<i64>, Option<i64>) = self
                .conn
                .query_row(
                    "SELECT COUNT(*), MIN(height), MAX(height) FROM blocks \
                     WHERE tenant = '' AND chain = ?1",
                    [c],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .map_err(sq)?;
            let (outputs, inputs, unresolved_inputs) = self.utxo_counts(chain)?;
            let s = ChainStats {
                chain: c.to_owned(),
                blocks: blocks as u64,
                min_height: min.map(|v| v as u64),
                max_height: max.map(|v| v as u64),
                outputs,
                inputs,
                unresolved_inputs,
                transfers: count(
                    "SELECT COUNT(*) FROM transfers WHERE tenant = '' AND chain = ?1",
                    c,
                )?,
            };
            if s.blocks + s.outputs + s.transfers > 0 {
                stats.chains.push(s);
            }
        }
        stats.ledger_entries = self
            .conn
            .query_row(
                "SELECT COUNT(*) FROM ledger_entries WHERE tenant = ?1",
                [self.tenant.as_str()],
                |r| r.get::<_, i64>(0),
            )
            .map_err(sq)? as u64;
        stats.journal_entries = self
            .conn
            .query_row(
                "SELECT COUNT(*) FROM ingest_log WHERE tenant IN ('', ?1)",
                [self.tenant.as_str()],
                |r| r.get::<_, i64>(0),
            )
            .map_err(sq)? as u64;
        Ok(stats)
    }
}

const LEDGER_COLS: &str = "ledger, id, time, customer_id, direction, asset, amount, \
     counterparty_address, counterparty_customer";

/// A ledger entry as a listing row: between `customer:<id>` and the counterparty.
fn ledger_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TransferRow> {
    let ledger: String = r.get(0)?;
    let id: String = r.get(1)?;
    let time: i64 = r.get(2)?;
    let customer: String = r.get(3)?;
    let direction: String = r.get(4)?;
    let amount: Vec<u8> = r.get(6)?;
    let cp_addr: Option<String> = r.get(7)?;
    let cp_cust: Option<String> = r.get(8)?;
    let me = Some(format!("customer:{customer}"));
    let other = cp_addr.or(cp_cust.map(|c| format!("customer:{c}")));
    let (from, to) = if direction == "deposit" { (other, me) } else { (me, other) };
    Ok(TransferRow {
        chain: "ledger".to_owned(),
        height: None,
        time: Some(Timestamp(time)),
        txid: id,
        index: ledger,
        kind: direction,
        from,
        to,
        asset: r.get(5)?,
        amount: Some(amount_from_blob(&amount)),
    })
}

/// The order of transfers inside one transaction: the transaction's own value (`tx`), then
/// its logs by log index, then its internal calls in **execution order** — the pre-order of
/// the call tree, which is trace addresses compared element by element (`0` < `0.0` < `0.1`
/// < `0.2` < `0.10` < `1`), as Parity's `trace_block` lists them. Bitcoin legs: inputs (class
/// 0) before outputs (class 1), each by position. The stored `idx` is text, whose order
/// (`0.10` before `0.2`) is neither; every reader sorts by this key instead.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct IndexKey(pub(crate) u8, pub(crate) Vec<u32>);

impl IndexKey {
    /// The key of a stored account-chain `idx` (`tx`, `log:N`, `trace:a.b.c`); anything
    /// else sorts last, by nothing.
    pub(crate) fn of(idx: &str) -> IndexKey {
        match TransferIndex::parse(idx) {
            Some(TransferIndex::Tx) => IndexKey(0, Vec::new()),
            Some(TransferIndex::Log(n)) => IndexKey(1, vec![n]),
            Some(TransferIndex::Trace(path)) => IndexKey(2, path),
            None => IndexKey(u8::MAX, Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    // In tests a panic is the failure report.
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use floodgate_types::{
        Address, Amount, AssetId, Chain, ChainBlock, Hash32, Timestamp, Transfer, TransferIndex,
        TransferKind,
    };

    use super::*;

    /// SQLite virtual-machine instructions (in units of 100) that `f` makes the store run: a
    /// measure of the work a query does that a busy machine cannot disturb.
    fn vm_work(s: &Store, f: impl FnOnce()) -> u64 {
        let n = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&n);
        s.conn.progress_handler(
            100,
            Some(move || {
                counter.fetch_add(1, Ordering::Relaxed);
                false
            }),
        );
        f();
        s.conn.progress_handler(100, None::<fn() -> bool>);
        n.load(Ordering::Relaxed)
    }

    /// Before streaming, `--limit 5` read and sorted the whole store, so it took as long as the
    /// full listing (11.6 s and 1.76 GiB at 2M transfers). Now it reads the first block only:
    /// its work is a small fraction of the full listing's, counted in SQLite instructions.
    #[test]
    fn limit_five_reads_only_the_first_block_of_a_large_store() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        let (blocks, per_block) = (300u64, 100u64);
        for height in (1..=blocks).rev() {
            let transfers = (0..per_block)
                .map(|i| {
                    let mut txid = [0u8; 32];
                    txid[..8].copy_from_slice(&height.to_be_bytes());
                    txid[8..16].copy_from_slice(&i.to_be_bytes());
                    let addr =
                        |n: u64| Address::parse(Chain::Ethereum, &format!("0x{n:040x}")).unwrap();
                    Transfer {
                        chain: Chain::Ethereum,
                        height,
                        block_hash: Some(Hash32([height as u8; 32])),
                        time: Some(Timestamp(1_700_000_000 + height as i64 * 12)),
                        txid: Hash32(txid),
                        tx_position: Some(i as u32),
                        index: TransferIndex::Log(0),
                        kind: TransferKind::Token,
                        from: addr(i + 1),
                        to: addr(i + 2),
                        asset: AssetId("USDT-ERC20".to_owned()),
                        amount: Amount::from(i + 1),
                    }
                })
                .collect();
            s.apply_block(&ChainBlock { header: None, utxo_txs: vec![], transfers }).unwrap();
        }
        let full = vm_work(&s, || {
            let mut n = 0u64;
            s.for_each_transfer(&TransferFilter::default(), |_| {
                n += 1;
                Ok::<(), StoreError>(())
            })
            .unwrap();
            assert_eq!(n, blocks * per_block);
        });
        let five = vm_work(&s, || {
            let rows =
                s.transfers(&TransferFilter { limit: Some(5), ..Default::default() }).unwrap();
            assert_eq!(rows.len(), 5);
            assert_eq!(rows[0].height, Some(1));
        });
        assert!(full > 1000, "the full listing's work was counted: {full}");
        assert!(
            five * 50 < full,
            "limit 5 ran {five}00 SQLite instructions, the full 30,000-row listing {full}00: \
             limit must not read the store"
        );
    }
}
