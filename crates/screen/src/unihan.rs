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
//! The table is kept in one binary form, sorted and looked up by binary search in place
//! (format below), whether it comes from a file or is built in. An extract (the six fields
//! above, Unicode 15.0.0) is built into the binary in that form
//! (`data/unihan-readings.bin`, generated from `data/unihan-readings.txt.bz2`; a test
//! regenerates it and compares): [`builtin`] is a view of those bytes, with nothing to
//! decompress or parse, so the first name that needs readings (in Han characters or kana,
//! or Vietnamese) costs no more than the next. [`Unihan::load`] reads a full
//! `Unihan_Readings.txt` instead (the CLI's `--unihan`) and builds the same form.
//! Provenance and licence: `crates/screen/data/README.md`.
//!
//! Binary form (all integers `u32` little-endian): the magic `FGUH`, a version, the pool's
//! offset and length, and the offsets of six tables (readings per character; Vietnamese
//! syllable → Mandarin reading and character; character → Vietnamese readings; Vietnamese
//! syllable → characters; syllable without diacritics → syllables with them; character →
//! other Mandarin readings). A table is its key count `n`, lists per key `k`, words per value
//! `s`, then `n` sorted keys (a code point, or a pool offset of a string sorted by bytes),
//! `n·k + 1` list starts, and the values (a pool offset of a string, or a code point). A
//! pool string is one length byte and its UTF-8 bytes.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use unicode_normalization::UnicodeNormalization;

use crate::error::{Result, ScreenError};

const MAGIC: &[u8; 4] = b"FGUH";
const VERSION: u32 = 1;
const HEADER: usize = 4 * (4 + TABLES);
const TABLES: usize = 6;
const HAN: usize = 0;
const VIET: usize = 1;
const VIET_OF: usize = 2;
const VIET_CHARS: usize = 3;
const VIET_UNMARKED: usize = 4;
const OTHER_MANDARIN: usize = 5;
/// Longest string the pool holds (one length byte); longer readings are not kept.
const MAX_STR: usize = 255;

fn rd(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4).and_then(|s| s.try_into().ok()).map_or(0, u32::from_le_bytes)
}

fn pool_bytes(b: &[u8], pool: usize, p: u32) -> &[u8] {
    let at = pool + p as usize;
    let len = b.get(at).copied().unwrap_or(0) as usize;
    b.get(at + 1..at + 1 + len).unwrap_or(&[])
}

fn pool_str(b: &[u8], pool: usize, p: u32) -> &str {
    std::str::from_utf8(pool_bytes(b, pool, p)).unwrap_or("")
}

/// A list of readings in the table, borrowed from it.
#[derive(Clone, Copy)]
pub struct Strs<'a> {
    bytes: &'a [u8],
    pool: usize,
    at: usize,
    len: usize,
    step: usize,
}

impl<'a> Strs<'a> {
    /// The empty list.
    pub const EMPTY: Strs<'static> = Strs { bytes: &[], pool: 0, at: 0, len: 0, step: 4 };

    /// How many readings.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `i`-th reading.
    pub fn get(&self, i: usize) -> Option<&'a str> {
        (i < self.len)
            .then(|| pool_str(self.bytes, self.pool, rd(self.bytes, self.at + i * self.step)))
    }

    /// The readings in order.
    pub fn iter(&self) -> StrsIter<'a> {
        StrsIter { s: *self, i: 0 }
    }

    /// Whether `s` is one of the readings.
    pub fn contains(&self, s: &str) -> bool {
        self.iter().any(|x| x == s)
    }
}

impl std::fmt::Debug for Strs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for Strs<'a> {
    type Item = &'a str;
    type IntoIter = StrsIter<'a>;
    fn into_iter(self) -> StrsIter<'a> {
        self.iter()
    }
}

/// The readings of a [`Strs`], in order.
#[derive(Debug, Clone)]
pub struct StrsIter<'a> {
    s: Strs<'a>,
    i: usize,
}

