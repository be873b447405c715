//! One immutable graph segment file: its byte layout, writer and bounds-checked reader.
//! The byte-by-byte description is `docs/formats/graph.md`; keep the two in step.
//!
//! Edges are variable-length records (LEB128 varints) in per-node lists, so a segment costs
//! bytes in proportion to the information it holds: a typical Bitcoin leg takes 6–8 bytes,
//! its reverse-index entry 2–4, and a UTXO transaction's id is stored once, in its node key.
//! An account transfer built from the transfer store holds no transaction id (format 3): it
//! refers to its store row by block and the transaction's ordinal in the block, and the id is
//! resolved from the store when shown.

use std::borrow::Cow;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use bytemuck::{Pod, Zeroable};
use memmap2::Mmap;
use sha2::{Digest, Sha256};

use crate::{keys, GraphError};

#[cfg(target_endian = "big")]
compile_error!(
    "graph segments are little-endian and mapped in place; big-endian targets are not supported"
);

/// File magic: the first eight bytes of every segment.
pub(crate) const MAGIC: [u8; 8] = *b"FGGRAPH\0";
/// Segment format version this build writes (versions 2 to 6 are still read; 6 has the same
/// header and sections, without in-record columns).
pub(crate) const VERSION: u32 = 7;
/// Number of sections in a segment of version 6 or 7 (a version 3–5 segment has the first 11,
/// read as if the 12th were empty).
pub(crate) const SECTIONS: usize = 12;

pub(crate) const S_KEY_INDEX: usize = 0;
pub(crate) const S_KEY_BYTES: usize = 1;
pub(crate) const S_KEY_SORTED: usize = 2;
pub(crate) const S_TX_BITS: usize = 3;
pub(crate) const S_NODE_OFFSETS: usize = 4;
pub(crate) const S_EDGE_LISTS: usize = 5;
pub(crate) const S_TXIDS: usize = 6;
pub(crate) const S_TX_CHAINS: usize = 7;
pub(crate) const S_ASSETS: usize = 8;
pub(crate) const S_WIDE_AMOUNTS: usize = 9;
pub(crate) const S_BLOCKS: usize = 10;
pub(crate) const S_LIST_TIMES: usize = 11;

const SECTION_NAMES: [&str; SECTIONS] = [
    "key index",
    "key bytes",
    "sorted keys",
    "tx node bits",
    "node offsets",
    "edge lists",
    "txids",
    "tx chains",
    "assets",
    "wide amounts",
    "blocks",
    "list times",
];

/// Keys per entry of the key index: key `i` is found by skipping `i % KEY_STRIDE` keys from
/// the start of key `i - i % KEY_STRIDE` (keys are self-delimiting).
pub(crate) const KEY_STRIDE: usize = 16;

/// Nodes per entry of the node index (section 4, version 3): node `n`'s block is found by
/// skipping `n % NODE_STRIDE` length-prefixed blocks from entry `n / NODE_STRIDE`.
pub(crate) const NODE_STRIDE: usize = 16;

/// The fewest records, on one side of a node in one segment, whose time is another node's
/// (an address's UTXO legs: out records of mode [`MODE_TX_DST`], in records of mode
/// [`MODE_TX_SRC`]) for which the segment stores those times beside the lists (section 11,
/// version 6). Reading such a time otherwise decodes the transaction node's key after up to
/// 15 others in its run; below this many a list costs at most a few tens of microseconds
/// that way, and the times of the many small lists would cost bytes for little.
pub(crate) const LIST_TIMES_MIN: usize = 64;

/// The fewest in records of a node in one segment for which the segment stores, beside its
/// in list, a column of each record's amount, asset and time (section 11, version 7; the
/// side's entry is [`SIDE_IN_COLUMN`], and it has no list-time entry of side 1 then). An in
/// record only names its out record, in the sender's block: reading a hub's received side
/// otherwise costs a random read per record (about 100 ns at 50M transfers). A column costs
/// about 5 bytes per record over the list times it replaces, and the size target (28 bytes
/// per edge at 50M transfers) leaves room for about 2.5M such records: at 50M the in sides
/// of at least 4,096 records hold 7.1M, those of at least 2¹⁸ the biggest hub's 431,784
/// (the next eight have about 260,000 each; `docs/formats/graph.md`, "In-record columns").
pub(crate) const COLUMN_MIN: usize = 1 << 18;

/// The `side` of a section-11 index entry for a node's in-record column (version 7).
pub(crate) const SIDE_IN_COLUMN: u32 = 2;

/// Record mode: the transaction is the source node (a UTXO output leg).
pub(crate) const MODE_TX_SRC: u8 = 0;
/// Record mode: the transaction is the target node (a UTXO input leg).
pub(crate) const MODE_TX_DST: u8 = 1;
/// Record mode: the transaction is in the txid table and the time is in the record (an
/// edge added through `GraphBuilder::add_edge`, which names no store row).
pub(crate) const MODE_EXPLICIT: u8 = 2;
/// Record mode: the transaction is a row of the transfer store, named by the block (an
/// entry of the block table, which holds the time) and its ordinal among the block's
/// transactions (an account transfer built from the store).
pub(crate) const MODE_STORE: u8 = 3;

/// One entry of the block table (section 10): a block of the transfer store that account
/// transfers of this segment refer to.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub(crate) struct BlockEntry {
    /// Block height.
    pub(crate) height: u64,
    /// Block time, Unix seconds (0 unknown).
    pub(crate) time: u32,
    /// The segment's transaction number of the block's ordinal 0 (storage order: what
    /// [`crate::Leg::seq`] compares).
    pub(crate) first_tx: u32,
    /// Records refer to ordinals `0..txs`.
    pub(crate) txs: u32,
    /// `0` bitcoin, `1` ethereum, `2` tron.
    pub(crate) chain: u8,
    pub(crate) reserved: [u8; 3],
    /// The block's hash when the segment was written (all zero: not recorded), so that a
    /// store that changed the block since is noticed instead of giving another block's ids.
    pub(crate) hash: [u8; 32],
}
const _: () = assert!(std::mem::size_of::<BlockEntry>() == 56);
/// Where [`BlockEntry::time`] lies in a stored entry ([`Segment::block_u32`]).
pub(crate) const BLOCK_TIME: usize = std::mem::offset_of!(BlockEntry, time);
/// Where [`BlockEntry::first_tx`] lies in a stored entry.
pub(crate) const BLOCK_FIRST_TX: usize = std::mem::offset_of!(BlockEntry, first_tx);
/// Where [`BlockEntry::txs`] lies in a stored entry.
pub(crate) const BLOCK_TXS: usize = std::mem::offset_of!(BlockEntry, txs);

impl BlockEntry {
    /// A block of `chain` (its code, as stored) at `height` whose ordinal 0 is the segment's
    /// transaction `first_tx`, with `txs` ordinals so far; its hash is filled in when the
    /// segment is written.
    pub(crate) fn new(chain: u8, height: u64, time: u32, first_tx: u32, txs: u32) -> BlockEntry {
        BlockEntry { height, time, first_tx, txs, chain, reserved: [0; 3], hash: [0; 32] }
    }
}

/// Where a section lies in the file and what it hashes to.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub(crate) struct SectionEntry {
    pub(crate) offset: u64,
    pub(crate) len: u64,
    pub(crate) sha256: [u8; 32],
}

/// The fixed 624-byte header.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub(crate) struct Header {
    pub(crate) magic: [u8; 8],
    pub(crate) version: u32,
    pub(crate) section_count: u32,
    pub(crate) base_node: u32,
    pub(crate) node_count: u32,
    pub(crate) edge_count: u64,
    pub(crate) tx_count: u32,
    pub(crate) wide_count: u32,
    pub(crate) asset_count: u32,
    pub(crate) time_base: u32,
    pub(crate) block_count: u32,
    /// What the first transaction key of each run of [`KEY_STRIDE`] keys codes its time
    /// from (version 5: the smallest known time of the segment's transaction keys; zero
    /// before, where the field was reserved).
    pub(crate) key_time_base: u32,
    /// Entries of the list-time index at the start of section 11 (version 6; zero before,
    /// where the field was reserved).
    pub(crate) timed_lists: u32,
    pub(crate) reserved: [u8; 4],
    pub(crate) sections: [SectionEntry; SECTIONS],
    pub(crate) header_sha256: [u8; 32],
}

pub(crate) const HEADER_LEN: usize = std::mem::size_of::<Header>();
const _: () = assert!(HEADER_LEN == 672);
const HASHED_HEADER_LEN: usize = HEADER_LEN - 32;

/// The header of versions 3 to 5 (624 bytes: eleven sections, no list times), still read: a
/// segment of those versions is a version-6 segment whose section 11 is empty.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
struct HeaderV3 {
    magic: [u8; 8],
    version: u32,
    section_count: u32,
    base_node: u32,
    node_count: u32,
    edge_count: u64,
    tx_count: u32,
    wide_count: u32,
    asset_count: u32,
    time_base: u32,
    block_count: u32,
    key_time_base: u32,
    reserved: [u8; 8],
    sections: [SectionEntry; 11],
    header_sha256: [u8; 32],
}
const HEADER_V3_LEN: usize = std::mem::size_of::<HeaderV3>();
const _: () = assert!(HEADER_V3_LEN == 624);

impl HeaderV3 {
    /// The same segment described by a version-6 header: an empty section 11 after the
    /// last section.
    fn upgrade(&self) -> Header {
        let mut h = Header::zeroed();
        h.magic = self.magic;
        h.version = self.version;
        h.section_count = SECTIONS as u32;
        h.base_node = self.base_node;
        h.node_count = self.node_count;
        h.edge_count = self.edge_count;
        h.tx_count = self.tx_count;
        h.wide_count = self.wide_count;
        h.asset_count = self.asset_count;
        h.time_base = self.time_base;
        h.block_count = self.block_count;
        h.key_time_base = self.key_time_base;
        h.sections[..11].copy_from_slice(&self.sections);
        h.sections[S_LIST_TIMES] = empty_after(&self.sections[S_BLOCKS]);
        h.header_sha256 = self.header_sha256;
        h
    }
}

/// An empty section placed after `last` (at the next multiple of 8), for a header of an
/// older version that had no such section.
fn empty_after(last: &SectionEntry) -> SectionEntry {
    let end = last.offset.saturating_add(last.len);
    SectionEntry { offset: end.div_ceil(8) * 8, len: 0, sha256: Sha256::digest([]).into() }
}

/// One entry of the list-time index (the start of section 11, version 6): node `node`'s
/// out records (`side` 0) or in records (`side` 1) in this segment have their times stored
/// from byte `start` of the time stream that follows the index, up to the next entry's
/// `start` (the stream's end for the last); from version 7 `side` 2 ([`SIDE_IN_COLUMN`]):
/// its in records' column (amount, asset, time) is stored there. Sorted by `(node, side)`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub(crate) struct TimedList {
    pub(crate) node: u32,
    pub(crate) side: u32,
    pub(crate) start: u64,
}
const _: () = assert!(std::mem::size_of::<TimedList>() == 16);

