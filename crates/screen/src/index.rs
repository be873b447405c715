//! The persistent, memory-mapped candidate index (`screening.idx` beside `screening.db`).
//!
//! Building the in-memory [`Matcher`] means parsing every stored entity and normalizing every
//! name, which takes most of a second with the SDN and UN loaded. The index file holds what a
//! query needs to find and score its candidates: the candidate keys with their postings, each
//! name's text, and each entity's JSON. A process maps it and answers at once; names are
//! normalized and entities parsed only when a query first touches them.
//!
//! **Never trusted.** The header names the format version, the list versions it was built from
//! (list, version, load id, entity count), a fingerprint of the candidate-key function and a
//! CRC-32 of everything after the header. [`open`] returns `None` — and the caller rebuilds and
//! rewrites the index — when the file is missing, of another format, built from other list
//! versions or another key function, truncated, fails its checksum, or has a record pointing
//! outside its section. The file is written to a temporary name and renamed into place, so a
//! crash while writing leaves the previous file or none.
//!
//! Layout (little-endian): a 32-byte header (`FGSCRIDX`, format version u32, meta length u32,
//! body length u64, CRC-32 u32, reserved u32), the JSON meta, then 8-byte aligned sections:
//! entities (32 bytes each: list, type, id, content hash and JSON as blob references), names
//! (16 bytes: entity, name index, text), keys (16 bytes: key, first posting, posting count;
//! sorted by key), postings (u32 name ids), addresses (24 bytes: entity, address index, asset,
//! address) and the string blob.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

use crate::error::{Result, ScreenError};
use crate::matcher::IndexedEntity;
use crate::model::{EntityType, ListEntity, ListName};
use crate::normalize::NameForm;

/// The index file's name inside the data directory.
pub const INDEX_FILE: &str = "screening.idx";

const MAGIC: &[u8; 8] = b"FGSCRIDX";
/// Bump when the layout or the meaning of a record changes.
const FORMAT_VERSION: u32 = 1;
const HEADER: usize = 32;
const ENTITY_REC: usize = 32;
const NAME_REC: usize = 16;
const KEY_REC: usize = 16;
const ADDRESS_REC: usize = 24;
const TYPES: [EntityType; 5] = [
    EntityType::Person,
    EntityType::Organization,
    EntityType::Vessel,
    EntityType::Aircraft,
    EntityType::Unknown,
];

/// One loaded list version, as the database records it; the index is valid only for exactly
/// the stamps it was built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListStamp {
    /// The list.
    pub list: String,
    /// Its version.
    pub version: String,
    /// The load that stored it (a reload of the same version is a new load).
    pub load_id: i64,
    /// Its entity count.
    pub entities: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    lists: Vec<ListStamp>,
    key_fingerprint: u64,
    list_names: Vec<String>,
    entities: Section,
    names: Section,
    keys: Section,
    postings: Section,
    addresses: Section,
    blob: Section,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct Section {
    offset: usize,
    count: usize,
}

/// What the writer needs of one entity.
pub(crate) struct EntityRow<'a> {
    pub(crate) list: u32,
    pub(crate) entity: &'a ListEntity,
    pub(crate) hash: &'a str,
}

/// What the writer needs of one indexed name.
pub(crate) struct NameRow<'a> {
    pub(crate) entity: u32,
    pub(crate) name: u16,
    pub(crate) text: &'a str,
}

/// A fingerprint of the candidate-key function: the keys of a few probe names in several
/// scripts. A change to normalization or to the keys changes it, so an index built by another
/// build of floodgate is rebuilt rather than trusted.
pub(crate) fn key_fingerprint() -> u64 {
    use std::hash::Hasher;
    const PROBES: &[(&str, EntityType)] = &[
        ("Sergei Viktorovich LAVROV", EntityType::Person),
        ("Islamic Revolutionary Guard Corps", EntityType::Organization),
        ("Huawei Technologies Co., Ltd.", EntityType::Organization),
        ("OOO Gesellschaft mit beschränkter Haftung Brigade Seven", EntityType::Organization),
        ("Владимир Путин", EntityType::Person),
        ("王岐山", EntityType::Person),
        ("Vương Kỳ Sơn", EntityType::Person),
        ("عبد الله", EntityType::Person),
        ("Kim Jong Un", EntityType::Person),
        ("Joint Stok Compnay Examplebank", EntityType::Organization),
    ];
    let mut h = rustc_hash::FxHasher::default();
    let mut keys = Vec::new();
    // An empty reading table: the keys do not use readings, and the built-in table would cost
    // every open its decoding (most of a second).
    let no_readings = crate::unihan::Unihan::default();
    for (name, kind) in PROBES {
        keys.clear();
        crate::matcher::form_keys(&NameForm::new(name, *kind, Some(&no_readings)), &mut keys);
        for k in &keys {
            h.write_u64(*k);
        }
        h.write_u8(0xff);
    }
    h.finish()
}

