//! The decision record: one per transfer, with every reason. Format: `docs/formats/monitor.md`.

use std::sync::OnceLock;

use floodgate_types::{Direction, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::pack::{Action, Severity};

/// What produced a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HitKind {
    /// A built-in typology.
    Typology,
    /// A CEL rule from the rules file.
    Rule,
    /// A jurisdiction report trigger.
    Report,
}

/// One rule that fired, with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// Rule id (`structuring`, `report.large_value`, `vn.withdrawal_velocity`).
    pub rule_id: String,
    /// What kind of rule.
    pub kind: HitKind,
    /// Severity.
    pub severity: Severity,
    /// Action asked for.
    pub action: Action,
    /// Score points.
    pub score: u32,
    /// Human-readable reason.
    pub reason: String,
    /// Inputs and matched evidence (amounts, windows, transfer ids, list entries).
    pub evidence: Evidence,
    /// Where the rule comes from.
    pub source: String,
}

/// The evidence of a hit: a JSON object, kept as the JSON text it was written as when the hit
/// was made, so a decision is written out by copying it rather than by walking a value tree
/// (two decisions in three carry two or three hits). It reads as a [`serde_json::Value`]
/// (`h.evidence["transfers"][0]["id"]`, `.get`, `.pointer`): the text is parsed the first
/// time it is read that way, and kept.
///
/// The text is what [`serde_json`] writes for the same value: compact, object keys in
/// sorted order (as a `serde_json::Value` holds them), so a decision's bytes do not depend on
/// how its evidence was built.
#[derive(Clone)]
pub struct Evidence {
    raw: Box<RawValue>,
    parsed: OnceLock<serde_json::Value>,
}

impl Evidence {
    /// The evidence `v` serializes to. Its keys must be in sorted order, as a
    /// `serde_json::Value` would write them (checked in debug builds); wrap nested values of
    /// other orders in a `serde_json::Value`.
    ///
    /// # Panics
    /// When `v` cannot be serialized as JSON (a map with non-string keys): evidence is built
    /// from the engine's own types, which always can.
    pub fn of<T: Serialize + ?Sized>(v: &T) -> Evidence {
        let raw = serde_json::value::to_raw_value(v)
            .expect("evidence is built from types that serialize as JSON");
        debug_assert_eq!(
            serde_json::from_str::<serde_json::Value>(raw.get()).map(|v| v.to_string()).ok(),
            Some(raw.get().to_owned()),
            "evidence keys in sorted order, as a serde_json::Value writes them"
        );
        Evidence { raw, parsed: OnceLock::new() }
    }

    /// The JSON text.
    pub fn as_json(&self) -> &str {
        self.raw.get()
    }

    /// Whether a [`serde_json::Value`] read from the text writes exactly the text back: true
    /// unless the text holds an integer beyond 64 bits (a positive one of 20 digits or more,
    /// a negative one of 19 or more: checked conservatively), which a `Value` holds as a
    /// float. Text written by [`Evidence::of`] has its keys in a `Value`'s order, and
    /// serde_json writes floats in their shortest form, which reads back to the same float.
    /// So a copy of the text stands for the `Value` (an alert's evidence, written by the
    /// case store's feed) exactly when this is true.
    pub fn writes_as_value(&self) -> bool {
        let b = self.raw.get().as_bytes();
        let (mut i, mut in_string) = (0, false);
        while i < b.len() {
            let c = b[i];
            if in_string {
                match c {
                    b'\\' => i += 1,
                    b'"' => in_string = false,
                    _ => {}
                }
            } else if c == b'"' {
                in_string = true;
            } else if c == b'-' || c.is_ascii_digit() {
                let negative = c == b'-';
                let start = if negative { i + 1 } else { i };
                let mut end = start;
                while end < b.len() && b[end].is_ascii_digit() {
                    end += 1;
                }
                let is_integer = !matches!(b.get(end), Some(b'.' | b'e' | b'E'));
                if is_integer && end - start >= if negative { 19 } else { 20 } {
                    return false;
                }
                i = end;
                continue;
            }
            i += 1;
        }
        true
    }
}

impl From<serde_json::Value> for Evidence {
    fn from(v: serde_json::Value) -> Evidence {
        let e = Evidence::of(&v);
        // Already parsed: keep it rather than parse the text again when it is read.
        let _ = e.parsed.set(v);
        e
    }
}

impl std::ops::Deref for Evidence {
    type Target = serde_json::Value;
    fn deref(&self) -> &serde_json::Value {
        self.parsed.get_or_init(|| {
            serde_json::from_str(self.raw.get()).expect("evidence text is JSON (written as JSON)")
        })
    }
}

impl PartialEq for Evidence {
    fn eq(&self, other: &Evidence) -> bool {
        self.raw.get() == other.raw.get() || **self == **other
    }
}

impl std::fmt::Debug for Evidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.raw.get())
    }
}

impl Serialize for Evidence {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Evidence {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Evidence, D::Error> {
        Ok(Evidence { raw: Box::<RawValue>::deserialize(d)?, parsed: OnceLock::new() })
    }
}

/// A report the jurisdiction requires, due because of this transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportDue {
    /// Report type: `large_value`, `domestic_transfer` or `international_transfer`.
    pub report: String,
    /// Jurisdiction pack id.
    pub jurisdiction: String,
    /// The customer.
    pub customer_id: String,
    /// The transfer that triggered it.
    pub transfer_id: String,
    /// Local calendar day (`YYYY-MM-DD`) the report is about.
    pub local_day: String,
    /// Value in whole VND (the day's total for `large_value`).
    pub amount_vnd: u64,
    /// The threshold crossed, as written in the pack.
    pub threshold: String,
    /// Transfers covered (the day's for `large_value`).
    pub transfer_ids: Vec<String>,
    /// Legal source.
    pub source: String,
}

