//! The chains floodgate understands.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A blockchain that floodgate can parse addresses of and ingest data from.
///
/// EVM chains other than Ethereum share Ethereum's address format and are reported as
/// [`ChainError::Unsupported`] until ingestion supports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Chain {
    /// Bitcoin (UTXO model). Mainnet, testnet and regtest addresses are distinguished by prefix.
    Bitcoin,
    /// Ethereum mainnet (account model).
    Ethereum,
    /// Tron mainnet (account model, EVM-like logs).
    Tron,
}

impl Chain {
    /// Every supported chain, in a stable order.
    pub const ALL: [Chain; 3] = [Chain::Bitcoin, Chain::Ethereum, Chain::Tron];

    /// The lowercase name used in files, the CLI and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Chain::Bitcoin => "bitcoin",
            Chain::Ethereum => "ethereum",
            Chain::Tron => "tron",
        }
    }

    /// The ticker of the chain's native asset.
    pub fn native_asset(self) -> &'static str {
        match self {
            Chain::Bitcoin => "BTC",
            Chain::Ethereum => "ETH",
            Chain::Tron => "TRX",
        }
    }

    /// The chain's on-disk code (graph keys and segment files). Pinned forever: a new chain
    /// takes a new code and a code is never reused; it is not the variant's position.
    pub fn code(self) -> u8 {
        match self {
            Chain::Bitcoin => 0,
            Chain::Ethereum => 1,
            Chain::Tron => 2,
        }
    }

    /// The chain an on-disk code names, or `None` for a code this build does not know.
    pub fn from_code(code: u8) -> Option<Chain> {
        Chain::ALL.into_iter().find(|c| c.code() == code)
    }

    /// Whether transfers on this chain are account-to-account (as opposed to UTXO).
    pub fn is_account_model(self) -> bool {
        !matches!(self, Chain::Bitcoin)
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A chain name that floodgate cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// A real chain or asset that floodgate does not ingest or validate yet.
    #[error("chain '{0}' is not supported yet (supported: bitcoin, ethereum, tron)")]
    Unsupported(String),
    /// A name that is no chain at all.
    #[error("unknown chain '{0}' (expected bitcoin, ethereum or tron)")]
    Unknown(String),
}

/// Chains and asset tickers that are real but not supported, so that a list naming them is
/// reported as unsupported rather than invalid.
const KNOWN_UNSUPPORTED: &[&str] = &[
    "ltc",
    "litecoin",
    "bch",
    "bitcoincash",
    "bsv",
    "btg",
    "dash",
    "zec",
    "zcash",
    "xmr",
    "monero",
    "xrp",
    "ripple",
    "xvg",
    "sol",
    "solana",
    "bnb",
    "bsc",
    "arb",
    "arbitrum",
    "etc",
    "usdc",
    "polygon",
    "matic",
    "avax",
    "ada",
    "doge",
    "dogecoin",
];

impl FromStr for Chain {
    type Err = ChainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "bitcoin" | "btc" | "xbt" => Ok(Chain::Bitcoin),
            "ethereum" | "eth" => Ok(Chain::Ethereum),
            "tron" | "trx" => Ok(Chain::Tron),
            other if KNOWN_UNSUPPORTED.contains(&other) => {
                Err(ChainError::Unsupported(s.trim().to_owned()))
            }
            _ => Err(ChainError::Unknown(s.trim().to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_tickers_parse() {
        assert_eq!("XBT".parse::<Chain>(), Ok(Chain::Bitcoin));
        assert_eq!("eth".parse::<Chain>(), Ok(Chain::Ethereum));
        assert_eq!(" Tron ".parse::<Chain>(), Ok(Chain::Tron));
        assert!(matches!("LTC".parse::<Chain>(), Err(ChainError::Unsupported(_))));
        assert!(matches!("nope".parse::<Chain>(), Err(ChainError::Unknown(_))));
    }

    /// Chain codes are written into graph keys and segment files: this table may only grow.
    #[test]
    fn codes_are_pinned() {
        for (chain, code) in [(Chain::Bitcoin, 0), (Chain::Ethereum, 1), (Chain::Tron, 2)] {
            assert_eq!(chain.code(), code, "{chain}");
            assert_eq!(Chain::from_code(code), Some(chain));
        }
        assert_eq!(Chain::ALL.len(), 3, "a new chain needs a new pinned code here");
        assert_eq!(Chain::from_code(3), None);
    }
}
