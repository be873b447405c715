//! The stateful monitor: engine + window state + the persisted record of decided transfers.
//!
//! With a data directory, every decided transfer is written to a [`MonitorState`] backend
//! (by default `monitor.db`, SQLite in WAL mode, under the monitor's tenant, with the payload
//! in its record file `monitor.log`: ADR 0008) together with its normalized event and fiat
//! value, in group commits. The window state is
//! not stored separately: it is a deterministic function of the decided events, and opening
//! the monitor replays them to rebuild it exactly. Idempotency: a transfer id already decided
//! (committed or pending) is skipped and produces nothing. Without a store every decided id is
//! kept in memory; with one, memory keeps only a Bloom filter of them ([`SeenIds`], ~1.5 bytes
//! per id) and a filter hit is confirmed against the pending group and the store. Callers write a decision to their
//! output only after [`Monitor::commit`] returned, so a crash never shows a decision that a
//! restart would decide again; [`Monitor::decisions_after`] lets an output file catch up on
//! decisions committed but not yet written when the process died.

use std::path::{Path, PathBuf};

use floodgate_types::TenantId;
use rustc_hash::FxHashSet;

use crate::decision::Decision;
use crate::engine::Engine;
use crate::error::MonitorError;
use crate::input::MonitorEvent;
use crate::seen::SeenIds;
use crate::snapshot::{Position, Snapshot, SnapshotRef};
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
    /// The group the last commit made durable (its decisions' JSON is handed to outputs).
    group: Vec<DecidedRecord>,
    /// The decided ids, approximately: a hit is confirmed in `pending`, then in `state`.
    seen: SeenIds,
    /// The last committed record's position (what a snapshot taken now is up to).
    last: Position,
    /// Where snapshots go (`None`: the backend keeps none).
    snapshot_path: Option<PathBuf>,
    /// A snapshot is written once this many decisions were committed since the last one
    /// (0: only when asked, [`Monitor::snapshot`]).
    snapshot_every: u64,
    /// `committed` when the last snapshot was written or loaded.
    snapshot_at: u64,
    /// Whether the loaded snapshot is of an older layout version (the next
    /// [`Monitor::snapshot`] rewrites it in this build's, even with nothing new to include).
    snapshot_old: bool,
    /// The buffer sizes [`to_json`] starts with for an event and a decision.
    json_hint: [usize; 2],
}

/// `v` as JSON text, written into a buffer of `*hint` bytes. `serde_json::to_string` starts
/// at 128 bytes and doubles: four or five copies for a decision of a few KB (most of the ones
/// that hit a rule). The hint follows the sizes written: it takes a larger text's length
/// with a quarter more at once and shrinks by an eighth per smaller one, between 256 bytes
/// and 8 KiB (a rare decision of tens of KB, a `fan_in` hit, grows its buffer as before).
fn to_json<T: serde::Serialize + ?Sized>(v: &T, hint: &mut usize) -> Result<String, String> {
    let mut buf = Vec::with_capacity(*hint);
    serde_json::to_writer(&mut buf, v).map_err(|e| e.to_string())?;
    *hint = (buf.len() + buf.len() / 4).max(*hint - *hint / 8).clamp(256, 8192);
    String::from_utf8(buf).map_err(|e| e.to_string())
}

/// A decision's JSON text ([`Decision::write_json`]: serde_json's bytes, written faster) in a
/// buffer of `*hint` bytes, the hint kept as [`to_json`] keeps it.
fn decision_json(d: &Decision, hint: &mut usize) -> Result<String, String> {
    let mut buf = String::with_capacity(*hint);
    d.write_json(&mut buf).map_err(|e| e.to_string())?;
    *hint = (buf.len() + buf.len() / 4).max(*hint - *hint / 8).clamp(256, 8192);
    Ok(buf)
}

/// Decisions committed between two automatic snapshots, by default: a restart after a crash
/// replays at most this many stored transfers beyond the snapshot.
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 250_000;

/// How a persisted monitor was brought up to date when it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resume {
    /// Decisions the loaded snapshot held (0: none was loaded).
    pub from_snapshot: u64,
    /// Stored decisions replayed after it.
    pub replayed: u64,
}

/// Engine, state and persistence.
pub struct Monitor {
    engine: Engine,
    state: State,
    /// Every decided id, without a store (with one, [`Db::seen`]).
    seen: FxHashSet<Box<str>>,
    db: Option<Db>,
    committed: u64,
    resume: Resume,
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
            resume: Resume::default(),
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

