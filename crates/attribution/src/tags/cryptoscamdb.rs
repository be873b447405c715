//! CryptoScamDB blacklist entries (`urls.yaml`, `uris.yaml` of `CryptoScamDB/blacklist`):
//! a YAML list of `{name, url, category, subcategory, description, addresses: {TICKER: [..]},
//! reporter}` entries.
//!
//! This is a third-party dump with known defects (mis-indented entries, addresses with bad
//! checksums or lengths), so it is loaded **entry by entry**: the list is split at its
//! top-level `- ` lines, each entry is parsed on its own, and every entry or address that
//! cannot be used is skipped and reported with its file, line and reason
//! ([`SourceLoad::skipped`]). Our own TagPacks stay all-or-nothing.

use std::collections::BTreeMap;
use std::path::Path;

use floodgate_types::Address;
use serde::Deserialize;

use super::{nth_line_of, RiskCategory, SkippedEntry, SourceLoad, Tag, TagError, TagSet};

/// The `source` name of tags from CryptoScamDB.
pub const CRYPTOSCAMDB_SOURCE: &str = "cryptoscamdb";

/// Confidence of a CryptoScamDB entry: GraphSense's `web_crawl` (community reports collected
/// from the web, not verified by an authority).
pub const CRYPTOSCAMDB_CONFIDENCE: &str = "web_crawl";

/// The category of a CryptoScamDB `category` value (`Phishing` → phishing, `Scamming` →
/// scam, `Malware` and `Hacked` → theft), or `None` when unknown (the entry is skipped).
pub fn cryptoscamdb_category(s: &str) -> Option<RiskCategory> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "phishing" => RiskCategory::Phishing,
        "scamming" | "scam" => RiskCategory::Scam,
        "malware" | "hacked" => RiskCategory::Theft,
        _ => return None,
    })
}

#[derive(Debug, Deserialize)]
struct RawEntry {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    subcategory: Option<String>,
    #[serde(default)]
    addresses: Option<BTreeMap<String, Vec<serde_norway::Value>>>,
}

