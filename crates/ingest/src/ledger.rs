//! Exchange ledgers: deposits, withdrawals and internal transfers of customers, as CSV (with a
//! header row) or JSON Lines. The columns are documented in `docs/formats/ledger.md`.
//!
//! A ledger file is read whole and validated before anything is stored, so a bad line stops
//! the file with its line and field named and nothing of that file is stored.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use floodgate_types::{
    Address, Amount, AssetRegistry, Chain, Direction, LedgerEntry, Rail, Timestamp,
};

use crate::{IngestError, Location};

/// Columns a ledger must have.
pub const REQUIRED_COLUMNS: [&str; 6] =
    ["id", "time", "customer_id", "direction", "asset", "amount"];

/// Columns a ledger may have. The `travel_rule.*` columns are, in JSON Lines, the keys of a
/// nested `travel_rule` object.
pub const OPTIONAL_COLUMNS: [&str; 18] = [
    "chain",
    "counterparty_address",
    "counterparty_customer",
    "counterparty_vasp",
    "txid",
    "ip",
    "device",
    "amount_base_units",
    "counterparty_country",
    "travel_rule.originator_name",
    "travel_rule.originator_account",
    "travel_rule.originator_vasp",
    "travel_rule.beneficiary_name",
    "travel_rule.beneficiary_account",
    "travel_rule.beneficiary_vasp",
    "rail",
    "counterparty_bank",
    "counterparty_account",
];

/// Reads a ledger file (CSV or JSON Lines, told apart by content).
///
/// # Errors
/// [`IngestError`] naming the file, line and field of the first problem.
pub fn read_ledger_path(
    path: &Path,
    assets: &AssetRegistry,
) -> Result<Vec<LedgerEntry>, IngestError> {
    let bytes = crate::read_file(path)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        IngestError::invalid(
            path,
            Location::Offset(e.utf8_error().valid_up_to() as u64),
            "not UTF-8 text",
        )
    })?;
    read_ledger_text(path.to_owned(), &text, assets)
}

/// Reads ledger text; `name` stands for the file in errors.
///
/// # Errors
/// As [`read_ledger_path`].
pub fn read_ledger_str(
    name: &str,
    text: &str,
    assets: &AssetRegistry,
) -> Result<Vec<LedgerEntry>, IngestError> {
    read_ledger_text(PathBuf::from(name), text, assets)
}

fn read_ledger_text(
    path: PathBuf,
    text: &str,
    assets: &AssetRegistry,
) -> Result<Vec<LedgerEntry>, IngestError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if !text.is_empty() && !text.ends_with('\n') {
        // A file cut off mid-row (an interrupted copy or export) must not store a shortened
        // last entry, which would then make the complete file a conflicting re-ingest.
        let line = text.lines().count() as u64;
        return Err(IngestError::invalid(
            &path,
            Location::Line(line),
            "the last line ends without a newline: the file looks truncated (cut off mid-row); \
             nothing was stored. If the file is complete, end its last line with a newline",
        ));
    }
    let rows = if text.trim_start().starts_with('{') {
        jsonl_rows(&path, text)?
    } else {
        csv_rows(&path, text)?
    };
    let mut out = Vec::with_capacity(rows.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (line, row) in rows {
        let entry = entry_from_row(&path, line, &row, assets)?;
        if let Some(&i) = seen.get(&entry.id) {
            let prev: &LedgerEntry = &out[i];
            if *prev != entry {
                return Err(IngestError::invalid(
                    &path,
                    Location::LineField(line, "id".to_owned()),
                    format!(
                        "entry id '{}' appears twice in this file with different content",
                        entry.id
                    ),
                ));
            }
            continue;
        }
        seen.insert(entry.id.clone(), out.len());
        out.push(entry);
    }
    Ok(out)
}

/// One ledger row: lowercase column names and non-empty values. A ledger has about a dozen
/// columns, so a vector searched in order beats hashing (this runs for every monitored line).
#[derive(Debug, Default)]
struct Row(Vec<(String, String)>);

