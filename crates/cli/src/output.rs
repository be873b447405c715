//! User-facing output: tables for people, JSON, JSON Lines and CSV for programs. Diagnostics
//! go to stderr through `tracing`; only results come here.
//!
//! This is the one place output is rendered, so it is the one place that makes text from
//! lists, ledgers and tag files safe to show (docs/output.md):
//! - **table and text**: control characters (C0, DEL, C1) and the Unicode bidirectional and
//!   line-separator controls are shown escaped (`\x1b`, `\n`, `\u{202e}`), so a hostile
//!   name can neither drive the terminal nor reorder or split what is displayed;
//! - **CSV**: a cell that a spreadsheet would run as a formula (it starts with `=`, `+`,
//!   `-`, `@`, tab, CR or LF) gets a leading `'` (the OWASP rule), unless the whole cell is
//!   a plain decimal number such as `-5` or `+0.25`, which is a value, never a formula;
//! - **JSON / JSON Lines**: values stay exact; DEL, C1 and the bidi controls are written as
//!   `\uXXXX` escapes (C0 already are), which a JSON reader decodes to the same string.
//!
//! Every write error is an [`io::Error`], so a reader that goes away (`floodgate … | head`)
//! surfaces as [`io::ErrorKind::BrokenPipe`], which `main` turns into a quiet exit 0.

use std::borrow::Cow;
use std::io::{self, BufWriter, StdoutLock, Write};

use anyhow::Result;
use clap::ValueEnum;
use serde::Serialize;

/// Output format of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Aligned columns for reading in a terminal.
    Table,
    /// One JSON document.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header row.
    Csv,
}

/// A value that can be shown as a table row.
pub(crate) trait Tabular: Serialize {
    /// Column names.
    fn headers() -> Vec<&'static str>;
    /// Cell texts, in header order.
    fn cells(&self) -> Vec<String>;
}

/// Whether `c` must not reach a terminal as it is: C0 controls, DEL, C1 controls, the
/// Unicode bidirectional controls (LRM, RLM, ALM, embeddings, overrides, isolates) and the
/// line and paragraph separators.
pub(crate) fn is_unsafe_char(c: char) -> bool {
    matches!(c,
        '\0'..='\x1f'
        | '\x7f'..='\u{9f}'
        | '\u{61c}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}')
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
    }
}

fn escape_with(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| is_unsafe_char(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe_char(c) && !keep(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A table cell made safe for a terminal: every unsafe character escaped, newlines and tabs
/// included (they would break the columns).
pub(crate) fn escape_cell(s: &str) -> Cow<'_, str> {
    escape_with(s, |_| false)
}

/// Free text made safe for a terminal: like [`escape_cell`], but newlines and tabs stay.
pub(crate) fn escape_text(s: &str) -> Cow<'_, str> {
    escape_with(s, |c| c == '\n' || c == '\t')
}

/// Whether `s` is a plain decimal number: an optional sign, digits, an optional fraction.
fn is_plain_number(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// A CSV cell neutralised against formula injection (OWASP "CSV Injection"): a cell starting
/// with `=`, `+`, `-`, `@`, tab, CR or LF gets a leading `'`, unless it is a plain number.
pub(crate) fn csv_cell(s: &str) -> Cow<'_, str> {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\n') if !is_plain_number(s) => {
            Cow::Owned(format!("'{s}"))
        }
        _ => Cow::Borrowed(s),
    }
}

/// A serde_json formatter that writes DEL, C1 and the bidi controls inside strings as
/// `\uXXXX` escapes, so JSON is terminal-safe and still decodes to the exact value.
struct SafeJson<F>(F);

