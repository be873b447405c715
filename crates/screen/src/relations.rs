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

/// How many ownership links the 50 % rule follows up from an entity (A owns B owns C … ).
pub const MAX_OWNERSHIP_CHAIN: usize = 8;

/// Whether the list designates this entry itself (a sanctions target), rather than carrying
/// it as a party linked to one: it names a program (every OFAC and UN entry does), or, in
/// OpenSanctions data, a `sanction…` topic. Other OpenSanctions topics (`role.pep`,
/// `poi`, `corp.…`) and none at all (a company present only as a link) do not designate.
pub fn is_designated(entity: &ListEntity) -> bool {
    let ftm_topic = |p: &str| {
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_')
    };
    entity.programs.iter().any(|p| p.starts_with("sanction") || !ftm_topic(p))
}

/// OFAC's 50 % rule for one entity: `Some(reason)` when the list's ownership data says
/// that blocked parties own 50 % or more of it, directly or in aggregate. A blocked party is
/// an owner the list designates ([`is_designated`]) or one that this rule blocks in turn
/// (A owns 60 % of B, B owns 60 % of C: B is blocked, so C is), followed up to
/// [`MAX_OWNERSHIP_CHAIN`] links; as OFAC's guidance says, a blocked owner's share counts
/// whole (shares are not multiplied along the chain). `lookup` finds an entry of the same
/// list by id. No share is ever guessed: a link without one counts for nothing.
///
/// The reason names each owner and share, and how a non-designated owner is itself blocked:
/// "OFAC 50 % rule: owned 60 % by listed party: Ivan Petrovich Sidorov (p1) 60 %".
pub fn fifty_percent_rule<'a>(
    entity: &'a ListEntity,
    lookup: &dyn Fn(&str) -> Option<&'a ListEntity>,
) -> Option<String> {
    let mut path = vec![entity.id.as_str()];
    blocked_by_owners(entity, lookup, &mut path).map(|why| format!("OFAC 50 % rule: {why}"))
}

