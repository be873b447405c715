//! The list data model: one [`ListSnapshot`] per loaded list version, holding [`ListEntity`]s.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What kind of party a list entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EntityType {
    /// A natural person.
    Person,
    /// A company, organisation, group or other legal entity.
    Organization,
    /// A ship.
    Vessel,
    /// An aircraft.
    Aircraft,
    /// Not stated by the list.
    #[default]
    Unknown,
}

impl EntityType {
    /// Parses common spellings ("individual", "person", "entity", "company", …).
    pub fn parse(s: &str) -> EntityType {
        match s.trim().to_ascii_lowercase().as_str() {
            "person" | "individual" | "natural person" | "i" => EntityType::Person,
            "organization" | "organisation" | "entity" | "company" | "legalentity" | "e"
            | "legal entity" | "org" => EntityType::Organization,
            "vessel" | "ship" => EntityType::Vessel,
            "aircraft" => EntityType::Aircraft,
            _ => EntityType::Unknown,
        }
    }

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::Person => "person",
            EntityType::Organization => "organization",
            EntityType::Vessel => "vessel",
            EntityType::Aircraft => "aircraft",
            EntityType::Unknown => "unknown",
        }
    }
}

/// The kind of a name: the primary name or an alias, as OFAC names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AliasKind {
    /// The primary name ("Name").
    Primary,
    /// Also known as.
    Aka,
    /// Formerly known as.
    Fka,
    /// Now known as.
    Nka,
}

impl AliasKind {
    /// OFAC's label: Name, A.K.A., F.K.A., N.K.A.
    pub fn ofac_label(self) -> &'static str {
        match self {
            AliasKind::Primary => "Name",
            AliasKind::Aka => "A.K.A.",
            AliasKind::Fka => "F.K.A.",
            AliasKind::Nka => "N.K.A.",
        }
    }
}

/// One name of an entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListName {
    /// The name as published, parts joined by spaces in document order.
    pub full: String,
    /// Primary name or alias kind.
    pub alias: AliasKind,
    /// OFAC "weak"/low-quality alias, UN "Low" quality alias.
    pub low_quality: bool,
    /// ISO 15924-like script code as published (Latin, Cyrl, Arab, Hans, …), when stated.
    pub script: Option<String>,
}

impl ListName {
    /// A strong primary name in Latin script.
    pub fn primary(full: impl Into<String>) -> Self {
        ListName { full: full.into(), alias: AliasKind::Primary, low_quality: false, script: None }
    }

    /// A strong a.k.a.
    pub fn aka(full: impl Into<String>) -> Self {
        ListName { full: full.into(), alias: AliasKind::Aka, low_quality: false, script: None }
    }
}

/// A possibly partial date (year only, year-month or full), as lists give dates of birth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub struct PartialDate {
    /// Year.
    pub year: u16,
    /// Month 1–12, if known.
    pub month: Option<u8>,
    /// Day 1–31, if known.
    pub day: Option<u8>,
}

impl PartialDate {
    /// Parses `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, `DD/MM/YYYY`, `DD Mon YYYY` and `circa YYYY`;
    /// a day that the month does not have (31 February, 29 February 2001) is `None`.
    pub fn parse(s: &str) -> Option<PartialDate> {
        PartialDate::parse_syntax(s).filter(PartialDate::is_calendar_date)
    }

    /// Whether the day exists in its month and year (leap years counted); a date without a
    /// day always does.
    pub fn is_calendar_date(&self) -> bool {
        match (self.month, self.day) {
            (Some(m), Some(d)) => {
                let leap = (self.year % 4 == 0 && self.year % 100 != 0) || self.year % 400 == 0;
                let days = match m {
                    1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
                    4 | 6 | 9 | 11 => 30,
                    2 if leap => 29,
                    2 => 28,
                    _ => 0,
                };
                (1..=days).contains(&d)
            }
            (Some(m), None) => (1..=12).contains(&m),
            (None, _) => true,
        }
    }

    /// [`PartialDate::parse`] without the calendar check: the form is right, the day may not
    /// exist (so that a list loader can tell an impossible date from an unreadable one).
    pub fn parse_syntax(s: &str) -> Option<PartialDate> {
        let t = s.trim().trim_start_matches("circa").trim_start_matches("Circa").trim();
        let t = t.split(" to ").next().unwrap_or(t).trim();
        if t.is_empty() {
            return None;
        }
        let digits = |x: &str| x.chars().all(|c| c.is_ascii_digit()) && !x.is_empty();
        let parts: Vec<&str> = t.split(['-', '/', ' ', '.']).filter(|p| !p.is_empty()).collect();
        let year_ok = |y: u32| (1800..=2100).contains(&y);
        let month_ok = |m: u32| (1..=12).contains(&m);
        let day_ok = |d: u32| (1..=31).contains(&d);
        match parts.as_slice() {
            [y] if digits(y) && y.len() == 4 => {
                let y: u32 = y.parse().ok()?;
                year_ok(y).then_some(PartialDate { year: y as u16, month: None, day: None })
            }
            [y, m] if digits(y) && y.len() == 4 => {
                let y: u32 = y.parse().ok()?;
                let m = month_num(m)?;
                (year_ok(y) && month_ok(m)).then_some(PartialDate {
                    year: y as u16,
                    month: Some(m as u8),
                    day: None,
                })
            }
            [y, m, d] if digits(y) && y.len() == 4 => {
                let (y, m, d): (u32, u32, u32) = (y.parse().ok()?, month_num(m)?, d.parse().ok()?);
                (year_ok(y) && month_ok(m) && day_ok(d)).then_some(PartialDate {
                    year: y as u16,
                    month: Some(m as u8),
                    day: Some(d as u8),
                })
            }
            [d, m, y] if digits(y) && y.len() == 4 => {
                let (y, m, d): (u32, u32, u32) = (y.parse().ok()?, month_num(m)?, d.parse().ok()?);
                (year_ok(y) && month_ok(m) && day_ok(d)).then_some(PartialDate {
                    year: y as u16,
                    month: Some(m as u8),
                    day: Some(d as u8),
                })
            }
            [m, y] if digits(y) && y.len() == 4 => {
                let (y, m): (u32, u32) = (y.parse().ok()?, month_num(m)?);
                (year_ok(y) && month_ok(m)).then_some(PartialDate {
                    year: y as u16,
                    month: Some(m as u8),
                    day: None,
                })
            }
            _ => None,
        }
    }
}

