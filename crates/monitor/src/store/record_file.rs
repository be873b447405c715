//! `monitor.log`: the payload of every decided transfer stored since schema version 3 — its
//! event, fiat value and decision JSON — as append-only, checksummed records, beside
//! `monitor.db`, which keeps a small row per decision naming its record's offset. Byte layout:
//! `docs/formats/monitor.md`; why: `docs/adr/0008-monitor-record-file.md`.
//!
//! The file is only ever written under `monitor.db`'s write lock (an immediate transaction),
//! at the end the committed rows name (`log_end` in `monitor_meta`): a group's records are one
//! write before the transaction that references them commits, so a committed row always names
//! bytes that were written before it, and bytes past `log_end` are a group whose transaction
//! never committed, cut by the next writer.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::MonitorError;

use super::DecidedRecord;

/// File name of the record file inside the data directory.
pub const MONITOR_LOG: &str = "monitor.log";
/// The first eight bytes of the file.
const MAGIC: &[u8; 8] = b"FGMLOG\0\0";
/// The layout version this build writes and reads.
const VERSION: u32 = 1;
/// Bytes before the first record: magic, version, four reserved zero bytes.
pub(super) const FILE_HEADER: u64 = 16;
/// Bytes before a record's payload: its length and its CRC-32, both u32 LE.
const RECORD_HEADER: usize = 8;
/// A read takes at least this much of the file at once (a replay or a page of decisions
/// reads records in file order: one read serves hundreds of them).
const READ_AHEAD: usize = 1 << 20;
/// `u32::MAX` as a string length: no fiat value.
const NONE: u32 = u32::MAX;

/// One record, borrowing its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Record<'a> {
    pub(super) seq: i64,
    pub(super) transfer_id: &'a str,
    pub(super) event: &'a str,
    pub(super) fiat: Option<&'a str>,
    pub(super) decision: &'a str,
}

/// Appends the record of `d` at position `seq` to `buf` (header, then payload).
///
/// # Errors
/// A text longer than 4 GiB (no such decision is built), as a message.
pub(super) fn encode(buf: &mut Vec<u8>, seq: i64, d: &DecidedRecord) -> Result<(), String> {
    let start = buf.len();
    buf.extend_from_slice(&[0; RECORD_HEADER]);
    buf.extend_from_slice(&seq.to_le_bytes());
    let put = |buf: &mut Vec<u8>, s: &str| -> Result<(), String> {
        let n = u32::try_from(s.len())
            .ok()
            .filter(|n| *n != NONE)
            .ok_or_else(|| format!("transfer '{}': a text of {} bytes", d.transfer_id, s.len()))?;
        buf.extend_from_slice(&n.to_le_bytes());
        buf.extend_from_slice(s.as_bytes());
        Ok(())
    };
    put(buf, &d.transfer_id)?;
    put(buf, &d.event)?;
    match &d.fiat {
        Some(f) => put(buf, f)?,
        None => buf.extend_from_slice(&NONE.to_le_bytes()),
    }
    put(buf, &d.decision)?;
    let payload = &buf[start + RECORD_HEADER..];
    let len = u32::try_from(payload.len()).map_err(|_| {
        format!("transfer '{}': a record of {} bytes", d.transfer_id, payload.len())
    })?;
    let crc = crc32fast::hash(payload);
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// The file header a new record file starts with.
pub(super) fn file_header() -> [u8; FILE_HEADER as usize] {
    let mut h = [0u8; FILE_HEADER as usize];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h
}

/// Decodes a payload whose CRC matched; `None` if its fields do not fit it.
fn decode(p: &[u8]) -> Option<Record<'_>> {
    let seq = i64::from_le_bytes(p.get(..8)?.try_into().ok()?);
    let mut at = 8usize;
    let mut text = |none_ok: bool| -> Option<Option<&str>> {
        let n = u32::from_le_bytes(p.get(at..at + 4)?.try_into().ok()?);
        at += 4;
        if n == NONE {
            return none_ok.then_some(None);
        }
        let s = std::str::from_utf8(p.get(at..at + n as usize)?).ok()?;
        at += n as usize;
        Some(Some(s))
    };
    let transfer_id = text(false)??;
    let event = text(false)??;
    let fiat = text(true)?;
    let decision = text(false)??;
    (at == p.len()).then_some(Record { seq, transfer_id, event, fiat, decision })
}

/// Why a record could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Bad {
    /// The file ends before the record does.
    Short,
    /// Its CRC-32 does not match, or its fields do not fit its length.
    Checksum,
}

impl std::fmt::Display for Bad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Bad::Short => "the file ends before it",
            Bad::Checksum => "its checksum does not match",
        })
    }
}

/// `monitor.log`, open for reading and appending.
#[derive(Debug)]
pub(super) struct RecordFile {
    file: File,
    path: PathBuf,
}

