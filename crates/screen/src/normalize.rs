//! Name normalization across scripts.
//!
//! [`fold`] turns any name into lowercase ASCII words: Unicode NFKC, case folding, `đ`/`Đ` to
//! `d` (NFKD leaves it alone), NFKD with combining marks stripped (Vietnamese and other
//! diacritics), then transliteration of what remains with `deunicode` (Cyrillic, Greek, Arabic
//! consonant skeletons, Chinese characters to toneless pinyin syllables) and an own Hangul
//! romanizer close to McCune-Reischauer, the system most sanctions lists use ("Kim Jong Un").
//! Apostrophes vanish, other punctuation separates words.
//!
//! [`NameForm`] prepares a name for comparison: tokens, company legal forms split off as a
//! separate feature ([`LegalForm`]), the source script, and for Chinese/Japanese/Korean and
//! Vietnamese names a reading lattice built from the Unihan table (see [`crate::unihan`]).

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use crate::model::EntityType;
use crate::unihan::{Strs, Unihan};

/// The dominant script of a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Script {
    /// Latin letters (with or without diacritics).
    Latin,
    /// Cyrillic.
    Cyrillic,
    /// Greek.
    Greek,
    /// Arabic and Persian.
    Arabic,
    /// Hebrew.
    Hebrew,
    /// Chinese characters (also kanji and hanja).
    Han,
    /// Korean Hangul.
    Hangul,
    /// Japanese kana (possibly mixed with kanji).
    Kana,
    /// Thai.
    Thai,
    /// Anything else (Devanagari, Georgian, …), transliterated by `deunicode`.
    Other,
}

impl Script {
    /// Scripts written without (most) vowels, or whose transliteration gives unreliable
    /// vowels: names from them are compared by consonant skeleton.
    pub fn is_abjad(self) -> bool {
        matches!(self, Script::Arabic | Script::Hebrew | Script::Thai)
    }
}

fn char_script(c: char) -> Option<Script> {
    let u = c as u32;
    Some(match u {
        0x41..=0x5A | 0x61..=0x7A | 0xC0..=0x24F | 0x1E00..=0x1EFF => Script::Latin,
        0x370..=0x3FF | 0x1F00..=0x1FFF => Script::Greek,
        0x400..=0x52F => Script::Cyrillic,
        0x590..=0x5FF => Script::Hebrew,
        0x600..=0x6FF | 0x750..=0x77F | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF => Script::Arabic,
        0xE00..=0xE7F => Script::Thai,
        0x3040..=0x30FF => Script::Kana,
        0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7A3 => Script::Hangul,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FFFF => Script::Han,
        _ if c.is_alphabetic() => Script::Other,
        _ => return None,
    })
}

/// The script most letters of `s` are in (Kana wins over Han: a Japanese name).
pub fn detect_script(s: &str) -> Script {
    let mut counts = [0usize; 10];
    let idx = |s: Script| s as usize;
    for c in s.chars() {
        if let Some(sc) = char_script(c) {
            counts[idx(sc)] += 1;
        }
    }
    if counts[idx(Script::Kana)] > 0 {
        return Script::Kana;
    }
    const ALL: [Script; 10] = [
        Script::Latin,
        Script::Cyrillic,
        Script::Greek,
        Script::Arabic,
        Script::Hebrew,
        Script::Han,
        Script::Hangul,
        Script::Kana,
        Script::Thai,
        Script::Other,
    ];
    ALL.into_iter().max_by_key(|s| counts[idx(*s)]).unwrap_or(Script::Latin)
}

/// Whether a Latin name is written with Vietnamese letters or tone marks (ă â đ ê ô ơ ư, hook
/// above, dot below), also when a letter carries two marks (ầ ố ẫ ự ặ: a vowel mark and a tone
/// mark, one precomposed code point each). The test runs on the canonical decomposition, so
/// precomposed and combining spellings are the same.
pub fn is_vietnamese(s: &str) -> bool {
    s.chars().any(|c| matches!(c, 'đ' | 'Đ'))
        || s.nfd().any(|c| {
            // breve, circumflex, horn, hook above, dot below
            matches!(c, '\u{0306}' | '\u{0302}' | '\u{031B}' | '\u{0309}' | '\u{0323}')
        })
}

/// Whether every part of a Latin name, diacritics removed, has the shape of a Vietnamese
/// syllable (an initial of the Vietnamese alphabet, vowels, one of the finals c, ch, m, n, ng,
/// nh, p, t) and the name has two to four parts: "Khu Chí Quang", "Vuong Ky Son"; not
/// "José García", "Eric Badege". A cheap test, run before the reading table is consulted (so
/// a name that cannot be Vietnamese never decodes it); [`vietnamese_reading`] decides.
pub fn vietnamese_shaped(s: &str) -> bool {
    const INITIALS: &[&str] = &[
        "ngh", "ch", "gh", "gi", "kh", "ng", "nh", "ph", "qu", "th", "tr", "b", "c", "d", "g", "h",
        "k", "l", "m", "n", "p", "r", "s", "t", "v", "x", "",
    ];
    const FINALS: &[&str] = &["ch", "ng", "nh", "c", "m", "n", "p", "t", ""];
    let syllable = |w: &str| {
        INITIALS.iter().filter_map(|i| w.strip_prefix(i)).any(|rest| {
            let v = rest.bytes().take_while(|b| b"aeiouy".contains(b)).count();
            (1..=3).contains(&v) && FINALS.contains(&&rest[v..])
        })
    };
    let parts: Vec<String> =
        fold(s).split(' ').filter(|w| !w.is_empty()).map(str::to_owned).collect();
    (2..=4).contains(&parts.len())
        && parts.iter().all(|w| w.bytes().all(|b| b.is_ascii_lowercase()) && syllable(w))
}

