//! Collects what each input says about a block (header, transactions, receipts, logs, traces)
//! and emits one [`ChainBlock`] per block number, in input order, once everything is read.
//!
//! Joining is what makes failure handling possible: a block alone does not say whether a
//! transaction failed, so its native value is dropped only when a receipt (`status` 0), a
//! GraphSense/ethereum-etl `receipt_status` 0 or an errored root trace in the same input says
//! so. Logs and traces of a failed transaction are dropped too.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use floodgate_types::{
    Address, Amount, AssetId, BlockHeader, Chain, ChainBlock, Hash32, Timestamp, Transfer,
    TransferIndex, TransferKind,
};

use crate::{BlockSink, FileSummary, IngestError, Location};

/// One movement of value before it is bound to its block and transaction.
#[derive(Debug, Clone)]
pub(crate) struct Move {
    /// Transaction hash; `None` for geth callTracer output, bound later by position.
    pub(crate) txid: Option<Hash32>,
    pub(crate) tx_position: Option<u32>,
    pub(crate) index: TransferIndex,
    pub(crate) kind: TransferKind,
    pub(crate) from: Address,
    /// `None` for a contract creation whose address is not known yet.
    pub(crate) to: Option<Address>,
    pub(crate) asset: AssetId,
    pub(crate) amount: Amount,
    /// Where the move came from, for binding errors.
    pub(crate) origin: (PathBuf, Location),
}

/// What the input says about one block.
#[derive(Debug, Default)]
pub(crate) struct BlockFacts {
    hash: Option<Hash32>,
    parent: Option<Hash32>,
    time: Option<Timestamp>,
    tx_by_pos: HashMap<u32, Hash32>,
    pos_by_tx: HashMap<Hash32, u32>,
    failed: HashSet<Hash32>,
    failed_pos: HashSet<u32>,
    created: HashMap<Hash32, Address>,
    created_pos: HashMap<u32, Address>,
    moves: Vec<Move>,
}

impl BlockFacts {
    /// Records header fields, keeping the first value seen for each.
    pub(crate) fn header(
        &mut self,
        hash: Option<Hash32>,
        parent: Option<Hash32>,
        time: Option<Timestamp>,
    ) {
        self.hash = self.hash.or(hash);
        self.parent = self.parent.or(parent);
        self.time = self.time.or(time);
    }

    /// Records a transaction's position.
    pub(crate) fn tx(&mut self, position: u32, txid: Hash32) {
        self.tx_by_pos.insert(position, txid);
        self.pos_by_tx.insert(txid, position);
    }

    /// Marks a transaction failed: it moves nothing.
    pub(crate) fn fail(&mut self, txid: Option<Hash32>, position: Option<u32>) {
        if let Some(t) = txid {
            self.failed.insert(t);
        } else if let Some(p) = position {
            self.failed_pos.insert(p);
        }
    }

    /// Records the contract a creation transaction made.
    pub(crate) fn created(&mut self, txid: Hash32, contract: Address) {
        self.created.insert(txid, contract);
    }

    /// Records the contract a creation made, by hash or, failing that, by position.
    pub(crate) fn created_at(
        &mut self,
        txid: Option<Hash32>,
        position: Option<u32>,
        contract: Address,
    ) {
        match (txid, position) {
            (Some(t), _) => self.created(t, contract),
            (None, Some(p)) => {
                self.created_pos.insert(p, contract);
            }
            (None, None) => {}
        }
    }

    /// Adds a movement.
    pub(crate) fn push(&mut self, m: Move) {
        self.moves.push(m);
    }

    fn merge(&mut self, other: BlockFacts) {
        self.header(other.hash, other.parent, other.time);
        for (p, t) in other.tx_by_pos {
            self.tx(p, t);
        }
        self.failed.extend(other.failed);
        self.failed_pos.extend(other.failed_pos);
        self.created.extend(other.created);
        self.created_pos.extend(other.created_pos);
        self.moves.extend(other.moves);
    }

    fn has_txs(&self) -> bool {
        !self.tx_by_pos.is_empty()
    }
}

/// Blocks by number in first-seen order, plus facts not yet tied to a block.
pub(crate) struct Assembly {
    chain: Chain,
    order: Vec<u64>,
    blocks: HashMap<u64, BlockFacts>,
    /// Facts from inputs that name no block (geth callTracer output); bound at the end to the
    /// one block of the input that lists its transactions.
    floating: BlockFacts,
    floating_origin: Option<PathBuf>,
}

impl Assembly {
    pub(crate) fn new(chain: Chain) -> Self {
        Assembly {
            chain,
            order: Vec::new(),
            blocks: HashMap::new(),
            floating: BlockFacts::default(),
            floating_origin: None,
        }
    }

