//! Snapshots of a persisted monitor's memory: the window state ([`State`]), the duplicate
//! filter ([`SeenIds`]) and the position in the store they are up to, so that a restart loads
//! them and replays only the decided transfers stored after that position, instead of every
//! one ever decided.
//!
//! A snapshot is a cache, never the source of truth: `monitor.db` holds every decided
//! transfer. A snapshot that is missing, torn, of another version or tenant, or that names a
//! position the store does not hold with the same transfer id, is ignored (with a warning) and
//! the state is rebuilt by replaying the store in full, as before snapshots existed. It is
//! written to a temporary file, synced and renamed over the old one, so a crash while writing
//! leaves the previous snapshot in place. Byte layout: `docs/formats/monitor.md`.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use floodgate_types::TenantId;

use crate::error::MonitorError;
use crate::seen::SeenIds;
use crate::state::State;

/// The first eight bytes of a snapshot file.
pub const MAGIC: &[u8; 8] = b"FGMSNAP\0";
/// The layout version this build writes; it reads this one, version 2 (varints throughout,
/// each id a string of its own) and version 1 (as 2, before fiat rails: no rail per event, no
/// bank-account groups).
pub const VERSION: u32 = 3;
/// Bytes before the payload: magic, version, payload length, CRC-32 of the payload.
const HEADER: usize = 8 + 4 + 8 + 4;

/// Where a snapshot is up to in the store: the position (`seq` in `monitor.db`) of the last
/// decided transfer it includes, with that transfer's id to check that the store is the one
/// the snapshot was taken of.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Position {
    /// The store's position of the last included transfer (0: none).
    pub seq: i64,
    /// That transfer's id (empty when `seq` is 0).
    pub transfer_id: String,
    /// Decisions included (the tenant's decided transfers up to `seq`).
    pub decided: u64,
}

/// What a snapshot holds.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Up to where in the store.
    pub position: Position,
    /// The window state after the last included transfer.
    pub state: State,
    /// The decided ids up to it.
    pub seen: SeenIds,
    /// The layout version it was read in ([`VERSION`] for one made in memory).
    pub version: u32,
}

/// A snapshot to write, borrowing the monitor's memory (no copy of the state is made).
#[derive(Debug, Clone, Copy)]
pub struct SnapshotRef<'a> {
    /// Up to where in the store.
    pub position: &'a Position,
    /// The window state after the last included transfer.
    pub state: &'a State,
    /// The decided ids up to it.
    pub seen: &'a SeenIds,
}

impl Snapshot {
    /// The snapshot as [`SnapshotRef`], to write it.
    pub fn as_ref(&self) -> SnapshotRef<'_> {
        SnapshotRef { position: &self.position, state: &self.state, seen: &self.seen }
    }
}

/// The snapshot file of `tenant` in `dir`: `monitor-<16 hex digits>.snapshot`, the digits a
/// hash of the tenant id (a tenant id may hold characters a file name cannot).
pub fn path_for(dir: &Path, tenant: &TenantId) -> PathBuf {
    let k = crate::state::key(0, tenant.as_str());
    dir.join(format!("monitor-{k:016x}.snapshot"))
}

/// Appends integers and strings in the snapshot's encoding (LEB128 varints, zigzag for
/// signed values, length-prefixed UTF-8).
#[derive(Debug, Default)]
pub struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    /// An unsigned integer.
    pub fn uint(&mut self, mut v: u128) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.buf.push(b);
                return;
            }
            self.buf.push(b | 0x80);
        }
    }

    /// A signed integer (zigzag).
    pub fn int(&mut self, v: i64) {
        self.uint(u128::from(((v << 1) ^ (v >> 63)) as u64));
    }

    /// A length or count.
    pub fn count(&mut self, n: usize) {
        self.uint(n as u128);
    }

    /// An optional signed integer.
    pub fn opt_int(&mut self, v: Option<i64>) {
        match v {
            None => self.buf.push(0),
            Some(v) => {
                self.buf.push(1);
                self.int(v);
            }
        }
    }

    /// A string.
    pub fn str(&mut self, s: &str) {
        self.count(s.len());
        self.buf.extend_from_slice(s.as_bytes());
    }

    /// One byte.
    pub fn byte(&mut self, b: u8) {
        self.buf.push(b);
    }

    /// Bytes as they are (fixed-width records, blocks whose length was written before).
    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// A fixed 64-bit word (for bit arrays, where varints would only cost time).
    pub fn word(&mut self, w: u64) {
        self.buf.extend_from_slice(&w.to_le_bytes());
    }

    /// The bytes so far.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads what [`Encoder`] wrote; every error names the byte offset.
