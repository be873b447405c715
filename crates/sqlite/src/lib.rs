//! One schema-versioning approach for every embedded SQLite database of a data directory
//! (`transfers.db`, `screening.db`, `monitor.db`; `cases.db` follows the same rule with its own
//! PostgreSQL twin in `floodgate-cases`):
//!
//! - a crate's schema is a list of numbered migrations (`migrations/0001_init.sql`, …), applied
//!   in order; migration `n` brings the file to version `n`;
//! - the version lives in the file itself (SQLite's `PRAGMA user_version`, part of the database
//!   header and so written in the same transaction as the migration: a crash leaves the old
//!   version and none of the new migration);
//! - a file whose version is newer than the binary knows is refused with a message that says
//!   so, and nothing in it is changed.
//! - each step takes the write lock and re-reads the version under it, so two processes that
//!   open a new file at the same moment never apply a step twice.
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("example.db");
//! let mut conn = rusqlite::Connection::open(&path)?;
//! const MIGRATIONS: &[&str] = &["CREATE TABLE t (x INTEGER);", "ALTER TABLE t ADD COLUMN y TEXT;"];
//! assert_eq!(floodgate_sqlite::migrate(&mut conn, &path, MIGRATIONS)?, 2);
//! assert_eq!(floodgate_sqlite::migrate(&mut conn, &path, MIGRATIONS)?, 2, "applied once");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};

use rusqlite::Connection;

/// A failure reported by SQLite. The stores wrap it in their own error together with the
/// file it happened in; `rusqlite` stays an implementation detail of the SQLite backends and
/// out of every public error type. Its message and source are SQLite's own.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct SqliteError(#[from] rusqlite::Error);

impl SqliteError {
    /// Whether SQLite refused because another connection holds the lock (`SQLITE_BUSY`).
    pub fn is_busy(&self) -> bool {
        matches!(self.0.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy))
    }
}

/// Why a database could not be brought to the binary's schema.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrateError {
    /// The file was written by a newer floodgate.
    #[error(
        "{} has schema version {found}, newer than this floodgate reads (up to {supported}): \
         it was written by a newer release; upgrade floodgate (the file is left unchanged)",
        path.display()
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// The newest this binary knows.
        supported: i64,
    },
    /// A migration (or reading the version) failed; the file keeps its previous version.
    #[error("{}: migration to schema version {version}: {source}", path.display())]
    Failed {
        /// The database file.
        path: PathBuf,
        /// The version the failed migration was to reach (0: reading the version).
        version: i64,
        /// The cause.
        #[source]
        source: SqliteError,
    },
    /// A new file could not be put in place (an I/O failure in its directory).
    #[error("{}: creating the database: {source}", path.display())]
    Create {
        /// The database file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The schema version stored in the file (0 for a new or unversioned file).
///
/// # Errors
/// [`MigrateError::Failed`] when the header cannot be read.
pub fn version(conn: &Connection, path: &Path) -> Result<i64, MigrateError> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| MigrateError::Failed {
        path: path.to_path_buf(),
        version: 0,
        source: e.into(),
    })
}

/// Applies the migrations newer than the file's version, each in its own transaction together
/// with its version; returns the version reached (`migrations.len()`). A file newer than
/// `migrations.len()` is refused unchanged. A migration must be written so that it also
/// succeeds on a file created before versioning existed (`CREATE TABLE IF NOT EXISTS …`):
/// such a file has version 0.
///
/// # Errors
/// [`MigrateError::TooNew`], or [`MigrateError::Failed`] naming the migration (the file keeps
/// the version before it).
pub fn migrate(
    conn: &mut Connection,
    path: &Path,
    migrations: &[&str],
) -> Result<i64, MigrateError> {
    let found = version(conn, path)?;
    migrate_from(conn, path, migrations, found)
}

/// [`migrate`] from the version `found` read before (possibly stale: another process may have
/// migrated since).
fn migrate_from(
    conn: &mut Connection,
    path: &Path,
    migrations: &[&str],
    found: i64,
) -> Result<i64, MigrateError> {
    let supported = i64::try_from(migrations.len()).unwrap_or(i64::MAX);
    if found > supported {
        return Err(MigrateError::TooNew { path: path.to_path_buf(), found, supported });
    }
    for (v, sql) in (1..).zip(migrations).skip(usize::try_from(found).unwrap_or(0)) {
        let failed = |e: rusqlite::Error| MigrateError::Failed {
            path: path.to_path_buf(),
            version: v,
            source: e.into(),
        };
        // Each step takes the write lock first and re-reads the version under it: another
        // process opening the same new file at the same moment may have applied this step
        // already, and a step that is not idempotent (a table rebuilt, a column added) must
        // not run twice.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(failed)?;
        let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(failed)?;
        if now > supported {
            return Err(MigrateError::TooNew { path: path.to_path_buf(), found: now, supported });
        }
        if now >= v {
            continue;
        }
        tx.execute_batch(sql).map_err(failed)?;
        tx.pragma_update(None, "user_version", v).map_err(failed)?;
        tx.commit().map_err(failed)?;
        tracing::debug!(target: "floodgate::sqlite", path = %path.display(), version = v, "migrated");
    }
    Ok(supported)
}

