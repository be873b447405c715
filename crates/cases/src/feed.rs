//! Feeds: monitor decisions and screening hits become alerts, exactly once.
//!
//! The monitor feed reads the decisions committed to `monitor.db` after its cursor and stores
//! their alerts and the new cursor in one transaction, after every group commit and at
//! start-up. A crash between a decision commit and the alert write is repaired by the next
//! start; dedup keys (`monitor:<transfer id>`) make a replay harmless.

use floodgate_monitor::decision::{Decision, Evidence, Hit, HitKind};
use floodgate_monitor::monitor::Monitor;
use floodgate_monitor::pack::{Action as MonitorAction, Severity as MonitorSeverity};
use serde::Serialize;

use crate::error::{CasesError, Result};
use crate::model::{Actor, AlertSource, NewAlert, NewReport, ReportKind, Severity, UnixTime};
use crate::store::{CaseStore, Ingested};

/// The monitor feed's name in `feed_cursor`.
pub const MONITOR_FEED: &str = "monitor";

fn severity(s: MonitorSeverity) -> Severity {
    match s {
        MonitorSeverity::Low => Severity::Low,
        MonitorSeverity::Medium => Severity::Medium,
        MonitorSeverity::High => Severity::High,
        MonitorSeverity::Critical => Severity::Critical,
    }
}

/// A monitor alert's evidence: the decision's transfer, action, score, hits, notes and
/// pack. Written as the JSON text a `serde_json::Value` of it writes (keys in sorted order,
/// each hit's evidence copied as it was written: [`Evidence`] text is in that order too), so
/// the alert row holds the same bytes as when the evidence was built as a `Value` tree, at a
/// fraction of the cost (a tree of every hit's evidence, parsed from its text, written and
/// freed per alert). A hit whose evidence text would not write back the same from a `Value`
/// ([`Evidence::writes_as_value`]) is written from its `Value`.
#[derive(Serialize)]
struct AlertEvidence<'a> {
    action: &'a str,
    amount: &'a str,
    amount_usd_cents: Option<u64>,
    amount_vnd: Option<u64>,
    asset: &'a str,
    direction: floodgate_types::Direction,
    #[serde(serialize_with = "hits_in_value_order")]
    hits: &'a [Hit],
    notes: &'a [String],
    pack: &'a str,
    score: u32,
    transfer_id: &'a str,
}

/// A hit with its fields in a `Value`'s (sorted) order.
#[derive(Serialize)]
struct HitInValueOrder<'a> {
    action: MonitorAction,
    #[serde(serialize_with = "evidence_as_value")]
    evidence: &'a Evidence,
    kind: HitKind,
    reason: &'a str,
    rule_id: &'a str,
    score: u32,
    severity: MonitorSeverity,
    source: &'a str,
}

fn hits_in_value_order<S: serde::Serializer>(
    hits: &&[Hit],
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_seq(hits.iter().map(|h| HitInValueOrder {
        action: h.action,
        evidence: &h.evidence,
        kind: h.kind,
        reason: &h.reason,
        rule_id: &h.rule_id,
        score: h.score,
        severity: h.severity,
        source: &h.source,
    }))
}

fn evidence_as_value<S: serde::Serializer>(
    e: &&Evidence,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    if e.writes_as_value() {
        e.serialize(s)
    } else {
        serde_json::Value::serialize(e, s)
    }
}

/// The alert of a decision: `None` for `allow`.
pub fn monitor_alert(d: &Decision) -> Option<NewAlert> {
    if d.action == MonitorAction::Allow {
        return None;
    }
    let sev = d.hits.iter().map(|h| severity(h.severity)).max().unwrap_or(Severity::Low);
    let mut rules: Vec<&str> = d.hits.iter().map(|h| h.rule_id.as_str()).collect();
    rules.dedup();
    Some(NewAlert {
        source: AlertSource::Monitor,
        rule: if rules.is_empty() { d.action.as_str().to_owned() } else { rules.join(",") },
        severity: sev,
        subject: d.customer_id.clone(),
        reasons: d.hits.iter().map(|h| format!("{}: {}", h.rule_id, h.reason)).collect(),
        evidence: Evidence::of(&AlertEvidence {
            action: d.action.as_str(),
            amount: &d.amount,
            amount_usd_cents: d.amount_usd_cents,
            amount_vnd: d.amount_vnd,
            asset: &d.asset,
            direction: d.direction,
            hits: &d.hits,
            notes: &d.notes,
            pack: &d.pack,
            score: d.score,
            transfer_id: &d.transfer_id,
        }),
        dedup_key: format!("monitor:{}", d.transfer_id),
        event_time: UnixTime(d.time.0),
    })
}

