//! The persistent screener: lists, versions, entities, subjects, suppressions and results in
//! SQLite (`screening.db` in the data directory), around an in-memory [`Matcher`].
//!
//! **Loads are all-or-nothing.** A list file is parsed completely in memory first; only a
//! successful parse is written, in one transaction that replaces that list's entities. A bad
//! file therefore leaves the previous version in force.
//!
//! **Suppressions** record the entity's content hash at the time of the analyst's decision. A
//! suppressed hit stays suppressed across reloads while the entry is unchanged, and comes back
//! for review as soon as the entry itself changes.
//!
//! **Delta re-screening.** Registered subjects (customers, addresses) are re-screened on a load
//! only against the entries the new version added or changed; hits on removed or changed
//! entries that no longer match are reported as removed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use floodgate_types::{Address, Chain, TenantId, Timestamp};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use crate::error::{Result, ScreenError};
use crate::matcher::{IndexedEntity, Matcher};
use crate::model::{ListEntity, ListSnapshot};
use crate::score::{NameQuery, ScoreConfig};
pub use crate::store::DB_FILE;
use crate::store::{NewLoad, ScreeningStore, SqliteScreeningStore, StoredResult};
use crate::unihan::Unihan;
use crate::{AddressHit, Hit};

/// What is screened for a registered subject.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Subject {
    /// A customer or counterparty name.
    Name(NameQuery),
    /// A wallet address.
    Address {
        /// Its chain.
        chain: Chain,
        /// The address text.
        address: String,
    },
}

/// The SHA-256 digest of one file a load read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    /// The file's path as given.
    pub path: String,
    /// Hex SHA-256 of the file's bytes as stored on disk (compressed, for `.bz2`).
    pub sha256: String,
    /// Its size in bytes.
    pub bytes: u64,
}

impl FileDigest {
    /// Hashes a file, streaming.
    ///
    /// # Errors
    /// [`ScreenError::Io`] naming the file.
    pub fn of(path: &Path) -> Result<FileDigest> {
        use sha2::{Digest, Sha256};
        let mut f = std::fs::File::open(path).map_err(|e| ScreenError::io(path, e))?;
        let mut h = Sha256::new();
        let bytes = std::io::copy(&mut f, &mut h).map_err(|e| ScreenError::io(path, e))?;
        Ok(FileDigest {
            path: path.display().to_string(),
            sha256: hex::encode(h.finalize()),
            bytes,
        })
    }
}

/// How a load is guarded and what is recorded about it.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The largest share of a list's entries, in percent, a new version may drop.
    pub max_shrink_percent: u32,
    /// Load even when the new version drops more than `max_shrink_percent`.
    pub allow_shrink: bool,
    /// Who loads (recorded in the history).
    pub loaded_by: String,
    /// The files read, with their digests (recorded in the history).
    pub files: Vec<FileDigest>,
}

/// The default largest share of entries a load may drop: 10 %.
pub const DEFAULT_MAX_SHRINK_PERCENT: u32 = 10;

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            max_shrink_percent: DEFAULT_MAX_SHRINK_PERCENT,
            allow_shrink: false,
            loaded_by: "unknown".into(),
            files: Vec::new(),
        }
    }
}

/// One recorded load of a list version: who, when, which files (with SHA-256) and the entry
/// counts before and after.
#[derive(Debug, Clone, Serialize)]
pub struct LoadRecord {
    /// The load's id (increasing); screening results name it with the version.
    pub load_id: i64,
    /// The list.
    pub list: String,
    /// The version loaded.
    pub version: String,
    /// The version it replaced.
    pub previous_version: Option<String>,
    /// When (RFC 3339, UTC).
    pub loaded_at: String,
    /// Who.
    pub loaded_by: String,
    /// Entries before the load.
    pub entities_before: usize,
    /// Entries after the load.
    pub entities_after: usize,
    /// Entries added.
    pub added: usize,
    /// Entries removed.
    pub removed: usize,
    /// Entries changed.
    pub changed: usize,
    /// Whether `--allow-shrink` was given.
    pub allow_shrink: bool,
    /// The files read.
    pub files: Vec<FileDigest>,
}