/// The version-2 header (576 bytes: ten sections, no block table), still read: a version-2
/// segment is a version-3 segment whose block table is empty (its account transfers keep
/// their ids in the txid table, mode 2), so graphs written before 2026-12-05 open, and are
/// appended to in version 3, without a rebuild.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
struct HeaderV2 {
    magic: [u8; 8],
    version: u32,
    section_count: u32,
    base_node: u32,
    node_count: u32,
    edge_count: u64,
    tx_count: u32,
    wide_count: u32,
    asset_count: u32,
    time_base: u32,
    reserved: [u8; 16],
    sections: [SectionEntry; 10],
    header_sha256: [u8; 32],
}
const HEADER_V2_LEN: usize = std::mem::size_of::<HeaderV2>();
const _: () = assert!(HEADER_V2_LEN == 576);

impl HeaderV2 {
    /// The same segment described by a version-3 header: an empty block table at the end
    /// of the last section (and from there, [`HeaderV3::upgrade`], a version-6 one).
    fn upgrade(&self) -> HeaderV3 {
        let mut h = HeaderV3::zeroed();
        h.magic = self.magic;
        h.version = self.version;
        h.section_count = 11;
        h.base_node = self.base_node;
        h.node_count = self.node_count;
        h.edge_count = self.edge_count;
        h.tx_count = self.tx_count;
        h.wide_count = self.wide_count;
        h.asset_count = self.asset_count;
        h.time_base = self.time_base;
        h.sections[..10].copy_from_slice(&self.sections);
        h.sections[S_BLOCKS] = empty_after(&self.sections[9]);
        h.header_sha256 = self.header_sha256;
        h
    }
}

/// One decoded edge record. `node` is the other end: the target in an out-list, the source
/// when read through the reverse index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Rec {
    pub(crate) node: u32,
    pub(crate) mode: u8,
    pub(crate) asset: u16,
    /// Base units, or with `wide` an index into the wide-amount table.
    pub(crate) amount: u64,
    pub(crate) wide: bool,
    /// Index into the txid table (mode [`MODE_EXPLICIT`]) or the block table
    /// ([`MODE_STORE`]).
    pub(crate) tx: u32,
    /// The transaction's ordinal in its block (mode [`MODE_STORE`]).
    pub(crate) ord: u32,
    /// Unix seconds, 0 unknown (mode [`MODE_EXPLICIT`]; otherwise the transaction node's).
    pub(crate) time: u32,
}

/// Everything a segment holds, in memory, ready to be written.
#[derive(Debug, Default)]
pub(crate) struct SegmentData {
    pub(crate) base_node: u32,
    pub(crate) node_count: u32,
    pub(crate) key_index: Vec<u32>,
    /// The new nodes' keys as [`keys::encode`] makes them, concatenated; written in their
    /// stored form ([`keys::put_stored`], from `key_time_base`), which `key_index` indexes.
    pub(crate) key_bytes: Vec<u8>,
    pub(crate) key_time_base: u32,
    pub(crate) sorted: Vec<u32>,
    /// Bit `i` set: new node `i` is a transaction node.
    pub(crate) tx_bits: Vec<u64>,
    pub(crate) node_offsets: Vec<u32>,
    /// Per node: LEB128 byte length of its out records, the out records, the in records;
    /// kept as the encoders made them and written node by node ([`write`] streams them).
    pub(crate) lists: EdgeLists,
    pub(crate) edge_count: u64,
    pub(crate) txids: Vec<[u8; 32]>,
    pub(crate) tx_chains: Vec<u8>,
    pub(crate) assets: Vec<String>,
    pub(crate) wide: Vec<[u8; 32]>,
    pub(crate) blocks: Vec<BlockEntry>,
    pub(crate) time_base: u32,
    /// Section 11: the list-time index (`timed_lists` entries), then the time stream.
    pub(crate) list_times: Vec<u8>,
    pub(crate) timed_lists: u32,
}

/// A segment's edge lists as the (parallel) encoders leave them: out records and in
/// records, each in one or more parts covering consecutive runs of nodes. [`write`] streams
/// section 5 from them node block by node block, so the section is never copied whole.
#[derive(Debug, Default)]
pub(crate) struct EdgeLists {
    /// Out records: parts covering consecutive node runs, in node order.
    pub(crate) outs: Vec<InPart>,
    /// In records: parts covering consecutive node runs, in node order.
    pub(crate) ins: Vec<InPart>,
}

/// Records (in records, or out records in [`EdgeLists::outs`]) of the nodes
/// `first..first + offsets.len() - 1`.
#[derive(Debug, Default)]
pub(crate) struct InPart {
    pub(crate) first: usize,
    pub(crate) bytes: Vec<u8>,
    pub(crate) offsets: Vec<usize>,
}

/// Node `n`'s records in `parts`, the part at `*p` or after it (`*p` moves on to it): nodes
/// asked in increasing order cost no search.
fn records_at<'a>(parts: &'a [InPart], p: &mut usize, n: usize) -> &'a [u8] {
    while parts.get(*p + 1).is_some_and(|q| q.first <= n) {
        *p += 1;
    }
    parts
        .get(*p)
        .filter(|q| q.first <= n)
        .and_then(|q| {
            let l = n - q.first;
            q.bytes.get(*q.offsets.get(l)?..*q.offsets.get(l + 1)?)
        })
        .unwrap_or(&[])
}

impl EdgeLists {
    /// Calls `f` with every node's out records and in records, nodes `0..nodes` in order.
    pub(crate) fn try_for_each_node<E>(
        &self,
        nodes: usize,
        mut f: impl FnMut(&[u8], &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let (mut po, mut pi) = (0, 0);
        for n in 0..nodes {
            f(records_at(&self.outs, &mut po, n), records_at(&self.ins, &mut pi, n))?;
        }
        Ok(())
    }

    /// Byte length of a node's block in section 5 after its length prefix (0 when it has
    /// no edge), from its out and in records.
    pub(crate) fn body_len(out: &[u8], ins: &[u8]) -> usize {
        if out.is_empty() && ins.is_empty() {
            0
        } else {
            varint_len(out.len() as u64) + out.len() + ins.len()
        }
    }

    /// Byte length of a node's block in section 5, its length prefix included (1 byte when
    /// it has no edge).
    pub(crate) fn block_len(out: &[u8], ins: &[u8]) -> usize {
        let body = Self::body_len(out, ins);
        varint_len(body as u64) + body
    }

    /// Writes section 5 (every node's block, in node order) to `w`, in chunks of about a
    /// MiB (so that the hasher and the file see few large writes, not three per node).
    fn write_to(&self, nodes: usize, w: &mut impl Write) -> std::io::Result<()> {
        const CHUNK: usize = 1 << 20;
        let mut buf = Vec::with_capacity(CHUNK + 64);
        self.try_for_each_node(nodes, |o, i| -> std::io::Result<()> {
            put_varint(&mut buf, Self::body_len(o, i) as u64);
            if o.is_empty() && i.is_empty() {
                return Ok(());
            }
            put_varint(&mut buf, o.len() as u64);
            buf.extend_from_slice(o);
            buf.extend_from_slice(i);
            if buf.len() >= CHUNK {
                w.write_all(&buf)?;
                buf.clear();
            }
            Ok(())
        })?;
        w.write_all(&buf)
    }
}

/// A writer that hashes and counts what passes through it.
struct Hashing<'w, W: Write> {
    inner: &'w mut W,
    sha: Sha256,
    len: u64,
}

impl<W: Write> Write for Hashing<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

// ---------------------------------------------------------------------------------------
// Varints (unsigned LEB128) and zigzag.

/// Bytes of `v` as a varint.
#[inline]
pub(crate) fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

#[inline]
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[inline]
pub(crate) fn get_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    // One byte (most deltas, offsets and small amounts): no loop.
    let b = *buf.get(*pos)?;
    if b < 0x80 {
        *pos += 1;
        return Some(u64::from(b));
    }
    get_varint_long(buf, pos)
}

/// [`get_varint`] of two bytes or more: at most ten, the tenth holding only bit 63.
#[inline]
fn get_varint_long(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let at = *pos;
    let mut v = 0u64;
    for i in 0..10 {
        let b = *buf.get(at + i)?;
        v |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            if i == 9 && b > 1 {
                return None;
            }
            *pos = at + i + 1;
            return Some(v);
        }
    }
    None
}

/// A 64-bit mixing function (the finaliser of SplitMix64), for `verify`'s edge multiset.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[inline]
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[inline]
pub(crate) fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Appends one out-list record whose target is coded from `from`: the list's own node for
/// its first record, the previous record's target after it (version 5). The head is
/// `zigzag(dst − from) << 3 | mode << 1 | ext`, and `ext` says that `asset << 1 | wide`
/// follows.
pub(crate) fn put_record(out: &mut Vec<u8>, from: u32, r: &Rec, time_base: u32) {
    let delta = zigzag(i64::from(r.node) - i64::from(from));
    let ext = r.asset != 0 || r.wide;
    put_varint(out, (delta << 3) | (u64::from(r.mode) << 1) | u64::from(ext));
    if ext {
        put_varint(out, (u64::from(r.asset) << 1) | u64::from(r.wide));
    }
    put_varint(out, r.amount);
    if r.mode == MODE_EXPLICIT {
        put_varint(out, u64::from(r.tx));
        put_varint(out, if r.time == 0 { 0 } else { u64::from(r.time - time_base) + 1 });
    } else if r.mode == MODE_STORE {
        put_varint(out, u64::from(r.tx));
        put_varint(out, u64::from(r.ord));
    }
}

/// What an out record's target is read from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    /// Coded from this node: the list's own node before version 5 and for a list's first
    /// record; from version 5 the previous record's target after it.
    From(u32),
    /// Already known (the in-list's node, reading its in record's out record): the delta is
    /// skipped. From version 5 a record met in the middle of a list cannot be decoded
    /// otherwise, as the previous target is not known there.
    Known(u32),
}

/// Decodes the record at `*pos` of an out-list, in the coding of segment version `version`
/// (before 4 the head is `zigzag(dst − src) << 4 | mode << 2 | has_asset << 1 | wide`, then
/// the asset when `has_asset`).
#[inline]
pub(crate) fn get_record(
    buf: &[u8],
    pos: &mut usize,
    target: Target,
    time_base: u32,
    version: u32,
) -> Option<Rec> {
    let h = get_varint(buf, pos)?;
    let delta = if version >= 4 { h >> 3 } else { h >> 4 };
    let node = match target {
        Target::From(from) => i64::from(from).checked_add(unzigzag(delta))?,
        Target::Known(node) => i64::from(node),
    };
    let (mode, asset, wide);
    if version >= 4 {
        mode = ((h >> 1) & 3) as u8;
        let ext = if h & 1 != 0 { get_varint(buf, pos)? } else { 0 };
        asset = u16::try_from(ext >> 1).ok()?;
        wide = ext & 1 != 0;
    } else {
        mode = ((h >> 2) & 3) as u8;
        asset = if h & 2 != 0 { u16::try_from(get_varint(buf, pos)?).ok()? } else { 0 };
        wide = h & 1 != 0;
    }
    let node = u32::try_from(node).ok()?;
    let amount = get_varint(buf, pos)?;
    let (tx, ord, time) = match mode {
        MODE_EXPLICIT => {
            let tx = u32::try_from(get_varint(buf, pos)?).ok()?;
            let t = get_varint(buf, pos)?;
            let time = if t == 0 { 0 } else { u32::try_from(t - 1 + u64::from(time_base)).ok()? };
            (tx, 0, time)
        }
        MODE_STORE => {
            let blk = u32::try_from(get_varint(buf, pos)?).ok()?;
            (blk, u32::try_from(get_varint(buf, pos)?).ok()?, 0)
        }
        _ => (0, 0, 0),
    };
    Some(Rec { node, mode, asset, amount, wide, tx, ord, time })
}

