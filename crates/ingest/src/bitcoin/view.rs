//! A zero-copy view of a serialized block: the transactions' boundaries found in one walk over
//! the bytes, each transaction's ids hashed from them as it goes, and the inputs' prevouts and
//! outputs' values and scripts read as slices of the block.
//!
//! Decoding a `bitcoin::Block` allocates a vector per script, witness, input list and output
//! list, and the reader only needs a few fields of each; glibc's `malloc` and `free` were a
//! fifth of `floodgate ingest`'s CPU. The walk accepts exactly the bytes rust-bitcoin's
//! `Block` decoder accepts (minimal CompactSizes, BIP 144's flag, a witness flag only with a
//! witness, its witness size limits, nothing after the last transaction), which the tests
//! check on real and damaged blocks; when it refuses, [`Layout::view`] asks rust-bitcoin's
//! decoder for its reason and byte offset, so errors read as before.

use bitcoin::block::Header;
use bitcoin::consensus::encode::MAX_VEC_SIZE;
use bitcoin::consensus::Decodable as _;
use bitcoin::hashes::{sha256d, Hash as _, HashEngine as _};
use floodgate_types::{Hash32, OutPoint};

use super::raw::{decode_block, DecodeFailure};

/// A transaction's ids: its txid, and its wtxid when it has a witness (else the txid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TxIds {
    pub(crate) txid: bitcoin::Txid,
    pub(crate) wtxid: Option<bitcoin::Wtxid>,
}

/// Where one transaction's parts lie in the block.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TxSpan {
    pub(crate) ids: TxIds,
    /// Its first input in [`Layout::inputs`], and how many.
    first_in: u32,
    n_in: u32,
    /// Its first output in [`Layout::outputs`], and how many.
    first_out: u32,
    n_out: u32,
    /// The byte offset of its first input's witness, when it has the witness serialization.
    witness: Option<u32>,
}

impl TxSpan {
    /// The txid, display order.
    pub(crate) fn txid(&self) -> Hash32 {
        Hash32::from_wire_order(self.ids.txid.to_byte_array())
    }

    /// How many outputs it has.
    pub(crate) fn output_count(&self) -> usize {
        self.n_out as usize
    }

    /// How many inputs it has.
    pub(crate) fn input_count(&self) -> usize {
        self.n_in as usize
    }
}

/// An output: its value and where its script lies.
#[derive(Debug, Clone, Copy)]
struct OutSpan {
    sats: u64,
    script: u32,
    script_len: u32,
}

/// The spans of a block's transactions, inputs (the byte offset of each prevout) and outputs,
/// kept from block to block so that a block costs no allocation once they have grown.
#[derive(Debug, Default)]
pub(crate) struct Layout {
    txs: Vec<TxSpan>,
    inputs: Vec<u32>,
    outputs: Vec<OutSpan>,
}

/// A block's header and the [`Layout`] of its bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockView<'a> {
    raw: &'a [u8],
    pub(crate) header: Header,
    layout: &'a Layout,
}

/// A forward reader over the block's bytes; `None` when they end too soon or break a rule of
/// the encoding.
struct Cursor<'a> {
    raw: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.raw.get(self.at..end)?;
        self.at = end;
        Some(s)
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.raw.len())?;
        self.at = end;
        Some(())
    }

    /// A CompactSize, refused when not minimally encoded (as rust-bitcoin's `VarInt`).
    fn compact(&mut self) -> Option<u64> {
        let first = *self.raw.get(self.at)?;
        self.at += 1;
        let (width, min) = match first {
            0xfd => (2, 0xfd),
            0xfe => (4, 0x1_0000),
            0xff => (8, 0x1_0000_0000),
            n => return Some(u64::from(n)),
        };
        let bytes = self.take(width)?;
        let mut w = [0u8; 8];
        w[..width].copy_from_slice(bytes);
        Some(u64::from_le_bytes(w)).filter(|n| *n >= min)
    }

    /// A CompactSize-prefixed byte string: where it starts and how long it is.
    fn bytes(&mut self) -> Option<(usize, usize)> {
        let n = usize::try_from(self.compact()?).ok()?;
        let start = self.at;
        self.skip(n)?;
        Some((start, n))
    }

    /// One input's witness, with rust-bitcoin's `Witness` limits; whether it is non-empty.
    fn witness(&mut self) -> Option<bool> {
        let items = usize::try_from(self.compact()?).ok().filter(|n| *n <= MAX_VEC_SIZE)?;
        let index_space = items * 4;
        let mut cursor = index_space;
        for _ in 0..items {
            let before = self.at;
            let len = usize::try_from(self.compact()?).ok()?;
            let required = cursor.checked_add(len)?.checked_add(self.at - before)?;
            if required > MAX_VEC_SIZE + index_space {
                return None;
            }
            cursor = required;
            self.skip(len)?;
        }
        Some(items > 0)
    }
}

