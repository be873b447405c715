//! Bitcoin: raw blocks, `blk*.dat` files and Bitcoin Core `getblock` JSON, normalized into
//! [`ChainBlock`]s of [`UtxoTx`](floodgate_types::UtxoTx)s.
//!
//! [`read_path`] detects the format from the content, not the file name:
//!
//! | content starts with | format | summary name |
//! |---|---|---|
//! | a network magic (`f9beb4d9` mainnet, `0b110907` testnet3, `1c163f28` testnet4, `0a03cf40` signet, `fabfb5da` regtest) | `blk*.dat` framing, streamed frame by frame; a zero magic ends the file | `blk.dat` |
//! | `{`, `[` or `"` | `getblock <hash> 2` JSON: bare, in a JSON-RPC envelope, as an array or as JSON lines | `getblock-json` |
//! | hex digits | one raw block as hex (`getblock <hash> 0`) | `raw-block-hex` |
//! | anything else | one raw serialized block | `raw-block` |
//!
//! A `blk*.dat` file with a sibling `xor.dat` (Bitcoin Core ≥ 28) is un-XORed on the fly.
//!
//! **Normalization.** Every output gets an address from
//! [`BtcAddress::from_script`](floodgate_types::BtcAddress::from_script) (pay-to-pubkey as its
//! P2PKH address, other scripts as a `nonstandard:` id). Inputs are resolved, address and
//! value, from outputs created earlier in the same file (a map that forgets outputs once
//! spent) and then from [`BitcoinOptions::prevouts`]; the rest stay `None` for the store to
//! resolve from outputs it holds.
//!
//! **Verification.** Every raw block (binary, hex, `blk*.dat` frame, `getblock <hash> 0`) must
//! carry a proof of work that meets its own `nBits`, an `nBits` no easier than its network's
//! limit ([`BtcParams`]), a merkle root and (segwit) a witness commitment that match its
//! transactions; otherwise it is refused naming the block hash and the check, before the sink
//! sees it. The network is the `blk*.dat` magic or, for raw blocks, [`BitcoinOptions::network`];
//! the sink is told it ([`crate::BlockSink::network`]) before the first block. `getblock` verbosity-2
//! JSON objects are taken as the node states them (their header is not re-hashed).
//!
//! **Heights**, most certain first: the parent block earlier in the same file; the `height`
//! of getblock JSON; the BIP34 height in the coinbase (block version ≥ 2); zero for a block
//! with a null parent (genesis); [`BitcoinOptions::height_hint`] for the first block of a file.
//! A block for which none applies is an error; in a `blk*.dat` file it first waits for its
//! parent to turn up later in the file, since Core stores blocks in download order.
//!
//! ```no_run
//! use floodgate_ingest::bitcoin::{read_path, BitcoinOptions};
//! use floodgate_types::ChainBlock;
//!
//! let mut txs = 0;
//! let mut sink = |block: ChainBlock, _bytes_done: u64| {
//!     txs += block.utxo_txs.len();
//!     Ok(())
//! };
//! let summary = read_path("blk00000.dat".as_ref(), &BitcoinOptions::default(), &mut sink)?;
//! # Ok::<(), floodgate_ingest::IngestError>(())
//! ```

mod blkfile;
mod created;
mod normalize;
mod prevouts;
mod raw;
mod rpc_json;
mod verify;
mod view;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use floodgate_types::{BtcNetwork, ChainBlock};

use self::normalize::Normalizer;
pub use self::prevouts::PrevoutMap;
pub use self::verify::{BtcParams, FLOODGATE_GEN, MAINNET, NETWORKS};
use crate::{BlockSink, FileSummary, IngestError, Location};

/// How to read Bitcoin data.
#[derive(Debug, Clone)]
pub struct BitcoinOptions {
    /// The network addresses are encoded for. A `blk*.dat` file's magic overrides it, since the
    /// magic says unambiguously which network wrote the file.
    pub network: BtcNetwork,
    /// Outputs spent by the input, from outside it (for fees and input attribution when the
    /// funding blocks are not in the same file).
    pub prevouts: Option<PrevoutMap>,
    /// The height of the first block in a file, used only when nothing in the data tells it
    /// (a single raw block from before BIP34).
    pub height_hint: Option<u64>,
}

impl Default for BitcoinOptions {
    fn default() -> Self {
        BitcoinOptions { network: BtcNetwork::Mainnet, prevouts: None, height_hint: None }
    }
}

