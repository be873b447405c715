//! Attribution tags: GraphSense TagPacks (YAML) mapped onto floodgate's risk-category
//! taxonomy (`docs/taxonomy.md`), validated whole-pack-or-nothing, and resolved to nodes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use floodgate_types::Address;
use serde::{Deserialize, Serialize};

use floodgate_graph::{Clustering, EntityId, Graph, NodeId};

mod cryptoscamdb;
mod entity;
mod etherscan;

pub use cryptoscamdb::{cryptoscamdb_category, CRYPTOSCAMDB_CONFIDENCE, CRYPTOSCAMDB_SOURCE};
pub use entity::EntityTag;
pub use etherscan::{etherscan_label, ETHERSCAN_CONFIDENCE, ETHERSCAN_LABELS, ETHERSCAN_SOURCE};

/// floodgate's risk categories: the one taxonomy of `floodgate_types`, re-exported here
/// for the attribution code (definitions and mappings: `docs/taxonomy.md`).
pub use floodgate_types::RiskCategory;

/// The category for a TagPack `category` value (GraphSense taxonomy), or `None` when it
/// is not one floodgate knows: such a pack is rejected.
pub fn category_from_tagpack(s: &str) -> Option<RiskCategory> {
    Some(match s {
        "exchange" => RiskCategory::Exchange,
        "market" => RiskCategory::DarknetMarket,
        "mixing_service" => RiskCategory::Mixer,
        "coinjoin" => RiskCategory::Coinjoin,
        "gambling" => RiskCategory::Gambling,
        "miner" | "mining_service" => RiskCategory::Miner,
        "wallet_service" | "payment_processor" | "atm" => RiskCategory::WalletService,
        "defi" | "defi_lending" | "defi_dex" | "defi_bridge" | "bridge" => RiskCategory::Defi,
        "service" | "shop" | "hosting" | "faucet" | "ico_wallet" | "smart_contract" => {
            RiskCategory::Service
        }
        "organization" | "donation" => RiskCategory::Organization,
        "user" => RiskCategory::User,
        "black_list" => RiskCategory::Blocklisted,
        "perpetrator" => RiskCategory::Theft,
        _ => return None,
    })
}

/// The category for a TagPack `abuse` value, or `None` when unknown (pack rejected).
pub fn category_from_tagpack_abuse(s: &str) -> Option<RiskCategory> {
    Some(match s {
        "sanction" => RiskCategory::Sanctioned,
        "terrorism" | "extremism" => RiskCategory::TerroristFinancing,
        "ransomware" => RiskCategory::Ransomware,
        "scam" | "investment_fraud" | "ponzi_scheme" | "pyramid_scheme" | "sextortion"
        | "honeypot" => RiskCategory::Scam,
        "phishing" => RiskCategory::Phishing,
        "service_hack" | "theft" => RiskCategory::Theft,
        "mixing" => RiskCategory::Mixer,
        _ => return None,
    })
}

/// One attribution tag on an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tag {
    /// Canonical address.
    pub address: String,
    /// floodgate category (an `abuse` value wins over the service `category`).
    pub category: RiskCategory,
    /// The label as published.
    pub label: String,
    /// Where the tag came from: the pack file and its `source` field.
    pub source: String,
    /// TagPack confidence level, when given.
    pub confidence: Option<String>,
    /// TagPack actor, when given.
    pub actor: Option<String>,
}

/// A TagPack that could not be loaded. Nothing of the pack is kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TagError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML or not a TagPack.
    #[error("{}:{line}: not a valid TagPack: {detail}; nothing of this pack was loaded", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// What is wrong.
        detail: String,
    },
    /// A tag's category or abuse value is not in the taxonomy.
    #[error("{}:{line}: unknown {field} '{value}' (see docs/taxonomy.md); nothing of this pack was loaded", path.display())]
    BadCategory {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// `category` or `abuse`.
        field: &'static str,
        /// The value.
        value: String,
    },
    /// A label file (Etherscan JSON, CryptoScamDB YAML) is malformed at a position.
    #[error("{}:{line}:{column}: {detail}; nothing of this file was loaded", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// What is wrong.
        detail: String,
    },
    /// An address is not valid for its currency.
    #[error("{}:{line}: invalid {currency} address '{address}': {reason}; nothing of this pack was loaded", path.display())]
    BadAddress {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The currency given.
        currency: String,
        /// The address.
        address: String,
        /// Why it is invalid.
        reason: String,
    },
}

