//! Viet Nam report types and their filing deadlines on the working-day calendar.
//!
//! | report | deadline | source |
//! |---|---|---|
//! | large cash, domestic and international transfer | 16:00 on the next working day after the transaction's day | Law on AML 14/2022/QH15 art. 25 and 34; Circular 09/2023/TT-NHNN |
//! | suspicious transaction | the earlier of the end of the 3rd working day after the transaction's day and the end of the 1st working day after detection | Law on AML 14/2022/QH15 art. 26 |
//! | urgent (signs of crime) | 24 hours after detection | Law on AML 14/2022/QH15 art. 26 (report "immediately"); 24 h is this crate's reading |
//! | transaction hold | 24 hours after the hold | Law on AML 14/2022/QH15 art. 35 (report the hold "immediately"); 24 h is this crate's reading |
//!
//! "The end of a working day" is 23:59:59 Viet Nam time. All days are Viet Nam calendar days
//! (UTC+7). See `docs/reports.md` for the reading of each rule.

use std::fmt;

use chrono::{NaiveDate, NaiveTime};
use floodgate_types::Timestamp;
use serde::{Deserialize, Serialize};

use crate::calendar::{local_date, local_instant, to_local_rfc3339, WorkingCalendar};
use crate::error::ReportError;

/// A Viet Nam report type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// Large cash transaction: a customer's total at or above VND 400 million in a day
    /// (the monitor's `large_value` trigger).
    #[serde(alias = "large_value")]
    LargeCash,
    /// Domestic electronic funds transfer at or above VND 500 million.
    DomesticTransfer,
    /// International electronic funds transfer at or above USD 1,000 or equivalent.
    InternationalTransfer,
    /// Suspicious transaction report (STR).
    Suspicious,
    /// Urgent report: a transaction showing signs of crime.
    Urgent,
    /// Report of a transaction hold (postponement).
    Hold,
}

impl ReportKind {
    /// Every kind, in the order reports list them.
    pub const ALL: [ReportKind; 6] = [
        ReportKind::LargeCash,
        ReportKind::DomesticTransfer,
        ReportKind::InternationalTransfer,
        ReportKind::Suspicious,
        ReportKind::Urgent,
        ReportKind::Hold,
    ];

    /// The stable id (`large_cash`, `suspicious`, …) used in files and on the command line.
    pub fn id(self) -> &'static str {
        match self {
            ReportKind::LargeCash => "large_cash",
            ReportKind::DomesticTransfer => "domestic_transfer",
            ReportKind::InternationalTransfer => "international_transfer",
            ReportKind::Suspicious => "suspicious",
            ReportKind::Urgent => "urgent",
            ReportKind::Hold => "hold",
        }
    }

    /// The kind for an id, accepting the monitor's report ids (`large_value`).
    pub fn from_id(id: &str) -> Option<ReportKind> {
        match id {
            "large_value" => Some(ReportKind::LargeCash),
            _ => ReportKind::ALL.into_iter().find(|k| k.id() == id),
        }
    }

    /// A human name.
    pub fn name(self) -> &'static str {
        match self {
            ReportKind::LargeCash => "large cash transaction report",
            ReportKind::DomesticTransfer => "domestic electronic funds transfer report",
            ReportKind::InternationalTransfer => "international electronic funds transfer report",
            ReportKind::Suspicious => "suspicious transaction report",
            ReportKind::Urgent => "urgent report (signs of crime)",
            ReportKind::Hold => "transaction hold report",
        }
    }

    /// The legal source of the deadline rule.
    pub fn deadline_source(self) -> &'static str {
        match self {
            ReportKind::LargeCash => {
                "Law on AML 14/2022/QH15 art. 25; Decision 11/2023/QD-TTg; Circular 09/2023/TT-NHNN (16:00 on the next working day)"
            }
            ReportKind::DomesticTransfer | ReportKind::InternationalTransfer => {
                "Law on AML 14/2022/QH15 art. 34; Circular 09/2023/TT-NHNN (16:00 on the next working day)"
            }
            ReportKind::Suspicious => {
                "Law on AML 14/2022/QH15 art. 26 (3 working days from the transaction, or 1 working day from detection)"
            }
            ReportKind::Urgent => {
                "Law on AML 14/2022/QH15 art. 26 (signs of crime: report immediately); the 24-hour bound is floodgate's reading, see docs/reports.md"
            }
            ReportKind::Hold => {
                "Law on AML 14/2022/QH15 art. 35 (report a postponed transaction immediately); the 24-hour bound is floodgate's reading, see docs/reports.md"
            }
        }
    }
}

impl fmt::Display for ReportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// When a report is due, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    /// The report type.
    pub kind: ReportKind,
    /// The instant it is due (inclusive: filed at this second is on time).
    pub due: Timestamp,
    /// The same instant in Viet Nam time, `2026-02-23T16:00:00+07:00`.
    pub due_local: String,
    /// The rule applied, with the dates it counted from.
    pub rule: String,
    /// Days off the count passed over (`2026-02-17 Tết: 1st day of the lunar new year`).
    pub days_off_skipped: Vec<String>,
    /// The legal source of the rule.
    pub source: String,
}

