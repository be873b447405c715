//! The digital-currency addresses of the lists loaded in `screening.db`, with the listed
//! entry each belongs to, for other subsystems (attribution tags) to cite as evidence. Reads
//! the database without changing it and without building the name matcher.

use std::path::Path;

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
    let path = data_dir.join(DB_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let err = |e| ScreenError::Db { path: path.clone(), source: e };
    let db = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(err)?;
    // Only entries that list an address are decoded (the JSON of an address has an "asset").
    let mut stmt = db
        .prepare(
            "SELECT e.list, l.version, e.json FROM entities e JOIN lists l ON l.list = e.list \
             WHERE e.json LIKE '%\"asset\":%' ORDER BY e.list, e.rowid",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
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