/// The other spelling of a Vietnamese syllable that ends in "y" or "i" after a consonant
/// initial: the two letters are one sound there, and the older spelling writes "i" where
/// today's writes "y" ("lý"/"lí" 李, "kỳ"/"kì", "mỹ"/"mĩ", "sỹ"/"sĩ"); Unihan's kVietnamese
/// gives one of the two ("lí"), names give either ("Ly Thuong Phuc"). `None` for other
/// syllables, and after "qu" ("quý" is not "quí" in every word) or a vowel ("tây").
/// Lowercase NFC in and out.
pub fn i_y_twin(syllable: &str) -> Option<String> {
    const Y: [char; 6] = ['y', 'ý', 'ỳ', 'ỷ', 'ỹ', 'ỵ'];
    const I: [char; 6] = ['i', 'í', 'ì', 'ỉ', 'ĩ', 'ị'];
    let last = syllable.chars().last()?;
    let head = &syllable[..syllable.len() - last.len_utf8()];
    let twin = Y
        .iter()
        .position(|&c| c == last)
        .map(|k| I[k])
        .or_else(|| I.iter().position(|&c| c == last).map(|k| Y[k]))?;
    let consonants_only = !head.is_empty()
        && head.chars().all(|c| c.is_ascii_lowercase() && !"aeiouy".contains(c) || c == 'đ');
    (consonants_only && !head.ends_with("qu")).then(|| format!("{head}{twin}"))
}

/// How a Latin name reads as Vietnamese (issue 13 item 3): with the letters only Vietnamese
/// uses ([`is_vietnamese`]); or, with other marks only (acute, grave, tilde: "Khu Chí
/// Quang"), when every part is a Sino-Vietnamese syllable as written — Spanish and
/// Portuguese names carry acute accents too, but "José" or "García" is no Vietnamese
/// syllable; or typed without any mark ("Vuong Ky Son"), when every part is a Sino-Vietnamese
/// syllable with its marks removed. `None`: not read as Vietnamese.
pub fn vietnamese_reading(s: &str, u: &Unihan) -> Option<VietnameseSpelling> {
    if is_vietnamese(s) {
        return Some(VietnameseSpelling::Marked);
    }
    if !vietnamese_shaped(s) {
        return None;
    }
    let parts: Vec<String> = s
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .map(|w| w.nfc().collect::<String>().to_lowercase())
        .collect();
    // Each part in its own spelling or its i/y twin ([`i_y_twin`]).
    let either = |w: &String, f: &dyn Fn(&str) -> bool| f(w) || i_y_twin(w).is_some_and(|t| f(&t));
    if !s.is_ascii() {
        return parts
            .iter()
            .all(|w| either(w, &|x| u.is_sino_vietnamese(x)))
            .then_some(VietnameseSpelling::Marked);
    }
    parts
        .iter()
        .all(|w| either(w, &|x| !u.vietnamese_spellings(x).is_empty()))
        .then_some(VietnameseSpelling::Unmarked)
}

/// How a Vietnamese name is spelt ([`vietnamese_reading`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VietnameseSpelling {
    /// With its diacritics: each syllable reads as the characters of that spelling.
    Marked,
    /// Without any (plain ASCII): each syllable reads as the characters of every spelling
    /// with diacritics that folds to it, Mandarin and Cantonese readings only.
    Unmarked,
}

const HANGUL_L: [&str; 19] = [
    "k", "kk", "n", "d", "tt", "r", "m", "p", "pp", "s", "ss", "", "j", "jj", "ch", "k", "t", "p",
    "h",
];
const HANGUL_V: [&str; 21] = [
    "a", "ae", "ya", "yae", "o", "e", "yo", "ye", "o", "wa", "wae", "oe", "yo", "u", "wo", "we",
    "wi", "yu", "u", "ui", "i",
];
const HANGUL_T: [&str; 28] = [
    "", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m", "p", "p",
    "t", "t", "ng", "t", "t", "k", "t", "p", "t",
];

/// Romanizes Hangul syllables one word per syllable, close to McCune-Reischauer without
/// breves ("김정은" → "kim jong un"); other characters pass through.
pub fn romanize_hangul(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        let u = c as u32;
        if (0xAC00..=0xD7A3).contains(&u) {
            let i = u - 0xAC00;
            let (l, v, t) = ((i / 588) as usize, ((i % 588) / 28) as usize, (i % 28) as usize);
            out.push(' ');
            out.push_str(HANGUL_L[l]);
            out.push_str(HANGUL_V[v]);
            out.push_str(HANGUL_T[t]);
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

fn is_cjk(c: char) -> bool {
    matches!(char_script(c), Some(Script::Han | Script::Kana))
}

/// Folds a name to lowercase ASCII words separated by single spaces.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let push_word_char = |out: &mut String, c: char| {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if matches!(c, '\'' | '`' | '"') {
            // apostrophes and transliteration marks join ("Sa'adi" -> "saadi")
        } else if !out.ends_with(' ') {
            out.push(' ');
        }
    };
    for c in s.nfkc() {
        match c {
            'đ' | 'Đ' | 'ð' | 'Ð' => out.push('d'),
            'ø' | 'Ø' => out.push('o'),
            'ł' | 'Ł' => out.push('l'),
            'ß' => out.push_str("ss"),
            'æ' | 'Æ' => out.push_str("ae"),
            'œ' | 'Œ' => out.push_str("oe"),
            '\u{2019}' | '\u{2018}' | '\u{02BC}' | '\u{02BB}' | '\u{02BF}' | '\u{02BE}'
            | '\u{00B4}' => {}
            c if c.is_ascii() => push_word_char(&mut out, c),
            c if (0xAC00..=0xD7A3).contains(&(c as u32)) => {
                for r in romanize_hangul(&c.to_string()).chars() {
                    push_word_char(&mut out, r);
                }
            }
            c => {
                let mut decomposed = false;
                for d in c.to_lowercase().nfkd() {
                    if is_combining_mark(d) {
                        continue;
                    }
                    if d.is_ascii() {
                        push_word_char(&mut out, d);
                        decomposed = true;
                    } else {
                        let t = deunicode::deunicode_char(d).unwrap_or(" ");
                        let cjk = is_cjk(d);
                        if cjk && !out.ends_with(' ') {
                            out.push(' ');
                        }
                        for r in t.chars() {
                            push_word_char(&mut out, r);
                        }
                        if cjk && !out.ends_with(' ') {
                            out.push(' ');
                        }
                        decomposed = true;
                    }
                }
                if !decomposed && !out.ends_with(' ') {
                    out.push(' ');
                }
            }
        }
    }
    let words: Vec<&str> = out.split_whitespace().collect();
    words.join(" ")
}