/// Where a report stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilingStatus {
    /// Not filed, deadline not passed.
    Due,
    /// Not filed, deadline passed.
    Overdue,
    /// Filed at or before the deadline.
    FiledOnTime,
    /// Filed after the deadline.
    FiledLate,
}

impl FilingStatus {
    /// The stable id (`due`, `overdue`, `filed_on_time`, `filed_late`).
    pub fn id(self) -> &'static str {
        match self {
            FilingStatus::Due => "due",
            FilingStatus::Overdue => "overdue",
            FilingStatus::FiledOnTime => "filed_on_time",
            FilingStatus::FiledLate => "filed_late",
        }
    }
}

impl fmt::Display for FilingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Where a report with deadline `due` stands at `now`, given when (if) it was filed.
/// A report filed exactly at the deadline is on time.
pub fn status(due: Timestamp, filed_at: Option<Timestamp>, now: Timestamp) -> FilingStatus {
    match filed_at {
        Some(f) if f <= due => FilingStatus::FiledOnTime,
        Some(_) => FilingStatus::FiledLate,
        None if now <= due => FilingStatus::Due,
        None => FilingStatus::Overdue,
    }
}

/// The deadline of a report on Viet Nam's shipped calendar; see [`deadline_on`].
///
/// # Errors
/// As [`deadline_on`].
pub fn deadline(
    kind: ReportKind,
    transaction_time: Timestamp,
    detected_time: Timestamp,
) -> Result<Deadline, ReportError> {
    deadline_on(WorkingCalendar::vn(), kind, transaction_time, detected_time)
}

fn four_pm() -> NaiveTime {
    NaiveTime::from_hms_opt(16, 0, 0).expect("16:00 is a time")
}

fn end_of_day() -> NaiveTime {
    NaiveTime::from_hms_opt(23, 59, 59).expect("23:59:59 is a time")
}

/// Days off strictly after `from` up to `to`, for the explanation.
fn skipped(cal: &WorkingCalendar, from: NaiveDate, to: NaiveDate) -> Vec<String> {
    from.iter_days()
        .skip(1)
        .take_while(|d| *d < to)
        .filter(|d| cal.is_working_day(*d).ok() == Some(false))
        .filter_map(|d| cal.day(d).map(|x| format!("{d} {}", x.name)))
        .collect()
}

/// The deadline of a report of `kind` about a transaction at `transaction_time`, detected
/// (or, for a hold, held) at `detected_time`, on `cal`.
///
/// # Errors
/// [`ReportError::OutsideCalendar`] when a date the rule counts over has no calendar file.
pub fn deadline_on(
    cal: &WorkingCalendar,
    kind: ReportKind,
    transaction_time: Timestamp,
    detected_time: Timestamp,
) -> Result<Deadline, ReportError> {
    let tx_day = local_date(transaction_time);
    let (due, rule, skipped_days) = match kind {
        ReportKind::LargeCash
        | ReportKind::DomesticTransfer
        | ReportKind::InternationalTransfer => {
            let day = cal.next_working_day(tx_day)?;
            (
                local_instant(day, four_pm()),
                format!("16:00 on the next working day after the transaction day {tx_day}: {day}"),
                skipped(cal, tx_day, day),
            )
        }
        ReportKind::Suspicious => {
            let det_day = local_date(detected_time);
            let by_tx = cal.add_working_days(tx_day, 3)?;
            let by_det = cal.add_working_days(det_day, 1)?;
            let (day, which) = if by_tx <= by_det {
                (by_tx, format!("3 working days after the transaction day {tx_day}"))
            } else {
                (by_det, format!("1 working day after the detection day {det_day}"))
            };
            (
                local_instant(day, end_of_day()),
                format!(
                    "end of {day}: the earlier of 3 working days after the transaction day {tx_day} ({by_tx}) and 1 working day after the detection day {det_day} ({by_det}) is {which}"
                ),
                skipped(cal, tx_day.min(det_day), day),
            )
        }
        ReportKind::Urgent | ReportKind::Hold => {
            let what = if kind == ReportKind::Urgent { "detection" } else { "the hold" };
            // Checked against the calendar too, so a deadline is never given for a year
            // without a file (consistent errors across kinds).
            cal.is_working_day(local_date(detected_time))?;
            (
                Timestamp(detected_time.0.saturating_add(24 * 3600)),
                format!("24 hours after {what} at {}", to_local_rfc3339(detected_time)),
                Vec::new(),
            )
        }
    };
    Ok(Deadline {
        kind,
        due,
        due_local: to_local_rfc3339(due),
        rule,
        days_off_skipped: skipped_days,
        source: kind.deadline_source().to_owned(),
    })
}
