//! Quality evaluation: `cargo run -p floodgate-screen --release --example eval`.
//!
//! Prints recall on the 683 treated UN positives (against the UN list), the false-positive rate
//! of the 100,000 synthetic negatives (against the full SDN list, with their dates of birth and
//! nationalities), precision, and the watchman cross-script pairs.
#![allow(clippy::print_stdout, clippy::unwrap_used)] // a report printed for a human

use std::sync::Arc;

use floodgate_screen::eval;
use floodgate_screen::loaders::{ofac_advanced, un_xml};
use floodgate_screen::unihan::Unihan;
use floodgate_screen::{Matcher, ScoreConfig};

fn main() {
    let root = floodgate_testdata::root().expect("test data (../shared/data) is required");
    let threads: usize =
        std::env::var("EVAL_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(2);
    let mut cfg = ScoreConfig::default();
    if let Some(t) = std::env::var("EVAL_THRESHOLD").ok().and_then(|t| t.parse().ok()) {
        cfg.threshold = t;
    }
    let t = std::time::Instant::now();
    let unihan = Arc::new(Unihan::load(&root.join("unicode/Unihan_Readings.txt.bz2")).unwrap());
    let full = t.elapsed();
    let t = std::time::Instant::now();
    let builtin = floodgate_screen::unihan::builtin();
    println!(
        "Unihan: full table read in {full:.1?}; built-in extract opened in {:.1?} ({} readings of 王)",
        t.elapsed(),
        builtin.readings('王').map_or(0, |r| r.mandarin.len())
    );
    let t = std::time::Instant::now();
    let sdn = ofac_advanced::load(&root.join("sanctions/ofac-sdn/sdn_advanced.xml.bz2")).unwrap();
    let un = un_xml::load(&root.join("sanctions/un-consolidated/UN_consolidated.xml")).unwrap();
    println!(
        "loaded SDN {} ({} entities) and UN {} ({} entities) in {:.1?}",
        sdn.version,
        sdn.entities.len(),
        un.version,
        un.entities.len(),
        t.elapsed()
    );
    let t = std::time::Instant::now();
    let m_sdn = Matcher::new(cfg.clone(), Some(unihan.clone()), &[&sdn]);
    let m_un = Matcher::new(cfg.clone(), Some(unihan.clone()), &[&un]);
    println!(
        "indexed {:?} (entities, names) in {:.1?}; threshold {:.2}",
        m_sdn.len(),
        t.elapsed(),
        cfg.threshold
    );

    let ev = root.join("screening-eval/yente-candidate-generation");
    let pos = eval::read_queries(&ev.join("positives_un_treated.csv")).unwrap();
    let rp = eval::run(&m_un, &pos, threads, false);
    let mut neg = eval::read_queries(&ev.join("negatives_global.csv")).unwrap();
    neg.extend(eval::read_queries(&ev.join("negatives_us.csv")).unwrap());
    let rn = eval::run(&m_sdn, &neg, threads, true);
    let tp = rp.with_hit as f64;
    let fp = rn.with_hit as f64;
    let recall = tp / rp.queries as f64;
    let fpr = fp / rn.queries as f64;
    let precision = tp / (tp + fp).max(1.0);
    println!(
        "positives (UN treated): {} / {} hit -> recall {:.2}% ({:.1?})",
        rp.with_hit,
        rp.queries,
        100.0 * recall,
        rp.elapsed
    );
    for e in &rp.examples {
        println!("  missed: {e}");
    }
    println!(
        "negatives (global+us) vs SDN: {} / {} hit -> FPR {:.3}% ({:.1?} on {threads} threads)",
        rn.with_hit,
        rn.queries,
        100.0 * fpr,
        rn.elapsed
    );
    for e in &rn.examples {
        println!("  false hit: {e}");
    }
    println!(
        "precision {:.4} (positives and negatives pooled as one screening population)",
        precision
    );
    let pairs =
        eval::cross_script(&m_sdn, &root.join("screening-eval/watchman/cross_script_pairs.csv"))
            .unwrap();
    let ok = pairs.iter().filter(|p| p.score >= p.min).count();
    println!("cross-script pairs: {ok} / {} at or above expected similarity", pairs.len());
    for p in &pairs {
        println!(
            "  {} ~ {}: {:.3} (min {:.2}){}",
            p.query,
            p.expected,
            p.score,
            p.min,
            if p.score >= p.min { "" } else { "  BELOW" }
        );
    }
    println!(
        "RESULT recall={:.4} fpr={:.5} precision={:.4} cross_script_ok={ok}/{}",
        recall,
        fpr,
        precision,
        pairs.len()
    );
}
