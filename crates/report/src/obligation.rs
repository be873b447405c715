//! Report obligations: which Viet Nam report a transaction calls for, its thresholds from the
//! jurisdiction pack, and its deadline — with the reasons.
//!
//! The thresholds are read from the monitor's `vn` pack (`crates/monitor/packs/vn.toml`,
//! `[report.*]`), the same file the monitor decides with, so the two never disagree. The
//! monitor emits a report record (`ReportDue` in its decision JSON) for the large-value and
//! transfer triggers; [`MonitorReportRecord`] reads that JSON and
//! [`ReportObligation::from_monitor`] turns it into an obligation with a deadline.

use chrono::NaiveDate;
use floodgate_types::Timestamp;
use serde::{Deserialize, Serialize};

use crate::calendar::{local_date, WorkingCalendar};
use crate::deadline::{deadline_on, Deadline, ReportKind};
use crate::error::ReportError;
use crate::money::{Cents, Vnd};

/// The monitor's built-in Viet Nam pack (its `[report.*]` tables hold the thresholds).
pub const VN_PACK: &str = include_str!("../../monitor/packs/vn.toml");

/// Reporting thresholds of a jurisdiction pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Pack id (`vn`).
    pub pack: String,
    /// Large cash: a customer's daily total at or above this (`report.large_value.threshold_vnd`).
    pub large_cash_vnd: Vnd,
    /// Domestic electronic transfer at or above this (`report.domestic_transfer.threshold_vnd`).
    pub domestic_transfer_vnd: Vnd,
    /// International electronic transfer at or above this, in US cents
    /// (`report.international_transfer.threshold_usd`).
    pub international_transfer_usd: Cents,
    /// Legal sources as the pack states them: large cash, domestic, international.
    pub sources: [String; 3],
}

impl Thresholds {
    /// The thresholds of the built-in `vn` pack.
    pub fn vn() -> Thresholds {
        Thresholds::from_pack_toml("<built-in vn>", VN_PACK)
            .expect("the built-in vn pack has its report thresholds (tested)")
    }

    /// Reads the `[report.*]` thresholds of a pack file (`pack` names it in errors).
    ///
    /// # Errors
    /// [`ReportError::Pack`] naming the missing or malformed key.
    pub fn from_pack_toml(pack: &str, text: &str) -> Result<Thresholds, ReportError> {
        let err = |message: String| ReportError::Pack { pack: pack.to_owned(), message };
        let v: toml::Table = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        let get = |table: &str, key: &str| -> Result<&toml::Value, ReportError> {
            v.get("report")
                .and_then(|r| r.get(table))
                .and_then(|t| t.get(key))
                .ok_or_else(|| err(format!("missing key 'report.{table}.{key}'")))
        };
        let int = |table: &str, key: &str| -> Result<u64, ReportError> {
            get(table, key)?.as_integer().and_then(|i| u64::try_from(i).ok()).ok_or_else(|| {
                err(format!("key 'report.{table}.{key}' is not a non-negative integer"))
            })
        };
        let text_of = |table: &str| -> Result<String, ReportError> {
            get(table, "source")?
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| err(format!("key 'report.{table}.source' is not a string")))
        };
        let id = v
            .get("pack")
            .and_then(|p| p.get("id"))
            .and_then(|i| i.as_str())
            .ok_or_else(|| err("missing key 'pack.id'".into()))?;
        Ok(Thresholds {
            pack: id.to_owned(),
            large_cash_vnd: Vnd(int("large_value", "threshold_vnd")?),
            domestic_transfer_vnd: Vnd(int("domestic_transfer", "threshold_vnd")?),
            international_transfer_usd: Cents::from_units(int(
                "international_transfer",
                "threshold_usd",
            )?),
            sources: [
                text_of("large_value")?,
                text_of("domestic_transfer")?,
                text_of("international_transfer")?,
            ],
        })
    }

    /// The threshold-based report kinds a value calls for, with the reason for each.
    /// `daily_total_vnd` is the customer's total for the local day (large cash);
    /// `transfer_vnd` and `transfer_usd` the transfer's own value; `international` whether
    /// the counterparty is abroad. A value exactly at a threshold is reported (`≥`).
    pub fn triggered(
        &self,
        daily_total_vnd: Vnd,
        transfer_vnd: Vnd,
        transfer_usd: Cents,
        international: bool,
    ) -> Vec<(ReportKind, String)> {
        let mut out = Vec::new();
        if daily_total_vnd >= self.large_cash_vnd {
            out.push((
                ReportKind::LargeCash,
                format!(
                    "daily total {daily_total_vnd} is at or above {} ({})",
                    self.large_cash_vnd, self.sources[0]
                ),
            ));
        }
        if international {
            if transfer_usd >= self.international_transfer_usd {
                out.push((
                    ReportKind::InternationalTransfer,
                    format!(
                        "international transfer of USD {} is at or above USD {} ({})",
                        transfer_usd.grouped(),
                        self.international_transfer_usd.grouped(),
                        self.sources[2]
                    ),
                ));
            }
        } else if transfer_vnd >= self.domestic_transfer_vnd {
            out.push((
                ReportKind::DomesticTransfer,
                format!(
                    "domestic transfer of {transfer_vnd} is at or above {} ({})",
                    self.domestic_transfer_vnd, self.sources[1]
                ),
            ));
        }
        out
    }
}

