//! The binary address key of a chain segment: the address's payload in a few bytes, written
//! without rendering base58 or bech32, and equal for two addresses exactly when their canonical
//! texts are equal (so a lookup by the text a user gives finds the rows the SQLite store found).
//!
//! | tag | bytes | shown as |
//! |---:|---|---|
//! | 1 | `[1, version, hash160 (20)]`, version `00`/`05` (mainnet) or `6f`/`c4` (testnet, signet and regtest, which share them) | base58check P2PKH / P2SH |
//! | 2 | `[2, hrp (0 bc, 1 tb, 2 bcrt), witness version, len, program (len)]` | bech32 (v0) / bech32m (v1+) |
//! | 3 | `[3, sha256 of the script (32)]` | `nonstandard:<hex>` |

use std::hash::{Hash, Hasher};

use floodgate_types::address::BtcPayload;
use floodgate_types::{Address, BtcAddress, BtcNetwork};

/// Longest key: tag, hrp, version, length and a 40-byte witness program.
const MAX: usize = 44;

/// An address key (at most 44 bytes, kept inline so a group's dictionary allocates nothing
/// per address).
#[derive(Clone, Copy)]
pub(crate) struct AddrKey {
    len: u8,
    bytes: [u8; MAX],
}

impl PartialEq for AddrKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}
impl Eq for AddrKey {}
impl Hash for AddrKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}
impl PartialOrd for AddrKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for AddrKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl AsRef<[u8]> for AddrKey {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl std::fmt::Debug for AddrKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&render(self.as_bytes()).unwrap_or_else(|| "<bad key>".to_owned()))
    }
}

impl AddrKey {
    fn from_parts(parts: &[&[u8]]) -> AddrKey {
        let mut k = AddrKey { len: 0, bytes: [0; MAX] };
        for p in parts {
            let at = usize::from(k.len);
            k.bytes[at..at + p.len()].copy_from_slice(p);
            k.len += p.len() as u8;
        }
        k
    }

    /// The key of a Bitcoin address; `None` for another chain's address.
    pub(crate) fn of(address: &Address) -> Option<AddrKey> {
        match address {
            Address::Bitcoin(a) => Some(AddrKey::of_btc(a)),
            _ => None,
        }
    }

    /// The key of a Bitcoin address.
    pub(crate) fn of_btc(a: &BtcAddress) -> AddrKey {
        let main = a.network() == BtcNetwork::Mainnet;
        match a.payload() {
            BtcPayload::PubkeyHash(h) => {
                AddrKey::from_parts(&[&[1, if main { 0x00 } else { 0x6f }], &h])
            }
            BtcPayload::ScriptHash(h) => {
                AddrKey::from_parts(&[&[1, if main { 0x05 } else { 0xc4 }], &h])
            }
            BtcPayload::Witness { version, len, program } => {
                let hrp = match a.network() {
                    BtcNetwork::Mainnet => 0,
                    BtcNetwork::Testnet => 1,
                    BtcNetwork::Regtest => 2,
                };
                let n = usize::from(len).min(40);
                AddrKey::from_parts(&[&[2, hrp, version, n as u8], &program[..n]])
            }
            BtcPayload::NonStandard(h) => AddrKey::from_parts(&[&[3], &h]),
        }
    }

    /// The key's bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// The address a key was made from (one with the same canonical text); `None` for bytes that
/// are no key.
pub(crate) fn to_btc(b: &[u8]) -> Option<BtcAddress> {
    let script_address = |script: &[u8], network| {
        let a = BtcAddress::from_script(script, network).address;
        // A key decodes only to the address it was made from; anything else is corrupt.
        (AddrKey::of_btc(&a).as_bytes() == b).then_some(a)
    };
    match b {
        [1, version, hash @ ..] if hash.len() == 20 => {
            let network = if matches!(version, 0x00 | 0x05) {
                BtcNetwork::Mainnet
            } else {
                BtcNetwork::Testnet
            };
            let script: Vec<u8> = match version {
                0x00 | 0x6f => [&[0x76, 0xa9, 0x14][..], hash, &[0x88, 0xac]].concat(),
                0x05 | 0xc4 => [&[0xa9, 0x14][..], hash, &[0x87]].concat(),
                _ => return None,
            };
            script_address(&script, network)
        }
        [2, hrp, version, len, program @ ..] if usize::from(*len) == program.len() => {
            let network = match hrp {
                0 => BtcNetwork::Mainnet,
                1 => BtcNetwork::Testnet,
                2 => BtcNetwork::Regtest,
                _ => return None,
            };
            let op = if *version == 0 { 0 } else { 0x50u8.checked_add(*version)? };
            let script = [&[op, *len][..], program].concat();
            script_address(&script, network)
        }
        [3, hash @ ..] if hash.len() == 32 => {
            let hex: String = hash.iter().map(|x| format!("{x:02x}")).collect();
            BtcAddress::parse(&format!("nonstandard:{hex}")).ok()
        }
        _ => None,
    }
}

/// The canonical text of a key (what the SQLite store kept in its `address` column); `None`
/// for bytes that are no key.
pub(crate) fn render(b: &[u8]) -> Option<String> {
    to_btc(b).map(|a| a.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use floodgate_types::Chain;

    use super::*;

    #[test]
    fn every_kind_renders_back_to_its_canonical_text() {
        for text in [
            "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
            "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
            "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297",
            "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx",
            "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn",
            "2MzQwSSnBHWHqSAqtTVQ6v47XtaisrJa1Vc",
            "nonstandard:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        ] {
            let a = Address::parse(Chain::Bitcoin, text).unwrap();
            let k = AddrKey::of(&a).unwrap();
            assert_eq!(render(k.as_bytes()).as_deref(), Some(text), "{text}");
        }
    }

    #[test]
    fn regtest_base58_has_the_key_of_its_testnet_text() {
        let script = [&[0x76, 0xa9, 0x14][..], &[7u8; 20], &[0x88, 0xac]].concat();
        let reg = BtcAddress::from_script(&script, BtcNetwork::Regtest).address;
        let parsed = Address::parse(Chain::Bitcoin, &reg.to_string()).unwrap();
        assert_eq!(AddrKey::of_btc(&reg), AddrKey::of(&parsed).unwrap());
    }

    #[test]
    fn garbage_is_no_key() {
        assert_eq!(render(&[1, 0x42, 0, 0]), None);
        assert_eq!(render(&[9]), None);
        assert_eq!(render(&[]), None);
    }
}
