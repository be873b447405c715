//! Turns decoded blocks into floodgate records: txids, addresses for every output, heights,
//! and input resolution from outputs seen earlier in the same file or from a [`PrevoutMap`].

use std::collections::HashMap;

use floodgate_types::{
    Address, Amount, BlockHeader, BtcAddress, BtcNetwork, Chain, ChainBlock, Hash32, OutPoint,
    Timestamp, TxInput, TxOutput, UtxoTx,
};

use super::created::Created;
use super::verify::BtcParams;
use super::view::BlockView;
use super::PrevoutMap;
use floodgate_types::address::ScriptKind;
use rustc_hash::FxBuildHasher as FxBuild;

/// Outputs kept for in-file resolution before they are all forgotten. At 64 bytes an output
/// (plus about 50 bytes per transaction in the index) this caps the memory near 200 MB; a 128
/// MiB `blk*.dat` file creates well under a million outputs, so the cap only matters for
/// unusual inputs (a long JSON stream). Inputs missed after a clear stay unresolved and the
/// store resolves them later.
const MAX_OUTPUTS: usize = 3_000_000;

/// Per-file state: the outputs created so far (for inputs that spend them,
/// [`Created`]), and which block hashes have which height.
pub(crate) struct Normalizer<'o> {
    network: BtcNetwork,
    params: BtcParams,
    prevouts: Option<&'o PrevoutMap>,
    height_hint: Option<u64>,
    created: Created,
    heights: HashMap<Hash32, u64, FxBuild>,
    /// A block's spent outpoints, and what each spent of this file's outputs (buffers kept
    /// between blocks).
    spends: Vec<OutPoint>,
    found: Vec<Option<(BtcAddress, u64)>>,
}

impl<'o> Normalizer<'o> {
    pub(crate) fn new(
        network: BtcNetwork,
        prevouts: Option<&'o PrevoutMap>,
        height_hint: Option<u64>,
    ) -> Self {
        Normalizer {
            network,
            params: BtcParams::for_addresses(network),
            prevouts,
            height_hint,
            created: Created::default(),
            heights: HashMap::default(),
            spends: Vec::new(),
            found: Vec::new(),
        }
    }

    /// The network addresses are derived for.
    pub(crate) fn network(&self) -> BtcNetwork {
        self.network
    }

    /// Overrides the network (a `blk*.dat` magic says which network the file belongs to).
    pub(crate) fn set_params(&mut self, params: BtcParams) {
        self.network = params.addresses;
        self.params = params;
    }

    /// The network blocks are checked against.
    pub(crate) fn params(&self) -> &BtcParams {
        &self.params
    }

    /// Decides a block's height, in order of certainty: the parent seen earlier in this file;
    /// the height the source states (getblock JSON); the BIP34 coinbase height; genesis
    /// (a null parent); the caller's hint for the first block of a file.
    pub(crate) fn height(
        &mut self,
        hash: Hash32,
        parent: Option<Hash32>,
        stated: Option<u64>,
        bip34: impl FnOnce() -> Option<u64>,
    ) -> Result<u64, String> {
        let first = self.heights.is_empty();
        let linked = parent.and_then(|p| self.heights.get(&p)).map(|h| h + 1);
        let height = linked
            .or(stated)
            .or_else(bip34)
            .or(if parent.is_none() { Some(0) } else { None })
            .or(if first { self.height_hint } else { None })
            .ok_or_else(|| {
                format!(
                    "cannot tell the height of block {hash}: it predates BIP34 (no height in \
                     the coinbase) and its parent is not earlier in this file; give its height (`floodgate ingest bitcoin --height N`)"
                )
            })?;
        self.heights.insert(hash, height);
        Ok(height)
    }

    /// The address and value of a spent output, from this file's earlier outputs (and marks
    /// it spent there, since an output is spent once) or from the prevout map.
    pub(crate) fn resolve(&mut self, outpoint: &OutPoint) -> (Option<Address>, Option<Amount>) {
        let spent = self.created.find(outpoint).and_then(|i| self.created.spend(i));
        self.spent_or_prevout(spent, outpoint)
    }

    /// An output this file created and an input spent, or else `outpoint` in the prevout map.
    fn spent_or_prevout(
        &self,
        spent: Option<(BtcAddress, u64)>,
        outpoint: &OutPoint,
    ) -> (Option<Address>, Option<Amount>) {
        let found = spent.or_else(|| self.prevouts.and_then(|m| m.get(outpoint, self.network)));
        match found {
            Some((address, sats)) => (Some(Address::Bitcoin(address)), Some(Amount::from(sats))),
            None => (None, None),
        }
    }

