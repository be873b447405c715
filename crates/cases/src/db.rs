//! The two databases behind one small interface: statements with `?` placeholders run in a
//! transaction. The case logic (`store.rs`) is written once over [`Backend`]; SQLite and
//! PostgreSQL differ only in their connection, their migrations and their placeholders.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{CasesError, Result};

/// A value bound to or read from a statement. Text is borrowed where the caller holds it (an
/// alert batch binds every row's evidence, which a copy per value would double) and owned in
/// rows read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val<'a> {
    /// NULL.
    Null,
    /// An integer.
    Int(i64),
    /// Text.
    Text(Cow<'a, str>),
}

impl Val<'_> {
    pub(crate) fn int(&self) -> Option<i64> {
        match self {
            Val::Int(i) => Some(*i),
            _ => None,
        }
    }
    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            Val::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl From<i64> for Val<'_> {
    fn from(v: i64) -> Self {
        Val::Int(v)
    }
}
impl<'a> From<&'a str> for Val<'a> {
    fn from(v: &'a str) -> Self {
        Val::Text(Cow::Borrowed(v))
    }
}
impl From<String> for Val<'_> {
    fn from(v: String) -> Self {
        Val::Text(Cow::Owned(v))
    }
}
impl<'a> From<&'a String> for Val<'a> {
    fn from(v: &'a String) -> Self {
        Val::Text(Cow::Borrowed(v))
    }
}
impl<'a, T: Into<Val<'a>>> From<Option<T>> for Val<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Val::Null, Into::into)
    }
}

/// A row read back.
pub type Row = Vec<Val<'static>>;

