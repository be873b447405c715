//! Bitcoin addresses (base58check, BIP 173 bech32, BIP 350 bech32m) and script → address.

use std::fmt;

use bech32::{hrp, Fe32, Hrp};
use ripemd::Ripemd160;
use sha2::{Digest, Sha256};

use super::AddressError;
use crate::chain::Chain;

/// The network an address belongs to. Testnet, signet and regtest share base58 prefixes, so a
/// base58 address of either reads as [`BtcNetwork::Testnet`]; bech32 `bcrt1…` is regtest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BtcNetwork {
    /// Mainnet: base58 versions 0x00 / 0x05, HRP `bc`.
    Mainnet,
    /// Testnet and signet: base58 versions 0x6f / 0xc4, HRP `tb`.
    Testnet,
    /// Regtest: base58 as testnet, HRP `bcrt`.
    Regtest,
}

/// What an address commits to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BtcPayload {
    /// P2PKH: HASH160 of a public key.
    PubkeyHash([u8; 20]),
    /// P2SH: HASH160 of a redeem script.
    ScriptHash([u8; 20]),
    /// A segwit output: version 0–16 and a 2–40 byte program.
    Witness {
        /// Witness version (0 for P2WPKH/P2WSH, 1 for P2TR).
        version: u8,
        /// Program length in bytes.
        len: u8,
        /// Program bytes; only the first `len` are meaningful, the rest are zero.
        program: [u8; 40],
    },
    /// A script with no address form: a stable id, SHA-256 of the script.
    NonStandard([u8; 32]),
}

/// A Bitcoin address (or the stable id of a non-standard script).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BtcAddress {
    network: BtcNetwork,
    payload: BtcPayload,
}

/// The kind of an output script, kept as evidence beside the address it maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScriptKind {
    /// Pay to public key (early coinbases); the address is the key's P2PKH form.
    P2pk,
    /// Pay to public-key hash.
    P2pkh,
    /// Pay to script hash.
    P2sh,
    /// Witness v0 key hash.
    P2wpkh,
    /// Witness v0 script hash.
    P2wsh,
    /// Witness v1 taproot.
    P2tr,
    /// Other witness versions (future soft forks).
    WitnessUnknown,
    /// `OP_RETURN` data carrier (unspendable).
    NullData,
    /// Anything else, bare multisig included.
    NonStandard,
}

/// An output script mapped to an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptAddress {
    /// The script's kind.
    pub kind: ScriptKind,
    /// The address (a `nonstandard:` id for null-data and non-standard scripts).
    pub address: BtcAddress,
}

const NONSTANDARD_PREFIX: &str = "nonstandard:";

fn hash160(data: &[u8]) -> [u8; 20] {
    let sha = Sha256::digest(data);
    Ripemd160::digest(sha).into()
}

impl BtcAddress {
    /// The network.
    pub fn network(&self) -> BtcNetwork {
        self.network
    }

    /// The payload.
    pub fn payload(&self) -> BtcPayload {
        self.payload
    }

    /// Whether this is a real address (as opposed to a non-standard script id).
    pub fn is_standard(&self) -> bool {
        !matches!(self.payload, BtcPayload::NonStandard(_))
    }

