//! The stateful monitor: engine + window state + the persisted record of decided transfers.
//!
//! With a data directory, every decided transfer is written to `monitor.db` (SQLite, WAL)
//! together with its normalized event and fiat value, in group commits. The window state is
//! not stored separately: it is a deterministic function of the decided events, and opening
//! the monitor replays them to rebuild it exactly. Idempotency: a transfer id already decided
//! (committed or pending) is skipped and produces nothing. Callers write a decision to their
//! output only after [`Monitor::commit`] returned, so a crash never shows a decision that a
//! restart would decide again; [`Monitor::decisions_after`] lets an output file catch up on
//! decisions committed but not yet written when the process died.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};
use rustc_hash::FxHashSet;

use crate::decision::Decision;
use crate::engine::Engine;
use crate::error::MonitorError;
use crate::fiat::FiatValue;
use crate::input::MonitorEvent;
use crate::state::State;

/// File name of the monitor state inside the data directory.
pub const MONITOR_DB: &str = "monitor.db";

/// The numbered migrations of `monitor.db` (`floodgate-sqlite`: the version is in the file).
const MIGRATIONS: &[&str] = &[include_str!("../migrations/0001_init.sql")];

/// What [`Monitor::process`] did with an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Processed {
    /// A new decision (durable after the next commit).
    Decided(Box<Decision>),
    /// The transfer id was already decided; nothing was done.
    Duplicate,
}

struct Db {
    conn: Connection,
    path: PathBuf,
    pending: Vec<(String, String, Option<String>, String)>,
}

/// Engine, state and persistence.
pub struct Monitor {
    engine: Engine,
    state: State,
    seen: FxHashSet<Box<str>>,
    db: Option<Db>,
    committed: u64,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor").field("committed", &self.committed).finish()
    }
}

impl Monitor {
    /// A monitor that keeps its state in memory only.
    pub fn in_memory(engine: Engine) -> Monitor {
        Monitor {
            engine,
            state: State::default(),
            seen: FxHashSet::default(),
            db: None,
            committed: 0,
        }
    }

    /// Opens (creating) `monitor.db` in `data_dir` and rebuilds the window state from it.
    ///
    /// # Errors
    /// [`MonitorError::State`] or [`MonitorError::Corrupt`] naming the file.
    pub fn open(engine: Engine, data_dir: &Path) -> Result<Monitor, MonitorError> {
        std::fs::create_dir_all(data_dir).map_err(|e| MonitorError::io(data_dir, e))?;
        let path = data_dir.join(MONITOR_DB);
        let sq = |e| MonitorError::State { path: path.clone(), source: e };
        let mut conn = Connection::open(&path).map_err(sq)?;
        // WAL + synchronous=NORMAL: a committed transaction survives a killed process.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sq)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(sq)?;
        floodgate_sqlite::migrate(&mut conn, &path, MIGRATIONS)?;
        let mut m = Monitor {
            engine,
            state: State::default(),
            seen: FxHashSet::default(),
            db: None,
            committed: 0,
        };
        {
            let mut stmt = conn
                .prepare("SELECT transfer_id, event, fiat FROM decided ORDER BY seq")
                .map_err(sq)?;
            let mut rows = stmt.query([]).map_err(sq)?;
            while let Some(r) = rows.next().map_err(sq)? {
                let id: String = r.get(0).map_err(sq)?;
                let ev: String = r.get(1).map_err(sq)?;
                let fiat: Option<String> = r.get(2).map_err(sq)?;
                let corrupt = |what: &str, e: serde_json::Error| MonitorError::Corrupt {
                    path: path.clone(),
                    message: format!("transfer '{id}': {what}: {e}"),
                };
                let ev: MonitorEvent =
                    serde_json::from_str(&ev).map_err(|e| corrupt("event", e))?;
                let fiat: Option<FiatValue> = match fiat {
                    Some(f) => Some(serde_json::from_str(&f).map_err(|e| corrupt("fiat", e))?),
                    None => None,
                };
                m.state.apply(&ev, fiat);
                m.seen.insert(id.into());
                m.committed += 1;
            }
        }
        m.db = Some(Db { conn, path, pending: Vec::new() });
        Ok(m)
    }

    /// The engine (to reload rules between events with [`Engine::set_pack`]).
    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Decisions durably recorded so far.
    pub fn committed(&self) -> u64 {
        self.committed
    }

    /// Decisions waiting for the next commit.
    pub fn pending(&self) -> usize {
        self.db.as_ref().map_or(0, |d| d.pending.len())
    }

    /// Decides on one event and updates the window state.
    ///
    /// # Errors
    /// [`MonitorError`] only when the decision cannot be serialized for storage.
    pub fn process(&mut self, ev: &MonitorEvent) -> Result<Processed, MonitorError> {
        if self.seen.contains(ev.entry.id.as_str()) {
            return Ok(Processed::Duplicate);
        }
        let fiat = self.engine.fiat(ev);
        let (before, now) = self.state.apply(ev, fiat);
        let d = self.engine.decide(&self.state, ev, fiat, before, now);
        self.seen.insert(ev.entry.id.as_str().into());
        if let Some(db) = &mut self.db {
            let ser = |e: serde_json::Error| MonitorError::Corrupt {
                path: db.path.clone(),
                message: e.to_string(),
            };
            db.pending.push((
                ev.entry.id.clone(),
                serde_json::to_string(ev).map_err(ser)?,
                fiat.map(|f| serde_json::to_string(&f)).transpose().map_err(ser)?,
                serde_json::to_string(&d).map_err(ser)?,
            ));
        } else {
            self.committed += 1;
        }
        Ok(Processed::Decided(Box::new(d)))
    }

    /// Makes the pending decisions durable, in one transaction.
    ///
    /// # Errors
    /// [`MonitorError::State`]; the pending decisions stay pending.
    pub fn commit(&mut self) -> Result<(), MonitorError> {
        let Some(db) = &mut self.db else { return Ok(()) };
        if db.pending.is_empty() {
            return Ok(());
        }
        let path = db.path.clone();
        let sq = |e| MonitorError::State { path: path.clone(), source: e };
        let tx = db.conn.transaction().map_err(sq)?;
        {
            let mut stmt = tx
                .prepare_cached("INSERT INTO decided (transfer_id, event, fiat, decision) VALUES (?1, ?2, ?3, ?4)")
                .map_err(sq)?;
            for (id, ev, fiat, d) in &db.pending {
                stmt.execute(params![id, ev, fiat, d]).map_err(sq)?;
            }
        }
        tx.commit().map_err(sq)?;
        self.committed += db.pending.len() as u64;
        db.pending.clear();
        Ok(())
    }

    /// Committed decisions after the first `skip`, in decision order (to bring an output file
    /// up to date after a crash).
    ///
    /// # Errors
    /// [`MonitorError::State`] or [`MonitorError::Corrupt`].
    pub fn decisions_after(&self, skip: u64) -> Result<Vec<Decision>, MonitorError> {
        let Some(db) = &self.db else { return Ok(Vec::new()) };
        let sq = |e| MonitorError::State { path: db.path.clone(), source: e };
        let mut stmt = db
            .conn
            .prepare("SELECT decision FROM decided ORDER BY seq LIMIT -1 OFFSET ?1")
            .map_err(sq)?;
        let mut rows = stmt.query([skip as i64]).map_err(sq)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(sq)? {
            let s: String = r.get(0).map_err(sq)?;
            out.push(serde_json::from_str(&s).map_err(|e| MonitorError::Corrupt {
                path: db.path.clone(),
                message: e.to_string(),
            })?);
        }
        Ok(out)
    }
}
