//! A case report a person reads: one self-contained HTML page (printable to PDF with the
//! browser's print) with the case, its alerts, the evidence, the decision trail, the reports
//! owed, and the fund-flow path drawn as an inline SVG.
//!
//! Self-contained means no network fetch of any kind: no scripts, no external fonts, styles
//! or images, and a Content-Security-Policy of `default-src 'none'` so a browser would refuse
//! one anyway. Every text from the input is HTML-escaped. The cases crate fills a
//! [`CaseReport`] and calls [`render_html`].

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use floodgate_types::{Amount, Timestamp};
use serde::{Deserialize, Serialize};

use crate::calendar::to_local_rfc3339;
use crate::deadline::{status, FilingStatus};
use crate::error::ReportError;
use crate::obligation::ReportObligation;

const FORMAT: &str = "HTML case";

/// The case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseSummary {
    /// Case id.
    pub id: String,
    /// Tenant (the VASP).
    pub tenant: String,
    /// Title.
    pub title: String,
    /// The customer or entity the case is about.
    pub subject: String,
    /// Current state (`open`, `escalated`, `decided` …).
    pub state: String,
    /// Highest alert severity.
    pub severity: String,
    /// When it was opened.
    pub opened_at: Timestamp,
    /// Assigned analyst.
    pub assignee: Option<String>,
    /// Summary written by the analyst.
    pub summary: String,
}

/// An alert in the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertEntry {
    /// Alert id.
    pub id: String,
    /// When it was raised.
    pub time: Timestamp,
    /// Severity (`low`, `medium`, `high`, `critical`).
    pub severity: String,
    /// What raised it: a monitor rule id or a screening list.
    pub source: String,
    /// The transfer or screening subject.
    pub subject: String,
    /// Why it fired.
    pub reasons: Vec<String>,
}

/// One piece of evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceEntry {
    /// Evidence id.
    pub id: String,
    /// Kind (`screening_hit`, `trace_path`, `exposure`, `document`, `note`).
    pub kind: String,
    /// Title.
    pub title: String,
    /// Who attached it.
    pub added_by: String,
    /// When.
    pub added_at: Timestamp,
    /// Facts, as label and value (`score` → `0.97`, `list` → `OFAC SDN 2026-02-01`).
    pub facts: Vec<(String, String)>,
}

/// One step of the decision trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionEntry {
    /// When.
    pub time: Timestamp,
    /// Who.
    pub actor: String,
    /// Their role (`analyst`, `approver`).
    pub role: String,
    /// What they did (`assign`, `escalate`, `decide: report`, `approve`).
    pub action: String,
    /// State before.
    pub from_state: String,
    /// State after.
    pub to_state: String,
    /// Their note.
    pub note: Option<String>,
}

/// A node of the fund-flow path: an address or an entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathNode {
    /// Id the edges refer to.
    pub id: String,
    /// The address or entity id (`TYh6…`, `E1234`).
    pub label: String,
    /// Who it is, when known (`Huobi`, `customer C-1001`).
    pub name: Option<String>,
    /// Risk category (`sanctioned`, `scam`, `mixer`, `exchange`, … see docs/taxonomy.md), or
    /// `customer`, or `unknown`.
    pub category: String,
}

/// A transfer between two path nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathEdge {
    /// Sending node id.
    pub from: String,
    /// Receiving node id.
    pub to: String,
    /// Amount in base units.
    pub amount: Amount,
    /// The asset's decimals.
    pub decimals: u8,
    /// Asset (`USDT-TRC20`).
    pub asset: String,
    /// When.
    pub time: Timestamp,
    /// Transaction hash, if on chain.
    pub tx: Option<String>,
}

/// The fund-flow path (from `floodgate trace path` or the exposure evidence).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FundPath {
    /// Nodes.
    pub nodes: Vec<PathNode>,
    /// Edges.
    pub edges: Vec<PathEdge>,
}

/// A report owed for the case and when (if) it was filed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportLine {
    /// The obligation, with its deadline.
    pub obligation: ReportObligation,
    /// When it was filed.
    pub filed_at: Option<Timestamp>,
}

