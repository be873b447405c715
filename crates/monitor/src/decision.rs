//! The decision record: one per transfer, with every reason. Format: `docs/formats/monitor.md`.

use floodgate_types::{Direction, Timestamp};
use serde::{Deserialize, Serialize};

use crate::pack::{Action, Severity};

/// What produced a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HitKind {
    /// A built-in typology.
    Typology,
    /// A CEL rule from the rules file.
    Rule,
    /// A jurisdiction report trigger.
    Report,
}

/// One rule that fired, with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// Rule id (`structuring`, `report.large_value`, `vn.withdrawal_velocity`).
    pub rule_id: String,
    /// What kind of rule.
    pub kind: HitKind,
    /// Severity.
    pub severity: Severity,
    /// Action asked for.
    pub action: Action,
    /// Score points.
    pub score: u32,
    /// Human-readable reason.
    pub reason: String,
    /// Inputs and matched evidence (amounts, windows, transfer ids, list entries).
    pub evidence: serde_json::Value,
    /// Where the rule comes from.
    pub source: String,
}

/// A report the jurisdiction requires, due because of this transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportDue {
    /// Report type: `large_value`, `domestic_transfer` or `international_transfer`.
    pub report: String,
    /// Jurisdiction pack id.
    pub jurisdiction: String,
    /// The customer.
    pub customer_id: String,
    /// The transfer that triggered it.
    pub transfer_id: String,
    /// Local calendar day (`YYYY-MM-DD`) the report is about.
    pub local_day: String,
    /// Value in whole VND (the day's total for `large_value`).
    pub amount_vnd: u64,
    /// The threshold crossed, as written in the pack.
    pub threshold: String,
    /// Transfers covered (the day's for `large_value`).
    pub transfer_ids: Vec<String>,
    /// Legal source.
    pub source: String,
}

/// An alert for another member of a group (shared device, IP, withdrawal address or bank
/// account) raised by this transfer: the group reached its threshold, or grew past it, so
/// every earlier member is alerted too, although their own transfers came before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupAlert {
    /// The member alerted (not the customer of this transfer).
    pub customer_id: String,
    /// Rule id (`shared_device`, `shared_ip`, `shared_withdrawal_address`,
    /// `shared_bank_account`).
    pub rule_id: String,
    /// Severity.
    pub severity: Severity,
    /// Action asked for on this member's account.
    pub action: Action,
    /// Score points.
    pub score: u32,
    /// Human-readable reason naming the linking attribute and the other members.
    pub reason: String,
    /// The attribute, its value, the threshold and window, every member with the transfers
    /// that used the attribute.
    pub evidence: serde_json::Value,
    /// Where the rule comes from.
    pub source: String,
}

/// A CEL rule that could not be evaluated on this transfer (it did not fire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleError {
    /// Rule id.
    pub rule_id: String,
    /// The evaluation error.
    pub message: String,
}

/// The decision on one transfer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The ledger entry id.
    pub transfer_id: String,
    /// The customer.
    pub customer_id: String,
    /// Transfer time.
    pub time: Timestamp,
    /// Direction.
    pub direction: Direction,
    /// Asset id.
    pub asset: String,
    /// Fiat rail (`bank`, `cash`) of a fiat deposit or withdrawal; absent on chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rail: Option<floodgate_types::Rail>,
    /// Amount in base units.
    pub amount: String,
    /// Value in whole VND, when a rate was known.
    pub amount_vnd: Option<u64>,
    /// Value in US cents, when a rate was known.
    pub amount_usd_cents: Option<u64>,
    /// The strongest action of the hits (`allow` without hits).
    pub action: Action,
    /// Risk score 0–100: the capped sum of the hits' points.
    pub score: u32,
    /// Rules that fired.
    pub hits: Vec<Hit>,
    /// Reports now due.
    pub reports_due: Vec<ReportDue>,
    /// What could not be checked and why (no screening lists, no exposure data, no rate).
    pub notes: Vec<String>,
    /// CEL rules that failed on this transfer.
    pub rule_errors: Vec<RuleError>,
    /// Alerts for the other members of a group this transfer made cross its threshold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_alerts: Vec<GroupAlert>,
    /// The pack that decided (id and origin).
    pub pack: String,
}

impl Decision {
    /// Whether the rule fired.
    pub fn has(&self, rule_id: &str) -> bool {
        self.hits.iter().any(|h| h.rule_id == rule_id)
    }

    /// Every customer this decision alerts for `rule_id`: the transfer's customer when the
    /// rule hit, and the members named by its group alerts.
    pub fn alerted(&self, rule_id: &str) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .group_alerts
            .iter()
            .filter(|a| a.rule_id == rule_id)
            .map(|a| a.customer_id.as_str())
            .collect();
        if self.has(rule_id) {
            v.insert(0, self.customer_id.as_str());
        }
        v
    }
}
