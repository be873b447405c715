//! The audit log: append-only, one hash chain per tenant.
//!
//! Each entry's hash is SHA-256 over a canonical serialization of the previous entry's hash,
//! its sequence number, tenant, actor, time, action, object, and the before and after
//! documents: every field as an 8-byte big-endian length followed by its UTF-8 bytes (numbers
//! in decimal). Before and after are compact JSON as stored, so what is hashed is exactly what
//! is kept. The chain head (last seq and hash) is kept apart from the entries, so deleting the
//! last entries is detected too; purging expired entries moves the chain's base forward.
//!
//! An `alert.create` entry written since ADR 0005 does not copy the alert: its after document
//! is `{"alert_sha256": …, "case": …}`, the SHA-256 of the alert row as stored
//! ([`AlertRowRef::sha256`], the same field encoding over the row's columns); a `report.due`
//! entry is `{"report_sha256": …}` over the report's columns that never change
//! ([`ReportRowRef::sha256`]). Verifying the chain recomputes each from its row, so a row
//! changed or removed after it was recorded is found, as an entry's change is (before, the
//! copy in the entry was checked but the row itself was not). Entries written before keep
//! their full copy and verify as they always did.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The hash before the first entry of a chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Tenant.
    pub tenant: String,
    /// Position in the tenant's chain (1, 2, …).
    pub seq: i64,
    /// Hash of the entry before (hex).
    pub prev_hash: String,
    /// Unix seconds.
    pub time: i64,
    /// `user:role`.
    pub actor: String,
    /// What was done (`case.decide`, `alert.create`, …).
    pub action: String,
    /// What it was done to (`case:12`, `alert:40`, `tenant`).
    pub object: String,
    /// The object before (compact JSON; `null` when created).
    pub before: String,
    /// The object after (compact JSON).
    pub after: String,
    /// This entry's hash (hex).
    pub hash: String,
}

fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_be_bytes());
    h.update(bytes);
}

/// The hash of an entry from its fields (hex).
#[allow(clippy::too_many_arguments)] // the hash covers exactly these fields, named at the call site
pub fn entry_hash(
    prev_hash: &str,
    seq: i64,
    tenant: &str,
    actor: &str,
    time: i64,
    action: &str,
    object: &str,
    before: &str,
    after: &str,
) -> String {
    let mut h = Sha256::new();
    field(&mut h, prev_hash.as_bytes());
    field(&mut h, seq.to_string().as_bytes());
    field(&mut h, tenant.as_bytes());
    field(&mut h, actor.as_bytes());
    field(&mut h, time.to_string().as_bytes());
    field(&mut h, action.as_bytes());
    field(&mut h, object.as_bytes());
    field(&mut h, before.as_bytes());
    field(&mut h, after.as_bytes());
    hex::encode(h.finalize())
}

/// The key of an `alert.create` entry's after document that commits to the alert row.
pub const ALERT_SHA256: &str = "alert_sha256";

/// An alert row as stored, every column (`alerts` in `docs/cases.md`): what an
/// `alert.create` audit entry commits to.
#[derive(Debug, Clone, Copy)]
pub struct AlertRowRef<'a> {
    /// Tenant.
    pub tenant: &'a str,
    /// Alert number.
    pub id: i64,
    /// Its case.
    pub case_id: i64,
    /// Dedup key.
    pub dedup_key: &'a str,
    /// Source (`monitor`, `screening`, …).
    pub source: &'a str,
    /// Rule.
    pub rule: &'a str,
    /// Severity.
    pub severity: &'a str,
    /// Subject.
    pub subject: &'a str,
    /// Reasons, compact JSON as stored.
    pub reasons: &'a str,
    /// Evidence, compact JSON as stored.
    pub evidence: &'a str,
    /// Event time (Unix seconds).
    pub event_time: i64,
    /// When stored (Unix seconds).
    pub created: i64,
}

impl AlertRowRef<'_> {
    /// SHA-256 (hex) over the row's columns in table order, each as [`entry_hash`] encodes a
    /// field (8-byte big-endian length, then the UTF-8 bytes; numbers in decimal).
    pub fn sha256(&self) -> String {
        let mut h = Sha256::new();
        field(&mut h, self.tenant.as_bytes());
        field(&mut h, self.id.to_string().as_bytes());
        field(&mut h, self.case_id.to_string().as_bytes());
        field(&mut h, self.dedup_key.as_bytes());
        field(&mut h, self.source.as_bytes());
        field(&mut h, self.rule.as_bytes());
        field(&mut h, self.severity.as_bytes());
        field(&mut h, self.subject.as_bytes());
        field(&mut h, self.reasons.as_bytes());
        field(&mut h, self.evidence.as_bytes());
        field(&mut h, self.event_time.to_string().as_bytes());
        field(&mut h, self.created.to_string().as_bytes());
        hex::encode(h.finalize())
    }
}

