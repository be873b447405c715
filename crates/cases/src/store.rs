//! [`CaseStore`]: alerts, cases, reports and the audit log, written once over a [`Backend`].
//!
//! Every change runs in one transaction with its audit entry. Writers lock in one order —
//! counters, then case rows, then the tenant's audit head — so PostgreSQL never deadlocks, and
//! case rows carry a version: an update that finds another version changed nothing and fails
//! with [`CasesError::Conflict`] (two approvals racing leave exactly one).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::audit::{
    committed_row, entry_hash, AlertRowRef, AuditEntry, CommittedTable, ReportRowRef, Tamper,
    Verification, Verifier, ALERT_SHA256, GENESIS, REPORT_SHA256,
};
use crate::db::{Backend, Row, Tx, Val};
use crate::error::{CasesError, Result};
use crate::machine::{step, Action, Step};
use crate::model::*;

/// Default retention of the audit log: 10 years (Viet Nam, for virtual-asset activity).
pub const DEFAULT_RETENTION_DAYS: i64 = 3653;

/// Decision kinds under four-eyes approval unless a tenant changes it.
pub const DEFAULT_FOUR_EYES: &[DecisionKind] =
    &[DecisionKind::Report, DecisionKind::ExitRelationship, DecisionKind::Freeze];

/// What [`CaseStore::ingest_alerts`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Ingested {
    /// New alerts, with the case each joined.
    pub created: Vec<(AlertId, CaseId)>,
    /// Alerts whose dedup key was already stored (ignored).
    pub duplicates: usize,
    /// Cases opened for them.
    pub cases_opened: Vec<CaseId>,
}

/// One group of a feed's decisions for [`CaseStore::ingest_decided_groups`]: what
/// [`CaseStore::ingest_decided`] takes.
#[derive(Debug, Clone, Copy)]
pub struct DecidedGroup<'a> {
    /// Report obligations.
    pub reports: &'a [NewReport],
    /// Alerts.
    pub alerts: &'a [NewAlert],
    /// The feed's position after the group.
    pub cursor: Option<(&'a str, i64)>,
}

/// A case with everything that belongs to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseView {
    /// The case.
    pub case: Case,
    /// Its alerts.
    pub alerts: Vec<Alert>,
    /// Notes and evidence.
    pub items: Vec<CaseItem>,
    /// Its audit trail (the case's and its alerts' entries), oldest first.
    pub trail: Vec<AuditEntry>,
}

/// Filter for listings.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only this state (cases) or only alerts of cases in this state.
    pub state: Option<CaseState>,
    /// Only this subject.
    pub subject: Option<String>,
    /// Only this case (alerts).
    pub case: Option<CaseId>,
    /// At most this many (newest first).
    pub limit: Option<u32>,
}

/// Per-tenant aggregates for supervisors: counts only, no customer data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantSummary {
    /// Tenant.
    pub tenant: String,
    /// Alerts stored.
    pub alerts: i64,
    /// Cases by state.
    pub cases_by_state: BTreeMap<String, i64>,
    /// Decisions by kind.
    pub decisions: BTreeMap<String, i64>,
    /// Reports filed.
    pub reports_filed: i64,
    /// Reports not filed whose deadline passed.
    pub reports_overdue: i64,
    /// Report timeliness: filed on or before the deadline.
    pub reports_on_time: i64,
    /// Report timeliness: filed after the deadline.
    pub reports_late: i64,
    /// Report timeliness: not filed and the deadline passed (the same count as
    /// `reports_overdue`, named as supervisors count it).
    pub reports_missing: i64,
    /// Not filed, deadline still ahead.
    pub reports_pending: i64,
}

/// The case store: what every door (CLI, API, feeds) calls. Implemented once over any
/// [`Backend`] by [`Cases`]; open one with [`crate::open`].
pub trait CaseStore: Send {
    /// The database (path or redacted URL).
    fn label(&self) -> String;
    /// Stores alerts (skipping known dedup keys) and groups each into its subject's open case,
    /// opening one when there is none; with `cursor`, also records a feed position in the same
    /// transaction (see [`crate::feed`]).
    ///
    /// # Errors
    /// [`CasesError::Invalid`] for an empty subject or dedup key (nothing stored),
    /// [`CasesError::Forbidden`] for supervisors, [`CasesError::Db`].
    fn ingest_alerts(
        &mut self,
        actor: &Actor,
        alerts: &[NewAlert],
        cursor: Option<(&str, i64)>,
    ) -> Result<Ingested>;
    /// Stores report obligations (as [`CaseStore::add_reports`]) and alerts (as
    /// [`CaseStore::ingest_alerts`], with the feed position) in **one** transaction: the
    /// monitor feed's group commit (`crate::feed::ingest_decided`).
    ///
    /// # Errors
    /// As [`CaseStore::add_reports`] and [`CaseStore::ingest_alerts`]; nothing is stored then.
    fn ingest_decided(
        &mut self,
        actor: &Actor,
        reports: &[NewReport],
        alerts: &[NewAlert],
        cursor: Option<(&str, i64)>,
    ) -> Result<Ingested>;
    /// Stores several groups of a feed's decisions in **one** transaction, each group as
    /// [`CaseStore::ingest_decided`] stores it, in order: the rows, ids, case versions and audit
    /// entries are those one call per group writes, and the last group's cursor is the one
    /// left; only the commits are fewer (each commit rewrites every page it changed into the
    /// write-ahead log, and a group of alerts touches most of the case and index pages). One
    /// [`Ingested`] per group.
    ///
    /// # Errors
    /// As [`CaseStore::ingest_decided`]; nothing of any group is stored then.
    fn ingest_decided_groups(
        &mut self,
        actor: &Actor,
        groups: &[DecidedGroup<'_>],
    ) -> Result<Vec<Ingested>>;
    /// A feed's recorded position (0 when none).
    ///
    /// # Errors
    /// [`CasesError::Db`].
    fn feed_position(&mut self, tenant: &TenantId, source: &str) -> Result<i64>;
    /// Opens a case by hand for a subject (or returns its open case).
    ///
    /// # Errors
    /// As [`CaseStore::ingest_alerts`].
    fn open_case(&mut self, actor: &Actor, subject: &str, reason: &str) -> Result<Case>;
    /// Assigns the case.
    ///
    /// # Errors
    /// [`CasesError::UnknownCase`], [`CasesError::Transition`], [`CasesError::Forbidden`],
    /// [`CasesError::Conflict`], [`CasesError::Db`]; nothing changes on error.
    fn assign(&mut self, actor: &Actor, case: CaseId, to: &UserId) -> Result<Case>;
    /// Adds a note.
    ///
    /// # Errors
    /// As [`CaseStore::assign`], and [`CasesError::Invalid`] for an empty note.
    fn note(&mut self, actor: &Actor, case: CaseId, text: &str) -> Result<Case>;
    /// Attaches an evidence document (a screening hit with its explanation, a trace path, an
    /// exposure report) under a label.
    ///
    /// # Errors
    /// As [`CaseStore::note`].
    fn attach(
        &mut self,
        actor: &Actor,
        case: CaseId,
        label: &str,
        doc: serde_json::Value,
    ) -> Result<Case>;
    /// Hands the case to approvers.
    ///
    /// # Errors
    /// As [`CaseStore::assign`].
    fn escalate(&mut self, actor: &Actor, case: CaseId, reason: &str) -> Result<Case>;
    /// Decides; under four-eyes for this kind the case waits for approval.
    ///
    /// # Errors
    /// As [`CaseStore::note`].
    fn decide(
        &mut self,
        actor: &Actor,
        case: CaseId,
        kind: DecisionKind,
        reason: &str,
    ) -> Result<Case>;
    /// Approves the pending decision (the approver must differ from the decider).
    ///
    /// # Errors
    /// As [`CaseStore::assign`], and [`CasesError::SameApprover`].
    fn approve(&mut self, actor: &Actor, case: CaseId) -> Result<Case>;
    /// Sends the pending decision back to open.
    ///
    /// # Errors
    /// As [`CaseStore::note`].
    fn reject(&mut self, actor: &Actor, case: CaseId, reason: &str) -> Result<Case>;
    /// Snoozes until a time (a new alert wakes it).
    ///
    /// # Errors
    /// As [`CaseStore::assign`], and [`CasesError::Invalid`] for a time not in the future.
    fn snooze(&mut self, actor: &Actor, case: CaseId, until: UnixTime) -> Result<Case>;
    /// Opens a snoozed or closed case again.
    ///
    /// # Errors
    /// As [`CaseStore::note`].
    fn reopen(&mut self, actor: &Actor, case: CaseId, reason: &str) -> Result<Case>;
    /// One case with its alerts, items and audit trail.
    ///
    /// # Errors
    /// [`CasesError::UnknownCase`], [`CasesError::Forbidden`], [`CasesError::Db`].
    fn case(&mut self, actor: &Actor, case: CaseId) -> Result<CaseView>;
    /// The actor's tenant's cases, newest first.
    ///
    /// # Errors
    /// [`CasesError::Forbidden`], [`CasesError::Db`].
    fn cases(&mut self, actor: &Actor, filter: &ListFilter) -> Result<Vec<Case>>;
    /// The actor's tenant's alerts, newest first.
    ///
    /// # Errors
    /// [`CasesError::Forbidden`], [`CasesError::Db`].
    fn alerts(&mut self, actor: &Actor, filter: &ListFilter) -> Result<Vec<Alert>>;
    /// Sets whether a decision kind needs four-eyes approval (admin).
    ///
    /// # Errors
    /// [`CasesError::Forbidden`], [`CasesError::Db`].
    fn set_four_eyes(&mut self, actor: &Actor, kind: DecisionKind, required: bool) -> Result<()>;
    /// Whether a decision kind needs approval in a tenant.
    ///
    /// # Errors
    /// [`CasesError::Db`].
    fn four_eyes(&mut self, tenant: &TenantId, kind: DecisionKind) -> Result<bool>;
    /// Puts the tenant's audit log on legal hold, or lifts it (admin).
    ///
    /// # Errors
    /// [`CasesError::Forbidden`], [`CasesError::Db`].
    fn set_legal_hold(&mut self, actor: &Actor, hold: bool) -> Result<()>;
    /// Sets the audit retention in days (admin; at least 1).
    ///
    /// # Errors
    /// [`CasesError::Forbidden`], [`CasesError::Invalid`], [`CasesError::Db`].
    fn set_retention_days(&mut self, actor: &Actor, days: i64) -> Result<()>;
    /// Deletes the audit entries older than the retention, oldest first (admin). The chain's
    /// base moves forward so the rest still verifies.
    ///
    /// # Errors
    /// [`CasesError::Retention`] under legal hold, [`CasesError::Forbidden`], [`CasesError::Db`].
    fn purge_expired(&mut self, actor: &Actor) -> Result<u64>;
    /// Deletes one audit entry: refused unless it is the oldest one and expired.
    ///
    /// # Errors
    /// [`CasesError::Retention`]; nothing is deleted.
    fn delete_audit_entry(&mut self, actor: &Actor, seq: i64) -> Result<()>;
    /// Who acts, checked against the tenant's user registry: with no user registered the
    /// tenant is in single-user mode and the claimed role (analyst when none) is trusted; once
    /// a user exists, only registered, enabled users act, with the registry's role (a claimed
    /// role must match it).
    ///
    /// # Errors
    /// [`CasesError::UnknownUser`] naming the user and why, [`CasesError::Db`].
    fn authenticate(
        &mut self,
        tenant: &TenantId,
        user: &UserId,
        claimed: Option<Role>,
    ) -> Result<Actor>;
    /// Adds a user with a role (admin; the first user of a tenant may be added by anyone and
    /// must be an admin).
    ///
    /// # Errors
    /// [`CasesError::Forbidden`], [`CasesError::Invalid`] (known user, first user not admin),
    /// [`CasesError::Db`].
    fn add_user(&mut self, actor: &Actor, user: &UserId, role: Role) -> Result<User>;
    /// The tenant's users.
    ///
    /// # Errors
    /// [`CasesError::Forbidden`] for supervisors, [`CasesError::Db`].
    fn users(&mut self, actor: &Actor) -> Result<Vec<User>>;
    /// Disables a user (admin); the last enabled admin stays.
    ///
    /// # Errors
    /// [`CasesError::Forbidden`], [`CasesError::Invalid`], [`CasesError::Db`].
    fn disable_user(&mut self, actor: &Actor, user: &UserId) -> Result<User>;
    /// Returns snoozed cases whose time has come to the queue (state open), one audit entry
    /// each by `system:snooze`. Every read of cases or alerts and every case action calls it.
    ///
    /// # Errors
    /// [`CasesError::Db`].
    fn wake_snoozed(&mut self, tenant: &TenantId) -> Result<Vec<CaseId>>;
    /// Recomputes the tenant's chain and names the first altered, inserted or deleted entry.
    ///
    /// # Errors
    /// [`CasesError::Db`], [`CasesError::Forbidden`] for another tenant.
    fn verify_audit(&mut self, actor: &Actor) -> Result<Verification>;
    /// Records report obligations (known dedup keys are skipped); returns the new ones.
    ///
    /// # Errors
    /// [`CasesError::Forbidden`], [`CasesError::Db`].
    fn add_reports(&mut self, actor: &Actor, reports: &[NewReport]) -> Result<Vec<ReportId>>;
    /// The tenant's report obligations, by due time.
    ///
    /// # Errors
    /// [`CasesError::Forbidden`], [`CasesError::Db`].
    fn reports(&mut self, actor: &Actor) -> Result<Vec<ReportObligation>>;
    /// Marks a report filed with the SHA-256 of the document sent.
    ///
    /// # Errors
    /// [`CasesError::Invalid`] for an unknown report or a bad hash, [`CasesError::Db`].
    fn file_report(
        &mut self,
        actor: &Actor,
        id: ReportId,
        sha256: &str,
    ) -> Result<ReportObligation>;
    /// Grants a supervisor read access to this tenant's cases (admin).
    ///
    /// # Errors
    /// [`CasesError::Forbidden`], [`CasesError::Db`].
    fn grant_supervisor(&mut self, actor: &Actor, supervisor: &UserId) -> Result<()>;
    /// Aggregates over every tenant (supervisor only): counts, no customer data.
    ///
    /// # Errors
    /// [`CasesError::Forbidden`], [`CasesError::Db`].
    fn supervisor_summary(&mut self, actor: &Actor) -> Result<Vec<TenantSummary>>;
    /// A tenant's cases read by a supervisor it granted access to.
    ///
    /// # Errors
    /// [`CasesError::Forbidden`] without a grant, [`CasesError::Db`].
    fn supervised_cases(&mut self, actor: &Actor, tenant: &TenantId) -> Result<Vec<Case>>;
}

/// The one implementation of [`CaseStore`], over SQLite or PostgreSQL.
pub struct Cases<B: Backend> {
    db: B,
    clock: Box<dyn Fn() -> UnixTime + Send>,
}

impl<B: Backend> std::fmt::Debug for Cases<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cases").field("db", &self.db.label()).finish()
    }
}

