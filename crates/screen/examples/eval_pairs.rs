//! Pair-level evaluation (issue 13, item 1):
//! `cargo run -p floodgate-screen --release --example eval_pairs`.
//!
//! Builds the labelled pairs of [`floodgate_screen::pair_eval`] from the OFAC SDN, UN and
//! OpenSanctions data and the yente and watchman fixtures, scores them with the shipped
//! configuration and prints precision, recall and F1 per class at the shipped threshold, and
//! the ROC area per evidence kind; writes the ROC points to `EVAL_ROC` (default
//! `target/eval-pairs-roc.csv`).
//!
//! `EVAL_MODE=ofac` scores with the OFAC-emulation mode; `EVAL_SCORES=FILE` writes every
//! pair's exact score (to compare two builds).
//!
//! `EVAL_SPLIT=tune` (the default) reports the tune split only. The held-out split
//! (`EVAL_SPLIT=held-out`) is for reporting a finished change, never for tuning it
//! (docs/screening.md, "Pair-level evaluation").
#![allow(clippy::print_stdout, clippy::unwrap_used)] // a report printed for a human

use std::collections::BTreeMap;
use std::fmt::Write as _;

use floodgate_screen::loaders::{ftm, ofac_advanced, un_xml};
use floodgate_screen::pair_eval::{self, ClassStats, Evidence, ScoredPair, Split};
use floodgate_screen::ScoreConfig;

fn pct(x: Option<f64>) -> String {
    x.map_or("–".into(), |v| format!("{:.1}", 100.0 * v))
}

