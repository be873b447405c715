//! Chain-aware addresses: parsing, validation and one canonical form per chain.
//!
//! | chain | accepted | canonical form |
//! |---|---|---|
//! | Bitcoin | base58check P2PKH/P2SH, bech32 (witness v0) and bech32m (v1+, BIP 350), mainnet, testnet and regtest | base58 as given; bech32 lowercase |
//! | Ethereum | `0x` + 40 hex, all-lowercase, all-uppercase or valid EIP-55 mixed case | EIP-55 checksummed |
//! | Tron | base58check `T…`, hex `41…` (42 digits, optional `0x`), or EVM-style `0x` + 40 hex | base58check `T…` |
//!
//! Every Bitcoin output script maps to an address: standard scripts to their address, pay-to-
//! pubkey to the P2PKH address of that key (as explorers and GraphSense show it), and any other
//! script to a stable `nonstandard:<sha256 of the script>` id.

mod bitcoin;
mod ethereum;
mod tron;

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use self::bitcoin::{BtcAddress, BtcNetwork, BtcPayload, ScriptAddress, ScriptKind};
pub use self::ethereum::EthAddress;
pub use self::tron::TronAddress;
use crate::chain::Chain;

/// An address on one chain, in a form where equal addresses compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Address {
    /// A Bitcoin address or non-standard script id.
    Bitcoin(BtcAddress),
    /// An Ethereum (EVM) account.
    Ethereum(EthAddress),
    /// A Tron account.
    Tron(TronAddress),
}

/// Why an address was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// Nothing to parse.
    #[error("empty address")]
    Empty,
    /// The text has the right shape but its checksum is wrong (a typo, or a changed letter case).
    #[error("invalid {chain} address '{input}': checksum mismatch{hint}")]
    Checksum {
        /// The chain it was parsed for.
        chain: Chain,
        /// The offending text.
        input: String,
        /// Extra detail, such as the expected EIP-55 form.
        hint: String,
    },
    /// The text is not an address of this chain.
    #[error("invalid {chain} address '{input}': {reason}")]
    Invalid {
        /// The chain it was parsed for.
        chain: Chain,
        /// The offending text.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A real address of a chain or asset floodgate does not support yet.
    #[error(
        "unsupported: '{input}' is a {asset} address and floodgate does not support {asset} yet"
    )]
    Unsupported {
        /// The chain or asset ticker.
        asset: String,
        /// The address as given.
        input: String,
    },
    /// The form matches no supported chain.
    #[error("'{input}' is not a Bitcoin, Ethereum or Tron address")]
    Unrecognized {
        /// The offending text.
        input: String,
    },
}

impl AddressError {
    pub(crate) fn invalid(chain: Chain, input: &str, reason: impl Into<String>) -> Self {
        AddressError::Invalid { chain, input: clip(input), reason: reason.into() }
    }

    /// Whether the address belongs to a chain floodgate does not support (as opposed to being
    /// malformed).
    pub fn is_unsupported(&self) -> bool {
        matches!(self, AddressError::Unsupported { .. })
    }
}

fn clip(s: &str) -> String {
    if s.chars().count() > 120 {
        let mut c: String = s.chars().take(117).collect();
        c.push_str("...");
        c
    } else {
        s.to_owned()
    }
}

