//! Monitor input: one exchange ledger entry per JSON line (`docs/formats/ledger.md`) plus
//! optional monitor keys (`docs/formats/monitor.md`): countries, a nested `travel_rule`
//! object and a nested `exposure` object from the trace engine; or a CSV ledger, one row per
//! line under its header.

use std::path::Path;

pub use floodgate_ingest::ledger::CsvLedgerHeader;

use floodgate_types::{AssetRegistry, LedgerEntry, Timestamp};
use serde::{Deserialize, Serialize};

/// Travel-rule (FATF R.16) data that came with a transfer: a ledger entry's own field since
/// the store keeps it (`docs/formats/ledger.md`).
pub use floodgate_types::TravelRule;

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
    /// Counterparty's country (ISO alpha-2): read from events recorded before the ledger
    /// entry carried it ([`LedgerEntry::counterparty_country`]); input lines fill the entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterparty_country: Option<String>,
    /// Travel-rule data: read from events recorded before the ledger entry carried it
    /// ([`LedgerEntry::travel_rule`]); input lines fill the entry.
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

    /// The counterparty's country given with the transfer (the entry's, else an older
    /// record's extras).
    pub fn counterparty_country(&self) -> Option<&str> {
        self.entry.counterparty_country.as_deref().or(self.extras.counterparty_country.as_deref())
    }

    /// The travel-rule data given with the transfer (the entry's, else an older record's
    /// extras).
    pub fn travel_rule(&self) -> Option<&TravelRule> {
        self.entry.travel_rule.as_ref().or(self.extras.travel_rule.as_ref())
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
    not_far_ahead(path, line, &entry, now)?;
    let mut extras =
        if text.contains("country") || text.contains("travel_rule") || text.contains("exposure") {
            serde_json::from_str::<Extras>(text).map_err(|e| Reject {
                line,
                reason: format!("{}: line {line}: monitor field: {e}", path.display()),
            })?
        } else {
            Extras::default()
        };
    // The ledger entry holds these now (so they reach the store too); one copy is enough.
    extras.counterparty_country = None;
    extras.travel_rule = None;
    Ok(MonitorEvent { entry, extras })
}

/// Parses one data row of a CSV ledger (`docs/formats/ledger.md`) under its `header`, as
/// [`parse_event`] parses a JSON line: a CSV ledger carries no monitor-only extras.
///
/// # Errors
/// As [`parse_event`].
pub fn parse_csv_event(
    path: &Path,
    line: u64,
    text: &str,
    header: &CsvLedgerHeader,
    assets: &AssetRegistry,
    now: Option<Timestamp>,
) -> Result<MonitorEvent, Reject> {
    let entry = header
        .entry(path, line, text, assets)
        .map_err(|e| Reject { line, reason: e.to_string() })?;
    not_far_ahead(path, line, &entry, now)?;
    Ok(MonitorEvent::from_entry(entry))
}

/// Rejects a transfer dated more than [`MAX_FUTURE_SECS`] after `now`.
fn not_far_ahead(
    path: &Path,
    line: u64,
    entry: &LedgerEntry,
    now: Option<Timestamp>,
) -> Result<(), Reject> {
    match now {
        Some(now) if entry.time.0 > now.0 + MAX_FUTURE_SECS => Err(Reject {
            line,
            reason: format!(
                "{}: line {line}, field 'time': {} is more than 24 h in the future",
                path.display(),
                entry.time
            ),
        }),
        _ => Ok(()),
    }
}

/// Size limits on monitor input, so one hostile line cannot exhaust memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLimits {
    /// Longest accepted line in bytes; a longer one is rejected and skipped without being
    /// held in memory.
    pub max_line_bytes: usize,
    /// Longest accepted JSON string (a key or a value) in bytes, as written in the line.
    pub max_field_bytes: usize,
}

impl Default for InputLimits {
    /// 1 MiB per line, 64 KiB per field: a ledger entry is a few hundred bytes.
    fn default() -> Self {
        InputLimits { max_line_bytes: 1 << 20, max_field_bytes: 64 << 10 }
    }
}

/// One line read by [`LineReader`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputLine {
    /// A line within the limits, valid UTF-8, without its line ending.
    Text(u64, String),
    /// A line that is rejected before parsing (too long, a field too long, invalid UTF-8).
    Rejected(Reject),
}

/// Reads monitor input line by line within [`InputLimits`]: a line that is too long, holds a
/// field that is too long or is not UTF-8 becomes a [`Reject`] naming the file and line, and
/// reading goes on with the next line.
#[derive(Debug)]
pub struct LineReader<R> {
    reader: R,
    path: std::path::PathBuf,
    limits: InputLimits,
    line: u64,
    buf: Vec<u8>,
}

impl<R: std::io::BufRead> LineReader<R> {
    /// A reader of `reader`, whose lines are reported as lines of `path`.
    pub fn new(reader: R, path: &Path, limits: InputLimits) -> Self {
        LineReader { reader, path: path.to_owned(), limits, line: 0, buf: Vec::new() }
    }

