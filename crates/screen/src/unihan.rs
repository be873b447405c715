//! Per-character readings from the Unicode Han Database (`Unihan_Readings.txt`): Mandarin
//! (`kMandarin`), Cantonese (`kCantonese`), Japanese (`kJapaneseKun`, `kJapaneseOn`), Korean
//! (`kHangul`) and Sino-Vietnamese (`kVietnamese`).
//!
//! Vietnamese lists and press write Chinese names in their Sino-Vietnamese reading
//! ("Vương Kỳ Sơn" for 王岐山, Wang Qishan). The table maps each Vietnamese syllable to the
//! Mandarin readings of the characters that read that way, so the matcher can compare such a
//! name with its pinyin form, and to the Cantonese and Japanese readings of the same
//! characters, so that "Trần" (陳) also matches the Hong Kong spelling "Chan". Coverage is
//! partial (about 8,300 characters carry `kVietnamese`); syllables without a reading are
//! compared as written.
//!
//! An extract of the table (the six fields above, 465 KB compressed, Unicode 15.0.0) is built
//! into the binary: [`builtin`] decodes it once, on the first name that needs readings (a name
//! in Han characters or kana, or a Vietnamese one), so matching works out of the box.
//! [`Unihan::load`] reads a full `Unihan_Readings.txt` instead (the CLI's `--unihan`).
//! Provenance and licence: `crates/screen/data/README.md`.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use unicode_normalization::UnicodeNormalization;

use crate::error::{Result, ScreenError};

/// Readings of one Han character.
#[derive(Debug, Clone, Default)]
pub struct HanReadings {
    /// Toneless pinyin, lowercase ASCII.
    pub mandarin: Vec<String>,
    /// Japanese kun and on readings, lowercase Hepburn-like ASCII with long vowels shortened.
    pub japanese: Vec<String>,
    /// Korean readings romanized as [`crate::normalize::romanize_hangul`] does.
    pub korean: Vec<String>,
    /// Cantonese readings (`kCantonese`, Jyutping) in the spellings of the Hong Kong
    /// government romanisation that names are written in ([`cantonese_spellings`]:
    /// 陳 can4 → "chan", 張 zoeng1 → "cheung", "tseung").
    pub cantonese: Vec<String>,
}

/// The reading table.
#[derive(Debug, Default)]
pub struct Unihan {
    han: HashMap<char, HanReadings>,
    /// Vietnamese syllable (lowercase NFC, with diacritics) -> (Mandarin reading, example character).
    viet: HashMap<String, Vec<(String, char)>>,
    /// Character -> its Vietnamese readings (kVietnamese, lowercase NFC).
    viet_of: HashMap<char, Vec<String>>,
    /// Vietnamese syllable -> every character that reads so, in file order.
    viet_chars: HashMap<String, Vec<char>>,
    /// Vietnamese syllable without its diacritics ("vuong") -> the syllables with diacritics
    /// that fold to it ("vương", "vượng", …), for names typed without them.
    viet_unmarked: HashMap<String, Vec<String>>,
    /// The other Mandarin readings of the full table (kHanyuPinyin, kXHC1983, kTGHZ2013:
    /// 仇 is "chou" in kMandarin but "qiu" as a family name), toneless. Empty for the
    /// built-in extract, which does not carry these fields; the pair evaluation uses them to
    /// tell whether a Latin name reads a name in characters ([`crate::pair_eval::reads_as`]).
    other_mandarin: HashMap<char, Vec<String>>,
}

fn toneless(s: &str) -> String {
    crate::normalize::fold(s).replace(' ', "")
}

impl Unihan {
    /// Loads `Unihan_Readings.txt` or its `.bz2`.
    ///
    /// # Errors
    /// [`ScreenError::Io`] when the file cannot be read, [`ScreenError::Malformed`] naming the
    /// line when a line is not `U+XXXX<TAB>field<TAB>value`.
    pub fn load(path: &Path) -> Result<Unihan> {
        let r = crate::loaders::open_maybe_bz2(path)?;
        Self::parse(r, path)
    }

