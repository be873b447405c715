//! Node keys in binary form: an address or a transaction id as its bytes, not its text.
//!
//! A Bitcoin P2PKH address is 34 characters of base58 but 21 bytes of version and hash; a
//! transaction node `tx:bitcoin:<64 hex>` is 75 characters but 33 bytes. Keys are stored
//! encoded (layout in `docs/formats/graph.md#node-keys`) and turned back into their exact
//! canonical text when shown. Encoding is a function of the text alone and is used only when
//! decoding gives back the same text, so lookups by text and listing by id agree; anything
//! else is kept as raw UTF-8.

use std::borrow::Cow;

use floodgate_types::address::{BtcAddress, BtcNetwork, BtcPayload, EthAddress, TronAddress};
use floodgate_types::Chain;
use sha2::{Digest, Sha256};

/// Raw UTF-8 text: `[0, length (LEB128), bytes…]`.
pub(crate) const RAW: u8 = 0;
/// Base58check Bitcoin address: `[1, version, hash160]`.
const BASE58: u8 = 1;
/// Segwit address: `[2, hrp, witness version, program length, program…]`.
const SEGWIT: u8 = 2;
/// Ethereum address: `[3, 20 bytes]` (shown EIP-55 checksummed).
const ETH: u8 = 3;
/// Tron address: `[4, 20 bytes]` (shown as base58check with version 0x41).
const TRON: u8 = 4;
/// UTXO transaction node: `[5, chain, txid (32, display order), time (u32 LE, 0 unknown)]`.
pub(crate) const TX: u8 = 5;
/// Non-standard script id: `[6, sha256 (32)]`, shown `nonstandard:<hex>`.
const NONSTANDARD: u8 = 6;
/// Mainnet P2WPKH (`bc1q…`, witness v0, 20-byte program): `[7, program (20)]` (format 4;
/// before, `[2, 0, 0, 20, program]`).
const P2WPKH: u8 = 7;
/// Mainnet P2PKH (`1…`): `[8, hash160 (20)]` (format 4; before, `[1, 0x00, hash160]`).
const P2PKH: u8 = 8;
/// Bitcoin transaction node: `[9, txid (32, display order), time (u32 LE, 0 unknown)]`
/// (format 4; before, `[5, 0, txid, time]`).
const BTC_TX: u8 = 9;
/// Length of a [`BTC_TX`] key; its identity is the first 33 bytes.
const BTC_TX_KEY_LEN: usize = 37;

/// Length of a transaction key; the time is not part of its identity.
pub(crate) const TX_KEY_LEN: usize = 38;

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Appends the encoded form of `key` to `out`.
pub(crate) fn encode(key: &str, out: &mut Vec<u8>) {
    if !encode_binary(key, out) {
        out.push(RAW);
        crate::segment::put_varint(out, key.len() as u64);
        out.extend_from_slice(key.as_bytes());
    }
}

/// As [`encode`], for text the transfer store holds: ingest parsed every address it stored
/// and wrote its canonical text (`floodgate_types::Address`), so the checksums were verified
/// then and are not computed again here (base58check's double SHA-256, EIP-55's Keccak,
/// bech32's polymod). For such text the bytes are exactly those of [`encode`] (the tests
/// compare both on every generated form); text of any other shape goes through [`encode`].
/// Text from a user must go through [`encode`]: a wrong checksum is not noticed here.
pub(crate) fn encode_stored(key: &str, out: &mut Vec<u8>) {
    let b = key.as_bytes();
    match b.len() {
        // EIP-55 mixed case (an all-lowercase or all-uppercase address needs its checksum
        // computed to know whether it is canonical: left to `encode`).
        42 if key.starts_with("0x") => {
            let hex = &b[2..];
            let mixed =
                hex.iter().any(u8::is_ascii_lowercase) && hex.iter().any(u8::is_ascii_uppercase);
            let mut a = [0u8; 20];
            if mixed && hex::decode_to_slice(hex, &mut a).is_ok() {
                out.push(ETH);
                out.extend_from_slice(&a);
                return;
            }
        }
        42 if key.starts_with("bc1q") => {
            if let Some(program) = p2wpkh_unchecked(b) {
                out.push(P2WPKH);
                out.extend_from_slice(&program);
                return;
            }
        }
        26..=35 => {
            if let Some(payload) = base58_25(key, false) {
                let tag = match payload[0] {
                    0x00 => Some((P2PKH, 1)),
                    0x05 | 0x6f | 0xc4 => Some((BASE58, 0)),
                    0x41 => Some((TRON, 1)),
                    _ => None,
                };
                if let Some((tag, from)) = tag {
                    out.push(tag);
                    out.extend_from_slice(&payload[from..21]);
                    return;
                }
            }
        }
        _ => {}
    }
    encode(key, out);
}