impl Address {
    /// Parses an address of the given chain.
    ///
    /// # Errors
    /// [`AddressError`] naming the chain, the input and what is wrong.
    pub fn parse(chain: Chain, s: &str) -> Result<Address, AddressError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(AddressError::Empty);
        }
        match chain {
            Chain::Bitcoin => BtcAddress::parse(s).map(Address::Bitcoin),
            Chain::Ethereum => EthAddress::parse(s).map(Address::Ethereum),
            Chain::Tron => TronAddress::parse(s).map(Address::Tron),
        }
    }

    /// Parses an address whose chain is told by its form: `0x` + 40 hex is Ethereum, `T…` and
    /// `41…` are Tron, anything else is tried as Bitcoin.
    ///
    /// # Errors
    /// [`AddressError`] when the text is no valid address of the chain its form suggests.
    pub fn parse_any(s: &str) -> Result<Address, AddressError> {
        let t = s.trim();
        if t.is_empty() {
            return Err(AddressError::Empty);
        }
        Address::parse(Self::guess_chain(t), t)
    }

    /// The chain an address's form suggests (see [`Address::parse_any`]).
    pub fn guess_chain(s: &str) -> Chain {
        let t = s.trim();
        let is_hex = |x: &str| x.bytes().all(|b| b.is_ascii_hexdigit());
        if (t.len() == 42 && (t.starts_with("0x") || t.starts_with("0X")) && is_hex(&t[2..]))
            || (t.len() == 40 && is_hex(t))
        {
            Chain::Ethereum
        } else if (t.len() == 34 && t.starts_with('T'))
            || (t.len() == 42 && t.starts_with("41") && is_hex(t))
        {
            Chain::Tron
        } else {
            Chain::Bitcoin
        }
    }

    /// Parses an address listed under an asset ticker, as OFAC's SDN list does
    /// ("Digital Currency Address - XBT"). `USDT` and `USDC` live on several chains, so the
    /// address's form picks one. Tickers of chains floodgate does not support give
    /// [`AddressError::Unsupported`], not an invalid-address error.
    ///
    /// Lists carry labelling mistakes (OFAC lists the Tron address
    /// `TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq` under XBT). Dropping a sanctioned address is a
    /// screening miss, so an address that is invalid for its ticker's chain but valid for the
    /// supported chain its form suggests parses as that chain; callers can spot the mismatch
    /// by comparing [`Address::chain`] with the ticker.
    ///
    /// # Errors
    /// [`AddressError::Unsupported`] for unsupported assets, otherwise as [`Address::parse`]
    /// for the ticker's chain.
    pub fn parse_listed(asset: &str, s: &str) -> Result<Address, AddressError> {
        let ticker = asset.trim().to_ascii_uppercase();
        let listed_on = |chain: Chain| {
            Address::parse(chain, s).or_else(|err| match Self::guess_chain(s) {
                guessed if guessed != chain => Address::parse(guessed, s).map_err(|_| err),
                _ => Err(err),
            })
        };
        match ticker.as_str() {
            "XBT" | "BTC" => listed_on(Chain::Bitcoin),
            "ETH" => listed_on(Chain::Ethereum),
            "TRX" => listed_on(Chain::Tron),
            "USDT" | "USDC" => match Self::guess_chain(s) {
                Chain::Bitcoin => Err(AddressError::Unsupported { asset: ticker, input: clip(s) }),
                chain => Address::parse(chain, s),
            },
            _ => Err(AddressError::Unsupported { asset: ticker, input: clip(s.trim()) }),
        }
    }

    /// The chain this address belongs to.
    pub fn chain(&self) -> Chain {
        match self {
            Address::Bitcoin(_) => Chain::Bitcoin,
            Address::Ethereum(_) => Chain::Ethereum,
            Address::Tron(_) => Chain::Tron,
        }
    }

    /// The canonical text form (same as `Display`).
    pub fn to_canonical(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Bitcoin(a) => a.fmt(f),
            Address::Ethereum(a) => a.fmt(f),
            Address::Tron(a) => a.fmt(f),
        }
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Address::parse_any(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_assets_are_not_invalid() {
        let e = Address::parse_listed("LTC", "LTdsVS8VDw6syvfQADdhf2PHAm3rMGJvPX").unwrap_err();
        assert!(e.is_unsupported(), "{e}");
        let usdt_tron =
            Address::parse_listed("USDT", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t").unwrap();
        assert_eq!(usdt_tron.chain(), Chain::Tron);
        let usdt_eth =
            Address::parse_listed("USDT", "0xdAC17F958D2ee523a2206206994597C13D831ec7").unwrap();
        assert_eq!(usdt_eth.chain(), Chain::Ethereum);
    }

    #[test]
    fn mislabelled_listed_address_parses_as_its_evident_chain() {
        // OFAC's SDN list has this Tron address under "XBT".
        let a = Address::parse_listed("XBT", "TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq").unwrap();
        assert_eq!(a.chain(), Chain::Tron);
        // Garbage still fails with the ticker chain's error.
        let e = Address::parse_listed("XBT", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb").unwrap_err();
        assert!(matches!(e, AddressError::Checksum { chain: Chain::Bitcoin, .. }), "{e}");
    }

    #[test]
    fn parse_any_detects_chain() {
        assert_eq!(
            Address::parse_any("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa").unwrap().chain(),
            Chain::Bitcoin
        );
        assert_eq!(
            Address::parse_any("0xdac17f958d2ee523a2206206994597c13d831ec7").unwrap().chain(),
            Chain::Ethereum
        );
        assert_eq!(
            Address::parse_any("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t").unwrap().chain(),
            Chain::Tron
        );
    }
}
