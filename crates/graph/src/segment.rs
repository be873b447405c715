//! One immutable graph segment file: its byte layout, writer and validating reader.
//! The byte-by-byte description is `docs/formats/graph.md`; keep the two in step.

use std::fs::File;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};

use bytemuck::{Pod, Zeroable};
use memmap2::Mmap;
use sha2::{Digest, Sha256};

use crate::GraphError;

#[cfg(target_endian = "big")]
compile_error!(
    "graph segments are little-endian and mapped in place; big-endian targets are not supported"
);

/// File magic: the first eight bytes of every segment.
pub(crate) const MAGIC: [u8; 8] = *b"FGGRAPH\0";
/// Segment format version this build writes and reads.
pub(crate) const VERSION: u32 = 1;
/// Number of sections in a version-1 segment.
pub(crate) const SECTIONS: usize = 12;

pub(crate) const S_KEY_OFFSETS: usize = 0;
pub(crate) const S_KEY_BYTES: usize = 1;
pub(crate) const S_KEY_SORTED: usize = 2;
pub(crate) const S_NODE_KINDS: usize = 3;
pub(crate) const S_OUT_OFFSETS: usize = 4;
pub(crate) const S_OUT_EDGES: usize = 5;
pub(crate) const S_IN_OFFSETS: usize = 6;
pub(crate) const S_IN_EDGES: usize = 7;
pub(crate) const S_TXIDS: usize = 8;
pub(crate) const S_TX_CHAINS: usize = 9;
pub(crate) const S_ASSETS: usize = 10;
pub(crate) const S_WIDE_AMOUNTS: usize = 11;

const SECTION_NAMES: [&str; SECTIONS] = [
    "key offsets",
    "key bytes",
    "sorted keys",
    "node kinds",
    "out offsets",
    "out edges",
    "in offsets",
    "in edges",
    "txids",
    "tx chains",
    "assets",
    "wide amounts",
];

/// Edge flag: `amount` is an index into the wide-amount section, not the value.
pub(crate) const FLAG_WIDE: u16 = 1;

/// Where a section lies in the file and what it hashes to.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub(crate) struct SectionEntry {
    pub(crate) offset: u64,
    pub(crate) len: u64,
    pub(crate) sha256: [u8; 32],
}

/// The fixed 672-byte header.
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
    pub(crate) reserved: [u8; 20],
    pub(crate) sections: [SectionEntry; SECTIONS],
    pub(crate) header_sha256: [u8; 32],
}

pub(crate) const HEADER_LEN: usize = std::mem::size_of::<Header>();
const _: () = assert!(HEADER_LEN == 672);
const HASHED_HEADER_LEN: usize = HEADER_LEN - 32;

/// One edge record, 24 bytes. The source is implied by the CSR position.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub(crate) struct EdgeRecord {
    /// Target node (global id).
    pub(crate) dst: u32,
    /// Index into this segment's txid table.
    pub(crate) tx: u32,
    /// Unix seconds; 0 = unknown.
    pub(crate) time: u32,
    /// Index into this segment's asset table.
    pub(crate) asset: u16,
    /// [`FLAG_WIDE`].
    pub(crate) flags: u16,
    /// Base units, or with [`FLAG_WIDE`] an index into the wide-amount table.
    pub(crate) amount: u64,
}
const _: () = assert!(std::mem::size_of::<EdgeRecord>() == 24);

/// Everything a segment holds, in memory, ready to be written.
#[derive(Debug, Default)]
pub(crate) struct SegmentData {
    pub(crate) base_node: u32,
    pub(crate) node_count: u32,
    pub(crate) keys: Vec<String>,
    pub(crate) kinds: Vec<u8>,
    pub(crate) out_offsets: Vec<u64>,
    pub(crate) out_edges: Vec<EdgeRecord>,
    pub(crate) in_offsets: Vec<u64>,
    /// `[source, out-edge index]` per in-edge.
    pub(crate) in_edges: Vec<[u32; 2]>,
    pub(crate) txids: Vec<[u8; 32]>,
    pub(crate) tx_chains: Vec<u8>,
    pub(crate) assets: Vec<String>,
    pub(crate) wide: Vec<[u8; 32]>,
}

