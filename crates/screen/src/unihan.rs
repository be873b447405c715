//! Per-character readings from the Unicode Han Database (`Unihan_Readings.txt`): Mandarin
//! (`kMandarin`), Japanese (`kJapaneseKun`, `kJapaneseOn`), Korean (`kHangul`) and
//! Sino-Vietnamese (`kVietnamese`).
//!
//! Vietnamese lists and press write Chinese names in their Sino-Vietnamese reading
//! ("Vương Kỳ Sơn" for 王岐山, Wang Qishan). The table maps each Vietnamese syllable to the
//! Mandarin readings of the characters that read that way, so the matcher can compare such a
//! name with its pinyin form. Coverage is partial (about 8,300 characters carry `kVietnamese`);
//! syllables without a reading are compared as written.
//!
//! An extract of the table (the five fields above, 349 KB compressed, Unicode 15.0.0) is built
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
}

/// The reading table.
#[derive(Debug, Default)]
pub struct Unihan {
    han: HashMap<char, HanReadings>,
    /// Vietnamese syllable (lowercase NFC, with diacritics) -> (Mandarin reading, example character).
    viet: HashMap<String, Vec<(String, char)>>,
    /// Character -> its Vietnamese readings (kVietnamese, lowercase NFC).
    viet_of: HashMap<char, Vec<String>>,
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
        for (c, syl) in viet_raw {
            push_unique(viet_of.entry(c).or_default(), syl.clone());
            if let Some(m) = han.get(&c).and_then(|r| r.mandarin.first()) {
                let e = viet.entry(syl).or_default();
                if !e.iter().any(|(x, _)| x == m) {
                    e.push((m.clone(), c));
                }
            }
        }
        Ok(Unihan { han, viet, viet_of })
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
        Script::Latin => is_vietnamese(name),
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
        // Every CJK Unified Ideograph of the basic block has a Mandarin reading.
        let with = ('\u{4E00}'..='\u{9FFF}')
            .filter(|c| u.readings(*c).is_some_and(|r| !r.mandarin.is_empty()))
            .count();
        assert!(with > 20_000, "{with}");
    }
}