#[derive(Debug)]
pub struct Decoder<'a> {
    buf: &'a [u8],
    at: usize,
}

/// A decoding failure: what was expected and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset in the payload.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

impl<'a> Decoder<'a> {
    /// A decoder over `buf`.
    pub fn new(buf: &'a [u8]) -> Decoder<'a> {
        Decoder { buf, at: 0 }
    }

    /// An error at the current offset.
    pub fn error(&self, message: impl Into<String>) -> DecodeError {
        DecodeError { offset: self.at, message: message.into() }
    }

    /// Whether every byte was read.
    pub fn is_at_end(&self) -> bool {
        self.at == self.buf.len()
    }

    /// An unsigned integer.
    ///
    /// # Errors
    /// Truncated input or a varint longer than 128 bits.
    pub fn uint(&mut self) -> Result<u128, DecodeError> {
        let mut v = 0u128;
        for shift in (0..128).step_by(7) {
            let Some(&b) = self.buf.get(self.at) else { return Err(self.error("truncated")) };
            self.at += 1;
            v |= u128::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.error("integer longer than 128 bits"))
    }

    /// An unsigned integer that fits 64 bits.
    ///
    /// # Errors
    /// As [`Decoder::uint`], or a larger value.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        let v = self.uint()?;
        u64::try_from(v).map_err(|_| self.error(format!("{v} does not fit 64 bits")))
    }

    /// A signed integer.
    ///
    /// # Errors
    /// As [`Decoder::u64`].
    pub fn int(&mut self) -> Result<i64, DecodeError> {
        let z = self.u64()?;
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    /// A length or count, at most the bytes left (every element takes at least one byte, so
    /// a corrupt length cannot ask for a huge allocation).
    ///
    /// # Errors
    /// As [`Decoder::u64`], or a length the remaining bytes cannot hold.
    pub fn count(&mut self) -> Result<usize, DecodeError> {
        let n = self.u64()?;
        let left = (self.buf.len() - self.at) as u64;
        if n > left {
            return Err(self.error(format!("length {n} but {left} bytes left")));
        }
        Ok(n as usize)
    }

    /// An optional signed integer.
    ///
    /// # Errors
    /// As [`Decoder::int`], or a tag other than 0 or 1.
    pub fn opt_int(&mut self) -> Result<Option<i64>, DecodeError> {
        match self.byte()? {
            0 => Ok(None),
            1 => Ok(Some(self.int()?)),
            t => Err(self.error(format!("option tag {t}"))),
        }
    }

    /// One byte.
    ///
    /// # Errors
    /// Truncated input.
    pub fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self.buf.get(self.at).ok_or_else(|| self.error("truncated"))?;
        self.at += 1;
        Ok(b)
    }

    /// A string.
    ///
    /// # Errors
    /// Truncated input or invalid UTF-8.
    pub fn str(&mut self) -> Result<&'a str, DecodeError> {
        let n = self.count()?;
        let bytes = &self.buf[self.at..self.at + n];
        let s = std::str::from_utf8(bytes).map_err(|e| self.error(format!("bad UTF-8: {e}")))?;
        self.at += n;
        Ok(s)
    }

    /// The next `n` bytes as they are.
    ///
    /// # Errors
    /// Truncated input.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let b = self
            .at
            .checked_add(n)
            .and_then(|end| self.buf.get(self.at..end))
            .ok_or_else(|| self.error(format!("truncated: {n} bytes")))?;
        self.at += n;
        Ok(b)
    }

    /// A fixed 64-bit word.
    ///
    /// # Errors
    /// Truncated input.
    pub fn word(&mut self) -> Result<u64, DecodeError> {
        let b = self.buf.get(self.at..self.at + 8).ok_or_else(|| self.error("truncated"))?;
        self.at += 8;
        let mut w = [0u8; 8];
        w.copy_from_slice(b);
        Ok(u64::from_le_bytes(w))
    }

    /// `n` fixed 64-bit words, read in one pass (a bit array of millions of words).
    ///
    /// # Errors
    /// Truncated input.
    pub fn words(&mut self, n: usize) -> Result<Vec<u64>, DecodeError> {
        let bytes = n
            .checked_mul(8)
            .and_then(|len| self.buf.get(self.at..self.at.checked_add(len)?))
            .ok_or_else(|| self.error(format!("truncated: {n} words")))?;
        self.at += bytes.len();
        Ok(bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("chunks of exactly 8 bytes")))
            .collect())
    }
}