    /// The facts of block `height`, created on first use.
    pub(crate) fn block(&mut self, height: u64) -> &mut BlockFacts {
        let order = &mut self.order;
        self.blocks.entry(height).or_insert_with(|| {
            order.push(height);
            BlockFacts::default()
        })
    }

    /// Facts whose block the input does not name.
    pub(crate) fn floating(&mut self, path: &Path) -> &mut BlockFacts {
        self.floating_origin.get_or_insert_with(|| path.to_owned());
        &mut self.floating
    }

    /// Binds, filters and emits every block to `sink`.
    pub(crate) fn finish(
        mut self,
        path: &Path,
        bytes: u64,
        sink: &mut dyn BlockSink,
        summary: &mut FileSummary,
    ) -> Result<(), IngestError> {
        let floating = std::mem::take(&mut self.floating);
        if !floating.moves.is_empty() {
            let with_txs: Vec<u64> =
                self.order.iter().copied().filter(|h| self.blocks[h].has_txs()).collect();
            let origin = self.floating_origin.clone().unwrap_or_else(|| path.to_owned());
            match with_txs.as_slice() {
                [one] => self.block(*one).merge(floating),
                _ => {
                    return Err(IngestError::invalid(
                        origin,
                        Location::File,
                        format!(
                            "geth callTracer output names neither its block nor its transactions; \
                             pass it together with exactly one eth_getBlockByNumber block of the same \
                             height (found {} blocks with transactions)",
                            with_txs.len()
                        ),
                    ))
                }
            }
        }
        let order = std::mem::take(&mut self.order);
        let total = order.len() as u64;
        for (k, height) in order.into_iter().enumerate() {
            let Some(facts) = self.blocks.remove(&height) else { continue };
            if self.chain == Chain::Tron && facts.time.is_none() && !facts.moves.is_empty() {
                return Err(IngestError::invalid(
                    path,
                    Location::Field(format!("block {height}")),
                    format!(
                        "no row gives the time of Tron block {height} (GraphSense logs and traces \
                         carry none): ingest its transactions or blocks rows in the same command, \
                         e.g. the whole folder; nothing of this input was stored"
                    ),
                ));
            }
            let block = self.build(height, facts)?;
            summary.blocks += 1;
            summary.transfers += block.transfers.len() as u64;
            // Reading the input is quick; storing its blocks is the long part, so progress
            // moves with the blocks handed on (it used to sit at 100 % from the start).
            let done = bytes.saturating_mul(k as u64 + 1) / total.max(1);
            sink.block(block, done).map_err(|source| IngestError::Sink {
                path: path.to_owned(),
                at: Location::Field(format!("block {height}")),
                source,
            })?;
        }
        Ok(())
    }

    fn build(&self, height: u64, facts: BlockFacts) -> Result<ChainBlock, IngestError> {
        let mut seen = HashSet::new();
        let mut transfers = Vec::with_capacity(facts.moves.len());
        for m in facts.moves {
            let txid = match m.txid {
                Some(t) => t,
                None => match m.tx_position.and_then(|p| facts.tx_by_pos.get(&p)) {
                    Some(t) => *t,
                    None => {
                        return Err(IngestError::invalid(
                            m.origin.0,
                            m.origin.1,
                            format!(
                                "no transaction hash for position {:?} of block {height}: pass the \
                                 block (eth_getBlockByNumber) in the same input",
                                m.tx_position
                            ),
                        ))
                    }
                },
            };
            let tx_position = m.tx_position.or_else(|| facts.pos_by_tx.get(&txid).copied());
            if facts.failed.contains(&txid)
                || tx_position.is_some_and(|p| facts.failed_pos.contains(&p))
            {
                continue;
            }
            let created = || {
                facts
                    .created
                    .get(&txid)
                    .or_else(|| tx_position.and_then(|p| facts.created_pos.get(&p)))
                    .cloned()
            };
            let Some(to) = m.to.or_else(created) else {
                tracing::debug!(target: "floodgate::ingest::eth", %txid, "contract creation with value but no known contract address: skipped");
                continue;
            };
            if !seen.insert((txid, m.index.clone())) {
                continue;
            }
            transfers.push(Transfer {
                chain: self.chain,
                height,
                block_hash: facts.hash,
                time: facts.time,
                txid,
                tx_position,
                index: m.index,
                kind: m.kind,
                from: m.from,
                to,
                asset: m.asset,
                amount: m.amount,
            });
        }
        transfers.sort_by(|a, b| {
            (a.tx_position.unwrap_or(u32::MAX), a.txid.0, &a.index).cmp(&(
                b.tx_position.unwrap_or(u32::MAX),
                b.txid.0,
                &b.index,
            ))
        });
        let header = facts.hash.map(|hash| BlockHeader {
            chain: self.chain,
            height,
            hash,
            parent: facts.parent,
            time: facts.time,
        });
        Ok(ChainBlock { header, utxo_txs: Vec::new(), transfers })
    }
}