struct Blob(Vec<u8>);

impl Blob {
    fn push(&mut self, s: &str, path: &Path) -> Result<(u32, u32)> {
        let off = u32::try_from(self.0.len()).map_err(|_| too_large(path))?;
        let len = u32::try_from(s.len()).map_err(|_| too_large(path))?;
        self.0.extend_from_slice(s.as_bytes());
        Ok((off, len))
    }
}

fn too_large(path: &Path) -> ScreenError {
    ScreenError::Corrupt {
        path: path.to_path_buf(),
        reason: "the screening index would exceed 4 GiB of strings".into(),
    }
}

fn pad8(buf: &mut Vec<u8>) {
    while buf.len() % 8 != 0 {
        buf.push(0);
    }
}

/// Writes the index for the given lists, entities, names, keys (`(key, name ids)`, any order)
/// to `path`, atomically.
///
/// # Errors
/// [`ScreenError::Io`] naming the file.
pub(crate) fn write(
    path: &Path,
    stamps: &[ListStamp],
    list_names: &[Arc<str>],
    entities: &[EntityRow<'_>],
    names: &[NameRow<'_>],
    keys: &mut [(u64, &[u32])],
) -> Result<()> {
    let mut blob = Blob(Vec::new());
    let mut ent = Vec::with_capacity(entities.len() * ENTITY_REC);
    let mut addr = Vec::new();
    let mut n_addr = 0usize;
    for (ei, e) in entities.iter().enumerate() {
        let json = serde_json::to_string(e.entity).map_err(|err| ScreenError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("entity {} of the index: {err}", e.entity.id),
        })?;
        let id = blob.push(&e.entity.id, path)?;
        let hash = blob.push(e.hash, path)?;
        let js = blob.push(&json, path)?;
        let ty = TYPES.iter().position(|t| *t == e.entity.entity_type).unwrap_or(4) as u32;
        for v in [e.list, ty, id.0, id.1, hash.0, hash.1, js.0, js.1] {
            ent.extend_from_slice(&v.to_le_bytes());
        }
        for (ai, a) in e.entity.addresses.iter().enumerate() {
            let asset = blob.push(&a.asset, path)?;
            let text = blob.push(&a.address, path)?;
            for v in [ei as u32, ai as u32, asset.0, asset.1, text.0, text.1] {
                addr.extend_from_slice(&v.to_le_bytes());
            }
            n_addr += 1;
        }
    }
    let mut nm = Vec::with_capacity(names.len() * NAME_REC);
    for n in names {
        let t = blob.push(n.text, path)?;
        for v in [n.entity, u32::from(n.name), t.0, t.1] {
            nm.extend_from_slice(&v.to_le_bytes());
        }
    }
    keys.sort_unstable_by_key(|(k, _)| *k);
    let mut ky = Vec::with_capacity(keys.len() * KEY_REC);
    let mut post = Vec::new();
    let mut n_post = 0u32;
    for (k, ids) in keys.iter() {
        let len = u32::try_from(ids.len()).map_err(|_| too_large(path))?;
        ky.extend_from_slice(&k.to_le_bytes());
        ky.extend_from_slice(&n_post.to_le_bytes());
        ky.extend_from_slice(&len.to_le_bytes());
        n_post = n_post.checked_add(len).ok_or_else(|| too_large(path))?;
        for id in *ids {
            post.extend_from_slice(&id.to_le_bytes());
        }
    }

    // Sections are placed after the meta, whose length depends on their offsets: lay them out
    // from a fixed meta reservation that the meta is padded to.
    let mut meta = Meta {
        lists: stamps.to_vec(),
        key_fingerprint: key_fingerprint(),
        list_names: list_names.iter().map(|l| l.to_string()).collect(),
        entities: Section::default(),
        names: Section::default(),
        keys: Section::default(),
        postings: Section::default(),
        addresses: Section::default(),
        blob: Section::default(),
    };
    let reserve = {
        let probe = serde_json::to_vec(&meta).map_err(|e| corrupt(path, e.to_string()))?;
        // Twelve numbers of at most 20 digits each are still to be filled in.
        (probe.len() + 12 * 20 + 16).next_multiple_of(8)
    };
    let mut off = HEADER + reserve;
    let mut place = |len: usize, count: usize| {
        let s = Section { offset: off, count };
        off = (off + len).next_multiple_of(8);
        s
    };
    meta.entities = place(ent.len(), entities.len());
    meta.names = place(nm.len(), names.len());
    meta.keys = place(ky.len(), keys.len());
    meta.postings = place(post.len(), n_post as usize);
    meta.addresses = place(addr.len(), n_addr);
    meta.blob = place(blob.0.len(), blob.0.len());
    let meta_json = serde_json::to_vec(&meta).map_err(|e| corrupt(path, e.to_string()))?;
    if meta_json.len() > reserve {
        return Err(corrupt(path, "index meta larger than its reservation".into()));
    }
    let mut body = meta_json.clone();
    body.resize(reserve, b' ');
    for sec in [&ent, &nm, &ky, &post, &addr, &blob.0] {
        body.extend_from_slice(sec);
        pad8(&mut body);
    }
    let mut file = Vec::with_capacity(HEADER + body.len());
    file.extend_from_slice(MAGIC);
    file.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    file.extend_from_slice(&(meta_json.len() as u32).to_le_bytes());
    file.extend_from_slice(&(body.len() as u64).to_le_bytes());
    file.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    file.extend_from_slice(&0u32.to_le_bytes());
    file.extend_from_slice(&body);

    let tmp = tmp_path(path);
    let mut f = std::fs::File::create(&tmp).map_err(|e| ScreenError::io(&tmp, e))?;
    f.write_all(&file).map_err(|e| ScreenError::io(&tmp, e))?;
    f.sync_all().map_err(|e| ScreenError::io(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| ScreenError::io(path, e))?;
    tracing::info!(
        target: "floodgate::screen::index",
        path = %path.display(),
        bytes = file.len(),
        entities = entities.len(),
        names = names.len(),
        keys = keys.len(),
        "screening index written"
    );
    Ok(())
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

fn corrupt(path: &Path, reason: String) -> ScreenError {
    ScreenError::Corrupt { path: path.to_path_buf(), reason }
}

/// Maps `file` read-only.
// The only unsafe code in floodgate-screen. memmap2 marks mapping unsafe because another
// process could modify or truncate the file while it is mapped, which would change memory
// under Rust references.
#[allow(unsafe_code)]
fn map_readonly(file: &std::fs::File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the index is written under a temporary name, synced and renamed into place; it
    // is never opened for writing again (a rebuild writes a new file and renames it over the
    // old name, which leaves an existing mapping on the old inode). Every read of the map is
    // bounds-checked, and the contents were checked against their CRC when opened.
    unsafe { memmap2::Mmap::map(file) }
}

/// A mapped, checked index.
pub(crate) struct MappedIndex {
    map: memmap2::Mmap,
    lists: Vec<Arc<str>>,
    meta: Meta,
    entities: Vec<OnceLock<IndexedEntity>>,
    forms: Vec<OnceLock<NameForm>>,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4).and_then(|s| s.try_into().ok()).map_or(0, u32::from_le_bytes)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).and_then(|s| s.try_into().ok()).map_or(0, u64::from_le_bytes)
}

/// Why an index file is not used.
fn reject(path: &Path, why: &str) -> Result<Option<MappedIndex>> {
    tracing::info!(
        target: "floodgate::screen::index",
        path = %path.display(),
        why,
        "screening index not used; rebuilding"
    );
    Ok(None)
}

/// Maps and checks the index at `path`. `None` when it is missing, stale or corrupt (the
/// reason is logged); the caller rebuilds.
///
/// # Errors
/// [`ScreenError::Io`] when the file exists but cannot be read.
pub(crate) fn open(path: &Path, expected: &[ListStamp]) -> Result<Option<MappedIndex>> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return reject(path, "missing"),
        Err(e) => return Err(ScreenError::io(path, e)),
    };
    let map = map_readonly(&file).map_err(|e| ScreenError::io(path, e))?;
    let b: &[u8] = &map;
    if b.len() < HEADER || &b[..8] != MAGIC {
        return reject(path, "not a screening index");
    }
    if u32_at(b, 8) != FORMAT_VERSION {
        return reject(path, "another format version");
    }
    let meta_len = u32_at(b, 12) as usize;
    let body_len = u64_at(b, 16);
    if body_len != (b.len() - HEADER) as u64 || meta_len > b.len() - HEADER {
        return reject(path, "truncated or extended");
    }
    if crc32fast::hash(&b[HEADER..]) != u32_at(b, 24) {
        return reject(path, "checksum mismatch");
    }
    let Ok(meta) = serde_json::from_slice::<Meta>(&b[HEADER..HEADER + meta_len]) else {
        return reject(path, "unreadable meta");
    };
    if meta.lists != expected {
        return reject(path, "built from other list versions");
    }
    if meta.key_fingerprint != key_fingerprint() {
        return reject(path, "built by another candidate-key function");
    }
    if let Err(why) = check(b, &meta) {
        return reject(path, why);
    }
    let lists = meta.list_names.iter().map(|l| Arc::from(l.as_str())).collect();
    let entities = (0..meta.entities.count).map(|_| OnceLock::new()).collect();
    let forms = (0..meta.names.count).map(|_| OnceLock::new()).collect();
    Ok(Some(MappedIndex { map, lists, meta, entities, forms }))
}