/// A report record as the monitor writes it in a decision's `reports_due` (the JSON of
/// `floodgate_monitor::ReportDue`; this crate does not depend on the monitor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorReportRecord {
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
    /// Transfers covered.
    pub transfer_ids: Vec<String>,
    /// Legal source.
    pub source: String,
}

/// What a report obligation is built from (see [`ReportObligation::new`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObligationInput {
    /// Report type.
    pub kind: ReportKind,
    /// Jurisdiction pack id (`vn`).
    pub jurisdiction: String,
    /// The customer.
    pub customer_id: String,
    /// The transfers the report covers (at least one).
    pub transfer_ids: Vec<String>,
    /// The value reported, in whole VND.
    pub amount_vnd: Vnd,
    /// When the (first) transaction happened.
    pub transaction_time: Timestamp,
    /// When it was detected (or held, for a hold report).
    pub detected_time: Timestamp,
    /// Why the report is due: rule ids, thresholds crossed, alert reasons.
    pub reasons: Vec<String>,
    /// The legal source of the trigger.
    pub source: String,
}

/// A report that must be filed, with its deadline and reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportObligation {
    /// Report type.
    pub kind: ReportKind,
    /// Jurisdiction pack id.
    pub jurisdiction: String,
    /// The customer.
    pub customer_id: String,
    /// The transfers covered.
    pub transfer_ids: Vec<String>,
    /// The Viet Nam calendar day of the transaction.
    pub local_day: NaiveDate,
    /// The value reported, in whole VND.
    pub amount_vnd: Vnd,
    /// When the transaction happened.
    pub transaction_time: Timestamp,
    /// When it was detected or held.
    pub detected_time: Timestamp,
    /// Why the report is due.
    pub reasons: Vec<String>,
    /// The legal source of the trigger.
    pub source: String,
    /// When it is due, and why.
    pub deadline: Deadline,
}

impl ReportObligation {
    /// An obligation with its deadline on `cal`.
    ///
    /// # Errors
    /// [`ReportError::Record`] when no transfer is named or the detection precedes the
    /// transaction; [`ReportError::OutsideCalendar`] as [`deadline_on`].
    pub fn new(
        cal: &WorkingCalendar,
        input: ObligationInput,
    ) -> Result<ReportObligation, ReportError> {
        let first = input.transfer_ids.first().cloned().unwrap_or_default();
        let bad = |message: String| ReportError::Record { transfer_id: first.clone(), message };
        if input.transfer_ids.is_empty() || input.transfer_ids.iter().any(|t| t.trim().is_empty()) {
            return Err(bad(
                "field 'transfer_ids': at least one non-empty transfer id is required".into(),
            ));
        }
        if input.customer_id.trim().is_empty() {
            return Err(bad("field 'customer_id' is empty".into()));
        }
        if input.detected_time < input.transaction_time {
            return Err(bad(format!(
                "field 'detected_time': {} is before the transaction at {}",
                input.detected_time, input.transaction_time
            )));
        }
        let deadline = deadline_on(cal, input.kind, input.transaction_time, input.detected_time)?;
        Ok(ReportObligation {
            kind: input.kind,
            jurisdiction: input.jurisdiction,
            customer_id: input.customer_id,
            transfer_ids: input.transfer_ids,
            local_day: local_date(input.transaction_time),
            amount_vnd: input.amount_vnd,
            transaction_time: input.transaction_time,
            detected_time: input.detected_time,
            reasons: input.reasons,
            source: input.source,
            deadline,
        })
    }

    /// The obligation for a monitor report record. `transaction_time` is the triggering
    /// transfer's time (the decision's `time`), `detected_time` when the monitor decided.
    ///
    /// # Errors
    /// [`ReportError::Record`] naming the field: an unknown report type, or a `local_day`
    /// that is not the transfer's Viet Nam day; otherwise as [`ReportObligation::new`].
    pub fn from_monitor(
        cal: &WorkingCalendar,
        record: &MonitorReportRecord,
        transaction_time: Timestamp,
        detected_time: Timestamp,
    ) -> Result<ReportObligation, ReportError> {
        let bad = |message: String| ReportError::Record {
            transfer_id: record.transfer_id.clone(),
            message,
        };
        let kind = ReportKind::from_id(&record.report).ok_or_else(|| {
            bad(format!("field 'report': unknown report type '{}'", record.report))
        })?;
        let day = local_date(transaction_time);
        if record.local_day != day.to_string() {
            return Err(bad(format!(
                "field 'local_day': '{}' is not the transfer's Viet Nam day {day}",
                record.local_day
            )));
        }
        let mut transfer_ids = record.transfer_ids.clone();
        if transfer_ids.is_empty() {
            transfer_ids.push(record.transfer_id.clone());
        }
        let reasons = vec![format!(
            "monitor report trigger report.{} ({}): VND {} against threshold {}; triggered by transfer {}",
            record.report,
            record.jurisdiction,
            Vnd(record.amount_vnd).grouped(),
            record.threshold,
            record.transfer_id
        )];
        ReportObligation::new(
            cal,
            ObligationInput {
                kind,
                jurisdiction: record.jurisdiction.clone(),
                customer_id: record.customer_id.clone(),
                transfer_ids,
                amount_vnd: Vnd(record.amount_vnd),
                transaction_time,
                detected_time,
                reasons,
                source: record.source.clone(),
            },
        )
    }
}
