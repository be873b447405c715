//! Integer amounts in an asset's base units (satoshi, wei, sun, token base units).
//!
//! Money is never a float here. ERC-20 and TRC-20 values are 256-bit on chain, so an
//! [`Amount`] is a 256-bit unsigned integer; arithmetic is checked.

use std::fmt;
use std::str::FromStr;

use ruint::aliases::U256;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative amount in base units of some asset. The asset (and so its decimals) is
/// carried next to it, never inside it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Amount(U256);

/// An amount that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AmountError {
    /// Negative amounts do not exist: a withdrawal is a direction, not a sign.
    #[error("amount '{0}' is negative; amounts are non-negative and the direction says which way")]
    Negative(String),
    /// More fractional digits than the asset has decimals.
    #[error("amount '{input}' has more than {decimals} decimal places")]
    TooPrecise {
        /// The offending text.
        input: String,
        /// The asset's decimals.
        decimals: u8,
    },
    /// Not a number.
    #[error("'{0}' is not a decimal amount")]
    Malformed(String),
    /// Larger than 2^256 - 1 base units.
    #[error("amount '{0}' does not fit in 256 bits")]
    Overflow(String),
}

impl Amount {
    /// Zero.
    pub const ZERO: Amount = Amount(U256::ZERO);

    /// From a count of base units.
    pub fn from_base_units(units: u128) -> Self {
        Amount(U256::from(units))
    }

    /// From a 256-bit big-endian word, as in an ERC-20 `Transfer` log's data.
    pub fn from_be_bytes(bytes: [u8; 32]) -> Self {
        Amount(U256::from_be_bytes(bytes))
    }

    /// The 256-bit big-endian word; sorts like the number (used as a store key).
    pub fn to_be_bytes(self) -> [u8; 32] {
        self.0.to_be_bytes()
    }

    /// The raw 256-bit value.
    pub fn as_u256(self) -> U256 {
        self.0
    }

    /// The value as `u128` when it fits (always for native coins).
    pub fn to_u128(self) -> Option<u128> {
        u128::try_from(self.0).ok()
    }

    /// Whether the amount is zero.
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    /// Checked addition.
    #[must_use]
    pub fn checked_add(self, rhs: Amount) -> Option<Amount> {
        self.0.checked_add(rhs.0).map(Amount)
    }

    /// Checked subtraction.
    #[must_use]
    pub fn checked_sub(self, rhs: Amount) -> Option<Amount> {
        self.0.checked_sub(rhs.0).map(Amount)
    }

    /// Parses a count of base units: decimal digits, or `0x`-prefixed hex as JSON-RPC writes
    /// quantities.
    ///
    /// # Errors
    /// [`AmountError`] for signs, fractions, non-digits and overflow.
    pub fn parse_base_units(s: &str) -> Result<Self, AmountError> {
        let t = s.trim();
        if t.starts_with('-') {
            return Err(AmountError::Negative(t.to_owned()));
        }
        if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            if hex.is_empty() {
                return Ok(Amount::ZERO);
            }
            return U256::from_str_radix(hex, 16).map(Amount).map_err(|e| match e {
                ruint::ParseError::BaseConvertError(_) => AmountError::Overflow(t.to_owned()),
                _ => AmountError::Malformed(t.to_owned()),
            });
        }
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AmountError::Malformed(t.to_owned()));
        }
        U256::from_str_radix(t, 10).map(Amount).map_err(|_| AmountError::Overflow(t.to_owned()))
    }

    /// Parses a human decimal amount such as `1.5` into base units of an asset with
    /// `decimals` decimals (`1.5` BTC → 150 000 000 sat). Thousands separators are not
    /// accepted: `1,000` is ambiguous across locales.
    ///
    /// # Errors
    /// [`AmountError`] for negatives, too many decimal places, malformed text and overflow.
    pub fn parse_decimal(s: &str, decimals: u8) -> Result<Self, AmountError> {
        let t = s.trim();
        if t.starts_with('-') {
            return Err(AmountError::Negative(t.to_owned()));
        }
        let t_unsigned = t.strip_prefix('+').unwrap_or(t);
        let (int, frac) = match t_unsigned.split_once('.') {
            Some((i, f)) => (i, f),
            None => (t_unsigned, ""),
        };
        let digits_ok = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !digits_ok(int) || !digits_ok(frac) {
            return Err(AmountError::Malformed(t.to_owned()));
        }
        let frac_trimmed = frac.trim_end_matches('0');
        if frac_trimmed.len() > usize::from(decimals) {
            return Err(AmountError::TooPrecise { input: t.to_owned(), decimals });
        }
        let mut digits = String::with_capacity(int.len() + usize::from(decimals));
        digits.push_str(int);
        digits.push_str(frac_trimmed);
        for _ in frac_trimmed.len()..usize::from(decimals) {
            digits.push('0');
        }
        let digits = digits.trim_start_matches('0');
        if digits.is_empty() {
            return Ok(Amount::ZERO);
        }
        U256::from_str_radix(digits, 10)
            .map(Amount)
            .map_err(|_| AmountError::Overflow(t.to_owned()))
    }

    /// Formats with `decimals` decimal places, trimming trailing zeros (`150000000`, 8 → `1.5`).
    pub fn to_decimal_string(self, decimals: u8) -> String {
        let raw = self.0.to_string();
        let d = usize::from(decimals);
        if d == 0 {
            return raw;
        }
        let padded =
            if raw.len() <= d { format!("{}{}", "0".repeat(d + 1 - raw.len()), raw) } else { raw };
        let (int, frac) = padded.split_at(padded.len() - d);
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            int.to_owned()
        } else {
            format!("{int}.{frac}")
        }
    }
}