    /// Starts the outputs of transaction `txid`: [`Normalizer::output`] records them for
    /// in-file resolution.
    pub(crate) fn start_outputs(&mut self, txid: Hash32) {
        if self.created.len() >= MAX_OUTPUTS {
            tracing::warn!(
                target: "floodgate::ingest::btc",
                outputs = self.created.len(),
                "in-file output index is full; clearing it (later inputs may stay unresolved)"
            );
            self.created.clear();
        }
        self.created.start(txid);
    }

    /// Maps an output script to an address and remembers the output, of the transaction
    /// started last, for in-file resolution (an `OP_RETURN` output, which can never be spent,
    /// as spent).
    pub(crate) fn output(&mut self, vout: u32, script: &[u8], sats: u64) -> TxOutput {
        let sa = BtcAddress::from_script(script, self.network);
        self.created.push(vout, sa.address, sats, sa.kind != ScriptKind::NullData);
        TxOutput { vout, address: Address::Bitcoin(sa.address), value: Amount::from(sats) }
    }

    /// Whether [`Normalizer::block`] can tell this block's height now (without a stated
    /// height). A `blk*.dat` reader defers blocks for which it cannot, because Core writes
    /// blocks in download order, which is not always chain order.
    pub(crate) fn height_known(&self, block: &BlockView<'_>) -> bool {
        block.parent().is_none_or(|p| self.heights.contains_key(&p))
            || block.bip34_height().is_some()
            || (self.heights.is_empty() && self.height_hint.is_some())
    }

    /// Normalizes a block. `stated_height` is the height the source gives, if any.
    pub(crate) fn block(
        &mut self,
        block: &BlockView<'_>,
        stated_height: Option<u64>,
    ) -> Result<ChainBlock, String> {
        let hash = block.hash();
        let parent = block.parent();
        let height = self.height(hash, parent, stated_height, || block.bip34_height())?;
        let txs = block.txs();
        // Grow the index once per block rather than rehashing repeatedly mid-block.
        self.created.reserve(txs.len(), block.output_count());
        // Every output first (an input spends an output of an earlier transaction, in this
        // block or before), then every input's lookup together, so that their cache misses
        // overlap, then the inputs in order.
        let mut utxo_txs = Vec::with_capacity(txs.len());
        for (position, tx) in txs.iter().enumerate() {
            let txid = tx.txid();
            self.start_outputs(txid);
            let mut outputs = Vec::with_capacity(tx.output_count());
            for (vout, (sats, script)) in block.outputs(tx).enumerate() {
                // A transaction cannot hold 2^32 outputs: it would exceed the block size limit
                // many times over, and the walk bounded the count by the block's size.
                let vout = u32::try_from(vout).expect("output count fits u32 within a block");
                outputs.push(self.output(vout, script, sats));
            }
            let position = u32::try_from(position).expect("tx count fits u32 within a block");
            utxo_txs.push(UtxoTx { txid, position, inputs: Vec::new(), outputs });
        }
        let mut spends = std::mem::take(&mut self.spends);
        spends.clear();
        for tx in txs.iter().filter(|tx| !block.is_coinbase(tx)) {
            spends.extend(block.prevouts(tx));
        }
        let mut found = std::mem::take(&mut self.found);
        self.created.spend_all(&spends, &mut found);
        let mut at = 0;
        for (tx, utxo) in txs.iter().zip(&mut utxo_txs) {
            utxo.inputs = if block.is_coinbase(tx) {
                vec![TxInput { prevout: None, address: None, value: None }]
            } else {
                let n = tx.input_count();
                let mut inputs = Vec::with_capacity(n);
                for (prevout, found) in spends[at..at + n].iter().zip(&found[at..at + n]) {
                    // An output two inputs spend was found for the first only.
                    let (address, value) = self.spent_or_prevout(*found, prevout);
                    inputs.push(TxInput { prevout: Some(*prevout), address, value });
                }
                at += n;
                inputs
            };
        }
        self.found = found;
        self.spends = spends;
        Ok(ChainBlock {
            header: Some(BlockHeader {
                chain: Chain::Bitcoin,
                height,
                hash,
                parent,
                time: Some(Timestamp(i64::from(block.header.time))),
            }),
            utxo_txs,
            transfers: Vec::new(),
        })
    }
}
