//! Field types shared by the Ethereum and Tron readers: quantities that arrive as hex strings,
//! decimal strings or JSON numbers, trace addresses in their three spellings, and conversion of
//! raw fields into floodgate types with an error that names the file and the field.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

use floodgate_types::{Address, Amount, Chain, Hash32, Timestamp};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

use crate::{IngestError, Location};

/// A quantity as the source wrote it (`"0x1a"`, `"26"` or `26`), parsed later so that an
/// error can name the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Quantity(pub(crate) String);

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a quantity: a number, a decimal string or a 0x-hex string")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
                // Kept as text so the later parse rejects it with the field named: a float
                // here means precision was already lost.
                Ok(Quantity(format!("{v:e}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
                Ok(Quantity(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A trace address: `[0, 1]` (JSON-RPC, ethereum-etl JSON), `"0,1"` (GraphSense, CSV) or
/// `""`/`null` for the root call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TraceAddress(pub(crate) Result<Vec<u32>, String>);

impl<'de> Deserialize<'de> for TraceAddress {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TraceAddress;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a trace address: a list of integers or a comma-separated string")
            }
            fn visit_unit<E: de::Error>(self) -> Result<TraceAddress, E> {
                Ok(TraceAddress(Ok(Vec::new())))
            }
            fn visit_none<E: de::Error>(self) -> Result<TraceAddress, E> {
                Ok(TraceAddress(Ok(Vec::new())))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TraceAddress, E> {
                let t = v.trim().trim_start_matches('[').trim_end_matches(']');
                if t.trim().is_empty() {
                    return Ok(TraceAddress(Ok(Vec::new())));
                }
                let parsed = t
                    .split(',')
                    .map(|p| p.trim().parse::<u32>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| format!("'{v}' is not a trace address (expected \"0,1,2\")"));
                Ok(TraceAddress(parsed))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TraceAddress, A::Error> {
                let mut out = Vec::new();
                while let Some(n) = seq.next_element::<u32>()? {
                    out.push(n);
                }
                Ok(TraceAddress(Ok(out)))
            }
        }
        d.deserialize_any(V)
    }
}

/// Wraps integer literals of 20 digits or more in quotes, outside strings, so that serde_json
/// (built without `arbitrary_precision`) hands them over as text instead of rounding them to
/// `f64`: ethereum-etl and GraphSense write wei values such as `64655529900000002048` as bare
/// JSON numbers.
pub(crate) fn quote_long_integers(line: &str) -> Cow<'_, str> {
    const LONG: usize = 20;
    let bytes = line.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut in_string = false;
    let mut escaped = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        if b.is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let is_plain_integer = !matches!(bytes.get(i), Some(b'.' | b'e' | b'E'))
                && (start == 0 || bytes[start - 1] != b'-');
            if i - start >= LONG && is_plain_integer {
                let o = out.get_or_insert_with(|| String::with_capacity(line.len() + 8));
                o.push_str(&line[copied..start]);
                o.push('"');
                o.push_str(&line[start..i]);
                o.push('"');
                copied = i;
            }
            continue;
        }
        i += 1;
    }
    match out {
        Some(mut o) => {
            o.push_str(&line[copied..]);
            Cow::Owned(o)
        }
        None => Cow::Borrowed(line),
    }
}

/// Converts raw fields into floodgate types, naming the file and the field on failure.
pub(crate) struct Fields<'a> {
    pub(crate) path: &'a Path,
    pub(crate) chain: Chain,
    at: Box<dyn Fn(&str) -> Location + 'a>,
}

impl<'a> Fields<'a> {
    /// Fields of the JSON element at `prefix` (`result[3]`) of a document.
    pub(crate) fn in_document(path: &'a Path, chain: Chain, prefix: String) -> Self {
        Fields {
            path,
            chain,
            at: Box::new(move |f| {
                if prefix.is_empty() {
                    Location::Field(f.to_owned())
                } else {
                    Location::Field(format!("{prefix}.{f}"))
                }
            }),
        }
    }

    /// Fields of line `line` of a JSON Lines file.
    pub(crate) fn on_line(path: &'a Path, chain: Chain, line: u64) -> Self {
        Fields { path, chain, at: Box::new(move |f| Location::LineField(line, f.to_owned())) }
    }

