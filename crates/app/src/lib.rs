//! The application layer: every operation a user can ask of floodgate, as one function over a
//! typed data directory, with a typed request and a typed, serializable result. The command
//! line (`crates/cli`) parses flags, calls one service and renders its result; the HTTP API
//! serves the same results as JSON. No service knows about flags, terminals or HTTP.
//!
//! - [`trace`]: build the graph, exposure, fund paths, why two addresses are one entity, an
//!   entity's report, attribution tags — over a [`trace::Tracer`] opened once (the graph
//!   mapped, the data directory's tags and clustering loaded on first use and shared).
//!
//! - [`monitor`]: set up the KYT engine for a data directory and stream events through it,
//!   each decision handed on only after its state is committed.
//!
//! - [`screen`]: a name, an address, a CSV batch, name pairs, suppressions — over a
//!   [`screen::Screening`] (the data directory's database, or the API's shared index).
//!
//! - [`lists`]: load list files (parsed and checked before anything is written; the delta
//!   re-screen of registered subjects), show the lists in force and the load history.
//!
//! - [`alerts`]: which hits of a screening become alerts in the case store, about whom.
//!
//! - [`ingest`]: chain data and ledgers into the transfer store through the reader registry.
//!
//! - [`report`]: the tenant's report obligations by status, and the documents that fulfil
//!   them (goAML STR, case report, Viet Nam threshold report, IVMS101), built and checked
//!   before anything is written or filed.
//!
//! - [`rules`]: check a rules file, the built-in pack, detection quality on a synthetic ledger.
//!
//! A service's result serializes to exactly the JSON the CLI prints with `--format json`
//! (`crates/cli/tests/app.rs` checks it), so every door returns the same shapes. Side notes
//! that are not part of that shape (an entity alias resolved, peel-chain links followed) are
//! fields that serialization skips.

pub mod alerts;
mod datadir;
mod error;
pub mod ingest;
pub mod lists;
pub mod monitor;
mod progress;
pub mod report;
pub mod rules;
pub mod screen;
pub mod trace;

pub use datadir::DataDir;
pub use error::AppError;
pub use progress::{NoProgress, Progress};

/// The result of a service.
pub type Result<T, E = AppError> = std::result::Result<T, E>;