impl<'a> Iterator for StrsIter<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let x = self.s.get(self.i)?;
        self.i += 1;
        Some(x)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.s.len - self.i.min(self.s.len);
        (n, Some(n))
    }
}

impl ExactSizeIterator for StrsIter<'_> {}

/// Readings of one Han character, borrowed from the table.
#[derive(Debug, Clone, Copy)]
pub struct HanReadings<'a> {
    /// Toneless pinyin, lowercase ASCII.
    pub mandarin: Strs<'a>,
    /// Japanese kun and on readings, lowercase Hepburn-like ASCII with long vowels shortened.
    pub japanese: Strs<'a>,
    /// Korean readings romanized as [`crate::normalize::romanize_hangul`] does.
    pub korean: Strs<'a>,
    /// Cantonese readings (`kCantonese`, Jyutping) in the spellings of the Hong Kong
    /// government romanisation that names are written in ([`cantonese_spellings`]:
    /// 陳 can4 → "chan", 張 zoeng1 → "cheung", "tseung").
    pub cantonese: Strs<'a>,
}

/// Where one table lies in the bytes.
#[derive(Debug, Clone, Copy, Default)]
struct Table {
    n: usize,
    k: usize,
    stride: usize,
    keys: usize,
    starts: usize,
    values: usize,
}

/// The reading table, in its binary form (see the module documentation).
pub struct Unihan {
    bytes: Cow<'static, [u8]>,
    pool: usize,
    tables: [Table; TABLES],
}

impl std::fmt::Debug for Unihan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unihan")
            .field("bytes", &self.bytes.len())
            .field("built_in", &matches!(self.bytes, Cow::Borrowed(_)))
            .finish()
    }
}

impl Default for Unihan {
    /// An empty table (no readings).
    fn default() -> Unihan {
        Maps::default().build()
    }
}

/// The table as maps, while a file is read.
#[derive(Default)]
struct Maps {
    /// Character -> [Mandarin, Japanese, Korean, Cantonese] readings.
    han: HashMap<char, [Vec<String>; 4]>,
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
    /// built-in extract, which does not carry these fields.
    other_mandarin: HashMap<char, Vec<String>>,
}

/// Writes the binary form.
struct Writer {
    out: Vec<u8>,
    pool: Vec<u8>,
    interned: HashMap<String, u32>,
}

impl Writer {
    fn put(&mut self, x: u32) {
        self.out.extend_from_slice(&x.to_le_bytes());
    }

    fn intern(&mut self, s: &str) -> u32 {
        if let Some(p) = self.interned.get(s) {
            return *p;
        }
        let p = self.pool.len() as u32;
        let b = &s.as_bytes()[..s.len().min(MAX_STR)];
        self.pool.push(b.len() as u8);
        self.pool.extend_from_slice(b);
        self.interned.insert(s.to_owned(), p);
        p
    }

    /// One table: rows of (key, `k` lists of values of `stride` words each), keys in order.
    fn table(&mut self, k: usize, stride: usize, rows: Vec<(u32, Vec<Vec<u32>>)>) -> u32 {
        let at = self.out.len() as u32;
        self.put(rows.len() as u32);
        self.put(k as u32);
        self.put(stride as u32);
        for (key, _) in &rows {
            self.put(*key);
        }
        let mut n = 0u32;
        self.put(0);
        for (_, lists) in &rows {
            for l in lists {
                n += (l.len() / stride) as u32;
                self.put(n);
            }
        }
        for (_, lists) in rows {
            for v in lists.into_iter().flatten() {
                self.put(v);
            }
        }
        at
    }

    fn strs(&mut self, v: &[String]) -> Vec<u32> {
        v.iter().map(|s| self.intern(s)).collect()
    }

    /// Rows of a string-keyed map, keys sorted by their bytes.
    fn by_string<V>(
        &mut self,
        m: &HashMap<String, V>,
        mut f: impl FnMut(&mut Writer, &V) -> Vec<u32>,
    ) -> Vec<(u32, Vec<Vec<u32>>)> {
        let mut keys: Vec<&String> = m.keys().collect();
        keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        keys.into_iter()
            .filter_map(|key| {
                let v = m.get(key)?;
                let key = self.intern(key);
                Some((key, vec![f(self, v)]))
            })
            .collect()
    }

