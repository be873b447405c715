//! Tenants, users, roles, alerts, cases and report obligations.

use serde::{Deserialize, Serialize};

use crate::error::{CasesError, Result};

macro_rules! id_newtype {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Checks and wraps an id: 1–128 characters, no control characters.
            ///
            /// # Errors
            /// [`CasesError::Invalid`] naming the field.
            pub fn new(s: impl Into<String>) -> Result<Self> {
                let s = s.into();
                if s.is_empty() || s.len() > 128 || s.chars().any(char::is_control) {
                    return Err(CasesError::invalid(
                        stringify!($name),
                        s,
                        "must be 1-128 characters without control characters",
                    ));
                }
                Ok($name(s))
            }
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// A tenant: one VASP (one type for every store, in `floodgate-types`).
pub use floodgate_types::TenantId;
id_newtype!(
    /// A user (analyst, approver, admin or supervisor).
    UserId
);

/// A case's number, unique within its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CaseId(pub i64);

/// An alert's number, unique within its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AlertId(pub i64);

/// A report obligation's number, unique within its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReportId(pub i64);

/// Seconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// The wall clock now.
    pub fn now() -> UnixTime {
        UnixTime(chrono::Utc::now().timestamp())
    }
    /// RFC 3339 text (UTC).
    pub fn to_rfc3339(self) -> String {
        chrono::DateTime::from_timestamp(self.0, 0)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_else(|| self.0.to_string())
    }
}

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $v),+ }

        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            /// The stored and displayed name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $s),+ }
            }
            /// Parses the name.
            ///
            /// # Errors
            /// [`CasesError::Invalid`] listing the accepted names.
            pub fn parse(s: &str) -> Result<Self> {
                match s {
                    $($s => Ok($name::$v),)+
                    _ => Err(CasesError::invalid(
                        stringify!($name),
                        s,
                        format!("expected one of: {}", [$($s),+].join(", ")),
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// What a user may do. Supervisors see aggregates across tenants and never another tenant's
    /// customer data unless that tenant granted it.
    Role {
        /// Works alerts and cases, decides when no approval is needed.
        Analyst = "analyst",
        /// Approves decisions (four-eyes), decides escalated cases.
        Approver = "approver",
        /// Everything an approver may, plus tenant settings (four-eyes policy, legal hold, purge).
        Admin = "admin",
        /// Cross-tenant aggregates; another tenant's cases only when granted.
        Supervisor = "supervisor",
    }
);

text_enum!(
    /// How serious an alert is.
    Severity {
        /// Low.
        Low = "low",
        /// Medium.
        Medium = "medium",
        /// High.
        High = "high",
        /// Critical.
        Critical = "critical",
    }
);

text_enum!(
    /// Where an alert came from.
    AlertSource {
        /// A non-allow `floodgate monitor` decision.
        Monitor = "monitor",
        /// A screening hit at onboarding (`screen name` / `screen address`).
        ScreenOnboarding = "screen_onboarding",
        /// A screening hit in a batch run (`screen batch`).
        ScreenBatch = "screen_batch",
        /// A screening hit of a delta re-screen after a list update (`screen delta`).
        ScreenDelta = "screen_delta",
        /// Opened by hand.
        Manual = "manual",
    }
);

text_enum!(
    /// Where a case is in its life (docs/cases.md has the transition table).
    CaseState {
        /// Being worked.
        Open = "open",
        /// Handed to an approver to decide.
        Escalated = "escalated",
        /// Decided; waiting for a second person's approval.
        PendingApproval = "pending_approval",
        /// Put aside until a date or a new alert.
        Snoozed = "snoozed",
        /// Decided (and approved when four-eyes applies).
        Closed = "closed",
    }
);

text_enum!(
    /// The outcome of a case.
    DecisionKind {
        /// Nothing suspicious.
        NoAction = "no_action",
        /// File a suspicious-transaction report.
        Report = "report",
        /// End the customer relationship.
        ExitRelationship = "exit_relationship",
        /// Freeze the customer's assets.
        Freeze = "freeze",
    }
);

text_enum!(
    /// Kinds of mandatory report (the VN pack's report types).
    ReportKind {
        /// Large cash transaction (≥ VND 400 million per customer per day).
        LargeValue = "large_value",
        /// Domestic electronic transfer (≥ VND 500 million).
        DomesticTransfer = "domestic_transfer",
        /// International transfer (≥ USD 1,000 or equivalent).
        InternationalTransfer = "international_transfer",
        /// Suspicious transaction report.
        Suspicious = "suspicious",
        /// Urgent report (signs of crime).
        Urgent = "urgent",
        /// Transaction hold.
        Hold = "hold",
    }
);

/// Who does something: a user of a tenant with a role. The door (CLI flags, API key)
/// authenticates; the store authorizes by role and tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The tenant the user belongs to.
    pub tenant: TenantId,
    /// The user.
    pub user: UserId,
    /// The role.
    pub role: Role,
}

impl Actor {
    /// Builds an actor.
    pub fn new(tenant: TenantId, user: UserId, role: Role) -> Actor {
        Actor { tenant, user, role }
    }
}

/// A user in a tenant's registry (`floodgate users`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Tenant.
    pub tenant: TenantId,
    /// The user.
    pub user: UserId,
    /// The role the registry gives them.
    pub role: Role,
    /// Disabled users may not act.
    pub disabled: bool,
    /// Added when.
    pub created: UnixTime,
    /// Added by whom (`user:role`).
    pub created_by: String,
}

/// An alert's evidence: JSON text that reads as a `serde_json::Value`.
pub use floodgate_monitor::decision::Evidence;

/// Reads an alert's evidence through a `Value` (an alert read inside another document, as
/// [`Alert`] flattens it, cannot hand serde_json its raw text).
fn evidence_from_value<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Evidence, D::Error> {
    Ok(serde_json::Value::deserialize(d)?.into())
}

/// Writes an alert's evidence through its `Value`, so that a pretty-printed alert (the CLI's
/// `--format json`) shows it indented like the rest (the text itself would be copied as it
/// is, on one line); compact output is the same bytes either way.
fn evidence_as_value<S: serde::Serializer>(
    e: &Evidence,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    serde_json::Value::serialize(e, s)
}

/// An alert before it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAlert {
    /// Where it came from.
    pub source: AlertSource,
    /// Rule id or list name.
    pub rule: String,
    /// Severity.
    pub severity: Severity,
    /// The customer or entity the alert is about; alerts of one subject group into one open case.
    pub subject: String,
    /// Why it fired (human-readable lines).
    pub reasons: Vec<String>,
    /// The evidence (rule inputs, matched list entries, transfer ids): a JSON object kept as
    /// its compact text, keys in sorted order (as a `serde_json::Value` writes them), which
    /// is what the alert row stores; it reads as a `serde_json::Value`
    /// (`a.evidence["transfer_id"]`). Build it from a `Value` with `.into()`.
    #[serde(serialize_with = "evidence_as_value", deserialize_with = "evidence_from_value")]
    pub evidence: Evidence,
    /// Same key, same alert: a second alert with this key is ignored.
    pub dedup_key: String,
    /// When the underlying event happened.
    pub event_time: UnixTime,
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Tenant.
    pub tenant: TenantId,
    /// Alert number.
    pub id: AlertId,
    /// The case it belongs to.
    pub case: CaseId,
    /// When stored.
    pub created: UnixTime,
    /// The alert itself.
    #[serde(flatten)]
    pub alert: NewAlert,
}