/// Statements inside one transaction.
pub trait Tx {
    /// Runs a statement; returns the rows changed.
    ///
    /// # Errors
    /// [`CasesError::Db`].
    fn exec(&mut self, sql: &str, params: &[Val<'_>]) -> Result<u64>;
    /// Runs a query; returns every row.
    ///
    /// # Errors
    /// [`CasesError::Db`].
    fn query(&mut self, sql: &str, params: &[Val<'_>]) -> Result<Vec<Row>>;
    /// Runs `sql` once per run of `width` values of `params` (one row each, in order); returns
    /// the rows changed. SQLite prepares the statement once for them all instead of looking
    /// it up in the statement cache per row.
    ///
    /// # Errors
    /// [`CasesError::Db`].
    fn exec_each(&mut self, sql: &str, params: &[Val<'_>], width: usize) -> Result<u64> {
        let mut n = 0;
        for row in params.chunks(width.max(1)) {
            n += self.exec(sql, row)?;
        }
        Ok(n)
    }
    /// Whether the database runs inside this process (SQLite): a statement is a library
    /// call, so many one-row statements cost less than one that changes many rows (which
    /// SQLite backs with a statement journal). PostgreSQL: a statement is a round trip.
    fn embedded(&self) -> bool;
}

/// A database the case store runs on.
pub trait Backend: Send {
    /// The database's name for messages (file path, or URL without password).
    fn label(&self) -> &str;
    /// Runs `f` in one transaction, committed when `f` returns `Ok` and rolled back otherwise.
    /// Writers are serialized per row (PostgreSQL) or per database (SQLite, `BEGIN IMMEDIATE`).
    ///
    /// # Errors
    /// [`CasesError::Db`] or `f`'s error.
    fn with_tx<R>(&mut self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<R>) -> Result<R>;
    /// Runs `sql` outside a transaction (for tests and tools that tamper on purpose).
    ///
    /// # Errors
    /// [`CasesError::Db`].
    fn raw(&mut self, sql: &str) -> Result<()>;
}

/// The schema version this binary writes. Migrations are numbered 1..=LATEST.
pub const LATEST: i64 = 3;

fn db_err(db: &str, e: impl std::fmt::Display) -> CasesError {
    CasesError::Db { db: db.to_owned(), message: e.to_string() }
}

/// Applies the migrations newer than the stored version, refusing a newer database.
fn migrate<B: Backend>(b: &mut B, migrations: &[&str]) -> Result<()> {
    let label = b.label().to_owned();
    b.raw("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL, applied BIGINT NOT NULL)")?;
    b.with_tx(&mut |tx| {
        let rows = tx.query("SELECT MAX(version) FROM schema_version", &[])?;
        let have = rows.first().and_then(|r| r.first()).and_then(Val::int).unwrap_or(0);
        if have > LATEST {
            return Err(CasesError::TooNew { db: label.clone(), found: have, supported: LATEST });
        }
        for (i, m) in migrations.iter().enumerate() {
            let v = i as i64 + 1;
            if v <= have {
                continue;
            }
            for stmt in split_statements(m) {
                tx.exec(&stmt, &[])?;
            }
            tx.exec(
                "INSERT INTO schema_version (version, applied) VALUES (?, ?)",
                &[Val::Int(v), Val::Int(crate::model::UnixTime::now().0)],
            )?;
            tracing::info!(target: "floodgate::cases", db = %label, version = v, "migrated");
        }
        Ok(())
    })
}

/// Splits a migration on lines holding only `;;` (PL/pgSQL bodies contain `;`).
fn split_statements(m: &str) -> Vec<String> {
    m.split("\n;;\n").map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

// ---------------------------------------------------------------- SQLite

/// `cases.db` in the data directory.
pub const SQLITE_FILE: &str = "cases.db";

const SQLITE_MIGRATIONS: &[&str] = &[
    include_str!("migrations/sqlite/0001_init.sql"),
    include_str!("migrations/sqlite/0002_users.sql"),
    include_str!("migrations/sqlite/0003_audit_object.sql"),
];
const PG_MIGRATIONS: &[&str] = &[
    include_str!("migrations/postgres/0001_init.sql"),
    include_str!("migrations/postgres/0002_users.sql"),
    include_str!("migrations/postgres/0003_audit_object.sql"),
];
// Each backend has exactly the migrations `LATEST` counts.
const _: () =
    assert!(SQLITE_MIGRATIONS.len() as i64 == LATEST && PG_MIGRATIONS.len() as i64 == LATEST);

/// SQLite (the embedded default).
pub struct Sqlite {
    conn: rusqlite::Connection,
    label: String,
}

impl std::fmt::Debug for Sqlite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sqlite").field("path", &self.label).finish()
    }
}

impl Sqlite {
    /// Opens (creating and migrating) the database file at `path`.
    ///
    /// # Errors
    /// [`CasesError::Db`] or [`CasesError::TooNew`].
    pub fn open(path: &Path) -> Result<Sqlite> {
        let label = path.display().to_string();
        let e = |x: rusqlite::Error| db_err(&label, x);
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|x| db_err(&label, x))?;
            }
        }
        let conn = rusqlite::Connection::open(path).map_err(e)?;
        // 16 KiB pages for a new file (an existing one keeps its size): an alert row with its
        // evidence and the audit entry that records it are 1-3 KB, more than a 4 KiB page
        // keeps in the b-tree, so each spilled to overflow pages written one by one.
        conn.pragma_update(None, "page_size", 16_384).map_err(e)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(e)?;
        // A committed transaction survives a killed process with WAL + NORMAL.
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(e)?;
        // The monitor feed writes a few MB of alerts, reports and audit entries per group
        // commit: checkpoint the WAL every 64 MiB instead of SQLite's 4 MiB (each checkpoint
        // syncs both files, and a page rewritten by several commits is copied once) and keep
        // 64 MiB of index pages cached instead of 2 MiB, as monitor.db does
        // (docs/adr/0003-durable-monitor-path.md).
        conn.pragma_update(None, "wal_autocheckpoint", 16_384).map_err(e)?;
        conn.pragma_update(None, "cache_size", -65_536).map_err(e)?;
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(e)?;
        let mut s = Sqlite { conn, label };
        migrate(&mut s, SQLITE_MIGRATIONS)?;
        Ok(s)
    }

    /// The path of the database file.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(&self.label)
    }
}

struct SqliteTx<'a> {
    tx: rusqlite::Transaction<'a>,
    label: &'a str,
}

