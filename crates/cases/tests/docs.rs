//! docs/cases.md's transition table is the state machine's table.

use std::collections::BTreeSet;

use floodgate_cases::machine::{Action, TRANSITIONS};

#[test]
fn the_documented_transition_table_is_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/cases.md");
    let text = std::fs::read_to_string(path).expect("docs/cases.md");
    let start = text.find("| from | action | to | roles |").expect("the table header");
    let mut doc = BTreeSet::new();
    for line in text[start..].lines().skip(2) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        doc.insert((
            cells[0].to_owned(),
            cells[1].to_owned(),
            cells[2].to_owned(),
            cells[3].to_owned(),
        ));
    }
    let code: BTreeSet<_> = TRANSITIONS
        .iter()
        .map(|t| {
            let roles: Vec<&str> = t.roles.iter().map(|r| r.as_str()).collect();
            (t.from.to_string(), t.action.as_str().to_owned(), t.to.to_string(), roles.join(", "))
        })
        .collect();
    assert_eq!(doc, code, "docs/cases.md and machine::TRANSITIONS differ");
    // Every action appears somewhere.
    for a in Action::ALL {
        assert!(TRANSITIONS.iter().any(|t| t.action == *a), "{a:?}");
    }
}