/// The alerts of a decision: its own (none for `allow`), then one for every other member of a
/// group the transfer made cross its threshold (shared device, IP, withdrawal address), so
/// that members whose transfers came earlier are alerted too. Dedup key of a member's alert:
/// `monitor:<transfer id>:<rule>:<member>`.
pub fn monitor_alerts(d: &Decision) -> Vec<NewAlert> {
    let mut out: Vec<NewAlert> = monitor_alert(d).into_iter().collect();
    for g in &d.group_alerts {
        if g.action == MonitorAction::Allow {
            continue;
        }
        out.push(NewAlert {
            source: AlertSource::Monitor,
            rule: g.rule_id.clone(),
            severity: severity(g.severity),
            subject: g.customer_id.clone(),
            reasons: vec![format!("{}: {}", g.rule_id, g.reason)],
            evidence: serde_json::json!({
                "transfer_id": d.transfer_id,
                "triggered_by_customer": d.customer_id,
                "action": g.action.as_str(),
                "score": g.score,
                "rule_source": g.source,
                "group": g.evidence,
                "pack": d.pack,
            })
            .into(),
            dedup_key: format!("monitor:{}:{}:{}", d.transfer_id, g.rule_id, g.customer_id),
            event_time: UnixTime(d.time.0),
        });
    }
    out
}

/// The report obligations of a decision's `reports_due`, each with its deadline on the
/// Viet Nam working-day calendar (floodgate-report) and the reasons. A record the calendar
/// cannot date (outside its years) is logged and skipped, never guessed.
pub fn monitor_reports(d: &Decision) -> Vec<NewReport> {
    let mut out = Vec::new();
    for due in &d.reports_due {
        // The same fields (floodgate-report does not depend on the monitor).
        let rec = floodgate_report::MonitorReportRecord {
            report: due.report.clone(),
            jurisdiction: due.jurisdiction.clone(),
            customer_id: due.customer_id.clone(),
            transfer_id: due.transfer_id.clone(),
            local_day: due.local_day.clone(),
            amount_vnd: due.amount_vnd,
            threshold: due.threshold.clone(),
            transfer_ids: due.transfer_ids.clone(),
            source: due.source.clone(),
        };
        let ob = match floodgate_report::ReportObligation::from_monitor(
            floodgate_report::WorkingCalendar::vn(),
            &rec,
            d.time,
            d.time,
        ) {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(target: "floodgate::cases", transfer = %d.transfer_id, "report obligation not recorded: {e}");
                continue;
            }
        };
        let kind = match ob.kind {
            floodgate_report::ReportKind::LargeCash => ReportKind::LargeValue,
            floodgate_report::ReportKind::DomesticTransfer => ReportKind::DomesticTransfer,
            floodgate_report::ReportKind::InternationalTransfer => {
                ReportKind::InternationalTransfer
            }
            floodgate_report::ReportKind::Suspicious => ReportKind::Suspicious,
            floodgate_report::ReportKind::Urgent => ReportKind::Urgent,
            floodgate_report::ReportKind::Hold => ReportKind::Hold,
        };
        // One large-value report per customer and day (the day's total); one per transfer
        // for the transfer reports.
        let dedup_key = if kind == ReportKind::LargeValue {
            format!("report:{}:{}:{}", rec.report, rec.customer_id, rec.local_day)
        } else {
            format!("report:{}:{}", rec.report, rec.transfer_id)
        };
        let mut subject_ids = vec![ob.customer_id.clone()];
        subject_ids.extend(ob.transfer_ids.iter().cloned());
        out.push(NewReport {
            kind,
            subject_ids,
            event_time: UnixTime(d.time.0),
            detected_time: UnixTime(d.time.0),
            due_time: UnixTime(ob.deadline.due.0),
            reason: serde_json::to_value(&ob).unwrap_or(serde_json::Value::Null),
            dedup_key,
        });
    }
    out
}

/// What a catch-up did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CatchUp {
    /// Decisions read.
    pub decisions: u64,
    /// What the alerts did.
    pub ingested: Ingested,
}

/// Brings the alerts up to date with the decisions `monitor` committed: reads those after the
/// feed's cursor, stores their alerts and the new cursor in one transaction.
///
/// # Errors
/// [`CasesError::Feed`] when the decisions cannot be read; the store's errors.
pub fn catch_up_monitor(
    store: &mut dyn CaseStore,
    actor: &Actor,
    monitor: &Monitor,
) -> Result<CatchUp> {
    let pos = store.feed_position(&actor.tenant, MONITOR_FEED)?;
    let mut out = CatchUp::default();
    let mut at = pos;
    // Pages of decisions, each stored in one transaction with the cursor after it: a catch-up
    // over millions of decisions holds one page at a time and keeps each transaction short.
    for page in monitor.decision_pages(u64::try_from(at).unwrap_or(0), 2000) {
        let page = page
            .map_err(|e| CasesError::Feed { feed: MONITOR_FEED.into(), message: e.to_string() })?;
        at += page.len() as i64;
        let reports: Vec<NewReport> = page.iter().flat_map(monitor_reports).collect();
        let alerts: Vec<NewAlert> = page.iter().flat_map(monitor_alerts).collect();
        let r = ingest_decided(store, actor, &reports, &alerts, at)?;
        out.decisions += page.len() as u64;
        out.ingested.duplicates += r.duplicates;
        out.ingested.created.extend(r.created);
        out.ingested.cases_opened.extend(r.cases_opened);
    }
    Ok(out)
}