/// A company legal form, grouped into classes that mean the same across languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LegalForm {
    /// Limited liability: Ltd., LLC, GmbH, Công ty TNHH, ООО, 有限公司, S.à r.l., Sdn Bhd …
    LimitedLiability,
    /// Joint-stock: JSC, PJSC, AO, S.A., AG, N.V., plc, Công ty Cổ phần, 股份有限公司 …
    JointStock,
    /// Corporation: Corp., Corporation, Inc.
    Corporation,
    /// Company without more detail: Co., Company, Công ty, 公司.
    Company,
}

impl LegalForm {
    /// A short label.
    pub fn as_str(self) -> &'static str {
        match self {
            LegalForm::LimitedLiability => "limited liability",
            LegalForm::JointStock => "joint-stock",
            LegalForm::Corporation => "corporation",
            LegalForm::Company => "company",
        }
    }
}

/// Folded legal-form phrases. Longest phrases first so "co ltd" beats "co".
const LEGAL_FORMS: &[(&str, LegalForm)] = &[
    ("obshchestvo s ogranichennoy otvetstvennostyu", LegalForm::LimitedLiability),
    ("obshchestvo s ogranichennoi otvetstvennostyu", LegalForm::LimitedLiability),
    ("gesellschaft mit beschrankter haftung", LegalForm::LimitedLiability),
    ("gesellschaft mit beschraenkter haftung", LegalForm::LimitedLiability),
    ("sociedad de responsabilidad limitada", LegalForm::LimitedLiability),
    ("societe a responsabilite limitee", LegalForm::LimitedLiability),
    ("zakrytoe aktsionernoe obshchestvo", LegalForm::JointStock),
    ("otkrytoe aktsionernoe obshchestvo", LegalForm::JointStock),
    ("publichnoe aktsionernoe obshchestvo", LegalForm::JointStock),
    ("societe par actions simplifiee", LegalForm::JointStock),
    ("aktsionernoe obshchestvo", LegalForm::JointStock),
    ("sociedad anonima", LegalForm::JointStock),
    ("societe anonyme", LegalForm::JointStock),
    ("aktiengesellschaft", LegalForm::JointStock),
    ("s a de c v", LegalForm::JointStock),
    ("cong ty trach nhiem huu han", LegalForm::LimitedLiability),
    ("gu fen you xian gong si", LegalForm::JointStock),
    ("public joint stock company", LegalForm::JointStock),
    ("closed joint stock company", LegalForm::JointStock),
    ("open joint stock company", LegalForm::JointStock),
    ("limited liability company", LegalForm::LimitedLiability),
    ("limited liability partnership", LegalForm::LimitedLiability),
    ("obshchestvo s ogranichennoi otvetstvennostiu", LegalForm::LimitedLiability),
    ("joint stock company", LegalForm::JointStock),
    ("cong ty co phan", LegalForm::JointStock),
    ("you xian gong si", LegalForm::LimitedLiability),
    ("you xian ze ren gong si", LegalForm::LimitedLiability),
    ("company limited", LegalForm::LimitedLiability),
    ("private limited", LegalForm::LimitedLiability),
    ("cong ty tnhh", LegalForm::LimitedLiability),
    ("sp z o o", LegalForm::LimitedLiability),
    ("co ltd", LegalForm::LimitedLiability),
    ("co limited", LegalForm::LimitedLiability),
    ("pte ltd", LegalForm::LimitedLiability),
    ("pvt ltd", LegalForm::LimitedLiability),
    ("sdn bhd", LegalForm::LimitedLiability),
    ("s a r l", LegalForm::LimitedLiability),
    ("l l c", LegalForm::LimitedLiability),
    ("s r l", LegalForm::LimitedLiability),
    ("s a", LegalForm::JointStock),
    ("co phan", LegalForm::JointStock),
    ("gong si", LegalForm::Company),
    ("cong ty", LegalForm::Company),
    ("limited", LegalForm::LimitedLiability),
    ("ltd", LegalForm::LimitedLiability),
    ("llc", LegalForm::LimitedLiability),
    ("llp", LegalForm::LimitedLiability),
    ("tnhh", LegalForm::LimitedLiability),
    ("ooo", LegalForm::LimitedLiability),
    ("tov", LegalForm::LimitedLiability),
    ("gmbh", LegalForm::LimitedLiability),
    ("sarl", LegalForm::LimitedLiability),
    ("srl", LegalForm::LimitedLiability),
    ("bv", LegalForm::LimitedLiability),
    ("bhd", LegalForm::LimitedLiability),
    ("kft", LegalForm::LimitedLiability),
    ("jsc", LegalForm::JointStock),
    ("ojsc", LegalForm::JointStock),
    ("pjsc", LegalForm::JointStock),
    ("cjsc", LegalForm::JointStock),
    ("oao", LegalForm::JointStock),
    ("zao", LegalForm::JointStock),
    ("pao", LegalForm::JointStock),
    ("ao", LegalForm::JointStock),
    ("ag", LegalForm::JointStock),
    ("nv", LegalForm::JointStock),
    ("plc", LegalForm::JointStock),
    ("tbk", LegalForm::JointStock),
    ("corporation", LegalForm::Corporation),
    ("corp", LegalForm::Corporation),
    ("incorporated", LegalForm::Corporation),
    ("inc", LegalForm::Corporation),
    ("company", LegalForm::Company),
    ("co", LegalForm::Company),
];

