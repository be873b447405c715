//! The persisted monitor state behind a trait: the decided transfers of one tenant, in
//! decision order, from which [`crate::monitor::Monitor`] rebuilds its window state by replay.
//! [`SqliteMonitorState`] (`monitor.db`) is the embedded default.

use std::path::{Path, PathBuf};

use floodgate_types::TenantId;
use rusqlite::{params, Connection};

use crate::decision::Decision;
use crate::error::MonitorError;
use crate::fiat::FiatValue;
use crate::input::MonitorEvent;

/// File name of the monitor state inside the data directory.
pub const MONITOR_DB: &str = "monitor.db";

/// The numbered migrations of `monitor.db` (`floodgate-sqlite`: the version is in the file).
const MIGRATIONS: &[&str] =
    &[include_str!("../migrations/0001_init.sql"), include_str!("../migrations/0002_tenant.sql")];

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

/// `monitor.db` in a data directory: SQLite in WAL mode, one transaction per batch.
pub struct SqliteMonitorState {
    conn: Connection,
    path: PathBuf,
    tenant: TenantId,
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
const REPLAY_SQL: &str = "SELECT seq, transfer_id, event, fiat FROM decided \
     WHERE seq > ?2 AND +tenant = ?1 ORDER BY seq";

impl SqliteMonitorState {
    /// Opens (creating, and migrating to this build's schema) `monitor.db` in `data_dir`, for
    /// `tenant`.
    ///
    /// # Errors
    /// [`MonitorError::Io`], [`MonitorError::State`] or [`MonitorError::Schema`] (a file from
    /// a newer floodgate is refused unchanged).
    pub fn open(data_dir: &Path, tenant: TenantId) -> Result<SqliteMonitorState, MonitorError> {
        std::fs::create_dir_all(data_dir).map_err(|e| MonitorError::io(data_dir, e))?;
        let path = data_dir.join(MONITOR_DB);
        let sq = |e| MonitorError::state(&path, e);
        let mut conn = Connection::open(&path).map_err(sq)?;
        // 16 KiB pages for a new file (an existing one keeps its size): a decided row (event
        // and decision JSON) is often 1-3 KB, more than a 4 KiB page keeps in the b-tree, so
        // it spilled to overflow pages.
        conn.pragma_update(None, "page_size", 16_384).map_err(sq)?;
        // WAL + synchronous=NORMAL: a committed transaction survives a killed process.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sq)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(sq)?;
        // Group commits append ~1 MB per group: checkpoint the WAL into the file every 64 MiB
        // rather than SQLite's 4 MiB (each checkpoint syncs both files), and keep the id
        // index's pages in a 64 MiB cache rather than 2 MiB, so a commit does not read them
        // back (docs/adr/0003-durable-monitor-path.md).
        conn.pragma_update(None, "wal_autocheckpoint", 16_384).map_err(sq)?;
        conn.pragma_update(None, "cache_size", -65_536).map_err(sq)?;
        floodgate_sqlite::migrate(&mut conn, &path, MIGRATIONS)?;
        Ok(SqliteMonitorState { conn, path, tenant })
    }

    fn sq(&self) -> impl Fn(rusqlite::Error) -> MonitorError + '_ {
        move |e| MonitorError::state(&self.path, e)
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
        while let Some(r) = rows.next().map_err(&sq)? {
            let seq: i64 = r.get(0).map_err(&sq)?;
            let id: String = r.get(1).map_err(&sq)?;
            let ev: String = r.get(2).map_err(&sq)?;
            let fiat: Option<String> = r.get(3).map_err(&sq)?;
            let corrupt = |what: &str, e: serde_json::Error| MonitorError::Corrupt {
                path: self.path.clone(),
                message: format!("transfer '{id}': {what}: {e}"),
            };
            let ev: MonitorEvent = serde_json::from_str(&ev).map_err(|e| corrupt("event", e))?;
            let fiat: Option<FiatValue> = match fiat {
                Some(f) => Some(serde_json::from_str(&f).map_err(|e| corrupt("fiat", e))?),
                None => None,
            };
            f(seq, id, ev, fiat);
        }
        Ok(())
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
        let path = self.path.clone();
        let sq = |e| MonitorError::state(&path, e);
        let tx = self.conn.transaction().map_err(sq)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO decided (tenant, transfer_id, event, fiat, decision) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(sq)?;
            for d in batch {
                stmt.execute(params![
                    self.tenant.as_str(),
                    d.transfer_id,
                    d.event,
                    d.fiat,
                    d.decision
                ])
                .map_err(sq)?;
            }
        }
        let last = tx.last_insert_rowid();
        tx.commit().map_err(sq)?;
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
                "SELECT seq, decision FROM decided WHERE +tenant = ?1 ORDER BY seq \
                 LIMIT ?3 OFFSET ?2",
                i64::try_from(skip).unwrap_or(i64::MAX),
            ),
            Some(seq) => (
                "SELECT seq, decision FROM decided WHERE seq > ?2 AND +tenant = ?1 \
                 ORDER BY seq LIMIT ?3",
                seq,
            ),
        };
        let mut stmt = self.conn.prepare_cached(sql).map_err(&sq)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows = stmt.query(params![self.tenant.as_str(), from, limit]).map_err(&sq)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(&sq)? {
            let seq: i64 = r.get(0).map_err(&sq)?;
            let s: String = r.get(1).map_err(&sq)?;
            let d = serde_json::from_str(&s).map_err(|e| MonitorError::Corrupt {
                path: self.path.clone(),
                message: format!("decision at position {seq}: {e}"),
            })?;
            out.push((seq, d));
        }
        Ok(out)
    }

    fn location(&self) -> &Path {
        &self.path
    }
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
