//! The one state machine every case change goes through. Its table is [`TRANSITIONS`];
//! `docs/cases.md` shows the same table and a test checks that the two agree.

use crate::model::{CaseState, Role};

/// What can be done to a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// A new alert for the case's subject.
    AddAlert,
    /// Set who works the case.
    Assign,
    /// Add a note.
    Note,
    /// Attach an evidence document.
    Attach,
    /// Hand the case to an approver.
    Escalate,
    /// Decide, for a decision kind that needs no approval.
    Decide,
    /// Decide, for a decision kind under four-eyes approval.
    DecideFourEyes,
    /// Approve the pending decision (someone other than the decider).
    Approve,
    /// Send the pending decision back.
    Reject,
    /// Put aside until a date.
    Snooze,
    /// Open again.
    Reopen,
    /// A snoozed case's time came: back to the queue (done by floodgate on the next command
    /// that reads or changes the tenant's cases, and audit-logged as `system:snooze`).
    Wake,
}

impl Action {
    /// The name used in the table, the audit log and errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::AddAlert => "add_alert",
            Action::Assign => "assign",
            Action::Note => "note",
            Action::Attach => "attach",
            Action::Escalate => "escalate",
            Action::Decide => "decide",
            Action::DecideFourEyes => "decide_four_eyes",
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Snooze => "snooze",
            Action::Reopen => "reopen",
            Action::Wake => "wake",
        }
    }

    /// Every action.
    pub const ALL: &'static [Action] = &[
        Action::AddAlert,
        Action::Assign,
        Action::Note,
        Action::Attach,
        Action::Escalate,
        Action::Decide,
        Action::DecideFourEyes,
        Action::Approve,
        Action::Reject,
        Action::Snooze,
        Action::Reopen,
        Action::Wake,
    ];
}

/// One allowed change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// State before.
    pub from: CaseState,
    /// Action.
    pub action: Action,
    /// State after.
    pub to: CaseState,
    /// Roles allowed to do it.
    pub roles: &'static [Role],
}

use Action as A;
use CaseState as S;
const WORK: &[Role] = &[Role::Analyst, Role::Approver, Role::Admin];
const SENIOR: &[Role] = &[Role::Approver, Role::Admin];
/// Alerts arrive from the system (monitor, screening) acting with any role of the tenant.
const ANY: &[Role] = &[Role::Analyst, Role::Approver, Role::Admin];

const fn t(from: CaseState, action: Action, to: CaseState, roles: &'static [Role]) -> Transition {
    Transition { from, action, to, roles }
}

/// Every allowed transition. Anything not listed is refused.
pub const TRANSITIONS: &[Transition] = &[
    t(S::Open, A::AddAlert, S::Open, ANY),
    t(S::Open, A::Assign, S::Open, WORK),
    t(S::Open, A::Note, S::Open, WORK),
    t(S::Open, A::Attach, S::Open, WORK),
    t(S::Open, A::Escalate, S::Escalated, WORK),
    t(S::Open, A::Decide, S::Closed, WORK),
    t(S::Open, A::DecideFourEyes, S::PendingApproval, WORK),
    t(S::Open, A::Snooze, S::Snoozed, WORK),
    t(S::Escalated, A::AddAlert, S::Escalated, ANY),
    t(S::Escalated, A::Assign, S::Escalated, SENIOR),
    t(S::Escalated, A::Note, S::Escalated, WORK),
    t(S::Escalated, A::Attach, S::Escalated, WORK),
    t(S::Escalated, A::Decide, S::Closed, SENIOR),
    t(S::Escalated, A::DecideFourEyes, S::PendingApproval, SENIOR),
    t(S::PendingApproval, A::AddAlert, S::PendingApproval, ANY),
    t(S::PendingApproval, A::Note, S::PendingApproval, WORK),
    t(S::PendingApproval, A::Attach, S::PendingApproval, WORK),
    t(S::PendingApproval, A::Approve, S::Closed, SENIOR),
    t(S::PendingApproval, A::Reject, S::Open, SENIOR),
    t(S::Snoozed, A::AddAlert, S::Open, ANY),
    t(S::Snoozed, A::Note, S::Snoozed, WORK),
    t(S::Snoozed, A::Reopen, S::Open, WORK),
    t(S::Snoozed, A::Wake, S::Open, ANY),
    t(S::Closed, A::Reopen, S::Open, SENIOR),
];

/// Outcome of asking the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Allowed: the new state.
    To(CaseState),
    /// No transition for this action in this state.
    NotInState,
    /// The transition exists but this role may not take it.
    RoleRefused,
}

/// The state after `action` by `role` from `from`.
pub fn step(from: CaseState, action: Action, role: Role) -> Step {
    match TRANSITIONS.iter().find(|t| t.from == from && t.action == action) {
        None => Step::NotInState,
        Some(t) if t.roles.contains(&role) => Step::To(t.to),
        Some(_) => Step::RoleRefused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_one_transition_per_state_and_action() {
        for a in TRANSITIONS {
            let n = TRANSITIONS.iter().filter(|b| b.from == a.from && b.action == a.action).count();
            assert_eq!(n, 1, "{:?} {:?}", a.from, a.action);
        }
    }

    #[test]
    fn supervisors_never_change_cases_and_closed_cases_only_reopen() {
        for &s in CaseState::ALL {
            for &a in Action::ALL {
                assert!(!matches!(step(s, a, Role::Supervisor), Step::To(_)), "{s} {a:?}");
            }
        }
        for &a in Action::ALL {
            let ok = matches!(step(CaseState::Closed, a, Role::Admin), Step::To(_));
            assert_eq!(ok, a == Action::Reopen, "{a:?}");
        }
        assert_eq!(step(S::Closed, A::Reopen, Role::Analyst), Step::RoleRefused);
    }
}
