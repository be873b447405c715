//! The persisted monitor state behind a trait: the decided transfers of one tenant, in
//! decision order, from which [`crate::monitor::Monitor`] rebuilds its window state by replay.
//! [`SqliteMonitorState`] (`monitor.db` with its record file `monitor.log`) is the embedded
//! default.

mod record_file;

use std::path::{Path, PathBuf};

use floodgate_types::TenantId;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use record_file::RecordFile;
pub use record_file::MONITOR_LOG;

use crate::decision::Decision;
use crate::error::MonitorError;
use crate::fiat::FiatValue;
use crate::input::MonitorEvent;

/// File name of the monitor state inside the data directory.
pub const MONITOR_DB: &str = "monitor.db";

/// The numbered migrations of `monitor.db` (`floodgate-sqlite`: the version is in the file).
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_tenant.sql"),
    include_str!("../migrations/0003_record_file.sql"),
];

/// The record file is synced (`fdatasync`) once this many bytes were appended since it last
/// was, and `synced_seq` moved with it: a start checks the records written after it, so this
/// bounds that check (a kill -9 leaves them intact; a power loss may not).
const SYNC_EVERY: u64 = 64 << 20;

/// One decided transfer as it is recorded: its id and the JSON of its normalized event, fiat
/// value and decision (serialized when decided, so a failure shows before the commit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecidedRecord {
    /// The transfer id (unique per tenant).
    pub transfer_id: String,
    /// The event, JSON.
    pub event: String,
    /// The fiat value, JSON, when a rate was known.
    pub fiat: Option<String>,
    /// The decision, JSON.
    pub decision: String,
}

/// Where one tenant's decided transfers are kept.
pub trait MonitorState {
    /// The tenant whose decisions these are.
    fn tenant(&self) -> &TenantId;

    /// Calls `f` with every decided transfer stored after position `after` (0: all), in
    /// decision order: `(position, transfer id, event, fiat)`.
    ///
    /// # Errors
    /// A backend failure, or [`MonitorError::Corrupt`] for a record that does not decode.
    fn replay(
        &self,
        after: i64,
        f: &mut dyn FnMut(i64, String, MonitorEvent, Option<FiatValue>),
    ) -> Result<(), MonitorError>;

    /// The id of this tenant's transfer stored at `position`, if any (to check that a
    /// snapshot was taken of this store).
    ///
    /// # Errors
    /// A backend failure.
    fn id_at(&self, position: i64) -> Result<Option<String>, MonitorError>;

    /// Where this tenant's snapshot file lives (`crate::snapshot`); `None` for a backend
    /// that keeps none.
    fn snapshot_path(&self) -> Option<PathBuf>;

    /// Whether `transfer_id` is recorded (committed) for this tenant.
    ///
    /// # Errors
    /// A backend failure.
    fn contains(&self, transfer_id: &str) -> Result<bool, MonitorError>;

    /// Records `batch` durably, all or nothing; the position of its last record.
    ///
    /// # Errors
    /// A backend failure; nothing of the batch is recorded then.
    fn append(&mut self, batch: &[DecidedRecord]) -> Result<i64, MonitorError>;

    /// Up to `limit` recorded decisions in decision order, each with its position: those
    /// after the first `skip` when `after` is `None`, else those after position `after` (the
    /// last a previous page returned: the next page is found by its position, without
    /// counting past the decisions before it again).
    ///
    /// # Errors
    /// A backend failure or [`MonitorError::Corrupt`].
    fn decisions_page(
        &self,
        skip: u64,
        after: Option<i64>,
        limit: usize,
    ) -> Result<Vec<(i64, Decision)>, MonitorError>;

    /// The file (or other location) to name in messages.
    fn location(&self) -> &Path;
}

/// `monitor.db` in a data directory, with its record file `monitor.log`: SQLite in WAL mode
/// keeps a small row per decided transfer (tenant, transfer id, position, the offset of its
/// record) and the unique key per tenant; the record file keeps the event, fiat value and
/// decision. One SQLite transaction and one write to the record file per batch.
pub struct SqliteMonitorState {
    conn: Connection,
    log: RecordFile,
    path: PathBuf,
    tenant: TenantId,
    /// Bytes this connection appended to the record file since it was last synced.
    unsynced: u64,
    /// The batch's records, encoded (kept to reuse its allocation).
    buf: Vec<u8>,
}