/// Bits per entry of a version-4 sorted-key section of `new` keys: enough for `new - 1`.
pub(crate) fn sorted_width(new: usize) -> u32 {
    (usize::BITS - new.saturating_sub(1).leading_zeros()).max(1)
}

/// The version-4 sorted-key section: each index in [`sorted_width`] bits, little-endian bit
/// order (entry `j` at bit `j · width`), the last byte zero-filled.
fn pack_sorted(sorted: &[u32]) -> Vec<u8> {
    let w = sorted_width(sorted.len());
    let mut out = vec![0u8; (sorted.len() * w as usize).div_ceil(8)];
    for (j, &v) in sorted.iter().enumerate() {
        let bit = j * w as usize;
        let v = u64::from(v) << (bit % 8);
        for (k, b) in out[bit / 8..].iter_mut().take(5).enumerate() {
            *b |= (v >> (8 * k)) as u8;
        }
    }
    out
}

/// Appends one in-list record: the source and the byte offset of its out record. Version 4
/// codes the source from the previous record's (`prev`; the list's own node for the first)
/// and folds "offset 0" into it: `zigzag(src − prev) << 1 | has_offset`, then the offset
/// when not 0.
pub(crate) fn put_in_record(out: &mut Vec<u8>, src: u32, prev: u32, at: u32) {
    let d = zigzag(i64::from(src) - i64::from(prev));
    put_varint(out, (d << 1) | u64::from(at != 0));
    if at != 0 {
        put_varint(out, u64::from(at));
    }
}

/// Appends the times of one list's records whose time is another node's (section 11,
/// version 6): each as `zigzag(t − previous)`, the first from `base` (the segment's
/// `key_time_base`).
pub(crate) fn put_list_times(out: &mut Vec<u8>, times: &[u32], base: u32) {
    let mut prev = i64::from(base);
    for &t in times {
        put_varint(out, zigzag(i64::from(t) - prev));
        prev = i64::from(t);
    }
}

/// Appends one in record's entry of an in-record column (section 11, version 7):
/// `zigzag(time − prev) << 1 | ext`, then `asset << 1 | wide` when `ext`, then the amount
/// (or with `wide` its index in section 9), as the record's out record holds it; `prev`
/// (the segment's `key_time_base` for a list's first) becomes `time`.
pub(crate) fn put_column_record(out: &mut Vec<u8>, prev: &mut u32, r: &Rec, time: u32) {
    let ext = r.asset != 0 || r.wide;
    let d = zigzag(i64::from(time) - i64::from(*prev));
    put_varint(out, (d << 1) | u64::from(ext));
    if ext {
        put_varint(out, (u64::from(r.asset) << 1) | u64::from(r.wide));
    }
    put_varint(out, r.amount);
    *prev = time;
}

/// Whether a record of mode `mode` on the out side (`incoming` false) or the in side of a
/// node takes its time from the node at its other end (a UTXO leg of an address): the
/// records whose times section 11 stores.
#[inline]
pub(crate) fn time_elsewhere(mode: u8, incoming: bool) -> bool {
    mode == if incoming { MODE_TX_SRC } else { MODE_TX_DST }
}

/// Calls `f` with each key of `key_bytes` (keys as [`keys::encode`] makes them, concatenated)
/// in its stored form: each run of [`KEY_STRIDE`] keys codes its transaction keys' times from
/// `time_base`, then each from the one before ([`keys::put_stored`]).
pub(crate) fn for_each_stored_key(key_bytes: &[u8], time_base: u32, mut f: impl FnMut(&[u8])) {
    let mut stored = Vec::with_capacity(64);
    let (mut at, mut i, mut prev) = (0usize, 0usize, time_base);
    while at < key_bytes.len() {
        let len = keys::key_len(&key_bytes[at..]).expect("the builder's keys are well formed");
        if i % KEY_STRIDE == 0 {
            prev = time_base;
        }
        stored.clear();
        keys::put_stored(&key_bytes[at..at + len], &mut prev, &mut stored);
        f(&stored);
        at += len;
        i += 1;
    }
}

/// Writes section 1: the keys in their stored form, in chunks of about a MiB.
fn write_keys(key_bytes: &[u8], time_base: u32, w: &mut impl Write) -> std::io::Result<()> {
    const CHUNK: usize = 1 << 20;
    let mut buf = Vec::with_capacity(CHUNK + 64);
    let mut res = Ok(());
    for_each_stored_key(key_bytes, time_base, |k| {
        buf.extend_from_slice(k);
        if buf.len() >= CHUNK && res.is_ok() {
            res = w.write_all(&buf);
            buf.clear();
        }
    });
    res?;
    w.write_all(&buf)
}

/// Writes `data` to `path` on one thread ([`write_on`]).
#[cfg(test)]
pub(crate) fn write(path: &Path, data: &SegmentData) -> Result<[u8; 32], GraphError> {
    write_on(path, data, 1)
}

/// Byte length of every section of `data` as [`write_on`] writes it (`assets`: the asset
/// ids joined), known before any is written.
fn section_lens(data: &SegmentData, assets: &str) -> [u64; SECTIONS] {
    let sorted_bits = data.sorted.len() as u64 * u64::from(sorted_width(data.sorted.len()));
    let mut lens = [0u64; SECTIONS];
    lens[S_KEY_INDEX] = data.key_index.len() as u64 * 4;
    // The key index's last entry is section 1's length.
    lens[S_KEY_BYTES] = data.key_index.last().map_or(0, |&l| u64::from(l));
    lens[S_KEY_SORTED] = sorted_bits.div_ceil(8);
    lens[S_TX_BITS] = data.tx_bits.len() as u64 * 8;
    lens[S_NODE_OFFSETS] = data.node_offsets.len() as u64 * 4;
    // Likewise the node index's for section 5.
    lens[S_EDGE_LISTS] = data.node_offsets.last().map_or(0, |&l| u64::from(l));
    lens[S_TXIDS] = data.txids.len() as u64 * 32;
    lens[S_TX_CHAINS] = data.tx_chains.len() as u64;
    lens[S_ASSETS] = assets.len() as u64;
    lens[S_WIDE_AMOUNTS] = data.wide.len() as u64 * 32;
    lens[S_BLOCKS] = data.blocks.len() as u64 * 56;
    lens[S_LIST_TIMES] = data.list_times.len() as u64;
    lens
}

/// Writes sections `range` of `data` to `file` from offset `at` (the first's), each through
/// a hasher and followed by its zero padding; each one's length and SHA-256.
fn write_sections(
    file: &File,
    at: u64,
    range: Range<usize>,
    data: &SegmentData,
    assets: &str,
) -> std::io::Result<Vec<(u64, [u8; 32])>> {
    let mut f = std::io::BufWriter::with_capacity(1 << 20, file);
    f.seek(SeekFrom::Start(at))?;
    let nodes = data.node_count as usize;
    let zeros = [0u8; 8];
    let mut at = at;
    let mut sums = Vec::with_capacity(range.len());
    for i in range {
        let mut w = Hashing { inner: &mut f, sha: Sha256::new(), len: 0 };
        match i {
            S_KEY_INDEX => w.write_all(bytemuck::cast_slice(&data.key_index)),
            S_KEY_BYTES => write_keys(&data.key_bytes, data.key_time_base, &mut w),
            S_KEY_SORTED => w.write_all(&pack_sorted(&data.sorted)),
            S_TX_BITS => w.write_all(bytemuck::cast_slice(&data.tx_bits)),
            S_NODE_OFFSETS => w.write_all(bytemuck::cast_slice(&data.node_offsets)),
            S_EDGE_LISTS => data.lists.write_to(nodes, &mut w),
            S_TXIDS => w.write_all(bytemuck::cast_slice(&data.txids)),
            S_TX_CHAINS => w.write_all(&data.tx_chains),
            S_ASSETS => w.write_all(assets.as_bytes()),
            S_WIDE_AMOUNTS => w.write_all(bytemuck::cast_slice(&data.wide)),
            S_BLOCKS => w.write_all(bytemuck::cast_slice(&data.blocks)),
            _ => w.write_all(&data.list_times),
        }?;
        let (sha, len) = (w.sha.finalize(), w.len);
        sums.push((len, sha.into()));
        let padded = (at + len).div_ceil(8) * 8;
        f.write_all(&zeros[..(padded - at - len) as usize])?;
        at = padded;
    }
    f.flush()?;
    Ok(sums)
}

/// Writes `data` to `path` (through a temporary file, synced, then renamed, so a crash
/// leaves either no file or a whole one). Returns the header's checksum.
///
/// Streamed: each section through a hashing writer (the edge lists node block by node
/// block from the encoders' buffers, never assembled in memory), then the header with every
/// section's offset, length and SHA-256. Every section's length is known beforehand, so its
/// offset is too: with `threads` > 1 the key sections (0–3) are written and hashed on
/// another thread, through a second handle of the file, while this one writes the rest.
/// The bytes are the same either way.
pub(crate) fn write_on(
    path: &Path,
    data: &SegmentData,
    threads: usize,
) -> Result<[u8; 32], GraphError> {
    let io = |source| GraphError::Io { path: path.to_owned(), source };
    let assets = data.assets.join("\n");
    let mut header = Header::zeroed();
    header.magic = MAGIC;
    header.version = VERSION;
    header.section_count = SECTIONS as u32;
    header.base_node = data.base_node;
    header.node_count = data.node_count;
    header.edge_count = data.edge_count;
    header.tx_count = data.txids.len() as u32;
    header.wide_count = data.wide.len() as u32;
    header.asset_count = data.assets.len() as u32;
    header.time_base = data.time_base;
    header.block_count = data.blocks.len() as u32;
    header.key_time_base = data.key_time_base;
    header.timed_lists = data.timed_lists;
    let lens = section_lens(data, &assets);
    let mut at = HEADER_LEN as u64;
    for (entry, &len) in header.sections.iter_mut().zip(&lens) {
        entry.offset = at;
        at = (at + len).div_ceil(8) * 8;
    }
    let tmp = path.with_extension("tmp");
    let tmp_io = |source| GraphError::Io { path: tmp.clone(), source };
    let mut f = File::create(&tmp).map_err(tmp_io)?;
    let second = File::options().write(true).open(&tmp).map_err(tmp_io)?;
    let (keys_at, lists_at) =
        (header.sections[S_KEY_INDEX].offset, header.sections[S_NODE_OFFSETS].offset);
    let keys = || write_sections(&second, keys_at, S_KEY_INDEX..S_NODE_OFFSETS, data, &assets);
    let lists = || write_sections(&f, lists_at, S_NODE_OFFSETS..SECTIONS, data, &assets);
    let (lists, keys) = crate::graph::join(threads > 1, lists, keys);
    drop(second);
    for (i, (len, sha)) in keys.map_err(io)?.into_iter().chain(lists.map_err(io)?).enumerate() {
        if len != lens[i] {
            return Err(io(std::io::Error::other(format!(
                "section {} came to {len} bytes, {} were expected",
                SECTION_NAMES[i], lens[i]
            ))));
        }
        header.sections[i].len = len;
        header.sections[i].sha256 = sha;
    }
    let hb = bytemuck::bytes_of(&header);
    header.header_sha256 = Sha256::digest(&hb[..HASHED_HEADER_LEN]).into();
    f.seek(SeekFrom::Start(0)).map_err(io)?;
    f.write_all(bytemuck::bytes_of(&header)).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(header.header_sha256)
}

