//! Applying blocks and ledger entries, and unwinding blocks.

use floodgate_types::{Address, Amount, Chain, ChainBlock, Hash32, LedgerEntry, Timestamp};
use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};

use crate::utxo::{self, Pending, UtxoCache};
use crate::{Store, StoreError};

/// What applying one block did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyOutcome {
    /// UTXO transactions with at least one new row.
    pub new_transactions: u64,
    /// New account-chain transfers.
    pub new_transfers: u64,
    /// Records that were already stored (re-ingestion).
    pub already_stored: u64,
    /// Inputs resolved from outputs already in the store (including earlier unresolved
    /// inputs that this block's outputs resolved).
    pub inputs_resolved_from_store: u64,
    /// Inputs of this block stored without their funding output (it may arrive later;
    /// [`Store::stats`] counts what is unresolved overall).
    pub inputs_unresolved: u64,
    /// A reorganisation this block caused, if any.
    pub unwound: Option<Unwound>,
}

/// Blocks removed by a rollback or reorganisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unwound {
    /// The chain.
    pub chain: Chain,
    /// Lowest height removed.
    pub from_height: u64,
    /// Number of blocks removed.
    pub blocks: u64,
    /// Why.
    pub reason: String,
}

/// What applying a ledger file did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerOutcome {
    /// New entries.
    pub inserted: u64,
    /// Entries already stored with identical content.
    pub already_stored: u64,
}

fn height_i64(chain: Chain, hash: Hash32, height: u64) -> Result<i64, StoreError> {
    i64::try_from(height).map_err(|_| StoreError::HeightOverflow { chain, hash, height })
}

