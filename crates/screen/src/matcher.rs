//! The in-memory matcher: a candidate index over name tokens and keys, the scorer, and exact
//! address lookup. [`Screener`](crate::Screener) persists around it.
//!
//! Candidate keys per name token: the token with doubled letters collapsed, its sorted letters
//! (catches transpositions, "ABUDL" ~ "ABDUL") and its consonant skeleton (cross-script
//! matching with Arabic, Hebrew, Thai); per name: all tokens joined (catches moved spaces,
//! "AREFULLAHA REF" ~ "AREFULLAH AREF"). Keys are weighted by inverse document frequency and
//! the best [`CANDIDATES`] names are scored in full.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use floodgate_types::{Address, Chain};
use rustc_hash::{FxHashMap, FxHasher};
use serde::Serialize;

use crate::index::{posting_ids, ListStamp, MappedIndex};
use crate::model::{EntityType, ListEntity, ListSnapshot};
use crate::normalize::{collapse, skeleton, NameForm};
use crate::score::{
    compare_names, name_score, ofac_name_score, score_entity, Feature, MatchMode, NameQuery,
    PreparedQuery, ScoreConfig,
};
use crate::unihan::Unihan;

/// How many candidate names are scored in full per query.
pub const CANDIDATES: usize = 64;
/// How many queries a [`Matcher::screen_many`] thread takes at a time.
pub const SCREEN_MANY_BLOCK: usize = 32;
/// Keys shared by more names than this are too common to select candidates (e.g. "al").
const MAX_POSTINGS: usize = 4000;

/// A name hit, with its explanation.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// The list.
    pub list: String,
    /// The entity id within the list.
    pub entity_id: String,
    /// The entity's display name.
    pub entity_name: String,
    /// The entity's type.
    pub entity_type: EntityType,
    /// The name (or alias) that matched best.
    pub matched_name: String,
    /// Total score, 0–1.
    pub score: f64,
    /// Per-feature explanation.
    pub features: Vec<Feature>,
    /// The category the list gives the entity (`special_measure` …); `None` for sanctions
    /// lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<floodgate_types::RiskCategory>,
    /// Programs of the entity.
    pub programs: Vec<String>,
    /// The entity's content hash (suppressions refer to it).
    pub entity_hash: String,
    /// Whether an analyst suppressed this hit for this subject and the entry is unchanged.
    pub suppressed: bool,
    /// The listed entity's relationships (owners, subsidiaries, links), as the list gives them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relations: Vec<crate::relations::Relation>,
    /// Set when the list's ownership data says listed parties own this entity 50 % or more:
    /// the reason, naming each owner and share (OFAC's 50 % rule).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fifty_percent_rule: Option<String>,
}

/// An address hit.
#[derive(Debug, Clone, Serialize)]
pub struct AddressHit {
    /// The list.
    pub list: String,
    /// The entity id.
    pub entity_id: String,
    /// The entity's display name.
    pub entity_name: String,
    /// The asset and address as listed.
    pub listed: crate::model::ListedAddress,
    /// The canonical form both sides were compared in.
    pub canonical: String,
    /// Programs of the entity.
    pub programs: Vec<String>,
    /// The entity's content hash.
    pub entity_hash: String,
    /// The category the list gives the entity (`special_measure` …); `None` for sanctions
    /// lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<floodgate_types::RiskCategory>,
    /// Whether suppressed for this subject.
    pub suppressed: bool,
}

pub(crate) struct IndexedEntity {
    pub(crate) list: Arc<str>,
    pub(crate) entity: ListEntity,
    pub(crate) hash: String,
}

pub(crate) struct IndexedName {
    pub(crate) entity: u32,
    pub(crate) name: u16,
    pub(crate) form: NameForm,
}

/// Where the entities, names and candidate keys live: built in memory, or in a mapped
/// [`crate::index`] file that is read as queries touch it.
enum Store {
    Owned { entities: Vec<IndexedEntity>, names: Vec<IndexedName>, index: FxHashMap<u64, Vec<u32>> },
    Mapped(Box<MappedIndex>),
}