/// Maps `file` read-only.
// The only unsafe code in floodgate-graph. memmap2 marks mapping unsafe because another
// process could modify or truncate the file while it is mapped, which would change memory
// under Rust references.
#[allow(unsafe_code)]
fn map_readonly(file: &File) -> std::io::Result<Mmap> {
    // SAFETY: segment files are immutable once written: they are created under a temporary
    // name, synced, renamed into place and never opened for writing again (an append writes
    // a new segment; a rebuild writes new files under new names). We open them read-only, so
    // nothing in floodgate mutates the mapped bytes while the map lives.
    unsafe { Mmap::map(file) }
}

/// Maps an immutable file read-only: one written under a temporary name, synced and renamed
/// into place, never opened for writing again (a segment, or the exposure index of
/// `floodgate-trace`), so that the one `unsafe` mapping call of the workspace stays here.
///
/// # Errors
/// [`GraphError::Io`] naming the file.
pub fn map_immutable(path: &Path) -> Result<Mmap, GraphError> {
    let io = |source| GraphError::Io { path: path.to_owned(), source };
    let file = File::open(path).map_err(io)?;
    map_readonly(&file).map_err(io)
}

/// An open, memory-mapped segment. Opening checks the header and where the sections lie
/// (constant time, whatever the size); every later access is bounds-checked, and damage met
/// while reading is recorded (see [`Segment::damage`]) instead of panicking.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) path: PathBuf,
    map: Mmap,
    pub(crate) header: Header,
    ranges: [Range<usize>; SECTIONS],
    pub(crate) assets: Vec<String>,
    /// Bytes of the header in the file (576 for a version-2 segment).
    header_len: usize,
    damage: Mutex<Option<(u64, String)>>,
    /// Per node, where its block starts in section 5 (its length prefix), made by the first
    /// long in list read ([`Segment::starts`]) so that a block is found with one load instead
    /// of the index entry of its run of [`NODE_STRIDE`] and a skip over up to 15 blocks before
    /// it; empty when it cannot be made (version 2, a section of 4 GiB or more, or a damaged
    /// run: then blocks are found as the format says, and damage reported when met). Not made
    /// on open: a process that opens the graph and reads no hub (a build, an unwind, a lookup
    /// in the exposure index) does not pay a pass over every block.
    starts: OnceLock<Vec<u32>>,
}

impl Segment {
    /// Opens `path`: header checksum, section bounds and sizes.
    pub(crate) fn open(path: &Path) -> Result<Segment, GraphError> {
        let file =
            File::open(path).map_err(|source| GraphError::Io { path: path.to_owned(), source })?;
        let map = map_readonly(&file)
            .map_err(|source| GraphError::Io { path: path.to_owned(), source })?;
        let corrupt = |offset: u64, detail: String| GraphError::Corrupt {
            path: path.to_owned(),
            offset,
            detail,
        };
        if map.len() < HEADER_V3_LEN {
            return Err(corrupt(
                0,
                format!("file is {} bytes, shorter than the header", map.len()),
            ));
        }
        if map[..8] != MAGIC {
            return Err(corrupt(0, "not a floodgate graph segment (bad magic)".into()));
        }
        let version = u32::from_le_bytes([map[8], map[9], map[10], map[11]]);
        let (header, header_len, sections) = match version {
            6 | VERSION if map.len() < HEADER_LEN => {
                return Err(corrupt(
                    0,
                    format!("file is {} bytes, shorter than the header", map.len()),
                ));
            }
            6 | VERSION => {
                (bytemuck::pod_read_unaligned::<Header>(&map[..HEADER_LEN]), HEADER_LEN, SECTIONS)
            }
            3..=5 => {
                let v3: HeaderV3 = bytemuck::pod_read_unaligned(&map[..HEADER_V3_LEN]);
                (v3.upgrade(), HEADER_V3_LEN, 11)
            }
            2 if map.len() >= HEADER_V2_LEN => {
                let v2: HeaderV2 = bytemuck::pod_read_unaligned(&map[..HEADER_V2_LEN]);
                (v2.upgrade().upgrade(), HEADER_V2_LEN, 10)
            }
            _ => {
                return Err(GraphError::UnsupportedVersion {
                    what: "graph segment",
                    path: path.to_owned(),
                    found: version,
                    supported: VERSION,
                })
            }
        };
        let hashed = header_len - 32;
        let sum: [u8; 32] = Sha256::digest(&map[..hashed]).into();
        if sum != header.header_sha256 {
            return Err(corrupt(hashed as u64, "header checksum mismatch".into()));
        }
        let count = u32::from_le_bytes([map[12], map[13], map[14], map[15]]);
        if count as usize != sections {
            return Err(corrupt(12, format!("{count} sections, expected {sections}")));
        }
        let mut ranges: [Range<usize>; SECTIONS] = Default::default();
        for (i, s) in header.sections.iter().enumerate() {
            let end = s.offset.checked_add(s.len);
            if s.offset % 8 != 0 || end.is_none_or(|e| e > map.len() as u64) {
                return Err(corrupt(
                    64 + 48 * i as u64,
                    format!(
                        "section '{}' at {}+{} lies outside the {}-byte file or is misaligned",
                        SECTION_NAMES[i],
                        s.offset,
                        s.len,
                        map.len()
                    ),
                ));
            }
            ranges[i] = s.offset as usize..(s.offset + s.len) as usize;
        }
        let assets_raw = std::str::from_utf8(&map[ranges[S_ASSETS].clone()])
            .map_err(|e| corrupt(header.sections[S_ASSETS].offset, format!("assets: {e}")))?;
        let assets: Vec<String> = if header.asset_count == 0 {
            Vec::new()
        } else {
            assets_raw.split('\n').map(str::to_owned).collect()
        };
        let seg = Segment {
            path: path.to_owned(),
            map,
            header,
            ranges,
            assets,
            header_len,
            damage: Mutex::new(None),
            starts: OnceLock::new(),
        };
        seg.check_sizes()?;
        Ok(seg)
    }

    /// The block starts ([`Segment::starts`]'s field), made now if not yet.
    pub(crate) fn starts(&self) -> &[u32] {
        self.starts.get_or_init(|| self.block_starts().unwrap_or_default())
    }

    /// Where each node's block starts in section 5 (version 3 and later): each run's first
    /// from the node index, each other from the block before it, read in one pass over the
    /// section. `None` when a block's length does not decode or leads outside the section,
    /// or the section is too long for 32-bit offsets: the blocks are then found run by run.
    fn block_starts(&self) -> Option<Vec<u32>> {
        let (o, sec) = (self.u32s(S_NODE_OFFSETS), self.raw(S_EDGE_LISTS));
        if self.header.version < 3 || u32::try_from(sec.len()).is_err() {
            return None;
        }
        let nodes = self.header.node_count as usize;
        let mut starts = Vec::with_capacity(nodes);
        for (run, &first) in o.iter().enumerate().take(nodes.div_ceil(NODE_STRIDE)) {
            let mut p = first as usize;
            for _ in 0..NODE_STRIDE.min(nodes - run * NODE_STRIDE) {
                starts.push(u32::try_from(p).ok()?);
                let mut q = p;
                let len = usize::try_from(get_varint(sec, &mut q)?).ok()?;
                p = q.checked_add(len).filter(|&e| e <= sec.len())?;
            }
        }
        (starts.len() == nodes).then_some(starts)
    }

    fn corrupt(&self, section: usize, detail: String) -> GraphError {
        GraphError::Corrupt {
            path: self.path.clone(),
            offset: self.header.sections[section].offset,
            detail: format!("{}: {detail}", SECTION_NAMES[section]),
        }
    }

    fn raw(&self, s: usize) -> &[u8] {
        &self.map[self.ranges[s].clone()]
    }

    fn check_len<T: Pod>(&self, s: usize, want: usize) -> Result<(), GraphError> {
        let bytes = self.raw(s);
        let v: &[T] = bytemuck::try_cast_slice(bytes)
            .map_err(|e| self.corrupt(s, format!("{} bytes: {e:?}", bytes.len())))?;
        if v.len() != want {
            return Err(self.corrupt(s, format!("{} entries, expected {want}", v.len())));
        }
        Ok(())
    }

    /// Section sizes against the header's counts (constant time).
    fn check_sizes(&self) -> Result<(), GraphError> {
        let h = &self.header;
        let new = h.node_count.checked_sub(h.base_node).ok_or_else(|| {
            self.corrupt(0, format!("node count {} below base {}", h.node_count, h.base_node))
        })? as usize;
        let nodes = h.node_count as usize;
        if h.asset_count as usize != self.assets.len() {
            return Err(self.corrupt(S_ASSETS, "asset count mismatch".into()));
        }
        self.check_len::<u32>(S_KEY_INDEX, new.div_ceil(KEY_STRIDE) + 1)?;
        if h.version >= 4 {
            let want = (new * sorted_width(new) as usize).div_ceil(8);
            let got = self.raw(S_KEY_SORTED).len();
            if got != want {
                return Err(self.corrupt(S_KEY_SORTED, format!("{got} bytes, expected {want}")));
            }
        } else {
            self.check_len::<u32>(S_KEY_SORTED, new)?;
        }
        let offsets = if h.version == 2 { nodes + 1 } else { nodes.div_ceil(NODE_STRIDE) + 1 };
        self.check_len::<u32>(S_NODE_OFFSETS, offsets)?;
        self.check_len::<[u8; 32]>(S_TXIDS, h.tx_count as usize)?;
        self.check_len::<u8>(S_TX_CHAINS, h.tx_count as usize)?;
        self.check_len::<[u8; 32]>(S_WIDE_AMOUNTS, h.wide_count as usize)?;
        self.check_len::<u64>(S_TX_BITS, new.div_ceil(64))?;
        self.check_len::<BlockEntry>(S_BLOCKS, h.block_count as usize)?;
        let index = h.timed_lists as usize * std::mem::size_of::<TimedList>();
        if self.raw(S_LIST_TIMES).len() < index {
            return Err(self.corrupt(
                S_LIST_TIMES,
                format!(
                    "{} bytes, shorter than its {} index entries",
                    self.raw(S_LIST_TIMES).len(),
                    h.timed_lists
                ),
            ));
        }
        Ok(())
    }

    /// Records damage found while reading (the first is kept) for [`Segment::damage`].
    pub(crate) fn note_damage(&self, section: usize, detail: String) {
        if let Ok(mut d) = self.damage.lock() {
            if d.is_none() {
                tracing::error!(path = %self.path.display(), section = SECTION_NAMES[section], %detail, "damaged graph segment");
                *d = Some((
                    self.header.sections[section].offset,
                    format!("{}: {detail}", SECTION_NAMES[section]),
                ));
            }
        }
    }

