//! The name-matching cases the issue says must come out right, and the cross-script pairs.

use floodgate_screen::score::{score_pair, ScoreConfig, DEFAULT_THRESHOLD};
use floodgate_screen::EntityType;

use crate::common::unihan;

#[track_caller]
fn pair(a: &str, b: &str, kind: Option<EntityType>) -> (f64, String) {
    score_pair(&ScoreConfig::default(), a, b, kind, unihan())
}

#[track_caller]
fn assert_hit(a: &str, b: &str, kind: Option<EntityType>) -> String {
    let (s, ev) = pair(a, b, kind);
    assert!(s >= DEFAULT_THRESHOLD, "'{a}' ~ '{b}' should be a hit, got {s:.3}: {ev}");
    ev
}

#[track_caller]
fn assert_no_hit(a: &str, b: &str, kind: Option<EntityType>) {
    let (s, ev) = pair(a, b, kind);
    assert!(s < DEFAULT_THRESHOLD, "'{a}' vs '{b}' must not be a hit, got {s:.3}: {ev}");
}

#[test]
fn chinese_characters_match_pinyin() {
    assert_hit("王岐山", "Wang Qishan", Some(EntityType::Person));
    assert_hit("王岐山", "WANG Qishan", None);
}

#[test]
fn sino_vietnamese_matches_out_of_the_box() {
    // No table given: the built-in extract. Against pinyin and against the characters.
    for other in ["Wang Qishan", "王岐山"] {
        let (s, ev) = score_pair(
            &ScoreConfig::default(),
            "Vương Kỳ Sơn",
            other,
            Some(EntityType::Person),
            None,
        );
        assert!(s >= DEFAULT_THRESHOLD, "{other}: {s:.3} {ev}");
        assert!(ev.contains("Vương->wang") || ev.contains("Vương=王(wang)"), "{ev}");
    }
    // Letters with two marks are Vietnamese too ("Trần" = 陳 chen).
    let (s, ev) = score_pair(
        &ScoreConfig::default(),
        "Trần Cẩm Đào",
        "陳錦濤",
        Some(EntityType::Person),
        None,
    );
    assert!(ev.contains("Sino-Vietnamese"), "{s:.3} {ev}");
}

#[test]
fn sino_vietnamese_reading_matches_pinyin_and_says_so() {
    if unihan().is_none() {
        return;
    }
    let ev = assert_hit("Vương Kỳ Sơn", "Wang Qishan", Some(EntityType::Person));
    assert!(ev.contains("Sino-Vietnamese"), "{ev}");
    assert!(ev.contains("Vương->wang"), "{ev}");
}

#[test]
fn vietnamese_company_legal_form_is_split_off() {
    assert_hit("Công ty TNHH Huione", "Huione", None);
    assert_hit("Huione Group", "HUIONE GROUP", None);
}

#[test]
fn vietnamese_diacritics_fold() {
    assert_hit("Nguyễn Văn Đài", "Nguyen Van Dai", Some(EntityType::Person));
}

#[test]
fn different_vietnamese_given_names_do_not_match() {
    assert_no_hit("Nguyen Van Thang", "Nguyễn Văn Thành", Some(EntityType::Person));
    assert_no_hit("Nguyễn Văn Thắng", "Nguyễn Văn Thành", Some(EntityType::Person));
}

#[test]
fn legal_form_abbreviations_match() {
    let ev = assert_hit("ZTE Corp.", "ZTE Corporation", None);
    assert!(ev.contains("corporation"), "{ev}");
}

#[test]
fn swapped_given_and_family_names_match() {
    assert_hit("Qishan Wang", "Wang Qishan", Some(EntityType::Person));
    assert_hit("SALEK, ABDULHAI", "ABDULHAI SALEK", Some(EntityType::Person));
}

#[test]
fn short_name_never_scores_high_against_a_long_one() {
    assert_no_hit("Li Wei", "Li Wei Dong Sheng Trading", None);
    assert_no_hit("Li Wei", "LI Weidong Zhang Hua", Some(EntityType::Person));
    assert_no_hit("Li Wei", "Mohammed Li Wei Al-Rashid", Some(EntityType::Person));
}

#[test]
fn typos_and_doubled_letters_still_match() {
    assert_hit("MOHAMED ABDEL-HALIM HEMAIDA SALEH", "MOHAMMED ABDEL-HALIM HEMAIDA SALEH", None);
    assert_hit("AREFULLAHA REF GHAZI MOHAMMAD", "AREFULLAH AREF GHAZI MOHAMMAD", None);
    assert_hit("HAFIZ ABUDL SALAM BHUTTAVI", "HAFIZ ABDUL SALAM BHUTTAVI", None);
}

#[test]
fn watchman_cross_script_pairs_reach_their_expected_similarity() {
    let Some(dir) = floodgate_testdata::dir("screening-eval/watchman") else { return };
    let text = std::fs::read_to_string(dir.join("cross_script_pairs.csv")).unwrap();
    let mut failures = Vec::new();
    let mut n = 0;
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        let min: f64 = f[2].parse().unwrap();
        let (s, ev) = pair(f[0], f[1], None);
        n += 1;
        if s < min {
            failures.push(format!("{} ~ {}: {s:.3} < {min} ({ev})", f[0], f[1]));
        }
    }
    assert!(n >= 20, "{n} pairs");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