impl<B: Backend> Cases<B> {
    /// Wraps an opened backend.
    pub fn new(db: B) -> Cases<B> {
        Cases { db, clock: Box::new(UnixTime::now) }
    }

    /// Replaces the clock (tests: deadlines, snoozes, retention).
    pub fn set_clock(&mut self, clock: impl Fn() -> UnixTime + Send + 'static) {
        self.clock = Box::new(clock);
    }

    /// The backend (tests tamper with the database through it).
    pub fn backend_mut(&mut self) -> &mut B {
        &mut self.db
    }
}

// ------------------------------------------------------------------ helpers

fn actor_text(a: &Actor) -> String {
    format!("{}:{}", a.user, a.role)
}

fn forbidden(a: &Actor, what: &str) -> CasesError {
    CasesError::Forbidden {
        user: a.user.to_string(),
        role: a.role.to_string(),
        action: what.to_owned(),
    }
}

/// Tenant work (alerts, cases, reports) is for analysts, approvers and admins of the tenant.
fn require_worker(a: &Actor, what: &str) -> Result<()> {
    if a.role == Role::Supervisor {
        return Err(forbidden(a, what));
    }
    Ok(())
}

fn require_admin(a: &Actor, what: &str) -> Result<()> {
    if a.role != Role::Admin {
        return Err(forbidden(a, what));
    }
    Ok(())
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("case-store values always serialize")
}

fn corrupt(db: &str, what: &str, m: impl std::fmt::Display) -> CasesError {
    CasesError::Corrupt { db: db.to_owned(), what: what.to_owned(), message: m.to_string() }
}

fn get_i(r: &Row, i: usize) -> i64 {
    r.get(i).and_then(Val::int).unwrap_or(0)
}
fn get_oi(r: &Row, i: usize) -> Option<i64> {
    r.get(i).and_then(Val::int)
}
fn get_s(r: &Row, i: usize) -> String {
    r.get(i).and_then(Val::text).unwrap_or_default().to_owned()
}
fn get_os(r: &Row, i: usize) -> Option<String> {
    r.get(i).and_then(Val::text).map(str::to_owned)
}

const CASE_COLS: &str = "tenant, id, subject, state, severity, assignee, decision, decision_reason, decided_by, approved_by, snoozed_until, alert_count, version, created, updated";

fn case_from(db: &str, r: &Row) -> Result<Case> {
    let c = |e: CasesError| corrupt(db, "case", e);
    let user = |s: Option<String>| s.map(UserId::new).transpose();
    Ok(Case {
        tenant: TenantId::new(get_s(r, 0)).map_err(CasesError::from).map_err(c)?,
        id: CaseId(get_i(r, 1)),
        subject: get_s(r, 2),
        state: CaseState::parse(&get_s(r, 3)).map_err(c)?,
        severity: Severity::parse(&get_s(r, 4)).map_err(c)?,
        assignee: user(get_os(r, 5)).map_err(c)?,
        decision: get_os(r, 6).map(|s| DecisionKind::parse(&s)).transpose().map_err(c)?,
        decision_reason: get_os(r, 7),
        decided_by: user(get_os(r, 8)).map_err(c)?,
        approved_by: user(get_os(r, 9)).map_err(c)?,
        snoozed_until: get_oi(r, 10).map(UnixTime),
        alert_count: get_i(r, 11),
        version: get_i(r, 12),
        created: UnixTime(get_i(r, 13)),
        updated: UnixTime(get_i(r, 14)),
    })
}

const ALERT_COLS: &str = "tenant, id, case_id, dedup_key, source, rule, severity, subject, reasons, evidence, event_time, created";

fn alert_from(db: &str, r: &Row) -> Result<Alert> {
    let c = |e: CasesError| corrupt(db, "alert", e);
    let j = |e: serde_json::Error| corrupt(db, "alert", e);
    Ok(Alert {
        tenant: TenantId::new(get_s(r, 0)).map_err(CasesError::from).map_err(c)?,
        id: AlertId(get_i(r, 1)),
        case: CaseId(get_i(r, 2)),
        created: UnixTime(get_i(r, 11)),
        alert: NewAlert {
            dedup_key: get_s(r, 3),
            source: AlertSource::parse(&get_s(r, 4)).map_err(c)?,
            rule: get_s(r, 5),
            severity: Severity::parse(&get_s(r, 6)).map_err(c)?,
            subject: get_s(r, 7),
            reasons: serde_json::from_str(&get_s(r, 8)).map_err(j)?,
            evidence: serde_json::from_str(&get_s(r, 9)).map_err(j)?,
            event_time: UnixTime(get_i(r, 10)),
        },
    })
}

const AUDIT_COLS: &str = "tenant, seq, prev_hash, time, actor, action, object, before, after, hash";

/// One object's audit entries in order (through the `audit_object` index).
fn audit_by_object() -> String {
    format!("SELECT {AUDIT_COLS} FROM audit WHERE tenant = ? AND object = ? ORDER BY seq")
}

fn audit_from(r: &Row) -> AuditEntry {
    AuditEntry {
        tenant: get_s(r, 0),
        seq: get_i(r, 1),
        prev_hash: get_s(r, 2),
        time: get_i(r, 3),
        actor: get_s(r, 4),
        action: get_s(r, 5),
        object: get_s(r, 6),
        before: get_s(r, 7),
        after: get_s(r, 8),
        hash: get_s(r, 9),
    }
}

const REPORT_COLS: &str = "tenant, id, kind, subject_ids, event_time, detected_time, due_time, filed_time, document_sha256, reason";

fn report_from(db: &str, r: &Row) -> Result<ReportObligation> {
    let c = |e: CasesError| corrupt(db, "report", e);
    let j = |e: serde_json::Error| corrupt(db, "report", e);
    Ok(ReportObligation {
        tenant: TenantId::new(get_s(r, 0)).map_err(CasesError::from).map_err(c)?,
        id: ReportId(get_i(r, 1)),
        kind: ReportKind::parse(&get_s(r, 2)).map_err(c)?,
        subject_ids: serde_json::from_str(&get_s(r, 3)).map_err(j)?,
        event_time: UnixTime(get_i(r, 4)),
        detected_time: UnixTime(get_i(r, 5)),
        due_time: UnixTime(get_i(r, 6)),
        filed_time: get_oi(r, 7).map(UnixTime),
        document_sha256: get_os(r, 8),
        reason: serde_json::from_str(&get_s(r, 9)).map_err(j)?,
    })
}

/// The audit chain head of one tenant, locked for the transaction, with entries appended in
/// memory and the head written back once.
struct Chain {
    tenant: String,
    seq: i64,
    hash: String,
    now: i64,
}

impl Chain {
    /// Locks the tenant's head (a no-op UPDATE takes PostgreSQL's row lock) and makes sure the
    /// tenant exists.
    fn lock(tx: &mut dyn Tx, tenant: &TenantId, now: UnixTime) -> Result<Chain> {
        ensure_tenant(tx, tenant, now)?;
        let rows = tx.query(
            "UPDATE audit_head SET seq = seq WHERE tenant = ? RETURNING seq, hash",
            &[tenant.as_str().into()],
        )?;
        let r = rows.first().ok_or_else(|| corrupt("", "audit head", "missing"))?;
        Ok(Chain { tenant: tenant.to_string(), seq: get_i(r, 0), hash: get_s(r, 1), now: now.0 })
    }

    /// Advances the chain by one entry and appends its `audit` row (the columns of
    /// `AUDIT_COLS`) to `rows`.
    #[allow(clippy::too_many_arguments)] // the entry's fields, named at the call site
    fn next_row<'e>(
        &mut self,
        rows: &mut Vec<Val<'e>>,
        actor: &'e str,
        action: &'e str,
        object: &'e str,
        before: &'e str,
        after: &'e str,
    ) {
        let seq = self.seq + 1;
        let hash = entry_hash(
            &self.hash,
            seq,
            &self.tenant,
            actor,
            self.now,
            action,
            object,
            before,
            after,
        );
        rows.extend([
            self.tenant.clone().into(),
            seq.into(),
            std::mem::take(&mut self.hash).into(),
            self.now.into(),
            actor.into(),
            action.into(),
            object.into(),
            before.into(),
            after.into(),
            hash.clone().into(),
        ]);
        self.seq = seq;
        self.hash = hash;
    }

    fn append(
        &mut self,
        tx: &mut dyn Tx,
        actor: &str,
        action: &str,
        object: &str,
        before: &str,
        after: &str,
    ) -> Result<()> {
        let mut row = Vec::with_capacity(AUDIT_WIDTH);
        self.next_row(&mut row, actor, action, object, before, after);
        insert_rows(tx, &audit_insert(), AUDIT_WIDTH, row)
    }

    /// Appends entries by one actor, inserting them with multi-row statements.
    fn append_all(&mut self, tx: &mut dyn Tx, actor: &str, entries: &[NewEntry]) -> Result<()> {
        let mut rows: Vec<Val<'_>> = Vec::with_capacity(entries.len() * AUDIT_WIDTH);
        for e in entries {
            self.next_row(&mut rows, actor, e.action, &e.object, &e.before, &e.after);
        }
        insert_rows(tx, &audit_insert(), AUDIT_WIDTH, rows)
    }

    fn store(self, tx: &mut dyn Tx) -> Result<()> {
        tx.exec(
            "UPDATE audit_head SET seq = ?, hash = ? WHERE tenant = ?",
            &[self.seq.into(), self.hash.into(), self.tenant.into()],
        )?;
        Ok(())
    }
}