fn pad8(buf: &mut Vec<u8>) {
    while buf.len() % 8 != 0 {
        buf.push(0);
    }
}

/// Writes `data` to `path` (through a temporary file, synced, then renamed, so a crash
/// leaves either no file or a whole one). Returns the header's checksum.
pub(crate) fn write(path: &Path, data: &SegmentData) -> Result<[u8; 32], GraphError> {
    let io = |source| GraphError::Io { path: path.to_owned(), source };
    let mut key_offsets = Vec::with_capacity(data.keys.len() + 1);
    let mut key_bytes = Vec::new();
    key_offsets.push(0u64);
    for k in &data.keys {
        key_bytes.extend_from_slice(k.as_bytes());
        key_offsets.push(key_bytes.len() as u64);
    }
    let mut sorted: Vec<u32> = (0..data.keys.len() as u32).collect();
    sorted.sort_unstable_by(|&a, &b| data.keys[a as usize].cmp(&data.keys[b as usize]));
    let assets = data.assets.join("\n");

    let sections: [&[u8]; SECTIONS] = [
        bytemuck::cast_slice(&key_offsets),
        &key_bytes,
        bytemuck::cast_slice(&sorted),
        &data.kinds,
        bytemuck::cast_slice(&data.out_offsets),
        bytemuck::cast_slice(&data.out_edges),
        bytemuck::cast_slice(&data.in_offsets),
        bytemuck::cast_slice(&data.in_edges),
        bytemuck::cast_slice(&data.txids),
        &data.tx_chains,
        assets.as_bytes(),
        bytemuck::cast_slice(&data.wide),
    ];
    let mut header = Header::zeroed();
    header.magic = MAGIC;
    header.version = VERSION;
    header.section_count = SECTIONS as u32;
    header.base_node = data.base_node;
    header.node_count = data.node_count;
    header.edge_count = data.out_edges.len() as u64;
    header.tx_count = data.txids.len() as u32;
    header.wide_count = data.wide.len() as u32;
    header.asset_count = data.assets.len() as u32;
    let mut body = Vec::new();
    for (i, s) in sections.iter().enumerate() {
        pad8(&mut body);
        header.sections[i] = SectionEntry {
            offset: (HEADER_LEN + body.len()) as u64,
            len: s.len() as u64,
            sha256: Sha256::digest(s).into(),
        };
        body.extend_from_slice(s);
    }
    pad8(&mut body);
    let hb = bytemuck::bytes_of(&header);
    header.header_sha256 = Sha256::digest(&hb[..HASHED_HEADER_LEN]).into();

    let tmp = path.with_extension("tmp");
    let mut f =
        File::create(&tmp).map_err(|source| GraphError::Io { path: tmp.clone(), source })?;
    f.write_all(bytemuck::bytes_of(&header)).map_err(io)?;
    f.write_all(&body).map_err(io)?;
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

/// An open, validated, memory-mapped segment.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) path: PathBuf,
    map: Mmap,
    pub(crate) header: Header,
    ranges: [Range<usize>; SECTIONS],
    pub(crate) assets: Vec<String>,
}