/// A key's postings, from either store.
enum Postings<'a> {
    Owned(&'a [u32]),
    Mapped(&'a [u8]),
}

impl Postings<'_> {
    fn len(&self) -> usize {
        match self {
            Postings::Owned(v) => v.len(),
            Postings::Mapped(b) => b.len() / 4,
        }
    }
}

/// The most the features other than the name can add to a query's score ([`score_entity`]):
/// each feature the query gives evidence for, at its largest weight. A bound, not a score.
fn most_added(cfg: &ScoreConfig, q: &PreparedQuery) -> f64 {
    let w = &cfg.weights;
    let mut most = w.weak_alias.abs();
    if q.query.dob.is_some() {
        most += w.dob_exact.abs().max(w.dob_year.abs()).max(w.dob_mismatch.abs());
    }
    if !q.countries.is_empty() {
        most += w.country_match.abs().max(w.country_mismatch.abs());
    }
    if !q.query.identifiers.is_empty() {
        most += w.identifier_match.abs();
    }
    if q.query.entity_type.is_some() {
        most += w.type_mismatch.abs();
    }
    if !q.form.legal.is_empty() {
        most += w.legal_form_match.abs().max(w.legal_form_mismatch.abs());
    }
    most
}

/// Candidate index + scorer + address table over a set of lists.
pub struct Matcher {
    cfg: ScoreConfig,
    unihan: Option<Arc<Unihan>>,
    store: Store,
    addresses: FxHashMap<Address, Vec<(u32, u16)>>,
    raw_addresses: FxHashMap<String, Vec<(u32, u16)>>,
    /// Entity index by (list, id), built the first time an ownership chain is followed.
    by_id: std::sync::OnceLock<FxHashMap<(Arc<str>, String), u32>>,
}

fn key(kind: u8, s: &str) -> u64 {
    let mut h = FxHasher::default();
    kind.hash(&mut h);
    s.hash(&mut h);
    h.finish()
}

fn sorted_letters(s: &str) -> String {
    let mut v: Vec<char> = s.chars().collect();
    v.sort_unstable();
    v.into_iter().collect()
}

/// The candidate keys of a listed name (the index's key function; [`crate::index`]
/// fingerprints it).
pub(crate) fn form_keys(form: &NameForm, out: &mut Vec<u64>) {
    name_keys(form, out);
}

fn name_keys(form: &NameForm, out: &mut Vec<u64>) {
    for t in &form.tokens {
        let c = collapse(t);
        if c.len() >= 2 || form.tokens.len() == 1 {
            out.push(key(b't', &c));
        }
        if c.len() >= 4 {
            out.push(key(b'a', &sorted_letters(&c)));
        }
        let s = skeleton(t);
        if s.len() >= 2 {
            out.push(key(b's', &s));
        }
    }
    if form.tokens.len() > 1 {
        out.push(key(b'j', &form.joined()));
    }
    // An organization's acronym is found under its token key ("IRGC").
    for a in &form.keys.acronyms {
        out.push(key(b't', &collapse(a)));
    }
}

fn raw_key(asset: &str, text: &str) -> String {
    format!("{}:{}", asset.trim().to_ascii_uppercase(), text.trim().to_ascii_lowercase())
}

/// A brand typed alone names every listed company of its group. When a brand-alone hit and
/// another hit of the same list are linked by the list — a relationship between the two, or a
/// party both are related to (two subsidiaries of one owner) —, the brand hit's name evidence
/// says so ("list-linked to … (id), also a hit"), so the reviewer sees the group rather than
/// unrelated companies that share a word (issue 13 item 3).
fn note_brand_affiliates(hits: &mut [Hit]) {
    let notes: Vec<Vec<String>> = hits
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let brand = h
                .features
                .iter()
                .any(|f| f.feature == "name" && f.evidence.contains("brand alone"));
            if !brand {
                return Vec::new();
            }
            hits.iter()
                .enumerate()
                .filter(|(j, o)| {
                    *j != i
                        && o.list == h.list
                        && (h.relations.iter().any(|r| r.other_id == o.entity_id)
                            || o.relations.iter().any(|r| r.other_id == h.entity_id)
                            || h.relations
                                .iter()
                                .any(|r| o.relations.iter().any(|s| s.other_id == r.other_id)))
                })
                .map(|(_, o)| format!("{} ({})", o.entity_name, o.entity_id))
                .collect()
        })
        .collect();
    for (h, linked) in hits.iter_mut().zip(notes) {
        if linked.is_empty() {
            continue;
        }
        if let Some(f) = h.features.iter_mut().find(|f| f.feature == "name") {
            f.evidence.push_str(&format!("; list-linked to {}, also a hit", linked.join(", ")));
        }
    }
}

