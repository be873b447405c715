//! Fiat conversion: dated rates per asset, integer arithmetic only.
//!
//! A rate is a decimal number of whole fiat units per whole asset unit (`26350.5` VND per
//! USDT), kept as an integer mantissa and a decimal scale. A conversion multiplies the
//! amount in base units by the mantissa and divides by `10^(decimals + scale)`, rounding
//! down, so money never passes through a float. The rate used for a transfer is the latest
//! one dated on or before the transfer's UTC date; before the first row, the first row.

use std::collections::HashMap;
use std::path::Path;

use floodgate_types::{Amount, AssetId, AssetRegistry, Timestamp};

use crate::error::MonitorError;

/// The built-in table (approximate reference rates; see `docs/formats/monitor.md`).
pub const BUILTIN_RATES: &str = include_str!("../packs/fiat-rates.csv");

/// A non-negative decimal as `mantissa / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    /// Digits without the point.
    pub mantissa: u128,
    /// Digits after the point.
    pub scale: u32,
}

impl Decimal {
    /// Parses `123`, `123.45`; no sign, no exponent.
    pub fn parse(s: &str) -> Option<Decimal> {
        let s = s.trim();
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) || frac.len() > 18 {
            return None;
        }
        let digits = format!("{int}{frac}");
        let mantissa = if digits.is_empty() { 0 } else { digits.parse().ok()? };
        Some(Decimal { mantissa, scale: frac.len() as u32 })
    }

    /// Integer part, rounded down (saturating).
    pub fn to_u128_floor(self) -> u128 {
        self.mantissa / 10u128.saturating_pow(self.scale)
    }
}

/// Fiat values of one transfer: whole VND and US cents, rounded down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FiatValue {
    /// Whole Vietnamese đồng.
    pub vnd: u128,
    /// US dollar cents.
    pub usd_cents: u128,
}

#[derive(Debug, Clone, Copy)]
struct Row {
    day: i64,
    vnd: Decimal,
    usd: Decimal,
}

/// Dated VND and USD rates per asset.
#[derive(Debug, Clone, Default)]
pub struct RateTable {
    by_asset: HashMap<String, Vec<Row>>,
}

/// `amount * mantissa / 10^shift`, rounded down, saturating at `u128::MAX`.
fn mul_div_pow10(amount: u128, mantissa: u128, shift: u32) -> u128 {
    if let Some(p) = amount.checked_mul(mantissa) {
        return match 10u128.checked_pow(shift) {
            Some(d) => p / d,
            None => 0,
        };
    }
    // Too large for u128 at once: divide first in steps (loses only sub-unit precision).
    let mut a = amount;
    let mut s = shift;
    while s > 0 {
        a /= 10;
        s -= 1;
        if let Some(p) = a.checked_mul(mantissa) {
            return p / 10u128.pow(s);
        }
    }
    u128::MAX
}

impl RateTable {
    /// Parses a CSV table with header `date,asset,vnd,usd` (`asset` an asset id such as
    /// `USDT-TRC20` or a symbol such as `USDT`; rates in whole fiat units per whole asset unit).
    ///
    /// # Errors
    /// [`MonitorError::Data`] naming the line and field.
    pub fn parse_csv(path: &Path, text: &str) -> Result<RateTable, MonitorError> {
        let mut t = RateTable::default();
        let mut rdr = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
        let headers = rdr
            .headers()
            .map_err(|e| MonitorError::data(path, 1, e.to_string()))?
            .iter()
            .map(str::to_ascii_lowercase)
            .collect::<Vec<_>>();
        let col = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| MonitorError::data(path, 1, format!("missing column '{name}'")))
        };
        let (cd, ca, cv, cu) = (col("date")?, col("asset")?, col("vnd")?, col("usd")?);
        for (i, rec) in rdr.records().enumerate() {
            let line = i as u64 + 2;
            let rec = rec.map_err(|e| MonitorError::data(path, line, e.to_string()))?;
            let get = |c: usize| rec.get(c).unwrap_or("");
            let day = Timestamp::parse(get(cd))
                .map_err(|e| MonitorError::data(path, line, format!("field 'date': {e}")))?
                .0
                .div_euclid(86_400);
            let dec = |c: usize, name: &str| {
                Decimal::parse(get(c)).ok_or_else(|| {
                    MonitorError::data(
                        path,
                        line,
                        format!("field '{name}': '{}' is not a non-negative decimal", get(c)),
                    )
                })
            };
            let row = Row { day, vnd: dec(cv, "vnd")?, usd: dec(cu, "usd")? };
            let asset = get(ca).to_ascii_uppercase();
            if asset.is_empty() {
                return Err(MonitorError::data(path, line, "field 'asset' is empty"));
            }
            t.by_asset.entry(asset).or_default().push(row);
        }
        for rows in t.by_asset.values_mut() {
            rows.sort_by_key(|r| r.day);
        }
        Ok(t)
    }

    /// The built-in table.
    pub fn builtin() -> RateTable {
        RateTable::parse_csv(Path::new("<built-in fiat-rates.csv>"), BUILTIN_RATES)
            .expect("the built-in rate table is valid (tested)")
    }

    /// Whether any rate exists for this asset (by id or symbol).
    pub fn knows(&self, asset: &AssetId, registry: &AssetRegistry) -> bool {
        self.rows_for(asset, registry).is_some()
    }

    fn rows_for(&self, asset: &AssetId, registry: &AssetRegistry) -> Option<&Vec<Row>> {
        let id = asset.as_str().to_ascii_uppercase();
        self.by_asset.get(&id).or_else(|| {
            let sym = registry.get(asset)?.symbol.to_ascii_uppercase();
            self.by_asset.get(&sym)
        })
    }

    /// The fiat value of `amount` of `asset` at `time`; `None` when the table has no rate
    /// for the asset or the registry does not know its decimals.
    pub fn convert(
        &self,
        asset: &AssetId,
        amount: Amount,
        time: Timestamp,
        registry: &AssetRegistry,
    ) -> Option<FiatValue> {
        let decimals = u32::from(registry.decimals(asset)?);
        let rows = self.rows_for(asset, registry)?;
        let day = time.0.div_euclid(86_400);
        let idx = rows.partition_point(|r| r.day <= day);
        let row = rows[idx.saturating_sub(1)];
        let base = amount.to_u128().unwrap_or(u128::MAX);
        Some(FiatValue {
            vnd: mul_div_pow10(base, row.vnd.mantissa, decimals + row.vnd.scale),
            usd_cents: mul_div_pow10(base, row.usd.mantissa * 100, decimals + row.usd.scale),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_parses_and_converts_integer_exact() {
        let t = RateTable::builtin();
        let reg = AssetRegistry::builtin();
        let usdt = AssetId("USDT-TRC20".into());
        let time = Timestamp::parse("2025-11-03T00:00:00Z").expect("time");
        let v = t.convert(&usdt, Amount::from_base_units(1_000_000_000), time, &reg).expect("rate");
        assert_eq!(v.usd_cents, 100_000);
        assert!(v.vnd > 20_000_000 && v.vnd < 30_000_000);
    }

    #[test]
    fn decimal_parse() {
        assert_eq!(Decimal::parse("1.50"), Some(Decimal { mantissa: 150, scale: 2 }));
        assert_eq!(Decimal::parse("-1"), None);
        assert_eq!(Decimal::parse("1e5"), None);
        assert_eq!(mul_div_pow10(u128::MAX / 2, 1000, 3), u128::MAX / 2 / 1000 * 1000);
    }
}
