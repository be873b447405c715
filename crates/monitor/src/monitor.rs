//! The stateful monitor: engine + window state + the persisted record of decided transfers.
//!
//! With a data directory, every decided transfer is written to a [`MonitorState`] backend
//! (by default `monitor.db`, SQLite in WAL mode, under the monitor's tenant)
//! together with its normalized event and fiat value, in group commits. The window state is
//! not stored separately: it is a deterministic function of the decided events, and opening
//! the monitor replays them to rebuild it exactly. Idempotency: a transfer id already decided
//! (committed or pending) is skipped and produces nothing. Without a store every decided id is
//! kept in memory; with one, memory keeps only a Bloom filter of them ([`SeenIds`], ~1.5 bytes
//! per id) and a filter hit is confirmed against the pending group and the store. Callers write a decision to their
//! output only after [`Monitor::commit`] returned, so a crash never shows a decision that a
//! restart would decide again; [`Monitor::decisions_after`] lets an output file catch up on
//! decisions committed but not yet written when the process died.

use std::path::Path;

use floodgate_types::TenantId;
use rustc_hash::FxHashSet;

use crate::decision::Decision;
use crate::engine::Engine;
use crate::error::MonitorError;
use crate::input::MonitorEvent;
use crate::seen::SeenIds;
use crate::state::State;
pub use crate::store::MONITOR_DB;
use crate::store::{DecidedRecord, MonitorState, SqliteMonitorState};

/// What [`Monitor::process`] did with an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Processed {
    /// A new decision (durable after the next commit).
    Decided(Box<Decision>),
    /// The transfer id was already decided; nothing was done.
    Duplicate,
}

struct Db {
    state: Box<dyn MonitorState + Send>,
    pending: Vec<DecidedRecord>,
    /// The decided ids, approximately: a hit is confirmed in `pending`, then in `state`.
    seen: SeenIds,
}

/// Engine, state and persistence.
pub struct Monitor {
    engine: Engine,
    state: State,
    /// Every decided id, without a store (with one, [`Db::seen`]).
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

    /// Opens (creating) `monitor.db` in `data_dir` for the default tenant
    /// ([`TenantId::DEFAULT`]) and rebuilds the window state from it.
    ///
    /// # Errors
    /// [`MonitorError::State`] or [`MonitorError::Corrupt`] naming the file.
    pub fn open(engine: Engine, data_dir: &Path) -> Result<Monitor, MonitorError> {
        Monitor::open_tenant(engine, data_dir, TenantId::default_tenant())
    }

    /// Opens (creating) `monitor.db` in `data_dir` for `tenant` and rebuilds the window state
    /// from that tenant's decided transfers.
    ///
    /// # Errors
    /// As [`Monitor::open`].
    pub fn open_tenant(
        engine: Engine,
        data_dir: &Path,
        tenant: TenantId,
    ) -> Result<Monitor, MonitorError> {
        Monitor::with_state(engine, Box::new(SqliteMonitorState::open(data_dir, tenant)?))
    }

    /// A monitor over any [`MonitorState`] backend: replays its decided transfers to rebuild
    /// the window state.
    ///
    /// # Errors
    /// The backend's replay error.
    pub fn with_state(
        engine: Engine,
        persisted: Box<dyn MonitorState + Send>,
    ) -> Result<Monitor, MonitorError> {
        let mut m = Monitor {
            engine,
            state: State::default(),
            seen: FxHashSet::default(),
            db: None,
            committed: 0,
        };
        let mut seen = SeenIds::default();
        persisted.replay(&mut |id, ev, fiat| {
            m.state.apply(&ev, fiat);
            seen.insert(&id);
            m.committed += 1;
        })?;
        m.db = Some(Db { state: persisted, pending: Vec::new(), seen });
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
        if self.decided(ev.entry.id.as_str())? {
            return Ok(Processed::Duplicate);
        }
        let fiat = self.engine.fiat(ev);
        let (before, now) = self.state.apply(ev, fiat);
        let d = self.engine.decide(&self.state, ev, fiat, before, now);
        if let Some(db) = &mut self.db {
            db.seen.insert(ev.entry.id.as_str());
            let ser = |e: serde_json::Error| MonitorError::Corrupt {
                path: db.state.location().to_path_buf(),
                message: e.to_string(),
            };
            db.pending.push(DecidedRecord {
                transfer_id: ev.entry.id.clone(),
                event: serde_json::to_string(ev).map_err(ser)?,
                fiat: fiat.map(|f| serde_json::to_string(&f)).transpose().map_err(ser)?,
                decision: serde_json::to_string(&d).map_err(ser)?,
            });
        } else {
            self.seen.insert(ev.entry.id.as_str().into());
            self.committed += 1;
        }
        Ok(Processed::Decided(Box::new(d)))
    }

    /// Whether `id` was decided already: exactly, from memory without a store; with one, a
    /// filter miss is certain and a hit is confirmed in the pending group or the store.
    fn decided(&self, id: &str) -> Result<bool, MonitorError> {
        let Some(db) = &self.db else { return Ok(self.seen.contains(id)) };
        if !db.seen.may_contain(id) {
            return Ok(false);
        }
        if db.pending.iter().any(|p| p.transfer_id == id) {
            return Ok(true);
        }
        db.state.contains(id)
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
        db.state.append(&db.pending)?;
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
        db.state.decisions_after(skip)
    }
}