    /// The first damage met while reading, if any.
    pub(crate) fn damage(&self) -> Result<(), GraphError> {
        match self.damage.lock().ok().and_then(|d| d.clone()) {
            Some((offset, detail)) => {
                Err(GraphError::Corrupt { path: self.path.clone(), offset, detail })
            }
            None => Ok(()),
        }
    }

    /// Recomputes every section's SHA-256 and compares it with the header, checks that the
    /// alignment padding between sections is zero, and decodes every record and key.
    pub(crate) fn verify(&self) -> Result<(), GraphError> {
        let mut at = self.header_len;
        let mut order: Vec<usize> = (0..SECTIONS).collect();
        order.sort_by_key(|&i| self.ranges[i].start);
        for i in order.into_iter().map(Some).chain([None]) {
            let end = i.map_or(self.map.len(), |i| self.ranges[i].start);
            if let Some(p) = self.map.get(at..end).and_then(|g| g.iter().position(|&b| b != 0)) {
                return Err(GraphError::Corrupt {
                    path: self.path.clone(),
                    offset: (at + p) as u64,
                    detail: "non-zero padding between sections".into(),
                });
            }
            if let Some(i) = i {
                at = at.max(self.ranges[i].end);
            }
        }
        for i in 0..SECTIONS {
            let sum: [u8; 32] = Sha256::digest(self.raw(i)).into();
            if sum != self.header.sections[i].sha256 {
                return Err(self.corrupt(i, "checksum mismatch".into()));
            }
        }
        // Structure: every key well formed and the sorted section a permutation in key
        // order; every list decodes exactly to its end with ids in range.
        let new = (self.header.node_count - self.header.base_node) as usize;
        // The keys read one after another from the start: the key index must point at every
        // 16th, and the last end where the section ends.
        let (index, bytes) = (self.u32s(S_KEY_INDEX), self.raw(S_KEY_BYTES));
        let (mut at, mut prev) = (0usize, self.header.key_time_base);
        for i in 0..new {
            if i % KEY_STRIDE == 0 {
                prev = self.header.key_time_base;
                if index.get(i / KEY_STRIDE).is_none_or(|&e| e as usize != at) {
                    return Err(self.corrupt(S_KEY_INDEX, format!("key {i}: wrong offset")));
                }
            }
            match bytes.get(at..).and_then(|b| keys::read_stored(b, self.header.version, &mut prev))
            {
                Some((len, _)) => at += len,
                None => return Err(self.corrupt(S_KEY_BYTES, format!("key {i} does not decode"))),
            }
        }
        if at != bytes.len() || index.last().is_none_or(|&e| e as usize != at) {
            return Err(self.corrupt(S_KEY_BYTES, "the keys do not end the section".into()));
        }
        for i in 0..new {
            let k = self
                .key_bytes(i)
                .ok_or_else(|| self.corrupt(S_KEY_INDEX, format!("key {i} out of range")))?;
            keys::check(&k).map_err(|d| self.corrupt(S_KEY_BYTES, format!("key {i}: {d}")))?;
            if keys::is_tx(&k) != self.is_tx_local(i) {
                return Err(
                    self.corrupt(S_TX_BITS, format!("node {i}: kind bit disagrees with its key"))
                );
            }
        }
        let sorted: Vec<u32> = (0..new).map(|j| self.sorted_at(j)).collect();
        let mut seen = vec![false; new];
        for w in sorted.windows(2) {
            let (a, b) = (self.key_identity(w[0] as usize), self.key_identity(w[1] as usize));
            if a.zip(b).is_none_or(|(a, b)| a.cmp(b) != std::cmp::Ordering::Less) {
                return Err(
                    self.corrupt(S_KEY_SORTED, "keys not in strictly increasing order".into())
                );
            }
        }
        for &i in &sorted {
            match seen.get_mut(i as usize) {
                Some(s) if !*s => *s = true,
                _ => return Err(self.corrupt(S_KEY_SORTED, format!("bad or repeated index {i}"))),
            }
        }
        if self.header.version != 2 {
            // Every block's length prefix, from the start: the index must point at every
            // 16th block, and the last block end where the section ends.
            let (o, sec) = (self.u32s(S_NODE_OFFSETS), self.raw(S_EDGE_LISTS));
            let mut p = 0usize;
            for n in 0..self.header.node_count as usize {
                if n % NODE_STRIDE == 0 && o.get(n / NODE_STRIDE).is_none_or(|&e| e as usize != p) {
                    return Err(self.corrupt(S_NODE_OFFSETS, format!("node {n}: wrong offset")));
                }
                let len = get_varint(sec, &mut p).and_then(|l| usize::try_from(l).ok());
                match len.and_then(|l| p.checked_add(l)).filter(|&e| e <= sec.len()) {
                    Some(e) => p = e,
                    None => return Err(self.corrupt(S_EDGE_LISTS, format!("node {n}: bad block"))),
                }
            }
            if p != sec.len() || o.last().is_none_or(|&e| e as usize != p) {
                return Err(self.corrupt(S_EDGE_LISTS, "blocks do not end the section".into()));
            }
        }
        // Every out record `(source, offset, target)` must be named by exactly one in record
        // of its target: compared as multisets, by count and by a sum of 64-bit hashes (an in
        // record reads the target from its own list, not from the out record: version 5).
        let edge_hash =
            |src: u32, at: u64, dst: u32| mix64(mix64(u64::from(src) << 32 | u64::from(dst)) ^ at);
        let (mut edges, mut reverse) = (0u64, 0u64);
        let mut balance = 0u64;
        for n in 0..self.header.node_count {
            let mut it = self.out_records(n);
            loop {
                let at = it.offset() as u64;
                let Some(r) = it.next() else { break };
                edges += 1;
                balance = balance.wrapping_add(edge_hash(n, at, r.node));
            }
            if !it.clean_end() {
                return Err(self.corrupt(S_EDGE_LISTS, format!("node {n}: damaged out list")));
            }
            let mut it = self.in_records(n);
            while let Some(r) = it.next() {
                reverse += 1;
                balance = balance.wrapping_sub(edge_hash(r.node, u64::from(it.offset()), n));
            }
            if !it.clean_end() {
                return Err(self.corrupt(S_EDGE_LISTS, format!("node {n}: damaged in list")));
            }
        }
        if reverse != edges || balance != 0 {
            return Err(self.corrupt(
                S_EDGE_LISTS,
                format!(
                    "the in records ({reverse}) do not name the out records ({edges}) one for one"
                ),
            ));
        }
        for i in 0..self.block_count() {
            let ok =
                self.block(i).is_some_and(|b| b.chain <= 2 && b.txs > 0 && b.reserved == [0; 3]);
            if !ok {
                return Err(self.corrupt(S_BLOCKS, format!("entry {i} is not a block")));
            }
        }
        if edges != self.header.edge_count {
            return Err(self.corrupt(
                S_EDGE_LISTS,
                format!("{edges} records, header says {}", self.header.edge_count),
            ));
        }
        self.verify_list_times()?;
        self.damage()
    }

    /// Checks section 11 (version 6): its index in `(node, side)` order with nodes of this
    /// segment (side 2, a column, only from version 7), each list's times inside the stream,
    /// and each list holding exactly one time per record of its side whose time is another
    /// node's; each column as [`Segment::verify_column`] says. That the UTXO legs' times are
    /// their transaction nodes' is checked by [`crate::Graph::verify`], which reads the other
    /// segments too.
    fn verify_list_times(&self) -> Result<(), GraphError> {
        let index = self.timed_index();
        if index.len() != self.header.timed_lists as usize {
            return Err(self.corrupt(S_LIST_TIMES, "index misaligned".into()));
        }
        let stream = self.time_stream().len() as u64;
        let mut prev: Option<&TimedList> = None;
        for e in index {
            let ordered =
                prev.is_none_or(|p| (p.node, p.side) < (e.node, e.side) && p.start <= e.start);
            if !ordered
                || e.side > if self.header.version >= 7 { SIDE_IN_COLUMN } else { 1 }
                || e.node >= self.header.node_count
                || e.start > stream
                || (prev.is_none() && e.start != 0)
            {
                return Err(self.corrupt(S_LIST_TIMES, format!("node {}: bad index entry", e.node)));
            }
            prev = Some(e);
        }
        for e in index {
            if e.side == SIDE_IN_COLUMN {
                self.verify_column(e.node)?;
                continue;
            }
            let incoming = e.side == 1;
            let mut times = self.list_times(e.node, incoming).ok_or_else(|| {
                self.corrupt(S_LIST_TIMES, format!("node {}: times out of range", e.node))
            })?;
            for _ in
                self.side_records(e.node, incoming).filter(|r| time_elsewhere(r.mode, incoming))
            {
                if times.next().is_none() {
                    return Err(
                        self.corrupt(S_LIST_TIMES, format!("node {}: too few times", e.node))
                    );
                }
            }
            if !times.clean_end() {
                return Err(self
                    .corrupt(S_LIST_TIMES, format!("node {}: times do not end its list", e.node)));
            }
        }
        Ok(())
    }

    /// Checks one node's in-record column (version 7): no list-time entry of its in side
    /// beside it, one entry per in record, each with the asset, wide flag and amount of the
    /// record's out record and, for a record whose time is in this segment (an explicit time
    /// or a store row's block), that time. The times of UTXO legs (their transaction nodes',
    /// maybe in another segment) are checked by [`crate::Graph::verify`].
    fn verify_column(&self, node: u32) -> Result<(), GraphError> {
        let bad =
            |detail: String| self.corrupt(S_LIST_TIMES, format!("column of node {node}: {detail}"));
        if self.list_times(node, true).is_some() {
            return Err(bad("its in side also has list times".into()));
        }
        let mut col = self.in_column(node).ok_or_else(|| bad("out of range".into()))?;
        for (i, r) in self.in_records(node).enumerate() {
            let c = col.next().ok_or_else(|| bad(format!("too few entries ({i})")))?;
            let time = match r.mode {
                MODE_EXPLICIT => Some(r.time),
                MODE_STORE => Some(self.block_u32(r.tx, BLOCK_TIME).unwrap_or(0)),
                _ => None,
            };
            if (c.asset, c.wide, c.amount) != (r.asset, r.wide, r.amount)
                || time.is_some_and(|t| t != c.time)
            {
                return Err(bad(format!(
                    "entry {i} says {c:?}, its record from node {} says {r:?}",
                    r.node
                )));
            }
        }
        if !col.clean_end() {
            return Err(bad("entries do not end with its in list".into()));
        }
        Ok(())
    }

