//! floodgate-monitor: the KYT decision for every exchange transfer.
//!
//! Each deposit, withdrawal and internal transfer gets a [`decision::Decision`] — allow,
//! review, hold or block — with a 0–100 score, the rules that fired, their reasons and
//! evidence, report-due records for the jurisdiction, and notes on what could not be checked.
//!
//! - [`pack`]: the rules file / jurisdiction pack (TOML): report triggers, built-in
//!   typologies with their thresholds, declared sliding windows and CEL rules. The built-in
//!   Viet Nam pack is `packs/vn.toml`. Errors carry file, line and column.
//! - [`cel_rules`]: the boundary to the `cel` crate (Common Expression Language).
//! - [`engine`]: typologies, report triggers and CEL rules over one event. Each built-in
//!   typology is one file under `src/typologies/`, registered in one list there.
//! - [`state`]: per-account windows and the IP/device index; a pure function of the events.
//! - [`monitor`]: engine + state + the persisted decisions (idempotent on the transfer id;
//!   group commits; the state is loaded from a snapshot and brought up to date by replaying
//!   what was stored after it).
//! - [`store`]: the [`store::MonitorState`] trait over the decided transfers of one tenant,
//!   and its SQLite default, `monitor.db`.
//! - [`snapshot`]: the window state and duplicate filter saved periodically and at a clean
//!   exit, so a restart replays only the transfers decided after them.
//! - [`sink`]: an output file that holds every committed decision exactly once across crashes.
//! - [`input`], [`customer`], [`fiat`], [`facts`], [`vasp`] (the VASP directory),
//!   [`exposure_index`] (exposure facts from the tracing exposure index): the inputs; [`synth`]: a seeded synthetic
//!   exchange with planted typologies and the recall/precision measurement.
//!
//! ```
//! use std::sync::Arc;
//! use floodgate_monitor::{engine::Engine, monitor::{Monitor, Processed}, pack::{Action, Pack}};
//! use floodgate_monitor::{customer::CustomerBook, facts::AddressLists, fiat::RateTable, input::parse_event};
//! use floodgate_types::AssetRegistry;
//!
//! let engine = Engine::new(Pack::builtin_vn(), AssetRegistry::builtin(), RateTable::builtin(),
//!     CustomerBook::default(), Arc::new(AddressLists::default()));
//! let mut m = Monitor::in_memory(engine);
//! let line = r#"{"id":"w1","time":"2025-11-02T11:00:00Z","customer_id":"c1","direction":"withdrawal","asset":"USDT-TRC20","amount":"5000","counterparty_address":"TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM"}"#;
//! let ev = parse_event(std::path::Path::new("stdin"), 1, line, m.engine().assets(), None).unwrap();
//! let Processed::Decided(d) = m.process(&ev)? else { unreachable!() };
//! assert!(d.has("travel_rule_missing"));
//! assert_eq!(d.action, Action::Hold);
//! # Ok::<(), floodgate_monitor::error::MonitorError>(())
//! ```

pub mod cel_rules;
pub mod customer;
pub mod decision;
mod decision_json;
pub mod engine;
pub mod error;
pub mod exposure_index;
pub mod facts;
pub mod fiat;
pub mod input;
pub mod monitor;
pub mod pack;
pub mod seen;
pub mod sink;
pub mod snapshot;
pub mod state;
pub mod store;
pub mod synth;
pub mod typologies;
pub mod vasp;