/// Values are bound by reference: an alert batch binds every row's JSON text, which a copy
/// per statement would double.
impl rusqlite::ToSql for Val<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Val::Null => ValueRef::Null,
            Val::Int(i) => ValueRef::Integer(*i),
            Val::Text(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

impl Tx for SqliteTx<'_> {
    fn embedded(&self) -> bool {
        true
    }

    fn exec(&mut self, sql: &str, params: &[Val<'_>]) -> Result<u64> {
        let e = |x: rusqlite::Error| db_err(self.label, format!("{x} (in: {sql})"));
        let mut st = self.tx.prepare_cached(sql).map_err(e)?;
        let n = st.execute(rusqlite::params_from_iter(params)).map_err(e)?;
        Ok(n as u64)
    }

    fn exec_each(&mut self, sql: &str, params: &[Val<'_>], width: usize) -> Result<u64> {
        let e = |x: rusqlite::Error| db_err(self.label, format!("{x} (in: {sql})"));
        let mut st = self.tx.prepare_cached(sql).map_err(e)?;
        let mut n = 0;
        for row in params.chunks(width.max(1)) {
            n += st.execute(rusqlite::params_from_iter(row)).map_err(e)? as u64;
        }
        Ok(n)
    }

    fn query(&mut self, sql: &str, params: &[Val<'_>]) -> Result<Vec<Row>> {
        let e = |x: rusqlite::Error| db_err(self.label, format!("{x} (in: {sql})"));
        let mut st = self.tx.prepare_cached(sql).map_err(e)?;
        let n = st.column_count();
        let mut rows = st.query(rusqlite::params_from_iter(params)).map_err(e)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(e)? {
            let mut row = Vec::with_capacity(n);
            for i in 0..n {
                row.push(match r.get_ref(i).map_err(e)? {
                    rusqlite::types::ValueRef::Null => Val::Null,
                    rusqlite::types::ValueRef::Integer(x) => Val::Int(x),
                    rusqlite::types::ValueRef::Text(t) => {
                        String::from_utf8_lossy(t).into_owned().into()
                    }
                    rusqlite::types::ValueRef::Real(x) => x.to_string().into(),
                    rusqlite::types::ValueRef::Blob(b) => {
                        String::from_utf8_lossy(b).into_owned().into()
                    }
                });
            }
            out.push(row);
        }
        Ok(out)
    }
}

impl Backend for Sqlite {
    fn label(&self) -> &str {
        &self.label
    }

    fn with_tx<R>(&mut self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<R>) -> Result<R> {
        let label = self.label.as_str();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|x| db_err(label, x))?;
        let mut t = SqliteTx { tx, label };
        let r = f(&mut t)?;
        t.tx.commit().map_err(|x| db_err(label, x))?;
        Ok(r)
    }

    fn raw(&mut self, sql: &str) -> Result<()> {
        self.conn.execute_batch(sql).map_err(|x| db_err(&self.label, x))
    }
}

// ---------------------------------------------------------------- PostgreSQL

/// PostgreSQL (server deployments), selected by a `postgres://` URL.
pub struct Postgres {
    client: postgres::Client,
    cache: HashMap<String, postgres::Statement>,
    label: String,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres").field("url", &self.label).finish()
    }
}

/// The URL with any password replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    match rest.split_once('@') {
        Some((cred, host)) => match cred.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

impl Postgres {
    /// Connects to `url` (`postgres://user@host:port/db`) and migrates the schema.
    ///
    /// # Errors
    /// [`CasesError::Db`] naming the URL (password redacted), or [`CasesError::TooNew`].
    pub fn connect(url: &str) -> Result<Postgres> {
        let label = redact_url(url);
        let client = postgres::Client::connect(url, postgres::NoTls)
            .map_err(|x| db_err(&label, format!("cannot connect: {x}{}", source_text(&x))))?;
        let mut p = Postgres { client, cache: HashMap::new(), label };
        // Statements are prepared once per connection, often while the tables are still
        // empty; PostgreSQL would then keep a generic plan that looks a dedup key up by the
        // tenant prefix alone and filters the rest (measured: ~1 ms per key at 10k alerts,
        // 160 alerts/s). Custom plans see each statement's values and the table as it is now.
        p.raw("SET plan_cache_mode = force_custom_plan")?;
        migrate(&mut p, PG_MIGRATIONS)?;
        Ok(p)
    }
}

fn source_text(e: &postgres::Error) -> String {
    use std::error::Error as _;
    e.source().map(|s| format!(": {s}")).unwrap_or_default()
}

fn pg_err(label: &str, sql: &str, e: postgres::Error) -> CasesError {
    let msg = match e.as_db_error() {
        Some(d) => d.message().to_owned(),
        None => format!("{e}{}", source_text(&e)),
    };
    db_err(label, format!("{msg} (in: {sql})"))
}

/// `?` placeholders to `$1, $2, …` (no statement here has a `?` inside a literal).
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

impl postgres::types::ToSql for Val<'_> {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> std::result::Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>>
    {
        use postgres::types::Type;
        match self {
            Val::Null => Ok(postgres::types::IsNull::Yes),
            Val::Int(i) => match *ty {
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                _ => i.to_sql(ty, out),
            },
            Val::Text(s) => {
                let s: &str = s;
                s.to_sql(ty, out)
            }
        }
    }

    fn accepts(ty: &postgres::types::Type) -> bool {
        use postgres::types::Type;
        matches!(
            *ty,
            Type::INT8 | Type::INT4 | Type::INT2 | Type::TEXT | Type::VARCHAR | Type::BPCHAR
        )
    }

    postgres::types::to_sql_checked!();
}