/// Each ASCII character's digit value in `alphabet` (bech32's 32 or base58's 58 characters),
/// 255 for a character not in it.
const fn digit_values<const N: usize>(alphabet: &[u8; N]) -> [u8; 128] {
    let mut t = [255u8; 128];
    let mut i = 0;
    while i < N {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
}

/// The 20-byte program of a lowercase mainnet P2WPKH address (`bc1q`, 32 data characters,
/// 6 of checksum), its checksum not verified.
fn p2wpkh_unchecked(b: &[u8]) -> Option<[u8; 20]> {
    const VALUE: [u8; 128] = digit_values(b"qpzry9x8gf2tvdw0s3jn54khce6mua7l");
    let digit = |c: u8| VALUE.get(usize::from(c)).copied().filter(|&d| d != 255);
    if b.len() != 42 || !b.starts_with(b"bc1q") || !b[36..].iter().all(|&c| digit(c).is_some()) {
        return None;
    }
    let mut program = [0u8; 20];
    // 32 groups of 5 bits are 160 bits: 8 characters give 5 bytes.
    for (chunk, bytes) in b[4..36].chunks_exact(8).zip(program.chunks_exact_mut(5)) {
        let mut acc = 0u64;
        for &c in chunk {
            acc = acc << 5 | u64::from(digit(c)?);
        }
        bytes.copy_from_slice(&acc.to_be_bytes()[3..]);
    }
    Some(program)
}

/// The encoded form of a transaction node with its time.
pub(crate) fn encode_tx(chain: Chain, txid: &[u8; 32], time: u32, out: &mut Vec<u8>) {
    if chain == Chain::Bitcoin {
        out.push(BTC_TX);
    } else {
        out.push(TX);
        out.push(chain_byte(chain));
    }
    out.extend_from_slice(txid);
    out.extend_from_slice(&time.to_le_bytes());
}

pub(crate) fn chain_byte(chain: Chain) -> u8 {
    chain.code()
}

/// The chain a stored chain byte names (validated files hold only known bytes).
pub(crate) fn chain_of(byte: u8) -> Chain {
    Chain::from_code(byte).unwrap_or(Chain::Bitcoin)
}

fn encode_binary(key: &str, out: &mut Vec<u8>) -> bool {
    if let Some(rest) = key.strip_prefix("tx:") {
        let Some((chain, hex)) = rest.split_once(':') else { return false };
        let Ok(chain) = chain.parse::<Chain>() else { return false };
        if chain.as_str() != rest.split_once(':').map_or("", |p| p.0) || !is_lower_hex(hex) {
            return false;
        }
        let mut txid = [0u8; 32];
        if hex::decode_to_slice(hex, &mut txid).is_err() {
            return false;
        }
        encode_tx(chain, &txid, 0, out);
        return true;
    }
    if let Some(hex) = key.strip_prefix("nonstandard:") {
        let mut h = [0u8; 32];
        if !is_lower_hex(hex) || hex::decode_to_slice(hex, &mut h).is_err() {
            return false;
        }
        out.push(NONSTANDARD);
        out.extend_from_slice(&h);
        return true;
    }
    if key.len() == 42 && key.starts_with("0x") {
        let Ok(a) = EthAddress::parse(key) else { return false };
        // Mixed case was checked against EIP-55 by `parse`, so it is the canonical text;
        // otherwise compare (an all-lowercase address is canonical only if no letter is
        // upper in its checksum).
        let hex = &key.as_bytes()[2..];
        let mixed =
            hex.iter().any(u8::is_ascii_lowercase) && hex.iter().any(u8::is_ascii_uppercase);
        if !mixed && a.to_checksummed() != key {
            return false;
        }
        out.push(ETH);
        out.extend_from_slice(&a.0);
        return true;
    }
    if let Some(payload) = base58_25(key, true) {
        if payload[0] == 0x00 {
            out.push(P2PKH);
            out.extend_from_slice(&payload[1..21]);
            return true;
        }
        if matches!(payload[0], 0x05 | 0x6f | 0xc4) {
            out.push(BASE58);
            out.extend_from_slice(&payload[..21]);
            return true;
        }
        if payload[0] == 0x41 {
            out.push(TRON);
            out.extend_from_slice(&payload[1..21]);
            return true;
        }
    }
    let Ok(a) = BtcAddress::parse(key) else { return false };
    let testnet = a.network() != BtcNetwork::Mainnet;
    match a.payload() {
        BtcPayload::PubkeyHash(h) | BtcPayload::ScriptHash(h) => {
            let p2sh = matches!(a.payload(), BtcPayload::ScriptHash(_));
            let version = match (p2sh, testnet) {
                (false, false) => 0x00,
                (true, false) => 0x05,
                (false, true) => 0x6f,
                (true, true) => 0xc4,
            };
            if version == 0x00 {
                out.push(P2PKH);
            } else {
                out.push(BASE58);
                out.push(version);
            }
            out.extend_from_slice(&h);
        }
        BtcPayload::Witness { version, len, program } => {
            let hrp = match a.network() {
                BtcNetwork::Mainnet => 0,
                BtcNetwork::Testnet => 1,
                BtcNetwork::Regtest => 2,
            };
            // Lowercase bech32 with a valid checksum (checked by `parse`, with the right
            // variant for the version) is the one text of its hrp and program.
            if key.bytes().any(|b| b.is_ascii_uppercase()) {
                return false;
            }
            if (hrp, version, len) == (0, 0, 20) {
                out.push(P2WPKH);
            } else {
                out.extend_from_slice(&[SEGWIT, hrp, version, len]);
            }
            out.extend_from_slice(&program[..len as usize]);
        }
        BtcPayload::NonStandard(_) => return false,
    }
    // Base58 is one-to-one, and so is lowercase bech32 of one variant: what `parse`
    // accepted decodes back to `key` (the round-trip tests check every form).
    true
}

/// A base58check string of 25 bytes (version, 20-byte hash, valid checksum): the P2PKH,
/// P2SH and Tron forms. Base58 is one-to-one, so such a string is exactly the text its
/// bytes show as. Decoding onto a fixed buffer keeps this off the allocator: it is the hot
/// path of building a graph. With `verify` false the checksum is not computed (text the
/// store holds: [`encode_stored`]).
fn base58_25(key: &str, verify: bool) -> Option<[u8; 25]> {
    const VALUE: [u8; 128] =
        digit_values(b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz");
    if !(26..=35).contains(&key.len()) {
        return None;
    }
    // 25 bytes = 200 bits: four 64-bit limbs, least significant first; x = x * 58 + digit.
    let mut limbs = [0u64; 4];
    let mut zeros = 0usize;
    let mut leading = true;
    for &c in key.as_bytes() {
        let d = *VALUE.get(usize::from(c))?;
        if d == 255 {
            return None;
        }
        if leading && d == 0 {
            zeros += 1;
            continue;
        }
        leading = false;
        let mut carry = u128::from(d);
        for l in &mut limbs {
            let v = u128::from(*l) * 58 + carry;
            *l = v as u64;
            carry = v >> 64;
        }
        if carry != 0 || limbs[3] >> 8 != 0 {
            return None; // more than 25 bytes
        }
    }
    let mut full = [0u8; 32];
    for (i, l) in limbs.iter().enumerate() {
        full[24 - 8 * i..32 - 8 * i].copy_from_slice(&l.to_be_bytes());
    }
    let mut buf = [0u8; 25];
    buf.copy_from_slice(&full[7..]);
    // Leading '1's are leading zero bytes, and nothing else may be zero in front.
    let significant = buf.iter().position(|&b| b != 0).unwrap_or(25);
    if significant != zeros {
        return None;
    }
    if !verify {
        return Some(buf);
    }
    let sum = Sha256::digest(Sha256::digest(&buf[..21]));
    (sum[..4] == buf[21..]).then_some(buf)
}

/// The canonical text of an encoded key.
pub(crate) fn decode(bytes: &[u8]) -> Cow<'_, str> {
    if matches!(bytes.first(), Some(&(P2WPKH | P2PKH | BTC_TX))) {
        return Cow::Owned(decode(&legacy(bytes)).into_owned());
    }
    let Some((&tag, body)) = bytes.split_first() else { return Cow::Borrowed("") };
    let shown = match tag {
        BASE58 if body.len() == 21 => {
            let mut script = Vec::with_capacity(25);
            let (network, p2sh) = match body[0] {
                0x00 => (BtcNetwork::Mainnet, false),
                0x05 => (BtcNetwork::Mainnet, true),
                0x6f => (BtcNetwork::Testnet, false),
                _ => (BtcNetwork::Testnet, true),
            };
            if p2sh {
                script.extend_from_slice(&[0xa9, 0x14]);
                script.extend_from_slice(&body[1..]);
                script.push(0x87);
            } else {
                script.extend_from_slice(&[0x76, 0xa9, 0x14]);
                script.extend_from_slice(&body[1..]);
                script.extend_from_slice(&[0x88, 0xac]);
            }
            BtcAddress::from_script(&script, network).address.to_string()
        }
        SEGWIT if body.len() >= 5 => {
            let network = match body[0] {
                0 => BtcNetwork::Mainnet,
                1 => BtcNetwork::Testnet,
                _ => BtcNetwork::Regtest,
            };
            let (version, program) = (body[1], &body[3..]);
            let mut script = Vec::with_capacity(program.len() + 2);
            script.push(if version == 0 { 0 } else { 0x50 + version });
            script.push(program.len() as u8);
            script.extend_from_slice(program);
            BtcAddress::from_script(&script, network).address.to_string()
        }
        ETH if body.len() == 20 => {
            let mut a = [0u8; 20];
            a.copy_from_slice(body);
            EthAddress(a).to_checksummed()
        }
        TRON if body.len() == 20 => {
            let mut a = [0u8; 20];
            a.copy_from_slice(body);
            TronAddress(a).to_string()
        }
        TX if body.len() == TX_KEY_LEN - 1 => {
            let chain = chain_of(body[0]);
            format!("tx:{}:{}", chain.as_str(), hex::encode(&body[1..33]))
        }
        NONSTANDARD if body.len() == 32 => format!("nonstandard:{}", hex::encode(body)),
        RAW => {
            let mut p = 0;
            let text = crate::segment::get_varint(body, &mut p).and_then(|_| body.get(p..));
            return String::from_utf8_lossy(text.unwrap_or_default());
        }
        _ => return String::from_utf8_lossy(body),
    };
    Cow::Owned(shown)
}

/// The form a segment before format 4 holds `key` in: the mainnet P2WPKH and P2PKH forms
/// spelled out (`[2, 0, 0, 20, program]`, `[1, 0x00, hash]`); every other key as it is.
pub(crate) fn legacy(key: &[u8]) -> Cow<'_, [u8]> {
    match key.split_first() {
        Some((&P2WPKH, body)) if body.len() == 20 => {
            Cow::Owned([&[SEGWIT, 0, 0, 20][..], body].concat())
        }
        Some((&P2PKH, body)) if body.len() == 20 => {
            Cow::Owned([&[BASE58, 0x00][..], body].concat())
        }
        Some((&BTC_TX, body)) if body.len() == BTC_TX_KEY_LEN - 1 => {
            Cow::Owned([&[TX, chain_byte(Chain::Bitcoin)][..], body].concat())
        }
        _ => Cow::Borrowed(key),
    }
}