impl RecordFile {
    /// Opens (creating, empty) the record file in `data_dir`.
    pub(super) fn open(data_dir: &Path) -> Result<RecordFile, MonitorError> {
        let path = data_dir.join(MONITOR_LOG);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| MonitorError::io(&path, e))?;
        Ok(RecordFile { file, path })
    }

    /// Opens the record file in `data_dir` for reading only; `None` if there is none.
    pub(super) fn open_read(data_dir: &Path) -> Result<Option<RecordFile>, MonitorError> {
        let path = data_dir.join(MONITOR_LOG);
        match File::open(&path) {
            Ok(file) => Ok(Some(RecordFile { file, path })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(MonitorError::io(&path, e)),
        }
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self) -> impl Fn(std::io::Error) -> MonitorError + '_ {
        move |e| MonitorError::io(&self.path, e)
    }

    /// The file's length.
    pub(super) fn len(&self) -> Result<u64, MonitorError> {
        self.file.metadata().map(|m| m.len()).map_err(self.io())
    }

    /// Cuts the file to `end` bytes (what no committed row names).
    pub(super) fn cut(&self, end: u64) -> Result<(), MonitorError> {
        self.file.set_len(end).map_err(self.io())
    }

    /// Writes `bytes` at offset `at` (the end the committed rows name, after [`Self::cut`]).
    pub(super) fn write_at(&self, at: u64, bytes: &[u8]) -> Result<(), MonitorError> {
        let mut f = &self.file;
        f.seek(SeekFrom::Start(at)).map_err(self.io())?;
        f.write_all(bytes).map_err(self.io())
    }

    /// Makes what was written durable (`fdatasync`).
    pub(super) fn sync(&self) -> Result<(), MonitorError> {
        self.file.sync_data().map_err(self.io())
    }

    /// A reader of records, for one read operation (it keeps the bytes it read ahead, which
    /// hold only committed records as long as the rows it is asked for were committed before
    /// it was made).
    pub(super) fn reader(&self) -> Reader<'_> {
        Reader { file: &self.file, start: 0, bytes: Vec::new() }
    }
}

/// Reads records at given offsets, in file order mostly, through a read-ahead buffer.
pub(super) struct Reader<'a> {
    file: &'a File,
    /// The file offset of `bytes[0]`.
    start: u64,
    bytes: Vec<u8>,
}

impl Reader<'_> {
    /// `need` bytes at `at`, reading ahead; `Ok(None)` if the file ends before them.
    fn bytes(&mut self, at: u64, need: usize) -> std::io::Result<Option<&[u8]>> {
        let have = at >= self.start && at + need as u64 <= self.start + self.bytes.len() as u64;
        if !have {
            let mut f = self.file;
            f.seek(SeekFrom::Start(at))?;
            self.bytes.clear();
            let want = need.max(READ_AHEAD);
            f.take(want as u64).read_to_end(&mut self.bytes)?;
            self.start = at;
            if self.bytes.len() < need {
                return Ok(None);
            }
        }
        let from = usize::try_from(at - self.start).unwrap_or(usize::MAX);
        Ok(self.bytes.get(from..from + need))
    }

    /// The record at offset `at`, checked against its CRC-32.
    pub(super) fn record(&mut self, at: u64) -> std::io::Result<Result<Record<'_>, Bad>> {
        let Some(head) = self.bytes(at, RECORD_HEADER)? else { return Ok(Err(Bad::Short)) };
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let Some(all) = self.bytes(at, RECORD_HEADER + len)? else { return Ok(Err(Bad::Short)) };
        let payload = &all[RECORD_HEADER..];
        if crc32fast::hash(payload) != crc {
            return Ok(Err(Bad::Checksum));
        }
        Ok(decode(payload).ok_or(Bad::Checksum))
    }
    /// The record at offset `at` if it is the one of the row at position `seq` for
    /// `transfer_id`; otherwise why not (its check failed, the file ends, or it holds another
    /// transfer).
    pub(super) fn record_of(
        &mut self,
        at: u64,
        seq: i64,
        transfer_id: &str,
    ) -> std::io::Result<Result<Record<'_>, String>> {
        Ok(match self.record(at)? {
            Ok(rec) if rec.seq == seq && rec.transfer_id == transfer_id => Ok(rec),
            Ok(rec) => {
                Err(format!("it holds transfer '{}' (position {})", rec.transfer_id, rec.seq))
            }
            Err(b) => Err(b.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn rec(id: &str, fiat: Option<&str>) -> DecidedRecord {
        DecidedRecord {
            transfer_id: id.into(),
            event: format!("{{\"id\":\"{id}\"}}"),
            fiat: fiat.map(str::to_owned),
            decision: "{\"action\":\"allow\"}".into(),
        }
    }

    /// Records written one after another read back field for field, with or without a fiat
    /// value (an empty one is not none), and one changed byte anywhere in a record is caught.
    #[test]
    fn records_round_trip_and_a_changed_byte_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let f = RecordFile::open(dir.path()).unwrap();
        let mut buf = file_header().to_vec();
        let recs = [rec("a", Some("{\"vnd\":1}")), rec("bé", None), rec("c", Some(""))];
        let mut at = Vec::new();
        for (i, r) in recs.iter().enumerate() {
            at.push(buf.len() as u64);
            encode(&mut buf, i as i64 + 7, r).unwrap();
        }
        f.write_at(0, &buf).unwrap();
        let mut rd = f.reader();
        for (i, r) in recs.iter().enumerate() {
            let got = rd.record(at[i]).unwrap().unwrap();
            assert_eq!(got.seq, i as i64 + 7);
            assert_eq!(got.transfer_id, r.transfer_id);
            assert_eq!(got.event, r.event);
            assert_eq!(got.fiat, r.fiat.as_deref());
            assert_eq!(got.decision, r.decision);
        }
        for byte in at[1] as usize..at[2] as usize {
            let mut bad = buf.clone();
            bad[byte] ^= 0x20;
            f.write_at(0, &bad).unwrap();
            let mut rd = f.reader();
            let got = rd.record(at[1]).unwrap();
            assert!(got.is_err(), "byte {byte} changed, read {got:?}");
        }
        f.cut(at[2] + 3).unwrap();
        assert_eq!(f.reader().record(at[2]).unwrap().err(), Some(Bad::Short));
    }
}
