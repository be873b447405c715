//! OFAC's per-asset digital-currency address lists (`sanctioned_addresses_<ASSET>.txt`, one
//! address per line), as published by the 0xB10C / brave-intl extractors of the SDN list.
//! Each address becomes one entity whose id is `ASSET:address`.

use std::io::BufRead;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Result, ScreenError};
use crate::model::{EntityType, ListEntity, ListSnapshot, ListedAddress};

/// The format in the registry ([`super::FORMATS`]).
#[derive(Debug, Clone, Copy)]
pub struct OfacAddresses;

impl super::ListFormat for OfacAddresses {
    fn name(&self) -> &'static str {
        "ofac-addresses"
    }
    fn about(&self) -> &'static str {
        "OFAC address lists"
    }
    fn detect_name(&self, path: &Path, name: &str) -> bool {
        if path.is_dir() {
            // A directory that cannot be listed is claimed, so that loading it names the error.
            return address_files(path).map_or(true, |v| !v.is_empty());
        }
        name.starts_with("sanctioned_addresses_")
    }
    fn load(&self, path: &Path) -> Result<ListSnapshot> {
        load(path)
    }
    fn files(&self, path: &Path) -> Result<Vec<std::path::PathBuf>> {
        if path.is_dir() {
            address_files(path)
        } else {
            Ok(vec![path.to_path_buf()])
        }
    }
}

/// The `sanctioned_addresses_<ASSET>.txt` files of a directory, sorted.
///
/// # Errors
/// [`ScreenError::Io`] when the directory cannot be read.
pub fn address_files(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| ScreenError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("sanctioned_addresses_") && n.ends_with(".txt"))
        })
        .collect();
    v.sort();
    Ok(v)
}

/// Loads every `sanctioned_addresses_<ASSET>.txt` of a directory (or one such file).
///
/// # Errors
/// [`ScreenError::Io`]; [`ScreenError::Malformed`] naming file and line for a line with spaces
/// or control characters inside an address.
pub fn load(path: &Path) -> Result<ListSnapshot> {
    let files = if path.is_dir() { address_files(path)? } else { vec![path.to_path_buf()] };
    let mut entities = Vec::new();
    let mut hasher = Sha256::new();
    for f in &files {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let asset = name
            .strip_prefix("sanctioned_addresses_")
            .and_then(|n| n.strip_suffix(".txt"))
            .ok_or_else(|| ScreenError::UnknownFormat {
                path: f.clone(),
                reason: "expected sanctioned_addresses_<ASSET>.txt".into(),
            })?;
        let r = super::open_maybe_bz2(f)?;
        for (i, line) in r.lines().enumerate() {
            let line = line.map_err(|e| ScreenError::io(f, e))?;
            let a = line.trim();
            if a.is_empty() || a.starts_with('#') {
                continue;
            }
            if a.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(ScreenError::malformed(
                    f,
                    format!("line {}", i + 1),
                    format!("'{a}' is not one address"),
                ));
            }
            hasher.update(asset.as_bytes());
            hasher.update(a.as_bytes());
            entities.push(ListEntity {
                id: format!("{asset}:{a}"),
                entity_type: EntityType::Unknown,
                addresses: vec![ListedAddress { asset: asset.to_owned(), address: a.to_owned() }],
                sub_list: Some("SDN digital currency addresses".into()),
                ..ListEntity::default()
            });
        }
    }
    Ok(ListSnapshot {
        list: "ofac-addresses".into(),
        version: hex::encode(&hasher.finalize()[..8]),
        source: path.display().to_string(),
        entities,
    })
}