fn month_num(m: &str) -> Option<u32> {
    if let Ok(n) = m.parse::<u32>() {
        return Some(n);
    }
    const NAMES: [&str; 12] =
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let l = m.to_ascii_lowercase();
    NAMES.iter().position(|n| l.starts_with(n)).map(|i| i as u32 + 1)
}

impl std::fmt::Display for PartialDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}", self.year)?;
        if let Some(m) = self.month {
            write!(f, "-{m:02}")?;
            if let Some(d) = self.day {
                write!(f, "-{d:02}")?;
            }
        }
        Ok(())
    }
}

/// An identity or registration document (passport, national id, tax id, IMO number …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identifier {
    /// Document type as published ("Passport", "National ID No.", …).
    pub kind: String,
    /// The number as published.
    pub value: String,
    /// Issuing country (ISO2 when known).
    pub country: Option<String>,
}

/// A digital-currency address as listed: the asset ticker and the text, unparsed so that
/// unsupported chains are kept too.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub struct ListedAddress {
    /// The asset ticker as listed (XBT, ETH, USDT, …).
    pub asset: String,
    /// The address text as listed.
    pub address: String,
}

/// One entry of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ListEntity {
    /// The entity's id within the list (OFAC profile id / ent_num, UN reference number, …).
    pub id: String,
    /// Person, organization, vessel, aircraft.
    pub entity_type: EntityType,
    /// All names; the first primary name is the display name.
    pub names: Vec<ListName>,
    /// Dates of birth (or of incorporation for organizations, when the list gives it).
    pub dobs: Vec<PartialDate>,
    /// Nationalities, citizenships and countries of address (ISO2 when known).
    pub countries: Vec<String>,
    /// Identity documents.
    pub identifiers: Vec<Identifier>,
    /// Sanctions programs (SDGT, CYBER2, …).
    pub programs: Vec<String>,
    /// Digital-currency addresses.
    pub addresses: Vec<ListedAddress>,
    /// A sub-list within the source ("SDN List", "Non-SDN …", "Entity List").
    pub sub_list: Option<String>,
    /// Where the publisher explains this entry (an alert page, a decision), when the list
    /// gives one. Left out of the JSON when absent, so older content hashes stay valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
    /// The risk category the list gives its entries (`# category:` of the generic CSV, e.g.
    /// `special_measure` for the US section 311 / 9714 list); `None` for sanctions lists,
    /// whose loaders set none. Left out of the JSON when absent, so older content hashes stay
    /// valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<floodgate_types::RiskCategory>,
    /// Relationships with other entries of the same list (owners, subsidiaries, links),
    /// see [`crate::relations`]. Left out of the JSON when empty, so older content hashes
    /// stay valid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relations: Vec<crate::relations::Relation>,
}

impl ListEntity {
    /// The display name: the first primary name, else the first name, else the id.
    pub fn display_name(&self) -> &str {
        self.names
            .iter()
            .find(|n| n.alias == AliasKind::Primary)
            .or_else(|| self.names.first())
            .map_or(self.id.as_str(), |n| n.full.as_str())
    }

    /// A content hash (hex SHA-256 over the canonical JSON of the entity), used to tell whether
    /// an entry changed between list versions.
    pub fn content_hash(&self) -> String {
        let json = serde_json::to_vec(self).expect("a ListEntity always serializes");
        hex::encode(Sha256::digest(&json))
    }
}

/// One version of one list, fully loaded in memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ListSnapshot {
    /// The list's name, unique within a screener ("ofac-sdn", "un", "vn-blacklist", …).
    pub list: String,
    /// The publisher's version or issue date, or a content hash when none is given.
    pub version: String,
    /// Where it came from (file paths).
    pub source: String,
    /// The entries.
    pub entities: Vec<ListEntity>,
}

#[cfg(test)]
mod tests {
    use super::PartialDate;

    #[test]
    fn days_a_month_does_not_have_are_not_dates() {
        for bad in ["1961-02-31", "2001-02-29", "1900-02-29", "31/04/1990", "31 Jun 1975"] {
            assert_eq!(PartialDate::parse(bad), None, "{bad}");
            assert!(PartialDate::parse_syntax(bad).is_some(), "{bad} has the right form");
        }
        for good in ["2000-02-29", "1996-02-29", "31/12/1990", "30 Jun 1975", "1961-02", "1961"] {
            assert!(PartialDate::parse(good).is_some(), "{good}");
        }
    }
}