    /// Parses the table from a reader; `path` is used in messages.
    ///
    /// # Errors
    /// As [`Unihan::load`].
    pub fn parse<R: BufRead>(r: R, path: &Path) -> Result<Unihan> {
        let mut han: HashMap<char, HanReadings> = HashMap::new();
        let mut other_mandarin: HashMap<char, Vec<String>> = HashMap::new();
        let mut viet_raw: Vec<(char, String)> = Vec::new();
        for (i, line) in r.lines().enumerate() {
            let line = line.map_err(|e| ScreenError::io(path, e))?;
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let mut it = line.splitn(3, '\t');
            let (Some(cp), Some(field), Some(value)) = (it.next(), it.next(), it.next()) else {
                return Err(ScreenError::malformed(
                    path,
                    format!("line {}", i + 1),
                    "expected 3 tab-separated fields",
                ));
            };
            let c = cp
                .strip_prefix("U+")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32)
                .ok_or_else(|| {
                    ScreenError::malformed(
                        path,
                        format!("line {}", i + 1),
                        format!("bad code point '{cp}'"),
                    )
                })?;
            match field {
                "kMandarin" => {
                    let e = han.entry(c).or_default();
                    for v in value.split_whitespace() {
                        push_unique(&mut e.mandarin, toneless(v));
                    }
                }
                "kJapaneseKun" | "kJapaneseOn" => {
                    let e = han.entry(c).or_default();
                    for v in value.split_whitespace() {
                        let v = v.to_ascii_lowercase().replace("ou", "o").replace("uu", "u");
                        push_unique(&mut e.japanese, v);
                    }
                }
                "kCantonese" => {
                    let e = han.entry(c).or_default();
                    for v in value.split_whitespace() {
                        for sp in cantonese_spellings(v) {
                            push_unique(&mut e.cantonese, sp);
                        }
                    }
                }
                "kHangul" => {
                    let e = han.entry(c).or_default();
                    for v in value.split_whitespace() {
                        let syl = v.split(':').next().unwrap_or(v);
                        push_unique(
                            &mut e.korean,
                            crate::normalize::romanize_hangul(syl).trim().to_owned(),
                        );
                    }
                }
                "kHanyuPinyin" | "kXHC1983" | "kTGHZ2013" => {
                    let e = other_mandarin.entry(c).or_default();
                    for entry in value.split_whitespace() {
                        let readings = entry.rsplit(':').next().unwrap_or(entry);
                        for v in readings.split(',') {
                            push_unique(e, toneless(v));
                        }
                    }
                }
                "kVietnamese" => {
                    for v in value.split_whitespace() {
                        viet_raw.push((c, v.nfc().collect::<String>().to_lowercase()));
                    }
                }
                _ => {}
            }
        }
        let mut viet: HashMap<String, Vec<(String, char)>> = HashMap::new();
        let mut viet_of: HashMap<char, Vec<String>> = HashMap::new();
        let mut viet_chars: HashMap<String, Vec<char>> = HashMap::new();
        let mut viet_unmarked: HashMap<String, Vec<String>> = HashMap::new();
        for (c, syl) in viet_raw {
            push_unique(viet_unmarked.entry(toneless(&syl)).or_default(), syl.clone());
            push_unique(viet_of.entry(c).or_default(), syl.clone());
            let chars = viet_chars.entry(syl.clone()).or_default();
            if !chars.contains(&c) {
                chars.push(c);
            }
            if let Some(m) = han.get(&c).and_then(|r| r.mandarin.first()) {
                let e = viet.entry(syl).or_default();
                if !e.iter().any(|(x, _)| x == m) {
                    e.push((m.clone(), c));
                }
            }
        }
        Ok(Unihan { han, viet, viet_of, viet_chars, viet_unmarked, other_mandarin })
    }

    /// The readings of a character, if it is in the table.
    pub fn readings(&self, c: char) -> Option<&HanReadings> {
        self.han.get(&c)
    }

    /// The Vietnamese (Hán-Việt) readings of a character (kVietnamese, lowercase NFC), for
    /// generating Hán-Việt spellings of names written in Chinese characters (pair evaluation).
    pub fn vietnamese(&self, c: char) -> &[String] {
        self.viet_of.get(&c).map_or(&[], Vec::as_slice)
    }

    /// Mandarin readings (with an example character) of a Vietnamese syllable such as "vương".
    pub fn sino_vietnamese(&self, syllable: &str) -> &[(String, char)] {
        let k: String = syllable.nfc().collect::<String>().to_lowercase();
        self.viet.get(&k).map_or(&[], Vec::as_slice)
    }

    /// Every character whose Vietnamese (kVietnamese) reading is `syllable` ("trần" → 陳 …),
    /// so that a Hán-Việt syllable can be read in the characters' other readings.
    pub fn sino_vietnamese_chars(&self, syllable: &str) -> &[char] {
        let k: String = syllable.nfc().collect::<String>().to_lowercase();
        self.viet_chars.get(&k).map_or(&[], Vec::as_slice)
    }

    /// The Mandarin readings of the full table's other fields (kHanyuPinyin, kXHC1983,
    /// kTGHZ2013); empty with the built-in extract.
    pub fn other_mandarin(&self, c: char) -> &[String] {
        self.other_mandarin.get(&c).map_or(&[], Vec::as_slice)
    }

    /// Whether a syllable, as written (lowercase NFC, with its diacritics), is the Vietnamese
    /// reading (kVietnamese) of some character ("chí", "quang"; not "josé").
    pub fn is_sino_vietnamese(&self, syllable: &str) -> bool {
        !self.sino_vietnamese_chars(syllable).is_empty()
    }

    /// The Vietnamese syllables with diacritics (kVietnamese) that a syllable typed without
    /// them stands for: "vuong" → vương, vượng, …; empty when none folds to it.
    pub fn vietnamese_spellings(&self, unmarked: &str) -> &[String] {
        self.viet_unmarked.get(&toneless(unmarked)).map_or(&[], Vec::as_slice)
    }
}