/// Why `entity` is blocked by its owners (without the "OFAC 50 % rule" prefix), if it is;
/// `path` holds the entities being looked at below it, so a circle of owners ends.
fn blocked_by_owners<'a>(
    entity: &'a ListEntity,
    lookup: &dyn Fn(&str) -> Option<&'a ListEntity>,
    path: &mut Vec<&'a str>,
) -> Option<String> {
    let mut total = 0.0;
    let mut parts = Vec::new();
    let mut all_listed = true;
    for r in entity.relations.iter().filter(|r| r.is_owned_by_other()) {
        let Some(share) = r.share_percent else { continue };
        if path.contains(&r.other_id.as_str()) {
            continue;
        }
        let Some(owner) = lookup(&r.other_id) else { continue };
        let part = format!("{} ({}) {share} %", r.other_name, r.other_id);
        if is_designated(owner) {
            parts.push(part);
        } else {
            if path.len() > MAX_OWNERSHIP_CHAIN {
                continue;
            }
            path.push(&owner.id);
            let why = blocked_by_owners(owner, lookup, path);
            path.pop();
            let Some(why) = why else { continue };
            all_listed = false;
            parts.push(format!("{part} [itself blocked: {why}]"));
        }
        total += share;
    }
    (total >= 50.0).then(|| {
        let who = match (all_listed, parts.len()) {
            (true, 1) => "listed party",
            (true, _) => "listed parties in aggregate",
            (false, 1) => "blocked party",
            (false, _) => "listed or blocked parties in aggregate",
        };
        format!("owned {total} % by {who}: {}", parts.join(", "))
    })
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

    /// A designated (sanctioned) entry.
    fn listed(id: &str, name: &str) -> ListEntity {
        ListEntity { programs: vec!["SDGT".into()], ..ent(id, name) }
    }

    fn owns(from: &str, to: &str, share: Option<f64>) -> Edge {
        Edge { from: from.into(), kind: "ownership".into(), to: to.into(), share_percent: share }
    }

    #[track_caller]
    fn rule(es: &[ListEntity], id: &str) -> Option<String> {
        let lookup = |x: &str| es.iter().find(|e| e.id == x);
        fifty_percent_rule(lookup(id).unwrap(), &lookup)
    }

    #[test]
    fn ownership_of_half_or_more_is_flagged_naming_the_owner_and_share() {
        let mut es =
            vec![listed("o1", "Owner One Ltd"), listed("o2", "Owner Two"), ent("c", "Sub Co")];
        attach(&mut es, vec![owns("o1", "c", Some(30.0)), owns("o2", "c", Some(20.0))]);
        assert_eq!(
            rule(&es, "c").as_deref(),
            Some(
                "OFAC 50 % rule: owned 50 % by listed parties in aggregate: Owner One Ltd (o1) 30 %, Owner Two (o2) 20 %"
            )
        );
        // The owners themselves are not owned.
        assert_eq!(rule(&es, "o1"), None);
        assert_eq!(es[0].relations[0].describe(), "owns, 30 %: Sub Co (c)");
        assert_eq!(es[2].relations[0].describe(), "owned by, 30 %: Owner One Ltd (o1)");
    }

    #[test]
    fn a_share_under_half_or_not_given_is_not_flagged() {
        let mut es = vec![listed("o", "Owner"), ent("c", "Co"), ent("d", "Other Co")];
        attach(
            &mut es,
            vec![
                owns("o", "c", Some(49.9)),
                Edge {
                    from: "d".into(),
                    kind: "Owned or Controlled By".into(),
                    to: "o".into(),
                    share_percent: None,
                },
                owns("x", "c", Some(90.0)),
            ],
        );
        assert_eq!(rule(&es, "c"), None, "49.9 % is under half");
        assert!(es[2].relations[0].is_owned_by_other());
        assert_eq!(rule(&es, "d"), None, "no share given, none guessed");
        assert_eq!(es[1].relations.len(), 1, "the edge from an unknown id is dropped");
    }

    #[test]
    fn a_chain_of_majority_owners_blocks_every_link() {
        // A (listed) owns 60 % of B, B owns 60 % of C, C owns 51 % of D: B, C and D are blocked.
        let mut es = vec![
            listed("a", "Alpha Holding"),
            ent("b", "Beta Trading"),
            ent("c", "Gamma Shipping"),
            ent("d", "Delta Port"),
        ];
        attach(
            &mut es,
            vec![
                owns("a", "b", Some(60.0)),
                owns("b", "c", Some(60.0)),
                owns("c", "d", Some(51.0)),
            ],
        );
        assert_eq!(
            rule(&es, "b").as_deref(),
            Some("OFAC 50 % rule: owned 60 % by listed party: Alpha Holding (a) 60 %")
        );
        assert_eq!(
            rule(&es, "c").as_deref(),
            Some(
                "OFAC 50 % rule: owned 60 % by blocked party: Beta Trading (b) 60 % [itself blocked: owned 60 % by listed party: Alpha Holding (a) 60 %]"
            )
        );
        let d = rule(&es, "d").unwrap();
        assert!(d.starts_with("OFAC 50 % rule: owned 51 % by blocked party: Gamma Shipping (c) 51 % [itself blocked: owned 60 % by blocked party: Beta Trading (b)"), "{d}");
        // A break in the chain (B owned only 40 %) frees everything below it.
        let mut es = vec![listed("a", "Alpha"), ent("b", "Beta"), ent("c", "Gamma")];
        attach(&mut es, vec![owns("a", "b", Some(40.0)), owns("b", "c", Some(100.0))]);
        assert_eq!(rule(&es, "b"), None);
        assert_eq!(rule(&es, "c"), None, "B is not blocked, so its 100 % counts for nothing");
    }

    #[test]
    fn direct_and_indirect_shares_aggregate_and_circles_end() {
        // A (listed) owns 30 % of C directly and 60 % of B, which owns 25 % of C: 55 %.
        let mut es = vec![listed("a", "Alpha"), ent("b", "Beta"), ent("c", "Gamma")];
        attach(
            &mut es,
            vec![
                owns("a", "c", Some(30.0)),
                owns("a", "b", Some(60.0)),
                owns("b", "c", Some(25.0)),
            ],
        );
        let c = rule(&es, "c").unwrap();
        assert!(c.starts_with("OFAC 50 % rule: owned 55 % by listed or blocked parties in aggregate: Alpha (a) 30 %, Beta (b) 25 % [itself blocked"), "{c}");
        // B and C own each other and nobody listed owns either: nothing, and no endless walk.
        let mut es = vec![ent("b", "Beta"), ent("c", "Gamma"), listed("z", "Zeta")];
        attach(&mut es, vec![owns("b", "c", Some(60.0)), owns("c", "b", Some(60.0))]);
        assert_eq!(rule(&es, "b"), None);
        assert_eq!(rule(&es, "c"), None);
    }

    #[test]
    fn an_opensanctions_link_without_a_sanction_topic_is_not_a_listed_owner() {
        let with = |programs: &[&str]| ListEntity {
            programs: programs.iter().map(|p| (*p).to_owned()).collect(),
            ..ent("x", "X")
        };
        assert!(is_designated(&with(&["sanction"])));
        assert!(is_designated(&with(&["sanction.linked", "role.pep"])));
        assert!(is_designated(&with(&["RUSSIA-EO14024"])));
        assert!(is_designated(&with(&["Al-Qaida"])));
        assert!(!is_designated(&with(&[])));
        assert!(!is_designated(&with(&["role.pep", "poi"])));
    }
}
