//! floodgate-monitor: the KYT decision for every exchange transfer.
#![allow(missing_docs)]
pub mod cel_rules;
pub mod customer;
pub mod decision;
pub mod engine;
pub mod error;
pub mod facts;
pub mod fiat;
pub mod input;
pub mod monitor;
pub mod pack;
pub mod sink;
pub mod state;
pub mod synth;