impl<F: serde_json::ser::Formatter> serde_json::ser::Formatter for SafeJson<F> {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if is_unsafe_char(c) {
                w.write_all(&fragment.as_bytes()[start..i])?;
                write!(w, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        w.write_all(&fragment.as_bytes()[start..])
    }
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// Pretty, terminal-safe JSON of `value` into `w`.
fn json_pretty<W: Write, T: Serialize + ?Sized>(w: W, value: &T) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(
        w,
        SafeJson(serde_json::ser::PrettyFormatter::new()),
    );
    value.serialize(&mut ser).map_err(io::Error::from)
}

/// Compact, terminal-safe JSON of `value` into `w`.
fn json_compact<W: Write, T: Serialize + ?Sized>(w: W, value: &T) -> io::Result<()> {
    let mut ser =
        serde_json::Serializer::with_formatter(w, SafeJson(serde_json::ser::CompactFormatter));
    value.serialize(&mut ser).map_err(io::Error::from)
}

/// Whether [`json_text_safe`] rewrites `c`: an unsafe character other than C0. C0 inside a
/// JSON string is always escaped by serializers; a raw one is whitespace between tokens (the
/// newline between documents), which stays.
fn rewritten_in_json(c: char) -> bool {
    is_unsafe_char(c) && (c as u32) >= 0x20
}

/// JSON text (one or more documents, as serde_json writes them) with DEL, C1 and the bidi
/// controls inside strings rewritten as `\uXXXX`. Outside strings JSON holds only ASCII
/// punctuation and whitespace, so every such character is inside a string.
pub(crate) fn json_text_safe(json: &str) -> Cow<'_, str> {
    // Every character rewritten is DEL or beyond ASCII, so ASCII text (nearly all) is let
    // through after a byte scan. The newline between documents is C0 and stays: counted as
    // unsafe here, it sent every batch of JSON Lines through the copy below, a character at
    // a time (6 % of a durable `floodgate monitor` run's CPU, docs/benchmarks.md).
    if (json.is_ascii() && !json.as_bytes().contains(&0x7f)) || !json.chars().any(rewritten_in_json)
    {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if rewritten_in_json(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The csv crate's error as the io::Error it wraps, so a closed pipe keeps its kind.
fn csv_io(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(inner) => inner,
        // Writing never fails otherwise: every row has the header's length.
        other => io::Error::other(format!("csv output: {other:?}")),
    }
}

fn stdout() -> BufWriter<StdoutLock<'static>> {
    BufWriter::with_capacity(1 << 16, io::stdout().lock())
}

enum Sink {
    /// Tables need every row for the column widths.
    Table(BufWriter<StdoutLock<'static>>, Vec<Vec<String>>),
    Json(BufWriter<StdoutLock<'static>>, usize),
    Jsonl(BufWriter<StdoutLock<'static>>),
    Csv(Box<csv::Writer<BufWriter<StdoutLock<'static>>>>),
}

/// Writes rows one at a time to stdout, so a long listing streams (JSON, JSON Lines and CSV;
/// a table is laid out at [`RowWriter::finish`]).
pub(crate) struct RowWriter<T: Tabular> {
    sink: Sink,
    _row: std::marker::PhantomData<fn(&T)>,
}

impl<T: Tabular> RowWriter<T> {
    /// Starts a listing in `format` (the CSV header is written now).
    pub(crate) fn new(format: Format) -> io::Result<Self> {
        let sink = match format {
            Format::Table => Sink::Table(stdout(), Vec::new()),
            Format::Json => Sink::Json(stdout(), 0),
            Format::Jsonl => Sink::Jsonl(stdout()),
            Format::Csv => {
                let mut w = csv::Writer::from_writer(stdout());
                w.write_record(T::headers()).map_err(csv_io)?;
                Sink::Csv(Box::new(w))
            }
        };
        Ok(RowWriter { sink, _row: std::marker::PhantomData })
    }

    /// Writes one row.
    pub(crate) fn push(&mut self, row: &T) -> io::Result<()> {
        match &mut self.sink {
            Sink::Table(_, rows) => rows.push(row.cells()),
            Sink::Json(out, n) => {
                // Each element pretty-printed and indented one level: the same bytes as
                // pretty-printing the whole array at once.
                let mut buf = Vec::new();
                json_pretty(&mut buf, row)?;
                out.write_all(if *n == 0 { b"[\n  " } else { b",\n  " })?;
                for (i, line) in buf.split(|&b| b == b'\n').enumerate() {
                    if i > 0 {
                        out.write_all(b"\n  ")?;
                    }
                    out.write_all(line)?;
                }
                *n += 1;
            }
            Sink::Jsonl(out) => {
                json_compact(&mut *out, row)?;
                out.write_all(b"\n")?;
            }
            Sink::Csv(w) => {
                let cells = row.cells();
                w.write_record(cells.iter().map(|c| csv_cell(c).into_owned())).map_err(csv_io)?;
            }
        }
        Ok(())
    }

    /// Ends the listing and flushes it.
    pub(crate) fn finish(self) -> io::Result<()> {
        match self.sink {
            Sink::Table(mut out, rows) => {
                write_table(&mut out, &T::headers(), rows.into_iter())?;
                out.flush()
            }
            Sink::Json(mut out, n) => {
                out.write_all(if n == 0 { b"[]\n" } else { b"\n]\n" })?;
                out.flush()
            }
            Sink::Jsonl(mut out) => out.flush(),
            Sink::Csv(mut w) => w.flush(),
        }
    }
}

/// Writes `rows` to stdout in `format`.
pub(crate) fn write_rows<T: Tabular>(format: Format, rows: &[T]) -> Result<()> {
    let mut w = RowWriter::<T>::new(format)?;
    for r in rows {
        w.push(r)?;
    }
    Ok(w.finish()?)
}

/// Writes aligned columns, every cell escaped for the terminal.
pub(crate) fn write_table(
    out: &mut impl Write,
    headers: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> io::Result<()> {
    let rows: Vec<Vec<String>> =
        rows.map(|r| r.iter().map(|c| escape_cell(c).into_owned()).collect()).collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        s.trim_end().to_owned()
    };
    writeln!(out, "{}", line(headers.iter().map(|h| h.to_uppercase()).collect()))?;
    for r in rows {
        writeln!(out, "{}", line(r))?;
    }
    Ok(())
}

/// Writes one serializable value as pretty JSON (terminal-safe, exact).
pub(crate) fn write_json<T: Serialize>(value: &T) -> Result<()> {
    let mut out = stdout();
    json_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(out.flush()?)
}

/// Writes text for people to stdout, control characters escaped (newlines and tabs stay).
pub(crate) fn write_text(text: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(escape_text(text).as_bytes())?;
    Ok(out.flush()?)
}

/// Writes JSON text (JSON Lines that a library rendered) to stdout, with [`json_text_safe`].
pub(crate) fn write_json_text(json: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(json_text_safe(json).as_bytes())?;
    Ok(out.flush()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_are_visible() {
        assert_eq!(escape_cell("a\x1b[31mb"), "a\\x1b[31mb");
        assert_eq!(escape_cell("x\u{202e}y\u{9b}z\x7f"), "x\\u{202e}y\\u{9b}z\\x7f");
        assert_eq!(escape_cell("l1\nl2\t"), "l1\\nl2\\t");
        assert_eq!(escape_text("l1\nl2\t\r"), "l1\nl2\t\\r");
        assert!(matches!(escape_cell("Nguyễn Văn Đài 中兴"), Cow::Borrowed(_)));
    }

    #[test]
    fn csv_formulas_are_neutralised_and_numbers_kept() {
        for (cell, want) in [
            ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
            ("+1+1", "'+1+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("-", "'-"),
            ("-.5", "'-.5"),
            ("-5", "-5"),
            ("+12.50", "+12.50"),
            ("1000", "1000"),
            ("Lazarus Group", "Lazarus Group"),
            ("", ""),
        ] {
            assert_eq!(csv_cell(cell), want, "{cell:?}");
        }
    }

    #[test]
    fn safe_json_decodes_to_the_same_value() {
        let v = serde_json::json!({"name": "a\u{202e}b\x1b\u{85}\x7f", "n": [1, -2]});
        let mut buf = Vec::new();
        json_pretty(&mut buf, &v).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(!text.chars().any(is_unsafe_char_but_newline), "{text}");
        assert!(text.contains("\\u202e") && text.contains("\\u001b"), "{text}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), v);
        assert_eq!(
            text,
            serde_json::to_string_pretty(&v)
                .unwrap()
                .replace('\u{202e}', "\\u202e")
                .replace('\u{85}', "\\u0085")
                .replace('\x7f', "\\u007f")
        );
        let line = serde_json::to_string(&v).unwrap() + "\n";
        let safe = json_text_safe(&line);
        assert!(safe.ends_with('\n'));
        assert_eq!(serde_json::from_str::<serde_json::Value>(&safe).unwrap(), v);
        assert!(!safe.trim_end().chars().any(is_unsafe_char));
    }

    /// JSON Lines without a character to rewrite are passed through as they are (the
    /// newlines between documents, tabs and non-ASCII letters stay); with one, only it
    /// changes.
    #[test]
    fn safe_json_lines_are_borrowed_unless_something_is_rewritten() {
        for text in ["{\"a\":1}\n{\"b\":\"x\"}\n", "{\"n\":\"Nguyễn 中兴\"}\n\t\n", ""] {
            assert!(matches!(json_text_safe(text), Cow::Borrowed(t) if t == text), "{text:?}");
        }
        let text = "{\"a\":\"x\u{202e}y\u{7f}\"}\n{\"b\":\"é\"}\n";
        assert_eq!(json_text_safe(text), "{\"a\":\"x\\u202ey\\u007f\"}\n{\"b\":\"é\"}\n");
        // All ASCII but DEL: still rewritten.
        assert_eq!(json_text_safe("{\"a\":\"x\u{7f}\"}\n"), "{\"a\":\"x\\u007f\"}\n");
    }

    fn is_unsafe_char_but_newline(c: char) -> bool {
        c != '\n' && is_unsafe_char(c)
    }
}