    /// The next line, or `None` at the end of the input.
    ///
    /// # Errors
    /// The reader's I/O error.
    pub fn next_line(&mut self) -> std::io::Result<Option<InputLine>> {
        self.buf.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            any = true;
            let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            if !too_long && self.buf.len() + take > self.limits.max_line_bytes.saturating_add(2) {
                // Keep nothing more of this line: count it and skip to its end.
                too_long = true;
                self.buf.clear();
            }
            if !too_long {
                self.buf.extend_from_slice(&chunk[..take]);
            }
            self.reader.consume(take);
            if done {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.line += 1;
        let (n, path) = (self.line, self.path.display());
        let reject = |reason: String| Ok(Some(InputLine::Rejected(Reject { line: n, reason })));
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        if too_long || self.buf.len() > self.limits.max_line_bytes {
            return reject(format!(
                "{path}: line {n}: longer than the limit of {} bytes (--max-line-bytes)",
                self.limits.max_line_bytes
            ));
        }
        let text = match std::str::from_utf8(&self.buf) {
            Ok(t) => t,
            Err(e) => {
                return reject(format!(
                    "{path}: line {n}: not UTF-8 at byte {} of the line",
                    e.valid_up_to() + 1
                ))
            }
        };
        if let Some((field, len)) = long_string(text, self.limits.max_field_bytes) {
            return reject(format!(
                "{path}: line {n}, field '{field}': {len} bytes, more than the limit of {} bytes \
                 (--max-field-bytes)",
                self.limits.max_field_bytes
            ));
        }
        Ok(Some(InputLine::Text(n, text.to_owned())))
    }
}

impl<R: std::io::Read> LineReader<std::io::BufReader<R>> {
    /// Whether a whole line is buffered, so that the next line is read without waiting for
    /// more input (a partial line may wait for the rest of it).
    pub fn has_buffered_line(&self) -> bool {
        self.reader.buffer().contains(&b'\n')
    }
}

/// The first JSON string in `text` longer than `max` bytes: the key it belongs to (the key
/// itself when the key is too long, shortened) and its length. A scan of the raw text, so a
/// huge field is found without building it.
fn long_string(text: &str, max: usize) -> Option<(String, usize)> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut key = String::new();
    while i < b.len() {
        if b[i] != b'"' {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut j = start;
        while j < b.len() && b[j] != b'"' {
            j += if b[j] == b'\\' { 2 } else { 1 };
        }
        let end = j.min(b.len());
        let is_key = b[end.saturating_add(1).min(b.len())..]
            .iter()
            .find(|c| !c.is_ascii_whitespace())
            .is_some_and(|&c| c == b':');
        let len = end - start;
        if len > max {
            let name = if is_key {
                let mut k: String = text[start..].chars().take(40).collect();
                k.push('…');
                k
            } else {
                key
            };
            return Some((name, len));
        }
        if is_key {
            key = text[start..end].to_owned();
        }
        i = end + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &[u8], limits: InputLimits) -> Vec<InputLine> {
        let mut r = LineReader::new(input, Path::new("in.jsonl"), limits);
        let mut out = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            out.push(l);
        }
        out
    }

    #[test]
    fn bad_bytes_and_long_lines_and_fields_are_rejected_and_reading_goes_on() {
        let limits = InputLimits { max_line_bytes: 64, max_field_bytes: 8 };
        let mut input = Vec::new();
        input.extend_from_slice(b"{\"id\":\"ok1\"}\n");
        input.extend_from_slice(b"{\"id\":\"caf\xe9\"}\n");
        input.extend_from_slice(&[b'x'; 200]);
        input.extend_from_slice(b"\n{\"id\":\"123456789\"}\r\n{\"id\":\"ok2\"}");
        let lines = read_all(&input, limits);
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0], InputLine::Text(1, "{\"id\":\"ok1\"}".into()));
        let reason = |l: &InputLine| match l {
            InputLine::Rejected(r) => format!("{}: {}", r.line, r.reason),
            InputLine::Text(..) => panic!("accepted {l:?}"),
        };
        assert_eq!(reason(&lines[1]), "2: in.jsonl: line 2: not UTF-8 at byte 11 of the line");
        assert!(reason(&lines[2]).starts_with("3: in.jsonl: line 3: longer than the limit of 64"));
        assert!(reason(&lines[3]).contains("line 4, field 'id': 9 bytes"), "{}", reason(&lines[3]));
        assert_eq!(lines[4], InputLine::Text(5, "{\"id\":\"ok2\"}".into()));
    }

    /// The reading thread hands over what it read before a read that may wait: only a whole
    /// buffered line lets it read on without waiting.
    #[test]
    fn a_partial_line_is_not_a_buffered_line() {
        let limits = InputLimits::default();
        let whole = std::io::BufReader::new(&b"{\"id\":1}\n{\"id\":2}\n"[..]);
        let mut r = LineReader::new(whole, Path::new("in.jsonl"), limits);
        assert!(matches!(r.next_line().unwrap(), Some(InputLine::Text(1, _))));
        assert!(r.has_buffered_line(), "line 2 is buffered whole");
        let partial = std::io::BufReader::new(&b"{\"id\":1}\n{\"id\""[..]);
        let mut r = LineReader::new(partial, Path::new("in.jsonl"), limits);
        assert!(matches!(r.next_line().unwrap(), Some(InputLine::Text(1, _))));
        assert!(!r.has_buffered_line(), "only part of line 2 is buffered");
    }

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
        assert!(e.travel_rule().is_some_and(TravelRule::is_complete));
        assert_eq!(e.counterparty_country(), Some("SG"));
        assert_eq!(e.entry.counterparty_country.as_deref(), Some("SG"), "kept by the entry");
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