fn main() {
    let root = floodgate_testdata::root().expect("test data (../shared/data) is required");
    let threads: usize =
        std::env::var("EVAL_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(2);
    let split = match std::env::var("EVAL_SPLIT").as_deref() {
        Ok("held-out") => Split::HeldOut,
        Ok("tune") | Err(_) => Split::Tune,
        Ok(other) => panic!("EVAL_SPLIT must be tune or held-out, not {other}"),
    };
    // `EVAL_MODE=ofac` scores with the OFAC-emulation mode (to show it unchanged).
    let cfg = match std::env::var("EVAL_MODE").as_deref() {
        Ok("ofac") => ScoreConfig::ofac_emulation(),
        Ok("floodgate") | Err(_) => ScoreConfig::default(),
        Ok(other) => panic!("EVAL_MODE must be floodgate or ofac, not {other}"),
    };
    let t = std::time::Instant::now();
    let sdn = ofac_advanced::load(&root.join("sanctions/ofac-sdn/sdn_advanced.xml.bz2")).unwrap();
    let un = un_xml::load(&root.join("sanctions/un-consolidated/UN_consolidated.xml")).unwrap();
    let os = ftm::load(&root.join("sanctions/opensanctions-samples/yente_t1_entities.ftm.jsonl"))
        .unwrap();
    // The full Unihan table for the generated Hán-Việt pairs: its kVietnamese readings are
    // the built-in extract's, and its other Mandarin fields tell whether a list's Latin name
    // reads the characters (`pair_eval::reads_as`). Scoring uses the built-in extract.
    let unihan =
        floodgate_screen::unihan::Unihan::load(&root.join("unicode/Unihan_Readings.txt.bz2"))
            .unwrap();

    let mut pairs = Vec::new();
    for snap in [&sdn, &un, &os] {
        pairs.extend(pair_eval::list_pairs(snap, 3));
        pairs.extend(pair_eval::generate_variants(snap, &unihan));
    }
    let ev = root.join("screening-eval/yente-candidate-generation");
    let names = |f: &str| -> Vec<String> {
        let mut r = csv::Reader::from_path(ev.join(f)).unwrap();
        r.records().map(|r| r.unwrap()[0].to_owned()).collect()
    };
    pairs.extend(pair_eval::yente_positive_pairs(
        &names("positives_un_untreated.csv"),
        &names("positives_un_treated.csv"),
    ));
    // Every 10th synthetic person (10,000 of 100,000) that shares a family name with an SDN
    // person: the hard part of yente's negatives.
    let mut neg = names("negatives_global.csv");
    neg.extend(names("negatives_us.csv"));
    let neg: Vec<String> = neg.into_iter().step_by(10).collect();
    pairs.extend(pair_eval::yente_negative_pairs(&neg, &sdn));
    let watchman =
        std::fs::read_to_string(root.join("screening-eval/watchman/cross_script_pairs.csv"))
            .unwrap();
    pairs.extend(pair_eval::watchman_pairs(&watchman));
    let built = t.elapsed();
    let total = pairs.len();
    let pairs: Vec<_> = pairs.into_iter().filter(|p| p.split == split).collect();
    let t = std::time::Instant::now();
    let scored = pair_eval::score_all(&cfg, pairs, None, threads);
    println!(
        "{total} pairs built in {built:.1?}; {} in the {} split scored in {:.1?} on {threads} threads; threshold {:.2}",
        scored.len(),
        split.as_str(),
        t.elapsed(),
        cfg.threshold
    );

    let mut by_class: BTreeMap<(Evidence, String), Vec<&ScoredPair>> = BTreeMap::new();
    for p in &scored {
        by_class.entry((p.pair.evidence, p.pair.class.clone())).or_default().push(p);
    }
    let mut report = String::new();
    for evidence in [Evidence::Independent, Evidence::Generated] {
        writeln!(report, "\n{} evidence ({} split)", evidence.as_str(), split.as_str()).unwrap();
        writeln!(report, "| class | pos | neg | TP | FN | FP | precision % | recall % | F1 % |")
            .unwrap();
        writeln!(report, "|---|---:|---:|---:|---:|---:|---:|---:|---:|").unwrap();
        let all: Vec<&ScoredPair> = scored.iter().filter(|p| p.pair.evidence == evidence).collect();
        for ((e, class), v) in &by_class {
            if *e != evidence {
                continue;
            }
            let s = ClassStats::of(v.iter().copied(), cfg.threshold);
            writeln!(
                report,
                "| {class} | {} | {} | {} | {} | {} | {} | {} | {} |",
                s.tp + s.fn_,
                s.fp + s.tn,
                s.tp,
                s.fn_,
                s.fp,
                pct(s.precision()),
                pct(s.recall()),
                pct(s.f1())
            )
            .unwrap();
        }
        let s = ClassStats::of(all.iter().copied(), cfg.threshold);
        writeln!(
            report,
            "| **all {}** | {} | {} | {} | {} | {} | {} | {} | {} |",
            evidence.as_str(),
            s.tp + s.fn_,
            s.fp + s.tn,
            s.tp,
            s.fn_,
            s.fp,
            pct(s.precision()),
            pct(s.recall()),
            pct(s.f1())
        )
        .unwrap();
        if let Some((_, auc)) = pair_eval::roc(&all) {
            writeln!(report, "ROC AUC ({}): {auc:.4}", evidence.as_str()).unwrap();
        }
    }
    println!("{report}");

    let path = std::env::var("EVAL_ROC").unwrap_or_else(|_| "target/eval-pairs-roc.csv".into());
    let mut csv = String::from("evidence,split,threshold,tpr,fpr\n");
    for evidence in [Evidence::Independent, Evidence::Generated] {
        let all: Vec<&ScoredPair> = scored.iter().filter(|p| p.pair.evidence == evidence).collect();
        if let Some((pts, _)) = pair_eval::roc(&all) {
            // Thin the curve to steps of 0.005 in threshold, keeping the end points.
            let mut last = f64::NAN;
            for (i, p) in pts.iter().enumerate() {
                let bucket = (p.threshold * 200.0).floor();
                if i + 1 == pts.len() || i == 0 || bucket != last {
                    writeln!(
                        csv,
                        "{},{},{:.4},{:.5},{:.5}",
                        evidence.as_str(),
                        split.as_str(),
                        p.threshold.min(1.0),
                        p.tpr,
                        p.fpr
                    )
                    .unwrap();
                    last = bucket;
                }
            }
        }
    }
    std::fs::write(&path, csv).unwrap();
    println!("ROC points written to {path}");
    if let Ok(path) = std::env::var("EVAL_SCORES") {
        // Every pair's score, exactly, one per line (to compare two builds).
        let mut out = String::new();
        for p in &scored {
            let (a, b) = (&p.pair.a, &p.pair.b);
            writeln!(out, "{}\t{a}\t{b}\t{:?}\t{:?}", p.pair.class, p.pair.kind, p.score).unwrap();
        }
        std::fs::write(&path, out).unwrap();
        println!("scores written to {path}");
    }
    if std::env::var("EVAL_MISSES").is_ok() {
        for p in scored.iter().filter(|p| p.pair.positive != (p.score >= cfg.threshold)) {
            println!(
                "{} [{}] {:.3} {} ~ {}",
                if p.pair.positive { "MISS" } else { "FALSE" },
                p.pair.class,
                p.score,
                p.pair.a,
                p.pair.b
            );
        }
    }
}