/// The key of a `report.due` entry's after document that commits to the report row.
pub const REPORT_SHA256: &str = "report_sha256";

/// A report obligation row's columns that never change (`filed_time` and `document_sha256`
/// are set when it is filed, with a `report.file` entry of their own): what a `report.due`
/// audit entry commits to.
#[derive(Debug, Clone, Copy)]
pub struct ReportRowRef<'a> {
    /// Tenant.
    pub tenant: &'a str,
    /// Report number.
    pub id: i64,
    /// Dedup key.
    pub dedup_key: &'a str,
    /// Kind.
    pub kind: &'a str,
    /// Subject ids, compact JSON as stored.
    pub subject_ids: &'a str,
    /// Event time (Unix seconds).
    pub event_time: i64,
    /// Detection time.
    pub detected_time: i64,
    /// Deadline.
    pub due_time: i64,
    /// Reason, compact JSON as stored.
    pub reason: &'a str,
}

impl ReportRowRef<'_> {
    /// SHA-256 (hex) over these columns in table order, encoded as [`AlertRowRef::sha256`].
    pub fn sha256(&self) -> String {
        let mut h = Sha256::new();
        field(&mut h, self.tenant.as_bytes());
        field(&mut h, self.id.to_string().as_bytes());
        field(&mut h, self.dedup_key.as_bytes());
        field(&mut h, self.kind.as_bytes());
        field(&mut h, self.subject_ids.as_bytes());
        field(&mut h, self.event_time.to_string().as_bytes());
        field(&mut h, self.detected_time.to_string().as_bytes());
        field(&mut h, self.due_time.to_string().as_bytes());
        field(&mut h, self.reason.as_bytes());
        hex::encode(h.finalize())
    }
}

/// Which table a committed row is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommittedTable {
    /// `alerts`, committed to by `alert.create`.
    Alerts,
    /// `reports`, committed to by `report.due`.
    Reports,
}

/// What an entry commits to by hash (written since ADR 0005): an `alert.create` entry its
/// alert, a `report.due` entry its report obligation — the table, the row's number (from the
/// object `alert:<n>` / `report:<n>`) and the SHA-256. `None` for every other entry, and for
/// one written before, which holds a full copy of the row in its after document instead.
pub fn committed_row(e: &AuditEntry) -> Option<(CommittedTable, i64, String)> {
    let (table, prefix, key) = match e.action.as_str() {
        "alert.create" => (CommittedTable::Alerts, "alert:", ALERT_SHA256),
        "report.due" => (CommittedTable::Reports, "report:", REPORT_SHA256),
        _ => return None,
    };
    let id = e.object.strip_prefix(prefix)?.parse().ok()?;
    let after: serde_json::Value = serde_json::from_str(&e.after).ok()?;
    Some((table, id, after.get(key)?.as_str()?.to_owned()))
}

impl AuditEntry {
    /// Recomputes this entry's hash from its fields.
    pub fn recompute(&self) -> String {
        entry_hash(
            &self.prev_hash,
            self.seq,
            &self.tenant,
            &self.actor,
            self.time,
            &self.action,
            &self.object,
            &self.before,
            &self.after,
        )
    }
}

/// What is wrong with the chain, at the first place it goes wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Tamper {
    /// The entry's content no longer matches its hash.
    Altered {
        /// Its seq.
        seq: i64,
    },
    /// An entry that is not part of the chain: it does not link to the entry before, or lies
    /// beyond the chain head.
    Inserted {
        /// Its seq.
        seq: i64,
    },
    /// An entry of the chain is missing.
    Deleted {
        /// The missing seq.
        seq: i64,
    },
    /// The row an entry committed to by its SHA-256 (an alert of `alert.create`, a report
    /// obligation of `report.due`) was changed or removed.
    RecordAltered {
        /// The entry's seq.
        seq: i64,
        /// The row, as the entry names it (`alert:40`, `report:7`).
        object: String,
    },
}

