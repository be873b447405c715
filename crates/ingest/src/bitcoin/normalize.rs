//! Turns decoded blocks into floodgate records: txids, addresses for every output, heights,
//! and input resolution from outputs seen earlier in the same file or from a [`PrevoutMap`].

use std::collections::HashMap;

use bitcoin::hashes::Hash as _;
use floodgate_types::{
    Address, Amount, BlockHeader, BtcAddress, BtcNetwork, Chain, ChainBlock, Hash32, OutPoint,
    Timestamp, TxInput, TxOutput, UtxoTx,
};

use super::verify::BtcParams;
use super::PrevoutMap;
use floodgate_types::address::ScriptKind;
use rustc_hash::FxBuildHasher as FxBuild;

/// Unspent outputs kept for in-file resolution before the map is cleared. At roughly 100
/// bytes an entry this caps the map near 200 MB; a 128 MiB `blk*.dat` file creates well under
/// a million outputs, so the cap only matters for unusual inputs (a long JSON stream). Inputs
/// missed after a clear stay unresolved and the store resolves them later.
const MAX_UNSPENT: usize = 2_000_000;

/// Per-file state: which outputs are still unspent, and which block hashes have which height.
pub(crate) struct Normalizer<'o> {
    network: BtcNetwork,
    params: BtcParams,
    prevouts: Option<&'o PrevoutMap>,
    height_hint: Option<u64>,
    unspent: HashMap<OutPoint, (BtcAddress, u64), FxBuild>,
    heights: HashMap<Hash32, u64, FxBuild>,
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
            unspent: HashMap::default(),
            heights: HashMap::default(),
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

    /// The address and value of a spent output, from this file's earlier outputs (and forgets
    /// it there, since an output is spent once) or from the prevout map.
    pub(crate) fn resolve(&mut self, outpoint: &OutPoint) -> (Option<Address>, Option<Amount>) {
        let found = self
            .unspent
            .remove(outpoint)
            .or_else(|| self.prevouts.and_then(|m| m.get(outpoint, self.network)));
        match found {
            Some((address, sats)) => (Some(Address::Bitcoin(address)), Some(Amount::from(sats))),
            None => (None, None),
        }
    }

    /// Remembers an output created in this file so a later input can resolve it.
    pub(crate) fn record_output(&mut self, outpoint: OutPoint, address: BtcAddress, sats: u64) {
        if self.unspent.len() >= MAX_UNSPENT {
            tracing::warn!(
                target: "floodgate::ingest::btc",
                entries = self.unspent.len(),
                "in-file unspent output map is full; clearing it (later inputs may stay unresolved)"
            );
            self.unspent.clear();
        }
        self.unspent.insert(outpoint, (address, sats));
    }

    /// Maps an output script to an address and remembers the output for in-file resolution,
    /// skipping `OP_RETURN` outputs, which can never be spent.
    pub(crate) fn output(&mut self, txid: Hash32, vout: u32, script: &[u8], sats: u64) -> TxOutput {
        let sa = BtcAddress::from_script(script, self.network);
        if sa.kind != ScriptKind::NullData {
            self.record_output(OutPoint { txid, vout }, sa.address, sats);
        }
        TxOutput { vout, address: Address::Bitcoin(sa.address), value: Amount::from(sats) }
    }

    /// Whether [`Normalizer::block`] can tell this block's height now (without a stated
    /// height). A `blk*.dat` reader defers blocks for which it cannot, because Core writes
    /// blocks in download order, which is not always chain order.
    pub(crate) fn height_known(&self, block: &bitcoin::Block) -> bool {
        let prev = block.header.prev_blockhash.to_byte_array();
        prev == [0u8; 32]
            || self.heights.contains_key(&Hash32::from_wire_order(prev))
            || block.bip34_block_height().is_ok()
            || (self.heights.is_empty() && self.height_hint.is_some())
    }

    /// Normalizes a decoded block. `stated_height` is the height the source gives, if any.
    pub(crate) fn block(
        &mut self,
        block: &bitcoin::Block,
        stated_height: Option<u64>,
        txids: &[Hash32],
    ) -> Result<ChainBlock, String> {
        let hash = Hash32::from_wire_order(block.block_hash().to_byte_array());
        let prev = block.header.prev_blockhash.to_byte_array();
        // The genesis block's parent field is all zeros: it has none.
        let parent = (prev != [0u8; 32]).then(|| Hash32::from_wire_order(prev));
        let height =
            self.height(hash, parent, stated_height, || block.bip34_block_height().ok())?;
        let mut utxo_txs = Vec::with_capacity(block.txdata.len());
        // Grow the unspent map once per block rather than rehashing repeatedly mid-block.
        self.unspent.reserve(block.txdata.iter().map(|tx| tx.output.len()).sum());
        for (position, (tx, &txid)) in block.txdata.iter().zip(txids).enumerate() {
            let inputs = if tx.is_coinbase() {
                vec![TxInput { prevout: None, address: None, value: None }]
            } else {
                let mut inputs = Vec::with_capacity(tx.input.len());
                for txin in &tx.input {
                    let prev = txin.previous_output;
                    let prevout = OutPoint {
                        txid: Hash32::from_wire_order(prev.txid.to_byte_array()),
                        vout: prev.vout,
                    };
                    let (address, value) = self.resolve(&prevout);
                    inputs.push(TxInput { prevout: Some(prevout), address, value });
                }
                inputs
            };
            let mut outputs = Vec::with_capacity(tx.output.len());
            for (vout, out) in tx.output.iter().enumerate() {
                // A transaction cannot hold 2^32 outputs: it would exceed the block size limit
                // many times over, and decoding already bounded the count by the frame size.
                let vout = u32::try_from(vout).expect("output count fits u32 within a block");
                outputs.push(self.output(
                    txid,
                    vout,
                    out.script_pubkey.as_bytes(),
                    out.value.to_sat(),
                ));
            }
            let position = u32::try_from(position).expect("tx count fits u32 within a block");
            utxo_txs.push(UtxoTx { txid, position, inputs, outputs });
        }
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