/// Every section inside the file and every record's references inside their sections.
fn check(b: &[u8], m: &Meta) -> std::result::Result<(), &'static str> {
    let fits = |s: Section, rec: usize| {
        s.count.checked_mul(rec).and_then(|l| s.offset.checked_add(l)).is_some_and(|e| e <= b.len())
    };
    if !(fits(m.entities, ENTITY_REC)
        && fits(m.names, NAME_REC)
        && fits(m.keys, KEY_REC)
        && fits(m.postings, 4)
        && fits(m.addresses, ADDRESS_REC)
        && fits(m.blob, 1))
    {
        return Err("a section lies outside the file");
    }
    let blob_ok = |off: u32, len: u32| (off as usize + len as usize) <= m.blob.count;
    for i in 0..m.entities.count {
        let r = m.entities.offset + i * ENTITY_REC;
        if u32_at(b, r) as usize >= m.list_names.len()
            || !blob_ok(u32_at(b, r + 8), u32_at(b, r + 12))
            || !blob_ok(u32_at(b, r + 16), u32_at(b, r + 20))
            || !blob_ok(u32_at(b, r + 24), u32_at(b, r + 28))
        {
            return Err("an entity record points outside the index");
        }
    }
    for i in 0..m.names.count {
        let r = m.names.offset + i * NAME_REC;
        if u32_at(b, r) as usize >= m.entities.count
            || !blob_ok(u32_at(b, r + 8), u32_at(b, r + 12))
        {
            return Err("a name record points outside the index");
        }
    }
    let mut prev = None;
    for i in 0..m.keys.count {
        let r = m.keys.offset + i * KEY_REC;
        let k = u64_at(b, r);
        if prev.is_some_and(|p| p >= k) {
            return Err("keys out of order");
        }
        prev = Some(k);
        if u32_at(b, r + 8) as usize + u32_at(b, r + 12) as usize > m.postings.count {
            return Err("a key's postings lie outside the index");
        }
    }
    for i in 0..m.postings.count {
        if u32_at(b, m.postings.offset + i * 4) as usize >= m.names.count {
            return Err("a posting names no indexed name");
        }
    }
    for i in 0..m.addresses.count {
        let r = m.addresses.offset + i * ADDRESS_REC;
        if u32_at(b, r) as usize >= m.entities.count
            || !blob_ok(u32_at(b, r + 8), u32_at(b, r + 12))
            || !blob_ok(u32_at(b, r + 16), u32_at(b, r + 20))
        {
            return Err("an address record points outside the index");
        }
    }
    Ok(())
}