impl std::fmt::Display for Tamper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tamper::Altered { seq } => {
                write!(f, "entry {seq} was altered: its content does not match its hash")
            }
            Tamper::Inserted { seq } => {
                write!(f, "entry {seq} was inserted: it is not linked into the chain")
            }
            Tamper::Deleted { seq } => write!(f, "entry {seq} was deleted: the chain skips it"),
            Tamper::RecordAltered { seq, object } => write!(
                f,
                "{object} was altered or removed: it does not match the SHA-256 entry {seq} recorded"
            ),
        }
    }
}

/// The result of verifying one tenant's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// Tenant.
    pub tenant: String,
    /// Entries read.
    pub entries: u64,
    /// The chain head as recorded (seq, hash).
    pub head_seq: i64,
    /// Head hash.
    pub head_hash: String,
    /// The first problem, if any.
    pub first_problem: Option<Tamper>,
}

impl Verification {
    /// Whether the chain is intact.
    pub fn is_intact(&self) -> bool {
        self.first_problem.is_none()
    }
}

/// Walks entries in seq order and finds the first problem. `base` is the (seq, hash) the chain
/// starts after (0 and [`GENESIS`] until entries were purged); `head` is the recorded head.
#[derive(Debug)]
pub struct Verifier {
    expect_seq: i64,
    prev_hash: String,
    entries: u64,
    problem: Option<Tamper>,
}

impl Verifier {
    /// Starts after `base`.
    pub fn new(base_seq: i64, base_hash: &str) -> Verifier {
        Verifier {
            expect_seq: base_seq + 1,
            prev_hash: base_hash.to_owned(),
            entries: 0,
            problem: None,
        }
    }

    /// Feeds the next entry (in seq order). Returns `false` once a problem was found.
    pub fn push(&mut self, e: &AuditEntry) -> bool {
        if self.problem.is_some() {
            return false;
        }
        self.entries += 1;
        if e.seq > self.expect_seq {
            // The entry the chain expects is gone (a later entry cannot link past it).
            self.problem = Some(Tamper::Deleted { seq: self.expect_seq });
            return false;
        }
        if e.seq < self.expect_seq {
            self.problem = Some(Tamper::Inserted { seq: e.seq });
            return false;
        }
        if e.recompute() != e.hash {
            self.problem = Some(Tamper::Altered { seq: e.seq });
            return false;
        }
        if e.prev_hash != self.prev_hash {
            self.problem = Some(Tamper::Inserted { seq: e.seq });
            return false;
        }
        self.prev_hash.clone_from(&e.hash);
        self.expect_seq += 1;
        true
    }

    /// Records a problem found beside the chain (an alert that no longer matches the hash
    /// its entry recorded), found at the entry just pushed; the walk stops there.
    pub fn fail(&mut self, problem: Tamper) {
        if self.problem.is_none() {
            self.problem = Some(problem);
        }
    }

    /// Ends the walk against the recorded head.
    pub fn finish(mut self, tenant: &str, head_seq: i64, head_hash: &str) -> Verification {
        if self.problem.is_none() {
            let last = self.expect_seq - 1;
            if last > head_seq {
                self.problem = Some(Tamper::Inserted { seq: head_seq + 1 });
            } else if last < head_seq {
                self.problem = Some(Tamper::Deleted { seq: last + 1 });
            } else if self.prev_hash != head_hash {
                self.problem = Some(Tamper::Altered { seq: last });
            }
        }
        Verification {
            tenant: tenant.to_owned(),
            entries: self.entries,
            head_seq,
            head_hash: head_hash.to_owned(),
            first_problem: self.problem,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_depends_on_every_field_and_on_field_boundaries() {
        let base = entry_hash(GENESIS, 1, "t", "u:analyst", 5, "a", "case:1", "null", "{}");
        assert_ne!(base, entry_hash(GENESIS, 2, "t", "u:analyst", 5, "a", "case:1", "null", "{}"));
        assert_ne!(base, entry_hash(GENESIS, 1, "t", "u:analyst", 6, "a", "case:1", "null", "{}"));
        // Moving a byte from one field to the next changes the hash (length prefixes).
        assert_ne!(
            entry_hash(GENESIS, 1, "ta", "b", 5, "a", "o", "x", "y"),
            entry_hash(GENESIS, 1, "t", "ab", 5, "a", "o", "x", "y")
        );
        assert_eq!(base.len(), 64);
    }
}
