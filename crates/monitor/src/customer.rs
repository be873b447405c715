//! Customer facts from a customer file: onboarding date, birth date, country, declared
//! expected volume, risk class. CSV with a header row or JSON Lines; see
//! `docs/formats/monitor.md`.

use std::collections::HashMap;
use std::path::Path;

use floodgate_types::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::MonitorError;

/// What the exchange knows about one customer (KYC).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// The customer id used in the ledger.
    pub customer_id: String,
    /// When the account was opened.
    pub onboarded: Option<Timestamp>,
    /// Date of birth.
    pub birth_date: Option<Timestamp>,
    /// ISO 3166-1 alpha-2 country of residence.
    pub country: Option<String>,
    /// Declared expected volume per month, whole VND.
    pub expected_monthly_vnd: Option<u128>,
    /// Risk class from onboarding: `low`, `medium` or `high`.
    pub risk_class: Option<String>,
    /// Last activity before the monitored stream began (for dormancy), if known.
    pub last_activity: Option<Timestamp>,
}

impl Customer {
    /// Whole years of age at `t`, when the birth date is known.
    pub fn age_at(&self, t: Timestamp) -> Option<i64> {
        let b = self.birth_date?;
        // 365.2425-day years in integer arithmetic: days * 10000 / 3652425.
        Some((t.0 - b.0).div_euclid(86_400) * 10_000 / 3_652_425)
    }
}

/// Customers by id.
#[derive(Debug, Clone, Default)]
pub struct CustomerBook {
    by_id: HashMap<String, Customer>,
}

fn opt(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

impl CustomerBook {
    /// Reads a customer file (CSV with header, or JSON Lines when the first non-blank
    /// character is `{`).
    ///
    /// # Errors
    /// [`MonitorError::Io`], or [`MonitorError::Data`] naming the line and field.
    pub fn load(path: &Path) -> Result<CustomerBook, MonitorError> {
        let text = std::fs::read_to_string(path).map_err(|e| MonitorError::io(path, e))?;
        CustomerBook::parse(path, &text)
    }

    /// Parses customer file text; `path` only labels errors.
    ///
    /// # Errors
    /// [`MonitorError::Data`] naming the line and field.
    pub fn parse(path: &Path, text: &str) -> Result<CustomerBook, MonitorError> {
        let mut rows: Vec<(u64, HashMap<String, String>)> = Vec::new();
        if text.trim_start().starts_with('{') {
            for (i, l) in text.lines().enumerate() {
                let line = i as u64 + 1;
                if l.trim().is_empty() {
                    continue;
                }
                let v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(l)
                    .map_err(|e| MonitorError::data(path, line, format!("malformed JSON: {e}")))?;
                let row = v
                    .into_iter()
                    .filter_map(|(k, v)| {
                        let s = match v {
                            serde_json::Value::String(s) => s,
                            serde_json::Value::Number(n) => n.to_string(),
                            _ => return None,
                        };
                        Some((k.to_ascii_lowercase(), s))
                    })
                    .collect();
                rows.push((line, row));
            }
        } else {
            let mut rdr =
                csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
            let headers: Vec<String> = rdr
                .headers()
                .map_err(|e| MonitorError::data(path, 1, e.to_string()))?
                .iter()
                .map(str::to_ascii_lowercase)
                .collect();
            for (i, rec) in rdr.records().enumerate() {
                let line = i as u64 + 2;
                let rec = rec.map_err(|e| MonitorError::data(path, line, e.to_string()))?;
                rows.push((
                    line,
                    headers.iter().cloned().zip(rec.iter().map(str::to_owned)).collect(),
                ));
            }
        }
        let mut book = CustomerBook::default();
        for (line, row) in rows {
            let get = |k: &str| opt(row.get(k).map(String::as_str));
            let time = |k: &str| -> Result<Option<Timestamp>, MonitorError> {
                get(k)
                    .map(|s| {
                        Timestamp::parse(s).map_err(|e| {
                            MonitorError::data(path, line, format!("field '{k}': {e}"))
                        })
                    })
                    .transpose()
            };
            let id = get("customer_id")
                .ok_or_else(|| MonitorError::data(path, line, "field 'customer_id' is missing"))?;
            let expected = get("expected_monthly_vnd")
                .map(|s| {
                    s.parse::<u128>().map_err(|_| {
                        MonitorError::data(
                            path,
                            line,
                            format!("field 'expected_monthly_vnd': '{s}' is not a whole number"),
                        )
                    })
                })
                .transpose()?;
            let risk = get("risk_class").map(str::to_ascii_lowercase);
            if let Some(r) = &risk {
                if !matches!(r.as_str(), "low" | "medium" | "high") {
                    return Err(MonitorError::data(
                        path,
                        line,
                        format!("field 'risk_class': '{r}' is not low, medium or high"),
                    ));
                }
            }
            book.insert(Customer {
                customer_id: id.to_owned(),
                onboarded: time("onboarded")?,
                birth_date: time("birth_date")?,
                country: get("country").map(str::to_ascii_uppercase),
                expected_monthly_vnd: expected,
                risk_class: risk,
                last_activity: time("last_activity")?,
            });
        }
        Ok(book)
    }

    /// Adds or replaces a customer.
    pub fn insert(&mut self, c: Customer) {
        self.by_id.insert(c.customer_id.clone(), c);
    }

    /// The customer with this id.
    pub fn get(&self, id: &str) -> Option<&Customer> {
        self.by_id.get(id)
    }

    /// Number of customers.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether the book is empty.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_errors() {
        let p = Path::new("c.csv");
        let b = CustomerBook::parse(
            p,
            "customer_id,onboarded,birth_date,country,risk_class\nc1,2025-01-01,1960-05-01,vn,High\n",
        )
        .expect("parse");
        let c = b.get("c1").expect("c1");
        assert_eq!(c.country.as_deref(), Some("VN"));
        assert_eq!(c.age_at(Timestamp::parse("2025-06-01").expect("t")), Some(65));
        let e = CustomerBook::parse(p, "customer_id,birth_date\nc1,yesterday\n").unwrap_err();
        assert!(e.to_string().contains("line 2") && e.to_string().contains("birth_date"), "{e}");
    }
}