    /// The fields of a nested object, such as `logs[2]` inside a receipt.
    pub(crate) fn nested<'b>(&'b self, sub: String) -> Fields<'b>
    where
        'a: 'b,
    {
        Fields {
            path: self.path,
            chain: self.chain,
            at: Box::new(move |f| (self.at)(&format!("{sub}.{f}"))),
        }
    }

    /// The location of the whole element.
    pub(crate) fn whole(&self) -> Location {
        match self.at("") {
            Location::Field(p) => Location::Field(p.trim_end_matches('.').to_owned()),
            Location::LineField(n, _) => Location::Line(n),
            other => other,
        }
    }

    /// The location of `field`.
    pub(crate) fn at(&self, field: &str) -> Location {
        (self.at)(field)
    }

    /// An [`IngestError::Invalid`] at `field`.
    pub(crate) fn err(&self, field: &str, reason: impl Into<String>) -> IngestError {
        IngestError::invalid(self.path, self.at(field), reason)
    }

    /// A required field.
    pub(crate) fn need<'v, T>(&self, field: &str, v: &'v Option<T>) -> Result<&'v T, IngestError> {
        v.as_ref().ok_or_else(|| self.err(field, "missing field"))
    }

    pub(crate) fn address(&self, field: &str, s: &str) -> Result<Address, IngestError> {
        Address::parse(self.chain, s).map_err(|e| self.err(field, format!("invalid address: {e}")))
    }

    pub(crate) fn opt_address(
        &self,
        field: &str,
        s: &Option<String>,
    ) -> Result<Option<Address>, IngestError> {
        match s.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(s) => self.address(field, s).map(Some),
        }
    }

    pub(crate) fn hash(&self, field: &str, s: &str) -> Result<Hash32, IngestError> {
        Hash32::from_hex(s).map_err(|e| self.err(field, format!("invalid hash: {e}")))
    }

    pub(crate) fn opt_hash(
        &self,
        field: &str,
        s: &Option<String>,
    ) -> Result<Option<Hash32>, IngestError> {
        match s.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(s) => self.hash(field, s).map(Some),
        }
    }

    pub(crate) fn amount(&self, field: &str, q: &Quantity) -> Result<Amount, IngestError> {
        Amount::parse_base_units(&q.0)
            .map_err(|e| self.err(field, format!("invalid quantity: {e}")))
    }

    pub(crate) fn u64(&self, field: &str, q: &Quantity) -> Result<u64, IngestError> {
        let a = self.amount(field, q)?;
        a.to_u128()
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| self.err(field, format!("'{}' does not fit in 64 bits", q.0)))
    }

    pub(crate) fn u32(&self, field: &str, q: &Quantity) -> Result<u32, IngestError> {
        let v = self.u64(field, q)?;
        u32::try_from(v).map_err(|_| self.err(field, format!("'{}' does not fit in 32 bits", q.0)))
    }

    pub(crate) fn opt_u32(
        &self,
        field: &str,
        q: &Option<Quantity>,
    ) -> Result<Option<u32>, IngestError> {
        q.as_ref().map(|q| self.u32(field, q)).transpose()
    }

    pub(crate) fn opt_u64(
        &self,
        field: &str,
        q: &Option<Quantity>,
    ) -> Result<Option<u64>, IngestError> {
        q.as_ref().map(|q| self.u64(field, q)).transpose()
    }

    pub(crate) fn opt_time(
        &self,
        field: &str,
        q: &Option<Quantity>,
    ) -> Result<Option<Timestamp>, IngestError> {
        match q {
            None => Ok(None),
            Some(q) => {
                let secs = self.u64(field, q)?;
                let secs = i64::try_from(secs).map_err(|_| self.err(field, "time out of range"))?;
                Ok(Some(Timestamp(secs)))
            }
        }
    }

    pub(crate) fn trace_address(
        &self,
        field: &str,
        t: &Option<TraceAddress>,
    ) -> Result<Vec<u32>, IngestError> {
        match t {
            None => Ok(Vec::new()),
            Some(TraceAddress(Ok(v))) => Ok(v.clone()),
            Some(TraceAddress(Err(reason))) => Err(self.err(field, reason.clone())),
        }
    }

    pub(crate) fn hex_bytes(&self, field: &str, s: &str) -> Result<Vec<u8>, IngestError> {
        let body =
            s.trim().strip_prefix("0x").or_else(|| s.trim().strip_prefix("0X")).unwrap_or(s.trim());
        hex::decode(body).map_err(|e| self.err(field, format!("not hex: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_integers_are_quoted_outside_strings_only() {
        let line = r#"{"a": 64655529900000002048, "b": "12345678901234567890123", "c": 5, "d": -123456789012345678901}"#;
        let q = quote_long_integers(line);
        assert_eq!(
            q,
            r#"{"a": "64655529900000002048", "b": "12345678901234567890123", "c": 5, "d": -123456789012345678901}"#
        );
        assert!(matches!(quote_long_integers(r#"{"a": 1}"#), Cow::Borrowed(_)));
    }

    #[test]
    fn trace_addresses_in_every_spelling() {
        let parse = |s: &str| serde_json::from_str::<TraceAddress>(s).unwrap().0.unwrap();
        assert_eq!(parse("[0, 1]"), vec![0, 1]);
        assert_eq!(parse("\"0,1\""), vec![0, 1]);
        assert_eq!(parse("\"\""), Vec::<u32>::new());
        assert!(serde_json::from_str::<TraceAddress>("\"a,b\"").unwrap().0.is_err());
    }
}
