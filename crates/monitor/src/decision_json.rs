//! A decision's JSON text, written straight into a string: the same bytes as
//! `serde_json::to_writer` writes for the derived [`serde::Serialize`] of [`Decision`], field by
//! field in the same order, with less work per byte. A decision is mostly text (reasons,
//! sources, notes: ~1.6 KB on a typical ledger), and serde_json looks every byte of a string up
//! in its escape table; here a string is first checked 16 bytes at a time and, as almost every
//! one needs no escape, copied whole.

use std::fmt::Write;

use crate::decision::{Decision, Hit, HitKind, ReportDue, RuleError};
use crate::pack::Severity;

/// Whether `b` holds a byte JSON escapes (a control character, `"` or `\`). Checked in
/// blocks of 16 bytes without an early exit inside a block, which the compiler vectorizes.
fn needs_escape(b: &[u8]) -> bool {
    let bad = |x: u8| x < 0x20 || x == b'"' || x == b'\\';
    let mut blocks = b.chunks_exact(16);
    for block in &mut blocks {
        if block.iter().fold(false, |m, &x| m | bad(x)) {
            return true;
        }
    }
    blocks.remainder().iter().any(|&x| bad(x))
}

/// `s` as a JSON string, escaped as serde_json escapes it: `\"`, `\\`, `\b`, `\f`, `\n`,
/// `\r`, `\t`, other control characters as `\u00xx` (lowercase hex), everything else as is.
pub(crate) fn push_str(out: &mut String, s: &str) {
    out.push('"');
    if needs_escape(s.as_bytes()) {
        let mut start = 0;
        for (i, c) in s.char_indices() {
            let esc: &str = match c {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\u{8}' => "\\b",
                '\u{c}' => "\\f",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                c if (c as u32) < 0x20 => "",
                _ => continue,
            };
            out.push_str(&s[start..i]);
            if esc.is_empty() {
                let _ = write!(out, "\\u{:04x}", c as u32);
            } else {
                out.push_str(esc);
            }
            start = i + c.len_utf8();
        }
        out.push_str(&s[start..]);
    } else {
        out.push_str(s);
    }
    out.push('"');
}

/// `"key":` (keys are the struct's field names: none needs escaping).
fn key(out: &mut String, first: bool, k: &str) {
    if !first {
        out.push(',');
    }
    out.push('"');
    out.push_str(k);
    out.push_str("\":");
}

fn str_field(out: &mut String, first: bool, k: &str, v: &str) {
    key(out, first, k);
    push_str(out, v);
}

fn num_field(out: &mut String, k: &str, v: impl std::fmt::Display) {
    key(out, false, k);
    let _ = write!(out, "{v}");
}

fn opt_num_field(out: &mut String, k: &str, v: Option<u64>) {
    match v {
        Some(v) => num_field(out, k, v),
        None => {
            key(out, false, k);
            out.push_str("null");
        }
    }
}

/// `[…]` of `items`, each written by `each`.
fn array<T>(out: &mut String, k: &str, items: &[T], mut each: impl FnMut(&mut String, &T)) {
    key(out, false, k);
    out.push('[');
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        each(out, x);
    }
    out.push(']');
}

fn kind_str(k: HitKind) -> &'static str {
    match k {
        HitKind::Typology => "typology",
        HitKind::Rule => "rule",
        HitKind::Report => "report",
    }
}