/// An audit entry to append: its action, object, before and after documents (the action and
/// a `null` before document are not allocated per entry).
struct NewEntry {
    action: &'static str,
    object: String,
    before: Cow<'static, str>,
    after: String,
}

/// The number of columns in `AUDIT_COLS`.
const AUDIT_WIDTH: usize = 10;

/// The audit row insert, up to its `VALUES`.
fn audit_insert() -> String {
    format!("INSERT INTO audit ({AUDIT_COLS}) VALUES ")
}

/// Rows per multi-row statement, and keys per `IN (…)` list: PostgreSQL allows 65,535
/// parameters per statement, SQLite 32,766.
const IN_CHUNK: usize = 500;
const ROWS_CHUNK: usize = 100;

/// `?, ?, …` (n marks).
fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Inserts rows of `cols` values each, `rows` holding one row's values after the other (the
/// values are moved into the statements' parameters, not copied): on PostgreSQL with multi-row `INSERT … VALUES (…), (…)` statements (a
/// statement is a round trip), on SQLite one row per statement, the same statement again. A
/// multi-row INSERT into a table with constraints is backed by a statement journal on
/// SQLite (a temporary file holding a copy of every page the statement changes, so that a
/// failing row can undo the rows before it): with alerts, audit entries and reports inserted
/// 100 at a time that was 6.5 KB of writes per monitor decision, more than the rows
/// themselves (ADR 0007). On SQLite the one-row statement is prepared once per call
/// ([`Tx::exec_each`]), not looked up in the statement cache per row.
fn insert_rows(tx: &mut dyn Tx, head: &str, cols: usize, rows: Vec<Val<'_>>) -> Result<()> {
    debug_assert_eq!(rows.len() % cols, 0, "every row has {cols} values");
    if rows.is_empty() {
        return Ok(());
    }
    let one = format!("({})", marks(cols));
    let sql = |rows: usize| format!("{head}{}", vec![one.as_str(); rows].join(", "));
    if tx.embedded() {
        tx.exec_each(&sql(1), &rows, cols)?;
        return Ok(());
    }
    let per_statement = ROWS_CHUNK;
    let full = sql(per_statement);
    for chunk in rows.chunks(per_statement * cols) {
        if chunk.len() == per_statement * cols {
            tx.exec(&full, chunk)?;
        } else {
            tx.exec(&sql(chunk.len() / cols), chunk)?;
        }
    }
    Ok(())
}

fn store_cursor(tx: &mut dyn Tx, t: &TenantId, source: &str, pos: i64) -> Result<()> {
    tx.exec(
        "INSERT INTO feed_cursor (tenant, source, position) VALUES (?, ?, ?) ON CONFLICT (tenant, source) DO UPDATE SET position = excluded.position",
        &[t.as_str().into(), source.into(), pos.into()],
    )?;
    Ok(())
}

fn case_row(c: &Case) -> [Val<'_>; 15] {
    [
        c.tenant.as_str().into(),
        c.id.0.into(),
        c.subject.as_str().into(),
        c.state.as_str().into(),
        c.severity.as_str().into(),
        c.assignee.as_ref().map(UserId::as_str).into(),
        c.decision.map(DecisionKind::as_str).into(),
        c.decision_reason.as_deref().into(),
        c.decided_by.as_ref().map(UserId::as_str).into(),
        c.approved_by.as_ref().map(UserId::as_str).into(),
        c.snoozed_until.map(|t| t.0).into(),
        c.alert_count.into(),
        c.version.into(),
        c.created.0.into(),
        c.updated.0.into(),
    ]
}

fn ensure_tenant(tx: &mut dyn Tx, tenant: &TenantId, now: UnixTime) -> Result<()> {
    let n = tx.exec(
        "INSERT INTO tenants (tenant, retention_days, legal_hold, created) VALUES (?, ?, 0, ?) ON CONFLICT (tenant) DO NOTHING",
        &[tenant.as_str().into(), DEFAULT_RETENTION_DAYS.into(), now.0.into()],
    )?;
    if n > 0 {
        tx.exec(
            "INSERT INTO audit_head (tenant, seq, hash, base_seq, base_hash) VALUES (?, 0, ?, 0, ?) ON CONFLICT (tenant) DO NOTHING",
            &[tenant.as_str().into(), GENESIS.into(), GENESIS.into()],
        )?;
        for k in DEFAULT_FOUR_EYES {
            tx.exec(
                "INSERT INTO four_eyes (tenant, decision, required) VALUES (?, ?, 1) ON CONFLICT (tenant, decision) DO NOTHING",
                &[tenant.as_str().into(), k.as_str().into()],
            )?;
        }
    }
    Ok(())
}

/// Takes `n` numbers from a per-tenant counter; returns the first.
fn take_ids(tx: &mut dyn Tx, tenant: &TenantId, kind: &str, n: i64) -> Result<i64> {
    let rows = tx.query(
        "INSERT INTO counters (tenant, kind, last) VALUES (?, ?, ?) ON CONFLICT (tenant, kind) DO UPDATE SET last = counters.last + excluded.last RETURNING last",
        &[tenant.as_str().into(), kind.into(), n.into()],
    )?;
    Ok(rows.first().map_or(n, |r| get_i(r, 0)) - n + 1)
}

fn load_case(tx: &mut dyn Tx, db: &str, tenant: &TenantId, id: CaseId) -> Result<Case> {
    let rows = tx.query(
        &format!("SELECT {CASE_COLS} FROM cases WHERE tenant = ? AND id = ?"),
        &[tenant.as_str().into(), id.0.into()],
    )?;
    match rows.first() {
        Some(r) => case_from(db, r),
        None => Err(CasesError::UnknownCase { tenant: tenant.to_string(), case: id.0 }),
    }
}

/// Writes a changed case if its version is still `old_version`.
fn save_case(tx: &mut dyn Tx, c: &Case, old_version: i64) -> Result<()> {
    let n = tx.exec(
        "UPDATE cases SET state = ?, severity = ?, assignee = ?, decision = ?, decision_reason = ?, decided_by = ?, approved_by = ?, snoozed_until = ?, alert_count = ?, version = ?, updated = ? WHERE tenant = ? AND id = ? AND version = ?",
        &[
            c.state.as_str().into(),
            c.severity.as_str().into(),
            c.assignee.as_ref().map(UserId::as_str).into(),
            c.decision.map(DecisionKind::as_str).into(),
            c.decision_reason.as_deref().into(),
            c.decided_by.as_ref().map(UserId::as_str).into(),
            c.approved_by.as_ref().map(UserId::as_str).into(),
            c.snoozed_until.map(|t| t.0).into(),
            c.alert_count.into(),
            c.version.into(),
            c.updated.0.into(),
            c.tenant.as_str().into(),
            c.id.0.into(),
            old_version.into(),
        ],
    )?;
    if n != 1 {
        return Err(CasesError::Conflict { case: c.id.0 });
    }
    Ok(())
}

fn insert_case(tx: &mut dyn Tx, c: &Case) -> Result<()> {
    tx.exec(
        &format!(
            "INSERT INTO cases ({CASE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ),
        &[
            c.tenant.as_str().into(),
            c.id.0.into(),
            c.subject.as_str().into(),
            c.state.as_str().into(),
            c.severity.as_str().into(),
            Val::Null,
            Val::Null,
            Val::Null,
            Val::Null,
            Val::Null,
            Val::Null,
            c.alert_count.into(),
            c.version.into(),
            c.created.0.into(),
            c.updated.0.into(),
        ],
    )?;
    Ok(())
}

/// The subject's case that new alerts join: open, escalated, pending approval or snoozed
/// (a closed case stays closed; a new one opens).
fn active_case(
    tx: &mut dyn Tx,
    db: &str,
    tenant: &TenantId,
    subject: &str,
) -> Result<Option<Case>> {
    let rows = tx.query(
        &format!("SELECT {CASE_COLS} FROM cases WHERE tenant = ? AND subject = ? AND state <> 'closed' ORDER BY id DESC LIMIT 1"),
        &[tenant.as_str().into(), subject.into()],
    )?;
    rows.first().map(|r| case_from(db, r)).transpose()
}

fn check_text(field: &str, s: &str) -> Result<()> {
    if s.trim().is_empty() {
        return Err(CasesError::invalid(field, s, "must not be empty"));
    }
    if s.len() > 100_000 {
        return Err(CasesError::invalid(field, &s[..40], "longer than 100000 bytes"));
    }
    Ok(())
}

fn new_case(tenant: &TenantId, id: i64, subject: &str, severity: Severity, now: UnixTime) -> Case {
    Case {
        tenant: tenant.clone(),
        id: CaseId(id),
        subject: subject.to_owned(),
        state: CaseState::Open,
        severity,
        assignee: None,
        decision: None,
        decision_reason: None,
        decided_by: None,
        approved_by: None,
        snoozed_until: None,
        alert_count: 0,
        version: 1,
        created: now,
        updated: now,
    }
}

/// Refuses a report without a dedup key or due before its event (nothing is stored).
fn check_reports(reports: &[NewReport]) -> Result<()> {
    for r in reports {
        check_text("report dedup_key", &r.dedup_key)?;
        if r.due_time < r.event_time {
            return Err(CasesError::invalid(
                "report due_time",
                r.due_time.to_rfc3339(),
                "before the event it reports",
            ));
        }
    }
    Ok(())
}

/// The work of [`CaseStore::add_reports`] inside the caller's transaction, set at a time: one
/// `IN (…)` lookup of the keys per chunk, the ids taken at once, multi-row inserts of the
/// reports and their audit entries (the same ids, rows and chain as one report at a time).
fn add_reports_tx(
    tx: &mut dyn Tx,
    t: &TenantId,
    who: &str,
    now: UnixTime,
    reports: &[NewReport],
) -> Result<Vec<ReportId>> {
    ensure_tenant(tx, t, now)?;
    let keys = reports.iter().map(|r| r.dedup_key.as_str());
    let mut known = stored_keys(tx, t, "reports", keys)?;
    // A key repeated within the batch is stored once, as its first occurrence.
    let fresh: Vec<&NewReport> =
        reports.iter().filter(|r| known.insert(r.dedup_key.clone())).collect();
    if fresh.is_empty() {
        return Ok(Vec::new());
    }
    let first = take_ids(tx, t, "report", fresh.len() as i64)?;
    let mut rows: Vec<Val> = Vec::with_capacity(fresh.len() * 11);
    let mut audit: Vec<NewEntry> = Vec::with_capacity(fresh.len());
    let mut out = Vec::with_capacity(fresh.len());
    for (i, r) in fresh.iter().enumerate() {
        let id = first + i as i64;
        let (subject_ids, reason) = (json(&r.subject_ids), json(&r.reason));
        // The audit entry commits to the row by its SHA-256 instead of copying the report
        // (ADR 0005): `verify_audit` recomputes it from the row.
        let sha256 = ReportRowRef {
            tenant: t.as_str(),
            id,
            dedup_key: &r.dedup_key,
            kind: r.kind.as_str(),
            subject_ids: &subject_ids,
            event_time: r.event_time.0,
            detected_time: r.detected_time.0,
            due_time: r.due_time.0,
            reason: &reason,
        }
        .sha256();
        rows.extend([
            t.as_str().into(),
            id.into(),
            r.dedup_key.as_str().into(),
            r.kind.as_str().into(),
            subject_ids.into(),
            r.event_time.0.into(),
            r.detected_time.0.into(),
            r.due_time.0.into(),
            Val::Null,
            Val::Null,
            reason.into(),
        ]);
        let after = committed_after(REPORT_SHA256, &sha256, None);
        audit.push(NewEntry {
            action: "report.due",
            object: format!("report:{id}"),
            before: Cow::Borrowed("null"),
            after,
        });
        out.push(ReportId(id));
    }
    insert_rows(
        tx,
        "INSERT INTO reports (tenant, id, dedup_key, kind, subject_ids, event_time, detected_time, due_time, filed_time, document_sha256, reason) VALUES ",
        11,
        rows,
    )?;
    let mut chain = Chain::lock(tx, t, now)?;
    chain.append_all(tx, who, &audit)?;
    chain.store(tx)?;
    Ok(out)
}

/// Which of `keys` the tenant's `table` (`alerts` or `reports`) already holds as a
/// `dedup_key`: one `IN (…)` lookup per chunk of keys.
fn stored_keys<'k>(
    tx: &mut dyn Tx,
    t: &TenantId,
    table: &str,
    keys: impl Iterator<Item = &'k str>,
) -> Result<HashSet<String>> {
    let keys: Vec<Val> = keys.map(Val::from).collect();
    let head = format!("SELECT dedup_key FROM {table} WHERE tenant = ? AND dedup_key");
    Ok(query_in_chunks(tx, t, &head, "", &keys)?.iter().map(|r| get_s(r, 0)).collect())
}

