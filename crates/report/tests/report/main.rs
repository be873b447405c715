//! Integration tests of floodgate-report: deadlines on the Vietnamese calendar with real
//! dates, obligations from monitor records, and (in their modules) the file formats.
// Tests unwrap freely: a failure should stop the test with the value shown.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod case_report;
mod deadlines;
mod goaml;
mod ivms101;
mod xmllint;
