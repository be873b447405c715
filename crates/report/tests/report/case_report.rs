//! The HTML case report: content, self-containment, escaping of hostile input, path checks.

use floodgate_report::{
    render_html, AlertEntry, CaseReport, CaseSummary, DecisionEntry, EvidenceEntry, FundPath,
    ObligationInput, PathEdge, PathNode, ReportError, ReportKind, ReportLine, ReportObligation,
    Vnd, WorkingCalendar,
};
use floodgate_types::{Amount, Timestamp};

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn node(id: &str, label: &str, name: Option<&str>, category: &str) -> PathNode {
    PathNode {
        id: id.into(),
        label: label.into(),
        name: name.map(Into::into),
        category: category.into(),
    }
}

fn edge(from: &str, to: &str, units: u64, time: &str) -> PathEdge {
    PathEdge {
        from: from.into(),
        to: to.into(),
        amount: Amount::from(units),
        decimals: 6,
        asset: "USDT-TRC20".into(),
        time: t(time),
        tx: Some("9c2d8c1b3a6f4e0d7b5a2c1e8f9d0a3b4c5d6e7f8091a2b3c4d5e6f708192a3b".into()),
    }
}

/// The pig-butchering case of the goAML sample, as the cases crate would fill it.
pub(crate) fn sample() -> CaseReport {
    let cal = WorkingCalendar::vn();
    let str_obligation = ReportObligation::new(
        cal,
        ObligationInput {
            kind: ReportKind::Suspicious,
            jurisdiction: "vn".into(),
            customer_id: "C-1001".into(),
            transfer_ids: vec!["T-75".into(), "T-77".into()],
            amount_vnd: Vnd(438_850_000),
            transaction_time: t("2026-02-11T10:00:00+07:00"),
            detected_time: t("2026-02-11T10:00:05+07:00"),
            reasons: vec!["typology pig_butchering".into()],
            source: "Law on AML 14/2022/QH15 art. 26".into(),
        },
    )
    .unwrap();
    CaseReport {
        case: CaseSummary {
            id: "CASE-2026-0017".into(),
            tenant: "demo-vasp".into(),
            title: "Escalating deposits, withdrawals to one new address".into(),
            subject: "customer C-1001 (Nguyễn Văn An, 57)".into(),
            state: "decided".into(),
            severity: "high".into(),
            opened_at: t("2026-02-11T10:00:06+07:00"),
            assignee: Some("analyst.linh".into()),
            summary: "Pattern matches FinCEN FIN-2023-Alert005; customer confirmed an online 'investment advisor'.".into(),
        },
        alerts: vec![AlertEntry {
            id: "A-311".into(),
            time: t("2026-02-11T10:00:05+07:00"),
            severity: "high".into(),
            source: "pig_butchering".into(),
            subject: "T-77".into(),
            reasons: vec![
                "3 deposits in 30 days escalating 1,000 → 15,650 USDT (+1,465%)".into(),
                "2 withdrawals to TYh6mgoMNZTCsgpYHBz7gttEfrQmDMABub, first seen 2026-02-08".into(),
            ],
        }],
        evidence: vec![EvidenceEntry {
            id: "EV-9".into(),
            kind: "exposure".into(),
            title: "Receiving exposure of the withdrawal address".into(),
            added_by: "analyst.linh".into(),
            added_at: t("2026-02-11T11:20:00+07:00"),
            facts: vec![("scam (indirect, 2 hops)".into(), "64%".into()), ("model".into(), "haircut".into())],
        }],
        decisions: vec![
            DecisionEntry {
                time: t("2026-02-11T11:30:00+07:00"),
                actor: "analyst.linh".into(),
                role: "analyst".into(),
                action: "decide: report".into(),
                from_state: "investigating".into(),
                to_state: "pending_approval".into(),
                note: Some("File an STR; hold further withdrawals.".into()),
            },
            DecisionEntry {
                time: t("2026-02-11T14:05:00+07:00"),
                actor: "mlro.hung".into(),
                role: "approver".into(),
                action: "approve".into(),
                from_state: "pending_approval".into(),
                to_state: "decided".into(),
                note: None,
            },
        ],
        path: FundPath {
            nodes: vec![
                node("a", "TKgD8Qnx9Zw3DNvG6o83PkufnMbtEXis4T", Some("payer"), "unknown"),
                node("c", "C-1001", Some("customer Nguyễn Văn An"), "customer"),
                node("w", "TYh6mgoMNZTCsgpYHBz7gttEfrQmDMABub", Some("new address"), "scam"),
                node("x", "E4411", Some("scam cluster (TagPack)"), "scam"),
            ],
            edges: vec![
                edge("a", "c", 1_000_000_000, "2026-02-09T21:15:00+07:00"),
                edge("c", "w", 15_650_000_000, "2026-02-11T10:00:00+07:00"),
                edge("w", "x", 15_600_000_000, "2026-02-11T10:42:00+07:00"),
            ],
        },
        reports: vec![ReportLine { obligation: str_obligation, filed_at: Some(t("2026-02-12T15:00:00+07:00")) }],
        generated_at: t("2026-02-12T16:00:00+07:00"),
        generated_by: "mlro.hung".into(),
    }
}