/// Read-buffer size: large enough that a typical 1–2 MB block frame needs few syscalls.
const READ_BUFFER: usize = 1 << 20;

/// Reads a Bitcoin file of any supported format (see the module docs), handing each block to
/// `sink` in file order, except that a `blk*.dat` block whose height cannot be told before its
/// parent arrives (pre-BIP34, stored out of order) follows right after that parent.
///
/// # Errors
/// [`IngestError::Io`] when the file (or its `xor.dat`) cannot be read;
/// [`IngestError::Invalid`] naming the file and byte offset or JSON field for truncated or
/// corrupt data, a wrong block magic, malformed JSON, or a block whose height cannot be told;
/// [`IngestError::UnknownFormat`] for an empty file; [`IngestError::Sink`] when the sink fails.
pub fn read_path(
    path: &Path,
    opts: &BitcoinOptions,
    sink: &mut dyn BlockSink,
) -> Result<FileSummary, IngestError> {
    let file = std::fs::File::open(path)
        .map_err(|source| IngestError::Io { path: path.to_owned(), source })?;
    match xor_key(path)? {
        Some(key) => read_reader(
            path,
            BufReader::with_capacity(READ_BUFFER, blkfile::XorReader::new(file, key)),
            opts,
            sink,
        ),
        None => read_reader(path, BufReader::with_capacity(READ_BUFFER, file), opts, sink),
    }
}

/// Reads Bitcoin data already in memory, exactly as [`read_path`] reads a file; `name` is used
/// in error messages only (no `xor.dat` lookup happens).
///
/// # Errors
/// As [`read_path`].
pub fn read_slice(
    name: &Path,
    bytes: &[u8],
    opts: &BitcoinOptions,
    sink: &mut dyn BlockSink,
) -> Result<FileSummary, IngestError> {
    if detect(bytes) == Format::RawBlock {
        // Decode in place: the generic path would copy the block into a buffer first.
        if bytes.len() > raw::MAX_BLOCK_BYTES {
            return Err(too_large(name, raw::MAX_BLOCK_BYTES as u64));
        }
        let mut norm = Normalizer::new(opts.network, opts.prevouts.as_ref(), opts.height_hint);
        let mut summary = FileSummary { format: Format::RawBlock.name(), ..FileSummary::default() };
        single(name, bytes, bytes.len() as u64, &mut norm, sink, &mut summary)?;
        return Ok(summary);
    }
    read_reader(name, bytes, opts, sink)
}

/// The formats [`read_path`] tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Empty,
    Blk,
    Json,
    RawHex,
    RawBlock,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Empty => "empty",
            Format::Blk => "blk.dat",
            Format::Json => "getblock-json",
            Format::RawHex => "raw-block-hex",
            Format::RawBlock => "raw-block",
        }
    }
}

/// Whether the first bytes of a file look like Bitcoin data other than JSON (which says what
/// it is by its fields): a `blk*.dat` magic, a raw block in hex (at least a header's 160
/// digits), or binary that is not text and holds at least a block header.
pub(crate) fn sniff(head: &[u8]) -> bool {
    match detect(head) {
        Format::Blk => true,
        Format::RawHex => head.iter().filter(|b| b.is_ascii_hexdigit()).count() >= 160,
        Format::RawBlock => head.len() >= 80 && std::str::from_utf8(head).is_err(),
        Format::Json | Format::Empty => false,
    }
}

/// Tells the format from the first bytes of the input.
fn detect(head: &[u8]) -> Format {
    if head.is_empty() {
        return Format::Empty;
    }
    let first = head.iter().copied().find(|b| !b.is_ascii_whitespace());
    if blkfile::magic_network(head).is_some() || head.iter().take(8).all(|&b| b == 0) {
        // All zeros at the start is a block file Core preallocated but never wrote to.
        Format::Blk
    } else if matches!(first, Some(b'{' | b'[' | b'"')) {
        Format::Json
    } else if head.iter().take(160).all(|b| b.is_ascii_hexdigit() || b.is_ascii_whitespace()) {
        Format::RawHex
    } else {
        Format::RawBlock
    }
}

fn too_large(path: &Path, cap: u64) -> IngestError {
    IngestError::UnknownFormat {
        path: path.to_owned(),
        reason: format!(
            "no block magic or JSON at the start, and more than {cap} bytes: too large to be a \
             single raw block"
        ),
    }
}