impl MappedIndex {
    fn bytes(&self) -> &[u8] {
        &self.map
    }

    fn str_at(&self, off: u32, len: u32) -> &str {
        let start = self.meta.blob.offset + off as usize;
        self.bytes()
            .get(start..start + len as usize)
            .and_then(|s| std::str::from_utf8(s).ok())
            .unwrap_or("")
    }

    pub(crate) fn entity_count(&self) -> usize {
        self.meta.entities.count
    }

    pub(crate) fn name_count(&self) -> usize {
        self.meta.names.count
    }

    fn entity_rec(&self, ei: u32) -> usize {
        self.meta.entities.offset + ei as usize * ENTITY_REC
    }

    /// The list and id of an entity, without parsing it.
    pub(crate) fn entity_key(&self, ei: u32) -> (&str, &str) {
        let r = self.entity_rec(ei);
        let b = self.bytes();
        let list = self.lists.get(u32_at(b, r) as usize).map_or("", |l| l);
        (list, self.str_at(u32_at(b, r + 8), u32_at(b, r + 12)))
    }

    /// The entity, parsed on first use.
    pub(crate) fn entity(&self, ei: u32) -> &IndexedEntity {
        self.entities[ei as usize].get_or_init(|| {
            let r = self.entity_rec(ei);
            let b = self.bytes();
            let list = self.lists.get(u32_at(b, r) as usize).cloned().unwrap_or_else(|| "".into());
            let hash = self.str_at(u32_at(b, r + 16), u32_at(b, r + 20)).to_owned();
            let json = self.str_at(u32_at(b, r + 24), u32_at(b, r + 28));
            let entity = serde_json::from_str::<ListEntity>(json).unwrap_or_else(|e| {
                // The checksum passed, so this is a writer bug; keep the hit visible with
                // what the records give rather than drop it.
                let id = self.str_at(u32_at(b, r + 8), u32_at(b, r + 12)).to_owned();
                tracing::error!(
                    target: "floodgate::screen::index",
                    %id,
                    error = %e,
                    "entity in the screening index does not parse"
                );
                ListEntity {
                    id,
                    entity_type: TYPES.get(u32_at(b, r + 4) as usize).copied().unwrap_or_default(),
                    names: self.names_of(ei).map(ListName::primary).collect(),
                    ..ListEntity::default()
                }
            });
            IndexedEntity { list, entity, hash }
        })
    }