    /// `node`'s in records (`incoming`) or its out records in this segment, for the checks
    /// that read either side alike.
    pub(crate) fn side_records(
        &self,
        node: u32,
        incoming: bool,
    ) -> Box<dyn Iterator<Item = Rec> + '_> {
        if incoming {
            Box::new(self.in_records(node))
        } else {
            Box::new(self.out_records(node))
        }
    }

    /// The list-time index (the start of section 11; empty before version 6).
    fn timed_index(&self) -> &[TimedList] {
        let n = self.header.timed_lists as usize * std::mem::size_of::<TimedList>();
        self.raw(S_LIST_TIMES)
            .get(..n)
            .and_then(|b| bytemuck::try_cast_slice(b).ok())
            .unwrap_or(&[])
    }

    /// The time stream of section 11, after the index.
    fn time_stream(&self) -> &[u8] {
        let n = self.header.timed_lists as usize * std::mem::size_of::<TimedList>();
        self.raw(S_LIST_TIMES).get(n..).unwrap_or(&[])
    }

    /// The nodes and sides (0 out records, 1 in records, [`SIDE_IN_COLUMN`] an in-record
    /// column) section 11 has an entry of.
    pub(crate) fn timed_lists(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.timed_index().iter().map(|e| (e.node, e.side))
    }

    /// The stored times of `node`'s records on one side (`incoming`: its in records) whose
    /// time is another node's ([`time_elsewhere`]), in record order, when this segment
    /// stores them (section 11): `None` for a list below [`LIST_TIMES_MIN`] such records,
    /// and before version 6.
    pub(crate) fn list_times(&self, node: u32, incoming: bool) -> Option<ListTimes<'_>> {
        self.stream(node, u32::from(incoming)).map(ListTimes)
    }

    /// What section 11 stores of `node`'s in side in this segment, found with one search:
    /// its list times or (version 7) its column, or neither.
    pub(crate) fn in_stored(&self, node: u32) -> Option<InStored<'_>> {
        let index = self.timed_index();
        let i = index.partition_point(|e| (e.node, e.side) < (node, 1));
        let side = index.get(i).filter(|e| e.node == node)?.side;
        match side {
            1 => self.list_times(node, true).map(InStored::Times),
            SIDE_IN_COLUMN => self.in_column(node).map(InStored::Column),
            _ => None,
        }
    }

    /// `node`'s in-record column in this segment (section 11, version 7): `None` for a
    /// node of fewer than [`COLUMN_MIN`] in records, and before version 7.
    pub(crate) fn in_column(&self, node: u32) -> Option<Column<'_>> {
        self.stream(node, SIDE_IN_COLUMN).map(Column)
    }

    /// A cursor over the bytes of `node`'s section-11 entry for `side`, its first time
    /// coded from `key_time_base`; `None` when the segment has no such entry.
    fn stream(&self, node: u32, side: u32) -> Option<Stream<'_>> {
        let buf = self.timed_entry(node, side)?;
        Some(Stream {
            seg: self,
            buf,
            pos: 0,
            prev: i64::from(self.header.key_time_base),
            node,
            bad: false,
        })
    }

    /// The bytes of section 11's entry `(node, side)`, when there is one (damage noted when
    /// it lies outside the stream).
    fn timed_entry(&self, node: u32, side: u32) -> Option<&[u8]> {
        let index = self.timed_index();
        if index.is_empty() {
            return None;
        }
        let i = index.partition_point(|e| (e.node, e.side) < (node, side));
        let e = index.get(i).filter(|e| e.node == node && e.side == side)?;
        let stream = self.time_stream();
        let end = index.get(i + 1).map_or(stream.len() as u64, |next| next.start);
        let buf = usize::try_from(e.start)
            .ok()
            .zip(usize::try_from(end).ok())
            .and_then(|(a, b)| stream.get(a..b));
        if buf.is_none() {
            self.note_damage(S_LIST_TIMES, format!("node {node}: times out of range"));
        }
        buf
    }

    /// The sources of `node`'s in records in this segment, in record order, without reading
    /// their out records (version 4 and later; what a reader of its column pairs them with).
    pub(crate) fn in_sources(&self, node: u32) -> InSources<'_> {
        InSources { seg: self, buf: self.lists(node).1, pos: 0, prev: node, node, bad: false }
    }

    fn u32s(&self, s: usize) -> &[u32] {
        // Sizes were checked on open; an odd length cannot reach here.
        bytemuck::try_cast_slice(self.raw(s)).unwrap_or(&[])
    }

    /// The stored key of local node `local` and, for a transaction key, its time (`None`
    /// when the key index or bytes are damaged): found by reading the keys before it from
    /// the key index's entry, whose transaction keys code their times one from another
    /// (version 5).
    fn stored_key(&self, local: usize) -> Option<(&[u8], u32)> {
        let bytes = self.raw(S_KEY_BYTES);
        let v = self.header.version;
        let mut prev = self.header.key_time_base;
        let found = self.u32s(S_KEY_INDEX).get(local / KEY_STRIDE).and_then(|&start| {
            let mut at = start as usize;
            for _ in 0..local % KEY_STRIDE {
                at += keys::read_stored(bytes.get(at..)?, v, &mut prev)?.0;
            }
            let rest = bytes.get(at..)?;
            let (len, time) = keys::read_stored(rest, v, &mut prev)?;
            Some((&rest[..len], time))
        });
        if found.is_none() {
            self.note_damage(S_KEY_INDEX, format!("key {local} does not decode"));
        }
        found
    }

    /// The time of each key of run `run` (local nodes from `run * KEY_STRIDE`), as
    /// [`Segment::stored_key`] reads them one at a time: `f(local, time)` for each, in order,
    /// in one walk over the run (stops at a key that does not decode; `stored_key` notes the
    /// damage when that key is read).
    pub(crate) fn run_times(&self, run: usize, mut f: impl FnMut(usize, u32)) {
        let bytes = self.raw(S_KEY_BYTES);
        let v = self.header.version;
        let mut prev = self.header.key_time_base;
        let Some(&start) = self.u32s(S_KEY_INDEX).get(run) else { return };
        let new = self.header.node_count.saturating_sub(self.header.base_node) as usize;
        let mut at = start as usize;
        for local in run * KEY_STRIDE..((run + 1) * KEY_STRIDE).min(new) {
            let Some((len, time)) =
                bytes.get(at..).and_then(|b| keys::read_stored(b, v, &mut prev))
            else {
                return;
            };
            f(local, time);
            at += len;
        }
    }

    /// Encoded key of local node `local`, as [`keys::encode`] makes it (`None` when the key
    /// index or bytes are damaged).
    pub(crate) fn key_bytes(&self, local: usize) -> Option<Cow<'_, [u8]>> {
        let (k, time) = self.stored_key(local)?;
        Some(keys::unstored(k, time, self.header.version))
    }

    /// The identity of local node `local`'s key ([`keys::identity`]), read in place.
    pub(crate) fn key_identity(&self, local: usize) -> Option<&[u8]> {
        let (k, _) = self.stored_key(local)?;
        Some(keys::stored_identity(k, self.header.version))
    }

    /// Chain byte, txid and time of local node `local` when it is a transaction node, read
    /// in place.
    pub(crate) fn tx_parts(&self, local: usize) -> Option<(u8, &[u8], u32)> {
        let (k, time) = self.stored_key(local)?;
        keys::stored_tx_parts(k, time, self.header.version)
    }

    /// Whether local node `local` is a transaction node.
    #[inline]
    pub(crate) fn is_tx_local(&self, local: usize) -> bool {
        let b = self.raw(S_TX_BITS);
        let i = (local / 64) * 8;
        b.get(i..i + 8)
            .and_then(|w| w.try_into().ok())
            .is_some_and(|w: [u8; 8]| u64::from_le_bytes(w) >> (local % 64) & 1 == 1)
    }

    /// Entry `j` of the sorted-key section: a `u32` before version 4, [`sorted_width`] bits
    /// from version 4 (sizes were checked on open; out of range reads as 0).
    fn sorted_at(&self, j: usize) -> u32 {
        if self.header.version < 4 {
            return self.u32s(S_KEY_SORTED).get(j).copied().unwrap_or(0);
        }
        let new = (self.header.node_count - self.header.base_node) as usize;
        let w = sorted_width(new);
        let bit = j * w as usize;
        let bytes = self.raw(S_KEY_SORTED).get(bit / 8..).unwrap_or(&[]);
        let mut v = 0u64;
        for (k, &b) in bytes.iter().take(5).enumerate() {
            v |= u64::from(b) << (8 * k);
        }
        ((v >> (bit % 8)) & ((1u64 << w) - 1)) as u32
    }

    /// Binary search of the sorted-key section for an encoded key (in this build's key
    /// forms; a segment before version 4 holds some keys in their older, longer form).
    pub(crate) fn lookup(&self, encoded: &[u8]) -> Option<u32> {
        let legacy;
        let encoded = if self.header.version < 4 {
            legacy = keys::legacy(encoded);
            &legacy[..]
        } else {
            encoded
        };
        let want = keys::identity(encoded);
        let new = (self.header.node_count - self.header.base_node) as usize;
        let (mut lo, mut hi) = (0usize, new);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let i = self.sorted_at(mid);
            let k = self.key_identity(i as usize)?;
            match k.cmp(want) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(self.header.base_node + i),
            }
        }
        None
    }

    /// Node `node`'s block in section 5 (after its length prefix, in version 3).
    fn node_block(&self, node: u32) -> Option<&[u8]> {
        let o = self.u32s(S_NODE_OFFSETS);
        let sec = self.raw(S_EDGE_LISTS);
        if self.header.version == 2 {
            let (a, b) = (*o.get(node as usize)?, *o.get(node as usize + 1)?);
            return sec.get(a as usize..b as usize);
        }
        // Version 3: the index gives every 16th node's block; each block starts with its
        // length, so the others are found by skipping at most 15 (unless their starts were
        // made already).
        let mut p = match self.starts.get().and_then(|s| s.get(node as usize)) {
            Some(&p) => p as usize,
            None => self.run_skip(node)?,
        };
        let len = usize::try_from(get_varint(sec, &mut p)?).ok()?;
        sec.get(p..p.checked_add(len)?)
    }

    /// Where `node`'s block starts (its length prefix) in section 5 from version 3, found
    /// from its run's index entry by skipping the blocks before it.
    fn run_skip(&self, node: u32) -> Option<usize> {
        let (o, sec) = (self.u32s(S_NODE_OFFSETS), self.raw(S_EDGE_LISTS));
        let mut p = *o.get(node as usize / NODE_STRIDE)? as usize;
        for _ in 0..node as usize % NODE_STRIDE {
            let len = usize::try_from(get_varint(sec, &mut p)?).ok()?;
            p = p.checked_add(len)?;
        }
        Some(p)
    }

    /// `node`'s out records and in records in this segment.
    fn lists(&self, node: u32) -> (&[u8], &[u8]) {
        let block = self.node_block(node);
        let split = block.and_then(|b| {
            let mut p = 0;
            let out = usize::try_from(get_varint(b, &mut p)?).ok()?;
            let end = p.checked_add(out)?;
            Some((b.get(p..end)?, b.get(end..)?))
        });
        match split {
            Some(lists) => lists,
            None => {
                if block.is_none_or(|b| !b.is_empty()) {
                    self.note_damage(
                        S_NODE_OFFSETS,
                        format!("node {node}: edge lists out of range"),
                    );
                }
                (&[], &[])
            }
        }
    }

    /// The out-list of `node` in this segment.
    pub(crate) fn out_records(&self, node: u32) -> OutIter<'_> {
        OutIter { seg: self, buf: self.lists(node).0, pos: 0, src: node, from: node, bad: false }
    }

    /// The in-list of `node`: each record as its source wrote it, with `node` = the source.
    pub(crate) fn in_records(&self, node: u32) -> InIter<'_> {
        InIter {
            seg: self,
            buf: self.lists(node).1,
            pos: 0,
            dst: node,
            prev: node,
            at: 0,
            bad: false,
            batch: Vec::new(),
            next: 0,
        }
    }

    /// As [`Segment::in_records`], each record read alone (never in a batch), with its
    /// offset: what a batch must read the same.
    #[cfg(test)]
    pub(crate) fn in_records_alone(&self, node: u32) -> Vec<(Rec, u32)> {
        let mut it = self.in_records(node);
        let mut v = Vec::new();
        while let Some(r) = it.next_alone() {
            v.push((r, it.offset()));
        }
        assert!(it.clean_end(), "node {node}: a damaged in list");
        v
    }

    /// This segment without its block starts (blocks then found run by run, as on a
    /// segment where they cannot be made).
    #[cfg(test)]
    pub(crate) fn without_block_starts(mut self) -> Segment {
        self.starts = OnceLock::from(Vec::new());
        self
    }

    /// Whether the blocks' starts can be made, and each equals where the blocks before it in
    /// its run say it is.
    #[cfg(test)]
    pub(crate) fn block_starts_agree(&self) -> bool {
        let starts = self.starts();
        !starts.is_empty()
            && (0..self.header.node_count)
                .all(|n| self.run_skip(n) == Some(starts[n as usize] as usize))
    }

    fn check_rec(&self, r: &Rec) -> bool {
        let h = &self.header;
        r.node < h.node_count
            && u32::from(r.asset) < h.asset_count
            && (!r.wide || r.amount < u64::from(h.wide_count))
            && (r.mode != MODE_EXPLICIT || r.tx < h.tx_count)
            && (r.mode != MODE_STORE || self.block_u32(r.tx, BLOCK_TXS).is_some_and(|t| r.ord < t))
    }

    /// One `u32` field of entry `i` of the block table ([`BLOCK_TIME`], [`BLOCK_TXS`]):
    /// what a record's read needs, without copying the whole entry (each account transfer
    /// read asks for its block's time, and its check for its count).
    #[inline]
    pub(crate) fn block_u32(&self, i: u32, field: usize) -> Option<u32> {
        let at = (i as usize).checked_mul(std::mem::size_of::<BlockEntry>())? + field;
        let b = self.raw(S_BLOCKS).get(at..at + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Entry `i` of the block table.
    pub(crate) fn block(&self, i: u32) -> Option<BlockEntry> {
        let b = self.raw(S_BLOCKS);
        let at = i as usize * std::mem::size_of::<BlockEntry>();
        b.get(at..at + std::mem::size_of::<BlockEntry>()).map(bytemuck::pod_read_unaligned)
    }

    /// Number of entries of the block table.
    pub(crate) fn block_count(&self) -> u32 {
        self.header.block_count
    }

    pub(crate) fn txid(&self, tx: u32) -> [u8; 32] {
        let b = self.raw(S_TXIDS);
        let i = tx as usize * 32;
        b.get(i..i + 32).and_then(|s| s.try_into().ok()).unwrap_or([0; 32])
    }
    pub(crate) fn tx_chain(&self, tx: u32) -> u8 {
        self.raw(S_TX_CHAINS).get(tx as usize).copied().unwrap_or(0)
    }
    pub(crate) fn wide(&self, i: u64) -> [u8; 32] {
        let b = self.raw(S_WIDE_AMOUNTS);
        let i = i as usize * 32;
        b.get(i..i + 32).and_then(|s| s.try_into().ok()).unwrap_or([0; 32])
    }
    /// Each section's name and length in bytes.
    pub(crate) fn section_sizes(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        SECTION_NAMES.iter().zip(&self.header.sections).map(|(n, s)| (*n, s.len))
    }
    /// Bytes of the file.
    pub(crate) fn file_len(&self) -> u64 {
        self.map.len() as u64
    }
}

/// Decodes an out-list.
pub(crate) struct OutIter<'s> {
    seg: &'s Segment,
    buf: &'s [u8],
    pos: usize,
    src: u32,
    /// What the next record's target is coded from: `src`, and from version 5 the
    /// previous record's target.
    from: u32,
    bad: bool,
}

