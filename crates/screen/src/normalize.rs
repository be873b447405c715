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
use crate::unihan::Unihan;

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
const RUN_TOGETHER_FORMS: &[(&str, usize)] =
    &[("gmbh", 3), ("llc", 4), ("ltd", 4), ("pjsc", 4), ("ojsc", 4), ("jsc", 4), ("ag", 5)];

/// The last token of a company name split into base and legal form when the form is run
/// together with it ("exampleag" -> "example" + "ag"); `None` when the name has only that
/// token and it is short, or no form ends it.
fn run_together_legal_form(tokens: &[String]) -> Option<(String, &'static str)> {
    let last = tokens.last()?;
    if !last.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    RUN_TOGETHER_FORMS.iter().find_map(|(form, min)| {
        let base = last.strip_suffix(form)?;
        (base.len() >= *min).then(|| (base.to_owned(), *form))
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

/// Per-syllable reading alternatives of a name, in writing order.
#[derive(Debug, Clone)]
pub struct Lattice {
    /// Where the readings come from.
    pub source: LatticeSource,
    /// (syllable as written, alternatives, explanation of the first alternative).
    pub syllables: Vec<(String, Vec<String>)>,
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
        let mut rewrites = Vec::new();
        for t in &mut tokens {
            if let Some(d) = number_word(t) {
                rewrites.push(format!("digits/words {t}->{d}"));
                *t = d.to_owned();
            }
        }
        if kind != EntityType::Person {
            if let Some((base, form)) = run_together_legal_form(&tokens) {
                rewrites.push(format!("run-together legal form '{}'", tokens[tokens.len() - 1]));
                tokens.pop();
                tokens.push(base);
                tokens.push(form.to_owned());
            }
        }
        let legal =
            if kind == EntityType::Person { Vec::new() } else { split_legal_forms(&mut tokens) };
        for (f, phrase) in &legal {
            if phrase.contains(' ') {
                rewrites.push(format!("legal form '{phrase}' ({})", f.as_str()));
            }
        }
        if script == Script::Han
            && kind != EntityType::Organization
            && (3..=4).contains(&tokens.len())
        {
            // Chinese personal names: one-syllable family name + given name written as one word
            // in pinyin ("Wang Qishan").
            let given = tokens[1..].concat();
            tokens.truncate(1);
            tokens.push(given);
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
        };
        form.keys = crate::score::FormKeys::of(&form);
        form
    }

    /// The tokens joined without spaces, doubled letters collapsed.
    pub fn joined(&self) -> String {
        collapse(&self.tokens.concat())
    }
}

fn build_lattice(name: &str, script: Script, u: &Unihan) -> Option<Lattice> {
    match script {
        Script::Han | Script::Kana => {
            let mut syllables = Vec::new();
            for c in name.chars().filter(|c| is_cjk(*c)) {
                let mut alts: Vec<String> = Vec::new();
                if let Some(r) = u.readings(c) {
                    for x in r.mandarin.iter().chain(&r.korean).chain(&r.japanese) {
                        if !alts.contains(x) {
                            alts.push(x.clone());
                        }
                    }
                }
                if alts.is_empty() {
                    alts.push(fold(&c.to_string()).replace(' ', ""));
                }
                syllables.push((c.to_string(), alts));
            }
            (!syllables.is_empty())
                .then_some(Lattice { source: LatticeSource::HanReadings, syllables })
        }
        Script::Latin if is_vietnamese(name) => {
            let mut any = false;
            let mut syllables = Vec::new();
            for w in name.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty()) {
                let alts: Vec<String> =
                    u.sino_vietnamese(w).iter().map(|(m, _)| m.clone()).collect();
                if alts.is_empty() {
                    syllables.push((w.to_owned(), vec![fold(w)]));
                } else {
                    any = true;
                    syllables.push((w.to_owned(), alts));
                }
            }
            any.then_some(Lattice { source: LatticeSource::SinoVietnamese, syllables })
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
    fn skeletons() {
        assert_eq!(skeleton("mohamed"), "mhmd");
        assert_eq!(skeleton("mhmd"), "mhmd");
        assert_eq!(skeleton("ali"), "l");
    }
}