    /// A monitor over any [`MonitorState`] backend: loads the backend's snapshot when it has
    /// a valid one for this store (`crate::snapshot`), then replays the decided transfers
    /// stored after it to bring the window state and the duplicate filter up to date. A
    /// snapshot that cannot be used is logged and ignored: the whole store is replayed.
    ///
    /// # Errors
    /// The backend's replay error.
    pub fn with_state(
        engine: Engine,
        persisted: Box<dyn MonitorState + Send>,
    ) -> Result<Monitor, MonitorError> {
        let started = std::time::Instant::now();
        let snapshot_path = persisted.snapshot_path();
        let snap = match &snapshot_path {
            Some(p) => usable_snapshot(p, persisted.as_ref())?,
            None => None,
        };
        let mut resume = Resume::default();
        let snapshot_old = snap.as_ref().is_some_and(|s| s.version < crate::snapshot::VERSION);
        let (state, mut seen, mut last) = match snap {
            Some(s) => {
                resume.from_snapshot = s.position.decided;
                (s.state, s.seen, s.position)
            }
            None => (State::default(), SeenIds::default(), Position::default()),
        };
        let mut m = Monitor {
            engine,
            state,
            seen: FxHashSet::default(),
            db: None,
            committed: last.decided,
            resume,
        };
        persisted.replay(last.seq, &mut |seq, id, ev, fiat| {
            m.state.apply(&ev, fiat);
            seen.insert(&id);
            m.committed += 1;
            m.resume.replayed += 1;
            last.seq = seq;
            last.transfer_id = id;
        })?;
        last.decided = m.committed;
        tracing::debug!(target: "floodgate::monitor", from_snapshot = m.resume.from_snapshot, replayed = m.resume.replayed, elapsed_ms = started.elapsed().as_millis() as u64, "monitor state resumed");
        m.db = Some(Db {
            state: persisted,
            pending: Vec::new(),
            group: Vec::new(),
            seen,
            last,
            snapshot_path,
            snapshot_every: DEFAULT_SNAPSHOT_EVERY,
            snapshot_at: m.resume.from_snapshot,
            snapshot_old,
            json_hint: [256; 2],
        });
        Ok(m)
    }

    /// How the state was brought up to date on open: from a snapshot, and how many stored
    /// transfers were replayed.
    pub fn resume(&self) -> Resume {
        self.resume
    }

    /// Writes a snapshot automatically once `every` decisions were committed since the last
    /// one (0: never automatically; [`Monitor::snapshot`] still writes one).
    pub fn set_snapshot_every(&mut self, every: u64) {
        if let Some(db) = &mut self.db {
            db.snapshot_every = every;
        }
    }

    /// Commits what is pending, then writes a snapshot of the state as committed (a clean
    /// exit calls this, so the next start replays nothing); a snapshot loaded in an older
    /// layout version is rewritten in this build's. Returns the bytes written, or
    /// `None` without a store (or a backend that keeps no snapshots).
    ///
    /// # Errors
    /// The commit's errors, or [`MonitorError::Io`] naming the snapshot file.
    pub fn snapshot(&mut self) -> Result<Option<u64>, MonitorError> {
        self.commit()?;
        let Some(db) = &mut self.db else { return Ok(None) };
        let Some(path) = &db.snapshot_path else { return Ok(None) };
        if db.snapshot_at == self.committed && !db.snapshot_old && path.exists() {
            return Ok(Some(0));
        }
        let snap = SnapshotRef { position: &db.last, state: &self.state, seen: &db.seen };
        let bytes = snap.write(path, db.state.tenant())?;
        db.snapshot_at = self.committed;
        db.snapshot_old = false;
        tracing::debug!(target: "floodgate::monitor", bytes, decided = self.committed, path = %path.display(), "snapshot written");
        Ok(Some(bytes))
    }

    /// The end of a process: commits what is pending, writes the snapshot as
    /// [`Monitor::snapshot`] does and closes the store, then leaves the window state and the
    /// duplicate filter to the operating system instead of freeing them one allocation at a
    /// time (after 10 million stored decisions the windows hold millions of events and that
    /// took a tenth of a restart's CPU). Nothing durable depends on them: every decision is
    /// in the store and the snapshot is synced before they are let go. Call it only when the
    /// process exits next; anywhere else their memory is lost until it does.
    ///
    /// # Errors
    /// As [`Monitor::snapshot`]; on an error the monitor is dropped as usual.
    pub fn close_at_exit(mut self) -> Result<(), MonitorError> {
        self.snapshot()?;
        let Monitor { engine, state, seen, db, .. } = self;
        drop(engine);
        if let Some(Db { state: store, pending, group, seen: stored_seen, .. }) = db {
            // Closes the store's connection (its own clean shutdown).
            drop(store);
            drop((pending, group));
            std::mem::forget(stored_seen);
        }
        std::mem::forget((state, seen));
        Ok(())
    }