/// The spellings of a Cantonese syllable (Jyutping, with or without its tone digit) that
/// names written in the Hong Kong government romanisation use: "can4" → chan, tsan;
/// "zoeng1" → cheung, tseung; "wong4" → wong; "lei5" → lei, lee; "jyun4" → yuen, yun.
/// The initials b/d/g are written p/t/k there; the matcher's voicing pairs accept either.
/// Syllables that are not Jyutping give no spelling.
pub fn cantonese_spellings(jyutping: &str) -> Vec<String> {
    let syl = jyutping.trim_end_matches(|c: char| c.is_ascii_digit()).to_ascii_lowercase();
    if syl.is_empty() || !syl.bytes().all(|b| b.is_ascii_lowercase()) {
        return Vec::new();
    }
    if syl == "m" || syl == "ng" || syl == "hm" || syl == "hng" {
        return vec![syl];
    }
    const INITIALS: &[(&str, &[&str])] = &[
        ("gw", &["kw"]),
        ("kw", &["kw"]),
        ("ng", &["ng"]),
        ("b", &["p"]),
        ("p", &["p"]),
        ("m", &["m"]),
        ("f", &["f"]),
        ("d", &["t"]),
        ("t", &["t"]),
        ("n", &["n"]),
        ("l", &["l"]),
        ("g", &["k"]),
        ("k", &["k"]),
        ("h", &["h"]),
        ("w", &["w"]),
        ("z", &["ch", "ts"]),
        ("c", &["ch", "ts"]),
        ("s", &["s", "sh"]),
        ("j", &["y"]),
    ];
    // Longest first within each group of the same start.
    const FINALS: &[(&str, &[&str])] = &[
        ("aai", &["ai"]),
        ("aau", &["au"]),
        ("aam", &["am"]),
        ("aang", &["ang"]),
        ("aan", &["an"]),
        ("aap", &["ap"]),
        ("aat", &["at"]),
        ("aak", &["ak"]),
        ("aa", &["a", "ah"]),
        ("ai", &["ai"]),
        ("au", &["au", "ow"]),
        ("am", &["am", "um"]),
        ("ang", &["ang"]),
        ("an", &["an"]),
        ("ap", &["ap"]),
        ("at", &["at"]),
        ("ak", &["ak"]),
        ("oeng", &["eung"]),
        ("oek", &["euk"]),
        ("oe", &["eu"]),
        ("eoi", &["ui", "eui"]),
        ("eon", &["un", "eun"]),
        ("eot", &["ut"]),
        ("ei", &["ei", "ee", "i"]),
        ("eu", &["eu"]),
        ("eng", &["eng"]),
        ("em", &["em"]),
        ("ep", &["ep"]),
        ("ek", &["ek"]),
        ("e", &["e", "eh"]),
        ("iu", &["iu"]),
        ("im", &["im"]),
        ("ing", &["ing"]),
        ("in", &["in"]),
        ("ip", &["ip"]),
        ("it", &["it"]),
        ("ik", &["ik"]),
        ("i", &["i", "ee"]),
        ("oi", &["oi", "oy"]),
        ("ou", &["o", "ou"]),
        ("ong", &["ong"]),
        ("on", &["on"]),
        ("ot", &["ot"]),
        ("ok", &["ok"]),
        ("o", &["o", "oh", "or"]),
        ("ui", &["ui", "ooi"]),
        ("ung", &["ung"]),
        ("un", &["un", "oon"]),
        ("ut", &["ut", "oot"]),
        ("uk", &["uk"]),
        ("u", &["u", "oo"]),
        ("yun", &["uen", "un"]),
        ("yut", &["uet", "ut"]),
        ("yu", &["u", "ue"]),
    ];
    let (initial, rest): (&[&str], &str) = INITIALS
        .iter()
        .find_map(|(i, sp)| {
            let rest = syl.strip_prefix(i)?;
            // "ng" is also a final of its own ("ng5"), handled above.
            (!rest.is_empty()).then_some((*sp, rest))
        })
        .unwrap_or((&[""], syl.as_str()));
    let Some(finals) = FINALS.iter().find(|(f, _)| *f == rest).map(|(_, sp)| *sp) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for i in initial {
        for f in finals {
            push_unique(&mut out, format!("{i}{f}"));
        }
    }
    // Sibilants before "i" are written with "z" (思 si1 → sze, 子 zi2 → tsz, 次 ci3 → tsz).
    if rest == "i" {
        match initial.first().copied() {
            Some("s") => push_unique(&mut out, "sze".to_owned()),
            Some("ch") => {
                push_unique(&mut out, "tsz".to_owned());
                push_unique(&mut out, "tze".to_owned());
            }
            _ => {}
        }
    }
    out
}