/// A case: the alerts of one subject, worked until decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// Tenant.
    pub tenant: TenantId,
    /// Case number.
    pub id: CaseId,
    /// Customer or entity.
    pub subject: String,
    /// State.
    pub state: CaseState,
    /// Highest severity of its alerts.
    pub severity: Severity,
    /// Who works it.
    pub assignee: Option<UserId>,
    /// The decision, once made.
    pub decision: Option<DecisionKind>,
    /// Why (the decider's reason).
    pub decision_reason: Option<String>,
    /// Who decided.
    pub decided_by: Option<UserId>,
    /// Who approved.
    pub approved_by: Option<UserId>,
    /// Snoozed until (then due again).
    pub snoozed_until: Option<UnixTime>,
    /// Alerts in the case.
    pub alert_count: i64,
    /// Optimistic-concurrency version: bumped by every change.
    pub version: i64,
    /// Opened.
    pub created: UnixTime,
    /// Last change.
    pub updated: UnixTime,
}

/// A note or an attached evidence document on a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseItem {
    /// Position in the case (1, 2, …).
    pub n: i64,
    /// `note` or `evidence`.
    pub kind: String,
    /// Who added it.
    pub user: UserId,
    /// When.
    pub time: UnixTime,
    /// Evidence kind (`screening_hit`, `trace_path`, `exposure`, …) or empty for notes.
    pub label: String,
    /// The note text (a JSON string) or the evidence document.
    pub body: serde_json::Value,
}