impl Store {
    fn begin(&mut self) -> Result<Transaction<'_>, StoreError> {
        let path = self.path.clone();
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| StoreError::sqlite(&path, e))
    }

    /// Applies one normalized block in a single transaction: all of it is stored, or none.
    ///
    /// # Errors
    /// [`StoreError`] on SQLite failure; nothing of the block is stored then.
    pub fn apply_block(&mut self, block: &ChainBlock) -> Result<ApplyOutcome, StoreError> {
        let mut out = self.apply_blocks(std::slice::from_ref(block))?;
        Ok(out.pop().unwrap_or_default())
    }

    /// Applies several blocks in one transaction (a group commit): all of them are stored, or
    /// none. Bulk ingest uses it so that each touched index page is written to the log once per
    /// group rather than once per block; the outcomes are per block, in order.
    ///
    /// # Errors
    /// [`StoreError`] on SQLite failure or a refused block; nothing of the group is stored then.
    pub fn apply_blocks(&mut self, blocks: &[ChainBlock]) -> Result<Vec<ApplyOutcome>, StoreError> {
        let mut cache = std::mem::take(&mut self.utxo);
        let res = self.apply_blocks_internal(blocks, &mut cache);
        self.utxo = cache;
        // A refused group may have left its segment file; an unwind leaves the files of the
        // segments it removed.
        if res.as_ref().map_or(true, |(outs, _)| outs.iter().any(|o| o.unwound.is_some())) {
            utxo::sweep_quietly(&mut self.conn, &self.path);
        }
        let (outs, wrote) = res?;
        if wrote {
            // The group is stored whatever happens here: a merge that fails leaves the
            // segments as they were, and the next group tries again.
            if let Err(e) = self.compact() {
                tracing::warn!(target: "floodgate::store", error = %e, "could not merge chain segments");
            }
        }
        Ok(outs)
    }

    /// The group's outcomes, and whether it wrote a segment.
    fn apply_blocks_internal(
        &mut self,
        blocks: &[ChainBlock],
        cache: &mut UtxoCache,
    ) -> Result<(Vec<ApplyOutcome>, bool), StoreError> {
        let path = self.path.clone();
        let sq = |e| StoreError::sqlite(&path, e);
        let max_unwind = self.max_unwind;
        let tx = self.begin()?;
        let now = Timestamp::now().0;
        let mut outs = Vec::with_capacity(blocks.len());
        let mut pending: Vec<Pending> = Vec::new();
        for (index, block) in blocks.iter().enumerate() {
            let mut g = Group { pending: &mut pending, cache: &mut *cache };
            outs.push(apply_in(&tx, block, index, &mut g, &path, max_unwind, now)?);
        }
        let segment = utxo::write_group(&tx, cache, &path, blocks, &pending, &mut outs, now)?;
        tx.commit().map_err(sq)?;
        let wrote = segment.is_some();
        if let Some(s) = segment {
            cache.add(s);
        }
        Ok((outs, wrote))
    }

    /// Binds this store's `chain` to one network on first use, and refuses input of another
    /// network afterwards, so that another network's blocks can never look like a
    /// reorganisation and delete ours. The binding is `meta` row `network.<chain>` (the
    /// network's name); when `genesis` is given it must also match a stored genesis block.
    ///
    /// # Errors
    /// [`StoreError::WrongNetwork`] naming both networks; nothing is changed then.
    pub fn bind_network(
        &mut self,
        chain: Chain,
        name: &str,
        genesis: Option<Hash32>,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sq = |e| StoreError::sqlite(&path, e);
        let tx = self.begin()?;
        let key = format!("network.{}", chain.as_str());
        let bound: Option<String> = tx
            .query_row("SELECT value FROM meta WHERE tenant = '' AND key = ?1", [&key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sq)?;
        if let Some(b) = &bound {
            if b != name {
                return Err(StoreError::WrongNetwork {
                    chain,
                    bound: b.clone(),
                    given: name.to_owned(),
                });
            }
        }
        if let Some(g) = genesis {
            let stored: Option<Vec<u8>> = tx
                .query_row(
                    "SELECT hash FROM blocks WHERE tenant = '' AND chain = ?1 AND height = 0",
                    [chain.as_str()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sq)?;
            if let Some(s) = stored.filter(|s| s[..] != g.0[..]) {
                return Err(StoreError::WrongNetwork {
                    chain,
                    bound: format!(
                        "{} (genesis block {})",
                        bound.as_deref().unwrap_or("the stored network"),
                        hex_of(&s)
                    ),
                    given: format!("{name} (genesis block {g})"),
                });
            }
        }
        if bound.is_none() {
            tx.execute(
                "INSERT INTO meta (tenant, key, value) VALUES ('', ?1, ?2)",
                params![key, name],
            )
            .map_err(sq)?;
            tracing::info!(target: "floodgate::store", chain = chain.as_str(), network = name, "data directory bound to network");
        }
        tx.commit().map_err(sq)?;
        Ok(())
    }

    /// The network `chain` is bound to, if any.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`] on a read failure.
    pub fn network(&self, chain: Chain) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT value FROM meta WHERE tenant = '' AND key = ?1",
                [format!("network.{}", chain.as_str())],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| StoreError::sqlite(&self.path, e))
    }

    /// Sets the deepest unwind a new block may cause (default
    /// [`DEFAULT_MAX_UNWIND`](crate::DEFAULT_MAX_UNWIND)); deeper ones need an explicit
    /// [`Store::rollback_to`].
    pub fn set_max_unwind(&mut self, blocks: u64) {
        self.max_unwind = blocks;
    }

    /// Removes every block above `height` on `chain`, with its transactions and transfers,
    /// and journals the rollback.
    ///
    /// # Errors
    /// [`StoreError::NothingToRollBack`] when no stored block is above `height`.
    pub fn rollback_to(&mut self, chain: Chain, height: u64) -> Result<Unwound, StoreError> {
        let path = self.path.clone();
        let sq = |e| StoreError::sqlite(&path, e);
        let tx = self.begin()?;
        let tip: Option<i64> = tx
            .query_row(
                "SELECT MAX(height) FROM blocks WHERE tenant = '' AND chain = ?1",
                [chain.as_str()],
                |r| r.get(0),
            )
            .map_err(sq)?;
        let tip = tip.map(|t| t as u64);
        if tip.is_none_or(|t| t <= height) {
            return Err(StoreError::NothingToRollBack { chain, height, tip });
        }
        let from = height.saturating_add(1);
        let reason = format!("rollback requested to height {height}");
        let mut pending = Vec::new();
        let mut cache = UtxoCache::default();
        let mut g = Group { pending: &mut pending, cache: &mut cache };
        let unwound = unwind(&tx, chain, from, &reason, Timestamp::now().0, &mut g, &path)?;
        tx.commit().map_err(sq)?;
        self.utxo.clear();
        utxo::sweep_quietly(&mut self.conn, &self.path);
        Ok(unwound)
    }

    /// Applies the entries of one ledger input in a single transaction. Entries already stored
    /// with the same content are skipped; an id stored with different content aborts the whole
    /// input with [`StoreError::LedgerConflict`] and stores nothing.
    ///
    /// # Errors
    /// [`StoreError`]; nothing of the input is stored then.
    pub fn apply_ledger(
        &mut self,
        ledger: &str,
        entries: &[LedgerEntry],
    ) -> Result<LedgerOutcome, StoreError> {
        let path = self.path.clone();
        let sq = |e| StoreError::sqlite(&path, e);
        let tenant = self.tenant.as_str().to_owned();
        let tx = self.begin()?;
        let now = Timestamp::now().0;
        let mut out = LedgerOutcome::default();
        {
            let mut ins = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO ledger_entries
                     (ledger, id, time, customer_id, direction, asset, amount, counterparty_address,
                      counterparty_customer, counterparty_vasp, txid, ip, device, ingested_at, tenant,
                      counterparty_country, travel_rule, rail, counterparty_bank, counterparty_account)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                             ?18, ?19, ?20)",
                )
                .map_err(sq)?;
            let mut get = tx
                .prepare_cached(
                    "SELECT time, customer_id, direction, asset, amount, counterparty_address,
                            counterparty_customer, counterparty_vasp, txid, ip, device,
                            counterparty_country, travel_rule, rail, counterparty_bank,
                            counterparty_account
                     FROM ledger_entries WHERE ledger = ?1 AND id = ?2 AND tenant = ?3",
                )
                .map_err(sq)?;
            for e in entries {
                let fields = ledger_fields(e);
                let n = ins
                    .execute(params![
                        ledger,
                        e.id,
                        e.time.0,
                        e.customer_id,
                        e.direction.as_str(),
                        e.asset.as_str(),
                        &e.amount.to_be_bytes()[..],
                        fields[5].1,
                        fields[6].1,
                        fields[7].1,
                        fields[8].1,
                        fields[9].1,
                        fields[10].1,
                        now,
                        tenant,
                        fields[11].1,
                        fields[12].1,
                        fields[13].1,
                        fields[14].1,
                        fields[15].1
                    ])
                    .map_err(sq)?;
                if n == 1 {
                    out.inserted += 1;
                    continue;
                }
                let stored: Vec<Option<String>> = get
                    .query_row(params![ledger, e.id, tenant], |r| {
                        let time: i64 = r.get(0)?;
                        let amount: Vec<u8> = r.get(4)?;
                        let mut v = vec![Some(time.to_string())];
                        for i in 1..4 {
                            v.push(Some(r.get::<_, String>(i)?));
                        }
                        v.push(Some(amount_from_blob(&amount).to_string()));
                        for i in 5..16 {
                            v.push(r.get::<_, Option<String>>(i)?);
                        }
                        Ok(v)
                    })
                    .map_err(sq)?;
                for ((name, given), stored) in fields.iter().zip(stored) {
                    if *given != stored {
                        return Err(StoreError::LedgerConflict {
                            ledger: ledger.to_owned(),
                            id: e.id.clone(),
                            field: name,
                            stored: stored.unwrap_or_default(),
                            given: given.clone().unwrap_or_default(),
                        });
                    }
                }
                out.already_stored += 1;
            }
        }
        tx.execute(
            "INSERT INTO ingest_log (at, action, chain, height, hash, detail, tenant) VALUES (?1, 'ledger', ?2, NULL, NULL, ?3, ?4)",
            params![now, format!("ledger:{ledger}"), format!("{} new entries, {} already stored", out.inserted, out.already_stored), tenant],
        )
        .map_err(sq)?;
        tx.commit().map_err(sq)?;
        Ok(out)
    }
}

