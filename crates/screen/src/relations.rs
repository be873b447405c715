//! Owners and links: the relationships lists publish between their entries (OFAC advanced
//! XML `ProfileRelationship`s; OpenSanctions `Ownership`, `Directorship`, `Family`,
//! `Associate` and `UnknownLink` entities), attached to both parties, and OFAC's 50 % rule.
//!
//! Each relationship is stored on both entities: on the subject as published ("Owned or
//! Controlled By" the other party, `outgoing`) and on the other party as its inverse
//! (`outgoing == false`: the other party is the one the relationship is *of*). A hit shows its
//! entity's relationships; `--related` screens the linked entries too.
//!
//! **The 50 % rule.** OFAC treats an entity owned 50 % or more, directly or in aggregate, by
//! blocked persons as blocked itself, listed or not. Lists rarely give the share: the OFAC XML
//! never does, OpenSanctions `Ownership` entities do in `percentage` when their source does.
//! [`fifty_percent_owners`] reports the owners, with the share, whose ownership data says 50 %
//! or more (aggregated over several listed owners); it never guesses a share that is not given.

use serde::{Deserialize, Serialize};

use crate::model::ListEntity;

/// One relationship of a listed entity with another entry of the same list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relation {
    /// The kind as the list names it ("Owned or Controlled By", "Associate Of", "ownership",
    /// "directorship", …).
    pub kind: String,
    /// Whether this entity is the subject of `kind` (this entity is owned by the other) or
    /// the object (this entity owns the other).
    pub outgoing: bool,
    /// The other party's id in the same list.
    pub other_id: String,
    /// The other party's display name.
    pub other_name: String,
    /// The ownership share in percent, when the list gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_percent: Option<f64>,
}

impl Relation {
    /// Whether this relation says the *other* party owns or controls this entity.
    pub fn is_owned_by_other(&self) -> bool {
        let k = self.kind.to_ascii_lowercase();
        (self.outgoing && k.contains("owned or controlled by"))
            || (!self.outgoing && (k.starts_with("ownership") || k.starts_with("owns")))
    }

    /// One line for a person to read, from this entity's side: "owned or controlled by:
    /// NEW AHMADI LTD. (13128)", "owned by, 60 %: Ivan Sidorov (p1)".
    pub fn describe(&self) -> String {
        let (base, role) = match self.kind.split_once(" (") {
            Some((b, r)) => (b, format!(" ({r}")),
            None => (self.kind.as_str(), String::new()),
        };
        let share = self.share_percent.map(|s| format!(", {s} %")).unwrap_or_default();
        format!(
            "{}{role}{share}: {} ({})",
            label(base, self.outgoing),
            self.other_name,
            self.other_id
        )
    }
}

/// The label of a relation kind seen from its subject (`outgoing`) or its object.
fn label(kind: &str, outgoing: bool) -> String {
    let k = kind.to_ascii_lowercase();
    let (out, inv) = match k.as_str() {
        "owned or controlled by" => ("owned or controlled by", "owns or controls"),
        "ownership" => ("owns", "owned by"),
        "owns, controls, or operates" => {
            ("owns, controls or operates", "owned, controlled or operated by")
        }
        "directorship" => ("director of", "directed by"),
        "family" | "family member of" => ("family member of", "family member of"),
        "associate" | "associate of" | "unknownlink" => ("associate of", "associate of"),
        "providing support to" => ("provides support to", "supported by"),
        "acting for or on behalf of" => ("acts for or on behalf of", "represented by"),
        "leader or official of" => ("leader or official of", "led by"),
        "principal executive officer" => {
            ("principal executive officer of", "has as principal executive officer")
        }
        "property in the interest of" => ("property in the interest of", "has an interest in"),
        "playing a significant role in" => {
            ("plays a significant role in", "with a significant role played by")
        }
        _ => return if outgoing { k } else { format!("{k} (inverse)") },
    };
    (if outgoing { out } else { inv }).to_owned()
}

/// One relationship as a loader reads it: subject, kind, object (ids in the list), share.
#[derive(Debug, Clone)]
pub(crate) struct Edge {
    pub(crate) from: String,
    pub(crate) kind: String,
    pub(crate) to: String,
    pub(crate) share_percent: Option<f64>,
}

/// Attaches edges to both of their entities (by id); edges naming an id the list does not
/// hold are dropped and counted in the log.
pub(crate) fn attach(entities: &mut [ListEntity], edges: Vec<Edge>) {
    let index: std::collections::HashMap<String, usize> =
        entities.iter().enumerate().map(|(i, e)| (e.id.clone(), i)).collect();
    let mut dropped = 0usize;
    for e in edges {
        let (Some(&a), Some(&b)) = (index.get(&e.from), index.get(&e.to)) else {
            dropped += 1;
            continue;
        };
        let (an, bn) =
            (entities[a].display_name().to_owned(), entities[b].display_name().to_owned());
        let r = Relation {
            kind: e.kind.clone(),
            outgoing: true,
            other_id: e.to.clone(),
            other_name: bn,
            share_percent: e.share_percent,
        };
        if !entities[a].relations.contains(&r) {
            entities[a].relations.push(r);
        }
        let r = Relation {
            kind: e.kind,
            outgoing: false,
            other_id: e.from,
            other_name: an,
            share_percent: e.share_percent,
        };
        if !entities[b].relations.contains(&r) {
            entities[b].relations.push(r);
        }
    }
    if dropped > 0 {
        tracing::info!(
            target: "floodgate::screen::load",
            dropped,
            "relationships naming an entry the list does not hold were skipped"
        );
    }
}

