//! Raw serialized blocks: the consensus encoding `getblock <hash> 0` returns and `blk*.dat`
//! frames hold, in binary or as hex text.

use bitcoin::consensus::encode::Decodable;
use bitcoin::hashes::Hash as _;
use bitcoin::io::Cursor;
use bitcoin::{Block, Transaction};

/// Bitcoin Core's `MAX_BLOCK_SERIALIZED_SIZE`: no valid block is larger. Anything claiming to
/// be bigger is corrupt, and refusing it keeps a bad length from allocating gigabytes.
pub(crate) const MAX_BLOCK_BYTES: usize = 4_000_000;

/// Why some bytes are not a block: the offset (relative to the bytes) where decoding stopped
/// and a reason.
pub(crate) struct DecodeFailure {
    pub(crate) offset: u64,
    pub(crate) reason: String,
}

/// Decodes exactly one block from `bytes`, which must hold nothing else.
pub(crate) fn decode_block(bytes: &[u8]) -> Result<Block, DecodeFailure> {
    let mut cur = Cursor::new(bytes);
    match Block::consensus_decode_from_finite_reader(&mut cur) {
        Ok(block) => {
            let used = cur.position();
            if used != bytes.len() as u64 {
                return Err(DecodeFailure {
                    offset: used,
                    reason: format!(
                        "{} trailing bytes after a {used}-byte block",
                        bytes.len() as u64 - used
                    ),
                });
            }
            Ok(block)
        }
        Err(e) => Err(DecodeFailure { offset: cur.position(), reason: not_a_block(bytes, &e) }),
    }
}

/// Explains a decode failure, recognizing the common mistake of passing a raw transaction.
fn not_a_block(bytes: &[u8], err: &bitcoin::consensus::encode::Error) -> String {
    if let Ok(tx) = bitcoin::consensus::deserialize::<Transaction>(bytes) {
        let txid = floodgate_types::Hash32::from_wire_order(tx.compute_txid().to_byte_array());
        return format!(
            "not a block: this is a raw transaction (txid {txid}, {} inputs, {} outputs)",
            tx.input.len(),
            tx.output.len()
        );
    }
    format!("not a valid serialized block: {err}")
}