impl std::fmt::Debug for SqliteMonitorState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteMonitorState")
            .field("path", &self.path)
            .field("tenant", &self.tenant)
            .finish()
    }
}

/// The decided transfers after a position, in order. `+tenant` keeps SQLite from walking the
/// `(tenant, transfer_id)` index over every row of the tenant (and sorting them) to find the
/// few after a snapshot: the rows are found by their `seq` range instead (a start after 10
/// million stored decisions spent 0.4 s of CPU in that walk).
const REPLAY_SQL: &str = "SELECT seq, transfer_id, event, fiat, rec FROM decided \
     WHERE seq > ?2 AND +tenant = ?1 ORDER BY seq";

/// A value of `monitor_meta` under the file-level tenant `''`, as an integer.
fn meta(conn: &Connection, key: &str) -> rusqlite::Result<i64> {
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM monitor_meta WHERE tenant = '' AND key = ?1",
            params![key],
            |r| r.get(0),
        )
        .optional()?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

fn set_meta(conn: &Connection, key: &str, value: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO monitor_meta (tenant, key, value) VALUES ('', ?1, ?2)",
    )?
    .execute(params![key, value.to_string()])?;
    Ok(())
}

/// A stored row's payload: inline JSON (a row from before schema version 3) or the offset
/// of its record in `monitor.log`.
enum Payload {
    Inline { event: String, fiat: Option<String>, decision: String },
    Record(u64),
}

impl SqliteMonitorState {
    /// Opens (creating, and migrating to this build's schema) `monitor.db` and `monitor.log`
    /// in `data_dir`, for `tenant`, and brings the record file in line with the committed
    /// rows (see [`SqliteMonitorState::recover`]).
    ///
    /// # Errors
    /// [`MonitorError::Io`], [`MonitorError::State`], [`MonitorError::Corrupt`] (a record
    /// file of another layout) or [`MonitorError::Schema`] (a file from a newer floodgate is
    /// refused unchanged).
    pub fn open(data_dir: &Path, tenant: TenantId) -> Result<SqliteMonitorState, MonitorError> {
        std::fs::create_dir_all(data_dir).map_err(|e| MonitorError::io(data_dir, e))?;
        let path = data_dir.join(MONITOR_DB);
        let sq = |e| MonitorError::state(&path, e);
        let mut conn = Connection::open(&path).map_err(sq)?;
        // 16 KiB pages for a new file (an existing one keeps its size): a decided row of
        // schema version 2 (event and decision JSON) was often 1-3 KB, more than a 4 KiB page
        // keeps in the b-tree. Rows are small since version 3; the page size stays.
        conn.pragma_update(None, "page_size", 16_384).map_err(sq)?;
        // WAL + synchronous=NORMAL: a committed transaction survives a killed process.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sq)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(sq)?;
        // Checkpoint the WAL into the file every 16,384 pages rather than SQLite's 1,000
        // (each checkpoint syncs both files), and keep the id index's pages in a 64 MiB cache
        // rather than 2 MiB, so a commit does not read them back
        // (docs/adr/0003-durable-monitor-path.md).
        conn.pragma_update(None, "wal_autocheckpoint", 16_384).map_err(sq)?;
        conn.pragma_update(None, "cache_size", -65_536).map_err(sq)?;
        floodgate_sqlite::migrate(&mut conn, &path, MIGRATIONS)?;
        let log = RecordFile::open(data_dir)?;
        let mut s = SqliteMonitorState { conn, log, path, tenant, unsynced: 0, buf: Vec::new() };
        s.recover()?;
        Ok(s)
    }