    /// Rows of a character-keyed map, keys in code point order.
    fn by_char<V>(
        &mut self,
        m: &HashMap<char, V>,
        mut f: impl FnMut(&mut Writer, &V) -> Vec<Vec<u32>>,
    ) -> Vec<(u32, Vec<Vec<u32>>)> {
        let mut keys: Vec<char> = m.keys().copied().collect();
        keys.sort_unstable();
        keys.into_iter().filter_map(|c| Some((c as u32, f(self, m.get(&c)?)))).collect()
    }
}

impl Maps {
    fn build(&self) -> Unihan {
        let mut w = Writer { out: vec![0; HEADER], pool: Vec::new(), interned: HashMap::new() };
        let mut offsets = [0u32; TABLES];
        let rows = w.by_char(&self.han, |w, r| r.iter().map(|l| w.strs(l)).collect());
        offsets[HAN] = w.table(4, 1, rows);
        let rows = w.by_string(&self.viet, |w, v| {
            v.iter().flat_map(|(m, c)| [w.intern(m), *c as u32]).collect()
        });
        offsets[VIET] = w.table(1, 2, rows);
        let rows = w.by_char(&self.viet_of, |w, v| vec![w.strs(v)]);
        offsets[VIET_OF] = w.table(1, 1, rows);
        let rows = w.by_string(&self.viet_chars, |_, v| v.iter().map(|c| *c as u32).collect());
        offsets[VIET_CHARS] = w.table(1, 1, rows);
        let rows = w.by_string(&self.viet_unmarked, |w, v| w.strs(v));
        offsets[VIET_UNMARKED] = w.table(1, 1, rows);
        let rows = w.by_char(&self.other_mandarin, |w, v| vec![w.strs(v)]);
        offsets[OTHER_MANDARIN] = w.table(1, 1, rows);
        let pool_at = w.out.len() as u32;
        let Writer { mut out, pool, .. } = w;
        out.extend_from_slice(&pool);
        let mut head = Vec::with_capacity(HEADER);
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&VERSION.to_le_bytes());
        head.extend_from_slice(&pool_at.to_le_bytes());
        head.extend_from_slice(&(pool.len() as u32).to_le_bytes());
        for o in offsets {
            head.extend_from_slice(&o.to_le_bytes());
        }
        out[..HEADER].copy_from_slice(&head);
        // The bytes were just written by this function: their layout holds.
        Unihan::from_cow(Cow::Owned(out)).unwrap_or_else(|| Unihan {
            bytes: Cow::Borrowed(&[]),
            pool: 0,
            tables: [Table::default(); TABLES],
        })
    }
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

    /// A table in its binary form ([`Unihan::as_bytes`]), used in place; `None` when the
    /// bytes are not that form.
    pub fn from_static(bytes: &'static [u8]) -> Option<Unihan> {
        Self::from_cow(Cow::Borrowed(bytes))
    }

    /// The table in its binary form (what `data/unihan-readings.bin` holds for the extract).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn from_cow(bytes: Cow<'static, [u8]>) -> Option<Unihan> {
        let b: &[u8] = &bytes;
        if b.len() < HEADER || &b[..4] != MAGIC || rd(b, 4) != VERSION {
            return None;
        }
        let (pool, pool_len) = (rd(b, 8) as usize, rd(b, 12) as usize);
        if pool.checked_add(pool_len)? > b.len() {
            return None;
        }
        let mut tables = [Table::default(); TABLES];
        for (i, t) in tables.iter_mut().enumerate() {
            let at = rd(b, 16 + 4 * i) as usize;
            if at.checked_add(12)? > b.len() {
                return None;
            }
            let (n, k, stride) =
                (rd(b, at) as usize, rd(b, at + 4) as usize, rd(b, at + 8) as usize);
            let keys = at + 12;
            let starts = keys.checked_add(n.checked_mul(4)?)?;
            let values = starts.checked_add(n.checked_mul(k)?.checked_add(1)?.checked_mul(4)?)?;
            if values > b.len() || stride == 0 {
                return None;
            }
            let m = rd(b, values - 4) as usize;
            if values.checked_add(m.checked_mul(stride)?.checked_mul(4)?)? > b.len() {
                return None;
            }
            *t = Table { n, k, stride, keys, starts, values };
        }
        Some(Unihan { bytes, pool, tables })
    }

    /// The row of a character in a character-keyed table.
    fn find_char(&self, t: usize, c: char) -> Option<usize> {
        let (b, tb) = (&self.bytes[..], self.tables[t]);
        let (mut lo, mut hi) = (0, tb.n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match rd(b, tb.keys + 4 * mid).cmp(&(c as u32)) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// The row of a string in a string-keyed table.
    fn find_str(&self, t: usize, s: &str) -> Option<usize> {
        let (b, tb) = (&self.bytes[..], self.tables[t]);
        let (mut lo, mut hi) = (0, tb.n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match pool_bytes(b, self.pool, rd(b, tb.keys + 4 * mid)).cmp(s.as_bytes()) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// The values of list `j` of row `i` of table `t`: (byte offset of the first, count).
    fn list(&self, t: usize, i: usize, j: usize) -> (usize, usize) {
        let (b, tb) = (&self.bytes[..], self.tables[t]);
        let at = tb.starts + 4 * (i * tb.k + j);
        let (s, e) = (rd(b, at) as usize, rd(b, at + 4) as usize);
        (tb.values + 4 * tb.stride * s, e.saturating_sub(s))
    }

    fn strs(&self, t: usize, row: Option<usize>, j: usize) -> Strs<'_> {
        let Some(i) = row else { return Strs::EMPTY };
        let (at, len) = self.list(t, i, j);
        Strs { bytes: &self.bytes, pool: self.pool, at, len, step: 4 * self.tables[t].stride }
    }

    /// Parses the table from a reader; `path` is used in messages.
    ///
    /// # Errors
    /// As [`Unihan::load`].
    pub fn parse<R: BufRead>(r: R, path: &Path) -> Result<Unihan> {
        let mut han: HashMap<char, [Vec<String>; 4]> = HashMap::new();
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
                        push_unique(&mut e[0], toneless(v));
                    }
                }
                "kJapaneseKun" | "kJapaneseOn" => {
                    let e = han.entry(c).or_default();
                    for v in value.split_whitespace() {
                        let v = v.to_ascii_lowercase().replace("ou", "o").replace("uu", "u");
                        push_unique(&mut e[1], v);
                    }
                }
                "kCantonese" => {
                    let e = han.entry(c).or_default();
                    for v in value.split_whitespace() {
                        for sp in cantonese_spellings(v) {
                            push_unique(&mut e[3], sp);
                        }
                    }
                }
                "kHangul" => {
                    let e = han.entry(c).or_default();
                    for v in value.split_whitespace() {
                        let syl = v.split(':').next().unwrap_or(v);
                        push_unique(
                            &mut e[2],
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
                        let v = v.nfc().collect::<String>().to_lowercase();
                        if v.len() <= MAX_STR {
                            viet_raw.push((c, v));
                        }
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
            if let Some(m) = han.get(&c).and_then(|r| r[0].first()) {
                let e = viet.entry(syl).or_default();
                if !e.iter().any(|(x, _)| x == m) {
                    e.push((m.clone(), c));
                }
            }
        }
        Ok(Maps { han, viet, viet_of, viet_chars, viet_unmarked, other_mandarin }.build())
    }

    /// The readings of a character, if it is in the table.
    pub fn readings(&self, c: char) -> Option<HanReadings<'_>> {
        let i = self.find_char(HAN, c)?;
        Some(HanReadings {
            mandarin: self.strs(HAN, Some(i), 0),
            japanese: self.strs(HAN, Some(i), 1),
            korean: self.strs(HAN, Some(i), 2),
            cantonese: self.strs(HAN, Some(i), 3),
        })
    }

    /// The Vietnamese (Hán-Việt) readings of a character (kVietnamese, lowercase NFC), for
    /// generating Hán-Việt spellings of names written in Chinese characters (pair evaluation).
    pub fn vietnamese(&self, c: char) -> Strs<'_> {
        self.strs(VIET_OF, self.find_char(VIET_OF, c), 0)
    }

    /// Mandarin readings (with an example character) of a Vietnamese syllable such as "vương".
    pub fn sino_vietnamese(&self, syllable: &str) -> impl Iterator<Item = (&str, char)> + '_ {
        let k: String = syllable.nfc().collect::<String>().to_lowercase();
        let (at, len) = self.find_str(VIET, &k).map_or((0, 0), |i| self.list(VIET, i, 0));
        let b = &self.bytes[..];
        (0..len).map(move |j| {
            let v = at + 8 * j;
            (pool_str(b, self.pool, rd(b, v)), char::from_u32(rd(b, v + 4)).unwrap_or('\u{fffd}'))
        })
    }

    /// Every character whose Vietnamese (kVietnamese) reading is `syllable` ("trần" → 陳 …),
    /// so that a Hán-Việt syllable can be read in the characters' other readings.
    pub fn sino_vietnamese_chars(&self, syllable: &str) -> impl Iterator<Item = char> + '_ {
        let k: String = syllable.nfc().collect::<String>().to_lowercase();
        let (at, len) =
            self.find_str(VIET_CHARS, &k).map_or((0, 0), |i| self.list(VIET_CHARS, i, 0));
        let b = &self.bytes[..];
        (0..len).filter_map(move |j| char::from_u32(rd(b, at + 4 * j)))
    }

    /// The Mandarin readings of the full table's other fields (kHanyuPinyin, kXHC1983,
    /// kTGHZ2013); empty with the built-in extract.
    pub fn other_mandarin(&self, c: char) -> Strs<'_> {
        self.strs(OTHER_MANDARIN, self.find_char(OTHER_MANDARIN, c), 0)
    }

    /// Whether a syllable, as written (lowercase NFC, with its diacritics), is the Vietnamese
    /// reading (kVietnamese) of some character ("chí", "quang"; not "josé").
    pub fn is_sino_vietnamese(&self, syllable: &str) -> bool {
        self.sino_vietnamese_chars(syllable).next().is_some()
    }

    /// The Vietnamese syllables with diacritics (kVietnamese) that a syllable typed without
    /// them stands for: "vuong" → vương, vượng, …; empty when none folds to it.
    pub fn vietnamese_spellings(&self, unmarked: &str) -> Strs<'_> {
        self.strs(VIET_UNMARKED, self.find_str(VIET_UNMARKED, &toneless(unmarked)), 0)
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