/// An analyst's suppression of a hit (a false positive), as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Suppression {
    /// The subject.
    pub subject: String,
    /// The list.
    pub list: String,
    /// The entity.
    pub entity_id: String,
    /// The entity's content hash when suppressed.
    pub entity_hash: String,
    /// Whether the entity is loaded with that content now (else the hit is back for review).
    pub in_force: bool,
    /// Why.
    pub reason: String,
    /// Who.
    pub created_by: String,
    /// When (RFC 3339, UTC).
    pub created_at: String,
}

/// A list as loaded.
#[derive(Debug, Clone, Serialize)]
pub struct ListInfo {
    /// List name.
    pub list: String,
    /// Version.
    pub version: String,
    /// Source path(s).
    pub source: String,
    /// Load time.
    pub loaded_at: String,
    /// Number of entities.
    pub entities: usize,
    /// The load that put this version in force (see [`Screener::history`]); none for lists
    /// loaded before load history was kept.
    pub load_id: Option<i64>,
}

/// A hit stored for a registered subject ([`Screener::stored_hits`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredHit {
    /// The subject's id.
    pub subject: String,
    /// The list.
    pub list: String,
    /// The list entry.
    pub entity_id: String,
    /// The entry's content hash when it was screened.
    pub entity_hash: String,
    /// The score (1.0 for an address).
    pub score: f64,
    /// When it was screened.
    pub screened_at: String,
    /// Suppressed for this subject on this version of the entry.
    pub suppressed: bool,
}

/// A change in a subject's hits caused by a list load.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DeltaHit {
    /// The subject id.
    pub subject: String,
    /// The list.
    pub list: String,
    /// The entity.
    pub entity_id: String,
    /// The list version the hit was found (or lost) in.
    pub list_version: String,
    /// Score of the new hit (1 for addresses); the old score for removed hits.
    pub score: f64,
}

/// What a load did.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// The list.
    pub list: String,
    /// The previous version, if any.
    pub previous_version: Option<String>,
    /// The new version.
    pub version: String,
    /// The load's id in the history.
    pub load_id: i64,
    /// Entries before the load.
    pub entities_before: usize,
    /// Entries after the load.
    pub entities_after: usize,
    /// Entities added, removed, changed, unchanged.
    pub added: usize,
    /// Removed.
    pub removed: usize,
    /// Changed.
    pub changed: usize,
    /// Unchanged.
    pub unchanged: usize,
    /// New hits of registered subjects.
    pub new_hits: Vec<DeltaHit>,
    /// Hits of registered subjects that went away.
    pub removed_hits: Vec<DeltaHit>,
}

/// Persistent screening over a data directory, for one tenant: the matcher in memory, the
/// lists, subjects, results and suppressions in a [`ScreeningStore`].
pub struct Screener {
    store: Box<dyn ScreeningStore + Send>,
    cfg: ScoreConfig,
    unihan: Option<Arc<Unihan>>,
    matcher: Matcher,
}

impl Screener {
    /// Opens (or creates) `screening.db` in `data_dir` for the default tenant
    /// ([`TenantId::DEFAULT`]) and builds the matcher from the stored lists.
    ///
    /// # Errors
    /// [`ScreenError::Db`] or [`ScreenError::Corrupt`] naming the database file.
    pub fn open(
        data_dir: &Path,
        cfg: ScoreConfig,
        unihan: Option<Arc<Unihan>>,
    ) -> Result<Screener> {
        Screener::open_tenant(data_dir, TenantId::default_tenant(), cfg, unihan)
    }

    /// Opens (or creates) `screening.db` in `data_dir` for `tenant`: its lists, subjects and
    /// suppressions only.
    ///
    /// # Errors
    /// As [`Screener::open`].
    pub fn open_tenant(
        data_dir: &Path,
        tenant: TenantId,
        cfg: ScoreConfig,
        unihan: Option<Arc<Unihan>>,
    ) -> Result<Screener> {
        let store = SqliteScreeningStore::open(data_dir, tenant)?;
        Screener::with_store(Box::new(store), cfg, unihan)
    }

