//! The Vietnamese working-day calendar: weekends, public holidays (including Tết),
//! compensatory days and the government's swaps, one data file per year.
//!
//! A working day is Monday to Friday, except a day off listed in the year's file, plus any
//! make-up Saturday the file lists. The files (`calendar/vn-<year>.toml`) state their legal
//! source and mark each day `statutory`, `official` or `expected`. A date outside the years
//! covered is an error, never a guess: a deadline computed on an unknown calendar could be a
//! day early or late.
//!
//! Times are Viet Nam time, UTC+7 all year (no daylight saving).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::{Datelike, FixedOffset, NaiveDate, NaiveTime, TimeZone, Weekday};
use floodgate_types::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::ReportError;

/// Viet Nam's offset from UTC in seconds (Asia/Ho_Chi_Minh: UTC+7, no daylight saving).
pub const VN_UTC_OFFSET_SECONDS: i32 = 7 * 3600;

/// The year files shipped with the crate.
const VN_YEARS: [(&str, &str); 3] = [
    ("vn-2025.toml", include_str!("../calendar/vn-2025.toml")),
    ("vn-2026.toml", include_str!("../calendar/vn-2026.toml")),
    ("vn-2027.toml", include_str!("../calendar/vn-2027.toml")),
];

/// Viet Nam time as a chrono offset.
pub fn vn_offset() -> FixedOffset {
    FixedOffset::east_opt(VN_UTC_OFFSET_SECONDS).expect("UTC+7 is a valid offset")
}

/// The Viet Nam calendar date of an instant.
pub fn local_date(t: Timestamp) -> NaiveDate {
    let utc = chrono::DateTime::from_timestamp(t.0, 0).unwrap_or_default();
    utc.with_timezone(&vn_offset()).date_naive()
}

/// The instant of a Viet Nam wall-clock time on a date.
pub fn local_instant(date: NaiveDate, time: NaiveTime) -> Timestamp {
    let dt = vn_offset()
        .from_local_datetime(&date.and_time(time))
        .single()
        .expect("a fixed offset maps every local time to exactly one instant");
    Timestamp(dt.timestamp())
}

/// An instant written in Viet Nam time, `2026-02-23T16:00:00+07:00`.
pub fn to_local_rfc3339(t: Timestamp) -> String {
    let utc = chrono::DateTime::from_timestamp(t.0, 0).unwrap_or_default();
    utc.with_timezone(&vn_offset()).to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// What a listed day is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// A statutory public holiday (Labour Code art. 112), listed even on a weekend.
    Holiday,
    /// A weekday off because a holiday fell on a weekly rest day (Labour Code art. 111(3)).
    Compensatory,
    /// A weekday off swapped with a make-up Saturday.
    Swapped,
    /// A Saturday that is a working day (the other half of a swap).
    Makeup,
}

/// How certain a listed day is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayStatus {
    /// Fixed by the Labour Code itself.
    Statutory,
    /// Announced by the government for that year.
    Official,
    /// Not yet announced: derived from the Labour Code and past practice.
    Expected,
}