    fn sq(&self) -> impl Fn(rusqlite::Error) -> MonitorError + '_ {
        move |e| MonitorError::state(&self.path, e)
    }

    /// Brings `monitor.log` in line with the committed rows, under the write lock: checks
    /// the record of every row after `synced_seq` (its CRC-32, position and transfer id); a
    /// row whose record is missing or damaged — possible only after a power loss, which may
    /// keep a commit of `monitor.db` and lose the write it followed — is removed with every
    /// row after it, with a warning: the store is then what it was before that commit, as a
    /// power loss may leave `monitor.db` alone. Bytes past the last committed record (a
    /// group whose transaction never committed: a crash between the two) are cut. The
    /// records checked are then synced and `synced_seq` moved, so the next start does not
    /// check them again.
    fn recover(&mut self) -> Result<(), MonitorError> {
        let path = self.path.clone();
        let sq = |e| MonitorError::state(&path, e);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sq)?;
        let mut end = u64::try_from(meta(&tx, "log_end").map_err(sq)?).unwrap_or(0);
        let synced = meta(&tx, "synced_seq").map_err(sq)?;
        let mut rd = self.log.reader();
        // The first row whose record fails, and the last checked.
        let (mut bad, mut last) = (None, None);
        {
            let mut stmt = tx
                .prepare(
                    "SELECT seq, transfer_id, rec FROM decided \
                     WHERE seq > ?1 AND rec IS NOT NULL ORDER BY seq",
                )
                .map_err(sq)?;
            let mut rows = stmt.query(params![synced]).map_err(sq)?;
            while let Some(r) = rows.next().map_err(sq)? {
                let seq: i64 = r.get(0).map_err(sq)?;
                let id: String = r.get(1).map_err(sq)?;
                let at = u64::try_from(r.get::<_, i64>(2).map_err(sq)?).unwrap_or(0);
                let checked = rd
                    .record_of(at, seq, &id)
                    .map_err(|e| MonitorError::io(self.log.path(), e))?
                    .map(|_| ());
                match checked {
                    Ok(()) => last = Some(seq),
                    Err(why) => {
                        bad = Some((seq, id, at, why));
                        break;
                    }
                }
            }
        }
        if let Some((seq, id, at, why)) = bad {
            let removed =
                tx.execute("DELETE FROM decided WHERE seq >= ?1", params![seq]).map_err(sq)?;
            end = at;
            set_meta(&tx, "log_end", i64::try_from(end).unwrap_or(i64::MAX)).map_err(sq)?;
            tracing::warn!(target: "floodgate::monitor", path = %self.log.path().display(), position = seq, transfer = %id, offset = at, removed, "the record of a committed decision cannot be read ({why}): a power loss lost the write it followed; that decision and the {removed} stored after it (all tenants) are removed, as if their commits had been lost with it");
        }
        let len = self.log.len()?;
        if len < end {
            // Every record after `synced_seq` was read, so the file lost bytes that were
            // synced: it was cut or replaced, not left so by a crash.
            return Err(MonitorError::Corrupt {
                path: self.log.path().to_path_buf(),
                message: format!(
                    "{len} bytes, shorter than the {end} bytes of records monitor.db names \
                     (was it cut or replaced?)"
                ),
            });
        }
        if len > end {
            self.log.cut(end)?;
        }
        if let Some(seq) = last {
            self.log.sync()?;
            set_meta(&tx, "synced_seq", seq).map_err(sq)?;
        }
        tx.commit().map_err(sq)
    }

    /// The payload of each row `rows` yields — `(position, transfer id, payload)` — in
    /// order, read from the record file where it is there and checked against the row.
    fn payloads(
        &self,
        rows: &mut rusqlite::Rows<'_>,
        f: impl FnMut(i64, String, Option<&str>, Option<&str>, &str) -> Result<(), MonitorError>,
        columns: [usize; 5],
    ) -> Result<(), MonitorError> {
        read_payloads(rows, &self.path, Some(&self.log), f, columns)
    }
}