/// Whether two encoded keys name the same node, each in the form of this build or of a
/// segment before format 4.
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    identity(a) == identity(b) || identity(&legacy(a)) == identity(&legacy(b))
}

/// Whether an encoded key is a transaction node.
pub(crate) fn is_tx(bytes: &[u8]) -> bool {
    match bytes.first() {
        Some(&TX) => bytes.len() == TX_KEY_LEN,
        Some(&BTC_TX) => bytes.len() == BTC_TX_KEY_LEN,
        _ => false,
    }
}

/// A transaction key's chain byte, txid and time.
pub(crate) fn tx_parts(bytes: &[u8]) -> Option<(u8, &[u8], u32)> {
    let at = tx_time_at(bytes)?;
    let t = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let chain = if bytes[0] == BTC_TX { chain_byte(Chain::Bitcoin) } else { bytes[1] };
    Some((chain, &bytes[at - 32..at], t))
}

/// Length of a transaction key's identity, by tag (`None`: not a transaction tag).
fn tx_identity_len(tag: u8) -> Option<usize> {
    match tag {
        TX => Some(TX_KEY_LEN - 4),
        BTC_TX => Some(BTC_TX_KEY_LEN - 4),
        _ => None,
    }
}

/// Appends `key` (an encoded key, as [`encode`] makes it) in the form a segment of format 5
/// stores it: a transaction key's time becomes a varint *time code* — `0` unknown, else
/// `zigzag(time − prev) + 1`, where `prev` is the previous known time among the keys before
/// it in its run of [`crate::segment::KEY_STRIDE`] keys (the header's `key_time_base` for
/// the first), updated here; any other key as it is.
pub(crate) fn put_stored(key: &[u8], prev: &mut u32, out: &mut Vec<u8>) {
    match tx_time_at(key) {
        Some(at) => {
            out.extend_from_slice(&key[..at]);
            let t = u32::from_le_bytes([key[at], key[at + 1], key[at + 2], key[at + 3]]);
            let code = if t == 0 {
                0
            } else {
                let c = crate::segment::zigzag(i64::from(t) - i64::from(*prev)) + 1;
                *prev = t;
                c
            };
            crate::segment::put_varint(out, code);
        }
        None => out.extend_from_slice(key),
    }
}

