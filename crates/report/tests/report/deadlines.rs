//! Deadlines across Tết 2026, year ends and swaps, with real dates (Viet Nam time).

use floodgate_report::{
    deadline, status, FilingStatus, MonitorReportRecord, ReportError, ReportKind, ReportObligation,
    Thresholds, Vnd, WorkingCalendar,
};
use floodgate_types::Timestamp;

#[track_caller]
fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

#[track_caller]
fn due(kind: ReportKind, tx: &str, detected: &str) -> String {
    deadline(kind, t(tx), t(detected)).unwrap().due_local
}

#[test]
fn transfer_reports_are_due_at_16_00_on_the_next_working_day() {
    // An ordinary Tuesday: Wednesday 16:00.
    assert_eq!(
        due(ReportKind::DomesticTransfer, "2026-03-10T09:00:00+07:00", "2026-03-10T09:00:01+07:00"),
        "2026-03-11T16:00:00+07:00"
    );
    // Friday: Monday.
    assert_eq!(
        due(
            ReportKind::InternationalTransfer,
            "2026-03-13T23:59:00+07:00",
            "2026-03-13T23:59:00+07:00"
        ),
        "2026-03-16T16:00:00+07:00"
    );
    // 23:30 UTC on Thursday 12 Feb 2026 is already Friday 13 Feb in Viet Nam; Tết 2026 runs
    // Sat 14 – Sun 22 Feb, so the next working day is Monday 23 Feb.
    let d = deadline(ReportKind::LargeCash, t("2026-02-12T23:30:00Z"), t("2026-02-12T23:30:00Z"))
        .unwrap();
    assert_eq!(d.due_local, "2026-02-23T16:00:00+07:00");
    assert_eq!(d.due, t("2026-02-23T09:00:00Z"));
    assert!(d.rule.contains("2026-02-13"), "{}", d.rule);
    assert_eq!(d.days_off_skipped.len(), 5, "{:?}", d.days_off_skipped);
    assert!(
        d.days_off_skipped[1].starts_with("2026-02-17 Tết: 1st day"),
        "{:?}",
        d.days_off_skipped
    );
    assert!(d.source.contains("14/2022/QH15"));
}

#[test]
fn year_end_and_swapped_days() {
    // New Year's Eve 2025 (Wed): 1 Jan 2026 is a holiday, Friday 2 Jan a working day.
    assert_eq!(
        due(ReportKind::LargeCash, "2025-12-31T15:00:00+07:00", "2025-12-31T15:00:00+07:00"),
        "2026-01-02T16:00:00+07:00"
    );
    // Thu 1 May 2025: Fri 2 May was swapped off, Sat 3/Sun 4 weekend: Monday 5 May.
    assert_eq!(
        due(ReportKind::DomesticTransfer, "2025-05-01T10:00:00+07:00", "2025-05-01T10:00:00+07:00"),
        "2025-05-05T16:00:00+07:00"
    );
    // Fri 25 Apr 2025: Saturday 26 Apr was a make-up working day.
    assert_eq!(
        due(ReportKind::DomesticTransfer, "2025-04-25T10:00:00+07:00", "2025-04-25T10:00:00+07:00"),
        "2025-04-26T16:00:00+07:00"
    );
    // Thu 31 Dec 2026 -> Fri 1 Jan 2027 holiday -> Monday 4 Jan 2027, across two year files.
    assert_eq!(
        due(
            ReportKind::InternationalTransfer,
            "2026-12-31T12:00:00+07:00",
            "2026-12-31T12:00:00+07:00"
        ),
        "2027-01-04T16:00:00+07:00"
    );
    // A deadline that would fall in 2028 has no calendar: an error, not a guess.
    let e = deadline(
        ReportKind::LargeCash,
        t("2027-12-31T12:00:00+07:00"),
        t("2027-12-31T12:00:00+07:00"),
    )
    .unwrap_err();
    assert!(matches!(e, ReportError::OutsideCalendar { .. }), "{e}");
    assert!(e.to_string().contains("2025-2027"), "{e}");
}

#[test]
fn suspicious_reports_take_the_earlier_of_the_two_limits() {
    // Transaction Wed 11 Feb 2026, detected the same day: 3 working days from the
    // transaction cross Tết (Thu 12, Fri 13, Mon 23) and 1 working day from detection is
    // Thu 12: the earlier is Thu 12, end of day.
    let d = deadline(
        ReportKind::Suspicious,
        t("2026-02-11T10:00:00+07:00"),
        t("2026-02-11T18:00:00+07:00"),
    )
    .unwrap();
    assert_eq!(d.due_local, "2026-02-12T23:59:59+07:00");
    assert!(d.rule.contains("1 working day after the detection day 2026-02-11"), "{}", d.rule);
    // Transaction Tue 10 Feb, detected Fri 13 Feb: 3 working days from the transaction end
    // Fri 13; 1 day from detection would be Mon 23. Earlier: Fri 13 Feb.
    assert_eq!(
        due(ReportKind::Suspicious, "2026-02-10T10:00:00+07:00", "2026-02-13T09:00:00+07:00"),
        "2026-02-13T23:59:59+07:00"
    );
    // Transaction Thu 12 Feb, detected Fri 13: 3 working days are Fri 13, Mon 23, Tue 24;
    // 1 working day from detection is Mon 23. Earlier: Mon 23 Feb.
    assert_eq!(
        due(ReportKind::Suspicious, "2026-02-12T10:00:00+07:00", "2026-02-13T09:00:00+07:00"),
        "2026-02-23T23:59:59+07:00"
    );
    // Across the 2025/2026 year end: Tue 30 Dec 2025, detected 2 Jan 2026.
    // 3 working days: 31 Dec, 2 Jan, 5 Jan; 1 from detection: 5 Jan.
    assert_eq!(
        due(ReportKind::Suspicious, "2025-12-30T10:00:00+07:00", "2026-01-02T10:00:00+07:00"),
        "2026-01-05T23:59:59+07:00"
    );
}