    /// A screener over any [`ScreeningStore`] backend; builds the matcher from its lists.
    ///
    /// # Errors
    /// The backend's error.
    pub fn with_store(
        store: Box<dyn ScreeningStore + Send>,
        cfg: ScoreConfig,
        unihan: Option<Arc<Unihan>>,
    ) -> Result<Screener> {
        let mut s = Screener {
            store,
            cfg: cfg.clone(),
            unihan: unihan.clone(),
            matcher: Matcher::new(cfg.clone(), unihan.clone(), &[]),
        };
        // The mapped index answers at once when it matches the stored lists; otherwise the
        // matcher is rebuilt from the entities and the index rewritten.
        let stamps = s.list_stamps()?;
        match crate::index::open(&s.index_path(), &stamps) {
            Ok(Some(mapped)) => s.matcher = Matcher::from_mapped(cfg, unihan, mapped),
            Ok(None) => s.rebuild()?,
            Err(e) => {
                tracing::warn!(target: "floodgate::screen::index", error = %e, "screening index unreadable; rebuilding");
                s.rebuild()?;
            }
        }
        Ok(s)
    }

    /// The tenant whose lists and subjects these are.
    pub fn tenant(&self) -> &TenantId {
        self.store.tenant()
    }

    /// The mapped candidate index beside the database: `screening.idx` for the default tenant,
    /// `screening.<sha256(tenant)[..32]>.idx` for another, so tenants never share one.
    fn index_path(&self) -> PathBuf {
        let t = self.store.tenant();
        let name = if t.as_str() == TenantId::DEFAULT {
            crate::index::INDEX_FILE.to_owned()
        } else {
            use sha2::Digest;
            let h = hex::encode(sha2::Sha256::digest(t.as_str().as_bytes()));
            format!("screening.{}.idx", &h[..32])
        };
        self.store.location().with_file_name(name)
    }

    /// The stored list versions the index must have been built from.
    fn list_stamps(&self) -> Result<Vec<crate::index::ListStamp>> {
        let mut stamps: Vec<crate::index::ListStamp> = self
            .store
            .lists()?
            .into_iter()
            .map(|l| crate::index::ListStamp {
                list: l.list,
                version: l.version,
                load_id: l.load_id.unwrap_or(0),
                entities: l.entities as u64,
            })
            .collect();
        stamps.sort_by(|a, b| a.list.cmp(&b.list));
        Ok(stamps)
    }

    fn rebuild(&mut self) -> Result<()> {
        let mut ents = Vec::new();
        let mut lists: FxHashMap<String, Arc<str>> = FxHashMap::default();
        for e in self.store.entities()? {
            let l =
                lists.entry(e.list.clone()).or_insert_with(|| Arc::from(e.list.as_str())).clone();
            ents.push(IndexedEntity { list: l, entity: e.entity, hash: e.hash });
        }
        self.matcher = Matcher::from_entities(self.cfg.clone(), self.unihan.clone(), ents);
        // A failed write costs the next process a rebuild, not a wrong answer.
        if let Err(e) = self.matcher.write_index(&self.index_path(), &self.list_stamps()?) {
            tracing::warn!(target: "floodgate::screen::index", error = %e, "screening index not written");
        }
        Ok(())
    }

    /// The in-memory matcher.
    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// The in-memory matcher, for a caller that only screens from here on (the monitor) and
    /// needs no database handle.
    pub fn into_matcher(self) -> Matcher {
        self.matcher
    }

    /// Loaded lists.
    ///
    /// # Errors
    /// [`ScreenError::Db`].
    pub fn lists(&self) -> Result<Vec<ListInfo>> {
        self.store.lists()
    }

    /// Loads a list version with the default [`LoadOptions`] (see [`Screener::load_with`]).
    ///
    /// # Errors
    /// As [`Screener::load_with`].
    pub fn load(&mut self, snap: ListSnapshot) -> Result<LoadReport> {
        self.load_with(snap, &LoadOptions::default())
    }