struct PgTx<'a> {
    tx: postgres::Transaction<'a>,
    cache: &'a mut HashMap<String, postgres::Statement>,
    label: &'a str,
}

impl PgTx<'_> {
    fn stmt(&mut self, sql: &str) -> Result<postgres::Statement> {
        if let Some(s) = self.cache.get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.prepare(&numbered(sql)).map_err(|e| pg_err(self.label, sql, e))?;
        self.cache.insert(sql.to_owned(), s.clone());
        Ok(s)
    }
}

fn pg_params<'p>(p: &'p [Val<'_>]) -> Vec<&'p (dyn postgres::types::ToSql + Sync)> {
    p.iter().map(|v| v as &(dyn postgres::types::ToSql + Sync)).collect()
}

impl Tx for PgTx<'_> {
    fn embedded(&self) -> bool {
        false
    }

    fn exec(&mut self, sql: &str, params: &[Val<'_>]) -> Result<u64> {
        let st = self.stmt(sql)?;
        self.tx.execute(&st, &pg_params(params)).map_err(|e| pg_err(self.label, sql, e))
    }

    fn query(&mut self, sql: &str, params: &[Val<'_>]) -> Result<Vec<Row>> {
        use postgres::types::Type;
        let st = self.stmt(sql)?;
        let rows =
            self.tx.query(&st, &pg_params(params)).map_err(|e| pg_err(self.label, sql, e))?;
        let e = |x: postgres::Error| pg_err(self.label, sql, x);
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut row = Vec::with_capacity(r.len());
            for (i, c) in r.columns().iter().enumerate() {
                row.push(match *c.type_() {
                    Type::INT8 => r.try_get::<_, Option<i64>>(i).map_err(e)?.into(),
                    Type::INT4 => r.try_get::<_, Option<i32>>(i).map_err(e)?.map(i64::from).into(),
                    Type::INT2 => r.try_get::<_, Option<i16>>(i).map_err(e)?.map(i64::from).into(),
                    Type::NUMERIC => {
                        return Err(db_err(self.label, format!("numeric column in: {sql}")))
                    }
                    _ => r.try_get::<_, Option<String>>(i).map_err(e)?.into(),
                });
            }
            out.push(row);
        }
        Ok(out)
    }
}

impl Backend for Postgres {
    fn label(&self) -> &str {
        &self.label
    }

    fn with_tx<R>(&mut self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<R>) -> Result<R> {
        let label = self.label.as_str();
        let tx = self.client.transaction().map_err(|e| pg_err(label, "BEGIN", e))?;
        let mut t = PgTx { tx, cache: &mut self.cache, label };
        let r = f(&mut t)?;
        t.tx.commit().map_err(|e| pg_err(label, "COMMIT", e))?;
        Ok(r)
    }

    fn raw(&mut self, sql: &str) -> Result<()> {
        self.client.batch_execute(sql).map_err(|e| pg_err(&self.label, sql, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_and_passwords_hidden() {
        assert_eq!(numbered("a = ? AND b = ?"), "a = $1 AND b = $2");
        assert_eq!(redact_url("postgres://u:secret@h:5432/d"), "postgres://u:***@h:5432/d");
        assert_eq!(redact_url("postgres://u@h/d"), "postgres://u@h/d");
    }
}