impl OutIter<'_> {
    /// Whether the list was read to its end without damage.
    pub(crate) fn clean_end(&self) -> bool {
        !self.bad && self.pos == self.buf.len()
    }

    /// Byte offset of the next record in the list (what an in record's offset names).
    pub(crate) fn offset(&self) -> usize {
        self.pos
    }

    /// Bytes of the list's records (at least one per record).
    pub(crate) fn list_bytes(&self) -> usize {
        self.buf.len()
    }

    /// At least the number of records the list holds: every record is two varints or more
    /// (a head and an amount), each ending in a byte below 0x80.
    pub(crate) fn records_at_most(&self) -> usize {
        varint_count(self.buf).div_ceil(2)
    }
}

/// The varints `buf` holds (its bytes that end one).
fn varint_count(buf: &[u8]) -> usize {
    buf.iter().filter(|&&b| b < 0x80).count()
}

impl Iterator for OutIter<'_> {
    type Item = Rec;
    #[inline]
    fn next(&mut self) -> Option<Rec> {
        if self.pos >= self.buf.len() || self.bad {
            return None;
        }
        let h = &self.seg.header;
        match get_record(self.buf, &mut self.pos, Target::From(self.from), h.time_base, h.version) {
            Some(r) if self.seg.check_rec(&r) => {
                if h.version >= 5 {
                    self.from = r.node;
                }
                Some(r)
            }
            _ => {
                self.bad = true;
                self.seg.note_damage(S_EDGE_LISTS, format!("node {}: bad record", self.src));
                None
            }
        }
    }
}

/// Decodes an in-list through the sources' out-lists.
pub(crate) struct InIter<'s> {
    seg: &'s Segment,
    buf: &'s [u8],
    pos: usize,
    dst: u32,
    /// What the next record's source is coded from: `dst`, and from version 4 the previous
    /// record's source.
    prev: u32,
    /// The last record's offset into its source's out records.
    at: u32,
    bad: bool,
    /// Records resolved ahead ([`InIter::fill`]), each with its offset in its source's out
    /// records and where it ends in `buf`; `batch[next..]` are not returned yet. Empty (never
    /// allocated) for a short list.
    batch: Vec<(Rec, u32, usize)>,
    next: usize,
}

impl InIter<'_> {
    /// Whether the list was read to its end without damage.
    pub(crate) fn clean_end(&self) -> bool {
        !self.bad && self.pos == self.buf.len()
    }

    /// The byte offset, inside its source's out records, of the last record returned.
    pub(crate) fn offset(&self) -> u32 {
        self.at
    }

    /// Bytes of the list's records (at least one per record).
    pub(crate) fn list_bytes(&self) -> usize {
        self.buf.len()
    }

    /// At least the number of records the list holds: every record is one varint or more.
    pub(crate) fn records_at_most(&self) -> usize {
        varint_count(self.buf)
    }

    fn fail(&mut self) -> Option<Rec> {
        self.bad = true;
        self.seg.note_damage(S_EDGE_LISTS, format!("node {}: bad reverse entry", self.dst));
        None
    }
}

impl Iterator for InIter<'_> {
    type Item = Rec;
    #[inline]
    fn next(&mut self) -> Option<Rec> {
        if self.pos >= self.buf.len() || self.bad {
            return None;
        }
        if self.seg.header.version >= 4 && self.buf.len() >= BATCH_MIN {
            if self.next == self.batch.len() {
                self.fill();
            }
            if let Some(&(r, at, end)) = self.batch.get(self.next) {
                self.next += 1;
                self.at = at;
                self.pos = end;
                self.prev = r.node;
                return Some(r);
            }
            // The next record did not resolve in a batch: read alone, it reports the damage.
        }
        self.next_alone()
    }
}

impl InIter<'_> {
    /// The next record, read alone: its source's block found by skipping the blocks before
    /// it in its run, then its out record decoded.
    #[inline]
    fn next_alone(&mut self) -> Option<Rec> {
        if self.pos >= self.buf.len() || self.bad {
            return None;
        }
        let Some(mut d) = get_varint(self.buf, &mut self.pos) else { return self.fail() };
        let at = if self.seg.header.version < 4 {
            get_varint(self.buf, &mut self.pos)
        } else {
            let has_at = d & 1 == 1;
            d >>= 1;
            if has_at {
                get_varint(self.buf, &mut self.pos)
            } else {
                Some(0)
            }
        };
        let Some(at) = at else { return self.fail() };
        let src = i64::from(self.prev) + unzigzag(d);
        let Ok(src) = u32::try_from(src) else { return self.fail() };
        if self.seg.header.version >= 4 {
            self.prev = src;
        }
        if src >= self.seg.header.node_count {
            return self.fail();
        }
        let Ok(at) = u32::try_from(at) else { return self.fail() };
        self.at = at;
        let list = self.seg.lists(src).0;
        let mut p = at as usize;
        let h = &self.seg.header;
        // From version 5 the out record's target is coded from the record before it, which
        // is not read here: the target is this list's node (`verify` checks that the in
        // records and the out records name the same edges).
        let target = if h.version >= 5 { Target::Known(self.dst) } else { Target::From(src) };
        match get_record(list, &mut p, target, h.time_base, h.version) {
            Some(r) if r.node == self.dst && self.seg.check_rec(&r) => Some(Rec { node: src, ..r }),
            _ => self.fail(),
        }
    }
}

/// Records of a long in list resolved together ([`InIter::fill`]).
const BATCH: usize = 32;
/// In lists of fewer bytes are read record by record.
const BATCH_MIN: usize = 512;

