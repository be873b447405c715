//! The crate's one error type.

/// Everything that can go wrong in alerts, cases, reports and the audit log. Every variant
/// names the offending input (case id, field, role, database).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CasesError {
    /// The database could not be opened or a statement failed.
    #[error("case store {db}: {message}")]
    Db {
        /// Which database (file path or URL without password).
        db: String,
        /// The driver's message.
        message: String,
    },
    /// The database was written by a newer floodgate.
    #[error("case store {db} has schema version {found}, newer than this floodgate ({supported}); upgrade floodgate")]
    TooNew {
        /// Which database.
        db: String,
        /// Version found.
        found: i64,
        /// Highest version this binary knows.
        supported: i64,
    },
    /// No such case for this tenant.
    #[error("unknown case {case} for tenant '{tenant}'")]
    UnknownCase {
        /// Tenant.
        tenant: String,
        /// Case id.
        case: i64,
    },
    /// No such alert for this tenant.
    #[error("unknown alert {alert} for tenant '{tenant}'")]
    UnknownAlert {
        /// Tenant.
        tenant: String,
        /// Alert id.
        alert: i64,
    },
    /// The state machine refuses the action in the case's state.
    #[error("case {case}: cannot {action} a case that is {state}")]
    Transition {
        /// Case id.
        case: i64,
        /// The action tried.
        action: String,
        /// The case's state.
        state: String,
    },
    /// The user is not in the tenant's user registry, or is disabled.
    #[error("tenant '{tenant}': {reason}")]
    UnknownUser {
        /// Tenant.
        tenant: String,
        /// Why the user may not act (unknown, disabled, another role).
        reason: String,
    },
    /// The actor's role may not do this.
    #[error("user '{user}' with role {role} may not {action}")]
    Forbidden {
        /// The user.
        user: String,
        /// Their role.
        role: String,
        /// What they tried.
        action: String,
    },
    /// Four-eyes: the approver decided the case themselves.
    #[error("case {case}: '{user}' decided this case and may not approve it too (four-eyes)")]
    SameApprover {
        /// Case id.
        case: i64,
        /// The user.
        user: String,
    },
    /// The case changed under us (another approval or action won the race).
    #[error("case {case} was changed by another action at the same time; nothing was written, look at it again")]
    Conflict {
        /// Case id.
        case: i64,
    },
    /// A field has a bad value.
    #[error("invalid {field} '{value}': {reason}")]
    Invalid {
        /// Field name.
        field: String,
        /// The value given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// Deleting audit entries still under retention or on legal hold.
    #[error("tenant '{tenant}': {reason}; nothing was deleted")]
    Retention {
        /// Tenant.
        tenant: String,
        /// Why.
        reason: String,
    },
    /// A feed's source could not be read.
    #[error("{feed} feed: {message}")]
    Feed {
        /// Which feed.
        feed: String,
        /// Why.
        message: String,
    },
    /// A report could not be rendered (the field the format would reject is named).
    #[error(transparent)]
    Report(#[from] floodgate_report::ReportError),
    /// Stored data cannot be read back.
    #[error("case store {db}: corrupt {what}: {message}")]
    Corrupt {
        /// Which database.
        db: String,
        /// What was being read.
        what: String,
        /// Details.
        message: String,
    },
}

impl From<floodgate_types::TenantIdError> for CasesError {
    fn from(e: floodgate_types::TenantIdError) -> Self {
        CasesError::invalid(
            "TenantId",
            e.value,
            "must be 1-128 characters without control characters",
        )
    }
}

impl CasesError {
    pub(crate) fn invalid(field: &str, value: impl ToString, reason: impl ToString) -> Self {
        CasesError::Invalid {
            field: field.to_owned(),
            value: value.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// Result alias.
pub type Result<T, E = CasesError> = std::result::Result<T, E>;
