//! Screening of names, companies and wallet addresses against sanctions, entity and alert lists.
//!
//! * [`loaders`] read OFAC (advanced XML, legacy CSV, per-asset address lists), UN, US CSL,
//!   BIS DPL, OpenSanctions FollowTheMoney JSON and a documented generic CSV into
//!   [`ListSnapshot`]s.
//! * [`normalize`] folds names across scripts (Vietnamese diacritics, Cyrillic, Greek, Arabic,
//!   Chinese to pinyin, Hangul, legal forms) into comparable tokens.
//! * [`score`] compares two names and their evidence (date of birth, country, identifiers,
//!   type) and explains every feature; [`Matcher`] adds a candidate index.
//! * [`listed_addresses`] reads every listed digital-currency address with its entry, for
//!   attribution tags.
//! * [`Screener`] keeps lists, suppressions and results of one tenant in a
//!   [`store::ScreeningStore`] (SQLite `screening.db` by default) and re-screens only what a
//!   list change touched.

pub mod country;
pub mod error;
pub mod eval;
pub mod index;
pub mod listed;
pub mod loaders;
pub mod matcher;
pub mod model;
pub mod normalize;
pub mod pair_eval;
pub mod relations;
pub mod score;
pub mod screener;
pub mod store;
pub mod unihan;

pub use error::{Result, ScreenError};
pub use listed::{listed_addresses, ListedCryptoAddress};
pub use matcher::{AddressHit, Hit, Matcher};
pub use model::{
    AliasKind, EntityType, Identifier, ListEntity, ListName, ListSnapshot, ListedAddress,
    PartialDate,
};
pub use score::{NameQuery, ScoreConfig};
pub use screener::{LoadReport, Screener, Subject};
pub use store::{ScreeningStore, SqliteScreeningStore};