/// The group being applied: the blocks whose Bitcoin rows go into its segment, and the
/// store's segment cache (an unwind inside the group drops both as far as they reach).
struct Group<'g> {
    pending: &'g mut Vec<Pending>,
    cache: &'g mut UtxoCache,
}

/// Applies one block inside an open transaction; its Bitcoin rows are left to the group's
/// segment ([`utxo::write_group`]).
fn apply_in(
    tx: &Transaction<'_>,
    block: &ChainBlock,
    index: usize,
    group: &mut Group<'_>,
    path: &std::path::Path,
    max_unwind: u64,
    now: i64,
) -> Result<ApplyOutcome, StoreError> {
    let sq = |e| StoreError::sqlite(path, e);
    let mut out = ApplyOutcome::default();

    let mut already = false;
    if let Some(h) = &block.header {
        let (unwound, stored) = reconcile_header(tx, h, now, max_unwind, path, group)?;
        out.unwound = unwound;
        already = stored;
    }

    if !block.utxo_txs.is_empty() {
        let Some(h) = &block.header else {
            return Err(StoreError::BadValue {
                path: path.to_owned(),
                what: "Bitcoin block",
                value: "a block without a header (height and hash) cannot be stored".to_owned(),
            });
        };
        height_i64(h.chain, h.hash, h.height)?;
        if already {
            // The same block again: its rows are in a segment already.
            out.already_stored += block
                .utxo_txs
                .iter()
                .map(|t| (t.inputs.len() + t.outputs.len()) as u64)
                .sum::<u64>();
        } else {
            out.new_transactions += block.utxo_txs.len() as u64;
            group.pending.push(Pending { index, height: h.height });
        }
    }

    {
        let mut ins = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO transfers
                     (tenant, chain, txid, idx, height, block_hash, time, tx_position, kind, from_addr, to_addr, asset, amount)
                     VALUES ('', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                )
                .map_err(sq)?;
        for t in &block.transfers {
            let height = height_i64(t.chain, t.txid, t.height)?;
            let n = ins
                .execute(params![
                    t.chain.as_str(),
                    &t.txid.0[..],
                    t.index.to_string(),
                    height,
                    t.block_hash.map(|h| h.0.to_vec()),
                    t.time.map(|x| x.0),
                    t.tx_position,
                    t.kind.as_str(),
                    t.from.to_string(),
                    t.to.to_string(),
                    t.asset.as_str(),
                    &t.amount.to_be_bytes()[..]
                ])
                .map_err(sq)?;
            if n == 0 {
                out.already_stored += 1;
            }
            out.new_transfers += n as u64;
        }
    }

    if let Some(h) = &block.header {
        tx.execute(
                "INSERT INTO ingest_log (at, action, chain, height, hash, detail) VALUES (?1, 'apply', ?2, ?3, ?4, ?5)",
                params![
                    now,
                    h.chain.as_str(),
                    height_i64(h.chain, h.hash, h.height)?,
                    &h.hash.0[..],
                    format!(
                        "{} new transactions, {} new transfers, {} already stored",
                        out.new_transactions, out.new_transfers, out.already_stored
                    )
                ],
            )
            .map_err(sq)?;
    }
    Ok(out)
}