#[derive(Debug, Deserialize)]
struct RawPack {
    #[serde(default)]
    title: Option<String>,
    #[serde(flatten)]
    header: RawFields,
    #[serde(default)]
    tags: Vec<RawTag>,
}

#[derive(Debug, Default, Deserialize, Clone)]
struct RawFields {
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    abuse: Option<String>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    network: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    confidence: Option<String>,
    #[serde(default)]
    actor: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawTag {
    address: String,
    #[serde(flatten)]
    fields: RawFields,
}

/// Tags loaded so far, by canonical address.
#[derive(Debug, Clone, Default)]
pub struct TagSet {
    by_address: HashMap<String, Vec<Tag>>,
    skipped_unsupported: usize,
    skipped_uncategorized: usize,
}

/// An entry of a third-party label file that was skipped, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedEntry {
    /// The file.
    pub path: PathBuf,
    /// 1-based line of the entry or address.
    pub line: usize,
    /// Why it was skipped.
    pub reason: String,
}

impl std::fmt::Display for SkippedEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.reason)
    }
}

/// What loading one label file gave: tags per category, and what was left out and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceLoad {
    /// The source name (`etherscan-labels`, `cryptoscamdb`, …).
    pub source: String,
    /// The file.
    pub path: PathBuf,
    /// Entries read (addresses for Etherscan, list entries for CryptoScamDB).
    pub entries: usize,
    /// Tags loaded.
    pub tags: usize,
    /// Tags loaded, per category.
    pub by_category: std::collections::BTreeMap<RiskCategory, usize>,
    /// Entries whose labels map to no category (no tag; see `docs/taxonomy.md`).
    pub uncategorized: usize,
    /// Addresses on chains floodgate does not ingest (LTC, XRP …), left out.
    pub unsupported: usize,
    /// Entries or addresses skipped as unusable, each with its line and reason.
    pub skipped: Vec<SkippedEntry>,
    /// Whole files rejected (a TagPack is all or nothing), each with its error naming the
    /// file and line.
    pub rejected: Vec<String>,
}

impl SourceLoad {
    /// An empty summary of `source` loaded from `path`.
    pub fn new(source: &str, path: &Path) -> SourceLoad {
        SourceLoad {
            source: source.to_owned(),
            path: path.to_owned(),
            entries: 0,
            tags: 0,
            by_category: Default::default(),
            uncategorized: 0,
            unsupported: 0,
            skipped: Vec::new(),
            rejected: Vec::new(),
        }
    }

    /// Counts one loaded tag of `category`.
    pub fn count(&mut self, category: RiskCategory) {
        self.tags += 1;
        *self.by_category.entry(category).or_default() += 1;
    }
}

/// Finds needles in a text front to back, reporting 1-based line numbers in linear time.
struct LineFinder<'t> {
    text: &'t str,
    pos: usize,
    line: usize,
}

impl<'t> LineFinder<'t> {
    fn new(text: &'t str) -> Self {
        LineFinder { text, pos: 0, line: 1 }
    }
    /// The line of the next occurrence of `needle` at or after the last one found (0 when
    /// there is none; the cursor then stays put).
    fn next(&mut self, needle: &str) -> usize {
        let line_start = self.text[..self.pos].rfind('\n').map_or(0, |i| i + 1);
        match self.text[line_start..].find(needle) {
            Some(i) => {
                let at = line_start + i;
                // The needle may stand earlier on the cursor's own line: no newline between.
                if at > self.pos {
                    self.line += self.text[self.pos..at].matches('\n').count();
                }
                self.pos = at;
                self.line
            }
            None => 0,
        }
    }
}

/// The line of the first occurrence of `needle` in `text` (0 when absent).
fn line_of(text: &str, needle: &str) -> usize {
    nth_line_of(text, needle, 0)
}

/// The line of occurrence `n` (from 0) of `needle` in `text`: the first's when there are
/// fewer, 0 when there is none.
fn nth_line_of(text: &str, needle: &str, n: usize) -> usize {
    let at = |n| text.match_indices(needle).nth(n).map(|(i, _)| i);
    at(n).or_else(|| at(0)).map_or(0, |i| text[..i].matches('\n').count() + 1)
}

impl TagSet {
    /// An empty set.
    pub fn new() -> TagSet {
        TagSet::default()
    }