impl TagSet {
    /// Loads a CryptoScamDB `urls.yaml`/`uris.yaml` file, keeping every valid entry. Each
    /// address of an entry becomes a tag of the entry's category ([`cryptoscamdb_category`]),
    /// labelled `category / subcategory`, with the entry's name (or URL) as actor, the file,
    /// line and URL as source, and confidence [`CRYPTOSCAMDB_CONFIDENCE`].
    ///
    /// Skipped, each reported in [`SourceLoad::skipped`] with its line: an entry that is not
    /// valid YAML or not a mapping, an entry with addresses but an unknown or missing
    /// category, and an address invalid for its ticker. Addresses on tickers floodgate does not
    /// ingest are counted in [`SourceLoad::unsupported`]; entries without addresses carry no tag.
    ///
    /// # Errors
    /// [`TagError::Io`] when the file cannot be read, [`TagError::Malformed`] when it is not a
    /// YAML list at all (no top-level `- ` entry).
    pub fn load_cryptoscamdb(&mut self, path: &Path) -> Result<SourceLoad, TagError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| TagError::Io { path: path.to_owned(), source })?;
        let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let mut load = SourceLoad::new(CRYPTOSCAMDB_SOURCE, path);
        let chunks = split_entries(&text);
        if chunks.is_empty() && !text.trim().trim_start_matches("---").trim().is_empty() {
            return Err(TagError::Malformed {
                path: path.to_owned(),
                line: 1,
                column: 1,
                detail: "not a CryptoScamDB list: no top-level '- ' entry".to_owned(),
            });
        }
        let mut staged = Vec::new();
        for (start, chunk) in chunks {
            load.entries += 1;
            let skip =
                |line: usize, reason: String| SkippedEntry { path: path.to_owned(), line, reason };
            let entry: RawEntry = match serde_norway::from_str::<Vec<RawEntry>>(chunk) {
                Ok(mut v) if v.len() == 1 => v.remove(0),
                Ok(v) => {
                    load.skipped
                        .push(skip(start, format!("expected one entry, found {}", v.len())));
                    continue;
                }
                Err(e) => {
                    // The parser's positions are relative to the entry: report the file's.
                    let line = e.location().map_or(start, |l| start + l.line() - 1);
                    let msg = e.to_string();
                    let msg = msg.split(" at line ").next().unwrap_or_default();
                    load.skipped.push(skip(
                        line,
                        format!("entry starting at line {start} is not a valid entry: {msg}"),
                    ));
                    continue;
                }
            };
            let Some(addresses) = entry.addresses.filter(|a| !a.is_empty()) else { continue };
            let Some(category) = entry.category.as_deref().and_then(cryptoscamdb_category) else {
                let c = entry.category.as_deref().unwrap_or("(none)");
                load.skipped
                    .push(skip(start, format!("unknown category '{c}' (see docs/taxonomy.md)")));
                continue;
            };
            let actor = entry.name.clone().or_else(|| entry.url.clone());
            let label = match (&entry.category, &entry.subcategory) {
                (Some(c), Some(s)) => format!("{c} / {s}"),
                (Some(c), None) => c.clone(),
                _ => String::new(),
            };
            // Times each address text was met in this entry: a repeated one names the line of
            // its own listing, not the first's (so each is a tag of its own, as counted).
            let mut met: BTreeMap<&str, usize> = BTreeMap::new();
            for (ticker, list) in &addresses {
                for value in list {
                    let Some(raw) = value.as_str() else {
                        load.skipped.push(skip(
                            start,
                            format!("{ticker} address {value:?} is not a string"),
                        ));
                        continue;
                    };
                    let nth = met.entry(raw).or_default();
                    let rel = nth_line_of(chunk, raw, *nth);
                    *nth += 1;
                    let line = if rel == 0 { start } else { start + rel - 1 };
                    match Address::parse_listed(ticker, raw.trim()) {
                        Ok(a) => staged.push(Tag {
                            address: a.to_canonical(),
                            category,
                            label: label.clone(),
                            source: match &entry.url {
                                Some(u) => format!("{CRYPTOSCAMDB_SOURCE} ({file}:{line}, {u})"),
                                None => format!("{CRYPTOSCAMDB_SOURCE} ({file}:{line})"),
                            },
                            confidence: Some(CRYPTOSCAMDB_CONFIDENCE.to_owned()),
                            actor: actor.clone(),
                        }),
                        Err(e) if e.is_unsupported() => load.unsupported += 1,
                        Err(e) => {
                            load.skipped.push(skip(line, format!("{ticker} address skipped: {e}")))
                        }
                    }
                }
            }
        }
        for t in staged {
            load.count(t.category);
            self.add(t);
        }
        Ok(load)
    }
}