    /// Checks whether a load of `snap` would be refused, without changing anything: a version
    /// with no entries always is; one that drops more than `max_shrink_percent` of the loaded
    /// version's entries is unless `allow_shrink`. Returns the loaded version's entry count.
    ///
    /// # Errors
    /// [`ScreenError::EmptyList`], [`ScreenError::Shrink`] with the counts, [`ScreenError::Db`].
    pub fn check_load(&self, snap: &ListSnapshot, opts: &LoadOptions) -> Result<usize> {
        let before = self.store.list_state(&snap.list)?.map_or(0, |(_, n)| n);
        let after = snap.entities.len();
        if after == 0 {
            return Err(ScreenError::EmptyList {
                list: snap.list.clone(),
                source_path: snap.source.clone(),
                before,
            });
        }
        if !opts.allow_shrink && after < before {
            let dropped = (before - after) as u64;
            let before64 = before as u64;
            if dropped * 100 > before64 * u64::from(opts.max_shrink_percent) {
                return Err(ScreenError::Shrink {
                    list: snap.list.clone(),
                    source_path: snap.source.clone(),
                    before,
                    after,
                    dropped_percent: dropped * 100 / before64,
                    max_percent: opts.max_shrink_percent,
                });
            }
        }
        Ok(before)
    }

    /// Loads a list version (replacing the previous version of the same list), records the
    /// load in the history and re-screens registered subjects against what changed. A version
    /// with no entries, or one dropping more than the allowed share of entries, is refused
    /// ([`Screener::check_load`]).
    ///
    /// # Errors
    /// [`ScreenError::EmptyList`], [`ScreenError::Shrink`], [`ScreenError::Db`]; on error
    /// nothing is changed.
    pub fn load_with(&mut self, snap: ListSnapshot, opts: &LoadOptions) -> Result<LoadReport> {
        let entities_before = self.check_load(&snap, opts)?;
        let old = self.store.entity_hashes(&snap.list)?;
        let previous_version = self.store.list_state(&snap.list)?.map(|(v, _)| v);
        let mut new_ids = FxHashSet::default();
        let (mut added, mut changed, mut unchanged) = (0, 0, 0);
        let mut touched: FxHashSet<String> = FxHashSet::default();
        let hashes: Vec<String> = snap.entities.iter().map(ListEntity::content_hash).collect();
        for (e, h) in snap.entities.iter().zip(&hashes) {
            new_ids.insert(e.id.clone());
            match old.get(&e.id) {
                None => {
                    added += 1;
                    touched.insert(e.id.clone());
                }
                Some(o) if o != h => {
                    changed += 1;
                    touched.insert(e.id.clone());
                }
                Some(_) => unchanged += 1,
            }
        }
        let removed_ids: Vec<String> =
            old.keys().filter(|k| !new_ids.contains(*k)).cloned().collect();
        let now = Timestamp::now().to_rfc3339();
        let files = serde_json::to_string(&opts.files).map_err(|e| ScreenError::Corrupt {
            path: self.store.location().to_path_buf(),
            reason: format!("files of the load of {}: {e}", snap.list),
        })?;
        let load_id = self.store.replace_list(
            &snap,
            &hashes,
            &NewLoad {
                previous_version: previous_version.as_deref(),
                loaded_at: &now,
                loaded_by: &opts.loaded_by,
                entities_before,
                added,
                removed: removed_ids.len(),
                changed,
                allow_shrink: opts.allow_shrink,
                files_json: &files,
            },
        )?;
        tracing::info!(
            target: "floodgate::screen::load",
            list = %snap.list,
            version = %snap.version,
            load_id,
            entities_before,
            entities_after = snap.entities.len(),
            by = %opts.loaded_by,
            "list loaded"
        );
        self.rebuild()?;

        // Delta re-screening of registered subjects.
        let touched_idx: FxHashSet<u32> =
            touched.iter().filter_map(|id| self.matcher.entity_index(&snap.list, id)).collect();
        let mut new_hits = Vec::new();
        let mut removed_hits = Vec::new();
        let subjects = self.subjects()?;
        for (sid, subject) in &subjects {
            let hits: Vec<(String, String, f64)> = match subject {
                Subject::Name(q) => {
                    let pq = self.matcher.prepare(q.clone());
                    self.matcher
                        .screen_entities(&pq, &touched_idx)
                        .into_iter()
                        .map(|h| (h.entity_id, h.entity_hash, h.score))
                        .collect()
                }
                Subject::Address { chain, address } => match Address::parse(*chain, address) {
                    Ok(a) => self
                        .matcher
                        .address_hits(&a, Some(&touched_idx))
                        .into_iter()
                        .map(|h| (h.entity_id, h.entity_hash, 1.0))
                        .collect(),
                    Err(_) => Vec::new(),
                },
            };
            let hit_ids: FxHashSet<&String> = hits.iter().map(|h| &h.0).collect();
            // Previous results on removed or changed entities that no longer hit.
            let prev = self.store.results(sid, &snap.list)?;
            for (eid, score) in prev {
                let gone = removed_ids.contains(&eid)
                    || (touched.contains(&eid) && !hit_ids.contains(&eid));
                if gone {
                    self.store.delete_result(sid, &snap.list, &eid)?;
                    removed_hits.push(DeltaHit {
                        subject: sid.clone(),
                        list: snap.list.clone(),
                        entity_id: eid,
                        list_version: snap.version.clone(),
                        score,
                    });
                }
            }
            for (eid, hash, score) in hits {
                let row = StoredResult {
                    list: snap.list.clone(),
                    entity_id: eid,
                    entity_hash: hash,
                    score,
                };
                let existed = self.store.put_result(sid, &row, &now)?;
                let eid = row.entity_id;
                if !existed {
                    new_hits.push(DeltaHit {
                        subject: sid.clone(),
                        list: snap.list.clone(),
                        entity_id: eid,
                        list_version: snap.version.clone(),
                        score,
                    });
                }
            }
        }
        Ok(LoadReport {
            list: snap.list,
            previous_version,
            load_id,
            entities_before,
            entities_after: snap.entities.len(),
            version: snap.version,
            added,
            removed: removed_ids.len(),
            changed,
            unchanged,
            new_hits,
            removed_hits,
        })
    }

