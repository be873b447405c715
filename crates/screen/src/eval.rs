//! Quality evaluation on the shipped fixtures (`screening-eval/`): recall on yente's treated UN
//! positives against the UN list, false-positive rate of the 100,000 synthetic negatives
//! against the full SDN list, and the watchman cross-script pairs.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Result, ScreenError};
use crate::matcher::Matcher;
use crate::model::PartialDate;
use crate::score::{score_pair, NameQuery};

/// One fixture row as a query: name, date of birth and nationality, as a user would enter them.
pub fn read_queries(path: &Path) -> Result<Vec<NameQuery>> {
    let mut r = csv::Reader::from_path(path)
        .map_err(|e| ScreenError::malformed(path, "header", e.to_string()))?;
    let h = r.headers().map_err(|e| ScreenError::malformed(path, "header", e.to_string()))?.clone();
    let col = |n: &str| h.iter().position(|x| x == n);
    let (name, dob, nat) = (col("full_name"), col("date_of_birth"), col("nationality"));
    let name = name.ok_or_else(|| ScreenError::malformed(path, "header", "no full_name column"))?;
    let mut out = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| {
            ScreenError::malformed(path, format!("record {}", i + 2), e.to_string())
        })?;
        let get = |c: Option<usize>| c.and_then(|c| rec.get(c)).unwrap_or("").trim().to_owned();
        let n = get(Some(name));
        if n.is_empty() {
            continue;
        }
        out.push(NameQuery {
            name: n,
            entity_type: Some(crate::EntityType::Person),
            dob: PartialDate::parse(&get(dob)),
            countries: Some(get(nat)).filter(|c| !c.is_empty()).into_iter().collect(),
            identifiers: Vec::new(),
        });
    }
    Ok(out)
}

/// Counts of one screening run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RunStats {
    /// Queries screened.
    pub queries: usize,
    /// Queries with at least one hit.
    pub with_hit: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// Examples of queries with hits (negatives) or without (positives).
    pub examples: Vec<String>,
}

/// Screens all queries on `threads` threads; counts queries with a hit.
pub fn run(
    m: &Matcher,
    queries: &[NameQuery],
    threads: usize,
    want_hit_examples: bool,
) -> RunStats {
    let t = Instant::now();
    let chunk = queries.len().div_ceil(threads.max(1)).max(1);
    let results: Vec<(usize, Vec<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = queries
            .chunks(chunk)
            .map(|c| {
                s.spawn(move || {
                    let mut n = 0;
                    let mut ex = Vec::new();
                    for q in c {
                        let hits = m.screen(q.clone());
                        if !hits.is_empty() {
                            n += 1;
                        }
                        if hits.is_empty() != want_hit_examples && ex.len() < 20 {
                            let top = hits
                                .first()
                                .map(|h| {
                                    format!(
                                        " -> {} [{}] {:.3}",
                                        h.matched_name, h.entity_id, h.score
                                    )
                                })
                                .unwrap_or_default();
                            ex.push(format!(
                                "{} ({:?}, {:?}){top}",
                                q.name,
                                q.dob.map(|d| d.to_string()),
                                q.countries
                            ));
                        }
                    }
                    (n, ex)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    RunStats {
        queries: queries.len(),
        with_hit: results.iter().map(|r| r.0).sum(),
        elapsed: t.elapsed(),
        examples: results.into_iter().flat_map(|r| r.1).take(20).collect(),
    }
}

/// One cross-script pair result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PairResult {
    /// Query.
    pub query: String,
    /// Expected match.
    pub expected: String,
    /// Minimum expected similarity.
    pub min: f64,
    /// floodgate's score.
    pub score: f64,
}

/// Scores the watchman cross-script pairs (`Query,Expected Match,Min Score,Description`).
pub fn cross_script(m: &Matcher, path: &Path) -> Result<Vec<PairResult>> {
    let text = std::fs::read_to_string(path).map_err(|e| ScreenError::io(path, e))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        let min = f.get(2).and_then(|x| x.parse().ok()).ok_or_else(|| {
            ScreenError::malformed(path, format!("line {}", i + 1), "no min score")
        })?;
        let (score, _) = score_pair(m.config(), f[0], f[1], None, m.unihan());
        out.push(PairResult { query: f[0].into(), expected: f[1].into(), min, score });
    }
    Ok(out)
}