    fn names_of(&self, ei: u32) -> impl Iterator<Item = String> + '_ {
        (0..self.name_count() as u32)
            .filter(move |i| self.name_ref(*i).0 == ei)
            .map(|i| self.name_text(i).to_owned())
    }

    fn name_text(&self, id: u32) -> &str {
        let r = self.meta.names.offset + id as usize * NAME_REC;
        self.str_at(u32_at(self.bytes(), r + 8), u32_at(self.bytes(), r + 12))
    }

    /// The entity and name index of an indexed name.
    pub(crate) fn name_ref(&self, id: u32) -> (u32, u16) {
        let r = self.meta.names.offset + id as usize * NAME_REC;
        (u32_at(self.bytes(), r), u32_at(self.bytes(), r + 4) as u16)
    }

    /// The normalized form of an indexed name, computed on first use.
    pub(crate) fn form(&self, id: u32) -> &NameForm {
        self.forms[id as usize].get_or_init(|| {
            let ty = TYPES
                .get(u32_at(self.bytes(), self.entity_rec(self.name_ref(id).0) + 4) as usize)
                .copied()
                .unwrap_or_default();
            NameForm::new(self.name_text(id), ty, None)
        })
    }

    /// The postings of a key: raw little-endian u32 name ids.
    pub(crate) fn postings(&self, key: u64) -> Option<&[u8]> {
        let b = self.bytes();
        let (mut lo, mut hi) = (0usize, self.meta.keys.count);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let r = self.meta.keys.offset + mid * KEY_REC;
            match u64_at(b, r).cmp(&key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    let start = self.meta.postings.offset + u32_at(b, r + 8) as usize * 4;
                    return b.get(start..start + u32_at(b, r + 12) as usize * 4);
                }
            }
        }
        None
    }

    /// Every listed address: entity, address index, asset, address text.
    pub(crate) fn addresses(&self) -> impl Iterator<Item = (u32, u16, &str, &str)> + '_ {
        let b = self.bytes();
        (0..self.meta.addresses.count).map(move |i| {
            let r = self.meta.addresses.offset + i * ADDRESS_REC;
            (
                u32_at(b, r),
                u32_at(b, r + 4) as u16,
                self.str_at(u32_at(b, r + 8), u32_at(b, r + 12)),
                self.str_at(u32_at(b, r + 16), u32_at(b, r + 20)),
            )
        })
    }
}

/// Reads a posting list's name ids.
pub(crate) fn posting_ids(raw: &[u8]) -> impl Iterator<Item = u32> + '_ {
    raw.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}