/// Runs `{head} IN (…){tail}` once per chunk of `values`, the tenant as its first parameter
/// (`head` ends with `WHERE tenant = ? AND column`), and returns every row of every chunk.
fn query_in_chunks(
    tx: &mut dyn Tx,
    t: &TenantId,
    head: &str,
    tail: &str,
    values: &[Val<'_>],
) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for chunk in values.chunks(IN_CHUNK) {
        let sql = format!("{head} IN ({}){tail}", marks(chunk.len()));
        let mut p: Vec<Val> = Vec::with_capacity(chunk.len() + 1);
        p.push(t.as_str().into());
        p.extend_from_slice(chunk);
        rows.extend(tx.query(&sql, &p)?);
    }
    Ok(rows)
}

/// The SHA-256 of each row of `committed` that exists ([`AlertRowRef::sha256`],
/// [`ReportRowRef::sha256`]), one `IN (…)` lookup per table and chunk.
fn row_hashes(
    tx: &mut dyn Tx,
    t: &TenantId,
    committed: &[(CommittedTable, i64, String)],
) -> Result<HashMap<(CommittedTable, i64), String>> {
    let mut out = HashMap::with_capacity(committed.len());
    for table in [CommittedTable::Alerts, CommittedTable::Reports] {
        let ids: Vec<Val> = committed
            .iter()
            .filter(|(x, _, _)| *x == table)
            .map(|(_, id, _)| Val::from(*id))
            .collect();
        let head = match table {
            CommittedTable::Alerts => format!("SELECT {ALERT_COLS} FROM alerts"),
            CommittedTable::Reports => "SELECT tenant, id, dedup_key, kind, subject_ids, event_time, detected_time, due_time, reason FROM reports".to_owned(),
        } + " WHERE tenant = ? AND id";
        for r in query_in_chunks(tx, t, &head, "", &ids)? {
            let s = |i: usize| get_s(&r, i);
            let (id, sha256) = match table {
                CommittedTable::Alerts => {
                    let [tenant, key, source, rule, severity, subject, reasons, evidence] =
                        [0, 3, 4, 5, 6, 7, 8, 9].map(s);
                    let row = AlertRowRef {
                        tenant: &tenant,
                        id: get_i(&r, 1),
                        case_id: get_i(&r, 2),
                        dedup_key: &key,
                        source: &source,
                        rule: &rule,
                        severity: &severity,
                        subject: &subject,
                        reasons: &reasons,
                        evidence: &evidence,
                        event_time: get_i(&r, 10),
                        created: get_i(&r, 11),
                    };
                    (row.id, row.sha256())
                }
                CommittedTable::Reports => {
                    let [tenant, key, kind, subject_ids, reason] = [0, 2, 3, 4, 8].map(s);
                    let row = ReportRowRef {
                        tenant: &tenant,
                        id: get_i(&r, 1),
                        dedup_key: &key,
                        kind: &kind,
                        subject_ids: &subject_ids,
                        event_time: get_i(&r, 5),
                        detected_time: get_i(&r, 6),
                        due_time: get_i(&r, 7),
                        reason: &reason,
                    };
                    (row.id, row.sha256())
                }
            };
            out.insert((table, id), sha256);
        }
    }
    Ok(out)
}

/// The after document of an entry that commits to a row by its SHA-256 (ADR 0005):
/// `{"alert_sha256":"…","case":N}` or `{"report_sha256":"…"}`, as a `serde_json::Value` of it
/// writes (keys in sorted order), without building one per entry.
fn committed_after(key: &str, sha256: &str, case: Option<CaseId>) -> String {
    match case {
        Some(c) => format!("{{\"{key}\":\"{sha256}\",\"case\":{}}}", c.0),
        None => format!("{{\"{key}\":\"{sha256}\"}}"),
    }
}

/// A case as a `serde_json::Value` of it writes (keys in sorted order): the alert feed's
/// `case.open` and `case.add_alert` entries record their case this way, without a `Value`
/// tree built and freed per entry (the same bytes: `case_entries_write_what_a_value_tree_wrote`).
#[derive(Serialize)]
struct CaseInValueOrder<'a> {
    alert_count: i64,
    approved_by: &'a Option<UserId>,
    assignee: &'a Option<UserId>,
    created: UnixTime,
    decided_by: &'a Option<UserId>,
    decision: Option<DecisionKind>,
    decision_reason: &'a Option<String>,
    id: CaseId,
    severity: Severity,
    snoozed_until: Option<UnixTime>,
    state: CaseState,
    subject: &'a str,
    tenant: &'a TenantId,
    updated: UnixTime,
    version: i64,
}

impl<'a> CaseInValueOrder<'a> {
    fn of(c: &'a Case) -> CaseInValueOrder<'a> {
        // Destructured in full: a field added to `Case` does not compile until it is here.
        let Case {
            tenant,
            id,
            subject,
            state,
            severity,
            assignee,
            decision,
            decision_reason,
            decided_by,
            approved_by,
            snoozed_until,
            alert_count,
            version,
            created,
            updated,
        } = c;
        CaseInValueOrder {
            alert_count: *alert_count,
            approved_by,
            assignee,
            created: *created,
            decided_by,
            decision: *decision,
            decision_reason,
            id: *id,
            severity: *severity,
            snoozed_until: *snoozed_until,
            state: *state,
            subject,
            tenant,
            updated: *updated,
            version: *version,
        }
    }
}

/// An audit entry's after document `{"case": …, "detail": …}`, keys in sorted order.
#[derive(Serialize)]
struct CaseEntry<'a, D: Serialize> {
    case: CaseInValueOrder<'a>,
    detail: D,
}

/// `{"reason": …}`.
#[derive(Serialize)]
struct OpenedFor {
    reason: &'static str,
}

/// `{}`.
#[derive(Serialize)]
struct NoDetail {}

/// The versioned update of one case by an alert batch, on SQLite: parameters state,
/// severity, alert count, new version, `updated`, tenant, id, old version.
const UPDATE_CASE_SQL: &str = "UPDATE cases SET state = ?, severity = ?, alert_count = ?, version = ?, snoozed_until = NULL, updated = ? WHERE tenant = ? AND id = ? AND version = ?";

/// [`UPDATE_CASE_SQL`] for a case whose state does not change and that was not snoozed:
/// parameters severity, alert count, new version, `updated`, tenant, id, old version.
const UPDATE_CASE_COUNT_SQL: &str = "UPDATE cases SET severity = ?, alert_count = ?, version = ?, updated = ? WHERE tenant = ? AND id = ? AND version = ?";

/// The versioned update of `n` cases by an alert batch, on PostgreSQL: parameters
/// `updated`, then per case `(id, old version, state, severity, alert_count)`, then the
/// tenant.
fn update_cases_sql(n: usize) -> String {
    let tuple = "(CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT))";
    format!(
        "UPDATE cases SET state = v.column3, severity = v.column4, alert_count = v.column5, version = v.column2 + 1, snoozed_until = NULL, updated = ? FROM (VALUES {}) AS v WHERE cases.tenant = ? AND cases.id = v.column1 AND cases.version = v.column2",
        vec![tuple; n].join(", ")
    )
}

