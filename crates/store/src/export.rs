//! Bulk reads for building derived indexes (the transaction graph): every stored leg of a
//! chain above a height, streamed in height order without materialising the whole store,
//! and the block hashes a derived index needs to notice a reorganisation.

use floodgate_types::{Amount, Chain, Hash32};

use crate::query::IndexKey;
use crate::write::amount_from_blob;
use crate::{Store, StoreError};

/// What a leg is (one definition, in `floodgate-types`).
pub use floodgate_types::LegKind;

/// One leg of a transaction, as the graph needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportLeg {
    /// The chain.
    pub chain: Chain,
    /// Block height.
    pub height: u64,
    /// Block time (Unix seconds), when known.
    pub time: Option<i64>,
    /// Transaction hash.
    pub txid: Hash32,
    /// Kind of leg.
    pub kind: LegKind,
    /// Sender address (canonical form); `None` for a Bitcoin output.
    pub from: Option<String>,
    /// Receiver address (canonical form); `None` for a Bitcoin input.
    pub to: Option<String>,
    /// Asset id (`BTC` for Bitcoin legs).
    pub asset: String,
    /// Amount in the asset's base units.
    pub amount: Amount,
}

/// Ends a scan of legs early ([`Store::block_txids`]).
enum Scan {
    Done,
    Store(StoreError),
}

impl From<StoreError> for Scan {
    fn from(e: StoreError) -> Scan {
        Scan::Store(e)
    }
}

impl Store {
    /// Calls `f` for every leg of `chain` in blocks above `after_height` (all blocks when
    /// `None`), in height order: for Bitcoin first all resolved inputs, then all outputs
    /// (an input whose funding output is not stored has no address and is skipped; see
    /// [`Store::unresolved_inputs`]); for account chains every transfer, each transaction's
    /// in the order [`Store::transfers`] lists them (its own value, its logs, then its
    /// internal calls in execution order).
    ///
    /// # Errors
    /// [`StoreError`] on SQLite failure or an unreadable stored value, or whatever `f` returns.
    pub fn for_each_leg<E: From<StoreError>>(
        &self,
        chain: Chain,
        after_height: Option<u64>,
        f: impl FnMut(ExportLeg) -> Result<(), E>,
    ) -> Result<(), E> {
        self.snapshot(|| self.for_each_leg_internal(chain, after_height, f))
    }