#[test]
fn the_report_shows_alerts_evidence_decisions_path_and_reports() {
    let html = render_html(&sample()).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for needle in [
        "Case CASE-2026-0017",
        "Alerts (1)",
        "3 deposits in 30 days escalating",
        "Evidence (1)",
        "scam (indirect, 2 hops)",
        "Decision trail (2)",
        "pending_approval → decided",
        "<svg viewBox=",
        "15650 USDT-TRC20",
        "suspicious transaction report",
        "filed on time",
        "2026-02-12 23:59:59 +07:00",
        "@media print",
        "Nguyễn Văn An",
    ] {
        assert!(html.contains(needle), "missing {needle:?}");
    }
    // One box per node, one arrow per edge, coloured by category.
    assert_eq!(html.matches("<rect ").count(), 4);
    assert_eq!(html.matches("marker-end=\"url(#arrow)\"").count(), 3);
    assert!(html.contains("stroke=\"#ef6c00\""), "scam nodes are orange");
}

#[test]
fn the_report_fetches_nothing() {
    let html = render_html(&sample()).unwrap();
    for banned in
        ["<script", "src=", "href=", "@import", "http:", "https:", "<link", "<iframe", "<object"]
    {
        assert!(!html.contains(banned), "found {banned:?}");
    }
    assert!(html.contains(
        "Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\""
    ));
}

#[test]
fn hostile_input_is_escaped_everywhere() {
    let evil = r#"<script>alert("x")</script><img src=x onerror=alert(1)>' onmouseover='alert(2)"#;
    let mut r = sample();
    r.case.title = evil.into();
    r.case.summary = evil.into();
    r.alerts[0].reasons.push(evil.into());
    r.evidence[0].facts.push((evil.into(), evil.into()));
    r.decisions[0].note = Some(evil.into());
    r.path.nodes[2].label = evil.into();
    r.path.nodes[2].name = Some(evil.into());
    r.path.nodes[2].category = evil.into();
    r.path.edges[0].asset = evil.into();
    r.generated_by = evil.into();
    let html = render_html(&r).unwrap();
    assert!(!html.contains("<script"), "raw script tag");
    assert!(!html.contains("<img"), "raw img tag");
    assert!(!html.contains("' onmouseover='"), "attribute breakout");
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
    // An unknown category gets the neutral colour, not the hostile text in an attribute.
    assert!(html.contains("stroke=\"#757575\""));
}

#[test]
fn a_path_edge_to_a_missing_node_is_refused_naming_it() {
    let mut r = sample();
    r.path.edges[1].to = "zz".into();
    let e = render_html(&r).unwrap_err();
    assert_eq!(
        e.to_string(),
        "HTML case report: field 'path.edges[1].to': node 'zz' is not in path.nodes"
    );
    let mut r = sample();
    r.path.nodes[3].id = "a".into();
    assert!(
        matches!(render_html(&r), Err(ReportError::InvalidField { field, .. }) if field == "path.nodes[3].id")
    );
}

/// Writes the sample to `$FLOODGATE_CASE_REPORT_SAMPLE` for a look in a browser (not a test
/// of the browser: the unit tests never need one).
#[test]
fn write_sample_when_asked() {
    if let Ok(path) = std::env::var("FLOODGATE_CASE_REPORT_SAMPLE") {
        std::fs::write(path, render_html(&sample()).unwrap()).unwrap();
    }
}