/// An alert for another member of a group (shared device, IP, withdrawal address or bank
/// account) raised by this transfer: the group reached its threshold, or grew past it, so
/// every earlier member is alerted too, although their own transfers came before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupAlert {
    /// The member alerted (not the customer of this transfer).
    pub customer_id: String,
    /// Rule id (`shared_device`, `shared_ip`, `shared_withdrawal_address`,
    /// `shared_bank_account`).
    pub rule_id: String,
    /// Severity.
    pub severity: Severity,
    /// Action asked for on this member's account.
    pub action: Action,
    /// Score points.
    pub score: u32,
    /// Human-readable reason naming the linking attribute and the other members.
    pub reason: String,
    /// The attribute, its value, the threshold and window, every member with the transfers
    /// that used the attribute.
    pub evidence: serde_json::Value,
    /// Where the rule comes from.
    pub source: String,
}

/// A CEL rule that could not be evaluated on this transfer (it did not fire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleError {
    /// Rule id.
    pub rule_id: String,
    /// The evaluation error.
    pub message: String,
}

/// The decision on one transfer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The ledger entry id.
    pub transfer_id: String,
    /// The customer.
    pub customer_id: String,
    /// Transfer time.
    pub time: Timestamp,
    /// Direction.
    pub direction: Direction,
    /// Asset id.
    pub asset: String,
    /// Fiat rail (`bank`, `cash`) of a fiat deposit or withdrawal; absent on chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rail: Option<floodgate_types::Rail>,
    /// Amount in base units.
    pub amount: String,
    /// Value in whole VND, when a rate was known.
    pub amount_vnd: Option<u64>,
    /// Value in US cents, when a rate was known.
    pub amount_usd_cents: Option<u64>,
    /// The strongest action of the hits (`allow` without hits).
    pub action: Action,
    /// Risk score 0–100: the capped sum of the hits' points.
    pub score: u32,
    /// Rules that fired.
    pub hits: Vec<Hit>,
    /// Reports now due.
    pub reports_due: Vec<ReportDue>,
    /// What could not be checked and why (no screening lists, no exposure data, no rate).
    pub notes: Vec<String>,
    /// CEL rules that failed on this transfer.
    pub rule_errors: Vec<RuleError>,
    /// Alerts for the other members of a group this transfer made cross its threshold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_alerts: Vec<GroupAlert>,
    /// The pack that decided (id and origin).
    pub pack: String,
}

impl Decision {
    /// Whether the rule fired.
    pub fn has(&self, rule_id: &str) -> bool {
        self.hits.iter().any(|h| h.rule_id == rule_id)
    }

    /// Every customer this decision alerts for `rule_id`: the transfer's customer when the
    /// rule hit, and the members named by its group alerts.
    pub fn alerted(&self, rule_id: &str) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .group_alerts
            .iter()
            .filter(|a| a.rule_id == rule_id)
            .map(|a| a.customer_id.as_str())
            .collect();
        if self.has(rule_id) {
            v.insert(0, self.customer_id.as_str());
        }
        v
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The text stands for the `Value` exactly when reading it as one and writing it back
    /// gives the same text: checked on integers at the edges of 64 bits, signs, floats,
    /// digits inside strings (with escaped quotes) and nested objects.
    #[test]
    fn writes_as_value_is_true_exactly_when_a_value_writes_the_text_back() {
        let cases = [
            r#"{"a":1}"#,
            r#"{"a":18446744073709551615}"#,
            r#"{"a":18446744073709551616}"#,
            r#"{"a":99999999999999999999}"#,
            r#"{"a":-9223372036854775808}"#,
            r#"{"a":-9223372036854775809}"#,
            r#"{"a":1234567890123456789}"#,
            r#"{"a":0.1,"b":1e+16,"c":-0.0,"d":2.5e-7,"e":1.0}"#,
            r#"{"a":"123456789012345678901234567890","b":"x\"99999999999999999999"}"#,
            r#"{"a":[{"b":{"c":[1,2,300000000000000000000]}}]}"#,
            r#"{"a":[{"b":{"c":[1,2,3]}}],"y":true,"z":null}"#,
        ];
        for text in cases {
            let e = Evidence {
                raw: RawValue::from_string(text.into()).unwrap(),
                parsed: OnceLock::new(),
            };
            let back = serde_json::from_str::<serde_json::Value>(text).unwrap().to_string();
            // A text not flagged writes back the same; the check may flag one that would too
            // (20 digits within u64, 19 within i64): a caller then takes the slower way.
            if e.writes_as_value() {
                assert_eq!(back, text, "{text}");
            }
        }
        let flagged = |t: &str| {
            !Evidence { raw: RawValue::from_string(t.into()).unwrap(), parsed: OnceLock::new() }
                .writes_as_value()
        };
        assert!(flagged(r#"{"a":18446744073709551616}"#));
        assert!(flagged(r#"{"a":-9223372036854775809}"#));
        assert!(flagged(r#"{"a":[{"b":{"c":[1,2,300000000000000000000]}}]}"#));
        assert!(!flagged(r#"{"a":"18446744073709551616"}"#));
        assert!(!flagged(r#"{"a":1234567890123456789,"b":0.1}"#));
    }
}
