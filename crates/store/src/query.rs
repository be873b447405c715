//! Reading the store back: the transfer listing and statistics.

use floodgate_types::{Address, Amount, Chain, Hash32, Timestamp};
use serde::Serialize;

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
    /// Ledger entries.
    pub ledger_entries: u64,
    /// Journal rows (applies, unwinds, ledger loads).
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
type Keyed = (u8, i64, i64, String, i64, TransferRow);

fn sort_keyed(rows: &mut [Keyed]) {
    rows.sort_by(|a, b| (a.0, a.1, a.2, &a.3, a.4).cmp(&(b.0, b.1, b.2, &b.3, b.4)));
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
    /// Without an address the listing streams: chain rows are read one block height at a
    /// time through the `(chain, height)` indexes and ledger rows through an ordered query,
    /// so memory is bounded by the largest block and `limit` rows read only the first
    /// blocks. With an address, its rows are found through the address indexes and sorted
    /// in memory (memory bounded by that address's rows).
    ///
    /// # Errors
    /// [`StoreError`] on SQLite failure or unreadable stored values, or `f`'s error.
    pub fn for_each_transfer<E: From<StoreError>>(
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

        if let Some(addr) = &filter.address {
            let addr = addr.to_string();
            let mut rows = Vec::new();
            for chain in Chain::ALL.into_iter().filter(|c| want_chain(*c)) {
                self.chain_rows(chain, Rows::Address(&addr), &mut rows)?;
            }
            if want_ledger {
                self.ledger_rows(Some(&addr), &mut rows)?;
            }
            sort_keyed(&mut rows);
            for r in rows {
                if !emit(r.5)? {
                    return Ok(());
                }
            }
            return Ok(());
        }

        let mut chains: Vec<Chain> = Chain::ALL.into_iter().filter(|c| want_chain(*c)).collect();
        chains.sort_by_key(|c| chain_sort_key(c.as_str()));
        let mut rows = Vec::new();
        for chain in chains {
            let mut after = i64::MIN;
            while let Some(height) = self.next_height(chain, after)? {
                rows.clear();
                self.chain_rows(chain, Rows::Height(height), &mut rows)?;
                sort_keyed(&mut rows);
                for r in rows.drain(..) {
                    if !emit(r.5)? {
                        return Ok(());
                    }
                }
                after = height;
            }
        }
        if want_ledger {
            self.ledger_stream(left.get(), &mut emit)?;
        }
        Ok(())
    }

    /// The lowest height above `after` that holds rows of `chain`.
    fn next_height(&self, chain: Chain, after: i64) -> Result<Option<i64>, StoreError> {
        let sq = |e| StoreError::sqlite(&self.path, e);
        let sql = if chain.is_account_model() {
            "SELECT MIN(height) FROM transfers WHERE chain = ?1 AND height > ?2"
        } else {
            "SELECT MIN(h) FROM (\
             SELECT MIN(height) AS h FROM utxo_inputs WHERE chain = ?1 AND height > ?2 \
             UNION ALL SELECT MIN(height) FROM utxo_outputs WHERE chain = ?1 AND height > ?2)"
        };
        let mut stmt = self.conn.prepare_cached(sql).map_err(sq)?;
        stmt.query_row(rusqlite::params![chain.as_str(), after], |r| r.get::<_, Option<i64>>(0))
            .map_err(sq)
    }

    /// Appends the rows of `chain` at one height, or of one address, with their sort keys.
    fn chain_rows(
        &self,
        chain: Chain,
        which: Rows<'_>,
        rows: &mut Vec<Keyed>,
    ) -> Result<(), StoreError> {
        let sq = |e| StoreError::sqlite(&self.path, e);
        if !chain.is_account_model() {
            for (table, kind, pos_col) in
                [("utxo_inputs", "input", "vin"), ("utxo_outputs", "output", "vout")]
            {
                let cond = match which {
                    Rows::Height(_) => "chain = ?1 AND height = ?2",
                    Rows::Address(_) => "chain = ?1 AND address = ?2",
                };
                let sql = format!(
                    "SELECT chain, height, time, txid, tx_position, {pos_col}, address, value FROM {table} WHERE {cond}"
                );
                let mut stmt = self.conn.prepare_cached(&sql).map_err(sq)?;
                let mut it = match which {
                    Rows::Height(h) => stmt.query(rusqlite::params![chain.as_str(), h]),
                    Rows::Address(a) => stmt.query(rusqlite::params![chain.as_str(), a]),
                }
                .map_err(sq)?;
                while let Some(r) = it.next().map_err(sq)? {
                    let chain: String = r.get(0).map_err(sq)?;
                    let height: i64 = r.get(1).map_err(sq)?;
                    let time: Option<i64> = r.get(2).map_err(sq)?;
                    let txid = self.hash_of(&r.get::<_, Vec<u8>>(3).map_err(sq)?)?;
                    let pos: i64 = r.get(4).map_err(sq)?;
                    let n: i64 = r.get(5).map_err(sq)?;
                    let address: Option<String> = r.get(6).map_err(sq)?;
                    let value: Option<i64> = r.get(7).map_err(sq)?;
                    let is_input = kind == "input";
                    let index = format!("{}:{n}", if is_input { "in" } else { "out" });
                    let order = if is_input { n } else { 1_000_000 + n };
                    rows.push((
                        chain_sort_key(&chain),
                        height,
                        pos,
                        txid.to_hex(),
                        order,
                        TransferRow {
                            chain,
                            height: Some(height as u64),
                            time: time.map(Timestamp),
                            txid: txid.to_hex(),
                            index,
                            kind: kind.to_owned(),
                            from: if is_input { address.clone() } else { None },
                            to: if is_input { None } else { address },
                            asset: "BTC".to_owned(),
                            amount: value.map(|v| Amount::from(v as u64)),
                        },
                    ));
                }
            }
            return Ok(());
        }
        let cols =
            "chain, height, time, txid, tx_position, idx, kind, from_addr, to_addr, asset, amount";
        let sql = match which {
            Rows::Height(_) => format!("SELECT {cols} FROM transfers WHERE chain = ?1 AND height = ?2"),
            Rows::Address(_) => format!(
                "SELECT {cols} FROM transfers WHERE chain = ?1 AND from_addr = ?2 \
                 UNION ALL SELECT {cols} FROM transfers WHERE chain = ?1 AND to_addr = ?2 AND from_addr <> ?2"
            ),
        };
        let mut stmt = self.conn.prepare_cached(&sql).map_err(sq)?;
        let mut it = match which {
            Rows::Height(h) => stmt.query(rusqlite::params![chain.as_str(), h]),
            Rows::Address(a) => stmt.query(rusqlite::params![chain.as_str(), a]),
        }
        .map_err(sq)?;
        while let Some(r) = it.next().map_err(sq)? {
            let chain: String = r.get(0).map_err(sq)?;
            let height: i64 = r.get(1).map_err(sq)?;
            let time: Option<i64> = r.get(2).map_err(sq)?;
            let txid = self.hash_of(&r.get::<_, Vec<u8>>(3).map_err(sq)?)?;
            let pos: Option<i64> = r.get(4).map_err(sq)?;
            let idx: String = r.get(5).map_err(sq)?;
            let amount: Vec<u8> = r.get(10).map_err(sq)?;
            let order = index_order(&idx);
            rows.push((
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
            ));
        }
        Ok(())
    }

    /// Appends the ledger rows whose counterparty is `addr` (all rows when `None`).
    fn ledger_rows(&self, addr: Option<&str>, rows: &mut Vec<Keyed>) -> Result<(), StoreError> {
        let sq = |e| StoreError::sqlite(&self.path, e);
        let mut sql = format!("SELECT {LEDGER_COLS} FROM ledger_entries");
        if addr.is_some() {
            sql.push_str(" WHERE counterparty_address = ?1");
        }
        let mut stmt = self.conn.prepare_cached(&sql).map_err(sq)?;
        let mut it = match addr {
            Some(a) => stmt.query([a]),
            None => stmt.query([]),
        }
        .map_err(sq)?;
        while let Some(r) = it.next().map_err(sq)? {
            let row = ledger_row(r).map_err(sq)?;
            rows.push((3, row.time.map_or(0, |t| t.0), 0, row.txid.clone(), 0, row));
        }
        Ok(())
    }

    /// Streams every ledger row in listing order (time, id, ledger), at most `limit`.
    fn ledger_stream<E: From<StoreError>>(
        &self,
        limit: usize,
        emit: &mut impl FnMut(TransferRow) -> Result<bool, E>,
    ) -> Result<(), E> {
        let sq = |e| StoreError::sqlite(&self.path, e);
        let sql =
            format!("SELECT {LEDGER_COLS} FROM ledger_entries ORDER BY time, id, ledger LIMIT ?1");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(sq)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut it = stmt.query([limit]).map_err(sq)?;
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

    /// Inputs on `chain` whose funding output is not in the store (cheap: a partial index
    /// holds exactly these).
    ///
    /// # Errors
    /// [`StoreError`] on SQLite failure.
    pub fn unresolved_inputs(&self, chain: Chain) -> Result<u64, StoreError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM utxo_inputs WHERE address IS NULL AND prev_txid IS NOT NULL AND chain = ?1",
                [chain.as_str()],
                |r| r.get::<_, i64>(0),
            )
            .map(|v| v as u64)
            .map_err(|e| StoreError::sqlite(&self.path, e))
    }

    /// Counts per chain, ledger and journal.
    ///
    /// # Errors
    /// [`StoreError`] on SQLite failure.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
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
                    "SELECT COUNT(*), MIN(height), MAX(height) FROM blocks WHERE chain = ?1",
                    [c],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .map_err(sq)?;
            let s = ChainStats {
                chain: c.to_owned(),
                blocks: blocks as u64,
                min_height: min.map(|v| v as u64),
                max_height: max.map(|v| v as u64),
                outputs: count("SELECT COUNT(*) FROM utxo_outputs WHERE chain = ?1", c)?,
                inputs: count("SELECT COUNT(*) FROM utxo_inputs WHERE chain = ?1", c)?,
                unresolved_inputs: count(
                    "SELECT COUNT(*) FROM utxo_inputs WHERE chain = ?1 AND address IS NULL AND prev_txid IS NOT NULL",
                    c,
                )?,
                transfers: count("SELECT COUNT(*) FROM transfers WHERE chain = ?1", c)?,
            };
            if s.blocks + s.outputs + s.transfers > 0 {
                stats.chains.push(s);
            }
        }
        stats.ledger_entries = self
            .conn
            .query_row("SELECT COUNT(*) FROM ledger_entries", [], |r| r.get::<_, i64>(0))
            .map_err(sq)? as u64;
        stats.journal_entries = self
            .conn
            .query_row("SELECT COUNT(*) FROM ingest_log", [], |r| r.get::<_, i64>(0))
            .map_err(sq)? as u64;
        Ok(stats)
    }
}

/// Which rows of a chain to read.
#[derive(Clone, Copy)]
enum Rows<'a> {
    /// Every row at one block height.
    Height(i64),
    /// Every row where this address sends or receives.
    Address(&'a str),
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

/// Orders `tx` before logs before traces, each by number.
fn index_order(idx: &str) -> i64 {
    if idx == "tx" {
        return 0;
    }
    if let Some(n) = idx.strip_prefix("log:").and_then(|n| n.parse::<i64>().ok()) {
        return 1 + n;
    }
    if let Some(path) = idx.strip_prefix("trace:") {
        let mut key: i64 = 0;
        for p in path.split('.').take(4) {
            key = key * 1000 + p.parse::<i64>().unwrap_or(0);
        }
        return 10_000_000 + key;
    }
    i64::MAX
}
