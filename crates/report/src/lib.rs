//! Regulatory reports for floodgate: Viet Nam's report types and their deadlines on a
//! Vietnamese working-day calendar, goAML XML for suspicious-transaction reports, IVMS101
//! travel-rule payloads, and a case report a person reads.
//!
//! A pure library: no database, no network, no clock of its own (callers pass `now`). The
//! cases crate stores obligations and filings and calls this crate to compute deadlines and
//! render files. See `docs/reports.md`.
//!
//! ```
//! use floodgate_report::{deadline, status, FilingStatus, ReportKind};
//! use floodgate_types::Timestamp;
//!
//! // A large cash transaction on the Friday before Tết 2026 (Viet Nam time) is due at 16:00
//! // on the first working day after the nine-day holiday.
//! let tx = Timestamp::parse("2026-02-13T10:00:00+07:00")?;
//! let d = deadline(ReportKind::LargeCash, tx, tx)?;
//! assert_eq!(d.due_local, "2026-02-23T16:00:00+07:00");
//! let now = Timestamp::parse("2026-02-24T09:00:00+07:00")?;
//! assert_eq!(status(d.due, None, now), FilingStatus::Overdue);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod calendar;
pub mod case_report;
pub mod deadline;
pub mod error;
pub mod format;
pub mod goaml;
pub mod ivms101;
pub mod money;
pub mod obligation;

pub use calendar::{CalendarDay, DayKind, DayStatus, WorkingCalendar, VN_UTC_OFFSET_SECONDS};
pub use case_report::{
    render_html, AlertEntry, CaseReport, CaseSummary, DecisionEntry, EvidenceEntry, FundPath,
    PathEdge, PathNode, ReportLine,
};
pub use deadline::{deadline, deadline_on, status, Deadline, FilingStatus, ReportKind};
pub use error::ReportError;
pub use format::{Goaml, RegulatorFormat};
pub use goaml::{
    ClientAccount, ClientPerson, ExternalAccount, GoamlAddress, GoamlParty, GoamlPhone,
    GoamlReport, GoamlReportCode, GoamlSide, GoamlTransaction, VirtualAssetTransfer,
};
pub use ivms101::{
    travel_rule_payload, IdentityPayload, TravelRuleTransfer, TRAVEL_RULE_THRESHOLD,
};
pub use money::{Cents, Currency, Vnd};
pub use obligation::{MonitorReportRecord, ObligationInput, ReportObligation, Thresholds};
