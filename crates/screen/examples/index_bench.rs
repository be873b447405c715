//! The persistent index, measured: `cargo run -p floodgate-screen --release --example index_bench`.
//!
//! Loads the SDN and UN lists into a `Screener` in a temporary data directory, then in the same
//! run:
//! * opens it again and answers one query, with the mapped index (after) and with the index
//!   removed so that the matcher is rebuilt from `screening.db` (before: what every process
//!   did until the index existed, plus writing the index again);
//! * screens the 100,000 yente negatives (names with date of birth and nationality) on every
//!   core through the index, beside a brute-force scan of every name for a sample of them
//!   (the scan of all 100,000 would take hours; its time is extrapolated and says so).
#![allow(clippy::print_stdout, clippy::unwrap_used)] // a report printed for a human

use std::time::{Duration, Instant};

use floodgate_screen::index::INDEX_FILE;
use floodgate_screen::loaders::{ofac_advanced, un_xml};
use floodgate_screen::{eval, NameQuery, ScoreConfig, Screener};

fn first_query(dir: &std::path::Path, q: &str) -> (Duration, bool, usize) {
    let t = Instant::now();
    let s = Screener::open(dir, ScoreConfig::default(), None).unwrap();
    let hits = s.matcher().screen(NameQuery::name(q)).len();
    (t.elapsed(), s.matcher().is_mapped(), hits)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let root = floodgate_testdata::root().expect("test data (../shared/data) is required");
    let runs: usize = std::env::var("RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let t = Instant::now();
    let sdn = ofac_advanced::load(&root.join("sanctions/ofac-sdn/sdn_advanced.xml.bz2")).unwrap();
    let un = un_xml::load(&root.join("sanctions/un-consolidated/UN_consolidated.xml")).unwrap();
    println!("parsed SDN + UN in {:.1?}", t.elapsed());
    let mut s = Screener::open(dir, ScoreConfig::default(), None).unwrap();
    let t = Instant::now();
    s.load(sdn).unwrap();
    s.load(un).unwrap();
    println!("stored both, each load rebuilding and writing the index: {:.1?}", t.elapsed());
    println!("(entities, names) = {:?}", s.matcher().len());
    drop(s);
    let idx = dir.join(INDEX_FILE);
    println!("index file: {} bytes", std::fs::metadata(&idx).unwrap().len());

    let q = "Abu Bakr al-Baghdadi";
    let mut after = Vec::new();
    for _ in 0..runs {
        let (d, mapped, hits) = first_query(dir, q);
        assert!(mapped && hits > 0);
        after.push(d);
    }
    let mut before = Vec::new();
    for _ in 0..runs {
        std::fs::remove_file(&idx).unwrap();
        let (d, mapped, hits) = first_query(dir, q);
        assert!(!mapped && hits > 0);
        before.push(d);
    }
    println!(
        "open + first query ({q:?}), median of {runs}: mapped index {:.1?}; rebuilt from screening.db {:.1?}",
        median(after),
        median(before)
    );

    let ev = root.join("screening-eval/yente-candidate-generation");
    let mut neg = eval::read_queries(&ev.join("negatives_global.csv")).unwrap();
    neg.extend(eval::read_queries(&ev.join("negatives_us.csv")).unwrap());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let s = Screener::open(dir, ScoreConfig::default(), None).unwrap();
    let m = s.matcher();
    assert!(m.is_mapped());
    let t = Instant::now();
    let res = m.screen_many(neg.clone(), threads);
    let batch = t.elapsed();
    let with_hit = res.iter().filter(|h| !h.is_empty()).count();
    println!(
        "{} names, indexed, {threads} threads, fresh mapped index: {batch:.1?} ({with_hit} with a hit)",
        neg.len()
    );
    let t = Instant::now();
    let res2 = m.screen_many(neg.clone(), threads);
    println!("same names again (names already prepared): {:.1?}", t.elapsed());
    assert_eq!(res2.len(), res.len());
    let sample = 40;
    let t = Instant::now();
    let mut missed = 0;
    for (i, q) in neg.iter().take(sample).enumerate() {
        let pq = m.prepare(q.clone());
        let all = m.screen_brute_force(&pq);
        missed += all.iter().filter(|h| !res[i].iter().any(|x| x.entity_id == h.entity_id)).count();
    }
    let brute = t.elapsed();
    println!(
        "brute force, 1 thread, first {sample} names: {brute:.1?} -> {:.0?} per name, ≈ {:.0} s for all {} on 1 thread; hits the index missed in the sample: {missed}",
        brute / sample as u32,
        brute.as_secs_f64() / sample as f64 * neg.len() as f64,
        neg.len()
    );
}