    /// Loads a file with [`crate::loaders::load_path`] and then [`Screener::load`]s it. A file
    /// that fails to parse changes nothing.
    ///
    /// # Errors
    /// The loader's error (naming file and line/element), or [`ScreenError::Db`].
    pub fn load_path(&mut self, path: &Path, list: Option<&str>) -> Result<LoadReport> {
        let mut snap = crate::loaders::load_path(path)?;
        if let Some(l) = list {
            snap.list = l.to_owned();
        }
        self.load(snap)
    }

    /// The load history, newest first; only `list`'s loads when given.
    ///
    /// # Errors
    /// [`ScreenError::Db`], or [`ScreenError::Corrupt`] for an unreadable file list.
    pub fn history(&self, list: Option<&str>) -> Result<Vec<LoadRecord>> {
        self.store.history(list)
    }

    fn subjects(&self) -> Result<Vec<(String, Subject)>> {
        self.store.subjects()
    }

    /// Every hit stored for the registered subjects (the state delta re-screening compares
    /// against), with the suppressed ones marked: what the alert feed reconciles with, so a
    /// hit whose alert was lost to a crash after the screening commit is raised on the next
    /// reconciliation (alerts are keyed by subject, list and entry).
    ///
    /// # Errors
    /// [`ScreenError::Db`] naming the database.
    pub fn stored_hits(&self) -> Result<Vec<StoredHit>> {
        self.store.stored_hits()
    }

    fn suppressed(&self, subject: &str, list: &str, entity_id: &str, hash: &str) -> Result<bool> {
        let h = self.store.suppression_hash(subject, list, entity_id)?;
        Ok(h.is_some_and(|h| h == hash))
    }