impl SnapshotRef<'_> {
    /// The payload: tenant, position, state, duplicate filter.
    fn encode(&self, tenant: &TenantId) -> Vec<u8> {
        let mut e = Encoder::default();
        e.str(tenant.as_str());
        e.int(self.position.seq);
        e.str(&self.position.transfer_id);
        e.uint(u128::from(self.position.decided));
        self.state.encode(&mut e);
        self.seen.encode(&mut e);
        e.into_bytes()
    }
}

impl Snapshot {
    fn decode(payload: &[u8], tenant: &TenantId, version: u32) -> Result<Snapshot, DecodeError> {
        let mut d = Decoder::new(payload);
        let t = d.str()?;
        if t != tenant.as_str() {
            return Err(d.error(format!("snapshot of tenant '{t}', not '{tenant}'")));
        }
        let seq = d.int()?;
        let transfer_id = d.str()?.to_owned();
        let decided = d.u64()?;
        let state = State::decode(&mut d, version)?;
        let seen = SeenIds::decode(&mut d)?;
        if !d.is_at_end() {
            return Err(d.error("bytes after the end of the snapshot"));
        }
        Ok(Snapshot { position: Position { seq, transfer_id, decided }, state, seen, version })
    }
}

impl SnapshotRef<'_> {
    /// Writes the snapshot of `tenant` to `path`: a temporary file beside it, synced, then
    /// renamed over `path` (and the directory synced), so `path` always holds a whole
    /// snapshot. Returns the bytes written.
    ///
    /// # Errors
    /// [`MonitorError::Io`] naming the file.
    pub fn write(&self, path: &Path, tenant: &TenantId) -> Result<u64, MonitorError> {
        let payload = self.encode(tenant);
        let tmp = path.with_extension("snapshot.tmp");
        let io = |e| MonitorError::io(&tmp, e);
        let mut f = File::create(&tmp).map_err(io)?;
        let mut head = Vec::with_capacity(HEADER);
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&VERSION.to_le_bytes());
        head.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        head.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        f.write_all(&head).map_err(io)?;
        f.write_all(&payload).map_err(io)?;
        f.sync_data().map_err(io)?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(|e| MonitorError::io(path, e))?;
        if let Some(dir) = path.parent() {
            // The rename is durable once the directory is; a failure here only risks the
            // previous snapshot coming back after a power loss, which is still consistent.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok((HEADER + payload.len()) as u64)
    }
}

impl Snapshot {
    /// Reads the snapshot of `tenant` at `path`: `Ok(None)` when there is no file.
    ///
    /// # Errors
    /// [`MonitorError::Io`] when the file cannot be read; [`MonitorError::Corrupt`] naming the
    /// file and byte offset when it is torn, fails its checksum, is of another version or
    /// tenant, or does not decode.
    pub fn read(path: &Path, tenant: &TenantId) -> Result<Option<Snapshot>, MonitorError> {
        // One read into a buffer of the file's size.
        let buf = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(MonitorError::io(path, e)),
        };
        let corrupt = |message: String| MonitorError::Corrupt {
            path: path.to_path_buf(),
            message: format!("snapshot: {message}"),
        };
        if buf.len() < HEADER || &buf[..8] != MAGIC {
            return Err(corrupt("not a floodgate monitor snapshot (bad magic)".into()));
        }
        let word4 = |at: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&buf[at..at + 4]);
            u32::from_le_bytes(w)
        };
        let version = word4(8);
        if !(1..=VERSION).contains(&version) {
            return Err(corrupt(format!("layout version {version}, this build reads {VERSION}")));
        }
        let mut l = [0u8; 8];
        l.copy_from_slice(&buf[12..20]);
        let len = u64::from_le_bytes(l);
        let payload = &buf[HEADER..];
        if payload.len() as u64 != len {
            return Err(corrupt(format!(
                "torn: header says {len} payload bytes, the file holds {}",
                payload.len()
            )));
        }
        let crc = crc32fast::hash(payload);
        if crc != word4(20) {
            return Err(corrupt(format!(
                "checksum mismatch (stored {:08x}, computed {crc:08x})",
                word4(20)
            )));
        }
        Snapshot::decode(payload, tenant, version).map(Some).map_err(|e| {
            corrupt(format!("byte {} of the payload: {}", HEADER + e.offset, e.message))
        })
    }
}
