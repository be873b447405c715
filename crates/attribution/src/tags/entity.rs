//! Entity tags derive from address tags: an entity carries every tag of every one of its
//! addresses, each with the address that carries it (the evidence).

use serde::Serialize;

use super::{Tag, TagSet};
use floodgate_graph::{Clustering, EntityId, Graph};

/// A tag an entity carries because one of its addresses does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntityTag {
    /// The entity (`E<n>`).
    pub entity: EntityId,
    /// The entity's address that carries the tag (also `tag.address`).
    pub address: String,
    /// The address's tag.
    pub tag: Tag,
}

impl TagSet {
    /// The tags of `entity`: every tag of each of its addresses in `graph`, ordered by
    /// category (highest risk first, the order of [`crate::RiskCategory::ALL`]), then address and
    /// source. The entity's own category is the first one's.
    pub fn entity_tags(
        &self,
        graph: &Graph,
        clusters: &Clustering,
        entity: EntityId,
    ) -> Vec<EntityTag> {
        let mut out: Vec<EntityTag> = self
            .iter()
            .filter(|(addr, _)| graph.lookup(addr).is_some_and(|n| clusters.entity_of(n) == entity))
            .flat_map(|(addr, tags)| {
                tags.iter().map(move |t| EntityTag {
                    entity,
                    address: addr.to_owned(),
                    tag: t.clone(),
                })
            })
            .collect();
        out.sort_by(|a, b| {
            (a.tag.category, &a.address, &a.tag.source).cmp(&(
                b.tag.category,
                &b.address,
                &b.tag.source,
            ))
        });
        out
    }
}