/// Calls `f` with each row's position, transfer id, event, fiat value and decision, read
/// inline or from `log`'s record for the row (checked to be that row's: `Reader::record_of`).
/// `columns` as for [`row_payload`], `[0]` the position and `[1]` the transfer id; `db` names
/// the database in errors. A row with a record and no record file is corrupt.
fn read_payloads(
    rows: &mut rusqlite::Rows<'_>,
    db: &Path,
    log: Option<&RecordFile>,
    mut f: impl FnMut(i64, String, Option<&str>, Option<&str>, &str) -> Result<(), MonitorError>,
    columns: [usize; 5],
) -> Result<(), MonitorError> {
    let sq = |e| MonitorError::state(db, e);
    let mut rd = log.map(RecordFile::reader);
    let log_path = log.map_or_else(|| db.with_file_name(MONITOR_LOG), |l| l.path().to_path_buf());
    while let Some(r) = rows.next().map_err(sq)? {
        let seq: i64 = r.get(columns[0]).map_err(sq)?;
        let id: String = r.get(columns[1]).map_err(sq)?;
        match row_payload(r, columns).map_err(sq)? {
            Payload::Inline { event, fiat, decision } => {
                f(seq, id, Some(&event), fiat.as_deref(), &decision)?;
            }
            Payload::Record(at) => {
                let corrupt = |why: String| MonitorError::Corrupt {
                    path: log_path.clone(),
                    message: format!(
                        "the record of transfer '{id}' (position {seq}) at offset {at}: {why}"
                    ),
                };
                let Some(rd) = rd.as_mut() else { return Err(corrupt("no record file".into())) };
                let rec = rd
                    .record_of(at, seq, &id)
                    .map_err(|e| MonitorError::io(&log_path, e))?
                    .map_err(corrupt)?;
                f(seq, id, Some(rec.event), rec.fiat, rec.decision)?;
            }
        }
    }
    Ok(())
}

/// A row's payload from its `event`, `fiat`, `decision` and `rec` columns (`columns[2..]`:
/// `usize::MAX` for a column the query does not select: `event` (with `fiat`) or `decision`).
fn row_payload(r: &rusqlite::Row<'_>, columns: [usize; 5]) -> rusqlite::Result<Payload> {
    let [_, _, ev, dec, rec] = columns;
    if let Some(at) = r.get::<_, Option<i64>>(rec)? {
        return Ok(Payload::Record(u64::try_from(at).unwrap_or(u64::MAX)));
    }
    let event = if ev == usize::MAX { String::new() } else { r.get(ev)? };
    let fiat = if ev == usize::MAX { None } else { r.get(ev + 1)? };
    let decision = if dec == usize::MAX { String::new() } else { r.get(dec)? };
    Ok(Payload::Inline { event, fiat, decision })
}

impl Drop for SqliteMonitorState {
    /// Syncs what this connection appended to the record file and moves `synced_seq`, so
    /// the next start checks nothing (best effort: a failure only costs that check).
    fn drop(&mut self) {
        if self.unsynced == 0 {
            return;
        }
        let run = |s: &mut SqliteMonitorState| -> Result<(), MonitorError> {
            let path = s.path.clone();
            let sq = |e| MonitorError::state(&path, e);
            let tx =
                s.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sq)?;
            s.log.sync()?;
            let last: i64 = tx
                .query_row("SELECT COALESCE(MAX(seq), 0) FROM decided", [], |r| r.get(0))
                .map_err(sq)?;
            set_meta(&tx, "synced_seq", last).map_err(sq)?;
            tx.commit().map_err(sq)
        };
        if let Err(e) = run(self) {
            tracing::warn!(target: "floodgate::monitor", "record file not synced at close (the next start checks its last records): {e}");
        }
    }
}

