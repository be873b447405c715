//! Tenants: the VASPs one floodgate deployment serves. Every stored key carries one
//! (`transfers.db`, `screening.db`, `monitor.db`, `cases.db`), so two tenants' records with the
//! same natural key never see or overwrite each other.

use serde::{Deserialize, Serialize};

/// A tenant id is 1–128 characters without control characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid TenantId '{value}': must be 1-128 characters without control characters")]
pub struct TenantIdError {
    /// The value given.
    pub value: String,
}

/// A tenant: one VASP. The CLI acts for [`TenantId::DEFAULT`] unless told otherwise.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(String);

impl TenantId {
    /// The tenant of a single-VASP installation (the CLI's default; `cases.tenant` and the
    /// HTTP API's keys name others).
    pub const DEFAULT: &'static str = "default";

    /// Checks and wraps an id: 1–128 characters, no control characters.
    ///
    /// # Errors
    /// [`TenantIdError`] naming the value.
    pub fn new(s: impl Into<String>) -> Result<TenantId, TenantIdError> {
        let s = s.into();
        if s.is_empty() || s.len() > 128 || s.chars().any(char::is_control) {
            return Err(TenantIdError { value: s });
        }
        Ok(TenantId(s))
    }

    /// The default tenant ([`TenantId::DEFAULT`]).
    pub fn default_tenant() -> TenantId {
        TenantId(TenantId::DEFAULT.to_owned())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for TenantId {
    fn default() -> Self {
        TenantId::default_tenant()
    }
}

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert_eq!(TenantId::new("vasp-a").unwrap().as_str(), "vasp-a");
        assert_eq!(TenantId::default().as_str(), "default");
        for bad in [String::new(), "a\nb".to_owned(), "x".repeat(129)] {
            let e = TenantId::new(bad.clone()).unwrap_err();
            assert_eq!(e.value, bad);
            assert!(e.to_string().starts_with("invalid TenantId"), "{e}");
        }
    }
}