impl From<u64> for Amount {
    fn from(v: u64) -> Self {
        Amount(U256::from(v))
    }
}

impl fmt::Display for Amount {
    /// Base units as a decimal integer.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({})", self.0)
    }
}

impl FromStr for Amount {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Amount::parse_base_units(s)
    }
}

impl Serialize for Amount {
    /// Serialized as a decimal string of base units: JSON numbers lose precision past 2^53.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Amount::parse_base_units(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn dec(s: &str, d: u8) -> String {
        Amount::parse_decimal(s, d).unwrap().to_string()
    }

    #[test]
    fn decimal_parsing_is_exact() {
        assert_eq!(dec("1.5", 8), "150000000");
        assert_eq!(dec("0.00000001", 8), "1");
        assert_eq!(dec("12", 6), "12000000");
        assert_eq!(dec(".5", 1), "5");
        assert_eq!(dec("1.10", 1), "11");
        assert_eq!(dec("0", 18), "0");
        assert!(matches!(Amount::parse_decimal("-1", 8), Err(AmountError::Negative(_))));
        assert!(matches!(
            Amount::parse_decimal("0.000000001", 8),
            Err(AmountError::TooPrecise { .. })
        ));
        assert!(matches!(Amount::parse_decimal("1,000", 8), Err(AmountError::Malformed(_))));
        assert!(matches!(Amount::parse_decimal("1e5", 8), Err(AmountError::Malformed(_))));
    }

    #[test]
    fn base_units_in_decimal_and_hex() {
        assert_eq!(Amount::parse_base_units("0x5f5e100").unwrap(), Amount::from(100_000_000));
        assert_eq!(Amount::parse_base_units("0x").unwrap(), Amount::ZERO);
        let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        assert_eq!(Amount::parse_base_units(max).unwrap().to_string(), max);
        assert!(matches!(
            Amount::parse_base_units(&format!("{max}0")),
            Err(AmountError::Overflow(_))
        ));
    }

    #[test]
    fn formats_with_decimals() {
        assert_eq!(Amount::from(150_000_000).to_decimal_string(8), "1.5");
        assert_eq!(Amount::from(1).to_decimal_string(8), "0.00000001");
        assert_eq!(Amount::from(5_000_000_000).to_decimal_string(8), "50");
        assert_eq!(Amount::from(7).to_decimal_string(0), "7");
    }

    proptest::proptest! {
        #[test]
        fn decimal_round_trip(units in 0u128..u128::MAX, decimals in 0u8..30) {
            let a = Amount::from_base_units(units);
            let s = a.to_decimal_string(decimals);
            proptest::prop_assert_eq!(Amount::parse_decimal(&s, decimals).unwrap(), a);
        }
    }
}
