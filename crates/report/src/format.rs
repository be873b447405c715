//! The adapter between a report's content and a regulator's electronic layout.
//!
//! The State Bank of Viet Nam's electronic reporting layout (its AML reporting portal's file
//! specification) is not public, so floodgate does not pretend to produce it. Every layout
//! sits behind [`RegulatorFormat`]: goAML ([`Goaml`]) is the one shipped; a Viet Nam adapter
//! implements the same trait over the same report content once the layout is available to the
//! reporting entity, and nothing else changes.

use crate::error::ReportError;
use crate::goaml::{self, GoamlReport};

/// A regulator's file layout for suspicious-transaction reports.
pub trait RegulatorFormat {
    /// Stable id (`goaml-5.0.1`).
    fn id(&self) -> &'static str;
    /// MIME type of the file.
    fn media_type(&self) -> &'static str;
    /// File name extension, without the dot.
    fn extension(&self) -> &'static str;
    /// Renders the report, or refuses it naming the field the layout would reject.
    ///
    /// # Errors
    /// [`ReportError::InvalidField`] naming the field.
    fn render(&self, report: &GoamlReport) -> Result<Vec<u8>, ReportError>;
}

/// goAML 5.0.1 XML (UNODC), see [`crate::goaml`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Goaml;

impl RegulatorFormat for Goaml {
    fn id(&self) -> &'static str {
        "goaml-5.0.1"
    }
    fn media_type(&self) -> &'static str {
        "application/xml"
    }
    fn extension(&self) -> &'static str {
        "xml"
    }
    fn render(&self, report: &GoamlReport) -> Result<Vec<u8>, ReportError> {
        goaml::render(report).map(String::into_bytes)
    }
}