fn offset(at: usize) -> Option<u32> {
    u32::try_from(at).ok()
}

impl Layout {
    /// Walks `raw` as one serialized block (nothing after it).
    ///
    /// # Errors
    /// rust-bitcoin's reason and offset when the bytes are not a block.
    pub(crate) fn view<'a>(&'a mut self, raw: &'a [u8]) -> Result<BlockView<'a>, DecodeFailure> {
        match self.walk(raw) {
            Some(header) => Ok(BlockView { raw, header, layout: self }),
            None => Err(match decode_block(raw) {
                Err(failure) => failure,
                // The walk and rust-bitcoin disagree: refuse rather than guess.
                Ok(_) => DecodeFailure {
                    offset: 0,
                    reason: "a block rust-bitcoin decodes but floodgate's block walk refuses \
                             (please report)"
                        .into(),
                },
            }),
        }
    }

    fn walk(&mut self, raw: &[u8]) -> Option<Header> {
        self.txs.clear();
        self.inputs.clear();
        self.outputs.clear();
        // Spans hold u32 offsets; no block comes near 4 GiB.
        offset(raw.len())?;
        let mut head = raw.get(..80)?;
        let header = Header::consensus_decode(&mut head).ok()?;
        let mut c = Cursor { raw, at: 80 };
        let n_tx = c.compact()?;
        // A transaction takes at least 60 bytes: do not trust the count for the allocation.
        let cap = usize::try_from(n_tx).unwrap_or(usize::MAX).min(raw.len() / 60);
        self.txs.reserve(cap);
        for _ in 0..n_tx {
            let tx = self.walk_tx(&mut c)?;
            self.txs.push(tx);
        }
        (c.at == raw.len()).then_some(header)
    }

    fn walk_tx(&mut self, c: &mut Cursor<'_>) -> Option<TxSpan> {
        let raw = c.raw;
        let start = c.at;
        c.skip(4)?;
        let mut n_in = c.compact()?;
        // BIP 144: an empty input list then flag 1 marks the witness serialization; any other
        // flag is refused (rust-bitcoin supports no other).
        let segwit = n_in == 0;
        let body = if segwit {
            if c.take(1)? != [1] {
                return None;
            }
            let body = c.at;
            n_in = c.compact()?;
            body
        } else {
            start + 4
        };
        let first_in = offset(self.inputs.len())?;
        for _ in 0..n_in {
            self.inputs.push(offset(c.at)?);
            c.skip(36)?;
            c.bytes()?;
            c.skip(4)?;
        }
        let first_out = offset(self.outputs.len())?;
        let n_out = c.compact()?;
        for _ in 0..n_out {
            let value = c.take(8)?;
            let mut v = [0u8; 8];
            v.copy_from_slice(value);
            let (script, len) = c.bytes()?;
            self.outputs.push(OutSpan {
                sats: u64::from_le_bytes(v),
                script: offset(script)?,
                script_len: offset(len)?,
            });
        }
        let body_end = c.at;
        let witness = if segwit {
            let at = offset(c.at)?;
            let mut any = false;
            for _ in 0..n_in {
                any |= c.witness()?;
            }
            // rust-bitcoin: "witness flag set but no witnesses present".
            if n_in > 0 && !any {
                return None;
            }
            Some(at)
        } else {
            None
        };
        let lock_time = c.take(4)?;
        let end = c.at;
        let txid = if segwit {
            let mut e = sha256d::Hash::engine();
            e.input(&raw[start..start + 4]);
            e.input(&raw[body..body_end]);
            e.input(lock_time);
            sha256d::Hash::from_engine(e)
        } else {
            sha256d::Hash::hash(&raw[start..end])
        };
        let wtxid =
            segwit.then(|| bitcoin::Wtxid::from_raw_hash(sha256d::Hash::hash(&raw[start..end])));
        Some(TxSpan {
            ids: TxIds { txid: bitcoin::Txid::from_raw_hash(txid), wtxid },
            first_in,
            n_in: offset(self.inputs.len())? - first_in,
            first_out,
            n_out: offset(self.outputs.len())? - first_out,
            witness,
        })
    }
}

impl<'a> BlockView<'a> {
    /// The block hash, display order.
    pub(crate) fn hash(&self) -> Hash32 {
        Hash32::from_wire_order(self.header.block_hash().to_byte_array())
    }

