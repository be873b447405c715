//! Screening and exposure facts about counterparties, behind [`RiskFacts`] so the screening
//! crate and the trace engine can plug in. [`AddressLists`] is the built-in implementation:
//! exact address and VASP-name lists (OFAC per-asset address lists, mixer, investor-alert and
//! unlicensed-VASP lists).

use std::collections::HashMap;
use std::path::Path;

use floodgate_types::Address;
use serde::Serialize;

use crate::error::MonitorError;

/// Why a counterparty is risky: floodgate's one taxonomy (`docs/taxonomy.md`).
pub use floodgate_types::RiskCategory;

/// A list hit on a counterparty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddressRisk {
    /// The category.
    pub category: RiskCategory,
    /// The list it came from (file name or publisher).
    pub source: String,
    /// The list's label for the entry, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// Screening and exposure facts the monitor consults.
pub trait RiskFacts: Send + Sync {
    /// List hits on an on-chain address.
    fn address_risk(&self, addr: &Address) -> Option<AddressRisk>;
    /// List hits on a counterparty VASP by name.
    fn vasp_risk(&self, vasp: &str) -> Option<AddressRisk>;
    /// Whether any screening list is loaded (otherwise decisions say so).
    fn screening_available(&self) -> bool;
}

/// Exact-match address and VASP lists.
#[derive(Debug, Clone, Default)]
pub struct AddressLists {
    addresses: HashMap<Address, AddressRisk>,
    vasps: HashMap<String, AddressRisk>,
    sources: Vec<String>,
}

impl AddressLists {
    /// Adds one address (the first category listed wins, sanctions over everything).
    pub fn add_address(&mut self, addr: Address, risk: AddressRisk) {
        match self.addresses.get(&addr) {
            Some(old) if old.category == RiskCategory::Sanctioned => {}
            _ => {
                self.addresses.insert(addr, risk);
            }
        }
    }

    /// Adds a VASP name (matched case-insensitively, trimmed).
    pub fn add_vasp(&mut self, name: &str, risk: AddressRisk) {
        self.vasps.insert(name.trim().to_lowercase(), risk);
    }

    /// Number of addresses and VASP names listed.
    pub fn len(&self) -> usize {
        self.addresses.len() + self.vasps.len()
    }

    /// Whether nothing is listed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The sources loaded.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// Loads every `sanctioned_addresses_<ASSET>.txt` of an OFAC digital-currency address
    /// directory (as published by 0xB10C/ofac-sanctioned-digital-currency-addresses). Assets
    /// whose chains floodgate does not parse are skipped; returns how many were added.
    ///
    /// # Errors
    /// [`MonitorError::Io`] when the directory cannot be read.
    pub fn load_ofac_dir(&mut self, dir: &Path) -> Result<usize, MonitorError> {
        let mut n = 0;
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| MonitorError::io(dir, e))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        files.sort();
        for f in files {
            let name = f.file_name().and_then(|s| s.to_str()).unwrap_or("");
            let Some(asset) =
                name.strip_prefix("sanctioned_addresses_").and_then(|s| s.strip_suffix(".txt"))
            else {
                continue;
            };
            let text = std::fs::read_to_string(&f).map_err(|e| MonitorError::io(&f, e))?;
            for l in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                if let Ok(a) = Address::parse_listed(asset, l) {
                    let risk = AddressRisk {
                        category: RiskCategory::Sanctioned,
                        source: format!("OFAC SDN ({asset})"),
                        label: None,
                    };
                    self.add_address(a, risk);
                    n += 1;
                }
            }
        }
        self.sources.push(format!("OFAC digital-currency addresses: {}", dir.display()));
        Ok(n)
    }

    /// Loads a CSV list with header `category,value,label` where `category` is `sanctioned`,
    /// `mixer`, `scam`, `investor_alert` or `unlicensed_vasp`, and `value` an address (any
    /// supported chain) or, for the last two, a VASP name.
    ///
    /// # Errors
    /// [`MonitorError::Data`] naming the line and field.
    pub fn load_csv(&mut self, path: &Path) -> Result<usize, MonitorError> {
        let text = std::fs::read_to_string(path).map_err(|e| MonitorError::io(path, e))?;
        self.parse_csv(path, &text)
    }

    /// As [`AddressLists::load_csv`] on text.
    ///
    /// # Errors
    /// [`MonitorError::Data`] naming the line and field.
    pub fn parse_csv(&mut self, path: &Path, text: &str) -> Result<usize, MonitorError> {
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut n = 0;
        let source = path.file_name().and_then(|s| s.to_str()).unwrap_or("list").to_owned();
        for (i, rec) in rdr.records().enumerate() {
            let line = i as u64 + 2;
            let rec = rec.map_err(|e| MonitorError::data(path, line, e.to_string()))?;
            let cat = rec.get(0).unwrap_or("");
            let category = RiskCategory::parse_lenient(cat).ok_or_else(|| {
                MonitorError::data(path, line, format!("field 'category': unknown '{cat}'"))
            })?;
            let value = rec.get(1).unwrap_or("");
            if value.is_empty() {
                return Err(MonitorError::data(path, line, "field 'value' is empty"));
            }
            let label = rec.get(2).filter(|s| !s.is_empty()).map(str::to_owned);
            let risk = AddressRisk { category, source: source.clone(), label };
            match Address::parse_any(value) {
                Ok(a) => self.add_address(a, risk),
                Err(_)
                    if matches!(
                        category,
                        RiskCategory::InvestorAlert | RiskCategory::UnlicensedVasp
                    ) =>
                {
                    self.add_vasp(value, risk);
                }
                Err(e) => {
                    return Err(MonitorError::data(path, line, format!("field 'value': {e}")))
                }
            }
            n += 1;
        }
        self.sources.push(source);
        Ok(n)
    }
}

impl RiskFacts for AddressLists {
    fn address_risk(&self, addr: &Address) -> Option<AddressRisk> {
        self.addresses.get(addr).cloned()
    }
    fn vasp_risk(&self, vasp: &str) -> Option<AddressRisk> {
        if self.vasps.is_empty() {
            return None;
        }
        self.vasps.get(&vasp.trim().to_lowercase()).cloned()
    }
    fn screening_available(&self) -> bool {
        !self.is_empty()
    }
}
