//! Bitcoin Core `blk*.dat` files: a sequence of frames `magic (4) | length u32 LE (4) | block`,
//! optionally XOR-obfuscated with the 8-byte key in `blocks/xor.dat` (Core ≥ 28).
//!
//! Core preallocates block files in 16 MiB chunks, so a file usually ends in zeros: a frame
//! whose magic is all zero ends the file cleanly.
//!
//! Core writes blocks in the order they finish downloading, which during initial sync is not
//! always chain order. A block whose height cannot be told yet (pre-BIP34, parent not seen) is
//! held back and handed to the sink right after its parent, so the sink sees parents first.

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::Path;

use bitcoin::hashes::{sha256d, Hash as _};
use floodgate_types::{Chain, Hash32};

use super::normalize::Normalizer;
use super::raw::MAX_BLOCK_BYTES;
use super::verify::{verify_block, BtcParams};
use super::view::{BlockView, Layout};
use crate::{BlockSink, FileSummary, IngestError, Location, NetworkId};
use rustc_hash::FxBuildHasher as FxBuild;

/// Raw bytes of out-of-order blocks held back waiting for their parent. Core downloads at
/// most 1,024 blocks ahead, and the blocks that need a parent (pre-BIP34, before 2013) are
/// small, so real files stay far below this; a file that exceeds it is not a chain.
const MAX_PENDING_BYTES: usize = 64 << 20;

/// The network and its name for a frame magic, if it is one.
pub(crate) fn magic_network(bytes: &[u8]) -> Option<(&'static str, BtcParams)> {
    BtcParams::from_magic(bytes).map(|p| (p.name, p))
}

/// Undoes Core's block-file obfuscation: byte `i` of the file is XORed with `key[i % 8]`.
pub(crate) struct XorReader<R> {
    inner: R,
    key: [u8; 8],
    pos: u64,
}

impl<R> XorReader<R> {
    pub(crate) fn new(inner: R, key: [u8; 8]) -> Self {
        XorReader { inner, key, pos: 0 }
    }
}

