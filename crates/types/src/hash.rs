//! 32-byte hashes: transaction ids and block hashes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 32-byte hash kept in **display order**: the byte order in which block explorers, RPC
/// responses and this crate's `Display` print it. For Bitcoin this is the reverse of the
/// internal (wire) order; for Ethereum and Tron both orders agree.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash32(pub [u8; 32]);

/// Transaction id in display order.
pub type TxId = Hash32;
/// Block hash in display order.
pub type BlockHash = Hash32;

/// A string that is not a 32-byte hex hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{input}' is not a 32-byte hex hash: {reason}")]
pub struct HashError {
    /// The offending text (cut to 80 characters).
    pub input: String,
    /// Why it was rejected.
    pub reason: &'static str,
}

impl Hash32 {
    /// Builds a hash from bytes in Bitcoin's internal (wire) order, reversing them.
    pub fn from_wire_order(mut bytes: [u8; 32]) -> Self {
        bytes.reverse();
        Hash32(bytes)
    }

    /// Parses 64 hex digits with an optional `0x` prefix.
    ///
    /// # Errors
    /// [`HashError`] when the text is not exactly 32 bytes of hex.
    pub fn from_hex(s: &str) -> Result<Self, HashError> {
        let err = |reason| HashError { input: s.chars().take(80).collect(), reason };
        let body = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
        if body.len() != 64 {
            return Err(err("expected 64 hex digits"));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(body, &mut out).map_err(|_| err("not hexadecimal"))?;
        Ok(Hash32(out))
    }

    /// Lowercase hex without prefix.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Lowercase hex with a `0x` prefix, as Ethereum and Tron tools print it.
    pub fn to_hex_prefixed(&self) -> String {
        format!("0x{}", hex::encode(self.0))
    }
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash32({})", hex::encode(self.0))
    }
}

impl FromStr for Hash32 {
    type Err = HashError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Hash32::from_hex(s)
    }
}

impl Serialize for Hash32 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Hash32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Hash32::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_prefix() {
        let h =
            Hash32::from_hex("0x2b24564fa78ed4a6e555c9cd26f4d3e791b1efc9f2654c31d4feb97d8853e03f")
                .unwrap();
        assert_eq!(
            h.to_hex_prefixed(),
            "0x2b24564fa78ed4a6e555c9cd26f4d3e791b1efc9f2654c31d4feb97d8853e03f"
        );
        assert!(Hash32::from_hex("abc").is_err());
        assert!(Hash32::from_hex(&"zz".repeat(32)).is_err());
    }
}