/// The built-in extract in its binary form (see the module documentation), generated from
/// `data/unihan-readings.txt.bz2` (the test `the_built_in_table_is_the_extract_regenerated`
/// regenerates it and compares).
static BUILTIN: &[u8] = include_bytes!("../data/unihan-readings.bin");

/// The built-in reading table: a view of bytes built into the binary, looked up in place
/// (nothing is decompressed or parsed), shared.
pub fn builtin() -> Arc<Unihan> {
    static TABLE: OnceLock<Arc<Unihan>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            let table = Unihan::from_static(BUILTIN).unwrap_or_else(|| {
                // Cannot happen with the committed file (a test reads it); degrade to
                // pinyin from deunicode rather than fail screening.
                tracing::error!("the built-in Unihan table is not in its binary form");
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
    if !s.is_empty() && s.len() <= MAX_STR && !v.contains(&s) {
        v.push(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_extract_has_the_readings_the_matcher_needs() {
        let u = builtin();
        assert!(u.readings('王').unwrap().mandarin.contains("wang"));
        assert!(u.readings('山').unwrap().mandarin.contains("shan"));
        assert!(u.readings('金').unwrap().korean.contains("kim"));
        assert!(!u.readings('山').unwrap().japanese.is_empty());
        assert!(u.sino_vietnamese("vương").any(|(m, _)| m == "wang"));
        assert!(u.sino_vietnamese("sơn").any(|(m, _)| m == "shan"));
        // Cantonese readings, in the Hong Kong spellings (陳 can4, 張 zoeng1).
        assert!(u.readings('陳').unwrap().cantonese.contains("chan"));
        assert!(u.readings('張').unwrap().cantonese.contains("cheung"));
        assert!(u.sino_vietnamese_chars("trần").any(|c| c == '陳'));
        assert!(u.vietnamese_spellings("vuong").contains("vương"));
        assert!(u.vietnamese('陳').contains("trần"));
        // Every CJK Unified Ideograph of the basic block has a Mandarin reading.
        let with = ('\u{4E00}'..='\u{9FFF}')
            .filter(|c| u.readings(*c).is_some_and(|r| !r.mandarin.is_empty()))
            .count();
        assert!(with > 20_000, "{with}");
        // Nothing for what is not in the table.
        assert!(u.readings('a').is_none());
        assert_eq!(u.sino_vietnamese("josé").count(), 0);
        assert!(u.vietnamese_spellings("jose").is_empty());
        assert!(u.other_mandarin('仇').is_empty());
    }

    /// Issue 13 item 4: the first Vietnamese-shaped query of a process must not pay for
    /// decoding a table. The built-in table is the bytes in the binary, borrowed, not a copy
    /// decoded from them.
    #[test]
    fn the_first_lookup_of_a_vietnamese_name_decodes_nothing() {
        let u = builtin();
        assert!(matches!(u.bytes, Cow::Borrowed(b) if std::ptr::eq(b, BUILTIN)));
        assert_eq!(
            crate::normalize::vietnamese_reading("Nguyen Van Dai", &u),
            Some(crate::normalize::VietnameseSpelling::Unmarked)
        );
    }

    /// `data/unihan-readings.bin` is `data/unihan-readings.txt.bz2` read and written in the
    /// binary form. `FLOODGATE_REGENERATE_UNIHAN=1` writes it (after changing the extract or
    /// the form).
    #[test]
    fn the_built_in_table_is_the_extract_regenerated() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
        let u = Unihan::load(&dir.join("unihan-readings.txt.bz2")).unwrap();
        if std::env::var_os("FLOODGATE_REGENERATE_UNIHAN").is_some() {
            std::fs::write(dir.join("unihan-readings.bin"), u.as_bytes()).unwrap();
        }
        assert!(u.as_bytes() == BUILTIN, "regenerate with FLOODGATE_REGENERATE_UNIHAN=1");
    }

    #[test]
    fn a_table_read_from_text_answers_as_its_lines_say() {
        let text = "# comment\n\
            U+738B\tkMandarin\twáng wàng\n\
            U+738B\tkVietnamese\tvương vướng\n\
            U+738B\tkCantonese\twong4\n\
            U+4EC7\tkMandarin\tchóu\n\
            U+4EC7\tkHanyuPinyin\t10015.020:qiú,chóu\n";
        let u = Unihan::parse(text.as_bytes(), Path::new("t")).unwrap();
        assert!(matches!(u.bytes, Cow::Owned(_)));
        let r = u.readings('王').unwrap();
        assert_eq!(r.mandarin.iter().collect::<Vec<_>>(), ["wang"]);
        assert_eq!(r.cantonese.iter().collect::<Vec<_>>(), ["wong"]);
        assert!(r.korean.is_empty());
        assert_eq!(u.sino_vietnamese("Vương").collect::<Vec<_>>(), [("wang", '王')]);
        assert_eq!(u.vietnamese_spellings("vuong").iter().collect::<Vec<_>>(), ["vương", "vướng"]);
        assert_eq!(u.other_mandarin('仇').iter().collect::<Vec<_>>(), ["qiu", "chou"]);
        assert!(u.readings('山').is_none());
        assert!(Unihan::from_static(b"not a table").is_none());
        let empty = Unihan::default();
        assert!(empty.readings('王').is_none() && !empty.is_sino_vietnamese("vương"));
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