/// The stored key at the start of `buf` in a segment of `version`: its length and, for a
/// transaction key, its time (`0` for any other key). From version 5 a transaction key ends
/// in a time code ([`put_stored`]; `prev` as there, updated); before, in 4 bytes. `None`
/// when the key is damaged or cut short.
pub(crate) fn read_stored(buf: &[u8], version: u32, prev: &mut u32) -> Option<(usize, u32)> {
    if version >= 5 {
        if let Some(id) = tx_identity_len(*buf.first()?) {
            let mut p = id;
            let code = crate::segment::get_varint(buf, &mut p)?;
            if code == 0 {
                return Some((p, 0));
            }
            let t = i64::from(*prev).checked_add(crate::segment::unzigzag(code - 1))?;
            let t = u32::try_from(t).ok().filter(|&t| t != 0)?;
            *prev = t;
            return Some((p, t));
        }
    }
    let len = key_len(buf)?;
    let time = tx_parts(&buf[..len]).map_or(0, |(_, _, t)| t);
    Some((len, time))
}

/// The identity of a stored key (as [`identity`]; from format 5 a transaction key's stored
/// form ends in its time code, which is left out), for a key [`read_stored`] read.
pub(crate) fn stored_identity(stored: &[u8], version: u32) -> &[u8] {
    match stored.first().and_then(|&t| tx_identity_len(t)) {
        Some(id) if version >= 5 => &stored[..id],
        _ => identity(stored),
    }
}

