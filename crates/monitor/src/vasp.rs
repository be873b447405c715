//! The VASP directory: a file the user maintains naming, for each counterparty VASP, the
//! country it is established in and its licence status per jurisdiction. The engine takes a
//! transfer's counterparty country from it when the transfer does not give one (FATF R.16
//! counterparty VASP due diligence). Format: `docs/formats/monitor.md`.
//!
//! ```
//! use floodgate_monitor::vasp::VaspDirectory;
//! let d = VaspDirectory::parse("d.csv".as_ref(), "vasp,country,licences\nBinance,KY,VN:unlicensed;FR:registered\n")?;
//! let b = d.get("binance").unwrap();
//! assert_eq!(b.country, "KY");
//! assert_eq!(b.licence_in("VN"), Some("unlicensed"));
//! # Ok::<(), floodgate_monitor::error::MonitorError>(())
//! ```

use std::path::Path;

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::error::MonitorError;

/// One VASP of the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vasp {
    /// The name as written in the file (matched case-insensitively to `counterparty_vasp`).
    pub name: String,
    /// Country it is established in, ISO alpha-2, upper case.
    pub country: String,
    /// Licence status per jurisdiction: `(country, status)`, e.g. `("VN", "unlicensed")`.
    pub licences: Vec<(String, String)>,
}

impl Vasp {
    /// The licence status in `country`, if the file gives one.
    pub fn licence_in(&self, country: &str) -> Option<&str> {
        self.licences.iter().find(|(c, _)| c.eq_ignore_ascii_case(country)).map(|(_, s)| &**s)
    }
}

/// VASPs by lower-case name.
#[derive(Debug, Clone, Default)]
pub struct VaspDirectory {
    by_name: FxHashMap<String, Vasp>,
}

fn is_country(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic())
}

impl VaspDirectory {
    /// Reads a directory file: CSV with header `vasp,country,licences`, `licences` being
    /// `CC:status` pairs separated by `;` (may be empty).
    ///
    /// # Errors
    /// [`MonitorError::Io`], or [`MonitorError::Data`] naming the line and field.
    pub fn load(path: &Path) -> Result<VaspDirectory, MonitorError> {
        let text = std::fs::read_to_string(path).map_err(|e| MonitorError::io(path, e))?;
        VaspDirectory::parse(path, &text)
    }

    /// Parses directory text; `path` only labels errors.
    ///
    /// # Errors
    /// [`MonitorError::Data`] naming the line and field.
    pub fn parse(path: &Path, text: &str) -> Result<VaspDirectory, MonitorError> {
        let mut rdr = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
        let headers: Vec<String> = rdr
            .headers()
            .map_err(|e| MonitorError::data(path, 1, e.to_string()))?
            .iter()
            .map(str::to_ascii_lowercase)
            .collect();
        let col = |name: &str| {
            headers.iter().position(|h| h == name).ok_or_else(|| {
                MonitorError::data(
                    path,
                    1,
                    format!("missing column '{name}' (want vasp,country,licences)"),
                )
            })
        };
        let (vc, cc) = (col("vasp")?, col("country")?);
        let lc = headers.iter().position(|h| h == "licences");
        let mut by_name = FxHashMap::default();
        for (i, rec) in rdr.records().enumerate() {
            let line = i as u64 + 2;
            let rec = rec.map_err(|e| MonitorError::data(path, line, e.to_string()))?;
            let name = rec.get(vc).unwrap_or("").to_owned();
            if name.is_empty() {
                return Err(MonitorError::data(path, line, "field 'vasp' is empty"));
            }
            let country = rec.get(cc).unwrap_or("");
            if !is_country(country) {
                return Err(MonitorError::data(
                    path,
                    line,
                    format!("field 'country': '{country}' is not an ISO alpha-2 code"),
                ));
            }
            let mut licences = Vec::new();
            for pair in lc.and_then(|c| rec.get(c)).unwrap_or("").split(';') {
                let pair = pair.trim();
                if pair.is_empty() {
                    continue;
                }
                match pair.split_once(':') {
                    Some((c, s)) if is_country(c.trim()) && !s.trim().is_empty() => {
                        licences.push((c.trim().to_ascii_uppercase(), s.trim().to_owned()));
                    }
                    _ => {
                        return Err(MonitorError::data(
                            path,
                            line,
                            format!("field 'licences': '{pair}' is not like VN:licensed"),
                        ))
                    }
                }
            }
            let key = name.to_lowercase();
            if by_name.contains_key(&key) {
                return Err(MonitorError::data(
                    path,
                    line,
                    format!("vasp '{name}' is listed twice"),
                ));
            }
            by_name.insert(key, Vasp { name, country: country.to_ascii_uppercase(), licences });
        }
        Ok(VaspDirectory { by_name })
    }

    /// The VASP named `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&Vasp> {
        self.by_name.get(&name.to_lowercase())
    }

    /// Number of VASPs.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether the directory is empty.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}
