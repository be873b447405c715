//! Attribution: tag sources mapped onto floodgate's one risk taxonomy
//! ([`RiskCategory`], `docs/taxonomy.md`) and resolved to the nodes and entities of the
//! transaction graph (`floodgate-graph`).
//!
//! - **Sources.** GraphSense TagPacks (YAML, validated whole-pack-or-nothing), Etherscan
//!   labels, CryptoScamDB blacklists and OFAC address lists, each loaded into a [`TagSet`]
//!   with a [`SourceLoad`] summary; a bad entry is reported with its file and line.
//! - **Lookups.** [`TagSet::resolve`] gives the category of every tagged node,
//!   [`TagSet::resolve_entities`] spreads it to every address of the tagged node's entity,
//!   [`EntityTag`] lists the tags of an entity's members.
//!
//! Which sources a data directory loads, and in which order, is decided in one place, the
//! application layer (`floodgate-app`, `trace/sources.rs`), because it reads the data
//! directory's layout and the screening lists; this crate only loads what it is given.
//!
//! ```
//! use floodgate_attribution::{RiskCategory, Tag, TagSet};
//! let mut tags = TagSet::new();
//! tags.add(Tag {
//!     address: "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S".into(),
//!     category: RiskCategory::Exchange,
//!     label: "an exchange".into(),
//!     source: "example".into(),
//!     confidence: None,
//!     actor: None,
//! });
//! assert_eq!(tags.of("12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S")[0].category, RiskCategory::Exchange);
//! ```

mod tags;

pub use tags::{
    category_from_tagpack, category_from_tagpack_abuse, cryptoscamdb_category, etherscan_label,
    EntityTag, RiskCategory, SkippedEntry, SourceLoad, Tag, TagError, TagSet,
    CRYPTOSCAMDB_CONFIDENCE, CRYPTOSCAMDB_SOURCE, ETHERSCAN_CONFIDENCE, ETHERSCAN_LABELS,
    ETHERSCAN_SOURCE,
};
