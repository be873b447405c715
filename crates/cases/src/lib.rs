//! floodgate-cases: alerts, cases, their state machine, tenants and roles, report obligations
//! and a hash-chained audit log — on SQLite (`cases.db` in the data directory) or PostgreSQL.
//!
//! Every door (CLI, API, the monitor and screening feeds) calls one [`CaseStore`]. Each change
//! is checked by the one state machine ([`machine::TRANSITIONS`], shown in `docs/cases.md`),
//! written in one transaction together with its audit entry, and scoped to the actor's tenant.
//!
//! ```
//! use floodgate_cases::{open, Location, CaseStore};
//! use floodgate_cases::model::*;
//! let dir = tempfile::tempdir().unwrap();
//! let mut store = open(&Location::Sqlite(dir.path().join("cases.db"))).unwrap();
//! let analyst = Actor::new(TenantId::new("vasp-a").unwrap(), UserId::new("lan").unwrap(), Role::Analyst);
//! let case = store.open_case(&analyst, "customer-17", "tip from support").unwrap();
//! let case = store.decide(&analyst, case.id, DecisionKind::NoAction, "known salary payments").unwrap();
//! assert_eq!(case.state, CaseState::Closed);
//! assert!(store.verify_audit(&analyst).unwrap().is_intact());
//! ```
#![warn(missing_docs)]

pub mod audit;
pub mod db;
pub mod error;
pub mod feed;
pub mod filing;
pub mod machine;
pub mod model;
pub mod store;

use std::path::{Path, PathBuf};

pub use error::{CasesError, Result};
pub use store::{CaseStore, CaseView, Cases, DecidedGroup, Ingested, ListFilter, TenantSummary};

/// Where the case store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL.
    Postgres(String),
}

impl Location {
    /// `postgres://…` (or `postgresql://…`) selects PostgreSQL; anything else is a SQLite file
    /// path; nothing means `cases.db` in the data directory.
    pub fn resolve(db: Option<&str>, data_dir: &Path) -> Location {
        match db {
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                Location::Postgres(u.to_owned())
            }
            Some(p) => Location::Sqlite(PathBuf::from(p)),
            None => Location::Sqlite(data_dir.join(db::SQLITE_FILE)),
        }
    }
}

/// Opens (creating and migrating) the case store.
///
/// # Errors
/// [`CasesError::Db`] naming the file or the URL (password hidden), or [`CasesError::TooNew`].
pub fn open(loc: &Location) -> Result<Box<dyn CaseStore>> {
    Ok(match loc {
        Location::Sqlite(p) => Box::new(Cases::new(db::Sqlite::open(p)?)),
        Location::Postgres(u) => Box::new(Cases::new(db::Postgres::connect(u)?)),
    })
}
