//! Ethereum (EVM) addresses with EIP-55 checksums.

use std::fmt;

use sha3::{Digest, Keccak256};

use super::AddressError;
use crate::chain::Chain;

/// A 20-byte EVM account address. Displays in EIP-55 checksummed form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EthAddress(pub [u8; 20]);

impl EthAddress {
    /// Parses `0x` + 40 hex digits (the prefix may be omitted). All-lowercase and
    /// all-uppercase are accepted as unchecksummed; mixed case must carry a valid EIP-55
    /// checksum.
    ///
    /// # Errors
    /// [`AddressError::Checksum`] for mixed case with a wrong checksum (the message gives the
    /// correct form), [`AddressError::Invalid`] for wrong length or non-hex.
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        let body = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
        if body.len() != 40 {
            return Err(AddressError::invalid(
                Chain::Ethereum,
                s,
                format!("expected 0x and 40 hex digits, found {} digits", body.len()),
            ));
        }
        let mut bytes = [0u8; 20];
        hex::decode_to_slice(body, &mut bytes)
            .map_err(|_| AddressError::invalid(Chain::Ethereum, s, "not hexadecimal"))?;
        let addr = EthAddress(bytes);
        let has_lower = body.bytes().any(|b| b.is_ascii_lowercase());
        let has_upper = body.bytes().any(|b| b.is_ascii_uppercase());
        if has_lower && has_upper && !addr.checksum_matches(body.as_bytes()) {
            return Err(AddressError::Checksum {
                chain: Chain::Ethereum,
                input: s.to_owned(),
                hint: format!(" (EIP-55 form is {})", addr.to_checksummed()),
            });
        }
        Ok(addr)
    }

    /// Whether the letter case of `hex40` (40 hex digits, no prefix) is this address's EIP-55
    /// checksum. No allocation: this runs for every mixed-case address parsed.
    fn checksum_matches(&self, hex40: &[u8]) -> bool {
        let mut lower = [0u8; 40];
        for (o, c) in lower.iter_mut().zip(hex40) {
            *o = c.to_ascii_lowercase();
        }
        let hash = Keccak256::digest(lower);
        hex40.iter().enumerate().all(|(i, c)| {
            let nibble = (hash[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0x0f;
            !c.is_ascii_alphabetic() || c.is_ascii_uppercase() == (nibble >= 8)
        })
    }

    /// From the last 20 bytes of a 32-byte ABI word (an indexed `address` topic).
    pub fn from_word(word: &[u8; 32]) -> Self {
        let mut b = [0u8; 20];
        b.copy_from_slice(&word[12..]);
        EthAddress(b)
    }

    /// EIP-55 checksummed form: a hex letter is uppercase when the matching nibble of
    /// keccak256(lowercase hex) is 8 or more.
    pub fn to_checksummed(&self) -> String {
        let lower = hex::encode(self.0);
        let hash = Keccak256::digest(lower.as_bytes());
        let mut out = String::with_capacity(42);
        out.push_str("0x");
        for (i, c) in lower.chars().enumerate() {
            let nibble = (hash[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0x0f;
            out.push(if c.is_ascii_alphabetic() && nibble >= 8 {
                c.to_ascii_uppercase()
            } else {
                c
            });
        }
        out
    }

    /// Lowercase `0x` form, as ethereum-etl and most JSON-RPC responses print it.
    pub fn to_lowercase_hex(&self) -> String {
        format!("0x{}", hex::encode(self.0))
    }
}

impl fmt::Display for EthAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_checksummed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eip55_vectors() {
        // From EIP-55 itself.
        for s in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ] {
            let a = EthAddress::parse(s).unwrap();
            assert_eq!(a.to_string(), s);
            assert_eq!(EthAddress::parse(&s.to_lowercase()).unwrap(), a);
            assert_eq!(EthAddress::parse(&format!("0x{}", s[2..].to_uppercase())).unwrap(), a);
        }
    }

    #[test]
    fn wrong_checksum_is_rejected_with_the_right_form() {
        let e = EthAddress::parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD").unwrap_err();
        assert!(e.to_string().contains("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"), "{e}");
    }
}
