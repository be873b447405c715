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

/// The ISO2 code of a country given as a name, a synonym or a code; `None` when unknown. Names
/// and synonyms are looked up first, so "UK" is GB (ISO reserves UK for the United Kingdom;
/// lists and users write it); any other two letters are taken as a code as given, uppercased
/// (lists carry codes this table has no name for, such as XK for Kosovo).
pub fn to_iso2(s: &str) -> Option<String> {
    let t = s.trim();
    if let Some(iso) = by_name().get(&key(t)) {
        return Some((*iso).to_owned());
    }
    (t.len() == 2 && t.chars().all(|c| c.is_ascii_alphabetic())).then(|| t.to_ascii_uppercase())
}

/// The ISO2 code when known, else the name as given (trimmed), so unknown countries still
/// compare by their text.
pub fn canonical(s: &str) -> String {
    to_iso2(s).unwrap_or_else(|| s.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_synonyms_and_codes_give_one_code() {
        for (given, iso) in [
            ("Korea, North", "KP"),
            ("North Korea", "KP"),
            ("kp", "KP"),
            (" KP ", "KP"),
            ("UK", "GB"),
            ("uk", "GB"),
            ("United Kingdom", "GB"),
            ("GB", "GB"),
            ("xk", "XK"),
        ] {
            assert_eq!(to_iso2(given).as_deref(), Some(iso), "{given}");
        }
        assert_eq!(to_iso2("Atlantis"), None);
        assert_eq!(canonical("Atlantis "), "Atlantis");
    }
}