/// The listed owners of `entity` whose ownership data says they hold 50 % or more together,
/// each with its share; empty when no share is given or the shares sum to less than 50 %.
pub fn fifty_percent_owners(entity: &ListEntity) -> Vec<&Relation> {
    let owners: Vec<&Relation> = entity
        .relations
        .iter()
        .filter(|r| r.is_owned_by_other() && r.share_percent.is_some())
        .collect();
    let total: f64 = owners.iter().filter_map(|r| r.share_percent).sum();
    if total >= 50.0 {
        owners
    } else {
        Vec::new()
    }
}

/// The reason text of a 50 % rule flag: names each owner and its share.
pub fn fifty_percent_reason(owners: &[&Relation]) -> String {
    let parts: Vec<String> = owners
        .iter()
        .map(|r| format!("{} ({}) {} %", r.other_name, r.other_id, r.share_percent.unwrap_or(0.0)))
        .collect();
    let total: f64 = owners.iter().filter_map(|r| r.share_percent).sum();
    format!(
        "OFAC 50 % rule: owned {total} % by listed {}: {}",
        if owners.len() == 1 { "party" } else { "parties in aggregate" },
        parts.join(", ")
    )
}

/// The entries linked to one hit, each screened in turn (`screen name --related`).
#[derive(Debug, Clone, Serialize)]
pub struct RelatedHits {
    /// The list and id of the hit whose relationship this is.
    pub list: String,
    /// The hit's entity id.
    pub via: String,
    /// The relationship, seen from the hit.
    pub relation: Relation,
    /// What screening the linked party's name finds, on every loaded list (its own entry
    /// first, then any other list that also names it).
    pub hits: Vec<crate::Hit>,
}

/// Screens the parties linked to each hit by name (their type taken from their own entry
/// when it is in the hit), best first; each linked party once per hit.
pub fn screen_related(m: &crate::Matcher, hits: &[crate::Hit]) -> Vec<RelatedHits> {
    let mut out = Vec::new();
    for h in hits {
        for r in &h.relations {
            let q = crate::NameQuery::name(r.other_name.clone());
            let mut found = m.screen(q);
            // The linked entry itself first.
            found.sort_by_key(|x| !(x.list == h.list && x.entity_id == r.other_id));
            out.push(RelatedHits {
                list: h.list.clone(),
                via: h.entity_id.clone(),
                relation: r.clone(),
                hits: found,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ListName;

    fn ent(id: &str, name: &str) -> ListEntity {
        ListEntity { id: id.into(), names: vec![ListName::primary(name)], ..ListEntity::default() }
    }

    #[test]
    fn ownership_of_half_or_more_is_flagged_naming_the_owner_and_share() {
        let mut es = vec![ent("o1", "Owner One Ltd"), ent("o2", "Owner Two"), ent("c", "Sub Co")];
        attach(
            &mut es,
            vec![
                Edge {
                    from: "o1".into(),
                    kind: "ownership".into(),
                    to: "c".into(),
                    share_percent: Some(30.0),
                },
                Edge {
                    from: "o2".into(),
                    kind: "ownership".into(),
                    to: "c".into(),
                    share_percent: Some(20.0),
                },
            ],
        );
        let owners = fifty_percent_owners(&es[2]);
        assert_eq!(owners.len(), 2);
        assert_eq!(
            fifty_percent_reason(&owners),
            "OFAC 50 % rule: owned 50 % by listed parties in aggregate: Owner One Ltd (o1) 30 %, Owner Two (o2) 20 %"
        );
        // The owners themselves are not owned.
        assert!(fifty_percent_owners(&es[0]).is_empty());
        assert_eq!(es[0].relations[0].describe(), "owns, 30 %: Sub Co (c)");
        assert_eq!(es[2].relations[0].describe(), "owned by, 30 %: Owner One Ltd (o1)");
    }

    #[test]
    fn a_share_under_half_or_not_given_is_not_flagged() {
        let mut es = vec![ent("o", "Owner"), ent("c", "Co"), ent("d", "Other Co")];
        attach(
            &mut es,
            vec![
                Edge {
                    from: "o".into(),
                    kind: "ownership".into(),
                    to: "c".into(),
                    share_percent: Some(49.9),
                },
                Edge {
                    from: "d".into(),
                    kind: "Owned or Controlled By".into(),
                    to: "o".into(),
                    share_percent: None,
                },
                Edge {
                    from: "x".into(),
                    kind: "ownership".into(),
                    to: "c".into(),
                    share_percent: Some(90.0),
                },
            ],
        );
        assert!(fifty_percent_owners(&es[1]).is_empty(), "49.9 % is under half");
        assert!(es[2].relations[0].is_owned_by_other());
        assert!(fifty_percent_owners(&es[2]).is_empty(), "no share given, none guessed");
        assert_eq!(es[1].relations.len(), 1, "the edge from an unknown id is dropped");
    }
}
