//! Core vocabulary of floodgate: chains, addresses, assets, integer amounts and the normalized
//! records that ingestion produces and every later stage (graph, screening, monitoring) reads.
//!
//! This crate does no I/O. Every identifier and quantity is a newtype, money is an integer in
//! the asset's base units, and every address has exactly one canonical form per chain.
//!
//! ```
//! use floodgate_types::{Address, Chain};
//!
//! // A checksummed and an all-lowercase Ethereum address are the same address.
//! let a = Address::parse(Chain::Ethereum, "0xdAC17F958D2ee523a2206206994597C13D831ec7")?;
//! let b = Address::parse(Chain::Ethereum, "0xdac17f958d2ee523a2206206994597c13d831ec7")?;
//! assert_eq!(a, b);
//! assert_eq!(a.to_string(), "0xdAC17F958D2ee523a2206206994597C13D831ec7");
//!
//! // A Tron address in hex form maps to its base58check form.
//! let t = Address::parse(Chain::Tron, "41a614f803b6fd780986a42c78ec9c7f77e6ded13c")?;
//! assert_eq!(t.to_string(), "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t");
//! # Ok::<(), floodgate_types::AddressError>(())
//! ```

pub mod address;
pub mod amount;
pub mod asset;
pub mod chain;
pub mod hash;
pub mod record;
pub mod risk;
pub mod tenant;
pub mod time;

pub use address::{Address, AddressError, BtcAddress, BtcNetwork, ScriptAddress};
pub use amount::{Amount, AmountError};
pub use asset::{Asset, AssetError, AssetId, AssetRegistry, Rail};
pub use chain::{Chain, ChainError};
pub use hash::{Hash32, HashError};
pub use record::{
    BlockHeader, ChainBlock, Direction, LedgerEntry, LegKind, OutPoint, Transfer, TransferIndex,
    TransferKind, TravelRule, TxInput, TxOutput, UtxoTx,
};
pub use risk::RiskCategory;
pub use tenant::{TenantId, TenantIdError};
pub use time::{Timestamp, TimestampError};
