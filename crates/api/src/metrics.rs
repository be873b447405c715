//! Prometheus text exposition (format 0.0.4), hand-rolled: a handful of counters and one
//! histogram family need no dependency, and the output is checked by a test.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Latency bucket bounds in seconds.
const BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; 11],
    sum: f64,
    count: u64,
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    decisions: BTreeMap<String, u64>,
    alerts: BTreeMap<String, u64>,
}

/// The server's metrics.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    inner: Mutex<Inner>,
}

/// A list version for the exposition.
pub(crate) struct ListGauge<'a> {
    pub(crate) list: &'a str,
    pub(crate) version: &'a str,
    pub(crate) entities: usize,
    pub(crate) age_seconds: i64,
}

/// Escapes a label value (backslash, quote, newline).
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Metrics {
    pub(crate) fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let Ok(mut m) = self.inner.lock() else { return };
        *m.requests.entry((method.to_owned(), route.to_owned(), status)).or_default() += 1;
        let h = m.latency.entry(route.to_owned()).or_default();
        let s = took.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += s;
        h.count += 1;
    }

    pub(crate) fn decision(&self, action: &str, alerted_rules: &[&str]) {
        let Ok(mut m) = self.inner.lock() else { return };
        *m.decisions.entry(action.to_owned()).or_default() += 1;
        for r in alerted_rules {
            *m.alerts.entry((*r).to_owned()).or_default() += 1;
        }
    }

    pub(crate) fn render(&self, lists: &[ListGauge<'_>]) -> String {
        let mut o = String::new();
        let Ok(m) = self.inner.lock() else { return o };
        o.push_str("# HELP floodgate_http_requests_total HTTP requests by method, route and status.\n# TYPE floodgate_http_requests_total counter\n");
        for ((method, route, status), n) in &m.requests {
            let _ = writeln!(
                o,
                "floodgate_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                esc(method),
                esc(route)
            );
        }
        o.push_str("# HELP floodgate_http_request_duration_seconds Request latency by route.\n# TYPE floodgate_http_request_duration_seconds histogram\n");
        for (route, h) in &m.latency {
            let r = esc(route);
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    o,
                    "floodgate_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                o,
                "floodgate_http_request_duration_seconds_bucket{{route=\"{r}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                o,
                "floodgate_http_request_duration_seconds_sum{{route=\"{r}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                o,
                "floodgate_http_request_duration_seconds_count{{route=\"{r}\"}} {}",
                h.count
            );
        }
        o.push_str("# HELP floodgate_kyt_decisions_total KYT decisions served, by action.\n# TYPE floodgate_kyt_decisions_total counter\n");
        for (a, n) in &m.decisions {
            let _ = writeln!(o, "floodgate_kyt_decisions_total{{action=\"{}\"}} {n}", esc(a));
        }
        o.push_str("# HELP floodgate_kyt_alerts_total Rules that fired in KYT decisions served, by rule.\n# TYPE floodgate_kyt_alerts_total counter\n");
        for (r, n) in &m.alerts {
            let _ = writeln!(o, "floodgate_kyt_alerts_total{{rule=\"{}\"}} {n}", esc(r));
        }
        o.push_str("# HELP floodgate_list_entities Entities of each screening list version in force.\n# TYPE floodgate_list_entities gauge\n");
        for l in lists {
            let _ = writeln!(
                o,
                "floodgate_list_entities{{list=\"{}\",version=\"{}\"}} {}",
                esc(l.list),
                esc(l.version),
                l.entities
            );
        }
        o.push_str("# HELP floodgate_list_age_seconds Seconds since each list version in force was loaded.\n# TYPE floodgate_list_age_seconds gauge\n");
        for l in lists {
            let _ = writeln!(
                o,
                "floodgate_list_age_seconds{{list=\"{}\",version=\"{}\"}} {}",
                esc(l.list),
                esc(l.version),
                l.age_seconds
            );
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_counts_and_escapes() {
        let m = Metrics::default();
        m.request("GET", "/v1/cases/{id}", 200, Duration::from_micros(700));
        m.request("GET", "/v1/cases/{id}", 200, Duration::from_millis(30));
        m.decision("hold", &["travel_rule_missing"]);
        let t =
            m.render(&[ListGauge { list: "o\"fac", version: "v1", entities: 3, age_seconds: 5 }]);
        assert!(t.contains("floodgate_http_requests_total{method=\"GET\",route=\"/v1/cases/{id}\",status=\"200\"} 2"));
        assert!(t.contains("le=\"0.001\"} 1\n"));
        assert!(t.contains("le=\"0.05\"} 2\n"));
        assert!(t.contains("le=\"+Inf\"} 2\n"));
        assert!(t.contains("floodgate_kyt_decisions_total{action=\"hold\"} 1"));
        assert!(t.contains("floodgate_kyt_alerts_total{rule=\"travel_rule_missing\"} 1"));
        assert!(t.contains("floodgate_list_entities{list=\"o\\\"fac\",version=\"v1\"} 3"));
    }
}