#[test]
fn urgent_and_hold_reports_are_due_24_hours_after_detection() {
    assert_eq!(
        due(ReportKind::Urgent, "2026-02-16T08:00:00+07:00", "2026-02-16T09:30:00+07:00"),
        "2026-02-17T09:30:00+07:00"
    );
    let d =
        deadline(ReportKind::Hold, t("2026-05-01T08:00:00+07:00"), t("2026-05-01T08:05:00+07:00"))
            .unwrap();
    assert_eq!(d.due_local, "2026-05-02T08:05:00+07:00");
    assert!(d.source.contains("art. 35"), "{}", d.source);
}

#[test]
fn status_of_a_report() {
    let d = deadline(
        ReportKind::LargeCash,
        t("2026-02-13T10:00:00+07:00"),
        t("2026-02-13T10:00:00+07:00"),
    )
    .unwrap();
    let before = t("2026-02-23T15:59:59+07:00");
    let at = t("2026-02-23T16:00:00+07:00");
    let after = t("2026-02-23T16:00:01+07:00");
    assert_eq!(status(d.due, None, before), FilingStatus::Due);
    assert_eq!(status(d.due, None, at), FilingStatus::Due);
    assert_eq!(status(d.due, None, after), FilingStatus::Overdue);
    assert_eq!(status(d.due, Some(at), after), FilingStatus::FiledOnTime);
    assert_eq!(status(d.due, Some(after), after), FilingStatus::FiledLate);
    assert_eq!(FilingStatus::FiledLate.to_string(), "filed_late");
}

#[test]
fn thresholds_come_from_the_vn_pack() {
    let th = Thresholds::vn();
    assert_eq!(th.pack, "vn");
    assert_eq!(th.large_cash_vnd, Vnd(400_000_000));
    assert_eq!(th.domestic_transfer_vnd, Vnd(500_000_000));
    assert_eq!(th.international_transfer_usd.0, 100_000);
    // At the threshold is reported; one đồng below is not.
    let hits = th.triggered(Vnd(400_000_000), Vnd(400_000_000), floodgate_report::Cents(0), false);
    assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), vec![ReportKind::LargeCash]);
    assert!(hits[0].1.contains("VND 400,000,000"), "{}", hits[0].1);
    assert!(th
        .triggered(Vnd(399_999_999), Vnd(499_999_999), floodgate_report::Cents(99_999), true)
        .is_empty());
    let hits = th.triggered(Vnd(0), Vnd(500_000_000), floodgate_report::Cents(100_000), true);
    assert_eq!(
        hits.iter().map(|h| h.0).collect::<Vec<_>>(),
        vec![ReportKind::InternationalTransfer]
    );
    let e = Thresholds::from_pack_toml("my.toml", "[pack]\nid = \"x\"\n").unwrap_err();
    assert_eq!(e.to_string(), "pack my.toml: missing key 'report.large_value.threshold_vnd'");
}

/// A report record exactly as `floodgate monitor` writes it in a decision's `reports_due`.
const MONITOR_RECORD: &str = r#"{"report":"large_value","jurisdiction":"vn","customer_id":"C-1001","transfer_id":"T-77","local_day":"2026-02-13","amount_vnd":412500000,"threshold":"VND 400000000 per day","transfer_ids":["T-75","T-77"],"source":"Law on AML 14/2022/QH15 art. 25; Decision 11/2023/QD-TTg (VND 400 million)"}"#;

#[test]
fn monitor_report_records_become_obligations() {
    let rec: MonitorReportRecord = serde_json::from_str(MONITOR_RECORD).unwrap();
    let cal = WorkingCalendar::vn();
    let o = ReportObligation::from_monitor(
        cal,
        &rec,
        t("2026-02-13T14:10:00+07:00"),
        t("2026-02-13T14:10:02+07:00"),
    )
    .unwrap();
    assert_eq!(o.kind, ReportKind::LargeCash);
    assert_eq!(o.transfer_ids, vec!["T-75", "T-77"]);
    assert_eq!(o.amount_vnd, Vnd(412_500_000));
    assert_eq!(o.deadline.due_local, "2026-02-23T16:00:00+07:00");
    assert!(
        o.reasons[0].contains("report.large_value") && o.reasons[0].contains("412,500,000"),
        "{:?}",
        o.reasons
    );
    let json = serde_json::to_value(&o).unwrap();
    assert_eq!(json["kind"], "large_cash");
    assert_eq!(json["local_day"], "2026-02-13");

    // A record whose day is not the transfer's Viet Nam day is refused, naming the field.
    let e = ReportObligation::from_monitor(
        cal,
        &rec,
        t("2026-02-14T01:00:00+07:00"),
        t("2026-02-14T01:00:00+07:00"),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "report record for transfer 'T-77': field 'local_day': '2026-02-13' is not the transfer's Viet Nam day 2026-02-14"
    );
    let mut unknown = rec.clone();
    unknown.report = "weird".into();
    let e = ReportObligation::from_monitor(
        cal,
        &unknown,
        t("2026-02-13T14:10:00+07:00"),
        t("2026-02-13T14:10:00+07:00"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("unknown report type 'weird'"), "{e}");
}