fn legal_forms_sorted() -> &'static [(Vec<&'static str>, LegalForm)] {
    static SORTED: std::sync::OnceLock<Vec<(Vec<&'static str>, LegalForm)>> =
        std::sync::OnceLock::new();
    SORTED.get_or_init(|| {
        let mut v: Vec<(Vec<&str>, LegalForm)> =
            LEGAL_FORMS.iter().map(|(p, f)| (p.split(' ').collect(), *f)).collect();
        v.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        v
    })
}

/// Whether a legal-form phrase may be removed from the middle of a name: phrases of two or
/// more words, and single words that are nothing but a legal form. Short single words that are
/// also name parts or initials ("co", "ao", "ag", "sa", "nv", "bv", "inc" is kept) are taken
/// off the ends only.
fn removable_inside(phrase: &[&str]) -> bool {
    phrase.len() >= 2
        || matches!(
            phrase[0],
            "gmbh"
                | "llc"
                | "ltd"
                | "limited"
                | "jsc"
                | "ojsc"
                | "pjsc"
                | "cjsc"
                | "ooo"
                | "tnhh"
                | "plc"
                | "sarl"
                | "srl"
                | "llp"
                | "corporation"
                | "incorporated"
                | "aktiengesellschaft"
        )
}

/// Legal forms that people run together with the last word of a company name ("ExampleAG",
/// "RomashkaLLC"), with the shortest base they may leave: a short base ("Haag", "Flag") is
/// more likely a word that happens to end in the same letters.
/// No word ends in "gmbh", "llc", "ltd" or "jsc", so any base of two letters will do beside
/// other words ("PETROPARS UKLtd"); a lone token keeps the longer minimum.
const RUN_TOGETHER_FORMS: &[(&str, usize)] =
    &[("gmbh", 3), ("llc", 4), ("ltd", 4), ("pjsc", 4), ("ojsc", 4), ("jsc", 4), ("ag", 5)];

/// The last token of a company name split into base and legal form when the form is run
/// together with it ("exampleag" -> "example" + "ag"); `None` when the name has only that
/// token and it is short, or no form ends it.
/// `short_base` allows the base of two letters beside other words (issue 13 item 3); without
/// it every base keeps the minimum of [`RUN_TOGETHER_FORMS`] (the OFAC-emulation tokens).
fn run_together_legal_form(tokens: &[String], short_base: bool) -> Option<(String, &'static str)> {
    let last = tokens.last()?;
    if !last.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    RUN_TOGETHER_FORMS.iter().find_map(|(form, min)| {
        let base = last.strip_suffix(form)?;
        let min = if short_base && tokens.len() > 1 && *form != "ag" { 2 } else { *min };
        (base.len() >= min).then(|| (base.to_owned(), *form))
    })
}

/// Splits legal forms off the start and end of a token list, then those in the middle
/// ("Huawei Technologies Co., Ltd. (Shenzhen)", "OOO Romashka" spelled out), never leaving it
/// empty. Returns the forms found, with the phrase as written in folded form.
pub fn split_legal_forms(tokens: &mut Vec<String>) -> Vec<(LegalForm, String)> {
    let mut found = split_legal_forms_at_ends(tokens);
    'inner: loop {
        for (phrase, form) in legal_forms_sorted() {
            let n = phrase.len();
            if tokens.len() <= n || !removable_inside(phrase) {
                continue;
            }
            if let Some(at) = (1..tokens.len() - n)
                .find(|&i| tokens[i..i + n].iter().zip(phrase).all(|(a, b)| a == b))
            {
                let removed: Vec<String> = tokens.drain(at..at + n).collect();
                found.push((*form, removed.join(" ")));
                continue 'inner;
            }
        }
        break;
    }
    found
}

/// The words of five or more letters of the legal-form phrases ("limited", "company",
/// "aktsionernoe", …): a closed vocabulary, so a token one slip away from one of them is that
/// word mistyped.
fn legal_form_words() -> &'static [&'static str] {
    static WORDS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    WORDS.get_or_init(|| {
        let mut v: Vec<&str> =
            LEGAL_FORMS.iter().flat_map(|(p, _)| p.split(' ')).filter(|w| w.len() >= 5).collect();
        v.sort_unstable();
        v.dedup();
        v
    })
}

/// The legal-form word a token is a slip of: Damerau (optimal string alignment) distance of at
/// most one per six letters, at least one, from a word of [`legal_form_words`] ("compny",
/// "limitted", "liablility", "aktsioernoe"); `None` for the words themselves and for tokens
/// of fewer than four letters or with digits.
fn legal_form_word_slip(t: &str) -> Option<&'static str> {
    if t.len() < 4 || !t.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    let words = legal_form_words();
    if words.contains(&t) {
        return None;
    }
    words.iter().copied().find(|w| {
        let limit = (w.len() / 6).max(1);
        w.len().abs_diff(t.len()) <= limit && strsim::osa_distance(t, w) <= limit
    })
}

/// The legal forms split off a name: (class, phrase as written in folded form).
pub type LegalForms = Vec<(LegalForm, String)>;

