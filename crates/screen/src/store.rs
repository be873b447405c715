//! The screening store behind a trait: list versions and their entries, the load history,
//! registered subjects, their stored hits and the analysts' suppressions, all of one tenant.
//! [`crate::Screener`] holds the matcher and the screening logic and calls this trait;
//! [`SqliteScreeningStore`] (`screening.db`) is the embedded default.

use std::path::{Path, PathBuf};

use floodgate_types::TenantId;
use rusqlite::{params, Connection, OptionalExtension};
use rustc_hash::FxHashMap;

use crate::error::{Result, ScreenError};
use crate::model::{ListEntity, ListSnapshot};
use crate::screener::{ListInfo, LoadRecord, StoredHit, Subject, Suppression};

/// The screening database's file name inside the data directory.
pub const DB_FILE: &str = "screening.db";

/// The numbered migrations of `screening.db` (`floodgate-sqlite`: the version is in the file).
const MIGRATIONS: &[&str] =
    &[include_str!("../migrations/0001_init.sql"), include_str!("../migrations/0002_tenant.sql")];

/// Columns added after the first release, before versioning, with their definitions: added
/// when missing to a file of version 1 or older, before migration 2 rebuilds those tables.
const ADDED_COLUMNS: &[(&str, &str, &str)] =
    &[("lists", "load_id", "INTEGER"), ("suppressions", "created_by", "TEXT NOT NULL DEFAULT ''")];

/// One stored list entry, as the matcher is rebuilt from it.
#[derive(Debug, Clone)]
pub struct StoredEntity {
    /// The list.
    pub list: String,
    /// The entry's content hash.
    pub hash: String,
    /// The entry.
    pub entity: ListEntity,
}

/// A load to record with the new list version ([`ScreeningStore::replace_list`]).
#[derive(Debug, Clone)]
pub struct NewLoad<'a> {
    /// The version replaced, if any.
    pub previous_version: Option<&'a str>,
    /// When (RFC 3339, UTC).
    pub loaded_at: &'a str,
    /// Who.
    pub loaded_by: &'a str,
    /// Entries before.
    pub entities_before: usize,
    /// Entries added, removed, changed.
    pub added: usize,
    /// Removed.
    pub removed: usize,
    /// Changed.
    pub changed: usize,
    /// Whether shrinking was allowed.
    pub allow_shrink: bool,
    /// The files read, JSON ([`crate::screener::FileDigest`]s).
    pub files_json: &'a str,
}

/// One stored screening result of a subject.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResult {
    /// The list.
    pub list: String,
    /// The entry.
    pub entity_id: String,
    /// The entry's content hash when screened.
    pub entity_hash: String,
    /// The score (1.0 for an address).
    pub score: f64,
}

/// Where one tenant's screening state is kept. Every method acts on the tenant's rows only.
pub trait ScreeningStore {
    /// The tenant.
    fn tenant(&self) -> &TenantId;
    /// The file (or other location) to name in messages.
    fn location(&self) -> &Path;

    /// Every stored entry, by list then in load order (the matcher's input).
    ///
    /// # Errors
    /// A backend failure, or [`ScreenError::Corrupt`].
    fn entities(&self) -> Result<Vec<StoredEntity>>;
    /// The loaded lists, by name.
    ///
    /// # Errors
    /// A backend failure.
    fn lists(&self) -> Result<Vec<ListInfo>>;
    /// `(version, entry count)` of `list`, when loaded.
    ///
    /// # Errors
    /// A backend failure.
    fn list_state(&self, list: &str) -> Result<Option<(String, usize)>>;
    /// Entry id -> content hash of the loaded version of `list`.
    ///
    /// # Errors
    /// A backend failure.
    fn entity_hashes(&self, list: &str) -> Result<FxHashMap<String, String>>;
    /// The content hash of one loaded entry.
    ///
    /// # Errors
    /// A backend failure.
    fn entity_hash(&self, list: &str, entity_id: &str) -> Result<Option<String>>;
    /// Replaces `snap.list`'s entries with `snap`'s (`hashes` in entry order) and records the
    /// load, all or nothing; returns the load's id.
    ///
    /// # Errors
    /// A backend failure; nothing is changed then.
    fn replace_list(
        &mut self,
        snap: &ListSnapshot,
        hashes: &[String],
        load: &NewLoad<'_>,
    ) -> Result<i64>;
    /// The load history, newest first (of `list`, when given).
    ///
    /// # Errors
    /// A backend failure or [`ScreenError::Corrupt`].
    fn history(&self, list: Option<&str>) -> Result<Vec<LoadRecord>>;