    fn for_each_leg_internal<E: From<StoreError>>(
        &self,
        chain: Chain,
        after_height: Option<u64>,
        mut f: impl FnMut(ExportLeg) -> Result<(), E>,
    ) -> Result<(), E> {
        let sq = |e| StoreError::sqlite(&self.path, e);
        // -1 selects every height (heights are never negative).
        let after = after_height.map_or(-1, |h| h as i64);
        if chain.is_account_model() {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT height, time, txid, from_addr, to_addr, asset, amount, tx_position, idx \
                     FROM transfers WHERE tenant = '' AND chain = ?1 AND height > ?2 \
                     ORDER BY height, tx_position, txid, idx",
                )
                .map_err(sq)?;
            let mut rows = stmt.query(rusqlite::params![chain.as_str(), after]).map_err(sq)?;
            // One transaction's transfers are sorted by `IndexKey` (its value, logs, then
            // internal calls in execution order) before they are passed on: the stored `idx`
            // is text, which puts `trace:0.10` before `trace:0.2`.
            let mut tx: Vec<(IndexKey, ExportLeg)> = Vec::new();
            let mut at: Option<(i64, Option<i64>, Vec<u8>)> = None;
            let mut flush = |tx: &mut Vec<(IndexKey, ExportLeg)>| -> Result<(), E> {
                tx.sort_by(|a, b| a.0.cmp(&b.0));
                tx.drain(..).try_for_each(|(_, leg)| f(leg))
            };
            while let Some(r) = rows.next().map_err(sq)? {
                let height: i64 = r.get(0).map_err(sq)?;
                let txid: Vec<u8> = r.get(2).map_err(sq)?;
                let amount: Vec<u8> = r.get(6).map_err(sq)?;
                let pos: Option<i64> = r.get(7).map_err(sq)?;
                let idx: String = r.get(8).map_err(sq)?;
                let key = (height, pos, txid);
                if at.as_ref() != Some(&key) {
                    flush(&mut tx)?;
                }
                let leg = ExportLeg {
                    chain,
                    height: height as u64,
                    time: r.get(1).map_err(sq)?,
                    txid: self.export_hash(&key.2)?,
                    kind: LegKind::Transfer,
                    from: Some(r.get(3).map_err(sq)?),
                    to: Some(r.get(4).map_err(sq)?),
                    asset: r.get(5).map_err(sq)?,
                    amount: amount_from_blob(&amount),
                };
                tx.push((IndexKey::of(&idx), leg));
                at = Some(key);
            }
            return flush(&mut tx);
        }
        self.utxo_legs(chain, after_height, f)
    }

    /// The ids of the transactions of `chain`'s block at `height`, each once, in the order
    /// [`Store::for_each_leg`] gives their legs: what a graph resolves a transfer's place in
    /// its block with. An account chain's are read alone (about half the time of its legs
    /// at 50M generated transfers, where clustering resolves a sweep in most blocks); a
    /// Bitcoin block's from its legs.
    ///
    /// # Errors
    /// [`StoreError`] on SQLite failure or an unreadable stored value.
    pub fn block_txids(&self, chain: Chain, height: u64) -> Result<Vec<Hash32>, StoreError> {
        let mut ids: Vec<Hash32> = Vec::new();
        if !chain.is_account_model() {
            let scan = self.for_each_leg(chain, height.checked_sub(1), |leg| {
                if leg.height != height {
                    return Err(Scan::Done);
                }
                if ids.last() != Some(&leg.txid) {
                    ids.push(leg.txid);
                }
                Ok(())
            });
            return match scan {
                Ok(()) | Err(Scan::Done) => Ok(ids),
                Err(Scan::Store(e)) => Err(e),
            };
        }
        let sq = |e| StoreError::sqlite(&self.path, e);
        // A range, not `height = ?2`: on an equality SQLite may pick the primary key
        // (tenant, chain, txid, idx) and read every transfer of the chain.
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT txid FROM transfers \
                 WHERE tenant = '' AND chain = ?1 AND height >= ?2 AND height <= ?2 \
                 ORDER BY tx_position, txid",
            )
            .map_err(sq)?;
        let h = i64::try_from(height).unwrap_or(i64::MAX);
        let mut rows = stmt.query(rusqlite::params![chain.as_str(), h]).map_err(sq)?;
        while let Some(r) = rows.next().map_err(sq)? {
            let txid: Vec<u8> = r.get(0).map_err(sq)?;
            let txid = self.export_hash(&txid)?;
            if ids.last() != Some(&txid) {
                ids.push(txid);
            }
        }
        Ok(ids)
    }

    /// The highest stored block of `chain`: `(height, hash)`, or `None` when the chain is empty.
    ///
    /// # Errors
    /// [`StoreError`] on SQLite failure or an unreadable hash.
    pub fn chain_tip(&self, chain: Chain) -> Result<Option<(u64, Hash32)>, StoreError> {
        let sq = |e| StoreError::sqlite(&self.path, e);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT height, hash FROM blocks WHERE tenant = '' AND chain = ?1 \
                 ORDER BY height DESC LIMIT 1",
            )
            .map_err(sq)?;
        let mut rows = stmt.query([chain.as_str()]).map_err(sq)?;
        match rows.next().map_err(sq)? {
            Some(r) => {
                let h: i64 = r.get(0).map_err(sq)?;
                let hash: Vec<u8> = r.get(1).map_err(sq)?;
                Ok(Some((h as u64, self.export_hash(&hash)?)))
            }
            None => Ok(None),
        }
    }

    /// The hash of the stored block of `chain` at `height`, if any.
    ///
    /// # Errors
    /// [`StoreError`] on SQLite failure or an unreadable hash.
    pub fn block_hash(&self, chain: Chain, height: u64) -> Result<Option<Hash32>, StoreError> {
        let sq = |e| StoreError::sqlite(&self.path, e);
        let mut stmt = self
            .conn
            .prepare("SELECT hash FROM blocks WHERE tenant = '' AND chain = ?1 AND height = ?2")
            .map_err(sq)?;
        let mut rows = stmt.query(rusqlite::params![chain.as_str(), height as i64]).map_err(sq)?;
        match rows.next().map_err(sq)? {
            Some(r) => {
                let hash: Vec<u8> = r.get(0).map_err(sq)?;
                Ok(Some(self.export_hash(&hash)?))
            }
            None => Ok(None),
        }
    }

    fn export_hash(&self, b: &[u8]) -> Result<Hash32, StoreError> {
        let arr: [u8; 32] = b.try_into().map_err(|_| StoreError::BadValue {
            path: self.path.clone(),
            what: "hash",
            value: format!("{} bytes", b.len()),
        })?;
        Ok(Hash32(arr))
    }
}