/// A token read as the legal-form word it is a slip of: (as typed, as read).
pub type ReadSlip = (String, &'static str);

/// [`split_legal_forms`], also reading tokens that are slips of legal-form words as those
/// words ("Joint Stok Compnay X" is "X" with a joint-stock form). A token is read so only
/// when the phrase it completes is then split off, so "Stack" in "Stack Trading" stays a
/// name word. Returns the forms and the tokens read (as typed, as read).
pub fn split_legal_forms_reading_slips(
    tokens: &mut Vec<String>,
) -> (Vec<(LegalForm, String)>, Vec<ReadSlip>) {
    let mut read: Vec<(usize, &'static str)> = tokens
        .iter()
        .enumerate()
        .filter_map(|(i, t)| legal_form_word_slip(t).map(|w| (i, w)))
        .collect();
    let mut plain = tokens.clone();
    let plain_forms = split_legal_forms(&mut plain);
    while !read.is_empty() {
        let mut fixed = tokens.clone();
        for &(i, w) in &read {
            fixed[i] = w.to_owned();
        }
        let fixed_forms = split_legal_forms(&mut fixed);
        // What is left of the name must be tokens as typed: a word read but not split off
        // is read back as typed, and the rest tried again.
        let mut typed: Vec<&String> = tokens.iter().collect();
        let unsplit: Vec<&String> = fixed
            .iter()
            .filter(|t| match typed.iter().position(|x| x == t) {
                Some(k) => {
                    typed.swap_remove(k);
                    false
                }
                None => true,
            })
            .collect();
        if unsplit.is_empty() {
            if fixed.len() >= plain.len() {
                break;
            }
            let read = read.into_iter().map(|(i, w)| (tokens[i].clone(), w)).collect();
            *tokens = fixed;
            return (fixed_forms, read);
        }
        read.retain(|(_, w)| !unsplit.iter().any(|t| t == w));
    }
    *tokens = plain;
    (plain_forms, Vec::new())
}

fn split_legal_forms_at_ends(tokens: &mut Vec<String>) -> Vec<(LegalForm, String)> {
    let mut found = Vec::new();
    'outer: loop {
        for (phrase, form) in legal_forms_sorted() {
            let n = phrase.len();
            if tokens.len() <= n {
                continue;
            }
            let at_end = tokens[tokens.len() - n..].iter().zip(phrase).all(|(a, b)| a == b);
            if at_end {
                let removed = tokens.split_off(tokens.len() - n);
                found.push((*form, removed.join(" ")));
                continue 'outer;
            }
            let at_start = tokens[..n].iter().zip(phrase).all(|(a, b)| a == b);
            if at_start {
                let removed: Vec<String> = tokens.drain(..n).collect();
                found.push((*form, removed.join(" ")));
                continue 'outer;
            }
        }
        break;
    }
    found
}

/// Where the alternatives of a [`Lattice`] come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LatticeSource {
    /// Chinese characters (Hanzi, kanji, hanja) read in Mandarin, Japanese or Korean (Unihan).
    HanReadings,
    /// Vietnamese syllables read as the Chinese characters they stand for (Unihan
    /// kVietnamese → kMandarin).
    SinoVietnamese,
}

/// The Unihan field a reading of a [`Lattice`] comes from (named in explanations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ReadingTable {
    /// `kMandarin` (toneless pinyin).
    Mandarin,
    /// `kCantonese` (in Hong Kong spelling, [`crate::unihan::cantonese_spellings`]).
    Cantonese,
    /// `kJapaneseOn` / `kJapaneseKun`.
    Japanese,
    /// `kHangul`.
    Korean,
    /// No reading in the table: the syllable or character as written (folded).
    Written,
}

impl ReadingTable {
    /// The Unihan field's name.
    pub fn field(self) -> &'static str {
        match self {
            ReadingTable::Mandarin => "kMandarin",
            ReadingTable::Cantonese => "kCantonese",
            ReadingTable::Japanese => "kJapanese",
            ReadingTable::Korean => "kHangul",
            ReadingTable::Written => "as written",
        }
    }
}

/// Per-syllable reading alternatives of a name, in writing order.
#[derive(Debug, Clone)]
pub struct Lattice {
    /// Where the readings come from.
    pub source: LatticeSource,
    /// A Vietnamese name typed without diacritics ([`VietnameseSpelling::Unmarked`]): its
    /// readings are less certain, so they score lower.
    pub unmarked: bool,
    /// (syllable as written, alternatives, the table each alternative comes from).
    pub syllables: Vec<(String, Vec<String>, Vec<ReadingTable>)>,
}

/// A name prepared for comparison.
#[derive(Debug, Clone)]
pub struct NameForm {
    /// The name as given.
    pub original: String,
    /// Folded tokens without legal forms (Chinese names: family name + joined given name).
    pub tokens: Vec<String>,
    /// Legal forms split off.
    pub legal: Vec<(LegalForm, String)>,
    /// The source script.
    pub script: Script,
    /// Reading lattice for Han-script and Vietnamese names, when the Unihan table is loaded.
    pub lattice: Option<Lattice>,
    /// Rewrites applied to the tokens (number words to digits, spelled-out legal forms), for
    /// the explanation.
    pub rewrites: Vec<String>,
    /// The entity type the name was prepared as (acronyms and brands apply to
    /// organizations only).
    pub kind: EntityType,
    /// What the scorer derives from the tokens (collapsed, transliteration and phonetic keys,
    /// skeletons, acronyms), computed here once per name rather than once per comparison.
    /// Built from `tokens`, `script` and `kind` as they are when the form is made.
    pub(crate) keys: crate::score::FormKeys,
    /// The tokens and legal forms the OFAC-emulation mode scores, when they differ from
    /// `tokens` and `legal` (see [`NameForm::ofac_tokens`]).
    ofac: Option<(Vec<String>, LegalForms)>,
    /// The name read with a Spanish, French or Portuguese "SA" run together with its last
    /// word split off ("Banco NacionalSA"), which the scorer tries beside the name as read
    /// (see [`NameForm::sa_reading`]).
    pub(crate) sa_reading: Option<Box<NameForm>>,
}