    /// The registered subjects, by id.
    ///
    /// # Errors
    /// A backend failure or [`ScreenError::Corrupt`].
    fn subjects(&self) -> Result<Vec<(String, Subject)>>;
    /// Registers (or replaces) a subject.
    ///
    /// # Errors
    /// A backend failure.
    fn put_subject(&mut self, id: &str, subject: &Subject) -> Result<()>;
    /// The stored results of `subject` on `list`: `(entity id, score)`.
    ///
    /// # Errors
    /// A backend failure.
    fn results(&self, subject: &str, list: &str) -> Result<Vec<(String, f64)>>;
    /// Replaces every stored result of `subject`.
    ///
    /// # Errors
    /// A backend failure.
    fn replace_results(&mut self, subject: &str, rows: &[StoredResult], at: &str) -> Result<()>;
    /// Stores one result; returns whether one was stored for that entry before.
    ///
    /// # Errors
    /// A backend failure.
    fn put_result(&mut self, subject: &str, row: &StoredResult, at: &str) -> Result<bool>;
    /// Removes one stored result.
    ///
    /// # Errors
    /// A backend failure.
    fn delete_result(&mut self, subject: &str, list: &str, entity_id: &str) -> Result<()>;
    /// Every stored result with whether it is suppressed.
    ///
    /// # Errors
    /// A backend failure.
    fn stored_hits(&self) -> Result<Vec<StoredHit>>;

    /// The entry hash a suppression of `subject` on this entry was made for.
    ///
    /// # Errors
    /// A backend failure.
    fn suppression_hash(
        &self,
        subject: &str,
        list: &str,
        entity_id: &str,
    ) -> Result<Option<String>>;
    /// Records (or replaces) a suppression and logs it, all or nothing.
    ///
    /// # Errors
    /// A backend failure.
    fn suppress(&mut self, s: &Suppression) -> Result<()>;
    /// Removes a suppression and logs it, all or nothing; returns the entry hash it was made
    /// for, or `None` (nothing changed) when there was none.
    ///
    /// # Errors
    /// A backend failure.
    fn unsuppress(
        &mut self,
        subject: &str,
        list: &str,
        entity_id: &str,
        reason: &str,
        by: &str,
        at: &str,
    ) -> Result<Option<String>>;
    /// Every suppression, with whether it is in force.
    ///
    /// # Errors
    /// A backend failure.
    fn suppressions(&self) -> Result<Vec<Suppression>>;
}

/// `screening.db` in a data directory (SQLite, WAL).
pub struct SqliteScreeningStore {
    db: Connection,
    path: PathBuf,
    tenant: TenantId,
}

impl std::fmt::Debug for SqliteScreeningStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteScreeningStore")
            .field("path", &self.path)
            .field("tenant", &self.tenant)
            .finish()
    }
}

fn db_err(path: &Path) -> impl Fn(rusqlite::Error) -> ScreenError + '_ {
    move |e| ScreenError::Db { path: path.to_path_buf(), source: e.into() }
}

impl SqliteScreeningStore {
    /// Opens (or creates, and migrates) `screening.db` in `data_dir` for `tenant`.
    ///
    /// # Errors
    /// [`ScreenError::Db`], or [`ScreenError::Schema`] for a file from a newer floodgate
    /// (left unchanged).
    pub fn open(data_dir: &Path, tenant: TenantId) -> Result<SqliteScreeningStore> {
        std::fs::create_dir_all(data_dir).map_err(|e| ScreenError::io(data_dir, e))?;
        let path = data_dir.join(DB_FILE);
        let mut db = Connection::open(&path).map_err(db_err(&path))?;
        db.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
            .map_err(db_err(&path))?;
        // Files from before versioning, and every version-1 file, may lack columns added
        // before versioning; migration 2 copies them, so they are added first.
        let found = floodgate_sqlite::version(&db, &path)?;
        if found < 2 {
            if found < 1 {
                floodgate_sqlite::migrate(&mut db, &path, &MIGRATIONS[..1])?;
            }
            let add_missing = || -> rusqlite::Result<()> {
                for (table, col, def) in ADDED_COLUMNS {
                    let n: i64 = db.query_row(
                        "SELECT COUNT(*) FROM pragma_table_info(?1) WHERE name = ?2",
                        params![table, col],
                        |r| r.get(0),
                    )?;
                    if n == 0 {
                        db.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {col} {def}"))?;
                    }
                }
                Ok(())
            };
            add_missing().map_err(db_err(&path))?;
        }
        floodgate_sqlite::migrate(&mut db, &path, MIGRATIONS)?;
        Ok(SqliteScreeningStore { db, path, tenant })
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> ScreenError + '_ {
        db_err(&self.path)
    }