impl Matcher {
    /// Builds a matcher over the given lists.
    pub fn new(cfg: ScoreConfig, unihan: Option<Arc<Unihan>>, lists: &[&ListSnapshot]) -> Matcher {
        let mut m = Self::empty(cfg, unihan);
        for l in lists {
            let list: Arc<str> = Arc::from(l.list.as_str());
            for e in &l.entities {
                m.push_entity(list.clone(), e.clone(), e.content_hash());
            }
        }
        m
    }

    pub(crate) fn from_entities(
        cfg: ScoreConfig,
        unihan: Option<Arc<Unihan>>,
        entities: Vec<IndexedEntity>,
    ) -> Matcher {
        let mut m = Self::empty(cfg, unihan);
        for e in entities {
            m.push_entity(e.list, e.entity, e.hash);
        }
        m
    }

    fn empty(cfg: ScoreConfig, unihan: Option<Arc<Unihan>>) -> Matcher {
        Matcher {
            cfg,
            unihan,
            store: Store::Owned {
                entities: Vec::new(),
                names: Vec::new(),
                index: FxHashMap::default(),
            },
            addresses: FxHashMap::default(),
            raw_addresses: FxHashMap::default(),
            by_id: std::sync::OnceLock::new(),
        }
    }

    /// A matcher over a mapped index file (see [`crate::index`]); names and entities are
    /// prepared as queries first touch them.
    pub(crate) fn from_mapped(
        cfg: ScoreConfig,
        unihan: Option<Arc<Unihan>>,
        mapped: MappedIndex,
    ) -> Matcher {
        let mut m = Self::empty(cfg, unihan);
        for (ei, ai, asset, text) in mapped.addresses() {
            m.push_address(ei, ai, asset, text);
        }
        m.store = Store::Mapped(Box::new(mapped));
        m
    }

    /// Whether this matcher reads a mapped index file (rather than one built in memory).
    pub fn is_mapped(&self) -> bool {
        matches!(self.store, Store::Mapped(_))
    }

    /// Writes this matcher's candidate index to `path` for the given list versions (a
    /// matcher built in memory only; a mapped one is already on disk).
    ///
    /// # Errors
    /// [`crate::ScreenError::Io`] naming the file.
    pub(crate) fn write_index(
        &self,
        path: &std::path::Path,
        stamps: &[ListStamp],
    ) -> crate::Result<()> {
        let Store::Owned { entities, names, index } = &self.store else {
            return Ok(());
        };
        let mut lists: Vec<Arc<str>> = Vec::new();
        let rows: Vec<crate::index::EntityRow<'_>> = entities
            .iter()
            .map(|e| {
                let li = match lists.iter().position(|l| *l == e.list) {
                    Some(i) => i,
                    None => {
                        lists.push(e.list.clone());
                        lists.len() - 1
                    }
                };
                crate::index::EntityRow { list: li as u32, entity: &e.entity, hash: &e.hash }
            })
            .collect();
        let name_rows: Vec<crate::index::NameRow<'_>> = names
            .iter()
            .map(|n| crate::index::NameRow {
                entity: n.entity,
                name: n.name,
                text: &entities[n.entity as usize].entity.names[n.name as usize].full,
            })
            .collect();
        let mut keys: Vec<(u64, &[u32])> = index.iter().map(|(k, v)| (*k, v.as_slice())).collect();
        crate::index::write(path, stamps, &lists, &rows, &name_rows, &mut keys)
    }

    fn push_address(&mut self, ei: u32, ai: u16, asset: &str, text: &str) {
        match Address::parse_listed(asset, text) {
            Ok(addr) => self.addresses.entry(addr).or_default().push((ei, ai)),
            Err(_) => self.raw_addresses.entry(raw_key(asset, text)).or_default().push((ei, ai)),
        }
    }