impl MonitorState for SqliteMonitorState {
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    fn replay(
        &self,
        after: i64,
        f: &mut dyn FnMut(i64, String, MonitorEvent, Option<FiatValue>),
    ) -> Result<(), MonitorError> {
        let sq = self.sq();
        let mut stmt = self.conn.prepare(REPLAY_SQL).map_err(&sq)?;
        let mut rows = stmt.query(params![self.tenant.as_str(), after]).map_err(&sq)?;
        // Columns: seq, transfer_id, event (fiat next to it), no decision, rec.
        self.payloads(
            &mut rows,
            |seq, id, ev, fiat, _| {
                let corrupt = |what: &str, e: serde_json::Error| MonitorError::Corrupt {
                    path: self.path.clone(),
                    message: format!("transfer '{id}': {what}: {e}"),
                };
                let ev: MonitorEvent = serde_json::from_str(ev.unwrap_or_default())
                    .map_err(|e| corrupt("event", e))?;
                let fiat: Option<FiatValue> = match fiat {
                    Some(f) => Some(serde_json::from_str(f).map_err(|e| corrupt("fiat", e))?),
                    None => None,
                };
                f(seq, id, ev, fiat);
                Ok(())
            },
            [0, 1, 2, usize::MAX, 4],
        )
    }

    fn id_at(&self, position: i64) -> Result<Option<String>, MonitorError> {
        let sq = self.sq();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT transfer_id FROM decided WHERE seq = ?1 AND tenant = ?2")
            .map_err(&sq)?;
        let mut rows = stmt.query(params![position, self.tenant.as_str()]).map_err(&sq)?;
        match rows.next().map_err(&sq)? {
            Some(r) => Ok(Some(r.get(0).map_err(&sq)?)),
            None => Ok(None),
        }
    }

    fn snapshot_path(&self) -> Option<PathBuf> {
        self.path.parent().map(|d| crate::snapshot::path_for(d, &self.tenant))
    }

    fn contains(&self, transfer_id: &str) -> Result<bool, MonitorError> {
        let sq = self.sq();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM decided WHERE tenant = ?1 AND transfer_id = ?2")
            .map_err(&sq)?;
        stmt.exists(params![self.tenant.as_str(), transfer_id]).map_err(&sq)
    }

    fn append(&mut self, batch: &[DecidedRecord]) -> Result<i64, MonitorError> {
        if batch.is_empty() {
            return Ok(0);
        }
        let path = self.path.clone();
        let sq = |e| MonitorError::state(&path, e);
        // The write lock first: the record file is appended to only under it, at the end
        // the committed rows name, by whichever connection (or process) holds it.
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sq)?;
        let end = u64::try_from(meta(&tx, "log_end").map_err(sq)?).unwrap_or(0);
        let first: i64 = tx
            .query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM decided", [], |r| r.get(0))
            .map_err(sq)?;
        let buf = &mut self.buf;
        buf.clear();
        if end == 0 {
            buf.extend_from_slice(&record_file::file_header());
        }
        let mut offsets = Vec::with_capacity(batch.len());
        for (seq, d) in (first..).zip(batch) {
            offsets.push(end + buf.len() as u64);
            record_file::encode(buf, seq, d).map_err(|message| MonitorError::Corrupt {
                path: self.log.path().to_path_buf(),
                message,
            })?;
        }
        // Bytes past `end` are a group whose transaction never committed (a crash or a
        // failed commit between the write and the commit): cut them before writing over.
        if self.log.len()? > end {
            self.log.cut(end)?;
        }
        self.log.write_at(end, buf)?;
        let new_end = end + buf.len() as u64;
        let last = first + batch.len() as i64 - 1;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO decided (seq, tenant, transfer_id, event, fiat, decision, rec) \
                     VALUES (?1, ?2, ?3, '', NULL, '', ?4)",
                )
                .map_err(sq)?;
            for ((seq, d), at) in (first..).zip(batch).zip(&offsets) {
                stmt.execute(params![
                    seq,
                    self.tenant.as_str(),
                    d.transfer_id,
                    i64::try_from(*at).unwrap_or(i64::MAX)
                ])
                .map_err(sq)?;
            }
        }
        set_meta(&tx, "log_end", i64::try_from(new_end).unwrap_or(i64::MAX)).map_err(sq)?;
        let unsynced = self.unsynced + buf.len() as u64;
        let synced_now = unsynced >= SYNC_EVERY;
        if synced_now {
            self.log.sync()?;
            set_meta(&tx, "synced_seq", last).map_err(sq)?;
        }
        tx.commit().map_err(sq)?;
        self.unsynced = if synced_now { 0 } else { unsynced };
        if self.buf.capacity() > 4 * SYNC_EVERY as usize {
            self.buf = Vec::new();
        }
        Ok(last)
    }

    fn decisions_page(
        &self,
        skip: u64,
        after: Option<i64>,
        limit: usize,
    ) -> Result<Vec<(i64, Decision)>, MonitorError> {
        let sq = self.sq();
        // `+tenant`: rows in `seq` order straight from the table, as `REPLAY_SQL` (not every
        // row of the tenant found through its id index and then sorted). The first page
        // counts past `skip` rows; the next ones start at a position.
        let (sql, from) = match after {
            None => (
                "SELECT seq, transfer_id, decision, rec FROM decided WHERE +tenant = ?1 \
                 ORDER BY seq LIMIT ?3 OFFSET ?2",
                i64::try_from(skip).unwrap_or(i64::MAX),
            ),
            Some(seq) => (
                "SELECT seq, transfer_id, decision, rec FROM decided WHERE seq > ?2 \
                 AND +tenant = ?1 ORDER BY seq LIMIT ?3",
                seq,
            ),
        };
        let mut stmt = self.conn.prepare_cached(sql).map_err(&sq)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows = stmt.query(params![self.tenant.as_str(), from, limit]).map_err(&sq)?;
        let mut out = Vec::new();
        self.payloads(
            &mut rows,
            |seq, _, _, _, s| {
                let d = serde_json::from_str(s).map_err(|e| MonitorError::Corrupt {
                    path: self.path.clone(),
                    message: format!("decision at position {seq}: {e}"),
                })?;
                out.push((seq, d));
                Ok(())
            },
            [0, 1, usize::MAX, 2, 3],
        )?;
        Ok(out)
    }

    fn location(&self) -> &Path {
        &self.path
    }
}