impl Segment {
    /// Opens and validates `path`: header checksum, section bounds and sizes, and the
    /// structure (offsets monotone, every id in range, keys UTF-8), so that no later access
    /// can go out of bounds. Section content checksums are checked by [`Segment::verify`].
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
        if map.len() < HEADER_LEN {
            return Err(corrupt(
                0,
                format!("file is {} bytes, shorter than the header", map.len()),
            ));
        }
        let header: Header = bytemuck::pod_read_unaligned(&map[..HEADER_LEN]);
        if header.magic != MAGIC {
            return Err(corrupt(0, "not a floodgate graph segment (bad magic)".into()));
        }
        if header.version != VERSION {
            return Err(GraphError::UnsupportedVersion {
                path: path.to_owned(),
                found: header.version,
                supported: VERSION,
            });
        }
        let sum: [u8; 32] = Sha256::digest(&map[..HASHED_HEADER_LEN]).into();
        if sum != header.header_sha256 {
            return Err(corrupt(HASHED_HEADER_LEN as u64, "header checksum mismatch".into()));
        }
        if header.section_count as usize != SECTIONS {
            return Err(corrupt(
                12,
                format!("{} sections, expected {SECTIONS}", header.section_count),
            ));
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
        let seg = Segment { path: path.to_owned(), map, header, ranges, assets };
        seg.validate()?;
        Ok(seg)
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

    fn try_slice<T: Pod>(&self, s: usize, want: usize) -> Result<&[T], GraphError> {
        let bytes = self.raw(s);
        let v: &[T] = bytemuck::try_cast_slice(bytes)
            .map_err(|e| self.corrupt(s, format!("{} bytes: {e:?}", bytes.len())))?;
        if v.len() != want {
            return Err(self.corrupt(s, format!("{} entries, expected {want}", v.len())));
        }
        Ok(v)
    }

    fn validate(&self) -> Result<(), GraphError> {
        let h = &self.header;
        let new = h.node_count.checked_sub(h.base_node).ok_or_else(|| {
            self.corrupt(0, format!("node count {} below base {}", h.node_count, h.base_node))
        })? as usize;
        let nodes = h.node_count as usize;
        let edges = usize::try_from(h.edge_count)
            .map_err(|_| self.corrupt(S_OUT_EDGES, "edge count too large".into()))?;
        if edges > u32::MAX as usize {
            return Err(self.corrupt(S_OUT_EDGES, format!("{edges} edges exceed u32")));
        }
        if h.asset_count as usize != self.assets.len() {
            return Err(self.corrupt(S_ASSETS, "asset count mismatch".into()));
        }
        let key_offsets: &[u64] = self.try_slice(S_KEY_OFFSETS, new + 1)?;
        let key_len = self.raw(S_KEY_BYTES).len() as u64;
        check_offsets(key_offsets, key_len).map_err(|d| self.corrupt(S_KEY_OFFSETS, d))?;
        std::str::from_utf8(self.raw(S_KEY_BYTES))
            .map_err(|e| self.corrupt(S_KEY_BYTES, e.to_string()))?;
        for w in key_offsets.windows(2) {
            let bytes = self.raw(S_KEY_BYTES);
            let (a, b) = (w[0] as usize, w[1] as usize);
            // Each key must start and end on a character boundary.
            if std::str::from_utf8(&bytes[a..b]).is_err() {
                return Err(self.corrupt(S_KEY_BYTES, format!("key at {a} is not UTF-8")));
            }
        }
        let sorted: &[u32] = self.try_slice(S_KEY_SORTED, new)?;
        let mut seen = vec![false; new];
        for &i in sorted {
            match seen.get_mut(i as usize) {
                Some(s) if !*s => *s = true,
                _ => return Err(self.corrupt(S_KEY_SORTED, format!("bad or repeated index {i}"))),
            }
        }
        let kinds: &[u8] = self.try_slice(S_NODE_KINDS, new)?;
        if let Some(k) = kinds.iter().find(|&&k| k > 1) {
            return Err(self.corrupt(S_NODE_KINDS, format!("unknown node kind {k}")));
        }
        let out_offsets: &[u64] = self.try_slice(S_OUT_OFFSETS, nodes + 1)?;
        check_offsets(out_offsets, edges as u64).map_err(|d| self.corrupt(S_OUT_OFFSETS, d))?;
        let in_offsets: &[u64] = self.try_slice(S_IN_OFFSETS, nodes + 1)?;
        check_offsets(in_offsets, edges as u64).map_err(|d| self.corrupt(S_IN_OFFSETS, d))?;
        let out_edges: &[EdgeRecord] = self.try_slice(S_OUT_EDGES, edges)?;
        for (i, e) in out_edges.iter().enumerate() {
            let bad = e.dst >= h.node_count
                || e.tx >= h.tx_count
                || e.asset as u32 >= h.asset_count
                || (e.flags & FLAG_WIDE != 0 && e.amount >= h.wide_count as u64)
                || e.flags & !FLAG_WIDE != 0;
            if bad {
                return Err(self.corrupt(S_OUT_EDGES, format!("edge {i} refers out of range")));
            }
        }
        let in_edges: &[[u32; 2]] = self.try_slice(S_IN_EDGES, edges)?;
        if let Some(p) =
            in_edges.iter().position(|&[s, i]| s >= h.node_count || i as usize >= edges)
        {
            return Err(self.corrupt(S_IN_EDGES, format!("entry {p} out of range")));
        }
        let _: &[[u8; 32]] = self.try_slice(S_TXIDS, h.tx_count as usize)?;
        let chains: &[u8] = self.try_slice(S_TX_CHAINS, h.tx_count as usize)?;
        if let Some(c) = chains.iter().find(|&&c| c as usize >= floodgate_types::Chain::ALL.len()) {
            return Err(self.corrupt(S_TX_CHAINS, format!("unknown chain {c}")));
        }
        let _: &[[u8; 32]] = self.try_slice(S_WIDE_AMOUNTS, h.wide_count as usize)?;
        Ok(())
    }

    /// Recomputes every section's SHA-256 and compares it with the header, and checks that
    /// the alignment padding between sections is zero (so every byte is covered).
    pub(crate) fn verify(&self) -> Result<(), GraphError> {
        let mut at = HEADER_LEN;
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
        Ok(())
    }

    // Accessors: the sections were validated in `open`, so these casts cannot fail.
    fn slice<T: Pod>(&self, s: usize) -> &[T] {
        bytemuck::cast_slice(self.raw(s))
    }
    pub(crate) fn key(&self, local: usize) -> &str {
        let o: &[u64] = self.slice(S_KEY_OFFSETS);
        let b = &self.raw(S_KEY_BYTES)[o[local] as usize..o[local + 1] as usize];
        std::str::from_utf8(b).expect("keys were checked to be UTF-8 when the segment was opened")
    }
    pub(crate) fn kind(&self, local: usize) -> u8 {
        self.raw(S_NODE_KINDS)[local]
    }
    pub(crate) fn lookup(&self, key: &str) -> Option<u32> {
        let sorted: &[u32] = self.slice(S_KEY_SORTED);
        sorted
            .binary_search_by(|&i| self.key(i as usize).cmp(key))
            .ok()
            .map(|p| self.header.base_node + sorted[p])
    }
    pub(crate) fn out_range(&self, node: u32) -> Range<usize> {
        let o: &[u64] = self.slice(S_OUT_OFFSETS);
        o[node as usize] as usize..o[node as usize + 1] as usize
    }
    pub(crate) fn in_range(&self, node: u32) -> Range<usize> {
        let o: &[u64] = self.slice(S_IN_OFFSETS);
        o[node as usize] as usize..o[node as usize + 1] as usize
    }
    pub(crate) fn edges(&self) -> &[EdgeRecord] {
        self.slice(S_OUT_EDGES)
    }
    /// `[source, out-edge index]` per in-edge, grouped by target.
    pub(crate) fn in_edges(&self) -> &[[u32; 2]] {
        self.slice(S_IN_EDGES)
    }
    pub(crate) fn txid(&self, tx: u32) -> [u8; 32] {
        self.slice::<[u8; 32]>(S_TXIDS)[tx as usize]
    }
    pub(crate) fn tx_chain(&self, tx: u32) -> u8 {
        self.raw(S_TX_CHAINS)[tx as usize]
    }
    pub(crate) fn wide(&self, i: u64) -> [u8; 32] {
        self.slice::<[u8; 32]>(S_WIDE_AMOUNTS)[i as usize]
    }
    /// Bytes of the file.
    pub(crate) fn file_len(&self) -> u64 {
        self.map.len() as u64
    }
}

fn check_offsets(o: &[u64], end: u64) -> Result<(), String> {
    if o.first() != Some(&0) {
        return Err("offsets do not start at 0".into());
    }
    if o.last() != Some(&end) {
        return Err(format!("offsets end at {:?}, expected {end}", o.last()));
    }
    if let Some(p) = o.windows(2).position(|w| w[0] > w[1]) {
        return Err(format!("offsets decrease at entry {p}"));
    }
    Ok(())
}