impl Row {
    fn get(&self, key: &str) -> Option<&String> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets a column; a repeated JSON key keeps its last value, as JSON parsers do.
    fn insert(&mut self, key: String, value: String) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }

    /// A CSV record under its (lowercased) header; empty values are absent.
    fn of_csv(headers: &[String], rec: &csv::StringRecord) -> Row {
        headers
            .iter()
            .zip(rec.iter())
            .filter(|(_, v)| !v.is_empty())
            .map(|(h, v)| (h.clone(), v.to_owned()))
            .collect()
    }
}

impl FromIterator<(String, String)> for Row {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        Row(iter.into_iter().collect())
    }
}

/// Deserializes a JSON object straight into a [`Row`]: scalars become text (numbers as JSON
/// writes them), `null` and blank strings are absent, the `travel_rule` object's scalars become
/// `travel_rule.<key>` columns, other nested objects and arrays are skipped for other readers
/// of the line. No intermediate `Value` tree.
impl<'de> serde::Deserialize<'de> for Row {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RowVisitor;
        impl<'de> serde::de::Visitor<'de> for RowVisitor {
            type Value = Row;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object per line")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Row, A::Error> {
                let mut row = Row(Vec::with_capacity(16));
                while let Some(key) = m.next_key::<std::borrow::Cow<'de, str>>()? {
                    let key = key.to_ascii_lowercase();
                    if key == "travel_rule" {
                        let Nested(fields) = m.next_value()?;
                        for (k, v) in fields {
                            row.insert(format!("travel_rule.{}", k.to_ascii_lowercase()), v);
                        }
                    } else if let Scalar(Some(v)) = m.next_value()? {
                        row.insert(key, v);
                    }
                }
                Ok(row)
            }
        }
        d.deserialize_map(RowVisitor)
    }
}

/// What [`Nested`] expects, also how its error is recognised.
const NESTED: &str = "an object (travel_rule)";

/// A nested object's scalar members as `(key, text)`; `null` is no members. Anything but an
/// object or `null` is an error, so a malformed travel-rule payload is refused, not dropped.
struct Nested(Vec<(String, String)>);

impl<'de> serde::Deserialize<'de> for Nested {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Nested;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(NESTED)
            }
            fn visit_unit<E>(self) -> Result<Nested, E> {
                Ok(Nested(Vec::new()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Nested, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = m.next_key::<String>()? {
                    if let Scalar(Some(v)) = m.next_value()? {
                        out.push((k, v));
                    }
                }
                Ok(Nested(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A JSON value as ledger text; `None` for null, blank, objects and arrays.
struct Scalar(Option<String>);

impl<'de> serde::Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_str<E>(self, s: &str) -> Result<Scalar, E> {
                let t = s.trim();
                Ok(Scalar((!t.is_empty()).then(|| t.to_owned())))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(Some(
                    serde_json::Number::from_f64(v)
                        .map_or_else(|| v.to_string(), |n| n.to_string()),
                )))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_unit<E>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Scalar, A::Error> {
                while m.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
                Ok(Scalar(None))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut s: A) -> Result<Scalar, A::Error> {
                while s.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Scalar(None))
            }
        }
        d.deserialize_any(V)
    }
}

fn csv_rows(path: &Path, text: &str) -> Result<Vec<(u64, Row)>, IngestError> {
    let mut rdr = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| IngestError::invalid(path, Location::Line(1), format!("header row: {e}")))?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    check_columns(path, 1, headers.iter().map(String::as_str))?;
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            let hint = if matches!(e.kind(), csv::ErrorKind::UnequalLengths { .. }) {
                " (a row with fields missing: the file looks truncated or the row is malformed; \
                 nothing was stored)"
            } else {
                ""
            };
            IngestError::invalid(path, Location::Line(line), format!("malformed CSV: {e}{hint}"))
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        if rec.iter().all(str::is_empty) {
            continue;
        }
        rows.push((line, Row::of_csv(&headers, &rec)));
    }
    Ok(rows)
}