/// The digits of a number word ("seven" -> "7", "seventh" -> "7th"), so that "Brigade Seven"
/// and "Brigade 7" compare equal.
pub fn number_word(t: &str) -> Option<&'static str> {
    Some(match t {
        "zero" => "0",
        "one" => "1",
        "two" => "2",
        "three" => "3",
        "four" => "4",
        "five" => "5",
        "six" => "6",
        "seven" => "7",
        "eight" => "8",
        "nine" => "9",
        "ten" => "10",
        "eleven" => "11",
        "twelve" => "12",
        "thirteen" => "13",
        "fourteen" => "14",
        "fifteen" => "15",
        "sixteen" => "16",
        "seventeen" => "17",
        "eighteen" => "18",
        "nineteen" => "19",
        "twenty" => "20",
        "first" => "1st",
        "second" => "2nd",
        "third" => "3rd",
        "fourth" => "4th",
        "fifth" => "5th",
        "sixth" => "6th",
        "seventh" => "7th",
        "eighth" => "8th",
        "ninth" => "9th",
        "tenth" => "10th",
        _ => return None,
    })
}

impl NameForm {
    /// Prepares a name. Legal forms are split off unless the name is known to be a person's.
    pub fn new(name: &str, kind: EntityType, unihan: Option<&Unihan>) -> NameForm {
        let script = detect_script(name);
        let folded = fold(name);
        let mut tokens: Vec<String> =
            folded.split(' ').filter(|t| !t.is_empty()).map(str::to_owned).collect();
        // Joined as typed, before number words and legal forms are read: spaces moved inside
        // a legal form ("LIMITEDLIABILITY COMPANY", "JSCEXI BANK") leave it unread on one side.
        let joined_typed = collapse(&tokens.concat());
        let mut rewrites = Vec::new();
        for t in &mut tokens {
            if let Some(d) = number_word(t) {
                rewrites.push(format!("digits/words {t}->{d}"));
                *t = d.to_owned();
            }
        }
        // The tokens as the matcher read them before issue 13 item 3 (no legal-form word read
        // through a slip, no two-letter base of a run-together form), kept when they differ:
        // the OFAC-emulation mode scores them, so it stays as it was.
        let mut ofac = None;
        let legal = if kind == EntityType::Person {
            Vec::new()
        } else {
            let typed = tokens.clone();
            // A base of full length first ("aerojsc" is "aero" + "jsc", not "aer" + "ojsc").
            let strict = run_together_legal_form(&tokens, false);
            let short =
                if strict.is_none() { run_together_legal_form(&tokens, true) } else { None };
            let short_base = short.is_some();
            if let Some((base, form)) = strict.or(short) {
                rewrites.push(format!("run-together legal form '{}'", tokens[tokens.len() - 1]));
                tokens.pop();
                tokens.push(base);
                tokens.push(form.to_owned());
            }
            let (legal, read) = split_legal_forms_reading_slips(&mut tokens);
            if short_base || !read.is_empty() {
                let mut old = typed;
                if let Some((base, form)) = run_together_legal_form(&old, false) {
                    old.pop();
                    old.push(base);
                    old.push(form.to_owned());
                }
                let old_legal = split_legal_forms(&mut old);
                ofac = Some((old, old_legal));
            }
            for (typed, word) in read {
                rewrites.push(format!("legal form word '{typed}' read as '{word}'"));
            }
            legal
        };
        for (f, phrase) in &legal {
            if phrase.contains(' ') {
                rewrites.push(format!("legal form '{phrase}' ({})", f.as_str()));
            }
        }
        if script == Script::Han && kind != EntityType::Organization {
            // Chinese personal names: one-syllable family name + given name written as one word
            // in pinyin ("Wang Qishan").
            for t in std::iter::once(&mut tokens).chain(ofac.as_mut().map(|o| &mut o.0)) {
                if (3..=4).contains(&t.len()) {
                    let given = t[1..].concat();
                    t.truncate(1);
                    t.push(given);
                }
            }
        }
        // Without a table given, the built-in extract serves names that need readings.
        let builtin = if unihan.is_none() && crate::unihan::needs_readings(name) {
            Some(crate::unihan::builtin())
        } else {
            None
        };
        let lattice = unihan.or(builtin.as_deref()).and_then(|u| build_lattice(name, script, u));
        let mut form = NameForm {
            original: name.to_owned(),
            tokens,
            legal,
            script,
            lattice,
            rewrites,
            kind,
            keys: crate::score::FormKeys::default(),
            ofac,
            sa_reading: None,
        };
        form.keys = crate::score::FormKeys::of(&form);
        form.keys.joined_typed = joined_typed;
        form.sa_reading = form.sa_split().map(Box::new);
        form
    }

    /// The name read with a run-together "SA" (sociedad anónima, société anonyme, sociedade
    /// anónima) split off its last word: "Banco NacionalSA" as "Banco Nacional" + S.A.
    /// Only an alternative reading, tried beside the name as read and kept when it scores
    /// higher, because family names end in "-sa" too ("Barbosa", "Sousa", "Moussa"): read so
    /// always, "Transportes Barbosa" would lose its "Barbosa". For organization (or untyped)
    /// names in Latin script without another legal form, whose last word is all letters and
    /// keeps four or more before the "sa".
    fn sa_split(&self) -> Option<NameForm> {
        if self.kind == EntityType::Person || self.script != Script::Latin || !self.legal.is_empty()
        {
            return None;
        }
        let last = self.tokens.last()?;
        let base = last.strip_suffix("sa")?;
        if base.len() < 4 || !last.bytes().all(|b| b.is_ascii_lowercase()) {
            return None;
        }
        let mut alt = self.clone();
        alt.rewrites.push(format!("run-together legal form '{last}'"));
        alt.tokens.pop();
        alt.tokens.push(base.to_owned());
        alt.legal.push((LegalForm::JointStock, "sa".to_owned()));
        alt.ofac = None;
        let joined_typed = std::mem::take(&mut alt.keys.joined_typed);
        alt.keys = crate::score::FormKeys::of(&alt);
        alt.keys.joined_typed = joined_typed;
        Some(alt)
    }

    /// The tokens the OFAC-emulation mode compares: `tokens` read without the tolerances of
    /// issue 13 item 3 (a mistyped legal-form word, a two-letter base run together with a
    /// form), so that mode scores every name as it did before them.
    pub fn ofac_tokens(&self) -> &[String] {
        self.ofac.as_ref().map_or(&self.tokens, |o| &o.0)
    }

