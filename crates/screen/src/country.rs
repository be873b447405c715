//! Country names to ISO 3166 alpha-2 codes, so that "Korea, North", "KP" and "kp" compare equal.

use std::collections::HashMap;
use std::sync::OnceLock;

#[path = "country_table.rs"]
mod table;

fn key(s: &str) -> String {
    crate::normalize::fold(s).split_whitespace().collect::<Vec<_>>().join(" ")
}

fn by_name() -> &'static HashMap<String, &'static str> {
    static MAP: OnceLock<HashMap<String, &'static str>> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut m = HashMap::new();
        for (iso, name) in table::COUNTRIES {
            m.insert(key(name), *iso);
        }
        m
    })
}

/// The ISO2 code of a country given as a code or a name; `None` when unknown.
pub fn to_iso2(s: &str) -> Option<String> {
    let t = s.trim();
    if t.len() == 2 && t.chars().all(|c| c.is_ascii_alphabetic()) {
        return Some(t.to_ascii_uppercase());
    }
    by_name().get(&key(t)).map(|s| (*s).to_owned())
}

/// The ISO2 code when known, else the name as given (trimmed), so unknown countries still
/// compare by their text.
pub fn canonical(s: &str) -> String {
    to_iso2(s).unwrap_or_else(|| s.trim().to_owned())
}
