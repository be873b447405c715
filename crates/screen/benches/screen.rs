//! Screening benchmarks with the brute-force scan as baseline in the same run.
//!
//! `cargo bench -p floodgate-screen --bench screen`. Needs ../shared/data (skips otherwise).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_main, Criterion};
use floodgate_screen::loaders::ofac_advanced;
use floodgate_screen::normalize::NameForm;
use floodgate_screen::score::{compare_names, name_score, score_pair, ScoreConfig};
use floodgate_screen::unihan::Unihan;
use floodgate_screen::{EntityType, Matcher, NameQuery};

fn benches(c: &mut Criterion) {
    let Some(root) = floodgate_testdata::root() else { return };
    let unihan =
        Arc::new(Unihan::load(&root.join("unicode/Unihan_Readings.txt.bz2")).expect("unihan"));
    let cfg = ScoreConfig::default();
    c.bench_function("pair_score/latin", |b| {
        b.iter(|| {
            score_pair(
                &cfg,
                black_box("Nguyen Van Dai"),
                black_box("Nguyễn Văn Đài"),
                None,
                Some(&unihan),
            )
        })
    });
    // The per-pair cost inside screening: both names prepared once (the list side is prepared
    // at load), then compared; beside plain Jaro-Winkler of the same two strings.
    let (qa, qb) = ("Sergie Viktorovich Lavrov", "Sergei Lavrov");
    let fa = NameForm::new(qa, EntityType::Person, None);
    let fb = NameForm::new(qb, EntityType::Person, None);
    c.bench_function("pair_compare/prepared_typo_and_dropped_middle", |b| {
        b.iter(|| compare_names(black_box(&fa), black_box(&fb)))
    });
    // What screening pays per candidate pair: the score without its explanation (the
    // explanation is built only for names that can reach the threshold).
    c.bench_function("pair_score_only/prepared_typo_and_dropped_middle", |b| {
        b.iter(|| name_score(black_box(&fa), black_box(&fb)))
    });
    // A typical candidate that is not a hit: shares a family name only.
    let fc = NameForm::new("Anna Ivanovna Lavrova", EntityType::Person, None);
    c.bench_function("pair_score_only/prepared_non_hit", |b| {
        b.iter(|| name_score(black_box(&fa), black_box(&fc)))
    });
    c.bench_function("pair_compare/jaro_winkler_baseline_non_hit", |b| {
        b.iter(|| strsim::jaro_winkler(black_box(qa), black_box("Anna Ivanovna Lavrova")))
    });
    c.bench_function("pair_compare/jaro_winkler_baseline", |b| {
        b.iter(|| strsim::jaro_winkler(black_box(qa), black_box(qb)))
    });
    // A Hán-Việt name typed without diacritics against pinyin (issue 13 item 3): the reading
    // lattice of every marked spelling, beside Jaro-Winkler of the same two strings.
    let (va, vb) = ("Vuong Ky Son", "Wang Qishan");
    let fv = NameForm::new(va, EntityType::Person, None);
    let fw = NameForm::new(vb, EntityType::Person, None);
    c.bench_function("pair_score_only/prepared_han_viet_unmarked", |b| {
        b.iter(|| name_score(black_box(&fv), black_box(&fw)))
    });
    c.bench_function("pair_compare/jaro_winkler_baseline_han_viet", |b| {
        b.iter(|| strsim::jaro_winkler(black_box(va), black_box(vb)))
    });
    // A brand typed alone against a listed company whose name holds it after a generic lead
    // (issue 13 item 3, an SDN name: word 3), beside Jaro-Winkler.
    let (ba, bb) = ("Sberbank", "SUBSIDIARY BANK SBERBANK OF RUSSIA PUBLIC JOINT STOCK COMPANY");
    let fba = NameForm::new(ba, EntityType::Organization, None);
    let fbb = NameForm::new(bb, EntityType::Organization, None);
    c.bench_function("pair_score_only/prepared_brand_after_lead", |b| {
        b.iter(|| name_score(black_box(&fba), black_box(&fbb)))
    });
    c.bench_function("pair_compare/jaro_winkler_baseline_brand", |b| {
        b.iter(|| strsim::jaro_winkler(black_box(ba), black_box(bb)))
    });
    c.bench_function("pair_score/han_vs_pinyin", |b| {
        b.iter(|| {
            score_pair(&cfg, black_box("王岐山"), black_box("Wang Qishan"), None, Some(&unihan))
        })
    });
    let sdn =
        ofac_advanced::load(&root.join("sanctions/ofac-sdn/sdn_advanced.xml.bz2")).expect("sdn");
    let m = Matcher::new(cfg.clone(), Some(unihan.clone()), &[&sdn]);
    let queries: Vec<_> = [
        "Vladimir Putin",
        "Abu Bakr al-Baghdadi",
        "ZTE Corporation",
        "Kim Jong Un",
        "Maria Fernanda Lopez Garcia",
        "Lazarus Group",
    ]
    .iter()
    .map(|n| m.prepare(NameQuery::name(*n)))
    .collect();
    let mut g = c.benchmark_group("query_vs_full_sdn");
    g.bench_function("indexed", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % queries.len();
            m.screen_prepared(black_box(&queries[i]))
        })
    });
    g.sample_size(10);
    g.bench_function("brute_force", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % queries.len();
            m.screen_brute_force(black_box(&queries[i]))
        })
    });
    g.finish();
}

// criterion's macros generate undocumented functions.
#[allow(missing_docs)]
mod bench_main {
    criterion::criterion_group!(screen, super::benches);
}
criterion_main!(bench_main::screen);