/// Everything a case report shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseReport {
    /// The case.
    pub case: CaseSummary,
    /// Its alerts.
    pub alerts: Vec<AlertEntry>,
    /// Its evidence.
    pub evidence: Vec<EvidenceEntry>,
    /// The decision trail, oldest first.
    pub decisions: Vec<DecisionEntry>,
    /// The fund-flow path.
    pub path: FundPath,
    /// Reports owed for the case, with when (if) each was filed.
    #[serde(default)]
    pub reports: Vec<ReportLine>,
    /// When the report was generated (the "now" of report statuses).
    pub generated_at: Timestamp,
    /// Who generated it.
    pub generated_by: String,
}

/// HTML-escapes text for element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Fill colour of a risk category (the risk categories warm, services cool, unknown grey).
pub fn category_colour(category: &str) -> &'static str {
    match category {
        "sanctioned" | "terrorist_financing" => "#c62828",
        "ransomware" | "theft" | "phishing" | "scam" => "#ef6c00",
        "darknet_market" | "blocklisted" => "#6d4c41",
        "mixer" | "coinjoin" => "#7b1fa2",
        "gambling" => "#ad1457",
        "exchange" | "wallet_service" => "#1565c0",
        "defi" | "miner" | "service" | "organization" => "#00838f",
        "customer" | "user" => "#2e7d32",
        _ => "#757575",
    }
}

fn when(t: Timestamp) -> String {
    // Viet Nam time, as the rest of the VN reporting: 2026-02-11 10:00:00 +07:00.
    to_local_rfc3339(t).replacen('T', " ", 1).replace("+07:00", " +07:00")
}

fn short(label: &str) -> String {
    let n = label.chars().count();
    if n <= 16 {
        return label.to_owned();
    }
    let head: String = label.chars().take(8).collect();
    let tail: String = label.chars().skip(n - 6).collect();
    format!("{head}…{tail}")
}