/// How [`create_whole`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// This call created the file.
    New,
    /// The file existed (or another process created it meanwhile); it was left as it is.
    Existed,
    /// The file system cannot link files: nothing was done, and the caller creates the file
    /// in place.
    Unsupported,
}

/// Creates the database `path`, unless it exists, whole or not at all and with one sync of
/// the file: `setup` writes the schema into a temporary file beside it, without a journal and
/// without syncs (no other process knows that file), the file is switched to WAL, synced, and
/// linked under `path` (a link never replaces a file: when another process created `path`
/// meanwhile, its file is the one used), and the directory is synced. A new file opened in
/// place instead converts itself to WAL through a rollback journal: four syncs and a journal
/// file created and deleted, which cost a fresh store more than ingesting three blocks.
///
/// # Errors
/// [`MigrateError::Failed`] when `setup` or SQLite fails, [`MigrateError::Create`] when the
/// file cannot be synced or linked; `path` is not created then.
pub fn create_whole(
    path: &Path,
    setup: impl FnOnce(&Connection) -> rusqlite::Result<()>,
) -> Result<Created, MigrateError> {
    if path.exists() {
        return Ok(Created::Existed);
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!("{name}.new-{}-{nanos}", std::process::id()));
    let made = build(&tmp, setup).and_then(|wal| {
        if !wal {
            return Ok(Created::Unsupported);
        }
        let io = |source| MigrateError::Create { path: tmp.clone(), source };
        std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(io)?;
        match std::fs::hard_link(&tmp, path) {
            Ok(()) => Ok(Created::New),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(Created::Existed),
            Err(e) => {
                tracing::debug!(error = %e, path = %path.display(), "cannot link a new database into place; creating it in place");
                Ok(Created::Unsupported)
            }
        }
    });
    // The temporary name goes whatever happened; the linked name keeps the file.
    let _ = std::fs::remove_file(&tmp);
    let made = made?;
    if made == Created::New {
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|source| MigrateError::Create { path: path.to_path_buf(), source })?;
    }
    Ok(made)
}