/// The comparable fields of a ledger entry, in the order of the conflict check.
fn ledger_fields(e: &LedgerEntry) -> [(&'static str, Option<String>); 16] {
    [
        ("time", Some(e.time.0.to_string())),
        ("customer_id", Some(e.customer_id.clone())),
        ("direction", Some(e.direction.as_str().to_owned())),
        ("asset", Some(e.asset.as_str().to_owned())),
        ("amount", Some(e.amount.to_string())),
        ("counterparty_address", e.counterparty_address.as_ref().map(Address::to_string)),
        ("counterparty_customer", e.counterparty_customer.clone()),
        ("counterparty_vasp", e.counterparty_vasp.clone()),
        ("txid", e.txid.clone()),
        ("ip", e.ip.clone()),
        ("device", e.device.clone()),
        ("counterparty_country", e.counterparty_country.clone()),
        ("travel_rule", e.travel_rule.as_ref().map(travel_rule_json)),
        ("rail", e.rail.map(|r| r.as_str().to_owned())),
        ("counterparty_bank", e.counterparty_bank.clone()),
        ("counterparty_account", e.counterparty_account.clone()),
    ]
}

/// The stored form of travel-rule data: compact JSON, fields in declaration order, absent
/// ones left out (`docs/formats/store.md`).
fn travel_rule_json(t: &floodgate_types::TravelRule) -> String {
    serde_json::to_string(t).expect("a struct of optional strings always serializes")
}

pub(crate) fn amount_from_blob(b: &[u8]) -> Amount {
    let mut w = [0u8; 32];
    if b.len() == 32 {
        w.copy_from_slice(b);
    }
    Amount::from_be_bytes(w)
}

/// Compares a new block's header with what is stored and unwinds stale blocks:
/// - a different block stored at the same height → unwind from that height;
/// - a parent that differs from the stored block one below → unwind from that block too
///   (the stored block below is on a stale branch).
///
/// Refused, with nothing changed: a different genesis block (another network, never a
/// reorganisation), a block whose parent is stored at another height than one below it, and
/// an unwind of more than `max_unwind` blocks.
fn reconcile_header(
    tx: &Transaction<'_>,
    h: &floodgate_types::BlockHeader,
    now: i64,
    max_unwind: u64,
    path: &std::path::Path,
    group: &mut Group<'_>,
) -> Result<(Option<Unwound>, bool), StoreError> {
    let sq = |e| StoreError::sqlite(path, e);
    let chain = h.chain.as_str();
    let height = height_i64(h.chain, h.hash, h.height)?;
    let stored_here: Option<Vec<u8>> = tx
        .query_row(
            "SELECT hash FROM blocks WHERE tenant = '' AND chain = ?1 AND height = ?2",
            params![chain, height],
            |r| r.get(0),
        )
        .optional()
        .map_err(sq)?;
    let mut unwind_from: Option<(u64, String)> = None;
    if let Some(s) = &stored_here {
        if s[..] != h.hash.0[..] {
            if h.height == 0 {
                return Err(StoreError::WrongNetwork {
                    chain: h.chain,
                    bound: format!("the network of genesis block {}", hex_of(s)),
                    given: format!("a network whose genesis block is {}", h.hash),
                });
            }
            unwind_from = Some((
                h.height,
                format!(
                    "reorganisation: block {} at height {} replaces stored block {}",
                    h.hash,
                    h.height,
                    hex_of(s)
                ),
            ));
        }
    }
    if let Some(parent) = h.parent {
        let parent_height: Option<i64> = tx
            .query_row(
                "SELECT height FROM blocks WHERE tenant = '' AND chain = ?1 AND hash = ?2",
                params![chain, &parent.0[..]],
                |r| r.get(0),
            )
            .optional()
            .map_err(sq)?;
        if let Some(ph) = parent_height {
            if ph.checked_add(1) != Some(height) {
                return Err(StoreError::BadParentLink {
                    chain: h.chain,
                    hash: h.hash,
                    height: h.height,
                    parent,
                    parent_height: ph as u64,
                });
            }
        }
    }
    if let (Some(parent), Some(below)) = (h.parent, h.height.checked_sub(1)) {
        let stored_below: Option<Vec<u8>> = tx
            .query_row(
                "SELECT hash FROM blocks WHERE tenant = '' AND chain = ?1 AND height = ?2",
                params![chain, below as i64],
                |r| r.get(0),
            )
            .optional()
            .map_err(sq)?;
        if let Some(s) = stored_below {
            if s[..] != parent.0[..] {
                unwind_from = Some((
                    below,
                    format!(
                        "reorganisation: block {} at height {} has parent {}, but the stored block at height {} is {}",
                        h.hash,
                        h.height,
                        parent,
                        below,
                        hex_of(&s)
                    ),
                ));
            }
        }
    }
    if let Some((from, _)) = &unwind_from {
        let tip: Option<i64> = tx
            .query_row(
                "SELECT MAX(height) FROM blocks WHERE tenant = '' AND chain = ?1",
                [chain],
                |r| r.get(0),
            )
            .map_err(sq)?;
        let tip = tip.map_or(*from, |t| t as u64);
        let blocks = tip.saturating_sub(*from).saturating_add(1);
        if blocks > max_unwind {
            return Err(StoreError::UnwindTooDeep {
                chain: h.chain,
                hash: h.hash,
                height: h.height,
                from: *from,
                tip,
                blocks,
                max: max_unwind,
            });
        }
    }
    let unwound = match unwind_from {
        Some((from, reason)) => {
            tracing::warn!(target: "floodgate::store", chain, from, %reason, "unwinding stale blocks");
            Some(unwind(tx, h.chain, from, &reason, now, group, path)?)
        }
        None => None,
    };
    if stored_here.is_none() || unwound.is_some() {
        tx.execute(
            "INSERT OR REPLACE INTO blocks (tenant, chain, height, hash, parent, time, ingested_at) VALUES ('', ?1, ?2, ?3, ?4, ?5, ?6)",
            params![chain, height, &h.hash.0[..], h.parent.map(|p| p.0.to_vec()), h.time.map(|t| t.0), now],
        )
        .map_err(sq)?;
    } else if h.parent.is_some() || h.time.is_some() {
        // The same block seen again from a richer source (a full block after its logs).
        tx.execute(
            "UPDATE blocks SET parent = COALESCE(parent, ?3), time = COALESCE(time, ?4) WHERE tenant = '' AND chain = ?1 AND height = ?2",
            params![chain, height, h.parent.map(|p| p.0.to_vec()), h.time.map(|t| t.0)],
        )
        .map_err(sq)?;
    }
    let already = stored_here.is_some() && unwound.is_none();
    Ok((unwound, already))
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unwind(
    tx: &Transaction<'_>,
    chain: Chain,
    from: u64,
    reason: &str,
    now: i64,
    group: &mut Group<'_>,
    path: &std::path::Path,
) -> Result<Unwound, StoreError> {
    let sq = |e| StoreError::sqlite(path, e);
    let c = chain.as_str();
    let from_i = from as i64;
    let blocks = tx
        .execute(
            "DELETE FROM blocks WHERE tenant = '' AND chain = ?1 AND height >= ?2",
            params![c, from_i],
        )
        .map_err(sq)?;
    for table in ["utxo_outputs", "utxo_inputs", "transfers"] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE tenant = '' AND chain = ?1 AND height >= ?2"),
            params![c, from_i],
        )
        .map_err(sq)?;
    }
    utxo::unwind_segments(tx, path, chain, from)?;
    group.pending.retain(|p| p.height < from);
    group.cache.clear();
    tx.execute(
        "INSERT INTO ingest_log (at, action, chain, height, hash, detail) VALUES (?1, 'unwind', ?2, ?3, NULL, ?4)",
        params![now, c, from_i, format!("{reason}; removed {blocks} blocks from height {from}")],
    )
    .map_err(sq)?;
    Ok(Unwound { chain, from_height: from, blocks: blocks as u64, reason: reason.to_owned() })
}