const CSS: &str = r#"
:root { --ink: #1a1a1a; --muted: #5f6368; --rule: #d0d4d9; }
* { box-sizing: border-box; }
body { font: 11pt/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; color: var(--ink); margin: 2rem auto; max-width: 60rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.15rem; border-bottom: 2px solid var(--ink); padding-bottom: .2rem; margin-top: 2rem; }
.meta { color: var(--muted); margin: 0 0 1rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
th, td { text-align: left; vertical-align: top; border-bottom: 1px solid var(--rule); padding: .3rem .4rem; }
th { font-weight: 600; background: #f3f4f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.sev { font-weight: 600; text-transform: uppercase; font-size: .85em; }
.sev-critical, .sev-high { color: #c62828; } .sev-medium { color: #ef6c00; } .sev-low { color: var(--muted); }
.st-overdue, .st-filed_late { color: #c62828; font-weight: 600; } .st-due { color: #ef6c00; font-weight: 600; } .st-filed_on_time { color: #2e7d32; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .9em; word-break: break-all; }
ul.reasons { margin: 0; padding-left: 1.1rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .1rem .8rem; margin: .3rem 0 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; }
.legend span { display: inline-block; margin-right: 1rem; font-size: .85em; }
.legend i { display: inline-block; width: .8rem; height: .8rem; border-radius: 2px; margin-right: .3rem; vertical-align: -1px; }
svg { max-width: 100%; height: auto; border: 1px solid var(--rule); background: #fff; }
footer { margin-top: 2rem; color: var(--muted); font-size: .85em; }
@page { size: A4; margin: 15mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  h2 { break-after: avoid; }
  tr, .evidence, svg { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"#;

/// Renders the case report as one self-contained HTML page.
///
/// # Errors
/// [`ReportError::InvalidField`] when an edge of the path names a node that is not in it
/// (`path.edges[2].to`), or two nodes share an id.
pub fn render_html(r: &CaseReport) -> Result<String, ReportError> {
    let svg = path_svg(&r.path)?;
    let mut h = String::with_capacity(16 * 1024);
    let c = &r.case;
    let e = escape;
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Case {} — {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        e(&c.id),
        e(&c.title)
    );
    let _ = write!(
        h,
        "<header>\n<h1>Case {} — {}</h1>\n<p class=\"meta\">Tenant {} · subject {} · state <strong>{}</strong> · severity <span class=\"sev sev-{}\">{}</span> · opened {} · assignee {}</p>\n<p>{}</p>\n</header>\n",
        e(&c.id),
        e(&c.title),
        e(&c.tenant),
        e(&c.subject),
        e(&c.state),
        e(&c.severity),
        e(&c.severity),
        e(&when(c.opened_at)),
        e(c.assignee.as_deref().unwrap_or("unassigned")),
        e(&c.summary)
    );

    // Alerts.
    let _ = write!(h, "<section>\n<h2>Alerts ({})</h2>\n", r.alerts.len());
    if r.alerts.is_empty() {
        h.push_str("<p>No alerts.</p>\n");
    } else {
        h.push_str("<table>\n<thead><tr><th>Alert</th><th>Time</th><th>Severity</th><th>Source</th><th>Subject</th><th>Reasons</th></tr></thead>\n<tbody>\n");
        for a in &r.alerts {
            let reasons: String = a.reasons.iter().map(|x| format!("<li>{}</li>", e(x))).collect();
            let _ = writeln!(
                h,
                "<tr><td class=\"mono\">{}</td><td>{}</td><td class=\"sev sev-{}\">{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td><ul class=\"reasons\">{reasons}</ul></td></tr>",
                e(&a.id),
                e(&when(a.time)),
                e(&a.severity),
                e(&a.severity),
                e(&a.source),
                e(&a.subject)
            );
        }
        h.push_str("</tbody>\n</table>\n");
    }
    h.push_str("</section>\n");

    // Fund flow.
    h.push_str("<section>\n<h2>Fund flow</h2>\n");
    if r.path.nodes.is_empty() {
        h.push_str("<p>No path attached.</p>\n");
    } else {
        h.push_str(&svg);
        let mut cats: Vec<&str> = r.path.nodes.iter().map(|n| n.category.as_str()).collect();
        cats.sort_unstable();
        cats.dedup();
        h.push_str("<p class=\"legend\">");
        for cat in cats {
            let _ = write!(
                h,
                "<span><i style=\"background:{}\"></i>{}</span>",
                category_colour(cat),
                e(cat)
            );
        }
        h.push_str("</p>\n<table>\n<thead><tr><th>From</th><th>To</th><th>Amount</th><th>Time</th><th>Transaction</th></tr></thead>\n<tbody>\n");
        let names: HashMap<&str, &PathNode> =
            r.path.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
        for ed in &r.path.edges {
            let nm = |id: &str| names.get(id).map(|n| n.label.clone()).unwrap_or_default();
            let _ = writeln!(
                h,
                "<tr><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"num\">{} {}</td><td>{}</td><td class=\"mono\">{}</td></tr>",
                e(&nm(&ed.from)),
                e(&nm(&ed.to)),
                e(&ed.amount.to_decimal_string(ed.decimals)),
                e(&ed.asset),
                e(&when(ed.time)),
                e(ed.tx.as_deref().unwrap_or("—"))
            );
        }
        h.push_str("</tbody>\n</table>\n");
    }
    h.push_str("</section>\n");

    // Evidence.
    let _ = write!(h, "<section>\n<h2>Evidence ({})</h2>\n", r.evidence.len());
    if r.evidence.is_empty() {
        h.push_str("<p>No evidence attached.</p>\n");
    }
    for ev in &r.evidence {
        let _ = write!(
            h,
            "<div class=\"evidence\">\n<h3>{} <small class=\"mono\">{} · {}</small></h3>\n<p class=\"meta\">added by {} on {}</p>\n<dl class=\"facts\">",
            e(&ev.title),
            e(&ev.id),
            e(&ev.kind),
            e(&ev.added_by),
            e(&when(ev.added_at))
        );
        for (k, v) in &ev.facts {
            let _ = write!(h, "<dt>{}</dt><dd>{}</dd>", e(k), e(v));
        }
        h.push_str("</dl>\n</div>\n");
    }
    h.push_str("</section>\n");

    // Decision trail.
    let _ = write!(h, "<section>\n<h2>Decision trail ({})</h2>\n", r.decisions.len());
    if r.decisions.is_empty() {
        h.push_str("<p>No decisions yet.</p>\n");
    } else {
        h.push_str("<table>\n<thead><tr><th>Time</th><th>Who</th><th>Action</th><th>State</th><th>Note</th></tr></thead>\n<tbody>\n");
        for d in &r.decisions {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{} <small>({})</small></td><td>{}</td><td>{} → {}</td><td>{}</td></tr>",
                e(&when(d.time)),
                e(&d.actor),
                e(&d.role),
                e(&d.action),
                e(&d.from_state),
                e(&d.to_state),
                e(d.note.as_deref().unwrap_or(""))
            );
        }
        h.push_str("</tbody>\n</table>\n");
    }
    h.push_str("</section>\n");

    // Reports owed.
    if !r.reports.is_empty() {
        let _ = write!(h, "<section>\n<h2>Regulatory reports ({})</h2>\n", r.reports.len());
        h.push_str("<table>\n<thead><tr><th>Report</th><th>Transfers</th><th>Amount</th><th>Due</th><th>Status</th><th>Rule and source</th></tr></thead>\n<tbody>\n");
        for line in &r.reports {
            let o = &line.obligation;
            let st: FilingStatus = status(o.deadline.due, line.filed_at, r.generated_at);
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td class=\"mono\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"st-{}\">{}</td><td>{}<br><small>{}</small></td></tr>",
                e(o.kind.name()),
                e(&o.transfer_ids.join(", ")),
                e(&o.amount_vnd.to_string()),
                e(&when(o.deadline.due)),
                st.id(),
                st.id().replace('_', " "),
                e(&o.deadline.rule),
                e(&o.deadline.source)
            );
        }
        h.push_str("</tbody>\n</table>\n</section>\n");
    }

    let _ = write!(
        h,
        "<footer>Generated by {} on {} with floodgate {}. Times are Viet Nam time (UTC+7).</footer>\n</body>\n</html>\n",
        e(&r.generated_by),
        e(&when(r.generated_at)),
        env!("CARGO_PKG_VERSION")
    );
    Ok(h)
}

/// The path as an inline SVG: columns by distance from the sources, one row per node in a
/// column, edges as arrows labelled with amount and time.
fn path_svg(p: &FundPath) -> Result<String, ReportError> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, n) in p.nodes.iter().enumerate() {
        if index.insert(n.id.as_str(), i).is_some() {
            return Err(ReportError::InvalidField {
                format: FORMAT,
                field: format!("path.nodes[{i}].id"),
                message: format!("'{}' is used by two nodes", n.id),
            });
        }
    }
    let mut edges = Vec::with_capacity(p.edges.len());
    for (i, ed) in p.edges.iter().enumerate() {
        let f = index.get(ed.from.as_str()).copied().ok_or_else(|| ReportError::InvalidField {
            format: FORMAT,
            field: format!("path.edges[{i}].from"),
            message: format!("node '{}' is not in path.nodes", ed.from),
        })?;
        let t = index.get(ed.to.as_str()).copied().ok_or_else(|| ReportError::InvalidField {
            format: FORMAT,
            field: format!("path.edges[{i}].to"),
            message: format!("node '{}' is not in path.nodes", ed.to),
        })?;
        edges.push((f, t, ed));
    }
    // Column = longest distance from a source, bounded by the node count (cycles stop there).
    let n = p.nodes.len();
    let mut col = vec![0usize; n];
    for _ in 0..n {
        let mut changed = false;
        for &(f, t, _) in &edges {
            if f != t && col[t] < col[f] + 1 && col[f] + 1 < n.max(1) {
                col[t] = col[f] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut rows: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, c) in col.iter().enumerate() {
        rows.entry(*c).or_default().push(i);
    }
    let mut pos = vec![(0usize, 0usize); n];
    for (c, ids) in &rows {
        for (r, &i) in ids.iter().enumerate() {
            pos[i] = (*c, r);
        }
    }
    const COL_W: usize = 265;
    const ROW_H: usize = 110;
    const BOX_W: usize = 150;
    const TOP: usize = 16;
    const BOX_H: usize = 52;
    const PAD: usize = 20;
    let cols = rows.keys().next_back().map_or(1, |c| c + 1);
    let max_rows = rows.values().map(Vec::len).max().unwrap_or(1);
    let width = PAD * 2 + (cols - 1) * COL_W + BOX_W;
    let height = PAD * 2 + TOP + (max_rows - 1) * ROW_H + BOX_H + 8;
    let xy = |i: usize| (PAD + pos[i].0 * COL_W, PAD + TOP + pos[i].1 * ROW_H);
    let e = escape;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"fund-flow path\" font-family=\"system-ui, sans-serif\" font-size=\"11\">\n\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#444\"/></marker></defs>\n"
    );
    for (k, &(f, t, ed)) in edges.iter().enumerate() {
        let (fx, fy) = xy(f);
        let (tx, ty) = xy(t);
        let (x1, y1) = (fx + BOX_W, fy + BOX_H / 2);
        let (x2, y2) = if t == f { (tx + BOX_W / 2, ty) } else { (tx, ty + BOX_H / 2) };
        // Parallel edges between the same pair are bent apart.
        let bend = edges[..k].iter().filter(|(a, b, _)| (*a, *b) == (f, t)).count() as i64 * 18;
        let (mx, my) = ((x1 + x2) / 2, ((y1 + y2) / 2) as i64 - bend);
        let label = format!("{} {}", ed.amount.to_decimal_string(ed.decimals), ed.asset);
        let _ = writeln!(
            s,
            "<g><title>{} → {}: {} at {}{}</title><path d=\"M{x1},{y1} Q{mx},{my} {x2},{y2}\" fill=\"none\" stroke=\"#444\" stroke-width=\"1.4\" marker-end=\"url(#arrow)\"/>\
             <text x=\"{mx}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\" font-weight=\"600\">{}</text><text x=\"{mx}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\" fill=\"#5f6368\">{}</text></g>",
            e(&p.nodes[f].label),
            e(&p.nodes[t].label),
            e(&label),
            e(&when(ed.time)),
            ed.tx.as_deref().map(|x| format!(", tx {}", e(x))).unwrap_or_default(),
            my - 6,
            e(&label),
            my + 13,
            e(&when(ed.time)[..16])
        );
    }
    for (i, node) in p.nodes.iter().enumerate() {
        let (x, y) = xy(i);
        let fill = category_colour(&node.category);
        let _ = writeln!(
            s,
            "<g><title>{}{} ({})</title><rect x=\"{x}\" y=\"{y}\" width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"6\" fill=\"{fill}\" fill-opacity=\"0.12\" stroke=\"{fill}\" stroke-width=\"2\"/>\
             <text x=\"{}\" y=\"{}\" font-family=\"ui-monospace, monospace\" font-weight=\"600\">{}</text>\
             <text x=\"{}\" y=\"{}\">{}</text><text x=\"{}\" y=\"{}\" fill=\"{fill}\" font-weight=\"600\">{}</text></g>",
            e(&node.label),
            node.name.as_deref().map(|x| format!(" — {}", e(x))).unwrap_or_default(),
            e(&node.category),
            x + 8,
            y + 16,
            e(&short(&node.label)),
            x + 8,
            y + 31,
            e(&short_name(node.name.as_deref().unwrap_or(""))),
            x + 8,
            y + 45,
            e(&node.category)
        );
    }
    s.push_str("</svg>\n");
    Ok(s)
}

fn short_name(s: &str) -> String {
    // About what fits in a node box at the SVG's 11 px font.
    if s.chars().count() <= 22 {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(21).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str) -> PathNode {
        PathNode { id: id.into(), label: id.into(), name: None, category: "unknown".into() }
    }

    fn edge(from: &str, to: &str) -> PathEdge {
        PathEdge {
            from: from.into(),
            to: to.into(),
            amount: Amount::from(1u64),
            decimals: 0,
            asset: "BTC".into(),
            time: Timestamp(1_770_000_000),
            tx: None,
        }
    }

    /// `(x, y)` of each `<rect>` in drawing order.
    fn boxes(svg: &str) -> Vec<(usize, usize)> {
        svg.split("<rect x=\"")
            .skip(1)
            .map(|r| {
                let x = r.split('"').next().unwrap().parse().unwrap();
                let y = r.split("y=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
                (x, y)
            })
            .collect()
    }

    #[test]
    fn fan_out_is_drawn_in_columns_and_rows_and_cycles_terminate() {
        let p = FundPath {
            nodes: vec![node("a"), node("b"), node("c"), node("d")],
            edges: vec![edge("a", "b"), edge("a", "c"), edge("c", "d"), edge("a", "b")],
        };
        let b = boxes(&path_svg(&p).unwrap());
        assert_eq!(b[1].0, b[2].0, "b and c are one hop from a: same column");
        assert_ne!(b[1].1, b[2].1, "… in different rows");
        assert!(b[3].0 > b[2].0 && b[1].0 > b[0].0);
        let svg = path_svg(&p).unwrap();
        assert_eq!(svg.matches("marker-end=").count(), 4, "parallel edges are both drawn");
        // A cycle still lays out.
        let cyc = FundPath {
            nodes: vec![node("a"), node("b")],
            edges: vec![edge("a", "b"), edge("b", "a")],
        };
        assert_eq!(boxes(&path_svg(&cyc).unwrap()).len(), 2);
    }

    #[test]
    fn escapes_every_markup_character() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(short("TYh6mgoMNZTCsgpYHBz7gttEfrQmDMABub"), "TYh6mgoM…DMABub");
        assert_eq!(short("E1234"), "E1234");
    }
}
