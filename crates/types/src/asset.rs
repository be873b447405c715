//! Assets and the asset registry.
//!
//! An asset is a coin or token on one chain, or a fiat currency on no chain (`VND`, `USD`),
//! with a fixed number of decimals. The registry has built-in entries for the assets
//! floodgate's users meet most, and more can be added from a TOML file (see
//! `docs/config.md`). Tokens that are not registered are still ingested, under an id made
//! from their contract (`erc20:0x…`, `trc20:T…`), with amounts in raw base units.
//!
//! Fiat moves on a [`Rail`] — a bank transfer or cash — instead of a chain: an exchange's
//! ledger records fiat deposits and withdrawals beside its crypto ones, and Viet Nam's
//! large-cash and domestic-transfer thresholds are in VND.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::chain::Chain;

/// A stable asset id: `BTC`, `ETH`, `TRX`, `USDT-ERC20`, `USDT-TRC20`, … or, for unregistered
/// tokens, `erc20:<contract>` / `trc20:<contract>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AssetId(pub String);

impl AssetId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id of an unregistered token contract.
    pub fn for_token(contract: &Address) -> AssetId {
        match contract {
            Address::Tron(_) => AssetId(format!("trc20:{contract}")),
            _ => AssetId(format!("erc20:{contract}")),
        }
    }
}

impl fmt::Display for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One asset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    /// Stable id.
    pub id: AssetId,
    /// Ticker as users write it (`USDT`).
    pub symbol: String,
    /// The chain it lives on; `None` for a fiat currency, which lives on no chain and moves
    /// on a [`Rail`].
    pub chain: Option<Chain>,
    /// Token contract; `None` for the chain's native coin and for fiat.
    pub contract: Option<Address>,
    /// Decimal places of one whole unit (8 for BTC, 18 for ETH, 6 for USDT and TRX, 0 for
    /// VND, 2 for USD).
    pub decimals: u8,
}

impl Asset {
    /// Whether this is a fiat currency (on no chain).
    pub fn is_fiat(&self) -> bool {
        self.chain.is_none()
    }
}

/// How a fiat deposit or withdrawal moved: through a bank (a domestic or international
/// electronic funds transfer) or in cash. On-chain assets have no rail (their chain is it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rail {
    /// A bank transfer, from or to the counterparty's bank account.
    Bank,
    /// Cash, paid in or out at a counter.
    Cash,
}

impl Rail {
    /// Lowercase name (`bank`, `cash`).
    pub fn as_str(self) -> &'static str {
        match self {
            Rail::Bank => "bank",
            Rail::Cash => "cash",
        }
    }

    /// Parses `bank` or `cash` (case-insensitive).
    pub fn parse(s: &str) -> Option<Rail> {
        match s.trim().to_ascii_lowercase().as_str() {
            "bank" => Some(Rail::Bank),
            "cash" => Some(Rail::Cash),
            _ => None,
        }
    }
}

impl fmt::Display for Rail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A problem with an asset name or an asset definition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AssetError {
    /// No registered asset has this id or symbol.
    #[error("unknown asset '{name}' (known: {known}); register it in the assets file")]
    Unknown {
        /// The name given.
        name: String,
        /// The registered ids.
        known: String,
    },
    /// A symbol that several chains carry, with no chain to pick one.
    #[error("asset '{name}' is ambiguous: {candidates}; give the chain or a full id")]
    Ambiguous {
        /// The name given.
        name: String,
        /// The matching ids.
        candidates: String,
    },
    /// A bad entry in an assets file.
    #[error("assets file: {0}")]
    Definition(String),
}