/// Parses one JSON Lines ledger row, for streaming consumers (the monitor) that reject bad
/// lines one by one instead of refusing a whole file. `path` and `line` only label errors.
///
/// # Errors
/// [`IngestError::Invalid`] naming the file, line and field.
pub fn parse_jsonl_line(
    path: &Path,
    line: u64,
    text: &str,
    assets: &AssetRegistry,
) -> Result<LedgerEntry, IngestError> {
    let row = json_row(path, line, text)?;
    entry_from_row(path, line, &row, assets)
}

/// The header row of a CSV ledger read line by line, for streaming consumers (the monitor)
/// that reject bad rows one by one instead of refusing the whole file. Each row is one line:
/// a quoted field that spans lines is not read this way (its lines are rejected, named).
#[derive(Debug, Clone)]
pub struct CsvLedgerHeader {
    columns: Vec<String>,
}

impl CsvLedgerHeader {
    /// Reads the header row (`line` is its line number), checking the required columns.
    ///
    /// # Errors
    /// [`IngestError::Invalid`] naming the file and line: not CSV, or a required column missing.
    pub fn parse(path: &Path, line: u64, text: &str) -> Result<Self, IngestError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let rec = one_csv_record(path, line, text)?;
        let columns: Vec<String> = rec.iter().map(str::to_ascii_lowercase).collect();
        check_columns(path, line, columns.iter().map(String::as_str))?;
        Ok(CsvLedgerHeader { columns })
    }

    /// Parses one data row under this header.
    ///
    /// # Errors
    /// [`IngestError::Invalid`] naming the file, line and field.
    pub fn entry(
        &self,
        path: &Path,
        line: u64,
        text: &str,
        assets: &AssetRegistry,
    ) -> Result<LedgerEntry, IngestError> {
        let rec = one_csv_record(path, line, text)?;
        if rec.len() != self.columns.len() {
            return Err(IngestError::invalid(
                path,
                Location::Line(line),
                format!(
                    "malformed CSV: {} fields where the header has {} (a row with fields \
                     missing, or a quoted field spanning lines, which the monitor does not read)",
                    rec.len(),
                    self.columns.len()
                ),
            ));
        }
        entry_from_row(path, line, &Row::of_csv(&self.columns, &rec), assets)
    }
}

/// One line read as one CSV record (values trimmed, as [`read_ledger_path`] reads them).
fn one_csv_record(path: &Path, line: u64, text: &str) -> Result<csv::StringRecord, IngestError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rec = csv::StringRecord::new();
    match rdr.read_record(&mut rec) {
        Ok(true) => Ok(rec),
        Ok(false) => Err(IngestError::invalid(path, Location::Line(line), "empty CSV row")),
        Err(e) => {
            Err(IngestError::invalid(path, Location::Line(line), format!("malformed CSV: {e}")))
        }
    }
}

fn json_row(path: &Path, n: u64, line: &str) -> Result<Row, IngestError> {
    serde_json::from_str::<Row>(line).map_err(|e| {
        if e.classify() == serde_json::error::Category::Data && e.to_string().contains(NESTED) {
            return IngestError::invalid(
                path,
                Location::LineField(n, "travel_rule".to_owned()),
                "must be an object of travel-rule fields (see docs/formats/ledger.md)",
            );
        }
        let reason = if e.classify() == serde_json::error::Category::Data {
            "expected a JSON object per line".to_owned()
        } else {
            format!("malformed JSON at column {}: {e}", e.column())
        };
        IngestError::invalid(path, Location::Line(n), reason)
    })
}

fn jsonl_rows(path: &Path, text: &str) -> Result<Vec<(u64, Row)>, IngestError> {
    let mut rows = Vec::new();
    let mut all_keys: Vec<String> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        let row = json_row(path, n, line)?;
        for k in row.keys() {
            if !all_keys.contains(k) {
                all_keys.push(k.clone());
            }
        }
        rows.push((n, row));
    }
    check_unknown(all_keys.iter().map(String::as_str));
    Ok(rows)
}

