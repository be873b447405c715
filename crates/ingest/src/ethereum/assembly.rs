//! Collects what each input says about a block (header, transactions, receipts, logs, traces)
//! and emits one [`ChainBlock`] per block number, in input order, once everything is read.
//!
//! Joining is what makes failure handling possible: a block alone does not say whether a
//! transaction failed, so its native value is dropped only when a receipt (`status` 0), a
//! GraphSense/ethereum-etl `receipt_status` 0 or an errored root trace in the same input says
//! so. Logs and traces of a failed transaction are dropped too.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use floodgate_types::{
    Address, Amount, AssetId, BlockHeader, Chain, ChainBlock, Hash32, Timestamp, Transfer,
    TransferIndex, TransferKind,
};

use super::verify::{self, LogParts, ReceiptParts, Unverified};
use crate::{BlockSink, FileSummary, IngestError, Location, NetworkId};

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
    /// The header's receipts root and transaction count, when the input gives them.
    receipts_root: Option<Hash32>,
    tx_count: Option<usize>,
    /// Receipt fields and logs by transaction position (logs by log index), for the root.
    receipts: BTreeMap<u32, ReceiptParts>,
    logs: BTreeMap<u32, BTreeMap<u32, LogParts>>,
    /// Checks already run or noted for this block (`block-hash`, `transactions-root`).
    checked: BTreeSet<&'static str>,
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

    /// Records the header's receipts root and how many transactions the block has.
    pub(crate) fn roots(&mut self, receipts_root: Option<Hash32>, tx_count: Option<usize>) {
        self.receipts_root = self.receipts_root.or(receipts_root);
        self.tx_count = self.tx_count.or(tx_count);
    }

    /// Records that `check` ran (or was noted as impossible) for this block.
    pub(crate) fn checked(&mut self, check: &'static str) {
        self.checked.insert(check);
    }

    /// Records the receipt of the transaction at `position`.
    pub(crate) fn receipt(&mut self, position: u32, parts: ReceiptParts) {
        self.receipts.insert(position, parts);
    }

    /// Records a log of the transaction at `position`.
    pub(crate) fn log(&mut self, position: u32, log_index: u32, parts: LogParts) {
        self.logs.entry(position).or_default().insert(log_index, parts);
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
        self.roots(other.receipts_root, other.tx_count);
        self.receipts.extend(other.receipts);
        for (p, logs) in other.logs {
            self.logs.entry(p).or_default().extend(logs);
        }
        self.checked.extend(other.checked);
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
    /// Chain ids the input's signed transactions name.
    pub(crate) chain_ids: Vec<u64>,
    /// The input's block 0, when it has one.
    pub(crate) genesis: Option<Hash32>,
    /// Tron: the network the user says the input is of.
    pub(crate) tron_network: crate::tron::TronNetwork,
    /// What could not be verified.
    pub(crate) notes: Vec<Unverified>,
}