/// The assets floodgate knows, by id, symbol and contract.
#[derive(Debug, Clone)]
pub struct AssetRegistry {
    by_id: BTreeMap<String, Asset>,
    by_contract: HashMap<Address, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssetsFile {
    #[serde(default)]
    asset: Vec<AssetDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssetDef {
    id: String,
    symbol: String,
    chain: Option<String>,
    contract: Option<String>,
    decimals: u8,
    #[serde(default)]
    fiat: bool,
}

impl Default for AssetRegistry {
    fn default() -> Self {
        Self::builtin()
    }
}

impl AssetRegistry {
    /// The built-in assets: BTC, ETH, TRX, USDT on Ethereum and Tron, USDC on Ethereum and
    /// Tron, and the fiat currencies VND (0 decimals: the đồng has no subunit in use) and USD
    /// (2 decimals: cents).
    pub fn builtin() -> Self {
        let mut r = AssetRegistry { by_id: BTreeMap::new(), by_contract: HashMap::new() };
        let builtin: [(&str, &str, Chain, Option<&str>, u8); 7] = [
            ("BTC", "BTC", Chain::Bitcoin, None, 8),
            ("ETH", "ETH", Chain::Ethereum, None, 18),
            ("TRX", "TRX", Chain::Tron, None, 6),
            (
                "USDT-ERC20",
                "USDT",
                Chain::Ethereum,
                Some("0xdAC17F958D2ee523a2206206994597C13D831ec7"),
                6,
            ),
            ("USDT-TRC20", "USDT", Chain::Tron, Some("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"), 6),
            (
                "USDC-ERC20",
                "USDC",
                Chain::Ethereum,
                Some("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"),
                6,
            ),
            ("USDC-TRC20", "USDC", Chain::Tron, Some("TEkxiTehnzSmSe2XqrBj4w32RUN966rdz8"), 6),
        ];
        for (id, symbol, chain, contract, decimals) in builtin {
            let contract = contract
                .map(|c| Address::parse(chain, c).expect("built-in contract addresses are valid"));
            r.insert(Asset {
                id: AssetId(id.to_owned()),
                symbol: symbol.to_owned(),
                chain: Some(chain),
                contract,
                decimals,
            });
        }
        for (id, decimals) in [("VND", 0), ("USD", 2)] {
            r.insert(Asset {
                id: AssetId(id.to_owned()),
                symbol: id.to_owned(),
                chain: None,
                contract: None,
                decimals,
            });
        }
        r
    }

    /// Adds or replaces an asset.
    pub fn insert(&mut self, asset: Asset) {
        if let Some(c) = &asset.contract {
            self.by_contract.insert(c.clone(), asset.id.0.clone());
        }
        self.by_id.insert(asset.id.0.clone(), asset);
    }

    /// Adds the `[[asset]]` entries of a TOML assets file; a fiat currency has `fiat = true`
    /// and no chain:
    ///
    /// ```toml
    /// [[asset]]
    /// id = "DAI-ERC20"
    /// symbol = "DAI"
    /// chain = "ethereum"
    /// contract = "0x6B175474E89094C44Da98b954EedeAC495271d0F"
    /// decimals = 18
    ///
    /// [[asset]]
    /// id = "EUR"
    /// symbol = "EUR"
    /// fiat = true
    /// decimals = 2
    /// ```
    ///
    /// # Errors
    /// [`AssetError::Definition`] naming the entry and field; nothing is added then.
    pub fn load_toml(&mut self, text: &str) -> Result<(), AssetError> {
        let file: AssetsFile =
            toml::from_str(text).map_err(|e| AssetError::Definition(e.to_string()))?;
        let mut parsed = Vec::with_capacity(file.asset.len());
        for (i, def) in file.asset.into_iter().enumerate() {
            let at = |msg: String| {
                AssetError::Definition(format!("asset #{} ('{}'): {msg}", i + 1, def.id))
            };
            let chain: Option<Chain> =
                match (&def.chain, def.fiat) {
                    (Some(c), false) => {
                        Some(c.parse().map_err(|e: crate::ChainError| at(e.to_string()))?)
                    }
                    (None, true) => None,
                    (Some(c), true) => {
                        return Err(at(format!(
                        "a fiat currency lives on no chain: remove chain = '{c}' or fiat = true"
                    )))
                    }
                    (None, false) => return Err(at(
                        "missing field 'chain' (bitcoin, ethereum or tron; or fiat = true for a \
                         fiat currency)"
                            .to_owned(),
                    )),
                };
            let contract = match (&def.contract, chain) {
                (Some(c), Some(chain)) => {
                    Some(Address::parse(chain, c).map_err(|e| at(e.to_string()))?)
                }
                (Some(_), None) => {
                    return Err(at("a fiat currency has no contract".to_owned()));
                }
                (None, _) => None,
            };
            if def.decimals > 77 {
                return Err(at(format!(
                    "decimals {} is more than a 256-bit amount can hold",
                    def.decimals
                )));
            }
            if def.id.trim().is_empty() || def.id.contains(char::is_whitespace) {
                return Err(at("id must be non-empty and without spaces".to_owned()));
            }
            parsed.push(Asset {
                id: AssetId(def.id.clone()),
                symbol: def.symbol,
                chain,
                contract,
                decimals: def.decimals,
            });
        }
        for a in parsed {
            self.insert(a);
        }
        Ok(())
    }

    /// Every registered asset, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Asset> {
        self.by_id.values()
    }

    /// The asset with this exact id.
    pub fn get(&self, id: &AssetId) -> Option<&Asset> {
        self.by_id.get(&id.0)
    }

    /// Finds an asset by id (case-insensitive) or by symbol, using `chain` to pick among
    /// symbols that several chains carry (`USDT` on Tron is `USDT-TRC20`).
    ///
    /// # Errors
    /// [`AssetError::Unknown`] or [`AssetError::Ambiguous`].
    pub fn resolve(&self, name: &str, chain: Option<Chain>) -> Result<&Asset, AssetError> {
        let n = name.trim();
        if let Some(a) = self.by_id.values().find(|a| a.id.0.eq_ignore_ascii_case(n)) {
            return Ok(a);
        }
        let matches: Vec<&Asset> = self
            .by_id
            .values()
            .filter(|a| a.symbol.eq_ignore_ascii_case(n))
            .filter(|a| chain.is_none_or(|c| a.chain == Some(c)))
            .collect();
        match matches.as_slice() {
            [one] => Ok(one),
            [] => Err(AssetError::Unknown {
                name: n.to_owned(),
                known: self.by_id.keys().cloned().collect::<Vec<_>>().join(", "),
            }),
            many => Err(AssetError::Ambiguous {
                name: n.to_owned(),
                candidates: many.iter().map(|a| a.id.0.as_str()).collect::<Vec<_>>().join(", "),
            }),
        }
    }

    /// The registered asset of a token contract.
    pub fn by_contract(&self, contract: &Address) -> Option<&Asset> {
        self.by_contract.get(contract).and_then(|id| self.by_id.get(id))
    }

    /// The id to record a token transfer under: the registered id, or `erc20:`/`trc20:` + the
    /// contract.
    pub fn token_id(&self, contract: &Address) -> AssetId {
        match self.by_contract(contract) {
            Some(a) => a.id.clone(),
            None => AssetId::for_token(contract),
        }
    }

    /// Decimals of an asset id, when known.
    pub fn decimals(&self, id: &AssetId) -> Option<u8> {
        self.get(id).map(|a| a.decimals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usdt_resolves_per_chain() {
        let r = AssetRegistry::builtin();
        assert_eq!(r.resolve("USDT", Some(Chain::Tron)).unwrap().id.0, "USDT-TRC20");
        assert_eq!(r.resolve("usdt-erc20", None).unwrap().decimals, 6);
        assert!(matches!(r.resolve("USDT", None), Err(AssetError::Ambiguous { .. })));
        assert!(matches!(r.resolve("DOGE", None), Err(AssetError::Unknown { .. })));
        let c =
            Address::parse(Chain::Ethereum, "0xdac17f958d2ee523a2206206994597c13d831ec7").unwrap();
        assert_eq!(r.token_id(&c).0, "USDT-ERC20");
    }

    #[test]
    fn toml_extends_and_rejects_bad_entries_whole() {
        let mut r = AssetRegistry::builtin();
        r.load_toml(
            "[[asset]]\nid='DAI-ERC20'\nsymbol='DAI'\nchain='ethereum'\ncontract='0x6B175474E89094C44Da98b954EedeAC495271d0F'\ndecimals=18\n",
        )
        .unwrap();
        assert_eq!(r.resolve("DAI", None).unwrap().decimals, 18);
        let before = r.iter().count();
        let err = r
            .load_toml("[[asset]]\nid='X'\nsymbol='X'\nchain='ethereum'\ndecimals=6\n[[asset]]\nid='Y'\nsymbol='Y'\nchain='ethereum'\ncontract='0x123'\ndecimals=6\n")
            .unwrap_err();
        assert!(err.to_string().contains("asset #2 ('Y')"), "{err}");
        assert_eq!(r.iter().count(), before, "a bad file adds nothing");
    }

    #[test]
    fn fiat_currencies_are_built_in_and_added_without_a_chain() {
        let mut r = AssetRegistry::builtin();
        let vnd = r.resolve("vnd", None).unwrap();
        assert_eq!((vnd.decimals, vnd.chain, vnd.is_fiat()), (0, None, true));
        assert_eq!(r.resolve("USD", None).unwrap().decimals, 2);
        assert!(!r.resolve("BTC", None).unwrap().is_fiat());
        r.load_toml("[[asset]]\nid='EUR'\nsymbol='EUR'\nfiat=true\ndecimals=2\n").unwrap();
        assert!(r.resolve("EUR", None).unwrap().is_fiat());
        for (bad, want) in [
            ("id='X'\nsymbol='X'\ndecimals=2\n", "missing field 'chain'"),
            ("id='X'\nsymbol='X'\nchain='tron'\nfiat=true\ndecimals=2\n", "lives on no chain"),
            ("id='X'\nsymbol='X'\nfiat=true\ncontract='0x12'\ndecimals=2\n", "no contract"),
        ] {
            let e = r.load_toml(&format!("[[asset]]\n{bad}")).unwrap_err().to_string();
            assert!(e.contains("asset #1 ('X')") && e.contains(want), "{e}");
        }
        assert_eq!(Rail::parse(" Bank "), Some(Rail::Bank));
        assert_eq!(Rail::parse("wire"), None);
    }
}
