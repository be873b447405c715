//! Fiat money for reports: whole Vietnamese đồng and US/EUR cents, integers only.
//!
//! VND has no minor unit (ISO 4217 exponent 0), so a [`Vnd`] is a count of whole đồng. USD and
//! EUR have two decimals, so [`Cents`] counts cents. The monitor's `FiatValue` carries the same
//! two integers (`vnd`, `usd_cents`); converting between them never passes through a float.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An amount in whole Vietnamese đồng.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Vnd(pub u64);

/// An amount in cents of a two-decimal currency (USD or EUR, named beside it).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Cents(pub u64);

/// A two-decimal fiat currency the travel rule is stated in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Currency {
    /// US dollar.
    Usd,
    /// Euro.
    Eur,
}

impl Currency {
    /// The ISO 4217 code.
    pub fn code(self) -> &'static str {
        match self {
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
        }
    }
}

impl Vnd {
    /// `1234567` → `1,234,567` (grouping for people; files carry the plain integer).
    pub fn grouped(self) -> String {
        group_digits(&self.0.to_string())
    }
}

impl fmt::Display for Vnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VND {}", self.grouped())
    }
}

impl Cents {
    /// From whole units (`1_000` → 100 000 cents).
    pub fn from_units(units: u64) -> Self {
        Cents(units.saturating_mul(100))
    }

    /// `123456` → `1234.56`: the decimal form files and XML carry.
    pub fn to_decimal_string(self) -> String {
        format!("{}.{:02}", self.0 / 100, self.0 % 100)
    }

    /// `123456` → `1,234.56`.
    pub fn grouped(self) -> String {
        format!("{}.{:02}", group_digits(&(self.0 / 100).to_string()), self.0 % 100)
    }
}

pub(crate) fn group_digits(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_without_floats() {
        assert_eq!(Vnd(400_000_000).to_string(), "VND 400,000,000");
        assert_eq!(Vnd(7).grouped(), "7");
        assert_eq!(Cents(100_000).to_decimal_string(), "1000.00");
        assert_eq!(Cents(5).to_decimal_string(), "0.05");
        assert_eq!(Cents(123_456_789).grouped(), "1,234,567.89");
        assert_eq!(Cents::from_units(1_000), Cents(100_000));
    }
}