fn check_columns<'a>(
    path: &Path,
    line: u64,
    headers: impl Iterator<Item = &'a str> + Clone,
) -> Result<(), IngestError> {
    let missing: Vec<&str> = REQUIRED_COLUMNS
        .iter()
        .copied()
        .filter(|r| {
            !headers.clone().any(|h| h == *r || (*r == "amount" && h == "amount_base_units"))
        })
        .collect();
    if !missing.is_empty() {
        return Err(IngestError::invalid(
            path,
            Location::Line(line),
            format!(
                "missing required column(s): {} (required: {}; see docs/formats/ledger.md)",
                missing.join(", "),
                REQUIRED_COLUMNS.join(", ")
            ),
        ));
    }
    check_unknown(headers);
    Ok(())
}

fn check_unknown<'a>(keys: impl Iterator<Item = &'a str>) {
    for k in keys {
        if !REQUIRED_COLUMNS.contains(&k) && !OPTIONAL_COLUMNS.contains(&k) {
            tracing::warn!(target: "floodgate::ingest::ledger", column = k, "ignoring unknown ledger column");
        }
    }
}

fn entry_from_row(
    path: &Path,
    line: u64,
    row: &Row,
    assets: &AssetRegistry,
) -> Result<LedgerEntry, IngestError> {
    let at = |field: &str| Location::LineField(line, field.to_owned());
    let need = |field: &str| {
        row.get(field)
            .cloned()
            .ok_or_else(|| IngestError::invalid(path, at(field), "required value is empty"))
    };
    let id = need("id")?;
    let time_s = need("time")?;
    let time = Timestamp::parse(&time_s)
        .map_err(|e| IngestError::invalid(path, at("time"), e.to_string()))?;
    let customer_id = need("customer_id")?;
    let dir_s = need("direction")?;
    let direction = Direction::parse(&dir_s).ok_or_else(|| {
        IngestError::invalid(
            path,
            at("direction"),
            format!("'{dir_s}' is not deposit, withdrawal or internal"),
        )
    })?;
    let chain = match row.get("chain") {
        Some(c) => Some(
            c.parse::<Chain>()
                .map_err(|e| IngestError::invalid(path, at("chain"), e.to_string()))?,
        ),
        None => None,
    };
    let asset_s = need("asset")?;
    let asset = assets
        .resolve(&asset_s, chain)
        .map_err(|e| IngestError::invalid(path, at("asset"), e.to_string()))?;
    let amount = match (row.get("amount"), row.get("amount_base_units")) {
        (Some(a), None) => Amount::parse_decimal(a, asset.decimals),
        (None, Some(b)) => Amount::parse_base_units(b),
        (Some(_), Some(_)) => {
            return Err(IngestError::invalid(
                path,
                at("amount"),
                "give either amount or amount_base_units, not both",
            ))
        }
        (None, None) => {
            return Err(IngestError::invalid(path, at("amount"), "required value is empty"))
        }
    }
    .map_err(|e| IngestError::invalid(path, at("amount"), e.to_string()))?;
    let rail = match row.get("rail") {
        Some(r) if r.trim().eq_ignore_ascii_case("chain") => None,
        Some(r) => Some(Rail::parse(r).ok_or_else(|| {
            IngestError::invalid(path, at("rail"), format!("'{r}' is not bank, cash or chain"))
        })?),
        None => None,
    };
    let counterparty_bank = row.get("counterparty_bank").cloned();
    let counterparty_account = row.get("counterparty_account").cloned();
    let counterparty_address = match asset.chain {
        Some(asset_chain) => {
            // An on-chain asset: no fiat rail, no bank.
            if let Some(r) = rail {
                return Err(IngestError::invalid(
                    path,
                    at("rail"),
                    format!(
                        "rail '{r}' is for fiat currencies; {} moves on {asset_chain} (leave rail \
                         empty or write chain)",
                        asset.id
                    ),
                ));
            }
            for (field, v) in [
                ("counterparty_bank", &counterparty_bank),
                ("counterparty_account", &counterparty_account),
            ] {
                if v.is_some() {
                    return Err(IngestError::invalid(
                        path,
                        at(field),
                        format!("a bank field on an on-chain transfer of {}", asset.id),
                    ));
                }
            }
            let addr_chain = chain.unwrap_or(asset_chain);
            match row.get("counterparty_address") {
                Some(a) => Some(Address::parse(addr_chain, a).map_err(|e| {
                    IngestError::invalid(path, at("counterparty_address"), e.to_string())
                })?),
                None => None,
            }
        }
        None => {
            fiat_fields(path, line, row, &asset.id, direction, chain, rail, &counterparty_bank)?;
            None
        }
    };
    let counterparty_customer = row.get("counterparty_customer").cloned();
    if direction == Direction::Internal && counterparty_customer.is_none() {
        return Err(IngestError::invalid(
            path,
            at("counterparty_customer"),
            "an internal transfer needs the receiving customer's id",
        ));
    }
    if let Some(ip) = row.get("ip") {
        ip.parse::<std::net::IpAddr>().map_err(|_| {
            IngestError::invalid(path, at("ip"), format!("'{ip}' is not an IPv4 or IPv6 address"))
        })?;
    }
    let counterparty_country = match row.get("counterparty_country") {
        Some(c) if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) => Some(c.clone()),
        Some(c) => {
            return Err(IngestError::invalid(
                path,
                at("counterparty_country"),
                format!("'{c}' is not an ISO 3166-1 alpha-2 country code (two letters, e.g. SG)"),
            ))
        }
        None => None,
    };
    let mut travel_rule = floodgate_types::TravelRule::default();
    let mut any = false;
    for (k, v) in &row.0 {
        if let Some(slot) = k.strip_prefix("travel_rule.").and_then(|f| travel_rule.field_mut(f)) {
            *slot = Some(v.clone());
            any = true;
        }
    }
    Ok(LedgerEntry {
        id,
        time,
        customer_id,
        direction,
        asset: asset.id.clone(),
        amount,
        counterparty_address,
        counterparty_customer,
        counterparty_vasp: row.get("counterparty_vasp").cloned(),
        txid: row.get("txid").cloned(),
        ip: row.get("ip").cloned(),
        device: row.get("device").cloned(),
        counterparty_country,
        travel_rule: any.then_some(travel_rule),
        rail,
        counterparty_bank,
        counterparty_account,
    })
}