    /// The legal forms read without the tolerances of issue 13 item 3 (see
    /// [`NameForm::ofac_tokens`]).
    pub fn ofac_legal(&self) -> &[(LegalForm, String)] {
        self.ofac.as_ref().map_or(&self.legal, |o| &o.1)
    }

    /// The tokens joined without spaces, doubled letters collapsed.
    pub fn joined(&self) -> String {
        collapse(&self.tokens.concat())
    }
}

fn build_lattice(name: &str, script: Script, u: &Unihan) -> Option<Lattice> {
    fn push(alts: &mut Vec<String>, tables: &mut Vec<ReadingTable>, x: &str, t: ReadingTable) {
        if !alts.iter().any(|a| a == x) {
            alts.push(x.to_owned());
            tables.push(t);
        }
    }
    match script {
        Script::Han | Script::Kana => {
            let mut syllables = Vec::new();
            for c in name.chars().filter(|c| is_cjk(*c)) {
                let (mut alts, mut tables) = (Vec::new(), Vec::new());
                if let Some(r) = u.readings(c) {
                    for x in r.mandarin {
                        push(&mut alts, &mut tables, x, ReadingTable::Mandarin);
                    }
                    for x in r.korean {
                        push(&mut alts, &mut tables, x, ReadingTable::Korean);
                    }
                    for x in r.japanese {
                        push(&mut alts, &mut tables, x, ReadingTable::Japanese);
                    }
                }
                if alts.is_empty() {
                    alts.push(fold(&c.to_string()).replace(' ', ""));
                    tables.push(ReadingTable::Written);
                }
                syllables.push((c.to_string(), alts, tables));
            }
            (!syllables.is_empty()).then_some(Lattice {
                source: LatticeSource::HanReadings,
                unmarked: false,
                syllables,
            })
        }
        Script::Latin => {
            let spelling = vietnamese_reading(name, u)?;
            let mut any = false;
            let mut syllables = Vec::new();
            for w in name.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty()) {
                let (mut alts, mut tables) = (Vec::new(), Vec::new());
                // A syllable typed without marks stands for every marked spelling that folds
                // to it ("vuong": vương, vượng, …).
                let lower: String = w.nfc().collect::<String>().to_lowercase();
                // And its i/y twin ("ly" also as "li": Unihan writes 李 "lí").
                let twin = i_y_twin(&lower);
                let forms: Vec<&str> =
                    std::iter::once(lower.as_str()).chain(twin.as_deref()).collect();
                let spellings: Vec<&str> = match spelling {
                    VietnameseSpelling::Marked => forms.clone(),
                    VietnameseSpelling::Unmarked => {
                        forms.iter().flat_map(|f| u.vietnamese_spellings(f).iter()).collect()
                    }
                };
                for sp in &spellings {
                    for (m, _) in u.sino_vietnamese(sp) {
                        push(&mut alts, &mut tables, m, ReadingTable::Mandarin);
                    }
                }
                // Through the characters the syllable stands for, their Cantonese and Japanese
                // readings: the other side may be a Hong Kong or Japanese spelling of the same
                // characters ("Trần" = 陳 = "Chan"). After the Mandarin ones, so those stay
                // first (the candidate index takes the first few). Not the Japanese ones of a
                // name typed without marks: its syllables stand for many characters, and
                // short Japanese readings would meet other names by chance.
                for sp in &spellings {
                    for c in u.sino_vietnamese_chars(sp) {
                        for x in u.readings(c).map_or(Strs::EMPTY, |r| r.cantonese) {
                            push(&mut alts, &mut tables, x, ReadingTable::Cantonese);
                        }
                    }
                }
                if spelling == VietnameseSpelling::Marked {
                    for c in forms.iter().flat_map(|f| u.sino_vietnamese_chars(f)) {
                        for x in u.readings(c).map_or(Strs::EMPTY, |r| r.japanese) {
                            push(&mut alts, &mut tables, x, ReadingTable::Japanese);
                        }
                    }
                }
                if alts.is_empty() {
                    syllables.push((w.to_owned(), vec![fold(w)], vec![ReadingTable::Written]));
                } else {
                    any = true;
                    // Read only through its i/y twin: the explanation says so ("Ly (i/y li)").
                    let own = match spelling {
                        VietnameseSpelling::Marked => u.is_sino_vietnamese(&lower),
                        VietnameseSpelling::Unmarked => !u.vietnamese_spellings(&lower).is_empty(),
                    };
                    let shown = match (&twin, own) {
                        (Some(t), false) => format!("{w} (i/y {t})"),
                        _ => w.to_owned(),
                    };
                    syllables.push((shown, alts, tables));
                }
            }
            any.then_some(Lattice {
                source: LatticeSource::SinoVietnamese,
                unmarked: spelling == VietnameseSpelling::Unmarked,
                syllables,
            })
        }
        _ => None,
    }
}

/// Collapses runs of the same letter ("mohammed" → "mohamed").
pub fn collapse(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last = None;
    for c in s.chars() {
        if Some(c) != last {
            out.push(c);
        }
        last = Some(c);
    }
    out
}