impl InIter<'_> {
    /// Finds the blocks of `src` (sources in one segment) run by run into `p`: each one's
    /// index entry, then the blocks before it in its run skipped, one block of every source
    /// per round (so that the loads of different sources are independent). Returns how many
    /// sources from the first were found (all unless one's run does not decode).
    fn skip_runs(o: &[u32], sec: &[u8], src: &[u32], p: &mut [usize; BATCH]) -> usize {
        let mut n = src.len();
        for i in 0..n {
            match o.get(src[i] as usize / NODE_STRIDE) {
                Some(&q) => p[i] = q as usize,
                None => {
                    n = i;
                    break;
                }
            }
        }
        for step in 0..NODE_STRIDE - 1 {
            let mut more = false;
            for i in 0..n {
                if (src[i] as usize % NODE_STRIDE) > step {
                    let len = get_varint(sec, &mut p[i]).and_then(|l| usize::try_from(l).ok());
                    match len.and_then(|l| p[i].checked_add(l)) {
                        Some(q) => p[i] = q,
                        None => {
                            n = i;
                            break;
                        }
                    }
                    more = true;
                }
            }
            if !more {
                break;
            }
        }
        n
    }

    /// Resolves the next [`BATCH`] records (version 4 and later) together, into `batch`:
    /// reading them one by one waits for each source's index entry and then for each block
    /// skipped in its run in turn (two or three cache misses per record, one after another);
    /// here each step is taken for every record of the batch before the next step, so the
    /// loads of different records are independent and the processor overlaps them. The
    /// batch ends before the first record that does not resolve: [`InIter::next_alone`]
    /// then reads that one and reports what is wrong, as it would have without the batch.
    fn fill(&mut self) {
        let seg = self.seg;
        let h = &seg.header;
        let (o, sec) = (seg.u32s(S_NODE_OFFSETS), seg.raw(S_EDGE_LISTS));
        let mut src = [0u32; BATCH];
        let mut at = [0u32; BATCH];
        let mut end = [0usize; BATCH];
        let mut p = [0usize; BATCH];
        // The in records: sources and offsets (one sequential read of the list).
        let (mut pos, mut prev, mut n) = (self.pos, self.prev, 0);
        while n < BATCH && pos < self.buf.len() {
            let Some(d) = get_varint(self.buf, &mut pos) else { break };
            let a = if d & 1 == 1 { get_varint(self.buf, &mut pos) } else { Some(0) };
            let Some(Ok(a)) = a.map(u32::try_from) else { break };
            let Ok(s) = u32::try_from(i64::from(prev) + unzigzag(d >> 1)) else { break };
            if s >= h.node_count {
                break;
            }
            (src[n], at[n], end[n]) = (s, a, pos);
            prev = s;
            n += 1;
        }
        let starts = seg.starts();
        if !starts.is_empty() {
            // Each source's block start, from the table.
            for i in 0..n {
                match starts.get(src[i] as usize) {
                    Some(&q) => p[i] = q as usize,
                    None => {
                        n = i;
                        break;
                    }
                }
            }
        } else {
            n = Self::skip_runs(o, sec, &src[..n], &mut p);
        }
        // Loads of each source's block start and of about where its out record lies (two
        // bytes of lengths before the list, and the record's offset into it), all issued
        // before any is used: reading the blocks in turn waits on the branches of each
        // length's decoding before the next record's loads are issued.
        let mut x = 0u8;
        for i in 0..n {
            x ^= sec.get(p[i]).copied().unwrap_or(0);
            x ^= sec.get(p[i] + 2 + at[i] as usize).copied().unwrap_or(0);
        }
        std::hint::black_box(x);
        // Each source's block: where its out record lies.
        let mut lim = [0usize; BATCH];
        for i in 0..n {
            let found = (|| {
                let mut q = p[i];
                let len = usize::try_from(get_varint(sec, &mut q)?).ok()?;
                let block_end = q.checked_add(len)?;
                let out = usize::try_from(get_varint(sec.get(..block_end)?, &mut q)?).ok()?;
                let out_end = q.checked_add(out)?;
                (out_end <= block_end).then_some((q, out_end))
            })();
            match found {
                Some((q, e)) => (p[i], lim[i]) = (q, e),
                None => {
                    n = i;
                    break;
                }
            }
        }
        // The out records.
        self.batch.clear();
        self.next = 0;
        for i in 0..n {
            let Some(list) = sec.get(p[i]..lim[i]) else { break };
            let mut q = at[i] as usize;
            let target =
                if h.version >= 5 { Target::Known(self.dst) } else { Target::From(src[i]) };
            match get_record(list, &mut q, target, h.time_base, h.version) {
                Some(r) if r.node == self.dst && seg.check_rec(&r) => {
                    self.batch.push((Rec { node: src[i], ..r }, at[i], end[i]));
                }
                _ => break,
            }
        }
    }
}

/// What section 11 stores of a node's in side ([`Segment::in_stored`]).
pub(crate) enum InStored<'s> {
    /// The times of its UTXO legs.
    Times(ListTimes<'s>),
    /// Its in-record column (version 7).
    Column(Column<'s>),
}

/// One entry of an in-record column: what the record's out record holds, and its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ColumnEntry {
    pub(crate) asset: u16,
    pub(crate) wide: bool,
    /// Base units, or with `wide` an index into the wide-amount table.
    pub(crate) amount: u64,
    /// Unix seconds, 0 unknown.
    pub(crate) time: u32,
}

/// Decodes one node's in-record column (section 11, version 7).
pub(crate) struct Column<'s>(Stream<'s>);

/// A cursor over one section-11 entry (a list's times or a column): the time before the
/// next one, and whether a bad entry was met (noted as damage once).
struct Stream<'s> {
    seg: &'s Segment,
    buf: &'s [u8],
    pos: usize,
    prev: i64,
    node: u32,
    bad: bool,
}

impl Stream<'_> {
    /// Whether the entry was read to its end without damage.
    fn clean_end(&self) -> bool {
        !self.bad && self.pos == self.buf.len()
    }
}

impl Column<'_> {
    /// Whether the column was read to its end without damage.
    pub(crate) fn clean_end(&self) -> bool {
        self.0.clean_end()
    }

    fn decode(&mut self) -> Option<ColumnEntry> {
        let c = &mut self.0;
        let h = get_varint(c.buf, &mut c.pos)?;
        let ext = if h & 1 != 0 { get_varint(c.buf, &mut c.pos)? } else { 0 };
        let asset = u16::try_from(ext >> 1).ok()?;
        let amount = get_varint(c.buf, &mut c.pos)?;
        let t = c.prev.checked_add(unzigzag(h >> 1))?;
        let time = u32::try_from(t).ok()?;
        if ext & 1 != 0 && amount >= u64::from(c.seg.header.wide_count) {
            return None;
        }
        c.prev = t;
        Some(ColumnEntry { asset, wide: ext & 1 != 0, amount, time })
    }
}

impl Iterator for Column<'_> {
    type Item = ColumnEntry;
    #[inline]
    fn next(&mut self) -> Option<ColumnEntry> {
        if self.0.bad || self.0.pos >= self.0.buf.len() {
            return None;
        }
        let e = self.decode();
        if e.is_none() {
            let c = &mut self.0;
            c.bad = true;
            c.seg.note_damage(S_LIST_TIMES, format!("column of node {}: bad entry", c.node));
        }
        e
    }
}

/// The sources of a node's in records, decoded without reading their out records.
pub(crate) struct InSources<'s> {
    seg: &'s Segment,
    buf: &'s [u8],
    pos: usize,
    prev: u32,
    node: u32,
    bad: bool,
}

impl InSources<'_> {
    /// Bytes of the list's records.
    pub(crate) fn list_bytes(&self) -> usize {
        self.buf.len()
    }

    fn decode(&mut self) -> Option<u32> {
        let d = get_varint(self.buf, &mut self.pos)?;
        if d & 1 == 1 {
            get_varint(self.buf, &mut self.pos)?;
        }
        let src = u32::try_from(i64::from(self.prev) + unzigzag(d >> 1)).ok()?;
        (src < self.seg.header.node_count).then_some(src)
    }
}

impl Iterator for InSources<'_> {
    type Item = u32;
    #[inline]
    fn next(&mut self) -> Option<u32> {
        if self.bad || self.pos >= self.buf.len() {
            return None;
        }
        match self.decode() {
            Some(src) => {
                self.prev = src;
                Some(src)
            }
            None => {
                self.bad = true;
                self.seg
                    .note_damage(S_EDGE_LISTS, format!("node {}: bad reverse entry", self.node));
                None
            }
        }
    }
}

/// Decodes one list's stored times (section 11).
pub(crate) struct ListTimes<'s>(Stream<'s>);

impl ListTimes<'_> {
    /// Whether the times were read to their end without damage.
    pub(crate) fn clean_end(&self) -> bool {
        self.0.clean_end()
    }
}

impl Iterator for ListTimes<'_> {
    type Item = u32;
    #[inline]
    fn next(&mut self) -> Option<u32> {
        let c = &mut self.0;
        if c.bad {
            return None;
        }
        let t = get_varint(c.buf, &mut c.pos)
            .and_then(|v| c.prev.checked_add(unzigzag(v)))
            .and_then(|t| u32::try_from(t).ok());
        match t {
            Some(t) => {
                c.prev = i64::from(t);
                Some(t)
            }
            None => {
                c.bad = true;
                c.seg.note_damage(S_LIST_TIMES, format!("node {}: bad time", c.node));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every length of varint reads back as written, one after another in one buffer (the
    /// one-byte path and the longer one each leave the position after their own bytes), and
    /// what is not a varint of at most 64 bits is refused: a truncated one, eleven bytes,
    /// and a tenth byte holding more than the 64th bit.
    #[test]
    fn varints_of_every_length_read_back_and_bad_ones_are_refused() {
        let mut values: Vec<u64> = vec![0, 1, 0x7f, 0x80, 0x3fff, 0x4000, u64::MAX - 1, u64::MAX];
        values.extend((0..64).map(|b| 1u64 << b));
        values.extend((1..64).map(|b| (1u64 << b) - 1));
        let mut buf = Vec::new();
        for &v in &values {
            put_varint(&mut buf, v);
        }
        let mut pos = 0;
        for &v in &values {
            let at = pos;
            assert_eq!(get_varint(&buf, &mut pos), Some(v), "value {v}");
            assert_eq!(pos - at, varint_len(v), "value {v}");
        }
        assert_eq!(pos, buf.len());
        assert_eq!(get_varint(&buf, &mut pos), None, "past the end");
        for bad in [
            &[0x80u8][..],
            &[0xff, 0xff],
            &[0xff; 11],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
        ] {
            assert_eq!(get_varint(bad, &mut 0), None, "{bad:x?}");
        }
        let mut pos = 0;
        assert_eq!(
            get_varint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], &mut pos),
            Some(u64::MAX)
        );
        assert_eq!(pos, 10);
    }

    /// A version-2 header reads as version 6 through version 3: its ten sections as they
    /// were, then an empty block table and an empty list-time section, each at the next
    /// multiple of 8 after the one before; its counts, bases and checksum as they were.
    #[test]
    fn a_version_2_header_reads_as_version_6_with_two_empty_sections() {
        let mut v2 = HeaderV2::zeroed();
        v2.magic = MAGIC;
        v2.version = 2;
        v2.section_count = 10;
        (v2.base_node, v2.node_count, v2.edge_count) = (3, 40, 77);
        (v2.tx_count, v2.wide_count, v2.asset_count, v2.time_base) = (5, 1, 2, 1_600_000_000);
        let mut at = HEADER_V2_LEN as u64;
        for (i, s) in v2.sections.iter_mut().enumerate() {
            *s = SectionEntry { offset: at, len: 3 + i as u64, sha256: [i as u8; 32] };
            at = (at + s.len).div_ceil(8) * 8;
        }
        v2.sections[9].len = 13;
        v2.header_sha256 = [9; 32];
        let h = v2.upgrade().upgrade();
        assert_eq!((h.magic, h.version, h.section_count), (MAGIC, 2, SECTIONS as u32));
        assert_eq!((h.base_node, h.node_count, h.edge_count), (3, 40, 77));
        assert_eq!((h.tx_count, h.wide_count, h.asset_count), (5, 1, 2));
        assert_eq!(
            (h.time_base, h.block_count, h.key_time_base, h.timed_lists),
            (1_600_000_000, 0, 0, 0)
        );
        let parts = |s: &SectionEntry| (s.offset, s.len, s.sha256);
        assert!(h.sections[..10].iter().map(parts).eq(v2.sections.iter().map(parts)));
        let end = v2.sections[9].offset + 13;
        let empty: [u8; 32] = Sha256::digest([]).into();
        assert_eq!(parts(&h.sections[S_BLOCKS]), (end.div_ceil(8) * 8, 0, empty));
        assert_eq!(parts(&h.sections[S_LIST_TIMES]), parts(&h.sections[S_BLOCKS]));
        assert_eq!(h.header_sha256, [9; 32]);
    }
}