    /// Registers (or replaces) a subject and screens it; results are stored for delta
    /// re-screening. Hits suppressed for this subject on an unchanged entry are marked.
    ///
    /// # Errors
    /// [`ScreenError::Db`], or [`ScreenError::Query`] for an invalid address.
    pub fn screen_subject(
        &mut self,
        id: &str,
        subject: Subject,
    ) -> Result<(Vec<Hit>, Vec<AddressHit>)> {
        self.store.put_subject(id, &subject)?;
        let (mut hits, mut ahits) = (Vec::new(), Vec::new());
        match &subject {
            Subject::Name(q) => hits = self.matcher.screen(q.clone()),
            Subject::Address { chain, address } => {
                ahits = self.matcher.screen_address(*chain, address)?
            }
        }
        let now = Timestamp::now().to_rfc3339();
        let mut rows = Vec::with_capacity(hits.len() + ahits.len());
        for h in &mut hits {
            h.suppressed = self.suppressed(id, &h.list, &h.entity_id, &h.entity_hash)?;
            rows.push(StoredResult {
                list: h.list.clone(),
                entity_id: h.entity_id.clone(),
                entity_hash: h.entity_hash.clone(),
                score: h.score,
            });
        }
        for h in &mut ahits {
            h.suppressed = self.suppressed(id, &h.list, &h.entity_id, &h.entity_hash)?;
            rows.push(StoredResult {
                list: h.list.clone(),
                entity_id: h.entity_id.clone(),
                entity_hash: h.entity_hash.clone(),
                score: 1.0,
            });
        }
        self.store.replace_results(id, &rows, &now)?;
        Ok((hits, ahits))
    }

    /// Records an analyst's "false positive" decision for a subject and a list entity, tied to
    /// the entity's current content (by "unknown"; see [`Screener::suppress_by`]).
    ///
    /// # Errors
    /// As [`Screener::suppress_by`].
    pub fn suppress(
        &mut self,
        subject: &str,
        list: &str,
        entity_id: &str,
        reason: &str,
    ) -> Result<()> {
        self.suppress_by(subject, list, entity_id, reason, "unknown").map(|_| ())
    }

    /// Records an analyst's "false positive" decision for a subject and a list entity, tied to
    /// the entity's current content, with who and why; logged in `suppression_log`.
    ///
    /// # Errors
    /// [`ScreenError::NotFound`] when the entity is not loaded; [`ScreenError::Query`] for an
    /// empty reason; [`ScreenError::Db`].
    pub fn suppress_by(
        &mut self,
        subject: &str,
        list: &str,
        entity_id: &str,
        reason: &str,
        by: &str,
    ) -> Result<Suppression> {
        if reason.trim().is_empty() {
            return Err(ScreenError::Query("a suppression needs a reason".into()));
        }
        let hash = self
            .store
            .entity_hash(list, entity_id)?
            .ok_or_else(|| ScreenError::NotFound(format!("entity {entity_id} of list {list}")))?;
        let now = Timestamp::now().to_rfc3339();
        let s = Suppression {
            subject: subject.to_owned(),
            list: list.to_owned(),
            entity_id: entity_id.to_owned(),
            entity_hash: hash,
            in_force: true,
            reason: reason.to_owned(),
            created_by: by.to_owned(),
            created_at: now,
        };
        self.store.suppress(&s)?;
        Ok(s)
    }
    /// Undoes a suppression (the hit counts again); logged in `suppression_log` with who and
    /// why.
    ///
    /// # Errors
    /// [`ScreenError::NotFound`] when there is no such suppression; [`ScreenError::Db`].
    pub fn unsuppress(
        &mut self,
        subject: &str,
        list: &str,
        entity_id: &str,
        reason: &str,
        by: &str,
    ) -> Result<()> {
        let now = Timestamp::now().to_rfc3339();
        match self.store.unsuppress(subject, list, entity_id, reason, by, &now)? {
            Some(_) => Ok(()),
            None => Err(ScreenError::NotFound(format!(
                "suppression of entity {entity_id} of list {list} for subject {subject}"
            ))),
        }
    }

    /// Every suppression, with whether it is still in force (the entity unchanged).
    ///
    /// # Errors
    /// [`ScreenError::Db`].
    pub fn suppressions(&self) -> Result<Vec<Suppression>> {
        self.store.suppressions()
    }
}