    /// Parses base58check or bech32/bech32m, or a `nonstandard:<64 hex>` id.
    ///
    /// # Errors
    /// [`AddressError`] for bad checksums, unknown prefixes, wrong lengths, mixed case in
    /// bech32, and bech32/bech32m used for the wrong witness version.
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        if let Some(id) = s.strip_prefix(NONSTANDARD_PREFIX) {
            let mut h = [0u8; 32];
            hex::decode_to_slice(id, &mut h).map_err(|_| {
                AddressError::invalid(Chain::Bitcoin, s, "a nonstandard id is 64 hex digits")
            })?;
            return Ok(BtcAddress {
                network: BtcNetwork::Mainnet,
                payload: BtcPayload::NonStandard(h),
            });
        }
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("bc1") || lower.starts_with("tb1") || lower.starts_with("bcrt1") {
            return Self::parse_segwit(s);
        }
        Self::parse_base58(s)
    }

    fn parse_segwit(s: &str) -> Result<Self, AddressError> {
        let (hrp, version, program) = bech32::segwit::decode(s).map_err(|e| {
            let msg = e.to_string();
            if msg.contains("checksum") {
                AddressError::Checksum {
                    chain: Chain::Bitcoin,
                    input: s.to_owned(),
                    hint: String::new(),
                }
            } else {
                AddressError::invalid(Chain::Bitcoin, s, format!("bech32: {msg}"))
            }
        })?;
        let network = if hrp == hrp::BC {
            BtcNetwork::Mainnet
        } else if hrp == hrp::TB {
            BtcNetwork::Testnet
        } else if hrp == hrp::BCRT {
            BtcNetwork::Regtest
        } else {
            return Err(AddressError::invalid(Chain::Bitcoin, s, "unknown human-readable part"));
        };
        let mut buf = [0u8; 40];
        let len = program.len();
        if !(2..=40).contains(&len) {
            return Err(AddressError::invalid(Chain::Bitcoin, s, "witness program length"));
        }
        buf[..len].copy_from_slice(&program);
        Ok(BtcAddress {
            network,
            payload: BtcPayload::Witness { version: version.to_u8(), len: len as u8, program: buf },
        })
    }

    fn parse_base58(s: &str) -> Result<Self, AddressError> {
        let bytes = bs58::decode(s).with_check(None).into_vec().map_err(|e| match e {
            bs58::decode::Error::InvalidChecksum { .. } => AddressError::Checksum {
                chain: Chain::Bitcoin,
                input: s.to_owned(),
                hint: String::new(),
            },
            other => AddressError::invalid(Chain::Bitcoin, s, format!("base58check: {other}")),
        })?;
        if bytes.len() != 21 {
            return Err(AddressError::invalid(
                Chain::Bitcoin,
                s,
                format!("base58 payload is {} bytes, expected 21", bytes.len()),
            ));
        }
        let mut hash = [0u8; 20];
        hash.copy_from_slice(&bytes[1..]);
        let (network, payload) = match bytes[0] {
            0x00 => (BtcNetwork::Mainnet, BtcPayload::PubkeyHash(hash)),
            0x05 => (BtcNetwork::Mainnet, BtcPayload::ScriptHash(hash)),
            0x6f => (BtcNetwork::Testnet, BtcPayload::PubkeyHash(hash)),
            0xc4 => (BtcNetwork::Testnet, BtcPayload::ScriptHash(hash)),
            v => {
                return Err(AddressError::invalid(
                    Chain::Bitcoin,
                    s,
                    format!("unknown base58 version byte 0x{v:02x}"),
                ))
            }
        };
        Ok(BtcAddress { network, payload })
    }

    /// Maps an output script to its address. Never fails: scripts without an address form
    /// get a stable `nonstandard:` id.
    pub fn from_script(script: &[u8], network: BtcNetwork) -> ScriptAddress {
        let mk = |kind, payload| ScriptAddress { kind, address: BtcAddress { network, payload } };
        let h20 = |b: &[u8]| {
            let mut h = [0u8; 20];
            h.copy_from_slice(b);
            h
        };
        match script {
            [0x76, 0xa9, 0x14, hash @ .., 0x88, 0xac] if hash.len() == 20 => {
                mk(ScriptKind::P2pkh, BtcPayload::PubkeyHash(h20(hash)))
            }
            [0xa9, 0x14, hash @ .., 0x87] if hash.len() == 20 => {
                mk(ScriptKind::P2sh, BtcPayload::ScriptHash(h20(hash)))
            }
            [0x21, key @ .., 0xac] if key.len() == 33 => {
                mk(ScriptKind::P2pk, BtcPayload::PubkeyHash(hash160(key)))
            }
            [0x41, key @ .., 0xac] if key.len() == 65 => {
                mk(ScriptKind::P2pk, BtcPayload::PubkeyHash(hash160(key)))
            }
            [op, push, program @ ..]
                if (*op == 0x00 || (0x51..=0x60).contains(op))
                    && usize::from(*push) == program.len()
                    && (2..=40).contains(&program.len()) =>
            {
                let version = if *op == 0 { 0 } else { op - 0x50 };
                let kind = match (version, program.len()) {
                    (0, 20) => ScriptKind::P2wpkh,
                    (0, 32) => ScriptKind::P2wsh,
                    (0, _) => return Self::nonstandard(script, network, ScriptKind::NonStandard),
                    (1, 32) => ScriptKind::P2tr,
                    _ => ScriptKind::WitnessUnknown,
                };
                let mut buf = [0u8; 40];
                buf[..program.len()].copy_from_slice(program);
                mk(kind, BtcPayload::Witness { version, len: program.len() as u8, program: buf })
            }
            [0x6a, ..] => Self::nonstandard(script, network, ScriptKind::NullData),
            _ => Self::nonstandard(script, network, ScriptKind::NonStandard),
        }
    }

    fn nonstandard(script: &[u8], network: BtcNetwork, kind: ScriptKind) -> ScriptAddress {
        ScriptAddress {
            kind,
            address: BtcAddress {
                network,
                payload: BtcPayload::NonStandard(Sha256::digest(script).into()),
            },
        }
    }

    /// The output script this address pays to; `None` for non-standard ids.
    pub fn script_pubkey(&self) -> Option<Vec<u8>> {
        match self.payload {
            BtcPayload::PubkeyHash(h) => {
                let mut s = vec![0x76, 0xa9, 0x14];
                s.extend_from_slice(&h);
                s.extend_from_slice(&[0x88, 0xac]);
                Some(s)
            }
            BtcPayload::ScriptHash(h) => {
                let mut s = vec![0xa9, 0x14];
                s.extend_from_slice(&h);
                s.push(0x87);
                Some(s)
            }
            BtcPayload::Witness { version, len, program } => {
                let op = if version == 0 { 0 } else { 0x50 + version };
                let mut s = vec![op, len];
                s.extend_from_slice(&program[..usize::from(len)]);
                Some(s)
            }
            BtcPayload::NonStandard(_) => None,
        }
    }
}