impl Assembly {
    pub(crate) fn new(chain: Chain) -> Self {
        Assembly {
            chain,
            order: Vec::new(),
            blocks: HashMap::new(),
            floating: BlockFacts::default(),
            floating_origin: None,
            chain_ids: Vec::new(),
            genesis: None,
            tron_network: crate::tron::TronNetwork::default(),
            notes: Vec::new(),
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
        self.check_links(path, &order)?;
        self.announce(path, &order, sink)?;
        summary.unverified.append(&mut self.notes);
        if self.chain == Chain::Ethereum {
            // Every block is checked before the first is handed on: a refusal stores nothing.
            for height in &order {
                if let Some(facts) = self.blocks.get(height) {
                    check_receipts(path, *height, facts, &mut summary.unverified)?;
                }
            }
        }
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

    /// A block whose parent is in the same input must name that block's hash (a verified
    /// hash, for full blocks: a flipped `parentHash` changes it).
    fn check_links(&self, path: &Path, order: &[u64]) -> Result<(), IngestError> {
        for h in order {
            let facts = &self.blocks[h];
            let below = h.checked_sub(1).and_then(|b| self.blocks.get(&b));
            if let (Some(parent), Some(below_hash)) = (facts.parent, below.and_then(|b| b.hash)) {
                if parent != below_hash {
                    return Err(IngestError::invalid(
                        path,
                        Location::Field(format!("block {h}")),
                        format!(
                            "block {h} ({}) fails the parent-link check: its parentHash is {parent} \
                             but block {} in the same input is {below_hash}; nothing of this input \
                             was stored",
                            facts.hash.map_or_else(|| "no hash".to_owned(), |x| x.to_hex_prefixed()),
                            h - 1
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Tells the sink which network the input belongs to: for Ethereum the one chain id its
    /// signed transactions name (with the genesis hash known for it, or the input's own block
    /// 0); for Tron the network the user names, once the blocks are checked against it
    /// ([`crate::tron::network`]).
    fn announce(
        &self,
        path: &Path,
        order: &[u64],
        sink: &mut dyn BlockSink,
    ) -> Result<(), IngestError> {
        let net = match self.chain {
            Chain::Ethereum => match self.ethereum_network(path)? {
                Some(net) => net,
                None => return Ok(()),
            },
            Chain::Tron => {
                let seen: Vec<crate::tron::network::BlockSeen> = order
                    .iter()
                    .filter_map(|h| self.blocks.get(h).map(|f| (*h, f.hash, f.time)))
                    .collect();
                crate::tron::network::identify(self.tron_network, &seen).map_err(
                    |(height, reason)| {
                        IngestError::invalid(
                            path,
                            Location::Field(format!("block {height}")),
                            format!("{reason}; nothing of this input was stored"),
                        )
                    },
                )?
            }
            Chain::Bitcoin => return Ok(()),
        };
        sink.network(&net).map_err(|source| IngestError::Sink {
            path: path.to_owned(),
            at: Location::File,
            source,
        })
    }

    /// The network of an Ethereum input: the one chain id its signed transactions name, if any.
    fn ethereum_network(&self, path: &Path) -> Result<Option<NetworkId>, IngestError> {
        let id = match self.chain_ids.as_slice() {
            [] => return Ok(None),
            [one] => *one,
            many => {
                return Err(IngestError::invalid(
                    path,
                    Location::File,
                    format!(
                        "the input's transactions are signed for several chains ({many:?}): one \
                         data directory holds one network; nothing of this input was stored"
                    ),
                ))
            }
        };
        let genesis = verify::known_genesis(id).or(self.genesis);
        if let (Some(known), Some(given)) = (verify::known_genesis(id), self.genesis) {
            if known != given {
                return Err(IngestError::invalid(
                    path,
                    Location::Field("block 0".to_owned()),
                    format!("block 0 is {given}, but chain id {id}'s genesis is {known}"),
                ));
            }
        }
        Ok(Some(NetworkId { chain: Chain::Ethereum, name: format!("chain id {id}"), genesis }))
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

/// Checks the receipts root when the input holds every receipt of the block; notes what
/// could not be checked otherwise (and the block hash and transactions root when no full
/// block was given).
fn check_receipts(
    path: &Path,
    height: u64,
    facts: &BlockFacts,
    notes: &mut Vec<Unverified>,
) -> Result<(), IngestError> {
    for check in ["block-hash", "transactions-root"] {
        if !facts.checked.contains(check) {
            notes.push(Unverified {
                height,
                check,
                reason: "the input has no full block (eth_getBlockByNumber with transactions)"
                    .to_owned(),
            });
        }
    }
    let note = |reason: String| Unverified { height, check: "receipts-root", reason };
    let (Some(root), Some(count)) = (facts.receipts_root, facts.tx_count) else {
        notes.push(note("the input gives no receiptsRoot and transaction count".to_owned()));
        return Ok(());
    };
    if facts.receipts.len() != count || facts.receipts.keys().copied().ne(0..count as u32) {
        notes.push(note(format!(
            "the input holds {} of the block's {count} receipts",
            facts.receipts.len()
        )));
        return Ok(());
    }
    let empty = BTreeMap::new();
    let encodings: Vec<Vec<u8>> = facts
        .receipts
        .iter()
        .map(|(pos, r)| {
            let logs: Vec<LogParts> =
                facts.logs.get(pos).unwrap_or(&empty).values().cloned().collect();
            verify::receipt_encoding(r, &logs)
        })
        .collect();
    let computed = verify::ordered_trie_root(&encodings);
    if computed != root.0 {
        return Err(IngestError::invalid(
            path,
            Location::Field(format!("block {height}")),
            format!(
                "block {height} ({}) fails the receipts-root check: the header commits to {root} \
                 but the {count} receipts give 0x{}; nothing of this input was stored",
                facts.hash.map_or_else(|| "no hash".to_owned(), |h| h.to_hex_prefixed()),
                hex::encode(computed)
            ),
        ));
    }
    Ok(())
}