/// Checks a fiat row: a rail for deposits and withdrawals (none for internal transfers), a
/// bank for the bank rail, and no chain, address or bank where they cannot be.
#[allow(clippy::too_many_arguments)]
fn fiat_fields(
    path: &Path,
    line: u64,
    row: &Row,
    asset: &floodgate_types::AssetId,
    direction: Direction,
    chain: Option<Chain>,
    rail: Option<Rail>,
    bank: &Option<String>,
) -> Result<(), IngestError> {
    let bad = |field: &str, msg: String| {
        Err(IngestError::invalid(path, Location::LineField(line, field.to_owned()), msg))
    };
    if let Some(c) = chain {
        return bad("chain", format!("{asset} is a fiat currency and moves on no chain ({c})"));
    }
    if row.get("counterparty_address").is_some() {
        return bad(
            "counterparty_address",
            format!(
                "{asset} is a fiat currency: an on-chain address cannot be its counterparty \
                 (give counterparty_bank and counterparty_account)"
            ),
        );
    }
    match (direction, rail) {
        (Direction::Internal, Some(r)) => bad(
            "rail",
            format!("an internal transfer of {asset} is a book entry between customers, not {r}"),
        ),
        (Direction::Internal, None) => Ok(()),
        (_, None) => {
            bad("rail", format!("a fiat {} of {asset} needs rail bank or cash", direction.as_str()))
        }
        (_, Some(Rail::Bank)) if bank.is_none() => bad(
            "counterparty_bank",
            format!(
                "a bank {} needs the counterparty's bank (name or SWIFT BIC)",
                direction.as_str()
            ),
        ),
        (_, Some(Rail::Cash)) => {
            for field in ["counterparty_bank", "counterparty_account"] {
                if row.get(field).is_some() {
                    return bad(field, "a cash transfer has no counterparty bank".to_owned());
                }
            }
            Ok(())
        }
        (_, Some(Rail::Bank)) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "id,time,customer_id,direction,asset,amount,counterparty_address,ip\n";

    fn read(body: &str) -> Result<Vec<LedgerEntry>, IngestError> {
        read_ledger_str("t.csv", &format!("{HEADER}{body}"), &AssetRegistry::builtin())
    }

    #[test]
    fn a_csv_row_read_alone_under_its_header_is_the_files_entry() {
        let body = "d-1,2025-11-03T08:15:00Z,c1,deposit,USDT-TRC20,2500,\"TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM\",203.0.113.10\n\
                    w-2,2025-11-03T09:15:00Z,c1,withdrawal,BTC,0.5,,\n";
        let whole = read(body).unwrap();
        let path = Path::new("t.csv");
        let header = CsvLedgerHeader::parse(path, 1, HEADER.trim_end()).unwrap();
        let alone: Vec<LedgerEntry> = body
            .lines()
            .enumerate()
            .map(|(i, l)| header.entry(path, i as u64 + 2, l, &AssetRegistry::builtin()).unwrap())
            .collect();
        assert_eq!(alone, whole);
        let short = header.entry(path, 4, "x-3,2025-11-03T09:15:00Z,c1", &AssetRegistry::builtin());
        assert!(short
            .unwrap_err()
            .to_string()
            .contains("t.csv: line 4: malformed CSV: 3 fields where the header has 8"));
        let missing = CsvLedgerHeader::parse(path, 1, "id,time,customer,direction,asset,amount");
        assert!(missing
            .unwrap_err()
            .to_string()
            .contains("missing required column(s): customer_id"));
    }

    #[test]
    fn issue14_travel_rule_and_country_are_read_the_same_from_csv_and_jsonl() {
        let csv = read_ledger_str(
            "t.csv",
            "id,time,customer_id,direction,asset,amount,counterparty_country,travel_rule.originator_name,travel_rule.beneficiary_name,travel_rule.beneficiary_vasp\n\
             w1,2025-03-01T10:00:00Z,c7,withdrawal,BTC,0.5,SG,Nguyen Van A,Tan B,Tan Exchange\n",
            &AssetRegistry::builtin(),
        )
        .unwrap();
        let jsonl = read_ledger_str(
            "t.jsonl",
            r#"{"id":"w1","time":"2025-03-01T10:00:00Z","customer_id":"c7","direction":"withdrawal","asset":"BTC","amount":"0.5","counterparty_country":"SG","travel_rule":{"originator_name":"Nguyen Van A","beneficiary_name":"Tan B","beneficiary_vasp":"Tan Exchange","extra":{"x":1}}}
"#,
            &AssetRegistry::builtin(),
        )
        .unwrap();
        assert_eq!(csv, jsonl);
        let e = &csv[0];
        assert_eq!(e.counterparty_country.as_deref(), Some("SG"));
        let tr = e.travel_rule.as_ref().unwrap();
        assert!(tr.is_complete());
        assert_eq!(
            (
                tr.originator_name.as_deref(),
                tr.beneficiary_vasp.as_deref(),
                tr.originator_account.as_deref()
            ),
            (Some("Nguyen Van A"), Some("Tan Exchange"), None)
        );
        let err = read_ledger_str(
            "t.jsonl",
            "{\"id\":\"w1\",\"time\":1,\"customer_id\":\"c\",\"direction\":\"deposit\",\"asset\":\"BTC\",\"amount\":1,\"travel_rule\":[1]}\n",
            &AssetRegistry::builtin(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("t.jsonl: line 1, field 'travel_rule'"), "{err}");
        let err = read_ledger_str(
            "t.csv",
            "id,time,customer_id,direction,asset,amount,counterparty_country\nw1,2025-03-01,c,deposit,BTC,1,SGP\n",
            &AssetRegistry::builtin(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("t.csv: line 2, field 'counterparty_country': 'SGP'"), "{err}");
    }

    #[test]
    fn csv_and_jsonl_give_the_same_entries() {
        let csv = read("w1,2025-03-01 10:00:00,c7,withdrawal,BTC,0.5,bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4,198.51.100.4\n").unwrap();
        let jsonl = read_ledger_str(
            "t.jsonl",
            r#"{"id":"w1","time":"2025-03-01T10:00:00Z","customer_id":"c7","direction":"withdrawal","asset":"BTC","amount":"0.5","counterparty_address":"BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4","ip":"198.51.100.4"}
"#,
            &AssetRegistry::builtin(),
        )
        .unwrap();
        assert_eq!(csv, jsonl);
        assert_eq!(csv[0].amount, Amount::from(50_000_000));
    }

    #[track_caller]
    fn err(body: &str) -> String {
        read(body).unwrap_err().to_string()
    }

    #[test]
    fn bad_values_name_the_line_and_field() {
        assert!(err("x,2025-01-01,c,deposit,DOGE,1,,\n")
            .contains("t.csv: line 2, field 'asset': unknown asset 'DOGE'"));
        assert!(err("x,2025-01-01,c,deposit,BTC,-1,,\n").contains("line 2, field 'amount'"));
        assert!(err("x,2025-01-01,c,deposit,BTC,0.000000001,,\n")
            .contains("more than 8 decimal places"));
        assert!(err("x,2025-01-01,c,deposit,ETH,1,0xdAC17F958D2ee523a2206206994597C13D831ec8,\n")
            .contains("field 'counterparty_address'"));
        assert!(err("x,soon,c,deposit,BTC,1,,\n").contains("field 'time'"));
        assert!(err("x,2025-01-01,c,sideways,BTC,1,,\n").contains("field 'direction'"));
        assert!(err("x,2025-01-01,c,deposit,BTC,1,,999.1.1.1\n").contains("field 'ip'"));
        let e = read_ledger_str("t.csv", "id,time\n1,2\n", &AssetRegistry::builtin()).unwrap_err();
        assert!(e.to_string().contains("missing required column(s): customer_id"), "{e}");
    }

    #[test]
    fn json_lines_take_scalars_skip_nested_values_and_keep_the_last_repeat() {
        let reg = AssetRegistry::builtin();
        let line = r#"{"ID":"j1","time":1700000000,"customer_id":"c","direction":"deposit","asset":"BTC","amount":0.5,"amount":1.25,"travel_rule":{"originator":{"name":"A"}},"tags":[1,2],"device":"  ","ip":null}"#;
        let e = parse_jsonl_line(Path::new("t.jsonl"), 7, line, &reg).unwrap();
        assert_eq!(e.id, "j1");
        assert_eq!(e.amount, Amount::from(125_000_000), "the last of a repeated key wins");
        assert_eq!((e.device, e.ip), (None, None), "blank and null are absent");
        let err = parse_jsonl_line(Path::new("t.jsonl"), 7, "[1,2]", &reg).unwrap_err();
        assert!(err.to_string().contains("t.jsonl: line 7: expected a JSON object"), "{err}");
        let err = parse_jsonl_line(Path::new("t.jsonl"), 8, "{\"id\": ", &reg).unwrap_err();
        assert!(err.to_string().contains("line 8: malformed JSON"), "{err}");
    }

    #[test]
    fn issue14_fiat_bank_and_cash_rows_are_read_and_misplaced_fields_refused() {
        let reg = AssetRegistry::builtin();
        let head = "id,time,customer_id,direction,asset,amount,rail,counterparty_bank,counterparty_account,counterparty_address,chain\n";
        let rows = read_ledger_str(
            "f.csv",
            &format!(
                "{head}b1,2025-11-03T02:00:00Z,c1,deposit,VND,600000000,bank,BFTVVNVX,0071-000 123456,,\n\
                 k1,2025-11-03T03:00:00Z,c1,withdrawal,USD,1500.25,cash,,,,\n"
            ),
            &reg,
        )
        .unwrap();
        let b = &rows[0];
        assert_eq!((b.rail, b.amount), (Some(Rail::Bank), Amount::from(600_000_000)));
        assert_eq!(b.bank_account().as_deref(), Some("BFTVVNVX 0071000123456"));
        assert_eq!(b.counterparty_bank_country(), Some("VN"));
        assert_eq!((rows[1].rail, rows[1].amount), (Some(Rail::Cash), Amount::from(150_025)));
        let internal = read_ledger_str(
            "i.csv",
            "id,time,customer_id,direction,asset,amount,counterparty_customer\n\
             i1,2025-11-03T04:00:00Z,c1,internal,VND,5000,c2\n",
            &reg,
        )
        .unwrap();
        assert_eq!(internal[0].rail, None, "a book entry between customers has no rail");
        let jsonl = read_ledger_str(
            "f.jsonl",
            "{\"id\":\"b1\",\"time\":\"2025-11-03T02:00:00Z\",\"customer_id\":\"c1\",\"direction\":\"deposit\",\"asset\":\"VND\",\"amount\":600000000,\"rail\":\"bank\",\"counterparty_bank\":\"BFTVVNVX\",\"counterparty_account\":\"0071-000 123456\"}\n",
            &reg,
        )
        .unwrap();
        assert_eq!(jsonl[0], rows[0], "CSV and JSON Lines agree");
        for (row, want) in [
            (
                "x,2025-11-03,c,deposit,VND,1,,,,,",
                "line 2, field 'rail': a fiat deposit of VND needs rail bank or cash",
            ),
            ("x,2025-11-03,c,deposit,VND,1.5,cash,,,,", "field 'amount'"),
            (
                "x,2025-11-03,c,deposit,VND,1,wire,,,,",
                "field 'rail': 'wire' is not bank, cash or chain",
            ),
            (
                "x,2025-11-03,c,deposit,VND,1,bank,,,,",
                "field 'counterparty_bank': a bank deposit needs",
            ),
            (
                "x,2025-11-03,c,deposit,VND,1,cash,VCB,,,",
                "field 'counterparty_bank': a cash transfer",
            ),
            ("x,2025-11-03,c,internal,VND,1,cash,,,,", "field 'rail': an internal transfer of VND"),
            (
                "x,2025-11-03,c,deposit,VND,1,bank,VCB,1,,tron",
                "field 'chain': VND is a fiat currency",
            ),
            (
                "x,2025-11-03,c,deposit,USD,1,bank,VCB,1,TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM,",
                "field 'counterparty_address': USD is a fiat currency",
            ),
            (
                "x,2025-11-03,c,deposit,USDT-TRC20,1,bank,,,,",
                "field 'rail': rail 'bank' is for fiat currencies; USDT-TRC20 moves on tron",
            ),
            (
                "x,2025-11-03,c,deposit,BTC,1,,VCB,,,",
                "field 'counterparty_bank': a bank field on an on-chain transfer of BTC",
            ),
        ] {
            let e =
                read_ledger_str("f.csv", &format!("{head}{row}\n"), &reg).unwrap_err().to_string();
            assert!(e.contains("f.csv: line 2") && e.contains(want), "{row}: {e}");
        }
        let ok = read_ledger_str(
            "f.csv",
            &format!("{head}x,2025-11-03,c,deposit,BTC,1,chain,,,,\n"),
            &reg,
        )
        .unwrap();
        assert_eq!(ok[0].rail, None, "rail chain is the on-chain default");
    }

    #[test]
    fn duplicate_ids_within_a_file() {
        let ok = read("a,2025-01-01,c,deposit,BTC,1,,\na,2025-01-01,c,deposit,BTC,1,,\n").unwrap();
        assert_eq!(ok.len(), 1);
        assert!(err("a,2025-01-01,c,deposit,BTC,1,,\na,2025-01-01,c,deposit,BTC,2,,\n")
            .contains("appears twice"));
    }
}