/// Writes a new database at `tmp`: no journal, no syncs, `setup`, then WAL mode in its header
/// (false when the file system refuses WAL mode).
fn build(
    tmp: &Path,
    setup: impl FnOnce(&Connection) -> rusqlite::Result<()>,
) -> Result<bool, MigrateError> {
    let failed = |e: rusqlite::Error| MigrateError::Failed {
        path: tmp.to_path_buf(),
        version: 0,
        source: e.into(),
    };
    let conn = Connection::open(tmp).map_err(failed)?;
    conn.pragma_update(None, "journal_mode", "OFF").map_err(failed)?;
    conn.pragma_update(None, "synchronous", "OFF").map_err(failed)?;
    conn.execute_batch("BEGIN").map_err(failed)?;
    setup(&conn).map_err(failed)?;
    conn.execute_batch("COMMIT").map_err(failed)?;
    let mode: String =
        conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(failed)?;
    conn.close().map_err(|(_, e)| failed(e))?;
    Ok(mode.eq_ignore_ascii_case("wal"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const V1: &str = "CREATE TABLE IF NOT EXISTS t (x INTEGER NOT NULL);";
    const V2: &str = "ALTER TABLE t ADD COLUMN y TEXT;";

    fn open(dir: &Path) -> (Connection, PathBuf) {
        let p = dir.join("t.db");
        (Connection::open(&p).unwrap(), p)
    }

    #[test]
    fn a_new_file_gets_every_migration_once() {
        let d = tempfile::tempdir().unwrap();
        let (mut c, p) = open(d.path());
        assert_eq!(migrate(&mut c, &p, &[V1]).unwrap(), 1);
        c.execute("INSERT INTO t (x) VALUES (1)", []).unwrap();
        assert_eq!(migrate(&mut c, &p, &[V1, V2]).unwrap(), 2, "the newer binary adds v2");
        assert_eq!(migrate(&mut c, &p, &[V1, V2]).unwrap(), 2, "and nothing twice");
        let y: Option<String> = c.query_row("SELECT y FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(y, None);
        assert_eq!(version(&c, &p).unwrap(), 2);
    }

    #[test]
    fn a_file_from_before_versioning_is_version_zero_and_keeps_its_rows() {
        let d = tempfile::tempdir().unwrap();
        let (mut c, p) = open(d.path());
        c.execute_batch("CREATE TABLE t (x INTEGER NOT NULL); INSERT INTO t VALUES (7);").unwrap();
        assert_eq!(version(&c, &p).unwrap(), 0);
        assert_eq!(migrate(&mut c, &p, &[V1]).unwrap(), 1);
        let x: i64 = c.query_row("SELECT x FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(x, 7);
    }

    #[test]
    fn a_step_another_connection_applied_meanwhile_is_not_applied_again() {
        let d = tempfile::tempdir().unwrap();
        let (mut a, p) = open(d.path());
        let mut b = Connection::open(&p).unwrap();
        migrate(&mut a, &p, &[V1]).unwrap();
        // `b` read version 1 (as a racing open does) before `a` applied V2, which adds a
        // column and fails when run twice.
        let stale = version(&b, &p).unwrap();
        assert_eq!(stale, 1);
        migrate(&mut a, &p, &[V1, V2]).unwrap();
        assert_eq!(migrate_from(&mut b, &p, &[V1, V2], stale).unwrap(), 2);
        assert_eq!(version(&b, &p).unwrap(), 2);
    }

    #[test]
    fn a_newer_file_is_refused_unchanged() {
        let d = tempfile::tempdir().unwrap();
        let (mut c, p) = open(d.path());
        migrate(&mut c, &p, &[V1, V2]).unwrap();
        let e = migrate(&mut c, &p, &[V1]).unwrap_err();
        assert!(matches!(e, MigrateError::TooNew { found: 2, supported: 1, .. }), "{e}");
        assert!(e.to_string().contains("upgrade floodgate"), "{e}");
        assert!(e.to_string().contains("t.db"), "{e}");
        assert_eq!(version(&c, &p).unwrap(), 2);
    }

    #[test]
    fn a_failed_migration_leaves_the_previous_version_and_schema() {
        let d = tempfile::tempdir().unwrap();
        let (mut c, p) = open(d.path());
        migrate(&mut c, &p, &[V1]).unwrap();
        let bad = "CREATE TABLE u (a INTEGER); THIS IS NOT SQL;";
        let e = migrate(&mut c, &p, &[V1, bad]).unwrap_err();
        assert!(matches!(e, MigrateError::Failed { version: 2, .. }), "{e}");
        assert_eq!(version(&c, &p).unwrap(), 1);
        let u: i64 = c
            .query_row("SELECT COUNT(*) FROM sqlite_master WHERE name = 'u'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(u, 0, "the failed migration's first statement is rolled back too");
    }

    /// The files in `dir`, by name.
    fn names(dir: &Path) -> Vec<String> {
        let mut n: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    }

    #[test]
    fn a_whole_new_file_has_its_schema_in_wal_mode_and_no_temporary_file_stays() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.db");
        let setup = |c: &Connection| {
            c.execute_batch(V1)?;
            c.execute("INSERT INTO t (x) VALUES (5)", []).map(drop)
        };
        assert_eq!(create_whole(&p, setup).unwrap(), Created::New);
        assert_eq!(names(d.path()), ["t.db"]);
        let c = Connection::open(&p).unwrap();
        let mode: String = c.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        let x: i64 = c.query_row("SELECT x FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(x, 5);
        // An existing file is left as it is: its row stays, the setup is not run.
        let again = |c: &Connection| c.execute_batch("DROP TABLE t");
        assert_eq!(create_whole(&p, again).unwrap(), Created::Existed);
        let x: i64 = c.query_row("SELECT x FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(x, 5);
    }

    #[test]
    fn a_failed_setup_leaves_no_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.db");
        let e = create_whole(&p, |c| c.execute_batch("CREATE TABLE t (x); NOT SQL;")).unwrap_err();
        assert!(matches!(e, MigrateError::Failed { version: 0, .. }), "{e}");
        assert!(names(d.path()).is_empty(), "{:?}", names(d.path()));
    }

    #[test]
    fn a_file_created_meanwhile_by_another_process_wins() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.db");
        // The other process links its file while this setup runs.
        let racing = |c: &Connection| {
            let other = Connection::open(&p).unwrap();
            other.execute_batch("CREATE TABLE theirs (z INTEGER)").unwrap();
            c.execute_batch(V1)
        };
        assert_eq!(create_whole(&p, racing).unwrap(), Created::Existed);
        assert_eq!(names(d.path()), ["t.db"]);
        let c = Connection::open(&p).unwrap();
        let tables: Vec<String> = c
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(tables, ["theirs"]);
    }
}