/// Calls `f` with the JSON of every decision stored in `data_dir`'s `monitor.db` (every
/// tenant's, in decision order), opening it read-only: nothing is migrated, created or
/// repaired (a missing file holds none). For readers beside a running monitor, such as the
/// API's aggregates; a file of schema version 2 or older is read too.
///
/// # Errors
/// [`MonitorError::State`], [`MonitorError::Io`] or [`MonitorError::Corrupt`].
pub fn for_each_stored_decision(
    data_dir: &Path,
    f: &mut dyn FnMut(&str),
) -> Result<(), MonitorError> {
    let path = data_dir.join(MONITOR_DB);
    if !path.is_file() {
        return Ok(());
    }
    let sq = |e| MonitorError::state(&path, e);
    let conn = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(sq)?;
    let with_rec = floodgate_sqlite::version(&conn, &path)? >= 3;
    let sql = if with_rec {
        "SELECT seq, transfer_id, decision, rec FROM decided ORDER BY seq"
    } else {
        "SELECT seq, transfer_id, decision, NULL FROM decided ORDER BY seq"
    };
    let mut stmt = conn.prepare(sql).map_err(sq)?;
    let mut rows = stmt.query([]).map_err(sq)?;
    let log = RecordFile::open_read(data_dir)?;
    read_payloads(
        &mut rows,
        &path,
        log.as_ref(),
        |_, _, _, _, decision| {
            f(decision);
            Ok(())
        },
        [0, 1, usize::MAX, 2, 3],
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The replay after a snapshot reads the rows after its position by their `seq` range: it
    /// neither walks the tenant's whole id index nor sorts, so it costs what it returns, not
    /// what the store holds.
    #[test]
    fn the_replay_after_a_snapshot_reads_a_seq_range() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteMonitorState::open(dir.path(), TenantId::default_tenant()).unwrap();
        let mut stmt = s.conn.prepare(&format!("EXPLAIN QUERY PLAN {REPLAY_SQL}")).unwrap();
        let plan: Vec<String> = stmt
            .query_map(params!["default", 5], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = plan.join("; ");
        assert!(plan.contains("USING INTEGER PRIMARY KEY (rowid>?)"), "{plan}");
        assert!(!plan.contains("B-TREE"), "{plan}");
    }
}