/// The built-in extract (see the module documentation).
static BUILTIN_BZ2: &[u8] = include_bytes!("../data/unihan-readings.txt.bz2");

/// The built-in reading table, decoded on first use and shared afterwards (the `eval`
/// example prints how long decoding takes).
pub fn builtin() -> Arc<Unihan> {
    static TABLE: OnceLock<Arc<Unihan>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            let r = std::io::BufReader::with_capacity(
                1 << 16,
                bzip2::read::BzDecoder::new(BUILTIN_BZ2),
            );
            let table =
                Unihan::parse(r, Path::new("<built-in Unihan extract>")).unwrap_or_else(|e| {
                    // Cannot happen with the committed file (a test parses it); degrade to
                    // pinyin from deunicode rather than fail screening.
                    tracing::error!(error = %e, "the built-in Unihan extract did not parse");
                    Unihan::default()
                });
            Arc::new(table)
        })
        .clone()
}

/// Whether a name needs the reading table: written in Han characters or kana, or Vietnamese.
pub fn needs_readings(name: &str) -> bool {
    use crate::normalize::{detect_script, is_vietnamese, Script};
    match detect_script(name) {
        Script::Han | Script::Kana => true,
        Script::Latin => is_vietnamese(name) || crate::normalize::vietnamese_shaped(name),
        _ => false,
    }
}

fn push_unique(v: &mut Vec<String>, s: String) {
    if !s.is_empty() && !v.contains(&s) {
        v.push(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_extract_has_the_readings_the_matcher_needs() {
        let u = builtin();
        assert!(u.readings('王').unwrap().mandarin.contains(&"wang".to_owned()));
        assert!(u.readings('山').unwrap().mandarin.contains(&"shan".to_owned()));
        assert!(u.readings('金').unwrap().korean.contains(&"kim".to_owned()));
        assert!(!u.readings('山').unwrap().japanese.is_empty());
        assert!(u.sino_vietnamese("vương").iter().any(|(m, _)| m == "wang"));
        assert!(u.sino_vietnamese("sơn").iter().any(|(m, _)| m == "shan"));
        // Cantonese readings, in the Hong Kong spellings (陳 can4, 張 zoeng1).
        assert!(u.readings('陳').unwrap().cantonese.contains(&"chan".to_owned()));
        assert!(u.readings('張').unwrap().cantonese.contains(&"cheung".to_owned()));
        assert!(u.sino_vietnamese_chars("trần").contains(&'陳'));
        // Every CJK Unified Ideograph of the basic block has a Mandarin reading.
        let with = ('\u{4E00}'..='\u{9FFF}')
            .filter(|c| u.readings(*c).is_some_and(|r| !r.mandarin.is_empty()))
            .count();
        assert!(with > 20_000, "{with}");
    }

    #[test]
    fn cantonese_syllables_in_hong_kong_spelling() {
        let sp = |j: &str| cantonese_spellings(j);
        assert_eq!(sp("can4"), ["chan", "tsan"]);
        assert!(sp("zoeng1").contains(&"cheung".to_owned()));
        assert!(sp("wong4").contains(&"wong".to_owned()));
        assert!(sp("lei5").contains(&"lee".to_owned()));
        assert!(sp("jyun4").contains(&"yuen".to_owned()));
        assert!(
            sp("ceoi4").contains(&"chui".to_owned()) && sp("ceoi4").contains(&"tsui".to_owned())
        );
        assert!(sp("gwok3").contains(&"kwok".to_owned()));
        assert!(sp("si1").contains(&"sze".to_owned()));
        assert!(sp("zi2").contains(&"tsz".to_owned()));
        assert_eq!(sp("ng5"), ["ng"]);
        // Not Jyutping: nothing.
        assert!(sp("xyz1").is_empty());
        assert!(sp("").is_empty());
    }
}