impl fmt::Display for BtcAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let main = self.network == BtcNetwork::Mainnet;
        let base58 = |version: u8, h: &[u8; 20]| {
            let mut v = Vec::with_capacity(21);
            v.push(version);
            v.extend_from_slice(h);
            bs58::encode(v).with_check().into_string()
        };
        match &self.payload {
            BtcPayload::PubkeyHash(h) => f.write_str(&base58(if main { 0x00 } else { 0x6f }, h)),
            BtcPayload::ScriptHash(h) => f.write_str(&base58(if main { 0x05 } else { 0xc4 }, h)),
            BtcPayload::Witness { version, len, program } => {
                let hrp: Hrp = match self.network {
                    BtcNetwork::Mainnet => hrp::BC,
                    BtcNetwork::Testnet => hrp::TB,
                    BtcNetwork::Regtest => hrp::BCRT,
                };
                let v = Fe32::try_from(*version).map_err(|_| fmt::Error)?;
                let s = bech32::segwit::encode(hrp, v, &program[..usize::from(*len)])
                    .map_err(|_| fmt::Error)?;
                f.write_str(&s)
            }
            BtcPayload::NonStandard(h) => write!(f, "{NONSTANDARD_PREFIX}{}", hex::encode(h)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn script_addr(hex_script: &str) -> (ScriptKind, String) {
        let s = hex::decode(hex_script).unwrap();
        let a = BtcAddress::from_script(&s, BtcNetwork::Mainnet);
        (a.kind, a.address.to_string())
    }

    #[test]
    fn genesis_p2pk_maps_to_its_p2pkh_address() {
        let (kind, addr) = script_addr("4104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac");
        assert_eq!(kind, ScriptKind::P2pk);
        assert_eq!(addr, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa");
    }

    #[test]
    fn bech32_is_lowercased_and_round_trips() {
        let a = BtcAddress::parse("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4").unwrap();
        assert_eq!(a.to_string(), "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4");
        let s = a.script_pubkey().unwrap();
        assert_eq!(BtcAddress::from_script(&s, BtcNetwork::Mainnet).address, a);
    }

    #[test]
    fn rejects_bad_checksum_and_mixed_case() {
        assert!(matches!(
            BtcAddress::parse("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"),
            Err(AddressError::Checksum { .. })
        ));
        assert!(BtcAddress::parse("bc1qW508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4").is_err());
    }

    #[test]
    fn nonstandard_ids_parse_back() {
        let (kind, id) = script_addr("6a0b68656c6c6f20776f726c64");
        assert_eq!(kind, ScriptKind::NullData);
        assert_eq!(BtcAddress::parse(&id).unwrap().to_string(), id);
    }
}