fn severity_str(s: Severity) -> &'static str {
    match s {
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

fn hit(out: &mut String, h: &Hit) {
    out.push('{');
    str_field(out, true, "rule_id", &h.rule_id);
    str_field(out, false, "kind", kind_str(h.kind));
    str_field(out, false, "severity", severity_str(h.severity));
    str_field(out, false, "action", h.action.as_str());
    num_field(out, "score", h.score);
    str_field(out, false, "reason", &h.reason);
    key(out, false, "evidence");
    out.push_str(h.evidence.as_json());
    str_field(out, false, "source", &h.source);
    out.push('}');
}

fn report(out: &mut String, r: &ReportDue) {
    out.push('{');
    str_field(out, true, "report", &r.report);
    str_field(out, false, "jurisdiction", &r.jurisdiction);
    str_field(out, false, "customer_id", &r.customer_id);
    str_field(out, false, "transfer_id", &r.transfer_id);
    str_field(out, false, "local_day", &r.local_day);
    num_field(out, "amount_vnd", r.amount_vnd);
    str_field(out, false, "threshold", &r.threshold);
    array(out, "transfer_ids", &r.transfer_ids, |o, s| push_str(o, s));
    str_field(out, false, "source", &r.source);
    out.push('}');
}

fn rule_error(out: &mut String, e: &RuleError) {
    out.push('{');
    str_field(out, true, "rule_id", &e.rule_id);
    str_field(out, false, "message", &e.message);
    out.push('}');
}

impl Decision {
    /// Appends the decision's JSON text (one object, no newline) to `out`: byte for byte what
    /// `serde_json::to_writer` writes for it, with less work per byte of text.
    ///
    /// # Errors
    /// When a group alert's evidence cannot be written as JSON (never for the values the
    /// engine builds); `out` then holds part of the text.
    pub fn write_json(&self, out: &mut String) -> Result<(), serde_json::Error> {
        out.push('{');
        str_field(out, true, "transfer_id", &self.transfer_id);
        str_field(out, false, "customer_id", &self.customer_id);
        key(out, false, "time");
        match self.time.rfc3339_bytes() {
            Some(b) => {
                out.push('"');
                out.push_str(std::str::from_utf8(&b).unwrap_or_default());
                out.push('"');
            }
            None => push_str(out, &self.time.to_rfc3339()),
        }
        str_field(out, false, "direction", self.direction.as_str());
        str_field(out, false, "asset", &self.asset);
        if let Some(r) = self.rail {
            str_field(out, false, "rail", r.as_str());
        }
        str_field(out, false, "amount", &self.amount);
        opt_num_field(out, "amount_vnd", self.amount_vnd);
        opt_num_field(out, "amount_usd_cents", self.amount_usd_cents);
        str_field(out, false, "action", self.action.as_str());
        num_field(out, "score", self.score);
        array(out, "hits", &self.hits, hit);
        array(out, "reports_due", &self.reports_due, report);
        array(out, "notes", &self.notes, |o, s| push_str(o, s));
        array(out, "rule_errors", &self.rule_errors, rule_error);
        if !self.group_alerts.is_empty() {
            // Rare (a group crossing its threshold), and its evidence is a `Value`: serde_json.
            key(out, false, "group_alerts");
            out.push_str(&serde_json::to_string(&self.group_alerts)?);
        }
        str_field(out, false, "pack", &self.pack);
        out.push('}');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::decision::Evidence;
    use crate::pack::Action;
    use floodgate_types::{Direction, Rail, Timestamp};

    /// Every character below 0x80, a few beyond (2-, 3- and 4-byte UTF-8) and strings with
    /// escapes at the edges of the 16-byte blocks come out as serde_json writes them.
    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut cases: Vec<String> = (0u8..0x80).map(|b| char::from(b).to_string()).collect();
        cases.extend(
            ["", "é", "Nguyễn Văn Đài", "中兴", "💸 \u{7f}", "a\u{2028}b"].map(String::from),
        );
        for n in [0, 1, 14, 15, 16, 17, 31, 32, 33] {
            for c in ['"', '\\', '\n', '\u{1}', '\u{1f}', 'x'] {
                let mut s = "a".repeat(n);
                s.push(c);
                s.push_str("tail ✓");
                cases.push(s);
            }
        }
        for s in cases {
            let mut out = String::new();
            push_str(&mut out, &s);
            assert_eq!(out, serde_json::to_string(&s).unwrap(), "{s:?}");
        }
    }

    /// Each enum's text is its serde name.
    #[test]
    fn enum_names_are_their_serde_names() {
        let q = |s: &str| format!("\"{s}\"");
        let json = |v: &dyn Fn() -> serde_json::Result<String>| v().unwrap();
        for k in [HitKind::Typology, HitKind::Rule, HitKind::Report] {
            assert_eq!(q(kind_str(k)), json(&|| serde_json::to_string(&k)));
        }
        for s in [Severity::Low, Severity::Medium, Severity::High, Severity::Critical] {
            assert_eq!(q(severity_str(s)), json(&|| serde_json::to_string(&s)));
        }
        for a in [Action::Allow, Action::Review, Action::Hold, Action::Block] {
            assert_eq!(q(a.as_str()), json(&|| serde_json::to_string(&a)));
        }
        for d in [Direction::Deposit, Direction::Withdrawal, Direction::Internal] {
            assert_eq!(q(d.as_str()), json(&|| serde_json::to_string(&d)));
        }
        for r in [Rail::Bank, Rail::Cash] {
            assert_eq!(q(r.as_str()), json(&|| serde_json::to_string(&r)));
        }
    }

    /// Every decision of a generated world (every typology, report triggers, group alerts,
    /// notes) is written as serde_json writes it.
    #[test]
    fn a_generated_worlds_decisions_are_written_as_serde_json_writes_them() {
        use crate::synth::{generate, SynthConfig};
        let w =
            generate(SynthConfig { seed: 7, background_customers: 200, per_typology: 4, days: 10 });
        let engine = crate::engine::Engine::new(
            crate::pack::Pack::builtin_vn(),
            floodgate_types::AssetRegistry::builtin(),
            crate::fiat::RateTable::builtin(),
            w.customers.clone(),
            w.facts(),
        );
        let mut m = crate::monitor::Monitor::in_memory(engine);
        let (mut n, mut groups) = (0, 0);
        for ev in &w.events {
            if let crate::monitor::Processed::Decided(d) = m.process(ev).unwrap() {
                let mut out = String::new();
                d.write_json(&mut out).unwrap();
                assert_eq!(out, serde_json::to_string(&*d).unwrap());
                n += 1;
                groups += usize::from(!d.group_alerts.is_empty());
            }
        }
        assert!(n > 1000 && groups > 0, "{n} decisions, {groups} with group alerts");
    }

    fn decision() -> Decision {
        Decision {
            transfer_id: "t-\"1\"".into(),
            customer_id: "c\\1".into(),
            time: Timestamp(1_756_807_200),
            direction: Direction::Withdrawal,
            asset: "USDT-TRC20".into(),
            rail: None,
            amount: "100000000".into(),
            amount_vnd: Some(2_600_000_000),
            amount_usd_cents: None,
            action: Action::Hold,
            score: 40,
            hits: vec![Hit {
                rule_id: "structuring".into(),
                kind: HitKind::Typology,
                severity: Severity::Medium,
                action: Action::Hold,
                score: 30,
                reason: "line\nbreak\ttab \u{1} ✓".into(),
                evidence: Evidence::from(serde_json::json!({"a": [1, "x\"y"], "b": null})),
                source: "FATF".into(),
            }],
            reports_due: vec![ReportDue {
                report: "large_value".into(),
                jurisdiction: "vn".into(),
                customer_id: "c1".into(),
                transfer_id: "t1".into(),
                local_day: "2025-09-02".into(),
                amount_vnd: u64::MAX,
                threshold: "VND 400000000 per day".into(),
                transfer_ids: vec!["t0".into(), "t1".into()],
                source: "law".into(),
            }],
            notes: vec!["no fiat rate".into(), String::new()],
            rule_errors: vec![RuleError { rule_id: "r".into(), message: "bad \"x\"".into() }],
            group_alerts: Vec::new(),
            pack: "vn".into(),
        }
    }

    /// A decision with every field set (and one with the optional ones absent, a time out
    /// of the fast path's years and a group alert) is written as serde_json writes it.
    #[test]
    fn a_decision_is_written_as_serde_json_writes_it() {
        let mut d = decision();
        let check = |d: &Decision| {
            let mut out = String::new();
            d.write_json(&mut out).unwrap();
            assert_eq!(out, serde_json::to_string(d).unwrap());
        };
        check(&d);
        d.rail = Some(Rail::Bank);
        d.amount_usd_cents = Some(0);
        check(&d);
        d.time = Timestamp(-62_167_219_201);
        d.amount_vnd = None;
        d.hits.clear();
        d.group_alerts.push(crate::decision::GroupAlert {
            customer_id: "m".into(),
            rule_id: "shared_device".into(),
            severity: Severity::High,
            action: Action::Review,
            score: 60,
            reason: "r".into(),
            evidence: serde_json::json!({"z": 1, "a": [2.5]}),
            source: "s".into(),
        });
        check(&d);
    }
}