/// A stored key in the form [`encode`] makes (a format-5 transaction key with its time
/// as 4 bytes again).
pub(crate) fn unstored(stored: &[u8], time: u32, version: u32) -> Cow<'_, [u8]> {
    match stored.first().and_then(|&t| tx_identity_len(t)) {
        Some(id) if version >= 5 => Cow::Owned([&stored[..id], &time.to_le_bytes()[..]].concat()),
        _ => Cow::Borrowed(stored),
    }
}

/// A stored transaction key's chain byte, txid and time (`time` as [`read_stored`] gave it;
/// `None`: not a transaction key).
pub(crate) fn stored_tx_parts(stored: &[u8], time: u32, version: u32) -> Option<(u8, &[u8], u32)> {
    match stored.first().and_then(|&t| tx_identity_len(t)) {
        Some(id) if version >= 5 && stored.len() > id => {
            let chain = if stored[0] == BTC_TX { chain_byte(Chain::Bitcoin) } else { stored[1] };
            Some((chain, &stored[id - 32..id], time))
        }
        _ => tx_parts(stored),
    }
}

/// Where a transaction key's time starts (`None`: not a transaction key).
pub(crate) fn tx_time_at(bytes: &[u8]) -> Option<usize> {
    is_tx(bytes).then(|| bytes.len() - 4)
}