impl<R: Read> Read for XorReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        // `pos % 8` fits usize; the key index wraps every 8 bytes.
        let mut k = (self.pos % 8) as usize;
        for b in &mut buf[..n] {
            *b ^= self.key[k];
            k = (k + 1) & 7;
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// A block held back: where its frame starts, and its bytes.
type Deferred = (u64, Vec<u8>);

/// Reads every frame of a `blk*.dat` stream, handing each normalized block to `sink`. The
/// first frame's magic fixes the network (and so the address encoding) for the whole file.
pub(crate) fn read_blk<R: Read>(
    path: &Path,
    mut r: R,
    norm: &mut Normalizer<'_>,
    sink: &mut dyn BlockSink,
    summary: &mut FileSummary,
) -> Result<(), IngestError> {
    let io_err = |source| IngestError::Io { path: path.to_owned(), source };
    let mut pos: u64 = 0;
    let mut file_magic: Option<([u8; 4], &'static str)> = None;
    let mut buf = Vec::new();
    let mut layout = Layout::default();
    // Held back with their bytes, read again when their parent has been handed on.
    let mut pending: HashMap<Hash32, Vec<Deferred>, FxBuild> = HashMap::default();
    let mut pending_bytes = 0usize;
    loop {
        let frame_at = pos;
        let mut header = [0u8; 8];
        let got = read_full(&mut r, &mut header).map_err(io_err)?;
        pos += got as u64;
        if got == 0 || header[..got.min(4)].iter().all(|&b| b == 0) {
            // End of file, or the zero-filled tail Core preallocates.
            break;
        }
        let magic: [u8; 4] = [header[0], header[1], header[2], header[3]];
        match file_magic {
            None => match magic_network(&magic) {
                Some((name, params)) => {
                    file_magic = Some((magic, name));
                    norm.set_params(params);
                    announce(path, &params, frame_at, sink)?;
                }
                None => return Err(bad_magic(path, frame_at, &magic, None)),
            },
            Some((expected, name)) if expected != magic => {
                return Err(bad_magic(path, frame_at, &magic, Some((expected, name))));
            }
            Some(_) => {}
        }
        if got < 8 {
            return Err(IngestError::invalid(
                path,
                Location::Offset(frame_at),
                format!("truncated frame header: {got} of 8 bytes present ({} missing)", 8 - got),
            ));
        }
        let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        if len > MAX_BLOCK_BYTES {
            return Err(IngestError::invalid(
                path,
                Location::Offset(frame_at + 4),
                format!(
                    "frame length {len} exceeds the largest possible block ({MAX_BLOCK_BYTES} \
                     bytes): the file is corrupt or not a block file"
                ),
            ));
        }
        buf.resize(len, 0);
        let got = read_full(&mut r, &mut buf).map_err(io_err)?;
        pos += got as u64;
        if got < len {
            return Err(IngestError::invalid(
                path,
                Location::Offset(frame_at),
                format!(
                    "truncated block: the frame declares {len} bytes but only {got} remain \
                     ({} missing)",
                    len - got
                ),
            ));
        }
        let block = layout.view(&buf).map_err(|f| {
            IngestError::invalid(path, Location::Offset(frame_at + 8 + f.offset), f.reason)
        })?;
        if !norm.height_known(&block) {
            // Out of order (Core stores blocks as they download): hold it until its parent.
            pending_bytes += len;
            if pending_bytes > MAX_PENDING_BYTES {
                return Err(IngestError::invalid(
                    path,
                    Location::Offset(frame_at),
                    format!(
                        "more than {MAX_PENDING_BYTES} bytes of pre-BIP34 blocks whose parent \
                         is not (yet) in this file; cannot tell their heights"
                    ),
                ));
            }
            let parent = Hash32::from_wire_order(block.header.prev_blockhash.to_byte_array());
            pending.entry(parent).or_default().push((frame_at, buf.clone()));
            continue;
        }
        let hash = block.hash();
        emit(path, &block, frame_at, pos, norm, sink, summary)?;
        // Then the blocks that waited for it, and theirs, parents first.
        let mut ready: Vec<Deferred> = pending.remove(&hash).unwrap_or_default();
        while let Some((at, raw)) = ready.pop() {
            let block = layout.view(&raw).map_err(|f| {
                IngestError::invalid(path, Location::Offset(at + 8 + f.offset), f.reason)
            })?;
            let hash = block.hash();
            emit(path, &block, at, pos, norm, sink, summary)?;
            if let Some(children) = pending.remove(&hash) {
                ready.extend(children);
            }
        }
    }
    summary.bytes = pos;
    // Blocks still waiting have no parent in this file and no height of their own.
    if let Some((at, raw)) = pending.into_values().flatten().min_by_key(|(at, _)| *at) {
        // It was walked as a block when read: its first 80 bytes are its header.
        let hash = Hash32::from_wire_order(sha256d::Hash::hash(&raw[..80]).to_byte_array());
        return Err(IngestError::invalid(
            path,
            Location::Offset(at),
            format!(
                "cannot tell the height of block {hash}: it predates BIP34 (no height in the \
                 coinbase) and its parent is not in this file; pass a height hint"
            ),
        ));
    }
    Ok(())
}

/// Normalizes one block and hands it to the sink.
fn emit(
    path: &Path,
    block: &BlockView<'_>,
    frame_at: u64,
    bytes_done: u64,
    norm: &mut Normalizer<'_>,
    sink: &mut dyn BlockSink,
    summary: &mut FileSummary,
) -> Result<(), IngestError> {
    verify_block(block, norm.params())
        .map_err(|reason| IngestError::invalid(path, Location::Offset(frame_at), reason))?;
    let normalized = norm
        .block(block, None)
        .map_err(|reason| IngestError::invalid(path, Location::Offset(frame_at), reason))?;
    summary.blocks += 1;
    summary.transactions += normalized.utxo_txs.len() as u64;
    summary.bytes = bytes_done;
    sink.block(normalized, bytes_done).map_err(|source| IngestError::Sink {
        path: path.to_owned(),
        at: Location::Offset(frame_at),
        source,
    })
}

/// Tells the sink which network the input belongs to, before its first block.
pub(crate) fn announce(
    path: &Path,
    params: &BtcParams,
    at: u64,
    sink: &mut dyn BlockSink,
) -> Result<(), IngestError> {
    let id =
        NetworkId { chain: Chain::Bitcoin, name: params.name.to_owned(), genesis: params.genesis };
    sink.network(&id).map_err(|source| IngestError::Sink {
        path: path.to_owned(),
        at: Location::Offset(at),
        source,
    })
}

fn bad_magic(
    path: &Path,
    at: u64,
    seen: &[u8; 4],
    expected: Option<([u8; 4], &str)>,
) -> IngestError {
    let seen_hex = hex::encode(seen);
    let seen_desc = match magic_network(seen) {
        Some((name, _)) => format!("{seen_hex} ({name})"),
        None => seen_hex,
    };
    let reason = match expected {
        Some((m, name)) => {
            format!("wrong block magic: expected {} ({name}), found {seen_desc}", hex::encode(m))
        }
        None => format!("wrong block magic: found {seen_desc}, expected a known network magic"),
    };
    IngestError::invalid(path, Location::Offset(at), reason)
}