    /// Loads one TagPack file. Tags inherit the pack-level fields they do not set. Tags on
    /// currencies floodgate does not ingest (LTC, XMR …) are counted and skipped.
    ///
    /// # Errors
    /// [`TagError`] naming the file and line; the set is unchanged on error.
    pub fn load_tagpack(&mut self, path: &Path) -> Result<usize, TagError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| TagError::Io { path: path.to_owned(), source })?;
        let pack: RawPack = serde_norway::from_str(&text).map_err(|e| TagError::Syntax {
            path: path.to_owned(),
            line: e.location().map_or(0, |l| l.line()),
            detail: e.to_string(),
        })?;
        let _ = pack.title;
        let mut staged: Vec<Tag> = Vec::new();
        let mut skipped = 0;
        let mut uncategorized = 0;
        let mut finder = LineFinder::new(&text);
        for t in &pack.tags {
            let line = finder.next(&t.address);
            let f = &t.fields;
            let h = &pack.header;
            let pick = |a: &Option<String>, b: &Option<String>| a.clone().or_else(|| b.clone());
            let category = pick(&f.category, &h.category);
            let abuse = pick(&f.abuse, &h.abuse);
            let bad = |field: &'static str, value: &str| {
                let l = line_of(&text, &format!("{field}: {value}"));
                TagError::BadCategory {
                    path: path.to_owned(),
                    line: if l == 0 { line } else { l },
                    field,
                    value: value.to_owned(),
                }
            };
            let service = match &category {
                Some(c) => Some(category_from_tagpack(c).ok_or_else(|| bad("category", c))?),
                None => None,
            };
            let risk = match &abuse {
                Some(a) => Some(category_from_tagpack_abuse(a).ok_or_else(|| bad("abuse", a))?),
                None => None,
            };
            // TagPacks may leave the category out (a label only): such a tag says who, not
            // what risk, so it is counted and skipped rather than guessed.
            let Some(cat) = risk.or(service) else {
                uncategorized += 1;
                continue;
            };
            let currency = pick(&f.currency, &h.currency)
                .or_else(|| pick(&f.network, &h.network))
                .unwrap_or_default();
            let currency = currency.trim().to_owned();
            let addr = match Address::parse_listed(&currency, t.address.trim()) {
                Ok(a) => a,
                Err(e) if e.is_unsupported() => {
                    skipped += 1;
                    continue;
                }
                Err(e) => {
                    return Err(TagError::BadAddress {
                        path: path.to_owned(),
                        line,
                        currency,
                        address: t.address.clone(),
                        reason: e.to_string(),
                    })
                }
            };
            let file =
                path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            staged.push(Tag {
                address: addr.to_canonical(),
                category: cat,
                label: pick(&f.label, &h.label).unwrap_or_default(),
                source: match pick(&f.source, &h.source) {
                    Some(s) => format!("{file} ({s})"),
                    None => file,
                },
                confidence: pick(&f.confidence, &h.confidence),
                actor: pick(&f.actor, &h.actor),
            });
        }
        let n = staged.len();
        for t in staged {
            self.add(t);
        }
        self.skipped_unsupported += skipped;
        self.skipped_uncategorized += uncategorized;
        Ok(n)
    }

    /// Loads every `*.yaml`/`*.yml` file under `dir` (recursively, in name order; a file is
    /// loaded as itself), each pack all-or-nothing. A bad pack is rejected and reported; the
    /// others still load. Returns the number of tags loaded and the rejected packs' errors.
    ///
    /// # Errors
    /// [`TagError::Io`] when `dir` cannot be listed.
    pub fn load_dir(&mut self, dir: &Path) -> Result<(usize, Vec<TagError>), TagError> {
        let mut files = Vec::new();
        collect_yaml(dir, &mut files)
            .map_err(|source| TagError::Io { path: dir.to_owned(), source })?;
        files.sort();
        let mut n = 0;
        let mut rejected = Vec::new();
        for f in files {
            // Actor packs describe actors, not addresses.
            if f.to_string_lossy().contains("actorpack") {
                continue;
            }
            match self.load_tagpack(&f) {
                Ok(k) => n += k,
                Err(e) => rejected.push(e),
            }
        }
        Ok((n, rejected))
    }

    /// Loads OFAC's sanctioned digital-currency addresses: every
    /// `sanctioned_addresses_<TICKER>.txt` in `dir` (one address per line, as published by
    /// the OFAC-address extraction of the SDN list), each file all-or-nothing, as
    /// [`RiskCategory::Sanctioned`]. Tickers floodgate does not ingest are skipped.
    ///
    /// # Errors
    /// [`TagError::Io`]; [`TagError::BadAddress`] naming the file and line of the first
    /// address invalid for its ticker (nothing of that file is kept).
    pub fn load_ofac_dir(&mut self, dir: &Path) -> Result<usize, TagError> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|source| TagError::Io { path: dir.to_owned(), source })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|f| f.to_str())
                    .is_some_and(|f| f.starts_with("sanctioned_addresses_") && f.ends_with(".txt"))
            })
            .collect();
        files.sort();
        let mut n = 0;
        for path in files {
            let name =
                path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            let ticker = name
                .trim_start_matches("sanctioned_addresses_")
                .trim_end_matches(".txt")
                .to_owned();
            let text = std::fs::read_to_string(&path)
                .map_err(|source| TagError::Io { path: path.clone(), source })?;
            let mut staged = Vec::new();
            for (i, line) in text.lines().enumerate() {
                let a = line.trim();
                if a.is_empty() {
                    continue;
                }
                let addr = match Address::parse_listed(&ticker, a) {
                    Ok(addr) => addr,
                    Err(e) if e.is_unsupported() => {
                        self.skipped_unsupported += 1;
                        continue;
                    }
                    Err(e) => {
                        return Err(TagError::BadAddress {
                            path: path.clone(),
                            line: i + 1,
                            currency: ticker,
                            address: a.to_owned(),
                            reason: e.to_string(),
                        })
                    }
                };
                staged.push(Tag {
                    address: addr.to_canonical(),
                    category: RiskCategory::Sanctioned,
                    label: "OFAC SDN".to_owned(),
                    source: format!("{name} (OFAC SDN list, digital currency addresses)"),
                    confidence: Some("authority_data".to_owned()),
                    actor: None,
                });
            }
            n += staged.len();
            for t in staged {
                self.add(t);
            }
        }
        Ok(n)
    }

    /// Adds one tag.
    pub fn add(&mut self, tag: Tag) {
        let v = self.by_address.entry(tag.address.clone()).or_default();
        if !v.contains(&tag) {
            v.push(tag);
        }
    }

    /// Tags of a canonical address.
    pub fn of(&self, address: &str) -> &[Tag] {
        self.by_address.get(address).map_or(&[], Vec::as_slice)
    }

    /// Every tagged canonical address with its tags, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[Tag])> + '_ {
        self.by_address.iter().map(|(a, t)| (a.as_str(), t.as_slice()))
    }

    /// Number of tagged addresses.
    pub fn len(&self) -> usize {
        self.by_address.len()
    }

    /// Whether no tag is loaded.
    pub fn is_empty(&self) -> bool {
        self.by_address.is_empty()
    }

    /// Tags skipped because their currency is not one floodgate ingests.
    pub fn skipped_unsupported(&self) -> usize {
        self.skipped_unsupported
    }

    /// Tags skipped because they carry neither a category nor an abuse value.
    pub fn skipped_uncategorized(&self) -> usize {
        self.skipped_uncategorized
    }

    /// The category of each tagged node of `graph` (the highest-risk one when an address
    /// has several: the order of [`RiskCategory::ALL`]).
    pub fn resolve(&self, graph: &Graph) -> HashMap<NodeId, RiskCategory> {
        let mut out = HashMap::new();
        for (addr, tags) in &self.by_address {
            if let Some(n) = graph.lookup(addr) {
                if let Some(c) = tags.iter().map(|t| t.category).min() {
                    out.insert(n, c);
                }
            }
        }
        out
    }

    /// As [`TagSet::resolve`], then spread to entities: every address of a co-spend entity
    /// that holds a tagged address takes the entity's category (the highest-risk one among
    /// its addresses' tags, in the order of [`RiskCategory::ALL`]). Addresses keep their own
    /// tag when they have one.
    pub fn resolve_entities(
        &self,
        graph: &Graph,
        clusters: &Clustering,
    ) -> HashMap<NodeId, RiskCategory> {
        let own = self.resolve(graph);
        let mut by_entity: HashMap<EntityId, RiskCategory> = HashMap::new();
        for (&n, &c) in &own {
            let e = by_entity.entry(clusters.entity_of(n)).or_insert(c);
            *e = (*e).min(c);
        }
        let mut out = own.clone();
        if by_entity.is_empty() {
            return out;
        }
        for n in 0..graph.node_count() {
            let n = NodeId(n);
            if own.contains_key(&n) || clusters.size_of(n) < 2 {
                continue;
            }
            if let Some(&c) = by_entity.get(&clusters.entity_of(n)) {
                out.insert(n, c);
            }
        }
        out
    }
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if dir.is_file() {
        out.push(dir.to_owned());
        return Ok(());
    }
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            collect_yaml(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
    Ok(())
}