/// The work of [`CaseStore::ingest_alerts`] inside the caller's transaction.
fn ingest_alerts_tx(
    tx: &mut dyn Tx,
    label: &str,
    t: &TenantId,
    who: &str,
    now: UnixTime,
    alerts: &[NewAlert],
    cursor: Option<(&str, i64)>,
) -> Result<Ingested> {
    ensure_tenant(tx, t, now)?;
    let mut out = Ingested::default();
    // Which keys are stored already, and which subjects have an active case.
    let keys = alerts.iter().map(|a| a.dedup_key.as_str());
    let mut known = stored_keys(tx, t, "alerts", keys)?;
    let mut fresh: Vec<&NewAlert> = Vec::new();
    for a in alerts {
        if known.insert(a.dedup_key.clone()) {
            fresh.push(a);
        } else {
            out.duplicates += 1;
        }
    }
    if fresh.is_empty() {
        if let Some((source, pos)) = cursor {
            store_cursor(tx, t, source, pos)?;
        }
        return Ok(out);
    }
    let mut subjects: Vec<&str> = fresh.iter().map(|a| a.subject.as_str()).collect();
    subjects.sort_unstable();
    subjects.dedup();
    // subject -> (case now, the row as stored before this batch; None: opened here)
    let mut touched: BTreeMap<String, (Case, Option<Case>)> = BTreeMap::new();
    // No ORDER BY: ordered by id, SQLite walked the tenant's primary key over every case
    // (and read each row) instead of looking the subjects up in `cases_subject`, a scan of
    // all cases per chunk of subjects (a third of a stateful monitor run's CPU at 50,000
    // cases); the newest active case of a subject is picked here instead.
    let head =
        format!("SELECT {CASE_COLS} FROM cases WHERE tenant = ? AND state <> 'closed' AND subject");
    let values: Vec<Val> = subjects.iter().map(|s| Val::from(*s)).collect();
    for r in query_in_chunks(tx, t, &head, "", &values)? {
        let c = case_from(label, &r)?;
        match touched.get(&c.subject) {
            Some((newer, _)) if newer.id.0 > c.id.0 => {}
            _ => {
                touched.insert(c.subject.clone(), (c.clone(), Some(c)));
            }
        }
    }
    let opened = subjects.iter().filter(|s| !touched.contains_key(**s)).count() as i64;
    let mut next_case = if opened > 0 { take_ids(tx, t, "case", opened)? } else { 0 };
    let first_alert = take_ids(tx, t, "alert", fresh.len() as i64)?;
    let mut audit: Vec<NewEntry> = Vec::with_capacity(fresh.len() + touched.len());
    let mut new_cases: Vec<CaseId> = Vec::new();
    let mut alert_rows: Vec<Val> = Vec::with_capacity(fresh.len() * 12);
    for (i, a) in fresh.iter().enumerate() {
        let id = first_alert + i as i64;
        // Looked up before an entry is made: `entry` needs the key as a `String`, a copy of
        // the subject per alert although most subjects are in the map already.
        if !touched.contains_key(&a.subject) {
            let c = new_case(t, next_case, &a.subject, a.severity, now);
            next_case += 1;
            out.cases_opened.push(c.id);
            new_cases.push(c.id);
            audit.push(NewEntry {
                action: "case.open",
                object: format!("case:{}", c.id.0),
                before: Cow::Borrowed("null"),
                after: json(&CaseEntry {
                    case: CaseInValueOrder::of(&c),
                    detail: OpenedFor { reason: "alert" },
                }),
            });
            touched.insert(a.subject.clone(), (c, None));
        }
        let Some((c, _)) = touched.get_mut(&a.subject) else {
            unreachable!("the subject's case was inserted just above")
        };
        // The state machine: a new alert keeps the case where it is, or wakes a
        // snoozed one.
        match step(c.state, Action::AddAlert, Role::Admin) {
            Step::To(s) => c.state = s,
            _ => unreachable!("every non-closed state takes add_alert"),
        }
        c.snoozed_until = None;
        c.alert_count += 1;
        c.severity = max_sev(c.severity, a.severity);
        c.updated = now;
        let (reasons, evidence) = (json(&a.reasons), a.evidence.as_json());
        // The audit entry commits to the row by its SHA-256 instead of copying the alert
        // (ADR 0005): `verify_audit` recomputes it from the row.
        let sha256 = AlertRowRef {
            tenant: t.as_str(),
            id,
            case_id: c.id.0,
            dedup_key: &a.dedup_key,
            source: a.source.as_str(),
            rule: &a.rule,
            severity: a.severity.as_str(),
            subject: &a.subject,
            reasons: &reasons,
            evidence,
            event_time: a.event_time.0,
            created: now.0,
        }
        .sha256();
        alert_rows.extend([
            t.as_str().into(),
            id.into(),
            c.id.0.into(),
            a.dedup_key.as_str().into(),
            a.source.as_str().into(),
            a.rule.as_str().into(),
            a.severity.as_str().into(),
            a.subject.as_str().into(),
            reasons.into(),
            evidence.into(),
            a.event_time.0.into(),
            now.0.into(),
        ]);
        out.created.push((AlertId(id), c.id));
        audit.push(NewEntry {
            action: "alert.create",
            object: format!("alert:{id}"),
            before: Cow::Borrowed("null"),
            after: committed_after(ALERT_SHA256, &sha256, Some(c.id)),
        });
    }
    // New cases, written with their state after this batch.
    let rows: Vec<Val> = touched
        .values()
        .filter(|(_, before)| before.is_none())
        .flat_map(|(c, _)| case_row(c))
        .collect();
    insert_rows(tx, &format!("INSERT INTO cases ({CASE_COLS}) VALUES "), 15, rows)?;
    insert_rows(tx, &format!("INSERT INTO alerts ({ALERT_COLS}) VALUES "), 12, alert_rows)?;
    // Existing cases: versioned UPDATEs; a row whose version moved under us is not updated,
    // and the whole batch fails with a conflict.
    let existing: Vec<(&Case, &Case)> =
        touched.values().filter_map(|(c, b)| b.as_ref().map(|b| (c, b))).collect();
    if tx.embedded() {
        // SQLite: one row per statement. A statement that updates many rows (the `UPDATE …
        // FROM (VALUES …)` below) is backed by a statement journal, a temporary file that
        // took a copy of every page of `cases` it changed, per chunk: 7 KB of writes per
        // monitor decision, more than the database itself (ADR 0007).
        for (c, b) in &existing {
            // A case that stays in its state and was not snoozed (nearly all: an open case
            // taking another alert) is updated without setting `state` and `snoozed_until`
            // to the values they hold (the parameters after the state): the row is the same,
            // and SQLite then leaves the two indexes on them (`cases_subject`,
            // `cases_snoozed`) alone instead of deleting and inserting the case's entry in each.
            let same = c.state == b.state && b.snoozed_until.is_none();
            let p: [Val; 8] = [
                c.state.as_str().into(),
                c.severity.as_str().into(),
                c.alert_count.into(),
                (b.version + 1).into(),
                now.0.into(),
                t.as_str().into(),
                c.id.0.into(),
                b.version.into(),
            ];
            let n = if same {
                tx.exec(UPDATE_CASE_COUNT_SQL, &p[1..])?
            } else {
                tx.exec(UPDATE_CASE_SQL, &p)?
            };
            if n != 1 {
                return Err(CasesError::Conflict { case: c.id.0 });
            }
        }
    } else {
        // PostgreSQL: one statement (a round trip) per chunk.
        for chunk in existing.chunks(IN_CHUNK / 5) {
            let sql = update_cases_sql(chunk.len());
            let mut p: Vec<Val> = vec![now.0.into()];
            for (c, b) in chunk {
                p.extend([
                    c.id.0.into(),
                    b.version.into(),
                    c.state.as_str().into(),
                    c.severity.as_str().into(),
                    c.alert_count.into(),
                ]);
            }
            p.push(t.as_str().into());
            let n = tx.exec(&sql, &p)?;
            if n != chunk.len() as u64 {
                let first = chunk.first().map_or(0, |(c, _)| c.id.0);
                return Err(CasesError::Conflict { case: first });
            }
        }
    }
    for (c, b) in &existing {
        let mut after = CaseInValueOrder::of(c);
        after.version = b.version + 1;
        audit.push(NewEntry {
            action: "case.add_alert",
            object: format!("case:{}", c.id.0),
            before: Cow::Owned(json(b)),
            after: json(&CaseEntry { case: after, detail: NoDetail {} }),
        });
    }
    let mut chain = Chain::lock(tx, t, now)?;
    chain.append_all(tx, who, &audit)?;
    chain.store(tx)?;
    if let Some((source, pos)) = cursor {
        store_cursor(tx, t, source, pos)?;
    }
    Ok(out)
}

impl<B: Backend> Cases<B> {
    /// Loads the case, lets `change` edit it in memory (reading, never writing, and returning
    /// the action it amounts to: `decide` becomes `decide_four_eyes` under four-eyes), asks the
    /// state machine, saves the case under its version, runs `extra` (notes, evidence) and
    /// writes the audit entry — all in one transaction, so an error changes nothing.
    fn act(
        &mut self,
        actor: &Actor,
        id: CaseId,
        detail: serde_json::Value,
        change: &mut dyn FnMut(&mut dyn Tx, &mut Case) -> Result<Action>,
        extra: &mut dyn FnMut(&mut dyn Tx, &Case, UnixTime) -> Result<()>,
    ) -> Result<Case> {
        self.wake_snoozed(&actor.tenant)?;
        let now = (self.clock)();
        let label = self.db.label().to_owned();
        self.db.with_tx(&mut |tx| {
            let mut c = load_case(tx, &label, &actor.tenant, id)?;
            let before = c.clone();
            let action = change(tx, &mut c)?;
            require_worker(actor, action.as_str())?;
            let to = match step(before.state, action, actor.role) {
                Step::To(s) => s,
                Step::NotInState => {
                    return Err(CasesError::Transition {
                        case: id.0,
                        action: action.as_str().to_owned(),
                        state: before.state.to_string(),
                    })
                }
                Step::RoleRefused => {
                    return Err(forbidden(actor, &format!("{} case {}", action.as_str(), id.0)))
                }
            };
            c.state = to;
            c.version = before.version + 1;
            c.updated = now;
            save_case(tx, &c, before.version)?;
            extra(tx, &c, now)?;
            let mut chain = Chain::lock(tx, &actor.tenant, now)?;
            let after = serde_json::json!({"case": &c, "detail": &detail});
            chain.append(
                tx,
                &actor_text(actor),
                &format!("case.{}", action.as_str()),
                &format!("case:{}", id.0),
                &json(&before),
                &json(&after),
            )?;
            chain.store(tx)?;
            Ok(c)
        })
    }

    fn add_item(
        &mut self,
        actor: &Actor,
        id: CaseId,
        action: Action,
        kind: &str,
        label: &str,
        body: serde_json::Value,
    ) -> Result<Case> {
        let detail = serde_json::json!({"kind": kind, "label": label, "body": &body});
        let user = actor.user.clone();
        self.act(actor, id, detail, &mut |_, _| Ok(action), &mut |tx, c, now| {
            let rows = tx.query(
                "SELECT COALESCE(MAX(n), 0) + 1 FROM case_items WHERE tenant = ? AND case_id = ?",
                &[c.tenant.as_str().into(), c.id.0.into()],
            )?;
            let n = rows.first().map_or(1, |r| get_i(r, 0));
            tx.exec(
                "INSERT INTO case_items (tenant, case_id, n, kind, user_id, time, label, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                &[
                    c.tenant.as_str().into(),
                    c.id.0.into(),
                    n.into(),
                    kind.into(),
                    user.as_str().into(),
                    now.0.into(),
                    label.into(),
                    json(&body).into(),
                ],
            )?;
            Ok(())
        })
    }

    /// A case closed with the decision `report` owes a suspicious-transaction report: record
    /// the obligation (due on the working-day calendar) so `report due` lists it at once;
    /// `report generate str` files it. Written after the decision's own transaction: if this
    /// fails the decision stands, the failure is logged, and `report generate str` records the
    /// obligation (same key) when it files.
    fn after_final_decision(&mut self, actor: &Actor, c: Case) -> Case {
        if c.state != CaseState::Closed || c.decision != Some(DecisionKind::Report) {
            return c;
        }
        let now = (self.clock)();
        let r = self
            .case(actor, c.id)
            .map(|view| crate::filing::str_obligation(&view, now))
            .and_then(|ob| self.add_reports(actor, &[ob]));
        if let Err(e) = r {
            tracing::error!(target: "floodgate::cases", case = c.id.0, "suspicious-report obligation not recorded: {e}");
        }
        c
    }

    fn tenant_admin_change(
        &mut self,
        actor: &Actor,
        what: &str,
        sql: &str,
        params: Vec<Val<'_>>,
        detail: serde_json::Value,
    ) -> Result<()> {
        require_admin(actor, what)?;
        let now = (self.clock)();
        self.db.with_tx(&mut |tx| {
            ensure_tenant(tx, &actor.tenant, now)?;
            tx.exec(sql, &params)?;
            let mut chain = Chain::lock(tx, &actor.tenant, now)?;
            chain.append(tx, &actor_text(actor), what, "tenant", "null", &json(&detail))?;
            chain.store(tx)
        })
    }
}

fn max_sev(a: Severity, b: Severity) -> Severity {
    a.max(b)
}

impl<B: Backend> CaseStore for Cases<B> {
    fn label(&self) -> String {
        self.db.label().to_owned()
    }

    fn ingest_alerts(
        &mut self,
        actor: &Actor,
        alerts: &[NewAlert],
        cursor: Option<(&str, i64)>,
    ) -> Result<Ingested> {
        self.ingest_decided(actor, &[], alerts, cursor)
    }

    fn ingest_decided(
        &mut self,
        actor: &Actor,
        reports: &[NewReport],
        alerts: &[NewAlert],
        cursor: Option<(&str, i64)>,
    ) -> Result<Ingested> {
        let group = DecidedGroup { reports, alerts, cursor };
        let mut r = self.ingest_decided_groups(actor, &[group])?;
        Ok(r.pop().unwrap_or_default())
    }