/// One listed day of a year file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarDay {
    /// The date.
    pub date: NaiveDate,
    /// What it is.
    pub kind: DayKind,
    /// Its name (`Tết: 1st day of the lunar new year`).
    pub name: String,
    /// How certain it is.
    pub status: DayStatus,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YearFile {
    year: i32,
    source: String,
    #[serde(default)]
    day: Vec<RawDay>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDay {
    date: String,
    kind: DayKind,
    name: String,
    status: DayStatus,
}

/// A working-day calendar over a contiguous range of years.
#[derive(Debug, Clone)]
pub struct WorkingCalendar {
    days: BTreeMap<NaiveDate, CalendarDay>,
    sources: BTreeMap<i32, String>,
}

impl WorkingCalendar {
    /// Viet Nam, 2025–2027, from the year files shipped in the crate (parsed once).
    pub fn vn() -> &'static WorkingCalendar {
        static VN: OnceLock<WorkingCalendar> = OnceLock::new();
        VN.get_or_init(|| {
            WorkingCalendar::from_year_files(&VN_YEARS)
                .expect("the shipped calendar files are valid (tested)")
        })
    }

    /// Builds a calendar from year files `(name, TOML text)`; the years must be contiguous.
    ///
    /// # Errors
    /// [`ReportError::CalendarFile`] naming the file and the entry at fault: bad TOML, a date
    /// outside the file's year, a date listed twice, a make-up day that is not a Saturday, a
    /// day off on a weekday listed as `makeup`, or a gap between years.
    pub fn from_year_files(files: &[(&str, &str)]) -> Result<WorkingCalendar, ReportError> {
        let mut cal = WorkingCalendar { days: BTreeMap::new(), sources: BTreeMap::new() };
        for (name, text) in files {
            let err =
                |message: String| ReportError::CalendarFile { file: (*name).to_owned(), message };
            let file: YearFile = toml::from_str(text).map_err(|e| err(e.to_string()))?;
            if cal.sources.insert(file.year, file.source.clone()).is_some() {
                return Err(err(format!("year {} is given twice", file.year)));
            }
            if file.source.trim().is_empty() {
                return Err(err("'source' is empty: every year names its legal source".into()));
            }
            for (i, d) in file.day.into_iter().enumerate() {
                let at = format!("day #{} ('{}')", i + 1, d.date);
                let date = NaiveDate::parse_from_str(&d.date, "%Y-%m-%d")
                    .map_err(|e| err(format!("{at}: field 'date': {e}")))?;
                if date.year() != file.year {
                    return Err(err(format!("{at}: not in year {}", file.year)));
                }
                let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
                match d.kind {
                    DayKind::Makeup if date.weekday() != Weekday::Sat => {
                        return Err(err(format!("{at}: a make-up working day must be a Saturday")));
                    }
                    DayKind::Compensatory | DayKind::Swapped if weekend => {
                        return Err(err(format!("{at}: a {:?} day off must be a weekday", d.kind)));
                    }
                    _ => {}
                }
                let day = CalendarDay { date, kind: d.kind, name: d.name, status: d.status };
                if cal.days.insert(date, day).is_some() {
                    return Err(err(format!("{at}: listed twice")));
                }
            }
        }
        let years: Vec<i32> = cal.sources.keys().copied().collect();
        if years.is_empty() {
            return Err(ReportError::CalendarFile {
                file: "<none>".into(),
                message: "no year files given".into(),
            });
        }
        if let Some(w) = years.windows(2).find(|w| w[1] != w[0] + 1) {
            return Err(ReportError::CalendarFile {
                file: format!("vn-{}.toml", w[0] + 1),
                message: format!(
                    "missing: the calendar has {} and {} but not the years between",
                    w[0], w[1]
                ),
            });
        }
        Ok(cal)
    }

    /// First and last year covered.
    pub fn years(&self) -> (i32, i32) {
        let first = self.sources.keys().next().copied().unwrap_or(0);
        let last = self.sources.keys().next_back().copied().unwrap_or(0);
        (first, last)
    }

    /// The legal source a year's file states.
    pub fn source(&self, year: i32) -> Option<&str> {
        self.sources.get(&year).map(String::as_str)
    }

    /// Every listed day of a year, in date order.
    pub fn listed_days(&self, year: i32) -> impl Iterator<Item = &CalendarDay> {
        self.days.values().filter(move |d| d.date.year() == year)
    }

    /// The listed entry for a date, if any.
    pub fn day(&self, date: NaiveDate) -> Option<&CalendarDay> {
        self.days.get(&date)
    }

    fn check(&self, date: NaiveDate) -> Result<(), ReportError> {
        let (first, last) = self.years();
        if date.year() < first || date.year() > last {
            return Err(ReportError::OutsideCalendar { date: date.to_string(), first, last });
        }
        Ok(())
    }

    /// Whether `date` is a working day.
    ///
    /// # Errors
    /// [`ReportError::OutsideCalendar`] for a date in a year without a file.
    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, ReportError> {
        self.check(date)?;
        Ok(match self.days.get(&date).map(|d| d.kind) {
            Some(DayKind::Makeup) => true,
            Some(DayKind::Holiday | DayKind::Compensatory | DayKind::Swapped) => false,
            None => !matches!(date.weekday(), Weekday::Sat | Weekday::Sun),
        })
    }

    /// The `n`-th working day after `date` (`n = 1`: the next working day). `date` itself is
    /// never counted, whether or not it is a working day; `n = 0` returns `date`.
    ///
    /// # Errors
    /// [`ReportError::OutsideCalendar`] when the count runs past the last year covered.
    pub fn add_working_days(&self, date: NaiveDate, n: u32) -> Result<NaiveDate, ReportError> {
        self.check(date)?;
        let mut d = date;
        let mut left = n;
        while left > 0 {
            d = d.succ_opt().ok_or_else(|| ReportError::OutsideCalendar {
                date: date.to_string(),
                first: self.years().0,
                last: self.years().1,
            })?;
            if self.is_working_day(d)? {
                left -= 1;
            }
        }
        Ok(d)
    }

    /// The next working day strictly after `date`.
    ///
    /// # Errors
    /// As [`WorkingCalendar::add_working_days`].
    pub fn next_working_day(&self, date: NaiveDate) -> Result<NaiveDate, ReportError> {
        self.add_working_days(date, 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn shipped_files_cover_2025_to_2027_with_sources() {
        let cal = WorkingCalendar::vn();
        assert_eq!(cal.years(), (2025, 2027));
        for y in 2025..=2027 {
            assert!(cal.source(y).unwrap().contains("Labour Code 45/2019/QH14"), "{y}");
            // Every year has New Year's Day, five Tết days, Hùng Kings, 30/4, 1/5 and two
            // National Day days: 11 statutory holidays (Labour Code art. 112).
            assert_eq!(
                cal.listed_days(y).filter(|d| d.kind == DayKind::Holiday).count(),
                11,
                "{y}"
            );
        }
    }

    #[test]
    fn weekends_holidays_swaps_and_makeup_days() {
        let cal = WorkingCalendar::vn();
        assert!(cal.is_working_day(d("2026-02-13")).unwrap()); // Friday before Tết
        assert!(!cal.is_working_day(d("2026-02-14")).unwrap()); // Saturday
        assert!(!cal.is_working_day(d("2026-02-17")).unwrap()); // mùng 1 Tết Bính Ngọ
        assert!(cal.is_working_day(d("2026-02-23")).unwrap()); // first Monday after Tết
        assert!(!cal.is_working_day(d("2025-05-02")).unwrap()); // swapped Friday
        assert!(cal.is_working_day(d("2025-04-26")).unwrap()); // make-up Saturday
        assert!(!cal.is_working_day(d("2026-04-27")).unwrap()); // compensatory Monday
        assert_eq!(cal.day(d("2026-04-27")).unwrap().kind, DayKind::Compensatory);
    }

    #[test]
    fn counting_working_days() {
        let cal = WorkingCalendar::vn();
        assert_eq!(cal.next_working_day(d("2026-02-13")).unwrap(), d("2026-02-23"));
        assert_eq!(cal.add_working_days(d("2026-02-12"), 3).unwrap(), d("2026-02-24"));
        assert_eq!(cal.next_working_day(d("2025-12-31")).unwrap(), d("2026-01-02"));
        assert_eq!(cal.add_working_days(d("2025-04-25"), 1).unwrap(), d("2025-04-26"));
        assert_eq!(cal.add_working_days(d("2026-05-05"), 0).unwrap(), d("2026-05-05"));
        let e = cal.next_working_day(d("2027-12-31")).unwrap_err();
        assert!(
            e.to_string().contains("2028-01-01") || e.to_string().contains("2027-12-31"),
            "{e}"
        );
        let e = cal.is_working_day(d("2024-12-31")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "date 2024-12-31 is outside the working-day calendar (years 2025-2027); add calendar/vn-<year>.toml"
        );
    }

    #[test]
    fn bad_year_files_are_refused_with_the_entry_named() {
        let bad = "year = 2026\nsource = \"x\"\n[[day]]\ndate = \"2026-02-16\"\nkind = \"makeup\"\nname = \"n\"\nstatus = \"official\"\n";
        let e = WorkingCalendar::from_year_files(&[("vn-2026.toml", bad)]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "calendar file vn-2026.toml: day #1 ('2026-02-16'): a make-up working day must be a Saturday"
        );
        let wrong_year = bad.replace("2026-02-16", "2025-02-15");
        let e = WorkingCalendar::from_year_files(&[("vn-2026.toml", &wrong_year)]).unwrap_err();
        assert!(e.to_string().contains("not in year 2026"), "{e}");
        let a = "year = 2025\nsource = \"x\"\n";
        let c = "year = 2027\nsource = \"x\"\n";
        let e = WorkingCalendar::from_year_files(&[("a", a), ("c", c)]).unwrap_err();
        assert!(e.to_string().contains("vn-2026.toml"), "{e}");
        let typo = "year = 2026\nsource = \"x\"\n[[day]]\ndate = \"2026-02-16\"\nkind = \"holday\"\nname = \"n\"\nstatus = \"official\"\n";
        let e = WorkingCalendar::from_year_files(&[("vn-2026.toml", typo)]).unwrap_err();
        assert!(e.to_string().contains("vn-2026.toml") && e.to_string().contains("holday"), "{e}");
    }

    #[test]
    fn local_time_is_utc_plus_7() {
        // 2026-02-13 17:30 UTC is already Saturday 14 Feb 00:30 in Hà Nội.
        let t = Timestamp::parse("2026-02-13T17:30:00Z").unwrap();
        assert_eq!(local_date(t), d("2026-02-14"));
        let four_pm = local_instant(d("2026-02-23"), NaiveTime::from_hms_opt(16, 0, 0).unwrap());
        assert_eq!(four_pm, Timestamp::parse("2026-02-23T09:00:00Z").unwrap());
        assert_eq!(to_local_rfc3339(four_pm), "2026-02-23T16:00:00+07:00");
    }
}