/// Splits a YAML block list into its top-level entries: `(1-based first line, text)`, each
/// text starting with its `- ` line. YAML requires an entry's continuation lines to be
/// indented, so a line starting with `-` at column 0 always opens a new entry.
fn split_entries(text: &str) -> Vec<(usize, &str)> {
    let mut starts = Vec::new();
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if line.starts_with("- ") || line.trim_end() == "-" {
            starts.push((i + 1, offset));
        }
        offset += line.len();
    }
    let mut out = Vec::with_capacity(starts.len());
    for (k, &(line, at)) in starts.iter().enumerate() {
        let end = starts.get(k + 1).map_or(text.len(), |&(_, e)| e);
        out.push((line, &text[at..end]));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::*;

    fn load(text: &str) -> (TagSet, SourceLoad) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("urls.yaml");
        std::fs::write(&path, text).unwrap();
        let mut tags = TagSet::new();
        let load = tags.load_cryptoscamdb(&path).unwrap();
        (tags, load)
    }

    #[test]
    fn each_kind_of_bad_entry_is_skipped_with_its_line_and_the_rest_loads() {
        let text = "---
- name: good.example
  url: http://good.example
  category: Phishing
  subcategory: MyEtherWallet
  addresses:
    ETH:
    - \"0xd0cc2b24980cbcca47ef755da88b220a82291407\"
    LTC:
    - \"LQL9pVH1LsMfKwt82Y2wGhNGkrjF8vwUst\"
- name: broken.example
  category: Scamming
  addresses: [unclosed
- name: typo.example
  category: Scamming
  addresses:
    ETH:
    - \"0xD0cC2B24980CBCCA47EF755Da88B220a82291408\"
    BTC:
    - \"1BGtFV8xnRejWLvcfL5YPZJKTJmSuGiMM1\"
- name: odd.example
  category: Gardening
  addresses:
    ETH:
    - \"0xd0cc2b24980cbcca47ef755da88b220a82291407\"
- name: no-addresses.example
  category: Phishing
";
        let (tags, l) = load(text);
        assert_eq!(l.entries, 5);
        assert_eq!(l.tags, 2, "good.example's ETH and typo.example's BTC address");
        assert_eq!(l.unsupported, 1, "LTC");
        let at: Vec<(usize, &str)> =
            l.skipped.iter().map(|s| (s.line, s.reason.as_str())).collect();
        assert_eq!(at.len(), 3, "{at:#?}");
        assert_eq!(at[0].0, 13, "{at:#?}");
        assert!(at[0].1.starts_with("entry starting at line 11 is not a valid entry"), "{at:#?}");
        assert_eq!(at[1].0, 18, "{at:#?}");
        assert!(at[1].1.contains("checksum mismatch"), "{at:#?}");
        assert_eq!(at[2].0, 21, "{at:#?}");
        assert!(at[2].1.contains("unknown category 'Gardening'"), "{at:#?}");
        let good = Address::parse_any("0xd0cc2b24980cbcca47ef755da88b220a82291407").unwrap();
        let t = tags.of(&good.to_canonical());
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].category, RiskCategory::Phishing);
        assert_eq!(t[0].source, "cryptoscamdb (urls.yaml:8, http://good.example)");
    }

    /// An address listed twice in one entry gives two tags, each naming its own line, as
    /// counted (found by the property below: both named the first line, so the set kept one
    /// of the two counted).
    #[test]
    fn an_address_listed_twice_in_an_entry_names_each_line() {
        let text = "- name: x\n  addresses:\n    ETH:\n    - \"0xd0cc2b24980cbcca47ef755da88b220a82291407\"\n    - \"0xd0cc2b24980cbcca47ef755da88b220a82291407\"\n  category: Phishing\n- name: x\n";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.yaml");
        std::fs::write(&path, text).unwrap();
        let mut tags = TagSet::new();
        let l = tags.load_cryptoscamdb(&path).unwrap();
        assert_eq!((l.entries, l.tags), (2, 2));
        let a = Address::parse_any("0xd0cc2b24980cbcca47ef755da88b220a82291407").unwrap();
        let sources: Vec<&str> =
            tags.of(&a.to_canonical()).iter().map(|t| t.source.as_str()).collect();
        assert_eq!(sources, ["cryptoscamdb (x.yaml:4)", "cryptoscamdb (x.yaml:5)"]);
    }

    proptest! {
        /// Whatever the text, loading never panics, counts every entry, and either loads or
        /// (no entry at all) fails with nothing kept.
        #[test]
        fn arbitrary_text_never_panics(lines in proptest::collection::vec(
            prop_oneof![
                Just("- name: x".to_owned()),
                Just("  category: Phishing".to_owned()),
                Just("  addresses:".to_owned()),
                Just("    ETH:".to_owned()),
                Just("    - \"0xd0cc2b24980cbcca47ef755da88b220a82291407\"".to_owned()),
                Just("  - name: y".to_owned()),
                "[ -~]{0,20}",
            ],
            0..30,
        )) {
            let text = lines.join("\n");
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("x.yaml");
            std::fs::write(&path, &text).unwrap();
            let mut tags = TagSet::new();
            match tags.load_cryptoscamdb(&path) {
                Ok(l) => {
                    prop_assert_eq!(l.entries, split_entries(&text).len());
                    prop_assert_eq!(l.tags, tags.iter().map(|(_, t)| t.len()).sum::<usize>());
                }
                Err(e) => {
                    let malformed = matches!(e, TagError::Malformed { line: 1, .. });
                    prop_assert!(malformed, "{}", e);
                    prop_assert!(split_entries(&text).is_empty());
                    prop_assert!(tags.is_empty());
                }
            }
        }
    }
}