/// The consonant skeleton of a folded token: vowels (and the semivowels w, y) dropped, doubled
/// letters collapsed. Used for names from abjad scripts, whose transliteration has no reliable
/// vowels ("محمد" → "mhmd" ~ "Mohamed" → "mhmd").
pub fn skeleton(token: &str) -> String {
    let s: String = token.chars().filter(|c| !"aeiouyw".contains(*c)).collect();
    let s = collapse(&s);
    if s.is_empty() {
        token.chars().take(1).collect()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_syllable_ending_in_y_or_i_after_a_consonant_has_its_twin() {
        assert_eq!(i_y_twin("lý").as_deref(), Some("lí"));
        assert_eq!(i_y_twin("lí").as_deref(), Some("lý"));
        assert_eq!(i_y_twin("ly").as_deref(), Some("li"));
        assert_eq!(i_y_twin("kỳ").as_deref(), Some("kì"));
        assert_eq!(i_y_twin("mỹ").as_deref(), Some("mĩ"));
        // Not after "qu", a vowel or nothing; not other finals.
        assert_eq!(i_y_twin("quý"), None);
        assert_eq!(i_y_twin("tây"), None);
        assert_eq!(i_y_twin("y"), None);
        assert_eq!(i_y_twin("phúc"), None);
    }

    #[test]
    fn folds_across_scripts() {
        assert_eq!(fold("Nguyễn Văn Đài"), "nguyen van dai");
        assert_eq!(fold("Владимир Путин"), "vladimir putin");
        assert_eq!(fold("王岐山"), "wang qi shan");
        assert_eq!(fold("김정은"), "kim jong un");
        assert_eq!(fold("MANSUR AL-SA’ADI"), "mansur al saadi");
        assert_eq!(fold("ZTE Corp."), "zte corp");
        assert_eq!(fold("Νικόλαος"), "nikolaos");
    }

    #[test]
    fn splits_legal_forms_in_many_languages() {
        let f = NameForm::new("Công ty TNHH Huione", EntityType::Unknown, None);
        assert_eq!(f.tokens, vec!["huione"]);
        assert_eq!(f.legal[0].0, LegalForm::LimitedLiability);
        let f = NameForm::new("ANGLO-CARIBBEAN CO., LTD.", EntityType::Unknown, None);
        assert_eq!(f.tokens, vec!["anglo", "caribbean"]);
        let f = NameForm::new("ООО Ромашка", EntityType::Unknown, None);
        assert_eq!(f.tokens, vec!["romashka"]);
        let f = NameForm::new("中兴通讯股份有限公司", EntityType::Organization, None);
        assert_eq!(f.tokens, vec!["zhong", "xing", "tong", "xun"]);
        assert_eq!(f.legal[0].0, LegalForm::JointStock);
        // Never strips a person's name to nothing, nor a person's name at all.
        let f = NameForm::new("Co", EntityType::Unknown, None);
        assert_eq!(f.tokens, vec!["co"]);
    }

    #[test]
    fn chinese_person_names_group_the_given_name() {
        let f = NameForm::new("王岐山", EntityType::Person, None);
        assert_eq!(f.tokens, vec!["wang", "qishan"]);
    }

    #[test]
    fn vietnamese_with_acute_accents_only_or_without_marks() {
        let u = crate::unihan::builtin();
        // Acute accent only, every part a Sino-Vietnamese syllable as written.
        assert_eq!(vietnamese_reading("Khu Chí Quang", &u), Some(VietnameseSpelling::Marked));
        // No mark at all.
        assert_eq!(vietnamese_reading("Vuong Ky Son", &u), Some(VietnameseSpelling::Unmarked));
        assert_eq!(vietnamese_reading("Vương Kỳ Sơn", &u), Some(VietnameseSpelling::Marked));
        // Spanish and Portuguese names with acute accents; names of other shapes.
        for name in ["José García", "María López", "Sónia Sá", "Eric Badege", "Ali"] {
            assert_eq!(vietnamese_reading(name, &u), None, "{name}");
        }
        assert!(vietnamese_shaped("Nguyen Van Dai") && !vietnamese_shaped("Sergei Lavrov"));
        let form = NameForm::new("Vuong Ky Son", EntityType::Person, None);
        assert!(form.lattice.as_ref().is_some_and(|l| l.unmarked));
    }

    #[test]
    fn vietnamese_letters_with_two_marks_are_vietnamese() {
        // Each of these names has only letters with two marks (or one tone mark on a
        // Vietnamese vowel letter), no plain ă/â/ơ/ư.
        for name in ["Trần Quốc", "Nguyễn Thị Ngọc", "Lê Mẫn", "Lực", "Hầu Ổn", "Đỗ"]
        {
            assert!(is_vietnamese(name), "{name}");
        }
        // Combining spelling (NFD) as well as precomposed.
        let nfd: String = "Trần".nfd().collect();
        assert!(is_vietnamese(&nfd));
        for name in ["José Müller", "Zoë", "Vladimir Putin", "Ñandú"] {
            assert!(!is_vietnamese(name), "{name}");
        }
    }

    #[test]
    fn legal_form_words_mistyped_are_read_only_when_they_complete_a_form() {
        let org = |n: &str| NameForm::new(n, EntityType::Organization, None);
        let f = org("Joint Stok Compnay Sollers");
        assert_eq!(f.tokens, ["sollers"]);
        assert_eq!(f.legal.first().map(|l| l.0), Some(LegalForm::JointStock));
        assert!(f.rewrites.iter().any(|r| r == "legal form word 'stok' read as 'stock'"));
        // A slip of a form word that completes no form is a name word as typed.
        assert_eq!(org("Stack Trading").tokens, ["stack", "trading"]);
        assert_eq!(org("Compass Shipping Co").tokens, ["compass", "shipping"]);
        // Persons keep every token.
        let p = NameForm::new("Compny Limitd", EntityType::Person, None);
        assert_eq!(p.tokens, ["compny", "limitd"]);
        // The OFAC-emulation mode reads the names as before.
        assert_eq!(f.ofac_tokens(), ["joint", "stok", "compnay", "sollers"]);
        let r = org("PETROPARS UKLtd");
        assert_eq!(r.tokens, ["petropars", "uk"]);
        assert_eq!(r.ofac_tokens(), ["petropars", "ukltd"]);
        let same = org("Romashka GmbH");
        assert_eq!(same.ofac_tokens(), same.tokens);
    }

    #[test]
    fn skeletons() {
        assert_eq!(skeleton("mohamed"), "mhmd");
        assert_eq!(skeleton("mhmd"), "mhmd");
        assert_eq!(skeleton("ali"), "l");
    }
}
