//! Timestamps: seconds since the Unix epoch, UTC.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time in whole seconds since 1970-01-01T00:00:00Z.
///
/// Block times are whole seconds on every supported chain, and ledger times are truncated to
/// the second; finer resolution would promise what the sources do not give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(pub i64);

/// A time that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{input}' is not a time: expected RFC 3339 (2024-05-01T12:00:00Z), 'YYYY-MM-DD HH:MM:SS' (UTC), a date, or Unix seconds")]
pub struct TimestampError {
    /// The offending text.
    pub input: String,
}

impl Timestamp {
    /// Parses RFC 3339 (with offset), `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DDTHH:MM:SS` as UTC,
    /// a bare date (midnight UTC), or an integer number of Unix seconds.
    ///
    /// # Errors
    /// [`TimestampError`] for anything else.
    pub fn parse(s: &str) -> Result<Self, TimestampError> {
        let t = s.trim();
        let err = || TimestampError { input: t.to_owned() };
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            return t.parse::<i64>().map(Timestamp).map_err(|_| err());
        }
        if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
            return Ok(Timestamp(dt.timestamp()));
        }
        for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S%.f"] {
            if let Ok(dt) = NaiveDateTime::parse_from_str(t, fmt) {
                return Ok(Timestamp(dt.and_utc().timestamp()));
            }
        }
        if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
            let dt = d.and_hms_opt(0, 0, 0).ok_or_else(err)?;
            return Ok(Timestamp(dt.and_utc().timestamp()));
        }
        Err(err())
    }

    /// RFC 3339 in UTC with a `Z` suffix, e.g. `2023-04-04T12:53:51Z`.
    pub fn to_rfc3339(self) -> String {
        match DateTime::<Utc>::from_timestamp(self.0, 0) {
            Some(dt) => dt.to_rfc3339_opts(SecondsFormat::Secs, true),
            None => self.0.to_string(),
        }
    }

    /// The text of [`Timestamp::to_rfc3339`] as bytes, `YYYY-MM-DDTHH:MM:SSZ`, computed
    /// without chrono or an allocation (a hot path writes many), for years 0 to 9999 (days to civil date: H. Hinnant,
    /// "chrono-Compatible Low-Level Date Algorithms"); `None` outside them.
    pub fn rfc3339_bytes(self) -> Option<[u8; 20]> {
        let t = self.0;
        let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
        let z = days.checked_add(719_468)?;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        if !(0..=9999).contains(&year) {
            return None;
        }
        let mut b = *b"0000-00-00T00:00:00Z";
        let mut put = |at: usize, v: i64, width: usize| {
            let mut v = v;
            for i in (0..width).rev() {
                b[at + i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, year, 4);
        put(5, month, 2);
        put(8, day, 2);
        put(11, secs / 3600, 2);
        put(14, secs / 60 % 60, 2);
        put(17, secs % 60, 2);
        Some(b)
    }

    /// The current time.
    pub fn now() -> Self {
        Timestamp(Utc::now().timestamp())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    /// The bytes written without chrono are chrono's text, for times from year 0 to 9999,
    /// and there is none outside them.
    #[test]
    fn rfc3339_bytes_are_the_rfc3339_text() {
        let mut t = -62_167_219_200i64; // 0000-01-01T00:00:00Z
        while t < 253_402_300_800 {
            let b = Timestamp(t).rfc3339_bytes().unwrap();
            assert_eq!(std::str::from_utf8(&b).unwrap(), Timestamp(t).to_rfc3339(), "{t}");
            t += 86_400 * 37 + 3_607;
        }
        assert_eq!(Timestamp(253_402_300_800).rfc3339_bytes(), None);
        assert_eq!(Timestamp(-62_167_219_201).rfc3339_bytes(), None);
        assert_eq!(Timestamp(i64::MAX).rfc3339_bytes(), None);
    }

    use super::*;

    #[test]
    fn formats_parse_to_the_same_second() {
        let a = Timestamp::parse("2023-04-04T12:53:51Z").unwrap();
        assert_eq!(a, Timestamp(1680612831));
        assert_eq!(Timestamp::parse("2023-04-04 12:53:51").unwrap(), a);
        assert_eq!(Timestamp::parse("2023-04-04T19:53:51+07:00").unwrap(), a);
        assert_eq!(Timestamp::parse("1680612831").unwrap(), a);
        assert_eq!(a.to_string(), "2023-04-04T12:53:51Z");
        assert!(Timestamp::parse("yesterday").is_err());
    }
}
