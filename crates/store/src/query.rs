//! Reading the store back: the transfer listing and statistics.

use floodgate_types::{Address, Amount, Chain, Hash32, Timestamp};
use rusqlite::params_from_iter;
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

impl Store {
    /// Lists transfers matching `filter`, ordered by chain, height, transaction position and
    /// index.
    ///
    /// # Errors
    /// [`StoreError`] on SQLite failure or unreadable stored values.
    pub fn transfers(&self, filter: &TransferFilter) -> Result<Vec<TransferRow>, StoreError> {
        let sq = |e| StoreError::sqlite(&self.path, e);
        let addr = filter.address.as_ref().map(Address::to_string);
        let mut rows: Vec<(u8, i64, i64, String, i64, TransferRow)> = Vec::new();
        let want_chain = |c: Chain| !filter.ledger_only && filter.chain.is_none_or(|f| f == c);

        if want_chain(Chain::Bitcoin) {
            for (table, kind, pos_col) in
                [("utxo_inputs", "input", "vin"), ("utxo_outputs", "output", "vout")]
            {
                let mut sql = format!(
                    "SELECT chain, height, time, txid, tx_position, {pos_col}, address, value FROM {table}"
                );
                let args = where_clause(
                    &mut sql,
                    &[
                        ("chain = ?", filter.chain.map(|c| vec![c.as_str().to_owned()])),
                        ("address = ?", addr.clone().map(|a| vec![a])),
                    ],
                );
                let mut stmt = self.conn.prepare(&sql).map_err(sq)?;
                let it = stmt
                    .query_map(params_from_iter(args.iter()), |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, Option<i64>>(2)?,
                            r.get::<_, Vec<u8>>(3)?,
                            r.get::<_, i64>(4)?,
                            r.get::<_, i64>(5)?,
                            r.get::<_, Option<String>>(6)?,
                            r.get::<_, Option<i64>>(7)?,
                        ))
                    })
                    .map_err(sq)?;
                for row in it {
                    let (chain, height, time, txid, pos, n, address, value) = row.map_err(sq)?;
                    let txid = self.hash_of(&txid)?;
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
        }

        if filter.chain.is_none_or(|c| c.is_account_model()) && !filter.ledger_only {
            let mut sql = "SELECT chain, height, time, txid, tx_position, idx, kind, from_addr, to_addr, asset, amount FROM transfers".to_owned();
            let args = where_clause(
                &mut sql,
                &[
                    ("chain = ?", filter.chain.map(|c| vec![c.as_str().to_owned()])),
                    ("(from_addr = ? OR to_addr = ?)", addr.clone().map(|a| vec![a.clone(), a])),
                ],
            );
            let mut stmt = self.conn.prepare(&sql).map_err(sq)?;
            let it = stmt
                .query_map(params_from_iter(args.iter()), |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, Vec<u8>>(3)?,
                        r.get::<_, Option<i64>>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, String>(7)?,
                        r.get::<_, String>(8)?,
                        r.get::<_, String>(9)?,
                        r.get::<_, Vec<u8>>(10)?,
                    ))
                })
                .map_err(sq)?;
            for row in it {
                let (chain, height, time, txid, pos, idx, kind, from, to, asset, amount) =
                    row.map_err(sq)?;
                let txid = self.hash_of(&txid)?;
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
                        kind,
                        from: Some(from),
                        to: Some(to),
                        asset,
                        amount: Some(amount_from_blob(&amount)),
                    },
                ));
            }
        }

        if filter.chain.is_none() || filter.ledger_only {
            let mut sql = "SELECT ledger, id, time, customer_id, direction, asset, amount, counterparty_address, counterparty_customer FROM ledger_entries".to_owned();
            let args = where_clause(
                &mut sql,
                &[("counterparty_address = ?", addr.clone().map(|a| vec![a]))],
            );
            let mut stmt = self.conn.prepare(&sql).map_err(sq)?;
            let it = stmt
                .query_map(params_from_iter(args.iter()), |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, Vec<u8>>(6)?,
                        r.get::<_, Option<String>>(7)?,
                        r.get::<_, Option<String>>(8)?,
                    ))
                })
                .map_err(sq)?;
            for row in it {
                let (ledger, id, time, customer, direction, asset, amount, cp_addr, cp_cust) =
                    row.map_err(sq)?;
                let me = Some(format!("customer:{customer}"));
                let other = cp_addr.or(cp_cust.map(|c| format!("customer:{c}")));
                let (from, to) = if direction == "deposit" { (other, me) } else { (me, other) };
                rows.push((
                    3,
                    time,
                    0,
                    id.clone(),
                    0,
                    TransferRow {
                        chain: "ledger".to_owned(),
                        height: None,
                        time: Some(Timestamp(time)),
                        txid: id,
                        index: ledger,
                        kind: direction,
                        from,
                        to,
                        asset,
                        amount: Some(amount_from_blob(&amount)),
                    },
                ));
            }
        }

        rows.sort_by(|a, b| (a.0, a.1, a.2, &a.3, a.4).cmp(&(b.0, b.1, b.2, &b.3, b.4)));
        let mut out: Vec<TransferRow> = rows.into_iter().map(|r| r.5).collect();
        if let Some(l) = filter.limit {
            out.truncate(l);
        }
        Ok(out)
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

/// Appends `WHERE c1 AND c2 …` for the conditions that have arguments, and returns the
/// arguments in placeholder order.
fn where_clause(sql: &mut String, conds: &[(&str, Option<Vec<String>>)]) -> Vec<String> {
    let mut args = Vec::new();
    let mut first = true;
    for (cond, vals) in conds {
        let Some(vals) = vals else { continue };
        sql.push_str(if first { " WHERE " } else { " AND " });
        sql.push_str(cond);
        args.extend(vals.iter().cloned());
        first = false;
    }
    args
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