/// A report the tenant must file, with its deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportObligation {
    /// Tenant.
    pub tenant: TenantId,
    /// Number.
    pub id: ReportId,
    /// Kind.
    pub kind: ReportKind,
    /// Customers, transfers or the case the report covers.
    pub subject_ids: Vec<String>,
    /// When the reported event happened.
    pub event_time: UnixTime,
    /// When it was detected.
    pub detected_time: UnixTime,
    /// When it is due.
    pub due_time: UnixTime,
    /// Filed when.
    pub filed_time: Option<UnixTime>,
    /// SHA-256 of the filed document.
    pub document_sha256: Option<String>,
    /// Why it is due (rule, threshold, source).
    pub reason: serde_json::Value,
}

/// Where a report obligation stands at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    /// Not filed, deadline ahead.
    Due,
    /// Not filed, deadline passed.
    Overdue,
    /// Filed.
    Filed,
}

impl ReportObligation {
    /// Status at `now`.
    pub fn status(&self, now: UnixTime) -> ReportStatus {
        if self.filed_time.is_some() {
            ReportStatus::Filed
        } else if now > self.due_time {
            ReportStatus::Overdue
        } else {
            ReportStatus::Due
        }
    }
}

/// A new report obligation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewReport {
    /// Kind.
    pub kind: ReportKind,
    /// Subjects.
    pub subject_ids: Vec<String>,
    /// Event time.
    pub event_time: UnixTime,
    /// Detection time.
    pub detected_time: UnixTime,
    /// Deadline.
    pub due_time: UnixTime,
    /// Why.
    pub reason: serde_json::Value,
    /// Same key, same obligation.
    pub dedup_key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An alert written as JSON, compact or pretty, reads as it did when its evidence was a
    /// `serde_json::Value`: the evidence is indented with the rest, not copied on one line.
    #[test]
    fn an_alert_serializes_as_with_a_value_for_its_evidence() {
        let v = serde_json::json!({"hits": [{"a": 1, "b": [2, 3]}], "transfer_id": "t1"});
        let alert = NewAlert {
            source: AlertSource::Monitor,
            rule: "r".into(),
            severity: Severity::Low,
            subject: "c1".into(),
            reasons: vec!["why".into()],
            evidence: v.clone().into(),
            dedup_key: "k".into(),
            event_time: UnixTime(1),
        };
        // NewAlert as it was, its evidence a `Value`.
        #[derive(Serialize)]
        struct Before<'a> {
            source: AlertSource,
            rule: &'a str,
            severity: Severity,
            subject: &'a str,
            reasons: &'a [String],
            evidence: &'a serde_json::Value,
            dedup_key: &'a str,
            event_time: UnixTime,
        }
        let before = Before {
            source: alert.source,
            rule: &alert.rule,
            severity: alert.severity,
            subject: &alert.subject,
            reasons: &alert.reasons,
            evidence: &v,
            dedup_key: &alert.dedup_key,
            event_time: alert.event_time,
        };
        let pretty = serde_json::to_string_pretty(&alert).unwrap();
        assert_eq!(pretty, serde_json::to_string_pretty(&before).unwrap());
        assert!(pretty.contains("\n    \"hits\": [\n"), "{pretty}");
        assert_eq!(serde_json::to_string(&alert).unwrap(), serde_json::to_string(&before).unwrap());
        let as_value = serde_json::to_value(&alert).unwrap();
        let back: NewAlert = serde_json::from_value(as_value).unwrap();
        assert_eq!(back, alert);
    }
}
