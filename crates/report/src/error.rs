//! The report crate's error type.

/// A report failure. Every variant names the input at fault: the calendar file and line, the
/// date, the report field, or the pack key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// A calendar year file is malformed.
    #[error("calendar file {file}: {message}")]
    CalendarFile {
        /// The file name (`vn-2026.toml`).
        file: String,
        /// What is wrong, naming the entry or field.
        message: String,
    },
    /// A date outside the years the calendar knows; a deadline there would be a guess.
    #[error("date {date} is outside the working-day calendar (years {first}-{last}); add calendar/vn-<year>.toml")]
    OutsideCalendar {
        /// The date (`YYYY-MM-DD`).
        date: String,
        /// First year covered.
        first: i32,
        /// Last year covered.
        last: i32,
    },
    /// A jurisdiction pack could not be read for report thresholds.
    #[error("pack {pack}: {message}")]
    Pack {
        /// The pack (`<built-in vn>` or a path).
        pack: String,
        /// What is wrong, naming the key.
        message: String,
    },
    /// A monitor report record could not be mapped to an obligation.
    #[error("report record for transfer '{transfer_id}': {message}")]
    Record {
        /// The triggering transfer.
        transfer_id: String,
        /// What is wrong, naming the field.
        message: String,
    },
    /// A report field is missing or invalid for the target format; nothing was rendered.
    #[error("{format} report: field '{field}': {message}")]
    InvalidField {
        /// The format (`goAML`, `IVMS101`, `HTML case`).
        format: &'static str,
        /// The field path, as the format names it (`report/transaction[2]/t_from/from_account/account`).
        field: String,
        /// What is wrong, with the offending value.
        message: String,
    },
    /// A transfer below the travel-rule threshold: no IVMS101 payload is required.
    #[error("transfer of {value} is below the travel-rule threshold of {threshold}")]
    BelowThreshold {
        /// The transfer's value.
        value: String,
        /// The threshold.
        threshold: String,
    },
    /// The XML writer failed (it writes to memory, so this is a bug).
    #[error("xml writer: {0}")]
    Xml(String),
}