    fn t(&self) -> &str {
        self.tenant.as_str()
    }
}

impl ScreeningStore for SqliteScreeningStore {
    fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    fn location(&self) -> &Path {
        &self.path
    }

    fn entities(&self) -> Result<Vec<StoredEntity>> {
        let mut stmt = self
            .db
            .prepare("SELECT list, hash, json FROM entities WHERE tenant = ?1 ORDER BY list, rowid")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([self.t()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
            })
            .map_err(self.err())?;
        let mut out = Vec::new();
        for row in rows {
            let (list, hash, json) = row.map_err(self.err())?;
            let entity: ListEntity =
                serde_json::from_str(&json).map_err(|e| ScreenError::Corrupt {
                    path: self.path.clone(),
                    reason: format!("entity of list {list}: {e}"),
                })?;
            out.push(StoredEntity { list, hash, entity });
        }
        Ok(out)
    }

    fn lists(&self) -> Result<Vec<ListInfo>> {
        let mut stmt = self
            .db
            .prepare(
                "SELECT list, version, source, loaded_at, entities, load_id FROM lists \
                 WHERE tenant = ?1 ORDER BY list",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([self.t()], |r| {
                Ok(ListInfo {
                    list: r.get(0)?,
                    version: r.get(1)?,
                    source: r.get(2)?,
                    loaded_at: r.get(3)?,
                    entities: usize::try_from(r.get::<_, i64>(4)?).unwrap_or(0),
                    load_id: r.get(5)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<std::result::Result<Vec<_>, _>>().map_err(self.err())
    }

    fn list_state(&self, list: &str) -> Result<Option<(String, usize)>> {
        self.db
            .query_row(
                "SELECT version, entities FROM lists WHERE tenant = ?1 AND list = ?2",
                [self.t(), list],
                |r| Ok((r.get::<_, String>(0)?, usize::try_from(r.get::<_, i64>(1)?).unwrap_or(0))),
            )
            .optional()
            .map_err(self.err())
    }

    fn entity_hashes(&self, list: &str) -> Result<FxHashMap<String, String>> {
        let mut stmt = self
            .db
            .prepare("SELECT entity_id, hash FROM entities WHERE tenant = ?1 AND list = ?2")
            .map_err(self.err())?;
        let rows =
            stmt.query_map([self.t(), list], |r| Ok((r.get(0)?, r.get(1)?))).map_err(self.err())?;
        rows.collect::<std::result::Result<_, _>>().map_err(self.err())
    }

    fn entity_hash(&self, list: &str, entity_id: &str) -> Result<Option<String>> {
        self.db
            .query_row(
                "SELECT hash FROM entities WHERE tenant = ?1 AND list = ?2 AND entity_id = ?3",
                params![self.t(), list, entity_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    fn replace_list(
        &mut self,
        snap: &ListSnapshot,
        hashes: &[String],
        load: &NewLoad<'_>,
    ) -> Result<i64> {
        let path = self.path.clone();
        let err = db_err(&path);
        let tenant = self.tenant.as_str().to_owned();
        let tx = self.db.transaction().map_err(&err)?;
        tx.execute("DELETE FROM entities WHERE tenant = ?1 AND list = ?2", [&tenant, &snap.list])
            .map_err(&err)?;
        {
            let mut ins = tx
                .prepare(
                    "INSERT OR REPLACE INTO entities (tenant, list, entity_id, hash, json) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(&err)?;
            for (e, h) in snap.entities.iter().zip(hashes) {
                let json = serde_json::to_string(e).map_err(|e| ScreenError::Corrupt {
                    path: path.clone(),
                    reason: format!("entity of list {}: {e}", snap.list),
                })?;
                ins.execute(params![tenant, snap.list, e.id, h, json]).map_err(&err)?;
            }
        }
        tx.execute(
            "INSERT INTO list_loads (tenant, list, version, previous_version, loaded_at, loaded_by, entities_before, entities_after, added, removed, changed, allow_shrink, files) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                tenant,
                snap.list,
                snap.version,
                load.previous_version,
                load.loaded_at,
                load.loaded_by,
                load.entities_before as i64,
                snap.entities.len() as i64,
                load.added as i64,
                load.removed as i64,
                load.changed as i64,
                load.allow_shrink,
                load.files_json
            ],
        )
        .map_err(&err)?;
        let load_id = tx.last_insert_rowid();
        tx.execute(
            "INSERT OR REPLACE INTO lists (tenant, list, version, source, loaded_at, entities, load_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                tenant,
                snap.list,
                snap.version,
                snap.source,
                load.loaded_at,
                snap.entities.len() as i64,
                load_id
            ],
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(load_id)
    }

    fn history(&self, list: Option<&str>) -> Result<Vec<LoadRecord>> {
        let mut stmt = self
            .db
            .prepare(
                "SELECT load_id, list, version, previous_version, loaded_at, loaded_by, entities_before, entities_after, added, removed, changed, allow_shrink, files FROM list_loads WHERE tenant = ?2 AND (?1 IS NULL OR list = ?1) ORDER BY load_id DESC",
            )
            .map_err(self.err())?;
        let n = |v: i64| usize::try_from(v).unwrap_or(0);
        let rows = stmt
            .query_map(params![list, self.t()], |r| {
                Ok((
                    LoadRecord {
                        load_id: r.get(0)?,
                        list: r.get(1)?,
                        version: r.get(2)?,
                        previous_version: r.get(3)?,
                        loaded_at: r.get(4)?,
                        loaded_by: r.get(5)?,
                        entities_before: n(r.get(6)?),
                        entities_after: n(r.get(7)?),
                        added: n(r.get(8)?),
                        removed: n(r.get(9)?),
                        changed: n(r.get(10)?),
                        allow_shrink: r.get(11)?,
                        files: Vec::new(),
                    },
                    r.get::<_, String>(12)?,
                ))
            })
            .map_err(self.err())?;
        let mut out = Vec::new();
        for row in rows {
            let (mut rec, files) = row.map_err(self.err())?;
            rec.files = serde_json::from_str(&files).map_err(|e| ScreenError::Corrupt {
                path: self.path.clone(),
                reason: format!("files of load {}: {e}", rec.load_id),
            })?;
            out.push(rec);
        }
        Ok(out)
    }

    fn subjects(&self) -> Result<Vec<(String, Subject)>> {
        let mut stmt = self
            .db
            .prepare("SELECT subject, json FROM subjects WHERE tenant = ?1 ORDER BY subject")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([self.t()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(self.err())?;
        let mut out = Vec::new();
        for r in rows {
            let (id, json) = r.map_err(self.err())?;
            let s = serde_json::from_str(&json).map_err(|e| ScreenError::Corrupt {
                path: self.path.clone(),
                reason: format!("subject {id}: {e}"),
            })?;
            out.push((id, s));
        }
        Ok(out)
    }

    fn put_subject(&mut self, id: &str, subject: &Subject) -> Result<()> {
        let json = serde_json::to_string(subject).map_err(|e| ScreenError::Corrupt {
            path: self.path.clone(),
            reason: format!("subject {id}: {e}"),
        })?;
        self.db
            .execute(
                "INSERT OR REPLACE INTO subjects (tenant, subject, json) VALUES (?1, ?2, ?3)",
                params![self.t(), id, json],
            )
            .map_err(self.err())?;
        Ok(())
    }

    fn results(&self, subject: &str, list: &str) -> Result<Vec<(String, f64)>> {
        let mut stmt = self
            .db
            .prepare(
                "SELECT entity_id, score FROM results WHERE tenant = ?1 AND subject = ?2 AND list = ?3",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![self.t(), subject, list], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?;
        rows.collect::<std::result::Result<_, _>>().map_err(self.err())
    }

    fn replace_results(&mut self, subject: &str, rows: &[StoredResult], at: &str) -> Result<()> {
        self.db
            .execute(
                "DELETE FROM results WHERE tenant = ?1 AND subject = ?2",
                [self.tenant.as_str(), subject],
            )
            .map_err(db_err(&self.path))?;
        for r in rows {
            self.put_result(subject, r, at)?;
        }
        Ok(())
    }

    fn put_result(&mut self, subject: &str, row: &StoredResult, at: &str) -> Result<bool> {
        let existed = self
            .db
            .query_row(
                "SELECT 1 FROM results WHERE tenant = ?1 AND subject = ?2 AND list = ?3 AND entity_id = ?4",
                params![self.t(), subject, row.list, row.entity_id],
                |_| Ok(()),
            )
            .optional()
            .map_err(self.err())?
            .is_some();
        self.db
            .execute(
                "INSERT OR REPLACE INTO results (tenant, subject, list, entity_id, entity_hash, score, screened_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![self.t(), subject, row.list, row.entity_id, row.entity_hash, row.score, at],
            )
            .map_err(self.err())?;
        Ok(existed)
    }

    fn delete_result(&mut self, subject: &str, list: &str, entity_id: &str) -> Result<()> {
        self.db
            .execute(
                "DELETE FROM results WHERE tenant = ?1 AND subject = ?2 AND list = ?3 AND entity_id = ?4",
                params![self.t(), subject, list, entity_id],
            )
            .map_err(self.err())?;
        Ok(())
    }

    fn stored_hits(&self) -> Result<Vec<StoredHit>> {
        let mut stmt = self
            .db
            .prepare(
                "SELECT r.subject, r.list, r.entity_id, r.entity_hash, r.score, r.screened_at, \
                 s.entity_hash IS NOT NULL AND s.entity_hash = r.entity_hash \
                 FROM results r LEFT JOIN suppressions s \
                 ON s.tenant = r.tenant AND s.subject = r.subject AND s.list = r.list \
                 AND s.entity_id = r.entity_id \
                 WHERE r.tenant = ?1 \
                 ORDER BY r.subject, r.list, r.entity_id",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([self.t()], |r| {
                Ok(StoredHit {
                    subject: r.get(0)?,
                    list: r.get(1)?,
                    entity_id: r.get(2)?,
                    entity_hash: r.get(3)?,
                    score: r.get(4)?,
                    screened_at: r.get(5)?,
                    suppressed: r.get(6)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(self.err())
    }

    fn suppression_hash(
        &self,
        subject: &str,
        list: &str,
        entity_id: &str,
    ) -> Result<Option<String>> {
        self.db
            .query_row(
                "SELECT entity_hash FROM suppressions WHERE tenant = ?1 AND subject = ?2 AND list = ?3 AND entity_id = ?4",
                params![self.t(), subject, list, entity_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    fn suppress(&mut self, s: &Suppression) -> Result<()> {
        let path = self.path.clone();
        let err = db_err(&path);
        let tenant = self.tenant.as_str().to_owned();
        let tx = self.db.transaction().map_err(&err)?;
        tx.execute(
            "INSERT OR REPLACE INTO suppressions (tenant, subject, list, entity_id, entity_hash, reason, created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![tenant, s.subject, s.list, s.entity_id, s.entity_hash, s.reason, s.created_at, s.created_by],
        )
        .map_err(&err)?;
        tx.execute(
            "INSERT INTO suppression_log (tenant, action, subject, list, entity_id, entity_hash, reason, by, at) VALUES (?1, 'suppress', ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![tenant, s.subject, s.list, s.entity_id, s.entity_hash, s.reason, s.created_by, s.created_at],
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)
    }

    fn unsuppress(
        &mut self,
        subject: &str,
        list: &str,
        entity_id: &str,
        reason: &str,
        by: &str,
        at: &str,
    ) -> Result<Option<String>> {
        let path = self.path.clone();
        let err = db_err(&path);
        let tenant = self.tenant.as_str().to_owned();
        let tx = self.db.transaction().map_err(&err)?;
        let hash: Option<String> = tx
            .query_row(
                "SELECT entity_hash FROM suppressions WHERE tenant = ?1 AND subject = ?2 AND list = ?3 AND entity_id = ?4",
                params![tenant, subject, list, entity_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(&err)?;
        let Some(hash) = hash else { return Ok(None) };
        tx.execute(
            "DELETE FROM suppressions WHERE tenant = ?1 AND subject = ?2 AND list = ?3 AND entity_id = ?4",
            params![tenant, subject, list, entity_id],
        )
        .map_err(&err)?;
        tx.execute(
            "INSERT INTO suppression_log (tenant, action, subject, list, entity_id, entity_hash, reason, by, at) VALUES (?1, 'unsuppress', ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![tenant, subject, list, entity_id, hash, reason, by, at],
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(Some(hash))
    }

    fn suppressions(&self) -> Result<Vec<Suppression>> {
        let mut stmt = self
            .db
            .prepare(
                "SELECT s.subject, s.list, s.entity_id, s.entity_hash, e.hash IS NOT NULL AND e.hash = s.entity_hash, s.reason, s.created_by, s.created_at FROM suppressions s LEFT JOIN entities e ON e.tenant = s.tenant AND e.list = s.list AND e.entity_id = s.entity_id WHERE s.tenant = ?1 ORDER BY s.created_at, s.subject",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([self.t()], |r| {
                Ok(Suppression {
                    subject: r.get(0)?,
                    list: r.get(1)?,
                    entity_id: r.get(2)?,
                    entity_hash: r.get(3)?,
                    in_force: r.get(4)?,
                    reason: r.get(5)?,
                    created_by: r.get(6)?,
                    created_at: r.get(7)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<std::result::Result<Vec<_>, _>>().map_err(self.err())
    }
}