    /// The parent's hash, display order; `None` for the all-zero parent of a genesis block.
    pub(crate) fn parent(&self) -> Option<Hash32> {
        let prev = self.header.prev_blockhash.to_byte_array();
        (prev != [0u8; 32]).then(|| Hash32::from_wire_order(prev))
    }

    /// The transactions, in block order.
    pub(crate) fn txs(&self) -> &'a [TxSpan] {
        &self.layout.txs
    }

    /// How many outputs the block's transactions have together.
    pub(crate) fn output_count(&self) -> usize {
        self.layout.outputs.len()
    }

    /// A transaction's outputs: value in satoshis and script.
    pub(crate) fn outputs(
        &self,
        tx: &TxSpan,
    ) -> impl ExactSizeIterator<Item = (u64, &'a [u8])> + DoubleEndedIterator + 'a {
        let raw = self.raw;
        let first = tx.first_out as usize;
        self.layout.outputs[first..first + tx.n_out as usize].iter().map(move |o| {
            let at = o.script as usize;
            (o.sats, &raw[at..at + o.script_len as usize])
        })
    }

    /// A transaction's inputs' prevouts (txid display order).
    pub(crate) fn prevouts(&self, tx: &TxSpan) -> impl ExactSizeIterator<Item = OutPoint> + 'a {
        let raw = self.raw;
        let first = tx.first_in as usize;
        self.layout.inputs[first..first + tx.n_in as usize].iter().map(move |&at| {
            let at = at as usize;
            let mut txid = [0u8; 32];
            txid.copy_from_slice(&raw[at..at + 32]);
            let mut vout = [0u8; 4];
            vout.copy_from_slice(&raw[at + 32..at + 36]);
            OutPoint { txid: Hash32::from_wire_order(txid), vout: u32::from_le_bytes(vout) }
        })
    }

    /// rust-bitcoin's `Transaction::is_coinbase`: one input, spending the null outpoint.
    pub(crate) fn is_coinbase(&self, tx: &TxSpan) -> bool {
        tx.n_in == 1 && {
            let at = self.layout.inputs[tx.first_in as usize] as usize;
            self.raw[at..at + 32] == [0u8; 32] && self.raw[at + 32..at + 36] == [0xff; 4]
        }
    }

    /// The script of a transaction's first input.
    fn first_script_sig(&self, tx: &TxSpan) -> Option<&'a [u8]> {
        let at = *self.layout.inputs.get(tx.first_in as usize).filter(|_| tx.n_in > 0)?;
        let mut c = Cursor { raw: self.raw, at: at as usize + 36 };
        let (start, len) = c.bytes()?;
        Some(&self.raw[start..start + len])
    }

    /// The items of a transaction's first input's witness (empty without witness data).
    pub(crate) fn first_witness(&self, tx: &TxSpan) -> Vec<&'a [u8]> {
        let Some(at) = tx.witness.filter(|_| tx.n_in > 0) else { return Vec::new() };
        let mut c = Cursor { raw: self.raw, at: at as usize };
        let n = c.compact().unwrap_or(0);
        (0..n).map_while(|_| c.bytes()).map(|(start, len)| &self.raw[start..start + len]).collect()
    }

    /// rust-bitcoin's `Block::bip34_block_height`, read from the bytes.
    pub(crate) fn bip34_height(&self) -> Option<u64> {
        if self.header.version < bitcoin::block::Version::TWO {
            return None;
        }
        let script = bitcoin::Script::from_bytes(self.first_script_sig(self.txs().first()?)?);
        match script.instructions_minimal().next()?.ok()? {
            bitcoin::script::Instruction::PushBytes(b) => {
                let h = bitcoin::script::read_scriptint(b.as_bytes()).ok()?;
                u64::try_from(h).ok()
            }
            bitcoin::script::Instruction::Op(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Every transaction's ids through rust-bitcoin's encoder.
    fn encoded_tx_ids(block: &bitcoin::Block) -> Vec<TxIds> {
        let has_witness = |t: &bitcoin::Transaction| t.input.iter().any(|i| !i.witness.is_empty());
        block
            .txdata
            .iter()
            .map(|t| TxIds {
                txid: t.compute_txid(),
                wtxid: has_witness(t).then(|| t.compute_wtxid()),
            })
            .collect()
    }

    /// What the view reads of a block is what rust-bitcoin decodes: ids, prevouts, outputs,
    /// coinbase flags, the first input's witness, the BIP34 height.
    #[track_caller]
    fn assert_same(view: &BlockView<'_>, block: &bitcoin::Block) {
        assert_eq!(view.header, block.header);
        let ids: Vec<TxIds> = view.txs().iter().map(|t| t.ids).collect();
        assert_eq!(ids, encoded_tx_ids(block));
        assert_eq!(view.bip34_height(), block.bip34_block_height().ok());
        for (span, tx) in view.txs().iter().zip(&block.txdata) {
            assert_eq!(view.is_coinbase(span), tx.is_coinbase());
            let prevouts: Vec<OutPoint> = view.prevouts(span).collect();
            let expected: Vec<OutPoint> = tx
                .input
                .iter()
                .map(|i| OutPoint {
                    txid: Hash32::from_wire_order(i.previous_output.txid.to_byte_array()),
                    vout: i.previous_output.vout,
                })
                .collect();
            assert_eq!(prevouts, expected);
            let outputs: Vec<(u64, &[u8])> = view.outputs(span).collect();
            let expected: Vec<(u64, &[u8])> =
                tx.output.iter().map(|o| (o.value.to_sat(), o.script_pubkey.as_bytes())).collect();
            assert_eq!(outputs, expected);
            let witness: Vec<&[u8]> =
                tx.input.first().map_or(vec![], |i| i.witness.iter().collect());
            assert_eq!(view.first_witness(span), witness);
        }
    }

    /// On every real block of the test data (pre-segwit, segwit and taproot-era) the view
    /// reads what rust-bitcoin decodes, and refuses bytes that are not the block (cut short,
    /// one byte more).
    #[test]
    fn reads_what_rust_bitcoin_decodes() {
        let Some(dir) = floodgate_testdata::dir("bitcoin/raw-blocks") else { return };
        let mut blocks = 0;
        let mut segwit = 0;
        let mut layout = Layout::default();
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.starts_with("mainnet_block_") || !name.ends_with(".raw") {
                continue;
            }
            let raw = std::fs::read(&path).unwrap();
            let block = decode_block(&raw).ok().unwrap();
            let view = layout.view(&raw).ok().unwrap();
            assert_same(&view, &block);
            segwit += view.txs().iter().filter(|t| t.ids.wtxid.is_some()).count();
            blocks += 1;
            assert!(layout.walk(&raw[..raw.len() - 1]).is_none(), "{name}");
            let longer = [&raw[..], &[0]].concat();
            assert!(layout.walk(&longer).is_none(), "{name}");
        }
        assert!(blocks >= 10 && segwit > 1000, "{blocks} blocks, {segwit} with witness");
    }

    /// Damaged bytes: the view accepts exactly what rust-bitcoin's decoder accepts, reads the
    /// same from it, and on what it refuses gives rust-bitcoin's reason and offset.
    /// Single-byte changes and cuts of the first 80 transactions of a real block of 2021
    /// (serialized again, so small; 36 with witness), seeded; and CompactSizes written
    /// non-minimally.
    #[test]
    fn accepts_exactly_what_rust_bitcoin_decodes() {
        let Some(dir) = floodgate_testdata::dir("bitcoin/raw-blocks") else { return };
        let whole = std::fs::read(dir.join("mainnet_block_702861.raw")).unwrap();
        let mut block = decode_block(&whole).ok().unwrap();
        block.txdata.truncate(80);
        let raw = bitcoin::consensus::serialize(&block);
        let mut layout = Layout::default();
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut decoded = 0;
        let mut damaged: Vec<Vec<u8>> = Vec::new();
        for _ in 0..3_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut d = raw.clone();
            let at = (x >> 8) as usize % d.len();
            match x % 3 {
                0 => d[at] ^= 1 << ((x >> 40) % 8),
                1 => d[at] = (x >> 32) as u8,
                _ => d.truncate(at),
            }
            damaged.push(d);
        }
        // The transaction count written as 0xfd 0x50 0x00 (minimal: one byte), and as 0xfd
        // with 253 (minimal), the latter then failing for too few transactions.
        damaged.push([&raw[..80], &[0xfd, 80, 0], &raw[81..]].concat());
        damaged.push([&raw[..80], &[0xfd, 253, 0], &raw[81..]].concat());
        for d in &damaged {
            match (decode_block(d), layout.view(d)) {
                (Ok(block), Ok(view)) => {
                    decoded += 1;
                    assert_same(&view, &block);
                }
                (Err(a), Err(b)) => assert_eq!((a.offset, a.reason), (b.offset, b.reason)),
                (a, b) => panic!("rust-bitcoin {:?}, view {:?}", a.is_ok(), b.is_ok()),
            }
        }
        assert!(decoded > 400, "{decoded} damaged copies still decoded");
    }
}