/// The part of an encoded key that identifies it (a transaction's time is left out).
pub(crate) fn identity(bytes: &[u8]) -> &[u8] {
    if is_tx(bytes) {
        &bytes[..bytes.len() - 4]
    } else {
        bytes
    }
}

/// Orders encoded keys by identity (the order of the sorted-key section).
#[cfg(test)]
pub(crate) fn cmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    identity(a).cmp(identity(b))
}

/// The length of the encoded key at the start of `buf` (keys are self-delimiting), or
/// `None` when it is damaged or cut short.
pub(crate) fn key_len(buf: &[u8]) -> Option<usize> {
    let len = match *buf.first()? {
        RAW => {
            let mut p = 1;
            let n = usize::try_from(crate::segment::get_varint(buf, &mut p)?).ok()?;
            p.checked_add(n)?
        }
        BASE58 => 22,
        P2WPKH | P2PKH => 21,
        SEGWIT => 4 + usize::from(*buf.get(3)?),
        ETH | TRON => 21,
        TX => TX_KEY_LEN,
        BTC_TX => BTC_TX_KEY_LEN,
        NONSTANDARD => 33,
        _ => return None,
    };
    (len <= buf.len()).then_some(len)
}

/// Whether the encoded key is well formed (for `verify`).
pub(crate) fn check(bytes: &[u8]) -> Result<(), String> {
    let Some((&tag, body)) = bytes.split_first() else { return Err("empty key".into()) };
    let ok = key_len(bytes) == Some(bytes.len())
        && match tag {
            RAW => {
                let mut p = 0;
                crate::segment::get_varint(body, &mut p).is_some()
                    && body.get(p..).is_some_and(|t| std::str::from_utf8(t).is_ok())
            }
            BASE58 => body.len() == 21 && matches!(body[0], 0x00 | 0x05 | 0x6f | 0xc4),
            SEGWIT => body.len() >= 5 && body.len() <= 43 && body[0] <= 2 && body[1] <= 16,
            ETH | TRON | P2WPKH | P2PKH => body.len() == 20,
            TX => bytes.len() == TX_KEY_LEN && (body[0] as usize) < Chain::ALL.len(),
            BTC_TX => bytes.len() == BTC_TX_KEY_LEN,
            NONSTANDARD => body.len() == 32,
            _ => false,
        };
    if ok {
        Ok(())
    } else {
        Err(format!("malformed key (tag {tag}, {} bytes)", bytes.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    fn round(k: &str) -> Vec<u8> {
        let mut v = Vec::new();
        encode(k, &mut v);
        assert_eq!(decode(&v), k, "{k}");
        assert_eq!(key_len(&v), Some(v.len()), "{k}");
        assert_eq!(check(&v), Ok(()), "{k}");
        v
    }

    #[test]
    fn binary_forms_round_trip_and_are_short() {
        assert_eq!(round("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa").len(), 21);
        assert_eq!(round("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy").len(), 22);
        assert_eq!(round("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq").len(), 21);
        assert_eq!(
            round("bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3")[0],
            SEGWIT
        );
        assert_eq!(
            round("bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297")[0],
            SEGWIT
        );
        assert_eq!(round("0x52908400098527886E0F7030069857D2E4169EE7").len(), 21);
        assert_eq!(round("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t").len(), 21);
        let tx = "tx:bitcoin:f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16";
        assert_eq!(round(tx).len(), BTC_TX_KEY_LEN);
        assert_eq!(round(&format!("nonstandard:{}", "ab".repeat(32))).len(), 33);
    }

    #[test]
    fn format_4_short_forms_match_their_older_long_forms() {
        // A segment before format 4 holds these two forms spelled out; lookups there ask
        // for `legacy`, and the builder takes either form for the same node.
        for (k, tag, old) in [
            ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", P2PKH, 22),
            ("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", P2WPKH, 24),
        ] {
            let v = round(k);
            assert_eq!(v[0], tag, "{k}");
            let long = legacy(&v).into_owned();
            assert_eq!(long.len(), old, "{k}");
            assert_eq!(decode(&long), k);
            assert_eq!(check(&long), Ok(()), "{k}");
            assert!(same(&v, &long) && same(&long, &v), "{k}");
        }
        let eth = round("0x52908400098527886E0F7030069857D2E4169EE7");
        assert_eq!(legacy(&eth), &eth[..]);
        assert!(!same(&eth, &round("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")));
    }

    #[test]
    fn non_canonical_text_stays_raw() {
        for k in [
            "0x52908400098527886e0f7030069857d2e4169ee7", // lowercase, not EIP-55
            "BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ",
            "tx:bitcoin:F4184FC596403B9D638783CF57ADFE4C75C605F6356FBC91338530E9831E9E16",
            "ledger:exchange:customer-1",
            "",
        ] {
            let v = round(k);
            assert_eq!(v[0], RAW, "{k}");
        }
    }

    #[test]
    fn base58_decoding_agrees_with_the_reference() {
        for k in [
            "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
            "1111111111111111111114oLvT2",
            "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
            "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn",
            "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
            "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb",
            "11A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
            "1A1zP1eP5QGefi2DMPTfTL5SLmv7Divf0a",
        ] {
            let mut want = [0u8; 25];
            let reference =
                bs58::decode(k).with_check(None).into_vec().ok().filter(|v| v.len() == 21).map(
                    |v| {
                        want[..21].copy_from_slice(&v);
                        let sum = Sha256::digest(Sha256::digest(&v));
                        want[21..].copy_from_slice(&sum[..4]);
                        want
                    },
                );
            assert_eq!(base58_25(k, true), reference, "{k}");
        }
    }

    #[test]
    fn base58_decoding_round_trips_random_payloads() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for i in 0..2000 {
            let mut v = [0u8; 21];
            for b in &mut v {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            // Leading zero bytes (the '1' prefix) in a share of the cases.
            for b in v.iter_mut().take(i % 4) {
                *b = 0;
            }
            let text = bs58::encode(v).with_check().into_string();
            let got = base58_25(&text, true).map(|b| b[..21].to_vec());
            assert_eq!(got.as_deref(), Some(&v[..]), "{text}");
        }
    }

    /// Text the store holds (canonical, checksums verified at ingest) encodes to the same
    /// bytes without its checksums computed again, for every binary form and random
    /// payloads; text in no binary form or not canonical still goes the verifying way.
    #[test]
    fn stored_text_encodes_to_the_bytes_of_the_verifying_path() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        };
        let forms: [&[u8]; 8] = [
            &[P2PKH],
            &[P2WPKH],
            &[ETH],
            &[TRON],
            &[BASE58, 0x05],
            &[BASE58, 0x6f],
            &[BASE58, 0xc4],
            &[SEGWIT, 0, 1, 32],
        ];
        let mut seen = 0;
        for i in 0..4000 {
            let form = forms[i % forms.len()];
            let len = if form[0] == SEGWIT { 32 } else { 20 };
            let mut key = form.to_vec();
            key.extend((0..len).map(|_| next()));
            // Leading zero bytes (base58's '1's) in a share of the cases.
            for b in key.iter_mut().skip(form.len()).take(i % 3) {
                *b = 0;
            }
            let text = decode(&key).into_owned();
            let (mut verified, mut stored) = (Vec::new(), Vec::new());
            encode(&text, &mut verified);
            encode_stored(&text, &mut stored);
            assert_eq!(verified, key, "{text}");
            assert_eq!(stored, key, "{text}");
            seen += 1;
        }
        assert_eq!(seen, 4000);
        for k in [
            "0x52908400098527886e0f7030069857d2e4169ee7",
            "0x1111111111111111111111111111111111111111",
            "BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ",
            "ledger:exchange:customer-1",
            "nonstandard:00",
            "",
        ] {
            let (mut verified, mut stored) = (Vec::new(), Vec::new());
            encode(k, &mut verified);
            encode_stored(k, &mut stored);
            assert_eq!(stored, verified, "{k}");
        }
    }

    /// Format 5 stores a transaction key's time as a code from the time before it in its
    /// run of keys: read back in order, every key and time comes back, unknown times
    /// (0), times before the previous one and keys of other chains included; other keys
    /// are stored as they are.
    #[test]
    fn stored_keys_round_trip_with_their_times() {
        let mut keys = Vec::new();
        for (i, t) in
            [1_700_000_000u32, 0, 1_699_999_000, 1_700_000_005, u32::MAX, 1].iter().enumerate()
        {
            let mut k = Vec::new();
            let chain = if i % 2 == 0 { Chain::Bitcoin } else { Chain::Ethereum };
            encode_tx(chain, &[i as u8; 32], *t, &mut k);
            keys.push(k);
            keys.push(round("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"));
        }
        let base = 1_699_999_000;
        let (mut prev, mut stored) = (base, Vec::new());
        for k in &keys {
            put_stored(k, &mut prev, &mut stored);
        }
        assert!(stored.len() < keys.iter().map(Vec::len).sum::<usize>());
        let (mut prev, mut at) = (base, 0);
        for k in &keys {
            let (len, time) = read_stored(&stored[at..], 5, &mut prev).unwrap();
            let s = &stored[at..at + len];
            assert_eq!(unstored(s, time, 5)[..], k[..]);
            assert_eq!(stored_identity(s, 5), identity(k));
            assert_eq!(stored_tx_parts(s, time, 5), tx_parts(k));
            at += len;
        }
        assert_eq!(at, stored.len());
        // Before format 5 the stored form is the encoded form.
        let mut prev = 0;
        assert_eq!(read_stored(&keys[0], 4, &mut prev), Some((37, 1_700_000_000)));
        assert_eq!(unstored(&keys[0], 1_700_000_000, 4)[..], keys[0][..]);
        // A code that would give a time outside 1..2³² is damage, not a time.
        let mut bad = keys[0][..33].to_vec();
        crate::segment::put_varint(&mut bad, crate::segment::zigzag(-5) + 1);
        assert_eq!(read_stored(&bad, 5, &mut 3), None);
    }

    #[test]
    fn transaction_identity_ignores_time() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        encode_tx(Chain::Bitcoin, &[7; 32], 1, &mut a);
        encode_tx(Chain::Bitcoin, &[7; 32], 0, &mut b);
        assert_eq!(cmp(&a, &b), Ordering::Equal);
        assert_eq!(tx_parts(&a), Some((chain_byte(Chain::Bitcoin), &[7u8; 32][..], 1)));
        assert_eq!(a.len(), BTC_TX_KEY_LEN);
        let mut e = Vec::new();
        encode_tx(Chain::Ethereum, &[7; 32], 1, &mut e);
        assert_eq!(tx_parts(&e), Some((chain_byte(Chain::Ethereum), &[7u8; 32][..], 1)));
        // The older (format 2 and 3) form of a Bitcoin transaction is the same node.
        let old = legacy(&a).into_owned();
        assert_eq!((old.len(), old[0]), (TX_KEY_LEN, TX));
        assert_eq!(tx_parts(&old), tx_parts(&a));
        assert_eq!(decode(&old), decode(&a));
        assert!(same(&old, &b) && !same(&e, &a));
    }
}
