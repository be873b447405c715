//! The Bureau of Industry and Security's Denied Persons List (`dpl.txt`): tab-separated with
//! quoted fields and a header row `Name, Street_Address, City, State, Country, Postal_Code,
//! Effective_Date, Expiration_Date, Standard_Order, Last_Update, Action, FR_Citation`.
//!
//! A denied party with several addresses has one row per address; rows with the same name
//! become one entity (id: the name, upper-cased), with every country it is listed at. The
//! list does not say whether a party is a person or a company, so the type stays unknown.
//! The version is the latest `Last_Update` date.

use std::path::Path;

use crate::error::{Result, ScreenError};
use crate::model::{ListEntity, ListName, ListSnapshot};

const COLUMNS: [&str; 12] = [
    "Name",
    "Street_Address",
    "City",
    "State",
    "Country",
    "Postal_Code",
    "Effective_Date",
    "Expiration_Date",
    "Standard_Order",
    "Last_Update",
    "Action",
    "FR_Citation",
];

/// The format in the registry ([`super::FORMATS`]).
#[derive(Debug, Clone, Copy)]
pub struct BisDpl;

impl super::ListFormat for BisDpl {
    fn name(&self) -> &'static str {
        "bis-dpl"
    }
    fn about(&self) -> &'static str {
        "BIS DPL"
    }
    fn detect_content(&self, _head: &str, first: &str) -> bool {
        first.starts_with("\"Name\"\t") || first.starts_with("Name\t")
    }
    fn load(&self, path: &Path) -> Result<ListSnapshot> {
        load(path)
    }
}

/// Loads `dpl.txt`.
///
/// # Errors
/// [`ScreenError::Io`]; [`ScreenError::Malformed`] naming the line of a bad header, a row with
/// the wrong number of fields or an empty name.
pub fn load(path: &Path) -> Result<ListSnapshot> {
    let bytes = super::limits::read_limited(path)?;
    let mut r = csv::ReaderBuilder::new().delimiter(b'\t').flexible(true).from_reader(&bytes[..]);
    let header = r.headers().map_err(|e| ScreenError::malformed(path, "line 1", e.to_string()))?;
    if header.iter().map(str::trim).ne(COLUMNS) {
        return Err(ScreenError::malformed(
            path,
            "line 1",
            format!("expected the DPL header {}", COLUMNS.join(", ")),
        ));
    }
    let mut entities: Vec<ListEntity> = Vec::new();
    let mut by_name: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut version = String::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| super::csv_error(path, &bytes, &e))?;
        super::limits::check_record(path, &bytes, &rec)?;
        let line = || super::line_of(&bytes, rec.position());
        if rec.len() != COLUMNS.len() {
            return Err(ScreenError::malformed(
                path,
                format!("line {}", line()),
                format!("expected {} fields, found {} (truncated file?)", COLUMNS.len(), rec.len()),
            ));
        }
        let name = rec[0].trim();
        if name.is_empty() {
            return Err(ScreenError::malformed(path, format!("line {}", line()), "empty name"));
        }
        let updated = rec[9].trim();
        if updated > version.as_str() {
            updated.clone_into(&mut version);
        }
        let id = name.to_uppercase();
        let i = *by_name.entry(id.clone()).or_insert_with(|| {
            entities.push(ListEntity {
                id,
                names: vec![ListName::primary(name)],
                programs: vec!["DPL".into()],
                sub_list: Some("Denied Persons List".into()),
                ..ListEntity::default()
            });
            entities.len() - 1
        });
        let country = rec[4].trim();
        if !country.is_empty() {
            let c = crate::country::canonical(country);
            if !entities[i].countries.contains(&c) {
                entities[i].countries.push(c);
            }
        }
    }
    if entities.is_empty() {
        return Err(ScreenError::malformed(path, "line 2", "no entries"));
    }
    Ok(ListSnapshot {
        list: "us-bis-dpl".into(),
        version,
        source: path.display().to_string(),
        entities,
    })
}