/// Stores the reports and alerts of decisions of the monitor's decision log (from
/// [`monitor_reports`] and [`monitor_alerts`]) and sets the feed's cursor to `cursor_after`,
/// all in one transaction ([`CaseStore::ingest_decided`]): every decision up to that position then has what it
/// raised stored. [`catch_up_monitor`] calls it per chunk it reads; a caller that holds the
/// decisions it just committed (the API's KYT worker) calls it directly and spares the read of
/// the log.
///
/// # Errors
/// The store's errors; the cursor then stays where it was.
pub fn ingest_decided(
    store: &mut dyn CaseStore,
    actor: &Actor,
    reports: &[NewReport],
    alerts: &[NewAlert],
    cursor_after: i64,
) -> Result<Ingested> {
    // Reports, alerts and the cursor in one transaction: one commit per group.
    store.ingest_decided(actor, reports, alerts, Some((MONITOR_FEED, cursor_after)))
}

/// Stores every unsuppressed screening hit (any serializable hit with `list`, `entity_id` and
/// `suppressed` fields, as `floodgate-screen` writes them) as an alert about `subject`, with
/// the hit and its explanation as evidence. Dedup key: `screen:<list>:<entry>:<subject>`.
///
/// # Errors
/// [`CasesError::Invalid`] for an empty subject; the store's errors.
pub fn screening_alerts<H: Serialize>(
    store: &mut dyn CaseStore,
    actor: &Actor,
    source: AlertSource,
    subject: &str,
    hits: &[H],
) -> Result<Ingested> {
    let now = UnixTime::now();
    let mut alerts = Vec::new();
    for h in hits {
        let v =
            serde_json::to_value(h).map_err(|e| CasesError::invalid("screening hit", "?", e))?;
        if v.get("suppressed").and_then(serde_json::Value::as_bool).unwrap_or(false) {
            continue;
        }
        let text = |k: &str| v.get(k).and_then(serde_json::Value::as_str).unwrap_or("").to_owned();
        let (list, entry) = (text("list"), text("entity_id"));
        let name =
            if v.get("entity_name").is_some() { text("entity_name") } else { text("entity") };
        let score = v.get("score").and_then(serde_json::Value::as_f64);
        let whom = if name.is_empty() { format!("entry {entry}") } else { format!("'{name}'") };
        let version = v
            .get("list_version")
            .and_then(serde_json::Value::as_str)
            .map(|x| format!(", found when version {x} was loaded"))
            .unwrap_or_default();
        let reason = match score {
            Some(s) => format!(
                "'{subject}' matches {whom} on list {list} (entry {entry}, score {s:.2}{version})"
            ),
            None => format!("'{subject}' matches {whom} on list {list} (entry {entry}{version})"),
        };
        alerts.push(NewAlert {
            source,
            rule: list.clone(),
            severity: if score.is_none_or(|s| s >= 0.95) {
                Severity::High
            } else {
                Severity::Medium
            },
            subject: subject.to_owned(),
            reasons: vec![reason],
            evidence: v.into(),
            dedup_key: format!("screen:{list}:{entry}:{subject}"),
            event_time: now,
        });
    }
    if alerts.is_empty() {
        return Ok(Ingested::default());
    }
    store.ingest_alerts(actor, &alerts, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The alert evidence as it was built before: a `Value` tree, written out.
    fn evidence_as_a_value_tree(d: &Decision) -> String {
        serde_json::json!({
            "transfer_id": d.transfer_id,
            "action": d.action.as_str(),
            "score": d.score,
            "direction": d.direction,
            "asset": d.asset,
            "amount": d.amount,
            "amount_vnd": d.amount_vnd,
            "amount_usd_cents": d.amount_usd_cents,
            "hits": d.hits,
            "notes": d.notes,
            "pack": d.pack,
        })
        .to_string()
    }

    /// A monitor alert's evidence is byte for byte what the `Value` tree wrote, for every
    /// decision of a synthetic world where every typology, report trigger and CEL rule
    /// fires (customer file and lists loaded), and for a hit whose evidence holds an
    /// integer beyond 64 bits (a `Value` writes it as a float).
    #[test]
    fn monitor_alert_evidence_is_what_a_value_tree_wrote() {
        use floodgate_monitor::monitor::{Monitor, Processed};
        let w = floodgate_monitor::synth::generate(floodgate_monitor::synth::SynthConfig {
            seed: 3,
            background_customers: 200,
            per_typology: 3,
            days: 20,
        });
        // The vn pack and a CEL rule that fires on every withdrawal of USD 1,000 or more.
        let cel = "extends = \"vn\"\n[[rule]]\nid = \"t.large_withdrawal\"\nseverity = \"low\"\n\
                   action = \"review\"\nwhen = \"transfer.direction == 'withdrawal' && \
                   transfer.amount_usd_cents >= 100000\"\nreason = \"USD {transfer.amount_usd_cents} out\"\n\
                   source = \"test\"\n";
        let pack =
            floodgate_monitor::pack::Pack::parse(std::path::Path::new("t.toml"), cel).unwrap();
        let engine = floodgate_monitor::engine::Engine::new(
            pack,
            floodgate_types::AssetRegistry::builtin(),
            floodgate_monitor::fiat::RateTable::builtin(),
            w.customers.clone(),
            w.facts(),
        );
        let mut m = Monitor::in_memory(engine);
        let (mut alerts, mut rules) = (0, std::collections::BTreeSet::new());
        for ev in &w.events {
            let Ok(Processed::Decided(d)) = m.process(ev) else { continue };
            if let Some(a) = monitor_alert(&d) {
                assert_eq!(a.evidence.as_json(), evidence_as_a_value_tree(&d), "{}", d.transfer_id);
                alerts += 1;
                rules.extend(d.hits.iter().map(|h| h.rule_id.clone()));
            }
        }
        assert!(alerts > 40 && rules.len() >= 15, "{alerts} alerts, rules {rules:?}");
        assert!(rules.contains("t.large_withdrawal"), "the CEL rule fired: {rules:?}");
        let mut d: Decision = serde_json::from_value(serde_json::json!({
            "transfer_id": "t1", "customer_id": "c1", "time": "2023-11-14T22:13:20Z",
            "direction": "deposit", "asset": "ETH", "amount": "1", "amount_vnd": null,
            "amount_usd_cents": null, "action": "review", "score": 30, "reports_due": [],
            "notes": ["n"], "rule_errors": [], "pack": "vn",
            "hits": [{"rule_id": "r", "kind": "typology", "severity": "low", "action": "review",
                      "score": 30, "reason": "x", "source": "s", "evidence": {"a": 1}}]
        }))
        .unwrap();
        let big = r#"{"sum_vnd":400000000000000000000,"z":[1]}"#;
        d.hits[0].evidence = serde_json::from_str(big).unwrap();
        assert!(!d.hits[0].evidence.writes_as_value());
        let a = monitor_alert(&d).unwrap();
        assert_eq!(a.evidence.as_json(), evidence_as_a_value_tree(&d));
        assert!(a.evidence.as_json().contains(r#""sum_vnd":4e+20"#), "{}", a.evidence.as_json());
    }

    /// Issue 14: a shared-device group that crosses its threshold alerts every member, also
    /// those whose transfers came earlier and who never transact again.
    #[test]
    fn every_member_of_a_group_gets_an_alert() {
        let d: Decision = serde_json::from_value(serde_json::json!({
            "transfer_id": "t3", "customer_id": "c3", "time": "2023-11-14T22:13:20Z",
            "direction": "deposit", "asset": "USDT", "amount": "100",
            "amount_vnd": null, "amount_usd_cents": 10000, "action": "review", "score": 30,
            "hits": [], "reports_due": [], "notes": [], "rule_errors": [], "pack": "vn",
            "group_alerts": [
                {"customer_id": "c1", "rule_id": "shared_device", "severity": "medium",
                 "action": "review", "score": 30, "reason": "device d1 shared by c1, c2, c3",
                 "evidence": {"device": "d1"}, "source": "vn"},
                {"customer_id": "c2", "rule_id": "shared_device", "severity": "medium",
                 "action": "review", "score": 30, "reason": "device d1 shared by c1, c2, c3",
                 "evidence": {"device": "d1"}, "source": "vn"}
            ]
        }))
        .unwrap();
        let alerts = monitor_alerts(&d);
        let subjects: Vec<&str> = alerts.iter().map(|a| a.subject.as_str()).collect();
        assert_eq!(subjects, ["c3", "c1", "c2"]);
        assert_eq!(alerts[1].rule, "shared_device");
        assert!(alerts[1].reasons[0].contains("device d1 shared by c1, c2, c3"));
        assert_eq!(alerts[1].evidence["triggered_by_customer"], "c3");
        let keys: std::collections::HashSet<&str> =
            alerts.iter().map(|a| a.dedup_key.as_str()).collect();
        assert_eq!(keys.len(), 3, "each member's alert has its own dedup key");
    }
}
