//! Fixtures: one SQLite file or one uniquely named PostgreSQL database per test.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)] // test fixtures, used in part by each test

use std::sync::atomic::{AtomicU32, Ordering};

use floodgate_cases::db::{Backend, Postgres, Sqlite};
use floodgate_cases::model::*;
use floodgate_cases::Cases;

/// A place a store can be opened, again and again (for concurrency tests).
pub trait Fixture: Sync {
    /// The backend.
    type B: Backend + 'static;
    /// A new connection to the same database.
    fn store(&self) -> Cases<Self::B> {
        self.try_store().unwrap()
    }
    /// The same, with the open error.
    fn try_store(&self) -> floodgate_cases::Result<Cases<Self::B>>;
    /// SQL that drops the audit log's database guards (what an attacker with database access
    /// could do) so tampering tests can edit rows.
    fn drop_guards(&self) -> &'static str;
    /// A second, empty database of the same kind (to compare two ways of writing the same).
    fn another(&self) -> Self
    where
        Self: Sized;
}

pub struct SqliteFx {
    dir: tempfile::TempDir,
}

impl SqliteFx {
    /// What [`Fixture::drop_guards`] runs on SQLite.
    pub const DROP_GUARDS: &'static str =
        "DROP TRIGGER audit_append_only; DROP TRIGGER audit_retention;";

    pub fn new() -> SqliteFx {
        SqliteFx { dir: tempfile::tempdir().unwrap() }
    }
}

impl Fixture for SqliteFx {
    type B = Sqlite;
    fn try_store(&self) -> floodgate_cases::Result<Cases<Sqlite>> {
        Ok(Cases::new(Sqlite::open(&self.dir.path().join("cases.db"))?))
    }
    fn drop_guards(&self) -> &'static str {
        SqliteFx::DROP_GUARDS
    }
    fn another(&self) -> SqliteFx {
        SqliteFx::new()
    }
}

pub struct PgFx {
    admin: String,
    pub url: String,
    name: String,
}

static N: AtomicU32 = AtomicU32::new(0);

/// The server to test against: `FLOODGATE_TEST_PG` or the project machines' local one.
pub fn pg_admin_url() -> String {
    std::env::var("FLOODGATE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

impl PgFx {
    /// A fresh database, or `None` (with a loud message) when no server answers — unless
    /// `FLOODGATE_REQUIRE_TEST_DATA=1` (CI), where that is a failure.
    pub fn new() -> Option<PgFx> {
        let admin = pg_admin_url();
        let mut c = match postgres::Client::connect(&admin, postgres::NoTls) {
            Ok(c) => c,
            Err(e) => {
                if std::env::var("FLOODGATE_REQUIRE_TEST_DATA").is_ok_and(|v| v == "1") {
                    panic!("PostgreSQL at {admin} does not answer ({e}); CI requires it");
                }
                let msg = format!(
                    "\n*** SKIPPING PostgreSQL test: {admin} does not answer ({e}); set FLOODGATE_TEST_PG ***\n"
                );
                std::io::Write::write_all(&mut std::io::stderr(), msg.as_bytes()).unwrap();
                return None;
            }
        };
        let name = format!(
            "floodgate_cases_{}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
        );
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let (base, _) = admin.rsplit_once('/').unwrap();
        let url = format!("{base}/{name}");
        Some(PgFx { admin, url, name })
    }
}

impl Drop for PgFx {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

impl Fixture for PgFx {
    type B = Postgres;
    fn try_store(&self) -> floodgate_cases::Result<Cases<Postgres>> {
        Ok(Cases::new(Postgres::connect(&self.url)?))
    }
    fn drop_guards(&self) -> &'static str {
        "DROP TRIGGER audit_guard ON audit"
    }
    fn another(&self) -> PgFx {
        PgFx::new().unwrap()
    }
}

#[track_caller]
pub fn actor(tenant: &str, user: &str, role: Role) -> Actor {
    Actor::new(TenantId::new(tenant).unwrap(), UserId::new(user).unwrap(), role)
}

#[track_caller]
pub fn alert(subject: &str, key: &str, sev: Severity) -> NewAlert {
    NewAlert {
        source: AlertSource::Monitor,
        rule: "structuring".into(),
        severity: sev,
        subject: subject.into(),
        reasons: vec![format!("three deposits just under the threshold ({key})")],
        evidence: serde_json::json!({"transfer_ids": [key], "window": "24h"}).into(),
        dedup_key: key.into(),
        event_time: UnixTime(1_750_000_000),
    }
}

/// Instantiates every listed generic test for SQLite and PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(&$crate::common::SqliteFx::new()); })+
        }
        mod postgresql {
            $(#[test] fn $name() {
                if let Some(fx) = $crate::common::PgFx::new() { super::$name(&fx); }
            })+
        }
    };
}