    fn ingest_decided_groups(
        &mut self,
        actor: &Actor,
        groups: &[DecidedGroup<'_>],
    ) -> Result<Vec<Ingested>> {
        for g in groups {
            if !g.reports.is_empty() {
                require_worker(actor, "record reports")?;
                check_reports(g.reports)?;
            }
        }
        require_worker(actor, "ingest alerts")?;
        for g in groups {
            for a in g.alerts {
                check_text("alert subject", &a.subject)?;
                check_text("alert dedup_key", &a.dedup_key)?;
                check_text("alert rule", &a.rule)?;
            }
        }
        let label = self.db.label().to_owned();
        let who = actor_text(actor);
        let t = &actor.tenant;
        let clock = &self.clock;
        self.db.with_tx(&mut |tx| {
            let mut out = Vec::with_capacity(groups.len());
            for g in groups {
                // Each group at its own time, as when it was committed on its own.
                let now = clock();
                if !g.reports.is_empty() {
                    add_reports_tx(tx, t, &who, now, g.reports)?;
                }
                out.push(ingest_alerts_tx(tx, &label, t, &who, now, g.alerts, g.cursor)?);
            }
            Ok(out)
        })
    }

    fn feed_position(&mut self, tenant: &TenantId, source: &str) -> Result<i64> {
        self.db.with_tx(&mut |tx| {
            let rows = tx.query(
                "SELECT position FROM feed_cursor WHERE tenant = ? AND source = ?",
                &[tenant.as_str().into(), source.into()],
            )?;
            Ok(rows.first().map_or(0, |r| get_i(r, 0)))
        })
    }

    fn open_case(&mut self, actor: &Actor, subject: &str, reason: &str) -> Result<Case> {
        require_worker(actor, "open a case")?;
        check_text("subject", subject)?;
        check_text("reason", reason)?;
        let now = (self.clock)();
        let label = self.db.label().to_owned();
        let t = &actor.tenant;
        self.db.with_tx(&mut |tx| {
            ensure_tenant(tx, t, now)?;
            if let Some(c) = active_case(tx, &label, t, subject)? {
                return Ok(c);
            }
            let cid = take_ids(tx, t, "case", 1)?;
            let c = new_case(t, cid, subject, Severity::Low, now);
            insert_case(tx, &c)?;
            let mut chain = Chain::lock(tx, t, now)?;
            chain.append(
                tx,
                &actor_text(actor),
                "case.open",
                &format!("case:{cid}"),
                "null",
                &json(&serde_json::json!({"case": &c, "detail": {"reason": reason}})),
            )?;
            chain.store(tx)?;
            Ok(c)
        })
    }

    fn assign(&mut self, actor: &Actor, case: CaseId, to: &UserId) -> Result<Case> {
        let to = to.clone();
        let detail = serde_json::json!({"assignee": &to});
        self.act(
            actor,
            case,
            detail,
            &mut |_, c| {
                c.assignee = Some(to.clone());
                Ok(Action::Assign)
            },
            &mut |_, _, _| Ok(()),
        )
    }

    fn note(&mut self, actor: &Actor, case: CaseId, text: &str) -> Result<Case> {
        check_text("note", text)?;
        self.add_item(actor, case, Action::Note, "note", "", serde_json::Value::from(text))
    }

    fn attach(
        &mut self,
        actor: &Actor,
        case: CaseId,
        label: &str,
        doc: serde_json::Value,
    ) -> Result<Case> {
        check_text("evidence label", label)?;
        if doc.is_null() {
            return Err(CasesError::invalid(
                "evidence",
                "null",
                "an evidence document is required",
            ));
        }
        self.add_item(actor, case, Action::Attach, "evidence", label, doc)
    }

    fn escalate(&mut self, actor: &Actor, case: CaseId, reason: &str) -> Result<Case> {
        check_text("reason", reason)?;
        self.act(
            actor,
            case,
            serde_json::json!({"reason": reason}),
            &mut |_, _| Ok(Action::Escalate),
            &mut |_, _, _| Ok(()),
        )
    }

    fn decide(
        &mut self,
        actor: &Actor,
        case: CaseId,
        kind: DecisionKind,
        reason: &str,
    ) -> Result<Case> {
        check_text("reason", reason)?;
        let user = actor.user.clone();
        let tenant = actor.tenant.clone();
        self.act(
            actor,
            case,
            serde_json::json!({"decision": kind, "reason": reason}),
            &mut |tx, c| {
                let rows = tx.query(
                    "SELECT required FROM four_eyes WHERE tenant = ? AND decision = ?",
                    &[tenant.as_str().into(), kind.as_str().into()],
                )?;
                let four_eyes = match rows.first() {
                    Some(r) => get_i(r, 0) != 0,
                    None => DEFAULT_FOUR_EYES.contains(&kind),
                };
                c.decision = Some(kind);
                c.decision_reason = Some(reason.to_owned());
                c.decided_by = Some(user.clone());
                c.approved_by = None;
                Ok(if four_eyes { Action::DecideFourEyes } else { Action::Decide })
            },
            &mut |_, _, _| Ok(()),
        )
        .map(|c| self.after_final_decision(actor, c))
    }

    fn approve(&mut self, actor: &Actor, case: CaseId) -> Result<Case> {
        let user = actor.user.clone();
        self.act(
            actor,
            case,
            serde_json::json!({}),
            &mut |_, c| {
                if c.state == CaseState::PendingApproval && c.decided_by.as_ref() == Some(&user) {
                    return Err(CasesError::SameApprover { case: c.id.0, user: user.to_string() });
                }
                c.approved_by = Some(user.clone());
                Ok(Action::Approve)
            },
            &mut |_, _, _| Ok(()),
        )
        .map(|c| self.after_final_decision(actor, c))
    }

    fn reject(&mut self, actor: &Actor, case: CaseId, reason: &str) -> Result<Case> {
        check_text("reason", reason)?;
        self.act(
            actor,
            case,
            serde_json::json!({"reason": reason}),
            &mut |_, c| {
                c.decision = None;
                c.decision_reason = None;
                c.decided_by = None;
                Ok(Action::Reject)
            },
            &mut |_, _, _| Ok(()),
        )
    }

    fn snooze(&mut self, actor: &Actor, case: CaseId, until: UnixTime) -> Result<Case> {
        let now = (self.clock)();
        if until <= now {
            return Err(CasesError::invalid("until", until.to_rfc3339(), "must be in the future"));
        }
        self.act(
            actor,
            case,
            serde_json::json!({"until": until}),
            &mut |_, c| {
                c.snoozed_until = Some(until);
                Ok(Action::Snooze)
            },
            &mut |_, _, _| Ok(()),
        )
    }

    fn reopen(&mut self, actor: &Actor, case: CaseId, reason: &str) -> Result<Case> {
        check_text("reason", reason)?;
        self.act(
            actor,
            case,
            serde_json::json!({"reason": reason}),
            &mut |_, c| {
                c.snoozed_until = None;
                c.decision = None;
                c.decision_reason = None;
                c.decided_by = None;
                c.approved_by = None;
                Ok(Action::Reopen)
            },
            &mut |_, _, _| Ok(()),
        )
    }

    fn case(&mut self, actor: &Actor, id: CaseId) -> Result<CaseView> {
        require_worker(actor, "read cases")?;
        self.wake_snoozed(&actor.tenant)?;
        let label = self.db.label().to_owned();
        let t = &actor.tenant;
        self.db.with_tx(&mut |tx| {
            let case = load_case(tx, &label, t, id)?;
            let alerts = tx
                .query(
                    &format!("SELECT {ALERT_COLS} FROM alerts WHERE tenant = ? AND case_id = ? ORDER BY id"),
                    &[t.as_str().into(), id.0.into()],
                )?
                .iter()
                .map(|r| alert_from(&label, r))
                .collect::<Result<Vec<_>>>()?;
            let mut items = Vec::new();
            for r in tx.query(
                "SELECT n, kind, user_id, time, label, body FROM case_items WHERE tenant = ? AND case_id = ? ORDER BY n",
                &[t.as_str().into(), id.0.into()],
            )? {
                items.push(CaseItem {
                    n: get_i(&r, 0),
                    kind: get_s(&r, 1),
                    user: UserId::new(get_s(&r, 2)).map_err(|e| corrupt(&label, "case item", e))?,
                    time: UnixTime(get_i(&r, 3)),
                    label: get_s(&r, 4),
                    body: serde_json::from_str(&get_s(&r, 5))
                        .map_err(|e| corrupt(&label, "case item", e))?,
                });
            }
            let mut trail: Vec<AuditEntry> = tx
                .query(
                    &audit_by_object(),
                    &[t.as_str().into(), format!("case:{}", id.0).into()],
                )?
                .iter()
                .map(audit_from)
                .collect();
            for a in &alerts {
                for r in tx.query(
                    &audit_by_object(),
                    &[t.as_str().into(), format!("alert:{}", a.id.0).into()],
                )? {
                    trail.push(audit_from(&r));
                }
            }
            trail.sort_by_key(|e| e.seq);
            Ok(CaseView { case, alerts, items, trail })
        })
    }

    fn cases(&mut self, actor: &Actor, filter: &ListFilter) -> Result<Vec<Case>> {
        require_worker(actor, "list cases")?;
        self.wake_snoozed(&actor.tenant)?;
        let label = self.db.label().to_owned();
        list_cases(&mut self.db, &label, &actor.tenant, filter)
    }

    fn alerts(&mut self, actor: &Actor, filter: &ListFilter) -> Result<Vec<Alert>> {
        require_worker(actor, "list alerts")?;
        self.wake_snoozed(&actor.tenant)?;
        let label = self.db.label().to_owned();
        let mut sql = format!("SELECT {ALERT_COLS} FROM alerts WHERE tenant = ?");
        let mut p: Vec<Val> = vec![actor.tenant.as_str().into()];
        if let Some(c) = filter.case {
            sql.push_str(" AND case_id = ?");
            p.push(c.0.into());
        }
        if let Some(s) = &filter.subject {
            sql.push_str(" AND subject = ?");
            p.push(s.as_str().into());
        }
        if let Some(st) = filter.state {
            sql.push_str(" AND case_id IN (SELECT id FROM cases WHERE tenant = ? AND state = ?)");
            p.push(actor.tenant.as_str().into());
            p.push(st.as_str().into());
        }
        sql.push_str(" ORDER BY id DESC");
        if let Some(l) = filter.limit {
            sql.push_str(&format!(" LIMIT {l}"));
        }
        self.db
            .with_tx(&mut |tx| tx.query(&sql, &p)?.iter().map(|r| alert_from(&label, r)).collect())
    }

    fn set_four_eyes(&mut self, actor: &Actor, kind: DecisionKind, required: bool) -> Result<()> {
        self.tenant_admin_change(
            actor,
            "tenant.four_eyes",
            "INSERT INTO four_eyes (tenant, decision, required) VALUES (?, ?, ?) ON CONFLICT (tenant, decision) DO UPDATE SET required = excluded.required",
            vec![actor.tenant.as_str().into(), kind.as_str().into(), i64::from(required).into()],
            serde_json::json!({"decision": kind, "four_eyes": required}),
        )
    }

    fn four_eyes(&mut self, tenant: &TenantId, kind: DecisionKind) -> Result<bool> {
        self.db.with_tx(&mut |tx| {
            let rows = tx.query(
                "SELECT required FROM four_eyes WHERE tenant = ? AND decision = ?",
                &[tenant.as_str().into(), kind.as_str().into()],
            )?;
            Ok(match rows.first() {
                Some(r) => get_i(r, 0) != 0,
                None => DEFAULT_FOUR_EYES.contains(&kind),
            })
        })
    }

    fn set_legal_hold(&mut self, actor: &Actor, hold: bool) -> Result<()> {
        self.tenant_admin_change(
            actor,
            "tenant.legal_hold",
            "UPDATE tenants SET legal_hold = ? WHERE tenant = ?",
            vec![i64::from(hold).into(), actor.tenant.as_str().into()],
            serde_json::json!({"legal_hold": hold}),
        )
    }

    fn set_retention_days(&mut self, actor: &Actor, days: i64) -> Result<()> {
        if days < 1 {
            return Err(CasesError::invalid("retention_days", days, "must be at least 1"));
        }
        self.tenant_admin_change(
            actor,
            "tenant.retention",
            "UPDATE tenants SET retention_days = ? WHERE tenant = ?",
            vec![days.into(), actor.tenant.as_str().into()],
            serde_json::json!({"retention_days": days}),
        )
    }

    fn purge_expired(&mut self, actor: &Actor) -> Result<u64> {
        require_admin(actor, "purge the audit log")?;
        let now = (self.clock)();
        let t = &actor.tenant;
        self.db.with_tx(&mut |tx| {
            ensure_tenant(tx, t, now)?;
            let (days, hold) = tenant_policy(tx, t)?;
            if hold {
                return Err(CasesError::Retention {
                    tenant: t.to_string(),
                    reason: "the audit log is on legal hold".into(),
                });
            }
            let cutoff = now.0 - days * 86_400;
            let rows = tx.query(
                "SELECT MAX(seq) FROM audit WHERE tenant = ? AND time < ?",
                &[t.as_str().into(), cutoff.into()],
            )?;
            let Some(last) = rows.first().and_then(|r| get_oi(r, 0)) else { return Ok(0) };
            let h = tx.query(
                "SELECT hash FROM audit WHERE tenant = ? AND seq = ?",
                &[t.as_str().into(), last.into()],
            )?;
            let hash = h.first().map(|r| get_s(r, 0)).unwrap_or_default();
            // The database refuses (trigger) any row still under retention.
            let n = tx.exec(
                "DELETE FROM audit WHERE tenant = ? AND seq <= ?",
                &[t.as_str().into(), last.into()],
            )?;
            tx.exec(
                "UPDATE audit_head SET base_seq = ?, base_hash = ? WHERE tenant = ?",
                &[last.into(), hash.into(), t.as_str().into()],
            )?;
            let mut chain = Chain::lock(tx, t, now)?;
            chain.append(
                tx,
                &actor_text(actor),
                "audit.purge",
                "audit",
                "null",
                &json(&serde_json::json!({"deleted_through_seq": last, "entries": n, "cutoff": cutoff})),
            )?;
            chain.store(tx)?;
            Ok(n)
        })
    }

    fn delete_audit_entry(&mut self, actor: &Actor, seq: i64) -> Result<()> {
        require_admin(actor, "delete audit entries")?;
        let now = (self.clock)();
        let t = &actor.tenant;
        self.db.with_tx(&mut |tx| {
            let (days, hold) = tenant_policy(tx, t)?;
            let refuse = |reason: String| CasesError::Retention { tenant: t.to_string(), reason };
            if hold {
                return Err(refuse("the audit log is on legal hold".into()));
            }
            let rows = tx.query(
                "SELECT time, (SELECT MIN(seq) FROM audit WHERE tenant = ?) FROM audit WHERE tenant = ? AND seq = ?",
                &[t.as_str().into(), t.as_str().into(), seq.into()],
            )?;
            let Some(r) = rows.first() else {
                return Err(CasesError::invalid("audit seq", seq, "no such entry"));
            };
            let (time, min) = (get_i(r, 0), get_i(r, 1));
            if time + days * 86_400 > now.0 {
                return Err(refuse(format!(
                    "entry {seq} is kept until {} ({days} days retention)",
                    UnixTime(time + days * 86_400).to_rfc3339()
                )));
            }
            if seq != min {
                return Err(refuse(format!("entry {seq} is not the oldest ({min}); purge from the start")));
            }
            Ok(())
        })?;
        self.purge_expired(actor).map(|_| ())
    }

    fn authenticate(
        &mut self,
        tenant: &TenantId,
        user: &UserId,
        claimed: Option<Role>,
    ) -> Result<Actor> {
        let rows = self.db.with_tx(&mut |tx| {
            let n =
                tx.query("SELECT COUNT(*) FROM users WHERE tenant = ?", &[tenant.as_str().into()])?;
            let one = tx.query(
                "SELECT role, disabled FROM users WHERE tenant = ? AND user_id = ?",
                &[tenant.as_str().into(), user.as_str().into()],
            )?;
            Ok((
                n.first().map_or(0, |r| get_i(r, 0)),
                one.first().map(|r| (get_s(r, 0), get_i(r, 1))),
            ))
        })?;
        let refuse =
            |reason: String| CasesError::UnknownUser { tenant: tenant.to_string(), reason };
        match rows {
            (0, _) => Ok(Actor::new(tenant.clone(), user.clone(), claimed.unwrap_or(Role::Analyst))),
            (_, None) => Err(refuse(format!(
                "user '{user}' is not registered (floodgate users list; an admin adds users with floodgate users add)"
            ))),
            (_, Some((_, d))) if d != 0 => Err(refuse(format!("user '{user}' is disabled"))),
            (_, Some((role, _))) => {
                let role = Role::parse(&role).map_err(|e| corrupt(self.db.label(), "user", e))?;
                if let Some(c) = claimed {
                    if c != role {
                        return Err(refuse(format!(
                            "user '{user}' has role {role} in the registry, not {c}"
                        )));
                    }
                }
                Ok(Actor::new(tenant.clone(), user.clone(), role))
            }
        }
    }

    fn add_user(&mut self, actor: &Actor, user: &UserId, role: Role) -> Result<User> {
        let now = (self.clock)();
        let t = &actor.tenant;
        let who = actor_text(actor);
        self.db.with_tx(&mut |tx| {
            ensure_tenant(tx, t, now)?;
            let n = tx.query("SELECT COUNT(*) FROM users WHERE tenant = ?", &[t.as_str().into()])?;
            if n.first().map_or(0, |r| get_i(r, 0)) == 0 {
                if role != Role::Admin {
                    return Err(CasesError::invalid(
                        "role",
                        role,
                        "the first user of a tenant must be an admin (who then adds the others)",
                    ));
                }
            } else {
                require_admin(actor, "add users")?;
            }
            let known = tx.query(
                "SELECT 1 FROM users WHERE tenant = ? AND user_id = ?",
                &[t.as_str().into(), user.as_str().into()],
            )?;
            if !known.is_empty() {
                return Err(CasesError::invalid("user", user, format!("already registered in tenant '{t}'")));
            }
            tx.exec(
                "INSERT INTO users (tenant, user_id, role, disabled, created, created_by) VALUES (?, ?, ?, 0, ?, ?)",
                &[t.as_str().into(), user.as_str().into(), role.as_str().into(), now.0.into(), who.as_str().into()],
            )?;
            let u = User {
                tenant: t.clone(),
                user: user.clone(),
                role,
                disabled: false,
                created: now,
                created_by: who.clone(),
            };
            let mut chain = Chain::lock(tx, t, now)?;
            chain.append(tx, &who, "user.add", &format!("user:{user}"), "null", &json(&u))?;
            chain.store(tx)?;
            Ok(u)
        })
    }

    fn users(&mut self, actor: &Actor) -> Result<Vec<User>> {
        require_worker(actor, "list users")?;
        let label = self.db.label().to_owned();
        let t = &actor.tenant;
        self.db.with_tx(&mut |tx| {
            tx.query(
                "SELECT user_id, role, disabled, created, created_by FROM users WHERE tenant = ? ORDER BY user_id",
                &[t.as_str().into()],
            )?
            .iter()
            .map(|r| user_from(&label, t, r))
            .collect()
        })
    }

    fn disable_user(&mut self, actor: &Actor, user: &UserId) -> Result<User> {
        require_admin(actor, "disable users")?;
        let now = (self.clock)();
        let label = self.db.label().to_owned();
        let t = &actor.tenant;
        let who = actor_text(actor);
        self.db.with_tx(&mut |tx| {
            let sel = "SELECT user_id, role, disabled, created, created_by FROM users WHERE tenant = ? AND user_id = ?";
            let rows = tx.query(sel, &[t.as_str().into(), user.as_str().into()])?;
            let Some(r) = rows.first() else {
                return Err(CasesError::invalid("user", user, format!("not registered in tenant '{t}'")));
            };
            let before = user_from(&label, t, r)?;
            if before.disabled {
                return Err(CasesError::invalid("user", user, "already disabled"));
            }
            if before.role == Role::Admin {
                let admins = tx.query(
                    "SELECT COUNT(*) FROM users WHERE tenant = ? AND role = 'admin' AND disabled = 0",
                    &[t.as_str().into()],
                )?;
                if admins.first().map_or(0, |r| get_i(r, 0)) <= 1 {
                    return Err(CasesError::invalid("user", user, "is the tenant's last enabled admin"));
                }
            }
            tx.exec(
                "UPDATE users SET disabled = 1 WHERE tenant = ? AND user_id = ?",
                &[t.as_str().into(), user.as_str().into()],
            )?;
            let after = User { disabled: true, ..before.clone() };
            let mut chain = Chain::lock(tx, t, now)?;
            chain.append(tx, &who, "user.disable", &format!("user:{user}"), &json(&before), &json(&after))?;
            chain.store(tx)?;
            Ok(after)
        })
    }

    fn wake_snoozed(&mut self, tenant: &TenantId) -> Result<Vec<CaseId>> {
        let now = (self.clock)();
        let label = self.db.label().to_owned();
        let due = self.db.with_tx(&mut |tx| {
            Ok(tx
                .query(
                    "SELECT id FROM cases WHERE tenant = ? AND state = 'snoozed' AND snoozed_until <= ? ORDER BY id",
                    &[tenant.as_str().into(), now.0.into()],
                )?
                .iter()
                .map(|r| CaseId(get_i(r, 0)))
                .collect::<Vec<_>>())
        })?;
        if due.is_empty() {
            return Ok(due);
        }
        self.db.with_tx(&mut |tx| {
            let mut woken = Vec::new();
            let mut chain: Option<Chain> = None;
            for &id in &due {
                let before = load_case(tx, &label, tenant, id)?;
                // Another command may have woken or changed it since the first look.
                if before.state != CaseState::Snoozed
                    || before.snoozed_until.is_none_or(|u| u > now)
                {
                    continue;
                }
                let Step::To(to) = step(before.state, Action::Wake, Role::Admin) else {
                    unreachable!("the table lets a snoozed case wake")
                };
                let mut c = before.clone();
                c.state = to;
                c.snoozed_until = None;
                c.version = before.version + 1;
                c.updated = now;
                save_case(tx, &c, before.version)?;
                if chain.is_none() {
                    chain = Some(Chain::lock(tx, tenant, now)?);
                }
                let Some(ch) = chain.as_mut() else { continue };
                let detail = serde_json::json!({"snoozed_until": before.snoozed_until});
                ch.append(
                    tx,
                    "system:snooze",
                    "case.wake",
                    &format!("case:{}", id.0),
                    &json(&before),
                    &json(&serde_json::json!({"case": &c, "detail": detail})),
                )?;
                woken.push(id);
            }
            if let Some(ch) = chain {
                ch.store(tx)?;
            }
            Ok(woken)
        })
    }

    fn verify_audit(&mut self, actor: &Actor) -> Result<Verification> {
        let t = actor.tenant.clone();
        self.db.with_tx(&mut |tx| {
            let head = tx.query(
                "SELECT seq, hash, base_seq, base_hash FROM audit_head WHERE tenant = ?",
                &[t.as_str().into()],
            )?;
            let (hs, hh, bs, bh) = match head.first() {
                Some(r) => (get_i(r, 0), get_s(r, 1), get_i(r, 2), get_s(r, 3)),
                None => (0, GENESIS.to_owned(), 0, GENESIS.to_owned()),
            };
            let mut v = Verifier::new(bs, &bh);
            // Pages of 50k keep memory flat for million-entry logs.
            let mut after = i64::MIN;
            loop {
                let rows = tx.query(
                    &format!("SELECT {AUDIT_COLS} FROM audit WHERE tenant = ? AND seq > ? ORDER BY seq LIMIT 50000"),
                    &[t.as_str().into(), after.into()],
                )?;
                let Some(last) = rows.last() else { break };
                after = get_i(last, 1);
                let entries: Vec<AuditEntry> = rows.iter().map(audit_from).collect();
                let committed: Vec<(CommittedTable, i64, String)> =
                    entries.iter().filter_map(committed_row).collect();
                let stored = row_hashes(tx, &t, &committed)?;
                let mut go = true;
                for e in &entries {
                    if !v.push(e) {
                        go = false;
                        break;
                    }
                    if let Some((table, id, sha)) = committed_row(e) {
                        if stored.get(&(table, id)) != Some(&sha) {
                            v.fail(Tamper::RecordAltered { seq: e.seq, object: e.object.clone() });
                            go = false;
                            break;
                        }
                    }
                }
                if !go {
                    break;
                }
            }
            Ok(v.finish(t.as_str(), hs, &hh))
        })
    }

    fn add_reports(&mut self, actor: &Actor, reports: &[NewReport]) -> Result<Vec<ReportId>> {
        require_worker(actor, "record reports")?;
        check_reports(reports)?;
        let now = (self.clock)();
        let t = &actor.tenant;
        let who = actor_text(actor);
        self.db.with_tx(&mut |tx| add_reports_tx(tx, t, &who, now, reports))
    }

    fn reports(&mut self, actor: &Actor) -> Result<Vec<ReportObligation>> {
        require_worker(actor, "read reports")?;
        let label = self.db.label().to_owned();
        let t = &actor.tenant;
        self.db.with_tx(&mut |tx| {
            tx.query(
                &format!(
                    "SELECT {REPORT_COLS} FROM reports WHERE tenant = ? ORDER BY due_time, id"
                ),
                &[t.as_str().into()],
            )?
            .iter()
            .map(|r| report_from(&label, r))
            .collect()
        })
    }

    fn file_report(
        &mut self,
        actor: &Actor,
        id: ReportId,
        sha256: &str,
    ) -> Result<ReportObligation> {
        require_worker(actor, "file reports")?;
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CasesError::invalid("document sha256", sha256, "expected 64 hex digits"));
        }
        let now = (self.clock)();
        let label = self.db.label().to_owned();
        let t = &actor.tenant;
        let who = actor_text(actor);
        self.db.with_tx(&mut |tx| {
            let sel = format!("SELECT {REPORT_COLS} FROM reports WHERE tenant = ? AND id = ?");
            let rows = tx.query(&sel, &[t.as_str().into(), id.0.into()])?;
            let Some(r) = rows.first() else {
                return Err(CasesError::invalid("report id", id.0, format!("no such report for tenant '{t}'")));
            };
            let before = report_from(&label, r)?;
            if before.filed_time.is_some() {
                return Err(CasesError::invalid("report id", id.0, "already filed"));
            }
            tx.exec(
                "UPDATE reports SET filed_time = ?, document_sha256 = ? WHERE tenant = ? AND id = ? AND filed_time IS NULL",
                &[now.0.into(), sha256.to_ascii_lowercase().into(), t.as_str().into(), id.0.into()],
            )?;
            let rows = tx.query(&sel, &[t.as_str().into(), id.0.into()])?;
            let after = report_from(&label, rows.first().expect("just updated"))?;
            let mut chain = Chain::lock(tx, t, now)?;
            chain.append(tx, &who, "report.file", &format!("report:{}", id.0), &json(&before), &json(&after))?;
            chain.store(tx)?;
            Ok(after)
        })
    }

    fn grant_supervisor(&mut self, actor: &Actor, supervisor: &UserId) -> Result<()> {
        self.tenant_admin_change(
            actor,
            "tenant.grant_supervisor",
            "INSERT INTO grants (tenant, supervisor) VALUES (?, ?) ON CONFLICT (tenant, supervisor) DO NOTHING",
            vec![actor.tenant.as_str().into(), supervisor.as_str().into()],
            serde_json::json!({"supervisor": supervisor}),
        )
    }

    fn supervisor_summary(&mut self, actor: &Actor) -> Result<Vec<TenantSummary>> {
        if actor.role != Role::Supervisor {
            return Err(forbidden(actor, "read cross-tenant aggregates"));
        }
        let now = (self.clock)();
        self.db.with_tx(&mut |tx| {
            let mut out = Vec::new();
            for r in tx.query("SELECT tenant FROM tenants ORDER BY tenant", &[])? {
                let t = get_s(&r, 0);
                let one = |tx: &mut dyn Tx, sql: &str, p: &[Val<'_>]| -> Result<i64> {
                    Ok(tx.query(sql, p)?.first().map_or(0, |r| get_i(r, 0)))
                };
                let alerts = one(tx, "SELECT COUNT(*) FROM alerts WHERE tenant = ?", &[t.as_str().into()])?;
                let mut cases_by_state = BTreeMap::new();
                for r in tx.query(
                    "SELECT state, COUNT(*) FROM cases WHERE tenant = ? GROUP BY state",
                    &[t.as_str().into()],
                )? {
                    cases_by_state.insert(get_s(&r, 0), get_i(&r, 1));
                }
                let mut decisions = BTreeMap::new();
                for r in tx.query(
                    "SELECT decision, COUNT(*) FROM cases WHERE tenant = ? AND state = 'closed' AND decision IS NOT NULL GROUP BY decision",
                    &[t.as_str().into()],
                )? {
                    decisions.insert(get_s(&r, 0), get_i(&r, 1));
                }
                let reports_filed = one(
                    tx,
                    "SELECT COUNT(*) FROM reports WHERE tenant = ? AND filed_time IS NOT NULL",
                    &[t.as_str().into()],
                )?;
                let reports_overdue = one(
                    tx,
                    "SELECT COUNT(*) FROM reports WHERE tenant = ? AND filed_time IS NULL AND due_time < ?",
                    &[t.as_str().into(), now.0.into()],
                )?;
                let reports_on_time = one(
                    tx,
                    "SELECT COUNT(*) FROM reports WHERE tenant = ? AND filed_time IS NOT NULL AND filed_time <= due_time",
                    &[t.as_str().into()],
                )?;
                let reports_pending = one(
                    tx,
                    "SELECT COUNT(*) FROM reports WHERE tenant = ? AND filed_time IS NULL AND due_time >= ?",
                    &[t.as_str().into(), now.0.into()],
                )?;
                out.push(TenantSummary {
                    tenant: t,
                    alerts,
                    cases_by_state,
                    decisions,
                    reports_filed,
                    reports_overdue,
                    reports_on_time,
                    reports_late: reports_filed - reports_on_time,
                    reports_missing: reports_overdue,
                    reports_pending,
                });
            }
            Ok(out)
        })
    }

    fn supervised_cases(&mut self, actor: &Actor, tenant: &TenantId) -> Result<Vec<Case>> {
        if actor.role != Role::Supervisor {
            return Err(forbidden(actor, &format!("read tenant '{tenant}' as a supervisor")));
        }
        let granted = self.db.with_tx(&mut |tx| {
            Ok(!tx
                .query(
                    "SELECT 1 FROM grants WHERE tenant = ? AND supervisor = ?",
                    &[tenant.as_str().into(), actor.user.as_str().into()],
                )?
                .is_empty())
        })?;
        if !granted {
            return Err(forbidden(actor, &format!("read tenant '{tenant}' cases (no grant)")));
        }
        let label = self.db.label().to_owned();
        list_cases(&mut self.db, &label, tenant, &ListFilter::default())
    }
}

