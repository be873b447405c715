//! placeholder
/// Folds to ASCII lowercase.
pub fn fold(s: &str) -> String {
    deunicode::deunicode(s).to_lowercase()
}