/// The XOR key Bitcoin Core ≥ 28 keeps in `blocks/xor.dat`, for a `blk*.dat` beside it.
/// An all-zero key (what Core writes with `-blocksxor=0`) means no obfuscation.
fn xor_key(path: &Path) -> Result<Option<[u8; 8]>, IngestError> {
    let is_blk = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("blk") && n.ends_with(".dat"));
    let Some(key_path) = path.parent().map(|d| d.join("xor.dat")).filter(|_| is_blk) else {
        return Ok(None);
    };
    if !key_path.is_file() {
        return Ok(None);
    }
    let bytes = crate::read_file(&key_path)?;
    let key: [u8; 8] = bytes.as_slice().try_into().map_err(|_| {
        IngestError::invalid(
            &key_path,
            Location::File,
            format!("an xor.dat key is 8 bytes, this one has {}", bytes.len()),
        )
    })?;
    Ok((key != [0u8; 8]).then_some(key))
}

/// The hex text of a raw block: at most twice the largest block, plus a line end.
const MAX_HEX_BYTES: u64 = 2 * raw::MAX_BLOCK_BYTES as u64 + 2;

fn read_reader<R: BufRead>(
    path: &Path,
    mut r: R,
    opts: &BitcoinOptions,
    sink: &mut dyn BlockSink,
) -> Result<FileSummary, IngestError> {
    let io_err = |source| IngestError::Io { path: path.to_owned(), source };
    let mut norm = Normalizer::new(opts.network, opts.prevouts.as_ref(), opts.height_hint);
    let mut summary = FileSummary::default();
    let format = detect(r.fill_buf().map_err(io_err)?);
    summary.format = format.name();
    match format {
        Format::Empty => {
            return Err(IngestError::UnknownFormat {
                path: path.to_owned(),
                reason: "empty file".into(),
            })
        }
        Format::Blk => blkfile::read_blk(path, r, &mut norm, sink, &mut summary)?,
        Format::Json => rpc_json::read_json(path, r, &mut norm, sink, &mut summary)?,
        Format::RawHex => {
            let text = read_capped(path, r, MAX_HEX_BYTES)?;
            let bytes = hex::decode(text.trim_ascii()).map_err(|e| {
                let at = match e {
                    hex::FromHexError::InvalidHexCharacter { index, .. } => index as u64,
                    _ => 0,
                };
                IngestError::invalid(path, Location::Offset(at), format!("raw block hex: {e}"))
            })?;
            single(path, &bytes, text.len() as u64, &mut norm, sink, &mut summary)?;
        }
        Format::RawBlock => {
            let bytes = read_capped(path, r, raw::MAX_BLOCK_BYTES as u64)?;
            single(path, &bytes, bytes.len() as u64, &mut norm, sink, &mut summary)?;
        }
    }
    Ok(summary)
}

/// Reads the rest of the input, refusing more than `cap` bytes so a wrong guess of format on
/// a huge file cannot exhaust memory.
fn read_capped<R: BufRead>(path: &Path, mut r: R, cap: u64) -> Result<Vec<u8>, IngestError> {
    // Size the buffer from what is already buffered: with the 1 MiB read buffer a typical
    // block arrives whole, so `read_to_end` does not regrow and recopy it.
    let buffered = r.fill_buf().map_or(0, |b| b.len());
    let mut out = Vec::with_capacity(buffered.saturating_add(1));
    r.take(cap + 1)
        .read_to_end(&mut out)
        .map_err(|source| IngestError::Io { path: path.to_owned(), source })?;
    if out.len() as u64 > cap {
        return Err(too_large(path, cap));
    }
    Ok(out)
}

fn single(
    path: &Path,
    bytes: &[u8],
    input_len: u64,
    norm: &mut Normalizer<'_>,
    sink: &mut dyn BlockSink,
    summary: &mut FileSummary,
) -> Result<(), IngestError> {
    let mut layout = view::Layout::default();
    let block = layout
        .view(bytes)
        .map_err(|f| IngestError::invalid(path, Location::Offset(f.offset), f.reason))?;
    blkfile::announce(path, norm.params(), 0, sink)?;
    verify::verify_block(&block, norm.params())
        .map_err(|reason| IngestError::invalid(path, Location::Offset(0), reason))?;
    let normalized: ChainBlock =
        norm.block(&block, None).map_err(|r| IngestError::invalid(path, Location::Offset(0), r))?;
    summary.blocks = 1;
    summary.transactions = normalized.utxo_txs.len() as u64;
    summary.bytes = input_len;
    sink.block(normalized, summary.bytes).map_err(|source| IngestError::Sink {
        path: path.to_owned(),
        at: Location::Offset(0),
        source,
    })
}