    fn n_names(&self) -> usize {
        match &self.store {
            Store::Owned { names, .. } => names.len(),
            Store::Mapped(m) => m.name_count(),
        }
    }

    fn n_entities(&self) -> usize {
        match &self.store {
            Store::Owned { entities, .. } => entities.len(),
            Store::Mapped(m) => m.entity_count(),
        }
    }

    /// An indexed name: its entity, its index among the entity's names, its form.
    fn name(&self, id: u32) -> (u32, u16, &NameForm) {
        match &self.store {
            Store::Owned { names, .. } => {
                let n = &names[id as usize];
                (n.entity, n.name, &n.form)
            }
            Store::Mapped(m) => {
                let (e, n) = m.name_ref(id);
                (e, n, m.form(id))
            }
        }
    }

    fn entity(&self, ei: u32) -> &IndexedEntity {
        match &self.store {
            Store::Owned { entities, .. } => &entities[ei as usize],
            Store::Mapped(m) => m.entity(ei),
        }
    }

    fn postings(&self, key: u64) -> Option<Postings<'_>> {
        match &self.store {
            Store::Owned { index, .. } => index.get(&key).map(|v| Postings::Owned(v)),
            Store::Mapped(m) => m.postings(key).map(Postings::Mapped),
        }
    }

    fn push_entity(&mut self, list: Arc<str>, entity: ListEntity, hash: String) {
        let ei = self.n_entities() as u32;
        for (ai, a) in entity.addresses.iter().enumerate() {
            self.push_address(ei, ai as u16, &a.asset, &a.address);
        }
        let Store::Owned { entities, names, index } = &mut self.store else {
            return;
        };
        let mut keys = Vec::new();
        for (ni, n) in entity.names.iter().enumerate() {
            let form = NameForm::new(&n.full, entity.entity_type, None);
            if form.tokens.is_empty() {
                continue;
            }
            let id = names.len() as u32;
            keys.clear();
            name_keys(&form, &mut keys);
            keys.sort_unstable();
            keys.dedup();
            for k in &keys {
                index.entry(*k).or_default().push(id);
            }
            names.push(IndexedName { entity: ei, name: ni as u16, form });
        }
        entities.push(IndexedEntity { list, entity, hash });
    }

    /// The scorer configuration.
    pub fn config(&self) -> &ScoreConfig {
        &self.cfg
    }

    /// The Unihan table, if loaded.
    pub fn unihan(&self) -> Option<&Unihan> {
        self.unihan.as_deref()
    }

    /// Number of entities and of indexed names.
    pub fn len(&self) -> (usize, usize) {
        (self.n_entities(), self.n_names())
    }

    /// Whether no entity is loaded.
    pub fn is_empty(&self) -> bool {
        self.n_entities() == 0
    }

    /// Prepares a query (normalization, reading lattice).
    pub fn prepare(&self, q: NameQuery) -> PreparedQuery {
        PreparedQuery::new(q, self.unihan.as_deref())
    }

    fn query_keys(&self, q: &PreparedQuery) -> Vec<u64> {
        let mut keys = Vec::new();
        name_keys(&q.form, &mut keys);
        if let Some(l) = &q.form.lattice {
            for (i, (_, alts, _)) in l.syllables.iter().enumerate() {
                for a in alts.iter().take(8) {
                    keys.push(key(b't', &collapse(a)));
                    if let Some((_, next, _)) = l.syllables.get(i + 1) {
                        for b in next.iter().take(8) {
                            keys.push(key(b't', &collapse(&format!("{a}{b}"))));
                        }
                    }
                }
            }
            let first: String = l.syllables.iter().map(|(_, a, _)| a[0].as_str()).collect();
            keys.push(key(b'j', &collapse(&first)));
        }
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    fn candidates(&self, q: &PreparedQuery) -> Vec<u32> {
        thread_local! {
            // Per-thread score accumulator indexed by name id, and the ids touched: a dense
            // array instead of a hash map (a query adds up to thousands of postings).
            static ACC: std::cell::RefCell<(Vec<f32>, Vec<u32>)> =
                const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
        }
        let keys = self.query_keys(q);
        let n_names = self.n_names();
        let n = n_names.max(1) as f64;
        let mut lists: Vec<Postings<'_>> = keys.iter().filter_map(|k| self.postings(*k)).collect();
        let all_common = lists.iter().all(|l| l.len() > MAX_POSTINGS);
        lists.sort_by_key(|l| l.len());
        ACC.with_borrow_mut(|(acc, touched)| {
            if acc.len() < n_names {
                acc.resize(n_names, 0.0);
            }
            let mut add = |id: u32, w: f32| {
                // Postings were checked to lie among the names when the index was opened.
                if let Some(a) = acc.get_mut(id as usize) {
                    if *a == 0.0 {
                        touched.push(id);
                    }
                    *a += w;
                }
            };
            for (i, l) in lists.iter().enumerate() {
                if l.len() > MAX_POSTINGS && !(all_common && i == 0) {
                    continue;
                }
                // Always > 0 (ln of a number > 1), so a touched id never reads 0.
                let w = (1.0 + n / l.len() as f64).ln() as f32;
                match l {
                    Postings::Owned(v) => v.iter().for_each(|&id| add(id, w)),
                    Postings::Mapped(b) => posting_ids(b).for_each(|id| add(id, w)),
                }
            }
            let mut v: Vec<(u32, f32)> = touched.iter().map(|&id| (id, acc[id as usize])).collect();
            for &id in touched.iter() {
                acc[id as usize] = 0.0;
            }
            touched.clear();
            if v.len() > CANDIDATES {
                v.select_nth_unstable_by(CANDIDATES, |a, b| {
                    b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
                });
                v.truncate(CANDIDATES);
            }
            // In name order, as the brute-force scan meets them (an entity's first name wins
            // a tie between two of its names).
            let mut ids: Vec<u32> = v.into_iter().map(|(id, _)| id).collect();
            ids.sort_unstable();
            ids
        })
    }

    fn score_names(
        &self,
        q: &PreparedQuery,
        ids: impl Iterator<Item = u32>,
        threshold: f64,
    ) -> Vec<Hit> {
        let mut best: FxHashMap<u32, (f64, Vec<Feature>, u16)> = FxHashMap::default();
        let (name_weight, most_added) = (self.cfg.weights.name, most_added(&self.cfg, q));
        for id in ids {
            let (n_entity, n_name, form) = self.name(id);
            let m = match self.cfg.mode {
                MatchMode::Floodgate => {
                    // Score first without words; a name that cannot reach the threshold even
                    // with every other feature in its favour is not a hit, so it need not be
                    // explained.
                    let s = name_score(&q.form, form);
                    // (The margin keeps a name whose features sum to the threshold in
                    // another order of additions.)
                    if s < 0.5 || name_weight * s + most_added < threshold - 1e-9 {
                        continue;
                    }
                    compare_names(&q.form, form)
                }
                MatchMode::OfacEmulation => ofac_name_score(&q.form, form),
            };
            if m.score < 0.5 {
                continue;
            }
            let e = self.entity(n_entity);
            let name = &e.entity.names[n_name as usize];
            let (s, f) = score_entity(&self.cfg, q, &e.entity, name, form, &m);
            let slot = best.entry(n_entity).or_insert((-1.0, Vec::new(), 0));
            if s > slot.0 {
                *slot = (s, f, n_name);
            }
        }
        let mut hits: Vec<Hit> = best
            .into_iter()
            .filter(|(_, (s, _, _))| *s >= threshold)
            .map(|(ei, (score, features, ni))| {
                let e = self.entity(ei);
                Hit {
                    list: e.list.to_string(),
                    entity_id: e.entity.id.clone(),
                    entity_name: e.entity.display_name().to_owned(),
                    entity_type: e.entity.entity_type,
                    matched_name: e.entity.names[ni as usize].full.clone(),
                    score,
                    features,
                    category: e.entity.category,
                    programs: e.entity.programs.clone(),
                    entity_hash: e.hash.clone(),
                    suppressed: false,
                    relations: e.entity.relations.clone(),
                    fifty_percent_rule: self.fifty_percent_rule(&e.list, &e.entity),
                }
            })
            .collect();
        hits.sort_by(|a, b| {
            b.score.total_cmp(&a.score).then_with(|| a.entity_id.cmp(&b.entity_id))
        });
        note_brand_affiliates(&mut hits);
        hits
    }

    /// Screens a prepared query through the candidate index; hits at or above the threshold,
    /// best first.
    pub fn screen_prepared(&self, q: &PreparedQuery) -> Vec<Hit> {
        let ids = self.candidates(q);
        self.score_names(q, ids.into_iter(), self.cfg.threshold)
    }

    /// Screens a name query (see [`Matcher::screen_prepared`]).
    pub fn screen(&self, q: NameQuery) -> Vec<Hit> {
        let q = self.prepare(q);
        self.screen_prepared(&q)
    }

    /// Screens many name queries on `threads` threads; the results are in the order of the
    /// queries, each as [`Matcher::screen`] gives it. Threads take blocks of
    /// [`SCREEN_MANY_BLOCK`] queries from a shared counter until none is left, so a thread the
    /// machine gives less time to does less of the work.
    pub fn screen_many(&self, queries: Vec<NameQuery>, threads: usize) -> Vec<Vec<Hit>> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let blocks = queries.len().div_ceil(SCREEN_MANY_BLOCK);
        let threads = threads.clamp(1, blocks.max(1));
        let next = AtomicUsize::new(0);
        let queries = &queries;
        let mut done: Vec<(usize, Vec<Vec<Hit>>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut mine = Vec::new();
                        loop {
                            let start = next.fetch_add(SCREEN_MANY_BLOCK, Ordering::Relaxed);
                            let Some(block) = queries.get(start..) else { break };
                            if block.is_empty() {
                                break;
                            }
                            let block = &block[..block.len().min(SCREEN_MANY_BLOCK)];
                            mine.push((
                                start,
                                block.iter().map(|q| self.screen(q.clone())).collect::<Vec<_>>(),
                            ));
                        }
                        mine
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| match h.join() {
                    Ok(v) => v,
                    // A panic in a worker is a bug; surface it on this thread.
                    Err(e) => std::panic::resume_unwind(e),
                })
                .collect()
        });
        done.sort_unstable_by_key(|(start, _)| *start);
        done.into_iter().flat_map(|(_, hits)| hits).collect()
    }

    /// Screens by scoring every name (the brute-force baseline of the benchmarks and a check
    /// of the index's recall).
    pub fn screen_brute_force(&self, q: &PreparedQuery) -> Vec<Hit> {
        self.score_names(q, 0..self.n_names() as u32, self.cfg.threshold)
    }

    /// Scores a query against the given entities only (delta re-screening).
    pub(crate) fn screen_entities(
        &self,
        q: &PreparedQuery,
        entity_ids: &rustc_hash::FxHashSet<u32>,
    ) -> Vec<Hit> {
        let ids = (0..self.n_names() as u32).filter(|i| match &self.store {
            Store::Owned { names, .. } => entity_ids.contains(&names[*i as usize].entity),
            Store::Mapped(m) => entity_ids.contains(&m.name_ref(*i).0),
        });
        self.score_names(q, ids, self.cfg.threshold)
    }

    /// OFAC's 50 % rule for a hit's entity, following ownership chains through the entries of
    /// its list ([`crate::relations::fifty_percent_rule`]).
    fn fifty_percent_rule(&self, list: &Arc<str>, entity: &ListEntity) -> Option<String> {
        // Most entities have no owner with a stated share: no lookup table needed.
        if !entity.relations.iter().any(|r| r.is_owned_by_other() && r.share_percent.is_some()) {
            return None;
        }
        let by_id = self.by_id.get_or_init(|| {
            (0..self.n_entities() as u32)
                .map(|i| match &self.store {
                    Store::Owned { entities, .. } => {
                        let e = &entities[i as usize];
                        ((e.list.clone(), e.entity.id.clone()), i)
                    }
                    Store::Mapped(m) => {
                        let (l, id) = m.entity_key(i);
                        ((Arc::from(l), id.to_owned()), i)
                    }
                })
                .collect()
        });
        let lookup =
            |id: &str| by_id.get(&(list.clone(), id.to_owned())).map(|&i| &self.entity(i).entity);
        crate::relations::fifty_percent_rule(entity, &lookup)
    }

    pub(crate) fn entity_index(&self, list: &str, id: &str) -> Option<u32> {
        match &self.store {
            Store::Owned { entities, .. } => entities
                .iter()
                .position(|e| &*e.list == list && e.entity.id == id)
                .map(|i| i as u32),
            Store::Mapped(m) => {
                (0..m.entity_count() as u32).find(|i| m.entity_key(*i) == (list, id))
            }
        }
    }

    /// Exact, chain-aware address screening: the address is parsed for `chain` and compared in
    /// canonical form (EIP-55 Ethereum matches lowercase; Tron hex matches base58).
    ///
    /// # Errors
    /// [`crate::ScreenError::Query`] when the address is not valid on that chain.
    pub fn screen_address(&self, chain: Chain, text: &str) -> crate::Result<Vec<AddressHit>> {
        let addr =
            Address::parse(chain, text).map_err(|e| crate::ScreenError::Query(e.to_string()))?;
        Ok(self.address_hits(&addr, None))
    }

    /// Address screening for assets floodgate does not parse (LTC, XMR, …): exact text match,
    /// case-insensitive.
    pub fn screen_raw_address(&self, asset: &str, text: &str) -> Vec<AddressHit> {
        let mut out = Vec::new();
        for &(ei, ai) in self.raw_addresses.get(&raw_key(asset, text)).into_iter().flatten() {
            out.push(self.address_hit(ei, ai, text.trim().to_owned()));
        }
        out
    }

    pub(crate) fn address_hits(
        &self,
        addr: &Address,
        only: Option<&rustc_hash::FxHashSet<u32>>,
    ) -> Vec<AddressHit> {
        let canonical = addr.to_canonical();
        self.addresses
            .get(addr)
            .into_iter()
            .flatten()
            .filter(|(ei, _)| only.is_none_or(|s| s.contains(ei)))
            .map(|&(ei, ai)| self.address_hit(ei, ai, canonical.clone()))
            .collect()
    }

    fn address_hit(&self, ei: u32, ai: u16, canonical: String) -> AddressHit {
        let e = self.entity(ei);
        AddressHit {
            list: e.list.to_string(),
            entity_id: e.entity.id.clone(),
            entity_name: e.entity.display_name().to_owned(),
            listed: e.entity.addresses[ai as usize].clone(),
            canonical,
            programs: e.entity.programs.clone(),
            entity_hash: e.hash.clone(),
            category: e.entity.category,
            suppressed: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ListEntity, ListName};

    #[test]
    fn screen_many_keeps_the_order_and_the_hits_of_screen() {
        let ent = |id: &str, name: &str| ListEntity {
            id: id.into(),
            entity_type: EntityType::Person,
            names: vec![ListName::primary(name)],
            ..ListEntity::default()
        };
        let snap = ListSnapshot {
            list: "t".into(),
            entities: vec![ent("1", "Ali Hassan Karimi"), ent("2", "Sergei Lavrov")],
            ..ListSnapshot::default()
        };
        let m = Matcher::new(ScoreConfig::default(), None, &[&snap]);
        let names = ["Sergie Lavrov", "Nobody Atall", "Ali Karimi", "Sergei Lavrov", "Xyz"];
        let queries: Vec<NameQuery> = names.iter().map(|n| NameQuery::name(*n)).collect();
        for threads in [1, 2, 3, 8] {
            let many = m.screen_many(queries.clone(), threads);
            assert_eq!(many.len(), names.len());
            for (q, hits) in queries.iter().zip(&many) {
                let one: Vec<_> = m.screen(q.clone()).into_iter().map(|h| h.entity_id).collect();
                let got: Vec<_> = hits.iter().map(|h| h.entity_id.clone()).collect();
                assert_eq!(got, one, "{} on {threads} threads", q.name);
            }
        }
        assert_eq!(many_ids(&m, &queries)[0], vec!["2".to_owned()]);
    }

    fn many_ids(m: &Matcher, q: &[NameQuery]) -> Vec<Vec<String>> {
        m.screen_many(q.to_vec(), 2)
            .into_iter()
            .map(|h| h.into_iter().map(|h| h.entity_id).collect())
            .collect()
    }
}
