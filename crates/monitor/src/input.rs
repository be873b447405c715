//! Monitor input: one exchange ledger entry per JSON line (`docs/formats/ledger.md`) plus
//! optional monitor keys (`docs/formats/monitor.md`): countries, a nested `travel_rule`
//! object and a nested `exposure` object from the trace engine.

use std::path::Path;

use floodgate_types::{AssetRegistry, LedgerEntry, Timestamp};
use serde::{Deserialize, Serialize};

/// Travel-rule (FATF R.16) data that came with a transfer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TravelRule {
    /// Originator's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub originator_name: Option<String>,
    /// Originator's account number or wallet address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub originator_account: Option<String>,
    /// Beneficiary's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beneficiary_name: Option<String>,
    /// Beneficiary's account number or wallet address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beneficiary_account: Option<String>,
}

impl TravelRule {
    /// Whether originator and beneficiary are both named (the minimum R.16 asks for).
    pub fn is_complete(&self) -> bool {
        let named = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.trim().is_empty());
        named(&self.originator_name) && named(&self.beneficiary_name)
    }
}

/// Indirect exposure of the counterparty address from the trace engine: the share (0..=1)
/// of its funds that came from each risk category within the trace's hop limit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Exposure {
    /// Share from sanctioned entities.
    #[serde(default)]
    pub sanctioned: f64,
    /// Share from mixers.
    #[serde(default)]
    pub mixer: f64,
    /// Share from scams (pig-butchering compounds, fraud shops).
    #[serde(default)]
    pub scam: f64,
    /// Share from darknet markets.
    #[serde(default)]
    pub darknet: f64,
}

/// The monitor's keys beside the ledger columns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Extras {
    /// Customer's country (ISO alpha-2) at the time, overriding the customer file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_country: Option<String>,
    /// Counterparty's country (ISO alpha-2), when known (VASP or travel-rule data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterparty_country: Option<String>,
    /// Travel-rule data, when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub travel_rule: Option<TravelRule>,
    /// Indirect exposure, when the trace engine supplied it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposure: Option<Exposure>,
}

/// One transfer to decide on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorEvent {
    /// The ledger entry.
    pub entry: LedgerEntry,
    /// Monitor-only facts.
    #[serde(default)]
    pub extras: Extras,
}

impl MonitorEvent {
    /// An event without extras.
    pub fn from_entry(entry: LedgerEntry) -> Self {
        MonitorEvent { entry, extras: Extras::default() }
    }
}

/// A rejected input line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reject {
    /// 1-based line number in the input.
    pub line: u64,
    /// Why, naming the field.
    pub reason: String,
}

/// How far in the future a transfer time may be before the line is rejected (clock skew).
pub const MAX_FUTURE_SECS: i64 = 24 * 3600;

/// Parses one input line. `now` is the wall clock for the far-future check (`None` skips it).
///
/// # Errors
/// A [`Reject`] with the line number and the reason (malformed JSON, unknown asset,
/// negative amount, bad field, time more than a day in the future).
pub fn parse_event(
    path: &Path,
    line: u64,
    text: &str,
    assets: &AssetRegistry,
    now: Option<Timestamp>,
) -> Result<MonitorEvent, Reject> {
    let entry = floodgate_ingest::ledger::parse_jsonl_line(path, line, text, assets)
        .map_err(|e| Reject { line, reason: e.to_string() })?;
    if let Some(now) = now {
        if entry.time.0 > now.0 + MAX_FUTURE_SECS {
            return Err(Reject {
                line,
                reason: format!(
                    "{}: line {line}, field 'time': {} is more than 24 h in the future",
                    path.display(),
                    entry.time
                ),
            });
        }
    }
    let extras =
        if text.contains("country") || text.contains("travel_rule") || text.contains("exposure") {
            serde_json::from_str::<Extras>(text).map_err(|e| Reject {
                line,
                reason: format!("{}: line {line}: monitor field: {e}", path.display()),
            })?
        } else {
            Extras::default()
        };
    Ok(MonitorEvent { entry, extras })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<MonitorEvent, Reject> {
        parse_event(
            Path::new("in.jsonl"),
            7,
            text,
            &AssetRegistry::builtin(),
            Some(Timestamp::parse("2025-11-03T00:00:00Z").expect("t")),
        )
    }

    #[test]
    fn rejects_name_line_and_reason() {
        let ok = r#"{"id":"d1","time":"2025-11-02T08:00:00Z","customer_id":"c1","direction":"deposit","asset":"USDT-TRC20","amount":"10","travel_rule":{"originator_name":"A","beneficiary_name":"B"},"counterparty_country":"SG"}"#;
        let e = p(ok).expect("ok");
        assert!(e.extras.travel_rule.as_ref().is_some_and(TravelRule::is_complete));
        assert_eq!(e.extras.counterparty_country.as_deref(), Some("SG"));
        for (bad, want) in [
            ("{not json", "line 7"),
            (&ok.replace("USDT-TRC20", "NOPE"), "asset"),
            (&ok.replace("\"10\"", "\"-10\""), "amount"),
            (&ok.replace("2025-11-02", "2026-11-02"), "future"),
        ] {
            let r = p(bad).unwrap_err();
            assert_eq!(r.line, 7);
            assert!(r.reason.contains(want), "{} lacks {want}", r.reason);
        }
    }
}