fn user_from(db: &str, t: &TenantId, r: &Row) -> Result<User> {
    let c = |e: CasesError| corrupt(db, "user", e);
    Ok(User {
        tenant: t.clone(),
        user: UserId::new(get_s(r, 0)).map_err(c)?,
        role: Role::parse(&get_s(r, 1)).map_err(c)?,
        disabled: get_i(r, 2) != 0,
        created: UnixTime(get_i(r, 3)),
        created_by: get_s(r, 4),
    })
}

fn tenant_policy(tx: &mut dyn Tx, t: &TenantId) -> Result<(i64, bool)> {
    let rows = tx.query(
        "SELECT retention_days, legal_hold FROM tenants WHERE tenant = ?",
        &[t.as_str().into()],
    )?;
    Ok(rows.first().map_or((DEFAULT_RETENTION_DAYS, false), |r| (get_i(r, 0), get_i(r, 1) != 0)))
}

fn list_cases<B: Backend>(
    db: &mut B,
    label: &str,
    tenant: &TenantId,
    filter: &ListFilter,
) -> Result<Vec<Case>> {
    let mut sql = format!("SELECT {CASE_COLS} FROM cases WHERE tenant = ?");
    let mut p: Vec<Val> = vec![tenant.as_str().into()];
    if let Some(s) = filter.state {
        sql.push_str(" AND state = ?");
        p.push(s.as_str().into());
    }
    if let Some(s) = &filter.subject {
        sql.push_str(" AND subject = ?");
        p.push(s.as_str().into());
    }
    if let Some(c) = filter.case {
        sql.push_str(" AND id = ?");
        p.push(c.0.into());
    }
    sql.push_str(" ORDER BY id DESC");
    if let Some(l) = filter.limit {
        sql.push_str(&format!(" LIMIT {l}"));
    }
    db.with_tx(&mut |tx| tx.query(&sql, &p)?.iter().map(|r| case_from(label, r)).collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::db::Sqlite;

    /// The alert feed's case documents are byte for byte what a `Value` tree wrote, for a
    /// new case and for one with every optional field set.
    #[test]
    fn case_entries_write_what_a_value_tree_wrote() {
        let t = TenantId::new("t\u{e9}\"1").unwrap();
        let mut c = new_case(&t, 7, "c\\1 \u{1f}", Severity::Medium, UnixTime(1_700_000_000));
        let was = |c: &Case, detail: serde_json::Value| {
            json(&serde_json::json!({"case": c, "detail": detail}))
        };
        let fresh =
            CaseEntry { case: CaseInValueOrder::of(&c), detail: OpenedFor { reason: "alert" } };
        assert_eq!(json(&fresh), was(&c, serde_json::json!({"reason": "alert"})));
        c.state = CaseState::Snoozed;
        c.assignee = Some(UserId::new("ana").unwrap());
        c.decision = Some(DecisionKind::Report);
        c.decision_reason = Some("why \"so\"".into());
        c.decided_by = Some(UserId::new("bo").unwrap());
        c.approved_by = Some(UserId::new("cy").unwrap());
        c.snoozed_until = Some(UnixTime(-5));
        c.alert_count = i64::MAX;
        c.version = 3;
        c.updated = UnixTime(1_800_000_000);
        let full = CaseEntry { case: CaseInValueOrder::of(&c), detail: NoDetail {} };
        assert_eq!(json(&full), was(&c, serde_json::json!({})));
    }

    fn plan(db: &mut Sqlite, sql: &str, params: &[Val<'_>]) -> String {
        let rows =
            db.with_tx(&mut |tx| tx.query(&format!("EXPLAIN QUERY PLAN {sql}"), params)).unwrap();
        rows.iter().map(|r| get_s(r, 3)).collect::<Vec<_>>().join("; ")
    }

    /// The after documents written without a `Value` are what one wrote.
    #[test]
    fn committed_after_documents_are_what_a_value_writes() {
        let h = "ab".repeat(32);
        assert_eq!(
            committed_after(ALERT_SHA256, &h, Some(CaseId(7))),
            json(&serde_json::json!({ALERT_SHA256: h, "case": CaseId(7)}))
        );
        assert_eq!(
            committed_after(REPORT_SHA256, &h, None),
            json(&serde_json::json!({ REPORT_SHA256: h }))
        );
    }

    /// The case view reads a case's audit entries through the `audit_object` index, in order,
    /// not by walking the tenant's whole audit log.
    #[test]
    fn a_case_view_reads_its_audit_entries_by_object() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Sqlite::open(&dir.path().join("cases.db")).unwrap();
        let p = plan(&mut db, &audit_by_object(), &["default".into(), "case:1".into()]);
        assert!(p.contains("USING INDEX audit_object (tenant=? AND object=?)"), "{p}");
        assert!(!p.contains("TEMP B-TREE"), "no sort: the index is in seq order: {p}");
    }

    /// An alert batch finds the cases it touches by key on SQLite, whatever the batch's
    /// size: the subjects' active cases through `cases_subject`, each update through the
    /// primary key. Before, the lookup walked every case of the tenant once per chunk
    /// (SQLite's planner, without statistics, preferred the primary key's tenant prefix for
    /// the `ORDER BY id`), and so did the update (a join with 100 rows of `VALUES`, which
    /// the planner turned around; it now runs on PostgreSQL only).
    #[test]
    fn cases_plans_look_rows_up_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Sqlite::open(&dir.path().join("cases.db")).unwrap();
        let update = plan(
            &mut db,
            UPDATE_CASE_SQL,
            &[
                "open".into(),
                "low".into(),
                1.into(),
                2.into(),
                0.into(),
                "default".into(),
                7.into(),
                1.into(),
            ],
        );
        assert!(update.contains("(tenant=? AND id=?)"), "{update}");
        let count = plan(
            &mut db,
            UPDATE_CASE_COUNT_SQL,
            &["low".into(), 1.into(), 2.into(), 0.into(), "default".into(), 7.into(), 1.into()],
        );
        assert!(count.contains("(tenant=? AND id=?)"), "{count}");
        for n in [1, 500] {
            let sql = format!(
                "SELECT {CASE_COLS} FROM cases WHERE tenant = ? AND state <> 'closed' AND subject IN ({})",
                marks(n)
            );
            let mut p: Vec<Val> = vec!["default".into()];
            p.extend((0..n).map(|i| Val::from(format!("c{i}"))));
            let select = plan(&mut db, &sql, &p);
            assert!(select.contains("cases_subject (tenant=? AND subject=?)"), "{n}: {select}");
        }
    }
}
