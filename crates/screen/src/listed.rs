//! The digital-currency addresses of the lists loaded in `screening.db`, with the listed
//! entry each belongs to, for other subsystems (attribution tags) to cite as evidence. Reads
//! the database without changing it and without building the name matcher.

use std::path::Path;

use floodgate_types::TenantId;
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

use crate::error::{Result, ScreenError};
use crate::model::{ListEntity, ListedAddress};
use crate::screener::DB_FILE;

/// A digital-currency address listed by an entry of a loaded list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListedCryptoAddress {
    /// The list's name (`ofac-sdn`, `ofac-addresses`, …).
    pub list: String,
    /// The list version loaded (the publisher's issue date, or a content hash).
    pub version: String,
    /// The entry's id within the list (OFAC profile id …).
    pub entity_id: String,
    /// The entry's display name (the listed person or organisation).
    pub entity_name: String,
    /// The entry's sanctions programs (CYBER2, DPRK3 …).
    pub programs: Vec<String>,
    /// The address (ticker and text as listed, unparsed).
    pub address: ListedAddress,
}

/// Every digital-currency address of every list loaded in `<data_dir>/screening.db`, in list
/// and entry order; `None` when there is no screening database. The database is opened
/// without creating it and only read.
///
/// # Errors
/// [`ScreenError::Db`] or [`ScreenError::Corrupt`] naming the database file.
pub fn listed_addresses(data_dir: &Path) -> Result<Option<Vec<ListedCryptoAddress>>> {
    listed_addresses_of(data_dir, &TenantId::default_tenant())
}

/// [`listed_addresses`] of the lists `tenant` loaded.
///
/// # Errors
/// As [`listed_addresses`].
pub fn listed_addresses_of(
    data_dir: &Path,
    tenant: &TenantId,
) -> Result<Option<Vec<ListedCryptoAddress>>> {
    let path = data_dir.join(DB_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let err = |e: rusqlite::Error| ScreenError::Db { path: path.clone(), source: e.into() };
    let db = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(err)?;
    // Only entries that list an address are decoded (the JSON of an address has an "asset").
    // A file not yet migrated to version 2 (no screener opened it since the upgrade) is read
    // as it is: all its rows are the default tenant's.
    let sql = if floodgate_sqlite::version(&db, &path)? < 2 {
        if tenant.as_str() != TenantId::DEFAULT {
            return Ok(Some(Vec::new()));
        }
        "SELECT e.list, l.version, e.json FROM entities e JOIN lists l ON l.list = e.list \
         WHERE ?1 IS NOT NULL AND e.json LIKE '%\"asset\":%' ORDER BY e.list, e.rowid"
    } else {
        "SELECT e.list, l.version, e.json FROM entities e \
         JOIN lists l ON l.tenant = e.tenant AND l.list = e.list \
         WHERE e.tenant = ?1 AND e.json LIKE '%\"asset\":%' ORDER BY e.list, e.rowid"
    };
    let mut stmt = db.prepare(sql).map_err(err)?;
    let rows = stmt
        .query_map([tenant.as_str()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
        })
        .map_err(err)?;
    let mut out = Vec::new();
    for row in rows {
        let (list, version, json) = row.map_err(err)?;
        let entity: ListEntity = serde_json::from_str(&json).map_err(|e| ScreenError::Corrupt {
            path: path.clone(),
            reason: format!("entity of list {list}: {e}"),
        })?;
        for a in &entity.addresses {
            out.push(ListedCryptoAddress {
                list: list.clone(),
                version: version.clone(),
                entity_id: entity.id.clone(),
                entity_name: entity.display_name().to_owned(),
                programs: entity.programs.clone(),
                address: a.clone(),
            });
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::model::{ListName, ListSnapshot};
    use crate::{ScoreConfig, Screener};

    #[test]
    fn lists_every_address_with_its_entry_and_creates_no_database() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(listed_addresses(dir.path()).unwrap(), None);
        assert!(!dir.path().join(DB_FILE).exists(), "reading creates nothing");

        let mut s = Screener::open(dir.path(), ScoreConfig::default(), None).unwrap();
        let addr = |asset: &str, address: &str| ListedAddress {
            asset: asset.to_owned(),
            address: address.to_owned(),
        };
        let listed = ListEntity {
            id: "27307".to_owned(),
            names: vec![ListName::primary("Lazarus Group")],
            programs: vec!["DPRK3".to_owned()],
            addresses: vec![
                addr("ETH", "0x08723392Ed15743cc38513C4925f5e6be5c17243"),
                addr("XMR", "4A…"),
            ],
            ..Default::default()
        };
        let unlisted = ListEntity {
            id: "1".to_owned(),
            names: vec![ListName::primary("No Address Ltd")],
            ..Default::default()
        };
        s.load(ListSnapshot {
            list: "ofac-sdn".to_owned(),
            version: "2025-11-19".to_owned(),
            source: "test".to_owned(),
            entities: vec![unlisted, listed],
        })
        .unwrap();
        drop(s);
        let got = listed_addresses(dir.path()).unwrap().unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].list, "ofac-sdn");
        assert_eq!(got[0].version, "2025-11-19");
        assert_eq!(got[0].entity_id, "27307");
        assert_eq!(got[0].entity_name, "Lazarus Group");
        assert_eq!(got[0].programs, ["DPRK3"]);
        assert_eq!(got[0].address.address, "0x08723392Ed15743cc38513C4925f5e6be5c17243");
        assert_eq!(got[1].address.asset, "XMR");
    }
}