    /// The engine (to reload rules between events with [`Engine::set_pack`]).
    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Whether decisions are kept in a store (`false` for [`Monitor::in_memory`]: a commit
    /// makes nothing durable).
    pub fn is_durable(&self) -> bool {
        self.db.is_some()
    }

    /// Decisions durably recorded so far.
    pub fn committed(&self) -> u64 {
        self.committed
    }

    /// The JSON of each decision the last commit that had any made durable, in decision
    /// order: exactly what [`crate::sink::jsonl`] writes for it, without the newline. An
    /// output writes these instead of serializing every decision a second time. Empty
    /// without a store.
    pub fn committed_json(&self) -> impl ExactSizeIterator<Item = &str> + Clone + '_ {
        self.db.as_ref().map_or(&[][..], |d| &d.group[..]).iter().map(|r| r.decision.as_str())
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
            let ser = |e: String| MonitorError::Corrupt {
                path: db.state.location().to_path_buf(),
                message: e,
            };
            let event = to_json(ev, &mut db.json_hint[0]).map_err(ser)?;
            let decision = decision_json(&d, &mut db.json_hint[1]).map_err(ser)?;
            db.pending.push(DecidedRecord {
                transfer_id: ev.entry.id.clone(),
                event,
                fiat: fiat
                    .map(|f| serde_json::to_string(&f))
                    .transpose()
                    .map_err(|e| ser(e.to_string()))?,
                decision,
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
        let seq = db.state.append(&db.pending)?;
        self.committed += db.pending.len() as u64;
        if let Some(p) = db.pending.last() {
            db.last = Position { seq, transfer_id: p.transfer_id.clone(), decided: self.committed };
        }
        std::mem::swap(&mut db.group, &mut db.pending);
        db.pending.clear();
        if db.snapshot_every > 0 && self.committed - db.snapshot_at >= db.snapshot_every {
            // A snapshot is a cache: failing to write one costs the next start a longer
            // replay, never a decision, so the stream goes on.
            if let Err(e) = self.snapshot() {
                tracing::warn!(target: "floodgate::monitor", "snapshot not written (the next start replays more): {e}");
                if let Some(db) = &mut self.db {
                    db.snapshot_at = self.committed;
                }
            }
        }
        Ok(())
    }

    /// Committed decisions after the first `skip`, in decision order, in pages of at most
    /// `page` (to bring an output file or the alert feed up to date after a crash: a
    /// catch-up over millions of decisions holds one page at a time, not all of them).
    pub fn decision_pages(&self, skip: u64, page: usize) -> DecisionPages<'_> {
        // Nothing to read when `skip` is past the end: spares the store a scan past every
        // decision (a catch-up at start and after every group asks exactly this when it is
        // up to date).
        let state = self.db.as_ref().filter(|_| skip < self.committed).map(|db| &*db.state);
        DecisionPages { state, skip, after: None, page: page.max(1) }
    }

    /// Every committed decision after the first `skip`, in decision order, at once (for a
    /// small store and for tests; [`Monitor::decision_pages`] reads a large one in pages).
    ///
    /// # Errors
    /// [`MonitorError::State`] or [`MonitorError::Corrupt`].
    pub fn decisions_after(&self, skip: u64) -> Result<Vec<Decision>, MonitorError> {
        let mut out = Vec::new();
        for page in self.decision_pages(skip, 4096) {
            out.extend(page?);
        }
        Ok(out)
    }
}

/// The pages of [`Monitor::decision_pages`]: each `Ok` holds at least one decision; an `Err`
/// ends it.
pub struct DecisionPages<'a> {
    /// `None` once the end (or an error) was reached.
    state: Option<&'a (dyn MonitorState + Send)>,
    skip: u64,
    /// The position of the last decision returned.
    after: Option<i64>,
    page: usize,
}

impl std::fmt::Debug for DecisionPages<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecisionPages")
            .field("skip", &self.skip)
            .field("after", &self.after)
            .field("page", &self.page)
            .field("done", &self.state.is_none())
            .finish()
    }
}

impl Iterator for DecisionPages<'_> {
    type Item = Result<Vec<Decision>, MonitorError>;

    fn next(&mut self) -> Option<Self::Item> {
        let state = self.state?;
        match state.decisions_page(self.skip, self.after, self.page) {
            Err(e) => {
                self.state = None;
                Some(Err(e))
            }
            Ok(rows) => {
                if rows.len() < self.page {
                    self.state = None;
                }
                let (last, _) = rows.last()?;
                self.after = Some(*last);
                Some(Ok(rows.into_iter().map(|(_, d)| d).collect()))
            }
        }
    }
}

/// The backend's snapshot at `path` if it is one of this store: its position must hold the
/// same transfer id in the store (a snapshot of another or an older `monitor.db` is not).
/// Anything unusable is logged and `None`: the caller replays the whole store.
fn usable_snapshot(
    path: &Path,
    store: &(dyn MonitorState + Send),
) -> Result<Option<Snapshot>, MonitorError> {
    let snap = match Snapshot::read(path, store.tenant()) {
        Ok(Some(s)) => s,
        Ok(None) => return Ok(None),
        Err(e) => {
            tracing::warn!(target: "floodgate::monitor", "{e}; replaying every stored decision instead");
            return Ok(None);
        }
    };
    let p = &snap.position;
    if p.seq == 0 {
        return Ok(Some(snap));
    }
    match store.id_at(p.seq)? {
        Some(id) if id == p.transfer_id => Ok(Some(snap)),
        found => {
            tracing::warn!(target: "floodgate::monitor", path = %path.display(), position = p.seq, expected = %p.transfer_id, found = ?found, "the snapshot is not of this monitor store; replaying every stored decision instead");
            Ok(None)
        }
    }
}
