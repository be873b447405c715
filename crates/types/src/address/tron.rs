//! Tron addresses: base58check `T…` with version byte 0x41, and the `41…` hex form.

use std::fmt;

use super::AddressError;
use crate::chain::Chain;

/// A Tron account: the 20 bytes after the 0x41 version byte. Displays as base58check `T…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TronAddress(pub [u8; 20]);

impl TronAddress {
    /// Parses base58check `T…`, hex `41` + 40 digits (optionally `0x`-prefixed), or the
    /// EVM-style `0x` + 40 digits that Tron's logs and GraphSense exports use.
    ///
    /// # Errors
    /// [`AddressError`] for bad checksums, a version byte other than 0x41, or wrong length.
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        let is_hex = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_hexdigit());
        let body = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
        let mut out = [0u8; 20];
        if body.len() == 42 && is_hex(body) {
            if !body.starts_with("41") {
                return Err(AddressError::invalid(Chain::Tron, s, "hex form must start with 41"));
            }
            hex::decode_to_slice(&body[2..], &mut out)
                .map_err(|_| AddressError::invalid(Chain::Tron, s, "not hexadecimal"))?;
            return Ok(TronAddress(out));
        }
        if body.len() == 40 && is_hex(body) && body.len() != s.len() {
            hex::decode_to_slice(body, &mut out)
                .map_err(|_| AddressError::invalid(Chain::Tron, s, "not hexadecimal"))?;
            return Ok(TronAddress(out));
        }
        let bytes = bs58::decode(s).with_check(None).into_vec().map_err(|e| match e {
            bs58::decode::Error::InvalidChecksum { .. } => AddressError::Checksum {
                chain: Chain::Tron,
                input: s.to_owned(),
                hint: String::new(),
            },
            other => AddressError::invalid(Chain::Tron, s, format!("base58check: {other}")),
        })?;
        if bytes.len() != 21 || bytes[0] != 0x41 {
            return Err(AddressError::invalid(
                Chain::Tron,
                s,
                "expected 21 bytes starting with version byte 0x41 (an address starting with T)",
            ));
        }
        out.copy_from_slice(&bytes[1..]);
        Ok(TronAddress(out))
    }

    /// The `41…` hex form.
    pub fn to_hex41(&self) -> String {
        format!("41{}", hex::encode(self.0))
    }
}

impl fmt::Display for TronAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut v = Vec::with_capacity(21);
        v.push(0x41);
        v.extend_from_slice(&self.0);
        f.write_str(&bs58::encode(v).with_check().into_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usdt_contract_forms_agree() {
        let b58 = TronAddress::parse("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t").unwrap();
        assert_eq!(TronAddress::parse("41a614f803b6fd780986a42c78ec9c7f77e6ded13c").unwrap(), b58);
        assert_eq!(TronAddress::parse("0xa614f803b6fd780986a42c78ec9c7f77e6ded13c").unwrap(), b58);
        assert_eq!(b58.to_hex41(), "41a614f803b6fd780986a42c78ec9c7f77e6ded13c");
        assert!(TronAddress::parse("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u").is_err());
    }
}
